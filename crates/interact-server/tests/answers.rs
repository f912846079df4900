//! The visitor's answers to a workflow's Collect Information questions, on a real
//! listener: kept for the agents after the run ends (an agent accepted), with the
//! question as asked and the `seq` of the visitor's message that answered; readable by
//! the agent holding the session and a colleague of its service, not by an agent of
//! another service, a wrong token or for an unknown session (404 / 401); still there
//! after a restart; never sent to the visitor beyond their own messages.

use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, Party, ServerFrame, SessionEvent};
use interact_server::config::Config;
use interact_testkit::{ALLOWED, DEMO, TestServer, connect_visitor, http_request, mid};
use serde_json::{Value, json};

/// The demo configuration with the support service's workflow replaced by one that asks
/// two questions before it queues the chat.
fn config(dir: &std::path::Path) -> Config {
    let text = DEMO.replace("workflow = \"support-im\"", "workflow = \"test-im\"")
        + r#"
[[workflow]]
name = "test-im"

[[workflow.step]]
label = "ask"
activity = "collect_information"
questions = [
    { ask = "Your order number, {{visitor_name}}?", save_to = "order", expect = "digits" },
    { ask = "What is it about?", save_to = "topic" },
]

[[workflow.step]]
label = "queue"
activity = "queue_task"

[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 600

[[workflow.step]]
activity = "disconnect"
outcome = "no_agent"
"#;
    interact_testkit::config_from(&text, dir)
}

/// What the visitor says about their order: markup that must stay text.
const TOPIC: &str = "<b>Refund</b> & \"return\" \u{1F4E6}";

/// `GET path` with the agent's token (if any): the status and the JSON body.
async fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let (status, body) = http_request(server.addr, "GET", path, &headers, "").await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn system_text(f: &ServerFrame) -> Option<&str> {
    match f {
        ServerFrame::Event(e) => match &e.event {
            SessionEvent::Message {
                from: Party::System,
                text,
                ..
            } => Some(text.as_str()),
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test]
async fn answers_are_for_the_sessions_agents_and_outlive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start(config(dir.path())).await;
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
        first_message: None,
    };
    let (s, _) = v.start_chat(mid("start-1"), form).await;

    // The questions and the answers, one invalid (asked again).
    let answers = [("a1", "no idea"), ("a2", " 12 34 "), ("a3", TOPIC)];
    let asked = [
        "Your order number, Vera?",
        "Your order number, Vera?",
        "What is it about?",
    ];
    for ((id, text), question) in answers.iter().zip(asked) {
        v.recv_until(|f| system_text(f) == Some(question)).await;
        v.send(&ClientFrame::Send {
            session: None,
            id: mid(id),
            text: (*text).into(),
            after: None,
        })
        .await;
    }
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

    // The seqs of the visitor's valid answers (messages are stored trimmed).
    let events = server.state.store.events(&s).await.expect("events");
    let seq_of = |text: &str| {
        events
            .iter()
            .find(|e| {
                matches!(&e.event, SessionEvent::Message { from: Party::Visitor, text: t, .. } if t == text)
            })
            .map(|e| e.seq.0)
            .expect("the visitor's message")
    };
    let expected = json!([
        {"name": "order", "question": "Your order number, Vera?", "value": "1234", "seq": seq_of("12 34")},
        {"name": "topic", "question": "What is it about?", "value": TOPIC, "seq": seq_of(TOPIC)},
    ]);
    let strip = |body: &Value| {
        let mut list = body["answers"].clone();
        for a in list.as_array_mut().expect("answers") {
            assert!(a["at"].as_u64().is_some_and(|t| t > 0), "{a}");
            a.as_object_mut().expect("object").remove("at");
        }
        list
    };

    let alex = server.agent_token("alex").await;
    let sam = server.agent_token("sam").await; // a colleague in the same service
    let dana = server.agent_token("dana").await; // not in it
    let path = format!("/v1/agent/sessions/{}/answers", s.as_str());
    for token in [&alex, &sam] {
        let (status, body) = get(&server, &path, Some(token)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(strip(&body), expected);
    }

    // Others: nothing, as if the session did not exist.
    assert_eq!(get(&server, &path, Some(&dana)).await.0, 404);
    assert_eq!(get(&server, &path, None).await.0, 401);
    assert_eq!(get(&server, &path, Some("not-a-token")).await.0, 401);
    assert_eq!(
        get(&server, "/v1/agent/sessions/s-unknown/answers", Some(&alex))
            .await
            .0,
        404
    );

    // The run is over (its state forgotten); the answers are not, across a restart.
    drop(agent);
    drop(v);
    server.restart().await;
    let (status, body) = get(&server, &path, Some(&alex)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(strip(&body), expected);
    assert_eq!(get(&server, &path, Some(&dana)).await.0, 404);

    // Never a session event: the visitor's transcript has only their own messages.
    let events = server.state.store.events(&s).await.expect("events");
    assert!(
        !events
            .iter()
            .any(|e| format!("{:?}", e.event).contains("\"1234\"")),
        "an answer became a session event"
    );
    server.stop().await;
}
