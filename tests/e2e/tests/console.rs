//! The agent console in a real headless Chromium against the real server, as a person
//! uses it: sign in (a wrong password first), become available, accept a chat from a
//! visitor whose name and first message are hostile markup, see them as text, reply with
//! Enter, read the visitor's answer, end the chat.
//!
//! The visitor is the native WebSocket client of `interact_e2e::visitor`, on the host
//! page's (allowed) origin. The test starts `chromedriver` itself (found on `PATH`, with
//! `chromium`) and fails, saying to run `cargo xtask prereq`, when either is missing.
//! `INTERACT_SKIP_BROWSER=1` (set by `cargo xtask test --skip-browser`) skips it.
//!
//! Screenshots go to `target/test-artifacts/console-*.png` (signin, offer, chat, ended);
//! when the scenario fails, `console-failure.png` and `console-failure.txt` (what the
//! page logged, and its DOM) are saved there too.

use std::time::{Duration, Instant};

use fantoccini::key::Key;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, require_console_package};
use interact_e2e::skip_browser;
use interact_e2e::stack::Stack;
use interact_e2e::visitor::VisitorClient;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{
    ClientFrame, EndReason, Party, ReceiptState, ServerFrame, SessionEvent,
};
use serde_json::json;

/// The whole scenario, normally about 6 s.
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// The visitor's display name and first message: markup that must stay text.
const NAME: &str = "<img src=x onerror=alert(1)>";
const FIRST: &str = "<b>bold?</b>";
/// What the agent types, and what the visitor answers.
const REPLY: &str = "Hello! How can I help? <3 & more";
const ANSWER: &str = "Thanks, <i>that</i> helps </p><script>alert(2)</script>";

/// Lists what visitor input would have become if it were rendered as HTML: `img`, `b`,
/// `i` or `script` elements or inline handlers where visitor text is shown, `b` elements or
/// inline handlers anywhere, and a request for the `x` image the hostile name would load.
const MARKUP_FROM_VISITOR: &str = "
    const bad = [];
    for (const area of document.querySelectorAll('#offers, #chats, #sessions, #notices')) {
      for (const n of area.querySelectorAll('img, b, i, script, [onerror]')) bad.push(n.outerHTML);
    }
    for (const n of document.querySelectorAll('b, [onerror]')) bad.push(n.outerHTML);
    for (const e of performance.getEntriesByType('resource')) {
      if (new URL(e.name).pathname.endsWith('/x')) bad.push('request ' + e.name);
    }
    return bad;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_signs_in_accepts_and_chats_with_hostile_markup_shown_as_text() {
    if skip_browser("the agent console test in Chromium") {
        return;
    }
    require_console_package();
    let started = Instant::now();
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser("console", SCENARIO_LIMIT, |page| async move {
        scenario(&page, stack_ref).await;
    })
    .await;
    stack.stop().await;
    eprintln!("agent console test took {:?}", started.elapsed());
}

async fn scenario(page: &Page, stack: &Stack) {
    // --- Sign in, with a wrong password first.
    page.browser
        .set_window_size(1280, 860)
        .await
        .expect("window size");
    page.browser
        .goto(&format!("{}/console/", stack.server_url))
        .await
        .expect("open the console");
    page.wait_visible("the sign-in form", "#signin-view").await;
    page.record_problems().await;
    page.element("#signin-username")
        .await
        .send_keys("alex")
        .await
        .expect("type the username");
    page.element("#signin-password")
        .await
        .send_keys("not-the-password")
        .await
        .expect("type a wrong password");
    page.element("#signin-submit")
        .await
        .click()
        .await
        .expect("click Sign in");
    page.wait_text(
        "the sign-in error",
        "#signin-error",
        "Wrong username or password.",
    )
    .await;
    assert!(
        page.is_visible("#signin-view").await && !page.is_visible("#app-view").await,
        "a wrong password must keep the sign-in form"
    );
    screenshot(page, "signin").await;

    let password = page.element("#signin-password").await;
    password.clear().await.expect("clear the password");
    password
        .send_keys(&format!("demo-password{}", Key::Enter))
        .await
        .expect("type the password and press Enter");
    page.wait_visible("the console", "#app-view").await;
    page.wait_until(
        "the console to be online",
        "const c = document.getElementById('conn');
         return c.dataset.state === 'online' ? true : c.dataset.state + ': ' + c.textContent.trim();",
        vec![],
    )
    .await;
    page.wait_text("the agent's name", "#me-name", "Alex Agent")
        .await;
    assert!(!page.is_visible("#signin-view").await);

    // --- Presence: away, then available, each confirmed by the server.
    for presence in ["away", "available"] {
        page.element("#presence-select")
            .await
            .select_by_value(presence)
            .await
            .expect("choose a presence");
        page.wait_until(
            &format!("presence {presence} confirmed by the server"),
            "const p = document.querySelector('.presence');
             return p.dataset.presence === arguments[0] && !p.classList.contains('is-pending')
               ? true : p.dataset.presence + ' ' + p.className;",
            vec![json!(presence)],
        )
        .await;
    }

    // --- A visitor starts a chat from an allowed website, with hostile markup.
    let (mut visitor, welcome) =
        VisitorClient::connect(stack.addr, &stack.code, &stack.host_url).await;
    assert!(
        matches!(welcome, ServerFrame::Welcome { .. }),
        "the allowed origin may connect: {welcome:?}"
    );
    let session = visitor
        .start_chat(PreChatForm {
            display_name: NAME.into(),
            email: "vera@example.com".into(),
            consent: Some("2024-05".into()),
            first_message: Some(FIRST.into()),
        })
        .await;

    // --- The offer shows the name and first message as text.
    page.element("#offers .offer").await;
    assert_inert(page, "the offer").await;
    page.wait_text("the offer", "#offers .offer .offer-name", NAME)
        .await;
    page.wait_text(
        "the offer's first message",
        "#offers .offer .offer-message",
        FIRST,
    )
    .await;
    page.wait_text("the offer count", "#offers-count", "1")
        .await;
    screenshot(page, "offer").await;

    page.element("#offers .offer .offer-accept")
        .await
        .click()
        .await
        .expect("click Accept");

    // --- The transcript: the visitor's name and first message, as text.
    page.wait_text("the chat's title", &format!("{SHOWN} .session-title"), NAME)
        .await;
    wait_transcript(page, "the first message", ".msg-visitor .msg-text", FIRST).await;
    wait_transcript(
        page,
        "the started line",
        ".sys-started .sys-text",
        &format!("{NAME} started the chat via Customer Care"),
    )
    .await;
    wait_transcript(
        page,
        "the joined line",
        ".sys-agent_joined .sys-text",
        "You joined the chat",
    )
    .await;
    page.wait_text("the visitor's name", &format!("{SHOWN} .d-name"), NAME)
        .await;
    page.wait_text(
        "the visitor's email",
        &format!("{SHOWN} .d-email"),
        "vera@example.com",
    )
    .await;
    page.wait_until(
        "the offer to leave the list",
        "return document.querySelectorAll('#offers .offer').length === 0
           ? true : document.getElementById('offers').textContent;",
        vec![],
    )
    .await;
    let transcript: String = page
        .eval(
            "return document.querySelector(arguments[0]).textContent;",
            vec![json!(format!("{SHOWN} .log"))],
        )
        .await;
    assert!(transcript.contains(NAME), "{transcript:?}");
    assert!(transcript.contains(FIRST), "{transcript:?}");
    assert_inert(page, "the accepted chat").await;
    page.assert_no_alert().await;
    visitor
        .until("the agent joining", |f| {
            is_event(f, |e| matches!(e, SessionEvent::AgentJoined { .. }))
        })
        .await;

    // --- The agent replies with Enter; the visitor receives it.
    let input = page.element(&format!("{SHOWN} .composer-input")).await;
    input
        .send_keys(&format!("{REPLY}{}", Key::Enter))
        .await
        .expect("type a reply and press Enter");
    let reply = visitor
        .until("the agent's reply", |f| {
            is_event(f, |e| {
                matches!(
                    e,
                    SessionEvent::Message {
                        from: Party::Agent,
                        ..
                    }
                )
            })
        })
        .await;
    let ServerFrame::Event(reply) = reply else {
        unreachable!()
    };
    let SessionEvent::Message { text, author, .. } = &reply.event else {
        unreachable!()
    };
    assert_eq!(text, REPLY, "the visitor gets the agent's text unchanged");
    assert_eq!(author.as_deref(), Some("Alex Agent"));
    assert_eq!(
        input
            .prop("value")
            .await
            .expect("composer value")
            .as_deref(),
        Some(""),
        "Enter sends and empties the composer"
    );
    wait_transcript(page, "the agent's reply", ".msg-self .msg-text", REPLY).await;

    // --- The visitor reads it and answers; the answer appears as text.
    visitor
        .send(&ClientFrame::Receipt {
            session: None,
            up_to: reply.seq,
            state: ReceiptState::Read,
        })
        .await;
    wait_transcript(page, "the read receipt", ".msg-self .msg-status", "Read").await;
    visitor.say("v-2", ANSWER).await;
    wait_transcript(
        page,
        "the visitor's answer",
        ".msg-visitor .msg-text",
        ANSWER,
    )
    .await;
    assert_inert(page, "the chat").await;
    page.assert_no_alert().await;
    screenshot(page, "chat").await;

    // --- The agent ends the chat (after confirming); the visitor sees it end.
    page.element(&format!("{SHOWN} .session-end"))
        .await
        .click()
        .await
        .expect("click End chat");
    let question = page.wait_alert().await;
    assert_eq!(question, format!("End the chat with {NAME}?"));
    page.browser
        .accept_alert()
        .await
        .expect("confirm ending the chat");
    let ended = visitor
        .until("the end of the chat", |f| {
            is_event(f, |e| matches!(e, SessionEvent::Ended { .. }))
        })
        .await;
    assert!(
        matches!(&ended, ServerFrame::Event(e)
            if e.session == session
                && matches!(e.event, SessionEvent::Ended { reason: EndReason::AgentEnded })),
        "{ended:?}"
    );
    wait_transcript(
        page,
        "the ended line",
        ".sys-ended .sys-text",
        "You ended the chat",
    )
    .await;
    page.wait_text(
        "the chat's state",
        &format!("{SHOWN} .session-state"),
        "Ended",
    )
    .await;
    page.wait_until(
        "the composer to be disabled",
        "return document.querySelector(arguments[0]).disabled;",
        vec![json!(format!("{SHOWN} .composer-input"))],
    )
    .await;
    screenshot(page, "ended").await;

    assert_inert(page, "the ended chat").await;
    page.assert_no_alert().await;
    page.assert_no_problems("the console").await;
}

fn is_event(frame: &ServerFrame, pred: impl Fn(&SessionEvent) -> bool) -> bool {
    matches!(frame, ServerFrame::Event(e) if pred(&e.event))
}

/// Nothing a visitor typed became markup ([`MARKUP_FROM_VISITOR`] finds nothing).
async fn assert_inert(page: &Page, when: &str) {
    let found: Vec<String> = page.eval(MARKUP_FROM_VISITOR, vec![]).await;
    assert!(
        found.is_empty(),
        "{when}: visitor input became markup: {found:?}"
    );
}

/// Waits until an element matching `css` in the shown chat's transcript has exactly the
/// text `expected`.
async fn wait_transcript(page: &Page, what: &str, css: &str, expected: &str) {
    page.wait_any_text(what, &format!("{SHOWN} .log {css}"), expected)
        .await;
}

/// Saves a screenshot as `console-<name>.png`, once entry animations have finished.
async fn screenshot(page: &Page, name: &str) {
    page.wait_animations().await;
    page.screenshot(name).await;
}
