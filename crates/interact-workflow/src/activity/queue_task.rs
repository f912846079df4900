//! Queue Task: puts the task in the service's queue.

use serde::Deserialize;

use super::{Behaviour, Priority, Target};
use crate::run::{Cx, Flow, TaskState};

/// Queue Task: puts the task in the service's queue; the workflow goes on while it
/// waits, and ends when an agent accepts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueTask {
    /// Overrides the Distribution Priority for this task.
    #[serde(default)]
    pub priority: Option<Priority>,
}

impl Behaviour for QueueTask {
    /// The range is checked when the priority is read.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        true
    }

    /// Does not block; a task already queued stays where it is (with the new priority).
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        if let Some(p) = self.priority {
            cx.set_priority(p);
        }
        if cx.task() == TaskState::NotQueued {
            cx.enqueue();
        }
        cx.next()
    }
}
