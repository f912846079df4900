//! The Interact website widget and JavaScript SDK: [`interact_sdk`] compiled to
//! WebAssembly with wasm-bindgen.
//!
//! One library, built into three wasm modules by its features (`cargo xtask widget`):
//!
//! - **The frame module** (`widget/frame`, the `frame` feature): website admins paste the
//!   snippet; its loader (`www/widget/loader.js`) draws the launcher and opens the
//!   widget's frame, whose script calls `mountWidget` ([`widget::mount_widget`]) to build
//!   the widget UI ([`view`]) on a [`driver::Driver`]. This is what every visitor
//!   downloads before the first message.
//! - **The JavaScript SDK** (this crate's default features, `frame` and `sdk`):
//!   developers build their own UI on `InteractClient` (`js::InteractClient`), the same
//!   driver with events as plain JavaScript objects and TypeScript declarations.
//! - **The call module** (`widget/call`, no feature): the device step, the peer connection
//!   and the call panel ([`panel`], [`headless`]), which the other two load on the first
//!   call ([`port`] is the seam).
//!
//! The IO (WebSocket, timer, clock, `sessionStorage`) lives in [`driver`] and the private
//! `storage` module; everything else is the SDK's sans-IO state machine and DOM rendering.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// talc rather than dlmalloc, Rust's default on wasm32: about 5 KB less code in each
/// module (the chat path's budget is 100 KB brotli) and faster.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

mod after;
pub mod devices;
mod dom;
pub mod driver;
#[cfg(any(feature = "frame", feature = "sdk"))]
mod files;
pub mod headless;
pub mod i18n;
#[cfg(feature = "sdk")]
pub mod js;
pub mod json;
#[cfg(any(feature = "frame", feature = "sdk"))]
mod link;
pub mod panel;
pub mod port;
mod rtc;
mod storage;
pub mod view;
#[cfg(feature = "frame")]
pub mod widget;
