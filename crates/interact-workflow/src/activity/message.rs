//! Message: sends a text to the visitor.

use serde::Deserialize;

use super::{Behaviour, Target, check_text};
use crate::run::{Cx, Flow};
use crate::template::Template;

/// Message: sends a text to the visitor.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// With `{{parameter}}` placeholders.
    pub text: Template,
}

impl Behaviour for Message {
    fn check(&self) -> Result<(), String> {
        check_text("text", &self.text)
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        Vec::new()
    }

    fn falls_through(&self) -> bool {
        true
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        cx.say(cx.render(&self.text));
        cx.next()
    }
}
