//! After the chat, as a visitor meets it: the agent ends the chat, the visitor rates it 4
//! with a comment in the end screen's survey, downloads the transcript (a Blob made in
//! the page behind `a[download]`: its text is read back through the widget's test hook)
//! and has it emailed (the
//! testkit's SMTP sink receives it), and the session report shows the rating.
//!
//! Screenshots go to `target/test-artifacts/after-chat-*.png`.

use std::time::Duration;

use fantoccini::key::Key;
use interact_e2e::agent::AgentClient;
use interact_e2e::browser::with_browser;
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{LAUNCHER, enter_widget, top};
use interact_sdk::protocol::ClientFrame;
use interact_testkit::{SmtpSink, http_request};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);
const QUESTION: &str = "Where is my <b>parcel</b>?";
const ANSWER: &str = "It arrives tomorrow.\nAnything else?";
const COMMENT: &str = "Quick and \"kind\", thanks!";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_rates_the_chat_and_takes_the_transcript() {
    if skip_browser("the after-chat end-to-end test") {
        return;
    }
    require_widget_package();
    let sink = SmtpSink::start().await;
    let smtp = sink.config("Interact <chat@shop.example.com>");
    let stack = Stack::start_with(move |c| c.smtp = Some(smtp)).await;
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;

    let (stack_ref, agent, sink_ref) = (&stack, &mut agent, &sink);
    with_browser("after-chat", LIMIT, |page| async move {
        let (page, stack, sink) = (&*page, stack_ref, sink_ref);
        page.browser
            .goto(&stack.host_url)
            .await
            .expect("open the host page");
        page.wait_visible("the launcher", LAUNCHER).await;
        page.click(LAUNCHER).await;
        enter_widget(page).await;
        page.record_problems().await;
        page.wait_visible("the pre-chat form", ".iw-form").await;
        page.wait_until(
            "the start button to be enabled",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        page.type_into("[id$='-name']", "Ann Visitor").await;
        page.type_into("[id$='-email']", "ann@example.com").await;
        page.click("[id$='-consent']").await;
        page.type_into("[id$='-first']", QUESTION).await;
        page.click(".iw-start").await;

        let session = agent.accept_next().await;
        agent.wait_visitor_message(QUESTION).await;
        agent.say(&session, ANSWER).await;
        page.wait_any_text("the agent's answer", ".iw-agent .iw-text", ANSWER)
            .await;

        // --- The agent ends the chat: the end screen asks how it was.
        agent
            .send(&ClientFrame::End {
                session: Some(session.clone()),
            })
            .await;
        page.wait_visible("the survey", ".iw-survey").await;
        page.wait_text(
            "the survey's question",
            ".iw-scores legend",
            "How was this chat?",
        )
        .await;
        let labels: Vec<String> = page
            .eval(
                "return [...document.querySelectorAll('.iw-score input')]
                   .map((i) => i.type + ' ' + i.getAttribute('aria-label'));",
                vec![],
            )
            .await;
        assert_eq!(
            labels,
            [
                "radio 1: Very poor",
                "radio 2: Poor",
                "radio 3: Okay",
                "radio 4: Good",
                "radio 5: Excellent"
            ]
        );
        page.wait_visible("the email button", ".iw-email").await;

        // Sending without a score asks for one; nothing goes out.
        page.click(".iw-rate").await;
        page.wait_text(
            "the missing score",
            "[id$='-survey-error']",
            "Please choose a rating.",
        )
        .await;
        // The score by keyboard: the first radio, then the arrow keys to the fourth.
        page.click(".iw-score:nth-of-type(1)").await;
        page.type_into(
            ".iw-score input[value='1']",
            &format!("{}{}{}", Key::Right, Key::Right, Key::Right),
        )
        .await;
        let checked: String = page
            .eval(
                "return document.querySelector('.iw-score input:checked').value;",
                vec![],
            )
            .await;
        assert_eq!(checked, "4", "arrow keys move through the scores");
        page.type_into("[id$='-comment']", COMMENT).await;
        page.click(".iw-rate").await;
        page.wait_visible("the thanks", ".iw-survey-done").await;
        page.wait_text(
            "the thanks",
            ".iw-survey-done",
            "Thank you for your feedback!",
        )
        .await;

        // --- The transcript: a plain-text Blob behind a[download], read back here.
        let link: Value = page
            .eval(
                "const a = document.querySelector('.iw-download');
                 return { name: a.download, scheme: a.href.split(':')[0], text: a.textContent };",
                vec![],
            )
            .await;
        assert_eq!(
            link,
            json!({"name": "chat-transcript.txt", "scheme": "blob", "text": "Download transcript"})
        );
        page.eval::<Value>(
            "window.__interactTestResult = undefined;
             window.dispatchEvent(new CustomEvent('interact-test', { detail: 'transcript' }));
             return null;",
            vec![],
        )
        .await;
        page.wait_until(
            "the transcript Blob's text",
            "return typeof window.__interactTestResult === 'string'
               ? true : String(window.__interactTestResult);",
            vec![],
        )
        .await;
        let text: String = page
            .eval("return window.__interactTestResult;", vec![])
            .await;
        let text = text.as_str();
        assert!(
            text.starts_with("Chat transcript: Customer Care\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(" UTC] Ann Visitor: {QUESTION}\n")),
            "{text}"
        );
        assert!(
            text.contains(" UTC] Alex Agent: It arrives tomorrow.\n  Anything else?\n"),
            "{text}"
        );

        // --- The transcript by email.
        page.click(".iw-email").await;
        page.wait_text(
            "the email's confirmation",
            ".iw-email-status",
            "The transcript is on its way to your inbox.",
        )
        .await;
        let mails = sink.wait_for(1, Duration::from_secs(20)).await;
        assert_eq!(mails[0].to, ["ann@example.com"]);
        let body = mails[0].body();
        assert!(body.contains(&format!("Ann Visitor: {QUESTION}")), "{body}");
        page.assert_no_problems("the widget frame").await;
        top(page).await;
        page.screenshot("ended").await;
    })
    .await;

    // --- The report shows the rating, as JSON and as CSV.
    let auth = [("Authorization", "Bearer demo-admin-token")];
    let (status, body) =
        http_request(stack.addr, "GET", "/admin/v1/reports/sessions", &auth, "").await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<Value> = serde_json::from_str(&body).expect("json");
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(
        rows[0]["satisfaction"],
        json!({"score": 4, "comment": COMMENT})
    );
    let (status, csv) = http_request(
        stack.addr,
        "GET",
        "/admin/v1/reports/sessions?format=csv",
        &auth,
        "",
    )
    .await;
    assert_eq!(status, 200);
    let line = csv.lines().nth(1).expect("a row");
    assert!(
        line.ends_with(r#",4,"Quick and ""kind"", thanks!""#),
        "{line}"
    );
    stack.stop().await;
}
