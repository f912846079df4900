//! OpenTelemetry traces as a collector receives them: the server started with
//! `INTERACT_OTLP_ENDPOINT` posts its spans over OTLP/HTTP (protobuf) to a small receiver
//! here; for one chat there are `request` spans (HTTP requests, WebSockets included),
//! `ws.frame` spans that are children of their connection's request span, and
//! `store.commit` spans that are children of the frame that caused them; a request's span
//! carries the access log's event with the response's status. The batch
//! exporter waits far longer than the test: the spans arrive because a graceful shutdown
//! (SIGTERM) sends what is left.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use interact_testkit::{
    ServerProcess, accepted_chat, http_exchange, mid, process_config, write_config,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message as _;

/// The server binary under test.
const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

/// The parent of `s` if it was received and is of the same trace.
fn parent_of<'a>(by_id: &BTreeMap<&[u8], &'a Span>, s: &Span) -> Option<&'a Span> {
    let p = *by_id.get(s.parent.as_slice())?;
    (p.trace == s.trace).then_some(p)
}

/// The `ws.frame` span of a `kind` frame on a connection to `path`.
fn find_frame<'a>(
    frames: &[&'a Span],
    by_id: &BTreeMap<&[u8], &'a Span>,
    kind: &str,
    path: &str,
) -> &'a Span {
    frames
        .iter()
        .copied()
        .find(|f| {
            f.attributes.get("frame").map(String::as_str) == Some(kind)
                && parent_of(by_id, f).is_some_and(|p| p.attributes["path"] == path)
        })
        .unwrap_or_else(|| panic!("no {kind} frame on {path}: {frames:#?}"))
}

/// A span as received, with what the assertions need.
#[derive(Clone, Debug)]
struct Span {
    service: String,
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    /// OTLP's span kind (2: server).
    kind: i32,
    attributes: BTreeMap<String, String>,
    /// Its events: name and attributes.
    events: Vec<(String, BTreeMap<String, String>)>,
}

/// The spans an OTLP/HTTP receiver on 127.0.0.1 (a port the OS picks) was sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Receiver {
    async fn start() -> (SocketAddr, Self) {
        let receiver = Self::default();
        let spans = receiver.spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                let request = match ExportTraceServiceRequest::decode(body) {
                    Ok(r) => r,
                    Err(e) => {
                        return (
                            axum::http::StatusCode::BAD_REQUEST,
                            e.to_string().into_bytes(),
                        );
                    }
                };
                spans.lock().expect("spans").extend(flatten(request));
                (
                    axum::http::StatusCode::OK,
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the receiver");
        });
        (addr, receiver)
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("spans").clone()
    }
}

fn text_of(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = text_of(
            &resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        );
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for s in scope.spans {
                out.push(Span {
                    service: service.clone(),
                    name: s.name,
                    trace: s.trace_id,
                    id: s.span_id,
                    parent: s.parent_span_id,
                    kind: s.kind,
                    attributes: text_of(&s.attributes),
                    events: s
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), text_of(&e.attributes)))
                        .collect(),
                });
            }
        }
    }
    out
}

#[tokio::test]
async fn a_chat_is_traced_from_requests_to_frames_to_store_commits() {
    let (receiver_addr, receiver) = Receiver::start().await;
    let endpoint = format!("http://{receiver_addr}");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &process_config(""));
    let server = ServerProcess::start_logging(
        SERVER,
        &config,
        &[
            ("INTERACT_OTLP_ENDPOINT", endpoint.as_str()),
            ("INTERACT_SERVICE_NAME", "interact-traces-test"),
            ("INTERACT_DRAIN_SECS", "0"),
            // Ten minutes: nothing is sent on the way, only at the shutdown.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ],
    )
    .await;

    let health = http_exchange(server.addr, "GET", "/healthz", &[], "").await;
    assert_eq!(health.status, 200);
    let health_id = health
        .header("x-request-id")
        .expect("request id")
        .to_owned();

    // One chat: the visitor starts it, an agent accepts, the visitor writes again.
    let store = server.store().await;
    let form = PreChatForm {
        display_name: "Tracy Trace".into(),
        email: "tracy@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Hello".into()),
    };
    let (mut visitor, mut agent, session) =
        accepted_chat(server.addr, store.as_ref(), "alex", form).await;
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("after-accept"),
            text: "Are you there?".into(),
            after: None,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { text, .. } if text == "Are you there?")))
        .await;
    // The connections end (their request spans with them).
    drop(visitor);
    drop(agent);
    drop(store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.spans().is_empty(),
        "nothing is sent before the batch is due or the server stops: {:?}",
        receiver.spans()
    );

    // A graceful stop sends the spans not sent yet.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let wanted = |spans: &[Span]| {
        spans.iter().any(|s| s.name == "store.commit")
            && spans
                .iter()
                .filter(|s| {
                    s.name == "request"
                        && s.attributes.get("path").is_some_and(|p| p.ends_with("/ws"))
                })
                .count()
                >= 2
    };
    let mut spans = Vec::new();
    for _ in 0..150 {
        spans = receiver.spans();
        if wanted(&spans) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log().join("\n");
    assert!(wanted(&spans), "spans: {spans:#?}\nlog:\n{log}");

    assert!(
        spans.iter().all(|s| s.service == "interact-traces-test"),
        "service.name from INTERACT_SERVICE_NAME: {spans:#?}"
    );
    let by_id: BTreeMap<&[u8], &Span> = spans.iter().map(|s| (s.id.as_slice(), s)).collect();

    // HTTP requests: the health check's span carries the id its response named.
    let health_span = spans
        .iter()
        .find(|s| s.name == "request" && s.attributes.get("request_id") == Some(&health_id))
        .unwrap_or_else(|| panic!("no request span for {health_id}: {spans:#?}"));
    assert_eq!(health_span.attributes["path"], "/healthz");
    assert_eq!(health_span.attributes["method"], "GET");
    assert!(health_span.parent.is_empty(), "a request is a trace's root");
    assert_eq!(health_span.kind, 2, "a server span");
    assert_eq!(
        health_span
            .attributes
            .get("http.response.status_code")
            .map(String::as_str),
        Some("200"),
        "{health_span:#?}"
    );
    let (_, access) = health_span
        .events
        .iter()
        .find(|(name, _)| name == "finished processing request")
        .unwrap_or_else(|| panic!("no access log event: {health_span:#?}"));
    assert_eq!(
        access.get("status").map(String::as_str),
        Some("200"),
        "{access:?}"
    );

    // Every frame handled is a child of its connection's request span.
    let frames: Vec<&Span> = spans.iter().filter(|s| s.name == "ws.frame").collect();
    for f in &frames {
        let parent = parent_of(&by_id, f).unwrap_or_else(|| panic!("frame without parent: {f:#?}"));
        assert_eq!(parent.name, "request", "{f:#?}");
        assert!(
            ["/v1/ws", "/v1/agent/ws"].contains(&parent.attributes["path"].as_str()),
            "{parent:#?}"
        );
    }
    let frame = |kind: &str, path: &str| find_frame(&frames, &by_id, kind, path);
    let start = frame("start_chat", "/v1/ws");
    let accept = frame("accept", "/v1/agent/ws");
    let send = frame("send", "/v1/ws");
    frame("hello", "/v1/ws");
    frame("agent_hello", "/v1/agent/ws");
    assert_ne!(
        start.trace, accept.trace,
        "the visitor's and the agent's connections are traces of their own"
    );

    // Store commits are children of the frames that caused them: the agent joining (the
    // accept) and the visitor's message (the send).
    let commits: Vec<&Span> = spans.iter().filter(|s| s.name == "store.commit").collect();
    for f in [accept, send] {
        assert!(
            commits
                .iter()
                .any(|c| c.parent == f.id && c.trace == f.trace),
            "no store.commit under {f:#?}: {commits:#?}"
        );
    }
    let commit = commits
        .iter()
        .find(|c| c.parent == send.id)
        .expect("the send's commit");
    assert_eq!(
        commit.attributes["session"],
        session.as_str(),
        "{commit:#?}"
    );
    assert_eq!(commit.attributes["events"], "1", "{commit:#?}");
}
