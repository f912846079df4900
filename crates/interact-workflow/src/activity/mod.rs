//! The Instant Messaging workflow activities: one file each, holding the activity's
//! parameters as written in TOML, their checks, and its step logic (what it does when the
//! run reaches the step, and when something happens while the run waits there).
//!
//! Only the activities the product documents list as supported for Instant Messaging
//! exist here ([`SUPPORTED`]); the others are known by name ([`UNSUPPORTED`]) so that a
//! workflow naming one is refused with "not supported for Instant Messaging".
//!
//! One table in this file lists them all; the [`Activity`] enum, [`SUPPORTED`] and the
//! dispatch to each activity's `Behaviour` are generated from it, so every `match` over
//! the activities is complete by construction (see "Adding an activity" in the
//! [crate docs](crate)).

// An activity file without its row in the table is an error, not a warning: its items
// are not re-exported, so they are unreachable.
#![deny(unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;

use interact_sdk::limits::MAX_TEXT_CHARS;
use serde::{Deserialize, Deserializer};

use crate::hours::OpeningHours;
use crate::run::{Cx, Event, Flow, Wait};
use crate::template::{Template, is_valid_name};

pub use interact_model::Priority;

/// Generates, from one row per activity (`module::Type = "toml_name", "Name in the
/// documents";`): the re-export of the module's public items, the [`Activity`] enum (one
/// variant per row, named as its type), [`SUPPORTED`], and [`Activity`]'s parsing, names
/// and dispatch to [`Behaviour`].
macro_rules! activities {
    ($($module:ident :: $name:ident = $toml:literal, $display:literal;)+) => {
        $(pub use $module::*;)+

        /// The supported activities: TOML name and the name in the product documents.
        pub const SUPPORTED: &[(&str, &str)] = &[$(($toml, $display)),+];

        /// One activity with its parameters.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum Activity {
            $(
                #[doc = concat!($display, " ([`", stringify!($name), "`]).")]
                $name($name),
            )+
        }

        impl Activity {
            /// Builds the activity named `name` (TOML spelling) from its parameters.
            pub(crate) fn from_table(
                name: &str,
                params: toml::Table,
            ) -> Result<Self, toml::de::Error> {
                let v = toml::Value::Table(params);
                Ok(match name {
                    $($toml => Self::$name(v.try_into()?),)+
                    other => {
                        return Err(serde::de::Error::custom(format!(
                            "unknown activity {other:?}"
                        )));
                    }
                })
            }

            /// The name in the product documents, e.g. "Collect Information".
            pub fn display_name(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => $display,)+
                }
            }

            /// The activity's checks and step logic.
            pub(crate) fn behaviour(&self) -> &dyn Behaviour {
                match self {
                    $(Self::$name(a) => a,)+
                }
            }

            fn behaviour_mut(&mut self) -> &mut dyn Behaviour {
                match self {
                    $(Self::$name(a) => a,)+
                }
            }
        }
    };
}

// One module per activity (declared here rather than by the table, so that rustfmt,
// which does not look into macros, formats them).
mod accept;
mod availability_based_routing;
mod cancel_task;
mod check_opening_hours;
mod check_parameter;
mod check_task;
mod collect_information;
mod delay;
mod disconnect;
mod distribution_priority;
mod get_available_users;
mod get_queue_position;
mod input_customer;
mod message;
mod queue_task;
mod save_to_parameter;
mod transfer;
mod web_request;

// The table: one row per activity, in the order of the product documents. Adding an
// activity is a file `activity/<module>.rs` with its parameters and `impl Behaviour`,
// its `mod` line above, and a row here (see the crate docs).
activities! {
    accept::Accept = "accept", "Accept";
    collect_information::CollectInformation = "collect_information", "Collect Information";
    delay::Delay = "delay", "Delay";
    disconnect::Disconnect = "disconnect", "Disconnect";
    input_customer::InputCustomer = "input_customer", "Input Customer";
    message::Message = "message", "Message";
    save_to_parameter::SaveToParameter = "save_to_parameter", "Save to Parameter";
    transfer::Transfer = "transfer", "Transfer";
    web_request::WebRequest = "web_request", "Web Request";
    availability_based_routing::AvailabilityRouting = "availability_based_routing", "Availability-based Routing";
    check_opening_hours::CheckOpeningHours = "check_opening_hours", "Check Opening Hours";
    check_parameter::CheckParameter = "check_parameter", "Check Parameter";
    get_available_users::GetAvailableUsers = "get_available_users", "Get Available Users";
    get_queue_position::GetQueuePosition = "get_queue_position", "Get Queue Position";
    cancel_task::CancelTask = "cancel_task", "Cancel Task";
    check_task::CheckTask = "check_task", "Check Task";
    distribution_priority::DistributionPriority = "distribution_priority", "Distribution Priority";
    queue_task::QueueTask = "queue_task", "Queue Task";
}

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

/// What each activity defines beside its parameters (which serde reads from the step's
/// keys): its checks when the workflow is loaded, and its step logic, which drives the
/// run through [`Cx`].
pub(crate) trait Behaviour {
    /// Checks parameter ranges and names. The message starts with the key it is about,
    /// so that the error names that key's line.
    fn check(&self) -> Result<(), String>;

    /// Every named jump of the step, with the key it is written under.
    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)>;

    /// Whether some way out of the step is "the next step".
    fn falls_through(&self) -> bool;

    /// Ends the workflow (no step follows; `next` is refused).
    fn is_terminal(&self) -> bool {
        false
    }

    /// Waits for the visitor or the clock before going on, so a loop through it cannot
    /// spin.
    fn waits(&self) -> bool {
        false
    }

    /// Links the step to the other definitions, after its labels are resolved. An error
    /// names the key it is about.
    fn link(
        &mut self,
        _hours: &BTreeMap<String, Arc<OpeningHours>>,
    ) -> Result<(), (&'static str, String)> {
        Ok(())
    }

    /// The run reaches the step.
    fn enter(&self, cx: &mut Cx<'_>) -> Flow;

    /// Whether a run may wait at this step in `wait` (a stored run is resumed only then).
    fn may_wait(&self, _wait: &Wait) -> bool {
        false
    }

    /// Something happened while the run waits at this step (by default: nothing to do).
    fn on_event(&self, _cx: &mut Cx<'_>, _event: Event<'_>) -> Flow {
        Flow::Wait
    }
}

impl Activity {
    /// Ends the workflow (no step follows).
    pub fn is_terminal(&self) -> bool {
        self.behaviour().is_terminal()
    }

    /// Waits for the visitor or the clock before going on, so a loop through it cannot
    /// spin.
    pub fn waits(&self) -> bool {
        self.behaviour().waits()
    }

    /// Whether some way out of the step is "the next step".
    pub fn falls_through(&self) -> bool {
        self.behaviour().falls_through()
    }

    /// Every named jump of the step, with the key it is written under.
    pub fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        self.behaviour_mut().targets_mut()
    }

    /// Checks parameter ranges and names; the message names the parameter.
    pub fn check(&self) -> Result<(), String> {
        self.behaviour().check()
    }

    /// Links the step to the opening hours it names (see [`Behaviour::link`]).
    pub(crate) fn link(
        &mut self,
        hours: &BTreeMap<String, Arc<OpeningHours>>,
    ) -> Result<(), (&'static str, String)> {
        self.behaviour_mut().link(hours)
    }
}

// ---- shared by the activities' checks and parameters ---------------------------------

/// `key` names a parameter: a valid parameter name.
fn check_name(key: &str, n: &str) -> Result<(), String> {
    if is_valid_name(n) {
        Ok(())
    } else {
        Err(format!(
            "{key}: {n:?} is not a parameter name (1 to 64 letters, digits, _, - or .)"
        ))
    }
}

/// `key = v` is within `lo..=hi`.
fn check_range(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), String> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!("{key} = {v} is out of range ({lo} to {hi})"))
    }
}

/// `key` is a chat text: not blank, at most [`MAX_TEXT_CHARS`] characters.
fn check_text(key: &str, t: &Template) -> Result<(), String> {
    let n = t.source().chars().count();
    if t.source().trim().is_empty() || n > MAX_TEXT_CHARS {
        Err(format!("{key} must be 1 to {MAX_TEXT_CHARS} characters"))
    } else {
        Ok(())
    }
}

/// An optional jump, for [`Behaviour::targets_mut`].
fn opt<'a>(key: &'static str, t: &'a mut Option<Target>) -> Option<(&'static str, &'a mut Target)> {
    t.as_mut().map(|t| (key, t))
}

/// How often an invalid answer is asked again, by default (Collect Information, Input
/// Customer).
fn default_retries() -> u8 {
    2
}

/// Sent before a question is asked again, by default.
fn default_invalid() -> Template {
    Template::parse("Sorry, I did not understand that.").unwrap_or_else(|_| unreachable!())
}
