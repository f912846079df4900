//! Delay: waits, then goes on.

use interact_sdk::time::UnixMillis;
use serde::Deserialize;

use super::{Behaviour, Target, check_range};
use crate::run::{Action, Cx, Event, Flow, Wait};

/// Delay: waits, then goes on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// 1 to 86400.
    pub seconds: u32,
}

impl Behaviour for Delay {
    fn check(&self) -> Result<(), String> {
        check_range("seconds", self.seconds.into(), 1, 86_400)
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        true
    }

    fn waits(&self) -> bool {
        true
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        let deadline = UnixMillis(cx.now().0.saturating_add(u64::from(self.seconds) * 1000));
        cx.push(Action::StartTimer { at: deadline });
        cx.set_wait(Wait::Delay {
            step: cx.pc(),
            deadline,
        });
        Flow::Wait
    }

    fn may_wait(&self, wait: &Wait) -> bool {
        matches!(wait, Wait::Delay { .. })
    }

    fn on_event(&self, cx: &mut Cx<'_>, event: Event<'_>) -> Flow {
        match event {
            Event::TimerFired => cx.next(),
            _ => Flow::Wait,
        }
    }
}
