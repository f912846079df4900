//! Identified visitors (protocol §6.15) on a real listener: the admin makes an embed
//! code's identity secret (shown once, audited without it); a visitor whose hash is the
//! HMAC of its id is verified, gets its earlier conversations through that code only, and
//! its chats are stored under the id; a wrong hash, a hash for another id, a code without
//! secret, a removed or replaced secret and an oversize id are refused (logged, counted),
//! and such a visitor chats anonymously. Identifying alone stores nothing.

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{
    ClientFrame, ErrorCode, EventFrame, Party, ServerFrame, SessionEvent,
};
use interact_server::identity::sign;
use interact_testkit::{ALLOWED, Client, TestServer, config, connect_visitor, mid};
use serde_json::Value;
use tower::ServiceExt as _;

const ADMIN_TOKEN: &str = "demo-admin-token";

fn form(name: &str) -> PreChatForm {
    PreChatForm {
        display_name: name.into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some(format!("Hello from {name}")),
    }
}

async fn admin(server: &TestServer, method: Method, path: &str) -> (StatusCode, Value) {
    let resp = interact_server::app(server.state.clone())
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .header(AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A new identity secret for `code` through the admin API.
async fn new_secret(server: &TestServer, code: &str) -> String {
    let (status, body) = admin(
        server,
        Method::POST,
        &format!("/admin/v1/embed-codes/{code}/identity-secret"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().expect("a secret").to_owned();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    secret
}

async fn visitor(server: &TestServer, code: &str) -> Client {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(None).await;
    v
}

/// Sends `identify`; the answer: the history, or the error's code.
async fn identify(
    v: &mut Client,
    id: &str,
    visitor: &str,
    hash: &str,
) -> Result<Vec<EventFrame>, ErrorCode> {
    let id = mid(id);
    v.send(&ClientFrame::Identify {
        id: id.clone(),
        visitor: visitor.into(),
        hash: hash.into(),
    })
    .await;
    let frames = v
        .recv_until(|f| match f {
            ServerFrame::History { id: h, .. } => *h == id,
            ServerFrame::Error(e) => e.id.as_ref() == Some(&id),
            _ => false,
        })
        .await;
    match frames.last() {
        Some(ServerFrame::History { events, .. }) => Ok(events.clone()),
        Some(ServerFrame::Error(e)) => Err(e.code),
        other => unreachable!("recv_until stops at the answer: {other:?}"),
    }
}

/// Starts a chat on `v` and has the visitor end it; returns the session.
async fn chat_and_end(v: &mut Client, start: &str, name: &str) -> SessionId {
    let (s, _) = v.start_chat(mid(start), form(name)).await;
    v.send(&ClientFrame::End { session: None }).await;
    v.recv_until(|f| {
        matches!(f, ServerFrame::Event(e) if e.session == s
            && matches!(e.event, SessionEvent::Ended { .. }))
    })
    .await;
    s
}

/// Who said what in the history's messages.
fn texts(history: &[EventFrame]) -> Vec<(Party, String)> {
    history
        .iter()
        .map(|e| match &e.event {
            SessionEvent::Message { from, text, .. } => (*from, text.clone()),
            other => panic!("only messages: {other:?}"),
        })
        .collect()
}

/// The sessions of a history, in order, each once.
fn sessions(history: &[EventFrame]) -> Vec<SessionId> {
    let mut out: Vec<SessionId> = Vec::new();
    for e in history {
        if out.last() != Some(&e.session) {
            out.push(e.session.clone());
        }
    }
    out
}

#[tokio::test]
async fn a_verified_visitor_sees_only_its_own_earlier_chats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let other_code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let secret = new_secret(&server, code.as_str()).await;
    let other_secret = new_secret(&server, other_code.as_str()).await;
    assert_ne!(secret, other_secret);

    // First visit: verified, no history yet; the chat is stored under the id.
    let mut v = visitor(&server, code.as_str()).await;
    let first = identify(&mut v, "i1", "user-42", &sign(&secret, "user-42")).await;
    assert_eq!(first, Ok(vec![]));
    let s1 = chat_and_end(&mut v, "start-1", "Vera").await;
    let stored = server.state.store.session(&s1).await.expect("read");
    assert_eq!(stored.expect("s1").visitor_id.as_deref(), Some("user-42"));
    let events = server.state.store.events(&s1).await.expect("events");
    let SessionEvent::Started { visitor: info, .. } = &events[0].event else {
        panic!("started first")
    };
    assert_eq!(info.verified_id.as_deref(), Some("user-42"));
    drop(v);

    // Someone else's chats: an anonymous visitor, another verified id, the same id
    // through another embed code (another website's namespace).
    let mut anon = visitor(&server, code.as_str()).await;
    let s_anon = chat_and_end(&mut anon, "start-2", "Anon").await;
    let stored = server.state.store.session(&s_anon).await.expect("read");
    assert_eq!(stored.expect("anon").visitor_id, None);
    let mut other = visitor(&server, code.as_str()).await;
    identify(&mut other, "i2", "user-43", &sign(&secret, "user-43"))
        .await
        .expect("verified");
    chat_and_end(&mut other, "start-3", "Otto").await;
    let mut elsewhere = visitor(&server, other_code.as_str()).await;
    identify(
        &mut elsewhere,
        "i3",
        "user-42",
        &sign(&other_secret, "user-42"),
    )
    .await
    .expect("verified");
    chat_and_end(&mut elsewhere, "start-4", "Vera elsewhere").await;

    // The second visit, a new connection (another device): only its own chat.
    let mut back = visitor(&server, code.as_str()).await;
    let history = identify(&mut back, "i4", "user-42", &sign(&secret, "user-42"))
        .await
        .expect("verified");
    assert_eq!(sessions(&history), std::slice::from_ref(&s1), "{history:?}");
    // The workflow's greeting (a system message, stored with the session) first, then
    // the visitor's first message; every other message is the workflow's.
    let said = texts(&history);
    assert_eq!(said[0].0, Party::System, "{said:?}");
    let theirs: Vec<_> = said
        .iter()
        .filter(|(from, _)| *from != Party::System)
        .collect();
    assert_eq!(
        theirs,
        [&(Party::Visitor, "Hello from Vera".to_owned())],
        "{said:?}"
    );
    // A second chat; the third visit lists both, newest first, in upper-case hex too.
    let s5 = chat_and_end(&mut back, "start-5", "Vera").await;
    let mut third = visitor(&server, code.as_str()).await;
    let hash = sign(&secret, "user-42").to_ascii_uppercase();
    let history = identify(&mut third, "i5", "user-42", &hash)
        .await
        .expect("verified");
    assert_eq!(sessions(&history), [s5, s1]);
}

#[tokio::test]
async fn wrong_identities_are_refused_and_stay_anonymous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let bare = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let secret = new_secret(&server, code.as_str()).await;
    let good = sign(&secret, "user-42");

    let mut v = visitor(&server, code.as_str()).await;
    // A hash for another id, a changed digit, another key.
    let refused = Err(ErrorCode::IdentityRefused);
    assert_eq!(
        identify(&mut v, "w1", "user-42", &sign(&secret, "user-43")).await,
        refused
    );
    let mut flipped = good.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("hex");
    assert_eq!(identify(&mut v, "w2", "user-42", &flipped).await, refused);
    assert_eq!(
        identify(&mut v, "w3", "user-42", &sign("not the secret", "user-42")).await,
        refused
    );
    // Out of bounds: an oversize id, a short hash.
    let long = "x".repeat(129);
    assert_eq!(
        identify(&mut v, "w4", &long, &sign(&secret, &long)).await,
        Err(ErrorCode::InvalidField)
    );
    assert_eq!(
        identify(&mut v, "w5", "user-42", &good[..40]).await,
        Err(ErrorCode::InvalidField)
    );
    // Too many on one connection (five are taken), even a good one.
    assert_eq!(
        identify(&mut v, "w6", "user-42", &good).await,
        Err(ErrorCode::RateLimited)
    );
    drop(v);

    // Refused, the visitor chats as a guest: the session has no visitor id.
    let mut guest = visitor(&server, code.as_str()).await;
    assert_eq!(
        identify(&mut guest, "g1", "user-42", &flipped).await,
        refused
    );
    let s = chat_and_end(&mut guest, "start-g", "Guest").await;
    let stored = server.state.store.session(&s).await.expect("read");
    assert_eq!(stored.expect("guest").visitor_id, None);
    // The earlier verified identity is dropped by a refused one on the same connection.
    let mut switch = visitor(&server, code.as_str()).await;
    identify(&mut switch, "x1", "user-42", &good)
        .await
        .expect("verified");
    assert_eq!(
        identify(&mut switch, "x2", "user-42", &flipped).await,
        refused
    );
    let s = chat_and_end(&mut switch, "start-x", "Switch").await;
    let stored = server.state.store.session(&s).await.expect("read");
    assert_eq!(stored.expect("switch").visitor_id, None);
    // So user-42 has no earlier chats.
    let mut check = visitor(&server, code.as_str()).await;
    assert_eq!(
        identify(&mut check, "c1", "user-42", &good).await,
        Ok(vec![])
    );

    // A code without secret refuses every identity.
    let mut b = visitor(&server, bare.as_str()).await;
    assert_eq!(identify(&mut b, "b1", "user-42", &good).await, refused);

    // A replaced secret's hashes stop verifying; so do all once it is removed.
    let newer = new_secret(&server, code.as_str()).await;
    let mut r = visitor(&server, code.as_str()).await;
    assert_eq!(identify(&mut r, "r1", "user-42", &good).await, refused);
    let fresh = sign(&newer, "user-42");
    assert!(identify(&mut r, "r2", "user-42", &fresh).await.is_ok());
    let (status, _) = admin(
        &server,
        Method::DELETE,
        &format!("/admin/v1/embed-codes/{}/identity-secret", code.as_str()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut d = visitor(&server, code.as_str()).await;
    assert_eq!(identify(&mut d, "d1", "user-42", &fresh).await, refused);

    // Counted in /metrics by reason.
    let metrics = server.state.metrics.render();
    let count = |reason: &str| {
        metrics
            .lines()
            .find(|l| l.contains(&format!("reason=\"{reason}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("identity_refused"), 8, "{metrics}");
    assert_eq!(count("invalid_identity"), 2);
}

#[tokio::test]
async fn the_secret_is_shown_once_and_audited_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let secret = new_secret(&server, code.as_str()).await;
    // Nowhere else: not in the listing, the snippet or the audit log.
    for path in [
        "/admin/v1/embed-codes".to_owned(),
        "/admin/v1/audit".to_owned(),
    ] {
        let (status, body) = admin(&server, Method::GET, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.to_string().contains(&secret), "{path}: {body}");
    }
    let (_, audit) = admin(&server, Method::GET, "/admin/v1/audit").await;
    let entry = &audit[0];
    assert_eq!(entry["action"], "embed_code.identity_secret.rotate");
    assert_eq!(entry["target"], code.as_str());
    // Revoked and unknown codes have none to make.
    let (status, _) = admin(
        &server,
        Method::POST,
        "/admin/v1/embed-codes/ie1_unknown/identity-secret",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(
        &server,
        Method::POST,
        &format!("/admin/v1/embed-codes/{}/revoke", code.as_str()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = admin(
        &server,
        Method::POST,
        &format!("/admin/v1/embed-codes/{}/identity-secret", code.as_str()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Identifying stores nothing: no session appears for a visitor who only identified.
#[tokio::test]
async fn identifying_alone_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let secret = new_secret(&server, code.as_str()).await;
    let mut v = visitor(&server, code.as_str()).await;
    identify(&mut v, "i1", "user-42", &sign(&secret, "user-42"))
        .await
        .expect("verified");
    identify(&mut v, "i2", "user-42", &sign(&secret, "user-43"))
        .await
        .expect_err("refused");
    drop(v);
    assert!(
        server
            .state
            .store
            .open_sessions()
            .await
            .expect("read")
            .is_empty()
    );
    let none: Vec<MessageId> = Vec::new();
    assert_eq!(
        server
            .state
            .store
            .visitor_sessions(&code, "user-42", 20)
            .await
            .expect("read")
            .len(),
        none.len()
    );
}
