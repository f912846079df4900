//! Files in widget chats (protocol §2.6) on a real server with its SQLite store: uploads
//! by the visitor and the agent reach both parties as `attachment` events and are served
//! back to the parties only, with headers that keep a browser from running them; a
//! stranger (no credential, another session's token, another agent), a file that is too
//! large (by its `Content-Length` and while streaming), a disguised executable, an HTML
//! file, a WhatsApp chat and an ended chat are refused with nothing stored.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, ORIGIN};
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{AttachmentId, ResumeToken, SessionId};
use interact_sdk::protocol::{ClientFrame, Party, ServerFrame, SessionEvent};
use interact_testkit::{
    ALLOWED, Client, FOREIGN, TestServer, accept_offer, available_agent, config, connect_agent,
    connect_visitor, mid,
};
use serde_json::Value;
use tower::ServiceExt as _;

/// The smallest PNG: one transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// A PDF's first bytes are all the server reads of it.
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn form() -> PreChatForm {
    PreChatForm {
        display_name: "Vera Visitor".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Here is a photo of the parcel".into()),
    }
}

/// A chat the agent `alex` accepted: the visitor's connection, the session, its resume
/// token; the agent's connection and sign-in token.
struct Chat {
    visitor: Client,
    session: SessionId,
    token: ResumeToken,
    agent: Client,
    agent_token: String,
}

async fn chat(server: &TestServer, code: &str, start: &str) -> Chat {
    let agent_token = server.agent_token("alex").await;
    let mut agent = available_agent(connect_agent(server.addr).await, &agent_token).await;
    let mut visitor = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let (session, token) = visitor.start_chat(mid(start), form()).await;
    accept_offer(&mut agent, &mut visitor, &session).await;
    Chat {
        visitor,
        session,
        token,
        agent,
        agent_token,
    }
}

/// Waits for an event of `session` that `pred` accepts and returns it.
async fn event(
    client: &mut Client,
    session: &SessionId,
    pred: impl Fn(&SessionEvent) -> bool,
) -> SessionEvent {
    let frames = client
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if &e.session == session && pred(&e.event)),
        )
        .await;
    match frames.last() {
        Some(ServerFrame::Event(e)) => e.event.clone(),
        other => unreachable!("recv_until stops at the event: {other:?}"),
    }
}

/// Sends `req` to the server's router (one per test: its rate limits live as long).
async fn send(app: &axum::Router, req: Request<Body>) -> Response<Body> {
    app.clone().oneshot(req).await.expect("infallible")
}

/// `POST` of `body` as the file `name` to `session`, with `token` (if any) and `origin`.
async fn upload(
    server: &axum::Router,
    session: &SessionId,
    name: &str,
    token: Option<&str>,
    origin: Option<&str>,
    body: &[u8],
) -> (StatusCode, Value) {
    let mut req = Request::post(format!(
        "/v1/sessions/{session}/attachments?name={}",
        percent(name)
    ))
    .header(CONTENT_LENGTH, body.len());
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(o) = origin {
        req = req.header(ORIGIN, o);
    }
    let resp = send(
        server,
        req.body(Body::from(body.to_vec())).expect("request"),
    )
    .await;
    json(resp).await
}

/// `GET` of file `id` of `session` with `token` (if any).
async fn download(
    server: &axum::Router,
    session: &SessionId,
    id: &str,
    token: Option<&str>,
) -> Response<Body> {
    let mut req = Request::get(format!("/v1/sessions/{session}/attachments/{id}"));
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    send(server, req.body(Body::empty()).expect("request")).await
}

async fn json(resp: Response<Body>) -> (StatusCode, Value) {
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, value)
}

async fn bytes(resp: Response<Body>) -> Vec<u8> {
    resp.into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec()
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The files the store holds for `session` among `ids`.
async fn stored(server: &TestServer, session: &SessionId, id: &str) -> bool {
    let id = AttachmentId::new(id).expect("id");
    server
        .state
        .store
        .attachment(session, &id)
        .await
        .expect("store")
        .is_some()
}

/// The `attachment` events in the session's stored log.
async fn attachment_events(server: &TestServer, session: &SessionId) -> usize {
    server
        .state
        .store
        .events(session)
        .await
        .expect("events")
        .iter()
        .filter(|e| matches!(e.event, SessionEvent::Attachment { .. }))
        .count()
}

#[tokio::test]
async fn files_go_both_ways_and_are_served_to_the_parties_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let app = interact_server::app(server.state.clone());
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut c = chat(&server, code.as_str(), "start-1").await;

    // The visitor sends a photo from an allowed page (its name cleaned of a path).
    let (status, body) = upload(
        &app,
        &c.session,
        "C:\\fakepath\\parcel photo.PNG",
        Some(c.token.expose()),
        Some(ALLOWED),
        PNG,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "parcel photo.PNG");
    assert_eq!(body["mime"], "image/png");
    assert_eq!(body["size"], PNG.len());
    let photo = body["id"].as_str().expect("an id").to_owned();
    // Both parties see it, the agent with what to show.
    for who in [&mut c.visitor, &mut c.agent] {
        let e = event(who, &c.session, |e| {
            matches!(e, SessionEvent::Attachment { .. })
        })
        .await;
        let SessionEvent::Attachment {
            id,
            from,
            author,
            name,
            mime,
            size,
        } = e
        else {
            unreachable!("matched above")
        };
        assert_eq!(
            (
                id.as_str(),
                from,
                author,
                name.as_str(),
                mime.as_str(),
                size
            ),
            (
                photo.as_str(),
                Party::Visitor,
                None,
                "parcel photo.PNG",
                "image/png",
                PNG.len() as u64
            )
        );
    }

    // The agent reads it back: the bytes, and headers that keep a browser from running it.
    let resp = download(&app, &c.session, &photo, Some(&c.agent_token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "sandbox; default-src 'none'");
    assert_eq!(h["cache-control"], "private, no-store");
    assert_eq!(
        h["content-disposition"],
        "inline; filename=\"parcel photo.PNG\"; filename*=UTF-8''parcel%20photo.PNG"
    );
    assert_eq!(bytes(resp).await, PNG);
    // The visitor too.
    let resp = download(&app, &c.session, &photo, Some(c.token.expose())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(bytes(resp).await, PNG);

    // The agent sends a PDF: an attachment to download, under the agent's name.
    let (status, body) = upload(
        &app,
        &c.session,
        "Rücksendeetikett.pdf",
        Some(&c.agent_token),
        None,
        PDF,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let label = body["id"].as_str().expect("an id").to_owned();
    let e = event(&mut c.visitor, &c.session, |e| {
        matches!(
            e,
            SessionEvent::Attachment {
                from: Party::Agent,
                ..
            }
        )
    })
    .await;
    assert!(
        matches!(&e, SessionEvent::Attachment { author: Some(a), name, mime, .. }
            if a == "Alex Agent" && name == "Rücksendeetikett.pdf" && mime == "application/pdf"),
        "{e:?}"
    );
    let resp = download(&app, &c.session, &label, Some(c.token.expose())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"R_cksendeetikett.pdf\"; filename*=UTF-8''R%C3%BCcksendeetikett.pdf"
    );
    assert_eq!(bytes(resp).await, PDF);

    // Strangers: no credential, a wrong one, another chat's visitor, another agent.
    let other = chat(&server, code.as_str(), "start-2").await;
    assert_eq!(
        download(&app, &c.session, &photo, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        download(&app, &c.session, &photo, Some("not-a-token"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        download(&app, &c.session, &photo, Some(other.token.expose()))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Through the other session, with its own token: not found there.
    assert_eq!(
        download(&app, &other.session, &photo, Some(other.token.expose()))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let sam = server.agent_token("sam").await;
    assert_eq!(
        download(&app, &c.session, &photo, Some(&sam))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = upload(&app, &c.session, "x.png", Some(&sam), None, PNG).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_allowed");
    let (status, body) = upload(&app, &c.session, "x.png", None, None, PNG).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The visitor's token from a page the embed code does not allow.
    let (status, body) = upload(
        &app,
        &c.session,
        "x.png",
        Some(c.token.expose()),
        Some(FOREIGN),
        PNG,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(attachment_events(&server, &c.session).await, 2);

    // After the end: still readable, no more uploads.
    c.agent
        .send(&ClientFrame::End {
            session: Some(c.session.clone()),
        })
        .await;
    event(&mut c.visitor, &c.session, |e| {
        matches!(e, SessionEvent::Ended { .. })
    })
    .await;
    let (status, body) = upload(
        &app,
        &c.session,
        "late.png",
        Some(c.token.expose()),
        None,
        PNG,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "session_ended");
    let resp = download(&app, &c.session, &photo, Some(&c.agent_token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn disguised_large_and_foreign_files_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.attachments.max_bytes = 4096;
    cfg.attachments.per_minute = 10;
    let server = TestServer::start(cfg).await;
    let app = interact_server::app(server.state.clone());
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut c = chat(&server, code.as_str(), "start-1").await;
    let token = c.token.expose().to_owned();
    let refused = |status: StatusCode, body: &Value, want: StatusCode, code: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    };

    // A Windows executable named photo.png.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.extend_from_slice(&[0; 100]);
    let (s, b) = upload(&app, &c.session, "photo.png", Some(&token), None, &exe).await;
    refused(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
    );
    // An HTML page and an SVG image (both can run script in a browser).
    let html = b"<!doctype html><script>alert(document.cookie)</script>";
    let (s, b) = upload(&app, &c.session, "page.html", Some(&token), None, html).await;
    refused(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
    );
    let (s, b) = upload(&app, &c.session, "page.png", Some(&token), None, html).await;
    refused(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
    );
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let (s, b) = upload(&app, &c.session, "logo.svg", Some(&token), None, svg).await;
    refused(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
    );
    // A real PNG named .pdf: the name and the content must agree.
    let (s, b) = upload(&app, &c.session, "scan.pdf", Some(&token), None, PNG).await;
    refused(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
    );
    // Empty.
    let (s, b) = upload(&app, &c.session, "empty.png", Some(&token), None, b"").await;
    refused(s, &b, StatusCode::BAD_REQUEST, "bad_request");

    // Too large by its Content-Length: refused before reading.
    let mut big = PNG.to_vec();
    big.resize(4097, 0);
    let (s, b) = upload(&app, &c.session, "big.png", Some(&token), None, &big).await;
    refused(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // Too large while streaming (no Content-Length: chunks until it passes the limit).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(PNG.to_vec()))
        .chain((0..10).map(|_| Ok(vec![0u8; 1000])))
        .collect();
    let req = Request::post(format!(
        "/v1/sessions/{}/attachments?name=stream.png",
        c.session
    ))
    .header(AUTHORIZATION, format!("Bearer {token}"))
    .body(Body::from_stream(futures_util::stream::iter(chunks)))
    .expect("request");
    let (s, b) = json(send(&app, req).await).await;
    refused(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // Exactly at the limit: taken.
    let mut at_limit = PNG.to_vec();
    at_limit.resize(4096, 0);
    let (s, b) = upload(&app, &c.session, "ok.png", Some(&token), None, &at_limit).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    event(&mut c.agent, &c.session, |e| {
        matches!(e, SessionEvent::Attachment { .. })
    })
    .await;
    // Only the one accepted file is stored or announced.
    assert_eq!(attachment_events(&server, &c.session).await, 1);
    let id = b["id"].as_str().expect("id");
    assert!(stored(&server, &c.session, id).await);

    // The session's upload rate: 10 a minute (refusals of the content counted too),
    // then 429.
    let mut last = StatusCode::CREATED;
    for n in 0..10 {
        let (s, _) = upload(
            &app,
            &c.session,
            &format!("n{n}.png"),
            Some(&token),
            None,
            PNG,
        )
        .await;
        last = s;
        if s == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_whatsapp_chat_takes_no_files() {
    use interact_store::{EncodedEvent, SessionRecord};
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let app = interact_server::app(server.state.clone());
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let store = server.state.store.clone();
    let token = "a-whatsapp-sessions-token";
    let session = SessionId::new("s_whatsapp1").expect("id");
    let record = SessionRecord {
        id: session.clone(),
        embed_code: code.clone(),
        target: TargetRef::Service("support".into()),
        start_id: "w1 s_whatsapp1".into(),
        start_key: None,
        visitor_seen_at: None,
        token_hash: interact_server::auth::token_hash(token),
        visitor_name: "+447700900123".into(),
        visitor_email: String::new(),
        consent_version: "2024-05".into(),
        consent_at: interact_sdk::time::UnixMillis(1),
        origin: "whatsapp:+447700900123".into(),
        agent_id: None,
        created_at: interact_sdk::time::UnixMillis(1),
        ended: None,
        channel: interact_model::Channel::Whatsapp,
        visitor_id: None,
    };
    let started = interact_sdk::protocol::EventFrame {
        session: session.clone(),
        seq: interact_sdk::ids::Seq(1),
        at: interact_sdk::time::UnixMillis(1),
        event: SessionEvent::Started {
            visitor: interact_sdk::protocol::VisitorInfo {
                display_name: "+447700900123".into(),
                email: String::new(),
                channel: Some("whatsapp".into()),
                phone: Some("+447700900123".into()),
                verified_id: None,
            },
            consent: interact_sdk::protocol::Consent {
                policy_version: "2024-05".into(),
                at: interact_sdk::time::UnixMillis(1),
            },
            target: interact_sdk::config::Target {
                kind: interact_sdk::config::TargetKind::Service,
                display_name: "Support".into(),
            },
            call: None,
            context: None,
        },
    };
    store
        .create_session(&record, &[EncodedEvent::new(&started)])
        .await
        .expect("a WhatsApp session");
    let (status, body) = upload(&app, &session, "photo.png", Some(token), None, PNG).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_allowed");
    assert_eq!(attachment_events(&server, &session).await, 0);
}

#[tokio::test]
async fn a_custom_ui_on_an_allowed_origin_gets_cors_and_others_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let app = interact_server::app(server.state.clone());
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let c = chat(&server, code.as_str(), "start-1").await;
    let path = format!("/v1/sessions/{}/attachments", c.session);
    let preflight = |origin: &str| {
        Request::options(&path)
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .expect("request")
    };
    let resp = send(&app, preflight(ALLOWED)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], ALLOWED);
    assert_eq!(h["access-control-allow-methods"], "GET, POST");
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization, content-type"
    );
    assert_eq!(h["vary"], "Origin");
    let resp = send(&app, preflight(FOREIGN)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // The upload itself from the allowed page: readable there (and only there).
    let (status, body) = upload(
        &app,
        &c.session,
        "photo.png",
        Some(c.token.expose()),
        Some(ALLOWED),
        PNG,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id");
    let req = Request::get(format!("{path}/{id}"))
        .header(AUTHORIZATION, format!("Bearer {}", c.token.expose()))
        .header(ORIGIN, ALLOWED)
        .body(Body::empty())
        .expect("request");
    let resp = send(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(bytes(resp).await, PNG);
}
