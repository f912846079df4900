//! Decoding of the internally tagged enums (`"type"`, `"kind"`, `"op"`, `"code"`).
//!
//! serde's derive decodes an internally tagged enum through a private buffer of the whole
//! object and then decodes the variant, and every type nested in it, from that buffer:
//! each nested type's `Deserialize` is compiled once more for it. In the widget's
//! WebAssembly that cost about 100 KB of the 446 KB module, so these enums implement
//! `Deserialize` by hand instead: the object is read once into its members, the tag is
//! taken out, and each field is decoded from its [`Value`]. Nested types are thus
//! compiled for `Value` only. Encoding still uses the derives, so the JSON is unchanged.
//!
//! Every variant constructor in the `match` lists all its fields, so a field added to a
//! variant does not compile until it is read there too; the golden tests pin the names.
//! As with the derives, members may come in any order, unknown members are ignored and
//! an unknown tag decodes to the `Unknown` variant. Unlike them, a member given twice
//! counts once (the last), and a tag must be a string.

use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error};
use serde_json::{Map, Value};

/// A JSON object whose tag has been taken out; `E` is the error type of the deserializer
/// it came from.
pub(crate) struct Tagged<E> {
    tag: String,
    /// The other members. A list rather than the map they were read into: removing from
    /// a `BTreeMap` would be compiled in for this alone.
    fields: Vec<(String, Value)>,
    error: PhantomData<E>,
}

impl<E: Error> Tagged<E> {
    /// Reads an object and takes out its string member `tag`.
    pub(crate) fn read<'de, D>(deserializer: D, tag: &'static str) -> Result<Self, E>
    where
        D: Deserializer<'de, Error = E>,
    {
        let mut fields: Vec<_> = Map::deserialize(deserializer)?.into_iter().collect();
        match take(&mut fields, tag) {
            Some(Value::String(tag)) => Ok(Self {
                tag,
                fields,
                error: PhantomData,
            }),
            Some(_) => Err(E::custom(format_args!("`{tag}` is not a string"))),
            None => Err(E::missing_field(tag)),
        }
    }

    /// The tag's value.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    /// A required field, as it came (for types that read themselves from a [`Value`]).
    pub(crate) fn value(&mut self, name: &'static str) -> Result<Value, E> {
        take(&mut self.fields, name).ok_or_else(|| E::missing_field(name))
    }

    /// A required field.
    pub(crate) fn field<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, E> {
        let value = take(&mut self.fields, name).ok_or_else(|| E::missing_field(name))?;
        T::deserialize(value).map_err(E::custom)
    }

    /// A field that may be left out or `null` (`Option<T>` fields).
    pub(crate) fn optional<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>, E> {
        match take(&mut self.fields, name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value).map(Some).map_err(E::custom),
        }
    }

    /// A field that is `T::default()` when left out (`#[serde(default)]` fields).
    pub(crate) fn or_default<T: DeserializeOwned + Default>(
        &mut self,
        name: &'static str,
    ) -> Result<T, E> {
        match take(&mut self.fields, name) {
            None => Ok(T::default()),
            Some(value) => T::deserialize(value).map_err(E::custom),
        }
    }

    /// The other members as one struct (newtype variants such as `Event(EventFrame)`).
    pub(crate) fn rest<T: DeserializeOwned>(self) -> Result<T, E> {
        let mut map = Map::new();
        for (name, value) in self.fields {
            map.insert(name, value);
        }
        T::deserialize(Value::Object(map)).map_err(E::custom)
    }
}

/// Takes the member `name` out of `fields`.
fn take(fields: &mut Vec<(String, Value)>, name: &str) -> Option<Value> {
    let i = fields.iter().position(|(n, _)| n == name)?;
    Some(fields.swap_remove(i).1)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

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
            r#"{"type":"event","session":"s1","seq":1,"at":0,"event":{"kind":"queued"}}"#,
            "[]",
        ] {
            assert!(decode_server(text).is_err(), "{text}");
        }
    }
}
