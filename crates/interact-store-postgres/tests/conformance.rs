//! The PostgreSQL store passes the store conformance suite, each test on a database of
//! its own on the machine's PostgreSQL (see [`TestDatabase`]).

use interact_store_postgres::{PgStore, TestDatabase};

async fn fresh() -> (PgStore, TestDatabase) {
    let db = TestDatabase::create().await.expect("a test database");
    let store = PgStore::open(&db.url).await.expect("open");
    (store, db)
}

interact_store::store_conformance_tests!(fresh);
