//! Cancel Task: takes the task out of the queue.

use serde::Deserialize;

use super::{Behaviour, Target};
use crate::run::{Cx, Flow};

/// Cancel Task: takes the task out of the queue.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelTask {}

impl Behaviour for CancelTask {
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
        cx.leave_queue();
        cx.next()
    }
}
