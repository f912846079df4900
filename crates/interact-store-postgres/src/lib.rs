//! Interact's store on PostgreSQL, for several server nodes sharing one database. The
//! same schema as the SQLite store (its own `migrations/`, which start as the SQLite
//! ones: portable SQL with `$n` placeholders), the same SQL for every method but the
//! append (`interact-store-sql`), appends batched with `UNNEST` and committed in groups,
//! and the same conformance suite ([`interact_store::conformance`]).
//!
//! [`PgStore::open`] takes a URL (`postgres://user@host:5432/db`); [`TestDatabase`] makes
//! a database with a random name for a test and drops it afterwards.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod lock;
mod testing;

pub use testing::{DEFAULT_ADMIN_URL, TestDatabase};

use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres};
use tokio::sync::mpsc;

use interact_store::StoreError;
use interact_store_sql::{
    AppendJob, MAX_GROUP, Sql as _, answer, conflict, db, fenced_out, fenced_sessions, json,
    next_group,
};

/// The PostgreSQL implementation of [`Store`](interact_store::Store).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Appends go through one writer task that commits them in groups (see
    /// [`commit_loop`]).
    appends: mpsc::Sender<AppendJob>,
}

/// Group commit: takes every append that is waiting, writes them all in one transaction
/// and answers each caller after the commit. Each caller still gets its answer only once
/// its events are durable, but many sessions share one commit (one WAL flush). If the
/// group fails, each append is retried alone, so one bad append fails only its own
/// caller. A fenced append whose epoch is stale is left out of the group and fails alone
/// with [`StoreError::Fenced`]; the others are written.
///
/// A group is one `INSERT ... SELECT FROM UNNEST(...)` of four arrays, plus, when sessions
/// end in it, one `UPDATE ... FROM UNNEST(...)` and one `DELETE ... = ANY(...)` in the same
/// transaction. A group with fenced appends first reads their sessions' leases `FOR
/// SHARE` in that transaction: a claim of one of them waits for the commit, or has
/// committed and the read sees its epoch. Each group takes a connection from the pool, so
/// a lost connection costs one group, not the loop.
async fn commit_loop(pool: PgPool, mut rx: mpsc::Receiver<AppendJob>) {
    let mut group: Vec<AppendJob> = Vec::new();
    while next_group(&mut rx, &mut group).await {
        if let Ok(fenced) = write_group(&pool, &group).await {
            answer(group.drain(..), &fenced);
            continue;
        }
        for job in group.drain(..) {
            match write_group(&pool, std::slice::from_ref(&job)).await {
                Ok(fenced) => answer([job], &fenced),
                Err(e) => {
                    let _ = job.done.send(Err(e));
                }
            }
        }
    }
}

/// Writes the events of `jobs` durably, all or none, but for the fenced appends whose
/// epoch is stale: those are left out, and flagged in the answer (one flag per job).
async fn write_group(pool: &PgPool, jobs: &[AppendJob]) -> Result<Vec<bool>, StoreError> {
    let unfenced = vec![false; jobs.len()];
    if jobs.iter().all(|j| j.epoch.is_none()) {
        let rows = Rows::of(jobs.iter());
        if rows.sessions.is_empty() {
            return Ok(unfenced);
        }
        if rows.ended.is_empty() {
            // One statement: atomic on its own.
            rows.insert().execute(pool).await.map_err(conflict)?;
            return Ok(unfenced);
        }
        let mut tx = pool.begin().await.sql()?;
        rows.write(&mut tx).await?;
        tx.commit().await.sql()?;
        return Ok(unfenced);
    }
    let mut tx = pool.begin().await.sql()?;
    let leases: Vec<(String, i64)> = sqlx::query_as(
        "SELECT session_id, epoch FROM session_leases WHERE session_id = ANY($1::text[]) \
         FOR SHARE",
    )
    .bind(fenced_sessions(jobs))
    .fetch_all(&mut *tx)
    .await
    .sql()?;
    let fenced = fenced_out(jobs, &leases);
    let kept = jobs
        .iter()
        .zip(&fenced)
        .filter(|(_, f)| !**f)
        .map(|(j, _)| j);
    Rows::of(kept).write(&mut tx).await?;
    tx.commit().await.sql()?;
    Ok(fenced)
}

/// The events of a group as the arrays its statements take, and the ends among them.
struct Rows<'a> {
    sessions: Vec<&'a str>,
    seqs: Vec<i64>,
    ats: Vec<i64>,
    bodies: Vec<&'a str>,
    ended: Vec<&'a str>,
    ended_at: Vec<i64>,
    reasons: Vec<String>,
}

impl<'a> Rows<'a> {
    fn of(jobs: impl Iterator<Item = &'a AppendJob> + Clone) -> Self {
        let rows: usize = jobs.clone().map(|j| j.events.len()).sum();
        let mut r = Rows {
            sessions: Vec::with_capacity(rows),
            seqs: Vec::with_capacity(rows),
            ats: Vec::with_capacity(rows),
            bodies: Vec::with_capacity(rows),
            ended: Vec::new(),
            ended_at: Vec::new(),
            reasons: Vec::new(),
        };
        for job in jobs {
            for e in &job.events {
                r.sessions.push(job.session.as_str());
                r.seqs.push(i64::try_from(e.seq.0).unwrap_or(i64::MAX));
                r.ats.push(db(e.at));
                r.bodies.push(e.event_json());
                if let Some(reason) = &e.ended {
                    r.ended.push(job.session.as_str());
                    r.ended_at.push(db(e.at));
                    r.reasons.push(json(reason));
                }
            }
        }
        r
    }

    /// The statement that inserts the events.
    fn insert(&self) -> Query<'_, Postgres, PgArguments> {
        sqlx::query(
            "INSERT INTO session_events (session_id, seq, at, event) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[])",
        )
        .bind(&self.sessions)
        .bind(&self.seqs)
        .bind(&self.ats)
        .bind(&self.bodies)
    }

    /// Inserts the events and records the ends, in the transaction of `conn`.
    async fn write(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        if self.sessions.is_empty() {
            return Ok(());
        }
        self.insert().execute(&mut *conn).await.map_err(conflict)?;
        if self.ended.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE sessions SET ended_at = u.at, end_reason = u.reason \
             FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS u(id, at, reason) \
             WHERE sessions.id = u.id",
        )
        .bind(&self.ended)
        .bind(&self.ended_at)
        .bind(&self.reasons)
        .execute(&mut *conn)
        .await
        .sql()?;
        sqlx::query("DELETE FROM workflow_runs WHERE session_id = ANY($1::text[])")
            .bind(&self.ended)
            .execute(&mut *conn)
            .await
            .sql()?;
        Ok(())
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
}

interact_store_sql::sql_store!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    write_transaction = "BEGIN",
    claim_lock = "FOR UPDATE SKIP LOCKED",
);
