//! The console package in headless Chromium (`cargo xtask test` runs it): the machine's
//! events reach JavaScript as the plain objects `console.js` renders (visitor text
//! unchanged, ICE candidates as `RTCIceCandidateInit`), and an `AgentConsole` without a
//! server reconnects with backoff, reconnects at once when asked, and refuses intents
//! that make no sense with errors a page tells apart by `name`. (The console against
//! the real server is tested end to end: `tests/e2e/tests/console.rs` and `call.rs`.)
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use interact_console::driver::Report;
use interact_console::js::{AgentConsole, report_to_js};
use interact_sdk::call::CallEvent;
use interact_sdk::client::Event;
use interact_sdk::ids::{CallId, MessageId, Seq, SessionId};
use interact_sdk::protocol::{ErrorCode, EventFrame, IceCandidate, Party, SessionEvent};
use interact_sdk::time::{Instant, UnixMillis};
use interact_sdk::{DeliveryState, LinkState};
use js_sys::{Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Markup a visitor might type: it must arrive as the same text.
const HOSTILE: &str = "<img src=x onerror=alert(1)> & </p>";

fn get(value: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(value.clone(), |v, key| {
        Reflect::get(&v, &key.into()).unwrap_or(JsValue::UNDEFINED)
    })
}

fn text(value: &JsValue, path: &str) -> Option<String> {
    get(value, path).as_string()
}

fn sid(s: &str) -> SessionId {
    SessionId::new(s).expect("valid")
}

fn js(report: Report) -> JsValue {
    report_to_js(&report).expect("shown")
}

#[wasm_bindgen_test]
fn timeline_events_carry_visitor_text_unchanged() {
    let e = js(Report::Event(Event::Timeline(Box::new(EventFrame {
        session: sid("s1"),
        seq: Seq(4),
        at: UnixMillis(1_700_000_000_000),
        event: SessionEvent::Message {
            id: MessageId::new("v-1").expect("valid"),
            from: Party::Visitor,
            author: Some(HOSTILE.into()),
            text: HOSTILE.into(),
        },
    }))));
    assert_eq!(text(&e, "type").as_deref(), Some("timeline"));
    assert_eq!(text(&e, "session").as_deref(), Some("s1"));
    assert_eq!(get(&e, "seq").as_f64(), Some(4.0));
    assert_eq!(get(&e, "at").as_f64(), Some(1_700_000_000_000.0));
    assert_eq!(text(&e, "event.kind").as_deref(), Some("message"));
    assert_eq!(text(&e, "event.from").as_deref(), Some("visitor"));
    assert_eq!(text(&e, "event.text").as_deref(), Some(HOSTILE));
    assert_eq!(text(&e, "event.author").as_deref(), Some(HOSTILE));

    let e = js(Report::Event(Event::MessageState {
        session: Some(sid("s1")),
        id: MessageId::new("m1").expect("valid"),
        state: DeliveryState::Read,
    }));
    assert_eq!(text(&e, "type").as_deref(), Some("message_state"));
    assert_eq!(text(&e, "state").as_deref(), Some("read"));
    assert_eq!(text(&e, "id").as_deref(), Some("m1"));
}

#[wasm_bindgen_test]
fn call_events_are_what_an_rtc_peer_connection_takes() {
    let call = CallId::new("c1").expect("valid");
    let e = js(Report::Event(Event::Call {
        session: Some(sid("s1")),
        event: CallEvent::RemoteCandidate {
            call: call.clone(),
            candidate: IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            },
        },
    }));
    assert_eq!(text(&e, "type").as_deref(), Some("call"));
    assert_eq!(text(&e, "event").as_deref(), Some("remote_candidate"));
    assert_eq!(text(&e, "call").as_deref(), Some("c1"));
    assert_eq!(text(&e, "candidate.sdpMid").as_deref(), Some("0"));
    assert_eq!(get(&e, "candidate.sdpMLineIndex").as_f64(), Some(0.0));
    // The browser itself accepts it as an `RTCIceCandidateInit`.
    let init: web_sys::RtcIceCandidateInit = get(&e, "candidate").unchecked_into();
    assert!(web_sys::RtcIceCandidate::new(&init).is_ok());

    let e = js(Report::Event(Event::Call {
        session: Some(sid("s1")),
        event: CallEvent::Ended {
            call,
            reason: interact_sdk::protocol::HangupReason::Declined,
            by: Party::Agent,
        },
    }));
    assert_eq!(text(&e, "event").as_deref(), Some("ended"));
    assert_eq!(text(&e, "reason").as_deref(), Some("declined"));
    assert_eq!(text(&e, "by").as_deref(), Some("agent"));
}

#[wasm_bindgen_test]
fn link_sessions_and_refused_accepts() {
    let e = js(Report::Event(Event::Link(LinkState::Reconnecting {
        attempt: 2,
        at: Instant::from_millis(1_500),
    })));
    assert_eq!(text(&e, "type").as_deref(), Some("link"));
    assert_eq!(text(&e, "state").as_deref(), Some("reconnecting"));
    assert_eq!(get(&e, "attempt").as_f64(), Some(2.0));
    assert_eq!(get(&e, "at").as_f64(), Some(1_500.0));
    let e = js(Report::Event(Event::Link(LinkState::Closed {
        code: Some(4011),
    })));
    assert_eq!(get(&e, "code").as_f64(), Some(4011.0));

    let e = js(Report::Sessions(vec![(sid("a"), false), (sid("b"), true)]));
    assert_eq!(text(&e, "type").as_deref(), Some("sessions"));
    assert_eq!(text(&e, "sessions.1.session").as_deref(), Some("b"));
    assert_eq!(get(&e, "sessions.1.ended").as_bool(), Some(true));

    let e = js(Report::AcceptRefused {
        session: sid("a"),
        code: ErrorCode::NotAllowed,
    });
    assert_eq!(text(&e, "type").as_deref(), Some("accept_refused"));
    assert_eq!(text(&e, "code").as_deref(), Some("not_allowed"));
}

fn options(pairs: &[(&str, &str)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), &(*v).into()).expect("set");
    }
    o.into()
}

fn name(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.name()))
        .unwrap_or_default()
}

/// A console whose server does not exist (nothing listens on port 9), and the events it
/// reported so far.
fn offline_console() -> (AgentConsole, Rc<RefCell<Vec<JsValue>>>) {
    let console = AgentConsole::new(options(&[
        ("token", "t0ken"),
        ("server", "http://127.0.0.1:9"),
        ("presence", "away"),
    ]))
    .expect("a console");
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let callback = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| sink.borrow_mut().push(e));
    console.on_event(
        callback
            .as_ref()
            .unchecked_ref::<js_sys::Function>()
            .clone(),
    );
    callback.forget();
    (console, events)
}

async fn wait_for_link(console: &AgentConsole, state: &str) {
    for _ in 0..100 {
        if text(&console.link(), "state").as_deref() == Some(state) {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    panic!("the link never became {state}");
}

#[wasm_bindgen_test]
fn options_it_cannot_use_are_refused() {
    for bad in [
        options(&[("token", "")]),
        options(&[("token", "t"), ("presence", "sleeping")]),
        options(&[("token", "t"), ("server", "ftp://example.com")]),
        options(&[("presence", "away")]),
    ] {
        let e = AgentConsole::new(bad).expect_err("refused");
        assert_eq!(name(&e), "ApiMisuse");
    }
}

#[wasm_bindgen_test]
async fn without_a_server_it_backs_off_and_retries_at_once_when_asked() {
    let (console, events) = offline_console();
    assert_eq!(console.presence(), "away");
    console.connect();
    wait_for_link(&console, "reconnecting").await;
    let link = console.link();
    assert_eq!(get(&link, "attempt").as_f64(), Some(1.0));
    let at = get(&link, "at").as_f64().expect("a reconnect time");
    let now = web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .expect("a clock");
    assert!(
        at >= now - 1.0,
        "at {at} is on the performance clock ({now})"
    );
    let states: Vec<String> = events
        .borrow()
        .iter()
        .filter(|e| text(e, "type").as_deref() == Some("link"))
        .filter_map(|e| text(e, "state"))
        .collect();
    assert_eq!(states, ["connecting", "reconnecting"]);

    console.reconnect_now().expect("retries at once");
    assert_eq!(
        text(&console.link(), "state").as_deref(),
        Some("connecting")
    );
    let e = console.reconnect_now().expect_err("already connecting");
    assert_eq!(name(&e), "ApiMisuse");
    console.close();
}

#[wasm_bindgen_test]
fn intents_that_make_no_sense_are_refused_by_name() {
    let (console, _events) = offline_console();
    console.connect();
    assert!(!console.online());
    assert_eq!(
        name(&console.accept("s1").expect_err("no offer")),
        "ApiMisuse"
    );
    let e = console.send("s1", "  \n ").expect_err("blank");
    assert_eq!(name(&e), "InvalidText");
    assert_eq!(text(&e, "code").as_deref(), Some("required"));
    let e = console
        .send("s1", &"x".repeat(4_001))
        .expect_err("too long");
    assert_eq!(text(&e, "code").as_deref(), Some("too_long"));
    assert_eq!(get(&e, "max").as_f64(), Some(4_000.0));
    let e = console.send("s1", "hello").expect_err("not a session");
    assert_eq!(name(&e), "ApiMisuse");
    assert_eq!(
        name(&console.accept("not a session id!").expect_err("bad id")),
        "ApiMisuse"
    );
    assert_eq!(
        name(&console.hangup("s1", "bored").expect_err("reason")),
        "ApiMisuse"
    );
    assert_eq!(
        text(&console.call_state("s1").expect("a state"), "state").as_deref(),
        Some("idle")
    );
    console.set_presence("busy").expect("kept for the welcome");
    assert_eq!(console.presence(), "busy");
    assert!(!console.has_unsent());
    assert_eq!(js_sys::Array::from(&console.sessions()).length(), 0);
    console.close();
    let e = console.set_presence("away").expect_err("closed");
    assert_eq!(name(&e), "ApiMisuse");
}
