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

mod testing;

pub use testing::{DEFAULT_ADMIN_URL, TestDatabase};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::mpsc;

use interact_store::StoreError;
use interact_store_sql::{AppendJob, MAX_GROUP, Sql as _, conflict, db, json, next_group};

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
/// caller.
///
/// A group is one `INSERT ... SELECT FROM UNNEST(...)` of four arrays, plus, when sessions
/// end in it, one `UPDATE ... FROM UNNEST(...)` and one `DELETE ... = ANY(...)` in the same
/// transaction. Each group takes a connection from the pool, so a lost connection costs
/// one group, not the loop.
async fn commit_loop(pool: PgPool, mut rx: mpsc::Receiver<AppendJob>) {
    let mut group: Vec<AppendJob> = Vec::new();
    while next_group(&mut rx, &mut group).await {
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

interact_store_sql::sql_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
