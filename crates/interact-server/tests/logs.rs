//! The server's log as an operator collects it: `INTERACT_LOG_FORMAT=json` writes one
//! JSON object per line; every request is logged at `info` when it ends (status, latency)
//! with its request id, which the response names in `x-request-id`; what a WebSocket's
//! connection logs carries its request's id; a chat's lines carry the session and agent
//! ids as fields; the query string (which can hold a token) is never logged.

use std::time::Duration;

use interact_sdk::form::PreChatForm;
use interact_testkit::{ServerProcess, accepted_chat, http_exchange, process_config, write_config};
use serde_json::Value;

/// The server binary under test.
const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

/// The log's lines that are about `what`, parsed; panics on a line that is not JSON.
fn lines(server: &ServerProcess) -> Vec<Value> {
    server
        .log()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// The request id of a log line: its own span's or one of its spans'.
fn request_id(line: &Value) -> Option<&str> {
    line["span"]["request_id"].as_str().or_else(|| {
        line["spans"]
            .as_array()?
            .iter()
            .find_map(|s| s["request_id"].as_str())
    })
}

#[tokio::test]
async fn json_lines_carry_request_session_and_agent_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &process_config(""));
    let server =
        ServerProcess::start_logging(SERVER, &config, &[("INTERACT_LOG_FORMAT", "json")]).await;

    // A plain request: the id the response names is the one its access line carries; a
    // client's own id is replaced.
    let answer = http_exchange(
        server.addr,
        "GET",
        "/healthz?token=secret-in-query",
        &[("X-Request-Id", "forged-by-client")],
        "",
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.headers);
    let id = answer
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no request id: {:?}", answer.headers))
        .to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    // A chat an agent accepts.
    let store = server.store().await;
    let form = PreChatForm {
        display_name: "Lola Log".into(),
        email: "lola@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Hello".into()),
    };
    // The connections stay open while the log is read.
    let (_visitor, _agent, session) =
        accepted_chat(server.addr, store.as_ref(), "alex", form).await;

    let mut log = Vec::new();
    for _ in 0..50 {
        log = lines(&server);
        if log.iter().any(|l| l["message"] == "session accepted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let access = log
        .iter()
        .find(|l| l["message"] == "finished processing request" && request_id(l) == Some(&id))
        .unwrap_or_else(|| panic!("no access line for {id}: {log:#?}"));
    assert_eq!(access["level"], "INFO", "{access}");
    assert_eq!(access["status"], 200, "{access}");
    assert!(access["latency"].is_string(), "{access}");
    assert_eq!(access["span"]["path"], "/healthz", "{access}");
    assert_eq!(access["span"]["method"], "GET", "{access}");

    let started = log
        .iter()
        .find(|l| l["message"] == "session started")
        .unwrap_or_else(|| panic!("no start: {log:#?}"));
    assert_eq!(started["session"], session.as_str(), "{started}");
    let visitor_request = request_id(started).expect("the visitor's request id");
    assert!(
        log.iter()
            .any(|l| request_id(l) == Some(visitor_request) && l["span"]["path"] == "/v1/ws"),
        "the start is logged in the visitor's WebSocket request: {started}"
    );
    let accepted = log
        .iter()
        .find(|l| l["message"] == "session accepted")
        .unwrap_or_else(|| panic!("no accept: {log:#?}"));
    assert_eq!(accepted["session"], session.as_str(), "{accepted}");
    assert_eq!(accepted["agent"], "alex", "{accepted}");
    assert_eq!(accepted["span"]["path"], "/v1/agent/ws", "{accepted}");
    assert_ne!(request_id(accepted), Some(visitor_request));

    let text = server.log().join("\n");
    assert!(!text.contains("secret-in-query"), "a query is never logged");
    assert!(
        !text.contains("forged"),
        "a client's request id is not logged"
    );
}
