//! Instant Messaging workflows: how a service's chat task goes from the pre-chat form to
//! an agent (or to another service, or to an end), as the product documents describe.
//!
//! This crate does no IO. It has three parts:
//!
//! - **Definitions** ([`Definitions`]): `[[opening_hours]]` and `[[workflow]]` tables in
//!   TOML, strictly checked when loaded. Only the activities the product documents list as
//!   supported for Instant Messaging exist ([`activity::SUPPORTED`]); a workflow naming
//!   another one ([`activity::UNSUPPORTED`], e.g. Play Music) is refused with an error
//!   that names the activity, the workflow, the step and the line.
//! - **Modalities** ([`WorkflowModality`]): a workflow runs chats (`instant_messaging`,
//!   the default) or calls (`modality = "audio_video"`). A call workflow is also refused
//!   what the documents exclude for Audio/Video calls initiated from Interact
//!   ([`NOT_FOR_CALLS`]: a Transfer to a user, Pickup distribution, Voice Message, DTMF
//!   input), by name and place ([`WorkflowError::NotForCalls`]).
//! - **Opening hours** ([`hours`]): a time zone, weekly hours and holidays;
//!   [`hours::is_open`] is a pure function of the hours and an instant.
//! - **The interpreter** ([`WorkflowRun`]): a state machine per task. The driver feeds
//!   [`Input`]s with the current wall-clock time and carries out the [`Action`]s it
//!   polls, in order, until `poll_action` returns `None`. The last action of every run is
//!   [`Action::Done`], with the [`End`] that reporting turns into an [`Outcome`];
//!   [`WorkflowRun::path_names`] is the workflow path.
//!
//! # The format
//!
//! A workflow is an ordered list of steps. Each step names its `activity`, may have a
//! `label` that other steps jump to, and takes the activity's parameters. A step goes on
//! to the following step unless it says `next = "label"`; branching activities name
//! their exits (`on_open`, `on_closed`, ...). Texts may contain `{{parameter}}`.
//! Activity names may also be written as in the documents (`"Check Opening Hours"`).
//!
//! ```
//! use std::sync::Arc;
//! use interact_sdk::time::UnixMillis;
//! use interact_workflow::{Action, Definitions, Input, Params, WorkflowRun};
//!
//! let defs = Definitions::parse(r#"
//!     [[opening_hours]]
//!     name = "office"
//!     time_zone = "Europe/Berlin"
//!     weekly.mon = ["08:00-12:00", "13:00-17:00"]
//!
//!     [[workflow]]
//!     name = "support-im"
//!
//!     [[workflow.step]]
//!     activity = "check_opening_hours"
//!     hours = "office"
//!     on_closed = "closed"
//!
//!     [[workflow.step]]
//!     activity = "message"
//!     text = "Hello {{visitor_name}}, an agent will be with you shortly."
//!
//!     [[workflow.step]]
//!     activity = "queue_task"
//!     priority = 7
//!
//!     [[workflow.step]]
//!     activity = "delay"
//!     seconds = 600
//!
//!     [[workflow.step]]
//!     activity = "disconnect"
//!     outcome = "no_agent"
//!     message = "Sorry, nobody could answer. Please try again later."
//!
//!     [[workflow.step]]
//!     label = "closed"
//!     activity = "disconnect"
//!     message = "We are closed."
//! "#).expect("valid");
//!
//! let workflow = Arc::clone(&defs.workflows["support-im"]);
//! let params = Params::from([("visitor_name".to_owned(), "Ana".to_owned())]);
//! let mut run = WorkflowRun::new(workflow, params);
//! // Monday 2024-01-08 09:00 in Berlin.
//! run.handle(UnixMillis(1_704_700_800_000), Input::Started);
//! let mut actions = Vec::new();
//! while let Some(a) = run.poll_action() {
//!     actions.push(a);
//! }
//! assert!(matches!(&actions[0], Action::SendMessage { text } if text.starts_with("Hello Ana")));
//! assert!(matches!(actions[1], Action::Queue { .. }));
//! assert!(matches!(actions[2], Action::StartTimer { .. }));
//! ```
//!
//! # The driving contract
//!
//! - `handle(now, Input::Started)` runs the first steps; nothing happens before it.
//! - Steps that need the outside world ask through an action and wait for its answer:
//!   [`Action::StartTimer`] → [`Input::TimerFired`], [`Action::AskVisitor`] →
//!   [`Input::VisitorMessage`], [`Action::HttpRequest`] → [`Input::WebResponse`] or
//!   [`Input::WebFailed`], [`Action::QueryAgents`] → [`Input::AgentsAvailable`],
//!   [`Action::Queue`] → [`Input::QueueUpdate`] (and later [`Input::Offered`],
//!   [`Input::OfferTimedOut`], [`Input::Accepted`]).
//! - A run keeps at most one timer: a new `StartTimer` replaces the previous one, and a
//!   timer that fires after its wait ended is ignored.
//! - Queue Task does not block: the workflow goes on (typically a loop of Delay, Get Queue
//!   Position and Message) until [`Input::Accepted`] ends the run, whatever step it is in.
//! - Every run has a step budget ([`Workflow::max_steps`]); a run that uses it up ends as
//!   failed. Loops that never wait are refused when the workflow is loaded.
//! - Inputs that make no sense in the current state (a web response while no request is
//!   open, anything after the end) are ignored.
//! - A waiting run can be stored and resumed: [`WorkflowRun::snapshot`] (serde; deadlines
//!   are wall-clock instants) and [`WorkflowRun::resume`], whose first actions queue a
//!   queued task again and re-arm the timer for the same instant; a Web Request in
//!   flight counts as failed. Resume only under the same workflow
//!   ([`Workflow::fingerprint`]).
//!
//! # Adding an activity
//!
//! Each activity is one file in `src/activity/`, as mini-redis has one file per command:
//! its parameters (a strict serde struct; the structs are public as `activity::*`) and
//! its `impl Behaviour`, which holds its checks, its exits and its step logic: what it
//! does when the run reaches the step, and when something happens while the run waits
//! there (it sees the run through `run::Cx`). `delay.rs` is a short example. To add one:
//!
//! 1. write `src/activity/<toml_name>.rs`;
//! 2. in `src/activity/mod.rs`, declare it (`mod <toml_name>;`) and add its row to the
//!    table: `<toml_name>::<Type> = "<toml_name>", "<Name in the documents>";` (and take
//!    it out of [`activity::UNSUPPORTED`] if it was listed there).
//!
//! The table generates the [`Activity`] variant, its entry in [`activity::SUPPORTED`],
//! and every `match` over the activities, so none can miss it; a file without its row
//! does not compile. An activity that waits keeps its state in a variant of `run::Wait`,
//! which is stored in a [`RunSnapshot`]: it uses one or adds one, and never changes one.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activity;
pub mod definition;
pub mod hours;
pub mod run;
pub mod template;

#[cfg(test)]
mod tests;

pub use activity::Activity;
pub use definition::{
    Definitions, DefinitionsConfig, NOT_FOR_CALLS, Place, Step, Workflow, WorkflowConfig,
    WorkflowError, WorkflowModality,
};
pub use hours::{OpeningHours, OpeningHoursConfig, is_open};
pub use interact_model::Priority;
pub use run::{
    Action, Answer, End, HttpRequest, Input, Outcome, ResumeError, RunSnapshot, TaskState, Visit,
    WorkflowRun,
};
pub use template::Params;
