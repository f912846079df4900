//! Availability and offline messages (protocol §6.14) on a real listener: a service
//! closed by its workflow's opening hours says so with its next opening and takes a
//! message (form rules, repeats stored once, the per-address rate), which a member
//! agent lists and answers by email through a real SMTP conversation with the testkit's
//! sink (once; others do not see it). Open with nobody available: a chat may start and
//! wait, and the next visitor is told the expected wait; without queueing, a message.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::TargetRef;
use interact_sdk::config::{Availability, WidgetConfig};
use interact_sdk::context::ChatContext;
use interact_sdk::form::{Field, FieldError, PreChatForm};
use interact_sdk::ids::MessageId;
use interact_sdk::protocol::{ClientFrame, ErrorCode, ServerFrame};
use interact_testkit::{
    ALLOWED, Client, DEMO, SmtpSink, TestServer, config, config_from, connect_visitor, mid,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const DAY_MS: u64 = 86_400_000;

fn form(message: Option<&str>) -> PreChatForm {
    PreChatForm {
        display_name: "Vera <b>Visitor</b>".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: message.map(str::to_owned),
    }
}

/// The demo with opening hours 09:00-17:00 UTC every day and today (UTC) a holiday:
/// closed now, open again tomorrow at 09:00 UTC (returned).
fn closed_today() -> (String, u64) {
    let now = u64::try_from(jiff::Timestamp::now().as_millisecond()).expect("after 1970");
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let text = DEMO
        .replace("time_zone = \"Europe/Berlin\"", "time_zone = \"UTC\"")
        .replace("[\"00:00-24:00\"]", "[\"09:00-17:00\"]")
        + &format!("\n[[opening_hours.holiday]]\ndate = \"{today}\"\n");
    let opens = now - now % DAY_MS + DAY_MS + 9 * 3_600_000;
    (text, opens)
}

/// A visitor's connection and the configuration its `welcome` carried.
async fn visitor(server: &TestServer, code: &str) -> (Client, WidgetConfig) {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed");
    match v.hello(None).await {
        ServerFrame::Welcome {
            config: Some(c), ..
        } => (v, c),
        other => panic!("a welcome with the configuration: {other:?}"),
    }
}

/// The answer to request `id`: `Ok` for `done`, the error otherwise.
async fn answer(
    client: &mut Client,
    id: &MessageId,
) -> Result<(), interact_sdk::protocol::ErrorFrame> {
    let frames = client
        .recv_until(|f| match f {
            ServerFrame::Done { id: d } => d == id,
            ServerFrame::Error(e) => e.id.as_ref() == Some(id),
            _ => false,
        })
        .await;
    match frames.last() {
        Some(ServerFrame::Done { .. }) => Ok(()),
        Some(ServerFrame::Error(e)) => Err(e.clone()),
        other => unreachable!("recv_until stops at the answer: {other:?}"),
    }
}

fn leave(id: &str, form: PreChatForm, context: Option<ChatContext>) -> ClientFrame {
    ClientFrame::LeaveMessage {
        id: mid(id),
        form,
        context,
    }
}

/// An agent API request with `token`: the status and the JSON body.
async fn agent_api(
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
async fn closed_shows_the_next_opening_and_a_message_is_answered_by_email() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, opens) = closed_today();
    let mut cfg = config_from(&text, dir.path());
    cfg.smtp = Some(sink.config("Interact <chat@shop.example.com>"));
    cfg.limits.sessions_per_minute_per_ip = 2;
    let server = TestServer::start(cfg).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;

    let (mut v, c) = visitor(&server, code.as_str()).await;
    assert_eq!(c.availability, Availability::Closed);
    assert_eq!(c.opens_at.map(|t| t.0), Some(opens), "tomorrow 09:00 UTC");
    assert!(c.offline_messages && c.can_leave_message() && !c.can_start_chat());
    assert_eq!(c.expected_wait, None, "no wait is told while closed");

    // The message is required, and checked as the form is.
    v.send(&leave("l1", form(Some(" \u{200b} ")), None)).await;
    let refused = answer(&mut v, &mid("l1")).await.expect_err("no message");
    assert_eq!(refused.code, ErrorCode::InvalidForm);
    let fields = refused.fields.expect("fields");
    assert_eq!(fields.get(Field::FirstMessage), Some(&FieldError::Required));

    let context = ChatContext {
        page_url: Some("http://127.0.0.1:8081/cart?step=2".into()),
        attributes: [("plan".to_owned(), "pro".to_owned())].into(),
    };
    let message = "Please call me back about order #1042.\nThanks!";
    v.send(&leave("l2", form(Some(message)), Some(context.clone())))
        .await;
    assert!(answer(&mut v, &mid("l2")).await.is_ok());
    // A repeat (its answer was lost) is answered again, not stored twice.
    v.send(&leave("l2", form(Some(message)), Some(context.clone())))
        .await;
    assert!(answer(&mut v, &mid("l2")).await.is_ok());
    // The per-address rate counts messages (repeats too) like chat starts: 2 a minute here.
    v.send(&leave("l3", form(Some("Another thing")), None))
        .await;
    assert_eq!(
        answer(&mut v, &mid("l3"))
            .await
            .expect_err("over the rate")
            .code,
        ErrorCode::RateLimited
    );

    // A member lists it; another agent does not see it; no token: 401.
    let alex = server.agent_token("alex").await;
    let dana = server.agent_token("dana").await;
    let path = "/v1/agent/offline-messages";
    let (status, body) = agent_api(&server, "GET", path, Some(&alex), None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = body["messages"].as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{body}");
    let m = &listed[0];
    assert_eq!(m["visitor_name"], "Vera <b>Visitor</b>");
    assert_eq!(m["visitor_email"], "vera@example.com");
    assert_eq!(m["text"], message);
    assert_eq!(m["target"], json!({"kind": "service", "id": "support"}));
    assert_eq!(
        m["context"]["page_url"],
        "http://127.0.0.1:8081/cart?step=2"
    );
    assert_eq!(m["context"]["attributes"]["plan"], "pro");
    assert!(m["answer"].is_null());
    let id = m["id"].as_str().expect("an id").to_owned();
    let (_, body) = agent_api(&server, "GET", path, Some(&dana), None).await;
    assert_eq!(body["messages"], json!([]));
    let (status, _) = agent_api(&server, "GET", path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Answered: by email to the visitor, once; not by someone else's agent.
    let answer_path = format!("/v1/agent/offline-messages/{id}/answer");
    let reply = json!({"text": "We will call you tomorrow at 10:00."});
    let (status, _) = agent_api(
        &server,
        "POST",
        &answer_path,
        Some(&dana),
        Some(reply.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let blank = json!({"text": " \u{200b} "});
    let (status, _) = agent_api(&server, "POST", &answer_path, Some(&alex), Some(blank)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = agent_api(
        &server,
        "POST",
        &answer_path,
        Some(&alex),
        Some(reply.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["answer"]["agent"], "alex");
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    let mail = &mails[0];
    assert!(
        mail.to.iter().any(|t| t.contains("vera@example.com")),
        "{:?}",
        mail.to
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Re: your message to Customer Care")
    );
    let mail_body = mail.body();
    assert!(
        mail_body.contains("We will call you tomorrow at 10:00."),
        "{mail_body}"
    );
    assert!(
        mail_body.contains("> Please call me back about order #1042."),
        "{mail_body}"
    );
    let (status, _) = agent_api(&server, "POST", &answer_path, Some(&alex), Some(reply)).await;
    assert_eq!(status, StatusCode::CONFLICT, "answered once");

    // No longer open; with its answer among all.
    let (_, body) = agent_api(&server, "GET", path, Some(&alex), None).await;
    assert_eq!(body["messages"], json!([]));
    let (_, body) = agent_api(
        &server,
        "GET",
        &format!("{path}?state=all"),
        Some(&alex),
        None,
    )
    .await;
    assert_eq!(
        body["messages"][0]["answer"]["text"],
        "We will call you tomorrow at 10:00."
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 1, "one email");
}

#[tokio::test]
async fn nobody_available_a_chat_waits_and_the_next_visitor_hears_the_usual_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;

    let (mut v, c) = visitor(&server, code.as_str()).await;
    assert_eq!(c.availability, Availability::NoAgents);
    assert!(c.queue_when_unavailable && c.can_start_chat() && !c.can_leave_message());
    assert_eq!((c.opens_at, c.expected_wait), (None, None));
    // A message is not taken where a chat can start.
    v.send(&leave("l1", form(Some("Hello?")), None)).await;
    assert_eq!(
        answer(&mut v, &mid("l1"))
            .await
            .expect_err("chat instead")
            .code,
        ErrorCode::NotAllowed
    );

    // The chat starts and waits; an agent signs in later and takes it.
    let (s, _) = v.start_chat(mid("start-1"), form(Some("Hello?"))).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut agent = server.available_agent("alex").await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s))
        .await;
    agent
        .send(&ClientFrame::Accept { session: s.clone() })
        .await;
    v.recv_until(|f| {
        matches!(f, ServerFrame::Event(e) if matches!(e.event, interact_sdk::protocol::SessionEvent::AgentJoined { .. }))
    })
    .await;

    // The next visitor is told how long chats wait here (at least the 1.2 s above).
    let (_, c) = visitor(&server, code.as_str()).await;
    assert_eq!(c.availability, Availability::Open);
    let wait = c.expected_wait.expect("an expected wait");
    assert!((2..=60).contains(&wait), "{wait} s");
}

#[tokio::test]
async fn without_queueing_nobody_available_takes_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = DEMO.replace(
        "queue_when_unavailable = true",
        "queue_when_unavailable = false",
    );
    let server = TestServer::start(config_from(&text, dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let (mut v, c) = visitor(&server, code.as_str()).await;
    assert_eq!(c.availability, Availability::NoAgents);
    assert_eq!(c.opens_at, None, "open, only nobody there");
    assert!(!c.can_start_chat() && c.can_leave_message());
    v.send(&leave("l1", form(Some("Call me back, please")), None))
        .await;
    assert!(answer(&mut v, &mid("l1")).await.is_ok());
    let stored = server
        .state
        .store
        .offline_messages(&[TargetRef::Service("support".into())], true, 10)
        .await
        .expect("listed");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].visitor_name, "Vera <b>Visitor</b>");
    assert_eq!(stored[0].origin, ALLOWED);
}
