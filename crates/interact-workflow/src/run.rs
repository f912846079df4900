//! The interpreter: one [`WorkflowRun`] per task, without IO.
//!
//! The run keeps the task's state (parameters, queue, priority, what it waits for, the
//! path) and walks the steps; what a step does is its activity's logic
//! ([`crate::activity`]), which sees the run through `Cx`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use interact_sdk::limits::MAX_TEXT_CHARS;
use interact_sdk::time::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::activity::{Method, Priority, Target};
use crate::definition::{Step, Workflow};
use crate::template::{Escape, Params, Template};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
///
/// Actions not carried out yet are part of the run's [`RunSnapshot`]: the driver stores
/// the snapshot before it carries them out, and a run resumed from it carries them out
/// again (so each action is carried out at least once; [`WorkflowRun::action_number`]
/// numbers them, so that the driver can make repeats harmless).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
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

/// A visitor's answer to a Collect Information question, as the run saved it to a
/// parameter: what the agent who takes the chat is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The parameter it was saved to (the question's `save_to`).
    pub name: String,
    /// The question as it was asked in the chat.
    pub question: String,
    /// The value saved (the answer as the question expects it: digits without spaces,
    /// say).
    pub value: String,
    /// When it came.
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

/// What a run waits for: the state of the step it waits at. Stored in snapshots by its
/// `kind`, so a variant is never renamed or reshaped; a new activity that waits uses one
/// of these or adds one. Deadlines are absolute (wall-clock), so that a resumed run
/// re-arms its timer for the same instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Wait {
    /// Before [`Input::Started`].
    NotStarted,
    /// A Delay step, for its timer.
    Delay { step: usize, deadline: UnixMillis },
    /// A Collect Information step, for the answer to a question.
    Collect {
        step: usize,
        /// The question asked (from 0).
        question: usize,
        /// Invalid answers to it so far.
        tries: u8,
        deadline: Option<UnixMillis>,
    },
    /// An Input Customer step, for the answer.
    Input {
        step: usize,
        /// Answers that matched no choice so far.
        tries: u8,
        deadline: Option<UnixMillis>,
    },
    /// A Web Request step, for the answer to its request.
    Web { step: usize },
    /// A step that asked for the service's agents ([`Action::QueryAgents`]).
    Agents { step: usize },
    /// The run ended.
    Finished,
}

impl Wait {
    /// The step the run waits at.
    fn step(&self) -> Option<usize> {
        match *self {
            Self::NotStarted | Self::Finished => None,
            Self::Delay { step, .. }
            | Self::Collect { step, .. }
            | Self::Input { step, .. }
            | Self::Web { step }
            | Self::Agents { step } => Some(step),
        }
    }

    /// The time it waits for, if any.
    fn deadline(&self) -> Option<UnixMillis> {
        match *self {
            Self::Delay { deadline, .. } => Some(deadline),
            Self::Collect { deadline, .. } | Self::Input { deadline, .. } => deadline,
            Self::NotStarted | Self::Web { .. } | Self::Agents { .. } | Self::Finished => None,
        }
    }
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
    /// The Collect Information answers saved so far, in order (absent in states stored
    /// before answers were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    answers: Vec<Answer>,
    /// The actions not carried out yet, in order, with their numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<Numbered>,
    /// How many actions the run has asked for (the last one's number).
    #[serde(default)]
    pub(crate) numbered: u64,
}

/// An action and its number in the run (from 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Numbered {
    n: u64,
    #[serde(flatten)]
    action: Action,
}

/// Why a snapshot cannot be resumed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot resume the workflow run: {0}")]
pub struct ResumeError(String);

/// Where a step's logic leads.
#[derive(Debug)]
pub(crate) enum Flow {
    /// Run this step next.
    Goto(usize),
    /// Wait for an input (or the run ended).
    Wait,
    /// Nowhere: the run ends as failed, unless the step ended it (cannot happen in a
    /// checked workflow, where every way on leads to a step).
    Stop,
}

impl Flow {
    /// To this step, or nowhere.
    pub(crate) fn to(step: Option<usize>) -> Self {
        step.map_or(Self::Stop, Self::Goto)
    }
}

/// What happens to the step the run waits at.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// The run was resumed from a snapshot; its queue entry and timer are set up again
    /// already.
    Resumed,
    /// The visitor wrote in the chat.
    VisitorMessage(&'a str),
    /// The run's timer fired, at or after its deadline.
    TimerFired,
    /// The answer to the step's HTTP request: status and body, `None` if it failed.
    WebAnswer(Option<(u16, String)>),
    /// The service's agents, as [`Input::AgentsAvailable`] reports them.
    Agents {
        /// Available now.
        available: u32,
        /// Signed in but not available.
        busy: u32,
    },
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
    answers: Vec<Answer>,
    actions: VecDeque<Numbered>,
    /// How many actions the run has asked for.
    numbered: u64,
    /// The number of the action [`poll_action`](Self::poll_action) handed out last.
    polled: u64,
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
            answers: Vec::new(),
            actions: VecDeque::new(),
            numbered: 0,
            polled: 0,
            end: None,
        }
    }

    /// The run's resumable state: everything but its workflow and an open offer,
    /// including the actions not polled yet. Store it after every input (before carrying
    /// out the input's actions, so that a crash in between loses none of them) and
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
            answers: self.answers.clone(),
            pending: self.actions.iter().cloned().collect(),
            numbered: self.numbered,
        }
    }

    /// The run of `workflow` (the one the snapshot was taken from: same steps) from
    /// `snapshot`, at `now`. Its first actions are the snapshot's actions that were not
    /// carried out (all of them again, in order and with the same numbers, but for a Web
    /// Request, a timer and an agent count, which the next ones set up again), then what
    /// a restart lost:
    ///
    /// - a queued (or offered: the offer is gone) task is queued again with its
    ///   priority ([`Action::Queue`]);
    /// - a timer it waits on is armed again for the same instant ([`Action::StartTimer`];
    ///   a deadline already past fires at once);
    /// - a Web Request in flight counts as failed (its `on_failure` exit runs);
    /// - an agent count it waits for is asked again ([`Action::QueryAgents`]).
    ///
    /// Refused if the snapshot does not fit the workflow (a step out of range or of
    /// another activity) or is of a run that ended and has nothing left to do.
    pub fn resume(
        workflow: Arc<Workflow>,
        snapshot: RunSnapshot,
        now: UnixMillis,
    ) -> Result<Self, ResumeError> {
        let steps = workflow.steps();
        let finished = matches!(snapshot.wait, Wait::Finished);
        let valid = match &snapshot.wait {
            Wait::NotStarted => true,
            // An end whose actions (Transfer, Disconnect, Done) may not all have been
            // carried out.
            Wait::Finished if !snapshot.pending.is_empty() => true,
            Wait::Finished => return Err(ResumeError("the run has ended".into())),
            wait => wait
                .step()
                .and_then(|step| steps.get(step))
                .is_some_and(|s| s.activity.behaviour().may_wait(wait)),
        } && snapshot.path.iter().all(|v| v.step < steps.len());
        if !valid {
            return Err(ResumeError(format!(
                "the state does not fit workflow {:?}",
                workflow.name()
            )));
        }
        // A Web Request's step fails it below and the timer and agent count are set up
        // again; the rest is carried out (again).
        let end = snapshot.pending.iter().find_map(|a| match &a.action {
            Action::Done { end } => Some(end.clone()),
            _ => None,
        });
        let pending = snapshot.pending.into_iter().filter(|a| {
            !matches!(
                a.action,
                Action::HttpRequest(_) | Action::StartTimer { .. } | Action::QueryAgents
            )
        });
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
            answers: snapshot.answers,
            actions: pending.collect(),
            numbered: snapshot.numbered,
            polled: 0,
            end,
        };
        if finished {
            return Ok(run);
        }
        if run.task != TaskState::NotQueued {
            run.task = TaskState::Queued;
            run.push(Action::Queue {
                priority: run.priority,
            });
        }
        if let Some(at) = run.deadline() {
            run.push(Action::StartTimer { at });
        }
        run.on_event(now, Event::Resumed);
        Ok(run)
    }

    /// The next thing to do, `None` when there is nothing until the next input.
    pub fn poll_action(&mut self) -> Option<Action> {
        let Numbered { n, action } = self.actions.pop_front()?;
        self.polled = n;
        Some(action)
    }

    /// The number of the action [`poll_action`](Self::poll_action) handed out last
    /// (actions are numbered from 1 over the run's whole life, resumes included; 0
    /// before the first). An action carried out again after a resume has the number it
    /// had the first time, so a driver can name what an action makes after it (a
    /// message id) and store it once.
    pub fn action_number(&self) -> u64 {
        self.polled
    }

    /// Asks the driver to do `action` (after those asked for before).
    fn push(&mut self, action: Action) {
        self.numbered += 1;
        self.actions.push_back(Numbered {
            n: self.numbered,
            action,
        });
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
        self.wait.deadline()
    }

    /// The steps visited so far, in order (a step in a loop appears each time).
    pub fn path(&self) -> &[Visit] {
        &self.path
    }

    /// The Collect Information answers saved so far, in the order they came (a question
    /// asked again in a loop appears each time).
    pub fn answers(&self) -> &[Answer] {
        &self.answers
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
            // Other messages go to the transcript (the agent reads them); only a step that
            // waits for the visitor acts on them.
            Input::VisitorMessage(text) => self.on_event(now, Event::VisitorMessage(&text)),
            Input::TimerFired => {
                if self.deadline().is_some_and(|deadline| now >= deadline) {
                    self.on_event(now, Event::TimerFired);
                }
            }
            Input::WebResponse { status, body } => {
                self.on_event(now, Event::WebAnswer(Some((status, body))));
            }
            Input::WebFailed => self.on_event(now, Event::WebAnswer(None)),
            Input::QueueUpdate { position } => {
                if self.task != TaskState::NotQueued {
                    self.position = Some(position);
                }
            }
            Input::AgentsAvailable { available, busy } => {
                self.on_event(now, Event::Agents { available, busy });
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
                self.push(Action::Disconnect {
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
        self.push(Action::Done { end: end.clone() });
        self.end = Some(end);
    }

    /// Puts the task in the queue with its priority (its last position forgotten).
    fn enqueue(&mut self) {
        self.task = TaskState::Queued;
        self.position = None;
        self.push(Action::Queue {
            priority: self.priority,
        });
    }

    fn leave_queue(&mut self) {
        if self.task != TaskState::NotQueued {
            self.push(Action::CancelQueue);
            self.task = TaskState::NotQueued;
            self.position = None;
        }
    }

    fn set_priority(&mut self, priority: Priority) {
        if self.priority != priority {
            self.priority = priority;
            if self.task != TaskState::NotQueued {
                self.push(Action::SetPriority { priority });
            }
        }
    }

    fn fail(&mut self, reason: String) {
        self.leave_queue();
        self.push(Action::Disconnect {
            outcome: Outcome::Failed,
        });
        self.finish(End::Failed { reason });
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

    /// Runs the step at `pc`: its activity's [`enter`](crate::activity::Behaviour::enter).
    fn exec(&mut self, pc: usize, now: UnixMillis) -> Flow {
        let workflow = Arc::clone(&self.workflow);
        let step = &workflow.steps()[pc];
        let flow = step.activity.behaviour().enter(&mut Cx {
            run: self,
            step,
            pc,
            now,
        });
        if matches!(flow, Flow::Stop) && self.end.is_none() {
            self.fail(format!("{} had nowhere to go", workflow.step_name(pc)));
        }
        flow
    }

    /// Hands `event` to the step the run waits at (its activity's
    /// [`on_event`](crate::activity::Behaviour::on_event)) and goes where it leads.
    fn on_event(&mut self, now: UnixMillis, event: Event<'_>) {
        let Some(pc) = self.wait.step() else {
            return;
        };
        let workflow = Arc::clone(&self.workflow);
        let step = &workflow.steps()[pc];
        let flow = step.activity.behaviour().on_event(
            &mut Cx {
                run: self,
                step,
                pc,
                now,
            },
            event,
        );
        match flow {
            Flow::Goto(next) => self.run(next, now),
            Flow::Wait => {}
            Flow::Stop => {
                if self.end.is_none() {
                    self.fail("a step had nowhere to go".into());
                }
            }
        }
    }
}

/// What a step's logic sees of its run: the step, the time of the input, and the run's
/// state through the methods below.
pub(crate) struct Cx<'a> {
    run: &'a mut WorkflowRun,
    step: &'a Step,
    pc: usize,
    now: UnixMillis,
}

impl Cx<'_> {
    /// The step's index.
    pub(crate) fn pc(&self) -> usize {
        self.pc
    }

    /// The time of the input.
    pub(crate) fn now(&self) -> UnixMillis {
        self.now
    }

    /// The task's parameters.
    pub(crate) fn params(&self) -> &Params {
        &self.run.params
    }

    /// The task's parameters, to change.
    pub(crate) fn params_mut(&mut self) -> &mut Params {
        &mut self.run.params
    }

    /// Keeps a Collect Information answer (saved to parameter `name`) for the agent.
    pub(crate) fn record_answer(&mut self, name: &str, question: String, value: &str) {
        self.run.answers.push(Answer {
            name: name.to_owned(),
            question,
            value: value.to_owned(),
            at: self.now,
        });
    }

    /// `text` with the task's parameters filled in as they are (for the chat).
    pub(crate) fn render(&self, text: &Template) -> String {
        text.render(&self.run.params, Escape::Plain)
    }

    /// Asks the driver to do `action`.
    pub(crate) fn push(&mut self, action: Action) {
        self.run.push(action);
    }

    /// Sends `text` to the visitor (cut to the chat limit; nothing if it is blank).
    pub(crate) fn say(&mut self, text: String) {
        let text = truncate(text);
        if !text.trim().is_empty() {
            self.push(Action::SendMessage { text });
        }
    }

    /// Asks the visitor `question` (cut to the chat limit).
    pub(crate) fn ask(&mut self, question: String) {
        self.push(Action::AskVisitor {
            question: truncate(question),
        });
    }

    /// Starts a timer of `secs` seconds, if given, and returns its deadline.
    pub(crate) fn timer(&mut self, secs: Option<u32>) -> Option<UnixMillis> {
        let at = UnixMillis(self.now.0.saturating_add(u64::from(secs?) * 1000));
        self.push(Action::StartTimer { at });
        Some(at)
    }

    /// What the run waits for.
    pub(crate) fn wait(&self) -> &Wait {
        &self.run.wait
    }

    /// Makes the run wait (the step returns [`Flow::Wait`]).
    pub(crate) fn set_wait(&mut self, wait: Wait) {
        self.run.wait = wait;
    }

    /// On to the step's `next` (the following step unless it says otherwise).
    pub(crate) fn next(&self) -> Flow {
        Flow::to(self.step.next)
    }

    /// Where an optional exit leads: its target, or the step's `next`.
    pub(crate) fn exit(&self, target: Option<&Target>) -> Option<usize> {
        target.map(|t| t.index).or(self.step.next)
    }

    /// Where the task stands in the queue.
    pub(crate) fn task(&self) -> TaskState {
        self.run.task
    }

    /// The task's last position in the queue, as the driver reported it.
    pub(crate) fn position(&self) -> Option<u32> {
        self.run.position
    }

    /// Puts the task in the queue ([`Action::Queue`]).
    pub(crate) fn enqueue(&mut self) {
        self.run.enqueue();
    }

    /// Takes the task out of the queue, if it is in it ([`Action::CancelQueue`]).
    pub(crate) fn leave_queue(&mut self) {
        self.run.leave_queue();
    }

    /// Sets the task's priority (changed in the queue at once if it is queued).
    pub(crate) fn set_priority(&mut self, priority: Priority) {
        self.run.set_priority(priority);
    }

    /// Whether the workflow took the chat (Accept).
    pub(crate) fn accepted(&self) -> bool {
        self.run.accepted
    }

    /// Notes that the workflow took the chat.
    pub(crate) fn set_accepted(&mut self) {
        self.run.accepted = true;
    }

    /// Ends the run (the step returns [`Flow::Stop`]).
    pub(crate) fn finish(&mut self, end: End) {
        self.run.finish(end);
    }
}

/// Cuts a text to the chat limit.
pub(crate) fn truncate(mut text: String) -> String {
    if let Some((i, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(i);
    }
    text
}
