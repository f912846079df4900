//! Interact's embedded store: one SQLite file, WAL journal, `synchronous = FULL` so that
//! a committed (and so acknowledged) message survives a killed process or a power cut.
//! Migrations are embedded from `migrations/` (portable SQL with `$n` placeholders, so
//! that another database can follow). The SQL of the store's methods is
//! `interact-store-sql`'s, shared with PostgreSQL; this crate opens the file and writes
//! appends in groups. It passes the store conformance suite of
//! [`interact_store::conformance`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::Path;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqlitePool};
use tokio::sync::mpsc;

use interact_store::StoreError;
use interact_store_sql::{
    AppendJob, MAX_GROUP, Sql as _, answer, conflict, db, fenced_out, fenced_sessions, json,
    next_group, placeholders,
};

/// The SQLite implementation of [`Store`](interact_store::Store).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Appends go through one writer task that commits them in groups (see
    /// [`commit_loop`]).
    appends: mpsc::Sender<AppendJob>,
}

/// Group commit: takes every append that is waiting, writes them all in one transaction
/// and answers each caller after the commit. Each caller still gets its answer only once
/// its events are durable, but many sessions share one fsync. If the group fails, each
/// append is retried alone, so one bad append fails only its own caller. A fenced append
/// whose epoch is stale is left out of the group and fails alone with
/// [`StoreError::Fenced`]; the others are written.
///
/// The loop has a connection of its own, and a group of plain appends is one statement
/// (one multi-row `INSERT`, inside `BEGIN`/`COMMIT` only when a session ends in it): one
/// round trip to SQLite's worker thread per group rather than one per event. A group
/// with fenced appends takes the write lock first (`BEGIN IMMEDIATE`), reads their
/// sessions' leases, writes the appends that hold theirs and commits: no claim comes in
/// between.
async fn commit_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<AppendJob>) {
    let mut group: Vec<AppendJob> = Vec::new();
    while next_group(&mut rx, &mut group).await {
        if let Ok(fenced) = write_group(&mut conn, &group).await {
            answer(group.drain(..), &fenced);
            continue;
        }
        for job in group.drain(..) {
            match write_group(&mut conn, std::slice::from_ref(&job)).await {
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
async fn write_group(
    conn: &mut SqliteConnection,
    jobs: &[AppendJob],
) -> Result<Vec<bool>, StoreError> {
    if jobs.iter().all(|j| j.epoch.is_none()) {
        write_events(conn, jobs.iter(), true).await?;
        return Ok(vec![false; jobs.len()]);
    }
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .sql()?;
    let written = write_fenced(conn, jobs).await;
    if written.is_err() {
        // The transaction may be open; a failed ROLLBACK means it was not.
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    }
    written
}

/// [`write_group`] of a group with fenced appends, inside its `BEGIN IMMEDIATE`: checks
/// their epochs, writes the appends that pass, commits.
async fn write_fenced(
    conn: &mut SqliteConnection,
    jobs: &[AppendJob],
) -> Result<Vec<bool>, StoreError> {
    let sessions = fenced_sessions(jobs);
    let sql = format!(
        "SELECT session_id, epoch FROM session_leases WHERE session_id IN ({})",
        placeholders(1, sessions.len())
    );
    let mut query = sqlx::query_as(&sql).persistent(sessions.len() <= 4);
    for s in &sessions {
        query = query.bind(*s);
    }
    let leases: Vec<(String, i64)> = query.fetch_all(&mut *conn).await.sql()?;
    let fenced = fenced_out(jobs, &leases);
    let kept = jobs
        .iter()
        .zip(&fenced)
        .filter(|(_, f)| !**f)
        .map(|(j, _)| j);
    write_events(conn, kept, false).await?;
    sqlx::query("COMMIT").execute(&mut *conn).await.sql()?;
    Ok(fenced)
}

/// Writes the events of `jobs`: one statement, all or none, in a transaction of its own
/// when a session ends among them and `own_transaction` (otherwise the caller's).
async fn write_events<'a>(
    conn: &mut SqliteConnection,
    jobs: impl Iterator<Item = &'a AppendJob> + Clone,
    own_transaction: bool,
) -> Result<(), StoreError> {
    let rows: usize = jobs.clone().map(|j| j.events.len()).sum();
    if rows == 0 {
        return Ok(());
    }
    let ends = jobs
        .clone()
        .flat_map(|j| j.events.iter().filter(|e| e.ended.is_some()))
        .count();
    let transaction = own_transaction && ends > 0;
    let mut sql = String::with_capacity(80 + rows * 14 + ends * 140);
    if transaction {
        sql.push_str("BEGIN IMMEDIATE; ");
    }
    sql.push_str("INSERT INTO session_events (session_id, seq, at, event) VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?)"
        });
    }
    sql.push(';');
    for _ in 0..ends {
        sql.push_str(" UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?;");
        sql.push_str(" DELETE FROM workflow_runs WHERE session_id = ?;");
    }
    if transaction {
        sql.push_str(" COMMIT;");
    }
    // The statement differs with the number of rows: keep only the common small ones
    // prepared.
    let mut query = sqlx::query(&sql).persistent(rows <= 16 && ends == 0);
    for job in jobs.clone() {
        for e in &job.events {
            query = query
                .bind(job.session.as_str())
                .bind(i64::try_from(e.seq.0).unwrap_or(i64::MAX))
                .bind(db(e.at))
                .bind(e.event_json());
        }
    }
    for job in jobs {
        for e in &job.events {
            if let Some(reason) = &e.ended {
                query = query
                    .bind(db(e.at))
                    .bind(json(reason))
                    .bind(job.session.as_str())
                    .bind(job.session.as_str());
            }
        }
    }
    match query.execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(e) => {
            if transaction {
                // The transaction may be open; a failed ROLLBACK means it was not.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            }
            Err(conflict(e))
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .sql()?;
        sqlx::migrate!("./migrations").run(&pool).await.sql()?;
        let writer = options.connect().await.sql()?;
        let (appends, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(commit_loop(writer, rx));
        Ok(Self { pool, appends })
    }
}

interact_store_sql::sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    write_transaction = "BEGIN IMMEDIATE",
    claim_lock = "",
);
