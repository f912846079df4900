//! The widget decodes with the browser's `JSON.parse` and the SDK's `FromJson` over
//! JavaScript values (`interact_widget::json`); natively the SDK decodes the same types
//! over serde_json's values. Every example of docs/protocol.md decodes to the same value
//! both ways, here in headless Chromium, and hostile objects are refused the same way.
#![cfg(target_arch = "wasm32")]

use std::fmt::Debug;

use interact_sdk::config::WidgetConfig;
use interact_sdk::json::{FromJson, from_value};
use interact_sdk::protocol::{
    CallSignal, DecodeError, FrameDecoder, ServerFrame, SessionEvent, decode_server,
};
use interact_widget::json::{BrowserJson, Js, from_json};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const DOC: &str = include_str!("../../docs/protocol.md");

/// The text of every fenced block whose info string is `json <role>`.
fn examples(role: &str) -> Vec<String> {
    let info = format!("```json {role}");
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in DOC.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut open, fence) {
            (None, true) if line.trim() == info => open = Some(String::new()),
            (Some(_), true) => blocks.extend(open.take()),
            (Some(text), false) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// Decodes every example of `role` both ways and compares.
fn agree<T: FromJson + PartialEq + Debug>(role: &str, at_least: usize) {
    let texts = examples(role);
    assert!(texts.len() >= at_least, "{role}: {} examples", texts.len());
    for text in texts {
        let value: serde_json::Value = serde_json::from_str(&text).expect("the example parses");
        let native: T = from_value(&value).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(from_json::<T>(&text).as_ref(), Some(&native), "{text}");
    }
}

#[wasm_bindgen_test]
fn every_documented_frame_decodes_the_same_in_the_browser() {
    let frames = examples("server");
    assert!(frames.len() >= 20, "{} server examples", frames.len());
    for text in frames {
        let native = decode_server(&text);
        assert!(
            matches!(&native, Ok(f) if *f != ServerFrame::Unknown),
            "{native:?}: {text}"
        );
        assert_eq!(BrowserJson.decode_server(&text), native, "{text}");
    }
    agree::<SessionEvent>("event", 10);
    agree::<CallSignal>("signal", 5);
    agree::<WidgetConfig>("config", 1);
}

#[wasm_bindgen_test]
fn bad_frames_are_refused_in_the_browser_as_natively() {
    for text in [
        "not json",
        "[]",
        "null",
        r#"{"nonce":3}"#,
        r#"{"type":7}"#,
        r#"{"type":"ack","session":"s1","id":"m1"}"#,
        r#"{"type":"ack","session":"s 1","id":"m1","seq":1}"#,
        r#"{"type":"ack","session":"s1","id":"m1","seq":"1"}"#,
        r#"{"type":"ack","session":"s1","id":"m1","seq":-1}"#,
        r#"{"type":"ack","session":"s1","id":"m1","seq":1.5}"#,
        r#"{"type":"ack","session":"s1","id":"m1","seq":9007199254740993}"#,
        r#"{"type":"typing","session":"s1","from":"robot","active":true}"#,
        r#"{"type":"event","session":"s1","seq":1,"at":0,"event":{"kind":"queued"}}"#,
        // Members only an object's prototype has are not members.
        r#"{"type":"offer_withdrawn","__proto__":{"session":"s1"}}"#,
    ] {
        let browser = BrowserJson.decode_server(text);
        assert!(
            matches!(browser, Err(DecodeError::Malformed(_))),
            "{text}: {browser:?}"
        );
        assert!(decode_server(text).is_err(), "{text}");
    }
    // The limits come first, as natively.
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(BrowserJson.decode_server(&deep), Err(DecodeError::TooDeep));
    // Errors name the member.
    let Err(DecodeError::Malformed(m)) =
        BrowserJson.decode_server(r#"{"type":"ack","session":"s1","id":"m1"}"#)
    else {
        panic!("decoded");
    };
    assert!(m.contains("`seq`"), "{m}");
}

#[wasm_bindgen_test]
fn objects_a_page_passes_in_are_read_as_json() {
    // An object from the page, not from JSON.parse: `undefined` is absent, members
    // inherited from a prototype are not members, and the unknown ones are ignored.
    let context: JsValue = js_sys::eval(
        "({ page_url: 'https://shop.example/cart', attributes: { plan: 'pro' }, extra: undefined })",
    )
    .expect("an object");
    let decoded = interact_sdk::context::ChatContext::from_json(&Js(context)).expect("decodes");
    assert_eq!(
        decoded.page_url.as_deref(),
        Some("https://shop.example/cart")
    );
    assert_eq!(
        decoded.attributes.get("plan").map(String::as_str),
        Some("pro")
    );
    let inherited: JsValue =
        js_sys::eval("Object.create({ page_url: 'https://evil.example/' })").expect("an object");
    let decoded = interact_sdk::context::ChatContext::from_json(&Js(inherited)).expect("decodes");
    assert_eq!(decoded.page_url, None);
}
