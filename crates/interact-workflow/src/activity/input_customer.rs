//! Input Customer: asks a question in the chat and branches on the answer.

use serde::Deserialize;

use super::{
    Behaviour, Target, check_name, check_range, check_text, default_invalid, default_retries, opt,
};
use crate::run::{Cx, Event, Flow, Wait, truncate};
use crate::template::Template;

/// One choice of Input Customer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Answers that pick it (compared trimmed, ignoring case), e.g. `["1", "billing"]`.
    pub answers: Vec<String>,
    /// Where to go.
    pub next: Target,
}

/// Input Customer: asks a question in the chat and branches on the answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputCustomer {
    /// Put in the chat.
    pub question: Template,
    /// 1 to 20 choices.
    pub choices: Vec<Choice>,
    /// Saves the answer (as typed, trimmed) to this parameter.
    #[serde(default)]
    pub save_to: Option<String>,
    /// How often an answer that matches no choice is asked again (0 to 5, default 2).
    #[serde(default = "default_retries")]
    pub retries: u8,
    /// Sent before the question is asked again.
    #[serde(default = "default_invalid")]
    pub invalid_message: Template,
    /// Seconds to wait for the answer (10 to 86400); no limit if absent.
    #[serde(default)]
    pub timeout_secs: Option<u32>,
    /// Where to go when the answer does not come in time (default: the next step).
    #[serde(default)]
    pub on_timeout: Option<Target>,
    /// Where to go when the retries are used up (default: the next step).
    #[serde(default)]
    pub on_invalid: Option<Target>,
    /// Answers as keypad tones (DTMF): not over Interact, whose visitors type (the
    /// documents exclude it for calls; a chat has no keypad).
    #[serde(default)]
    pub dtmf: bool,
}

impl InputCustomer {
    /// Asks the question and waits for the answer (with a timer if the step has a
    /// time-out).
    fn ask(&self, cx: &mut Cx<'_>, tries: u8) -> Flow {
        cx.ask(cx.render(&self.question));
        let deadline = cx.timer(self.timeout_secs);
        cx.set_wait(Wait::Input {
            step: cx.pc(),
            tries,
            deadline,
        });
        Flow::Wait
    }

    /// The visitor answered: the choice it picks, or ask again while retries are left.
    fn answer(&self, cx: &mut Cx<'_>, tries: u8, text: &str) -> Flow {
        let answer = text.trim();
        let wanted = answer.to_lowercase();
        let choice = self
            .choices
            .iter()
            .find(|ch| ch.answers.iter().any(|a| a.trim().to_lowercase() == wanted));
        if let Some(choice) = choice {
            if let Some(p) = &self.save_to {
                cx.params_mut()
                    .insert(p.clone(), truncate(answer.to_owned()));
            }
            Flow::Goto(choice.next.index)
        } else if tries >= self.retries {
            Flow::to(cx.exit(self.on_invalid.as_ref()))
        } else {
            cx.say(cx.render(&self.invalid_message));
            self.ask(cx, tries + 1)
        }
    }
}

impl Behaviour for InputCustomer {
    fn check(&self) -> Result<(), String> {
        if self.dtmf {
            return Err("dtmf: a chat has no keypad; answers are typed".into());
        }
        check_text("question", &self.question)?;
        check_range("choices (count)", self.choices.len() as u64, 1, 20)?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.choices {
            if c.answers.is_empty() {
                return Err("choices: every choice needs at least one answer".into());
            }
            for ans in &c.answers {
                let key = ans.trim().to_lowercase();
                if key.is_empty() {
                    return Err("choices: an answer is empty".into());
                }
                if !seen.insert(key) {
                    return Err(format!("choices: answer {ans:?} is listed twice"));
                }
            }
        }
        if let Some(s) = &self.save_to {
            check_name("save_to", s)?;
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
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        out.extend(self.choices.iter_mut().map(|c| ("choices", &mut c.next)));
        out.extend(opt("on_timeout", &mut self.on_timeout));
        out.extend(opt("on_invalid", &mut self.on_invalid));
        out
    }

    fn falls_through(&self) -> bool {
        self.on_timeout.is_none() || self.on_invalid.is_none()
    }

    fn waits(&self) -> bool {
        true
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        self.ask(cx, 0)
    }

    fn may_wait(&self, wait: &Wait) -> bool {
        matches!(wait, Wait::Input { .. })
    }

    fn on_event(&self, cx: &mut Cx<'_>, event: Event<'_>) -> Flow {
        let Wait::Input { tries, .. } = *cx.wait() else {
            return Flow::Wait;
        };
        match event {
            Event::VisitorMessage(text) => self.answer(cx, tries, text),
            Event::TimerFired => Flow::to(cx.exit(self.on_timeout.as_ref())),
            _ => Flow::Wait,
        }
    }
}
