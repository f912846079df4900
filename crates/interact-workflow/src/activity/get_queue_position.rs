//! Get Queue Position: saves the task's position in the queue.

use serde::Deserialize;

use super::{Behaviour, Target, check_name, opt};
use crate::run::{Cx, Flow, TaskState};

/// Get Queue Position: saves the task's position in the queue (1 = next), as last
/// reported by the driver (empty if it has not reported one yet).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQueuePosition {
    /// Default `queue_position`.
    #[serde(default = "default_position_param")]
    pub save_to: String,
    /// Where to go if the task is not queued (default: the next step, the parameter
    /// emptied).
    #[serde(default)]
    pub on_not_queued: Option<Target>,
}

fn default_position_param() -> String {
    "queue_position".into()
}

impl Behaviour for GetQueuePosition {
    fn check(&self) -> Result<(), String> {
        check_name("save_to", &self.save_to)
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        opt("on_not_queued", &mut self.on_not_queued)
            .into_iter()
            .collect()
    }

    fn falls_through(&self) -> bool {
        true
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        let queued = cx.task() != TaskState::NotQueued;
        let value = match (queued, cx.position()) {
            (true, Some(p)) => p.to_string(),
            _ => String::new(),
        };
        cx.params_mut().insert(self.save_to.clone(), value);
        if queued {
            cx.next()
        } else {
            Flow::to(cx.exit(self.on_not_queued.as_ref()))
        }
    }
}
