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
use interact_store_sql::{AppendJob, MAX_GROUP, Sql as _, conflict, db, json, next_group};

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
/// append is retried alone, so one bad append fails only its own caller.
///
/// The loop has a connection of its own, and a group is one statement (one multi-row
/// `INSERT`, inside `BEGIN`/`COMMIT` only when a session ends in it): one round trip to
/// SQLite's worker thread per group rather than one per event.
async fn commit_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<AppendJob>) {
    let mut group: Vec<AppendJob> = Vec::new();
    while next_group(&mut rx, &mut group).await {
        if write_group(&mut conn, &group).await.is_ok() {
            for job in group.drain(..) {
                let _ = job.done.send(Ok(()));
            }
            continue;
        }
        for job in group.drain(..) {
            let one = write_group(&mut conn, std::slice::from_ref(&job)).await;
            let _ = job.done.send(one);
        }
    }
}

/// Writes the events of `jobs` durably, all or none.
async fn write_group(conn: &mut SqliteConnection, jobs: &[AppendJob]) -> Result<(), StoreError> {
    let rows: usize = jobs.iter().map(|j| j.events.len()).sum();
    if rows == 0 {
        return Ok(());
    }
    let ends = jobs
        .iter()
        .flat_map(|j| j.events.iter().filter(|e| e.ended.is_some()))
        .count();
    let mut sql = String::with_capacity(80 + rows * 14 + ends * 140);
    if ends > 0 {
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
    if ends > 0 {
        sql.push_str(" COMMIT;");
    }
    // The statement differs with the number of rows: keep only the common small ones
    // prepared.
    let mut query = sqlx::query(&sql).persistent(rows <= 16 && ends == 0);
    for job in jobs {
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
            if ends > 0 {
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

interact_store_sql::sql_store!(SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
