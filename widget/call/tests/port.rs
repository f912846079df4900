//! The call module's end of the seam ([`JsPort`]): what crosses to the chat module's
//! `CallLink` (a stand-in object with the same methods here) and what comes back, in the
//! shapes the chat side reads (JSON text of the SDK's types).
#![cfg(target_arch = "wasm32")]

use interact_sdk::ids::CallId;
use interact_sdk::protocol::{CallMedia, DeviceKind, HangupReason, IceCandidate, MediaState};
use interact_widget::i18n::CallFailure;
use interact_widget::port::{CallPort, Placed};
use interact_widget_call::JsPort;
use js_sys::{Array, Function};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A `CallLink` stand-in whose `confirm` runs `confirm` (with `m`, the media), logging
/// every other call into the returned array.
fn link(confirm: &str) -> (JsPort, Array) {
    let log = Array::new();
    let make = Function::new_with_args(
        "log, confirm",
        "const l = (...a) => log.push(a.join(' '));
         return {
           confirm: new Function('m', confirm),
           pendingCall() { return 'video'; },
           endSession() { l('end'); },
           screenShare() { return true; },
           online() { return false; },
           iceServers() { return '[{\"urls\":[\"stun:stun.example.com\"]}]'; },
           localOffer(s) { l('offer', s); return true; },
           localAnswer(s) { l('answer', s); return false; },
           localCandidate(c) { l('candidate', c); },
           localMedia() { return '{\"muted\":true,\"camera\":false,\"screen\":true}'; },
           setMedia(s) { l('media', s); },
           deviceChanged(k) { l('device', k); },
           hangup(r) { l('hangup', r); },
           callStats(r) { l('stats', r); },
           busy(b) { l('busy', b); },
           problem(w) { l('problem', w); },
           cancelled() { l('cancelled'); },
           emit(e) { l('emit', e.type); },
         };",
    );
    let port = make
        .call2(&JsValue::NULL, &log, &confirm.into())
        .unwrap()
        .unchecked_into();
    (port, log)
}

fn logged(log: &Array) -> Vec<String> {
    log.iter().map(|v| v.as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
fn confirm_reads_a_placed_call_a_waiting_start_and_a_refusal() {
    let (placed, _) = link("return 'call:c1';");
    assert_eq!(
        placed.confirm(CallMedia::Video),
        Ok(Placed::Call(CallId::new("c1").unwrap()))
    );
    let (waiting, _) = link("return m === 'audio' ? 'waiting' : 'call:x';");
    assert_eq!(waiting.confirm(CallMedia::Audio), Ok(Placed::Waiting));
    let (refused, _) =
        link("const e = new Error('one call at a time'); e.name = 'ApiMisuse'; throw e;");
    let error: js_sys::Error = refused
        .confirm(CallMedia::Audio)
        .unwrap_err()
        .dyn_into()
        .unwrap();
    assert_eq!(String::from(error.name()), "ApiMisuse");
    let (bad, _) = link("return 'call:';");
    assert!(
        bad.confirm(CallMedia::Audio).is_err(),
        "an empty call id is refused"
    );
}

#[wasm_bindgen_test]
fn values_cross_as_the_sdks_json() {
    let (port, log) = link("return 'waiting';");
    assert_eq!(port.pending_call(), Some(CallMedia::Video));
    assert!(port.screen_share());
    assert!(!port.online());
    assert_eq!(port.ice_servers()[0].urls, vec!["stun:stun.example.com"]);
    assert_eq!(
        port.local_media(),
        MediaState {
            muted: true,
            camera: false,
            screen: true
        }
    );
    assert!(port.local_offer("v=0 offer".into()));
    assert!(!port.local_answer("v=0 answer".into()));
    port.local_candidate(IceCandidate {
        candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    });
    port.set_media(MediaState {
        muted: false,
        camera: true,
        screen: false,
    });
    port.device_changed(DeviceKind::AudioOutput);
    port.hangup(HangupReason::Normal);
    port.busy(true);
    port.problem(CallFailure::Screen);
    port.cancelled();
    port.end_session();
    let log = logged(&log);
    assert_eq!(log[0], "offer v=0 offer");
    assert_eq!(log[1], "answer v=0 answer");
    assert!(
        log[2].starts_with("candidate {\"candidate\":\"candidate:1"),
        "{}",
        log[2]
    );
    assert_eq!(
        log[3],
        "media {\"muted\":false,\"camera\":true,\"screen\":false}"
    );
    assert_eq!(log[4], "device \"audio_output\"");
    assert_eq!(log[5], "hangup \"normal\"");
    assert_eq!(
        log[6..],
        ["busy true", "problem screen", "cancelled", "end"]
    );
}

#[wasm_bindgen_test]
fn a_call_event_crosses_as_json_both_ways() {
    use interact_sdk::CallEvent;
    let event = CallEvent::RemoteOffer {
        call: CallId::new("c9").unwrap(),
        sdp: "v=0".into(),
        rollback: true,
    };
    let json = serde_json::to_string(&event).unwrap();
    assert!(json.contains("\"event\":\"remote_offer\""), "{json}");
    let back: CallEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(back, event);
}
