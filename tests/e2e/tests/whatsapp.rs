//! WhatsApp in the agent console, end to end: the real server with its Twilio connector
//! pointed at the testkit's stand-in Twilio (`interact_testkit::twilio`, which signs its
//! webhooks as Twilio does), and the console in headless Chromium.
//!
//! The connector is configured through the admin API (the operator's token), a customer
//! writes on WhatsApp with a profile name that is markup, and the agent, signed in to the
//! console: sees the offer with the WhatsApp badge and the phone number (no email), the
//! name as text; accepts; replies through the composer, which reaches Twilio's Messages
//! resource with the right `To`, `From` and `Body`; sees the reply become "Read" as the
//! stand-in posts its status callbacks (sent, delivered, read); and reads the customer's
//! second message in the transcript. axe-core checks the page with the conversation
//! open.
//!
//! Screenshots go to `target/test-artifacts/whatsapp-*.png` (`whatsapp-console.png`
//! with the conversation); a failure saves `whatsapp-failure.{png,txt}` there too.
//! `INTERACT_SKIP_BROWSER=1` skips it.

use std::time::{Duration, Instant};

use fantoccini::key::Key;
use interact_e2e::axe::assert_accessible;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, require_console_package, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::Stack;
use interact_testkit::http_request;
use interact_testkit::twilio::{RecordedMessage, StandInTwilio};
use serde_json::{Value, json};

/// The whole scenario, normally about 10 s.
const LIMIT: Duration = Duration::from_secs(60);

/// The service's WhatsApp Business sender, and the customer's number.
const SENDER: &str = "+12025550123";
const CUSTOMER: &str = "+12025550188";
/// The customer's WhatsApp profile name: markup that must stay text.
const NAME: &str = "<b>Wanda</b> Whitfield";
const FIRST: &str = "Hello from WhatsApp, is my order on its way?";
/// What the agent types (markup and an ampersand go to Twilio as they are).
const REPLY: &str = "Hi Wanda, it left today <3 & arrives tomorrow.";
const SECOND: &str = "Great, <i>thank you</i>!";

/// Elements that customer text would have become if it were rendered as HTML.
const MARKUP_FROM_CUSTOMER: &str = "
    const bad = [];
    for (const area of document.querySelectorAll('#offers, #chats, #sessions, #notices')) {
      for (const n of area.querySelectorAll('b, i, script, img, [onerror]')) bad.push(n.outerHTML);
    }
    return bad;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_a_whatsapp_customer_in_the_console_and_sees_it_read() {
    if skip_browser("the WhatsApp console test") {
        return;
    }
    require_console_package();
    let started = Instant::now();
    // The server's public URL is already its own address (Twilio signs the URL it posts
    // to); the stand-in listens on loopback, which the connector may reach only with
    // private addresses allowed.
    let secrets = tempfile::tempdir().expect("a folder for the token");
    let folder = secrets.path().to_owned();
    let stack = Stack::start_with(|c| {
        c.web_requests.allow_private_addresses = true;
        // The operator's secrets folder, where the connector's reference may point.
        c.secrets.dir = Some(folder);
    })
    .await;
    let twilio = StandInTwilio::start().await;
    twilio.status_callbacks(&["sent", "delivered", "read"]);
    let webhook = connect(&stack, &twilio, secrets.path()).await;

    let (stack_ref, twilio_ref, webhook) = (&stack, &twilio, webhook.as_str());
    with_browser("whatsapp", LIMIT, |page| async move {
        scenario(&page, stack_ref, twilio_ref, webhook).await;
    })
    .await;
    stack.stop().await;
    twilio.stop().await;
    eprintln!("WhatsApp console test took {:?}", started.elapsed());
}

/// Configures `support`'s connector for the stand-in (the token in a file, given as a
/// `file:` reference); returns the webhook URL the admin API shows.
async fn connect(stack: &Stack, twilio: &StandInTwilio, dir: &std::path::Path) -> String {
    let token = dir.join("twilio-auth-token");
    std::fs::write(&token, format!("{}\n", twilio.auth_token)).expect("write the token");
    let body = json!({
        "account_sid": twilio.account_sid,
        "auth_token": format!("file:{}", token.display()),
        "sender": SENDER,
        "api_base": twilio.url(),
    });
    let (status, text) = http_request(
        stack.addr,
        "PUT",
        "/admin/v1/services/support/whatsapp",
        &[
            ("Authorization", "Bearer demo-admin-token"),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    )
    .await;
    let shown: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(status, 200, "PUT the connector: {text}");
    assert!(
        !text.contains(&twilio.auth_token),
        "the token is never shown: {text}"
    );
    let webhook = shown["webhook_url"].as_str().expect("webhook_url");
    assert_eq!(
        webhook,
        format!("{}/v1/whatsapp/support", stack.server_url),
        "Twilio posts to the server's own address"
    );
    webhook.to_owned()
}

async fn scenario(page: &Page, stack: &Stack, twilio: &StandInTwilio, webhook: &str) {
    page.browser
        .set_window_size(1280, 860)
        .await
        .expect("window size");
    sign_in_available(page, stack, "alex").await;
    page.record_problems().await;

    // --- A customer writes on WhatsApp.
    let first = twilio
        .inbound(CUSTOMER, SENDER, FIRST)
        .with_profile_name(Some(NAME));
    assert_eq!(twilio.send_inbound(webhook, &first).await, 200);

    // --- The offer: the WhatsApp badge and the number, no email; the name as text.
    page.wait_text("the offer's name", "#offers .offer .offer-name", NAME)
        .await;
    page.wait_text(
        "the WhatsApp badge",
        "#offers .offer .offer-email .channel-badge.channel-whatsapp",
        "WhatsApp",
    )
    .await;
    let contact: String = page
        .eval(
            "return document.querySelector('#offers .offer .offer-email').textContent;",
            vec![],
        )
        .await;
    assert_eq!(
        contact,
        format!("WhatsApp{CUSTOMER}"),
        "the badge, then the number"
    );
    assert!(!contact.contains('@'), "no email on WhatsApp: {contact:?}");
    page.wait_text(
        "the offer's first message",
        "#offers .offer .offer-message",
        FIRST,
    )
    .await;
    assert_inert(page, "the offer").await;
    page.wait_animations().await;
    page.screenshot("offer").await;

    // --- The agent accepts: the header and details say WhatsApp and the number.
    page.click("#offers .offer .offer-accept").await;
    page.wait_text("the chat's title", &format!("{SHOWN} .session-title"), NAME)
        .await;
    wait_transcript(page, "the first message", ".msg-visitor .msg-text", FIRST).await;
    wait_transcript(
        page,
        "the joined line",
        ".sys-agent_joined .sys-text",
        "You joined the chat",
    )
    .await;
    page.wait_text(
        "the header's badge",
        &format!("{SHOWN} .session-sub .channel-badge.channel-whatsapp"),
        "WhatsApp",
    )
    .await;
    page.wait_text(
        "the header's badge, number and service",
        &format!("{SHOWN} .session-sub"),
        &format!("WhatsApp{CUSTOMER} · via Customer Care"),
    )
    .await;
    page.wait_text(
        "the details' label",
        &format!("{SHOWN} .d-email-label"),
        "WhatsApp",
    )
    .await;
    page.wait_text(
        "the details' number",
        &format!("{SHOWN} .d-email"),
        CUSTOMER,
    )
    .await;
    page.wait_text("the details' name", &format!("{SHOWN} .d-name"), NAME)
        .await;

    // --- The agent replies through the composer; Twilio gets it.
    let input = page.element(&format!("{SHOWN} .composer-input")).await;
    input
        .send_keys(&format!("{REPLY}{}", Key::Enter))
        .await
        .expect("type a reply and press Enter");
    let reply = created_with_body(twilio, REPLY).await;
    assert_eq!(reply.method, "POST");
    assert_eq!(
        reply.path,
        format!("/2010-04-01/Accounts/{}/Messages.json", twilio.account_sid)
    );
    assert_eq!(
        reply.form_value("To"),
        Some(format!("whatsapp:{CUSTOMER}").as_str())
    );
    assert_eq!(
        reply.form_value("From"),
        Some(format!("whatsapp:{SENDER}").as_str())
    );
    assert_eq!(reply.form_value("Body"), Some(REPLY));
    wait_transcript(page, "the agent's reply", ".msg-self .msg-text", REPLY).await;

    // --- The stand-in reports it sent, delivered and read: the console says "Read".
    page.wait_until(
        "the reply to be read",
        "const mine = [...document.querySelectorAll(arguments[0])].filter(
           (li) => li.querySelector('.msg-text')?.textContent === arguments[1]);
         if (mine.length !== 1) return 'own messages with the reply: ' + mine.length;
         const s = mine[0].querySelector('.msg-status');
         return s && s.textContent === 'Read' && s.dataset.state === 'read'
           ? true : (s ? s.dataset.state + ': ' + s.textContent : 'no status');",
        vec![json!(format!("{SHOWN} .log .msg-self")), json!(REPLY)],
    )
    .await;
    let sid = reply.sid.clone().expect("the reply's SID");
    let callbacks = callbacks_of(twilio, &sid, 3).await;
    assert_eq!(
        callbacks,
        ["sent Some(204)", "delivered Some(204)", "read Some(204)"],
        "the reply's status callbacks and the server's answers"
    );

    // --- The customer's second message shows in the transcript.
    let second = twilio.inbound(CUSTOMER, SENDER, SECOND);
    assert_eq!(twilio.send_inbound(webhook, &second).await, 200);
    wait_transcript(
        page,
        "the customer's second message",
        ".msg-visitor .msg-text",
        SECOND,
    )
    .await;
    assert_inert(page, "the conversation").await;
    page.assert_no_alert().await;

    // --- Accessible with the WhatsApp conversation open (the badge included).
    assert_accessible(page, "the console with a WhatsApp conversation").await;
    page.wait_animations().await;
    page.screenshot("console").await;
    page.assert_no_problems("the console").await;
}

/// Waits (up to 15 s: the outbox may back off) until the stand-in created a message with
/// `body`; returns it. Fails, listing what it received, if none came.
async fn created_with_body(twilio: &StandInTwilio, body: &str) -> RecordedMessage {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(m) = twilio
            .created()
            .into_iter()
            .find(|m| m.form_value("Body") == Some(body))
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "the stand-in Twilio never received {body:?}; it received: {:#?}",
            twilio.requests()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status callbacks the stand-in posted for message `sid`, as "status answer",
/// once `n` of them were answered (up to 5 s; the console may say "Read" before the
/// stand-in has recorded the server's answer to the last one).
async fn callbacks_of(twilio: &StandInTwilio, sid: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let posted: Vec<String> = twilio
            .callbacks()
            .into_iter()
            .filter(|c| c.message_sid == sid)
            .map(|c| format!("{} {:?}", c.status, c.answer))
            .collect();
        if posted.len() >= n || Instant::now() >= deadline {
            return posted;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing the customer wrote became markup.
async fn assert_inert(page: &Page, when: &str) {
    let found: Vec<String> = page.eval(MARKUP_FROM_CUSTOMER, vec![]).await;
    assert!(
        found.is_empty(),
        "{when}: customer text became markup: {found:?}"
    );
}

/// Waits until an element matching `css` in the shown chat's transcript has exactly the
/// text `expected`.
async fn wait_transcript(page: &Page, what: &str, css: &str, expected: &str) {
    page.wait_any_text(what, &format!("{SHOWN} .log {css}"), expected)
        .await;
}
