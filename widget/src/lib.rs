//! The Interact website widget and JavaScript SDK: [`interact_sdk`] compiled to
//! WebAssembly with wasm-bindgen.
//!
//! One wasm module serves two audiences:
//!
//! - **Website admins** paste the snippet; its loader (`www/widget/loader.js`) draws the
//!   launcher and opens the widget's frame, whose script calls [`mount_widget`](js::mount_widget)
//!   to build the widget UI ([`view`]) on a [`driver::Driver`].
//! - **Developers** build their own UI on [`InteractClient`](js::InteractClient), the same
//!   driver with events as plain JavaScript objects and TypeScript declarations.
//!
//! The IO (WebSocket, timer, clock, `sessionStorage`) lives in [`driver`] and the private `storage` module;
//! everything else is the SDK's sans-IO state machine and DOM rendering.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod after;
pub mod devices;
mod dom;
pub mod driver;
pub mod headless;
pub mod i18n;
#[cfg(feature = "chat")]
pub mod js;
#[cfg(feature = "chat")]
mod link;
pub mod panel;
pub mod port;
mod rtc;
mod storage;
pub mod view;
#[cfg(feature = "chat")]
pub mod widget;

/// Decodes JSON text through [`serde_json::Value`]: the SDK's decoders are compiled for
/// `Value` already (its tagged frames are read that way), so a second `from_str` path for
/// the widget's few own structs would cost more wasm bytes than the detour.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str::<serde_json::Value>(text).and_then(T::deserialize)
}
