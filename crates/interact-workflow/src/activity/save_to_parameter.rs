//! Save to Parameter: sets parameters.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Behaviour, Target, check_name};
use crate::run::{Cx, Flow};
use crate::template::Template;

/// Save to Parameter: sets parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveToParameter {
    /// Parameter name to value (with placeholders), e.g. `{ tier = "gold" }`.
    pub set: BTreeMap<String, Template>,
}

impl Behaviour for SaveToParameter {
    fn check(&self) -> Result<(), String> {
        if self.set.is_empty() {
            return Err("set must name at least one parameter".into());
        }
        for k in self.set.keys() {
            check_name("set", k)?;
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        true
    }

    /// Every value is filled in from the parameters as they were before the step.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        let values: Vec<(String, String)> = self
            .set
            .iter()
            .map(|(k, t)| (k.clone(), cx.render(t)))
            .collect();
        cx.params_mut().extend(values);
        cx.next()
    }
}
