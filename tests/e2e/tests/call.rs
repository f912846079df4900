//! Audio/video calls end to end: the widget on an allowed host page and the agent
//! console, each in a headless Chromium of its own with fake camera, microphone and
//! screen, connect a real WebRTC call over loopback through the server.
//!
//! Media is checked where it arrives: each side's remote `<video>` must carry a live
//! audio and video track whose decoded frame count keeps growing. Screenshots go to
//! `target/test-artifacts/call-*.png`.

use std::sync::Arc;
use std::time::Duration;

use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{enter_widget, start_chat, top};
use interact_model::TargetRef;
use serde_json::{Value, json};

/// The call module's files this page fetched so far (the chat path has none of them).
const CALL_MODULE_FETCHED: &str = "return performance.getEntriesByType('resource')
       .map((e) => new URL(e.name).pathname)
       .filter((p) => p.includes('interact_widget_call'));";

/// Asserts that the frame fetched the call module's script and wasm (`true`), or
/// neither (`false`).
async fn call_module_loaded(page: &Page, loaded: bool, when: &str) {
    let fetched: Vec<String> = page.eval(CALL_MODULE_FETCHED, vec![]).await;
    let expected: Vec<String> = if loaded {
        vec![
            "/widget/pkg/interact_widget_call.js".into(),
            "/widget/pkg/interact_widget_call_bg.wasm".into(),
        ]
    } else {
        Vec::new()
    };
    assert_eq!(fetched, expected, "the call module's files {when}");
}

/// The whole scenario; normally about 30 s.
const LIMIT: Duration = Duration::from_secs(180);

/// Frames decoded by the first `<video>` matching `arguments[0]` that has a live audio (if
/// `arguments[1]`) and video track; a negative number says what is missing.
const FRAMES: &str = "const v = document.querySelector(arguments[0]);
     if (!v || !v.srcObject) return -1;
     const live = (ts) => ts.some((t) => t.readyState === 'live');
     if (!live(v.srcObject.getVideoTracks())) return -2;
     if (arguments[1] && !live(v.srcObject.getAudioTracks())) return -3;
     if (v.hidden) return -4;
     return v.getVideoPlaybackQuality().totalVideoFrames;";

/// Waits until the video `css` shows frames, then until it has shown more: media flows.
async fn media_flows(page: &Page, what: &str, css: &str, audio: bool) {
    let mut first: i64 = -1;
    for _ in 0..300 {
        first = page.eval(FRAMES, vec![json!(css), json!(audio)]).await;
        if first > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(first > 0, "{what}: no frames ({first})");
    for _ in 0..100 {
        let now: i64 = page.eval(FRAMES, vec![json!(css), json!(audio)]).await;
        if now > first + 5 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: frames stopped at {first}");
}

/// The two tests each run two browsers; one pair at a time on a small machine.
static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The visitor places an audio call (device step, Start call); the console accepts it once
/// it rings; returns when the console says it is connected.
async fn audio_call(visitor: &Page, console: &Page) {
    visitor.click(".iw-call-audio").await;
    visitor.wait_visible("the device step", ".iw-devices").await;
    start_from_the_step(visitor).await;
    accept_ringing(console).await;
    console
        .wait_text(
            "the audio call connected",
            &format!("{SHOWN} .call-status"),
            "Connected",
        )
        .await;
}

/// Clicks "Start call" in the device step once it can be clicked: the devices are open
/// (the button is disabled while the browser is asked for them).
async fn start_from_the_step(visitor: &Page) {
    interact_e2e::widget::wait_device_step_ready(visitor).await;
    visitor.click(".iw-call-go").await;
}

/// Waits for the call to ring in the console, and accepts it.
async fn accept_ringing(console: &Page) {
    console
        .wait_visible("the ringing call", &format!("{SHOWN} .call-banner"))
        .await;
    console.click(&format!("{SHOWN} .call-accept")).await;
}

/// Waits until the console's call panel is closed (the call is over there).
async fn panel_closed(console: &Page, what: &str) {
    console
        .wait_until(
            what,
            "return document.querySelector(arguments[0]).hidden ? true : 'still open';",
            vec![json!(format!("{SHOWN} .call-panel"))],
        )
        .await;
}

/// Waits until the agent can take a task again (their call ended), as the router sees it.
async fn agent_free(stack: &Stack, when: &str) {
    for _ in 0..50 {
        if stack.server.state.hub.agent_counts(&support()) == (1, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{when}: the agent is not free: {:?} (available, busy)",
        stack.server.state.hub.agent_counts(&support())
    );
}

fn support() -> TargetRef {
    TargetRef::Service("support".into())
}

/// Runs `scenario` with a server, the agent console signed in as alex (available) and a
/// second Chromium for the visitor's page: `(console, visitor, server)`. One pair of
/// browsers at a time; screenshots as `<name>-console-*` and `<name>-visitor-*`.
async fn console_and_visitor<F, Fut>(name: &str, scenario: F)
where
    F: FnOnce(Arc<Page>, Arc<Page>, Arc<Stack>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if skip_browser("the call end-to-end tests") {
        return;
    }
    require_widget_package();
    let _one_at_a_time = BROWSERS.lock().await;
    let stack = Arc::new(Stack::start().await);
    let visitor_name = format!("{name}-visitor");
    with_browser(&format!("{name}-console"), LIMIT, |console| async move {
        sign_in_available(&console, &stack, "alex").await;
        with_browser(&visitor_name, LIMIT, |visitor| {
            scenario(console, visitor, stack)
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_call_with_screen_sharing_between_the_widget_and_the_console() {
    console_and_visitor("call", |console, visitor, stack| async move {
        scenario(&console, &visitor, &stack).await;
    })
    .await;
}

async fn scenario(console: &Page, visitor: &Page, stack: &Stack) {
    start_chat(visitor, &stack.host_url, "Vic Video", "Can we talk?").await;
    accept_first_offer(console).await;
    visitor
        .wait_visible("the video call button", ".iw-call-video")
        .await;

    // --- The call code is a module of its own, loaded on the first call click.
    call_module_loaded(visitor, false, "before the first call click").await;

    // --- The device step: devices by name, a live preview, then the call.
    visitor.click(".iw-call-video").await;
    visitor.wait_visible("the device step", ".iw-devices").await;
    call_module_loaded(visitor, true, "after the first call click").await;
    visitor
        .wait_until(
            "microphones listed by name",
            "const o = [...document.querySelectorAll('.iw-mic option')].map((o) => o.textContent);
             return o.length > 1 && o.every((t) => t.length > 0) ? true : o;",
            vec![],
        )
        .await;
    media_flows(visitor, "the camera preview", ".iw-preview", false).await;
    top(visitor).await;
    visitor.screenshot("devices").await;
    enter_widget(visitor).await;
    start_from_the_step(visitor).await;

    // --- The console rings; the agent accepts; media flows both ways.
    accept_ringing(console).await;
    media_flows(
        console,
        "the visitor's camera at the agent",
        &format!("{SHOWN} .call-remote"),
        true,
    )
    .await;
    media_flows(
        visitor,
        "the agent's camera at the visitor",
        ".iw-remote",
        true,
    )
    .await;
    console
        .wait_text(
            "the call connected",
            &format!("{SHOWN} .call-status"),
            "Connected",
        )
        .await;
    let (available, busy) = stack.server.state.hub.agent_counts(&support());
    assert_eq!(
        (available, busy),
        (0, 1),
        "an agent in a call takes no other task"
    );

    // --- The agent plugs in a microphone mid-call: the console's list shows it.
    let _: Value = console
        .eval(
            "const md = navigator.mediaDevices;
             const real = md.enumerateDevices.bind(md);
             md.enumerateDevices = async () => [...await real(),
               { kind: 'audioinput', deviceId: 'usb-mic', label: 'USB microphone', groupId: '' }];
             md.dispatchEvent(new Event('devicechange'));
             return null;",
            vec![],
        )
        .await;
    console
        .wait_until(
            "the plugged-in microphone listed",
            "return [...document.querySelectorAll(arguments[0] + ' option')]
               .some((o) => o.value === 'usb-mic') ? true : 'not listed';",
            vec![json!(format!("{SHOWN} .call-mic"))],
        )
        .await;
    top(visitor).await;
    visitor.screenshot("video").await;
    enter_widget(visitor).await;
    console.screenshot("video").await;

    // --- Screen sharing on: a second video arrives at the agent; off: it goes.
    visitor.click(".iw-screen").await;
    media_flows(
        console,
        "the visitor's screen at the agent",
        &format!("{SHOWN} .call-screen"),
        false,
    )
    .await;
    console.screenshot("screen").await;
    visitor.click(".iw-screen").await;
    console
        .wait_until(
            "the screen share to stop",
            "return document.querySelector(arguments[0]).hidden ? true : 'still shown';",
            vec![json!(format!("{SHOWN} .call-screen"))],
        )
        .await;

    // --- The visitor switches microphone during the call: the call goes on.
    visitor.click(".iw-devices-btn").await;
    visitor
        .wait_visible("the device choices in the call", ".iw-mic")
        .await;
    let switched: String = visitor
        .eval(
            "const s = document.querySelector('.iw-mic');
             const next = [...s.options].find((o) => o.value !== s.value);
             s.value = next.value;
             s.dispatchEvent(new Event('change', { bubbles: true }));
             return next.textContent;",
            vec![],
        )
        .await;
    assert!(!switched.is_empty());
    media_flows(
        console,
        "the visitor's camera after the switch",
        &format!("{SHOWN} .call-remote"),
        true,
    )
    .await;
    console
        .wait_text(
            "the call still connected",
            &format!("{SHOWN} .call-status"),
            "Connected",
        )
        .await;

    // --- The agent hangs up: both sides end, the agent is free, the chat goes on.
    console.click(&format!("{SHOWN} .call-hangup")).await;
    visitor
        .wait_until(
            "the call to end at the visitor",
            "const c = document.querySelector('.iw-call');
             return !c || c.hidden || getComputedStyle(c).display === 'none' ? true : 'still in the call';",
            vec![],
        )
        .await;
    panel_closed(console, "the call panel to close").await;
    agent_free(stack, "after the agent hung up").await;

    // --- An audio call, hung up by the visitor this time.
    audio_call(visitor, console).await;
    assert_eq!(
        stack.server.state.hub.agent_counts(&support()),
        (0, 1),
        "in the audio call"
    );
    visitor.click(".iw-hangup").await;
    panel_closed(console, "the call panel to close").await;
    agent_free(stack, "after the visitor hung up").await;
    visitor.assert_no_problems("the widget").await;

    // --- A reload in the middle of a call: the new page has no media for it, so it ends
    // the call (the console's panel closes) and can place a new one.
    audio_call(visitor, console).await;
    top(visitor).await;
    visitor
        .browser
        .refresh()
        .await
        .expect("reload the host page");
    panel_closed(console, "the call to end after the visitor's reload").await;
    visitor
        .wait_visible("the launcher", interact_e2e::widget::LAUNCHER)
        .await;
    // The widget comes back open if it was open (decided as the launcher is drawn);
    // otherwise it is one click away.
    let open: Option<String> = visitor
        .eval(
            "return document.querySelector(arguments[0]).getAttribute('aria-expanded');",
            vec![json!(interact_e2e::widget::LAUNCHER)],
        )
        .await;
    if open.as_deref() != Some("true") {
        visitor.click(interact_e2e::widget::LAUNCHER).await;
    }
    enter_widget(visitor).await;
    visitor
        .wait_visible("a new call can be placed", ".iw-call-audio")
        .await;
}

/// A network change mid-call (protocol §10.2): the visitor's signalling WebSocket drops
/// and its ICE restarts (the widget's test hook, an `interact-test` event: `dropLink`
/// closes the socket as a network loss does, `restartIce` takes the path a failed
/// connection takes). The restart offer waits for the link, goes out once it is back, the console
/// answers it (new ICE credentials: its count of restarts grows), both sides say
/// "Reconnecting the call…" then connected again, and frames flow again both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_call_recovers_after_a_network_change() {
    console_and_visitor("call-ice", |console, visitor, stack| async move {
        let (console, visitor, stack) = (&*console, &*visitor, &*stack);
        start_chat(
            visitor,
            &stack.host_url,
            "Nia Network",
            "Calling from a train",
        )
        .await;
        accept_first_offer(console).await;
        visitor
            .wait_visible("the video call button", ".iw-call-video")
            .await;
        visitor.click(".iw-call-video").await;
        visitor.wait_visible("the device step", ".iw-devices").await;
        start_from_the_step(visitor).await;
        accept_ringing(console).await;
        let remote = format!("{SHOWN} .call-remote");
        media_flows(console, "the visitor's camera at the agent", &remote, true).await;
        media_flows(
            visitor,
            "the agent's camera at the visitor",
            ".iw-remote",
            true,
        )
        .await;
        console
            .wait_text(
                "the call connected",
                &format!("{SHOWN} .call-status"),
                "Connected",
            )
            .await;
        let restarts = "return document.querySelector(arguments[0]).dataset.iceRestarts ?? '0';";
        let panel = format!("{SHOWN} .call-panel");
        let before: String = console.eval(restarts, vec![json!(panel)]).await;
        assert_eq!(before, "0", "no ICE restart before the network change");

        // --- The network changes: the signalling link drops and ICE restarts.
        let acted: Vec<bool> = visitor
            .eval(
                "const act = (what) => {
                   window.__interactTestResult = null;
                   window.dispatchEvent(new CustomEvent('interact-test', { detail: what }));
                   return window.__interactTestResult;
                 };
                 return [act('dropLink'), act('restartIce')];",
                vec![],
            )
            .await;
        assert_eq!(acted, [true, true], "a link to drop and a call to restart");
        visitor
            .wait_until(
                "the widget to restart the call's ICE",
                "const c = document.querySelector('.iw-call');
                 return c.dataset.iceRestarts === '1' ? true : (c.dataset.iceRestarts ?? 'none');",
                vec![],
            )
            .await;
        // The restart offer went out after the link came back, and the console answered
        // it: the offer's ICE ufrag differs from the one before.
        console
            .wait_until(
                "the console to answer an ICE restart",
                "const n = document.querySelector(arguments[0]).dataset.iceRestarts;
                 return n === '1' ? true : n;",
                vec![json!(panel)],
            )
            .await;
        visitor
            .wait_until(
                "the widget connected again",
                "const s = document.querySelector('.iw-call-status').textContent;
                 return s.startsWith('In call') ? true : s;",
                vec![],
            )
            .await;
        console
            .wait_text(
                "the call connected again",
                &format!("{SHOWN} .call-status"),
                "Connected",
            )
            .await;

        // --- Frames flow again, both ways, counted from now on.
        media_flows(
            console,
            "the visitor's camera after the restart",
            &remote,
            true,
        )
        .await;
        media_flows(
            visitor,
            "the agent's camera after the restart",
            ".iw-remote",
            true,
        )
        .await;
        let after: i64 = console.eval(FRAMES, vec![json!(remote), json!(true)]).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let later: i64 = console.eval(FRAMES, vec![json!(remote), json!(true)]).await;
        assert!(
            later > after,
            "frames keep coming after the restart ({after} -> {later})"
        );
        console.screenshot("restarted").await;
        assert_eq!(
            stack.server.state.hub.agent_counts(&support()),
            (0, 1),
            "the call goes on"
        );

        // --- It ends normally.
        visitor.click(".iw-hangup").await;
        panel_closed(console, "the call panel to close").await;
        agent_free(stack, "after the restarted call").await;
        visitor.assert_no_problems("the widget").await;
    })
    .await;
}

/// A service that enables audio but not video offers only an audio call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_video_never_offers_it() {
    if skip_browser("the call end-to-end test") {
        return;
    }
    require_widget_package();
    let _one_at_a_time = BROWSERS.lock().await;
    let stack = Stack::start_with(|c| {
        for s in &mut c.services {
            if s.id == "support" {
                s.modalities.retain(|m| {
                    !matches!(
                        m,
                        interact_sdk::modality::Modality::Video
                            | interact_sdk::modality::Modality::ScreenShare
                    )
                });
            }
        }
    })
    .await;
    let stack = &stack;
    with_browser("call-audio-only", LIMIT, |console| async move {
        sign_in_available(&console, stack, "alex").await;
        with_browser("call-audio-only-visitor", LIMIT, |visitor| async move {
            start_chat(&visitor, &stack.host_url, "Ada Audio", "Hello").await;
            accept_first_offer(&console).await;
            visitor
                .wait_visible("the audio call button", ".iw-call-audio")
                .await;
            let video: bool = visitor
                .eval(
                    "const b = document.querySelector('.iw-call-video');
                     return !!b && !b.hidden && getComputedStyle(b).display !== 'none';",
                    vec![],
                )
                .await;
            assert!(!video, "no video call where the service has no video");
        })
        .await;
    })
    .await;
}

/// The custom-UI example (`examples/custom-ui`) calls through the JavaScript SDK's call API
/// (`startCall`, the `call`/`local_stream`/`remote_stream` events, `setMuted`, `hangup`),
/// without the widget's UI: the agent takes it in the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_ui_on_the_javascript_sdk_places_a_video_call() {
    console_and_visitor("call-custom", |console, page, stack| async move {
        let (console, page, stack) = (&*console, &*page, &*stack);
        page.browser
            .goto(&stack.custom_ui_url())
            .await
            .expect("open the example");
        page.record_problems().await;
        page.wait_visible("the example's form", "#start").await;
        page.type_into("#name", "Cy Custom").await;
        page.type_into("#email", "cy@example.com").await;
        page.click("#consent").await;
        page.click("#start button").await;
        accept_first_offer(console).await;

        // No call before an agent is there; then both kinds the service enables.
        page.wait_visible("the call buttons", "#video-call").await;
        page.click("#video-call").await;
        page.wait_text("calling", "#call-status", "Calling Alex Agent…")
            .await;
        accept_ringing(console).await;
        media_flows(
            console,
            "the custom UI's camera at the agent",
            &format!("{SHOWN} .call-remote"),
            true,
        )
        .await;
        media_flows(page, "the agent's camera in the custom UI", "#remote", true).await;
        media_flows(page, "the visitor's own camera", "#self", false).await;
        page.wait_text("connected", "#call-status", "In a call with Alex Agent.")
            .await;
        assert_eq!(stack.server.state.hub.agent_counts(&support()), (0, 1));
        page.screenshot("video").await;

        // Mute goes through the SDK: the agent's console says so.
        page.click("#mute").await;
        page.wait_text("muted", "#mute", "Unmute").await;
        console
            .wait_until(
                "the console to show the visitor muted",
                "return document.querySelector(arguments[0]).textContent
                       .includes('the visitor is muted') ? true : 'not shown';",
                vec![json!(format!("{SHOWN} .call-status"))],
            )
            .await;

        // The visitor hangs up: the console's call ends, the agent is free, the chat
        // goes on.
        page.click("#hangup").await;
        panel_closed(console, "the console's call to end").await;
        agent_free(stack, "after the custom UI hung up").await;
        page.wait_until(
            "the call panel to close",
            "return document.getElementById('call').hidden ? true : 'still open';",
            vec![],
        )
        .await;
        page.wait_visible("a new call can be placed", "#audio-call")
            .await;
        page.assert_no_problems("the custom-UI page").await;
    })
    .await;
}

/// Sets the console's presence and waits until the server confirms it.
async fn set_presence(console: &Page, presence: &str) {
    console
        .element("#presence-select")
        .await
        .select_by_value(presence)
        .await
        .expect("choose a presence");
    console
        .wait_until(
            "the presence confirmed by the server",
            "const p = document.querySelector('.presence');
             return p.dataset.presence === arguments[0] && !p.classList.contains('is-pending')
               ? true : p.dataset.presence + ' ' + p.className;",
            vec![json!(presence)],
        )
        .await;
}

/// The session report of the one session so far.
async fn only_report(stack: &Stack) -> interact_report::SessionReport {
    let filter = interact_report::ReportFilter::from_pairs([]).expect("a filter");
    let mut reports = interact_store::session_reports(&*stack.server.state.store, &filter)
        .await
        .expect("the report");
    assert_eq!(reports.len(), 1, "{reports:?}");
    reports.remove(0)
}

/// Call-first (issue 15): the visitor starts with a video call from the form, without
/// chatting; it waits in the queue with its position (the agent is away), rings at the
/// console once the agent is available, is answered by accepting the offer, and media
/// flows both ways; the visitor shares the screen; the chat works beside the call; the
/// visitor's hang-up frees the agent and the session goes on as a chat. The report shows
/// a video session with ring and talk time and who hung up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_starts_with_a_video_call_that_queues_and_rings() {
    console_and_visitor("call-first", |console, visitor, stack| async move {
        call_first(&console, &visitor, &stack).await;
    })
    .await;
}

async fn call_first(console: &Page, visitor: &Page, stack: &Stack) {
    interact_e2e::widget::open_form(visitor, &stack.host_url).await;
    visitor
        .wait_visible("the call-first buttons", ".iw-first-video")
        .await;
    // The agent steps away: the call will wait in the queue.
    set_presence(console, "away").await;

    // A call-first start checks the form first, as Start does.
    visitor.click(".iw-first-video").await;
    visitor
        .wait_visible("the name's error", "[id$='-name-error']")
        .await;
    assert!(
        !visitor.is_visible(".iw-devices").await,
        "no device step yet"
    );
    call_module_loaded(visitor, false, "while the form is refused").await;
    visitor.type_into("[id$='-name']", "Cora Caller").await;
    visitor
        .type_into("[id$='-email']", "cora@example.com")
        .await;
    visitor.click("[id$='-consent']").await;
    visitor.click(".iw-first-video").await;
    visitor.wait_visible("the device step", ".iw-devices").await;
    call_module_loaded(visitor, true, "after the call-first click").await;
    media_flows(visitor, "the camera preview", ".iw-preview", false).await;
    start_from_the_step(visitor).await;

    // Waiting in the queue, with its position; nothing was written.
    visitor
        .wait_text(
            "the queue position",
            ".iw-queue",
            "You are next in the queue.",
        )
        .await;
    visitor
        .wait_text(
            "the call waiting for an agent",
            ".iw-call-status",
            "Waiting for an agent to answer\u{2026}",
        )
        .await;
    top(visitor).await;
    visitor.screenshot("queued").await;
    enter_widget(visitor).await;
    assert!(
        visitor.texts(".iw-log .iw-own").await.is_empty(),
        "no chat message from the visitor"
    );

    // The agent comes back: the offer rings as a video call; accepting answers it.
    set_presence(console, "available").await;
    console
        .wait_text(
            "the ringing offer",
            "#offers .offer-call .offer-ring",
            "Incoming video call",
        )
        .await;
    console.screenshot("ringing").await;
    accept_first_offer(console).await;
    media_flows(
        console,
        "the visitor's camera at the agent",
        &format!("{SHOWN} .call-remote"),
        true,
    )
    .await;
    media_flows(
        visitor,
        "the agent's camera at the visitor",
        ".iw-remote",
        true,
    )
    .await;
    console
        .wait_text(
            "the call connected",
            &format!("{SHOWN} .call-status"),
            "Connected",
        )
        .await;
    assert!(
        !console.is_visible(&format!("{SHOWN} .call-banner")).await,
        "accepting the offer answered the call: it does not ring again"
    );
    assert_eq!(
        stack.server.state.hub.agent_counts(&support()),
        (0, 1),
        "the agent of a call-first session takes no other task"
    );

    // Screen sharing, and the chat beside the call.
    visitor.click(".iw-screen").await;
    media_flows(
        console,
        "the visitor's screen at the agent",
        &format!("{SHOWN} .call-screen"),
        false,
    )
    .await;
    visitor
        .type_into(".iw-compose textarea", "Can you see my screen?\n")
        .await;
    console
        .wait_any_text(
            "the visitor's message beside the call",
            &format!("{SHOWN} .msg-visitor .msg-text"),
            "Can you see my screen?",
        )
        .await;
    top(visitor).await;
    visitor.screenshot("in-call").await;
    enter_widget(visitor).await;
    console.screenshot("in-call").await;

    // The visitor hangs up: the agent is free, the session goes on as a chat.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    visitor.click(".iw-hangup").await;
    panel_closed(console, "the call panel to close").await;
    agent_free(stack, "after the call-first call").await;
    visitor
        .wait_visible("the chat goes on", ".iw-compose textarea")
        .await;
    visitor.assert_no_problems("the widget").await;

    let report = only_report(stack).await;
    assert_eq!(
        (report.modality.as_str(), report.call_first.is_some()),
        ("video", true)
    );
    assert!(report.ring_ms.is_some_and(|ms| ms > 0), "{report:?}");
    assert!(report.talk_ms >= 1_000, "{report:?}");
    assert_eq!(report.calls.len(), 1);
    let call = &report.calls[0];
    assert!(call.screen_share);
    assert_eq!(call.ended_by, Some(interact_sdk::protocol::Party::Visitor));
}
/// Call quality (protocol §10.4, `quality`): during a video call both sides sample
/// `getStats()`; the console shows a rating in words and bars with the figures behind it;
/// after the hang-up the session report holds each side's summary of the call, with
/// round-trip time and the received video's height.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_call_shows_and_reports_its_quality() {
    console_and_visitor("call-quality", |console, visitor, stack| async move {
        let (console, visitor, stack) = (&*console, &*visitor, &*stack);
        start_chat(visitor, &stack.host_url, "Quinn Quality", "How do I sound?").await;
        accept_first_offer(console).await;
        visitor
            .wait_visible("the video call button", ".iw-call-video")
            .await;
        visitor.click(".iw-call-video").await;
        visitor.wait_visible("the device step", ".iw-devices").await;
        start_from_the_step(visitor).await;
        accept_ringing(console).await;
        media_flows(
            console,
            "the visitor's camera at the agent",
            &format!("{SHOWN} .call-remote"),
            true,
        )
        .await;

        // --- The indicator: a rating in words, the figures in its title and text.
        let quality = format!("{SHOWN} .call-quality");
        console
            .wait_until(
                "the call's quality shown with its figures",
                "const q = document.querySelector(arguments[0]);
                 if (!q || q.hidden) return 'hidden';
                 const all = [/round trip \\d+ ms/, /packet loss \\d+\\.\\d %/, /\\d+ kbit\\/s/, /video \\d+×\\d+/];
                 return all.every((r) => r.test(q.title)) ? true : q.title;",
                vec![json!(quality)],
            )
            .await;
        let shown: Value = console
            .eval(
                "const q = document.querySelector(arguments[0]);
                 return { rating: q.dataset.rating, text: q.textContent, title: q.title };",
                vec![json!(quality)],
            )
            .await;
        let rating = shown["rating"].as_str().unwrap_or_default();
        assert!(
            ["good", "fair", "poor"].contains(&rating),
            "a rating: {shown}"
        );
        let text = shown["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("connection") && text.contains("round trip"),
            "words and figures for everyone: {text:?}"
        );
        let _: Value = console
            .eval(
                "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' }); return null;",
                vec![json!(quality)],
            )
            .await;
        console.screenshot("quality").await;
        eprintln!("the console shows {shown}");

        // --- The agent hangs up; the report has both sides' summaries.
        console.click(&format!("{SHOWN} .call-hangup")).await;
        panel_closed(console, "the call panel to close").await;
        let mut last = Value::Null;
        for _ in 0..100 {
            let (status, body) = interact_testkit::http_request(
                stack.addr,
                "GET",
                "/admin/v1/reports/sessions",
                &[("Authorization", "Bearer demo-admin-token")],
                "",
            )
            .await;
            assert_eq!(status, 200, "{body}");
            last = serde_json::from_str(&body).expect("the report is JSON");
            let q = &last[0]["calls"][0]["quality"];
            if q["visitor"].is_object() && q["agent"].is_object() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let q = &last[0]["calls"][0]["quality"];
        eprintln!("the report has {q}");
        for side in ["visitor", "agent"] {
            let s = &q[side];
            // Loss and bitrate come from two readings at least.
            assert!(s["samples"].as_u64() >= Some(2), "{side}: samples in {q}");
            assert!(s["rtt_ms"]["median"].is_u64(), "{side}: round trip in {q}");
            assert!(
                s["bitrate_kbps"]["max"].as_u64() > Some(0),
                "{side}: bitrate in {q}"
            );
            assert!(s["loss_permille"]["max"].is_u64(), "{side}: loss in {q}");
            assert!(
                s["height_px"]["max"].as_u64() > Some(0),
                "{side}: video height in {q}"
            );
            let (min, median, max) = (
                &s["height_px"]["min"],
                &s["height_px"]["median"],
                &s["height_px"]["max"],
            );
            assert!(
                min.as_u64() <= median.as_u64() && median.as_u64() <= max.as_u64(),
                "{side}: ordered figures in {q}"
            );
        }
        visitor.assert_no_problems("the widget").await;
    })
    .await;
}

/// The scenario of issue 15, end to end in three headless Chromiums with fake devices: a
/// visitor starts a video call without chatting and waits in the queue with a position;
/// the console rings and its agent (Alex, Customer Care) accepts; media flows both ways;
/// the visitor shares the screen; Alex transfers the call to Sales, whose agent (Sam, in a
/// console of their own) is rung and accepts; the call goes on with Sam (frames again
/// both ways); the visitor's hang-up frees both agents; the report shows the two legs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_call_first_is_transferred_to_another_service_and_goes_on() {
    use interact_sdk::modality::Modality as M;
    if skip_browser("the call transfer end-to-end test") {
        return;
    }
    require_widget_package();
    let _one_at_a_time = BROWSERS.lock().await;
    let stack = Stack::start_with(|c| {
        for s in &mut c.services {
            match s.id.as_str() {
                "support" => s.members = vec!["alex".into()],
                "sales" => {
                    s.members = vec!["sam".into()];
                    s.modalities = vec![M::Chat, M::Audio, M::Video, M::ScreenShare];
                }
                _ => {}
            }
        }
        for u in &mut c.users {
            if u.id == "sam" {
                u.modalities = vec![M::Chat, M::Audio, M::Video];
            }
        }
    })
    .await;
    let stack = Arc::new(stack);
    with_browser("xfer-alex", LIMIT, |alex| async move {
        sign_in_available(&alex, &stack, "alex").await;
        with_browser("xfer-sam", LIMIT, |sam| async move {
            sign_in_available(&sam, &stack, "sam").await;
            with_browser("xfer-visitor", LIMIT, |visitor| async move {
                transfer_scenario(&alex, &sam, &visitor, &stack).await;
            })
            .await;
        })
        .await;
    })
    .await;
}

async fn transfer_scenario(alex: &Page, sam: &Page, visitor: &Page, stack: &Stack) {
    let sales = TargetRef::Service("sales".into());
    interact_e2e::widget::open_form(visitor, &stack.host_url).await;
    set_presence(alex, "away").await;
    visitor.type_into("[id$='-name']", "Cora Caller").await;
    visitor
        .type_into("[id$='-email']", "cora@example.com")
        .await;
    visitor.click("[id$='-consent']").await;
    visitor.click(".iw-first-video").await;
    visitor.wait_visible("the device step", ".iw-devices").await;
    call_module_loaded(visitor, true, "after the call-first click").await;
    media_flows(visitor, "the camera preview", ".iw-preview", false).await;
    start_from_the_step(visitor).await;
    visitor
        .wait_text(
            "the queue position",
            ".iw-queue",
            "You are next in the queue.",
        )
        .await;

    // Alex comes back, is rung, accepts: media both ways, then the screen.
    set_presence(alex, "available").await;
    alex.wait_text(
        "Alex rung",
        "#offers .offer-call .offer-ring",
        "Incoming video call",
    )
    .await;
    accept_first_offer(alex).await;
    media_flows(
        alex,
        "the visitor's camera at Alex",
        &format!("{SHOWN} .call-remote"),
        true,
    )
    .await;
    media_flows(visitor, "Alex's camera at the visitor", ".iw-remote", true).await;
    visitor.click(".iw-screen").await;
    media_flows(
        alex,
        "the visitor's screen at Alex",
        &format!("{SHOWN} .call-screen"),
        false,
    )
    .await;
    assert_eq!(stack.server.state.hub.agent_counts(&support()), (0, 1));

    // Alex transfers the call to Sales: only services are offered during a call.
    alex.click(&format!("{SHOWN} .session-transfer")).await;
    alex.wait_visible("the transfer dialog", "#transfer-dialog")
        .await;
    alex.wait_until(
        "Sales listed",
        "return document.querySelector('#transfer-services-list input[value=\"service:sales\"]')
           ? true : document.getElementById('transfer-dialog').textContent;",
        vec![],
    )
    .await;
    assert!(
        alex.texts("#transfer-users-list .transfer-name")
            .await
            .iter()
            .all(|t| t.is_empty())
            || !alex.is_visible("#transfer-users-list").await,
        "no people to transfer a call to"
    );
    alex.screenshot("transfer-dialog").await;
    alex.click("#transfer-services-list input[value=\"service:sales\"]")
        .await;
    alex.click("#transfer-confirm").await;
    panel_closed(alex, "Alex's call to end with the transfer").await;
    agent_free(stack, "Alex after the transfer").await;

    // Sam is rung for the call and accepts; the visitor calls Sam, and media flows.
    sam.wait_text(
        "Sam rung",
        "#offers .offer-call .offer-ring",
        "Incoming video call",
    )
    .await;
    accept_first_offer(sam).await;
    media_flows(
        sam,
        "the visitor's camera at Sam",
        &format!("{SHOWN} .call-remote"),
        true,
    )
    .await;
    media_flows(visitor, "Sam's camera at the visitor", ".iw-remote", true).await;
    sam.wait_text(
        "Sam's call connected",
        &format!("{SHOWN} .call-status"),
        "Connected",
    )
    .await;
    assert_eq!(
        stack.server.state.hub.agent_counts(&sales),
        (0, 1),
        "Sam is in the call"
    );
    top(visitor).await;
    visitor.screenshot("after-transfer").await;
    enter_widget(visitor).await;
    sam.screenshot("after-transfer").await;

    // The visitor hangs up: both agents are free.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    visitor.click(".iw-hangup").await;
    panel_closed(sam, "Sam's call panel to close").await;
    for _ in 0..50 {
        if stack.server.state.hub.agent_counts(&sales) == (1, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack.server.state.hub.agent_counts(&sales), (1, 0));
    agent_free(stack, "Alex at the end").await;
    visitor.assert_no_problems("the widget").await;

    // The report: a video session in two legs, the first transferred by Alex.
    let report = only_report(stack).await;
    assert_eq!(report.modality.as_str(), "video");
    assert_eq!(report.transfers, 1);
    let legs: Vec<(String, Option<String>, Option<String>)> = report
        .legs
        .iter()
        .map(|l| {
            (
                l.target.clone(),
                l.agent.as_ref().map(|a| a.as_str().to_owned()),
                l.outcome.map(|o| o.as_str().to_owned()),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            (
                "support".into(),
                Some("alex".into()),
                Some("transferred".into())
            ),
            ("sales".into(), Some("sam".into()), None),
        ],
        "{report:?}"
    );
    assert_eq!(report.calls.len(), 2, "one call with each agent");
    assert!(report.calls[0].screen_share);
    assert!(report.calls.iter().all(|c| c.answered_at.is_some()));
}
