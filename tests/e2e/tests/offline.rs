//! Closed and offline, as a visitor and an agent meet it in headless Chromium.
//!
//! - The service is closed by its workflow's opening hours (today a holiday): the widget
//!   says when it is back, its form becomes an offline message (checked by axe-core in
//!   the light and the dark scheme), the visitor leaves one and is thanked; the agent
//!   finds it under Messages in the console, answers it, and the answer reaches the
//!   visitor's address (the testkit's SMTP sink).
//! - Open with nobody available: the visitor starts anyway and waits in the queue; an
//!   agent who signs in later takes the chat.
//!
//! Screenshots go to `target/test-artifacts/offline-*.png`.

use std::time::Duration;

use interact_e2e::agent::AgentClient;
use interact_e2e::axe::assert_accessible;
use interact_e2e::browser::with_browser;
use interact_e2e::console::sign_in_available;
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{LAUNCHER, enter_widget, fill_and_start, top};
use interact_testkit::SmtpSink;
use interact_workflow::hours::HolidayConfig;

const LIMIT: Duration = Duration::from_secs(120);
const MESSAGE: &str = "Please call me back about order <b>#1042</b>.\nThanks!";
const ANSWER: &str = "We will call you tomorrow at 10:00.";

/// Opens the host page and the widget; leaves the page in the widget's frame.
async fn open_widget(page: &interact_e2e::browser::Page, host_url: &str) {
    page.browser
        .goto(host_url)
        .await
        .expect("open the host page");
    page.wait_visible("the launcher", LAUNCHER).await;
    page.click(LAUNCHER).await;
    enter_widget(page).await;
    page.record_problems().await;
    page.wait_visible("the pre-chat form", ".iw-form").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_takes_a_message_that_an_agent_answers_by_email() {
    if skip_browser("the offline message end-to-end test") {
        return;
    }
    require_widget_package();
    let sink = SmtpSink::start().await;
    let smtp = sink.config("Interact <chat@shop.example.com>");
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let stack = Stack::start_with(move |c| {
        c.smtp = Some(smtp);
        // 09:00-17:00 UTC every day, but today is a holiday: closed, back tomorrow.
        let hours = &mut c.opening_hours[0];
        hours.time_zone = "UTC".into();
        let day = || vec!["09:00-17:00".to_owned()];
        let w = &mut hours.weekly;
        (w.mon, w.tue, w.wed, w.thu, w.fri, w.sat, w.sun) =
            (day(), day(), day(), day(), day(), day(), day());
        hours.holidays.push(HolidayConfig {
            date: today,
            name: Some("A test holiday".into()),
            hours: vec![],
        });
    })
    .await;

    let (stack_ref, sink_ref) = (&stack, &sink);
    with_browser("offline", LIMIT, |page| async move {
        let (page, stack, sink) = (&*page, stack_ref, sink_ref);
        open_widget(page, &stack.host_url).await;
        page.wait_until(
            "the next opening",
            "const n = document.querySelector('.iw-notice').textContent;
             return n.startsWith('We are closed. Back ') && n.includes('09:00') ? true : n;",
            vec![],
        )
        .await;
        page.wait_text(
            "the offline intro",
            ".iw-intro",
            "Leave us a message and we will answer by email.",
        )
        .await;
        page.wait_text("the button", ".iw-start", "Send message")
            .await;
        assert!(
            !page.is_visible(".iw-first").await,
            "no call-first while closed"
        );
        page.screenshot("form-light").await;
        assert_accessible(page, "the offline form (light)").await;
        page.color_scheme(true).await;
        assert_accessible(page, "the offline form (dark)").await;
        page.screenshot("form-dark").await;
        page.color_scheme(false).await;

        // Without a message: refused next to the field, nothing sent.
        page.type_into("[id$='-name']", "Vera Visitor").await;
        page.type_into("[id$='-email']", "vera@example.com").await;
        page.click("[id$='-consent']").await;
        page.click(".iw-start").await;
        page.wait_text(
            "the missing message",
            "[id$='-first-error']",
            "Please fill this in.",
        )
        .await;
        page.type_into("[id$='-first']", MESSAGE).await;
        page.click(".iw-start").await;
        page.wait_text(
            "the thanks",
            ".iw-notice",
            "Thank you! We will answer by email at vera@example.com.",
        )
        .await;
        assert!(!page.is_visible(".iw-form").await, "the form gave way");
        page.screenshot("thanks").await;
        page.assert_no_problems("the widget").await;

        // --- The agent: the message under Messages, answered by email.
        top(page).await;
        sign_in_available(page, stack, "alex").await;
        page.wait_visible("the offline message", "#offline .offline-item")
            .await;
        page.wait_text("the count", "#offline-count", "1").await;
        page.wait_text("its sender", "#offline .offline-name", "Vera Visitor")
            .await;
        page.click("#offline .offline-item").await;
        page.wait_visible("the message dialog", "#offline-dialog")
            .await;
        page.wait_text("the message, as text", "#offline-text", MESSAGE)
            .await;
        page.wait_text("the address", "#offline-email", "vera@example.com")
            .await;
        let page_url: String = page
            .eval(
                "return document.getElementById('offline-page').textContent;",
                vec![],
            )
            .await;
        assert!(page_url.starts_with(&stack.host_url), "{page_url}");
        page.screenshot("console-message").await;
        assert_accessible(page, "the console's offline message").await;
        page.type_into("#offline-answer", ANSWER).await;
        page.click("#offline-send").await;
        page.wait_text(
            "the confirmation",
            "#offline-status",
            "Answer sent to vera@example.com.",
        )
        .await;
        page.wait_until(
            "the list to empty",
            "return document.querySelectorAll('#offline .offline-item').length === 0
               && !document.getElementById('offline-empty').hidden;",
            vec![],
        )
        .await;
        let mails = sink.wait_for(1, Duration::from_secs(15)).await;
        let body = mails[0].body();
        assert!(mails[0].to.iter().any(|t| t.contains("vera@example.com")));
        assert!(body.contains(ANSWER), "{body}");
        assert!(
            body.contains("> Please call me back about order <b>#1042</b>."),
            "{body}"
        );
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_available_the_visitor_starts_and_waits_in_the_queue() {
    if skip_browser("the queue-without-agents end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser("offline-queue", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        open_widget(page, &stack.host_url).await;
        page.wait_until(
            "the queue notice",
            "const n = document.querySelector('.iw-notice').textContent;
             return n.startsWith('No one is available right now. Start a chat') ? true : n;",
            vec![],
        )
        .await;
        page.wait_until(
            "Start to be enabled with nobody there",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        fill_and_start(page, "Quinn Queue", "Is anybody there?").await;
        page.wait_visible("the queue line", ".iw-queue").await;

        // An agent signs in later and takes the waiting chat.
        let token = stack.agent_token("alex").await;
        let mut agent = AgentClient::connect(stack.addr, &token).await;
        let session = agent.accept_next().await;
        agent.wait_visitor_message("Is anybody there?").await;
        agent.say(&session, "Hello Quinn, here I am.").await;
        page.wait_any_text(
            "the agent's answer",
            ".iw-agent .iw-text",
            "Hello Quinn, here I am.",
        )
        .await;
        page.assert_no_problems("the widget").await;
    })
    .await;
    stack.stop().await;
}
