//! The admin's integrations on a real listener: webhooks (signed, retried after a
//! failure, logged), the audit log of every admin change, and a session's transcript.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, ServerFrame};
use interact_testkit::{ALLOWED, TestServer, config, connect_visitor, http_request, mid};
use serde_json::{Value, json};
use sha2::Sha256;

const AUTH: (&str, &str) = ("Authorization", "Bearer demo-admin-token");
const JSON: (&str, &str) = ("Content-Type", "application/json");

/// An admin API call with the demo admin token: status and JSON body (`null` if none).
async fn admin(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, text) = http_request(addr, method, path, &[AUTH, JSON], &body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A server whose web requests may reach loopback (the test's receiver lives there).
async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = config(dir.path());
    cfg.web_requests.allow_private_addresses = true;
    (TestServer::start(cfg).await, dir)
}

/// A visitor's chat with the support service, with a first message; the connection.
async fn chat(server: &TestServer, first: &str) -> (interact_testkit::Client, String) {
    let code = server
        .embed_code(interact_model::TargetRef::Service("support".into()))
        .await;
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("admitted");
    v.hello(None).await;
    let form = PreChatForm {
        display_name: "Hook Hanna".into(),
        email: "hanna@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some(first.into()),
    };
    let (session, _) = v.start_chat(mid("start-hook"), form).await;
    (v, session.as_str().to_owned())
}

/// A request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    headers: HeaderMap,
    body: String,
}

/// A webhook receiver on loopback that answers 500 to its first request and 200 to the
/// rest, keeping every request.
async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Got>>>) {
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let mut all = kept.lock().expect("lock");
                all.push(Got { headers, body });
                if all.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Checks the signature of `g` as a receiver must: HMAC-SHA256 of `<timestamp>.<body>`
/// under the secret, and a timestamp within five minutes of now.
fn verify(g: &Got, secret: &str) -> bool {
    let ts = header(g, "interact-timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let fresh = ts.parse::<u64>().is_ok_and(|t| t.abs_diff(now) < 300);
    let Some(sig) = header(g, "interact-signature").strip_prefix("v1=") else {
        return false;
    };
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{ts}.{}", g.body).as_bytes());
    fresh && mac.verify_slice(&sig).is_ok()
}

#[tokio::test]
async fn webhooks_are_signed_retried_after_a_failure_and_logged() {
    let (server, _dir) = server().await;
    let (hook, got) = receiver().await;
    let url = format!("http://{hook}/hook");

    // Refused: no token, a bad URL, no or an unknown event, an unknown field (422).
    let body = json!({"url": url, "events": ["message"]}).to_string();
    let (status, _) = http_request(server.addr, "POST", "/admin/v1/webhooks", &[JSON], &body).await;
    assert_eq!(status, 401);
    for bad in [
        json!({"url": "ftp://example.com/x", "events": ["message"]}),
        json!({"url": "http:///nohost", "events": ["message"]}),
        json!({"url": url, "events": []}),
        json!({"url": url, "events": ["message", "nope"]}),
        json!({"url": url, "events": ["message"], "extra": 1}),
    ] {
        let (status, answer) =
            admin(server.addr, "POST", "/admin/v1/webhooks", Some(bad.clone())).await;
        let expected = if bad.get("extra").is_some() { 422 } else { 400 };
        assert_eq!(status, expected, "{bad}: {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }

    let (status, created) = admin(
        server.addr,
        "POST",
        "/admin/v1/webhooks",
        Some(json!({"url": url, "events": ["session.ended", "message", "session.started"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert_eq!(
        created["events"],
        json!(["session.started", "message", "session.ended"])
    );
    // The secret is never shown again.
    let (_, listed) = admin(server.addr, "GET", "/admin/v1/webhooks", None).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "{listed}");

    let (mut visitor, session) = chat(&server, "Where is my order?").await;
    visitor.send(&ClientFrame::End { session: None }).await;
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, interact_sdk::protocol::SessionEvent::Ended { .. })))
        .await;

    // Four events (the start, the visitor's message, the workflow's greeting, the end);
    // the first request failed (500) and came again about 2 s later.
    let since = std::time::Instant::now();
    let all = loop {
        let all = got.lock().expect("lock").clone();
        if all.len() >= 5 {
            break all;
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "the receiver got {} requests",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for g in &all {
        assert!(verify(g, &secret), "a valid signature: {g:?}");
        assert!(!verify(g, "whsec_wrong"), "not valid under another secret");
        let body: Value = serde_json::from_str(&g.body).expect("JSON");
        assert_eq!(body["type"], header(g, "interact-event"));
        assert_eq!(body["data"]["session"], session.as_str());
    }
    let ids: Vec<&str> = all.iter().map(|g| header(g, "interact-delivery")).collect();
    assert_eq!(
        ids.iter().filter(|i| **i == ids[0]).count(),
        2,
        "the failed one came again: {ids:?}"
    );
    let events: std::collections::BTreeSet<String> = all
        .iter()
        .map(|g| header(g, "interact-event").to_owned())
        .collect();
    assert_eq!(
        events.into_iter().collect::<Vec<_>>(),
        ["message", "session.ended", "session.started"]
    );
    let ended: Value = all
        .iter()
        .find(|g| header(g, "interact-event") == "session.ended")
        .map(|g| serde_json::from_str(&g.body).expect("JSON"))
        .expect("session.ended");
    assert_eq!(ended["data"]["reason"], "visitor_ended");
    assert_eq!(ended["data"]["outcome"], "abandoned");
    let messages: Vec<Value> = all
        .iter()
        .filter(|g| header(g, "interact-event") == "message")
        .map(|g| serde_json::from_str(&g.body).expect("JSON"))
        .collect();
    let from = |party: &str| {
        messages
            .iter()
            .find(|m| m["data"]["message"]["from"] == party)
            .unwrap_or_else(|| panic!("a message from {party}: {messages:?}"))
    };
    assert_eq!(
        from("visitor")["data"]["message"]["text"],
        "Where is my order?"
    );
    assert_eq!(from("system")["data"]["message"]["author"], "Customer Care");

    // The delivery log: every delivery delivered, the first after two attempts.
    let path = format!("/admin/v1/webhooks/{id}/deliveries");
    let since = std::time::Instant::now();
    let log = loop {
        let (status, log) = admin(server.addr, "GET", &path, None).await;
        assert_eq!(status, 200);
        let done = log
            .as_array()
            .is_some_and(|l| l.len() == 4 && l.iter().all(|d| d["delivered_at"].is_u64()));
        if done {
            break log;
        }
        assert!(since.elapsed() < Duration::from_secs(5), "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first = log
        .as_array()
        .expect("a list")
        .iter()
        .find(|d| d["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(ids[0]))
        .expect("the first delivery");
    assert_eq!(first["attempts"], 2);
    assert_eq!(first["last_status"], 200);
    assert!(first["next_at"].is_null());

    // Deleted: its log goes with it.
    let (status, _) = admin(
        server.addr,
        "DELETE",
        &format!("/admin/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = admin(server.addr, "GET", &path, None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn every_admin_change_is_in_the_audit_log() {
    let (server, _dir) = server().await;
    let addr = server.addr;
    let (s, _) = admin(
        addr,
        "PUT",
        "/admin/v1/templates/shop",
        Some(json!({"origins": ["https://shop.example.com"]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = admin(
        addr,
        "PUT",
        "/admin/v1/templates/shop",
        Some(json!({"origins": ["https://shop.example.com", "https://*.shop.example.com"]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, code) = admin(
        addr,
        "POST",
        "/admin/v1/embed-codes",
        Some(json!({"target": {"kind": "service", "id": "support"}, "template": "shop"})),
    )
    .await;
    assert_eq!(s, 201, "{code}");
    let code = code["code"].as_str().expect("code").to_owned();
    let (s, _) = admin(
        addr,
        "POST",
        &format!("/admin/v1/embed-codes/{code}/revoke"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = admin(
        addr,
        "PUT",
        "/admin/v1/templates/spare",
        Some(json!({"origins": []})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = admin(addr, "DELETE", "/admin/v1/templates/spare", None).await;
    assert_eq!(s, 204);
    let (s, hook) = admin(
        addr,
        "POST",
        "/admin/v1/webhooks",
        Some(json!({"url": "https://hooks.example.com/x", "events": ["message"]})),
    )
    .await;
    assert_eq!(s, 201);
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    let (s, rotated) = admin(addr, "PUT", &format!("/admin/v1/webhooks/{hook_id}"), Some(json!({"url": "https://hooks.example.com/y", "events": ["message"], "rotate_secret": true}))).await;
    assert_eq!(s, 200);
    assert_ne!(rotated["secret"], hook["secret"]);
    let (s, _) = admin(
        addr,
        "DELETE",
        &format!("/admin/v1/webhooks/{hook_id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = admin(addr, "POST", "/admin/v1/agents/alex/sign-out", None).await;
    assert_eq!(s, 200);
    // A refused change is not a change.
    let (s, _) = admin(
        addr,
        "PUT",
        "/admin/v1/templates/bad",
        Some(json!({"origins": ["not an origin"]})),
    )
    .await;
    assert_eq!(s, 400);

    let (s, log) = admin(addr, "GET", "/admin/v1/audit", None).await;
    assert_eq!(s, 200);
    let log = log.as_array().expect("a list").clone();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action"),
                e["target"].as_str().expect("target"),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("agent.sign_out", "alex"),
            ("webhook.delete", hook_id.as_str()),
            ("webhook.update_and_rotate_secret", hook_id.as_str()),
            ("webhook.create", hook_id.as_str()),
            ("template.delete", "spare"),
            ("template.put", "spare"),
            ("embed_code.revoke", code.as_str()),
            ("embed_code.create", code.as_str()),
            ("template.put", "shop"),
            ("template.put", "shop"),
        ],
        "newest first"
    );
    assert!(
        log.iter()
            .all(|e| e["actor"] == "admin" && e["at"].is_u64())
    );
    // Before and after, as JSON.
    let changed = &log[8];
    let before: Value =
        serde_json::from_str(changed["before"].as_str().expect("before")).expect("JSON");
    let after: Value =
        serde_json::from_str(changed["after"].as_str().expect("after")).expect("JSON");
    assert_eq!(before["origins"], json!(["https://shop.example.com"]));
    assert_eq!(after["origins"].as_array().map(Vec::len), Some(2));
    assert!(log[9]["before"].is_null(), "made: nothing before");
    assert!(log[4]["after"].is_null(), "deleted: nothing after");
    let revoked: Value =
        serde_json::from_str(log[6]["after"].as_str().expect("after")).expect("JSON");
    assert!(revoked["revoked_at"].is_u64());
    // No secret anywhere in the log.
    let text = serde_json::to_string(&log).expect("JSON");
    assert!(!text.contains("whsec_"), "{text}");
    // Paged: older than the third entry.
    let third = log[2]["id"].as_i64().expect("id");
    let (_, page) = admin(
        addr,
        "GET",
        &format!("/admin/v1/audit?before={third}&limit=2"),
        None,
    )
    .await;
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert_eq!(page[0]["id"], log[3]["id"]);
    let (s, _) = admin(addr, "GET", "/admin/v1/audit?limit=0", None).await;
    assert_eq!(s, 400);
    let (s, _) = http_request(addr, "GET", "/admin/v1/audit", &[], "").await;
    assert_eq!(s, 401);
    server.stop().await;
}

#[tokio::test]
async fn a_transcript_is_the_session_and_its_events() {
    let (server, _dir) = server().await;
    let (mut visitor, session) = chat(&server, "Hello <b>there</b>").await;
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("second"),
            text: "Second".into(),
            after: None,
        })
        .await;
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    let path = format!("/admin/v1/sessions/{session}/transcript");
    let (s, t) = admin(server.addr, "GET", &path, None).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["session"]["id"], session.as_str());
    assert_eq!(t["session"]["visitor_name"], "Hook Hanna");
    assert_eq!(t["session"]["target"], "service:support");
    let events = t["events"].as_array().expect("events");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"]["kind"] == "message" && e["event"]["from"] == "visitor")
        .map(|e| e["event"]["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, ["Hello <b>there</b>", "Second"]);
    let (s, _) = admin(
        server.addr,
        "GET",
        "/admin/v1/sessions/s_nope/transcript",
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = http_request(server.addr, "GET", &path, &[], "").await;
    assert_eq!(s, 401);
    server.stop().await;
}
