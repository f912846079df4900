//! Where the server gets the time from: one trait, so that the live node (sessions,
//! queues, offers, workflow timers) runs on a virtual clock in tests as the SDK's
//! machines and the router do.

use std::time::Instant;

use interact_sdk::time::UnixMillis;

/// The time, as the server reads it.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Wall-clock time: what goes on the wire and into the database.
    fn now(&self) -> UnixMillis;
    /// Monotonic time, for rate limits, idle times and deadlines that must not jump with
    /// the wall clock. A virtual clock's instants move with the test's time, not the
    /// machine's.
    fn instant(&self) -> Instant;
}
