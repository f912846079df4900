//! The console's alerts in headless Chromium: with the console in the background, a new
//! offer and a visitor's new message give a desktop notification (text only: the
//! visitor's markup stays text) and a sound, each once the agent turned it on in the top
//! bar. The browser's `Notification`, `AudioContext` and `document.hasFocus` are
//! replaced in the page by recorders (headless Chromium neither shows notifications nor
//! plays sound, and its window always has the focus); what the console asks of them is
//! what is checked. Saved replies go into the composer, and its text is saved as one;
//! an internal note is added to the chat.

use std::time::Duration;

use interact_e2e::browser::with_browser;
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::Stack;
use interact_e2e::visitor::VisitorClient;
use interact_sdk::form::PreChatForm;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(90);
const NAME: &str = "Vera <i>V</i>";
const FIRST: &str = "<b>Where is my parcel?</b>";
const LATER: &str = "It was due on Monday <script>alert(1)</script>";

/// Recorders in place of the browser's notification, sound and focus.
const RECORDERS: &str = "
    window.__alerts = [];
    window.Notification = class {
      static permission = 'granted';
      static requestPermission() { return Promise.resolve('granted'); }
      constructor(title, options) { window.__alerts.push({ title, body: options.body, tag: options.tag }); }
      close() {}
    };
    window.AudioContext = class {
      get currentTime() { return 0; }
      get destination() { return {}; }
      createOscillator() {
        window.__alerts.push('beep');
        return { frequency: {}, connect: (g) => g, start() {}, stop() {} };
      }
      createGain() {
        return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (d) => d };
      }
    };
    document.hasFocus = () => false;
    return true;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_and_messages_alert_an_agent_who_looks_elsewhere() {
    if skip_browser("the console alerts test") {
        return;
    }
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser("console-alerts", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        sign_in_available(page, stack, "alex").await;
        page.record_problems().await;
        let _: bool = page.eval(RECORDERS, vec![]).await;
        // Off until the agent turns them on.
        for id in ["alert-sound", "alert-notify"] {
            let pressed: String = page
                .eval(&format!("return document.getElementById('{id}').getAttribute('aria-pressed');"), vec![])
                .await;
            assert_eq!(pressed, "false", "{id} starts off");
            page.click(&format!("#{id}")).await;
        }
        page.wait_until(
            "both toggles on",
            "return ['alert-sound', 'alert-notify'].every((id) =>
               document.getElementById(id).getAttribute('aria-pressed') === 'true');",
            vec![],
        )
        .await;
        let _: Value = page.eval("window.__alerts.length = 0; return null;", vec![]).await;

        // A visitor asks: a notification of the offer, and a beep.
        let (mut visitor, _) =
            VisitorClient::connect(stack.addr, &stack.code, &stack.host_url).await;
        visitor
            .start_chat(PreChatForm {
                display_name: NAME.into(),
                email: "vera@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: Some(FIRST.into()),
            })
            .await;
        page.wait_until(
            "the offer's notification",
            "return window.__alerts.some((a) => a.title) ? true : JSON.stringify(window.__alerts);",
            vec![],
        )
        .await;
        let alerts: Vec<Value> = page.eval("return window.__alerts;", vec![]).await;
        assert_eq!(alerts[0], Value::from("beep"), "{alerts:?}");
        assert_eq!(alerts[1]["title"], format!("New chat: {NAME}"));
        assert_eq!(alerts[1]["body"], FIRST);

        // Taken; the visitor writes again: a notification of the message.
        accept_first_offer(page).await;
        let _: Value = page.eval("window.__alerts.length = 0; return null;", vec![]).await;
        visitor.say("v-later", LATER).await;
        page.wait_until(
            "the message's notification",
            "return window.__alerts.some((a) => a.title) ? true : JSON.stringify(window.__alerts);",
            vec![],
        )
        .await;
        let alerts: Vec<Value> = page.eval("return window.__alerts;", vec![]).await;
        let n = alerts.iter().find(|a| a.get("title").is_some()).expect("a notification");
        assert_eq!(n["body"], LATER);
        assert!(alerts.contains(&Value::from("beep")));
        // Nothing the visitor wrote became markup in the console.
        let markup: usize = page
            .eval("return document.querySelectorAll('#app-view b, #app-view i, #app-view script').length;", vec![])
            .await;
        assert_eq!(markup, 0);

        // Saved replies: one goes into the composer; the composer's text is saved as one.
        let composer = format!("{SHOWN} .composer-input");
        page.click(&format!("{SHOWN} .composer-replies")).await;
        page.wait_visible("the saved replies", "#replies-dialog .reply-use").await;
        page.click("#replies-dialog .reply-use").await;
        let value: String = page
            .eval("return document.querySelector(arguments[0]).value;", vec![composer.clone().into()])
            .await;
        assert_eq!(value, "Thank you for waiting. I am looking into it now.");
        let _: Value = page
            .eval(
                "document.querySelector(arguments[0]).value = 'Your parcel <b>ships</b> today.'; return null;",
                vec![composer.clone().into()],
            )
            .await;
        page.click(&format!("{SHOWN} .composer-replies")).await;
        page.wait_visible("the saved replies", "#replies-save").await;
        page.click("#replies-save").await;
        page.wait_text("the new reply, first", "#replies-list .reply-use", "Your parcel <b>ships</b> today.")
            .await;
        page.click("#replies-close").await;
        let kept: String = page
            .eval("return JSON.parse(localStorage.getItem('interact.console.replies'))[0];", vec![])
            .await;
        assert_eq!(kept, "Your parcel <b>ships</b> today.");
        // An internal note: kept with the chat for the agents.
        page.type_into(&format!("{SHOWN} .notes-input"), "Asked twice <b>already</b>.")
            .await;
        page.click(&format!("{SHOWN} .notes-add")).await;
        page.wait_text(
            "the note",
            &format!("{SHOWN} .note-text"),
            "Asked twice <b>already</b>.",
        )
        .await;
        page.wait_text("its author", &format!("{SHOWN} .note-agent"), "alex")
            .await;
        page.screenshot("saved-replies").await;
        page.assert_no_problems("the console").await;
    })
    .await;
    stack.stop().await;
}
