//! The JavaScript SDK's call methods refuse what cannot work, before any permission
//! prompt or module load, with errors a page can tell apart by `name`. (Calls that connect are tested end
//! to end: `tests/e2e/tests/call.rs` places one from the custom-UI example.)
#![cfg(target_arch = "wasm32")]

use interact_widget::js::InteractClient;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A client that never connects (nothing listens on port 9).
fn client() -> InteractClient {
    let options = Object::new();
    Reflect::set(&options, &"server".into(), &"http://127.0.0.1:9".into()).unwrap();
    Reflect::set(&options, &"code".into(), &"ie1_nothinghereatall".into()).unwrap();
    Reflect::set(&options, &"persist".into(), &false.into()).unwrap();
    InteractClient::new(options.into()).expect("a client")
}

fn name(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.name()))
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn calls_without_an_agent_or_with_unknown_arguments_are_refused() {
    let c = client();
    let e = c
        .start_call("video".into(), JsValue::UNDEFINED)
        .await
        .expect_err("no agent yet");
    assert_eq!(name(&e), "ApiMisuse");
    let e = c
        .start_call("fax".into(), JsValue::UNDEFINED)
        .await
        .expect_err("unknown media");
    assert_eq!(name(&e), "ApiMisuse");
    for e in [
        c.set_muted(true).expect_err("no call"),
        c.set_camera(false).expect_err("no call"),
        c.share_screen(true).expect_err("no call"),
        c.switch_device("printer".into(), "p1".into())
            .expect_err("unknown kind"),
        c.switch_device("audioinput".into(), "m1".into())
            .expect_err("no call"),
    ] {
        assert_eq!(name(&e), "ApiMisuse", "{e:?}");
    }
    assert!(c.hangup().is_err(), "nothing to hang up");
    c.close();
}

#[wasm_bindgen_test]
async fn without_the_call_module_device_lists_are_refused_by_name() {
    // The call code comes from the client's server on the first use; there is none.
    let e = client().list_devices().await.expect_err("no server");
    assert_eq!(name(&e), "CallModuleUnavailable");
    let message = String::from(e.unchecked_ref::<js_sys::Error>().message());
    assert!(
        message.contains("http://127.0.0.1:9/widget/pkg/interact_widget_call.js"),
        "{message}"
    );
}

#[wasm_bindgen_test]
async fn devices_are_listed_with_the_browsers_kinds() {
    // What the call module's `listDevices` returns (the library function it exports).
    let list = interact_widget::headless::list_devices()
        .await
        .expect("a list");
    let list: js_sys::Array = list.unchecked_into();
    assert!(list.length() > 0, "the fake devices");
    for d in list.iter() {
        let kind = Reflect::get(&d, &"kind".into())
            .unwrap()
            .as_string()
            .unwrap();
        assert!(
            ["audioinput", "videoinput", "audiooutput"].contains(&kind.as_str()),
            "{kind}"
        );
        assert!(Reflect::get(&d, &"id".into()).unwrap().is_string());
        assert!(Reflect::get(&d, &"label".into()).unwrap().is_string());
    }
}

#[wasm_bindgen_test]
fn a_context_over_the_bounds_is_refused_by_name_and_one_within_is_kept() {
    let c = client();
    let context = |value: &str| {
        js_sys::JSON::parse(&format!(
            r#"{{"page_url":"https://shop.example/a","attributes":{{"plan":"{value}"}}}}"#
        ))
        .unwrap()
    };
    c.set_context(context("gold")).expect("within the bounds");
    let e = c
        .set_context(context(&"x".repeat(201)))
        .expect_err("a value over 200 characters");
    assert_eq!(name(&e), "InvalidContext");
    let e = c
        .set_context(js_sys::JSON::parse(r#"{"page_url":"javascript:alert(1)"}"#).unwrap())
        .expect_err("not an http(s) address");
    assert_eq!(name(&e), "InvalidContext");
}
