//! The website widget end to end, as a visitor meets it: the real server, a host page on
//! an origin of its own with a strict Content-Security-Policy (no inline script or style,
//! no eval, no wasm compilation), headless Chromium, and a native agent on the other side.
//!
//! Screenshots go to `target/test-artifacts/widget-*.png` (launcher, form, chat, resumed,
//! refused); a failing scenario leaves `widget-failure.{png,txt}` there.

use std::time::Duration;

use fantoccini::key::Key;
use interact_e2e::agent::AgentClient;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{FRAME, LAUNCHER, end_chat, enter_widget, top};
use serde_json::json;

/// The whole scenario; normally about 10 s.
const LIMIT: Duration = Duration::from_secs(120);

const NAME: &str = "<img src=x onerror=\"document.title='pwned'\">Ann";
const FIRST: &str = "Hello <b>there</b>, I have a question.";
const AGENT_SAYS: &str = "Hi! <script>document.title='pwned'</script> How can I help? <3";
const SECOND: &str = "My kettle whistles & hums";
const AFTER_RELOAD: &str = "Still there after the reload?";
const WELCOME_BACK: &str = "Yes, I see every message once.";

/// Lists markup in the widget that could only have come from a name or message.
const MARKUP: &str =
    "return [...document.querySelectorAll('.iw img, .iw script, .iw b, [onerror]')]
    .map((n) => n.outerHTML);";

async fn assert_text_only(page: &Page, when: &str) {
    let markup: Vec<String> = page.eval(MARKUP, vec![]).await;
    assert!(
        markup.is_empty(),
        "{when}: names or messages became markup: {markup:?}"
    );
    let title: String = page.eval("return document.title;", vec![]).await;
    assert_ne!(title, "pwned", "{when}: a script from a message ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_from_a_strict_csp_page_reloads_and_sees_every_message_once() {
    if skip_browser("the widget end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;

    let (stack_ref, agent) = (&stack, &mut agent);
    with_browser("widget", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1100, 800)
            .await
            .expect("window size");

        // --- The launcher appears on the host page, which the loader leaves alone.
        page.browser.goto(&stack.host_url).await.expect("open the host page");
        page.record_problems().await;
        page.wait_visible("the launcher", LAUNCHER).await;
        page.wait_until(
            "the loader's configuration check",
            "const b = document.querySelector(arguments[0]);
             return b.dataset.state === 'ready' ? true : String(b.dataset.state);",
            vec![json!(LAUNCHER)],
        )
        .await;
        let host_before: serde_json::Value = page
            .eval(
                "return { sheets: document.styleSheets.length, bodyStyle: document.body.getAttribute('style'),
                          htmlStyle: document.documentElement.getAttribute('style') };",
                vec![],
            )
            .await;
        assert_eq!(
            host_before,
            json!({"sheets": 1, "bodyStyle": null, "htmlStyle": null}),
            "the loader adds no style sheet and no style to the page"
        );
        let stored: u32 = page
            .eval(
                "return sessionStorage.length + localStorage.length + (document.cookie ? 1 : 0);",
                vec![],
            )
            .await;
        assert_eq!(stored, 0, "nothing is stored before consent");
        page.screenshot("launcher").await;

        // --- Open the widget: the pre-chat form.
        page.click(LAUNCHER).await;
        let expanded: String = page
            .eval(
                "return document.querySelector(arguments[0]).getAttribute('aria-expanded');",
                vec![json!(LAUNCHER)],
            )
            .await;
        assert_eq!(expanded, "true");
        enter_widget(page).await;
        page.record_problems().await;
        page.wait_visible("the pre-chat form", ".iw-form").await;
        page.wait_until(
            "the start button to be enabled (an agent is available)",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        page.wait_text("the target's name", ".iw-title", "Customer Care").await;

        // Nothing filled in: errors next to the fields, nothing sent.
        page.click(".iw-start").await;
        page.wait_visible("the name error", "[id$='-name-error']").await;
        page.wait_text(
            "the consent error",
            "[id$='-consent-error']",
            "Please accept the privacy policy to start a chat.",
        )
        .await;
        top(page).await;
        page.screenshot("form").await;
        assert_eq!(stack.open_sessions().await, 0, "an invalid form starts nothing");

        enter_widget(page).await;
        let stored: u32 = page
            .eval("return sessionStorage.length + localStorage.length;", vec![])
            .await;
        assert_eq!(stored, 0, "the frame stores nothing before the form is sent");
        page.type_into("[id$='-name']", NAME).await;
        page.type_into("[id$='-email']", "ann@example.com").await;
        page.click("[id$='-consent']").await;
        page.type_into("[id$='-first']", FIRST).await;
        page.click(".iw-start").await;

        // --- The agent takes the chat; both sides talk.
        let session = agent.accept_next().await;
        page.wait_any_text("the agent joining", ".iw-event", "Alex Agent joined the chat.")
            .await;
        agent.wait_visitor_message(FIRST).await;
        agent.say(&session, AGENT_SAYS).await;
        page.wait_any_text("the agent's message", ".iw-agent .iw-text", AGENT_SAYS)
            .await;
        page.type_into("[id$='-text']", &format!("{SECOND}{}", Key::Enter)).await;
        agent.wait_visitor_message(SECOND).await;
        page.wait_until(
            "the own message to be stored by the server",
            "const m = [...document.querySelectorAll('.iw-own')].pop();
             return m && m.dataset.state !== 'pending' ? true : (m ? m.dataset.state : 'none');",
            vec![],
        )
        .await;
        assert_text_only(page, "during the chat").await;
        page.assert_no_problems("the widget frame").await;
        top(page).await;
        page.screenshot("chat").await;
        page.assert_no_problems("the host page").await;
        page.assert_no_alert().await;

        // --- Reload the host page: the widget reopens and resumes the session.
        page.browser.refresh().await.expect("reload");
        page.record_problems().await;
        enter_widget(page).await;
        page.record_problems().await;
        page.wait_any_text("the replayed agent message", ".iw-agent .iw-text", AGENT_SAYS)
            .await;
        page.type_into("[id$='-text']", &format!("{AFTER_RELOAD}{}", Key::Enter)).await;
        agent.wait_visitor_message(AFTER_RELOAD).await;
        agent.say(&session, WELCOME_BACK).await;
        page.wait_any_text("the agent's answer", ".iw-agent .iw-text", WELCOME_BACK)
            .await;
        let transcript = page.texts(".iw-msg .iw-text").await;
        assert_eq!(
            transcript,
            [
                // The demo service's workflow greets the visitor (as text, name and all),
                // before the form's first message.
                &format!("Hello {NAME}, thank you for contacting Customer Care."),
                FIRST,
                AGENT_SAYS,
                SECOND,
                AFTER_RELOAD,
                WELCOME_BACK
            ],
            "the visitor sees every message once, in order"
        );
        let joined = page.texts(".iw-event").await;
        assert_eq!(joined, ["Alex Agent joined the chat."]);
        assert_eq!(
            agent.visitor_messages,
            [FIRST, SECOND, AFTER_RELOAD],
            "the agent got every visitor message once, in order"
        );
        assert_text_only(page, "after the reload").await;
        page.assert_no_problems("the widget frame after the reload").await;
        top(page).await;
        page.screenshot("resumed").await;

        // --- The visitor ends the chat; the reopen flag goes away with the session.
        enter_widget(page).await;
        end_chat(page).await;
        page.wait_visible("the end of the chat", ".iw-ended").await;
        top(page).await;
        page.wait_until(
            "the host's reopen flag to be cleared",
            "return sessionStorage.length === 0 ? true : JSON.stringify(Object.keys(sessionStorage));",
            vec![],
        )
        .await;
        page.assert_no_problems("the host page after the reload").await;
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_outside_the_domain_template_is_refused_and_starts_nothing() {
    if skip_browser("the widget refusal test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;

    let stack_ref = &stack;
    with_browser("widget-refusal", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .goto(&stack.foreign_url)
            .await
            .expect("open the foreign page");
        page.wait_visible("the launcher", LAUNCHER).await;
        page.wait_until(
            "the loader to refuse",
            "const b = document.querySelector(arguments[0]);
             return b.dataset.state === 'refused' ? true : String(b.dataset.state);",
            vec![json!(LAUNCHER)],
        )
        .await;
        // Clearly inactive: greyed out and named so.
        let look: serde_json::Value = page
            .eval(
                "const b = document.querySelector(arguments[0]);
                 return { label: b.getAttribute('aria-label'), disabled: b.getAttribute('aria-disabled'),
                          background: getComputedStyle(b).backgroundColor, opacity: getComputedStyle(b).opacity };",
                vec![json!(LAUNCHER)],
            )
            .await;
        assert_eq!(
            look,
            json!({"label": "Chat unavailable", "disabled": "true",
                   "background": "rgb(138, 143, 152)", "opacity": "0.6"})
        );
        page.click(LAUNCHER).await;
        page.wait_text(
            "the refusal",
            "[data-interact=refusal]",
            "Chat is not available on this website.",
        )
        .await;
        let frames: u32 = page
            .eval("return document.querySelectorAll('iframe').length;", vec![])
            .await;
        assert_eq!(frames, 0, "no widget frame on a foreign page");
        page.browser
            .set_window_size(1100, 800)
            .await
            .expect("window size");
        page.screenshot("refused").await;

        // Loaded by hand, the frame refuses too, in words.
        let direct = format!(
            "{}/widget/frame?code={}&host={}",
            stack.server_url,
            stack.code.as_str(),
            stack.foreign_url.replace(':', "%3A").replace('/', "%2F")
        );
        page.browser
            .goto(&direct)
            .await
            .expect("open the frame directly");
        page.wait_until(
            "the frame's refusal",
            "return document.body.textContent.includes('is not allowed to show this chat')
               ? true : document.body.textContent;",
            vec![],
        )
        .await;
    })
    .await;
    assert_eq!(
        stack.open_sessions().await,
        0,
        "nothing reached the sessions"
    );
    assert_eq!(stack.server.state.hub.open_sessions(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_reconnects_by_itself_across_a_server_restart() {
    if skip_browser("the widget reconnect test") {
        return;
    }
    require_widget_package();
    let mut stack = Stack::start().await;
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;
    let (stack_ref, agent_ref) = (&mut stack, &mut agent);

    with_browser("widget-restart", LIMIT, |page| async move {
        let (page, stack, agent) = (&*page, stack_ref, agent_ref);
        page.browser
            .goto(&stack.host_url)
            .await
            .expect("open the host page");
        page.wait_visible("the launcher", LAUNCHER).await;
        page.click(LAUNCHER).await;
        enter_widget(page).await;
        page.record_problems().await;
        page.wait_until(
            "the start button to be enabled",
            "return !document.querySelector('.iw-start').disabled;",
            vec![],
        )
        .await;
        page.type_into("[id$='-name']", "Cy").await;
        page.type_into("[id$='-email']", "cy@example.com").await;
        page.click("[id$='-consent']").await;
        page.click(".iw-start").await;
        let session = agent.accept_next().await;
        agent.say(&session, "Before the restart").await;
        page.wait_any_text(
            "the agent's message",
            ".iw-agent .iw-text",
            "Before the restart",
        )
        .await;
        // Record every connection state the widget shows from now on.
        let _: bool = page
            .eval(
                "window.__links = [];
                 const root = document.querySelector('.iw');
                 new MutationObserver(() => window.__links.push(root.dataset.link))
                   .observe(root, { attributes: true, attributeFilter: ['data-link'] });
                 return true;",
                vec![],
            )
            .await;

        // The agent's tab goes away with the old server; it comes back below.
        agent.close().await;
        stack.restart_server().await;
        // Typed while the server is down or just back: kept and sent once.
        page.type_into(
            "[id$='-text']",
            &format!("Typed during the restart{}", Key::Enter),
        )
        .await;
        page.wait_until(
            "the widget to reconnect",
            "const l = window.__links;
             return l.includes('reconnecting') && l[l.length - 1] === 'online' ? true : l;",
            vec![],
        )
        .await;

        // The agent's console reconnects too, resuming the session from the start.
        let mut resumed = AgentClient::connect_resuming(
            stack.addr,
            &token,
            [(session.clone(), interact_sdk::ids::Seq(0))].into(),
        )
        .await;
        resumed
            .wait_visitor_message("Typed during the restart")
            .await;
        resumed.say(&session, "Welcome back").await;
        page.wait_any_text(
            "the answer after the restart",
            ".iw-agent .iw-text",
            "Welcome back",
        )
        .await;
        assert_eq!(
            page.texts(".iw-msg .iw-text").await,
            [
                // The demo service's workflow greets the visitor.
                "Hello Cy, thank you for contacting Customer Care.",
                "Before the restart",
                "Typed during the restart",
                "Welcome back"
            ],
            "every message once, in order"
        );
        assert_eq!(resumed.visitor_messages, ["Typed during the restart"]);
        page.assert_no_problems("the widget frame").await;
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_sized_screen_the_widget_fills_the_screen() {
    if skip_browser("the widget phone-size test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser("widget-phone", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        // Chromium's window includes its frame; the page's viewport is what matters.
        page.browser.set_window_size(390, 844).await.expect("window size");
        page.browser.goto(&stack.host_url).await.expect("open the host page");
        page.wait_visible("the launcher", LAUNCHER).await;
        page.click(LAUNCHER).await;
        page.wait_visible("the widget frame", FRAME).await;
        let fit: serde_json::Value = page
            .eval(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect();
                 return { left: r.left, top: r.top,
                          fullWidth: Math.abs(r.width - document.documentElement.clientWidth) < 1,
                          fullHeight: Math.abs(r.height - document.documentElement.clientHeight) < 1,
                          launcherHidden: !document.querySelector(arguments[1]).checkVisibility() };",
                vec![json!(FRAME), json!(LAUNCHER)],
            )
            .await;
        assert_eq!(
            fit,
            json!({"left": 0, "top": 0, "fullWidth": true, "fullHeight": true, "launcherHidden": true}),
            "the frame covers the small screen"
        );
        enter_widget(page).await;
        page.wait_visible("the pre-chat form", ".iw-form").await;
        let overflow: bool = page
            .eval(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
                vec![],
            )
            .await;
        assert!(!overflow, "nothing sticks out sideways");
        // Minimise: the launcher comes back.
        page.click(".iw-min").await;
        top(page).await;
        page.wait_visible("the launcher again", LAUNCHER).await;
        page.click(LAUNCHER).await;
        page.wait_visible("the widget frame", FRAME).await;
        page.screenshot("form").await;
    })
    .await;
    stack.stop().await;
}
