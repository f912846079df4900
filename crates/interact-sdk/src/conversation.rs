//! One session as a client sees it: in-order, exactly-once delivery of sequenced events,
//! the outbox of unacknowledged messages, receipts, typing, and the call beside the chat.
//! The visitor has one; an agent has one per session it handles.

use std::collections::VecDeque;

use crate::call::{Call, CallEvent};
use crate::client::{DeliveryState, Event, Output};
use crate::ids::{AgentId, MessageId, Seq, SessionId};
use crate::limits::{ACK_TIMEOUT, GAP_TIMEOUT, TYPING_REFRESH, TYPING_TTL};
use crate::protocol::{
    CallSignal, ClientFrame, EventFrame, HangupReason, Party, ReceiptState, SessionEvent, encode,
};
use crate::time::Instant;

/// Most events held back while waiting for a missing one; beyond it the newest are
/// dropped and fetched again by `sync`.
const MAX_BUFFERED: usize = 512;

#[derive(Debug)]
struct Pending {
    id: MessageId,
    text: String,
    sent_at: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Conversation {
    me: Party,
    /// Whether frames must name the session (agent connections).
    addressed: bool,
    pub(crate) session: SessionId,
    /// Highest sequence number delivered in order.
    pub(crate) last: Seq,
    /// Highest sequence number known to exist (from events, `welcome` or `pong`).
    known_head: Seq,
    /// Events that came before their predecessors, in sequence order. (Sorted lists
    /// here rather than maps: they hold few entries, and each map type would cost the
    /// widget's WebAssembly its own B-tree code.)
    buffer: Vec<EventFrame>,
    gap_since: Option<Instant>,
    outbox: VecDeque<Pending>,
    /// Own messages not yet read by the other side, by sequence number.
    own: Vec<(Seq, MessageId, DeliveryState)>,
    /// Highest sequence number of a message from the other side.
    peer_last: Seq,
    delivered_sent: Seq,
    read_sent: Seq,
    peer_typing_until: Option<Instant>,
    typing_sent_at: Option<Instant>,
    pub(crate) call: Call,
    /// Over for this client: the session ended, or (an agent's) the agent left it.
    pub(crate) ended: bool,
    /// The agent this client is (agent clients): its own `agent_left` (a transfer) closes
    /// the session here, as `ended` does, until its own `agent_joined` (the session came
    /// back to this agent).
    pub(crate) agent: Option<AgentId>,
    /// Closed by this agent's own `agent_left` (not by `ended`).
    left: bool,
}

impl Conversation {
    pub(crate) fn new(me: Party, session: SessionId, last: Seq) -> Self {
        Self {
            me,
            addressed: me == Party::Agent,
            session,
            last,
            known_head: last,
            buffer: Vec::new(),
            gap_since: None,
            outbox: VecDeque::new(),
            own: Vec::new(),
            peer_last: Seq::ZERO,
            delivered_sent: last,
            read_sent: Seq::ZERO,
            peer_typing_until: None,
            typing_sent_at: None,
            call: Call::new(me),
            ended: false,
            agent: None,
            left: false,
        }
    }

    fn target(&self) -> Option<SessionId> {
        self.addressed.then(|| self.session.clone())
    }

    /// The `send` of message `p`, which comes after `before` (the message ahead of it in
    /// the outbox, if any: not acknowledged yet).
    fn frame_send(&self, p: &Pending, before: Option<&Pending>) -> ClientFrame {
        ClientFrame::Send {
            session: self.target(),
            id: p.id.clone(),
            text: p.text.clone(),
            after: before.map(|b| b.id.clone()),
        }
    }

    pub(crate) fn frame_call(&self, signal: CallSignal) -> ClientFrame {
        ClientFrame::Call {
            session: self.target(),
            signal,
        }
    }

    pub(crate) fn frame_end(&self) -> ClientFrame {
        ClientFrame::End {
            session: self.target(),
        }
    }

    fn emit(&self, out: &mut VecDeque<Output>, event: Event) {
        out.push_back(Output::Event(event));
    }

    /// Queues a message; transmits it at once if `online`.
    pub(crate) fn queue_message(
        &mut self,
        now: Instant,
        id: MessageId,
        text: String,
        online: bool,
        out: &mut VecDeque<Output>,
    ) {
        let mut p = Pending {
            id,
            text,
            sent_at: None,
        };
        if online {
            let frame = self.frame_send(&p, self.outbox.back());
            out.push_back(Output::Transmit(encode(&frame)));
            p.sent_at = Some(now);
        }
        self.emit(
            out,
            Event::MessageState {
                session: Some(self.session.clone()),
                id: p.id.clone(),
                state: DeliveryState::Pending,
            },
        );
        self.outbox.push_back(p);
    }

    /// After a (re)connect: send again every message not yet acknowledged, in order.
    pub(crate) fn resend_all(&mut self, now: Instant, out: &mut VecDeque<Output>) {
        for i in 0..self.outbox.len() {
            let before = i.checked_sub(1).and_then(|b| self.outbox.get(b));
            let frame = self.frame_send(&self.outbox[i], before);
            out.push_back(Output::Transmit(encode(&frame)));
            self.outbox[i].sent_at = Some(now);
        }
        if self.known_head > self.last || !self.buffer.is_empty() {
            self.gap_since.get_or_insert(now);
        }
    }

    pub(crate) fn has_unsent(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The server stored our message `id` as `seq`.
    pub(crate) fn acked(&mut self, id: &MessageId, seq: Seq, out: &mut VecDeque<Output>) {
        if let Some(pos) = self.outbox.iter().position(|p| &p.id == id) {
            self.outbox.remove(pos);
            match self.own.binary_search_by_key(&seq, |o| o.0) {
                Ok(i) => self.own[i] = (seq, id.clone(), DeliveryState::Sent),
                Err(i) => self.own.insert(i, (seq, id.clone(), DeliveryState::Sent)),
            }
            self.emit(
                out,
                Event::MessageState {
                    session: Some(self.session.clone()),
                    id: id.clone(),
                    state: DeliveryState::Sent,
                },
            );
        }
        self.note_head(seq);
    }

    /// The server says the session has events up to `head`.
    pub(crate) fn note_head(&mut self, head: Seq) {
        self.known_head = self.known_head.max(head);
    }

    /// As [`Self::note_head`], and starts the gap timer if events are missing.
    pub(crate) fn note_head_at(&mut self, now: Instant, head: Seq) {
        self.note_head(head);
        if self.known_head > self.last {
            self.gap_since.get_or_insert(now);
        }
    }

    /// A page of a replay ended (`replayed`): if the session has events this client has
    /// not delivered, it asks for them at once rather than after the gap timer.
    pub(crate) fn replayed(&mut self, now: Instant, head: Seq, out: &mut VecDeque<Output>) {
        self.note_head(head);
        if self.known_head > self.last {
            let frame = ClientFrame::Sync {
                session: self.target(),
                after: self.last,
            };
            out.push_back(Output::Transmit(encode(&frame)));
            // If this answer is lost too, the gap timer asks again.
            self.gap_since = Some(now);
        }
    }

    /// The server refused message `id` for the rate: it and every later message are
    /// sent again, in their order, after [`ACK_TIMEOUT`] (the server refuses the later
    /// ones until the refused one comes again, so none overtakes it).
    pub(crate) fn hold_from(&mut self, now: Instant, id: &MessageId) {
        if let Some(pos) = self.outbox.iter().position(|p| &p.id == id) {
            for p in self.outbox.iter_mut().skip(pos) {
                p.sent_at = Some(now);
            }
        }
    }

    /// The server refused message `id` for good (its text, or a full session): it leaves
    /// the outbox and is reported [`DeliveryState::Failed`].
    pub(crate) fn refused(&mut self, id: &MessageId, out: &mut VecDeque<Output>) {
        if let Some(pos) = self.outbox.iter().position(|p| &p.id == id) {
            self.outbox.remove(pos);
            self.emit(
                out,
                Event::MessageState {
                    session: Some(self.session.clone()),
                    id: id.clone(),
                    state: DeliveryState::Failed,
                },
            );
        }
    }

    /// What an `error` about message `id` means for it.
    pub(crate) fn message_error(
        &mut self,
        now: Instant,
        code: crate::protocol::ErrorCode,
        id: &MessageId,
        out: &mut VecDeque<Output>,
    ) {
        use crate::protocol::ErrorCode;
        match code {
            ErrorCode::RateLimited => self.hold_from(now, id),
            // Refused for good: its text, a full session, or what the channel allows
            // (a WhatsApp reply outside the 24-hour window).
            ErrorCode::InvalidField | ErrorCode::SessionFull | ErrorCode::NotAllowed => {
                self.refused(id, out);
            }
            _ => {}
        }
    }

    /// Takes a sequenced event: buffers it, drops duplicates, and delivers every event
    /// that is now in order, exactly once.
    pub(crate) fn receive(&mut self, now: Instant, frame: EventFrame, out: &mut VecDeque<Output>) {
        self.note_head(frame.seq);
        if frame.seq <= self.last || self.buffer.len() >= MAX_BUFFERED {
            return;
        }
        let Err(at) = self.buffer.binary_search_by_key(&frame.seq, |f| f.seq) else {
            return;
        };
        self.buffer.insert(at, frame);
        while self
            .buffer
            .first()
            .is_some_and(|f| f.seq == self.last.next())
        {
            let next = self.buffer.remove(0);
            self.last = next.seq;
            self.deliver(next, out);
        }
        self.gap_since = if self.known_head > self.last {
            Some(self.gap_since.unwrap_or(now))
        } else {
            None
        };
        self.flush_delivered(out);
    }

    fn deliver(&mut self, frame: EventFrame, out: &mut VecDeque<Output>) {
        match &frame.event {
            SessionEvent::Message { id, from, .. } => {
                if *from == self.me {
                    // One of ours that this client did not send (the pre-chat form's
                    // first message, or one sent before a reload) is followed to Read
                    // like the others.
                    if !self.outbox.iter().any(|p| &p.id == id)
                        && let Err(i) = self.own.binary_search_by_key(&frame.seq, |o| o.0)
                    {
                        self.own
                            .insert(i, (frame.seq, id.clone(), DeliveryState::Sent));
                    }
                    self.acked(&id.clone(), frame.seq, out);
                } else {
                    self.peer_last = frame.seq;
                    if self.peer_typing_until.take().is_some() {
                        self.emit(out, self.typing_event(false));
                    }
                }
            }
            SessionEvent::Receipt { by, up_to, state } if *by != self.me => {
                let new_state = match state {
                    ReceiptState::Delivered => DeliveryState::Delivered,
                    ReceiptState::Read => DeliveryState::Read,
                };
                let mut i = 0;
                while let Some((_, id, old)) = self.own.get_mut(i).filter(|o| o.0 <= *up_to) {
                    if *old < new_state {
                        *old = new_state;
                        let id = id.clone();
                        self.emit(
                            out,
                            Event::MessageState {
                                session: Some(self.session.clone()),
                                id,
                                state: new_state,
                            },
                        );
                    }
                    if new_state == DeliveryState::Read {
                        self.own.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            SessionEvent::Undelivered { message, from, .. } if *from == self.me => {
                // Stored, and never reached the other party's channel: failed for good.
                self.own.retain(|(_, id, _)| id != message);
                self.emit(
                    out,
                    Event::MessageState {
                        session: Some(self.session.clone()),
                        id: message.clone(),
                        state: DeliveryState::Failed,
                    },
                );
            }
            SessionEvent::Call { from, signal } if *from != self.me => {
                if let Some(ev) = self.call.handle_remote(signal.clone()) {
                    self.emit_call(ev, out);
                }
                // The other side hung up: this side's last word on the call's quality.
                if let Some(quality) = self.call.take_final_quality() {
                    out.push_back(Output::Transmit(encode(&self.frame_call(quality))));
                }
            }
            SessionEvent::Call { signal, .. } => self.call.apply_own(signal),
            SessionEvent::Ended { .. } => {
                self.ended = true;
                self.left = false;
                self.outbox.clear();
                // A call cannot outlive its session.
                if let Ok((_, ev)) = self.call.hangup(HangupReason::Normal) {
                    self.emit_call(ev, out);
                }
                // Too late to send: the periodic summaries stand.
                self.call.take_final_quality();
            }
            SessionEvent::AgentLeft { agent } => {
                // A call ends when the agent leaves (a transfer).
                if let Ok((_, ev)) = self.call.hangup(HangupReason::Normal) {
                    self.emit_call(ev, out);
                }
                if self.agent.as_ref() == Some(&agent.id) && !self.ended {
                    // This agent transferred the session: it is over for them.
                    self.ended = true;
                    self.left = true;
                    self.outbox.clear();
                }
            }
            SessionEvent::AgentJoined { agent }
                if self.left && self.agent.as_ref() == Some(&agent.id) =>
            {
                // Transferred back to this agent, who accepted it again.
                self.ended = false;
                self.left = false;
            }
            _ => {}
        }
        self.emit(out, Event::Timeline(Box::new(frame)));
    }

    pub(crate) fn emit_call(&self, event: CallEvent, out: &mut VecDeque<Output>) {
        self.emit(
            out,
            Event::Call {
                session: Some(self.session.clone()),
                event,
            },
        );
    }

    fn flush_delivered(&mut self, out: &mut VecDeque<Output>) {
        if self.peer_last > self.delivered_sent && !self.ended {
            self.delivered_sent = self.peer_last;
            let frame = ClientFrame::Receipt {
                session: self.target(),
                up_to: self.peer_last,
                state: ReceiptState::Delivered,
            };
            out.push_back(Output::Transmit(encode(&frame)));
        }
    }

    /// The user has seen everything so far.
    pub(crate) fn mark_read(&mut self, out: &mut VecDeque<Output>) {
        if self.peer_last > self.read_sent && !self.ended {
            self.read_sent = self.peer_last;
            self.delivered_sent = self.delivered_sent.max(self.peer_last);
            let frame = ClientFrame::Receipt {
                session: self.target(),
                up_to: self.peer_last,
                state: ReceiptState::Read,
            };
            out.push_back(Output::Transmit(encode(&frame)));
        }
    }

    fn typing_event(&self, active: bool) -> Event {
        Event::Typing {
            session: Some(self.session.clone()),
            active,
        }
    }

    pub(crate) fn peer_typing(&mut self, now: Instant, active: bool, out: &mut VecDeque<Output>) {
        let was = self.peer_typing_until.is_some();
        self.peer_typing_until = active.then_some(now + TYPING_TTL);
        if was != active {
            self.emit(out, self.typing_event(active));
        }
    }

    /// The local user typed (or cleared the input). Throttled to one frame per
    /// [`TYPING_REFRESH`] while typing goes on.
    pub(crate) fn local_typing(&mut self, now: Instant, active: bool, out: &mut VecDeque<Output>) {
        let send = match (active, self.typing_sent_at) {
            (true, Some(at)) => now >= at + TYPING_REFRESH,
            (true, None) => true,
            (false, Some(_)) => true,
            (false, None) => false,
        };
        if send {
            self.typing_sent_at = active.then_some(now);
            let frame = ClientFrame::Typing {
                session: self.target(),
                active,
            };
            out.push_back(Output::Transmit(encode(&frame)));
        }
    }

    /// The next timer. Resend and gap timers only run while `online`.
    pub(crate) fn poll_timeout(&self, online: bool) -> Option<Instant> {
        if !online {
            return self.peer_typing_until;
        }
        let ack = self
            .outbox
            .iter()
            .filter_map(|p| p.sent_at)
            .min()
            .map(|t| t + ACK_TIMEOUT);
        let gap = self.gap_since.map(|t| t + GAP_TIMEOUT);
        [ack, gap, self.peer_typing_until]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        online: bool,
        out: &mut VecDeque<Output>,
    ) {
        if self.peer_typing_until.is_some_and(|t| now >= t) {
            self.peer_typing_until = None;
            self.emit(out, self.typing_event(false));
        }
        if !online {
            return;
        }
        if self.gap_since.is_some_and(|t| now >= t + GAP_TIMEOUT) {
            let frame = ClientFrame::Sync {
                session: self.target(),
                after: self.last,
            };
            out.push_back(Output::Transmit(encode(&frame)));
            // Ask again if the gap is still there after another timeout.
            self.gap_since = Some(now);
        }
        for i in 0..self.outbox.len() {
            if self.outbox[i]
                .sent_at
                .is_none_or(|t| now >= t + ACK_TIMEOUT)
            {
                let before = i.checked_sub(1).and_then(|b| self.outbox.get(b));
                let frame = self.frame_send(&self.outbox[i], before);
                out.push_back(Output::Transmit(encode(&frame)));
                self.outbox[i].sent_at = Some(now);
            }
        }
    }
}
