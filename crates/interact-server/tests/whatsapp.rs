//! WhatsApp through the Twilio connector, against a stand-in Twilio that signs its
//! webhooks as Twilio documents (`interact_testkit::twilio`): the connector's
//! configuration and its refusals, an inbound message that runs the service's workflow
//! and reaches an agent, a replay stored once, a forged signature refused with nothing
//! stored, and the report's `channel`.

use std::net::SocketAddr;

use interact_sdk::protocol::{ServerFrame, SessionEvent};
use interact_testkit::twilio::{StandInTwilio, Webhook};
use interact_testkit::{TestServer, config, http_request};
use serde_json::{Value, json};

const OPERATOR: &str = "demo-admin-token";
const SENDER: &str = "+12025550123";
const CUSTOMER: &str = "+12025550188";

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let headers = [
        ("Authorization", "Bearer demo-admin-token"),
        ("Content-Type", "application/json"),
    ];
    let _ = OPERATOR;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, text) = http_request(addr, method, path, &headers, &body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A server whose public URL is its own address (Twilio signs the URL it posts to).
async fn server(dir: &std::path::Path) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut cfg = config(dir);
    cfg.server.public_url = format!("http://{}", listener.local_addr().expect("addr"));
    TestServer::start_on(listener, cfg).await
}

/// Messages of the session so far (the store's events), as text.
async fn texts(server: &TestServer, session: &interact_sdk::ids::SessionId) -> Vec<String> {
    server
        .state
        .store
        .events(session)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.event {
            SessionEvent::Message { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_whatsapp_message_runs_the_workflow_and_reaches_an_agent() {
    let dir = tempfile::tempdir().expect("dir");
    let server = server(dir.path()).await;
    let addr = server.addr;
    let twilio = StandInTwilio::start().await;
    let token_file = dir.path().join("twilio-token");
    std::fs::write(&token_file, format!("{}\n", twilio.auth_token)).expect("token file");
    let connector = |sender: &str, token: String| {
        json!({
            "account_sid": twilio.account_sid,
            "auth_token": token,
            "sender": sender,
            "api_base": twilio.url(),
        })
    };
    let reference = format!("file:{}", token_file.display());

    // Refused at configuration, naming why.
    for (service, body, words) in [
        (
            "support",
            connector("+447700900123", reference.clone()),
            "United States numbers (+1) only",
        ),
        (
            "support",
            connector(SENDER, twilio.auth_token.clone()),
            "give a secret reference",
        ),
        (
            "support",
            connector(SENDER, "file:/nonexistent/token".into()),
            "cannot read",
        ),
    ] {
        let (status, answer) = call(
            addr,
            "PUT",
            &format!("/admin/v1/services/{service}/whatsapp"),
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message}");
    }
    // A service without the Contact Center licence.
    let (_, mut web_only) = call(addr, "GET", "/admin/v1/services/support", None).await;
    web_only["licences"] = json!(["interact"]);
    web_only["workflow"] = Value::Null;
    let (status, body) = call(addr, "PUT", "/admin/v1/services/web-only", Some(web_only)).await;
    assert_eq!(status, 200, "{body}");
    let (status, answer) = call(
        addr,
        "PUT",
        "/admin/v1/services/web-only/whatsapp",
        Some(connector(SENDER, reference.clone())),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("Contact Center licence"),
        "{answer}"
    );

    // Configured: the token is never shown, the webhook URL is.
    let (status, shown) = call(
        addr,
        "PUT",
        "/admin/v1/services/support/whatsapp",
        Some(connector(SENDER, reference.clone())),
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    assert!(!shown.to_string().contains(&twilio.auth_token), "{shown}");
    let webhook = shown["webhook_url"]
        .as_str()
        .expect("webhook_url")
        .to_owned();
    assert_eq!(webhook, format!("{}/v1/whatsapp/support", server.url()));

    // An agent waits; a customer writes on WhatsApp.
    let mut alex = server.available_agent("alex").await;
    let first = twilio
        .inbound(CUSTOMER, SENDER, "Hello from WhatsApp")
        .with_profile_name(Some("Wanda <b>WhatsApp</b>"));
    assert_eq!(twilio.send_inbound(&webhook, &first).await, 200);
    let frames = alex
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!("recv_until ends with an offer")
    };
    let session = offer.session.clone();
    let record = server
        .state
        .store
        .session(&session)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(record.channel, interact_model::Channel::Whatsapp);
    assert_eq!(record.origin, format!("whatsapp:{CUSTOMER}"));
    assert_eq!(record.visitor_name, "Wanda <b>WhatsApp</b>");
    let said = texts(&server, &session).await;
    assert_eq!(
        said.first().map(String::as_str),
        Some("Hello from WhatsApp")
    );
    assert!(
        said.iter()
            .any(|t| t.contains("thank you for contacting Customer Care")),
        "the workflow's greeting: {said:?}"
    );

    // The same webhook again (Twilio retries): stored once.
    assert_eq!(twilio.send_inbound(&webhook, &first).await, 200);
    // A second message joins the same session; its replay too is stored once.
    let second = twilio.inbound(CUSTOMER, SENDER, "Are you there?");
    for _ in 0..2 {
        assert_eq!(twilio.send_inbound(&webhook, &second).await, 200);
    }
    let said = texts(&server, &session).await;
    let count = |t: &str| said.iter().filter(|s| s.as_str() == t).count();
    assert_eq!(
        (count("Hello from WhatsApp"), count("Are you there?")),
        (1, 1),
        "{said:?}"
    );

    // A burst faster than a session's message rate: every message is stored, in order.
    let burst: Vec<String> = (0..12).map(|n| format!("burst {n}")).collect();
    for text in &burst {
        let m = twilio.inbound(CUSTOMER, SENDER, text);
        assert_eq!(twilio.send_inbound(&webhook, &m).await, 200, "{text}");
    }
    let said = texts(&server, &session).await;
    let got: Vec<&String> = said.iter().filter(|t| t.starts_with("burst ")).collect();
    assert_eq!(got, burst.iter().collect::<Vec<_>>());

    // A forged or missing signature: 403, nothing stored.
    let third = twilio.inbound(CUSTOMER, SENDER, "forged");
    let forged = Webhook::signed(&webhook, &twilio.auth_token, third.params()).forged();
    assert_eq!(forged.send().await, 403);
    let (status, _) = http_request(
        addr,
        "POST",
        "/v1/whatsapp/support",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "From=whatsapp%3A%2B12025550188&Body=unsigned",
    )
    .await;
    assert_eq!(status, 403);
    let stranger = twilio.inbound("+12025550177", SENDER, "I am new");
    let signed_elsewhere = Webhook::signed(&webhook, "another-token", stranger.params());
    assert_eq!(signed_elsewhere.send().await, 403);
    assert!(!texts(&server, &session).await.iter().any(|t| t == "forged"));
    assert_eq!(
        server
            .state
            .store
            .open_sessions()
            .await
            .expect("open")
            .len(),
        1,
        "no session for the forged stranger"
    );

    // The report says which channel.
    let (status, rows) = call(
        addr,
        "GET",
        "/admin/v1/reports/sessions?channel=whatsapp",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["channel"], "whatsapp");
    let (_, widget) = call(
        addr,
        "GET",
        "/admin/v1/reports/sessions?channel=widget",
        None,
    )
    .await;
    assert_eq!(widget.as_array().map(Vec::len), Some(0), "{widget}");
    // The metrics count by channel: one session, 14 messages from the customer.
    let metrics = server.state.metrics.render();
    for line in [
        "interact_sessions_started_total{channel=\"whatsapp\"} 1",
        "interact_messages_total{channel=\"whatsapp\",from=\"visitor\"} 14",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(!metrics.contains("channel=\"widget\""), "{metrics}");
    server.stop().await;
    twilio.stop().await;
}
