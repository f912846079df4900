//! Behind a load balancer: `/readyz` says when a node should get clients (and stops
//! saying so while it drains, before its connections are told to go), and only a trusted
//! proxy may name the client's address, which the per-address limits then count.

use std::time::Duration;

use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, ErrorCode, ServerFrame};
use interact_testkit::{ALLOWED, Closed, TestServer, config, connect_visitor_with, http_get, mid};

fn form() -> PreChatForm {
    PreChatForm {
        display_name: "Lou Balancer".into(),
        email: "lou@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    }
}

/// Starts a chat from a visitor whose request carries `X-Forwarded-For: forwarded`;
/// whether the server started it (`false`: refused as rate limited).
async fn start_from(server: &TestServer, code: &str, forwarded: &str, n: usize) -> bool {
    let mut v = connect_visitor_with(
        server.addr,
        code,
        Some(ALLOWED),
        &[("x-forwarded-for", forwarded)],
    )
    .await
    .expect("admitted");
    v.hello(None).await;
    v.send(&ClientFrame::StartChat {
        context: None,
        id: mid(&format!("start-{n}")),
        form: form(),
        call: None,
    })
    .await;
    match v.recv().await {
        ServerFrame::SessionStarted { .. } => true,
        ServerFrame::Error(e) if e.code == ErrorCode::RateLimited => false,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_anyone_else_is_not_believed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.limits.sessions_per_minute_per_ip = 2;
    cfg.server.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a network")];
    let server = TestServer::start(cfg).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    // Through the proxy (loopback), each client address has its own allowance.
    let mut started = Vec::new();
    for n in 0..3 {
        started.push(start_from(&server, code.as_str(), "203.0.113.7", n).await);
    }
    assert_eq!(started, [true, true, false], "2 a minute for 203.0.113.7");
    assert!(
        start_from(&server, code.as_str(), "203.0.113.8", 3).await,
        "another client behind the same proxy is not held to the first one's limit"
    );
    server.stop().await;

    // Without trust, the header is the client's own word: every request counts against
    // the TCP peer, whatever address it claims.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.limits.sessions_per_minute_per_ip = 2;
    let server = TestServer::start(cfg).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut started = Vec::new();
    for (n, claimed) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .into_iter()
        .enumerate()
    {
        started.push(start_from(&server, code.as_str(), claimed, n).await);
    }
    assert_eq!(
        started,
        [true, true, false],
        "made-up addresses change nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn readyz_answers_503_while_draining_before_clients_are_told_to_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.server.drain_secs = 2;
    let server = TestServer::start(cfg).await;
    let addr = server.addr;
    assert_eq!(http_get(addr, "/readyz").await, (200, "ready".to_owned()));
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    let mut agent = server.available_agent("alex").await;

    let stopping = tokio::spawn(async move { server.stop().await });
    // Draining: not ready, but still serving, and the agent's connection stays open.
    let mut answer = http_get(addr, "/readyz").await;
    for _ in 0..50 {
        if answer.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        answer = http_get(addr, "/readyz").await;
    }
    assert_eq!(answer, (503, "draining".to_owned()));
    assert_eq!(http_get(addr, "/healthz").await.0, 200, "still serving");
    let frames = agent.recv_for(500).await;
    assert!(
        frames.iter().all(|f| !matches!(f, ServerFrame::Error(_))),
        "{frames:?}"
    );
    // Then the connections are told to reconnect elsewhere.
    let mut agent = agent.waiting(Duration::from_secs(5));
    let (closed, _) = agent.closed().await;
    assert_eq!(closed, Closed::Code(1001));
    stopping.await.expect("stopped");
}
