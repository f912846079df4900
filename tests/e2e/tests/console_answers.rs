//! The visitor's answers to a workflow's Collect Information questions, in the console
//! (headless Chromium, the real server): a chat through a service whose workflow asks
//! for an order number and a topic before it queues the chat; the agent who accepts it
//! sees the answers at the top of the details (question → answer, as text: the
//! visitor's markup stays text) and the visitor's two answering messages marked in the
//! transcript (not the invalid first try); still so after a reload of the console and a
//! restart of the server; labelled in German after the switch.

use std::time::Duration;

use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::Stack;
use interact_e2e::visitor::VisitorClient;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{Party, ServerFrame, SessionEvent};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);

/// The demo with the support service's workflow asking two questions first.
fn config_text() -> String {
    interact_testkit::DEMO.replace("workflow = \"support-im\"", "workflow = \"answers-im\"")
        + r#"
[[workflow]]
name = "answers-im"

[[workflow.step]]
activity = "message"
text = "Hello {{visitor_name}}, two questions before an agent takes over."

[[workflow.step]]
label = "ask"
activity = "collect_information"
questions = [
    { ask = "Your order number?", save_to = "order_number", expect = "digits" },
    { ask = "What is it about?", save_to = "topic" },
]
invalid_message = "Digits only, please."

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
"#
}

/// What the visitor says their question is about: markup that must stay text.
const TOPIC: &str = "<b>Refund</b> for a <img src=x onerror=alert(1)> parcel";

/// The answers and the marked messages as the console shows them.
const SHOWN_ANSWERS: &str = "
  const root = document.querySelector(arguments[0]);
  if (!root) return null;
  const section = root.querySelector('.answers');
  return {
    shown: !section.hidden,
    heading: section.querySelector('.answers-heading').textContent.trim(),
    rows: [...section.querySelectorAll('.answer')].map((r) => [
      r.querySelector('dt').textContent, r.querySelector('.answer-text').textContent,
      r.querySelector('.answer-name').textContent]),
    marked: [...root.querySelectorAll('.msg-visitor.msg-answer')].map((m) => [
      m.querySelector('.msg-text').textContent, m.querySelector('.msg-answer-label').textContent]),
    unmarked: [...root.querySelectorAll('.msg-visitor:not(.msg-answer) .msg-text')].map((m) => m.textContent),
    markup: document.querySelectorAll('#app-view b, #app-view img').length,
  };";

async fn wait_answers(page: &Page, what: &str) -> Value {
    // After a reload the chat is listed, not open.
    page.wait_visible("the chat in the list", "#chats .chat-tab")
        .await;
    if !page.is_visible(SHOWN).await {
        page.click("#chats .chat-tab").await;
    }
    page.wait_until(
        what,
        "const r = document.querySelector(arguments[0] + ' .answers');
         return r && !r.hidden && document.querySelectorAll(arguments[0] + ' .msg-answer').length === 2
           ? true : 'not yet';",
        vec![json!(SHOWN)],
    )
    .await;
    page.eval(SHOWN_ANSWERS, vec![json!(SHOWN)]).await
}

fn asked(f: &ServerFrame, question: &str) -> bool {
    matches!(f, ServerFrame::Event(e) if matches!(&e.event,
        SessionEvent::Message { from: Party::System, text, .. } if text == question))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_sees_the_answers_to_the_workflows_questions() {
    if skip_browser("the console answers test") {
        return;
    }
    let mut stack = Stack::start_from(&config_text(), |_| {}).await;
    let stack_ref = &mut stack;
    with_browser("console-answers", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 860)
            .await
            .expect("window size");
        sign_in_available(page, stack, "alex").await;
        page.record_problems().await;

        // The visitor answers the workflow: once wrongly, then the order number, then
        // the topic.
        let (mut visitor, _) =
            VisitorClient::connect(stack.addr, &stack.code, &stack.host_url).await;
        visitor
            .start_chat(PreChatForm {
                display_name: "Vera".into(),
                email: "vera@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: None,
            })
            .await;
        visitor
            .until("the first question", |f| asked(f, "Your order number?"))
            .await;
        visitor.say("v-1", "soon").await;
        visitor
            .until("the first question again", |f| asked(f, "Your order number?"))
            .await;
        visitor.say("v-2", "12 34 5").await;
        visitor
            .until("the second question", |f| asked(f, "What is it about?"))
            .await;
        visitor.say("v-3", TOPIC).await;

        accept_first_offer(page).await;
        let expected = json!({
            "shown": true,
            "heading": "Answers (to the workflow's questions)",
            "rows": [
                ["Your order number?", "12345", "order_number"],
                ["What is it about?", TOPIC, "topic"],
            ],
            "marked": [["12 34 5", "Answer · order_number"], [TOPIC, "Answer · topic"]],
            "unmarked": ["soon"],
            "markup": 0,
        });
        let got = wait_answers(page, "the answers").await;
        assert_eq!(got, expected);
        page.screenshot("shown").await;

        // A reload of the console: read again from the server.
        page.browser.refresh().await.expect("reload");
        page.record_problems().await;
        assert_eq!(wait_answers(page, "the answers after a reload").await, expected);

        // A restart of the server: kept in its database.
        stack.restart_server().await;
        page.wait_until(
            "the console back online",
            "return document.getElementById('conn').dataset.state === 'online';",
            vec![],
        )
        .await;
        page.browser.refresh().await.expect("reload");
        page.record_problems().await;
        assert_eq!(
            wait_answers(page, "the answers after a restart").await,
            expected
        );

        // In German: the labels, not the visitor's words.
        page.element("#lang-select")
            .await
            .select_by_value("de")
            .await
            .expect("choose German");
        page.wait_until(
            "the German labels",
            "return document.querySelectorAll(arguments[0] + ' .msg-answer-label').length === 2
               && document.querySelector(arguments[0] + ' .msg-answer-label').textContent.startsWith('Angabe')
               ? true : 'not yet';",
            vec![json!(SHOWN)],
        )
        .await;
        let got = wait_answers(page, "the answers in German").await;
        assert_eq!(got["heading"], "Angaben (auf die Fragen des Workflows)");
        assert_eq!(got["rows"], expected["rows"]);
        assert_eq!(got["marked"][0], json!(["12 34 5", "Angabe · order_number"]));
        page.screenshot("shown-de").await;
        page.assert_no_problems("the console").await;
        drop(visitor);
    })
    .await;
    stack.stop().await;
}
