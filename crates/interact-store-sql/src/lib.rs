//! What the SQL store backends (`interact-store-sqlite`, `interact-store-postgres`) have
//! in common: the SQL of every [`Store`](interact_store::Store) and
//! [`ReportStore`](interact_store::ReportStore) method but the event append (portable SQL
//! with `$n` placeholders, written once in [`sql_store!`]), the stored forms of times and
//! JSON values, how a database error becomes a [`StoreError`], and the append queue of
//! group commit ([`AppendJob`], with the fencing of its jobs: [`fenced_out`]). Each backend
//! keeps what differs: opening the database, its migrations, the statements that write a
//! group of appends (and read the leases of its fenced ones), and the two SQL fragments
//! [`sql_store!`] takes (how a transaction that reads then writes begins, and how a claim
//! of webhook deliveries locks the rows it takes).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use interact_sdk::ids::SessionId;
use interact_sdk::time::UnixMillis;
use interact_store::{EncodedEvent, Epoch, StoreError};
use tokio::sync::oneshot;

#[doc(hidden)]
pub mod __private {
    pub use {
        async_trait, interact_model, interact_report, interact_sdk, interact_store, sqlx, tokio,
    };
}

/// `?` for sqlx's errors: they become [`StoreError::Backend`].
pub trait Sql<T> {
    /// The result with the error as a [`StoreError`].
    fn sql(self) -> Result<T, StoreError>;
}

impl<T> Sql<T> for Result<T, sqlx::Error> {
    fn sql(self) -> Result<T, StoreError> {
        self.map_err(StoreError::backend)
    }
}

impl<T> Sql<T> for Result<T, sqlx::migrate::MigrateError> {
    fn sql(self) -> Result<T, StoreError> {
        self.map_err(StoreError::backend)
    }
}

/// Most appends committed in one transaction.
pub const MAX_GROUP: usize = 256;

/// Most events written by one statement (4 parameters each in SQLite, far below its
/// limit of 32,766; four arrays of this length in PostgreSQL).
pub const MAX_ROWS: usize = 1024;

/// One `append_events` (or `append_events_fenced`) call waiting for its commit.
#[derive(Debug)]
pub struct AppendJob {
    /// The session.
    pub session: SessionId,
    /// The lease epoch the append is fenced by (`append_events_fenced`): written only if
    /// it is the session's current one. `None` for a plain `append_events`.
    pub epoch: Option<Epoch>,
    /// Its events, in order.
    pub events: Vec<EncodedEvent>,
    /// Answered once the events are durable (or not).
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

/// Waits for the next append and adds it to `group` with every append already waiting
/// behind it, up to [`MAX_GROUP`] appends or [`MAX_ROWS`] events: the next group a
/// backend's group commit writes. `false` once the queue has closed (the store is gone).
pub async fn next_group(
    rx: &mut tokio::sync::mpsc::Receiver<AppendJob>,
    group: &mut Vec<AppendJob>,
) -> bool {
    let Some(first) = rx.recv().await else {
        return false;
    };
    let mut rows = first.events.len();
    group.push(first);
    while group.len() < MAX_GROUP && rows < MAX_ROWS {
        match rx.try_recv() {
            Ok(job) => {
                rows += job.events.len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    true
}

/// The sessions whose lease a group's fenced appends are checked against, each once:
/// what a backend reads (locking it against claims) in the transaction that writes them.
pub fn fenced_sessions(jobs: &[AppendJob]) -> Vec<&str> {
    let mut sessions: Vec<&str> = jobs
        .iter()
        .filter(|j| j.epoch.is_some())
        .map(|j| j.session.as_str())
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    sessions
}

/// Which of `jobs` their fence refuses (one flag per job): those whose epoch is not their
/// session's current one in `leases` (session and epoch, as read in the transaction that
/// writes the others), a session never claimed included. Plain appends never are.
pub fn fenced_out(jobs: &[AppendJob], leases: &[(String, i64)]) -> Vec<bool> {
    jobs.iter()
        .map(|j| {
            j.epoch.is_some_and(|e| {
                let current = leases.iter().find(|(s, _)| s == j.session.as_str());
                current.is_none_or(|&(_, c)| c != db_epoch(e))
            })
        })
        .collect()
}

/// Answers the callers of a written group, in order: [`StoreError::Fenced`] where
/// `fenced` (from [`fenced_out`]) says so, `Ok` (durable) for the others.
pub fn answer(jobs: impl IntoIterator<Item = AppendJob>, fenced: &[bool]) {
    for (job, &fenced) in jobs.into_iter().zip(fenced) {
        let _ = job.done.send(if fenced {
            Err(StoreError::Fenced)
        } else {
            Ok(())
        });
    }
}

/// An epoch as stored (`BIGINT`).
pub fn db_epoch(e: Epoch) -> i64 {
    i64::try_from(e.0).unwrap_or(i64::MAX)
}

/// A stored epoch.
pub fn epoch(v: i64) -> Epoch {
    Epoch(u64::try_from(v).unwrap_or(0))
}

/// Milliseconds as stored (`BIGINT`) into a time.
pub fn ms(v: i64) -> UnixMillis {
    UnixMillis(u64::try_from(v).unwrap_or(0))
}

/// A time as stored (`BIGINT`).
pub fn db(v: UnixMillis) -> i64 {
    i64::try_from(v.0).unwrap_or(i64::MAX)
}

/// The JSON a value is stored as.
pub fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| unreachable!("serialising stored values: {e}"))
}

/// A stored JSON value; [`StoreError::Corrupt`] if it does not parse.
pub fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A failed write as the store reports it: a unique key taken is a conflict, a foreign
/// key a missing row (what the write refers to is not there).
pub fn conflict(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound(d.message().to_owned())
        }
        _ => StoreError::backend(e),
    }
}

/// The columns of a session row, in the order the queries select them.
pub const SESSION_COLUMNS: &str = "id, embed_code, target, start_id, start_key, token_hash, visitor_name, \
     visitor_email, consent_version, consent_at, origin, agent_id, created_at, ended_at, end_reason, \
     visitor_seen_at, channel, visitor_id";

/// The columns of a webhook delivery row, in the order the queries select them.
pub const DELIVERY_COLUMNS: &str = "id, webhook, event, body, created_at, attempts, next_at, \
     last_status, last_error, delivered_at";

/// The columns of an outbound piece, in the order the queries select them.
pub const OUTBOUND_COLUMNS: &str = "id, session_id, message_id, part, seq, connector, to_address, \
     body, created_at, attempts, next_at, state, sid, uncertain, error, updated_at";

/// Most ids bound in one `IN (...)` list (far below SQLite's and PostgreSQL's limits).
pub const MAX_IDS: usize = 512;

/// A bound value of a query built at run time.
#[derive(Clone, Debug)]
pub enum Param {
    /// A text.
    Text(String),
    /// An integer.
    Int(i64),
}

/// `$first, $first+1, ...` for `n` values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Implements [`Store`](interact_store::Store) and
/// [`ReportStore`](interact_store::ReportStore) for `$store`, a backend on the sqlx
/// database `$db` whose rows are `$row`. `$store` must have the fields `pool` (a
/// `sqlx::Pool<$db>`) and `appends` (a `tokio::sync::mpsc::Sender<`[`AppendJob`]`>`,
/// drained by the backend's group commit), and `$db` must take every statement here as it
/// is (portable SQL, `$n` placeholders).
///
/// What differs between the backends is given as two SQL fragments:
/// - `write_transaction`: the statement that begins a transaction that reads and then
///   writes (SQLite: `BEGIN IMMEDIATE`, which takes the write lock at once, so that two
///   such transactions queue rather than one failing at its first write; PostgreSQL:
///   `BEGIN`);
/// - `claim_lock`: what follows the `SELECT` of the deliveries a claim takes (PostgreSQL:
///   `FOR UPDATE SKIP LOCKED`, so that concurrent claims take distinct rows; SQLite,
///   which has no row locks and whose write transactions are serialized: nothing).
#[macro_export]
macro_rules! sql_store {
    (
        $store:ident, $db:ty, $row:ty,
        write_transaction = $begin:literal,
        claim_lock = $claim_lock:literal $(,)?
    ) => {
        const _: () = {
            use std::collections::HashMap;
            use std::str::FromStr;

            use $crate::__private::async_trait;
            use $crate::__private::interact_model::TargetRef;
            use $crate::__private::interact_report::{
                Day, MessageCount, Outcome, ReportQuery, ReportRow, Satisfaction, TargetKind,
                UsageQuery, UsageRow,
            };
            use $crate::__private::interact_sdk::embed::EmbedCode;
            use $crate::__private::interact_sdk::ids::{AgentId, SessionId};
            use $crate::__private::interact_sdk::protocol::{EndReason, EventFrame, SessionEvent};
            use $crate::__private::interact_sdk::time::UnixMillis;
            use $crate::__private::interact_store::{
                AnswerRecord, Attempt, AuditEntry, DeliveryRecord, EmbedCodeRecord, EncodedEvent, Epoch,
                LIFECYCLE_PREFIXES, MESSAGE_IN_PATTERN, MESSAGE_OUT_PATTERNS, NewDelivery,
                NewOutbound, NoteRecord, OfflineAnswer, OfflineMessageRecord, OutboundRecord,
                OutboundState,
                OutboundUpdate, ReportStore, SessionRecord, Store, StoreError,
                TemplateRecord, WebhookRecord, ConfigItem, WorkflowRunRecord, WorkflowVersion,
            };
            use $crate::__private::sqlx::{self, Row as _};
            use $crate::__private::tokio::sync::oneshot;
            use $crate::{
                AppendJob, DELIVERY_COLUMNS, MAX_IDS, OUTBOUND_COLUMNS, Param, SESSION_COLUMNS, Sql as _,
                conflict, db, epoch, json, ms, parse, placeholders,
            };

            impl $store {
                /// Queues an append for the backend's group commit and waits for its answer.
                async fn enqueue(
                    &self,
                    session: &SessionId,
                    epoch: Option<Epoch>,
                    events: &[EncodedEvent],
                ) -> Result<(), StoreError> {
                    let (done, result) = oneshot::channel();
                    let job = AppendJob {
                        session: session.clone(),
                        epoch,
                        events: events.to_vec(),
                        done,
                    };
                    let gone = || StoreError::backend(sqlx::Error::PoolClosed);
                    self.appends.send(job).await.map_err(|_| gone())?;
                    result.await.map_err(|_| gone())?
                }

                fn embed_row(row: &$row) -> Result<EmbedCodeRecord, StoreError> {
                    let code: String = row.try_get("code").sql()?;
                    Ok(EmbedCodeRecord {
                        code: EmbedCode::from_str(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        target: parse(&row.try_get::<String, _>("target").sql()?)?,
                        template: row.try_get("template").sql()?,
                        created_at: ms(row.try_get("created_at").sql()?),
                        revoked_at: row.try_get::<Option<i64>, _>("revoked_at").sql()?.map(ms),
                    })
                }

                fn session_row(row: &$row) -> Result<SessionRecord, StoreError> {
                    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
                    let ended_at: Option<i64> = row.try_get("ended_at").sql()?;
                    let end_reason: Option<String> = row.try_get("end_reason").sql()?;
                    let ended = match (ended_at, end_reason) {
                        (Some(at), Some(r)) => Some((ms(at), parse::<EndReason>(&r)?)),
                        _ => None,
                    };
                    Ok(SessionRecord {
                        id: SessionId::new(row.try_get::<String, _>("id").sql()?).map_err(|e| corrupt(&e))?,
                        embed_code: EmbedCode::from_str(&row.try_get::<String, _>("embed_code").sql()?)
                            .map_err(|e| corrupt(&e))?,
                        target: parse(&row.try_get::<String, _>("target").sql()?)?,
                        start_id: row.try_get("start_id").sql()?,
                        start_key: row.try_get("start_key").sql()?,
                        visitor_seen_at: row
                            .try_get::<Option<i64>, _>("visitor_seen_at")
                            .sql()?
                            .map(ms),
                        token_hash: row.try_get("token_hash").sql()?,
                        visitor_name: row.try_get("visitor_name").sql()?,
                        visitor_email: row.try_get("visitor_email").sql()?,
                        consent_version: row.try_get("consent_version").sql()?,
                        consent_at: ms(row.try_get("consent_at").sql()?),
                        origin: row.try_get("origin").sql()?,
                        agent_id: row
                            .try_get::<Option<String>, _>("agent_id")
                            .sql()?
                            .map(AgentId::new)
                            .transpose()
                            .map_err(|e| corrupt(&e))?,
                        created_at: ms(row.try_get("created_at").sql()?),
                        ended,
                        channel: row
                            .try_get::<String, _>("channel")
                            .sql()?
                            .parse()
                            .map_err(|e: String| corrupt(&e))?,
                        visitor_id: row.try_get("visitor_id").sql()?,
                    })
                }

                fn audit_row(row: &$row) -> Result<AuditEntry, StoreError> {
                    Ok(AuditEntry {
                        id: row.try_get("id").sql()?,
                        at: ms(row.try_get("at").sql()?),
                        actor: row.try_get("actor").sql()?,
                        action: row.try_get("action").sql()?,
                        target: row.try_get("target").sql()?,
                        before: row.try_get("before").sql()?,
                        after: row.try_get("after").sql()?,
                    })
                }

                fn webhook_row(row: &$row) -> Result<WebhookRecord, StoreError> {
                    Ok(WebhookRecord {
                        id: row.try_get("id").sql()?,
                        url: row.try_get("url").sql()?,
                        secret: row.try_get("secret").sql()?,
                        events: parse(&row.try_get::<String, _>("events").sql()?)?,
                        created_at: ms(row.try_get("created_at").sql()?),
                    })
                }

                fn offline_row(row: &$row) -> Result<OfflineMessageRecord, StoreError> {
                    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
                    let answer = match (
                        row.try_get::<Option<String>, _>("answered_by").sql()?,
                        row.try_get::<Option<String>, _>("answer").sql()?,
                        row.try_get::<Option<i64>, _>("answered_at").sql()?,
                    ) {
                        (Some(agent), Some(text), Some(at)) => Some(OfflineAnswer {
                            agent: AgentId::new(agent).map_err(|e| corrupt(&e))?,
                            text,
                            at: ms(at),
                        }),
                        _ => None,
                    };
                    Ok(OfflineMessageRecord {
                        id: row.try_get("id").sql()?,
                        request_key: row.try_get("request_key").sql()?,
                        embed_code: EmbedCode::from_str(&row.try_get::<String, _>("embed_code").sql()?)
                            .map_err(|e| corrupt(&e))?,
                        target: parse(&row.try_get::<String, _>("target").sql()?)?,
                        visitor_name: row.try_get("visitor_name").sql()?,
                        visitor_email: row.try_get("visitor_email").sql()?,
                        text: row.try_get("body").sql()?,
                        consent_version: row.try_get("consent_version").sql()?,
                        origin: row.try_get("origin").sql()?,
                        context: row
                            .try_get::<Option<String>, _>("context")
                            .sql()?
                            .map(|c| parse(&c))
                            .transpose()?,
                        created_at: ms(row.try_get("created_at").sql()?),
                        answer,
                    })
                }

                fn workflow_row(row: &$row) -> Result<WorkflowVersion, StoreError> {
                    Ok(WorkflowVersion {
                        name: row.try_get("name").sql()?,
                        fingerprint: row.try_get("fingerprint").sql()?,
                        definition: row.try_get("definition").sql()?,
                        created_at: ms(row.try_get("created_at").sql()?),
                    })
                }

                fn delivery_row(row: &$row) -> Result<DeliveryRecord, StoreError> {
                    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
                    Ok(DeliveryRecord {
                        id: row.try_get("id").sql()?,
                        webhook: row.try_get("webhook").sql()?,
                        event: row.try_get("event").sql()?,
                        body: row.try_get("body").sql()?,
                        created_at: ms(row.try_get("created_at").sql()?),
                        attempts: u32::try_from(row.try_get::<i64, _>("attempts").sql()?)
                            .map_err(|e| corrupt(&e))?,
                        next_at: row.try_get::<Option<i64>, _>("next_at").sql()?.map(ms),
                        last_status: row
                            .try_get::<Option<i64>, _>("last_status")
                            .sql()?
                            .map(u16::try_from)
                            .transpose()
                            .map_err(|e| corrupt(&e))?,
                        last_error: row.try_get("last_error").sql()?,
                        delivered_at: row.try_get::<Option<i64>, _>("delivered_at").sql()?.map(ms),
                    })
                }

                fn outbound_row(row: &$row) -> Result<OutboundRecord, StoreError> {
                    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
                    let state: String = row.try_get("state").sql()?;
                    Ok(OutboundRecord {
                        id: row.try_get("id").sql()?,
                        session: SessionId::new(row.try_get::<String, _>("session_id").sql()?)
                            .map_err(|e| corrupt(&e))?,
                        message: row.try_get("message_id").sql()?,
                        part: u32::try_from(row.try_get::<i64, _>("part").sql()?)
                            .map_err(|e| corrupt(&e))?,
                        seq: $crate::__private::interact_sdk::ids::Seq(
                            u64::try_from(row.try_get::<i64, _>("seq").sql()?)
                                .map_err(|e| corrupt(&e))?,
                        ),
                        connector: row.try_get("connector").sql()?,
                        to: row.try_get("to_address").sql()?,
                        body: row.try_get("body").sql()?,
                        created_at: ms(row.try_get("created_at").sql()?),
                        attempts: u32::try_from(row.try_get::<i64, _>("attempts").sql()?)
                            .map_err(|e| corrupt(&e))?,
                        next_at: row.try_get::<Option<i64>, _>("next_at").sql()?.map(ms),
                        state: OutboundState::parse(&state)
                            .ok_or_else(|| corrupt(&format!("outbound state {state:?}")))?,
                        sid: row.try_get("sid").sql()?,
                        uncertain: row.try_get::<i64, _>("uncertain").sql()? != 0,
                        error: row.try_get("error").sql()?,
                        updated_at: ms(row.try_get("updated_at").sql()?),
                    })
                }

                /// Sign-in tokens live in two tables of one shape: `agent_tokens` (the
                /// console's) and `admin_tokens` (the administration's and Preview tickets).
                async fn put_token(
                    pool: &sqlx::Pool<$db>,
                    table: &str,
                    hash: &str,
                    user: &str,
                    at: UnixMillis,
                    expires: UnixMillis,
                ) -> Result<(), StoreError> {
                    let sql = format!("INSERT INTO {table} (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)");
                    sqlx::query(&sql)
                        .bind(hash)
                        .bind(user)
                        .bind(db(at))
                        .bind(db(expires))
                        .execute(pool)
                        .await
                        .map_err(conflict)?;
                    Ok(())
                }

                async fn get_token(
                    pool: &sqlx::Pool<$db>,
                    table: &str,
                    hash: &str,
                    now: UnixMillis,
                ) -> Result<Option<(String, UnixMillis)>, StoreError> {
                    let sql = format!("SELECT user_id, expires_at FROM {table} WHERE token_hash = $1 AND expires_at > $2");
                    let row = sqlx::query(&sql)
                        .bind(hash)
                        .bind(db(now))
                        .fetch_optional(pool)
                        .await
                        .sql()?;
                    row.map(|r| {
                        Ok((
                            r.try_get("user_id").sql()?,
                            ms(r.try_get("expires_at").sql()?),
                        ))
                    })
                    .transpose()
                }

                /// Deletes the tokens of `table` whose `column` is `value`; how many.
                async fn delete_tokens(
                    pool: &sqlx::Pool<$db>,
                    table: &str,
                    column: &str,
                    value: &str,
                ) -> Result<u64, StoreError> {
                    let sql = format!("DELETE FROM {table} WHERE {column} = $1");
                    let r = sqlx::query(&sql).bind(value).execute(pool).await.sql()?;
                    Ok(r.rows_affected())
                }

                async fn insert_events(
                    tx: &mut sqlx::Transaction<'_, $db>,
                    session: &SessionId,
                    events: &[EncodedEvent],
                ) -> Result<(), StoreError> {
                    for e in events {
                        sqlx::query(
                            "INSERT INTO session_events (session_id, seq, at, event) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(session.as_str())
                        .bind(i64::try_from(e.seq.0).unwrap_or(i64::MAX))
                        .bind(db(e.at))
                        .bind(e.event_json())
                        .execute(&mut **tx)
                        .await
                        .map_err(conflict)?;
                        if let Some(reason) = &e.ended {
                            sqlx::query("UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3")
                                .bind(db(e.at))
                                .bind(json(reason))
                                .bind(session.as_str())
                                .execute(&mut **tx)
                                .await
                                .sql()?;
                            sqlx::query("DELETE FROM workflow_runs WHERE session_id = $1")
                                .bind(session.as_str())
                                .execute(&mut **tx)
                                .await
                                .sql()?;
                        }
                    }
                    Ok(())
                }
            }

            #[async_trait::async_trait]
            impl Store for $store {
                async fn put_template(&self, t: &TemplateRecord, at: UnixMillis) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO domain_templates (name, origins, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET origins = excluded.origins, updated_at = excluded.updated_at",
                    )
                    .bind(&t.name)
                    .bind(json(&t.origins))
                    .bind(db(at))
                    .execute(&self.pool)
                    .await.sql()?;
                    Ok(())
                }

                async fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
                    let rows = sqlx::query("SELECT name, origins FROM domain_templates ORDER BY name")
                        .fetch_all(&self.pool)
                        .await
                        .sql()?;
                    rows.iter()
                        .map(|r| {
                            Ok(TemplateRecord {
                                name: r.try_get("name").sql()?,
                                origins: parse(&r.try_get::<String, _>("origins").sql()?)?,
                            })
                        })
                        .collect()
                }

                async fn delete_template(&self, name: &str) -> Result<bool, StoreError> {
                    let used: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM embed_codes WHERE template = $1 AND revoked_at IS NULL",
                    )
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await
                    .sql()?;
                    if used > 0 {
                        return Err(StoreError::Conflict);
                    }
                    // Revoked embed codes are kept and still name their template (a foreign key).
                    let r = sqlx::query("DELETE FROM domain_templates WHERE name = $1")
                        .bind(name)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| match conflict(e) {
                            StoreError::NotFound(m) => StoreError::Referenced(m),
                            other => other,
                        })?;
                    Ok(r.rows_affected() > 0)
                }

                async fn create_embed_code(&self, r: &EmbedCodeRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO embed_codes (code, target, template, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)",
                    )
                    .bind(r.code.as_str())
                    .bind(json(&r.target))
                    .bind(&r.template)
                    .bind(db(r.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(())
                }

                async fn embed_code(&self, code: &EmbedCode) -> Result<Option<EmbedCodeRecord>, StoreError> {
                    let row = sqlx::query("SELECT * FROM embed_codes WHERE code = $1")
                        .bind(code.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .sql()?;
                    row.as_ref().map(Self::embed_row).transpose()
                }

                async fn embed_codes(&self) -> Result<Vec<EmbedCodeRecord>, StoreError> {
                    let rows = sqlx::query("SELECT * FROM embed_codes ORDER BY created_at, code")
                        .fetch_all(&self.pool)
                        .await
                        .sql()?;
                    rows.iter().map(Self::embed_row).collect()
                }

                async fn revoke_embed_code(
                    &self,
                    code: &EmbedCode,
                    at: UnixMillis,
                ) -> Result<bool, StoreError> {
                    let r = sqlx::query(
                        "UPDATE embed_codes SET revoked_at = $1 WHERE code = $2 AND revoked_at IS NULL",
                    )
                    .bind(db(at))
                    .bind(code.as_str())
                    .execute(&self.pool)
                    .await
                    .sql()?;
                    Ok(r.rows_affected() > 0)
                }

                async fn set_identity_secret(
                    &self,
                    code: &EmbedCode,
                    secret: Option<&str>,
                ) -> Result<bool, StoreError> {
                    let r = sqlx::query("UPDATE embed_codes SET identity_secret = $1 WHERE code = $2")
                        .bind(secret)
                        .bind(code.as_str())
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(r.rows_affected() > 0)
                }

                async fn identity_secret(&self, code: &EmbedCode) -> Result<Option<String>, StoreError> {
                    let secret: Option<Option<String>> =
                        sqlx::query_scalar("SELECT identity_secret FROM embed_codes WHERE code = $1")
                            .bind(code.as_str())
                            .fetch_optional(&self.pool)
                            .await
                            .sql()?;
                    Ok(secret.flatten())
                }

                async fn visitor_sessions(
                    &self,
                    code: &EmbedCode,
                    visitor_id: &str,
                    limit: u32,
                ) -> Result<Vec<SessionRecord>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE embed_code = $1 AND visitor_id = $2 \
                         AND ended_at IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT $3"
                    ))
                    .bind(code.as_str())
                    .bind(visitor_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter().map(Self::session_row).collect()
                }

                async fn session_by_start_key(&self, key: &str) -> Result<Option<SessionRecord>, StoreError> {
                    let row = sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE start_key = $1"
                    ))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?;
                    row.as_ref().map(Self::session_row).transpose()
                }

                async fn set_token_hash(&self, session: &SessionId, hash: &str) -> Result<(), StoreError> {
                    sqlx::query("UPDATE sessions SET token_hash = $1 WHERE id = $2")
                        .bind(hash)
                        .bind(session.as_str())
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(())
                }

                async fn set_visitor_seen(
                    &self,
                    session: &SessionId,
                    at: UnixMillis,
                ) -> Result<(), StoreError> {
                    sqlx::query("UPDATE sessions SET visitor_seen_at = $1 WHERE id = $2")
                        .bind(db(at))
                        .bind(session.as_str())
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(())
                }

                async fn create_session(
                    &self,
                    s: &SessionRecord,
                    events: &[EncodedEvent],
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.sql()?;
                    sqlx::query(
                        "INSERT INTO sessions (id, embed_code, target, start_id, token_hash, visitor_name, visitor_email, \
                         consent_version, consent_at, origin, agent_id, created_at, ended_at, end_reason, \
                         start_key, visitor_seen_at, channel, visitor_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, $13, $14, $15, $16)",
                    )
                    .bind(s.id.as_str())
                    .bind(s.embed_code.as_str())
                    .bind(json(&s.target))
                    .bind(&s.start_id)
                    .bind(&s.token_hash)
                    .bind(&s.visitor_name)
                    .bind(&s.visitor_email)
                    .bind(&s.consent_version)
                    .bind(db(s.consent_at))
                    .bind(&s.origin)
                    .bind(s.agent_id.as_ref().map(AgentId::as_str))
                    .bind(db(s.created_at))
                    .bind(s.start_key.as_deref())
                    .bind(s.visitor_seen_at.map(db))
                    .bind(s.channel.as_str())
                    .bind(s.visitor_id.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                    Self::insert_events(&mut tx, &s.id, events).await?;
                    tx.commit().await.sql()?;
                    Ok(())
                }

                async fn append_events(
                    &self,
                    session: &SessionId,
                    events: &[EncodedEvent],
                ) -> Result<(), StoreError> {
                    self.enqueue(session, None, events).await
                }

                async fn claim_session(
                    &self,
                    id: &SessionId,
                    node: &str,
                    at: UnixMillis,
                ) -> Result<Epoch, StoreError> {
                    // One statement: the row's lock orders concurrent claims, each sees the
                    // epoch the one before wrote.
                    let claimed: i64 = sqlx::query_scalar(
                        "INSERT INTO session_leases (session_id, node, epoch, claimed_at) \
                         VALUES ($1, $2, 1, $3) \
                         ON CONFLICT (session_id) DO UPDATE SET node = excluded.node, \
                         epoch = session_leases.epoch + 1, claimed_at = excluded.claimed_at \
                         RETURNING epoch",
                    )
                    .bind(id.as_str())
                    .bind(node)
                    .bind(db(at))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| match conflict(e) {
                        StoreError::NotFound(_) => StoreError::NotFound(format!("session {id}")),
                        other => other,
                    })?;
                    Ok(epoch(claimed))
                }

                async fn session_owner(
                    &self,
                    id: &SessionId,
                ) -> Result<Option<(String, Epoch)>, StoreError> {
                    let row = sqlx::query("SELECT node, epoch FROM session_leases WHERE session_id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .sql()?;
                    row.map(|r| Ok((r.try_get("node").sql()?, epoch(r.try_get("epoch").sql()?))))
                        .transpose()
                }

                async fn append_events_fenced(
                    &self,
                    id: &SessionId,
                    epoch: Epoch,
                    events: &[EncodedEvent],
                ) -> Result<(), StoreError> {
                    // The backend's group write checks the epoch in its transaction.
                    self.enqueue(id, Some(epoch), events).await
                }

                async fn set_session_agent(
                    &self,
                    session: &SessionId,
                    agent: &AgentId,
                ) -> Result<(), StoreError> {
                    sqlx::query("UPDATE sessions SET agent_id = $1 WHERE id = $2")
                        .bind(agent.as_str())
                        .bind(session.as_str())
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(())
                }

                async fn transfer_session(
                    &self,
                    session: &SessionId,
                    target: &TargetRef,
                ) -> Result<(), StoreError> {
                    sqlx::query("UPDATE sessions SET target = $1, agent_id = NULL WHERE id = $2")
                        .bind(json(target))
                        .bind(session.as_str())
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(())
                }

                async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
                    let row = sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
                    ))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?;
                    row.as_ref().map(Self::session_row).transpose()
                }

                async fn events(&self, id: &SessionId) -> Result<Vec<EventFrame>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT seq, at, event FROM session_events WHERE session_id = $1 ORDER BY seq",
                    )
                    .bind(id.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter()
                        .map(|r| {
                            Ok(EventFrame {
                                session: id.clone(),
                                seq: interact_sdk::ids::Seq(
                                    u64::try_from(r.try_get::<i64, _>("seq").sql()?).unwrap_or(0),
                                ),
                                at: ms(r.try_get("at").sql()?),
                                event: parse(&r.try_get::<String, _>("event").sql()?)?,
                            })
                        })
                        .collect()
                }

                async fn open_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE ended_at IS NULL ORDER BY created_at"
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter().map(Self::session_row).collect()
                }

                async fn open_session_from(
                    &self,
                    channel: $crate::__private::interact_model::Channel,
                    target: &TargetRef,
                    origin: &str,
                ) -> Result<Option<SessionRecord>, StoreError> {
                    let row = sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE ended_at IS NULL \
                         AND origin = $1 AND target = $2 AND channel = $3 \
                         ORDER BY created_at DESC, id DESC LIMIT 1"
                    ))
                    .bind(origin)
                    .bind(json(target))
                    .bind(channel.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?;
                    row.as_ref().map(Self::session_row).transpose()
                }

                async fn put_workflow_run(&self, run: &WorkflowRunRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO workflow_runs (session_id, workflow, fingerprint, state, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (session_id) DO UPDATE SET workflow = excluded.workflow, \
                         fingerprint = excluded.fingerprint, state = excluded.state, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(run.session.as_str())
                    .bind(&run.workflow)
                    .bind(&run.fingerprint)
                    .bind(&run.state)
                    .bind(db(run.updated_at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(())
                }

                async fn workflow_run(
                    &self,
                    session: &SessionId,
                ) -> Result<Option<WorkflowRunRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT workflow, fingerprint, state, updated_at FROM workflow_runs \
                         WHERE session_id = $1",
                    )
                    .bind(session.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?;
                    row.map(|r| {
                        Ok(WorkflowRunRecord {
                            session: session.clone(),
                            workflow: r.try_get("workflow").sql()?,
                            fingerprint: r.try_get("fingerprint").sql()?,
                            state: r.try_get("state").sql()?,
                            updated_at: ms(r.try_get("updated_at").sql()?),
                        })
                    })
                    .transpose()
                }

                async fn delete_workflow_run(&self, session: &SessionId) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM workflow_runs WHERE session_id = $1")
                        .bind(session.as_str())
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(())
                }

                async fn put_agent_token(
                    &self,
                    hash: &str,
                    user: &str,
                    at: UnixMillis,
                    expires: UnixMillis,
                ) -> Result<(), StoreError> {
                    Self::put_token(&self.pool, "agent_tokens", hash, user, at, expires).await
                }

                async fn agent_token(
                    &self,
                    hash: &str,
                    now: UnixMillis,
                ) -> Result<Option<(String, UnixMillis)>, StoreError> {
                    Self::get_token(&self.pool, "agent_tokens", hash, now).await
                }

                async fn delete_agent_token(&self, hash: &str) -> Result<(), StoreError> {
                    Self::delete_tokens(&self.pool, "agent_tokens", "token_hash", hash).await.map(drop)
                }

                async fn put_admin_token(
                    &self,
                    hash: &str,
                    user: &str,
                    at: UnixMillis,
                    expires: UnixMillis,
                ) -> Result<(), StoreError> {
                    Self::put_token(&self.pool, "admin_tokens", hash, user, at, expires).await
                }

                async fn admin_token(
                    &self,
                    hash: &str,
                    now: UnixMillis,
                ) -> Result<Option<(String, UnixMillis)>, StoreError> {
                    Self::get_token(&self.pool, "admin_tokens", hash, now).await
                }

                async fn delete_admin_token(&self, hash: &str) -> Result<(), StoreError> {
                    Self::delete_tokens(&self.pool, "admin_tokens", "token_hash", hash).await.map(drop)
                }

                async fn delete_admin_tokens_of(&self, user: &str) -> Result<u64, StoreError> {
                    Self::delete_tokens(&self.pool, "admin_tokens", "user_id", user).await
                }

                async fn put_config_item(&self, item: &ConfigItem) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO config_items (kind, name, body, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                    )
                    .bind(&item.kind)
                    .bind(&item.name)
                    .bind(&item.body)
                    .bind(db(item.updated_at))
                    .execute(&self.pool)
                    .await
                    .sql()?;
                    Ok(())
                }

                async fn config_items(&self, kind: &str) -> Result<Vec<ConfigItem>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT kind, name, body, updated_at FROM config_items WHERE kind = $1 ORDER BY name",
                    )
                    .bind(kind)
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter()
                        .map(|r| {
                            Ok(ConfigItem {
                                kind: r.try_get("kind").sql()?,
                                name: r.try_get("name").sql()?,
                                body: r.try_get("body").sql()?,
                                updated_at: ms(r.try_get("updated_at").sql()?),
                            })
                        })
                        .collect()
                }

                async fn delete_config_item(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
                    let r = sqlx::query("DELETE FROM config_items WHERE kind = $1 AND name = $2")
                        .bind(kind)
                        .bind(name)
                        .execute(&self.pool)
                        .await
                        .sql()?;
                    Ok(r.rows_affected() > 0)
                }

                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.sql()?;
                    Ok(())
                }

                async fn delete_agent_tokens_of(&self, user: &str) -> Result<u64, StoreError> {
                    Self::delete_tokens(&self.pool, "agent_tokens", "user_id", user).await
                }

                async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
                    sqlx::query_scalar(
                        "INSERT INTO audit_log (at, actor, action, target, before, after) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    )
                    .bind(db(entry.at))
                    .bind(&entry.actor)
                    .bind(&entry.action)
                    .bind(&entry.target)
                    .bind(entry.before.as_deref())
                    .bind(entry.after.as_deref())
                    .fetch_one(&self.pool)
                    .await
                    .sql()
                }

                async fn audit_log(
                    &self,
                    before: Option<i64>,
                    limit: u32,
                ) -> Result<Vec<AuditEntry>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, at, actor, action, target, before, after FROM audit_log \
                         WHERE id < $1 ORDER BY id DESC LIMIT $2",
                    )
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter().map(Self::audit_row).collect()
                }

                async fn add_session_note(&self, note: &NoteRecord) -> Result<i64, StoreError> {
                    sqlx::query_scalar(
                        "INSERT INTO session_notes (session_id, agent_id, body, created_at) \
                         VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(note.session.as_str())
                    .bind(note.agent.as_str())
                    .bind(&note.text)
                    .bind(db(note.at))
                    .fetch_one(&self.pool)
                    .await
                    .sql()
                }

                async fn session_notes(
                    &self,
                    session: &SessionId,
                ) -> Result<Vec<NoteRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, agent_id, body, created_at FROM session_notes \
                         WHERE session_id = $1 ORDER BY id",
                    )
                    .bind(session.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter()
                        .map(|row| {
                            Ok(NoteRecord {
                                id: row.try_get("id").sql()?,
                                session: session.clone(),
                                agent: AgentId::new(row.try_get::<String, _>("agent_id").sql()?)
                                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                                text: row.try_get("body").sql()?,
                                at: ms(row.try_get("created_at").sql()?),
                            })
                        })
                        .collect()
                }

                async fn put_session_answer(
                    &self,
                    answer: &AnswerRecord,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO session_answers \
                         (session_id, name, question, value, seq, answered_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (session_id, name) DO UPDATE SET \
                         question = excluded.question, value = excluded.value, \
                         seq = excluded.seq, answered_at = excluded.answered_at",
                    )
                    .bind(answer.session.as_str())
                    .bind(&answer.name)
                    .bind(&answer.question)
                    .bind(&answer.value)
                    .bind(answer.seq.map(|s| i64::try_from(s).unwrap_or(i64::MAX)))
                    .bind(db(answer.at))
                    .execute(&self.pool)
                    .await
                    .sql()?;
                    Ok(())
                }

                async fn session_answers(
                    &self,
                    session: &SessionId,
                ) -> Result<Vec<AnswerRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT name, question, value, seq, answered_at FROM session_answers \
                         WHERE session_id = $1 ORDER BY id",
                    )
                    .bind(session.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter()
                        .map(|row| {
                            Ok(AnswerRecord {
                                session: session.clone(),
                                name: row.try_get("name").sql()?,
                                question: row.try_get("question").sql()?,
                                value: row.try_get("value").sql()?,
                                seq: row
                                    .try_get::<Option<i64>, _>("seq")
                                    .sql()?
                                    .and_then(|s| u64::try_from(s).ok()),
                                at: ms(row.try_get("answered_at").sql()?),
                            })
                        })
                        .collect()
                }

                async fn put_offline_message(
                    &self,
                    m: &OfflineMessageRecord,
                ) -> Result<bool, StoreError> {
                    let r = sqlx::query(
                        "INSERT INTO offline_messages (id, request_key, embed_code, target, \
                         visitor_name, visitor_email, body, consent_version, origin, context, \
                         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (request_key) DO NOTHING",
                    )
                    .bind(&m.id)
                    .bind(&m.request_key)
                    .bind(m.embed_code.as_str())
                    .bind(json(&m.target))
                    .bind(&m.visitor_name)
                    .bind(&m.visitor_email)
                    .bind(&m.text)
                    .bind(&m.consent_version)
                    .bind(&m.origin)
                    .bind(m.context.as_ref().map(json))
                    .bind(db(m.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(r.rows_affected() > 0)
                }

                async fn offline_messages(
                    &self,
                    targets: &[TargetRef],
                    open_only: bool,
                    limit: u32,
                ) -> Result<Vec<OfflineMessageRecord>, StoreError> {
                    if targets.is_empty() || limit == 0 {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "SELECT * FROM offline_messages WHERE target IN ({}){} \
                         ORDER BY created_at DESC, id DESC LIMIT {limit}",
                        placeholders(1, targets.len()),
                        if open_only { " AND answered_at IS NULL" } else { "" },
                    );
                    let mut query = sqlx::query(&sql).persistent(false);
                    for t in targets {
                        query = query.bind(json(t));
                    }
                    let rows = query.fetch_all(&self.pool).await.sql()?;
                    rows.iter().map(Self::offline_row).collect()
                }

                async fn offline_message(
                    &self,
                    id: &str,
                ) -> Result<Option<OfflineMessageRecord>, StoreError> {
                    let row = sqlx::query("SELECT * FROM offline_messages WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .sql()?;
                    row.as_ref().map(Self::offline_row).transpose()
                }

                async fn count_open_offline_messages(
                    &self,
                    target: &TargetRef,
                ) -> Result<u64, StoreError> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM offline_messages \
                         WHERE target = $1 AND answered_at IS NULL",
                    )
                    .bind(json(target))
                    .fetch_one(&self.pool)
                    .await
                    .sql()?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn answer_offline_message(
                    &self,
                    id: &str,
                    answer: &OfflineAnswer,
                ) -> Result<bool, StoreError> {
                    let r = sqlx::query(
                        "UPDATE offline_messages SET answered_by = $1, answer = $2, \
                         answered_at = $3 WHERE id = $4 AND answered_at IS NULL",
                    )
                    .bind(answer.agent.as_str())
                    .bind(&answer.text)
                    .bind(db(answer.at))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .sql()?;
                    if r.rows_affected() > 0 {
                        return Ok(true);
                    }
                    let exists: Option<String> =
                        sqlx::query_scalar("SELECT id FROM offline_messages WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&self.pool)
                            .await
                            .sql()?;
                    match exists {
                        Some(_) => Ok(false),
                        None => Err(StoreError::NotFound(format!("offline message {id}"))),
                    }
                }

                async fn put_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO webhooks (id, url, secret, events, created_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (id) DO UPDATE SET url = excluded.url, \
                         secret = excluded.secret, events = excluded.events, \
                         created_at = excluded.created_at",
                    )
                    .bind(&w.id)
                    .bind(&w.url)
                    .bind(&w.secret)
                    .bind(json(&w.events))
                    .bind(db(w.created_at))
                    .execute(&self.pool)
                    .await
                    .sql()?;
                    Ok(())
                }

                async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, url, secret, events, created_at FROM webhooks ORDER BY id",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter().map(Self::webhook_row).collect()
                }

                async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
                    // The foreign key cascades too; deleting the deliveries here does not
                    // depend on it (SQLite enforces foreign keys only where enabled).
                    let mut tx = self.pool.begin_with($begin).await.sql()?;
                    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .sql()?;
                    let r = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .sql()?;
                    tx.commit().await.sql()?;
                    Ok(r.rows_affected() > 0)
                }

                async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<(), StoreError> {
                    if deliveries.is_empty() {
                        return Ok(());
                    }
                    // One transaction: a missing webhook (the foreign key) rolls back the
                    // ones inserted before it.
                    let mut tx = self.pool.begin_with($begin).await.sql()?;
                    for d in deliveries {
                        sqlx::query(
                            "INSERT INTO webhook_deliveries \
                             (webhook, event, body, created_at, attempts, next_at) \
                             VALUES ($1, $2, $3, $4, 0, $4)",
                        )
                        .bind(&d.webhook)
                        .bind(&d.event)
                        .bind(&d.body)
                        .bind(db(d.at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match conflict(e) {
                            StoreError::NotFound(_) => {
                                StoreError::NotFound(format!("webhook {}", d.webhook))
                            }
                            other => other,
                        })?;
                    }
                    tx.commit().await.sql()?;
                    Ok(())
                }

                async fn claim_deliveries(
                    &self,
                    now: UnixMillis,
                    until: UnixMillis,
                    limit: u32,
                ) -> Result<Vec<DeliveryRecord>, StoreError> {
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let mut tx = self.pool.begin_with($begin).await.sql()?;
                    // Locked until the commit (PostgreSQL): a concurrent claim skips them,
                    // and once this one commits they are no longer due.
                    let ids: Vec<i64> = sqlx::query_scalar(concat!(
                        "SELECT id FROM webhook_deliveries WHERE next_at <= $1 \
                         ORDER BY next_at, id LIMIT $2 ",
                        $claim_lock
                    ))
                    .bind(db(now))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .sql()?;
                    let mut claimed = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(MAX_IDS) {
                        let sql = format!(
                            "UPDATE webhook_deliveries SET next_at = $1 WHERE id IN ({}) \
                             RETURNING {DELIVERY_COLUMNS}",
                            placeholders(2, chunk.len())
                        );
                        let mut query = sqlx::query(&sql).persistent(chunk.len() <= 16).bind(db(until));
                        for id in chunk {
                            query = query.bind(*id);
                        }
                        for row in query.fetch_all(&mut *tx).await.sql()? {
                            claimed.push(Self::delivery_row(&row)?);
                        }
                    }
                    tx.commit().await.sql()?;
                    // In the order they were due (RETURNING keeps no order).
                    let order: HashMap<i64, usize> =
                        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                    claimed.sort_by_key(|d| order.get(&d.id).copied());
                    Ok(claimed)
                }

                async fn record_attempt(&self, id: i64, attempt: &Attempt) -> Result<bool, StoreError> {
                    let r = sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, \
                         last_error = $2, next_at = $3, delivered_at = COALESCE($4, delivered_at) \
                         WHERE id = $5",
                    )
                    .bind(attempt.status.map(i64::from))
                    .bind(attempt.error.as_deref())
                    .bind(attempt.next_at.map(db))
                    .bind(attempt.delivered.then(|| db(attempt.at)))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .sql()?;
                    Ok(r.rows_affected() > 0)
                }

                async fn enqueue_outbound(&self, pieces: &[NewOutbound]) -> Result<u64, StoreError> {
                    if pieces.is_empty() {
                        return Ok(0);
                    }
                    let mut tx = self.pool.begin_with($begin).await.sql()?;
                    let mut new = 0;
                    for p in pieces {
                        let r = sqlx::query(
                            "INSERT INTO outbound_messages \
                             (session_id, message_id, part, seq, connector, to_address, body, \
                              created_at, next_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8) \
                             ON CONFLICT (session_id, message_id, part) DO NOTHING",
                        )
                        .bind(p.session.as_str())
                        .bind(&p.message)
                        .bind(i64::from(p.part))
                        .bind(i64::try_from(p.seq.0).map_err(StoreError::backend)?)
                        .bind(&p.connector)
                        .bind(&p.to)
                        .bind(&p.body)
                        .bind(db(p.at))
                        .execute(&mut *tx)
                        .await
                        .sql()?;
                        new += r.rows_affected();
                    }
                    tx.commit().await.sql()?;
                    Ok(new)
                }

                async fn claim_outbound(
                    &self,
                    now: UnixMillis,
                    until: UnixMillis,
                    limit: u32,
                ) -> Result<Vec<OutboundRecord>, StoreError> {
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let mut tx = self.pool.begin_with($begin).await.sql()?;
                    // Each session's earliest pending piece, if due. A piece another claim
                    // holds (locked, PostgreSQL) is skipped, and the pieces after it are
                    // not taken: it is still pending.
                    let ids: Vec<i64> = sqlx::query_scalar(concat!(
                        "SELECT o.id FROM outbound_messages o \
                         WHERE o.state = 'pending' AND o.next_at <= $1 AND NOT EXISTS \
                         (SELECT 1 FROM outbound_messages e WHERE e.session_id = o.session_id \
                          AND e.state = 'pending' AND e.id < o.id) \
                         ORDER BY o.id LIMIT $2 ",
                        $claim_lock
                    ))
                    .bind(db(now))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .sql()?;
                    let mut claimed = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(MAX_IDS) {
                        let sql = format!(
                            "UPDATE outbound_messages SET next_at = $1 WHERE id IN ({}) \
                             RETURNING {OUTBOUND_COLUMNS}",
                            placeholders(2, chunk.len())
                        );
                        let mut query = sqlx::query(&sql).persistent(chunk.len() <= 16).bind(db(until));
                        for id in chunk {
                            query = query.bind(*id);
                        }
                        for row in query.fetch_all(&mut *tx).await.sql()? {
                            claimed.push(Self::outbound_row(&row)?);
                        }
                    }
                    tx.commit().await.sql()?;
                    claimed.sort_by_key(|o| o.id);
                    Ok(claimed)
                }

                async fn update_outbound(
                    &self,
                    id: i64,
                    update: &OutboundUpdate,
                ) -> Result<Option<OutboundRecord>, StoreError> {
                    let row = sqlx::query(&format!(
                        "UPDATE outbound_messages SET attempts = attempts + $1, state = $2, \
                         sid = COALESCE($3, sid), next_at = $4, uncertain = $5, error = $6, \
                         updated_at = $7 WHERE id = $8 RETURNING {OUTBOUND_COLUMNS}"
                    ))
                    .bind(i64::from(update.attempted))
                    .bind(update.state.as_str())
                    .bind(update.sid.as_deref())
                    .bind(update.next_at.map(db))
                    .bind(i64::from(update.uncertain))
                    .bind(update.error.as_deref())
                    .bind(db(update.at))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(conflict)?;
                    row.as_ref().map(Self::outbound_row).transpose()
                }

                async fn outbound_by_sid(&self, sid: &str) -> Result<Option<OutboundRecord>, StoreError> {
                    let row = sqlx::query(&format!(
                        "SELECT {OUTBOUND_COLUMNS} FROM outbound_messages WHERE sid = $1"
                    ))
                    .bind(sid)
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?;
                    row.as_ref().map(Self::outbound_row).transpose()
                }

                async fn put_attachment(
                    &self,
                    a: &$crate::__private::interact_store::AttachmentRecord,
                ) -> Result<(), StoreError> {
                    use $crate::__private::interact_sdk::protocol::Party;
                    let sender = match a.from {
                        Party::Visitor => "visitor",
                        Party::Agent => "agent",
                        Party::System => "system",
                    };
                    sqlx::query(
                        "INSERT INTO attachments \
                         (id, session_id, sender, name, mime, size, data, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(a.id.as_str())
                    .bind(a.session.as_str())
                    .bind(sender)
                    .bind(&a.name)
                    .bind(&a.mime)
                    .bind(i64::try_from(a.data.len()).unwrap_or(i64::MAX))
                    .bind(a.data.as_ref())
                    .bind(db(a.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(())
                }

                async fn attachment(
                    &self,
                    session: &SessionId,
                    id: &$crate::__private::interact_sdk::ids::AttachmentId,
                ) -> Result<Option<$crate::__private::interact_store::AttachmentRecord>, StoreError> {
                    use $crate::__private::interact_sdk::protocol::Party;
                    let row = sqlx::query(
                        "SELECT sender, name, mime, data, created_at FROM attachments \
                         WHERE id = $1 AND session_id = $2",
                    )
                    .bind(id.as_str())
                    .bind(session.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?;
                    let Some(row) = row else { return Ok(None) };
                    let from = match row.try_get::<String, _>("sender").sql()?.as_str() {
                        "visitor" => Party::Visitor,
                        "agent" => Party::Agent,
                        "system" => Party::System,
                        other => return Err(StoreError::Corrupt(format!("attachment sender {other:?}"))),
                    };
                    Ok(Some($crate::__private::interact_store::AttachmentRecord {
                        id: id.clone(),
                        session: session.clone(),
                        from,
                        name: row.try_get("name").sql()?,
                        mime: row.try_get("mime").sql()?,
                        data: row.try_get::<Vec<u8>, _>("data").sql()?.into(),
                        created_at: ms(row.try_get("created_at").sql()?),
                    }))
                }

                async fn session_outbound(
                    &self,
                    session: &SessionId,
                ) -> Result<Vec<OutboundRecord>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "SELECT {OUTBOUND_COLUMNS} FROM outbound_messages \
                         WHERE session_id = $1 ORDER BY id"
                    ))
                    .bind(session.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter().map(Self::outbound_row).collect()
                }

                async fn deliveries(
                    &self,
                    webhook: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<DeliveryRecord>, StoreError> {
                    let rows = match webhook {
                        Some(w) => {
                            sqlx::query(&format!(
                                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
                                 WHERE webhook = $1 ORDER BY id DESC LIMIT $2"
                            ))
                            .bind(w)
                            .bind(i64::from(limit))
                            .fetch_all(&self.pool)
                            .await
                        }
                        None => {
                            sqlx::query(&format!(
                                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
                                 ORDER BY id DESC LIMIT $1"
                            ))
                            .bind(i64::from(limit))
                            .fetch_all(&self.pool)
                            .await
                        }
                    }
                    .sql()?;
                    rows.iter().map(Self::delivery_row).collect()
                }

                async fn put_workflow(
                    &self,
                    v: &WorkflowVersion,
                    replace: bool,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin_with($begin).await.sql()?;
                    // A version is never overwritten: the first one stored stays.
                    sqlx::query(
                        "INSERT INTO workflow_versions (name, fingerprint, definition, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (name, fingerprint) DO NOTHING",
                    )
                    .bind(&v.name)
                    .bind(&v.fingerprint)
                    .bind(&v.definition)
                    .bind(db(v.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                    // A seed loses to a current version, a concurrent seed's included
                    // (PostgreSQL: the insert waits for the other's commit, then does
                    // nothing; SQLite: the write transactions are serialized).
                    let pointer = if replace {
                        "INSERT INTO current_workflows (name, fingerprint, updated_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET \
                         fingerprint = excluded.fingerprint, updated_at = excluded.updated_at"
                    } else {
                        "INSERT INTO current_workflows (name, fingerprint, updated_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"
                    };
                    sqlx::query(pointer)
                        .bind(&v.name)
                        .bind(&v.fingerprint)
                        .bind(db(v.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict)?;
                    let current: Option<String> = sqlx::query_scalar(
                        "SELECT fingerprint FROM current_workflows WHERE name = $1",
                    )
                    .bind(&v.name)
                    .fetch_optional(&mut *tx)
                    .await
                    .sql()?;
                    tx.commit().await.sql()?;
                    Ok(current.as_deref() == Some(v.fingerprint.as_str()))
                }

                async fn workflows(&self) -> Result<Vec<WorkflowVersion>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT v.name, v.fingerprint, v.definition, v.created_at \
                         FROM current_workflows c JOIN workflow_versions v \
                         ON v.name = c.name AND v.fingerprint = c.fingerprint ORDER BY v.name",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .sql()?;
                    rows.iter().map(Self::workflow_row).collect()
                }

                async fn workflow_version(
                    &self,
                    name: &str,
                    fingerprint: &str,
                ) -> Result<Option<WorkflowVersion>, StoreError> {
                    sqlx::query(
                        "SELECT name, fingerprint, definition, created_at FROM workflow_versions \
                         WHERE name = $1 AND fingerprint = $2",
                    )
                    .bind(name)
                    .bind(fingerprint)
                    .fetch_optional(&self.pool)
                    .await
                    .sql()?
                    .map(|row| Self::workflow_row(&row))
                    .transpose()
                }
            }

            fn bind_all<'q>(
                mut query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                params: &'q [Param],
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
                for p in params {
                    query = match p {
                        Param::Text(s) => query.bind(s.as_str()),
                        Param::Int(n) => query.bind(*n),
                    };
                }
                query
            }


            #[async_trait::async_trait]
            impl ReportStore for $store {
                async fn record_offer(&self, session: &SessionId, at: UnixMillis) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO session_report (session_id, offered_at, offers) VALUES ($1, $2, 1) \
                         ON CONFLICT (session_id) DO UPDATE SET \
                         offered_at = COALESCE(session_report.offered_at, excluded.offered_at), \
                         offers = session_report.offers + 1",
                    )
                    .bind(session.as_str())
                    .bind(db(at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(())
                }

                async fn record_outcome(
                    &self,
                    session: &SessionId,
                    outcome: Outcome,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO session_report (session_id, outcome) VALUES ($1, $2) \
                         ON CONFLICT (session_id) DO UPDATE SET outcome = excluded.outcome",
                    )
                    .bind(session.as_str())
                    .bind(outcome.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(())
                }

                async fn record_workflow_step(
                    &self,
                    session: &SessionId,
                    at: UnixMillis,
                    label: &str,
                ) -> Result<(), StoreError> {
                    // One writer per session (its workflow), so numbering by MAX + 1 does not race.
                    sqlx::query(
                        "INSERT INTO session_workflow_steps (session_id, step, at, label) \
                         SELECT $1, COALESCE(MAX(step), 0) + 1, $2, $3 \
                         FROM session_workflow_steps WHERE session_id = $1",
                    )
                    .bind(session.as_str())
                    .bind(db(at))
                    .bind(label)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(())
                }

                async fn record_satisfaction(
                    &self,
                    session: &SessionId,
                    at: UnixMillis,
                    rating: &Satisfaction,
                ) -> Result<bool, StoreError> {
                    // The first rating wins: an update only where there is none yet.
                    let done = sqlx::query(
                        "INSERT INTO session_report \
                         (session_id, satisfaction_score, satisfaction_comment, satisfaction_at) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (session_id) DO UPDATE SET \
                         satisfaction_score = excluded.satisfaction_score, \
                         satisfaction_comment = excluded.satisfaction_comment, \
                         satisfaction_at = excluded.satisfaction_at \
                         WHERE session_report.satisfaction_score IS NULL",
                    )
                    .bind(session.as_str())
                    .bind(i64::from(rating.score))
                    .bind(rating.comment.as_deref())
                    .bind(db(at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn claim_transcript_email(
                    &self,
                    session: &SessionId,
                    at: UnixMillis,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "INSERT INTO session_report (session_id, transcript_emailed_at) \
                         VALUES ($1, $2) \
                         ON CONFLICT (session_id) DO UPDATE SET \
                         transcript_emailed_at = excluded.transcript_emailed_at \
                         WHERE session_report.transcript_emailed_at IS NULL",
                    )
                    .bind(session.as_str())
                    .bind(db(at))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn report_rows(&self, q: &ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
                    if q.limit == 0 {
                        return Ok(Vec::new());
                    }
                    let mut params: Vec<Param> = Vec::new();
                    let mut clauses = target_clauses(
                        &mut params,
                        q.kind,
                        q.service.as_deref(),
                        q.user.as_deref(),
                        q.channel,
                    );
                    let mut param = |p: Param| {
                        params.push(p);
                        format!("${}", params.len())
                    };
                    if let Some(from) = q.from {
                        clauses.push(format!("s.created_at >= {}", param(Param::Int(db(from)))));
                    }
                    if let Some(to) = q.to {
                        clauses.push(format!("s.created_at < {}", param(Param::Int(db(to)))));
                    }
                    if let Some((at, id)) = &q.after {
                        let at = param(Param::Int(db(*at)));
                        let id = param(Param::Text(id.as_str().to_owned()));
                        clauses.push(format!(
                            "(s.created_at > {at} OR (s.created_at = {at} AND s.id > {id}))"
                        ));
                    }
                    let limit = param(Param::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)));
                    let filter = if clauses.is_empty() {
                        "1 = 1".to_owned()
                    } else {
                        clauses.join(" AND ")
                    };
                    let sql = format!(
                        "SELECT s.id, s.target, s.channel, s.created_at, r.offered_at, r.offers, r.outcome, \
                         r.satisfaction_score, r.satisfaction_comment \
                         FROM sessions s LEFT JOIN session_report r ON r.session_id = s.id \
                         WHERE {filter} ORDER BY s.created_at, s.id LIMIT {limit}"
                    );
                    let rows = bind_all(sqlx::query(&sql), &params)
                        .fetch_all(&self.pool)
                        .await
                        .sql()?;
                    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
                    let mut out = Vec::with_capacity(rows.len());
                    let mut index = HashMap::with_capacity(rows.len());
                    for row in &rows {
                        let id: String = row.try_get("id").sql()?;
                        let recorded_outcome = row
                            .try_get::<Option<String>, _>("outcome")
                            .sql()?
                            .map(|o| o.parse::<Outcome>().map_err(|e| corrupt(&e)))
                            .transpose()?;
                        index.insert(id.clone(), out.len());
                        out.push(ReportRow {
                            id: SessionId::new(id).map_err(|e| corrupt(&e))?,
                            target: parse(&row.try_get::<String, _>("target").sql()?)?,
                            channel: row
                                .try_get::<String, _>("channel")
                                .sql()?
                                .parse()
                                .map_err(|e: String| corrupt(&e))?,
                            created_at: ms(row.try_get("created_at").sql()?),
                            offered_at: row.try_get::<Option<i64>, _>("offered_at").sql()?.map(ms),
                            offers: row
                                .try_get::<Option<i64>, _>("offers")
                                .sql()?
                                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
                            recorded_outcome,
                            events: Vec::new(),
                            workflow_path: Vec::new(),
                            satisfaction: row
                                .try_get::<Option<i64>, _>("satisfaction_score")
                                .sql()?
                                .map(|score| -> Result<Satisfaction, StoreError> {
                                    Ok(Satisfaction {
                                        score: u8::try_from(score).map_err(|e| corrupt(&e))?,
                                        comment: row
                                            .try_get::<Option<String>, _>("satisfaction_comment")
                                            .sql()?,
                                    })
                                })
                                .transpose()?,
                        });
                    }
                    if out.is_empty() {
                        return Ok(out);
                    }
                    let ids: Vec<Param> = out
                        .iter()
                        .map(|r| Param::Text(r.id.as_str().to_owned()))
                        .collect();
                    let list = placeholders(1, ids.len());
                    for (id, at, event) in self.lifecycle_events(&ids).await? {
                        if let Some(&i) = index.get(&id) {
                            out[i].events.push((at, event));
                        }
                    }
                    let sql = format!(
                        "SELECT session_id, label FROM session_workflow_steps \
                         WHERE session_id IN ({list}) ORDER BY session_id, step"
                    );
                    for row in bind_all(sqlx::query(&sql), &ids)
                        .fetch_all(&self.pool)
                        .await
                        .sql()?
                    {
                        let id: String = row.try_get("session_id").sql()?;
                        if let Some(&i) = index.get(&id) {
                            out[i].workflow_path.push(row.try_get("label").sql()?);
                        }
                    }
                    Ok(out)
                }

                async fn usage_rows(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
                    if q.limit == 0 {
                        return Ok(Vec::new());
                    }
                    let mut params: Vec<Param> = Vec::new();
                    let mut clauses = target_clauses(
                        &mut params,
                        q.kind,
                        q.service.as_deref(),
                        q.user.as_deref(),
                        q.channel,
                    );
                    let mut param = |p: Param| {
                        params.push(p);
                        format!("${}", params.len())
                    };
                    // Sessions that were open at some time of the range.
                    clauses.push(format!("s.created_at < {}", param(Param::Int(db(q.to)))));
                    clauses.push(format!(
                        "(s.ended_at IS NULL OR s.ended_at >= {})",
                        param(Param::Int(db(q.from)))
                    ));
                    if let Some((at, id)) = &q.after {
                        let at = param(Param::Int(db(*at)));
                        let id = param(Param::Text(id.as_str().to_owned()));
                        clauses.push(format!(
                            "(s.created_at > {at} OR (s.created_at = {at} AND s.id > {id}))"
                        ));
                    }
                    let limit = param(Param::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)));
                    let sql = format!(
                        "SELECT s.id, s.target, s.channel, s.created_at FROM sessions s \
                         WHERE {} ORDER BY s.created_at, s.id LIMIT {limit}",
                        clauses.join(" AND ")
                    );
                    let rows = bind_all(sqlx::query(&sql), &params)
                        .fetch_all(&self.pool)
                        .await
                        .sql()?;
                    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
                    let mut out = Vec::with_capacity(rows.len());
                    let mut index = HashMap::with_capacity(rows.len());
                    for row in &rows {
                        let id: String = row.try_get("id").sql()?;
                        index.insert(id.clone(), out.len());
                        out.push(UsageRow {
                            id: SessionId::new(id).map_err(|e| corrupt(&e))?,
                            target: parse(&row.try_get::<String, _>("target").sql()?)?,
                            channel: row
                                .try_get::<String, _>("channel")
                                .sql()?
                                .parse()
                                .map_err(|e: String| corrupt(&e))?,
                            created_at: ms(row.try_get("created_at").sql()?),
                            events: Vec::new(),
                            messages: Vec::new(),
                        });
                    }
                    if out.is_empty() {
                        return Ok(out);
                    }
                    let ids: Vec<Param> = out
                        .iter()
                        .map(|r| Param::Text(r.id.as_str().to_owned()))
                        .collect();
                    for (id, at, event) in self.lifecycle_events(&ids).await? {
                        if let Some(&i) = index.get(&id) {
                            out[i].events.push((at, event));
                        }
                    }
                    // Messages counted per session and UTC day of the range, by sender,
                    // from the stored JSON's start (the texts stay in the database).
                    let n = ids.len();
                    let sql = format!(
                        "SELECT session_id, at / {day_ms} AS day, \
                         SUM(CASE WHEN event LIKE ${p_in} THEN 1 ELSE 0 END) AS inbound, \
                         SUM(CASE WHEN event LIKE ${p_agent} OR event LIKE ${p_system} THEN 1 ELSE 0 END) AS outbound \
                         FROM session_events \
                         WHERE session_id IN ({list}) AND at >= ${p_from} AND at < ${p_to} \
                         AND event LIKE ${p_message} \
                         GROUP BY session_id, at / {day_ms}",
                        day_ms = $crate::__private::interact_report::usage::DAY_MS,
                        list = placeholders(1, n),
                        p_in = n + 1,
                        p_agent = n + 2,
                        p_system = n + 3,
                        p_from = n + 4,
                        p_to = n + 5,
                        p_message = n + 6,
                    );
                    let mut count_params = ids;
                    count_params.extend([
                        Param::Text(MESSAGE_IN_PATTERN.to_owned()),
                        Param::Text(MESSAGE_OUT_PATTERNS[0].to_owned()),
                        Param::Text(MESSAGE_OUT_PATTERNS[1].to_owned()),
                        Param::Int(db(q.from)),
                        Param::Int(db(q.to)),
                        Param::Text(r#"{"kind":"message",%"#.to_owned()),
                    ]);
                    let count = |v: i64| u64::try_from(v).unwrap_or(0);
                    for row in bind_all(sqlx::query(&sql), &count_params)
                        .fetch_all(&self.pool)
                        .await
                        .sql()?
                    {
                        let id: String = row.try_get("session_id").sql()?;
                        if let Some(&i) = index.get(&id) {
                            out[i].messages.push(MessageCount {
                                day: Day(count(row.try_get("day").sql()?)),
                                inbound: count(row.try_get("inbound").sql()?),
                                outbound: count(row.try_get("outbound").sql()?),
                            });
                        }
                    }
                    Ok(out)
                }
            }

            impl $store {
                /// The lifecycle events ([`LIFECYCLE_PREFIXES`]) of the sessions `ids`
                /// (at most [`MAX_IDS`]): session, time and event, each session's in order.
                async fn lifecycle_events(
                    &self,
                    ids: &[Param],
                ) -> Result<Vec<(String, UnixMillis, SessionEvent)>, StoreError> {
                    let list = placeholders(1, ids.len());
                    let kinds = (0..LIFECYCLE_PREFIXES.len())
                        .map(|i| format!("event LIKE ${}", ids.len() + 1 + i))
                        .collect::<Vec<_>>()
                        .join(" OR ");
                    let sql = format!(
                        "SELECT session_id, at, event FROM session_events \
                         WHERE session_id IN ({list}) AND ({kinds}) ORDER BY session_id, seq"
                    );
                    let mut params = ids.to_vec();
                    params.extend(LIFECYCLE_PREFIXES.map(|p| Param::Text(p.to_owned())));
                    let mut out = Vec::new();
                    for row in bind_all(sqlx::query(&sql), &params)
                        .fetch_all(&self.pool)
                        .await
                        .sql()?
                    {
                        let event: SessionEvent = parse(&row.try_get::<String, _>("event").sql()?)?;
                        out.push((
                            row.try_get("session_id").sql()?,
                            ms(row.try_get("at").sql()?),
                            event,
                        ));
                    }
                    Ok(out)
                }
            }

            /// The `WHERE` clauses (on `sessions s`) of a report's filters, their values
            /// added to `params`.
            fn target_clauses(
                params: &mut Vec<Param>,
                kind: Option<TargetKind>,
                service: Option<&str>,
                user: Option<&str>,
                channel: Option<$crate::__private::interact_model::Channel>,
            ) -> Vec<String> {
                let mut clauses = Vec::new();
                let mut param = |p: Param| {
                    params.push(p);
                    format!("${}", params.len())
                };
                if let Some(kind) = kind {
                    let prefix = format!(r#"{{"kind":"{}",%"#, kind.as_str());
                    clauses.push(format!("s.target LIKE {}", param(Param::Text(prefix))));
                }
                // Targets are stored as the JSON of a `TargetRef`, which has one spelling.
                if let Some(service) = service {
                    let target = json(&TargetRef::Service(service.into()));
                    clauses.push(format!("s.target = {}", param(Param::Text(target))));
                }
                if let Some(user) = user {
                    let target = json(&TargetRef::User(user.into()));
                    clauses.push(format!("s.target = {}", param(Param::Text(target))));
                }
                if let Some(channel) = channel {
                    clauses.push(format!(
                        "s.channel = {}",
                        param(Param::Text(channel.as_str().to_owned()))
                    ));
                }
                clauses
            }
        };
    };
}
