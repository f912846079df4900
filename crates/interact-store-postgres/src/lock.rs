//! A PostgreSQL advisory lock held on a connection of its own: what makes one node of
//! several the leader of something (the server's router). The lock lives exactly as long
//! as its connection, so a holder killed with `kill -9` frees it when PostgreSQL sees the
//! connection close, and the next node to ask takes it.

use std::time::Duration;

use sqlx::{Connection as _, PgConnection};

/// How long one attempt to take or check the lock may take.
const WITHIN: Duration = Duration::from_secs(2);

/// An advisory lock on `key`, taken and then kept by calling [`hold`](Self::hold)
/// regularly.
#[derive(Debug)]
pub struct AdvisoryLock {
    url: String,
    key: i64,
    conn: Option<PgConnection>,
    held: bool,
}

impl AdvisoryLock {
    /// A lock on `key` in the database at `url`, not taken yet.
    pub fn new(url: &str, key: i64) -> Self {
        Self {
            url: url.to_owned(),
            key,
            conn: None,
            held: false,
        }
    }

    /// Takes the lock if it is free (`pg_try_advisory_lock`, which never waits), or, if
    /// this holds it already, checks that its connection still lives; whether this
    /// holds the lock now. A connection that fails is dropped (and with it the lock).
    pub async fn hold(&mut self) -> bool {
        let held = tokio::time::timeout(WITHIN, self.try_hold()).await;
        match held {
            Ok(Ok(held)) => self.held = held,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the advisory lock's connection failed");
                self.conn = None;
                self.held = false;
            }
            Err(_) => {
                tracing::warn!("the advisory lock's connection did not answer in time");
                self.conn = None;
                self.held = false;
            }
        }
        self.held
    }

    async fn try_hold(&mut self) -> Result<bool, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(PgConnection::connect(&self.url).await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        if self.held {
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            return Ok(true);
        }
        sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(self.key)
            .fetch_one(&mut *conn)
            .await
    }
}
