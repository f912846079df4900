//! Distribution Priority: sets the task's priority.

use serde::Deserialize;

use super::{Behaviour, Priority, Target};
use crate::run::{Cx, Flow};

/// Distribution Priority: sets the task's priority (changes it in the queue at once).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionPriority {
    /// 1 (lowest) to 9 (highest).
    pub priority: Priority,
}

impl Behaviour for DistributionPriority {
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

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        cx.set_priority(self.priority);
        cx.next()
    }
}
