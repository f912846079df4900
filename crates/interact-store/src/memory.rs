//! [`MemoryStore`]: everything in memory, behind one lock. For tests of the server's node
//! (on a virtual clock, with no IO to wait for) and for a server that need not keep
//! anything across a restart. It passes the same [`conformance`](crate::conformance)
//! suite as the database backends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use interact_model::TargetRef;
use interact_report::{
    Day, MessageCount, Outcome, ReportQuery, ReportRow, Satisfaction, TargetKind, UsageQuery,
    UsageRow,
};
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{AgentId, AttachmentId, SessionId};
use interact_sdk::protocol::{EventFrame, Party, SessionEvent};
use interact_sdk::time::UnixMillis;

use crate::{
    AttachmentRecord, Attempt, AuditEntry, ConfigItem, DeliveryRecord, EmbedCodeRecord,
    EncodedEvent, Epoch, NewDelivery, NewOutbound, OfflineAnswer, OfflineMessageRecord,
    OutboundRecord, OutboundState, OutboundUpdate, ReportStore, SessionRecord, Store, StoreError,
    TemplateRecord, WebhookRecord, WorkflowRunRecord, WorkflowVersion,
};

/// A session's report facts besides its events.
#[derive(Debug, Default)]
struct ReportFacts {
    offered_at: Option<UnixMillis>,
    offers: u64,
    outcome: Option<Outcome>,
    path: Vec<String>,
    satisfaction: Option<Satisfaction>,
    transcript_emailed_at: Option<UnixMillis>,
}

#[derive(Debug, Default)]
struct Inner {
    templates: BTreeMap<String, Vec<String>>,
    codes: BTreeMap<String, EmbedCodeRecord>,
    /// Identity secrets by embed code.
    identity_secrets: HashMap<String, String>,
    sessions: BTreeMap<SessionId, SessionRecord>,
    /// Each session's events, in order (`seq` 1 first).
    events: HashMap<SessionId, Vec<EventFrame>>,
    runs: HashMap<SessionId, WorkflowRunRecord>,
    /// Files sent in sessions, by id.
    attachments: HashMap<AttachmentId, AttachmentRecord>,
    /// The console's sign-in tokens.
    tokens: Tokens,
    reports: HashMap<SessionId, ReportFacts>,
    /// Each claimed session's lease: the node holding it and its epoch.
    leases: HashMap<SessionId, (String, Epoch)>,
    audit: Vec<AuditEntry>,
    webhooks: BTreeMap<String, WebhookRecord>,
    /// Deliveries by id (ids from 1, in the order stored, never used twice).
    deliveries: BTreeMap<i64, DeliveryRecord>,
    /// The last delivery id given.
    delivery_ids: i64,
    /// Workflow versions by (name, fingerprint), and each name's current fingerprint.
    workflow_versions: BTreeMap<(String, String), WorkflowVersion>,
    current_workflows: BTreeMap<String, String>,
    /// The administration's sign-in tokens and Preview tickets.
    admin_tokens: Tokens,
    /// Configuration items by (kind, name).
    config: BTreeMap<(String, String), ConfigItem>,
    /// Outbound pieces by id (ids from 1, in the order stored).
    outbound: BTreeMap<i64, OutboundRecord>,
    /// Offline messages by id.
    offline: BTreeMap<String, OfflineMessageRecord>,
    /// Agents' notes, in the order added (ids from 1).
    notes: Vec<crate::NoteRecord>,
    /// Visitors' answers, in the order their (session, parameter) was first answered.
    answers: Vec<crate::AnswerRecord>,
}

/// Sign-in tokens by hash: the user and the expiry.
type Tokens = HashMap<String, (String, UnixMillis)>;

fn put_token(
    tokens: &mut Tokens,
    hash: &str,
    user: &str,
    expires: UnixMillis,
) -> Result<(), StoreError> {
    if tokens.contains_key(hash) {
        return Err(StoreError::Conflict);
    }
    tokens.insert(hash.to_owned(), (user.to_owned(), expires));
    Ok(())
}

fn live_token(tokens: &Tokens, hash: &str, now: UnixMillis) -> Option<(String, UnixMillis)> {
    tokens
        .get(hash)
        .filter(|(_, expires)| *expires > now)
        .cloned()
}

fn delete_tokens_of(tokens: &mut Tokens, user: &str) -> u64 {
    let before = tokens.len();
    tokens.retain(|_, (u, _)| u != user);
    (before - tokens.len()) as u64
}

/// The in-memory [`Store`].
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Inner>);

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_found(what: &str) -> StoreError {
    StoreError::NotFound(what.to_owned())
}

/// Decodes encoded events back into frames (as a database backend reads its rows).
fn frames(session: &SessionId, events: &[EncodedEvent]) -> Result<Vec<EventFrame>, StoreError> {
    events
        .iter()
        .map(|e| {
            Ok(EventFrame {
                session: session.clone(),
                seq: e.seq,
                at: e.at,
                event: serde_json::from_str(e.event_json())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            })
        })
        .collect()
}

impl Inner {
    /// Appends `events` to `session`'s log, all or none: each must come right after the
    /// last stored (a `seq` taken already is a [`StoreError::Conflict`]).
    fn append(&mut self, session: &SessionId, events: &[EncodedEvent]) -> Result<(), StoreError> {
        let new = frames(session, events)?;
        let log = self.events.entry(session.clone()).or_default();
        let first = log.len() as u64 + 1;
        if new.iter().zip(first..).any(|(e, seq)| e.seq.0 != seq) {
            return Err(StoreError::Conflict);
        }
        log.extend(new);
        if let Some(ended) = events.iter().find_map(|e| e.ended.map(|r| (e.at, r)))
            && let Some(s) = self.sessions.get_mut(session)
        {
            s.ended = Some(ended);
            self.runs.remove(session);
        }
        Ok(())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_template(&self, t: &TemplateRecord, _at: UnixMillis) -> Result<(), StoreError> {
        self.lock()
            .templates
            .insert(t.name.clone(), t.origins.clone());
        Ok(())
    }

    async fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        Ok(self
            .lock()
            .templates
            .iter()
            .map(|(name, origins)| TemplateRecord {
                name: name.clone(),
                origins: origins.clone(),
            })
            .collect())
    }

    async fn delete_template(&self, name: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let users = inner.codes.values().filter(|c| c.template == name);
        let (live, revoked): (Vec<_>, Vec<_>) = users.partition(|c| c.revoked_at.is_none());
        if !live.is_empty() {
            return Err(StoreError::Conflict);
        }
        if !revoked.is_empty() {
            return Err(StoreError::Referenced(format!(
                "revoked embed codes name the template {name:?}"
            )));
        }
        Ok(inner.templates.remove(name).is_some())
    }

    async fn create_embed_code(&self, r: &EmbedCodeRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.codes.contains_key(r.code.as_str()) {
            return Err(StoreError::Conflict);
        }
        if !inner.templates.contains_key(&r.template) {
            return Err(not_found(&format!("Domain Template {:?}", r.template)));
        }
        inner.codes.insert(r.code.as_str().to_owned(), r.clone());
        Ok(())
    }

    async fn embed_code(&self, code: &EmbedCode) -> Result<Option<EmbedCodeRecord>, StoreError> {
        Ok(self.lock().codes.get(code.as_str()).cloned())
    }

    async fn embed_codes(&self) -> Result<Vec<EmbedCodeRecord>, StoreError> {
        let mut codes: Vec<EmbedCodeRecord> = self.lock().codes.values().cloned().collect();
        codes.sort_by(|a, b| (a.created_at, a.code.as_str()).cmp(&(b.created_at, b.code.as_str())));
        Ok(codes)
    }

    async fn revoke_embed_code(
        &self,
        code: &EmbedCode,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        match self.lock().codes.get_mut(code.as_str()) {
            Some(c) if c.revoked_at.is_none() => {
                c.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_identity_secret(
        &self,
        code: &EmbedCode,
        secret: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if !inner.codes.contains_key(code.as_str()) {
            return Ok(false);
        }
        match secret {
            Some(s) => inner
                .identity_secrets
                .insert(code.as_str().to_owned(), s.to_owned()),
            None => inner.identity_secrets.remove(code.as_str()),
        };
        Ok(true)
    }

    async fn identity_secret(&self, code: &EmbedCode) -> Result<Option<String>, StoreError> {
        Ok(self.lock().identity_secrets.get(code.as_str()).cloned())
    }

    async fn visitor_sessions(
        &self,
        code: &EmbedCode,
        visitor_id: &str,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let inner = self.lock();
        let mut found: Vec<&SessionRecord> = inner
            .sessions
            .values()
            .filter(|s| {
                s.ended.is_some()
                    && s.embed_code == *code
                    && s.visitor_id.as_deref() == Some(visitor_id)
            })
            .collect();
        found.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        Ok(found
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn session_by_start_key(&self, key: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .lock()
            .sessions
            .values()
            .find(|s| s.start_key.as_deref() == Some(key))
            .cloned())
    }

    async fn set_token_hash(&self, session: &SessionId, hash: &str) -> Result<(), StoreError> {
        if let Some(s) = self.lock().sessions.get_mut(session) {
            s.token_hash = hash.to_owned();
        }
        Ok(())
    }

    async fn set_visitor_seen(
        &self,
        session: &SessionId,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        if let Some(s) = self.lock().sessions.get_mut(session) {
            s.visitor_seen_at = Some(at);
        }
        Ok(())
    }

    async fn create_session(
        &self,
        s: &SessionRecord,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let taken = inner.sessions.contains_key(&s.id)
            || inner.sessions.values().any(|o| {
                (o.embed_code == s.embed_code && o.start_id == s.start_id)
                    || (s.start_key.is_some() && o.start_key == s.start_key)
            });
        if taken {
            return Err(StoreError::Conflict);
        }
        // Decoded before anything is written: all or nothing.
        frames(&s.id, events)?;
        inner.sessions.insert(s.id.clone(), s.clone());
        if let Err(e) = inner.append(&s.id, events) {
            inner.sessions.remove(&s.id);
            inner.events.remove(&s.id);
            return Err(e);
        }
        Ok(())
    }

    async fn append_events(
        &self,
        session: &SessionId,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.sessions.contains_key(session) {
            return Err(not_found(&format!("session {session}")));
        }
        inner.append(session, events)
    }

    async fn claim_session(
        &self,
        id: &SessionId,
        node: &str,
        _at: UnixMillis,
    ) -> Result<Epoch, StoreError> {
        let mut inner = self.lock();
        if !inner.sessions.contains_key(id) {
            return Err(not_found(&format!("session {id}")));
        }
        let epoch = Epoch(inner.leases.get(id).map_or(0, |(_, e)| e.0) + 1);
        inner.leases.insert(id.clone(), (node.to_owned(), epoch));
        Ok(epoch)
    }

    async fn session_owner(&self, id: &SessionId) -> Result<Option<(String, Epoch)>, StoreError> {
        Ok(self.lock().leases.get(id).cloned())
    }

    async fn append_events_fenced(
        &self,
        id: &SessionId,
        epoch: Epoch,
        events: &[EncodedEvent],
    ) -> Result<(), StoreError> {
        // Under the one lock: no claim comes between the check and the write.
        let mut inner = self.lock();
        if inner.leases.get(id).map(|(_, e)| *e) != Some(epoch) {
            return Err(StoreError::Fenced);
        }
        inner.append(id, events)
    }

    async fn set_session_agent(
        &self,
        session: &SessionId,
        agent: &AgentId,
    ) -> Result<(), StoreError> {
        if let Some(s) = self.lock().sessions.get_mut(session) {
            s.agent_id = Some(agent.clone());
        }
        Ok(())
    }

    async fn transfer_session(
        &self,
        session: &SessionId,
        target: &TargetRef,
    ) -> Result<(), StoreError> {
        if let Some(s) = self.lock().sessions.get_mut(session) {
            s.target = target.clone();
            s.agent_id = None;
        }
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock().sessions.get(id).cloned())
    }

    async fn events(&self, id: &SessionId) -> Result<Vec<EventFrame>, StoreError> {
        Ok(self.lock().events.get(id).cloned().unwrap_or_default())
    }

    async fn open_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut open: Vec<SessionRecord> = self
            .lock()
            .sessions
            .values()
            .filter(|s| s.ended.is_none())
            .cloned()
            .collect();
        open.sort_by_key(|s| s.created_at);
        Ok(open)
    }

    async fn open_session_from(
        &self,
        channel: interact_model::Channel,
        target: &TargetRef,
        origin: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .lock()
            .sessions
            .values()
            .filter(|s| {
                s.ended.is_none()
                    && s.channel == channel
                    && &s.target == target
                    && s.origin == origin
            })
            .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
            .cloned())
    }

    async fn put_attachment(&self, a: &AttachmentRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.sessions.contains_key(&a.session) {
            return Err(not_found(&format!("session {}", a.session)));
        }
        if inner.attachments.contains_key(&a.id) {
            return Err(StoreError::Conflict);
        }
        inner.attachments.insert(a.id.clone(), a.clone());
        Ok(())
    }

    async fn attachment(
        &self,
        session: &SessionId,
        id: &AttachmentId,
    ) -> Result<Option<AttachmentRecord>, StoreError> {
        Ok(self
            .lock()
            .attachments
            .get(id)
            .filter(|a| a.session == *session)
            .cloned())
    }

    async fn put_workflow_run(&self, run: &WorkflowRunRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.sessions.contains_key(&run.session) {
            return Err(not_found(&format!("session {}", run.session)));
        }
        inner.runs.insert(run.session.clone(), run.clone());
        Ok(())
    }

    async fn workflow_run(
        &self,
        session: &SessionId,
    ) -> Result<Option<WorkflowRunRecord>, StoreError> {
        Ok(self.lock().runs.get(session).cloned())
    }

    async fn delete_workflow_run(&self, session: &SessionId) -> Result<(), StoreError> {
        self.lock().runs.remove(session);
        Ok(())
    }

    async fn put_agent_token(
        &self,
        hash: &str,
        user: &str,
        _at: UnixMillis,
        expires: UnixMillis,
    ) -> Result<(), StoreError> {
        put_token(&mut self.lock().tokens, hash, user, expires)
    }

    async fn agent_token(
        &self,
        hash: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, UnixMillis)>, StoreError> {
        Ok(live_token(&self.lock().tokens, hash, now))
    }

    async fn delete_agent_token(&self, hash: &str) -> Result<(), StoreError> {
        self.lock().tokens.remove(hash);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn put_admin_token(
        &self,
        hash: &str,
        user: &str,
        _at: UnixMillis,
        expires: UnixMillis,
    ) -> Result<(), StoreError> {
        put_token(&mut self.lock().admin_tokens, hash, user, expires)
    }

    async fn admin_token(
        &self,
        hash: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, UnixMillis)>, StoreError> {
        Ok(live_token(&self.lock().admin_tokens, hash, now))
    }

    async fn delete_admin_token(&self, hash: &str) -> Result<(), StoreError> {
        self.lock().admin_tokens.remove(hash);
        Ok(())
    }

    async fn delete_admin_tokens_of(&self, user: &str) -> Result<u64, StoreError> {
        Ok(delete_tokens_of(&mut self.lock().admin_tokens, user))
    }

    async fn put_config_item(&self, item: &ConfigItem) -> Result<(), StoreError> {
        self.lock()
            .config
            .insert((item.kind.clone(), item.name.clone()), item.clone());
        Ok(())
    }

    async fn config_items(&self, kind: &str) -> Result<Vec<ConfigItem>, StoreError> {
        Ok(self
            .lock()
            .config
            .values()
            .filter(|i| i.kind == kind)
            .cloned()
            .collect())
    }

    async fn delete_config_item(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .config
            .remove(&(kind.to_owned(), name.to_owned()))
            .is_some())
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        let mut inner = self.lock();
        let id = inner.audit.last().map_or(1, |e| e.id + 1);
        inner.audit.push(AuditEntry {
            id,
            ..entry.clone()
        });
        Ok(id)
    }

    async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .audit
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.id < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn add_session_note(&self, note: &crate::NoteRecord) -> Result<i64, StoreError> {
        let mut inner = self.lock();
        let id = inner.notes.len() as i64 + 1;
        inner.notes.push(crate::NoteRecord { id, ..note.clone() });
        Ok(id)
    }

    async fn session_notes(
        &self,
        session: &SessionId,
    ) -> Result<Vec<crate::NoteRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .notes
            .iter()
            .filter(|n| n.session == *session)
            .cloned()
            .collect())
    }

    async fn put_session_answer(&self, answer: &crate::AnswerRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match inner
            .answers
            .iter_mut()
            .find(|a| a.session == answer.session && a.name == answer.name)
        {
            Some(kept) => *kept = answer.clone(),
            None => inner.answers.push(answer.clone()),
        }
        Ok(())
    }

    async fn session_answers(
        &self,
        session: &SessionId,
    ) -> Result<Vec<crate::AnswerRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .answers
            .iter()
            .filter(|a| a.session == *session)
            .cloned()
            .collect())
    }

    async fn put_offline_message(&self, m: &OfflineMessageRecord) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner
            .offline
            .values()
            .any(|o| o.request_key == m.request_key)
        {
            return Ok(false);
        }
        if inner.offline.contains_key(&m.id) {
            return Err(StoreError::Conflict);
        }
        inner.offline.insert(m.id.clone(), m.clone());
        Ok(true)
    }

    async fn offline_messages(
        &self,
        targets: &[TargetRef],
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<OfflineMessageRecord>, StoreError> {
        let inner = self.lock();
        let mut found: Vec<_> = inner
            .offline
            .values()
            .filter(|m| targets.contains(&m.target) && !(open_only && m.answer.is_some()))
            .cloned()
            .collect();
        found.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn offline_message(&self, id: &str) -> Result<Option<OfflineMessageRecord>, StoreError> {
        Ok(self.lock().offline.get(id).cloned())
    }

    async fn count_open_offline_messages(&self, target: &TargetRef) -> Result<u64, StoreError> {
        let inner = self.lock();
        let open = inner.offline.values();
        Ok(open
            .filter(|m| m.target == *target && m.answer.is_none())
            .count() as u64)
    }

    async fn answer_offline_message(
        &self,
        id: &str,
        answer: &OfflineAnswer,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let m = inner
            .offline
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(format!("offline message {id}")))?;
        if m.answer.is_some() {
            return Ok(false);
        }
        m.answer = Some(answer.clone());
        Ok(true)
    }

    async fn put_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        self.lock().webhooks.insert(w.id.clone(), w.clone());
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        Ok(self.lock().webhooks.values().cloned().collect())
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let existed = inner.webhooks.remove(id).is_some();
        inner.deliveries.retain(|_, d| d.webhook != id);
        Ok(existed)
    }

    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(d) = deliveries
            .iter()
            .find(|d| !inner.webhooks.contains_key(&d.webhook))
        {
            return Err(not_found(&format!("webhook {}", d.webhook)));
        }
        for d in deliveries {
            inner.delivery_ids += 1;
            let id = inner.delivery_ids;
            inner.deliveries.insert(
                id,
                DeliveryRecord {
                    id,
                    webhook: d.webhook.clone(),
                    event: d.event.clone(),
                    body: d.body.clone(),
                    created_at: d.at,
                    attempts: 0,
                    next_at: Some(d.at),
                    last_status: None,
                    last_error: None,
                    delivered_at: None,
                },
            );
        }
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now: UnixMillis,
        until: UnixMillis,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut inner = self.lock();
        let mut due: Vec<(UnixMillis, i64)> = inner
            .deliveries
            .values()
            .filter_map(|d| d.next_at.filter(|at| *at <= now).map(|at| (at, d.id)))
            .collect();
        due.sort();
        due.truncate(limit as usize);
        Ok(due
            .into_iter()
            .filter_map(|(_, id)| {
                let d = inner.deliveries.get_mut(&id)?;
                d.next_at = Some(until);
                Some(d.clone())
            })
            .collect())
    }

    async fn record_attempt(&self, id: i64, attempt: &Attempt) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(d) = inner.deliveries.get_mut(&id) else {
            return Ok(false);
        };
        d.attempts += 1;
        d.last_status = attempt.status;
        d.last_error = attempt.error.clone();
        d.next_at = attempt.next_at;
        if attempt.delivered {
            d.delivered_at = Some(attempt.at);
        }
        Ok(true)
    }

    async fn enqueue_outbound(&self, pieces: &[NewOutbound]) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut new = 0;
        for p in pieces {
            let stored = inner
                .outbound
                .values()
                .any(|o| o.session == p.session && o.message == p.message && o.part == p.part);
            if stored {
                continue;
            }
            let id = inner.outbound.keys().next_back().map_or(1, |last| last + 1);
            inner.outbound.insert(
                id,
                OutboundRecord {
                    id,
                    session: p.session.clone(),
                    message: p.message.clone(),
                    part: p.part,
                    seq: p.seq,
                    connector: p.connector.clone(),
                    to: p.to.clone(),
                    body: p.body.clone(),
                    created_at: p.at,
                    attempts: 0,
                    next_at: Some(p.at),
                    state: OutboundState::Pending,
                    sid: None,
                    uncertain: false,
                    error: None,
                    updated_at: p.at,
                },
            );
            new += 1;
        }
        Ok(new)
    }

    async fn claim_outbound(
        &self,
        now: UnixMillis,
        until: UnixMillis,
        limit: u32,
    ) -> Result<Vec<OutboundRecord>, StoreError> {
        let mut inner = self.lock();
        // The earliest pending piece of each session (ids are in the order stored).
        let mut heads: HashMap<&SessionId, i64> = HashMap::new();
        for o in inner.outbound.values() {
            if o.state == OutboundState::Pending {
                heads.entry(&o.session).or_insert(o.id);
            }
        }
        let mut due: Vec<i64> = heads
            .into_values()
            .filter(|id| inner.outbound[id].next_at.is_some_and(|at| at <= now))
            .collect();
        due.sort_unstable();
        due.truncate(limit as usize);
        Ok(due
            .into_iter()
            .filter_map(|id| {
                let o = inner.outbound.get_mut(&id)?;
                o.next_at = Some(until);
                Some(o.clone())
            })
            .collect())
    }

    async fn update_outbound(
        &self,
        id: i64,
        update: &OutboundUpdate,
    ) -> Result<Option<OutboundRecord>, StoreError> {
        let mut inner = self.lock();
        if let Some(sid) = &update.sid
            && inner
                .outbound
                .values()
                .any(|o| o.id != id && o.sid.as_ref() == Some(sid))
        {
            return Err(StoreError::Conflict);
        }
        let Some(o) = inner.outbound.get_mut(&id) else {
            return Ok(None);
        };
        if update.attempted {
            o.attempts += 1;
        }
        o.state = update.state;
        if update.sid.is_some() {
            o.sid.clone_from(&update.sid);
        }
        o.next_at = update.next_at;
        o.uncertain = update.uncertain;
        o.error.clone_from(&update.error);
        o.updated_at = update.at;
        Ok(Some(o.clone()))
    }

    async fn outbound_by_sid(&self, sid: &str) -> Result<Option<OutboundRecord>, StoreError> {
        Ok(self
            .lock()
            .outbound
            .values()
            .find(|o| o.sid.as_deref() == Some(sid))
            .cloned())
    }

    async fn session_outbound(
        &self,
        session: &SessionId,
    ) -> Result<Vec<OutboundRecord>, StoreError> {
        Ok(self
            .lock()
            .outbound
            .values()
            .filter(|o| &o.session == session)
            .cloned()
            .collect())
    }

    async fn put_workflow(&self, v: &WorkflowVersion, replace: bool) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        inner
            .workflow_versions
            .entry((v.name.clone(), v.fingerprint.clone()))
            .or_insert_with(|| v.clone());
        if !replace && inner.current_workflows.contains_key(&v.name) {
            return Ok(inner.current_workflows.get(&v.name) == Some(&v.fingerprint));
        }
        inner
            .current_workflows
            .insert(v.name.clone(), v.fingerprint.clone());
        Ok(true)
    }

    async fn workflows(&self) -> Result<Vec<WorkflowVersion>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .current_workflows
            .iter()
            .filter_map(|(name, fp)| {
                inner
                    .workflow_versions
                    .get(&(name.clone(), fp.clone()))
                    .cloned()
            })
            .collect())
    }

    async fn workflow_version(
        &self,
        name: &str,
        fingerprint: &str,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        Ok(self
            .lock()
            .workflow_versions
            .get(&(name.to_owned(), fingerprint.to_owned()))
            .cloned())
    }

    async fn deliveries(
        &self,
        webhook: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .deliveries
            .values()
            .rev()
            .filter(|d| webhook.is_none_or(|w| d.webhook == w))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn delete_agent_tokens_of(&self, user: &str) -> Result<u64, StoreError> {
        Ok(delete_tokens_of(&mut self.lock().tokens, user))
    }
}

impl MemoryStore {
    /// The report facts of `session`, which must exist.
    fn facts<R>(
        &self,
        session: &SessionId,
        f: impl FnOnce(&mut ReportFacts) -> R,
    ) -> Result<R, StoreError> {
        let mut inner = self.lock();
        if !inner.sessions.contains_key(session) {
            return Err(not_found(&format!("session {session}")));
        }
        Ok(f(inner.reports.entry(session.clone()).or_default()))
    }
}

#[async_trait]
impl ReportStore for MemoryStore {
    async fn record_offer(&self, session: &SessionId, at: UnixMillis) -> Result<(), StoreError> {
        self.facts(session, |r| {
            r.offered_at.get_or_insert(at);
            r.offers += 1;
        })
    }

    async fn record_outcome(
        &self,
        session: &SessionId,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        self.facts(session, |r| r.outcome = Some(outcome))
    }

    async fn record_workflow_step(
        &self,
        session: &SessionId,
        _at: UnixMillis,
        label: &str,
    ) -> Result<(), StoreError> {
        self.facts(session, |r| r.path.push(label.to_owned()))
    }

    async fn record_satisfaction(
        &self,
        session: &SessionId,
        _at: UnixMillis,
        rating: &Satisfaction,
    ) -> Result<bool, StoreError> {
        self.facts(session, |r| {
            let first = r.satisfaction.is_none();
            r.satisfaction.get_or_insert_with(|| rating.clone());
            first
        })
    }

    async fn claim_transcript_email(
        &self,
        session: &SessionId,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.facts(session, |r| {
            let first = r.transcript_emailed_at.is_none();
            r.transcript_emailed_at.get_or_insert(at);
            first
        })
    }

    async fn report_rows(&self, q: &ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        let inner = self.lock();
        let mut sessions: Vec<&SessionRecord> = inner
            .sessions
            .values()
            .filter(|s| {
                selects(
                    s,
                    q.kind,
                    q.service.as_deref(),
                    q.user.as_deref(),
                    q.channel,
                ) && q.from.is_none_or(|from| s.created_at >= from)
                    && q.to.is_none_or(|to| s.created_at < to)
                    && q.after
                        .as_ref()
                        .is_none_or(|after| (s.created_at, &s.id) > (after.0, &after.1))
            })
            .collect();
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions
            .into_iter()
            .take(q.limit)
            .map(|s| {
                let facts = inner.reports.get(&s.id);
                ReportRow {
                    id: s.id.clone(),
                    target: s.target.clone(),
                    channel: s.channel,
                    created_at: s.created_at,
                    offered_at: facts.and_then(|f| f.offered_at),
                    offers: facts.map_or(0, |f| f.offers),
                    recorded_outcome: facts.and_then(|f| f.outcome),
                    events: inner
                        .events
                        .get(&s.id)
                        .into_iter()
                        .flatten()
                        .map(|e| (e.at, e.event.clone()))
                        .collect(),
                    workflow_path: facts.map(|f| f.path.clone()).unwrap_or_default(),
                    satisfaction: facts.and_then(|f| f.satisfaction.clone()),
                }
            })
            .collect())
    }

    async fn usage_rows(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let inner = self.lock();
        let mut sessions: Vec<&SessionRecord> = inner
            .sessions
            .values()
            .filter(|s| {
                selects(
                    s,
                    q.kind,
                    q.service.as_deref(),
                    q.user.as_deref(),
                    q.channel,
                ) && s.created_at < q.to
                    && s.ended.is_none_or(|(at, _)| at >= q.from)
                    && q.after
                        .as_ref()
                        .is_none_or(|after| (s.created_at, &s.id) > (after.0, &after.1))
            })
            .collect();
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions
            .into_iter()
            .take(q.limit)
            .map(|s| {
                let events = inner.events.get(&s.id).map(Vec::as_slice).unwrap_or(&[]);
                let mut messages: BTreeMap<Day, MessageCount> = BTreeMap::new();
                for e in events {
                    let SessionEvent::Message { from, .. } = &e.event else {
                        continue;
                    };
                    if e.at < q.from || e.at >= q.to {
                        continue;
                    }
                    let day = Day::of(e.at);
                    let count = messages.entry(day).or_insert(MessageCount {
                        day,
                        inbound: 0,
                        outbound: 0,
                    });
                    match from {
                        Party::Visitor => count.inbound += 1,
                        Party::Agent | Party::System => count.outbound += 1,
                    }
                }
                UsageRow {
                    id: s.id.clone(),
                    target: s.target.clone(),
                    channel: s.channel,
                    created_at: s.created_at,
                    events: events
                        .iter()
                        .filter(|e| !matches!(e.event, SessionEvent::Message { .. }))
                        .map(|e| (e.at, e.event.clone()))
                        .collect(),
                    messages: messages.into_values().collect(),
                }
            })
            .collect())
    }
}

/// Whether a report's or usage report's filters select session `s`.
fn selects(
    s: &SessionRecord,
    kind: Option<TargetKind>,
    service: Option<&str>,
    user: Option<&str>,
    channel: Option<interact_model::Channel>,
) -> bool {
    let (k, id) = match &s.target {
        TargetRef::Service(id) => (TargetKind::Service, id.as_str()),
        TargetRef::User(id) => (TargetKind::User, id.as_str()),
    };
    kind.is_none_or(|x| x == k)
        && service.is_none_or(|x| k == TargetKind::Service && x == id)
        && user.is_none_or(|x| k == TargetKind::User && x == id)
        && channel.is_none_or(|c| c == s.channel)
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;

    async fn fresh() -> (MemoryStore, ()) {
        (MemoryStore::default(), ())
    }

    crate::store_conformance_tests!(fresh);
}
