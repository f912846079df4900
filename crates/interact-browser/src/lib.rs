//! What the SDK's machines need from a browser page, and nothing of the machines: the
//! clock ([`now`]), randomness for their id generators ([`seed`]), a WebSocket that
//! delivers their transport [`Input`]s ([`Socket`]) and one timer ([`Timer`]).
//!
//! The widget's driver (`widget/src/driver.rs`, the [`Visitor`](interact_sdk::Visitor))
//! and the console's (`crates/interact-console/src/driver.rs`, the
//! [`Agent`](interact_sdk::Agent)) are built on these parts; each keeps its own loop
//! around its machine (what it reports and stores differs), so there is no trait over
//! the two machines.

#![forbid(unsafe_code)]

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use interact_sdk::client::Input;
use interact_sdk::time::Instant;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Milliseconds of the page's monotonic clock (`performance.now()`), the machines' clock.
pub fn now() -> Instant {
    let ms = web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default();
    // Rounded down; the machines work in whole milliseconds.
    Instant::from_millis(ms as u64)
}

/// 64 random bits for a machine's id generator, from `crypto.getRandomValues`.
pub fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // No Web Crypto: ids need only be unique within a session, so the clock will do.
        bytes = (js_sys::Date::now() as u64).to_le_bytes();
    }
    u64::from_le_bytes(bytes)
}

/// The WebSocket URL of `path` (with its query, if any) on the server whose base URL is
/// `server` (`http(s)://host[:port]`, a trailing slash allowed): `ws(s)://host[:port]path`.
pub fn socket_url(server: &str, path: &str) -> Result<String, String> {
    let base = server.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        Ok(format!("wss://{rest}{path}"))
    } else if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}{path}"))
    } else {
        Err(format!("server must be an http(s) URL, not {base:?}"))
    }
}

/// An open WebSocket and its listeners. Dropping it closes the socket (without a code)
/// and removes the listeners, so nothing of it reaches its machine afterwards.
#[derive(Debug)]
pub struct Socket {
    ws: WebSocket,
    _listeners: [EventListener; 3],
}

impl Socket {
    /// Opens a WebSocket to `url`. `on_input` receives what happens to it as a machine's
    /// transport input: [`Input::Connected`], [`Input::Received`] for every text frame
    /// (binary frames are not part of the protocol) and [`Input::Disconnected`] with the
    /// close code, `None` when no close frame came (the browser's 1005 and 1006).
    ///
    /// `on_input` is cloned for each of the socket's three listeners (a driver's closure
    /// holds a weak reference and a number).
    ///
    /// `Err` if the browser refuses the URL at once; a driver reports that to its machine
    /// like a failed connection.
    pub fn open(
        url: &str,
        on_input: impl Fn(Input<'_>) + Clone + 'static,
    ) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        let on_open = {
            let on_input = on_input.clone();
            EventListener::new(&ws, "open", move |_| on_input(Input::Connected))
        };
        let on_message = {
            let on_input = on_input.clone();
            EventListener::new(&ws, "message", move |event| {
                let Some(event) = event.dyn_ref::<MessageEvent>() else {
                    return;
                };
                if let Some(text) = event.data().as_string() {
                    on_input(Input::Received(&text));
                }
            })
        };
        let on_close = EventListener::new(&ws, "close", move |event| {
            let code = event
                .dyn_ref::<CloseEvent>()
                .map(CloseEvent::code)
                .filter(|c| !matches!(c, 1005 | 1006));
            on_input(Input::Disconnected(code));
        });
        Ok(Self {
            ws,
            _listeners: [on_open, on_message, on_close],
        })
    }

    /// Sends a text frame. A failed send shows up as a close event, which the machine
    /// handles by reconnecting and resending.
    pub fn send(&self, text: &str) {
        let _ = self.ws.send_with_str(text);
    }

    /// Closes the socket with `code` if a page may send it (1000 and 3000-4999), without a
    /// code otherwise.
    pub fn close(self, code: u16) {
        if code == 1000 || (3000..5000).contains(&code) {
            let _ = self.ws.close_with_code(code);
        }
        // Dropping `self` closes it if it is not closing yet.
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Closing an already closing socket is harmless; the listeners go with `self`.
        let _ = self.ws.close();
    }
}

/// A machine's one timer, cancelled when dropped.
#[derive(Debug)]
pub struct Timer {
    _timeout: Timeout,
}

impl Timer {
    /// Calls `f` at `at` on [`now`]'s clock (at once if that has passed); `None` for
    /// `Instant::from_millis(u64::MAX)`, which is how a machine says it waits for nothing.
    pub fn at(at: Instant, f: impl FnOnce() + 'static) -> Option<Self> {
        if at == Instant::from_millis(u64::MAX) {
            return None;
        }
        let delay = at.as_millis().saturating_sub(now().as_millis());
        // Browsers treat delays above 2^31 - 1 ms as 0; nothing here waits that long.
        let delay = u32::try_from(delay)
            .unwrap_or(u32::MAX)
            .min(i32::MAX as u32);
        Some(Self {
            _timeout: Timeout::new(delay, f),
        })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn socket_urls_follow_the_scheme() {
        assert_eq!(
            socket_url("https://chat.example.com/", "/v1/agent/ws").as_deref(),
            Ok("wss://chat.example.com/v1/agent/ws")
        );
        assert_eq!(
            socket_url("http://127.0.0.1:8080", "/v1/ws?code=x").as_deref(),
            Ok("ws://127.0.0.1:8080/v1/ws?code=x")
        );
        assert!(socket_url("ftp://example.com", "/v1/ws").is_err());
    }
}
