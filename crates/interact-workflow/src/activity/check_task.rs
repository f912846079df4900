//! Check Task: branches on whether the task is queued.

use serde::Deserialize;

use super::{Behaviour, Target, opt};
use crate::run::{Cx, Flow, TaskState};

/// Check Task: branches on whether the task is queued.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTask {
    /// Queued or being offered to an agent (default: the next step).
    #[serde(default)]
    pub on_queued: Option<Target>,
    /// Not queued (never queued, or cancelled).
    pub on_not_queued: Target,
}

impl Behaviour for CheckTask {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        out.extend(opt("on_queued", &mut self.on_queued));
        out.push(("on_not_queued", &mut self.on_not_queued));
        out
    }

    fn falls_through(&self) -> bool {
        self.on_queued.is_none()
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        Flow::to(if cx.task() == TaskState::NotQueued {
            Some(self.on_not_queued.index)
        } else {
            cx.exit(self.on_queued.as_ref())
        })
    }
}
