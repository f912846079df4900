//! Usage metering: `GET /admin/v1/usage` and `interact-server report usage`.
//!
//! - On a real listener: a widget chat with messages both ways and an answered audio call
//!   with a screen shared, a chat with another service and a direct contact; the figures
//!   of the JSON and the CSV against the sessions' transcripts; a Service Owner sees their
//!   service's rows only; bad parameters get a 400 naming them.
//! - A WhatsApp conversation through the stand-in Twilio (`interact_testkit::twilio`): its
//!   messages in and out counted as WhatsApp messages received and sent.
//! - Through the router over sessions written straight into the store at chosen times
//!   (exact figures: WhatsApp messages, a video call over midnight with a screen share,
//!   days outside the range), and the same database read by the CLI.

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::{Channel, TargetRef};
use interact_report::{Day, USAGE_CSV_COLUMNS};
use interact_sdk::config::{Target, TargetKind};
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{AgentId, CallId, MessageId, Seq, SessionId};
use interact_sdk::protocol::{
    AgentInfo, CallMedia, CallSignal, ClientFrame, Consent, EndReason, EventFrame, HangupReason,
    MediaState, Party, ServerFrame, SessionEvent, VisitorInfo,
};
use interact_sdk::time::UnixMillis;
use interact_store::{EncodedEvent, SessionRecord, Store};
use interact_testkit::{ALLOWED, Client, TestServer, config, connect_visitor, mid};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The demo admin token (config/demo.toml holds its SHA-256).
const ADMIN_TOKEN: &str = "demo-admin-token";
const USAGE: &str = "/admin/v1/usage";
const DAY: u64 = 86_400_000;
/// 2024-05-01T00:00:00Z.
const MAY_1: u64 = 19_844 * DAY;
const MIN: u64 = 60_000;

/// A request through the router of `app`: status, content type and body.
async fn call(
    app: &Router,
    token: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(v) => req
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let disposition = resp
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = String::from_utf8(bytes.to_vec()).expect("utf-8");
    if content_type.starts_with("text/csv") {
        assert_eq!(disposition, r#"attachment; filename="usage.csv""#);
    }
    (status, content_type, body)
}

/// The usage rows for `query` as `token` sees them; must succeed.
async fn usage_json(app: &Router, token: &str, query: &str) -> Vec<Value> {
    let (status, content_type, body) = call(
        app,
        Some(token),
        Method::GET,
        &format!("{USAGE}{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_str(&body).expect("a JSON array")
}

/// The usage CSV for `query`: its records (fields unquoted), header first.
async fn usage_csv(app: &Router, query: &str) -> Vec<Vec<String>> {
    let (status, content_type, body) = call(
        app,
        Some(ADMIN_TOKEN),
        Method::GET,
        &format!("{USAGE}{query}&format=csv"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert!(body.ends_with("\r\n"), "{body:?}");
    let records: Vec<Vec<String>> = body
        .split_terminator("\r\n")
        .map(|line| {
            assert!(!line.contains('"'), "nothing here needs quoting: {line}");
            line.split(',').map(str::to_owned).collect()
        })
        .collect();
    assert_eq!(records[0], USAGE_CSV_COLUMNS);
    records
}

/// The value of `column` in CSV `record`.
fn cell<'a>(record: &'a [String], column: &str) -> &'a str {
    let i = USAGE_CSV_COLUMNS
        .iter()
        .position(|c| *c == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    &record[i]
}

/// A 400 naming `parameter`.
async fn refused(app: &Router, query: &str, parameter: &str) {
    let (status, _, body) = call(
        app,
        Some(ADMIN_TOKEN),
        Method::GET,
        &format!("{USAGE}{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    let v: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(v["error"]["code"], "bad_request", "{query}: {body}");
    assert_eq!(v["error"]["parameter"], parameter, "{query}: {body}");
}

/// A sign-in token of `user` (password of the demo).
async fn token_of(app: &Router, user: &str) -> String {
    let (status, _, body) = call(
        app,
        None,
        Method::POST,
        "/admin/v1/sign-in",
        Some(json!({"username": user, "password": "demo-password"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["token"].as_str().expect("a token").to_owned()
}

fn form(first: Option<&str>) -> PreChatForm {
    PreChatForm {
        display_name: "Vera".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: first.map(str::to_owned),
    }
}

fn is_call(f: &ServerFrame, session: &SessionId, pred: impl Fn(&CallSignal) -> bool) -> bool {
    matches!(f, ServerFrame::Event(e) if &e.session == session
        && matches!(&e.event, SessionEvent::Call { signal, .. } if pred(signal)))
}

fn is_message(f: &ServerFrame, session: &SessionId, id: &str) -> bool {
    matches!(f, ServerFrame::Event(e) if &e.session == session
        && matches!(&e.event, SessionEvent::Message { id: m, .. } if m.as_str() == id))
}

/// What a transcript says usage must be: messages from the visitor and from the others,
/// and the milliseconds of the answered call and of its screen share.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    messages_in: u64,
    messages_out: u64,
    audio_ms: u64,
    screen_ms: u64,
}

async fn expected_from_transcript(app: &Router, session: &SessionId) -> Expected {
    let (status, _, body) = call(
        app,
        Some(ADMIN_TOKEN),
        Method::GET,
        &format!("/admin/v1/sessions/{session}/transcript"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let t: Value = serde_json::from_str(&body).expect("json");
    let mut e = Expected::default();
    let (mut accepted, mut shared) = (None, None);
    for frame in t["events"].as_array().expect("events") {
        let at = frame["at"].as_u64().expect("at");
        let event = &frame["event"];
        match (event["kind"].as_str(), event["from"].as_str()) {
            (Some("message"), Some("visitor")) => e.messages_in += 1,
            (Some("message"), _) => e.messages_out += 1,
            (Some("call"), _) => match event["signal"]["op"].as_str() {
                Some("accept") => accepted = Some(at),
                Some("media") if event["signal"]["state"]["screen"] == true => {
                    shared = Some(at);
                }
                Some("media") => {
                    e.screen_ms += at - shared.take().expect("shared before");
                }
                Some("hangup") => e.audio_ms += at - accepted.take().expect("answered"),
                _ => {}
            },
            _ => {}
        }
    }
    e
}

/// Decimal minutes rounded to 0.01, as usage gives them.
fn minutes(ms: u64) -> f64 {
    ((ms + 300) / 600) as f64 / 100.0
}

#[tokio::test]
async fn a_real_chat_and_call_are_metered_and_owners_see_their_services() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    // No workflow: the chats queue plainly (no greeting to count). Sales on websites
    // too: a service Sam does not own, with a chat of its own.
    for s in &mut c.services {
        s.workflow = None;
        s.licences.insert(interact_model::Licence::Interact);
    }
    c.limits.max_chats_per_agent = 3;
    let server = TestServer::start(c).await;
    let support = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let sales = server.embed_code(TargetRef::Service("sales".into())).await;
    let direct = server.embed_code(TargetRef::User("alex".into())).await;
    let mut alex = server.available_agent("alex").await;
    let app = interact_server::app(server.state.clone());

    // A support chat: the first message, the agent's two replies, one more from the
    // visitor.
    let mut v = connect_visitor(server.addr, support.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(None).await;
    let (s1, _) = v.start_chat(mid("start-1"), form(Some("Hello"))).await;
    alex.recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s1))
        .await;
    alex.send(&ClientFrame::Accept {
        session: s1.clone(),
    })
    .await;
    v.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })),
    )
    .await;
    for (n, text) in [(1, "Hi, how can I help?"), (2, "Shall we call?")] {
        let id = format!("a{n}");
        alex.send(&ClientFrame::Send {
            session: Some(s1.clone()),
            id: mid(&id),
            text: text.into(),
            after: None,
        })
        .await;
        v.recv_until(|f| is_message(f, &s1, &id)).await;
    }
    v.send(&ClientFrame::Send {
        session: None,
        id: mid("v1"),
        text: "Yes".into(),
        after: None,
    })
    .await;
    alex.recv_until(|f| is_message(f, &s1, "v1")).await;

    // An audio call, answered; the agent shares the screen for a while.
    let c1 = CallId::new("c-usage-1").expect("valid");
    v.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Start {
            call: c1.clone(),
            media: CallMedia::Audio,
        },
    })
    .await;
    alex.recv_until(|f| is_call(f, &s1, |s| matches!(s, CallSignal::Start { .. })))
        .await;
    alex.send(&ClientFrame::Call {
        session: Some(s1.clone()),
        signal: CallSignal::Accept { call: c1.clone() },
    })
    .await;
    v.recv_until(|f| is_call(f, &s1, |s| matches!(s, CallSignal::Accept { .. })))
        .await;
    for (screen, pause) in [(true, 800), (false, 400)] {
        alex.send(&ClientFrame::Call {
            session: Some(s1.clone()),
            signal: CallSignal::Media {
                call: c1.clone(),
                state: MediaState {
                    muted: false,
                    camera: false,
                    screen,
                },
            },
        })
        .await;
        v.recv_until(|f| is_call(f, &s1, |s| matches!(s, CallSignal::Media { .. })))
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
    v.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Hangup {
            call: c1,
            reason: HangupReason::Normal,
        },
    })
    .await;
    alex.recv_until(|f| is_call(f, &s1, |s| matches!(s, CallSignal::Hangup { .. })))
        .await;
    alex.send(&ClientFrame::End {
        session: Some(s1.clone()),
    })
    .await;
    v.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
    )
    .await;

    // A sales chat that waits, and a direct contact with alex: one message each.
    let mut others: Vec<(Client, SessionId)> = Vec::new();
    for (n, code) in [(2, &sales), (3, &direct)] {
        let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .expect("allowed");
        v.hello(None).await;
        let (s, _) = v
            .start_chat(mid(&format!("start-{n}")), form(Some("Anyone?")))
            .await;
        others.push((v, s));
    }

    // Today and yesterday (UTC), should the test run over midnight.
    let today = Day::of(interact_server::clock::system_now());
    let range = format!("?from={}&to={today}", Day(today.0 - 1));
    let rows = usage_json(&app, ADMIN_TOKEN, &range).await;
    let tenant = interact_server::admin::tenant_name(&server.state.config.server.public_url);
    assert_eq!(tenant, "127.0.0.1:8080", "the demo's public URL");
    for r in &rows {
        assert_eq!(r["tenant"], tenant, "{r}");
        assert_eq!(r["channel"], "widget", "{r}");
        let day = r["day"].as_str().expect("day");
        assert!(
            day == today.to_string() || day == Day(today.0 - 1).to_string(),
            "{r}"
        );
    }
    let of = |kind: &str, target: &str| -> Vec<&Value> {
        rows.iter()
            .filter(|r| r["kind"] == kind && r["target"] == target)
            .collect()
    };
    let sum = |rows: &[&Value], field: &str| -> f64 {
        rows.iter()
            .map(|r| r[field].as_f64().expect("a number"))
            .sum()
    };
    let support_rows = of("service", "support");
    let expected = expected_from_transcript(&app, &s1).await;
    assert_eq!(
        (expected.messages_in, expected.messages_out),
        (2, 2),
        "{expected:?}"
    );
    assert!(expected.audio_ms >= 1_200, "{expected:?}");
    assert!(expected.screen_ms >= 800, "{expected:?}");
    assert_eq!(sum(&support_rows, "chat_sessions"), 1.0);
    assert_eq!(sum(&support_rows, "messages_in"), 2.0);
    assert_eq!(sum(&support_rows, "messages_out"), 2.0);
    assert_eq!(sum(&support_rows, "video_minutes"), 0.0);
    assert_eq!(sum(&support_rows, "whatsapp_received"), 0.0);
    assert_eq!(sum(&support_rows, "whatsapp_sent"), 0.0);
    // Rounded per row: over midnight, each day's share is (off by at most 0.005 each).
    let close = |got: f64, ms: u64| (got - minutes(ms)).abs() <= 0.011 * support_rows.len() as f64;
    let audio = sum(&support_rows, "audio_minutes");
    let screen = sum(&support_rows, "screen_share_minutes");
    assert!(close(audio, expected.audio_ms), "{audio} for {expected:?}");
    assert!(
        close(screen, expected.screen_ms),
        "{screen} for {expected:?}"
    );
    assert!(audio >= 0.02 && screen >= 0.01, "{audio} {screen}");
    for (kind, target) in [("service", "sales"), ("user", "alex")] {
        let r = of(kind, target);
        assert_eq!(
            (sum(&r, "chat_sessions"), sum(&r, "messages_in")),
            (1.0, 1.0),
            "{kind} {target}: {rows:?}"
        );
        assert_eq!(sum(&r, "messages_out") + sum(&r, "audio_minutes"), 0.0);
    }
    assert_eq!(
        rows.len(),
        support_rows.len() + of("service", "sales").len() + of("user", "alex").len()
    );

    // The CSV has the same figures, minutes with two decimals.
    let csv = usage_csv(&app, &range).await;
    assert_eq!(csv.len(), rows.len() + 1);
    for (record, r) in csv[1..].iter().zip(&rows) {
        for column in USAGE_CSV_COLUMNS {
            let want = match &r[column] {
                Value::String(s) => s.clone(),
                v if column.ends_with("_minutes") => {
                    format!("{:.2}", v.as_f64().expect("minutes"))
                }
                v => v.to_string(),
            };
            assert_eq!(cell(record, column), want, "{column} of {r}");
        }
    }

    // Sam owns support only: support's rows, the same figures; sales and direct contacts
    // are refused by name.
    let sam = token_of(&app, "sam").await;
    let seen = usage_json(&app, &sam, &range).await;
    assert_eq!(
        seen,
        support_rows.into_iter().cloned().collect::<Vec<_>>(),
        "an owner sees their service's rows"
    );
    assert_eq!(
        usage_json(&app, &sam, &format!("{range}&service=support")).await,
        seen
    );
    for query in ["service=sales", "kind=user", "user=alex"] {
        let (status, _, body) = call(
            &app,
            Some(&sam),
            Method::GET,
            &format!("{USAGE}{range}&{query}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}: {body}");
        assert!(body.contains("\"forbidden\""), "{body}");
    }
    let dana = token_of(&app, "dana").await;
    assert_eq!(usage_json(&app, &dana, &range).await, rows);
    let (status, _, _) = call(&app, None, Method::GET, USAGE, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Bad parameters are named.
    for (query, parameter) in [
        ("?from=2024-13-01", "from"),
        ("?from=1714521600000", "from"),
        ("?to=yesterday", "to"),
        ("?from=2024-05-02&to=2024-05-01", "to"),
        ("?from=2023-01-01&to=2024-01-02", "to"),
        ("?channel=sms", "channel"),
        ("?kind=group", "kind"),
        ("?format=xml", "format"),
        ("?outcome=handled", "outcome"),
        ("?limit=10", "limit"),
        ("?from=2024-05-01&from=2024-05-02", "from"),
    ] {
        refused(&app, query, parameter).await;
    }
    drop((alex, v, others));
    server.stop().await;
}

/// Writes session `id` for `target` through `channel`, created at `created`, with
/// `events` (after `started`) at the given times.
async fn stored_session(
    store: &dyn Store,
    n: u8,
    target: TargetRef,
    channel: Channel,
    created: u64,
    events: &[(u64, SessionEvent)],
) {
    let id = SessionId::new(format!("s{n}")).expect("valid");
    let kind = match target {
        TargetRef::Service(_) => TargetKind::Service,
        TargetRef::User(_) => TargetKind::User,
    };
    let frame = |seq: u64, at: u64, event: SessionEvent| {
        EncodedEvent::new(&EventFrame {
            session: id.clone(),
            seq: Seq(seq),
            at: UnixMillis(at),
            event,
        })
    };
    let started = frame(
        1,
        created,
        SessionEvent::Started {
            context: None,
            visitor: VisitorInfo {
                display_name: "Vera".into(),
                email: "vera@example.com".into(),
                channel: None,
                phone: None,
                verified_id: None,
            },
            consent: Consent {
                policy_version: "2024-05".into(),
                at: UnixMillis(created),
            },
            target: Target {
                kind,
                display_name: "x".into(),
            },
            call: None,
        },
    );
    let record = SessionRecord {
        channel,
        visitor_id: None,
        id: id.clone(),
        embed_code: EmbedCode::from_random([n; 16]),
        target,
        start_id: format!("start-{n}"),
        start_key: None,
        visitor_seen_at: None,
        token_hash: "0".repeat(64),
        visitor_name: "Vera".into(),
        visitor_email: "vera@example.com".into(),
        consent_version: "2024-05".into(),
        consent_at: UnixMillis(created),
        origin: ALLOWED.into(),
        agent_id: None,
        created_at: UnixMillis(created),
        ended: None,
    };
    store
        .create_session(&record, &[started])
        .await
        .expect("create");
    let rest: Vec<EncodedEvent> = events
        .iter()
        .enumerate()
        .map(|(i, (at, e))| frame(i as u64 + 2, *at, e.clone()))
        .collect();
    store.append_events(&id, &rest).await.expect("append");
}

fn say(n: u32, from: Party) -> SessionEvent {
    SessionEvent::Message {
        id: MessageId::new(format!("m{n}")).expect("valid"),
        from,
        author: (from != Party::Visitor).then(|| "Alex".to_owned()),
        text: format!("message {n}, \"from\":\"visitor\""),
    }
}

fn signal(from: Party, signal: CallSignal) -> SessionEvent {
    SessionEvent::Call { from, signal }
}

fn screen(call: &CallId, on: bool) -> SessionEvent {
    signal(
        Party::Visitor,
        CallSignal::Media {
            call: call.clone(),
            state: MediaState {
                muted: false,
                camera: true,
                screen: on,
            },
        },
    )
}

fn joined() -> SessionEvent {
    SessionEvent::AgentJoined {
        agent: AgentInfo {
            id: AgentId::new("alex").expect("valid"),
            display_name: "Alex".into(),
        },
    }
}

fn ended() -> SessionEvent {
    SessionEvent::Ended {
        reason: EndReason::AgentEnded,
    }
}

/// The data set of the exact tests, on 30 April to 3 May 2024:
/// - s1, support (widget), created 1 May 23:00: 2 messages in and 1 out that day, a video
///   call answered at 23:50 and hung up at 00:20 on 2 May, the visitor's screen shared
///   from 23:55 until the end of the call, 1 message out on 2 May;
/// - s2, sales (WhatsApp), created 1 May 10:00: 3 in, 2 out (one from the workflow);
/// - s3, a direct contact with alex, 2 May: 1 in;
/// - s4, support, 30 April (outside the range, ended that day): 1 in;
/// - s5, support, 3 May (outside): 1 in.
async fn seed(store: &dyn Store) {
    let widget = Channel::Widget;
    let support = || TargetRef::Service("support".into());
    let eleven_pm = MAY_1 + 23 * 60 * MIN;
    let midnight = MAY_1 + DAY;
    let c = CallId::new("c1").expect("valid");
    stored_session(
        store,
        1,
        support(),
        widget,
        eleven_pm,
        &[
            (eleven_pm + 1, say(1, Party::Visitor)),
            (eleven_pm + 2, joined()),
            (eleven_pm + 3, say(2, Party::Agent)),
            (eleven_pm + 4, say(3, Party::Visitor)),
            (
                eleven_pm + 40 * MIN,
                signal(
                    Party::Visitor,
                    CallSignal::Start {
                        call: c.clone(),
                        media: CallMedia::Video,
                    },
                ),
            ),
            (
                eleven_pm + 50 * MIN,
                signal(Party::Agent, CallSignal::Accept { call: c.clone() }),
            ),
            (eleven_pm + 55 * MIN, screen(&c, true)),
            (
                midnight + 20 * MIN,
                signal(
                    Party::Agent,
                    CallSignal::Hangup {
                        call: c.clone(),
                        reason: HangupReason::Normal,
                    },
                ),
            ),
            (midnight + 21 * MIN, say(4, Party::Agent)),
            (midnight + 22 * MIN, ended()),
        ],
    )
    .await;
    let ten_am = MAY_1 + 10 * 60 * MIN;
    stored_session(
        store,
        2,
        TargetRef::Service("sales".into()),
        Channel::Whatsapp,
        ten_am,
        &[
            (ten_am, say(1, Party::Visitor)),
            (ten_am + 1, say(2, Party::System)),
            (ten_am + 2, say(3, Party::Visitor)),
            (ten_am + 3, joined()),
            (ten_am + 4, say(4, Party::Agent)),
            (ten_am + 5, say(5, Party::Visitor)),
            (ten_am + 6, ended()),
        ],
    )
    .await;
    stored_session(
        store,
        3,
        TargetRef::User("alex".into()),
        widget,
        midnight + 60 * MIN,
        &[(midnight + 60 * MIN, say(1, Party::Visitor))],
    )
    .await;
    stored_session(
        store,
        4,
        support(),
        widget,
        MAY_1 - 60 * MIN,
        &[
            (MAY_1 - 59 * MIN, say(1, Party::Visitor)),
            (MAY_1 - MIN, ended()),
        ],
    )
    .await;
    stored_session(
        store,
        5,
        support(),
        widget,
        MAY_1 + 2 * DAY,
        &[(MAY_1 + 2 * DAY + 1, say(1, Party::Visitor))],
    )
    .await;
}

#[tokio::test]
async fn stored_sessions_give_exact_figures_in_json_and_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = interact_server::build_state(config(dir.path()))
        .await
        .expect("state");
    seed(state.store.as_ref()).await;
    let app = interact_server::app(state);
    let range = "?from=2024-05-01&to=2024-05-02";
    let rows = usage_json(&app, ADMIN_TOKEN, range).await;
    let row = |day: &str,
               kind: &str,
               target: &str,
               channel: &str,
               counts: [u64; 3],
               minutes: [f64; 3],
               whatsapp: [u64; 2]| {
        json!({
            "tenant": "127.0.0.1:8080",
            "day": day,
            "kind": kind,
            "target": target,
            "channel": channel,
            "chat_sessions": counts[0],
            "messages_in": counts[1],
            "messages_out": counts[2],
            "audio_minutes": minutes[0],
            "video_minutes": minutes[1],
            "screen_share_minutes": minutes[2],
            "whatsapp_received": whatsapp[0],
            "whatsapp_sent": whatsapp[1],
        })
    };
    assert_eq!(
        rows,
        [
            row(
                "2024-05-01",
                "service",
                "sales",
                "whatsapp",
                [1, 3, 2],
                [0.0, 0.0, 0.0],
                [3, 2]
            ),
            // The call's 10 minutes before midnight, the screen's 5.
            row(
                "2024-05-01",
                "service",
                "support",
                "widget",
                [1, 2, 1],
                [0.0, 10.0, 5.0],
                [0, 0]
            ),
            // Its 20 minutes after.
            row(
                "2024-05-02",
                "service",
                "support",
                "widget",
                [0, 0, 1],
                [0.0, 20.0, 20.0],
                [0, 0]
            ),
            row(
                "2024-05-02",
                "user",
                "alex",
                "widget",
                [1, 1, 0],
                [0.0, 0.0, 0.0],
                [0, 0]
            ),
        ]
    );
    // Filters narrow it; one day; the first of May alone.
    let only = |query: &'static str| {
        let app = app.clone();
        async move {
            usage_json(&app, ADMIN_TOKEN, query)
                .await
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r["day"].as_str().unwrap_or(""),
                        r["target"].as_str().unwrap_or(""),
                        r["channel"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        only("?from=2024-05-01&to=2024-05-02&channel=whatsapp").await,
        ["2024-05-01 sales whatsapp"]
    );
    assert_eq!(
        only("?from=2024-05-01&to=2024-05-02&service=support").await,
        ["2024-05-01 support widget", "2024-05-02 support widget"]
    );
    assert_eq!(
        only("?from=2024-05-01&to=2024-05-02&kind=user").await,
        ["2024-05-02 alex widget"]
    );
    assert_eq!(
        only("?from=2024-05-02&to=2024-05-02&user=alex").await,
        ["2024-05-02 alex widget"]
    );
    assert_eq!(
        only("?from=2024-04-30&to=2024-04-30").await,
        ["2024-04-30 support widget"]
    );
    assert_eq!(
        only("?from=2024-04-01&to=2024-04-29").await,
        Vec::<String>::new()
    );
    // Only `to`: the 30 days up to it.
    assert_eq!(only("?to=2024-05-30").await.len(), 5);

    let csv = usage_csv(&app, range).await;
    let lines: Vec<String> = csv.iter().map(|r| r.join(",")).collect();
    assert_eq!(
        lines[1..],
        [
            "127.0.0.1:8080,2024-05-01,service,sales,whatsapp,1,3,2,0.00,0.00,0.00,3,2",
            "127.0.0.1:8080,2024-05-01,service,support,widget,1,2,1,0.00,10.00,5.00,0,0",
            "127.0.0.1:8080,2024-05-02,service,support,widget,0,0,1,0.00,20.00,20.00,0,0",
            "127.0.0.1:8080,2024-05-02,user,alex,widget,1,1,0,0.00,0.00,0.00,0,0",
        ]
    );
}

/// Runs `interact-server --config <config> <args>`: exit success, standard output and
/// standard error.
fn cli(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_interact-server"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run interact-server");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_prints_the_same_usage() {
    let dir = tempfile::tempdir().expect("dir");
    let path = interact_testkit::write_config(dir.path(), &interact_testkit::process_config(""));
    {
        let config = interact_server::config::Config::load(&path).expect("the configuration");
        let state = interact_server::build_state(config).await.expect("state");
        seed(state.store.as_ref()).await;
    }
    let (ok, csv, err) = cli(
        &path,
        &[
            "report",
            "usage",
            "--from",
            "2024-05-01",
            "--to",
            "2024-05-02",
        ],
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines[0], USAGE_CSV_COLUMNS.join(","));
    assert_eq!(
        lines[1..],
        [
            "127.0.0.1:8080,2024-05-01,service,sales,whatsapp,1,3,2,0.00,0.00,0.00,3,2",
            "127.0.0.1:8080,2024-05-01,service,support,widget,1,2,1,0.00,10.00,5.00,0,0",
            "127.0.0.1:8080,2024-05-02,service,support,widget,0,0,1,0.00,20.00,20.00,0,0",
            "127.0.0.1:8080,2024-05-02,user,alex,widget,1,1,0,0.00,0.00,0.00,0,0",
        ]
    );
    let (ok, text, err) = cli(
        &path,
        &[
            "report",
            "usage",
            "--from",
            "2024-05-02",
            "--to",
            "2024-05-02",
            "--service",
            "support",
            "--format",
            "json",
        ],
    );
    assert!(ok, "{err}");
    let rows: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["video_minutes"], 20.0);
    assert_eq!(rows[0]["messages_out"], 1);
    for (args, message) in [
        (
            &["--from", "2024-02-30"][..],
            "--from: \"2024-02-30\" is not a day",
        ),
        (
            &["--from", "2024-01-01", "--to", "2025-01-01"][..],
            "--to: the range",
        ),
        (&["--channel", "sms"][..], "--channel:"),
    ] {
        let mut all = vec!["report", "usage"];
        all.extend_from_slice(args);
        let (ok, _, err) = cli(&path, &all);
        assert!(!ok, "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_conversation_is_metered_as_whatsapp() {
    use interact_testkit::twilio::StandInTwilio;
    const SENDER: &str = "+12025550123";
    const CUSTOMER: &str = "+12025550188";
    let dir = tempfile::tempdir().expect("dir");
    // Twilio signs the URL it posts to: the public URL is the server's own address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut cfg = config(dir.path());
    cfg.server.public_url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = TestServer::start_on(listener, cfg).await;
    let app = interact_server::app(server.state.clone());
    let twilio = StandInTwilio::start().await;
    let token_file = dir.path().join("twilio-token");
    std::fs::write(&token_file, format!("{}\n", twilio.auth_token)).expect("token file");
    let (status, _, body) = call(
        &app,
        Some(ADMIN_TOKEN),
        Method::PUT,
        "/admin/v1/services/support/whatsapp",
        Some(json!({
            "account_sid": twilio.account_sid,
            "auth_token": format!("file:{}", token_file.display()),
            "sender": SENDER,
            "api_base": twilio.url(),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let webhook = format!("{}/v1/whatsapp/support", server.url());

    // A customer writes twice; the workflow greets; an agent takes it and answers.
    let mut alex = server.available_agent("alex").await;
    for text in ["Hello from WhatsApp", "Are you there?"] {
        let m = twilio.inbound(CUSTOMER, SENDER, text);
        assert_eq!(twilio.send_inbound(&webhook, &m).await, 200, "{text}");
    }
    let frames = alex
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!("recv_until ends with an offer")
    };
    let session = offer.session.clone();
    alex.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    alex.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if e.session == session && matches!(e.event, SessionEvent::AgentJoined { .. })),
    )
    .await;
    alex.send(&ClientFrame::Send {
        session: Some(session.clone()),
        id: mid("wa-reply-1"),
        text: "Yes, Alex here.".into(),
        after: None,
    })
    .await;
    alex.recv_until(|f| is_message(f, &session, "wa-reply-1"))
        .await;

    // Usage counts what the session holds: messages in and out, and the same as WhatsApp
    // messages received and sent.
    let (mut inbound, mut outbound) = (0, 0);
    for e in server.state.store.events(&session).await.expect("events") {
        if let SessionEvent::Message { from, .. } = e.event {
            if from == Party::Visitor {
                inbound += 1;
            } else {
                outbound += 1;
            }
        }
    }
    assert_eq!(inbound, 2);
    assert!(
        outbound >= 2,
        "the greeting and the agent's answer: {outbound}"
    );
    let today = Day::of(interact_server::clock::system_now());
    let range = format!("?from={}&to={today}", Day(today.0 - 1));
    let rows = usage_json(&app, ADMIN_TOKEN, &format!("{range}&channel=whatsapp")).await;
    let total = |field: &str| -> u64 { rows.iter().map(|r| r[field].as_u64().expect(field)).sum() };
    assert!(
        rows.iter()
            .all(|r| r["channel"] == "whatsapp" && r["target"] == "support"),
        "{rows:?}"
    );
    assert_eq!(
        [
            total("chat_sessions"),
            total("messages_in"),
            total("messages_out"),
            total("whatsapp_received"),
            total("whatsapp_sent"),
        ],
        [1, inbound, outbound, inbound, outbound],
        "{rows:?}"
    );
    // The widget has none of it.
    assert_eq!(
        usage_json(&app, ADMIN_TOKEN, &format!("{range}&channel=widget")).await,
        Vec::<Value>::new()
    );
    drop(alex);
    server.stop().await;
    twilio.stop().await;
}
