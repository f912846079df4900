//! Accept: the workflow takes the chat (the visitor sees that it is being handled).

use serde::Deserialize;

use super::{Behaviour, Target};
use crate::run::{Action, Cx, Flow};

/// Accept: the workflow takes the chat (the visitor sees that it is being handled).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {}

impl Behaviour for Accept {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        true
    }

    /// Once per run: a second Accept does nothing.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        if !cx.accepted() {
            cx.set_accepted();
            cx.push(Action::Accept);
        }
        cx.next()
    }
}
