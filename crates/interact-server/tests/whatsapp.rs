//! WhatsApp through the Twilio connector, against a stand-in Twilio that signs its
//! webhooks as Twilio documents (`interact_testkit::twilio`): the connector's
//! configuration and its refusals, an inbound message that runs the service's workflow
//! and reaches an agent, a replay stored once, a forged signature refused with nothing
//! stored, and the report's `channel`.

use std::net::SocketAddr;

use std::time::Duration;

use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{ClientFrame, Party, ReceiptState, ServerFrame, SessionEvent};
use interact_store::OutboundState;
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
    // The stand-in Twilio listens on loopback, which a connector may not reach unless
    // private addresses are allowed (as for workflows' web requests and webhooks).
    cfg.web_requests.allow_private_addresses = true;
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
            connector(SENDER, "file:/etc/hostname".into()),
            "names a file in the secrets folder",
        ),
        (
            "support",
            connector(SENDER, "env:HOME".into()),
            "starting with INTERACT_SECRET_",
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
    assert_eq!(
        record.consent_version, "",
        "the customer agreed to no privacy policy here"
    );
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

/// Configures `support`'s connector for `twilio`; returns its webhook URL.
async fn connect(server: &TestServer, twilio: &StandInTwilio, dir: &std::path::Path) -> String {
    let token_file = dir.join("twilio-token");
    std::fs::write(&token_file, &twilio.auth_token).expect("token file");
    let (status, shown) = call(
        server.addr,
        "PUT",
        "/admin/v1/services/support/whatsapp",
        Some(json!({
            "account_sid": twilio.account_sid,
            "auth_token": format!("file:{}", token_file.display()),
            "sender": SENDER,
            "api_base": twilio.url(),
        })),
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    shown["webhook_url"]
        .as_str()
        .expect("webhook_url")
        .to_owned()
}

/// Waits until `twilio` has created `n` messages (up to 30 s: retries back off).
async fn created(
    twilio: &StandInTwilio,
    n: usize,
) -> Vec<interact_testkit::twilio::RecordedMessage> {
    for _ in 0..300 {
        let created = twilio.created();
        if created.len() >= n {
            return created;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "expected {n} messages at Twilio, got {:#?}",
        twilio.requests()
    );
}

/// The bodies Twilio created, in order.
fn bodies(created: &[interact_testkit::twilio::RecordedMessage]) -> Vec<String> {
    created
        .iter()
        .map(|r| r.form_value("Body").unwrap_or_default().to_owned())
        .collect()
}

/// A customer writes, the only agent is offered the session and accepts it.
async fn accepted(
    server: &TestServer,
    twilio: &StandInTwilio,
    webhook: &str,
    text: &str,
) -> (interact_testkit::Client, SessionId) {
    let mut alex = server.available_agent("alex").await;
    let first = twilio
        .inbound(CUSTOMER, SENDER, text)
        .with_profile_name(Some("Wanda"));
    assert_eq!(twilio.send_inbound(webhook, &first).await, 200);
    let frames = alex
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!("recv_until ends with an offer")
    };
    // The console shows the channel and the number instead of an email.
    assert_eq!(offer.visitor.channel.as_deref(), Some("whatsapp"));
    assert_eq!(offer.visitor.phone.as_deref(), Some(CUSTOMER));
    assert_eq!(offer.visitor.display_name, "Wanda");
    let session = offer.session.clone();
    alex.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    alex.recv_until(|f| {
        matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))
    })
    .await;
    (alex, session)
}

fn reply(session: &SessionId, id: &str, text: &str) -> ClientFrame {
    ClientFrame::Send {
        session: Some(session.clone()),
        id: MessageId::new(id).expect("id"),
        text: text.into(),
        after: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_twilio_and_the_agent_sees_them_delivered_and_read() {
    let dir = tempfile::tempdir().expect("dir");
    let server = server(dir.path()).await;
    let twilio = StandInTwilio::start().await;
    twilio.status_callbacks(&["sent", "delivered", "read"]);
    let webhook = connect(&server, &twilio, dir.path()).await;
    let (mut alex, session) = accepted(&server, &twilio, &webhook, "Hello from WhatsApp").await;

    // The workflow's greeting went out through the Messages resource.
    let sent = created(&twilio, 1).await;
    let greeting = &sent[0];
    assert_eq!(greeting.method, "POST");
    assert_eq!(
        greeting.path,
        format!("/2010-04-01/Accounts/{}/Messages.json", twilio.account_sid)
    );
    assert_eq!(
        greeting.form_value("From"),
        Some(format!("whatsapp:{SENDER}").as_str())
    );
    assert_eq!(
        greeting.form_value("To"),
        Some(format!("whatsapp:{CUSTOMER}").as_str())
    );
    assert!(
        greeting
            .form_value("Body")
            .is_some_and(|b| b.contains("thank you for contacting Customer Care")),
        "{greeting:?}"
    );
    let callback = greeting
        .form_value("StatusCallback")
        .expect("StatusCallback");
    assert!(
        callback.starts_with(&format!("{}/v1/whatsapp/support/status?", server.url())),
        "{callback}"
    );

    // The agent replies; markup is text, sent as it is.
    let text = "<b>Hi Wanda</b> & welcome: how can I help?";
    alex.send(&reply(&session, "r-1", text)).await;
    let sent = created(&twilio, 2).await;
    assert_eq!(sent[1].form_value("Body"), Some(text));
    assert_eq!(
        sent[1].form_value("To"),
        Some(format!("whatsapp:{CUSTOMER}").as_str())
    );
    // Twilio reports it sent, delivered and read: the agent sees the customer's receipts.
    let mut read = None;
    for _ in 0..100 {
        let pieces = server
            .state
            .store
            .session_outbound(&session)
            .await
            .expect("outbox");
        read = pieces
            .into_iter()
            .find(|p| p.message == "r-1" && p.state == OutboundState::Read);
        if read.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let read = read.expect("r-1 read");
    let receipt = |wanted: ReceiptState| {
        move |f: &ServerFrame| {
            matches!(f, ServerFrame::Event(e) if matches!(
                e.event,
                SessionEvent::Receipt { by: Party::Visitor, state, up_to } if state == wanted && up_to >= read.seq
            ))
        }
    };
    let seen = alex.recv_until(receipt(ReceiptState::Read)).await;
    assert!(
        seen.iter().any(receipt(ReceiptState::Delivered)),
        "delivered before read: {seen:?}"
    );
    // A status callback again (Twilio retries) or late changes nothing: read stays read.
    let sid = sent[1].sid.clone().expect("sid");
    assert_eq!(twilio.send_status(callback, &sid, "delivered").await, 204);
    let again = server
        .state
        .store
        .outbound_by_sid(&sid)
        .await
        .expect("read")
        .expect("piece");
    assert_eq!(again.state, OutboundState::Read);
    // A forged status callback is refused.
    let forged = Webhook::signed(
        callback,
        "not-the-token",
        interact_testkit::twilio::StatusUpdate::new(&twilio.account_sid, &sid, "failed").params(),
    );
    assert_eq!(forged.send().await, 403);

    // The customer sends a photo: one polite answer, once even if Twilio sends it again;
    // the agent sees it.
    let photo = twilio
        .inbound(CUSTOMER, SENDER, "look at this")
        .with_media("image/jpeg");
    for _ in 0..2 {
        assert_eq!(twilio.send_inbound(&webhook, &photo).await, 200);
    }
    let sent = created(&twilio, 3).await;
    assert!(
        sent[2]
            .form_value("Body")
            .is_some_and(|b| b.contains("can't receive photos")),
        "{:?}",
        bodies(&sent)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refusals = bodies(&twilio.created())
        .iter()
        .filter(|b| b.contains("can't receive photos"))
        .count();
    assert_eq!(refusals, 1, "{:?}", bodies(&twilio.created()));
    let frames = alex
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(
            &e.event,
            SessionEvent::Message { from: Party::System, text, .. } if text.contains("can't receive photos")
        )))
        .await;
    assert!(!frames.is_empty());

    // A number WhatsApp cannot deliver to: the agent is told, the message fails.
    twilio.fail_delivery_to(CUSTOMER, 63003);
    alex.send(&reply(&session, "r-2", "Are you still there?"))
        .await;
    let frames = alex
        .recv_until(|f| {
            matches!(f, ServerFrame::Event(e) if matches!(
                &e.event,
                SessionEvent::Undelivered { message, .. } if message.as_str() == "r-2"
            ))
        })
        .await;
    let Some(ServerFrame::Event(e)) = frames.last() else {
        unreachable!()
    };
    let SessionEvent::Undelivered { from, reason, .. } = &e.event else {
        unreachable!()
    };
    assert_eq!(*from, Party::Agent);
    assert!(!reason.is_empty(), "a reason in words");

    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("interact_whatsapp_sent_total{outcome=\"accepted\"} 4"),
        "{metrics}"
    );
    server.stop().await;
    twilio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_outage_delays_replies_which_then_arrive_once_in_order() {
    let dir = tempfile::tempdir().expect("dir");
    let server = server(dir.path()).await;
    let twilio = StandInTwilio::start().await;
    let webhook = connect(&server, &twilio, dir.path()).await;
    let (mut alex, session) = accepted(&server, &twilio, &webhook, "Hi").await;
    let greeting = created(&twilio, 1).await;
    assert_eq!(greeting.len(), 1);

    // Twilio answers 503 (it may or may not have created the message), then 429.
    twilio.fail_next(3, 503);
    let texts = ["one", "two", "three"];
    for (n, text) in texts.iter().enumerate() {
        alex.send(&reply(&session, &format!("o-{n}"), text)).await;
    }
    let sent = created(&twilio, 4).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent_now = twilio.created();
    assert_eq!(
        sent_now.len(),
        sent.len(),
        "nothing more after: {:?}",
        bodies(&sent_now)
    );
    assert_eq!(
        bodies(&sent_now)[1..],
        texts.map(str::to_owned),
        "each once, in order"
    );
    let failed = twilio.requests().iter().filter(|r| r.status == 503).count();
    assert_eq!(failed, 3, "the outage was met");
    let count = |method: &str| {
        twilio
            .requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    };
    eprintln!(
        "outage: {} requests to Twilio ({} POST, {} GET to look for an earlier attempt, {failed} answered 503) for {} messages",
        twilio.requests().len(),
        count("POST"),
        count("GET"),
        sent_now.len(),
    );
    // After a 503 the connector looked before sending again.
    assert!(
        twilio.requests().iter().any(|r| r.method == "GET"),
        "{:#?}",
        twilio.requests()
    );

    twilio.fail_next(1, 429);
    alex.send(&reply(&session, "o-3", "four")).await;
    let sent = created(&twilio, 5).await;
    assert_eq!(sent[4].form_value("Body"), Some("four"));
    // Twilio records the message before the server has read its answer: wait for that.
    let mut pieces = Vec::new();
    for _ in 0..50 {
        pieces = server
            .state
            .store
            .session_outbound(&session)
            .await
            .expect("outbox");
        if pieces.iter().all(|p| p.state == OutboundState::Sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        pieces
            .iter()
            .all(|p| p.state == OutboundState::Sent && p.sid.is_some()),
        "{pieces:#?}"
    );
    let retried = pieces.iter().find(|p| p.message == "o-0").expect("o-0");
    assert!(retried.attempts > 1, "{retried:?}");
    server.stop().await;
    twilio.stop().await;
}
