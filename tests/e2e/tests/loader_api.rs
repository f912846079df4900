//! The loader's JavaScript API on the host page (`window.Interact`, `www/widget/loader.d.ts`)
//! and what the launcher does around a chat, on the demo host page with its strict
//! Content-Security-Policy: open/close/toggle, events in order with their payloads,
//! attributes and the page's address for the agent (oversize ones refused), the unread
//! badge, the blinking title, the opt-in sound and the launcher's close state.
//!
//! The demo page's own script (`/site.js`) queues calls before the loader has run (the
//! stub of README.md): it sets two attributes and lists every event in the page's
//! "Chat activity" list, which the tests read.

use std::time::Duration;

use interact_e2e::agent::AgentClient;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{FRAME, LAUNCHER, end_chat, enter_widget, fill_and_start, top};
use interact_sdk::protocol::SessionEvent;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(150);
/// The loader's close icon (an X).
const CLOSE_ICON: &str =
    "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z";

/// The events the demo page's script heard, as its list shows them.
async fn events(page: &Page) -> Vec<String> {
    page.texts("[data-demo=activity] li").await
}

/// The launcher as a person (and a screen reader) meets it.
async fn launcher(page: &Page) -> Value {
    page.eval(
        "const b = document.querySelector(arguments[0]);
         const badge = b.querySelector('[data-interact=badge]');
         return { label: b.getAttribute('aria-label'), expanded: b.getAttribute('aria-expanded'),
                  icon: b.querySelector('svg').dataset.icon, path: b.querySelector('path').getAttribute('d'),
                  badge: badge.checkVisibility() ? badge.textContent : null };",
        vec![json!(LAUNCHER)],
    )
    .await
}

async fn frame_shown(page: &Page) -> bool {
    page.eval(
        "const f = document.querySelector(arguments[0]);
         return !!f && f.checkVisibility();",
        vec![json!(FRAME)],
    )
    .await
}

/// The warnings the page logged since the last call.
async fn take_warnings(page: &Page) -> Vec<String> {
    page.eval("return window.__e2e.warnings.splice(0);", vec![])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_page_drives_the_widget_and_hears_its_events() {
    if skip_browser("the loader API test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;

    let (stack_ref, agent) = (&stack, &mut agent);
    with_browser("loader-api", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser.set_window_size(1100, 800).await.expect("window size");
        // A fragment, which the agent must not see, and a query, which they must.
        let url = format!("{}/?ref=newsletter#reviews", stack.host_url);
        page.browser.goto(&url).await.expect("open the host page");
        page.record_problems().await;
        page.wait_until(
            "the loader's configuration check",
            "const b = document.querySelector(arguments[0]);
             return b && b.dataset.state === 'ready' ? true : String(b && b.dataset.state);",
            vec![json!(LAUNCHER)],
        )
        .await;
        // Count the audio the loader makes from now on (it looks `AudioContext` up when
        // it plays, so wrapping it here sees every use).
        let _: bool = page
            .eval(
                "window.__audio = { made: 0, tones: 0 };
                 const Real = window.AudioContext;
                 window.AudioContext = class extends Real {
                   constructor(...a) { super(...a); window.__audio.made++; }
                   createOscillator() { window.__audio.tones++; return super.createOscillator(); }
                 };
                 return true;",
                vec![],
            )
            .await;
        let api: Value = page
            .eval(
                "return ['open', 'close', 'toggle', 'on', 'off', 'setAttributes', 'setSound']
                   .map((m) => typeof Interact[m]).concat([typeof Interact.q]);",
                vec![],
            )
            .await;
        assert_eq!(
            api,
            json!(["function", "function", "function", "function", "function", "function", "function", "undefined"]),
            "the stub's queue was carried out and the methods are the loader's"
        );
        assert_eq!(events(page).await, Vec::<String>::new(), "nothing happened yet");
        let closed = launcher(page).await;
        assert_eq!(
            closed,
            json!({"label": "Open chat", "expanded": "false", "icon": "chat",
                   "path": closed["path"], "badge": null})
        );
        assert_ne!(closed["path"], json!(CLOSE_ICON));

        // --- open, close, toggle; the launcher becomes a close button while open.
        let _: Value = page.eval("Interact.open(); Interact.open(); return null;", vec![]).await;
        page.wait_visible("the widget frame", FRAME).await;
        assert_eq!(
            launcher(page).await,
            json!({"label": "Close chat", "expanded": "true", "icon": "close", "path": CLOSE_ICON,
                   "badge": null}),
            "the open widget's launcher closes it"
        );
        let _: Value = page.eval("Interact.close(); return null;", vec![]).await;
        assert!(!frame_shown(page).await, "close() hides the frame");
        assert_eq!(launcher(page).await["label"], "Open chat");
        let _: Value = page.eval("Interact.toggle(); return null;", vec![]).await;
        assert!(frame_shown(page).await, "toggle() opens it again");
        page.wait_until(
            "three events",
            "return document.querySelectorAll('[data-demo=activity] li').length >= 3 || 'not yet';",
            vec![],
        )
        .await;
        assert_eq!(
            events(page).await,
            ["opened", "closed", "opened"],
            "one event per change, none for an open() of an open widget"
        );

        // --- Attributes: within the bounds they are kept, the rest refused with a warning.
        let _: Value = page
            .eval(
                "Interact.setAttributes({ ['k'.repeat(41)]: 'long key', plan: 'x'.repeat(201),
                                          seats: 5, ' ': 'blank key', tier: 'gold <b>&</b>' });
                 for (let i = 1; i <= 18; i++) Interact.setAttributes({ ['a' + i]: 'v' + i });
                 Interact.on('nonsense', () => {});
                 return null;",
                vec![],
            )
            .await;
        let warnings = take_warnings(page).await;
        assert_eq!(warnings.len(), 6, "{warnings:#?}");
        for (warning, key) in warnings.iter().zip([&"k".repeat(41), "plan", "seats", " ", "a18"]) {
            assert!(
                warning.starts_with(&format!("Interact: attribute {key:?} refused: at most 20, keys of 1 to 40 characters")),
                "{warning}"
            );
        }
        assert!(warnings[5].contains("the events are"), "{}", warnings[5]);

        // --- A chat: the agent gets the page and the attributes with it.
        enter_widget(page).await;
        page.wait_visible("the pre-chat form", ".iw-form").await;
        page.wait_until(
            "the start button to be enabled",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        fill_and_start(page, "Ann", "Which kettle is quietest?").await;
        let session = agent.accept_next().await;
        page.wait_any_text("the agent joining", ".iw-event", "Alex Agent joined the chat.")
            .await;
        let stored = stack.server.state.store.events(&session).await.expect("events");
        let SessionEvent::Started { context, .. } = &stored[0].event else {
            panic!("started first: {:?}", stored[0]);
        };
        let context = *context.clone().expect("a context");
        assert_eq!(
            context.page_url.as_deref(),
            Some(format!("{}/?ref=newsletter", stack.host_url).as_str()),
            "the page's address without its fragment"
        );
        let mut expected: Vec<(String, String)> = (1..=17).map(|i| (format!("a{i}"), format!("v{i}"))).collect();
        expected.extend([
            ("basket".into(), "2 items".into()),
            ("shop".into(), "Example Shop".into()),
            ("tier".into(), "gold <b>&</b>".into()),
        ]);
        expected.sort();
        assert_eq!(context.attributes.into_iter().collect::<Vec<_>>(), expected);

        // --- Closed while the agent writes: badge, blinking title, no sound (off).
        top(page).await;
        page.wait_until(
            "session-started",
            "const l = [...document.querySelectorAll('[data-demo=activity] li')].map((li) => li.textContent);
             return l.includes('session-started {\"resumed\":false}') || l;",
            vec![],
        )
        .await;
        let _: Value = page.eval("Interact.close(); return null;", vec![]).await;
        let unread: u32 = page.eval("return Interact.unread();", vec![]).await;
        assert_eq!(unread, 0, "the visitor saw everything while it was open");
        let before = events(page).await.len();
        agent.say(&session, "We have three quiet ones.").await;
        page.wait_until(
            "the badge",
            "const b = document.querySelector('[data-interact=badge]');
             return b.checkVisibility() && b.textContent === '1' ? true : b.textContent;",
            vec![],
        )
        .await;
        assert_eq!(
            launcher(page).await,
            json!({"label": "Open chat, 1 unread", "expanded": "false", "icon": "chat",
                   "path": closed["path"], "badge": "1"})
        );
        page.wait_until(
            "the title to blink",
            "return document.title === '(1) New message' || document.title;",
            vec![],
        )
        .await;
        page.wait_until(
            "the title to blink back",
            "return document.title === 'Example Shop' || document.title;",
            vec![],
        )
        .await;
        let audio: Value = page.eval("return window.__audio;", vec![]).await;
        assert_eq!(audio, json!({"made": 0, "tones": 0}), "no sound unless switched on");

        // --- Sound on: the next message plays a tone.
        let _: Value = page.eval("Interact.setSound(true); return null;", vec![]).await;
        agent.say(&session, "Shall I send you a link?").await;
        page.wait_until(
            "the badge to count 2",
            "return document.querySelector('[data-interact=badge]').textContent === '2' || 'not yet';",
            vec![],
        )
        .await;
        page.wait_until(
            "a tone",
            "return window.__audio.tones === 1 || JSON.stringify(window.__audio);",
            vec![],
        )
        .await;
        let audio: Value = page.eval("return window.__audio;", vec![]).await;
        assert_eq!(audio, json!({"made": 1, "tones": 1}));
        page.wait_until(
            "the title to show two",
            "return document.title === '(2) New message' || document.title;",
            vec![],
        )
        .await;
        page.screenshot("unread").await;
        // The page getting the focus stops the blinking (the badge stays).
        let _: Value = page
            .eval("window.dispatchEvent(new Event('focus')); return null;", vec![])
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let title: String = page.eval("return document.title;", vec![]).await;
        assert_eq!(title, "Example Shop", "no blinking once the page has the focus");
        assert_eq!(launcher(page).await["badge"], "2");

        // --- Opened: badge and blinking stop, the title is the page's again.
        page.click(LAUNCHER).await;
        page.wait_visible("the widget frame", FRAME).await;
        page.wait_until(
            "the unread count to clear",
            "return document.querySelectorAll('[data-demo=activity] li').length >= arguments[0] + 4 || 'not yet';",
            vec![json!(before)],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let title: String = page.eval("return document.title;", vec![]).await;
        assert_eq!(title, "Example Shop", "no blinking once open");
        let shown = launcher(page).await;
        assert_eq!(shown["badge"], Value::Null);
        assert_eq!(shown["label"], "Close chat");
        let after = events(page).await[before..].to_vec();
        assert_eq!(after, ["unread 1", "unread 2", "opened", "unread 0"]);

        let heard = events(page).await;

        // --- A reload: the widget reopens and the page hears of the resumed session.
        page.browser.refresh().await.expect("reload");
        page.record_problems().await;
        page.wait_until(
            "the resumed session",
            "const l = [...document.querySelectorAll('[data-demo=activity] li')].map((li) => li.textContent);
             return l.length >= 2 || l;",
            vec![],
        )
        .await;
        assert_eq!(
            events(page).await,
            ["opened", "session-started {\"resumed\":true}"],
            "the reopened widget, then the session it resumed"
        );

        // --- The visitor ends the chat.
        enter_widget(page).await;
        end_chat(page).await;
        page.wait_visible("the end of the chat", ".iw-ended").await;
        top(page).await;
        page.wait_until(
            "session-ended",
            "const l = [...document.querySelectorAll('[data-demo=activity] li')].map((li) => li.textContent);
             return l.includes('session-ended') || l;",
            vec![],
        )
        .await;
        assert_eq!(
            heard,
            [
                "opened",
                "closed",
                "opened",
                "session-started {\"resumed\":false}",
                "closed",
                "unread 1",
                "unread 2",
                "opened",
                "unread 0",
            ],
            "every event once, in order, with its payload"
        );
        assert_eq!(
            events(page).await,
            ["opened", "session-started {\"resumed\":true}", "session-ended"]
        );
        assert_eq!(take_warnings(page).await, Vec::<String>::new());
        page.assert_no_problems("the host page").await;
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_console_shows_the_page_and_the_attributes_as_text() {
    if skip_browser("the console context test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser("loader-context", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser.set_window_size(1280, 900).await.expect("window size");
        sign_in_available(page, stack, "alex").await;
        let console = page.browser.window().await.expect("the console's window");

        // --- A visitor on a product page, with hostile markup in an attribute.
        let visitor = page.browser.new_window(true).await.expect("a second tab");
        page.browser
            .switch_to_window(visitor.handle)
            .await
            .expect("to the visitor's tab");
        let url = format!("{}/?product=kettle#top", stack.host_url);
        page.browser.goto(&url).await.expect("open the host page");
        page.wait_visible("the launcher", LAUNCHER).await;
        let _: Value = page
            .eval(
                "Interact.setAttributes({ '<b>plan</b>': '<img src=x onerror=\"document.title=1\">gold',
                                          basket: null });
                 return null;",
                vec![],
            )
            .await;
        page.click("[data-product=Kettle]").await;
        enter_widget(page).await;
        page.wait_visible("the pre-chat form", ".iw-form").await;
        page.wait_until(
            "the start button to be enabled",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        fill_and_start(page, "Ben", "Is the kettle loud?").await;
        page.wait_visible("the chat", ".iw-text").await;

        // --- The agent accepts: "Page" and the attributes beside the chat, as text.
        page.browser
            .switch_to_window(console)
            .await
            .expect("back to the console");
        accept_first_offer(page).await;
        page.wait_text(
            "the page",
            &format!("{SHOWN} .d-page"),
            &format!("{}/?product=kettle", stack.host_url),
        )
        .await;
        let attributes: Value = page
            .eval(
                "const list = document.querySelector(arguments[0] + ' .d-attributes');
                 return { rows: [...list.querySelectorAll('.details-attribute')]
                            .map((r) => [r.querySelector('dt').textContent, r.querySelector('dd').textContent]),
                          markup: list.querySelectorAll('img, b').length, hidden: list.hidden };",
                vec![json!(SHOWN)],
            )
            .await;
        assert_eq!(
            attributes,
            json!({
                "rows": [
                    ["<b>plan</b>", "<img src=x onerror=\"document.title=1\">gold"],
                    ["product", "Kettle"],
                    ["shop", "Example Shop"],
                ],
                "markup": 0,
                "hidden": false,
            }),
            "the website's attributes, sorted, as text; `null` removed one"
        );
        let title: String = page.eval("return document.title;", vec![]).await;
        assert_ne!(title, "1", "no script from an attribute ran");
        page.screenshot("console").await;
    })
    .await;
    stack.stop().await;
}
