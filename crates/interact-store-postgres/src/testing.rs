//! A database of its own for a test: made with a random name on a PostgreSQL server,
//! dropped when the test is done, so that tests run side by side and leave nothing.

use std::hash::{BuildHasher, RandomState};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use interact_store::StoreError;

use interact_store_sql::Sql as _;

/// The server the tests use unless `INTERACT_TEST_POSTGRES` names another: the one
/// `cargo xtask test` makes sure of (trust authentication on loopback).
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database with a random name (`interact_test_<16 hex digits>`), dropped (with
/// `WITH (FORCE)`, which ends its connections) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    admin: String,
    name: String,
    /// Its URL, for [`PgStore::open`](crate::PgStore::open) or a server's configuration.
    pub url: String,
}

impl TestDatabase {
    /// Creates one on the server of `INTERACT_TEST_POSTGRES` (a URL of a database to
    /// connect to for `CREATE DATABASE`), else [`DEFAULT_ADMIN_URL`]. The error says
    /// where it looked and what to do when the server cannot be reached.
    pub async fn create() -> Result<Self, StoreError> {
        let admin = std::env::var("INTERACT_TEST_POSTGRES")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let options = admin.parse::<PgConnectOptions>().sql()?;
        let mut conn = options.connect().await.map_err(|e| {
            StoreError::backend(std::io::Error::other(format!(
                "cannot reach PostgreSQL at {admin} ({e}); `cargo xtask test` installs and \
                 starts it, or set INTERACT_TEST_POSTGRES to a server's URL"
            )))
        })?;
        let name = format!("interact_test_{:016x}", RandomState::new().hash_one(()));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .sql()?;
        let _ = conn.close().await;
        let url = options.database(&name).to_url_lossy().to_string();
        Ok(Self { admin, name, url })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let options: PgConnectOptions = admin.parse().map_err(std::io::Error::other)?;
                let mut conn = options.connect().await.map_err(std::io::Error::other)?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(std::io::Error::other)?;
                let _ = conn.close().await;
                Ok::<_, std::io::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}
