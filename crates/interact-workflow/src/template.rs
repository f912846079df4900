//! Text with `{{parameter}}` placeholders, checked when the workflow is loaded and filled
//! in from a task's parameters when a step runs.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Deserializer};

/// A task's parameters: name to value.
pub type Params = BTreeMap<String, String>;

/// Longest parameter name.
pub const MAX_PARAM_NAME: usize = 64;

/// Whether `name` is a valid parameter name (and label): 1 to 64 ASCII letters, digits,
/// `_`, `-` or `.`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PARAM_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Param(String),
}

/// Text with `{{name}}` placeholders. A parameter that is not set is replaced by nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// How a parameter's value is written into the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// As it is (chat messages: the widget shows text, never markup).
    Plain,
    /// Percent-encoded, every byte but `A-Z a-z 0-9 - . _ ~` (URLs).
    Url,
    /// Control characters removed (HTTP header values).
    Header,
    /// Escaped as inside a JSON string, without the quotes (`"` as `\"`, control
    /// characters as `\u...`): a text body of type JSON.
    JsonString,
}

/// The bytes left alone in a URL component: RFC 3986 "unreserved".
pub const URL_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Template {
    /// Parses `{{name}}` placeholders; `{{` without a matching `}}` or a bad name is an
    /// error.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("{{{{ without }}}} in {source:?}"))?;
            let name = after[..close].trim();
            if !is_valid_name(name) {
                return Err(format!(
                    "{{{{{name}}}}} in {source:?}: parameter names are 1 to {MAX_PARAM_NAME} letters, digits, _, - or ."
                ));
            }
            pieces.push(Piece::Param(name.to_owned()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Byte offset of the first placeholder in the source, if any.
    pub fn first_placeholder(&self) -> Option<usize> {
        self.source.find("{{")
    }

    /// The parameters the template reads.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Param(n) => Some(n.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills in the placeholders.
    pub fn render(&self, params: &Params, escape: Escape) -> String {
        let mut out = String::with_capacity(self.source.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Param(name) => {
                    let value = params.get(name).map(String::as_str).unwrap_or_default();
                    match escape {
                        Escape::Plain => out.push_str(value),
                        Escape::Url => out.extend(utf8_percent_encode(value, URL_ESCAPE)),
                        Escape::Header => out.extend(value.chars().filter(|c| !c.is_control())),
                        Escape::JsonString => {
                            let quoted = serde_json::Value::from(value).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                    }
                }
            }
        }
        out
    }
}

impl Template {
    /// Fills the placeholders of a URL, each value percent-encoded ([`Escape::Url`]). A
    /// value that makes a whole segment of the path `.` or `..` is refused: the called
    /// server would take it as a step in or up its path, not as a value.
    pub fn render_url(&self, params: &Params) -> Result<String, String> {
        let mut out = String::with_capacity(self.source.len());
        let mut filled: Vec<std::ops::Range<usize>> = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Param(name) => {
                    let value = params.get(name).map(String::as_str).unwrap_or_default();
                    let start = out.len();
                    out.extend(utf8_percent_encode(value, URL_ESCAPE));
                    filled.push(start..out.len());
                }
            }
        }
        // The path: after `scheme://host`, up to the query or fragment (values cannot
        // add a `/`, `?` or `#`: they are percent-encoded).
        let authority = out.find("://").map_or(0, |i| i + 3);
        let Some(path) = out[authority..].find('/').map(|i| authority + i) else {
            return Ok(out);
        };
        let end = out[path..].find(['?', '#']).map_or(out.len(), |i| path + i);
        let mut at = path + 1;
        for segment in out[path + 1..end].split('/') {
            let range = at..at + segment.len();
            if matches!(segment, "." | "..")
                && filled
                    .iter()
                    .any(|f| f.start < range.end.max(range.start + 1) && range.start < f.end)
            {
                return Err(format!(
                    "a parameter makes the path segment {segment:?} in {out:?}"
                ));
            }
            at = range.end + 1;
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Turns the JSON value at `pointer` into a parameter value: strings as they are, numbers
/// and booleans as written, `null` as empty, arrays and objects as compact JSON. `None`
/// if the pointer finds nothing.
pub fn json_param(body: &serde_json::Value, pointer: &str) -> Option<String> {
    Some(match body.pointer(pointer)? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Fills the placeholders of every string inside a JSON body template, so that values
/// are always JSON-escaped (a visitor's answer cannot break out of its string).
pub fn render_json(value: &serde_json::Value, params: &Params) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => match Template::parse(s) {
            Ok(t) => Value::String(t.render(params, Escape::Plain)),
            Err(_) => value.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| render_json(v, params)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), render_json(v, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn placeholders_are_filled() {
        let t =
            Template::parse("Hi {{visitor_name}}, you are number {{ pos }}.{{x}}").expect("valid");
        let p = params(&[("visitor_name", "Ana"), ("pos", "3")]);
        assert_eq!(t.render(&p, Escape::Plain), "Hi Ana, you are number 3.");
        assert_eq!(t.params().collect::<Vec<_>>(), ["visitor_name", "pos", "x"]);
        assert_eq!(
            Template::parse("no placeholders")
                .expect("ok")
                .first_placeholder(),
            None
        );
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let t = Template::parse("https://crm.example/find?email={{e}}&q={{q}}").expect("ok");
        let p = params(&[("e", "a+b@x.de"), ("q", "a b/../&c=ü")]);
        assert_eq!(
            t.render(&p, Escape::Url),
            "https://crm.example/find?email=a%2Bb%40x.de&q=a%20b%2F..%2F%26c%3D%C3%BC"
        );
    }

    #[test]
    fn dot_segments_from_values_are_refused() {
        let t = Template::parse("https://crm.example/api/{{a}}/info?x={{a}}").expect("ok");
        for (value, ok) in [
            ("..", false),
            (".", false),
            ("...", true),
            ("a..b", true),
            ("../etc", true), // one segment: `..%2Fetc`
            ("", true),
        ] {
            let r = t.render_url(&params(&[("a", value)]));
            assert_eq!(r.is_ok(), ok, "{value:?}: {r:?}");
        }
        let two = Template::parse("https://crm.example/{{a}}{{b}}/x").expect("ok");
        assert!(two.render_url(&params(&[("a", "."), ("b", ".")])).is_err());
        // In the query a dot is only a dot.
        let q = Template::parse("https://crm.example/find?q={{a}}").expect("ok");
        assert_eq!(
            q.render_url(&params(&[("a", "..")])).as_deref(),
            Ok("https://crm.example/find?q=..")
        );
        // A literal `..` the workflow's author wrote is theirs.
        let lit = Template::parse("https://crm.example/a/../b/{{x}}").expect("ok");
        assert!(lit.render_url(&params(&[("x", "y")])).is_ok());
    }

    #[test]
    fn json_string_values_cannot_break_out() {
        let t = Template::parse(r#"{"name":"{{n}}"}"#).expect("ok");
        let out = t.render(
            &params(&[("n", "a\",\"admin\":true,\"x\":\"\n")]),
            Escape::JsonString,
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(v["name"], "a\",\"admin\":true,\"x\":\"\n");
        assert!(v.get("admin").is_none());
    }

    #[test]
    fn header_values_lose_control_characters() {
        let t = Template::parse("Bearer {{t}}").expect("ok");
        let p = params(&[("t", "abc\r\nX-Evil: 1")]);
        assert_eq!(t.render(&p, Escape::Header), "Bearer abcX-Evil: 1");
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(
            Template::parse("Hi {{name")
                .expect_err("open")
                .contains("without")
        );
        assert!(Template::parse("Hi {{}}").is_err());
        assert!(Template::parse("Hi {{a b}}").is_err());
        assert!(Template::parse("Hi }} {").is_ok());
    }

    #[test]
    fn json_bodies_and_pointers() {
        let body = serde_json::json!({"q": "{{a}}", "n": [1, "{{b}}"], "t": true});
        let p = params(&[("a", "say \"hi\""), ("b", "x")]);
        let out = render_json(&body, &p);
        assert_eq!(
            out,
            serde_json::json!({"q": "say \"hi\"", "n": [1, "x"], "t": true})
        );
        let v = serde_json::json!({"a": {"b": "s", "n": 4, "z": null, "o": {"k": 1}}});
        assert_eq!(json_param(&v, "/a/b").as_deref(), Some("s"));
        assert_eq!(json_param(&v, "/a/n").as_deref(), Some("4"));
        assert_eq!(json_param(&v, "/a/z").as_deref(), Some(""));
        assert_eq!(json_param(&v, "/a/o").as_deref(), Some("{\"k\":1}"));
        assert_eq!(json_param(&v, "/a/missing"), None);
    }
}
