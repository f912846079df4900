//! Two nodes on one PostgreSQL database and one NATS server (each test with a database
//! of its own; NATS from `INTERACT_TEST_NATS`, else `nats://127.0.0.1:4222`, which
//! `cargo xtask test` makes sure of): what one node's admin API changes, the other
//! enforces at once, and a node the announcement does not reach catches up by itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use interact_model::TargetRef;
use interact_server::config::Database;
use interact_store_postgres::TestDatabase;
use interact_testkit::{ALLOWED, TestServer, config, connect_visitor, http_request};

/// The NATS server of the tests.
fn nats_url() -> String {
    std::env::var("INTERACT_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A node on `db` and the tests' NATS server.
async fn node(db: &TestDatabase, dir: &std::path::Path) -> TestServer {
    let mut cfg = config(dir);
    cfg.server.database = Database::Postgres(db.url.clone());
    cfg.cluster.nats_url = Some(nats_url());
    TestServer::start(cfg).await
}

/// Waits until node `addr` refuses `code` from the demo origin; how long that took.
async fn until_refused(addr: SocketAddr, code: &str, within: Duration) -> Duration {
    let since = Instant::now();
    loop {
        match connect_visitor(addr, code, Some(ALLOWED)).await {
            Err(403) => return since.elapsed(),
            Ok(_) => {}
            Err(other) => panic!("the node answered {other}"),
        }
        assert!(
            since.elapsed() < within,
            "the node still admits the removed origin after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `PUT path` with a JSON body and the demo admin token; the status.
async fn admin_put(addr: SocketAddr, path: &str, body: &str) -> u16 {
    let headers = [
        ("Authorization", "Bearer demo-admin-token"),
        ("Content-Type", "application/json"),
    ];
    http_request(addr, "PUT", path, &headers, body).await.0
}

#[tokio::test]
async fn a_template_changed_on_one_node_refuses_the_origin_on_another_within_a_second() {
    let db = TestDatabase::create().await.expect("a test database");
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = node(&db, dir_a.path()).await;
    let b = node(&db, dir_b.path()).await;
    // An embed code made on node A works on node B (one database).
    let code = a.embed_code(TargetRef::Service("support".into())).await;
    assert!(
        connect_visitor(b.addr, code.as_str(), Some(ALLOWED))
            .await
            .is_ok(),
        "node B admits the demo template's origin"
    );

    // Node A's admin API removes that origin from the template.
    let status = admin_put(
        a.addr,
        "/admin/v1/templates/demo",
        r#"{"origins": ["https://shop.example.com"]}"#,
    )
    .await;
    assert_eq!(status, 200);
    let took = until_refused(b.addr, code.as_str(), Duration::from_secs(1)).await;
    eprintln!("node B refused the removed origin {took:?} after node A's change");
    // And node B is ready: database and bus reachable.
    assert_eq!(
        interact_testkit::http_get(b.addr, "/readyz").await,
        (200, "ready".to_owned())
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_node_that_misses_the_announcement_catches_up_on_its_own() {
    let db = TestDatabase::create().await.expect("a test database");
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = node(&db, dir_a.path()).await;
    // Node B hears nothing from the bus (as if every message to it were lost), and reads
    // the templates again every second.
    let mut cfg = config(dir_b.path());
    cfg.server.database = Database::Postgres(db.url.clone());
    cfg.cluster.refresh_secs = 1;
    let b = TestServer::start(cfg).await;
    let code = a.embed_code(TargetRef::Service("support".into())).await;
    assert!(
        connect_visitor(b.addr, code.as_str(), Some(ALLOWED))
            .await
            .is_ok()
    );

    let status = admin_put(
        a.addr,
        "/admin/v1/templates/demo",
        r#"{"origins": ["https://shop.example.com"]}"#,
    )
    .await;
    assert_eq!(status, 200);
    let took = until_refused(b.addr, code.as_str(), Duration::from_secs(3)).await;
    eprintln!("node B, without the bus, refused the removed origin after {took:?}");
    a.stop().await;
    b.stop().await;
}
