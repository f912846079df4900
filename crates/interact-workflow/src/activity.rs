//! The Instant Messaging workflow activities and their parameters, as written in TOML.
//!
//! Only the activities the product documents list as supported for Instant Messaging
//! exist here ([`SUPPORTED`]); the others are known by name ([`UNSUPPORTED`]) so that a
//! workflow naming one is refused with "not supported for Instant Messaging".

use std::collections::BTreeMap;
use std::sync::Arc;

use interact_sdk::limits::MAX_TEXT_CHARS;
use serde::{Deserialize, Deserializer};

use crate::hours::OpeningHours;
use crate::template::{Template, is_valid_name};

/// A jump to another step, by label. Resolved to a step index when the workflow is
/// loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The label as written.
    pub label: String,
    /// The step it names (set when the workflow is loaded).
    pub index: usize,
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self {
            label: String::deserialize(d)?,
            index: usize::MAX,
        })
    }
}

pub use interact_model::Priority;

/// The supported activities: TOML name and the name in the product documents.
pub const SUPPORTED: &[(&str, &str)] = &[
    ("accept", "Accept"),
    ("collect_information", "Collect Information"),
    ("delay", "Delay"),
    ("disconnect", "Disconnect"),
    ("input_customer", "Input Customer"),
    ("message", "Message"),
    ("save_to_parameter", "Save to Parameter"),
    ("transfer", "Transfer"),
    ("web_request", "Web Request"),
    ("availability_based_routing", "Availability-based Routing"),
    ("check_opening_hours", "Check Opening Hours"),
    ("check_parameter", "Check Parameter"),
    ("get_available_users", "Get Available Users"),
    ("get_queue_position", "Get Queue Position"),
    ("cancel_task", "Cancel Task"),
    ("check_task", "Check Task"),
    ("distribution_priority", "Distribution Priority"),
    ("queue_task", "Queue Task"),
];

/// Workflow activities of the product that Instant Messaging does not support.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    ("announcement", "Announcement"),
    ("disconnect_as_handled", "Disconnect as Handled"),
    ("forward", "Forward"),
    ("input_customer_advanced", "Input Customer (Advanced)"),
    ("mark_as_handled", "Mark as Handled"),
    ("play_music", "Play Music"),
    ("reply", "Reply"),
    ("standby_duty", "Standby Duty"),
    ("virtual_user", "Virtual User"),
    ("voice_message", "Voice Message"),
    ("wait_for_parameter", "Wait for Parameter"),
    ("queue", "Queue"),
];

/// The TOML spelling of an activity name: lowercase, words joined by `_`, brackets
/// dropped, so `"Input Customer (Advanced)"`, `"availability-based routing"` and
/// `"input_customer_advanced"` all work.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| c.is_whitespace() || matches!(c, '_' | '-' | '(' | ')'))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

// ---- parameters of each activity ----------------------------------------------------

/// Accept: the workflow takes the chat (the visitor sees that it is being handled).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {}

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

fn default_retries() -> u8 {
    2
}

fn default_invalid() -> Template {
    Template::parse("Sorry, I did not understand that.").unwrap_or_else(|_| unreachable!())
}

/// Delay: waits, then goes on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// 1 to 86400.
    pub seconds: u32,
}

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
}

/// Message: sends a text to the visitor.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// With `{{parameter}}` placeholders.
    pub text: Template,
}

/// Save to Parameter: sets parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveToParameter {
    /// Parameter name to value (with placeholders), e.g. `{ tier = "gold" }`.
    pub set: BTreeMap<String, Template>,
}

/// Transfer: hands the task to another service (Instant Messaging: services only).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The service id.
    pub service: String,
    /// Sent to the visitor first.
    #[serde(default)]
    pub message: Option<Template>,
}

/// HTTP method of a Web Request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// Web Request: calls an HTTP endpoint and maps its JSON answer into parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebRequest {
    /// Default GET.
    #[serde(default = "default_method")]
    pub method: Method,
    /// `http(s)://host/...`; placeholders only after the host (values are
    /// percent-encoded).
    pub url: Template,
    /// Request headers (values with placeholders; control characters are removed).
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// A text body; placeholders are filled encoded for its `Content-Type` header
    /// (percent-encoded for a form, escaped as in a JSON string for JSON, as they are
    /// otherwise; without the header it is sent as `text/plain`).
    #[serde(default)]
    pub body: Option<Template>,
    /// A JSON body; placeholders in its strings are filled and JSON-escaped.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// 1 to 30 seconds, default 10.
    #[serde(default = "default_web_timeout")]
    pub timeout_secs: u32,
    /// Parameter name to JSON pointer into the response, e.g. `{ tier = "/customer/tier" }`.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
    /// Saves the HTTP status code to this parameter.
    #[serde(default)]
    pub save_status_to: Option<String>,
    /// Where to go on success (2xx, and a JSON body if `save` is set); default: next step.
    #[serde(default)]
    pub on_success: Option<Target>,
    /// Where to go on failure (no answer in time, another status, a body that is not
    /// JSON).
    pub on_failure: Target,
}

fn default_method() -> Method {
    Method::Get
}

fn default_web_timeout() -> u32 {
    10
}

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

/// Get Queue Position: saves the task's position in the queue (1 = next), as last
/// reported by the driver (empty if it has not reported one yet).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQueuePosition {
    /// Default `queue_position`.
    #[serde(default = "default_position_param")]
    pub save_to: String,
    /// Where to go if the task is not queued (default: the next step, the parameter
    /// emptied).
    #[serde(default)]
    pub on_not_queued: Option<Target>,
}

fn default_position_param() -> String {
    "queue_position".into()
}

/// Cancel Task: takes the task out of the queue.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelTask {}

/// Check Task: branches on whether the task is queued.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTask {
    /// Queued or being offered to an agent (default: the next step).
    #[serde(default)]
    pub on_queued: Option<Target>,
    /// Not queued (never queued, or cancelled).
    pub on_not_queued: Target,
}

/// Distribution Priority: sets the task's priority (changes it in the queue at once).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionPriority {
    /// 1 (lowest) to 9 (highest).
    pub priority: Priority,
}

/// Queue Task: puts the task in the service's queue; the workflow goes on while it
/// waits, and ends when an agent accepts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueTask {
    /// Overrides the Distribution Priority for this task.
    #[serde(default)]
    pub priority: Option<Priority>,
}

/// One activity with its parameters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Activity {
    /// Accept.
    Accept(Accept),
    /// Collect Information.
    CollectInformation(CollectInformation),
    /// Delay.
    Delay(Delay),
    /// Disconnect.
    Disconnect(Disconnect),
    /// Input Customer.
    InputCustomer(InputCustomer),
    /// Message.
    Message(Message),
    /// Save to Parameter.
    SaveToParameter(SaveToParameter),
    /// Transfer (to a service).
    Transfer(Transfer),
    /// Web Request.
    WebRequest(WebRequest),
    /// Availability-based Routing.
    AvailabilityRouting(AvailabilityRouting),
    /// Check Opening Hours.
    CheckOpeningHours(CheckOpeningHours),
    /// Check Parameter.
    CheckParameter(CheckParameter),
    /// Get Available Users.
    GetAvailableUsers(GetAvailableUsers),
    /// Get Queue Position.
    GetQueuePosition(GetQueuePosition),
    /// Cancel Task.
    CancelTask(CancelTask),
    /// Check Task.
    CheckTask(CheckTask),
    /// Distribution Priority.
    DistributionPriority(DistributionPriority),
    /// Queue Task.
    QueueTask(QueueTask),
}

impl Activity {
    /// Builds the activity named `name` (TOML spelling) from its parameters.
    pub(crate) fn from_table(name: &str, params: toml::Table) -> Result<Self, toml::de::Error> {
        let v = toml::Value::Table(params);
        Ok(match name {
            "accept" => Self::Accept(v.try_into()?),
            "collect_information" => Self::CollectInformation(v.try_into()?),
            "delay" => Self::Delay(v.try_into()?),
            "disconnect" => Self::Disconnect(v.try_into()?),
            "input_customer" => Self::InputCustomer(v.try_into()?),
            "message" => Self::Message(v.try_into()?),
            "save_to_parameter" => Self::SaveToParameter(v.try_into()?),
            "transfer" => Self::Transfer(v.try_into()?),
            "web_request" => Self::WebRequest(v.try_into()?),
            "availability_based_routing" => Self::AvailabilityRouting(v.try_into()?),
            "check_opening_hours" => Self::CheckOpeningHours(v.try_into()?),
            "check_parameter" => Self::CheckParameter(v.try_into()?),
            "get_available_users" => Self::GetAvailableUsers(v.try_into()?),
            "get_queue_position" => Self::GetQueuePosition(v.try_into()?),
            "cancel_task" => Self::CancelTask(v.try_into()?),
            "check_task" => Self::CheckTask(v.try_into()?),
            "distribution_priority" => Self::DistributionPriority(v.try_into()?),
            "queue_task" => Self::QueueTask(v.try_into()?),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown activity {other:?}"
                )));
            }
        })
    }

    /// The name in the product documents, e.g. "Collect Information".
    pub fn display_name(&self) -> &'static str {
        let i = match self {
            Self::Accept(_) => 0,
            Self::CollectInformation(_) => 1,
            Self::Delay(_) => 2,
            Self::Disconnect(_) => 3,
            Self::InputCustomer(_) => 4,
            Self::Message(_) => 5,
            Self::SaveToParameter(_) => 6,
            Self::Transfer(_) => 7,
            Self::WebRequest(_) => 8,
            Self::AvailabilityRouting(_) => 9,
            Self::CheckOpeningHours(_) => 10,
            Self::CheckParameter(_) => 11,
            Self::GetAvailableUsers(_) => 12,
            Self::GetQueuePosition(_) => 13,
            Self::CancelTask(_) => 14,
            Self::CheckTask(_) => 15,
            Self::DistributionPriority(_) => 16,
            Self::QueueTask(_) => 17,
        };
        SUPPORTED[i].1
    }

    /// Ends the workflow (no step follows).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Disconnect(_) | Self::Transfer(_))
    }

    /// Waits for the visitor or the clock before going on, so a loop through it cannot
    /// spin.
    pub fn waits(&self) -> bool {
        matches!(
            self,
            Self::Delay(_) | Self::CollectInformation(_) | Self::InputCustomer(_)
        )
    }

    /// Whether some way out of the step is "the next step".
    pub fn falls_through(&self) -> bool {
        match self {
            Self::Disconnect(_) | Self::Transfer(_) => false,
            Self::Accept(_)
            | Self::Delay(_)
            | Self::Message(_)
            | Self::SaveToParameter(_)
            | Self::GetAvailableUsers(_)
            | Self::CancelTask(_)
            | Self::DistributionPriority(_)
            | Self::QueueTask(_) => true,
            // All questions answered: the next step.
            Self::CollectInformation(_) => true,
            Self::InputCustomer(a) => a.on_timeout.is_none() || a.on_invalid.is_none(),
            Self::WebRequest(a) => a.on_success.is_none(),
            Self::AvailabilityRouting(a) => a.on_available.is_none(),
            Self::CheckOpeningHours(a) => a.on_open.is_none(),
            Self::CheckParameter(a) => a.otherwise.is_none(),
            Self::GetQueuePosition(_) => true,
            Self::CheckTask(a) => a.on_queued.is_none(),
        }
    }

    /// Every named jump of the step, with the key it is written under.
    pub fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        match self {
            Self::CollectInformation(a) => {
                out.extend(opt("on_timeout", &mut a.on_timeout));
                out.extend(opt("on_invalid", &mut a.on_invalid));
            }
            Self::InputCustomer(a) => {
                out.extend(a.choices.iter_mut().map(|c| ("choices", &mut c.next)));
                out.extend(opt("on_timeout", &mut a.on_timeout));
                out.extend(opt("on_invalid", &mut a.on_invalid));
            }
            Self::WebRequest(a) => {
                out.extend(opt("on_success", &mut a.on_success));
                out.push(("on_failure", &mut a.on_failure));
            }
            Self::AvailabilityRouting(a) => {
                out.extend(opt("on_available", &mut a.on_available));
                out.extend(opt("on_busy", &mut a.on_busy));
                out.push(("on_unavailable", &mut a.on_unavailable));
            }
            Self::CheckOpeningHours(a) => {
                out.extend(opt("on_open", &mut a.on_open));
                out.push(("on_closed", &mut a.on_closed));
                out.extend(opt("on_holiday", &mut a.on_holiday));
            }
            Self::CheckParameter(a) => {
                out.extend(a.conditions.iter_mut().map(|c| ("conditions", &mut c.next)));
                out.extend(opt("otherwise", &mut a.otherwise));
            }
            Self::GetQueuePosition(a) => out.extend(opt("on_not_queued", &mut a.on_not_queued)),
            Self::CheckTask(a) => {
                out.extend(opt("on_queued", &mut a.on_queued));
                out.push(("on_not_queued", &mut a.on_not_queued));
            }
            _ => {}
        }
        out
    }

    /// Checks parameter ranges and names; the message names the parameter.
    pub fn check(&self) -> Result<(), String> {
        let name = |key: &str, n: &str| {
            if is_valid_name(n) {
                Ok(())
            } else {
                Err(format!(
                    "{key}: {n:?} is not a parameter name (1 to 64 letters, digits, _, - or .)"
                ))
            }
        };
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{key} = {v} is out of range ({lo} to {hi})"))
            }
        };
        let text = |key: &str, t: &Template| {
            let n = t.source().chars().count();
            if t.source().trim().is_empty() || n > MAX_TEXT_CHARS {
                Err(format!("{key} must be 1 to {MAX_TEXT_CHARS} characters"))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Accept(_) | Self::CancelTask(_) | Self::CheckTask(_) => {}
            Self::DistributionPriority(_) | Self::QueueTask(_) => {}
            Self::CollectInformation(a) => {
                range("questions (count)", a.questions.len() as u64, 1, 10)?;
                for q in &a.questions {
                    text("ask", &q.ask)?;
                    name("save_to", &q.save_to)?;
                }
                range("retries", a.retries.into(), 0, 5)?;
                if let Some(t) = a.timeout_secs {
                    range("timeout_secs", t.into(), 10, 86_400)?;
                } else if a.on_timeout.is_some() {
                    return Err("on_timeout needs timeout_secs".into());
                }
            }
            Self::Delay(a) => range("seconds", a.seconds.into(), 1, 86_400)?,
            Self::Disconnect(a) => {
                if let Some(m) = &a.message {
                    text("message", m)?;
                }
            }
            Self::InputCustomer(a) => {
                text("question", &a.question)?;
                range("choices (count)", a.choices.len() as u64, 1, 20)?;
                let mut seen = std::collections::BTreeSet::new();
                for c in &a.choices {
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
                if let Some(s) = &a.save_to {
                    name("save_to", s)?;
                }
                range("retries", a.retries.into(), 0, 5)?;
                if let Some(t) = a.timeout_secs {
                    range("timeout_secs", t.into(), 10, 86_400)?;
                } else if a.on_timeout.is_some() {
                    return Err("on_timeout needs timeout_secs".into());
                }
            }
            Self::Message(a) => text("text", &a.text)?,
            Self::SaveToParameter(a) => {
                if a.set.is_empty() {
                    return Err("set must name at least one parameter".into());
                }
                for k in a.set.keys() {
                    name("set", k)?;
                }
            }
            Self::Transfer(a) => {
                if a.service.is_empty() {
                    return Err("service must not be empty".into());
                }
                if let Some(m) = &a.message {
                    text("message", m)?;
                }
            }
            Self::WebRequest(a) => check_web_request(a)?,
            Self::AvailabilityRouting(a) => {
                range("min_available", a.min_available.into(), 1, 1000)?;
            }
            Self::CheckOpeningHours(_) => {}
            Self::CheckParameter(a) => {
                name("parameter", &a.parameter)?;
                range("conditions (count)", a.conditions.len() as u64, 1, 20)?;
                for c in &a.conditions {
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
            }
            Self::GetAvailableUsers(a) => {
                name("save_to", &a.save_to)?;
                if let Some(s) = &a.save_busy_to {
                    name("save_busy_to", s)?;
                }
            }
            Self::GetQueuePosition(a) => name("save_to", &a.save_to)?,
        }
        Ok(())
    }
}

fn opt<'a>(key: &'static str, t: &'a mut Option<Target>) -> Option<(&'static str, &'a mut Target)> {
    t.as_mut().map(|t| (key, t))
}

fn check_web_request(a: &WebRequest) -> Result<(), String> {
    let url = a.url.source();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("url {url:?} must start with http:// or https://"))?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() || host.contains("{{") || host.contains('@') || host.contains(' ') {
        return Err(format!(
            "url {url:?}: the host must be written out (no placeholders, no user info)"
        ));
    }
    if !(1..=30).contains(&a.timeout_secs) {
        return Err(format!(
            "timeout_secs = {} is out of range (1 to 30)",
            a.timeout_secs
        ));
    }
    for h in a.headers.keys() {
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(format!("headers: {h:?} is not a header name"));
        }
    }
    if a.body.is_some() && a.json.is_some() {
        return Err("give body or json, not both".into());
    }
    // A body's values are encoded by its content type: it must be known when loading.
    if a.body.is_some()
        && let Some((_, t)) = a
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        && t.first_placeholder().is_some()
    {
        return Err("headers: the Content-Type of a body cannot hold placeholders".into());
    }
    if matches!(a.method, Method::Get | Method::Delete) && (a.body.is_some() || a.json.is_some()) {
        return Err(format!("{} takes no body", a.method.as_str()));
    }
    for (param, pointer) in &a.save {
        if !is_valid_name(param) {
            return Err(format!("save: {param:?} is not a parameter name"));
        }
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(format!(
                "save.{param}: {pointer:?} is not a JSON pointer (\"\" or starting with /)"
            ));
        }
    }
    if let Some(s) = &a.save_status_to
        && !is_valid_name(s)
    {
        return Err(format!("save_status_to: {s:?} is not a parameter name"));
    }
    Ok(())
}
