//! The core of Interact: sessions, chat, audio/video signalling and wire protocol v1, for
//! a website visitor talking to a contact-center service or a single agent.
//!
//! The crate does no IO. It reads no clock, draws no randomness and opens no socket: the
//! caller (the *driver*) passes the time in with every call, seeds the id generator, and
//! carries frames to and from a WebSocket. The same code therefore runs natively, in the
//! browser (wasm32) and in deterministic tests on a virtual clock.
//!
//! # Tutorial: a visitor chat on a virtual clock
//!
//! A [`Visitor`] is created, then driven in a loop: drain [`Visitor::poll_output`] until it
//! returns [`Output::Timeout`], feed what the transport reports with
//! [`Visitor::handle_input`], and call [`Visitor::handle_timeout`] when the timeout is due.
//! Here the "server" is played by hand with frames built from the [`protocol`] types.
//!
//! ```
//! use interact_sdk::config::{Availability, PrivacyPolicy, Target, TargetKind, WidgetConfig};
//! use interact_sdk::form::PreChatForm;
//! use interact_sdk::ids::{MessageId, ResumeToken, SessionId};
//! use interact_sdk::modality::Modalities;
//! use interact_sdk::protocol::{self, ClientFrame, ServerFrame, PROTOCOL_VERSION};
//! use interact_sdk::time::Instant;
//! use interact_sdk::{Input, Output, Visitor, VisitorOptions, VisitorState};
//!
//! let mut now = Instant::ZERO;
//! let mut visitor = Visitor::new(now, VisitorOptions { seed: 42, ..Default::default() });
//!
//! // Drain outputs: the first asks for a connection.
//! let mut sent = Vec::new();
//! let mut drain = |v: &mut Visitor, sent: &mut Vec<ClientFrame>| loop {
//!     match v.poll_output() {
//!         Output::Transmit(text) => sent.push(protocol::decode_client(&text).unwrap()),
//!         Output::Timeout(_) => break,
//!         _ => {} // Connect, Close and Event: a real driver acts on these.
//!     }
//! };
//! drain(&mut visitor, &mut sent);
//! visitor.handle_input(now, Input::Connected)?;
//! drain(&mut visitor, &mut sent);
//! assert!(matches!(sent.pop(), Some(ClientFrame::Hello(_))));
//!
//! // The server welcomes the visitor with the widget configuration.
//! let config = WidgetConfig {
//!     target: Target { kind: TargetKind::Service, display_name: "Support".into() },
//!     modalities: Modalities::CHAT_ONLY,
//!     privacy: PrivacyPolicy {
//!         url: "https://example.com/privacy".into(),
//!         text: "I accept the privacy policy.".into(),
//!         version: "v3".into(),
//!     },
//!     availability: Availability::Open,
//!     theme: Default::default(),
//!     languages: vec!["en".into()],
//!     transcript_email: false,
//!     opens_at: None,
//!     queue_when_unavailable: false,
//!     expected_wait: None,
//!     offline_messages: false,
//!     attachment_max_bytes: None,
//! };
//! let welcome = ServerFrame::Welcome {
//!     protocol: PROTOCOL_VERSION,
//!     config: Some(config),
//!     session: None,
//!     agent: None,
//!     heads: Default::default(),
//! };
//! now = Instant::from_millis(20);
//! visitor.handle_input(now, Input::Received(&protocol::encode(&welcome)))?;
//! assert_eq!(visitor.state(), &VisitorState::Form);
//!
//! // The pre-chat form is checked locally with the server's rules, then sent.
//! let form = PreChatForm {
//!     display_name: "Ann".into(),
//!     email: "ann@example.com".into(),
//!     consent: Some("v3".into()),
//!     first_message: Some("Hello!".into()),
//! };
//! visitor.start_chat(now, form)?;
//! drain(&mut visitor, &mut sent);
//! let Some(ClientFrame::StartChat { id, .. }) = sent.pop() else { unreachable!() };
//!
//! // The server creates the session; the visitor waits in the queue.
//! let started = ServerFrame::SessionStarted {
//!     session: SessionId::new("s1")?,
//!     start_id: id,
//!     resume_token: ResumeToken::new("secret"),
//! };
//! visitor.handle_input(now, Input::Received(&protocol::encode(&started)))?;
//! assert_eq!(visitor.state(), &VisitorState::Queued { position: None });
//!
//! // Messages are queued, sent, and resent until acknowledged.
//! let id: MessageId = visitor.send_message(now, "Is anyone there?")?;
//! drain(&mut visitor, &mut sent);
//! assert!(matches!(sent.pop(), Some(ClientFrame::Send { id: sent_id, .. }) if sent_id == id));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The driving contract
//!
//! - **Inputs**: [`Input::Connected`] when the transport asked for by [`Output::Connect`] is
//!   open; [`Input::Received`] for each text frame; [`Input::Disconnected`] when it closes
//!   or fails. User intents are methods (`start_chat`, `send_message`, `start_call`, ...),
//!   each taking `now`.
//! - **Outputs**: after every input or intent, call `poll_output` until it returns
//!   [`Output::Timeout`]; carry out [`Output::Connect`], [`Output::Transmit`] and
//!   [`Output::Close`], show [`Output::Event`]s.
//! - **Time**: call `handle_timeout(now)` once the instant of the last
//!   [`Output::Timeout`] has passed (or earlier: it is harmless), then drain outputs again.
//!   [`time::Instant`] is a millisecond count from any origin the driver keeps fixed.
//! - **Errors**: [`Error::ApiMisuse`] means the call made no sense in the current state;
//!   [`Error::PeerMisbehaved`] that the server sent something invalid, which was dropped.
//!   Neither leaves the machine broken, and nothing here panics on input.
//!
//! The [`Agent`] machine is driven the same way. The server's side of a session lives in
//! [`relay::SessionLog`]. The wire protocol is documented in `docs/protocol.md`.
//!
//! # Versions
//!
//! This crate follows semantic versioning with the rest of Interact (the server and the
//! JavaScript SDK, the npm package `interact-sdk`, carry the same version): a release
//! that removes or changes public API, or that speaks a new
//! [`protocol::PROTOCOL_VERSION`], is a new major version (a new minor version while the
//! major is 0); one that only adds (types, methods, optional frame members, enumeration
//! values with a fallback) is a new minor version; a fix is a patch. The protocol version
//! changes only when a server could no longer understand older clients; the server then
//! keeps speaking the previous version for at least one more major release and refuses a
//! version it dropped with `unsupported_protocol` and close 4000, which the machines do
//! not retry (`docs/protocol.md` §5.5, "Versioning"). `CHANGELOG.md` lists the changes of
//! every release.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod call;
pub mod client;
pub mod config;
pub mod context;
mod conversation;
pub mod embed;
pub mod error;
pub mod form;
pub mod identity;
pub mod ids;
pub mod json;
pub mod limits;
mod link;
pub mod modality;
pub mod protocol;
pub mod quality;
pub mod relay;
pub mod time;
pub mod transcript;
pub mod visitor;

pub use agent::{Agent, AgentOptions};
pub use call::{CallEvent, CallState};
pub use client::{DeliveryState, Event, Input, Output};
pub use error::Error;
pub use link::LinkState;
pub use visitor::{ResumeState, Visitor, VisitorOptions, VisitorState};
