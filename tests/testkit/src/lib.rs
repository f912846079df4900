//! Test harness of the Interact server, shared by the server's own tests
//! (`crates/interact-server/tests`), the end-to-end tests (`tests/e2e`) and the relay
//! benchmark (`crates/interact-server/benches/relay`).
//!
//! Every server it starts listens on `127.0.0.1` on a port the OS picks (port 0), never a
//! fixed one, so tests run side by side and next to a running `cargo xtask serve`.
//!
//! - **Configuration**: [`config`] (and [`config_from`]) give the demo configuration
//!   (`config/demo.toml`, [`DEMO`]) for an in-process server: a database in the test's
//!   folder, the workspace's `www` ([`www`]), no `[demo]` section. [`process_config`] and
//!   [`write_config`] give it as a file for a server process, `[limits]` overridden as the
//!   test needs, the demo embed code [`DEMO_CODE`] kept and its host page off.
//! - **In process**: [`TestServer`] runs [`interact_server::build_state`] and
//!   [`interact_server::run`] on a listener of its own ([`TestServer::start`]) or the
//!   caller's ([`TestServer::start_on`]); it shuts down and starts again on the same port
//!   and database ([`TestServer::restart`]), and its state is at hand (`server.state`).
//! - **As a process**: [`ServerProcess`] runs the built `interact-server serve` binary,
//!   which the caller names (`env!("CARGO_BIN_EXE_interact-server")` in the server's
//!   tests and benchmarks); it is killed with SIGKILL ([`ServerProcess::kill`]), started
//!   again on the same port and database ([`ServerProcess::restart`]), and reports its
//!   memory and CPU time ([`ServerProcess::rss_kib`], [`ServerProcess::cpu_time`]; for any
//!   process: [`rss_kib`], [`cpu_time`]).
//! - **Data**: [`create_embed_code`] and [`agent_token`] store an embed code (bound to the
//!   demo template) and an agent's sign-in token in any store, as the admin API and the
//!   sign-in endpoint would; [`TestServer::embed_code`], [`TestServer::agent_token`] and
//!   [`ServerProcess::store`] lead there.
//! - **Clients**: [`connect_visitor`] (with an `Origin`: [`ALLOWED`], [`FOREIGN`]) and
//!   [`connect_agent`] open a [`Client`], which sends and receives the SDK's frames one by
//!   one and panics, naming itself and what it waited for, when a test's expectation is
//!   not met; [`TestServer::available_agent`] signs an agent in and makes it available;
//!   [`resume_visitor`] resumes a session; [`accepted_chat`] runs a chat up to an agent's
//!   accepting it, [`accept_offer`] just the accepting.
//! - **Twilio**: [`twilio::StandInTwilio`] plays Twilio for the WhatsApp connector: its
//!   Messages resource (Basic authentication, documented answers and errors, faults on
//!   demand) and the signed webhooks it sends (incoming messages, status callbacks).
//!
//! `RUST_LOG` (e.g. `RUST_LOG=interact_server=debug`) shows the server's log in a failing
//! test's output ([`log_to_test_output`]; a server process writes it to stderr).
//!
//! # Example
//!
//! A visitor starts a chat that an agent is offered:
//!
//! ```no_run
//! use interact_model::TargetRef;
//! use interact_sdk::form::PreChatForm;
//! use interact_sdk::protocol::ServerFrame;
//! use interact_testkit::{ALLOWED, TestServer, config, connect_visitor, mid};
//!
//! # async fn example() {
//! let dir = tempfile::tempdir().expect("a temporary folder");
//! let server = TestServer::start(config(dir.path())).await;
//! let code = server.embed_code(TargetRef::Service("support".into())).await;
//! let mut agent = server.available_agent("alex").await;
//!
//! let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
//!     .await
//!     .expect("the demo template allows this origin");
//! visitor.hello(None).await;
//! let form = PreChatForm {
//!     display_name: "Vera Visitor".into(),
//!     email: "vera@example.com".into(),
//!     consent: Some("2024-05".into()),
//!     first_message: None,
//! };
//! let (session, _resume_token) = visitor.start_chat(mid("start-1"), form).await;
//! agent
//!     .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
//!     .await;
//! server.stop().await;
//! # }
//! ```
//!
//! The server binary, killed and started again (in a test of `interact-server`):
//!
//! ```no_run
//! use interact_testkit::{DEMO_CODE, ServerProcess, process_config, write_config};
//!
//! # async fn example(binary: &str) {
//! let dir = tempfile::tempdir().expect("a temporary folder");
//! let config = write_config(dir.path(), &process_config("frames_per_second = 1000"));
//! // In a test: `env!("CARGO_BIN_EXE_interact-server")`.
//! let mut server = ServerProcess::start(binary, &config).await;
//! let store = server.store().await;
//! let token = interact_testkit::agent_token(store.as_ref(), "alex", std::time::Duration::from_secs(60)).await;
//! server.restart().await; // SIGKILL, then the same port and database
//! # let _ = (token, DEMO_CODE);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod config;
mod process;
mod server;
pub mod smtp;
pub mod twilio;

pub use client::{
    Client, Closed, HttpAnswer, WAIT, Ws, connect_agent, connect_visitor, connect_visitor_with,
    event_seqs, http_exchange, http_get, http_request, mid, resume_visitor,
};
pub use config::{
    ALLOWED, DEMO, DEMO_CODE, FOREIGN, config, config_from, process_config, with_workflow,
    write_config, www,
};
pub use process::{ServerProcess, cpu_time, rss_kib};
pub use server::{
    TestServer, accept_offer, accepted_chat, agent_token, available_agent, create_embed_code,
    log_to_test_output,
};
pub use smtp::SmtpSink;
