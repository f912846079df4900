//! The server's side of one session, without IO: sequence numbers, de-duplication by
//! client message id, receipts, call-signalling checks, and replay.
//!
//! The reference server keeps one [`SessionLog`] per live session and feeds it every
//! session frame a visitor or agent sends. [`SessionLog::handle`] answers with
//! [`Effect`]s, and the server carries them out **in order**: it stores every
//! [`Effect::Append`] durably first and only then sends anything, so an acknowledged
//! message is never lost. If storing fails, [`SessionLog::truncate`] undoes the append.
//! After a restart, [`SessionLog::restore`] rebuilds the log from the stored events.

use std::collections::{BTreeMap, HashMap};

use crate::form::{FieldError, validate_text};
use crate::ids::{CallId, MessageId, Seq, SessionId};
use crate::limits::{MAX_CANDIDATE_BYTES, QUALITY_LATE, REPLAY_PAGE_BYTES, REPLAY_PAGE_EVENTS};
use crate::modality::Modalities;
use crate::protocol::{
    AgentInfo, CallMedia, CallSignal, ClientFrame, EndReason, ErrorCode, ErrorFrame, EventFrame,
    Party, ReceiptState, ServerFrame, SessionEvent, is_valid_sdp,
};
use crate::time::UnixMillis;

/// What the server must do after [`SessionLog::handle`], in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Store this event durably, then send it to every connection of the session
    /// (the sender included).
    Append(EventFrame),
    /// Send this frame to the connection the input came from.
    Reply(ServerFrame),
    /// Send this frame to the other party's connections; it is not stored.
    Forward(ServerFrame),
}

/// How many of the frames whose encoded sizes `sizes` gives (in order) go into one page
/// of a replay: at most [`REPLAY_PAGE_EVENTS`] and [`REPLAY_PAGE_BYTES`], but at least one
/// if there is one, so that a single large event still gets through.
pub fn page_len(sizes: impl IntoIterator<Item = usize>) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for size in sizes.into_iter().take(REPLAY_PAGE_EVENTS) {
        bytes += size;
        if n > 0 && bytes > REPLAY_PAGE_BYTES {
            break;
        }
        n += 1;
    }
    n
}

/// The slot of `party` in [`SessionLog`]'s per-party maps.
fn party_index(party: Party) -> usize {
    match party {
        Party::Visitor => 0,
        Party::Agent => 1,
        Party::System => 2,
    }
}

/// Why an event could not be added to a log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The session has ended; nothing follows `ended`.
    #[error("session has ended")]
    Ended,
    /// Stored events are not numbered 1, 2, 3, ... for this session.
    #[error("stored events are not contiguous at sequence number {0}")]
    Gap(u64),
}

/// The event log of one session and the rules for adding to it.
#[derive(Debug, Clone)]
pub struct SessionLog {
    session: SessionId,
    modalities: Modalities,
    events: Vec<EventFrame>,
    /// Stored messages by client id, one map per party (indexed by [`party_index`]):
    /// looked up by reference, without building a key.
    messages: [HashMap<MessageId, Seq>; 3],
    receipts: BTreeMap<(Party, ReceiptState), Seq>,
    visitor_name: Option<String>,
    agent: Option<AgentInfo>,
    call: Option<(CallId, CallMedia)>,
    /// Whether the agent accepted the current call (offers and answers need it).
    call_accepted: bool,
    /// Call-first: the medium the visitor asked for in `start_chat`.
    call_first: Option<CallMedia>,
    /// Call-first: the visitor owes the current (or next) agent a call: from the start
    /// until a call is placed, and again when the agent leaves during a call (a transfer:
    /// the call goes on with the next agent).
    call_owed: bool,
    /// The call that ended last and when: its late quality summaries are still stored.
    last_call: Option<(CallId, UnixMillis)>,
    ended: bool,
}

impl SessionLog {
    /// An empty log for `session`, whose target enables `modalities`.
    pub fn new(session: SessionId, modalities: Modalities) -> Self {
        Self {
            session,
            modalities,
            events: Vec::new(),
            messages: Default::default(),
            receipts: BTreeMap::new(),
            visitor_name: None,
            agent: None,
            call: None,
            call_accepted: false,
            call_first: None,
            call_owed: true,
            last_call: None,
            ended: false,
        }
    }

    /// Rebuilds a log from stored events (as after a restart).
    pub fn restore(
        session: SessionId,
        modalities: Modalities,
        events: impl IntoIterator<Item = EventFrame>,
    ) -> Result<Self, RelayError> {
        let mut log = Self::new(session, modalities);
        for ev in events {
            if ev.seq != log.head().next() || ev.session != log.session {
                return Err(RelayError::Gap(ev.seq.0));
            }
            log.apply(ev);
        }
        Ok(log)
    }

    /// The session.
    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// The highest sequence number so far.
    pub fn head(&self) -> Seq {
        Seq(self.events.len() as u64)
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The agent currently in the session.
    pub fn agent(&self) -> Option<&AgentInfo> {
        self.agent.as_ref()
    }

    /// Whether a call is in progress.
    pub fn in_call(&self) -> bool {
        self.call.is_some()
    }

    /// Whether a call is in progress and the agent accepted it (the agent is in a call).
    pub fn call_answered(&self) -> bool {
        self.call.is_some() && self.call_accepted
    }

    /// Call-first: the medium of the call the visitor asked for when the session started
    /// (the session is routed as a call task); `None` for a chat.
    pub fn call_first(&self) -> Option<CallMedia> {
        self.call_first
    }

    /// Whether the session is routed as a call task now: an answered call is on, or it is
    /// call-first and its current agent's call has not been placed and ended yet (the agent
    /// who accepts a call-first session is in a call from the accept on).
    pub fn call_task(&self) -> bool {
        self.call_answered()
            || (self.call_first.is_some() && self.call_owed)
            || (self.call_first.is_some() && self.call.is_some())
    }

    /// Every event after `after`, in order.
    pub fn events_after(&self, after: Seq) -> &[EventFrame] {
        let start = usize::try_from(after.0)
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        &self.events[start..]
    }

    /// One page of the events after `after` ([`page_len`] of them), each as an
    /// [`Effect::Reply`], then the `replayed` frame that says how far the page went and
    /// where the head is: the answer to `sync`.
    pub fn replay(&self, after: Seq) -> Vec<Effect> {
        let events = self.events_after(after);
        let n = page_len(
            events
                .iter()
                .map(|e| crate::protocol::encode(&ServerFrame::Event(e.clone())).len()),
        );
        let through = events[..n].last().map_or(after.min(self.head()), |e| e.seq);
        events[..n]
            .iter()
            .map(|e| Effect::Reply(ServerFrame::Event(e.clone())))
            .chain([Effect::Reply(ServerFrame::Replayed {
                session: self.session.clone(),
                through,
                head: self.head(),
            })])
            .collect()
    }

    /// The sequence number of `from`'s message `id`, if it is stored (a resend of it is
    /// acknowledged again, not stored twice).
    pub fn message_seq(&self, from: Party, id: &MessageId) -> Option<Seq> {
        self.stored(from, id)
    }

    /// Removes events after `head` (after a failed write). Indexes are rebuilt.
    pub fn truncate(&mut self, head: Seq) {
        let keep = usize::try_from(head.0).unwrap_or(usize::MAX);
        let events = std::mem::take(&mut self.events);
        let mut log = Self::new(self.session.clone(), self.modalities);
        for ev in events.into_iter().take(keep) {
            log.apply(ev);
        }
        *self = log;
    }

    fn apply(&mut self, ev: EventFrame) {
        match &ev.event {
            SessionEvent::Started { visitor, call, .. } => {
                self.visitor_name = Some(visitor.display_name.clone());
                self.call_first = *call;
            }
            SessionEvent::Message { id, from, .. } => {
                self.messages[party_index(*from)].insert(id.clone(), ev.seq);
            }
            SessionEvent::Receipt { by, up_to, state } => {
                self.receipts.insert((*by, *state), *up_to);
                if *state == ReceiptState::Read {
                    let d = self
                        .receipts
                        .entry((*by, ReceiptState::Delivered))
                        .or_default();
                    *d = (*d).max(*up_to);
                }
            }
            SessionEvent::AgentJoined { agent } => self.agent = Some(agent.clone()),
            SessionEvent::AgentLeft { .. } => {
                self.agent = None;
                self.call_owed |= self.call.is_some();
                self.end_call(ev.at);
            }
            SessionEvent::Call { signal, .. } => match signal {
                CallSignal::Start { call, media } => {
                    self.call = Some((call.clone(), *media));
                    self.call_accepted = false;
                    self.call_owed = false;
                }
                CallSignal::Accept { .. } => self.call_accepted = true,
                CallSignal::Hangup { .. } => self.end_call(ev.at),
                _ => {}
            },
            SessionEvent::Ended { .. } => {
                self.ended = true;
                self.call = None;
            }
            _ => {}
        }
        self.events.push(ev);
    }

    fn end_call(&mut self, at: UnixMillis) {
        if let Some((call, _)) = self.call.take() {
            self.last_call = Some((call, at));
        }
    }

    /// Appends an event the server itself produces (started, queue position, agent
    /// joined, a workflow's message, ended).
    pub fn append(
        &mut self,
        at: UnixMillis,
        event: SessionEvent,
    ) -> Result<EventFrame, RelayError> {
        if self.ended {
            return Err(RelayError::Ended);
        }
        let frame = EventFrame {
            session: self.session.clone(),
            seq: self.head().next(),
            at,
            event,
        };
        self.apply(frame.clone());
        Ok(frame)
    }

    /// The sequence number of `from`'s message `id`, if it is stored.
    fn stored(&self, from: Party, id: &MessageId) -> Option<Seq> {
        self.messages[party_index(from)].get(id).copied()
    }

    fn error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        id: Option<&MessageId>,
    ) -> ErrorFrame {
        let e = ErrorFrame::new(code, message).in_session(self.session.clone());
        match id {
            Some(id) => e.about(id.clone()),
            None => e,
        }
    }

    /// Handles a session frame from `from`. Connection-level frames (`hello`, `ping`,
    /// `accept`, ...) are the server's business and refused here with `not_allowed`.
    pub fn handle(
        &mut self,
        at: UnixMillis,
        from: Party,
        frame: &ClientFrame,
    ) -> Result<Vec<Effect>, ErrorFrame> {
        let msg_id = match frame {
            ClientFrame::Send { id, .. } => Some(id),
            _ => None,
        };
        // A resend of a stored message is acknowledged again, even after the end.
        if let Some(seq) = msg_id.and_then(|id| self.stored(from, id)) {
            let ack = ServerFrame::Ack {
                session: self.session.clone(),
                id: msg_id
                    .cloned()
                    .unwrap_or_else(|| unreachable!("checked above")),
                seq,
            };
            return Ok(vec![Effect::Reply(ack)]);
        }
        if self.ended && !matches!(frame, ClientFrame::Sync { .. } | ClientFrame::Typing { .. }) {
            return Err(self.error(ErrorCode::SessionEnded, "the session has ended", msg_id));
        }
        if let Some(e) = self.out_of_order(from, frame) {
            return Err(e);
        }
        match frame {
            ClientFrame::Send { id, text, .. } => self.send(at, from, id, text),
            ClientFrame::Typing { active, .. } => Ok(if self.ended {
                Vec::new()
            } else {
                vec![Effect::Forward(ServerFrame::Typing {
                    session: self.session.clone(),
                    from,
                    active: *active,
                })]
            }),
            ClientFrame::Receipt { up_to, state, .. } => self.receipt(at, from, *up_to, *state),
            ClientFrame::Sync { after, .. } => Ok(self.replay(*after)),
            ClientFrame::End { .. } => {
                let reason = match from {
                    Party::Visitor => EndReason::VisitorEnded,
                    Party::Agent => EndReason::AgentEnded,
                    Party::System => EndReason::Other,
                };
                self.appended(at, SessionEvent::Ended { reason })
            }
            ClientFrame::Call { signal, .. } => self.call(at, from, signal),
            _ => Err(self.error(ErrorCode::NotAllowed, "not a session frame", None)),
        }
    }

    /// The refusal of a `send` of `from` whose `after` (the sender's message it comes
    /// after) is not stored: `rate_limited`, so that the client sends it again after that
    /// one. `None` for every other frame.
    pub fn out_of_order(&self, from: Party, frame: &ClientFrame) -> Option<ErrorFrame> {
        let ClientFrame::Send {
            id,
            after: Some(after),
            ..
        } = frame
        else {
            return None;
        };
        if self.stored(from, after).is_some() || self.stored(from, id).is_some() {
            return None;
        }
        Some(self.error(
            ErrorCode::RateLimited,
            "the message this one comes after has not arrived yet; send them again in order",
            Some(id),
        ))
    }

    fn appended(&mut self, at: UnixMillis, event: SessionEvent) -> Result<Vec<Effect>, ErrorFrame> {
        self.append(at, event)
            .map(|e| vec![Effect::Append(e)])
            .map_err(|_| self.error(ErrorCode::SessionEnded, "the session has ended", None))
    }

    fn send(
        &mut self,
        at: UnixMillis,
        from: Party,
        id: &MessageId,
        text: &str,
    ) -> Result<Vec<Effect>, ErrorFrame> {
        let session = self.session.clone();
        let ack = |seq| {
            Effect::Reply(ServerFrame::Ack {
                session,
                id: id.clone(),
                seq,
            })
        };
        if let Some(seq) = self.stored(from, id) {
            return Ok(vec![ack(seq)]);
        }
        let text = validate_text(text).map_err(|e| {
            let what = match e {
                FieldError::TooLong { .. } => "message is too long",
                FieldError::Required => "message is empty or has nothing visible",
                _ => "message contains control characters",
            };
            self.error(ErrorCode::InvalidField, what, Some(id))
        })?;
        let author = match from {
            Party::Visitor => self.visitor_name.clone(),
            Party::Agent => self.agent.as_ref().map(|a| a.display_name.clone()),
            Party::System => None,
        };
        let ev = self
            .append(
                at,
                SessionEvent::Message {
                    id: id.clone(),
                    from,
                    author,
                    text,
                },
            )
            .map_err(|_| self.error(ErrorCode::SessionEnded, "the session has ended", Some(id)))?;
        let seq = ev.seq;
        Ok(vec![Effect::Append(ev), ack(seq)])
    }

    fn receipt(
        &mut self,
        at: UnixMillis,
        by: Party,
        up_to: Seq,
        state: ReceiptState,
    ) -> Result<Vec<Effect>, ErrorFrame> {
        if up_to > self.head() {
            return Err(self.error(
                ErrorCode::InvalidField,
                "receipt beyond the session head",
                None,
            ));
        }
        if self.receipts.get(&(by, state)).is_some_and(|s| *s >= up_to) {
            return Ok(Vec::new());
        }
        self.appended(at, SessionEvent::Receipt { by, up_to, state })
    }

    fn call(
        &mut self,
        at: UnixMillis,
        from: Party,
        signal: &CallSignal,
    ) -> Result<Vec<Effect>, ErrorFrame> {
        let refuse = |msg: &str| Err(self.error(ErrorCode::NotAllowed, msg, None));
        let current = self.call.as_ref().map(|(c, _)| c);
        match signal {
            CallSignal::Start { media, .. } => {
                if from != Party::Visitor {
                    return refuse("only the visitor places calls");
                }
                let allowed = match media {
                    CallMedia::Audio => self.modalities.audio,
                    CallMedia::Video => self.modalities.video,
                };
                if !allowed {
                    return refuse("this modality is not enabled for the target");
                }
                if self.agent.is_none() {
                    return refuse("no agent has joined the session yet");
                }
                if current.is_some() {
                    return refuse("a call is already in progress");
                }
            }
            CallSignal::Unknown => return refuse("unknown call signal"),
            CallSignal::Quality { call, summary } => {
                if !summary.is_valid() {
                    return Err(self.error(
                        ErrorCode::InvalidField,
                        "quality summary out of bounds",
                        None,
                    ));
                }
                if current == Some(call) {
                    if !self.call_accepted {
                        return refuse("the call has not been accepted yet");
                    }
                } else {
                    let late_ms = u64::try_from(QUALITY_LATE.as_millis()).unwrap_or(u64::MAX);
                    let late = self.last_call.as_ref().is_some_and(|(c, ended)| {
                        c == call && at.0 <= ended.0.saturating_add(late_ms)
                    });
                    // Like a late hang-up: harmless, and not worth an error.
                    if !late {
                        return Ok(Vec::new());
                    }
                }
            }
            CallSignal::Accept { call } if current == Some(call) => {
                if from != Party::Agent || self.call_accepted {
                    return refuse("only the agent accepts a ringing call");
                }
            }
            CallSignal::Offer { call, .. }
            | CallSignal::Answer { call, .. }
            | CallSignal::Ice { call, .. }
                if current == Some(call) && !self.call_accepted =>
            {
                return refuse("the call has not been accepted yet");
            }
            other => {
                if other.call() != current {
                    // A late hang-up for a call that is over is harmless.
                    if matches!(other, CallSignal::Hangup { .. }) {
                        return Ok(Vec::new());
                    }
                    return refuse("no such call in progress");
                }
                match other {
                    CallSignal::Offer { sdp, .. } | CallSignal::Answer { sdp, .. }
                        if !is_valid_sdp(sdp) =>
                    {
                        return Err(self.error(
                            ErrorCode::InvalidField,
                            "SDP is empty, too large or holds control characters",
                            None,
                        ));
                    }
                    CallSignal::Ice { candidate, .. }
                        if candidate.candidate.len() > MAX_CANDIDATE_BYTES =>
                    {
                        return Err(self.error(
                            ErrorCode::InvalidField,
                            "ICE candidate is too large",
                            None,
                        ));
                    }
                    CallSignal::Media { state, .. }
                        if state.screen && !self.modalities.screen_share =>
                    {
                        return refuse("screen sharing is not enabled for the target");
                    }
                    CallSignal::Media { state, .. }
                        if state.camera
                            && self
                                .call
                                .as_ref()
                                .is_some_and(|(_, m)| *m == CallMedia::Audio) =>
                    {
                        return refuse("the camera cannot be turned on in an audio call");
                    }
                    _ => {}
                }
            }
        }
        self.appended(
            at,
            SessionEvent::Call {
                from,
                signal: signal.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::limits;
    use crate::protocol::{ReceiptState, SessionEvent};

    fn log() -> SessionLog {
        SessionLog::new(SessionId::new("s1").expect("valid"), Modalities::CHAT_ONLY)
    }

    fn send(id: &str, text: &str) -> ClientFrame {
        ClientFrame::Send {
            session: None,
            id: MessageId::new(id).expect("valid"),
            text: text.into(),
            after: None,
        }
    }

    fn send_after(id: &str, after: &str) -> ClientFrame {
        ClientFrame::Send {
            session: None,
            id: MessageId::new(id).expect("valid"),
            text: id.into(),
            after: Some(MessageId::new(after).expect("valid")),
        }
    }

    #[test]
    fn a_message_whose_predecessor_is_missing_waits_for_it() {
        let mut l = log();
        let e = l
            .handle(UnixMillis(1), Party::Agent, &send_after("m2", "m1"))
            .expect_err("m1 is not stored");
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(e.id, Some(MessageId::new("m2").expect("valid")));
        assert_eq!(l.head(), Seq(0), "nothing stored");
        // The visitor's m1 is not the agent's.
        l.handle(UnixMillis(2), Party::Visitor, &send("m1", "v"))
            .expect("stored");
        assert!(
            l.handle(UnixMillis(3), Party::Agent, &send_after("m2", "m1"))
                .is_err()
        );
        l.handle(UnixMillis(4), Party::Agent, &send("m1", "a"))
            .expect("stored");
        l.handle(UnixMillis(5), Party::Agent, &send_after("m2", "m1"))
            .expect("stored after m1");
        assert_eq!(
            l.message_seq(Party::Agent, &MessageId::new("m2").expect("valid")),
            Some(Seq(3))
        );
        // A resend of a stored message is acknowledged again whatever it names.
        let again = l
            .handle(UnixMillis(6), Party::Agent, &send_after("m2", "gone"))
            .expect("acknowledged");
        assert!(matches!(
            again[..],
            [Effect::Reply(ServerFrame::Ack { seq: Seq(3), .. })]
        ));
    }

    #[test]
    fn append_then_ack_in_that_order() {
        let mut l = log();
        let effects = l
            .handle(UnixMillis(1), Party::Visitor, &send("m1", " hi "))
            .expect("valid");
        let [
            Effect::Append(ev),
            Effect::Reply(ServerFrame::Ack { seq, .. }),
        ] = &effects[..]
        else {
            panic!("expected append then ack: {effects:?}");
        };
        assert_eq!(ev.seq, *seq);
        assert!(matches!(&ev.event, SessionEvent::Message { text, .. } if text == "hi"));
    }

    #[test]
    fn restore_rebuilds_indexes_and_refuses_gaps() {
        let mut l = log();
        l.handle(UnixMillis(1), Party::Visitor, &send("m1", "a"))
            .expect("valid");
        l.handle(UnixMillis(2), Party::Agent, &send("m1", "b"))
            .expect("valid");
        let stored = l.events_after(Seq::ZERO).to_vec();
        let mut r = SessionLog::restore(l.session().clone(), Modalities::CHAT_ONLY, stored.clone())
            .expect("contiguous");
        assert_eq!(r.head(), Seq(2));
        // The resend after a restart is recognised.
        let effects = r
            .handle(UnixMillis(3), Party::Visitor, &send("m1", "a"))
            .expect("valid");
        assert!(matches!(
            &effects[..],
            [Effect::Reply(ServerFrame::Ack { seq: Seq(1), .. })]
        ));
        let gap = SessionLog::restore(
            l.session().clone(),
            Modalities::CHAT_ONLY,
            stored.into_iter().skip(1),
        );
        assert_eq!(gap.err(), Some(RelayError::Gap(2)));
    }

    #[test]
    fn truncate_undoes_a_failed_write() {
        let mut l = log();
        l.handle(UnixMillis(1), Party::Visitor, &send("m1", "a"))
            .expect("valid");
        let head = l.head();
        l.handle(UnixMillis(2), Party::Visitor, &send("m2", "b"))
            .expect("valid");
        l.truncate(head);
        assert_eq!(l.head(), Seq(1));
        // m2 was not stored, so it is stored anew on resend.
        let effects = l
            .handle(UnixMillis(3), Party::Visitor, &send("m2", "b"))
            .expect("valid");
        assert!(matches!(&effects[0], Effect::Append(e) if e.seq == Seq(2)));
    }

    #[test]
    fn ended_sessions_refuse_new_input_but_ack_resends() {
        let mut l = log();
        l.handle(UnixMillis(1), Party::Visitor, &send("m1", "a"))
            .expect("valid");
        l.handle(
            UnixMillis(2),
            Party::Agent,
            &ClientFrame::End { session: None },
        )
        .expect("valid");
        assert!(l.is_ended());
        let err = l
            .handle(UnixMillis(3), Party::Visitor, &send("m2", "late"))
            .expect_err("ended");
        assert_eq!(err.code, ErrorCode::SessionEnded);
        assert!(
            l.handle(UnixMillis(3), Party::Visitor, &send("m1", "a"))
                .is_ok()
        );
        assert_eq!(
            l.append(UnixMillis(4), SessionEvent::Queued { position: 1 })
                .err(),
            Some(RelayError::Ended)
        );
    }

    #[test]
    fn receipts_only_move_forward_and_stay_within_the_head() {
        let mut l = log();
        l.handle(UnixMillis(1), Party::Agent, &send("m1", "a"))
            .expect("valid");
        let receipt = |up_to| ClientFrame::Receipt {
            session: None,
            up_to: Seq(up_to),
            state: ReceiptState::Read,
        };
        assert_eq!(
            l.handle(UnixMillis(2), Party::Visitor, &receipt(1))
                .expect("ok")
                .len(),
            1
        );
        assert!(
            l.handle(UnixMillis(3), Party::Visitor, &receipt(1))
                .expect("ok")
                .is_empty()
        );
        let err = l
            .handle(UnixMillis(4), Party::Visitor, &receipt(99))
            .expect_err("beyond head");
        assert_eq!(err.code, ErrorCode::InvalidField);
    }

    #[test]
    fn sync_answers_one_page_and_says_where_it_stopped() {
        let mut l = log();
        let total = crate::limits::REPLAY_PAGE_EVENTS + 10;
        for n in 0..total {
            l.handle(UnixMillis(1), Party::Visitor, &send(&format!("m{n}"), "hi"))
                .expect("valid");
        }
        let sync = |after| ClientFrame::Sync {
            session: None,
            after: Seq(after),
        };
        let first = l
            .handle(UnixMillis(2), Party::Agent, &sync(0))
            .expect("sync");
        assert_eq!(first.len(), crate::limits::REPLAY_PAGE_EVENTS + 1);
        let page = crate::limits::REPLAY_PAGE_EVENTS as u64;
        assert!(matches!(
            first.last(),
            Some(Effect::Reply(ServerFrame::Replayed { through, head, .. }))
                if *through == Seq(page) && *head == Seq(total as u64)
        ));
        let rest = l
            .handle(UnixMillis(2), Party::Agent, &sync(page))
            .expect("sync");
        assert_eq!(rest.len(), 11);
        let at_head = l
            .handle(UnixMillis(2), Party::Agent, &sync(total as u64))
            .expect("sync");
        assert!(matches!(
            &at_head[..],
            [Effect::Reply(ServerFrame::Replayed { through, head, .. })] if through == head
        ));
    }

    #[test]
    fn a_page_is_bounded_in_bytes_but_carries_at_least_one_event() {
        let big = crate::limits::REPLAY_PAGE_BYTES;
        assert_eq!(page_len([big * 2, 10]), 1);
        assert_eq!(page_len([big / 2, big / 2, 1]), 2);
        assert_eq!(
            page_len(std::iter::repeat_n(1, 1000)),
            crate::limits::REPLAY_PAGE_EVENTS
        );
        assert_eq!(page_len([]), 0);
    }

    /// A log with an agent and the visitor's video call `c1`, accepted if `accepted`.
    fn in_call(accepted: bool) -> SessionLog {
        let mut l = SessionLog::new(SessionId::new("s1").expect("valid"), Modalities::ALL);
        l.append(
            UnixMillis(1),
            SessionEvent::AgentJoined {
                agent: AgentInfo {
                    id: crate::ids::AgentId::new("alex").expect("valid"),
                    display_name: "Alex".into(),
                },
            },
        )
        .expect("open");
        let call = CallId::new("c1").expect("valid");
        l.handle(
            UnixMillis(2),
            Party::Visitor,
            &signal(CallSignal::Start {
                call: call.clone(),
                media: CallMedia::Video,
            }),
        )
        .expect("start");
        if accepted {
            l.handle(
                UnixMillis(3),
                Party::Agent,
                &signal(CallSignal::Accept { call }),
            )
            .expect("accept");
        }
        l
    }

    fn signal(signal: CallSignal) -> ClientFrame {
        ClientFrame::Call {
            session: None,
            signal,
        }
    }

    fn quality(call: &str, samples: u32) -> ClientFrame {
        signal(CallSignal::Quality {
            call: CallId::new(call).expect("valid"),
            summary: crate::protocol::QualitySummary {
                samples,
                rtt_ms: Some(crate::protocol::Spread {
                    min: 10,
                    median: 20,
                    max: 30,
                }),
                ..Default::default()
            },
        })
    }

    #[test]
    fn quality_is_stored_for_the_answered_call_and_shortly_after_it() {
        let refused = |r: Result<Vec<Effect>, ErrorFrame>| r.expect_err("refused").code;
        let stored = |r: Result<Vec<Effect>, ErrorFrame>| {
            matches!(r.expect("accepted")[..], [Effect::Append(_)])
        };
        let ignored = |r: Result<Vec<Effect>, ErrorFrame>| r.expect("accepted").is_empty();
        // Ringing: not yet.
        let mut l = in_call(false);
        assert_eq!(
            refused(l.handle(UnixMillis(4), Party::Visitor, &quality("c1", 1))),
            ErrorCode::NotAllowed
        );
        let mut l = in_call(true);
        assert!(stored(l.handle(
            UnixMillis(4),
            Party::Visitor,
            &quality("c1", 1)
        )));
        assert!(stored(l.handle(
            UnixMillis(5),
            Party::Agent,
            &quality("c1", 2)
        )));
        // Another call's: ignored.
        assert!(ignored(l.handle(
            UnixMillis(5),
            Party::Agent,
            &quality("c0", 2)
        )));
        // Out of bounds: refused, whichever call.
        assert_eq!(
            refused(l.handle(UnixMillis(6), Party::Agent, &quality("c1", 0))),
            ErrorCode::InvalidField
        );
        let over = limits::MAX_QUALITY_SAMPLES + 1;
        assert_eq!(
            refused(l.handle(UnixMillis(6), Party::Agent, &quality("c1", over))),
            ErrorCode::InvalidField
        );
        let disordered = signal(CallSignal::Quality {
            call: CallId::new("c1").expect("valid"),
            summary: crate::protocol::QualitySummary {
                samples: 3,
                loss_permille: Some(crate::protocol::Spread {
                    min: 0,
                    median: 2000,
                    max: 3000,
                }),
                ..Default::default()
            },
        });
        assert_eq!(
            refused(l.handle(UnixMillis(6), Party::Agent, &disordered)),
            ErrorCode::InvalidField
        );
        // The call ends at 10 000; a late summary is stored up to 60 s later.
        let hangup = signal(CallSignal::Hangup {
            call: CallId::new("c1").expect("valid"),
            reason: crate::protocol::HangupReason::Normal,
        });
        l.handle(UnixMillis(10_000), Party::Agent, &hangup)
            .expect("hangup");
        assert!(stored(l.handle(
            UnixMillis(10_001),
            Party::Agent,
            &quality("c1", 3)
        )));
        assert!(stored(l.handle(
            UnixMillis(70_000),
            Party::Visitor,
            &quality("c1", 3)
        )));
        let head = l.head();
        assert!(ignored(l.handle(
            UnixMillis(70_001),
            Party::Visitor,
            &quality("c1", 3)
        )));
        // After a restart too.
        let mut r = SessionLog::restore(
            l.session().clone(),
            Modalities::ALL,
            l.events_after(Seq::ZERO).to_vec(),
        )
        .expect("contiguous");
        assert!(stored(r.handle(
            UnixMillis(69_000),
            Party::Visitor,
            &quality("c1", 4)
        )));
        assert!(ignored(r.handle(
            UnixMillis(70_001),
            Party::Visitor,
            &quality("c1", 4)
        )));
        assert_eq!(l.head(), head, "nothing stored when ignored");
    }

    #[test]
    fn hostile_text_is_refused_without_storing() {
        let mut l = log();
        for text in [
            "",
            "   ",
            "a\u{0}b",
            &"x".repeat(crate::limits::MAX_TEXT_CHARS + 1),
        ] {
            let err = l
                .handle(UnixMillis(1), Party::Visitor, &send("m1", text))
                .expect_err("refused");
            assert_eq!(err.code, ErrorCode::InvalidField);
        }
        assert_eq!(l.head(), Seq::ZERO);
    }
}
