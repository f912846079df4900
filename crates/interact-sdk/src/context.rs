//! What the host page says about a chat: the page the visitor is on and attributes the
//! website sets (`Interact.setAttributes` in the loader). Sent once, in `start_chat`;
//! the server stores it in the session's `started` event for the agent to see.
//!
//! Both ends check the same bounds ([`ChatContext::validate`]): the widget refuses an
//! oversize attribute before anything is sent, the server refuses a `start_chat` whose
//! context breaks them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::form::is_forbidden_char;
use crate::json::json_struct;
use crate::limits::{
    MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES, MAX_PAGE_URL_CHARS,
};

/// The page and attributes of a chat. Always shown as text, never as markup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatContext {
    /// The host page's address without its fragment (`http:` or `https:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// Attributes set by the website, by key (ordered, so the agent sees them sorted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// Why a [`ChatContext`] is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// More attributes than [`MAX_ATTRIBUTES`].
    #[error("more than {max} attributes")]
    TooManyAttributes {
        /// The maximum.
        max: usize,
    },
    /// An attribute key is empty, longer than [`MAX_ATTRIBUTE_KEY_CHARS`] or holds control
    /// characters.
    #[error(
        "attribute key {key:?} is empty, longer than {max} characters or has control characters"
    )]
    InvalidKey {
        /// The key (cut to the maximum, for messages).
        key: String,
        /// The maximum length, in characters.
        max: usize,
    },
    /// An attribute value is longer than [`MAX_ATTRIBUTE_VALUE_CHARS`] or holds control
    /// characters.
    #[error("attribute {key:?}'s value is longer than {max} characters or has control characters")]
    InvalidValue {
        /// The attribute's key.
        key: String,
        /// The maximum length, in characters.
        max: usize,
    },
    /// The page address is longer than [`MAX_PAGE_URL_CHARS`], not `http(s)` or holds
    /// control characters or spaces.
    #[error("the page address is not an http(s) address of at most {max} characters")]
    InvalidPageUrl {
        /// The maximum length, in characters.
        max: usize,
    },
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Whether `key` may name an attribute.
pub fn valid_key(key: &str) -> bool {
    !key.trim().is_empty()
        && key.chars().count() <= MAX_ATTRIBUTE_KEY_CHARS
        && !key.chars().any(is_forbidden_char)
}

/// Whether `value` may be an attribute's value.
pub fn valid_value(value: &str) -> bool {
    value.chars().count() <= MAX_ATTRIBUTE_VALUE_CHARS && !value.chars().any(is_forbidden_char)
}

impl ChatContext {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.page_url.is_none() && self.attributes.is_empty()
    }

    /// Checks the bounds of protocol v1 (see [`crate::limits`]).
    pub fn validate(&self) -> Result<(), ContextError> {
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(ContextError::TooManyAttributes {
                max: MAX_ATTRIBUTES,
            });
        }
        for (key, value) in &self.attributes {
            if !valid_key(key) {
                return Err(ContextError::InvalidKey {
                    key: cut(key, MAX_ATTRIBUTE_KEY_CHARS),
                    max: MAX_ATTRIBUTE_KEY_CHARS,
                });
            }
            if !valid_value(value) {
                return Err(ContextError::InvalidValue {
                    key: key.clone(),
                    max: MAX_ATTRIBUTE_VALUE_CHARS,
                });
            }
        }
        if let Some(url) = &self.page_url {
            let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
            let scheme = lower.starts_with("http://") || lower.starts_with("https://");
            let clean = !url
                .chars()
                .any(|c| is_forbidden_char(c) || c.is_whitespace());
            if !scheme || !clean || url.chars().count() > MAX_PAGE_URL_CHARS {
                return Err(ContextError::InvalidPageUrl {
                    max: MAX_PAGE_URL_CHARS,
                });
            }
        }
        Ok(())
    }
}

json_struct!(ChatContext {
    page_url: optional,
    attributes: default,
});

#[cfg(test)]
mod tests {
    use super::*;

    fn with(attrs: &[(&str, &str)]) -> ChatContext {
        ChatContext {
            page_url: Some("https://shop.example/cart?x=1".into()),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn bounds_are_inclusive() {
        let key = "k".repeat(MAX_ATTRIBUTE_KEY_CHARS);
        let value = "ü".repeat(MAX_ATTRIBUTE_VALUE_CHARS);
        assert_eq!(with(&[(&key, &value)]).validate(), Ok(()));
        let many: Vec<(String, String)> = (0..MAX_ATTRIBUTES)
            .map(|i| (format!("k{i}"), "v".into()))
            .collect();
        let mut c = ChatContext {
            page_url: None,
            attributes: many.into_iter().collect(),
        };
        assert_eq!(c.validate(), Ok(()));
        c.attributes.insert("one-more".into(), "v".into());
        assert_eq!(
            c.validate(),
            Err(ContextError::TooManyAttributes { max: 20 })
        );
    }

    #[test]
    fn oversize_and_control_characters_are_refused() {
        let long_key = "k".repeat(MAX_ATTRIBUTE_KEY_CHARS + 1);
        assert!(matches!(
            with(&[(&long_key, "v")]).validate(),
            Err(ContextError::InvalidKey { max: 40, .. })
        ));
        assert!(matches!(
            with(&[(" ", "v")]).validate(),
            Err(ContextError::InvalidKey { .. })
        ));
        let long_value = "v".repeat(MAX_ATTRIBUTE_VALUE_CHARS + 1);
        assert_eq!(
            with(&[("plan", &long_value)]).validate(),
            Err(ContextError::InvalidValue {
                key: "plan".into(),
                max: 200
            })
        );
        assert!(with(&[("plan", "a\u{202E}b")]).validate().is_err());
        let mut c = with(&[]);
        c.page_url = Some("javascript:alert(1)".into());
        assert!(matches!(
            c.validate(),
            Err(ContextError::InvalidPageUrl { .. })
        ));
        c.page_url = Some(format!(
            "https://a.example/{}",
            "p".repeat(MAX_PAGE_URL_CHARS)
        ));
        assert!(c.validate().is_err());
    }
}
