//! Identified visitors as a visitor meets them, on the demo host page with its strict CSP:
//! the page calls `Interact.identify({id, name, email, hash})` with the hash its server
//! would compute; the widget's form is filled from it, the chat is stored under the id,
//! and in a fresh browser (a new profile: no storage shared) the same visitor sees the
//! earlier conversation's messages. A wrong hash is refused: the widget says so, the
//! visitor chats as a guest, and nothing is stored under the id.
//!
//! Screenshots go to `target/test-artifacts/identity-*.png`.

use std::time::Duration;

use interact_e2e::agent::AgentClient;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{LAUNCHER, enter_widget, fill_and_start, top};
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use interact_server::identity::sign;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);
const VISITOR: &str = "user-42";
const QUESTION: &str = "Where is my <b>parcel</b>?";
const GREETING: &str = "Hello Vera Verified, thank you for contacting Customer Care.";
const ANSWER: &str = "It ships today & arrives <i>tomorrow</i>.";

/// Opens the host page, identifies the visitor with `hash`, opens the widget and waits
/// for its form; leaves the page in the widget's frame.
async fn identified(page: &Page, host_url: &str, hash: &str) {
    page.browser
        .goto(host_url)
        .await
        .expect("open the host page");
    page.wait_until(
        "the loader's configuration check",
        "const b = document.querySelector(arguments[0]);
         return b && b.dataset.state === 'ready' ? true : 'not yet';",
        vec![json!(LAUNCHER)],
    )
    .await;
    let _: Value = page
        .eval(
            "Interact.identify({ id: arguments[0], hash: arguments[1],
                                 name: 'Vera Verified', email: 'vera@example.com' });
             return null;",
            vec![json!(VISITOR), json!(hash)],
        )
        .await;
    page.click(LAUNCHER).await;
    enter_widget(page).await;
    page.record_problems().await;
    page.wait_visible("the pre-chat form", ".iw-form").await;
}

async fn field_values(page: &Page) -> Value {
    page.eval(
        "return [document.querySelector(\"[id$='-name']\").value,
                 document.querySelector(\"[id$='-email']\").value];",
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_visitor_sees_its_history_in_a_fresh_browser() {
    if skip_browser("the identified visitors end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let state = &stack.server.state;
    let secret = interact_server::admin::rotate_identity_secret(
        state.store.as_ref(),
        stack.code.as_str(),
        state.now(),
        "e2e",
    )
    .await
    .expect("an identity secret");
    let hash = sign(&secret, VISITOR);
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;

    // --- First visit: identified, the form is filled in; a chat the agent answers.
    let (stack_ref, agent_ref, hash_ref) = (&stack, &mut agent, hash.as_str());
    with_browser("identity-first", LIMIT, |page| async move {
        let (page, stack, agent) = (&*page, stack_ref, agent_ref);
        identified(page, &stack.host_url, hash_ref).await;
        page.wait_until(
            "the form filled from identify()",
            "return document.querySelector(\"[id$='-name']\").value !== '' || 'not yet';",
            vec![],
        )
        .await;
        assert_eq!(
            field_values(page).await,
            json!(["Vera Verified", "vera@example.com"])
        );
        assert!(
            !page.is_visible(".iw-history").await,
            "no earlier conversations yet"
        );
        page.click("[id$='-consent']").await;
        page.type_into("[id$='-first']", QUESTION).await;
        page.click(".iw-start").await;

        let frames = agent
            .frames_until("the offer", |f| matches!(f, ServerFrame::Offer(_)))
            .await;
        let Some(ServerFrame::Offer(offer)) = frames.last() else {
            unreachable!("frames_until ends on the offer")
        };
        assert_eq!(offer.visitor.verified_id.as_deref(), Some(VISITOR));
        let session = offer.session.clone();
        agent
            .send(&ClientFrame::Accept {
                session: session.clone(),
            })
            .await;
        agent.wait_visitor_message(QUESTION).await;
        agent.say(&session, ANSWER).await;
        page.wait_any_text("the agent's answer", ".iw-agent .iw-text", ANSWER)
            .await;
        agent
            .send(&ClientFrame::End {
                session: Some(session.clone()),
            })
            .await;
        agent
            .until("the end", |f| {
                matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. }))
            })
            .await;
        page.wait_visible("the end screen", ".iw-ended").await;
        let stored = stack
            .server
            .state
            .store
            .session(&session)
            .await
            .expect("read")
            .expect("the session");
        assert_eq!(stored.visitor_id.as_deref(), Some(VISITOR));
        page.assert_no_problems("the first visit").await;
        top(page).await;
    })
    .await;

    // --- A fresh browser (another profile, no storage): the earlier conversation shows.
    let (stack_ref, hash_ref) = (&stack, hash.as_str());
    with_browser("identity-returning", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        identified(page, &stack.host_url, hash_ref).await;
        page.wait_visible("the earlier conversations", ".iw-history")
            .await;
        page.wait_text(
            "the history's heading",
            ".iw-history h2",
            "Earlier conversations",
        )
        .await;
        // The workflow's greeting (stored with the session, before the form's first
        // message), the visitor's question, the agent's answer.
        let texts = page.texts(".iw-history .iw-text").await;
        assert_eq!(
            texts,
            [GREETING, QUESTION, ANSWER],
            "the messages, as text"
        );
        let markup: usize = page
            .eval("return document.querySelectorAll('.iw-history b, .iw-history i').length;", vec![])
            .await;
        assert_eq!(markup, 0, "names and texts are never markup");
        let sides: Vec<String> = page
            .eval(
                "return [...document.querySelectorAll('.iw-history li')].map((li) => li.className);",
                vec![],
            )
            .await;
        assert_eq!(
            sides,
            ["iw-msg iw-system", "iw-msg iw-own", "iw-msg iw-agent"],
            "who wrote what"
        );
        page.screenshot("identity-history").await;
        page.assert_no_problems("the returning visit").await;
        top(page).await;
    })
    .await;

    // --- A wrong hash: refused, said so, a guest; nothing is stored under the id.
    let mut wrong = hash.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("hex");
    let (stack_ref, wrong_ref, agent_ref) = (&stack, wrong.as_str(), &mut agent);
    with_browser("identity-refused", LIMIT, |page| async move {
        let (page, stack, agent) = (&*page, stack_ref, agent_ref);
        identified(page, &stack.host_url, wrong_ref).await;
        page.wait_text(
            "the refusal",
            ".iw-notice",
            "We could not confirm your account, so you chat as a guest.",
        )
        .await;
        assert!(
            !page.is_visible(".iw-history").await,
            "no history for a wrong hash"
        );
        // The guest may still chat; the session is nobody's.
        page.wait_until(
            "the start button to be enabled",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        page.click("[id$='-consent']").await;
        page.type_into("[id$='-first']", "Just a guest").await;
        page.click(".iw-start").await;
        let frames = agent
            .frames_until("the guest's offer", |f| matches!(f, ServerFrame::Offer(_)))
            .await;
        let Some(ServerFrame::Offer(offer)) = frames.last() else {
            unreachable!("frames_until ends on the offer")
        };
        assert_eq!(offer.visitor.verified_id, None);
        let store = stack.server.state.store.as_ref();
        let guest = store
            .session(&offer.session)
            .await
            .expect("read")
            .expect("the guest's session");
        assert_eq!(guest.visitor_id, None);
        let theirs = store
            .visitor_sessions(&stack.code, VISITOR, 20)
            .await
            .expect("read");
        assert_eq!(theirs.len(), 1, "only the first visit's chat is user-42's");
        page.screenshot("identity-refused").await;
        top(page).await;
    })
    .await;
    stack.stop().await;
}

/// The agent console shows a verified visitor as such, with the website's id for them as
/// text (a hostile id stays text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_verified_visitor() {
    if skip_browser("the console's verified visitor test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let state = &stack.server.state;
    let secret = interact_server::admin::rotate_identity_secret(
        state.store.as_ref(),
        stack.code.as_str(),
        state.now(),
        "e2e",
    )
    .await
    .expect("an identity secret");
    let hostile = "<b>user</b>-7";
    let hash = sign(&secret, hostile);
    let (stack_ref, hash_ref) = (&stack, hash.as_str());
    with_browser("identity-console", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 900)
            .await
            .expect("window size");
        sign_in_available(page, stack, "alex").await;
        let console = page.browser.window().await.expect("the console's window");
        let visitor = page.browser.new_window(true).await.expect("a second tab");
        page.browser
            .switch_to_window(visitor.handle)
            .await
            .expect("to the visitor's tab");
        page.browser
            .goto(&stack.host_url)
            .await
            .expect("open the host page");
        page.wait_until(
            "the loader's configuration check",
            "const b = document.querySelector(arguments[0]);
             return b && b.dataset.state === 'ready' ? true : 'not yet';",
            vec![json!(LAUNCHER)],
        )
        .await;
        let _: Value = page
            .eval(
                "Interact.identify({ id: arguments[0], hash: arguments[1] }); return null;",
                vec![json!(hostile), json!(hash_ref)],
            )
            .await;
        page.click(LAUNCHER).await;
        enter_widget(page).await;
        page.wait_visible("the pre-chat form", ".iw-form").await;
        page.wait_until(
            "the start button to be enabled",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        fill_and_start(page, "Val", "Am I verified?").await;
        page.wait_visible("the chat", ".iw-text").await;

        page.browser
            .switch_to_window(console)
            .await
            .expect("back to the console");
        accept_first_offer(page).await;
        page.wait_visible("the verified badge", &format!("{SHOWN} .details-verified"))
            .await;
        let shown: Value = page
            .eval(
                "const d = document.querySelector(arguments[0] + ' .details-verified');
                 return [d.querySelector('.verified-badge').textContent,
                         d.querySelector('.d-visitor-id').textContent,
                         d.querySelectorAll('b').length];",
                vec![json!(SHOWN)],
            )
            .await;
        assert_eq!(shown, json!(["Verified", hostile, 0]));
        page.screenshot("console").await;
    })
    .await;
    stack.stop().await;
}
