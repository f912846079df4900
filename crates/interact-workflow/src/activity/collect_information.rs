//! Collect Information: asks questions in the chat and saves the answers to parameters.

use serde::Deserialize;

use super::{
    Behaviour, Target, check_name, check_range, check_text, default_invalid, default_retries, opt,
};
use crate::run::{Cx, Event, Flow, Wait, truncate};
use crate::template::Template;

/// What answer a Collect Information question expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Any non-empty text.
    Text,
    /// Digits only (spaces are dropped), e.g. an order number.
    Digits,
    /// A number, e.g. `42` or `-1.5`.
    Number,
    /// An email address (the pre-chat form's rules).
    Email,
}

/// One question of Collect Information.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Put in the chat.
    pub ask: Template,
    /// The parameter the answer is saved to.
    pub save_to: String,
    /// What a valid answer is (default: any text).
    #[serde(default = "default_expect")]
    pub expect: Expect,
}

fn default_expect() -> Expect {
    Expect::Text
}

/// Collect Information: asks questions in the chat and saves the answers to parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectInformation {
    /// Asked in order, 1 to 10.
    pub questions: Vec<Question>,
    /// How often an invalid answer is asked again (0 to 5, default 2).
    #[serde(default = "default_retries")]
    pub retries: u8,
    /// Sent before a question is asked again.
    #[serde(default = "default_invalid")]
    pub invalid_message: Template,
    /// Seconds to wait for each answer (10 to 86400); no limit if absent.
    #[serde(default)]
    pub timeout_secs: Option<u32>,
    /// Where to go when an answer does not come in time (default: the next step).
    #[serde(default)]
    pub on_timeout: Option<Target>,
    /// Where to go when the retries are used up (default: the next step, the parameter
    /// not set).
    #[serde(default)]
    pub on_invalid: Option<Target>,
}

impl CollectInformation {
    /// Asks question `question` and waits for the answer (with a timer if the step has a
    /// time-out).
    fn ask(&self, cx: &mut Cx<'_>, question: usize, tries: u8) -> Flow {
        cx.ask(cx.render(&self.questions[question].ask));
        let deadline = cx.timer(self.timeout_secs);
        cx.set_wait(Wait::Collect {
            step: cx.pc(),
            question,
            tries,
            deadline,
        });
        Flow::Wait
    }

    /// The visitor answered question `question`: save it and ask the next question (on
    /// when all are answered), or ask again while retries are left.
    fn answer(&self, cx: &mut Cx<'_>, question: usize, tries: u8, text: &str) -> Flow {
        let q = &self.questions[question];
        if let Some(value) = accept_answer(q.expect, text) {
            // The question as the visitor read it (before this answer fills a parameter).
            let asked = truncate(cx.render(&q.ask));
            cx.record_answer(&q.save_to, asked, &value);
            cx.params_mut().insert(q.save_to.clone(), value);
            if question + 1 < self.questions.len() {
                self.ask(cx, question + 1, 0)
            } else {
                cx.next()
            }
        } else if tries >= self.retries {
            Flow::to(cx.exit(self.on_invalid.as_ref()))
        } else {
            cx.say(cx.render(&self.invalid_message));
            self.ask(cx, question, tries + 1)
        }
    }
}

impl Behaviour for CollectInformation {
    fn check(&self) -> Result<(), String> {
        check_range("questions (count)", self.questions.len() as u64, 1, 10)?;
        for q in &self.questions {
            check_text("ask", &q.ask)?;
            check_name("save_to", &q.save_to)?;
        }
        check_range("retries", self.retries.into(), 0, 5)?;
        if let Some(t) = self.timeout_secs {
            check_range("timeout_secs", t.into(), 10, 86_400)?;
        } else if self.on_timeout.is_some() {
            return Err("on_timeout needs timeout_secs".into());
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out = Vec::new();
        out.extend(opt("on_timeout", &mut self.on_timeout));
        out.extend(opt("on_invalid", &mut self.on_invalid));
        out
    }

    /// All questions answered: the next step.
    fn falls_through(&self) -> bool {
        true
    }

    fn waits(&self) -> bool {
        true
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        self.ask(cx, 0, 0)
    }

    fn may_wait(&self, wait: &Wait) -> bool {
        matches!(wait, Wait::Collect { question, .. } if *question < self.questions.len())
    }

    fn on_event(&self, cx: &mut Cx<'_>, event: Event<'_>) -> Flow {
        let Wait::Collect {
            question, tries, ..
        } = *cx.wait()
        else {
            return Flow::Wait;
        };
        match event {
            Event::VisitorMessage(text) => self.answer(cx, question, tries, text),
            Event::TimerFired => Flow::to(cx.exit(self.on_timeout.as_ref())),
            _ => Flow::Wait,
        }
    }
}

/// The value to save for an answer, if it is what the question expects.
fn accept_answer(expect: Expect, text: &str) -> Option<String> {
    let t = text.trim();
    match expect {
        Expect::Text => (!t.is_empty()).then(|| truncate(t.to_owned())),
        Expect::Digits => {
            let digits: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            (!digits.is_empty() && digits.len() <= 64 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then_some(digits)
        }
        Expect::Number => {
            let n = t.replace(',', ".");
            n.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && n.len() <= 64)
                .map(|_| n)
        }
        Expect::Email => interact_sdk::form::validate_email(t).ok(),
    }
}
