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
    /// How the queue hands out tasks: `offer` (the default: offered to one available
    /// agent at a time). The product's `pickup` (agents take tasks from a list) is not
    /// supported; the documents exclude it for calls.
    #[serde(default)]
    pub distribution: Option<String>,
}

impl Behaviour for QueueTask {
    /// The range is checked when the priority is read.
    fn check(&self) -> Result<(), String> {
        match self.distribution.as_deref().map(super::normalize_name) {
            None => Ok(()),
            Some(d) if d == "offer" => Ok(()),
            Some(d) if d == "pickup" => Err(
                "distribution: \"Pickup\" is not supported: tasks are offered to agents (\"offer\")"
                    .into(),
            ),
            Some(_) => Err("distribution must be \"offer\"".into()),
        }
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
