//! The one place the server reads a clock. Everything else asks the
//! [`interact_model::Clock`] in [`AppState`](crate::node::state::AppState).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use interact_model::Clock;
use interact_sdk::time::UnixMillis;

/// The system's clocks: wall-clock time from the operating system, monotonic time from
/// tokio's clock (the machine's, unless a test paused it).
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        UnixMillis(ms)
    }

    fn instant(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A virtual clock for tests: wall-clock time starts at `start` and moves with tokio's
/// clock, so under tokio's paused time (`#[tokio::test(start_paused = true)]`,
/// `tokio::time::advance`) the node's timers, its rate limits and its idea of the time
/// agree, and nothing sleeps.
#[derive(Debug)]
pub struct VirtualClock {
    start: UnixMillis,
    origin: tokio::time::Instant,
}

impl VirtualClock {
    /// A clock that reads `start` now.
    pub fn new(start: UnixMillis) -> Self {
        Self {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> UnixMillis {
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        UnixMillis(self.start.0.saturating_add(elapsed))
    }

    fn instant(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// The system's wall-clock time: for tools and tests that stand outside a node (the node
/// itself asks its state's clock).
pub fn system_now() -> UnixMillis {
    SystemClock.now()
}
