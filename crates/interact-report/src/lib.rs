//! Reporting: one row per session (service sessions and direct user contacts alike),
//! listed and exported by the admin API (`GET /admin/v1/reports/sessions`) and the CLI
//! (`interact-server report sessions`).
//!
//! A report is derived when it is read, from what the session already stores: the
//! `sessions` row (target, creation time) and the lifecycle events of its log (`queued`,
//! `agent_joined`, `agent_left`, `transferred`, `ended`), read by
//! [`Lifecycle::from_events`]. A session transferred to another service or user is one
//! report with a leg per target ([`legs`]): each `transferred` event ends a leg. The event
//! append path writes nothing extra for reporting. What the log does not hold is written
//! apart, by the store's reporting part: when a session was first
//! offered to an agent (and how often), an outcome recorded explicitly by a workflow
//! (cancelled, failed, transferred to a service), and the workflow path.
//!
//! The outcome is decided in one place, [`outcome`].
//!
//! Times are Unix milliseconds everywhere (filters, JSON and CSV), like every other time of
//! the admin API.
//!
//! Usage metering per modality (chat sessions, messages in and out, audio, video and
//! screen-share minutes, WhatsApp messages, per UTC day) is the [`usage`] module, listed
//! by `GET /admin/v1/usage` and `interact-server report usage`.

use interact_sdk::ids::{AgentId, CallId, SessionId};
use interact_sdk::protocol::{
    CallMedia, CallSignal, EndReason, HangupReason, Party, QualitySummary, SessionEvent, TargetInfo,
};
use interact_sdk::time::UnixMillis;
use serde::{Deserialize, Serialize};

pub use interact_model::Outcome;
use interact_model::TargetRef;

pub use interact_model::Channel;

pub mod usage;
pub use usage::{
    Day, DayUsage, MessageCount, Minutes, USAGE_CSV_COLUMNS, Usage, UsageFilter, UsageQuery,
    UsageRow, usage_csv,
};

/// Rows a report returns unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 1_000;

/// Most rows one report returns.
pub const MAX_LIMIT: usize = 10_000;

/// Which sessions a report reads from the store. Every filter given narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Only service sessions, or only direct user contacts.
    pub kind: Option<TargetKind>,
    /// Only sessions for this service.
    pub service: Option<String>,
    /// Only direct contacts with this user.
    pub user: Option<String>,
    /// Only sessions of this channel.
    pub channel: Option<Channel>,
    /// Created at or after.
    pub from: Option<UnixMillis>,
    /// Created before.
    pub to: Option<UnixMillis>,
    /// Only sessions after this one in report order (`created_at`, then id): paging.
    pub after: Option<(UnixMillis, SessionId)>,
    /// At most this many.
    pub limit: usize,
}

/// The visitor's end-of-chat rating of a session (the widget's survey, `rate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Satisfaction {
    /// 1 (bad) to 5 (very good).
    pub score: u8,
    /// What the visitor wrote, if anything; plain text.
    pub comment: Option<String>,
}

/// A stored session with what its report is derived from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The session.
    pub id: SessionId,
    /// The service or user contacted.
    pub target: TargetRef,
    /// How the visitor came.
    pub channel: Channel,
    /// Creation time.
    pub created_at: UnixMillis,
    /// When it was first offered to an agent.
    pub offered_at: Option<UnixMillis>,
    /// How many offers were made.
    pub offers: u64,
    /// An outcome recorded explicitly (by a workflow).
    pub recorded_outcome: Option<Outcome>,
    /// Its lifecycle events in order (`queued`, `agent_joined`, `agent_left`, `ended`;
    /// others may be included and are ignored).
    pub events: Vec<(UnixMillis, SessionEvent)>,
    /// Its workflow path.
    pub workflow_path: Vec<String>,
    /// The visitor's rating, if they gave one.
    pub satisfaction: Option<Satisfaction>,
}

/// Whether a session was for a service or a direct contact with a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A service session.
    Service,
    /// A direct user contact (the vendor does not report these; we do, marked as such).
    User,
}

impl TargetKind {
    /// The name in filters, JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::User => "user",
        }
    }
}

/// The modality a session is reported with: the richest it reached (an answered video
/// call, else an answered audio call, else chat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Instant Messaging: every session starts as a chat.
    Chat,
    /// An audio call was answered.
    Audio,
    /// A video call was answered.
    Video,
}

impl Modality {
    /// The name in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }
}

/// How a call ended, for reporting. Decided by [`call_outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallOutcome {
    /// The agent accepted the call.
    Answered,
    /// The agent declined it (or was busy).
    Declined,
    /// Nobody answered: the caller gave up with `no_answer`, or the session ended or the
    /// agent left while it rang.
    Missed,
    /// The visitor hung up while it rang.
    Cancelled,
    /// Media failed (answered or not), or a reason this version does not know.
    Failed,
}

impl CallOutcome {
    /// The name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Declined => "declined",
            Self::Missed => "missed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }
}

/// The outcome of a call that ended; the first row that applies wins:
///
/// | # | The call | Outcome |
/// |---|----------|---------|
/// | 1 | was hung up with `failed` | failed |
/// | 2 | was accepted by the agent | answered |
/// | 3 | was hung up with `declined` or `busy`, or by the agent with `normal` | declined |
/// | 4 | was hung up with `no_answer`, or ended by the system (session ended, agent left) | missed |
/// | 5 | was hung up by the visitor with `normal` | cancelled |
/// | 6 | anything else (`not_allowed`, a reason this version does not know) | failed |
pub fn call_outcome(answered: bool, ended_by: Party, reason: Option<HangupReason>) -> CallOutcome {
    use HangupReason as R;
    match (reason, ended_by) {
        (Some(R::Failed), _) => CallOutcome::Failed,
        _ if answered => CallOutcome::Answered,
        (Some(R::Declined | R::Busy), _) | (Some(R::Normal), Party::Agent) => CallOutcome::Declined,
        (Some(R::NoAnswer), _) | (None, _) | (_, Party::System) => CallOutcome::Missed,
        (Some(R::Normal), Party::Visitor) => CallOutcome::Cancelled,
        _ => CallOutcome::Failed,
    }
}

/// One call of a session, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallReport {
    /// The call's id (the visitor's client made it).
    pub call: CallId,
    /// Audio or video, as the call was placed.
    pub media: CallMedia,
    /// Whether either side shared its screen.
    pub screen_share: bool,
    /// When the visitor called (it rang).
    pub started_at: UnixMillis,
    /// When the agent accepted.
    pub answered_at: Option<UnixMillis>,
    /// How long it rang: from `started_at` to `answered_at`, or to `ended_at` if nobody
    /// answered; none while it rings. (A call-first call was answered when its session
    /// was accepted: see the session's `ring_ms`.)
    pub ring_ms: Option<u64>,
    /// When it ended; none while it lasts.
    pub ended_at: Option<UnixMillis>,
    /// From `answered_at` to `ended_at`; none if not answered or still on.
    pub duration_ms: Option<u64>,
    /// Who hung up: `visitor`, `agent`, or `system` (the session ended or the agent left).
    pub ended_by: Option<Party>,
    /// The reason of the hang-up; none if the system ended it.
    pub hangup_reason: Option<HangupReason>,
    /// The outcome ([`call_outcome`]); none while it lasts.
    pub outcome: Option<CallOutcome>,
    /// Each side's summary of the call's quality: the last `quality` signal it sent.
    pub quality: CallQuality,
}

/// Each side's summary of a call's quality (protocol §10.4, `quality`): per figure
/// (round-trip time, jitter, loss, received bitrate and video size) the smallest, median
/// and largest value of the samples it took. None for a side that sent none (a call
/// never answered, a client without `getStats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallQuality {
    /// What the visitor measured.
    pub visitor: Option<QualitySummary>,
    /// What the agent measured.
    pub agent: Option<QualitySummary>,
}

impl CallReport {
    fn end(&mut self, at: UnixMillis, by: Party, reason: Option<HangupReason>) {
        if self.ended_at.is_some() {
            return;
        }
        self.ended_at = Some(at);
        self.duration_ms = self.answered_at.map(|a| at.0.saturating_sub(a.0));
        self.ring_ms
            .get_or_insert(at.0.saturating_sub(self.started_at.0));
        self.ended_by = Some(by);
        self.hangup_reason = reason;
        self.outcome = Some(call_outcome(self.answered_at.is_some(), by, reason));
    }
}

/// What a session's event log says about its course, for reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// The first `queued` event.
    pub queued_at: Option<UnixMillis>,
    /// The first `agent_joined` event.
    pub accepted_at: Option<UnixMillis>,
    /// The last agent who joined.
    pub agent: Option<AgentId>,
    /// Whether an agent was in the session at its end (or now, if it is open).
    pub agent_at_end: bool,
    /// Whether an agent joined after another had left (a transfer between agents).
    pub handed_over: bool,
    /// How many `transferred` events it has (an agent's or a workflow's transfers).
    pub transfers: u32,
    /// The `ended` event.
    pub ended: Option<(UnixMillis, EndReason)>,
    /// Its calls, in order.
    pub calls: Vec<CallReport>,
    /// Call-first: the medium the visitor started the session with.
    pub call_first: Option<CallMedia>,
}

impl Lifecycle {
    /// Reads a session's events in order (`(at, event)`); events that say nothing about
    /// the course of a session (messages, receipts, SDP and ICE of calls) are skipped.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = (UnixMillis, &'a SessionEvent)>,
    ) -> Self {
        let mut l = Self::default();
        let mut someone_left = false;
        for (at, event) in events {
            match event {
                SessionEvent::Started { call, .. } => l.call_first = *call,
                SessionEvent::Queued { .. } => {
                    l.queued_at.get_or_insert(at);
                }
                SessionEvent::AgentJoined { agent } => {
                    l.accepted_at.get_or_insert(at);
                    l.handed_over |= someone_left;
                    l.agent = Some(agent.id.clone());
                    l.agent_at_end = true;
                }
                SessionEvent::AgentLeft { .. } => {
                    someone_left = true;
                    l.agent_at_end = false;
                    l.end_open_call(at);
                }
                SessionEvent::Transferred { .. } => l.transfers += 1,
                SessionEvent::Ended { reason } => {
                    l.ended = Some((at, *reason));
                    l.end_open_call(at);
                }
                SessionEvent::Call { from, signal } => l.call_signal(at, *from, signal),
                _ => {}
            }
        }
        l
    }
}

impl Lifecycle {
    /// The call still on, if the last one is.
    fn open_call(&mut self, call: &CallId) -> Option<&mut CallReport> {
        self.calls
            .last_mut()
            .filter(|c| c.ended_at.is_none() && c.call == *call)
    }

    fn end_open_call(&mut self, at: UnixMillis) {
        if let Some(c) = self.calls.last_mut() {
            c.end(at, Party::System, None);
        }
    }

    fn call_signal(&mut self, at: UnixMillis, from: Party, signal: &CallSignal) {
        match signal {
            CallSignal::Start { call, media } => {
                // The relay allows one call at a time; a log that says otherwise ends the
                // last one first.
                self.end_open_call(at);
                self.calls.push(CallReport {
                    call: call.clone(),
                    media: *media,
                    screen_share: false,
                    started_at: at,
                    answered_at: None,
                    ring_ms: None,
                    ended_at: None,
                    duration_ms: None,
                    ended_by: None,
                    hangup_reason: None,
                    outcome: None,
                    quality: CallQuality::default(),
                });
            }
            CallSignal::Accept { call } => {
                if let Some(c) = self.open_call(call) {
                    c.answered_at.get_or_insert(at);
                    c.ring_ms.get_or_insert(at.0.saturating_sub(c.started_at.0));
                }
            }
            CallSignal::Media { call, state } if state.screen => {
                if let Some(c) = self.open_call(call) {
                    c.screen_share = true;
                }
            }
            CallSignal::Hangup { call, reason } => {
                if let Some(c) = self.open_call(call) {
                    c.end(at, from, Some(*reason));
                }
            }
            // Each summary covers the call so far, so the last one counts; it may come
            // shortly after the call ended.
            CallSignal::Quality { call, summary } => {
                if let Some(c) = self.calls.iter_mut().rev().find(|c| c.call == *call) {
                    match from {
                        Party::Visitor => c.quality.visitor = Some(*summary),
                        Party::Agent => c.quality.agent = Some(*summary),
                        Party::System => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// The reporting outcome of a session. This is the one place where it is decided; the
/// first row that applies wins:
///
/// | # | The session | Outcome |
/// |---|-------------|---------|
/// | 1 | has not ended | none (it is open) |
/// | 2 | has an outcome recorded by its workflow (Cancel Task, an invalid workflow, a transfer to a service) | that outcome |
/// | 3 | ended with `failed`, or a reason this version does not know (`other`) | failed |
/// | 4 | was transferred (a `transferred` event), or had an agent join after another agent left | transferred |
/// | 5 | had an agent with the visitor when it ended (any other reason) | handled |
/// | 6 | had no agent at its end and ended with `visitor_ended` or `idle_timeout` | abandoned |
/// | 7 | had no agent at its end and ended with `no_agent` | no_agent |
/// | 8 | had no agent at its end and ended with `closed` or `workflow` | cancelled |
/// | 9 | had no agent at its end and ended with `agent_ended` (an inconsistent log) | failed |
///
/// (An end reason added to the SDK later reaches row 9 unless it is added here.)
///
/// "No agent at its end" includes a session whose agent left and that nobody took over:
/// the visitor then waited again, so leaving is abandoning.
///
/// A transferred session is thus `transferred` as a whole, however its last target
/// finished it; how each target's part (leg) ended is in its [`legs`]: every leg but the
/// last is `transferred`, the last has the outcome this table gives for its own events.
pub fn outcome(lifecycle: &Lifecycle, recorded: Option<Outcome>) -> Option<Outcome> {
    let (_, reason) = lifecycle.ended?;
    if let Some(o) = recorded {
        return Some(o);
    }
    Some(match reason {
        EndReason::Failed | EndReason::Other => Outcome::Failed,
        _ if lifecycle.handed_over || lifecycle.transfers > 0 => Outcome::Transferred,
        _ if lifecycle.agent_at_end => Outcome::Handled,
        EndReason::VisitorEnded | EndReason::IdleTimeout => Outcome::Abandoned,
        EndReason::NoAgent => Outcome::NoAgent,
        EndReason::Closed | EndReason::Workflow => Outcome::Cancelled,
        // `agent_ended` without an agent, or a reason added to the SDK after this table.
        _ => Outcome::Failed,
    })
}

/// One leg of a session: its time with one target, from the session's start (or the
/// transfer that began the leg) to the next transfer (or the session's end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LegReport {
    /// Service or user.
    pub kind: TargetKind,
    /// The service's or user's id.
    pub target: String,
    /// When the leg began: the session's creation, or the transfer to this target.
    pub started_at: UnixMillis,
    /// When it first waited in this target's queue.
    pub queued_at: Option<UnixMillis>,
    /// When an agent of this leg first accepted it.
    pub accepted_at: Option<UnixMillis>,
    /// The last agent who joined during this leg.
    pub agent: Option<AgentId>,
    /// When it ended: the next transfer, or the session's end; none while it lasts.
    pub ended_at: Option<UnixMillis>,
    /// `transferred` for a leg a transfer ended; for the last leg the outcome of
    /// [`outcome`]'s table applied to its own events (an outcome recorded by a workflow
    /// counts, except a recorded transfer, which belongs to an earlier leg); none while
    /// it lasts.
    pub outcome: Option<Outcome>,
}

/// The legs of a session for `target` (its target now) created at `created_at`, from its
/// events (`(at, event)`, in order) and the outcome its workflow recorded: one leg per
/// target, split at each `transferred` event. The first leg's target is the first
/// transfer's `from` (`target` if it was never transferred), each later one's the
/// previous transfer's `to`.
pub fn legs(
    target: &TargetRef,
    created_at: UnixMillis,
    events: &[(UnixMillis, SessionEvent)],
    recorded: Option<Outcome>,
) -> Vec<LegReport> {
    let kind_of = |t: &TargetRef| match t {
        TargetRef::Service(id) => (TargetKind::Service, id.to_string()),
        TargetRef::User(id) => (TargetKind::User, id.to_string()),
    };
    let info = |t: &TargetInfo| {
        let kind = match t.kind {
            interact_sdk::config::TargetKind::Service => TargetKind::Service,
            interact_sdk::config::TargetKind::User => TargetKind::User,
        };
        (kind, t.id.to_string())
    };
    // Where each leg after the first begins: the index of its `transferred` event and of
    // its first own event, when, and its target.
    let mut starts = Vec::new();
    let mut first = kind_of(target);
    for (i, (at, event)) in events.iter().enumerate() {
        if let SessionEvent::Transferred { from, to, .. } = event {
            if starts.is_empty() {
                first = info(from);
            }
            // The next leg begins after the transfer and the `agent_left` of the agent
            // who made it (which ends this leg).
            let mut begin = i + 1;
            while let Some((_, SessionEvent::AgentLeft { .. })) = events.get(begin) {
                begin += 1;
            }
            starts.push((i, begin, *at, info(to)));
        }
    }
    let mut bounds = vec![(0, 0, created_at, first)];
    bounds.extend(starts);
    let transferred = bounds.len() > 1;
    let mut out = Vec::with_capacity(bounds.len());
    for (n, (_, begin, started_at, (kind, target))) in bounds.iter().cloned().enumerate() {
        let next = bounds.get(n + 1);
        // A leg's events end before the `transferred` event that ends it.
        let end = next.map_or(events.len(), |b| b.0).max(begin);
        let life = Lifecycle::from_events(events[begin..end].iter().map(|(at, e)| (*at, e)));
        let (ended_at, outcome) = match next {
            Some((_, _, at, _)) => (Some(*at), Some(Outcome::Transferred)),
            None => {
                let recorded = recorded.filter(|o| !transferred || *o != Outcome::Transferred);
                (life.ended.map(|(at, _)| at), outcome(&life, recorded))
            }
        };
        out.push(LegReport {
            kind,
            target,
            started_at,
            queued_at: life.queued_at,
            accepted_at: life.accepted_at,
            agent: life.agent,
            ended_at,
            outcome,
        });
    }
    out
}

/// One session as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionReport {
    /// The session.
    pub session: SessionId,
    /// Service session or direct user contact.
    pub kind: TargetKind,
    /// The service's or user's id: the one it was for last (after its transfers; the
    /// first target is its first leg's).
    pub target: String,
    /// How the visitor came: `widget`, `whatsapp`.
    pub channel: Channel,
    /// The richest modality the session reached: `video` or `audio` if such a call was
    /// answered (or the session started as such a call), else `chat`.
    pub modality: Modality,
    /// Call-first: `audio` or `video` if the visitor started the session with a call
    /// (then routed as a call task); none for a chat.
    pub call_first: Option<CallMedia>,
    /// When the visitor started the session.
    pub created_at: UnixMillis,
    /// When it first waited in the queue.
    pub queued_at: Option<UnixMillis>,
    /// When it was first offered to an agent.
    pub offered_at: Option<UnixMillis>,
    /// When an agent first accepted it.
    pub accepted_at: Option<UnixMillis>,
    /// When it ended.
    pub ended_at: Option<UnixMillis>,
    /// From `queued_at` (or `created_at` if never queued) to `accepted_at`, or to
    /// `ended_at` if no agent accepted; none while it still waits.
    pub wait_ms: Option<u64>,
    /// From `accepted_at` to `ended_at`; none if no agent accepted or it is open.
    pub handling_ms: Option<u64>,
    /// How long it rang at agents before one accepted: from `offered_at` to
    /// `accepted_at`; none if never offered or not accepted. For a call-first session
    /// this is the call's ring time.
    pub ring_ms: Option<u64>,
    /// Talk time: the sum of the answered calls' `duration_ms` (ended calls only).
    pub talk_ms: u64,
    /// The last agent who joined.
    pub agent: Option<AgentId>,
    /// How many times it was offered to an agent (declined and timed-out offers too).
    pub offers: u64,
    /// The reason in its `ended` event.
    pub end_reason: Option<EndReason>,
    /// The outcome ([`outcome`]); none while it is open.
    pub outcome: Option<Outcome>,
    /// The labels of the workflow steps it went through; empty without a workflow.
    pub workflow_path: Vec<String>,
    /// Its calls, in order (answered or not).
    pub calls: Vec<CallReport>,
    /// How many times it was transferred to another service or user.
    pub transfers: u32,
    /// Its legs ([`legs`]): one per target, the first from its start; a single leg if it
    /// was never transferred.
    pub legs: Vec<LegReport>,
    /// The visitor's end-of-chat rating, if they gave one.
    pub satisfaction: Option<Satisfaction>,
}

impl SessionReport {
    /// The report of one stored session.
    pub fn new(row: ReportRow) -> Self {
        let lifecycle = Lifecycle::from_events(row.events.iter().map(|(at, e)| (*at, e)));
        let outcome = outcome(&lifecycle, row.recorded_outcome);
        let legs = legs(
            &row.target,
            row.created_at,
            &row.events,
            row.recorded_outcome,
        );
        let ended_at = lifecycle.ended.map(|(at, _)| at);
        let waited_from = lifecycle.queued_at.unwrap_or(row.created_at);
        let since = |from: UnixMillis, to: UnixMillis| to.0.saturating_sub(from.0);
        let wait_ms = lifecycle
            .accepted_at
            .or(ended_at)
            .map(|to| since(waited_from, to));
        let handling_ms = match (lifecycle.accepted_at, ended_at) {
            (Some(from), Some(to)) => Some(since(from, to)),
            _ => None,
        };
        let (kind, target) = match row.target {
            TargetRef::Service(id) => (TargetKind::Service, id.to_string()),
            TargetRef::User(id) => (TargetKind::User, id.to_string()),
        };
        let of = |media: CallMedia| match media {
            CallMedia::Audio => Modality::Audio,
            CallMedia::Video => Modality::Video,
        };
        let modality = lifecycle
            .calls
            .iter()
            .filter(|c| c.answered_at.is_some())
            .map(|c| of(c.media))
            .chain(lifecycle.call_first.map(of))
            .max()
            .unwrap_or(Modality::Chat);
        let ring_ms = match (row.offered_at, lifecycle.accepted_at) {
            (Some(from), Some(to)) => Some(since(from, to)),
            _ => None,
        };
        let talk_ms = lifecycle.calls.iter().filter_map(|c| c.duration_ms).sum();
        Self {
            session: row.id,
            kind,
            target,
            channel: row.channel,
            modality,
            call_first: lifecycle.call_first,
            created_at: row.created_at,
            queued_at: lifecycle.queued_at,
            offered_at: row.offered_at,
            accepted_at: lifecycle.accepted_at,
            ended_at,
            wait_ms,
            handling_ms,
            ring_ms,
            talk_ms,
            agent: lifecycle.agent,
            offers: row.offers,
            end_reason: lifecycle.ended.map(|(_, r)| r),
            outcome,
            workflow_path: row.workflow_path,
            calls: lifecycle.calls,
            transfers: lifecycle.transfers,
            legs,
            satisfaction: row.satisfaction,
        }
    }
}

/// The output format of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of objects.
    #[default]
    Json,
    /// CSV (RFC 4180) with a header row.
    Csv,
}

/// Which sessions a report lists. Every filter given narrows the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFilter {
    /// Only service sessions, or only direct user contacts.
    pub kind: Option<TargetKind>,
    /// Only sessions for this service.
    pub service: Option<String>,
    /// Only direct contacts with this user.
    pub user: Option<String>,
    /// Only sessions of this channel (`widget`, `whatsapp`).
    pub channel: Option<Channel>,
    /// Only these outcomes (any of them); empty means every session, open ones too.
    pub outcomes: Vec<Outcome>,
    /// Created at or after (Unix ms).
    pub from: Option<UnixMillis>,
    /// Created before (Unix ms).
    pub to: Option<UnixMillis>,
    /// At most this many rows, oldest first.
    pub limit: usize,
    /// JSON or CSV.
    pub format: Format,
}

impl Default for ReportFilter {
    fn default() -> Self {
        Self {
            kind: None,
            service: None,
            user: None,
            channel: None,
            outcomes: Vec::new(),
            from: None,
            to: None,
            limit: DEFAULT_LIMIT,
            format: Format::Json,
        }
    }
}

/// A report parameter is wrong; `parameter` names it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct FilterError {
    /// The parameter.
    pub parameter: String,
    /// What is wrong with it.
    pub message: String,
}

impl ReportFilter {
    /// Reads the parameters of `GET /admin/v1/reports/sessions` (`service`, `user`,
    /// `kind`, `outcome`, `from`, `to`, `limit`, `format`). Empty values count as absent;
    /// unknown and repeated parameters are refused.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, FilterError> {
        let err = |parameter: &str, message: String| FilterError {
            parameter: parameter.to_owned(),
            message,
        };
        let millis = |name: &str, v: &str| {
            v.parse::<u64>()
                .ok()
                .filter(|n| i64::try_from(*n).is_ok())
                .map(UnixMillis)
                .ok_or_else(|| err(name, format!("{v:?} is not a time in Unix milliseconds")))
        };
        let mut f = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name) {
                return Err(err(name, "given more than once".into()));
            }
            seen.push(name);
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name {
                "service" => f.service = Some(value.to_owned()),
                "user" => f.user = Some(value.to_owned()),
                "channel" => f.channel = Some(value.parse().map_err(|m| err(name, m))?),
                "kind" => {
                    f.kind = Some(match value {
                        "service" => TargetKind::Service,
                        "user" => TargetKind::User,
                        _ => return Err(err(name, format!("{value:?} is not service or user"))),
                    });
                }
                "outcome" => {
                    for o in value.split(',') {
                        let o = o.trim().parse::<Outcome>().map_err(|m| err(name, m))?;
                        if !f.outcomes.contains(&o) {
                            f.outcomes.push(o);
                        }
                    }
                }
                "from" => f.from = Some(millis(name, value)?),
                "to" => f.to = Some(millis(name, value)?),
                "limit" => {
                    f.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            err(
                                name,
                                format!("{value:?} is not a number from 1 to {MAX_LIMIT}"),
                            )
                        })?;
                }
                "format" => {
                    f.format = match value {
                        "json" => Format::Json,
                        "csv" => Format::Csv,
                        _ => return Err(err(name, format!("{value:?} is not json or csv"))),
                    };
                }
                _ => return Err(err(name, "unknown parameter".into())),
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to)
            && to <= from
        {
            return Err(err("to", "must be later than from".into()));
        }
        Ok(f)
    }

    /// The store query of this filter (without paging and limit: the caller pages).
    pub fn query(&self) -> ReportQuery {
        ReportQuery {
            kind: self.kind,
            service: self.service.clone(),
            user: self.user.clone(),
            channel: self.channel,
            from: self.from,
            to: self.to,
            after: None,
            limit: 0,
        }
    }
}

/// The CSV columns, in order: the JSON fields, with `workflow_path` joined by `" > "`,
/// and for `calls` their number and the sum of their `duration_ms` (`call_ms`, the same
/// as `talk_ms`; 0 if none was answered or none has ended); `call_first`, `ring_ms` and
/// `transfers` come last (added after the others; the `legs` are in the JSON only).
pub const CSV_COLUMNS: [&str; 24] = [
    "session",
    "kind",
    "target",
    "channel",
    "modality",
    "created_at",
    "queued_at",
    "offered_at",
    "accepted_at",
    "ended_at",
    "wait_ms",
    "handling_ms",
    "agent",
    "offers",
    "end_reason",
    "outcome",
    "workflow_path",
    "calls",
    "call_ms",
    "call_first",
    "ring_ms",
    "transfers",
    "satisfaction_score",
    "satisfaction_comment",
];

/// The report as CSV (RFC 4180: a header row, CRLF line ends, fields with a comma, quote
/// or line break quoted, quotes doubled). A cell that a spreadsheet would read as a
/// formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed
/// with `'`.
pub fn to_csv(reports: &[SessionReport]) -> String {
    let mut out = String::with_capacity(128 * (reports.len() + 1));
    write_row(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    let opt = |v: Option<UnixMillis>| v.map(|t| t.0.to_string()).unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    for r in reports {
        let end_reason = r
            .end_reason
            .and_then(|e| serde_json::to_value(e).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        write_row(
            &mut out,
            [
                r.session.as_str().to_owned(),
                r.kind.as_str().to_owned(),
                r.target.clone(),
                r.channel.as_str().to_owned(),
                r.modality.as_str().to_owned(),
                r.created_at.0.to_string(),
                opt(r.queued_at),
                opt(r.offered_at),
                opt(r.accepted_at),
                opt(r.ended_at),
                num(r.wait_ms),
                num(r.handling_ms),
                r.agent
                    .as_ref()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                r.offers.to_string(),
                end_reason,
                r.outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
                r.workflow_path.join(" > "),
                r.calls.len().to_string(),
                r.talk_ms.to_string(),
                r.call_first
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default(),
                num(r.ring_ms),
                r.transfers.to_string(),
                r.satisfaction
                    .as_ref()
                    .map(|s| s.score.to_string())
                    .unwrap_or_default(),
                r.satisfaction
                    .as_ref()
                    .and_then(|s| s.comment.clone())
                    .unwrap_or_default(),
            ],
        );
    }
    out
}

fn write_row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, &cell);
    }
    out.push_str("\r\n");
}

/// One CSV field, protected against formula injection and quoted as RFC 4180 asks.
fn csv_cell(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use interact_sdk::protocol::AgentInfo;

    use super::*;

    fn agent(id: &str) -> AgentInfo {
        AgentInfo {
            id: AgentId::new(id).expect("valid"),
            display_name: id.to_uppercase(),
        }
    }

    fn joined(id: &str) -> SessionEvent {
        SessionEvent::AgentJoined { agent: agent(id) }
    }

    fn left(id: &str) -> SessionEvent {
        SessionEvent::AgentLeft { agent: agent(id) }
    }

    fn ended(reason: EndReason) -> SessionEvent {
        SessionEvent::Ended { reason }
    }

    const QUEUED: SessionEvent = SessionEvent::Queued { position: 1 };

    /// The lifecycle of events at 1000, 2000, 3000, ... ms.
    fn life(events: &[SessionEvent]) -> Lifecycle {
        Lifecycle::from_events(
            events
                .iter()
                .enumerate()
                .map(|(n, e)| (UnixMillis(1000 * (n as u64 + 1)), e)),
        )
    }

    fn out(events: &[SessionEvent]) -> Option<Outcome> {
        outcome(&life(events), None)
    }

    #[test]
    fn lifecycle_reads_first_queue_first_accept_and_last_agent() {
        let l = life(&[
            QUEUED,
            SessionEvent::Queued { position: 2 },
            joined("alex"),
            left("alex"),
            joined("sam"),
            ended(EndReason::AgentEnded),
        ]);
        assert_eq!(l.queued_at, Some(UnixMillis(1000)));
        assert_eq!(l.accepted_at, Some(UnixMillis(3000)));
        assert_eq!(l.agent.as_ref().map(AgentId::as_str), Some("sam"));
        assert!(l.agent_at_end && l.handed_over);
        assert_eq!(l.ended, Some((UnixMillis(6000), EndReason::AgentEnded)));
        assert_eq!(life(&[]), Lifecycle::default());
    }

    #[test]
    fn row_1_an_open_session_has_no_outcome() {
        assert_eq!(out(&[QUEUED, joined("alex")]), None);
        assert_eq!(outcome(&life(&[QUEUED]), Some(Outcome::Cancelled)), None);
    }

    #[test]
    fn row_2_a_recorded_outcome_wins() {
        let l = life(&[QUEUED, joined("alex"), ended(EndReason::Workflow)]);
        for o in Outcome::ALL {
            assert_eq!(outcome(&l, Some(o)), Some(o));
        }
        let l = life(&[QUEUED, ended(EndReason::Workflow)]);
        assert_eq!(outcome(&l, Some(Outcome::Failed)), Some(Outcome::Failed));
    }

    #[test]
    fn row_3_failed_and_unknown_reasons_are_failed() {
        for reason in [EndReason::Failed, EndReason::Other] {
            assert_eq!(out(&[ended(reason)]), Some(Outcome::Failed));
            assert_eq!(
                out(&[QUEUED, joined("alex"), ended(reason)]),
                Some(Outcome::Failed)
            );
            assert_eq!(
                out(&[joined("alex"), left("alex"), joined("sam"), ended(reason)]),
                Some(Outcome::Failed)
            );
        }
    }

    #[test]
    fn row_4_an_agent_after_another_is_transferred() {
        for reason in [
            EndReason::VisitorEnded,
            EndReason::AgentEnded,
            EndReason::IdleTimeout,
        ] {
            let events = [
                QUEUED,
                joined("alex"),
                left("alex"),
                joined("sam"),
                ended(reason),
            ];
            assert_eq!(out(&events), Some(Outcome::Transferred));
        }
        // The second agent left too, and the visitor gave up: still a transfer.
        let events = [
            joined("alex"),
            left("alex"),
            joined("sam"),
            left("sam"),
            ended(EndReason::VisitorEnded),
        ];
        assert_eq!(out(&events), Some(Outcome::Transferred));
    }

    #[test]
    fn row_5_an_agent_at_the_end_is_handled() {
        for reason in [
            EndReason::VisitorEnded,
            EndReason::AgentEnded,
            EndReason::IdleTimeout,
            EndReason::Workflow,
            EndReason::Closed,
            EndReason::NoAgent,
        ] {
            assert_eq!(
                out(&[QUEUED, joined("alex"), ended(reason)]),
                Some(Outcome::Handled),
                "{reason:?}"
            );
        }
        // A direct contact that never queued.
        assert_eq!(
            out(&[joined("alex"), ended(EndReason::VisitorEnded)]),
            Some(Outcome::Handled)
        );
    }

    #[test]
    fn row_6_the_visitor_leaving_without_an_agent_is_abandoned() {
        for reason in [EndReason::VisitorEnded, EndReason::IdleTimeout] {
            assert_eq!(out(&[QUEUED, ended(reason)]), Some(Outcome::Abandoned));
            assert_eq!(out(&[ended(reason)]), Some(Outcome::Abandoned));
            // The agent left and nobody took over.
            assert_eq!(
                out(&[QUEUED, joined("alex"), left("alex"), QUEUED, ended(reason)]),
                Some(Outcome::Abandoned)
            );
        }
    }

    #[test]
    fn row_7_no_agent() {
        assert_eq!(
            out(&[QUEUED, ended(EndReason::NoAgent)]),
            Some(Outcome::NoAgent)
        );
        assert_eq!(
            out(&[joined("alex"), left("alex"), ended(EndReason::NoAgent)]),
            Some(Outcome::NoAgent)
        );
    }

    #[test]
    fn row_8_the_system_ending_before_an_agent_is_cancelled() {
        for reason in [EndReason::Closed, EndReason::Workflow] {
            assert_eq!(out(&[ended(reason)]), Some(Outcome::Cancelled));
            assert_eq!(out(&[QUEUED, ended(reason)]), Some(Outcome::Cancelled));
        }
    }

    #[test]
    fn row_9_an_agent_ending_without_an_agent_is_failed() {
        assert_eq!(
            out(&[QUEUED, ended(EndReason::AgentEnded)]),
            Some(Outcome::Failed)
        );
    }

    #[test]
    fn every_outcome_is_reachable_from_the_log_or_a_recording() {
        let mut seen: Vec<Outcome> = [
            out(&[joined("a"), ended(EndReason::AgentEnded)]),
            out(&[ended(EndReason::Failed)]),
            out(&[ended(EndReason::VisitorEnded)]),
            out(&[ended(EndReason::Closed)]),
            out(&[
                joined("a"),
                left("a"),
                joined("b"),
                ended(EndReason::AgentEnded),
            ]),
            out(&[ended(EndReason::NoAgent)]),
        ]
        .into_iter()
        .flatten()
        .collect();
        seen.dedup();
        assert_eq!(seen, Outcome::ALL);
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(serde_json::to_value(o).expect("json"), o.as_str());
        }
    }

    fn row(target: TargetRef, events: &[SessionEvent]) -> ReportRow {
        ReportRow {
            id: SessionId::new("s1").expect("valid"),
            target,
            channel: Channel::Widget,
            created_at: UnixMillis(500),
            offered_at: None,
            offers: 0,
            recorded_outcome: None,
            events: events
                .iter()
                .enumerate()
                .map(|(n, e)| (UnixMillis(1000 * (n as u64 + 1)), e.clone()))
                .collect(),
            workflow_path: Vec::new(),
            satisfaction: None,
        }
    }

    #[test]
    fn a_call_first_session_reports_its_medium_ring_and_talk_time() {
        let started = SessionEvent::Started {
            context: None,
            visitor: interact_sdk::protocol::VisitorInfo {
                display_name: "Cora".into(),
                email: "cora@example.com".into(),
                channel: None,
                phone: None,
                verified_id: None,
            },
            consent: interact_sdk::protocol::Consent {
                policy_version: "2024-05".into(),
                at: UnixMillis(500),
            },
            target: interact_sdk::config::Target {
                kind: interact_sdk::config::TargetKind::Service,
                display_name: "Customer Care".into(),
            },
            call: Some(CallMedia::Video),
        };
        // Never answered: still a video session, with no talk time.
        let mut row = row(TargetRef::Service("support".into()), &[]);
        row.events = vec![
            (UnixMillis(500), started.clone()),
            (UnixMillis(1000), QUEUED),
            (UnixMillis(9000), ended(EndReason::VisitorEnded)),
        ];
        let r = SessionReport::new(row.clone());
        assert_eq!(
            (r.modality, r.call_first),
            (Modality::Video, Some(CallMedia::Video))
        );
        assert_eq!((r.ring_ms, r.talk_ms), (None, 0));
        // Rung at 2000 (the offer), accepted at 4500, called at 5000, answered at 5200 by
        // the console, hung up at 65200: 2.5 s of ringing, a minute of talk.
        row.offered_at = Some(UnixMillis(2000));
        row.events = vec![
            (UnixMillis(500), started),
            (UnixMillis(1000), QUEUED),
            (UnixMillis(4500), joined("alex")),
            (UnixMillis(5000), start(1, CallMedia::Video)),
            (UnixMillis(5200), accept(1)),
            (
                UnixMillis(65200),
                hangup(1, Party::Visitor, HangupReason::Normal),
            ),
            (UnixMillis(70000), ended(EndReason::VisitorEnded)),
        ];
        let r = SessionReport::new(row);
        assert_eq!((r.ring_ms, r.talk_ms), (Some(2500), 60_000));
        assert_eq!(r.calls[0].ended_by, Some(Party::Visitor));
        let csv = to_csv(&[r]);
        assert!(csv.trim_end().ends_with(",video,2500,0,,"), "{csv}");
    }

    #[test]
    fn wait_and_handling_times() {
        // Queued at 1000, accepted at 2000, ended at 3000.
        let service = TargetRef::Service("support".into());
        let r = SessionReport::new(row(
            service.clone(),
            &[QUEUED, joined("alex"), ended(EndReason::AgentEnded)],
        ));
        assert_eq!((r.wait_ms, r.handling_ms), (Some(1000), Some(1000)));
        assert_eq!(
            (r.kind, r.target.as_str()),
            (TargetKind::Service, "support")
        );
        assert_eq!((r.channel, r.modality), (Channel::Widget, Modality::Chat));
        // Never accepted: waited until the end.
        let r = SessionReport::new(row(
            service.clone(),
            &[QUEUED, QUEUED, ended(EndReason::VisitorEnded)],
        ));
        assert_eq!((r.wait_ms, r.handling_ms), (Some(2000), None));
        assert_eq!(r.outcome, Some(Outcome::Abandoned));
        // Never queued: waited from creation (500).
        let r = SessionReport::new(row(
            TargetRef::User("alex".into()),
            &[joined("alex"), ended(EndReason::VisitorEnded)],
        ));
        assert_eq!((r.wait_ms, r.handling_ms), (Some(500), Some(1000)));
        assert_eq!(r.kind, TargetKind::User);
        // Still waiting.
        let r = SessionReport::new(row(service, &[QUEUED]));
        assert_eq!((r.wait_ms, r.handling_ms, r.outcome), (None, None, None));
    }

    fn call_id(n: u32) -> CallId {
        CallId::new(format!("c{n}")).expect("valid")
    }

    fn start(n: u32, media: CallMedia) -> SessionEvent {
        SessionEvent::Call {
            from: Party::Visitor,
            signal: CallSignal::Start {
                call: call_id(n),
                media,
            },
        }
    }

    fn accept(n: u32) -> SessionEvent {
        SessionEvent::Call {
            from: Party::Agent,
            signal: CallSignal::Accept { call: call_id(n) },
        }
    }

    fn hangup(n: u32, from: Party, reason: HangupReason) -> SessionEvent {
        SessionEvent::Call {
            from,
            signal: CallSignal::Hangup {
                call: call_id(n),
                reason,
            },
        }
    }

    fn screen(n: u32, on: bool) -> SessionEvent {
        SessionEvent::Call {
            from: Party::Agent,
            signal: CallSignal::Media {
                call: call_id(n),
                state: interact_sdk::protocol::MediaState {
                    muted: false,
                    camera: false,
                    screen: on,
                },
            },
        }
    }

    #[test]
    fn calls_are_read_from_the_log_with_times_who_hung_up_and_screen_sharing() {
        // At 1000, 2000, ...: joined, start, accept, screen on, screen off, hangup by
        // the agent; a second call declined; a third ringing when the session ends.
        let l = life(&[
            joined("alex"),
            start(1, CallMedia::Video),
            accept(1),
            screen(1, true),
            screen(1, false),
            hangup(1, Party::Agent, HangupReason::Normal),
            start(2, CallMedia::Audio),
            hangup(2, Party::Agent, HangupReason::Declined),
            // A late hang-up of a call that is over changes nothing.
            hangup(1, Party::Visitor, HangupReason::Failed),
            start(3, CallMedia::Audio),
            ended(EndReason::VisitorEnded),
        ]);
        assert_eq!(l.calls.len(), 3);
        assert_eq!(
            l.calls[0],
            CallReport {
                call: call_id(1),
                media: CallMedia::Video,
                screen_share: true,
                started_at: UnixMillis(2000),
                answered_at: Some(UnixMillis(3000)),
                ring_ms: Some(1000),
                ended_at: Some(UnixMillis(6000)),
                duration_ms: Some(3000),
                ended_by: Some(Party::Agent),
                hangup_reason: Some(HangupReason::Normal),
                outcome: Some(CallOutcome::Answered),
                quality: CallQuality::default(),
            }
        );
        let c = &l.calls[1];
        assert_eq!(
            (c.media, c.screen_share, c.answered_at, c.duration_ms),
            (CallMedia::Audio, false, None, None)
        );
        assert_eq!(c.outcome, Some(CallOutcome::Declined));
        let c = &l.calls[2];
        assert_eq!(
            (c.ended_at, c.ended_by, c.hangup_reason, c.outcome),
            (
                Some(UnixMillis(11_000)),
                Some(Party::System),
                None,
                Some(CallOutcome::Missed)
            )
        );
        // A call on when the agent leaves ends then, by the system; one still on has no
        // end and no outcome.
        let l = life(&[
            joined("alex"),
            start(1, CallMedia::Audio),
            accept(1),
            left("alex"),
        ]);
        let c = &l.calls[0];
        assert_eq!(
            (c.ended_at, c.duration_ms, c.ended_by, c.outcome),
            (
                Some(UnixMillis(4000)),
                Some(1000),
                Some(Party::System),
                Some(CallOutcome::Answered)
            )
        );
        let l = life(&[joined("alex"), start(1, CallMedia::Audio), accept(1)]);
        assert_eq!((l.calls[0].ended_at, l.calls[0].outcome), (None, None));
    }

    fn quality(n: u32, from: Party, samples: u32) -> SessionEvent {
        SessionEvent::Call {
            from,
            signal: CallSignal::Quality {
                call: call_id(n),
                summary: QualitySummary {
                    samples,
                    ..Default::default()
                },
            },
        }
    }

    #[test]
    fn each_side_s_last_quality_summary_is_reported() {
        let l = life(&[
            joined("alex"),
            start(1, CallMedia::Video),
            accept(1),
            quality(1, Party::Visitor, 15),
            quality(1, Party::Agent, 14),
            quality(1, Party::Agent, 29),
            hangup(1, Party::Agent, HangupReason::Normal),
            // Final summaries come after the hang-up; one for an unknown call is ignored.
            quality(1, Party::Visitor, 31),
            quality(7, Party::Visitor, 99),
            start(2, CallMedia::Audio),
            quality(1, Party::Agent, 30),
        ]);
        let samples = |q: Option<QualitySummary>| q.map(|q| q.samples);
        let q = l.calls[0].quality;
        assert_eq!((samples(q.visitor), samples(q.agent)), (Some(31), Some(30)));
        assert_eq!(l.calls[1].quality, CallQuality::default());
        let json = serde_json::to_value(&l.calls[0]).expect("serialises");
        assert_eq!(json["quality"]["visitor"]["samples"], 31);
        assert_eq!(
            serde_json::to_value(&l.calls[1]).expect("serialises")["quality"],
            serde_json::json!({"visitor": null, "agent": null})
        );
    }

    #[test]
    fn call_outcomes_follow_the_table() {
        use HangupReason as R;
        use Party::{Agent, System, Visitor};
        for (answered, by, reason, expected) in [
            // Row 1: failed, answered or not.
            (true, Visitor, Some(R::Failed), CallOutcome::Failed),
            (false, Agent, Some(R::Failed), CallOutcome::Failed),
            // Row 2: answered, however it ended.
            (true, Visitor, Some(R::Normal), CallOutcome::Answered),
            (true, System, None, CallOutcome::Answered),
            // Row 3: declined.
            (false, Agent, Some(R::Declined), CallOutcome::Declined),
            (false, Agent, Some(R::Busy), CallOutcome::Declined),
            (false, Agent, Some(R::Normal), CallOutcome::Declined),
            // Row 4: missed.
            (false, Visitor, Some(R::NoAnswer), CallOutcome::Missed),
            (false, System, None, CallOutcome::Missed),
            // Row 5: the visitor gave up.
            (false, Visitor, Some(R::Normal), CallOutcome::Cancelled),
            // Row 6: anything else.
            (false, Visitor, Some(R::NotAllowed), CallOutcome::Failed),
            (false, Agent, Some(R::Other), CallOutcome::Failed),
        ] {
            assert_eq!(
                call_outcome(answered, by, reason),
                expected,
                "{answered} {by:?} {reason:?}"
            );
            assert_eq!(
                serde_json::to_value(expected).expect("json"),
                expected.as_str()
            );
        }
    }

    #[test]
    fn the_session_modality_is_the_richest_answered_call_and_csv_sums_calls() {
        let service = TargetRef::Service("support".into());
        let modality =
            |events: &[SessionEvent]| SessionReport::new(row(service.clone(), events)).modality;
        assert_eq!(
            modality(&[joined("a"), start(1, CallMedia::Video)]),
            Modality::Chat
        );
        assert_eq!(
            modality(&[joined("a"), start(1, CallMedia::Audio), accept(1)]),
            Modality::Audio
        );
        let events = [
            joined("a"),
            start(1, CallMedia::Video),
            accept(1),
            hangup(1, Party::Visitor, HangupReason::Normal),
            start(2, CallMedia::Audio),
            accept(2),
            screen(2, true),
            hangup(2, Party::Agent, HangupReason::Normal),
            start(3, CallMedia::Audio),
            hangup(3, Party::Visitor, HangupReason::NoAnswer),
        ];
        assert_eq!(modality(&events), Modality::Video);
        let r = SessionReport::new(row(service, &events));
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(
            json["calls"][1],
            serde_json::json!({
                "call": "c2",
                "media": "audio",
                "screen_share": true,
                "started_at": 5000,
                "answered_at": 6000,
                "ring_ms": 1000,
                "ended_at": 8000,
                "duration_ms": 2000,
                "ended_by": "agent",
                "hangup_reason": "normal",
                "outcome": "answered",
                "quality": {"visitor": null, "agent": null},
            })
        );
        assert_eq!(json["calls"][2]["outcome"], "missed");
        let csv = to_csv(std::slice::from_ref(&r));
        let line = csv.lines().nth(1).expect("a row");
        // Three calls, answered for 1000 + 2000 ms; a chat: no call-first medium nor ring,
        // no transfer.
        assert!(line.ends_with(",3,3000,,,0,,"), "{line}");
        assert!(csv.starts_with(&CSV_COLUMNS.join(",")));
    }

    #[test]
    fn filters_parse_and_name_the_bad_parameter() {
        let f = ReportFilter::from_pairs([
            ("service", "support"),
            ("kind", "service"),
            ("outcome", "handled, no_agent"),
            ("from", "1000"),
            ("to", "2000"),
            ("limit", "5"),
            ("format", "csv"),
            ("user", ""),
        ])
        .expect("valid");
        assert_eq!(f.service.as_deref(), Some("support"));
        assert_eq!(f.user, None);
        assert_eq!(f.outcomes, [Outcome::Handled, Outcome::NoAgent]);
        assert_eq!(
            (f.from, f.to),
            (Some(UnixMillis(1000)), Some(UnixMillis(2000)))
        );
        assert_eq!((f.limit, f.format), (5, Format::Csv));
        assert_eq!(ReportFilter::from_pairs([]), Ok(ReportFilter::default()));
        for (pairs, bad) in [
            (vec![("kind", "group")], "kind"),
            (vec![("outcome", "handled,lost")], "outcome"),
            (vec![("from", "yesterday")], "from"),
            (vec![("from", "-5")], "from"),
            (vec![("to", "2024-05-01T00:00:00Z")], "to"),
            (vec![("from", "2000"), ("to", "1000")], "to"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "10001")], "limit"),
            (vec![("format", "xml")], "format"),
            (vec![("servce", "support")], "servce"),
            (vec![("service", "a"), ("service", "b")], "service"),
        ] {
            let e = ReportFilter::from_pairs(pairs.clone()).expect_err("refused");
            assert_eq!(e.parameter, bad, "{pairs:?}: {e}");
        }
    }

    #[test]
    fn the_rating_is_in_the_json_and_two_csv_columns() {
        let mut row = row(
            TargetRef::Service("support".into()),
            &[ended(EndReason::VisitorEnded)],
        );
        row.satisfaction = Some(Satisfaction {
            score: 4,
            comment: Some("Quick, \"kind\"".into()),
        });
        let r = SessionReport::new(row);
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(
            json["satisfaction"],
            serde_json::json!({"score": 4, "comment": "Quick, \"kind\""})
        );
        let csv = to_csv(std::slice::from_ref(&r));
        assert!(csv.starts_with(&CSV_COLUMNS.join(",")));
        assert!(CSV_COLUMNS.ends_with(&["satisfaction_score", "satisfaction_comment"]));
        let line = csv.lines().nth(1).expect("a row");
        assert!(line.ends_with(r#",4,"Quick, ""kind""""#), "{line}");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut s = String::new();
        for v in [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "=1+2",
            "+1",
            "-1",
            "@SUM(A1)",
            "=a,b",
            "",
        ] {
            csv_cell(&mut s, v);
            s.push('|');
        }
        assert_eq!(
            s,
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|'=1+2|'+1|'-1|'@SUM(A1)|\"'=a,b\"||"
        );
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_session() {
        let mut r = SessionReport::new(row(
            TargetRef::Service("support".into()),
            &[QUEUED, joined("alex"), ended(EndReason::AgentEnded)],
        ));
        r.workflow_path = vec!["Queue Task".into(), "=cmd|' /C calc'!A0".into()];
        let csv = to_csv(&[r]);
        let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "s1,service,support,widget,chat,500,1000,,2000,3000,1000,1000,alex,0,agent_ended,handled,Queue Task > =cmd|' /C calc'!A0,0,0,,,0,,"
        );
    }

    fn target_info(kind: interact_sdk::config::TargetKind, id: &str) -> TargetInfo {
        TargetInfo {
            kind,
            id: interact_sdk::ids::TargetId::new(id).expect("valid"),
            display_name: id.to_uppercase(),
        }
    }

    /// A transfer by `by` (an agent) or by a workflow (`None`) from service `from` to
    /// `to` (`user:<id>` or a service's id).
    fn transferred(by: Option<&str>, from: &str, to: &str) -> SessionEvent {
        use interact_sdk::config::TargetKind as K;
        let to = match to.strip_prefix("user:") {
            Some(user) => target_info(K::User, user),
            None => target_info(K::Service, to),
        };
        SessionEvent::Transferred {
            by: by.map(agent),
            from: target_info(K::Service, from),
            to,
        }
    }

    #[test]
    fn a_session_never_transferred_has_one_leg_like_itself() {
        let r = SessionReport::new(row(
            TargetRef::Service("support".into()),
            &[QUEUED, joined("alex"), ended(EndReason::AgentEnded)],
        ));
        assert_eq!(r.transfers, 0);
        assert_eq!(
            r.legs,
            [LegReport {
                kind: TargetKind::Service,
                target: "support".into(),
                started_at: UnixMillis(500),
                queued_at: Some(UnixMillis(1000)),
                accepted_at: Some(UnixMillis(2000)),
                agent: Some(AgentId::new("alex").expect("valid")),
                ended_at: Some(UnixMillis(3000)),
                outcome: Some(Outcome::Handled),
            }]
        );
    }

    #[test]
    fn an_agents_transfer_ends_a_leg_and_the_next_target_has_the_next() {
        // Queued 1000, alex 2000, transferred 3000, alex left 4000, queued 5000, sam 6000,
        // ended 7000.
        let events = [
            QUEUED,
            joined("alex"),
            transferred(Some("alex"), "support", "billing"),
            left("alex"),
            QUEUED,
            joined("sam"),
            ended(EndReason::VisitorEnded),
        ];
        // The session's target is the last one.
        let r = SessionReport::new(row(TargetRef::Service("billing".into()), &events));
        assert_eq!(r.transfers, 1);
        assert_eq!(r.outcome, Some(Outcome::Transferred));
        assert_eq!(r.target, "billing");
        let summary: Vec<_> = r
            .legs
            .iter()
            .map(|l| {
                (
                    l.target.as_str(),
                    l.started_at.0,
                    l.queued_at.map(|t| t.0),
                    l.accepted_at.map(|t| t.0),
                    l.agent.as_ref().map(AgentId::as_str),
                    l.ended_at.map(|t| t.0),
                    l.outcome,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "support",
                    500,
                    Some(1000),
                    Some(2000),
                    Some("alex"),
                    Some(3000),
                    Some(Outcome::Transferred)
                ),
                (
                    "billing",
                    3000,
                    Some(5000),
                    Some(6000),
                    Some("sam"),
                    Some(7000),
                    Some(Outcome::Handled)
                ),
            ]
        );
        // In CSV: the count of transfers, last.
        assert!(to_csv(&[r]).trim_end().ends_with(",transferred,,0,0,,,1,,"));
    }

    #[test]
    fn the_last_leg_may_be_abandoned_open_or_a_user_and_a_recorded_transfer_is_the_first_legs() {
        // A workflow's transfer (no agent), then a transfer to a user, who never came.
        let events = [
            transferred(None, "support", "billing"),
            QUEUED,
            joined("sam"),
            transferred(Some("sam"), "billing", "user:alex"),
            left("sam"),
            ended(EndReason::VisitorEnded),
        ];
        let mut row = row(TargetRef::User("alex".into()), &events);
        row.recorded_outcome = Some(Outcome::Transferred);
        let r = SessionReport::new(row.clone());
        assert_eq!(r.transfers, 2);
        let legs: Vec<_> = r
            .legs
            .iter()
            .map(|l| (l.kind, l.target.as_str(), l.agent.is_some(), l.outcome))
            .collect();
        assert_eq!(
            legs,
            [
                (
                    TargetKind::Service,
                    "support",
                    false,
                    Some(Outcome::Transferred)
                ),
                (
                    TargetKind::Service,
                    "billing",
                    true,
                    Some(Outcome::Transferred)
                ),
                (TargetKind::User, "alex", false, Some(Outcome::Abandoned)),
            ]
        );
        // Another recorded outcome is the last leg's (and the session's).
        row.recorded_outcome = Some(Outcome::Cancelled);
        let r = SessionReport::new(row.clone());
        assert_eq!(r.legs[2].outcome, Some(Outcome::Cancelled));
        assert_eq!(r.outcome, Some(Outcome::Cancelled));
        // Still open: the last leg has no end and no outcome.
        row.events.pop();
        row.recorded_outcome = None;
        let r = SessionReport::new(row);
        assert_eq!((r.legs[2].ended_at, r.legs[2].outcome), (None, None));
        assert_eq!(r.outcome, None);
    }
}
