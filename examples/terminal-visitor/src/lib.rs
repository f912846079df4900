//! A terminal visitor client on `interact-sdk`: it fills in the pre-chat form and chats
//! with an agent through the Interact server, in a terminal.
//!
//! ```sh
//! cargo xtask serve    # in another terminal: the server with the demo configuration
//! cargo run -p interact-terminal-visitor -- --code ie1_interactdemowidgetsupporta
//! ```
//!
//! Sign an agent in at the console first (<http://127.0.0.1:8080/console/>, `alex` /
//! `demo-password`; agents start available): the demo service takes chats only while an
//! agent is available.
//!
//! # How it is built
//!
//! The SDK does no IO, so this crate is its *driver* for a terminal: [`Driver`] owns the
//! [`Visitor`](interact_sdk::Visitor) state machine, a WebSocket
//! ([`tokio-tungstenite`](tokio_tungstenite)) and a timer
//! ([`tokio::time::sleep_until`]), and follows the driving contract of the
//! [SDK docs](interact_sdk): after every input, drain `poll_output` until it returns
//! `Timeout`; `Connect` opens `ws://…/v1/ws?code=…`, `Transmit` sends a text frame, `Close`
//! closes the socket, `Event`s are printed; the timer calls `handle_timeout`. Reconnecting,
//! resending and ordering all happen inside the SDK.
//!
//! The driver reads lines from any [`AsyncBufRead`](tokio::io::AsyncBufRead) and prints to
//! any [`AsyncWrite`](tokio::io::AsyncWrite), so a test can play the visitor
//! (`tests/chat.rs` does, against a real server and a scripted agent).
//!
//! Before the chat it asks for a name, an email address, consent to the privacy policy
//! (showing the policy text, link and version from the server's configuration; `y`
//! consents) and an optional first message; fields the SDK's validation refuses are shown
//! with their error and asked again. Then every line is a chat message, `/end` ends the
//! chat and `/quit` quits. Text from the server (agent names, messages, error messages) is
//! printed with control characters escaped ([`plain_text`]), so a hostile agent cannot
//! drive the terminal.
//!
//! # The `Origin` header
//!
//! The server lets a visitor connect only from a website that the embed code's Domain
//! Template allows, and it learns the website from the `Origin` header that browsers put
//! on every WebSocket request. A native client has no website, so it presents one the
//! template allows (`--origin`; the demo template allows `http://127.0.0.1:8081`).
//!
//! This is not a weakness: `Origin` protects *browsers*, by stopping a foreign page from
//! putting someone's widget on itself; it does not authenticate anyone, and any program
//! outside a browser can send any `Origin`. Embed codes are public too (they are in every
//! page that embeds the widget). What keeps a chat private is its session id and resume
//! token, which only the client that started it holds.
//!
//! # TLS
//!
//! `--server https://…` is turned into `wss://…`, but this example is built without a TLS
//! stack (to keep it small), so such a connection fails at once with "TLS support not
//! compiled in". Enable one of `tokio-tungstenite`'s TLS features to use it against a
//! production server.
//!
//! # Example
//!
//! ```no_run
//! use interact_terminal_visitor::{Driver, Options, visitor_url};
//!
//! # async fn demo() -> Result<(), interact_terminal_visitor::Error> {
//! let options = Options {
//!     url: visitor_url("http://127.0.0.1:8080", "ie1_interactdemowidgetsupporta")?,
//!     origin: "http://127.0.0.1:8081".into(),
//!     seed: 7,
//! };
//! let input = tokio::io::BufReader::new(tokio::io::stdin());
//! let outcome = Driver::new(options, input, tokio::io::stdout()).run().await?;
//! println!("{outcome:?}");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod driver;
mod screen;

use std::str::FromStr;

use interact_sdk::config::Availability;
use interact_sdk::embed::{EmbedCode, EmbedCodeError};
use interact_sdk::protocol::EndReason;

pub use driver::Driver;
pub use screen::{plain_line, plain_text};

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Options {
    /// The visitor WebSocket URL with the embed code, from [`visitor_url`].
    pub url: String,
    /// The `Origin` header to send: a website the embed code's Domain Template allows.
    pub origin: String,
    /// Seed for the SDK's message ids; draw it from a random source.
    pub seed: u64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The chat ended, for this reason.
    Ended(EndReason),
    /// The visitor quit (`/quit`, or the end of the input) before the chat ended.
    Quit,
    /// The target cannot take a chat now; no form was shown.
    Unavailable(Availability),
}

/// Why the client stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the visitor's input or writing to the terminal failed.
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
    /// The server address is not an `http(s)://` or `ws(s)://` URL.
    #[error("invalid server address {0:?}: expected http://, https://, ws:// or wss://")]
    BadServer(String),
    /// The embed code is malformed.
    #[error("invalid embed code: {0}")]
    BadCode(#[from] EmbedCodeError),
    /// The server refused the WebSocket: 404 for an unknown or revoked embed code, 403
    /// for an `Origin` the code's Domain Template does not allow.
    #[error("the server refused the connection (HTTP {status}): {}", refusal(*status))]
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The connection cannot be made at all (malformed URL, TLS not compiled in).
    #[error("cannot connect: {0}")]
    Connect(tokio_tungstenite::tungstenite::Error),
    /// The server closed the connection in a way retrying cannot fix.
    #[error("the server closed the connection for good (close code {code:?})")]
    Closed {
        /// The close code, if there was one.
        code: Option<u16>,
    },
}

fn refusal(status: u16) -> &'static str {
    match status {
        404 => "unknown or revoked embed code",
        403 => "the embed code's Domain Template does not allow this --origin",
        _ => "refused",
    }
}

/// The visitor WebSocket URL for a server address and an embed code:
/// `http://host:port` becomes `ws://host:port/v1/ws?code=CODE`, `https://` becomes
/// `wss://`; `ws://` and `wss://` are taken as they are. A path (a server behind a
/// reverse proxy under a prefix) is kept.
pub fn visitor_url(server: &str, code: &str) -> Result<String, Error> {
    let code = EmbedCode::from_str(code)?;
    let server = server.trim().trim_end_matches('/');
    let (scheme, rest) = server
        .split_once("://")
        .ok_or_else(|| Error::BadServer(server.to_owned()))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(Error::BadServer(server.to_owned())),
    };
    if rest.is_empty() || rest.contains(['?', '#']) || rest.chars().any(char::is_whitespace) {
        return Err(Error::BadServer(server.to_owned()));
    }
    Ok(format!("{scheme}://{rest}/v1/ws?code={}", code.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "ie1_interactdemowidgetsupporta";

    #[test]
    fn urls() {
        let url = |s| visitor_url(s, CODE).map_err(|e| e.to_string());
        assert_eq!(
            url("http://127.0.0.1:8080").as_deref(),
            Ok("ws://127.0.0.1:8080/v1/ws?code=ie1_interactdemowidgetsupporta")
        );
        assert_eq!(
            url("HTTPS://chat.example.com/interact/").as_deref(),
            Ok("wss://chat.example.com/interact/v1/ws?code=ie1_interactdemowidgetsupporta")
        );
        assert_eq!(
            url("ws://localhost:9000").as_deref(),
            Ok("ws://localhost:9000/v1/ws?code=ie1_interactdemowidgetsupporta")
        );
        for bad in ["127.0.0.1:8080", "ftp://x", "http://", "http://a?b=c"] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            visitor_url("http://a", "nope&x=1"),
            Err(Error::BadCode(_))
        ));
    }
}
