//! JSON the browser's way: `JSON.parse` and the SDK's [`JsonValue`] over JavaScript values.
//!
//! The SDK's decoders ([`FromJson`]) read a view of a JSON value; here that view is the
//! `JsValue` the browser's own `JSON.parse` returns, or an object a page passed in. So
//! the widget's module carries no JSON parser of its own for what it receives (frames,
//! the resume state, the call module's messages, options); it still encodes with
//! serde_json.

use interact_sdk::json::{FromJson, JsonValue};
use interact_sdk::protocol::{DecodeError, FrameDecoder, ServerFrame, decode_server_with};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A JavaScript value read as JSON: `undefined` counts as `null` (and as absent for a
/// member); only an object's own members are members.
#[derive(Clone, Debug)]
pub struct Js(pub JsValue);

impl Js {
    /// The value as an object that is not an array.
    fn object(&self) -> Option<&Object> {
        (self.0.is_object() && !Array::is_array(&self.0)).then(|| self.0.unchecked_ref())
    }
}

impl JsonValue for Js {
    fn member(&self, name: &str) -> Option<Self> {
        let object = self.object()?;
        let key = JsValue::from_str(name);
        if !Object::has_own(object, &key) {
            return None;
        }
        Reflect::get(object, &key)
            .ok()
            .filter(|v| !v.is_undefined())
            .map(Js)
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn is_null(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }

    fn items(&self) -> Option<Vec<Self>> {
        Array::is_array(&self.0).then(|| self.0.unchecked_ref::<Array>().iter().map(Js).collect())
    }

    fn entries(&self) -> Option<Vec<(String, Self)>> {
        let entries = Object::entries(self.object()?);
        Some(
            entries
                .iter()
                .filter_map(|pair| {
                    let pair: &Array = pair.unchecked_ref();
                    Some((pair.get(0).as_string()?, Js(pair.get(1))))
                })
                .collect(),
        )
    }
}

/// Parses `text` with `JSON.parse`.
fn parse(text: &str) -> Option<Js> {
    js_sys::JSON::parse(text).ok().map(Js)
}

/// Decodes JSON text into `T`; `None` if it is not JSON or not a `T`.
pub fn from_json<T: FromJson>(text: &str) -> Option<T> {
    T::from_json(&parse(text)?).ok()
}

/// Decodes a value a page passed in (options, a form, a context); the error names `what`.
#[cfg(any(feature = "frame", feature = "sdk"))]
pub(crate) fn from_js<T: FromJson>(
    value: &JsValue,
    what: &str,
) -> Result<T, wasm_bindgen::JsError> {
    T::from_json(&Js(value.clone()))
        .map_err(|e| wasm_bindgen::JsError::new(&format!("{what}: {e}")))
}

/// Decodes the server's frames with `JSON.parse`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BrowserJson;

impl FrameDecoder for BrowserJson {
    fn decode_server(&self, text: &str) -> Result<ServerFrame, DecodeError> {
        decode_server_with(text, parse)
    }
}
