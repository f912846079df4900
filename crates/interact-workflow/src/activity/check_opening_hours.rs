//! Check Opening Hours: branches on the opening hours at the current time.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::{Behaviour, Target, opt};
use crate::hours::{HoursStatus, OpeningHours};
use crate::run::{Cx, Flow};

/// Check Opening Hours: branches on the opening hours at the current time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckOpeningHours {
    /// The name of an `[[opening_hours]]` table.
    pub hours: String,
    /// Open (default: the next step).
    #[serde(default)]
    pub on_open: Option<Target>,
    /// Closed.
    pub on_closed: Target,
    /// A holiday (default: `on_closed`).
    #[serde(default)]
    pub on_holiday: Option<Target>,
    /// The opening hours (set when the workflow is loaded).
    #[serde(skip)]
    pub resolved: Option<Arc<OpeningHours>>,
}

impl Behaviour for CheckOpeningHours {
    /// The hours are looked up by [`link`](Behaviour::link).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        out.extend(opt("on_open", &mut self.on_open));
        out.push(("on_closed", &mut self.on_closed));
        out.extend(opt("on_holiday", &mut self.on_holiday));
        out
    }

    fn falls_through(&self) -> bool {
        self.on_open.is_none()
    }

    fn link(
        &mut self,
        hours: &BTreeMap<String, Arc<OpeningHours>>,
    ) -> Result<(), (&'static str, String)> {
        let found = hours.get(&self.hours).ok_or_else(|| {
            (
                "hours",
                format!("no [[opening_hours]] is named {:?}", self.hours),
            )
        })?;
        self.resolved = Some(found.clone());
        Ok(())
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        let status = self
            .resolved
            .as_ref()
            .map_or(HoursStatus::Closed, |h| h.status(cx.now()));
        Flow::to(match status {
            HoursStatus::Open => cx.exit(self.on_open.as_ref()),
            HoursStatus::Closed => Some(self.on_closed.index),
            HoursStatus::Holiday => Some(self.on_holiday.as_ref().unwrap_or(&self.on_closed).index),
        })
    }
}
