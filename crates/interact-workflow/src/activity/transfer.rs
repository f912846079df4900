//! Transfer: hands the task to another service.

use serde::Deserialize;

use super::{Behaviour, Target, check_text};
use crate::run::{Action, Cx, End, Flow};
use crate::template::Template;

/// Transfer: hands the task to another service (Instant Messaging: services only).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The service id.
    #[serde(default)]
    pub service: String,
    /// A user: not a target over Interact (the documents: services only).
    #[serde(default)]
    pub user: Option<String>,
    /// Sent to the visitor first.
    #[serde(default)]
    pub message: Option<Template>,
}

impl Behaviour for Transfer {
    /// The service is checked by the caller ([`Workflow::transfer_targets`]).
    ///
    /// [`Workflow::transfer_targets`]: crate::Workflow::transfer_targets
    fn check(&self) -> Result<(), String> {
        if self.user.is_some() {
            return Err("user: a Transfer can only target services".into());
        }
        if self.service.is_empty() {
            return Err("service must not be empty".into());
        }
        match &self.message {
            Some(m) => check_text("message", m),
            None => Ok(()),
        }
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        false
    }

    fn is_terminal(&self) -> bool {
        true
    }

    /// The message, the task out of this service's queue, then the end.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        if let Some(m) = &self.message {
            cx.say(cx.render(m));
        }
        cx.leave_queue();
        cx.push(Action::Transfer {
            service: self.service.clone(),
        });
        cx.finish(End::Transferred {
            service: self.service.clone(),
        });
        Flow::Stop
    }
}
