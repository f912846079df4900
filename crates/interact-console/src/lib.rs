//! The Interact agent console's protocol layer: the SDK's [`Agent`](interact_sdk::Agent)
//! machine compiled to WebAssembly and driven over a browser WebSocket.
//!
//! `cargo xtask widget` builds this crate into `www/console/pkg/` (a package of its own,
//! so that the visitor's widget carries no agent code). The console's page
//! (`www/console/console.js`) renders what [`AgentConsole`](js::AgentConsole) reports and
//! hands it the agent's intents; it never reads or writes a protocol frame:
//!
//! ```js
//! import init, { AgentConsole } from "./pkg/interact_console.js";
//! await init();
//! const agent = new AgentConsole({ token, presence: "available" });
//! agent.onEvent((event) => {
//!   // { type: "offer", session, visitor, target, first_message, expires_at }
//!   // { type: "timeline", session, seq, at, event: { kind: "message", from, text, ... } }
//!   // { type: "message_state", session, id, state: "sent" }, ...
//! });
//! agent.connect();
//! agent.accept(session);
//! agent.send(session, "Hello!");
//! ```
//!
//! - [`driver`]: the IO (a WebSocket, one timer, `performance.now()`, a seed from
//!   `crypto.getRandomValues`) around the sans-IO machine, as the SDK's driving contract
//!   says, with the events queued so that a callback may call back in.
//! - [`js`]: the exported class, its events as plain objects and its TypeScript types.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod driver;
pub mod js;
