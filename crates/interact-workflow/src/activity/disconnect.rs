//! Disconnect: ends the session, with a reporting outcome.

use serde::Deserialize;

use super::{Behaviour, Target, check_text};
use crate::run::{Action, Cx, End, Flow, Outcome};
use crate::template::Template;

/// The reporting outcome a Disconnect step ends with ("handled" needs Disconnect as
/// Handled, which Instant Messaging does not support).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectOutcome {
    /// Failed (the default).
    Failed,
    /// No agent was available.
    NoAgent,
    /// Cancelled.
    Cancelled,
}

/// Disconnect: ends the session.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    /// Sent to the visitor before the end.
    #[serde(default)]
    pub message: Option<Template>,
    /// The reporting outcome (default `failed`).
    #[serde(default = "default_disconnect_outcome")]
    pub outcome: DisconnectOutcome,
}

fn default_disconnect_outcome() -> DisconnectOutcome {
    DisconnectOutcome::Failed
}

impl Behaviour for Disconnect {
    fn check(&self) -> Result<(), String> {
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

    /// The message, the task out of the queue, then the end.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        if let Some(m) = &self.message {
            cx.say(cx.render(m));
        }
        cx.leave_queue();
        let outcome = match self.outcome {
            DisconnectOutcome::Failed => Outcome::Failed,
            DisconnectOutcome::NoAgent => Outcome::NoAgent,
            DisconnectOutcome::Cancelled => Outcome::Cancelled,
        };
        cx.push(Action::Disconnect { outcome });
        cx.finish(End::Disconnected { outcome });
        Flow::Stop
    }
}
