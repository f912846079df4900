//! Get Available Users: saves how many agents are available.

use serde::Deserialize;

use super::{Behaviour, Target, check_name};
use crate::run::{Action, Cx, Event, Flow, Wait};

/// Get Available Users: saves how many agents are available.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAvailableUsers {
    /// Default `available_users`.
    #[serde(default = "default_available_param")]
    pub save_to: String,
    /// Saves how many are signed in but busy.
    #[serde(default)]
    pub save_busy_to: Option<String>,
}

fn default_available_param() -> String {
    "available_users".into()
}

impl Behaviour for GetAvailableUsers {
    fn check(&self) -> Result<(), String> {
        check_name("save_to", &self.save_to)?;
        match &self.save_busy_to {
            Some(s) => check_name("save_busy_to", s),
            None => Ok(()),
        }
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        true
    }

    /// Asks the driver for the agents and waits for the answer.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        cx.push(Action::QueryAgents);
        cx.set_wait(Wait::Agents { step: cx.pc() });
        Flow::Wait
    }

    fn may_wait(&self, wait: &Wait) -> bool {
        matches!(wait, Wait::Agents { .. })
    }

    fn on_event(&self, cx: &mut Cx<'_>, event: Event<'_>) -> Flow {
        match event {
            Event::Agents { available, busy } => {
                let params = cx.params_mut();
                params.insert(self.save_to.clone(), available.to_string());
                if let Some(b) = &self.save_busy_to {
                    params.insert(b.clone(), busy.to_string());
                }
                cx.next()
            }
            // The question was lost with the restart: ask again.
            Event::Resumed => {
                cx.push(Action::QueryAgents);
                Flow::Wait
            }
            _ => Flow::Wait,
        }
    }
}
