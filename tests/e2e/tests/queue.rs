//! The queue, as a visitor in the widget sees it: one agent who takes one chat at a time,
//! three native visitors ahead of the widget's, and the widget's place counting down as
//! the agent finishes one chat after another, until the agent joins.
//!
//! The screenshot goes to `target/test-artifacts/queue-waiting.png`; a failing scenario
//! leaves `queue-failure.{png,txt}` there.

use std::time::Duration;

use fantoccini::key::Key;
use interact_e2e::agent::AgentClient;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::visitor::VisitorClient;
use interact_e2e::widget::{enter_widget, fill_and_start, open_form, top};
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use serde_json::json;

/// The whole scenario; normally about 8 s.
const LIMIT: Duration = Duration::from_secs(120);

const QUEUE: &str = "p.iw-queue[role=status]";

/// What the widget shows right after the start, before the server names a place.
const WAITING: &str = "Waiting for an agent…";
const AGENT_SAYS: &str = "Thank you for waiting, how can I help?";
const VISITOR_SAYS: &str = "No problem, my kettle hums.";

/// Records every text the queue line is given and every time it is hidden (as `null`),
/// in order, from the mutations themselves: a text set and replaced within one task is
/// recorded too.
const RECORD_QUEUE: &str = "const q = document.querySelector(arguments[0]);
     window.__queue = [];
     new MutationObserver((records) => {
       for (const r of records) {
         if (r.type === 'attributes') {
           if (q.hidden) window.__queue.push(null);
         } else {
           for (const n of r.addedNodes) window.__queue.push(n.textContent);
         }
       }
     }).observe(q, { childList: true, characterData: true, subtree: true,
                     attributes: true, attributeFilter: ['hidden'] });
     return true;";

/// The place in the queue a text of the widget's queue line names (English).
fn position(text: &str) -> Option<u32> {
    if text == "You are next in the queue." {
        return Some(1);
    }
    text.strip_prefix("You are number ")?
        .strip_suffix(" in the queue.")?
        .parse()
        .ok()
}

/// Waits until the widget's queue line is shown and names `expected`.
async fn wait_position(page: &Page, expected: u32) {
    page.wait_until(
        &format!("the widget to show place {expected} in the queue"),
        "const q = document.querySelector(arguments[0]);
         if (!q) return 'no queue line';
         if (!q.checkVisibility()) return 'hidden: ' + q.textContent;
         return q.textContent === arguments[1] ? true : q.textContent;",
        vec![
            json!(QUEUE),
            json!(match expected {
                1 => "You are next in the queue.".to_owned(),
                n => format!("You are number {n} in the queue."),
            }),
        ],
    )
    .await;
}

/// A native visitor on the allowed host page who starts a chat; returns the client (kept
/// open: the visitor waits) and the session.
async fn native_visitor(stack: &Stack, name: &str) -> (VisitorClient, SessionId) {
    let (mut visitor, welcome) =
        VisitorClient::connect(stack.addr, &stack.code, &stack.host_url).await;
    assert!(
        matches!(welcome, ServerFrame::Welcome { .. }),
        "{name} may connect: {welcome:?}"
    );
    let session = visitor
        .start_chat(PreChatForm {
            display_name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            consent: Some("2024-05".into()),
            first_message: Some(format!("{name} has a question.")),
        })
        .await;
    (visitor, session)
}

/// Waits until the native `visitor` is told it is at `expected` in the queue.
async fn wait_queued(visitor: &mut VisitorClient, who: &str, expected: u32) {
    visitor
        .until(&format!("{who} to be at {expected} in the queue"), |f| {
            matches!(f, ServerFrame::Event(e)
                if matches!(e.event, SessionEvent::Queued { position } if position == expected))
        })
        .await;
}

/// The agent ends `done`; the next offer must be `next`, which the agent accepts.
async fn finish_and_take(agent: &mut AgentClient, done: &SessionId, next: &SessionId) {
    agent
        .send(&ClientFrame::End {
            session: Some(done.clone()),
        })
        .await;
    let taken = agent.accept_next().await;
    assert_eq!(
        &taken, next,
        "after a chat ends, the one waiting longest is offered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_counts_down_its_place_in_the_queue_while_the_agent_finishes_chats() {
    if skip_browser("the queue end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start_with(|config| config.limits.max_chats_per_agent = 1).await;
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;

    // --- The agent takes Ann's chat and is at the limit; Ben and Cleo wait.
    let (_ann, ann) = native_visitor(&stack, "Ann").await;
    let taken = agent.accept_next().await;
    assert_eq!(taken, ann);
    let (mut ben_client, ben) = native_visitor(&stack, "Ben").await;
    wait_queued(&mut ben_client, "Ben", 1).await;
    let (mut cleo_client, cleo) = native_visitor(&stack, "Cleo").await;
    wait_queued(&mut cleo_client, "Cleo", 2).await;

    let (stack_ref, agent_ref, cleo_ref) = (&stack, &mut agent, &mut cleo_client);
    with_browser("queue", LIMIT, |page| async move {
        let (page, stack, agent, cleo_client) = (&*page, stack_ref, agent_ref, cleo_ref);
        page.browser
            .set_window_size(1100, 800)
            .await
            .expect("window size");

        // --- Dana opens the widget: the form is open although the agent is busy.
        // (The start button is enabled: an agent is signed in, at their limit.)
        open_form(page, &stack.host_url).await;
        let _: bool = page.eval(RECORD_QUEUE, vec![json!(QUEUE)]).await;
        fill_and_start(page, "Dana", "Dana has a question.").await;

        // --- Third in the queue, behind Ben and Cleo.
        wait_position(page, 3).await;
        top(page).await;
        page.screenshot("waiting").await;
        enter_widget(page).await;

        // --- The agent ends Ann's chat and takes Ben's: Dana moves up.
        finish_and_take(agent, &ann, &ben).await;
        wait_queued(cleo_client, "Cleo", 1).await;
        wait_position(page, 2).await;

        // --- Ben's chat ends; Cleo's is taken: Dana is next.
        finish_and_take(agent, &ben, &cleo).await;
        wait_position(page, 1).await;

        // --- Cleo's chat ends: the agent is offered Dana's chat and joins.
        agent
            .send(&ClientFrame::End {
                session: Some(cleo.clone()),
            })
            .await;
        let offer = agent
            .until("Dana's offer", |f| matches!(f, ServerFrame::Offer(_)))
            .await;
        let ServerFrame::Offer(offer) = offer else {
            unreachable!()
        };
        assert_eq!(
            offer.visitor.display_name, "Dana",
            "the last offer is Dana's"
        );
        assert_eq!(offer.first_message.as_deref(), Some("Dana has a question."));
        let dana = offer.session;
        agent
            .send(&ClientFrame::Accept {
                session: dana.clone(),
            })
            .await;
        page.wait_any_text(
            "the agent joining",
            ".iw-event",
            "Alex Agent joined the chat.",
        )
        .await;
        page.wait_until(
            "the queue line to be hidden",
            "return document.querySelector(arguments[0]).checkVisibility() ? 'shown' : true;",
            vec![json!(QUEUE)],
        )
        .await;

        // --- They talk, both ways.
        agent.wait_visitor_message("Dana has a question.").await;
        agent.say(&dana, AGENT_SAYS).await;
        page.wait_any_text("the agent's message", ".iw-agent .iw-text", AGENT_SAYS)
            .await;
        page.type_into("[id$='-text']", &format!("{VISITOR_SAYS}{}", Key::Enter))
            .await;
        agent.wait_visitor_message(VISITOR_SAYS).await;

        // --- Every place the widget showed: 3, 2, 1 and nothing else, then hidden.
        let shown: Vec<Option<String>> = page.eval("return window.__queue;", vec![]).await;
        eprintln!("the queue line showed: {shown:?}");
        let mut rest = shown.as_slice();
        // Between the session's start and the server's first word on the queue.
        if let [Some(first), tail @ ..] = rest
            && first == WAITING
        {
            rest = tail;
        }
        let places: Vec<Option<u32>> = rest
            .iter()
            .map(|t| t.as_deref().and_then(position))
            .collect();
        assert_eq!(
            places,
            [Some(3), Some(2), Some(1), None],
            "the widget's queue line showed {shown:?}; expected 3, 2, 1, then hidden"
        );
        assert_eq!(rest.last(), Some(&None), "hidden at the end: {shown:?}");
        page.assert_no_problems("the widget frame").await;
    })
    .await;
    stack.stop().await;
}
