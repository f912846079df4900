//! The session report: `GET /admin/v1/reports/sessions` through the router (`oneshot`)
//! over sessions written straight into the store (auth, filters, JSON and CSV shape, CSV
//! formula injection, 400s naming the parameter, calls read from their signals), and on
//! a real listener after real chats (handled, abandoned, a direct user contact).

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_model::TargetRef;
use interact_report::{CSV_COLUMNS, Outcome};
use interact_sdk::config::{Target, TargetKind};
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{AgentId, CallId, Seq, SessionId};
use interact_sdk::protocol::{
    AgentInfo, CallMedia, CallSignal, ClientFrame, Consent, EndReason, EventFrame, HangupReason,
    IceCandidate, MediaState, Party, QualitySummary, ServerFrame, SessionEvent, Spread,
    VisitorInfo,
};
use interact_sdk::time::UnixMillis;
use interact_server::node::state::AppState;
use interact_store::{EncodedEvent, SessionRecord};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

use interact_testkit::{ALLOWED, TestServer, config, connect_visitor, mid};

/// The demo admin token (config/demo.toml holds its SHA-256).
const ADMIN_TOKEN: &str = "demo-admin-token";
const REPORT: &str = "/admin/v1/reports/sessions";

fn support() -> TargetRef {
    TargetRef::Service("support".into())
}

fn alex() -> TargetRef {
    TargetRef::User("alex".into())
}

fn agent(id: &str) -> AgentInfo {
    AgentInfo {
        id: AgentId::new(id).expect("valid"),
        display_name: id.to_uppercase(),
    }
}

fn queued() -> SessionEvent {
    SessionEvent::Queued { position: 1 }
}

fn joined(id: &str) -> SessionEvent {
    SessionEvent::AgentJoined { agent: agent(id) }
}

fn left(id: &str) -> SessionEvent {
    SessionEvent::AgentLeft { agent: agent(id) }
}

fn ended(reason: EndReason) -> SessionEvent {
    SessionEvent::Ended { reason }
}

/// A server state on a fresh database, and the router over it.
struct Fixture {
    _dir: TempDir,
    state: AppState,
    app: Router,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = interact_server::build_state(config(dir.path()))
            .await
            .expect("state");
        Self {
            _dir: dir,
            app: interact_server::app(state.clone()),
            state,
        }
    }

    /// Stores session `s<n>` for `target`, created at `created`, with `events` (after
    /// `started`) at the given times.
    async fn session(
        &self,
        n: u32,
        target: TargetRef,
        created: u64,
        events: &[(u64, SessionEvent)],
    ) -> SessionId {
        let id = SessionId::new(format!("s{n:04}")).expect("valid");
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
                    display_name: "=cmd|' /C calc'!A0".into(),
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
            channel: interact_model::Channel::Widget,
            visitor_id: None,
            id: id.clone(),
            embed_code: EmbedCode::from_random([n as u8; 16]),
            target,
            start_id: format!("start-{n}"),
            start_key: None,
            visitor_seen_at: None,
            token_hash: "0".repeat(64),
            visitor_name: "=cmd|' /C calc'!A0".into(),
            visitor_email: "vera@example.com".into(),
            consent_version: "2024-05".into(),
            consent_at: UnixMillis(created),
            origin: ALLOWED.into(),
            agent_id: None,
            created_at: UnixMillis(created),
            ended: None,
        };
        let store = &self.state.store;
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
        id
    }

    /// The data set most tests use: one session of every outcome, and an open one.
    async fn seeded() -> Self {
        let f = Self::new().await;
        let store = f.state.store.clone();
        let s1 = f
            .session(
                1,
                support(),
                1_000,
                &[
                    (1_100, queued()),
                    (1_500, joined("alex")),
                    (9_500, ended(EndReason::AgentEnded)),
                ],
            )
            .await;
        store
            .record_offer(&s1, UnixMillis(1_200))
            .await
            .expect("offer");
        store
            .record_offer(&s1, UnixMillis(1_300))
            .await
            .expect("offer");
        f.session(
            2,
            support(),
            2_000,
            &[(2_100, queued()), (5_000, ended(EndReason::VisitorEnded))],
        )
        .await;
        f.session(
            3,
            alex(),
            3_000,
            &[
                (3_200, joined("alex")),
                (4_000, ended(EndReason::VisitorEnded)),
            ],
        )
        .await;
        f.session(
            4,
            support(),
            4_000,
            &[
                (4_100, queued()),
                (4_200, joined("alex")),
                (4_300, left("alex")),
                (4_400, joined("sam")),
                (4_900, ended(EndReason::AgentEnded)),
            ],
        )
        .await;
        f.session(
            5,
            support(),
            5_000,
            &[(5_100, queued()), (6_000, ended(EndReason::NoAgent))],
        )
        .await;
        let s6 = f
            .session(6, support(), 6_000, &[(6_500, ended(EndReason::Workflow))])
            .await;
        for (at, label) in [
            (6_100, r#"=HYPERLINK("http://evil.example","x")"#),
            (6_200, "Check Opening Hours"),
            (6_300, "@SUM(1,2)"),
        ] {
            store
                .record_workflow_step(&s6, UnixMillis(at), label)
                .await
                .expect("step");
        }
        store
            .record_outcome(&s6, Outcome::Cancelled)
            .await
            .expect("outcome");
        f.session(7, support(), 7_000, &[(7_100, ended(EndReason::Failed))])
            .await;
        f.session(8, support(), 8_000, &[(8_100, queued())]).await;
        f
    }

    async fn get_as(
        &self,
        token: Option<&str>,
        uri: &str,
    ) -> (StatusCode, Vec<(String, String)>, String) {
        let mut req = Request::get(uri);
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            headers,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    /// The JSON report for `query`, which must succeed.
    async fn json(&self, query: &str) -> Vec<Value> {
        let (status, _, body) = self
            .get_as(Some(ADMIN_TOKEN), &format!("{REPORT}{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        serde_json::from_str(&body).expect("a JSON array")
    }

    /// The session ids of the JSON report for `query`.
    async fn ids(&self, query: &str) -> Vec<String> {
        self.json(query)
            .await
            .iter()
            .map(|r| r["session"].as_str().expect("session").to_owned())
            .collect()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_report_needs_the_admin_token() {
    let f = Fixture::seeded().await;
    for token in [None, Some("wrong-token")] {
        for query in ["", "?format=csv", "?from=yesterday"] {
            let (status, _, body) = f.get_as(token, &format!("{REPORT}{query}")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?} {query}");
            let v: Value = serde_json::from_str(&body).expect("json error");
            assert_eq!(v["error"]["code"], "unauthorized");
            assert!(!body.contains("s0001"));
        }
    }
}

#[tokio::test]
async fn json_rows_have_every_field_and_derived_outcomes() {
    let f = Fixture::seeded().await;
    let rows = f.json("").await;
    assert_eq!(rows.len(), 8);
    assert_eq!(
        rows[0],
        json!({
            "session": "s0001",
            "kind": "service",
            "target": "support",
            "channel": "widget",
            "modality": "chat",
            "call_first": null,
            "created_at": 1000,
            "queued_at": 1100,
            "offered_at": 1200,
            "accepted_at": 1500,
            "ended_at": 9500,
            "wait_ms": 400,
            "handling_ms": 8000,
            "ring_ms": 300,
            "talk_ms": 0,
            "agent": "alex",
            "offers": 2,
            "end_reason": "agent_ended",
            "outcome": "handled",
            "workflow_path": [],
            "calls": [],
            "transfers": 0,
            "legs": [{
                "kind": "service",
                "target": "support",
                "started_at": 1000,
                "queued_at": 1100,
                "accepted_at": 1500,
                "agent": "alex",
                "ended_at": 9500,
                "outcome": "handled",
            }],
            "satisfaction": null,
        })
    );
    let summary: Vec<(String, Value, Value, Value)> = rows
        .iter()
        .map(|r| {
            (
                r["session"].as_str().expect("id").to_owned(),
                r["kind"].clone(),
                r["outcome"].clone(),
                r["agent"].clone(),
            )
        })
        .collect();
    let expected = [
        ("s0001", "service", json!("handled"), json!("alex")),
        ("s0002", "service", json!("abandoned"), Value::Null),
        ("s0003", "user", json!("handled"), json!("alex")),
        ("s0004", "service", json!("transferred"), json!("sam")),
        ("s0005", "service", json!("no_agent"), Value::Null),
        ("s0006", "service", json!("cancelled"), Value::Null),
        ("s0007", "service", json!("failed"), Value::Null),
        ("s0008", "service", Value::Null, Value::Null),
    ];
    for (got, (id, kind, outcome, agent)) in summary.iter().zip(expected) {
        assert_eq!(got, &(id.to_owned(), json!(kind), outcome, agent));
    }
    // Abandoned: waited from queueing to the end, never handled.
    assert_eq!(
        (rows[1]["wait_ms"].clone(), rows[1]["handling_ms"].clone()),
        (json!(2900), Value::Null)
    );
    // A direct contact is reported, as a user session.
    assert_eq!(rows[2]["target"], "alex");
    assert_eq!(
        (rows[2]["wait_ms"].clone(), rows[2]["handling_ms"].clone()),
        (json!(200), json!(800))
    );
    // The workflow path, in order; the recorded outcome wins over the derived one.
    assert_eq!(
        rows[5]["workflow_path"],
        json!([
            r#"=HYPERLINK("http://evil.example","x")"#,
            "Check Opening Hours",
            "@SUM(1,2)"
        ])
    );
    assert_eq!(rows[5]["end_reason"], "workflow");
    // Open: no end, no outcome, still waiting.
    assert_eq!(rows[7]["ended_at"], Value::Null);
    assert_eq!(rows[7]["wait_ms"], Value::Null);
    // Visitors' names and emails are not in the report.
    let text = serde_json::to_string(&rows).expect("json");
    assert!(!text.contains("vera@example.com") && !text.contains("calc"));
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let f = Fixture::seeded().await;
    let all: Vec<String> = (1..=8).map(|n| format!("s{n:04}")).collect();
    let pick = |ns: &[usize]| ns.iter().map(|n| all[n - 1].clone()).collect::<Vec<_>>();
    let cases: [(&str, Vec<String>); 14] = [
        ("?service=support", pick(&[1, 2, 4, 5, 6, 7, 8])),
        ("?service=sales", vec![]),
        ("?user=alex", pick(&[3])),
        ("?user=sam", vec![]),
        ("?kind=user", pick(&[3])),
        ("?kind=service", pick(&[1, 2, 4, 5, 6, 7, 8])),
        ("?outcome=handled", pick(&[1, 3])),
        ("?outcome=abandoned,no_agent", pick(&[2, 5])),
        ("?outcome=handled&kind=service", pick(&[1])),
        ("?from=2000&to=5000", pick(&[2, 3, 4])),
        ("?from=7000", pick(&[7, 8])),
        ("?to=1001", pick(&[1])),
        ("?limit=2", pick(&[1, 2])),
        (
            "?limit=1&outcome=transferred&service=&user=&format=json",
            pick(&[4]),
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(f.ids(query).await, expected, "{query}");
    }
}

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF records).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "records end with CRLF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record ends with CRLF"
    );
    records
}

#[tokio::test]
async fn csv_is_an_attachment_with_a_header_and_no_formulas() {
    let f = Fixture::seeded().await;
    let (status, headers, body) = f
        .get_as(Some(ADMIN_TOKEN), &format!("{REPORT}?format=csv"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, CONTENT_TYPE.as_str()),
        Some("text/csv; charset=utf-8")
    );
    let disposition = header(&headers, CONTENT_DISPOSITION.as_str()).expect("disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let records = parse_csv(&body);
    assert_eq!(records.len(), 9, "a header and eight sessions");
    assert_eq!(records[0], CSV_COLUMNS);
    assert!(records.iter().all(|r| r.len() == CSV_COLUMNS.len()));
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).expect("column");
    assert_eq!(
        records[1],
        [
            "s0001",
            "service",
            "support",
            "widget",
            "chat",
            "1000",
            "1100",
            "1200",
            "1500",
            "9500",
            "400",
            "8000",
            "alex",
            "2",
            "agent_ended",
            "handled",
            "",
            "0",
            "0",
            "",
            "300",
            "0",
            "",
            ""
        ]
    );
    assert_eq!(records[8][col("outcome")], "");
    // A workflow label that a spreadsheet would run is defused with a leading quote.
    assert_eq!(
        records[6][col("workflow_path")],
        r#"'=HYPERLINK("http://evil.example","x") > Check Opening Hours > @SUM(1,2)"#
    );
    for field in records.iter().flatten() {
        assert!(!field.starts_with(['=', '+', '-', '@']), "{field}");
    }
    // The same filters as JSON.
    let (_, _, body) = f
        .get_as(Some(ADMIN_TOKEN), &format!("{REPORT}?format=csv&kind=user"))
        .await;
    let records = parse_csv(&body);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1][col("kind")], "user");
    // An empty report is the header alone.
    let (_, _, body) = f
        .get_as(
            Some(ADMIN_TOKEN),
            &format!("{REPORT}?format=csv&service=nobody"),
        )
        .await;
    assert_eq!(body, format!("{}\r\n", CSV_COLUMNS.join(",")));
}

#[tokio::test]
async fn bad_parameters_get_a_400_naming_them() {
    let f = Fixture::new().await;
    for (query, parameter) in [
        ("?kind=group", "kind"),
        ("?channel=interact", "channel"),
        ("?outcome=lost", "outcome"),
        ("?outcome=handled,,", "outcome"),
        ("?from=2024-05-01T00:00:00Z", "from"),
        ("?to=-1", "to"),
        ("?from=5000&to=5000", "to"),
        ("?limit=0", "limit"),
        ("?limit=many", "limit"),
        ("?limit=10001", "limit"),
        ("?format=xlsx", "format"),
        ("?servce=support", "servce"),
        ("?service=a&service=b", "service"),
    ] {
        let (status, headers, body) = f
            .get_as(Some(ADMIN_TOKEN), &format!("{REPORT}{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            header(&headers, CONTENT_TYPE.as_str())
                .is_some_and(|c| c.starts_with("application/json"))
        );
        let v: Value = serde_json::from_str(&body).expect("json error");
        assert_eq!(v["error"]["code"], "bad_request", "{query}");
        assert_eq!(v["error"]["parameter"], parameter, "{query}");
        let message = v["error"]["message"].as_str().expect("message");
        assert!(message.starts_with(parameter), "{query}: {message}");
    }
}

fn call(from: Party, signal: CallSignal) -> SessionEvent {
    SessionEvent::Call { from, signal }
}

/// A quality summary of `call`: `samples` samples, round-trip time 10 to 90 ms.
fn quality(call: &str, samples: u32, median: u32) -> CallSignal {
    CallSignal::Quality {
        call: CallId::new(call).expect("valid"),
        summary: QualitySummary {
            samples,
            rtt_ms: Some(Spread {
                min: 10,
                median,
                max: 90,
            }),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn calls_are_reported_from_the_stored_signals() {
    let f = Fixture::new().await;
    let c = |n: &str| CallId::new(n).expect("valid");
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".to_owned();
    let media = |screen: bool| MediaState {
        muted: false,
        camera: true,
        screen,
    };
    f.session(
        1,
        support(),
        1_000,
        &[
            (1_100, joined("alex")),
            // A video call with screen sharing, answered and hung up by the visitor.
            (
                2_000,
                call(
                    Party::Visitor,
                    CallSignal::Start {
                        call: c("c1"),
                        media: CallMedia::Video,
                    },
                ),
            ),
            (
                2_500,
                call(Party::Agent, CallSignal::Accept { call: c("c1") }),
            ),
            (
                2_600,
                call(
                    Party::Visitor,
                    CallSignal::Offer {
                        call: c("c1"),
                        sdp: sdp.clone(),
                    },
                ),
            ),
            (
                2_700,
                call(Party::Agent, CallSignal::Answer { call: c("c1"), sdp }),
            ),
            (
                2_800,
                call(
                    Party::Agent,
                    CallSignal::Ice {
                        call: c("c1"),
                        candidate: IceCandidate {
                            candidate: "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into(),
                            sdp_mid: None,
                            sdp_m_line_index: Some(0),
                        },
                    },
                ),
            ),
            (
                3_000,
                call(
                    Party::Agent,
                    CallSignal::Media {
                        call: c("c1"),
                        state: media(true),
                    },
                ),
            ),
            // Quality summaries: each side's last counts, the agent's came after the
            // hang-up.
            (5_000, call(Party::Visitor, quality("c1", 1, 40))),
            (8_000, call(Party::Visitor, quality("c1", 3, 45))),
            (8_100, call(Party::Agent, quality("c1", 2, 50))),
            (
                9_500,
                call(
                    Party::Visitor,
                    CallSignal::Hangup {
                        call: c("c1"),
                        reason: HangupReason::Normal,
                    },
                ),
            ),
            (9_600, call(Party::Agent, quality("c1", 4, 60))),
            // An audio call the agent declines.
            (
                10_000,
                call(
                    Party::Visitor,
                    CallSignal::Start {
                        call: c("c2"),
                        media: CallMedia::Audio,
                    },
                ),
            ),
            (
                11_000,
                call(
                    Party::Agent,
                    CallSignal::Hangup {
                        call: c("c2"),
                        reason: HangupReason::Declined,
                    },
                ),
            ),
            // An audio call answered and still on when the agent ends the session.
            (
                12_000,
                call(
                    Party::Visitor,
                    CallSignal::Start {
                        call: c("c3"),
                        media: CallMedia::Audio,
                    },
                ),
            ),
            (
                12_100,
                call(Party::Agent, CallSignal::Accept { call: c("c3") }),
            ),
            (15_100, ended(EndReason::AgentEnded)),
        ],
    )
    .await;
    f.session(
        2,
        support(),
        20_000,
        &[
            (20_100, joined("alex")),
            (21_000, ended(EndReason::AgentEnded)),
        ],
    )
    .await;
    let rows = f.json("").await;
    assert_eq!(rows[0]["modality"], "video");
    assert_eq!(
        rows[0]["calls"],
        json!([
            {
                "call": "c1",
                "media": "video",
                "screen_share": true,
                "started_at": 2000,
                "answered_at": 2500,
                "ring_ms": 500,
                "ended_at": 9500,
                "duration_ms": 7000,
                "ended_by": "visitor",
                "hangup_reason": "normal",
                "outcome": "answered",
                "quality": {
                    "visitor": {"samples": 3, "rtt_ms": {"min": 10, "median": 45, "max": 90}},
                    "agent": {"samples": 4, "rtt_ms": {"min": 10, "median": 60, "max": 90}},
                },
            },
            {
                "call": "c2",
                "media": "audio",
                "screen_share": false,
                "started_at": 10000,
                "answered_at": null,
                "ring_ms": 1000,
                "ended_at": 11000,
                "duration_ms": null,
                "ended_by": "agent",
                "hangup_reason": "declined",
                "outcome": "declined",
                "quality": {"visitor": null, "agent": null},
            },
            {
                "call": "c3",
                "media": "audio",
                "screen_share": false,
                "started_at": 12000,
                "answered_at": 12100,
                "ring_ms": 100,
                "ended_at": 15100,
                "duration_ms": 3000,
                "ended_by": "system",
                "hangup_reason": null,
                "outcome": "answered",
                "quality": {"visitor": null, "agent": null},
            },
        ])
    );
    assert_eq!(rows[1]["modality"], "chat");
    assert_eq!(rows[1]["calls"], json!([]));
    // CSV: how many calls, and how long they were answered in all.
    let (_, _, body) = f
        .get_as(Some(ADMIN_TOKEN), &format!("{REPORT}?format=csv"))
        .await;
    let records = parse_csv(&body);
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).expect("column");
    assert_eq!(
        (
            records[1][col("modality")].as_str(),
            records[1][col("calls")].as_str(),
            records[1][col("call_ms")].as_str()
        ),
        ("video", "3", "10000")
    );
    assert_eq!(
        (
            records[2][col("calls")].as_str(),
            records[2][col("call_ms")].as_str()
        ),
        ("0", "0")
    );
}

/// Frames until an event of `session` matching `pred` arrives.
async fn until_event(
    client: &mut interact_testkit::Client,
    session: &SessionId,
    pred: impl Fn(&SessionEvent) -> bool,
) {
    client
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if &e.session == session && pred(&e.event)),
        )
        .await;
}

fn form() -> PreChatForm {
    PreChatForm {
        display_name: "Vera".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Hello".into()),
    }
}

#[tokio::test]
async fn real_chats_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let service_code = server.embed_code(support()).await;
    let user_code = server.embed_code(alex()).await;

    let mut agent = server.available_agent("alex").await;

    // 1. A handled service chat: offered, accepted, a message, ended by the agent.
    let mut v1 = connect_visitor(server.addr, service_code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    v1.hello(None).await;
    let (s1, _) = v1.start_chat(mid("start-1"), form()).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s1))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: s1.clone(),
        })
        .await;
    until_event(&mut v1, &s1, |e| {
        matches!(e, SessionEvent::AgentJoined { .. })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    agent
        .send(&ClientFrame::End {
            session: Some(s1.clone()),
        })
        .await;
    until_event(&mut v1, &s1, |e| matches!(e, SessionEvent::Ended { .. })).await;

    // 2. Abandoned: offered to the agent, who does not accept; the visitor gives up.
    let mut v2 = connect_visitor(server.addr, service_code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    v2.hello(None).await;
    let (s2, _) = v2.start_chat(mid("start-2"), form()).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s2))
        .await;
    v2.send(&ClientFrame::End { session: None }).await;
    until_event(&mut v2, &s2, |e| matches!(e, SessionEvent::Ended { .. })).await;

    // 3. A direct contact with the user alex, ended by the visitor.
    let mut v3 = connect_visitor(server.addr, user_code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    v3.hello(None).await;
    let (s3, _) = v3.start_chat(mid("start-3"), form()).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == s3))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: s3.clone(),
        })
        .await;
    until_event(&mut v3, &s3, |e| {
        matches!(e, SessionEvent::AgentJoined { .. })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    v3.send(&ClientFrame::End { session: None }).await;
    until_event(&mut v3, &s3, |e| matches!(e, SessionEvent::Ended { .. })).await;

    // The report, through the admin API of the running server's state.
    let app = interact_server::app(server.state.clone());
    let resp = app
        .oneshot(
            Request::get(REPORT)
                .header(AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let rows: Vec<Value> = serde_json::from_slice(&body).expect("json");
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["session"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [s1.as_str(), s2.as_str(), s3.as_str()], "oldest first");

    let expected = [
        ("service", "support", "handled", Some("alex"), "agent_ended"),
        ("service", "support", "abandoned", None, "visitor_ended"),
        ("user", "alex", "handled", Some("alex"), "visitor_ended"),
    ];
    let time = |r: &Value, name: &str| r[name].as_u64();
    for (r, (kind, target, outcome, agent, reason)) in rows.iter().zip(expected) {
        assert_eq!(r["kind"], kind, "{r}");
        assert_eq!(r["target"], target, "{r}");
        assert_eq!(r["channel"], "widget");
        assert_eq!(r["modality"], "chat");
        assert_eq!(r["outcome"], outcome, "{r}");
        assert_eq!(r["agent"].as_str(), agent, "{r}");
        assert_eq!(r["end_reason"], reason, "{r}");
        assert!(
            r["offers"].as_u64() >= Some(1),
            "every chat was offered: {r}"
        );
        let created = time(r, "created_at").expect("created");
        let offered = time(r, "offered_at").expect("offered");
        let ended = time(r, "ended_at").expect("ended");
        assert!(created <= offered && offered <= ended, "{r}");
        if let Some(queued) = time(r, "queued_at") {
            assert!(created <= queued && queued <= ended, "{r}");
        }
        let waited_from = time(r, "queued_at").unwrap_or(created);
        match time(r, "accepted_at") {
            Some(accepted) => {
                assert!(offered <= accepted && accepted <= ended, "{r}");
                assert_eq!(time(r, "wait_ms"), Some(accepted - waited_from), "{r}");
                assert_eq!(time(r, "handling_ms"), Some(ended - accepted), "{r}");
                assert!(ended - accepted >= 20, "the chat lasted: {r}");
            }
            None => {
                assert_eq!(time(r, "wait_ms"), Some(ended - waited_from), "{r}");
                assert_eq!(r["handling_ms"], Value::Null, "{r}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn the_store_pages_in_report_order() {
    let f = Fixture::seeded().await;
    let mut query = interact_report::ReportQuery {
        limit: 3,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let rows = f.state.store.report_rows(&query).await.expect("rows");
        assert!(rows.len() <= 3);
        let Some(last) = rows.last() else { break };
        query.after = Some((last.created_at, last.id.clone()));
        seen.extend(rows.iter().map(|r| r.id.as_str().to_owned()));
    }
    let all: Vec<String> = (1..=8).map(|n| format!("s{n:04}")).collect();
    assert_eq!(seen, all);
    // Only the lifecycle events are read (not `started`, messages or receipts), in order.
    query = interact_report::ReportQuery {
        limit: 1,
        ..Default::default()
    };
    let rows = f.state.store.report_rows(&query).await.expect("rows");
    let kinds: Vec<&str> = rows[0]
        .events
        .iter()
        .map(|(_, e)| match e {
            SessionEvent::Queued { .. } => "queued",
            SessionEvent::AgentJoined { .. } => "agent_joined",
            SessionEvent::Ended { .. } => "ended",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["queued", "agent_joined", "ended"]);
    assert_eq!(rows[0].offers, 2);
}
