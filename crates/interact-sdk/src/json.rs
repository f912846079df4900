//! Decoding from JSON values of any representation: [`FromJson`] over [`JsonValue`].
//!
//! Every type a client receives decodes through [`FromJson`] rather than serde's
//! `Deserialize` derive. serde's derive compiles a visitor per type and per deserializer,
//! and an internally tagged enum (`"type"`, `"kind"`, `"op"`, `"code"`) once more through
//! a private buffer; in the widget's WebAssembly that machinery was the largest part of
//! the chat path. [`FromJson`] is written against a small view of a JSON value, so a
//! type's decoder is compiled once per representation:
//!
//! - natively, over [`serde_json::Value`] ([`decode_server`](crate::protocol::decode_server),
//!   and the `Deserialize` impls of the tagged enums, which delegate here);
//! - in the browser, over the `JsValue` that the browser's own `JSON.parse` returns
//!   (the widget's `JsonValue` impl), so the module carries no JSON parser for what it
//!   receives.
//!
//! The rules are the derives' rules for the wire format: members may come in any order,
//! unknown members are ignored, `Option` members may be left out or `null`, members with a
//! default may be left out, unknown tags and unknown names of tolerant enums decode to
//! their `Unknown`/`Other` variant. Numbers are integers up to 2^53 - 1 (what JavaScript holds
//! exactly); a value given twice counts once (the parser's choice). Encoding still uses
//! the `Serialize` derives; the golden and round-trip tests check that both agree.

use std::collections::BTreeMap;
use std::fmt;

/// A read-only view of one JSON value.
///
/// Implemented for `&serde_json::Value` here and for `JsValue` in the widget. Each method
/// answers for the value itself; `member` of anything but an object is `None`.
pub trait JsonValue: Sized {
    /// The member `name` of an object, `null` included; `None` if it is absent or this
    /// is not an object.
    fn member(&self, name: &str) -> Option<Self>;
    /// The string, if this is one.
    fn string(&self) -> Option<String>;
    /// The number, if this is one.
    fn number(&self) -> Option<f64>;
    /// The number, if this is a whole number from 0 to 2^53 - 1.
    fn integer(&self) -> Option<u64> {
        let n = self.number()?;
        (n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&n)).then_some(n as u64)
    }
    /// The boolean, if this is one.
    fn boolean(&self) -> Option<bool>;
    /// Whether this is `null`.
    fn is_null(&self) -> bool;
    /// The elements, if this is an array.
    fn items(&self) -> Option<Vec<Self>>;
    /// The members in order, if this is an object.
    fn entries(&self) -> Option<Vec<(String, Self)>>;
}

/// 2^53 - 1, JavaScript's `Number.MAX_SAFE_INTEGER`: the largest integer above which a
/// JSON number no longer decodes exactly there (2^53 + 1 reads as 2^53).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A type decodable from a [`JsonValue`].
pub trait FromJson: Sized {
    /// Decodes `json`.
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError>;
}

/// Why a JSON value did not decode: which member (the innermost one named) and what was
/// wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    member: Option<&'static str>,
    problem: Problem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    Missing,
    Expected(&'static str),
}

impl JsonError {
    /// The value is not of the `expected` kind ("a string", "an identifier", ...).
    pub fn expected(expected: &'static str) -> Self {
        Self {
            member: None,
            problem: Problem::Expected(expected),
        }
    }

    fn missing(member: &'static str) -> Self {
        Self {
            member: Some(member),
            problem: Problem::Missing,
        }
    }

    /// Names the member the error is in, unless a member inside it is named already.
    fn within(mut self, member: &'static str) -> Self {
        self.member.get_or_insert(member);
        self
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.member, self.problem) {
            (Some(m), Problem::Missing) => write!(f, "missing field `{m}`"),
            (Some(m), Problem::Expected(e)) => write!(f, "field `{m}`: expected {e}"),
            (None, Problem::Expected(e)) => write!(f, "expected {e}"),
            (None, Problem::Missing) => f.write_str("missing field"),
        }
    }
}

impl std::error::Error for JsonError {}

/// A required member.
pub fn field<T: FromJson, J: JsonValue>(json: &J, name: &'static str) -> Result<T, JsonError> {
    let value = json.member(name).ok_or(JsonError::missing(name))?;
    T::from_json(&value).map_err(|e| e.within(name))
}

/// A member that may be left out or `null` (`Option<T>` members).
pub fn optional<T: FromJson, J: JsonValue>(
    json: &J,
    name: &'static str,
) -> Result<Option<T>, JsonError> {
    match json.member(name) {
        Some(value) if !value.is_null() => {
            T::from_json(&value).map(Some).map_err(|e| e.within(name))
        }
        _ => Ok(None),
    }
}

/// A member that is `T::default()` when left out or `null` (`#[serde(default)]` members).
pub fn or_default<T: FromJson + Default, J: JsonValue>(
    json: &J,
    name: &'static str,
) -> Result<T, JsonError> {
    Ok(optional(json, name)?.unwrap_or_default())
}

/// The string member `name` of an object: the tag of an internally tagged enum.
pub fn tag<J: JsonValue>(json: &J, name: &'static str) -> Result<String, JsonError> {
    field(json, name)
}

impl FromJson for String {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        json.string().ok_or(JsonError::expected("a string"))
    }
}

impl FromJson for bool {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        json.boolean().ok_or(JsonError::expected("a boolean"))
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl FromJson for $t {
            fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
                json.integer()
                    .and_then(|n| Self::try_from(n).ok())
                    .ok_or(JsonError::expected(concat!("a whole number in ", stringify!($t))))
            }
        }
    )*};
}
integers!(u8, u16, u32, u64, usize);

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        json.items()
            .ok_or(JsonError::expected("an array"))?
            .iter()
            .map(T::from_json)
            .collect()
    }
}

impl<T: FromJson> FromJson for Box<T> {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        T::from_json(json).map(Box::new)
    }
}

/// A type that object keys decode to (the keys of a [`BTreeMap`] member).
pub trait FromJsonKey: Sized {
    /// Decodes a key.
    fn from_key(key: String) -> Result<Self, JsonError>;
}

impl FromJsonKey for String {
    fn from_key(key: String) -> Result<Self, JsonError> {
        Ok(key)
    }
}

impl<K: FromJsonKey + Ord, V: FromJson> FromJson for BTreeMap<K, V> {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        // Inserted one by one rather than collected: collecting sorts first, and the
        // sort's code would be compiled in for each map type.
        let mut map = Self::new();
        for (k, v) in json.entries().ok_or(JsonError::expected("an object"))? {
            map.insert(K::from_key(k)?, V::from_json(&v)?);
        }
        Ok(map)
    }
}

impl JsonValue for &serde_json::Value {
    fn member(&self, name: &str) -> Option<Self> {
        self.as_object()?.get(name)
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn integer(&self) -> Option<u64> {
        // Exact, where the text allows it: `1.0` is not an integer here.
        self.as_u64().filter(|&n| n <= MAX_SAFE_INTEGER)
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn is_null(&self) -> bool {
        serde_json::Value::is_null(self)
    }

    fn items(&self) -> Option<Vec<Self>> {
        Some(self.as_array()?.iter().collect())
    }

    fn entries(&self) -> Option<Vec<(String, Self)>> {
        Some(
            self.as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v))
                .collect(),
        )
    }
}

/// Decodes `value` with [`FromJson`].
pub fn from_value<T: FromJson>(value: &serde_json::Value) -> Result<T, JsonError> {
    T::from_json(&value)
}

/// Implements [`FromJson`] for a struct whose members are named as its fields: each field
/// is `name` (required), `name: optional` (an `Option`, may be absent or `null`) or
/// `name: default` (absent means `Default::default()`). The struct literal lists every
/// field, so a field added to the struct does not compile until it is named here.
macro_rules! json_struct {
    ($ty:ident { $($field:ident $(: $how:ident)?),* $(,)? }) => {
        impl $crate::json::FromJson for $ty {
            fn from_json<J: $crate::json::JsonValue>(
                json: &J,
            ) -> Result<Self, $crate::json::JsonError> {
                Ok(Self {
                    $($field: $crate::json::json_struct!(@member json, $field $(, $how)?),)*
                })
            }
        }
    };
    (@member $json:ident, $field:ident) => {
        $crate::json::field($json, stringify!($field))?
    };
    (@member $json:ident, $field:ident, optional) => {
        $crate::json::optional($json, stringify!($field))?
    };
    (@member $json:ident, $field:ident, default) => {
        $crate::json::or_default($json, stringify!($field))?
    };
}

/// Implements [`FromJson`] for an enum of names (`#[serde(rename_all = "snake_case")]`
/// unit variants); `else Variant` names the variant unknown names decode to
/// (`#[serde(other)]`), without it they are errors. In tests, `Type::JSON_NAMES` lists
/// the pairs so that they can be checked against the `Serialize` derive.
macro_rules! json_names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? } $(else $other:ident)?) => {
        impl $crate::json::FromJson for $ty {
            fn from_json<J: $crate::json::JsonValue>(
                json: &J,
            ) -> Result<Self, $crate::json::JsonError> {
                let name = json.string();
                Ok(match name.as_deref() {
                    $(Some($name) => Self::$variant,)*
                    $(Some(_) => Self::$other,)?
                    // (Not listing the names: in the widget's module every list
                    // would be bytes to download.)
                    _ => return Err($crate::json::JsonError::expected("a known name")),
                })
            }
        }

        #[cfg(test)]
        impl $ty {
            /// Every variant with its JSON name.
            pub(crate) const JSON_NAMES: &[(Self, &str)] = &[$((Self::$variant, $name)),*];
        }
    };
}

/// Implements `Deserialize` through [`FromJson`] over a [`serde_json::Value`], for the
/// types whose only decoder is [`FromJson`] (the tagged enums).
macro_rules! deserialize_from_json {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                $crate::json::from_value(&value).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

pub(crate) use {deserialize_from_json, json_names, json_struct};

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::protocol::{DecodeError, ServerFrame, SessionEvent, decode_server};

    #[test]
    fn the_tag_may_come_last_and_unknown_members_are_ignored() {
        let f = decode_server(r#"{"nonce":3,"future":{"x":[1]},"type":"pong"}"#);
        assert_eq!(
            f,
            Ok(ServerFrame::Pong {
                nonce: 3,
                heads: Default::default()
            })
        );
    }

    #[test]
    fn unknown_tags_decode_to_unknown() {
        assert_eq!(
            decode_server(r#"{"type":"teleport","to":"mars"}"#),
            Ok(ServerFrame::Unknown)
        );
        let e: SessionEvent =
            serde_json::from_str(r#"{"kind":"hologram","x":1}"#).expect("tolerant");
        assert_eq!(e, SessionEvent::Unknown);
    }

    #[test]
    fn optional_members_may_be_null_or_left_out() {
        let f = decode_server(r#"{"type":"welcome","protocol":1,"config":null}"#);
        assert_eq!(
            f,
            Ok(ServerFrame::Welcome {
                protocol: 1,
                config: None,
                session: None,
                agent: None,
                heads: Default::default(),
            })
        );
    }

    #[test]
    fn missing_and_ill_typed_members_are_errors() {
        let missing = decode_server(r#"{"type":"ack","session":"s1","id":"m1"}"#);
        assert!(matches!(missing, Err(DecodeError::Malformed(m)) if m.contains("`seq`")));
        for text in [
            r#"{"nonce":3}"#,
            r#"{"type":7}"#,
            r#"{"type":"ack","session":"s 1","id":"m1","seq":1}"#,
            r#"{"type":"ack","session":"s1","id":"m1","seq":"1"}"#,
            r#"{"type":"ack","session":"s1","id":"m1","seq":1.5}"#,
            r#"{"type":"ack","session":"s1","id":"m1","seq":-1}"#,
            r#"{"type":"typing","session":"s1","from":"robot","active":true}"#,
            r#"{"type":"event","session":"s1","seq":1,"at":0,"event":{"kind":"queued"}}"#,
            "[]",
            "null",
        ] {
            assert!(decode_server(text).is_err(), "{text}");
        }
    }

    #[test]
    fn errors_name_the_innermost_member() {
        let text = r#"{"type":"event","session":"s1","seq":1,"at":0,"event":{"kind":"queued","position":"x"}}"#;
        let Err(DecodeError::Malformed(m)) = decode_server(text) else {
            panic!("decoded");
        };
        assert!(m.contains("`position`"), "{m}");
    }

    #[test]
    fn integers_are_exact_up_to_javascripts_max_safe_integer() {
        let v = serde_json::json!([9_007_199_254_740_991_u64, 9_007_199_254_740_992_u64, 2.0]);
        let items = (&v).items().expect("array");
        assert_eq!(u64::from_json(&items[0]), Ok(MAX_SAFE_INTEGER));
        assert!(u64::from_json(&items[1]).is_err());
        assert!(
            u64::from_json(&items[2]).is_err(),
            "not written as an integer"
        );
        assert!(u8::from_json(&&serde_json::json!(256)).is_err());
    }

    /// Every enum of names decodes each variant from the name its `Serialize` writes.
    #[test]
    fn names_agree_with_the_serialize_derives() {
        fn check<T>(names: &[(T, &str)])
        where
            T: FromJson + serde::Serialize + PartialEq + std::fmt::Debug,
        {
            for (variant, name) in names {
                assert_eq!(serde_json::to_value(variant).expect("encodes"), *name);
                assert_eq!(
                    T::from_json(&&serde_json::json!(name)).as_ref(),
                    Ok(variant)
                );
            }
        }
        use crate::config::{Availability, Position, TargetKind};
        use crate::form::Field;
        use crate::protocol::{
            CallMedia, DeviceKind, EndReason, ErrorCode, HangupReason, Party, Presence,
            ReceiptState,
        };
        check(Party::JSON_NAMES);
        check(EndReason::JSON_NAMES);
        check(CallMedia::JSON_NAMES);
        check(DeviceKind::JSON_NAMES);
        check(HangupReason::JSON_NAMES);
        check(Field::JSON_NAMES);
        check(TargetKind::JSON_NAMES);
        check(Availability::JSON_NAMES);
        check(Position::JSON_NAMES);
        check(ReceiptState::JSON_NAMES);
        check(Presence::JSON_NAMES);
        check(ErrorCode::JSON_NAMES);
        assert_eq!(
            Availability::from_json(&&serde_json::json!("on_holiday")),
            Ok(Availability::Unknown),
            "tolerant"
        );
        assert!(
            Party::from_json(&&serde_json::json!("robot")).is_err(),
            "strict"
        );
    }
}
