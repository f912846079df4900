//! A service's Instant Messaging workflow driving real chats on a real listener: the
//! visitor sees the workflow's messages and questions, answers, is queued when the
//! workflow says so and an agent accepts; a workflow outside its opening hours ends the
//! session with its message and the reporting outcome; a run survives a restart and goes
//! on with the workflow version it started with when the workflow is changed through the
//! admin API (new chats get the new one), and a run whose version is gone ends its
//! session as failed.

use std::time::Duration;

use interact_model::TargetRef;
use interact_report::Outcome;
use interact_report::ReportQuery;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{ResumeToken, Seq, SessionId};
use interact_sdk::protocol::{ClientFrame, EndReason, Party, ServerFrame, SessionEvent};
use interact_server::config::Config;
use interact_store::WorkflowRunRecord;

use interact_testkit::{ALLOWED, Client, DEMO, TestServer, accept_offer, connect_visitor, mid};

/// The demo configuration with the support service's workflow replaced by `workflow`
/// (TOML appended to the file, naming a `[[workflow]]` "test-im").
fn config(dir: &std::path::Path, extra: &str) -> Config {
    let text = DEMO.replace("workflow = \"support-im\"", "workflow = \"test-im\"") + extra;
    let mut c = interact_testkit::config_from(&text, dir);
    // The APIs these tests call listen on loopback.
    c.web_requests.allow_private_addresses = true;
    c
}

const ASK: &str = r#"
[[workflow]]
name = "test-im"

[[workflow.step]]
label = "hello"
activity = "message"
text = "Welcome, {{visitor_name}}."

[[workflow.step]]
label = "ask"
activity = "collect_information"
questions = [{ ask = "Your order number?", save_to = "order", expect = "digits" }]

[[workflow.step]]
label = "queue"
activity = "queue_task"
priority = 7

[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 600

[[workflow.step]]
label = "give_up"
activity = "disconnect"
outcome = "no_agent"
"#;

const CLOSED: &str = r#"
[[opening_hours]]
name = "never"
time_zone = "Europe/Berlin"

[[workflow]]
name = "test-im"

[[workflow.step]]
label = "hours"
activity = "check_opening_hours"
hours = "never"
on_closed = "closed"

[[workflow.step]]
label = "queue"
activity = "queue_task"

[[workflow.step]]
label = "closed"
activity = "disconnect"
outcome = "cancelled"
message = "We are closed."
"#;

fn form() -> PreChatForm {
    PreChatForm {
        display_name: "Vera".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    }
}

fn support() -> TargetRef {
    TargetRef::Service("support".into())
}

fn system_text(f: &ServerFrame) -> Option<(&str, Option<&str>)> {
    match f {
        ServerFrame::Event(e) => match &e.event {
            SessionEvent::Message {
                from: Party::System,
                text,
                author,
                ..
            } => Some((text.as_str(), author.as_deref())),
            _ => None,
        },
        _ => None,
    }
}

/// A form with a first message: the visitor reads the service's greeting first, then
/// their own message, then the question (the greeting is stored with the session).
#[tokio::test]
async fn the_greeting_comes_before_the_visitors_first_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), ASK)).await;
    let code = server.embed_code(support()).await;

    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let first = PreChatForm {
        first_message: Some("Where is my parcel?".into()),
        ..form()
    };
    visitor.start_chat(mid("start-first"), first).await;
    let frames = visitor
        .recv_until(|f| system_text(f).is_some_and(|(t, _)| t == "Your order number?"))
        .await;
    let messages: Vec<(Seq, Party, &str)> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) => match &e.event {
                SessionEvent::Message { from, text, .. } => Some((e.seq, *from, text.as_str())),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let said: Vec<_> = messages
        .iter()
        .map(|(_, from, text)| (*from, *text))
        .collect();
    assert_eq!(
        said,
        [
            (Party::System, "Welcome, Vera."),
            (Party::Visitor, "Where is my parcel?"),
            (Party::System, "Your order number?"),
        ]
    );
    assert!(
        messages.windows(2).all(|w| w[0].0 < w[1].0),
        "in the order of the log: {messages:?}"
    );
}

#[tokio::test]
async fn workflow_greets_asks_then_queues_for_an_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), ASK)).await;
    let code = server.embed_code(support()).await;

    let mut agent = server.available_agent("alex").await;

    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let (session, _) = visitor.start_chat(mid("start-1"), form()).await;

    // The greeting and the question, from the service.
    let frames = visitor
        .recv_until(|f| system_text(f).is_some_and(|(t, _)| t == "Your order number?"))
        .await;
    let texts: Vec<_> = frames.iter().filter_map(system_text).collect();
    assert_eq!(
        texts,
        [
            ("Welcome, Vera.", Some("Customer Care")),
            ("Your order number?", Some("Customer Care")),
        ]
    );
    // Not queued before the answer.
    assert!(
        !frames.iter().any(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Queued { .. }))
        ),
        "{frames:?}"
    );

    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("m1"),
            text: "12345".into(),
            after: None,
        })
        .await;
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Queued { position: 1 })))
        .await;

    // Now the agent gets the offer and accepts.
    accept_offer(&mut agent, &mut visitor, &session).await;

    // The workflow path is recorded for reporting.
    let rows = server
        .state
        .store
        .report_rows(&ReportQuery {
            limit: 10,
            ..ReportQuery::default()
        })
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].workflow_path, ["hello", "ask", "queue", "wait"]);
    server.stop().await;
}

#[tokio::test]
async fn closed_workflow_ends_the_session_with_its_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), CLOSED)).await;
    let code = server.embed_code(support()).await;

    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let (session, _) = visitor.start_chat(mid("start-1"), form()).await;
    let frames = visitor
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
        )
        .await;
    let texts: Vec<_> = frames.iter().filter_map(system_text).collect();
    assert_eq!(texts, [("We are closed.", Some("Customer Care"))]);
    assert!(frames.iter().any(|f| matches!(f, ServerFrame::Event(e) if e.event == SessionEvent::Ended { reason: EndReason::Workflow })));
    assert!(
        !frames.iter().any(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Queued { .. }))
        ),
        "never queued: {frames:?}"
    );

    let rows = server
        .state
        .store
        .report_rows(&ReportQuery {
            limit: 10,
            ..ReportQuery::default()
        })
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, session);
    assert_eq!(rows[0].recorded_outcome, Some(Outcome::Cancelled));
    assert_eq!(rows[0].workflow_path, ["hours", "closed"]);
    assert_eq!(server.state.hub.open_sessions(), 0);
    server.stop().await;
}

/// A workflow that looks the visitor up at `url` (a JSON answer with `/customer/tier`)
/// and ends with "Your tier: ..." or, on failure, "The lookup failed.".
fn lookup_workflow(url: &str) -> String {
    format!(
        r#"
[[workflow]]
name = "test-im"

[[workflow.step]]
label = "lookup"
activity = "web_request"
url = "{url}"
timeout_secs = 5
save = {{ tier = "/customer/tier" }}
on_failure = "failed"

[[workflow.step]]
label = "found"
activity = "disconnect"
outcome = "cancelled"
message = "Your tier: {{{{tier}}}}."

[[workflow.step]]
label = "failed"
activity = "disconnect"
message = "The lookup failed."
"#
    )
}

/// Starts a server on `c`, starts a chat, and returns the workflow's messages until the
/// session ends.
async fn messages_until_ended(c: Config) -> Vec<String> {
    messages_until_ended_as(c, form()).await
}

/// [`messages_until_ended`] for a visitor who filled in `form`.
async fn messages_until_ended_as(c: Config, form: PreChatForm) -> Vec<String> {
    let server = TestServer::start(c).await;
    let code = server.embed_code(support()).await;
    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    visitor.start_chat(mid("start-1"), form).await;
    let frames = visitor
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
        )
        .await;
    let texts = frames
        .iter()
        .filter_map(system_text)
        .map(|(text, author)| {
            assert_eq!(author, Some("Customer Care"));
            text.to_owned()
        })
        .collect();
    server.stop().await;
    texts
}

/// A Web Request step against a local HTTP server: the answer's JSON is saved to
/// parameters and used in the next message; a server that is gone takes the failure exit.
#[tokio::test]
async fn web_request_reads_a_local_http_server() {
    use axum::routing::get;
    let api = axum::Router::new().route(
        "/customer/{name}",
        get(
            |axum::extract::Path(name): axum::extract::Path<String>| async move {
                axum::Json(serde_json::json!({ "customer": { "tier": format!("gold-{name}") } }))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, api).await });

    let workflow = lookup_workflow(&format!("http://{api_addr}/customer/{{{{visitor_name}}}}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let texts = messages_until_ended(config(dir.path(), &workflow)).await;
    assert_eq!(texts, ["Your tier: gold-Vera."]);
}

/// Web Request values are encoded for where they go. A visitor named to attack the called
/// service neither adds form fields, nor breaks out of a JSON string, nor climbs its
/// path; and with the deny-list on (the default) a private address is not called at all.
#[tokio::test]
async fn web_request_values_are_encoded_and_private_addresses_refused() {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::routing::{get, post};
    type Seen = Arc<Mutex<Vec<String>>>;
    let seen: Seen = Arc::default();
    fn tier() -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({"customer": {"tier": "ok"}}))
    }
    let api = axum::Router::new()
        .route(
            "/form",
            post(
                |axum::extract::State(seen): axum::extract::State<Seen>,
                 axum::Form(fields): axum::Form<BTreeMap<String, String>>| async move {
                    seen.lock().expect("lock").push(format!("form {fields:?}"));
                    tier()
                },
            ),
        )
        .route(
            "/json",
            post(
                |axum::extract::State(seen): axum::extract::State<Seen>,
                 axum::Json(v): axum::Json<serde_json::Value>| async move {
                    seen.lock().expect("lock").push(format!("json {v}"));
                    tier()
                },
            ),
        )
        .fallback(get(
            |axum::extract::State(seen): axum::extract::State<Seen>, uri: axum::http::Uri| async move {
                seen.lock().expect("lock").push(format!("get {uri}"));
                tier()
            },
        ))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, api).await });
    let step = |extra: &str| {
        format!(
            r#"
[[workflow]]
name = "test-im"

[[workflow.step]]
activity = "web_request"
{extra}
timeout_secs = 5
save = {{ tier = "/customer/tier" }}
on_failure = "failed"

[[workflow.step]]
activity = "disconnect"
outcome = "cancelled"
message = "Your tier: {{{{tier}}}}."

[[workflow.step]]
label = "failed"
activity = "disconnect"
message = "The lookup failed."
"#
        )
    };
    let named = |name: &str| PreChatForm {
        display_name: name.into(),
        ..form()
    };
    let run = |workflow: String, form: PreChatForm, allow_private: bool| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = config(dir.path(), &workflow);
        c.web_requests.allow_private_addresses = allow_private;
        messages_until_ended_as(c, form).await
    };
    let form_step = step(&format!(
        "method = \"POST\"\nurl = \"http://{api_addr}/form\"\nheaders = {{ \"Content-Type\" = \"application/x-www-form-urlencoded\" }}\nbody = \"name={{{{visitor_name}}}}&source=widget\""
    ));
    let ok = ["Your tier: ok."];
    assert_eq!(
        run(form_step.clone(), named("x&source=evil&admin=1"), true).await,
        ok
    );
    let json_step = step(&format!(
        "method = \"POST\"\nurl = \"http://{api_addr}/json\"\nheaders = {{ \"Content-Type\" = \"application/json\" }}\nbody = '{{\"name\":\"{{{{visitor_name}}}}\"}}'"
    ));
    assert_eq!(
        run(json_step, named(r#"x","admin":true,"y":""#), true).await,
        ok
    );
    let path_step = step(&format!(
        "url = \"http://{api_addr}/users/{{{{visitor_name}}}}/tier\""
    ));
    assert_eq!(run(path_step.clone(), named("a/../b"), true).await, ok);
    // A name that is a step up the path fails the request without making it.
    assert_eq!(
        run(path_step, named(".."), true).await,
        ["The lookup failed."]
    );
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(
            *seen,
            [
                r#"form {"name": "x&source=evil&admin=1", "source": "widget"}"#.to_owned(),
                r#"json {"name":"x\",\"admin\":true,\"y\":\""}"#.to_owned(),
                "get /users/a%2F..%2Fb/tier".to_owned(),
            ],
            "exactly these requests, the values as values"
        );
    }
    // The deny-list (the default): the loopback API is not called.
    assert_eq!(
        run(form_step, named("Vera"), false).await,
        ["The lookup failed."]
    );
    assert_eq!(seen.lock().expect("lock").len(), 3, "no request was made");
}

/// Waits until the session's workflow run is stored in a state whose JSON contains
/// `needle` (the run is stored after its actions are carried out, so a moment after the
/// visitor sees them).
async fn stored_run(server: &TestServer, session: &SessionId, needle: &str) -> WorkflowRunRecord {
    for _ in 0..250 {
        if let Some(run) = server
            .state
            .store
            .workflow_run(session)
            .await
            .expect("read")
            && run.state.contains(needle)
        {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the run of {session} was not stored with {needle:?}");
}

/// The visitor connects to `server` again and resumes `session` from the start.
async fn resume(
    server: &TestServer,
    code: &str,
    session: &SessionId,
    token: ResumeToken,
) -> Client {
    interact_testkit::resume_visitor(server.addr, code, session, &token, Seq::ZERO)
        .await
        .0
}

/// `GET /admin/v1/reports/sessions` on the real listener.
async fn report(server: &TestServer) -> Vec<serde_json::Value> {
    use http_body_util::BodyExt as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<axum::body::Bytes>>();
    let req = axum::http::Request::get(format!("http://{}/admin/v1/reports/sessions", server.addr))
        .header("authorization", "Bearer demo-admin-token")
        .body(http_body_util::Empty::new())
        .expect("request");
    let resp = client.request(req).await.expect("report answers");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&body).expect("a JSON array")
}

/// Stop the server while the workflow waits for the visitor's answer, start it again on
/// the same database: the answer goes on with the same run (queued with its priority,
/// offered, accepted) and the workflow path is recorded once, without a gap or a repeat.
#[tokio::test]
async fn a_workflow_run_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), ASK)).await;
    let code = server.embed_code(support()).await;
    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let (session, token) = visitor.start_chat(mid("start-1"), form()).await;
    visitor
        .recv_until(|f| system_text(f).is_some_and(|(t, _)| t == "Your order number?"))
        .await;
    let stored = stored_run(&server, &session, "collect").await;
    assert_eq!(stored.workflow, "test-im");
    drop(visitor);
    server.stop().await;

    let server = TestServer::start(config(dir.path(), ASK)).await;
    let mut agent = server.available_agent("alex").await;
    // The run waits for the answer: the session is not queued, so not offered.
    let mut early = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            early.push(agent.recv().await);
        }
    })
    .await;
    assert!(
        !early.iter().any(|f| matches!(f, ServerFrame::Offer(_))),
        "{early:?}"
    );
    let mut visitor = resume(&server, code.as_str(), &session, token).await;
    let replay = visitor
        .recv_until(|f| system_text(f).is_some_and(|(t, _)| t == "Your order number?"))
        .await;
    assert_eq!(
        replay.iter().filter_map(system_text).count(),
        2,
        "nothing said twice: {replay:?}"
    );
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("m1"),
            text: "12345".into(),
            after: None,
        })
        .await;
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Queued { position: 1 })))
        .await;
    accept_offer(&mut agent, &mut visitor, &session).await;

    let rows = report(&server).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["session"], session.as_str());
    assert_eq!(
        rows[0]["workflow_path"],
        serde_json::json!(["hello", "ask", "queue", "wait"]),
        "{}",
        rows[0]
    );
    assert_eq!(
        server
            .state
            .store
            .workflow_run(&session)
            .await
            .expect("read"),
        None,
        "the run is over once an agent accepted"
    );
    server.stop().await;
}

/// A restart under a waiting run whose workflow version is nowhere to be found (a
/// database that lost it): the session ends with the reason and the reporting outcome
/// `failed`, and the visitor is told.
#[tokio::test]
async fn a_run_whose_workflow_version_is_gone_ends_as_failed_at_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), ASK)).await;
    let code = server.embed_code(support()).await;
    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let (session, token) = visitor.start_chat(mid("start-1"), form()).await;
    let mut run = stored_run(&server, &session, "collect").await;
    drop(visitor);
    run.fingerprint = "a version nobody stored".into();
    server
        .state
        .store
        .put_workflow_run(&run)
        .await
        .expect("store");
    server.stop().await;

    let server = TestServer::start(config(dir.path(), ASK)).await;
    let mut visitor = resume(&server, code.as_str(), &session, token).await;
    let frames = visitor
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
        )
        .await;
    assert!(
        frames.iter().any(|f| matches!(f, ServerFrame::Event(e) if e.event == SessionEvent::Ended { reason: EndReason::Failed })),
        "{frames:?}"
    );
    let texts: Vec<_> = frames
        .iter()
        .filter_map(system_text)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        texts,
        [
            "Welcome, Vera.",
            "Your order number?",
            interact_server::node::flow::CANNOT_CONTINUE
        ]
    );

    let rows = report(&server).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["session"], session.as_str());
    assert_eq!(rows[0]["outcome"], "failed", "{}", rows[0]);
    assert_eq!(rows[0]["end_reason"], "failed", "{}", rows[0]);
    assert_eq!(
        server
            .state
            .store
            .workflow_run(&session)
            .await
            .expect("read"),
        None
    );
    assert_eq!(server.state.hub.open_sessions(), 0);
    server.stop().await;
}

const TIMED: &str = r#"
[[workflow]]
name = "test-im"

[[workflow.step]]
activity = "message"
text = "Old greeting."

[[workflow.step]]
activity = "delay"
seconds = 2

[[workflow.step]]
activity = "message"
text = "Old after the wait."

[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 600
next = "wait"
"#;

/// The new version of [`TIMED`], as the admin API takes it (one workflow table).
const TIMED_NEW: &str = r#"
name = "test-im"

[[step]]
activity = "message"
text = "New greeting."

[[step]]
activity = "delay"
seconds = 2

[[step]]
activity = "message"
text = "New after the wait."

[[step]]
label = "wait"
activity = "delay"
seconds = 600
next = "wait"
"#;

/// An admin API call with the demo token: status and JSON answer.
async fn admin_call(
    server: &TestServer,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let headers = [
        ("Authorization", "Bearer demo-admin-token"),
        ("Content-Type", "application/json"),
    ];
    let (status, text) =
        interact_testkit::http_request(server.addr, method, path, &headers, &body).await;
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Waits until `visitor` has seen the service say `text`.
async fn until_said(visitor: &mut Client, text: &str) {
    visitor
        .recv_until(|f| system_text(f).is_some_and(|(t, _)| t == text))
        .await;
}

/// A workflow changed through the admin API while a chat runs: new chats run the new
/// version at once, the running chat goes on with its own, across a restart too.
#[tokio::test]
async fn a_workflow_changed_live_reaches_new_chats_and_running_ones_keep_theirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start(config(dir.path(), TIMED)).await;
    let code = server.embed_code(support()).await;
    let (status, old) = admin_call(&server, "GET", "/admin/v1/workflows/test-im", None).await;
    assert_eq!(status, 200, "{old}");

    let addr = server.addr;
    let start = |n: &'static str| {
        let code = code.clone();
        async move {
            let mut v = connect_visitor(addr, code.as_str(), Some(ALLOWED))
                .await
                .expect("allowed");
            v.hello(None).await;
            let (session, token) = v.start_chat(mid(n), form()).await;
            (v, session, token)
        }
    };
    let (mut a, session_a, token_a) = start("start-a").await;
    until_said(&mut a, "Old greeting.").await;

    let (status, new) = admin_call(
        &server,
        "PUT",
        "/admin/v1/workflows/test-im",
        Some(serde_json::json!({"definition": TIMED_NEW})),
    )
    .await;
    assert_eq!(status, 200, "{new}");
    assert_ne!(new["fingerprint"], old["fingerprint"]);
    let (mut b, session_b, token_b) = start("start-b").await;
    until_said(&mut b, "New greeting.").await;

    // Both wait in their Delay when the server restarts.
    drop((a, b));
    server.restart().await;
    let mut a = resume(&server, code.as_str(), &session_a, token_a).await;
    let mut b = resume(&server, code.as_str(), &session_b, token_b).await;
    until_said(&mut a, "Old after the wait.").await;
    until_said(&mut b, "New after the wait.").await;
    let (mut c, _, _) = start("start-c").await;
    until_said(&mut c, "New greeting.").await;

    // The change is in the audit log, before and after.
    let (_, log) = admin_call(&server, "GET", "/admin/v1/audit", None).await;
    let put = log
        .as_array()
        .and_then(|l| l.iter().find(|e| e["action"] == "workflow.put"))
        .expect("the change is audited");
    assert!(
        put["before"]
            .as_str()
            .is_some_and(|b| b.contains("Old greeting."))
    );
    assert!(
        put["after"]
            .as_str()
            .is_some_and(|a| a.contains("New greeting."))
    );
    server.stop().await;
}

/// A definition that cannot run is refused, naming the step, and changes nothing.
#[tokio::test]
async fn a_bad_workflow_is_refused_naming_its_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), TIMED)).await;
    let (_, before) = admin_call(&server, "GET", "/admin/v1/workflows/test-im", None).await;
    let unsupported = TIMED_NEW.replace(
        "activity = \"delay\"\nseconds = 2",
        "activity = \"voice_message\"",
    );
    let transfer =
        "name = \"test-im\"\n[[step]]\nactivity = \"transfer\"\nservice = \"nowhere\"\n".to_owned();
    let unknown = TIMED_NEW.replace("activity = \"delay\"\nseconds = 2", "activity = \"juggle\"");
    let cases = [
        (unsupported, "not supported"),
        (transfer, "nowhere"),
        (unknown, "juggle"),
        (TIMED_NEW.replace("test-im", "other"), "names workflow"),
        (
            "name = \"test-im\"\n[[step]]\nactivity = ".to_owned(),
            "line",
        ),
        ("x".repeat(40_000), "at most"),
    ];
    for (definition, says) in cases {
        let (status, answer) = admin_call(
            &server,
            "PUT",
            "/admin/v1/workflows/test-im",
            Some(serde_json::json!({"definition": definition})),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{says:?} in {message:?}");
    }
    let (_, unknown_step) = admin_call(
        &server,
        "PUT",
        "/admin/v1/workflows/test-im",
        Some(serde_json::json!({"definition": TIMED_NEW.replace("activity = \"delay\"\nseconds = 2", "activity = \"juggle\"")})),
    )
    .await;
    assert!(
        unknown_step["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("step 2")),
        "names the step: {unknown_step}"
    );
    let (_, after) = admin_call(&server, "GET", "/admin/v1/workflows/test-im", None).await;
    assert_eq!(after, before, "nothing changed");
    let (status, _) = interact_testkit::http_request(
        server.addr,
        "PUT",
        "/admin/v1/workflows/test-im",
        &[("Content-Type", "application/json")],
        &serde_json::json!({"definition": TIMED_NEW}).to_string(),
    )
    .await;
    assert_eq!(status, 401);
    server.stop().await;
}

const WEEKDAYS: &str = r#"
[[opening_hours]]
name = "weekdays"
time_zone = "Europe/Berlin"
[opening_hours.weekly]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]

[[workflow]]
name = "test-im"

[[workflow.step]]
label = "greeting"
activity = "message"
text = "Hello {{visitor_name}}."

[[workflow.step]]
label = "hours"
activity = "check_opening_hours"
hours = "weekdays"
on_closed = "closed"

[[workflow.step]]
label = "topic"
activity = "input_customer"
question = "Sales or support?"
choices = [{ answers = ["sales"], next = "queue" }, { answers = ["support"], next = "queue" }]

[[workflow.step]]
label = "queue"
activity = "queue_task"

[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 30
next = "wait"

[[workflow.step]]
label = "closed"
activity = "disconnect"
outcome = "no_agent"
message = "We are closed."
"#;

/// Saturday 12 December 2026, 10:00 in Berlin.
const SATURDAY_10: u64 = 1_797_066_000_000;
/// Monday 14 December 2026, 10:00 in Berlin.
const MONDAY_10: u64 = 1_797_238_800_000;

/// The dry run of a workflow on a virtual clock: the path a chat would take, what the
/// visitor would read, and nothing sent, queued or stored.
#[tokio::test]
async fn a_dry_run_shows_the_path_a_chat_would_take() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path(), WEEKDAYS)).await;
    let path = "/admin/v1/workflows/test-im/dry-run";
    let dry = |body: serde_json::Value| admin_call(&server, "POST", path, Some(body));

    let (status, saturday) =
        dry(serde_json::json!({"at": SATURDAY_10, "visitor_name": "Dora"})).await;
    assert_eq!(status, 200, "{saturday}");
    assert_eq!(saturday["summary"], "greeting → hours → closed");
    assert_eq!(saturday["outcome"], "no_agent");
    let said: Vec<(&str, &str)> = saturday["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["what"].as_str().expect("what"),
                e["detail"].as_str().expect("detail"),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("say", "Hello Dora."),
            ("say", "We are closed."),
            ("disconnect", "no_agent")
        ]
    );

    let (status, monday) = dry(serde_json::json!({
        "at": MONDAY_10, "answers": ["Sales"], "for_secs": 65
    }))
    .await;
    assert_eq!(status, 200, "{monday}");
    assert_eq!(
        monday["summary"],
        "greeting → hours → topic → queue → wait × 3"
    );
    assert!(monday["outcome"].is_null());
    assert_eq!(monday["waiting"], "at step wait, in the queue");
    let whats: Vec<&str> = monday["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["what"].as_str().expect("what"))
        .collect();
    assert_eq!(&whats[..5], ["say", "ask", "answer", "queue", "wait"]);

    // An unsaved definition can be tried; the current version stays.
    let (_, before) = admin_call(&server, "GET", "/admin/v1/workflows/test-im", None).await;
    let other = "name = \"test-im\"\n[[step]]\nactivity = \"disconnect\"\nmessage = \"Bye.\"\n";
    let (status, tried) = dry(serde_json::json!({"at": MONDAY_10, "definition": other})).await;
    assert_eq!(status, 200, "{tried}");
    assert_eq!(tried["events"][0]["detail"], "Bye.");
    let (_, after) = admin_call(&server, "GET", "/admin/v1/workflows/test-im", None).await;
    assert_eq!(after, before);

    // Nothing happened for real.
    assert!(
        server
            .state
            .store
            .open_sessions()
            .await
            .expect("read")
            .is_empty()
    );
    let (status, _) = dry(serde_json::json!({"at": MONDAY_10, "definition": "name = "})).await;
    assert_eq!(status, 400);
    let (status, _) = admin_call(
        &server,
        "POST",
        "/admin/v1/workflows/nope/dry-run",
        Some(serde_json::json!({"at": MONDAY_10})),
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

/// A local HTTPS server answering every request with `body` (JSON), with a certificate
/// for 127.0.0.1 from a CA of its own; returns its address and the CA's PEM.
async fn https_api(body: &'static str) -> (std::net::SocketAddr, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Interact test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("certificate");
    let tls = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the CA ends the handshake: nothing to do.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ca.pem())
}

/// A Web Request step over HTTPS: with the server's CA in `[web_requests] ca_file` the
/// answer is read; without it the certificate is refused and the step takes its failure
/// exit.
#[tokio::test]
async fn web_request_speaks_https_and_checks_the_certificate() {
    let (api, ca_pem) = https_api(r#"{"customer":{"tier":"platinum"}}"#).await;
    let workflow = lookup_workflow(&format!("https://{api}/customer"));
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write the CA");
    for (trusted, expected) in [
        (true, "Your tier: platinum."),
        (false, "The lookup failed."),
    ] {
        let db = tempfile::tempdir().expect("tempdir");
        let mut c = config(db.path(), &workflow);
        if trusted {
            c.web_requests.ca_file = Some(ca_file.clone());
            c.web_requests
                .load_ca(dir.path())
                .expect("the CA file loads");
        }
        let texts = messages_until_ended(c).await;
        assert_eq!(texts, [expected], "trusted: {trusted}");
    }
}

/// A CA file that holds no certificate is refused when the configuration loads.
#[test]
fn a_ca_file_without_certificates_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").expect("write");
    let mut section = interact_server::config::WebRequestsSection::default();
    section.ca_file = Some("ca.pem".into());
    let e = section.load_ca(dir.path()).expect_err("refused");
    assert!(
        e.contains("ca.pem") && e.contains("no usable CA certificate"),
        "{e}"
    );
}
