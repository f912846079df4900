//! Availability-based Routing: branches on the service's agents.

use serde::Deserialize;

use super::{Behaviour, Target, check_range, opt};
use crate::run::{Action, Cx, Event, Flow, Wait};

/// Availability-based Routing: branches on the service's agents.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRouting {
    /// Agents that must be available to count as available (1 to 1000, default 1).
    #[serde(default = "default_min_available")]
    pub min_available: u32,
    /// Enough agents available (default: the next step).
    #[serde(default)]
    pub on_available: Option<Target>,
    /// Agents signed in but not enough available (default: `on_unavailable`).
    #[serde(default)]
    pub on_busy: Option<Target>,
    /// Nobody signed in (and, without `on_busy`, not enough available).
    pub on_unavailable: Target,
}

fn default_min_available() -> u32 {
    1
}

impl Behaviour for AvailabilityRouting {
    fn check(&self) -> Result<(), String> {
        check_range("min_available", self.min_available.into(), 1, 1000)
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        out.extend(opt("on_available", &mut self.on_available));
        out.extend(opt("on_busy", &mut self.on_busy));
        out.push(("on_unavailable", &mut self.on_unavailable));
        out
    }

    fn falls_through(&self) -> bool {
        self.on_available.is_none()
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
            Event::Agents { available, busy } => Flow::to(if available >= self.min_available {
                cx.exit(self.on_available.as_ref())
            } else if available > 0 || busy > 0 {
                Some(self.on_busy.as_ref().unwrap_or(&self.on_unavailable).index)
            } else {
                Some(self.on_unavailable.index)
            }),
            // The question was lost with the restart: ask again.
            Event::Resumed => {
                cx.push(Action::QueryAgents);
                Flow::Wait
            }
            _ => Flow::Wait,
        }
    }
}
