//! Agents' internal notes on a session, on a real listener: the agent holding it and a
//! colleague of its service read and write them; an agent of another service, a wrong
//! token or an unknown session get nothing; blank and oversized notes are refused; the
//! visitor never receives one (not on its connection, not in the session's events).

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use interact_testkit::{ALLOWED, TestServer, config, connect_visitor, mid};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const NOTE: &str = "VIP customer: <b>refund</b> approved by Sam.\nCall back Monday.";

async fn api(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let resp = interact_server::app(server.state.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn notes_are_for_the_sessions_agents_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut agent = server.available_agent("alex").await;
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(None).await;
    let form = PreChatForm {
        display_name: "Vera".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Hello".into()),
    };
    let (s, _) = v.start_chat(mid("start-1"), form).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s))
        .await;
    agent
        .send(&ClientFrame::Accept { session: s.clone() })
        .await;
    v.recv_until(|f| {
        matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))
    })
    .await;

    let alex = server.agent_token("alex").await;
    let sam = server.agent_token("sam").await; // a colleague in the same service
    let dana = server.agent_token("dana").await; // not in it
    let path = format!("/v1/agent/sessions/{}/notes", s.as_str());

    let (status, body) = api(&server, "GET", &path, Some(&alex), None).await;
    assert_eq!((status, &body["notes"]), (StatusCode::OK, &json!([])));
    let (status, body) = api(
        &server,
        "POST",
        &path,
        Some(&alex),
        Some(json!({"text": NOTE})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["note"]["agent"], "alex");
    assert_eq!(body["note"]["text"], NOTE);
    let (status, _) = api(
        &server,
        "POST",
        &path,
        Some(&sam),
        Some(json!({"text": "Done."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = api(&server, "GET", &path, Some(&sam), None).await;
    let texts: Vec<&str> = body["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, [NOTE, "Done."], "oldest first, the colleague's too");

    // Others: nothing, as if the session did not exist.
    let (status, _) = api(&server, "GET", &path, Some(&dana), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(
        &server,
        "POST",
        &path,
        Some(&dana),
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(&server, "GET", &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api(&server, "GET", &path, Some("not-a-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api(
        &server,
        "GET",
        "/v1/agent/sessions/s-unknown/notes",
        Some(&alex),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Blank or too long: refused, nothing stored.
    for text in [" \u{200b} ".to_owned(), "x".repeat(4001)] {
        let (status, _) = api(
            &server,
            "POST",
            &path,
            Some(&alex),
            Some(json!({ "text": text })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = api(
        &server,
        "POST",
        &path,
        Some(&alex),
        Some(json!({"note": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
    assert_eq!(
        server
            .state
            .store
            .session_notes(&s)
            .await
            .expect("notes")
            .len(),
        2
    );

    // The visitor never hears of them.
    let heard = tokio::time::timeout(
        Duration::from_millis(300),
        v.recv_until(|f| format!("{f:?}").contains("refund")),
    )
    .await;
    assert!(heard.is_err(), "a note reached the visitor: {heard:?}");
    let events = server.state.store.events(&s).await.expect("events");
    assert!(
        !events.iter().any(|e| format!("{e:?}").contains("refund")),
        "a note became a session event"
    );
}
