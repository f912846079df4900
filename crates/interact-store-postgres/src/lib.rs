//! Interact's store on PostgreSQL, for several server nodes sharing one database. The
//! same schema as the SQLite store (its own `migrations/`, which start as the SQLite
//! ones: portable SQL with `$n` placeholders), appends batched with `UNNEST` and committed
//! in groups, and the same conformance suite ([`interact_store::conformance`]).
//!
//! [`PgStore::open`] takes a URL (`postgres://user@host:5432/db`); [`TestDatabase`] makes
//! a database with a random name for a test and drops it afterwards.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod report;
mod testing;

pub use testing::{DEFAULT_ADMIN_URL, TestDatabase};

use std::str::FromStr;

use async_trait::async_trait;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{AgentId, SessionId};
use interact_sdk::protocol::{EndReason, EventFrame};
use interact_sdk::time::UnixMillis;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, oneshot};

use interact_store::{
    EmbedCodeRecord, EncodedEvent, SessionRecord, Store, StoreError, TemplateRecord,
    WorkflowRunRecord,
};

/// `?` for sqlx's errors: they become [`StoreError::Backend`].
trait Sql<T> {
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

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Appends go through one writer task that commits them in groups (see
    /// [`commit_loop`]).
    appends: mpsc::Sender<AppendJob>,
}

/// Most appends committed in one transaction.
const MAX_GROUP: usize = 256;

/// Most events written by one statement (four arrays of this length).
const MAX_ROWS: usize = 1024;

/// One `append_events` call waiting for its commit.
#[derive(Debug)]
struct AppendJob {
    session: SessionId,
    events: Vec<EncodedEvent>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Group commit: takes every append that is waiting, writes them all in one transaction
/// and answers each caller after the commit. Each caller still gets its answer only once
/// its events are durable, but many sessions share one commit (one WAL flush). If the
/// group fails, each append is retried alone, so one bad append fails only its own
/// caller.
///
/// A group is one `INSERT ... SELECT FROM UNNEST(...)` of four arrays, plus, when sessions
/// end in it, one `UPDATE ... FROM UNNEST(...)` and one `DELETE ... = ANY(...)` in the same
/// transaction. Each group takes a connection from the pool, so a lost connection costs
/// one group, not the loop.
async fn commit_loop(pool: PgPool, mut rx: mpsc::Receiver<AppendJob>) {
    let mut group: Vec<AppendJob> = Vec::new();
    while let Some(first) = rx.recv().await {
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
        if write_group(&pool, &group).await.is_ok() {
            for job in group.drain(..) {
                let _ = job.done.send(Ok(()));
            }
            continue;
        }
        for job in group.drain(..) {
            let one = write_group(&pool, std::slice::from_ref(&job)).await;
            let _ = job.done.send(one);
        }
    }
}

/// Writes the events of `jobs` durably, all or none.
async fn write_group(pool: &PgPool, jobs: &[AppendJob]) -> Result<(), StoreError> {
    let rows: usize = jobs.iter().map(|j| j.events.len()).sum();
    if rows == 0 {
        return Ok(());
    }
    let mut sessions = Vec::with_capacity(rows);
    let mut seqs = Vec::with_capacity(rows);
    let mut ats = Vec::with_capacity(rows);
    let mut bodies = Vec::with_capacity(rows);
    let (mut ended, mut ended_at, mut reasons) = (Vec::new(), Vec::new(), Vec::new());
    for job in jobs {
        for e in &job.events {
            sessions.push(job.session.as_str());
            seqs.push(i64::try_from(e.seq.0).unwrap_or(i64::MAX));
            ats.push(db(e.at));
            bodies.push(e.event_json());
            if let Some(reason) = &e.ended {
                ended.push(job.session.as_str());
                ended_at.push(db(e.at));
                reasons.push(json(reason));
            }
        }
    }
    let insert = sqlx::query(
        "INSERT INTO session_events (session_id, seq, at, event) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[])",
    )
    .bind(&sessions)
    .bind(&seqs)
    .bind(&ats)
    .bind(&bodies);
    if ended.is_empty() {
        // One statement: atomic on its own.
        insert.execute(pool).await.map_err(conflict)?;
        return Ok(());
    }
    let mut tx = pool.begin().await.sql()?;
    insert.execute(&mut *tx).await.map_err(conflict)?;
    sqlx::query(
        "UPDATE sessions SET ended_at = u.at, end_reason = u.reason \
         FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS u(id, at, reason) \
         WHERE sessions.id = u.id",
    )
    .bind(&ended)
    .bind(&ended_at)
    .bind(&reasons)
    .execute(&mut *tx)
    .await
    .sql()?;
    sqlx::query("DELETE FROM workflow_runs WHERE session_id = ANY($1::text[])")
        .bind(&ended)
        .execute(&mut *tx)
        .await
        .sql()?;
    tx.commit().await.sql()
}

fn ms(v: i64) -> UnixMillis {
    UnixMillis(u64::try_from(v).unwrap_or(0))
}

fn db(v: UnixMillis) -> i64 {
    i64::try_from(v.0).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| unreachable!("serialising stored values: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A failed write as the store reports it: a unique key taken is a conflict, a foreign
/// key a missing row (what the write refers to is not there).
fn conflict(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound(d.message().to_owned())
        }
        _ => StoreError::backend(e),
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`)
    /// and brings its schema up to date. Several nodes may open the same database at
    /// once: the migrations take PostgreSQL's advisory lock.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = url.parse::<PgConnectOptions>().sql()?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .sql()?;
        sqlx::migrate!("./migrations").run(&pool).await.sql()?;
        let (appends, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(commit_loop(pool.clone(), rx));
        Ok(Self { pool, appends })
    }

    /// Closes the pool's connections (a test drops its database after this).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn embed_row(row: &PgRow) -> Result<EmbedCodeRecord, StoreError> {
        let code: String = row.try_get("code").sql()?;
        Ok(EmbedCodeRecord {
            code: EmbedCode::from_str(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            target: parse(&row.try_get::<String, _>("target").sql()?)?,
            template: row.try_get("template").sql()?,
            created_at: ms(row.try_get("created_at").sql()?),
            revoked_at: row.try_get::<Option<i64>, _>("revoked_at").sql()?.map(ms),
        })
    }

    fn session_row(row: &PgRow) -> Result<SessionRecord, StoreError> {
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
        })
    }

    async fn insert_events(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
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

const SESSION_COLUMNS: &str = "id, embed_code, target, start_id, start_key, token_hash, visitor_name, \
     visitor_email, consent_version, consent_at, origin, agent_id, created_at, ended_at, end_reason, \
     visitor_seen_at";

#[async_trait]
impl Store for PgStore {
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
             start_key, visitor_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, $13, $14)",
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
        let (done, result) = oneshot::channel();
        let job = AppendJob {
            session: session.clone(),
            events: events.to_vec(),
            done,
        };
        let gone = || StoreError::backend(sqlx::Error::PoolClosed);
        self.appends.send(job).await.map_err(|_| gone())?;
        result.await.map_err(|_| gone())?
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
        sqlx::query("INSERT INTO agent_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(user)
            .bind(db(at))
            .bind(db(expires))
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    async fn agent_token(
        &self,
        hash: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, UnixMillis)>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, expires_at FROM agent_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash)
        .bind(db(now))
        .fetch_optional(&self.pool)
        .await.sql()?;
        row.map(|r| {
            Ok((
                r.try_get("user_id").sql()?,
                ms(r.try_get("expires_at").sql()?),
            ))
        })
        .transpose()
    }

    async fn delete_agent_token(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM agent_tokens WHERE token_hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await
            .sql()?;
        Ok(())
    }

    async fn delete_agent_tokens_of(&self, user: &str) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM agent_tokens WHERE user_id = $1")
            .bind(user)
            .execute(&self.pool)
            .await
            .sql()?;
        Ok(r.rows_affected())
    }
}
