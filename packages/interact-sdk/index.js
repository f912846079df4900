// The entry point of the `interact-sdk` package: the JavaScript SDK of Interact
// (`interact_widget.js`, the widget crate compiled by wasm-bindgen) and the versions it
// is. `cargo xtask widget` assembles the package; the versions below are checked against
// the workspace's there.

export * from "./interact_widget.js";
export { default } from "./interact_widget.js";

/** This package's version: the Interact release it comes from (semver). */
export const SDK_VERSION = "0.1.0";

/** The wire protocol version the SDK speaks (docs/protocol.md §5.5, "Versioning"). */
export const PROTOCOL_VERSION = 1;
