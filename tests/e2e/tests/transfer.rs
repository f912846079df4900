//! An agent transfers a chat from the console in a real headless Chromium: the Transfer
//! button opens a dialog listing the services (with who is available) and the people,
//! the agent picks a colleague, and the colleague (a native agent client) gets the offer
//! and the whole chat; the console shows the chat as transferred and read-only.
//!
//! `INTERACT_SKIP_BROWSER=1` skips it; the console's wasm package must be built
//! (`cargo xtask widget`). Screenshots: `target/test-artifacts/transfer-*.png`.

use std::time::Duration;

use interact_e2e::agent::AgentClient;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{
    SHOWN, accept_first_offer, require_console_package, sign_in_available,
};
use interact_e2e::skip_browser;
use interact_e2e::stack::Stack;
use interact_e2e::visitor::VisitorClient;
use interact_sdk::config::TargetKind;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use serde_json::json;

/// The whole scenario, normally a few seconds.
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// A visitor name that must stay text in the dialog's note and the transcript.
const NAME: &str = "<b>Vera</b>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_transfers_a_chat_from_the_console_to_a_colleague() {
    if skip_browser("the console's transfer in Chromium") {
        return;
    }
    require_console_package();
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser("transfer", SCENARIO_LIMIT, |page| async move {
        scenario(&page, stack_ref).await;
    })
    .await;
    stack.stop().await;
}

async fn scenario(page: &Page, stack: &Stack) {
    page.browser
        .set_window_size(1280, 860)
        .await
        .expect("window size");
    sign_in_available(page, stack, "alex").await;
    page.record_problems().await;

    let (mut visitor, _) = VisitorClient::connect(stack.addr, &stack.code, &stack.host_url).await;
    let session = visitor
        .start_chat(PreChatForm {
            display_name: NAME.into(),
            email: "vera@example.com".into(),
            consent: Some("2024-05".into()),
            first_message: Some("Can someone in billing help?".into()),
        })
        .await;
    accept_first_offer(page).await;
    // Sam signs in on a native client once Alex has the chat.
    let token = stack.agent_token("sam").await;
    let mut sam = AgentClient::connect(stack.addr, &token).await;

    // --- The dialog: services with their availability, and people, Alex not among them.
    page.click(&format!("{SHOWN} .session-transfer")).await;
    page.wait_visible("the transfer dialog", "#transfer-dialog")
        .await;
    page.wait_until(
        "the people to be listed",
        "return document.querySelector('#transfer-users-list input[value=\"user:sam\"]')
           ? true : document.getElementById('transfer-dialog').textContent;",
        vec![],
    )
    .await;
    page.wait_any_text(
        "Sales among the services",
        "#transfer-services-list .transfer-name",
        "Sales",
    )
    .await;
    let people = page.texts("#transfer-users-list .transfer-name").await;
    assert!(people.contains(&"Sam Support".to_owned()), "{people:?}");
    assert!(!people.contains(&"Alex Agent".to_owned()), "{people:?}");
    let services = page.texts("#transfer-services-list .transfer-name").await;
    assert!(
        !services.contains(&"Customer Care".to_owned()),
        "not where the chat is already: {services:?}"
    );
    let title: String = page
        .eval(
            "return document.getElementById('transfer-title').textContent;",
            vec![],
        )
        .await;
    assert_eq!(title, format!("Transfer the chat with {NAME}"));
    page.wait_animations().await;
    page.screenshot("transfer-dialog").await;

    // --- Alex picks Sam and confirms.
    page.click("#transfer-users-list input[value=\"user:sam\"]")
        .await;
    page.click("#transfer-confirm").await;
    let offer = sam
        .until(
            "the offer of the transferred chat",
            |f| matches!(f, ServerFrame::Offer(o) if o.session == session),
        )
        .await;
    let ServerFrame::Offer(offer) = offer else {
        unreachable!()
    };
    assert_eq!(
        (offer.target.kind, offer.target.display_name.as_str()),
        (TargetKind::User, "Sam Support")
    );
    page.wait_text(
        "the chat's state",
        &format!("{SHOWN} .session-state"),
        "Transferred to Sam Support",
    )
    .await;
    page.wait_any_text(
        "the transferred line",
        &format!("{SHOWN} .log .sys-transferred .sys-text"),
        "You transferred the chat to Sam Support",
    )
    .await;
    page.wait_until(
        "the composer to be disabled and the Transfer button gone",
        "const s = document.querySelector(arguments[0]);
         return s.querySelector('.composer-input').disabled && s.querySelector('.session-transfer').hidden
           ? true : 'not yet';",
        vec![json!(SHOWN)],
    )
    .await;
    page.wait_animations().await;
    page.screenshot("transfer-done").await;

    // --- Sam accepts and the visitor gets Sam.
    sam.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    visitor
        .until("Sam joining", |f| {
            matches!(f, ServerFrame::Event(e)
                if matches!(&e.event, SessionEvent::AgentJoined { agent } if agent.id.as_str() == "sam"))
        })
        .await;
    page.assert_no_alert().await;
    page.assert_no_problems("the console").await;
}
