//! After the chat (protocol §6.13) on a real listener: the end-of-chat rating (stored once,
//! refused before the end and a second time, bad scores and comments refused, shown in
//! the report as JSON and CSV) and the transcript by email through a real SMTP
//! conversation with the testkit's sink (once per session, after the end only, to the
//! pre-chat form's address, the messages as plain text; not offered without `[smtp]`).

use std::time::Duration;

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{ClientFrame, ErrorCode, ServerFrame, SessionEvent};
use interact_testkit::{
    ALLOWED, Client, SmtpSink, TestServer, config, connect_visitor, mid, resume_visitor,
};
use serde_json::Value;
use tower::ServiceExt as _;

const ADMIN_TOKEN: &str = "demo-admin-token";

fn form() -> PreChatForm {
    PreChatForm {
        display_name: "Vera Visitor".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Hello, my order #1042 is late".into()),
    }
}

async fn until_event(
    client: &mut Client,
    session: &SessionId,
    pred: impl Fn(&SessionEvent) -> bool,
) {
    client
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if &e.session == session && pred(&e.event)),
        )
        .await;
}

/// The answer to an after-chat request `id`: `Ok` for `done`, the error's code otherwise.
async fn answer(client: &mut Client, id: &MessageId) -> Result<(), ErrorCode> {
    let frames = client
        .recv_until(|f| match f {
            ServerFrame::Done { id: d } => d == id,
            ServerFrame::Error(e) => e.id.as_ref() == Some(id),
            _ => false,
        })
        .await;
    match frames.last() {
        Some(ServerFrame::Done { .. }) => Ok(()),
        Some(ServerFrame::Error(e)) => Err(e.code),
        other => unreachable!("recv_until stops at the answer: {other:?}"),
    }
}

/// A chat with the agent alex: the visitor's first message, an answer, not ended yet.
async fn chat(
    server: &TestServer,
    agent: &mut Client,
    code: &str,
    start: &str,
) -> (Client, SessionId, interact_sdk::ids::ResumeToken) {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(None).await;
    let (s, token) = v.start_chat(mid(start), form()).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s))
        .await;
    agent
        .send(&ClientFrame::Accept { session: s.clone() })
        .await;
    until_event(&mut v, &s, |e| {
        matches!(e, SessionEvent::AgentJoined { .. })
    })
    .await;
    agent
        .send(&ClientFrame::Send {
            session: Some(s.clone()),
            id: mid(&format!("{start}-a1")),
            text: "Let me check <b>that</b> for you.\nOne moment.".into(),
            after: None,
        })
        .await;
    until_event(
        &mut v,
        &s,
        |e| matches!(e, SessionEvent::Message { text, .. } if text.starts_with("Let me check")),
    )
    .await;
    (v, s, token)
}

async fn report(server: &TestServer, query: &str) -> (StatusCode, String) {
    let resp = interact_server::app(server.state.clone())
        .oneshot(
            Request::get(format!("/admin/v1/reports/sessions{query}"))
                .header(AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8(body.to_vec()).expect("utf-8"))
}

#[tokio::test]
async fn a_rating_is_taken_once_after_the_end_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut agent = server.available_agent("alex").await;
    let (mut v, s, _) = chat(&server, &mut agent, code.as_str(), "start-1").await;

    // Before the end: refused.
    let rate = |id: &str, score: u8, comment: Option<&str>| ClientFrame::Rate {
        id: mid(id),
        score,
        comment: comment.map(str::to_owned),
    };
    v.send(&rate("r1", 4, None)).await;
    assert_eq!(answer(&mut v, &mid("r1")).await, Err(ErrorCode::NotAllowed));

    agent
        .send(&ClientFrame::End {
            session: Some(s.clone()),
        })
        .await;
    until_event(&mut v, &s, |e| matches!(e, SessionEvent::Ended { .. })).await;

    // Bad scores and comments: refused, nothing stored.
    v.send(&rate("r2", 0, None)).await;
    assert_eq!(
        answer(&mut v, &mid("r2")).await,
        Err(ErrorCode::InvalidField)
    );
    v.send(&rate("r3", 6, None)).await;
    assert_eq!(
        answer(&mut v, &mid("r3")).await,
        Err(ErrorCode::InvalidField)
    );
    v.send(&rate("r4", 3, Some(" \u{200b} "))).await;
    assert_eq!(
        answer(&mut v, &mid("r4")).await,
        Err(ErrorCode::InvalidField)
    );
    v.send(&rate("r5", 3, Some(&"x".repeat(1001)))).await;
    assert_eq!(
        answer(&mut v, &mid("r5")).await,
        Err(ErrorCode::InvalidField)
    );

    // The rating; then a second one is refused and the first stays.
    v.send(&rate("r6", 4, Some("  Quick, and \"kind\"  ")))
        .await;
    assert_eq!(answer(&mut v, &mid("r6")).await, Ok(()));
    v.send(&rate("r7", 1, None)).await;
    assert_eq!(answer(&mut v, &mid("r7")).await, Err(ErrorCode::NotAllowed));

    // Transcripts by email are not offered without [smtp].
    v.send(&ClientFrame::EmailTranscript { id: mid("e1") })
        .await;
    assert_eq!(answer(&mut v, &mid("e1")).await, Err(ErrorCode::NotAllowed));

    let (status, body) = report(&server, "").await;
    assert_eq!(status, StatusCode::OK);
    let rows: Vec<Value> = serde_json::from_str(&body).expect("json");
    let row = rows
        .iter()
        .find(|r| r["session"] == s.as_str())
        .expect("the session");
    assert_eq!(
        row["satisfaction"],
        serde_json::json!({"score": 4, "comment": "Quick, and \"kind\""})
    );
    let (status, csv) = report(&server, "?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = csv.lines();
    let header = lines.next().expect("a header");
    assert!(
        header.ends_with(",satisfaction_score,satisfaction_comment"),
        "{header}"
    );
    let line = lines
        .find(|l| l.starts_with(s.as_str()))
        .expect("the session's line");
    assert!(line.ends_with(r#",4,"Quick, and ""kind""""#), "{line}");
    server.stop().await;
}

#[tokio::test]
async fn the_transcript_is_emailed_once_after_the_end() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.smtp = Some(sink.config("Interact <chat@shop.example.com>"));
    let server = TestServer::start(cfg).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut agent = server.available_agent("alex").await;

    // The configuration says that transcripts can be emailed.
    let mut probe = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    match probe.hello(None).await {
        ServerFrame::Welcome {
            config: Some(c), ..
        } => assert!(c.transcript_email),
        other => panic!("a welcome with the configuration: {other:?}"),
    }
    drop(probe);

    let (mut v, s, token) = chat(&server, &mut agent, code.as_str(), "start-2").await;
    v.send(&ClientFrame::EmailTranscript { id: mid("e1") })
        .await;
    assert_eq!(
        answer(&mut v, &mid("e1")).await,
        Err(ErrorCode::NotAllowed),
        "not before the end"
    );

    v.send(&ClientFrame::End { session: None }).await;
    until_event(&mut v, &s, |e| matches!(e, SessionEvent::Ended { .. })).await;
    // As the SDK's visitor does: the end closed the connection; a new one resumes the
    // ended session for the request.
    drop(v);
    let (mut v, _) = resume_visitor(
        server.addr,
        code.as_str(),
        &s,
        &token,
        interact_sdk::ids::Seq(100),
    )
    .await;
    v.send(&ClientFrame::EmailTranscript { id: mid("e2") })
        .await;
    assert_eq!(answer(&mut v, &mid("e2")).await, Ok(()));
    v.send(&ClientFrame::EmailTranscript { id: mid("e3") })
        .await;
    assert_eq!(
        answer(&mut v, &mid("e3")).await,
        Err(ErrorCode::NotAllowed),
        "once per session"
    );

    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, ["vera@example.com"]);
    assert_eq!(mail.from, "chat@shop.example.com");
    let subject = mail.header("Subject").expect("a subject");
    assert!(
        subject.contains("Customer Care") || subject.contains("Your chat"),
        "{subject}"
    );
    let content_type = mail.header("Content-Type").expect("a content type");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = mail.body();
    assert!(
        body.contains("Vera Visitor: Hello, my order #1042 is late"),
        "{body}"
    );
    assert!(
        body.contains(": Let me check <b>that</b> for you.\r\n  One moment.")
            || body.contains(": Let me check <b>that</b> for you.\n  One moment."),
        "{body}"
    );
    assert!(body.contains(" UTC] "), "times: {body}");
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
    server.stop().await;
}
