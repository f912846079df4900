//! The SQLite store passes the store conformance suite, on a real file.

use interact_store_sqlite::SqliteStore;
use tempfile::TempDir;

async fn fresh() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("interact.db"))
        .await
        .expect("open");
    (store, dir)
}

interact_store::store_conformance_tests!(fresh);
