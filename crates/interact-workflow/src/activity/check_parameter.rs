//! Check Parameter: branches on a parameter; the first condition that holds wins.

use serde::Deserialize;

use super::{Behaviour, Target, check_name, check_range, opt};
use crate::run::{Cx, Flow};
use crate::template::Template;

/// How Check Parameter compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal text.
    Equals,
    /// Not equal text.
    NotEquals,
    /// Contains the value.
    Contains,
    /// Starts with the value.
    StartsWith,
    /// Ends with the value.
    EndsWith,
    /// Set and not empty (no value).
    IsSet,
    /// Not set or empty (no value).
    IsEmpty,
    /// Both numbers, greater.
    GreaterThan,
    /// Both numbers, less.
    LessThan,
}

/// One condition of Check Parameter.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The comparison.
    pub op: Op,
    /// What to compare with (with placeholders); not for `is_set` and `is_empty`.
    #[serde(default)]
    pub value: Option<Template>,
    /// Compare text ignoring case.
    #[serde(default)]
    pub ignore_case: bool,
    /// Where to go if it holds.
    pub next: Target,
}

/// Check Parameter: branches on a parameter; the first condition that holds wins.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckParameter {
    /// The parameter.
    pub parameter: String,
    /// 1 to 20 conditions.
    pub conditions: Vec<Condition>,
    /// When none holds (default: the next step).
    #[serde(default)]
    pub otherwise: Option<Target>,
}

impl Behaviour for CheckParameter {
    fn check(&self) -> Result<(), String> {
        check_name("parameter", &self.parameter)?;
        check_range("conditions (count)", self.conditions.len() as u64, 1, 20)?;
        for c in &self.conditions {
            let needs_value = !matches!(c.op, Op::IsSet | Op::IsEmpty);
            match (&c.value, needs_value) {
                (None, true) => {
                    return Err(format!("conditions: {:?} needs a value", c.op));
                }
                (Some(_), false) => {
                    return Err(format!("conditions: {:?} takes no value", c.op));
                }
                (Some(v), true)
                    if matches!(c.op, Op::GreaterThan | Op::LessThan)
                        && v.first_placeholder().is_none()
                        && v.source().trim().parse::<f64>().is_err() =>
                {
                    return Err(format!(
                        "conditions: {:?} compares numbers; {:?} is not one",
                        c.op,
                        v.source()
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        out.extend(
            self.conditions
                .iter_mut()
                .map(|c| ("conditions", &mut c.next)),
        );
        out.extend(opt("otherwise", &mut self.otherwise));
        out
    }

    fn falls_through(&self) -> bool {
        self.otherwise.is_none()
    }

    /// A parameter that is not set compares as empty.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        let value = cx
            .params()
            .get(&self.parameter)
            .cloned()
            .unwrap_or_default();
        let hit = self.conditions.iter().find(|cond| {
            let rhs = cond
                .value
                .as_ref()
                .map(|t| cx.render(t))
                .unwrap_or_default();
            holds(cond.op, &value, &rhs, cond.ignore_case)
        });
        Flow::to(match hit {
            Some(cond) => Some(cond.next.index),
            None => cx.exit(self.otherwise.as_ref()),
        })
    }
}

fn holds(op: Op, value: &str, rhs: &str, ignore_case: bool) -> bool {
    let (value, rhs) = if ignore_case {
        (value.to_lowercase(), rhs.to_lowercase())
    } else {
        (value.to_owned(), rhs.to_owned())
    };
    let num = |s: &str| s.trim().parse::<f64>().ok();
    match op {
        Op::Equals => value == rhs,
        Op::NotEquals => value != rhs,
        Op::Contains => value.contains(&rhs),
        Op::StartsWith => value.starts_with(&rhs),
        Op::EndsWith => value.ends_with(&rhs),
        Op::IsSet => !value.trim().is_empty(),
        Op::IsEmpty => value.trim().is_empty(),
        Op::GreaterThan => matches!((num(&value), num(&rhs)), (Some(a), Some(b)) if a > b),
        Op::LessThan => matches!((num(&value), num(&rhs)), (Some(a), Some(b)) if a < b),
    }
}
