//! Crash points, for tests of what a crash at an exact place leaves behind.
//!
//! With `INTERACT_CRASH_AT=<point>` (or `<point>:<n>`) in its environment, the process
//! aborts the first (or `n`-th) time it passes [`point`]`(<point>)`: as `kill -9` would
//! stop it there, with nothing written beyond what was committed. Without the variable
//! (always, outside tests) a point costs a read of a value set once.
//!
//! The points: `workflow.message_stored` (a workflow's message is stored, the run's state
//! after it not yet) and `session.visitor_message_stored` (a visitor's message is stored,
//! the session's workflow run has not heard it yet) and `whatsapp.reply_stored` (an agent's
//! or the service's message in a WhatsApp session is stored, its outbound piece not yet)
//! and `transfer.events_stored` (an agent's transfer is stored as events, the session's new
//! target not yet).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the point.
pub const VARIABLE: &str = "INTERACT_CRASH_AT";

struct Armed {
    point: String,
    /// Passes left before the abort.
    left: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(VARIABLE).ok()?;
            let (point, n) = match value.rsplit_once(':') {
                Some((point, n)) => (point, n.parse().ok()?),
                None => (value.as_str(), 1),
            };
            Some(Armed {
                point: point.to_owned(),
                left: AtomicU64::new(n),
            })
        })
        .as_ref()
}

/// Aborts the process if `INTERACT_CRASH_AT` names this point and this is the pass it
/// counts to.
pub fn point(name: &str) {
    let Some(armed) = armed() else {
        return;
    };
    if armed.point == name && armed.left.fetch_sub(1, Ordering::SeqCst) == 1 {
        eprintln!("{VARIABLE}={name}: aborting here");
        std::process::abort();
    }
}
