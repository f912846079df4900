//! The interpreter: one [`WorkflowRun`] per task, without IO.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use interact_sdk::limits::MAX_TEXT_CHARS;
use interact_sdk::time::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::activity::{
    Activity, AvailabilityRouting, Expect, Method, Op, Priority, Target, WebRequest,
};
use crate::definition::{Step, Workflow};
use crate::hours::HoursStatus;
use crate::template::{Escape, Params, json_param, render_json};

/// What happened, as the driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// The task exists (the visitor sent the pre-chat form): run the first step.
    Started,
    /// The visitor wrote in the chat.
    VisitorMessage(String),
    /// The timer of the last [`Action::StartTimer`] fired (early or stale calls are
    /// ignored).
    TimerFired,
    /// The answer to [`Action::HttpRequest`].
    WebResponse {
        /// HTTP status code.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// [`Action::HttpRequest`] got no answer (connection error, timeout, too large).
    WebFailed,
    /// The task's place in the queue (1 = next), after [`Action::Queue`] and whenever it
    /// changes.
    QueueUpdate {
        /// The position.
        position: u32,
    },
    /// The answer to [`Action::QueryAgents`]: the service's members who could take the
    /// chat now, and those signed in who cannot (busy, away, at their chat limit).
    AgentsAvailable {
        /// Available now.
        available: u32,
        /// Signed in but not available.
        busy: u32,
    },
    /// The queued task was offered to an agent.
    Offered {
        /// The agent.
        agent: String,
    },
    /// The agent did not accept in time; the task is back in the queue.
    OfferTimedOut,
    /// An agent accepted the task: the run ends.
    Accepted {
        /// The agent.
        agent: String,
    },
    /// The visitor left: the run ends.
    VisitorLeft,
    /// The workflow was removed or replaced by one that cannot run: the run ends as
    /// failed.
    Withdrawn,
}

/// An HTTP request a Web Request step asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The URL, parameters percent-encoded.
    pub url: String,
    /// Headers, in name order.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
    /// Give up (and report [`Input::WebFailed`]) after this long.
    pub timeout: Duration,
}

/// What the driver must do, in order.
///
/// Exhaustive on purpose: a new action must be carried out by the driver, so adding one
/// breaks its `match` until it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The workflow takes the chat (Accept).
    Accept,
    /// Send this text to the visitor as the service.
    SendMessage {
        /// The text.
        text: String,
    },
    /// Send this question to the visitor; the answer comes as [`Input::VisitorMessage`].
    AskVisitor {
        /// The question.
        question: String,
    },
    /// Report [`Input::TimerFired`] at this time. Replaces any earlier timer of the run.
    StartTimer {
        /// When.
        at: UnixMillis,
    },
    /// Report the service's agents with [`Input::AgentsAvailable`].
    QueryAgents,
    /// Put the task in the service's queue, then report its position.
    Queue {
        /// Its priority.
        priority: Priority,
    },
    /// Change the queued task's priority.
    SetPriority {
        /// The new priority.
        priority: Priority,
    },
    /// Take the task out of the queue (withdraw an open offer).
    CancelQueue,
    /// Make this HTTP request and report [`Input::WebResponse`] or [`Input::WebFailed`].
    HttpRequest(HttpRequest),
    /// Hand the task to this service (its own workflow takes over).
    Transfer {
        /// The service id.
        service: String,
    },
    /// End the session.
    Disconnect {
        /// The reporting outcome.
        outcome: Outcome,
    },
    /// The run is over; always the last action.
    Done {
        /// How it ended.
        end: End,
    },
}

/// The reporting outcome a run ends with: the reports' own type.
pub use interact_model::Outcome;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// An agent accepted the task; the chat goes on with them.
    Accepted {
        /// The agent.
        agent: String,
    },
    /// Transferred to a service.
    Transferred {
        /// The service.
        service: String,
    },
    /// A Disconnect step ended the session.
    Disconnected {
        /// With this outcome.
        outcome: Outcome,
    },
    /// The visitor left.
    Abandoned,
    /// The run could not go on.
    Failed {
        /// Why, for the log.
        reason: String,
    },
}

impl End {
    /// The reporting outcome (an accepted task counts as handled).
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Accepted { .. } => Outcome::Handled,
            Self::Transferred { .. } => Outcome::Transferred,
            Self::Disconnected { outcome } => *outcome,
            Self::Abandoned => Outcome::Abandoned,
            Self::Failed { .. } => Outcome::Failed,
        }
    }
}

/// One step of the workflow path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The step index (from 0).
    pub step: usize,
    /// When it ran.
    pub at: UnixMillis,
}

/// Where the task stands in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Not in the queue (never queued, or cancelled).
    NotQueued,
    /// Waiting in the queue.
    Queued,
    /// Offered to an agent, not accepted yet.
    Offered,
}

/// What a run waits for. Deadlines are absolute (wall-clock), so that a resumed run
/// re-arms its timer for the same instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Wait {
    NotStarted,
    Delay {
        step: usize,
        deadline: UnixMillis,
    },
    Collect {
        step: usize,
        question: usize,
        tries: u8,
        deadline: Option<UnixMillis>,
    },
    Input {
        step: usize,
        tries: u8,
        deadline: Option<UnixMillis>,
    },
    Web {
        step: usize,
    },
    Agents {
        step: usize,
    },
    Finished,
}

/// The resumable state of a [`WorkflowRun`] ([`WorkflowRun::snapshot`]), stored as JSON
/// while the run waits. Its deadlines are wall-clock instants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSnapshot {
    params: Params,
    wait: Wait,
    task: TaskState,
    /// The last position announced (until the queue announces the new one).
    position: Option<u32>,
    priority: Priority,
    accepted: bool,
    steps_taken: u32,
    path: Vec<Visit>,
}

/// Why a snapshot cannot be resumed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot resume the workflow run: {0}")]
pub struct ResumeError(String);

/// How a text body's content type wants values written into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json`, or any `+json` type.
    Json,
    /// Anything else (`text/plain`, XML, ...).
    Other,
}

/// The kind of a `Content-Type` value (lower case).
pub(crate) fn body_kind(content_type: &str) -> BodyKind {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else if essence == "application/json" || essence.ends_with("+json") {
        BodyKind::Json
    } else {
        BodyKind::Other
    }
}

enum Flow {
    Goto(usize),
    Wait,
    Stop,
}

/// One task's run through its workflow.
///
/// Drive it like the SDK's machines: after every [`handle`](Self::handle), take
/// [`poll_action`](Self::poll_action) until it returns `None`. Time comes in with every
/// input as wall-clock [`UnixMillis`] (opening hours need the date and time of day);
/// nothing is read from a clock.
#[derive(Debug)]
pub struct WorkflowRun {
    workflow: Arc<Workflow>,
    params: Params,
    wait: Wait,
    task: TaskState,
    position: Option<u32>,
    priority: Priority,
    accepted: bool,
    steps_taken: u32,
    path: Vec<Visit>,
    actions: VecDeque<Action>,
    end: Option<End>,
}

impl WorkflowRun {
    /// A run of `workflow` for a task with these parameters (the server sets
    /// `visitor_name`, `visitor_email`, `first_message`, `service` and `session`). Nothing
    /// happens before [`Input::Started`].
    pub fn new(workflow: Arc<Workflow>, params: Params) -> Self {
        Self {
            workflow,
            params,
            wait: Wait::NotStarted,
            task: TaskState::NotQueued,
            position: None,
            priority: Priority::DEFAULT,
            accepted: false,
            steps_taken: 0,
            path: Vec::new(),
            actions: VecDeque::new(),
            end: None,
        }
    }

    /// The run's resumable state (everything but its workflow, the actions not polled
    /// yet and an open offer): take it after the actions of an input are carried out, store it, and
    /// [`resume`](Self::resume) from it after a restart.
    pub fn snapshot(&self) -> RunSnapshot {
        RunSnapshot {
            params: self.params.clone(),
            wait: self.wait.clone(),
            // An offer does not outlive a restart: the task is queued again.
            task: match self.task {
                TaskState::Offered => TaskState::Queued,
                t => t,
            },
            position: self.position,
            priority: self.priority,
            accepted: self.accepted,
            steps_taken: self.steps_taken,
            path: self.path.clone(),
        }
    }

    /// The run of `workflow` (the one the snapshot was taken from: same steps) from
    /// `snapshot`, at `now`. Its first actions set up again what a restart lost:
    ///
    /// - a queued (or offered: the offer is gone) task is queued again with its
    ///   priority ([`Action::Queue`]);
    /// - a timer it waits on is armed again for the same instant ([`Action::StartTimer`];
    ///   a deadline already past fires at once);
    /// - a Web Request in flight counts as failed (its `on_failure` exit runs);
    /// - an agent count it waits for is asked again ([`Action::QueryAgents`]).
    ///
    /// Refused if the snapshot does not fit the workflow (a step out of range or of
    /// another activity) or is of a run that already ended.
    pub fn resume(
        workflow: Arc<Workflow>,
        snapshot: RunSnapshot,
        now: UnixMillis,
    ) -> Result<Self, ResumeError> {
        let steps = workflow.steps();
        let fits = |step: usize, ok: fn(&Activity) -> bool| {
            steps.get(step).is_some_and(|s| ok(&s.activity))
        };
        let valid = match &snapshot.wait {
            Wait::NotStarted => true,
            Wait::Finished => return Err(ResumeError("the run has ended".into())),
            Wait::Delay { step, .. } => fits(*step, |a| matches!(a, Activity::Delay(_))),
            Wait::Collect { step, question, .. } => {
                fits(*step, |a| matches!(a, Activity::CollectInformation(_)))
                    && matches!(&steps[*step].activity,
                        Activity::CollectInformation(c) if *question < c.questions.len())
            }
            Wait::Input { step, .. } => fits(*step, |a| matches!(a, Activity::InputCustomer(_))),
            Wait::Web { step } => fits(*step, |a| matches!(a, Activity::WebRequest(_))),
            Wait::Agents { step } => fits(*step, |a| {
                matches!(
                    a,
                    Activity::AvailabilityRouting(_) | Activity::GetAvailableUsers(_)
                )
            }),
        } && snapshot.path.iter().all(|v| v.step < steps.len());
        if !valid {
            return Err(ResumeError(format!(
                "the state does not fit workflow {:?}",
                workflow.name()
            )));
        }
        let mut run = Self {
            workflow,
            params: snapshot.params,
            wait: snapshot.wait,
            task: snapshot.task,
            position: snapshot.position,
            priority: snapshot.priority,
            accepted: snapshot.accepted,
            steps_taken: snapshot.steps_taken,
            path: snapshot.path,
            actions: VecDeque::new(),
            end: None,
        };
        if run.task != TaskState::NotQueued {
            run.task = TaskState::Queued;
            run.actions.push_back(Action::Queue {
                priority: run.priority,
            });
        }
        if let Some(at) = run.deadline() {
            run.actions.push_back(Action::StartTimer { at });
        }
        match run.wait {
            Wait::Web { step } => run.on_web(now, step, None),
            Wait::Agents { .. } => run.actions.push_back(Action::QueryAgents),
            _ => {}
        }
        Ok(run)
    }

    /// The next thing to do, `None` when there is nothing until the next input.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The task's parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The workflow.
    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.workflow
    }

    /// How the run ended, once it has.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Where the task stands in the queue.
    pub fn task_state(&self) -> TaskState {
        self.task
    }

    /// The task's priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The time the run waits for, if any.
    pub fn deadline(&self) -> Option<UnixMillis> {
        match self.wait {
            Wait::Delay { deadline, .. } => Some(deadline),
            Wait::Collect { deadline, .. } | Wait::Input { deadline, .. } => deadline,
            _ => None,
        }
    }

    /// The steps visited so far, in order (a step in a loop appears each time).
    pub fn path(&self) -> &[Visit] {
        &self.path
    }

    /// The workflow path for reporting: labels, or `#<n> <activity>` for steps without.
    pub fn path_names(&self) -> Vec<String> {
        self.path
            .iter()
            .map(|v| self.workflow.step_name(v.step))
            .collect()
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: UnixMillis, input: Input) {
        if self.end.is_some() {
            return;
        }
        match input {
            Input::Started => {
                if matches!(self.wait, Wait::NotStarted) {
                    self.run(0, now);
                }
            }
            Input::VisitorMessage(text) => self.on_visitor_message(now, &text),
            Input::TimerFired => self.on_timer(now),
            Input::WebResponse { status, body } => {
                if let Wait::Web { step } = self.wait {
                    self.on_web(now, step, Some((status, body)));
                }
            }
            Input::WebFailed => {
                if let Wait::Web { step } = self.wait {
                    self.on_web(now, step, None);
                }
            }
            Input::QueueUpdate { position } => {
                if self.task != TaskState::NotQueued {
                    self.position = Some(position);
                }
            }
            Input::AgentsAvailable { available, busy } => {
                if let Wait::Agents { step } = self.wait {
                    self.on_agents(now, step, available, busy);
                }
            }
            Input::Offered { .. } => {
                if self.task == TaskState::Queued {
                    self.task = TaskState::Offered;
                }
            }
            Input::OfferTimedOut => {
                if self.task == TaskState::Offered {
                    self.task = TaskState::Queued;
                }
            }
            Input::Accepted { agent } => {
                if self.task != TaskState::NotQueued {
                    self.task = TaskState::NotQueued;
                    self.finish(End::Accepted { agent });
                }
            }
            Input::VisitorLeft => {
                self.leave_queue();
                self.finish(End::Abandoned);
            }
            Input::Withdrawn => {
                self.leave_queue();
                self.actions.push_back(Action::Disconnect {
                    outcome: Outcome::Failed,
                });
                self.finish(End::Failed {
                    reason: "the workflow was withdrawn".into(),
                });
            }
        }
    }

    fn finish(&mut self, end: End) {
        self.wait = Wait::Finished;
        self.actions.push_back(Action::Done { end: end.clone() });
        self.end = Some(end);
    }

    fn leave_queue(&mut self) {
        if self.task != TaskState::NotQueued {
            self.actions.push_back(Action::CancelQueue);
            self.task = TaskState::NotQueued;
            self.position = None;
        }
    }

    fn fail(&mut self, reason: String) {
        self.leave_queue();
        self.actions.push_back(Action::Disconnect {
            outcome: Outcome::Failed,
        });
        self.finish(End::Failed { reason });
    }

    fn say(&mut self, text: String) {
        let text = truncate(text);
        if !text.trim().is_empty() {
            self.actions.push_back(Action::SendMessage { text });
        }
    }

    fn timer(&mut self, now: UnixMillis, secs: Option<u32>) -> Option<UnixMillis> {
        let at = UnixMillis(now.0.saturating_add(u64::from(secs?) * 1000));
        self.actions.push_back(Action::StartTimer { at });
        Some(at)
    }

    /// Where an optional exit leads: its target, or the step's `next`.
    fn exit(step: &Step, target: Option<&Target>) -> Option<usize> {
        target.map(|t| t.index).or(step.next)
    }

    /// Runs steps from `pc` until one waits or the run ends.
    fn run(&mut self, mut pc: usize, now: UnixMillis) {
        loop {
            if self.steps_taken >= self.workflow.max_steps() {
                let reason = format!(
                    "step budget of {} exhausted at {}",
                    self.workflow.max_steps(),
                    self.workflow.step_name(pc)
                );
                self.fail(reason);
                return;
            }
            self.steps_taken += 1;
            self.path.push(Visit { step: pc, at: now });
            match self.exec(pc, now) {
                Flow::Goto(next) => pc = next,
                Flow::Wait | Flow::Stop => return,
            }
        }
    }

    fn go(&mut self, now: UnixMillis, to: Option<usize>) {
        match to {
            Some(pc) => self.run(pc, now),
            // Cannot happen in a checked workflow: every way on leads to a step.
            None => self.fail("a step had nowhere to go".into()),
        }
    }

    fn exec(&mut self, pc: usize, now: UnixMillis) -> Flow {
        let workflow = self.workflow.clone();
        let step = &workflow.steps()[pc];
        let next = |to: Option<usize>| to.map_or(Flow::Stop, Flow::Goto);
        let flow = match &step.activity {
            Activity::Accept(_) => {
                if !self.accepted {
                    self.accepted = true;
                    self.actions.push_back(Action::Accept);
                }
                next(step.next)
            }
            Activity::Message(m) => {
                self.say(m.text.render(&self.params, Escape::Plain));
                next(step.next)
            }
            Activity::SaveToParameter(s) => {
                let values: Vec<(String, String)> = s
                    .set
                    .iter()
                    .map(|(k, t)| (k.clone(), t.render(&self.params, Escape::Plain)))
                    .collect();
                self.params.extend(values);
                next(step.next)
            }
            Activity::Delay(d) => {
                let deadline = UnixMillis(now.0.saturating_add(u64::from(d.seconds) * 1000));
                self.actions.push_back(Action::StartTimer { at: deadline });
                self.wait = Wait::Delay { step: pc, deadline };
                Flow::Wait
            }
            Activity::CollectInformation(c) => {
                let question = c.questions[0].ask.render(&self.params, Escape::Plain);
                self.actions.push_back(Action::AskVisitor {
                    question: truncate(question),
                });
                let deadline = self.timer(now, c.timeout_secs);
                self.wait = Wait::Collect {
                    step: pc,
                    question: 0,
                    tries: 0,
                    deadline,
                };
                Flow::Wait
            }
            Activity::InputCustomer(c) => {
                let question = c.question.render(&self.params, Escape::Plain);
                self.actions.push_back(Action::AskVisitor {
                    question: truncate(question),
                });
                let deadline = self.timer(now, c.timeout_secs);
                self.wait = Wait::Input {
                    step: pc,
                    tries: 0,
                    deadline,
                };
                Flow::Wait
            }
            Activity::Disconnect(d) => {
                if let Some(m) = &d.message {
                    self.say(m.render(&self.params, Escape::Plain));
                }
                self.leave_queue();
                let outcome = match d.outcome {
                    super::activity::DisconnectOutcome::Failed => Outcome::Failed,
                    super::activity::DisconnectOutcome::NoAgent => Outcome::NoAgent,
                    super::activity::DisconnectOutcome::Cancelled => Outcome::Cancelled,
                };
                self.actions.push_back(Action::Disconnect { outcome });
                self.finish(End::Disconnected { outcome });
                Flow::Stop
            }
            Activity::Transfer(t) => {
                if let Some(m) = &t.message {
                    self.say(m.render(&self.params, Escape::Plain));
                }
                self.leave_queue();
                self.actions.push_back(Action::Transfer {
                    service: t.service.clone(),
                });
                self.finish(End::Transferred {
                    service: t.service.clone(),
                });
                Flow::Stop
            }
            Activity::WebRequest(w) => match self.http_request(w) {
                Ok(request) => {
                    self.actions.push_back(Action::HttpRequest(request));
                    self.wait = Wait::Web { step: pc };
                    Flow::Wait
                }
                // A value that cannot be sent safely: the request fails without being
                // made.
                Err(_) => Flow::Goto(w.on_failure.index),
            },
            Activity::AvailabilityRouting(_) | Activity::GetAvailableUsers(_) => {
                self.actions.push_back(Action::QueryAgents);
                self.wait = Wait::Agents { step: pc };
                Flow::Wait
            }
            Activity::CheckOpeningHours(c) => {
                let status = c
                    .resolved
                    .as_ref()
                    .map_or(HoursStatus::Closed, |h| h.status(now));
                let to = match status {
                    HoursStatus::Open => Self::exit(step, c.on_open.as_ref()),
                    HoursStatus::Closed => Some(c.on_closed.index),
                    HoursStatus::Holiday => {
                        Some(c.on_holiday.as_ref().unwrap_or(&c.on_closed).index)
                    }
                };
                next(to)
            }
            Activity::CheckParameter(c) => {
                let value = self.params.get(&c.parameter).cloned().unwrap_or_default();
                let hit = c.conditions.iter().find(|cond| {
                    let rhs = cond
                        .value
                        .as_ref()
                        .map(|t| t.render(&self.params, Escape::Plain))
                        .unwrap_or_default();
                    holds(cond.op, &value, &rhs, cond.ignore_case)
                });
                next(match hit {
                    Some(cond) => Some(cond.next.index),
                    None => Self::exit(step, c.otherwise.as_ref()),
                })
            }
            Activity::GetQueuePosition(g) => {
                let queued = self.task != TaskState::NotQueued;
                let value = match (queued, self.position) {
                    (true, Some(p)) => p.to_string(),
                    _ => String::new(),
                };
                self.params.insert(g.save_to.clone(), value);
                next(if queued {
                    step.next
                } else {
                    Self::exit(step, g.on_not_queued.as_ref())
                })
            }
            Activity::CancelTask(_) => {
                self.leave_queue();
                next(step.next)
            }
            Activity::CheckTask(c) => next(if self.task == TaskState::NotQueued {
                Some(c.on_not_queued.index)
            } else {
                Self::exit(step, c.on_queued.as_ref())
            }),
            Activity::DistributionPriority(d) => {
                self.set_priority(d.priority);
                next(step.next)
            }
            Activity::QueueTask(q) => {
                if let Some(p) = q.priority {
                    self.set_priority(p);
                }
                if self.task == TaskState::NotQueued {
                    self.task = TaskState::Queued;
                    self.position = None;
                    self.actions.push_back(Action::Queue {
                        priority: self.priority,
                    });
                }
                next(step.next)
            }
        };
        if matches!(flow, Flow::Stop) && self.end.is_none() {
            self.fail(format!("{} had nowhere to go", workflow.step_name(pc)));
        }
        flow
    }

    fn set_priority(&mut self, priority: Priority) {
        if self.priority != priority {
            self.priority = priority;
            if self.task != TaskState::NotQueued {
                self.actions.push_back(Action::SetPriority { priority });
            }
        }
    }

    /// The request of a Web Request step, with the task's parameters filled in and each
    /// encoded for where it goes: percent-encoded in the URL (a value that would make a
    /// path segment `.` or `..` is an error), without control characters in headers, and
    /// in a text body by its content type (percent-encoded for a form, escaped as in a
    /// JSON string for JSON, as it is for other types; a body without a content type is
    /// sent as `text/plain`).
    fn http_request(&self, w: &WebRequest) -> Result<HttpRequest, String> {
        let mut headers: Vec<(String, String)> = w
            .headers
            .iter()
            .map(|(k, t)| (k.clone(), t.render(&self.params, Escape::Header)))
            .collect();
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase());
        let body = match (&w.body, &w.json) {
            (Some(t), _) => {
                let escape = match content_type.as_deref().map(body_kind) {
                    Some(BodyKind::Form) => Escape::Url,
                    Some(BodyKind::Json) => Escape::JsonString,
                    Some(BodyKind::Other) => Escape::Plain,
                    None => {
                        headers.push(("Content-Type".into(), "text/plain; charset=utf-8".into()));
                        Escape::Plain
                    }
                };
                Some(t.render(&self.params, escape))
            }
            (None, Some(j)) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                Some(render_json(j, &self.params).to_string())
            }
            (None, None) => None,
        };
        Ok(HttpRequest {
            method: w.method,
            url: w.url.render_url(&self.params)?,
            headers,
            body,
            timeout: Duration::from_secs(w.timeout_secs.into()),
        })
    }

    fn on_web(&mut self, now: UnixMillis, pc: usize, answer: Option<(u16, String)>) {
        let workflow = self.workflow.clone();
        let step = &workflow.steps()[pc];
        let Activity::WebRequest(w) = &step.activity else {
            return;
        };
        let ok = match answer {
            None => false,
            Some((status, body)) => {
                if let Some(p) = &w.save_status_to {
                    self.params.insert(p.clone(), status.to_string());
                }
                if !(200..300).contains(&status) {
                    false
                } else if w.save.is_empty() {
                    true
                } else {
                    match serde_json::from_str::<serde_json::Value>(&body) {
                        Ok(json) => {
                            for (param, pointer) in &w.save {
                                match json_param(&json, pointer) {
                                    Some(v) => self.params.insert(param.clone(), v),
                                    None => self.params.remove(param),
                                };
                            }
                            true
                        }
                        Err(_) => false,
                    }
                }
            }
        };
        let to = if ok {
            Self::exit(step, w.on_success.as_ref())
        } else {
            Some(w.on_failure.index)
        };
        self.go(now, to);
    }

    fn on_agents(&mut self, now: UnixMillis, pc: usize, available: u32, busy: u32) {
        let workflow = self.workflow.clone();
        let step = &workflow.steps()[pc];
        let to = match &step.activity {
            Activity::AvailabilityRouting(AvailabilityRouting {
                min_available,
                on_available,
                on_busy,
                on_unavailable,
            }) => {
                if available >= *min_available {
                    Self::exit(step, on_available.as_ref())
                } else if available > 0 || busy > 0 {
                    Some(on_busy.as_ref().unwrap_or(on_unavailable).index)
                } else {
                    Some(on_unavailable.index)
                }
            }
            Activity::GetAvailableUsers(g) => {
                self.params.insert(g.save_to.clone(), available.to_string());
                if let Some(b) = &g.save_busy_to {
                    self.params.insert(b.clone(), busy.to_string());
                }
                step.next
            }
            _ => return,
        };
        self.go(now, to);
    }

    fn on_timer(&mut self, now: UnixMillis) {
        let Some(deadline) = self.deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        let workflow = self.workflow.clone();
        let to = match self.wait {
            Wait::Delay { step, .. } => workflow.steps()[step].next,
            Wait::Collect { step, .. } => {
                let s = &workflow.steps()[step];
                match &s.activity {
                    Activity::CollectInformation(c) => Self::exit(s, c.on_timeout.as_ref()),
                    _ => return,
                }
            }
            Wait::Input { step, .. } => {
                let s = &workflow.steps()[step];
                match &s.activity {
                    Activity::InputCustomer(c) => Self::exit(s, c.on_timeout.as_ref()),
                    _ => return,
                }
            }
            _ => return,
        };
        self.go(now, to);
    }

    fn on_visitor_message(&mut self, now: UnixMillis, text: &str) {
        let workflow = self.workflow.clone();
        match self.wait.clone() {
            Wait::Collect {
                step,
                question,
                tries,
                ..
            } => {
                let s = &workflow.steps()[step];
                let Activity::CollectInformation(c) = &s.activity else {
                    return;
                };
                let q = &c.questions[question];
                if let Some(value) = accept_answer(q.expect, text) {
                    self.params.insert(q.save_to.clone(), value);
                    if let Some(following) = c.questions.get(question + 1) {
                        let ask = following.ask.render(&self.params, Escape::Plain);
                        self.actions.push_back(Action::AskVisitor {
                            question: truncate(ask),
                        });
                        let deadline = self.timer(now, c.timeout_secs);
                        self.wait = Wait::Collect {
                            step,
                            question: question + 1,
                            tries: 0,
                            deadline,
                        };
                    } else {
                        self.go(now, s.next);
                    }
                } else if tries >= c.retries {
                    self.go(now, Self::exit(s, c.on_invalid.as_ref()));
                } else {
                    self.say(c.invalid_message.render(&self.params, Escape::Plain));
                    let ask = q.ask.render(&self.params, Escape::Plain);
                    self.actions.push_back(Action::AskVisitor {
                        question: truncate(ask),
                    });
                    let deadline = self.timer(now, c.timeout_secs);
                    self.wait = Wait::Collect {
                        step,
                        question,
                        tries: tries + 1,
                        deadline,
                    };
                }
            }
            Wait::Input { step, tries, .. } => {
                let s = &workflow.steps()[step];
                let Activity::InputCustomer(c) = &s.activity else {
                    return;
                };
                let answer = text.trim();
                let wanted = answer.to_lowercase();
                let choice = c
                    .choices
                    .iter()
                    .find(|ch| ch.answers.iter().any(|a| a.trim().to_lowercase() == wanted));
                if let Some(choice) = choice {
                    if let Some(p) = &c.save_to {
                        self.params.insert(p.clone(), truncate(answer.to_owned()));
                    }
                    self.go(now, Some(choice.next.index));
                } else if tries >= c.retries {
                    self.go(now, Self::exit(s, c.on_invalid.as_ref()));
                } else {
                    self.say(c.invalid_message.render(&self.params, Escape::Plain));
                    let ask = c.question.render(&self.params, Escape::Plain);
                    self.actions.push_back(Action::AskVisitor {
                        question: truncate(ask),
                    });
                    let deadline = self.timer(now, c.timeout_secs);
                    self.wait = Wait::Input {
                        step,
                        tries: tries + 1,
                        deadline,
                    };
                }
            }
            // Other messages go to the transcript (the agent reads them); the workflow
            // does not act on them.
            _ => {}
        }
    }
}

/// Cuts a text to the chat limit.
fn truncate(mut text: String) -> String {
    if let Some((i, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(i);
    }
    text
}

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
