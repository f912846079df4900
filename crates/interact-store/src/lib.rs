//! Interact's persistence behind one interface: the [`Store`] trait (its reporting part
//! is [`ReportStore`]), the records it keeps, and a [`StoreError`] that says nothing of
//! the backend. [`MemoryStore`] keeps everything in memory (tests, and a server that need
//! not survive a restart); `interact-store-sqlite` is the embedded default. Every backend
//! passes the same [`conformance`] suite.
//!
//! ```
//! # async fn demo() -> Result<(), interact_store::StoreError> {
//! use interact_store::{MemoryStore, Store, TemplateRecord};
//! use interact_sdk::time::UnixMillis;
//!
//! let store = MemoryStore::default();
//! let shop = TemplateRecord { name: "shop".into(), origins: vec!["https://shop.example".into()] };
//! store.put_template(&shop, UnixMillis(1)).await?;
//! assert_eq!(store.templates().await?, [shop]);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conformance;
mod integration;
mod memory;
mod note;
mod offline;
mod outbox;
mod report;

pub use integration::{
    Attempt, AuditEntry, ConfigItem, DeliveryRecord, NewDelivery, WebhookRecord, WorkflowVersion,
};
pub use memory::MemoryStore;
pub use note::{AnswerRecord, NoteRecord};
pub use offline::{OfflineAnswer, OfflineMessageRecord};
pub use outbox::{NewOutbound, OutboundRecord, OutboundState, OutboundUpdate};
pub use report::{
    LIFECYCLE_PREFIXES, MESSAGE_IN_PATTERN, MESSAGE_OUT_PATTERNS, ReportStore, session_reports,
    usage,
};

use std::fmt::Write as _;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{AgentId, AttachmentId, Seq, SessionId};
use interact_sdk::protocol::{EndReason, EventFrame, Party, SessionEvent, encode};
use interact_sdk::time::UnixMillis;
use serde::Serialize;

/// A storage failure, whatever the backend. Callers log it and answer with a generic
/// error, except for the variants that say something about the data ([`Self::Conflict`],
/// [`Self::NotFound`], [`Self::Referenced`], [`Self::Fenced`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (its connection, its files, its schema migration).
    #[error("database: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A unique key already exists.
    #[error("already exists")]
    Conflict,
    /// A row the write refers to does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Rows still refer to the one the write would delete.
    #[error("still referenced: {0}")]
    Referenced(String),
    /// The session's lease has moved to another claim since this epoch: the write of a
    /// former owner, refused (nothing of it was written).
    #[error("fenced: the session's lease has moved to another claim")]
    Fenced,
}

impl StoreError {
    /// A backend failure from its own error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// The fencing token of a session's lease: [`Store::claim_session`] gives the first claim
/// of a session `Epoch(1)` and every later claim the previous epoch + 1. A write fenced by
/// an epoch ([`Store::append_events_fenced`]) goes through only while that epoch is the
/// session's current one, so a dead or former owner's late write is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

/// A Domain Template as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateRecord {
    /// Unique name.
    pub name: String,
    /// Origin patterns.
    pub origins: Vec<String>,
}

/// An embed code as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmbedCodeRecord {
    /// The code.
    pub code: EmbedCode,
    /// What it points at.
    pub target: TargetRef,
    /// The Domain Template it is bound to.
    pub template: String,
    /// When it was made.
    pub created_at: UnixMillis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixMillis>,
}

/// A session as stored (its events are stored apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session.
    pub id: SessionId,
    /// The embed code it came through.
    pub embed_code: EmbedCode,
    /// The target.
    pub target: TargetRef,
    /// The client's `start_chat` id and the session, `<start id> <session id>`: client
    /// ids need only be unique per client, so two visitors' clients may choose the same
    /// one (the schema's `UNIQUE (embed_code, start_id)` must not refuse the second).
    pub start_id: String,
    /// What identifies the `start_chat` this session answers (the server's start key:
    /// unique). `None` for sessions stored before it existed.
    pub start_key: Option<String>,
    /// The last time a visitor connection of the session was open (it closed then).
    pub visitor_seen_at: Option<UnixMillis>,
    /// SHA-256 (hex) of the resume token.
    pub token_hash: String,
    /// Display name from the form.
    pub visitor_name: String,
    /// Email from the form.
    pub visitor_email: String,
    /// Consent receipt: policy version.
    pub consent_version: String,
    /// Consent receipt: time.
    pub consent_at: UnixMillis,
    /// The page origin the chat came from.
    pub origin: String,
    /// The agent who took it.
    pub agent_id: Option<AgentId>,
    /// Creation time.
    pub created_at: UnixMillis,
    /// End time and reason.
    pub ended: Option<(UnixMillis, EndReason)>,
    /// How the visitor came.
    pub channel: interact_model::Channel,
    /// The website's id of the visitor, where the visitor was verified (`identify` with
    /// a valid hash); `None` for anonymous visitors.
    pub visitor_id: Option<String>,
}

/// A session event encoded once: the JSON of its [`SessionEvent`] is what the store keeps
/// (the `event` column), and the same bytes, inside the `event` frame, are what every
/// connection of the session is sent.
#[derive(Clone, Debug)]
pub struct EncodedEvent {
    /// Its sequence number.
    pub seq: Seq,
    /// When the server stored it.
    pub at: UnixMillis,
    /// How the session ended, if this is its `ended` event.
    pub ended: Option<EndReason>,
    /// The whole `event` frame, as sent (UTF-8).
    frame: Bytes,
    /// Where the event's own JSON is inside `frame`.
    event: Range<usize>,
}

impl EncodedEvent {
    /// Encodes `ev`: its event's JSON once, and the `event` frame around it (the same
    /// text as `encode(&ServerFrame::Event(ev))`).
    pub fn new(ev: &EventFrame) -> Self {
        let event = encode(&ev.event);
        let session = encode(&ev.session);
        let mut frame = String::with_capacity(event.len() + session.len() + 64);
        frame.push_str(r#"{"type":"event","session":"#);
        frame.push_str(&session);
        // Writing to a String cannot fail.
        let _ = write!(frame, r#","seq":{},"at":{},"event":"#, ev.seq.0, ev.at.0);
        let start = frame.len();
        frame.push_str(&event);
        let end = frame.len();
        frame.push('}');
        let ended = match &ev.event {
            SessionEvent::Ended { reason } => Some(*reason),
            _ => None,
        };
        Self {
            seq: ev.seq,
            at: ev.at,
            ended,
            frame: Bytes::from(frame),
            event: start..end,
        }
    }

    /// The JSON of the event alone (what the store keeps).
    pub fn event_json(&self) -> &str {
        &self.frame_str()[self.event.clone()]
    }

    /// The `event` frame as text.
    pub fn frame_str(&self) -> &str {
        // Made from a `String` in `new`.
        std::str::from_utf8(&self.frame)
            .unwrap_or_else(|e| unreachable!("an encoded event is UTF-8: {e}"))
    }

    /// The `event` frame's bytes (shared, not copied, between connections).
    pub fn frame(&self) -> Bytes {
        self.frame.clone()
    }
}

/// A file sent in a session (an image or a PDF), as stored: its bytes beside what the
/// session's `attachment` event says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRecord {
    /// Its id (unique).
    pub id: AttachmentId,
    /// The session it was sent in.
    pub session: SessionId,
    /// Who sent it: the visitor or the agent.
    pub from: Party,
    /// The file's name, as cleaned by the server.
    pub name: String,
    /// Its type, as sniffed from the content.
    pub mime: String,
    /// The bytes.
    pub data: Bytes,
    /// When it was stored.
    pub created_at: UnixMillis,
}

/// The stored state of a session's workflow run (the server stores it after every input
/// that changed the run, to resume it after a restart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowRunRecord {
    /// The session.
    pub session: SessionId,
    /// The workflow's name.
    pub workflow: String,
    /// The workflow's fingerprint (`interact_workflow::Workflow::fingerprint`).
    pub fingerprint: String,
    /// The run's snapshot, as JSON (`interact_workflow::RunSnapshot`).
    pub state: String,
    /// When it was written.
    pub updated_at: UnixMillis,
}

/// Everything the server keeps (reporting in [`ReportStore`]).
#[async_trait]
pub trait Store: ReportStore + Send + Sync + std::fmt::Debug + 'static {
    /// Creates or replaces a Domain Template.
    async fn put_template(&self, t: &TemplateRecord, at: UnixMillis) -> Result<(), StoreError>;
    /// All Domain Templates, by name.
    async fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError>;
    /// Deletes a template that no live embed code uses; `Ok(false)` if absent,
    /// [`StoreError::Conflict`] if a live embed code uses it, [`StoreError::Referenced`] if
    /// only revoked ones (which are kept) still name it.
    async fn delete_template(&self, name: &str) -> Result<bool, StoreError>;

    /// Stores a new embed code: [`StoreError::Conflict`] if the code exists,
    /// [`StoreError::NotFound`] if its template does not.
    async fn create_embed_code(&self, r: &EmbedCodeRecord) -> Result<(), StoreError>;
    /// One embed code, revoked or not.
    async fn embed_code(&self, code: &EmbedCode) -> Result<Option<EmbedCodeRecord>, StoreError>;
    /// All embed codes.
    async fn embed_codes(&self) -> Result<Vec<EmbedCodeRecord>, StoreError>;
    /// Revokes a code; `Ok(false)` if unknown or already revoked.
    async fn revoke_embed_code(&self, code: &EmbedCode, at: UnixMillis)
    -> Result<bool, StoreError>;

    /// Sets (replaces) or, with `None`, removes the identity secret of an embed code
    /// (the HMAC key of identified visitors); `Ok(false)` if the code does not exist.
    async fn set_identity_secret(
        &self,
        code: &EmbedCode,
        secret: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The identity secret of an embed code, if it has one.
    async fn identity_secret(&self, code: &EmbedCode) -> Result<Option<String>, StoreError>;
    /// The ended sessions of the verified visitor `visitor_id` that came through `code`,
    /// newest first (by creation time, then id), at most `limit`.
    async fn visitor_sessions(
        &self,
        code: &EmbedCode,
        visitor_id: &str,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// The session whose `start_key` is `key`, if any.
    async fn session_by_start_key(&self, key: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Replaces a session's resume token (its hash); the old one stops working.
    async fn set_token_hash(&self, session: &SessionId, hash: &str) -> Result<(), StoreError>;
    /// Records that a visitor connection of the session was open until `at`.
    async fn set_visitor_seen(&self, session: &SessionId, at: UnixMillis)
    -> Result<(), StoreError>;

    /// Creates a session with its first events, atomically. A session with the same
    /// `start_key` is a [`StoreError::Conflict`].
    async fn create_session(
        &self,
        s: &SessionRecord,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError>;
    /// Appends events to a session, atomically; records the end if one is among them
    /// (and, with it, forgets the session's workflow run).
    async fn append_events(
        &self,
        session: &SessionId,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError>;
    /// Takes the session's lease for `node` (one writer per session): the first claim of
    /// a session is [`Epoch(1)`](Epoch), every later one (by any node, the same one too)
    /// the previous epoch + 1, atomically (two claims never get the same epoch).
    /// [`StoreError::NotFound`] if the session does not exist.
    async fn claim_session(
        &self,
        id: &SessionId,
        node: &str,
        at: UnixMillis,
    ) -> Result<Epoch, StoreError>;
    /// The node holding the session's lease and its epoch; `None` if never claimed.
    async fn session_owner(&self, id: &SessionId) -> Result<Option<(String, Epoch)>, StoreError>;
    /// [`Self::append_events`] by the holder of the lease at `epoch`: refused with
    /// [`StoreError::Fenced`], nothing written, unless `epoch` is the session's current
    /// one (a claim happened since, or the session was never claimed). The check and the
    /// write are atomic: a claim either comes after the write or the write sees it.
    async fn append_events_fenced(
        &self,
        id: &SessionId,
        epoch: Epoch,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError>;
    /// Records the agent who took a session.
    async fn set_session_agent(
        &self,
        session: &SessionId,
        agent: &AgentId,
    ) -> Result<(), StoreError>;
    /// Records a transfer: the session is for `target` from now on and no agent holds it
    /// (it waits for the new target's workflow or queue). Nothing if it does not exist.
    async fn transfer_session(
        &self,
        session: &SessionId,
        target: &TargetRef,
    ) -> Result<(), StoreError>;
    /// One session.
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError>;
    /// Every event of a session, in order.
    async fn events(&self, id: &SessionId) -> Result<Vec<EventFrame>, StoreError>;
    /// Sessions that have not ended (to restore after a restart).
    async fn open_sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;
    /// The open session of `channel` for `target` started from `origin` (a WhatsApp
    /// sender's `whatsapp:+<number>`), the newest if there are several. An index keeps
    /// it from reading every open session.
    async fn open_session_from(
        &self,
        channel: interact_model::Channel,
        target: &TargetRef,
        origin: &str,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Stores a file sent in a session: [`StoreError::Conflict`] if its id exists,
    /// [`StoreError::NotFound`] if its session does not.
    async fn put_attachment(&self, a: &AttachmentRecord) -> Result<(), StoreError>;
    /// The file `id` of `session` (`None` for a file of another session).
    async fn attachment(
        &self,
        session: &SessionId,
        id: &AttachmentId,
    ) -> Result<Option<AttachmentRecord>, StoreError>;

    /// Creates or replaces the stored state of a session's workflow run.
    async fn put_workflow_run(&self, run: &WorkflowRunRecord) -> Result<(), StoreError>;
    /// The stored workflow run of a session, if any.
    async fn workflow_run(
        &self,
        session: &SessionId,
    ) -> Result<Option<WorkflowRunRecord>, StoreError>;
    /// Forgets a session's workflow run (it ended); nothing if there is none.
    async fn delete_workflow_run(&self, session: &SessionId) -> Result<(), StoreError>;

    /// Stores an agent sign-in token (by hash).
    async fn put_agent_token(
        &self,
        hash: &str,
        user: &str,
        at: UnixMillis,
        expires: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The user of a token that has not expired at `now`, and when it expires.
    async fn agent_token(
        &self,
        hash: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, UnixMillis)>, StoreError>;
    /// Removes a token (sign-out).
    async fn delete_agent_token(&self, hash: &str) -> Result<(), StoreError>;
    /// Removes every token of `user` (an administrator signed them out); returns how
    /// many there were.
    async fn delete_agent_tokens_of(&self, user: &str) -> Result<u64, StoreError>;

    /// Stores an admin sign-in token (by hash): kept apart from agent tokens.
    async fn put_admin_token(
        &self,
        hash: &str,
        user: &str,
        at: UnixMillis,
        expires: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The user of an admin token that has not expired at `now`, and when it expires.
    async fn admin_token(
        &self,
        hash: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, UnixMillis)>, StoreError>;
    /// Removes an admin token (sign-out).
    async fn delete_admin_token(&self, hash: &str) -> Result<(), StoreError>;
    /// Removes every admin token of `user`; returns how many there were.
    async fn delete_admin_tokens_of(&self, user: &str) -> Result<u64, StoreError>;

    /// Creates or replaces a configuration item (by kind and name).
    async fn put_config_item(&self, item: &ConfigItem) -> Result<(), StoreError>;
    /// Every configuration item of `kind`, by name.
    async fn config_items(&self, kind: &str) -> Result<Vec<ConfigItem>, StoreError>;
    /// Deletes a configuration item; `Ok(false)` if it did not exist.
    async fn delete_config_item(&self, kind: &str, name: &str) -> Result<bool, StoreError>;

    /// Whether the database answers (a round trip that reads nothing), for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Appends an admin change to the audit log (its `id` is ignored); returns the id
    /// it got (ids grow with every entry).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError>;
    /// The audit log, newest first: at most `limit` entries with an id below `before`
    /// (all if `None`).
    async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Creates or replaces a webhook (by id).
    async fn put_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError>;
    /// All webhooks, by id.
    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Deletes a webhook and its deliveries; `Ok(false)` if it did not exist.
    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError>;
    /// Stores deliveries, due at their `at`. [`StoreError::NotFound`] if a webhook does
    /// not exist (then none is stored).
    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<(), StoreError>;
    /// Claims at most `limit` deliveries due at `now` (`next_at <= now`), oldest due
    /// first, by setting their `next_at` to `until`: until then no other claim takes
    /// them (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two nodes never claim the same
    /// one). Returns them as they are after the claim.
    async fn claim_deliveries(
        &self,
        now: UnixMillis,
        until: UnixMillis,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Records an attempt at delivery `id`: `attempts` + 1, the status and error, and
    /// `next_at` and `delivered_at` as the attempt says. `Ok(false)` if it is gone.
    async fn record_attempt(&self, id: i64, attempt: &Attempt) -> Result<bool, StoreError>;
    /// The deliveries of `webhook` (of every webhook if `None`), newest first, at most
    /// `limit`.
    async fn deliveries(
        &self,
        webhook: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Stores outbound pieces ([`outbox`](crate::NewOutbound)), due at their `at`; a
    /// piece whose session, message and part are stored already is left as it is.
    /// Returns how many were new.
    async fn enqueue_outbound(&self, pieces: &[NewOutbound]) -> Result<u64, StoreError>;
    /// Claims at most `limit` pending pieces due at `now`, oldest first, by setting their
    /// `next_at` to `until`. A piece is taken only when no earlier piece of its session is
    /// still pending (due or not), so a session's pieces go out in order. Concurrent
    /// claims take distinct pieces.
    async fn claim_outbound(
        &self,
        now: UnixMillis,
        until: UnixMillis,
        limit: u32,
    ) -> Result<Vec<OutboundRecord>, StoreError>;
    /// Changes piece `id` as `update` says; `Ok(None)` if there is none. Returns the piece
    /// as it is now.
    async fn update_outbound(
        &self,
        id: i64,
        update: &OutboundUpdate,
    ) -> Result<Option<OutboundRecord>, StoreError>;
    /// The piece the provider knows as `sid`.
    async fn outbound_by_sid(&self, sid: &str) -> Result<Option<OutboundRecord>, StoreError>;
    /// The pieces of `session`, in the order they were stored.
    async fn session_outbound(
        &self,
        session: &SessionId,
    ) -> Result<Vec<OutboundRecord>, StoreError>;

    /// Stores an offline message as an open task: `Ok(true)`, or `Ok(false)` with nothing
    /// written where a message with the same `request_key` exists (a repeat).
    async fn put_offline_message(&self, m: &OfflineMessageRecord) -> Result<bool, StoreError>;
    /// The offline messages for any of `targets`, newest first, at most `limit`; only the
    /// open (unanswered) ones if `open_only`.
    async fn offline_messages(
        &self,
        targets: &[TargetRef],
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<OfflineMessageRecord>, StoreError>;
    /// One offline message.
    async fn offline_message(&self, id: &str) -> Result<Option<OfflineMessageRecord>, StoreError>;
    /// How many open offline messages `target` has.
    async fn count_open_offline_messages(&self, target: &TargetRef) -> Result<u64, StoreError>;
    /// Records the answer to an open offline message: `Ok(true)`, or `Ok(false)` with
    /// nothing written if it was answered already (the first answer stays).
    /// [`StoreError::NotFound`] if there is no such message.
    async fn answer_offline_message(
        &self,
        id: &str,
        answer: &OfflineAnswer,
    ) -> Result<bool, StoreError>;

    /// Adds an agent's note on a session (its `id` is ignored); returns the id it got.
    async fn add_session_note(&self, note: &NoteRecord) -> Result<i64, StoreError>;
    /// The notes on a session, oldest first.
    async fn session_notes(&self, session: &SessionId) -> Result<Vec<NoteRecord>, StoreError>;

    /// Keeps a visitor's answer to a Collect Information question: replaces the
    /// session's earlier answer for the same parameter (`name`), which keeps its place.
    async fn put_session_answer(&self, answer: &AnswerRecord) -> Result<(), StoreError>;
    /// The answers kept for a session, in the order their parameters were first answered.
    async fn session_answers(&self, session: &SessionId) -> Result<Vec<AnswerRecord>, StoreError>;

    /// Stores a workflow version (a version with the same name and fingerprint is kept
    /// as it was) and makes it its name's current one: always if `replace`, else only if
    /// the name has no current version yet (a seed). Returns whether it is current now.
    async fn put_workflow(&self, v: &WorkflowVersion, replace: bool) -> Result<bool, StoreError>;
    /// The current version of every workflow, by name.
    async fn workflows(&self) -> Result<Vec<WorkflowVersion>, StoreError>;
    /// One version of a workflow, current or not.
    async fn workflow_version(
        &self,
        name: &str,
        fingerprint: &str,
    ) -> Result<Option<WorkflowVersion>, StoreError>;
}

#[cfg(test)]
mod tests {
    use interact_sdk::ids::MessageId;
    use interact_sdk::protocol::{AgentInfo, Party, ServerFrame};

    use super::*;

    #[test]
    fn an_encoded_event_is_the_event_frame_and_its_event_json() {
        let session = SessionId::new("s0123abc").expect("valid");
        let events = [
            SessionEvent::Message {
                id: MessageId::new("m-1").expect("valid"),
                from: Party::Visitor,
                author: Some("Vera \"V\" <b>".into()),
                text: "line\nbreak \u{1F600} \\ </script>".into(),
            },
            SessionEvent::Queued { position: 3 },
            SessionEvent::AgentJoined {
                agent: AgentInfo {
                    id: AgentId::new("alex").expect("valid"),
                    display_name: "Alex".into(),
                },
            },
            SessionEvent::Ended {
                reason: EndReason::AgentEnded,
            },
        ];
        for (n, event) in events.into_iter().enumerate() {
            let ev = EventFrame {
                session: session.clone(),
                seq: Seq(n as u64 + 1),
                at: UnixMillis(1_700_000_000_123 + n as u64),
                event,
            };
            let e = EncodedEvent::new(&ev);
            assert_eq!(e.frame_str(), encode(&ServerFrame::Event(ev.clone())));
            assert_eq!(e.event_json(), encode(&ev.event));
            assert_eq!((e.seq, e.at), (ev.seq, ev.at));
            let ended = matches!(ev.event, SessionEvent::Ended { .. });
            assert_eq!(e.ended.is_some(), ended);
        }
    }
}
