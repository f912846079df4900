//! The live node: what one server process holds while sessions run, and the one path a
//! frame takes through it.
//!
//! - [`hub`]: sessions in memory, connections, and the [`interact_routing::Distributor`]
//!   behind one lock.
//! - [`session`]: a session frame, from the connection it came on to every connection it
//!   goes to: the session's lock, its caps and rates, the SDK's `SessionLog`, the store
//!   (first), the sends (after), the workflow's input, then distribution
//!   ([`session::handle_frame`]). Creating, accepting, restoring, replaying, evicting.
//! - [`flow`]: each service session's workflow run, fed under the session's lock, and what
//!   it asks for carried out (messages, timers, the queue, Web Requests, transfers).
//! - [`conn`]: what the node sends a connection through (a bounded queue, replays, closes).
//! - [`web`]: the HTTP client of Web Request steps.
//! - [`bus`] and [`cluster`]: several nodes on one PostgreSQL database and one NATS bus
//!   (configuration changes, deliveries to connections on other nodes, one owner per
//!   session, one router).
//!
//! The node reads the time only from the [`Clock`](interact_model::Clock) in
//! [`AppState`](state::AppState) and waits with tokio's timers, so a test runs it on
//! a virtual clock (tokio's paused time, [`crate::clock::VirtualClock`]) with the in-memory
//! store.

pub mod bus;
pub mod cluster;
pub mod conn;
pub mod directory;
pub mod flow;
pub mod hub;
pub mod offline;
pub mod session;
pub mod state;
pub mod web;
pub mod webhooks;
pub mod whatsapp;
pub mod workflows;
