//! The pre-chat form and its validation, shared by the widget (errors next to each field)
//! and the server (the same verdict, authoritative).

use std::fmt;

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Deserializer, Serialize, de};

use crate::limits::{MAX_DISPLAY_NAME_CHARS, MAX_EMAIL_BYTES, MAX_TEXT_CHARS};
use crate::tagged::Tagged;

/// What a visitor enters before a chat starts, as the UI collects it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreChatForm {
    /// The name the agent will see.
    pub display_name: String,
    /// Where the visitor can be reached.
    pub email: String,
    /// The privacy policy version the visitor consented to, or `None` while the consent
    /// box is unticked. The UI puts in the version it showed.
    pub consent: Option<String>,
    /// An optional first message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
}

/// A form that passed validation: trimmed, checked, ready for `start_chat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidForm {
    /// Trimmed display name, 1 to 80 characters, no control characters.
    pub display_name: String,
    /// Trimmed, syntactically valid email address.
    pub email: String,
    /// The policy version consented to; equals the current one.
    pub consent_version: String,
    /// Trimmed first message, `None` if empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
}

/// A field of the pre-chat form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Display name.
    DisplayName,
    /// Email address.
    Email,
    /// Privacy consent checkbox.
    Consent,
    /// Optional first message.
    FirstMessage,
    /// A field this version of the SDK does not know.
    #[serde(other)]
    Other,
}

/// What is wrong with one field. `code` on the wire; UIs translate it. (`Deserialize` is
/// implemented by hand, see `tagged.rs`.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldError {
    /// The field is required but empty.
    #[error("required")]
    Required,
    /// Longer than allowed.
    #[error("longer than {max} characters")]
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// Holds control or text-direction characters.
    #[error("contains control characters")]
    ControlCharacters,
    /// Not an email address.
    #[error("not a valid email address")]
    InvalidEmail,
    /// The consent box was not ticked.
    #[error("consent to the privacy policy is required")]
    ConsentRequired,
    /// Consent was given to another version of the policy than the current one.
    #[error("the privacy policy has changed; please read and accept version {current}")]
    ConsentOutdated {
        /// The current policy version.
        current: String,
    },
    /// An error this version of the SDK does not know.
    #[error("invalid")]
    Unknown,
}

/// Every problem found in a form, by field, in field order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormErrors {
    /// One entry per invalid field.
    pub fields: Vec<FieldProblem>,
}

/// One invalid field and why: on the wire one object, `{"field": ..., "code": ..., ...}`.
/// (`Deserialize` is implemented by hand, see `tagged.rs`.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field.
    pub field: Field,
    /// What is wrong.
    #[serde(flatten)]
    pub error: FieldError,
}

impl FieldError {
    /// The error named by the tag (`code`) of `f`, with the fields of its variant.
    fn from_tagged<E: de::Error>(f: &mut Tagged<E>) -> Result<Self, E> {
        Ok(match f.tag() {
            "required" => Self::Required,
            "too_long" => Self::TooLong {
                max: f.field("max")?,
            },
            "control_characters" => Self::ControlCharacters,
            "invalid_email" => Self::InvalidEmail,
            "consent_required" => Self::ConsentRequired,
            "consent_outdated" => Self::ConsentOutdated {
                current: f.field("current")?,
            },
            _ => Self::Unknown,
        })
    }
}

impl<'de> Deserialize<'de> for FieldError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_tagged(&mut Tagged::read(deserializer, "code")?)
    }
}

impl<'de> Deserialize<'de> for FieldProblem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut f = Tagged::read(deserializer, "code")?;
        Ok(Self {
            field: f.field("field")?,
            error: FieldError::from_tagged(&mut f)?,
        })
    }
}

impl FormErrors {
    /// The error for `field`, if it has one.
    pub fn get(&self, field: Field) -> Option<&FieldError> {
        self.fields
            .iter()
            .find(|p| p.field == field)
            .map(|p| &p.error)
    }

    fn push(&mut self, field: Field, error: FieldError) {
        self.fields.push(FieldProblem { field, error });
    }
}

impl fmt::Display for FormErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{:?}: {}", p.field, p.error)?;
        }
        Ok(())
    }
}

impl std::error::Error for FormErrors {}

/// Whether `c` must not appear in names and one-line fields: C0/C1 controls and the
/// Unicode bidirectional overrides and isolates, which can make a name display as
/// something else.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` must not appear in chat text: as [`is_forbidden_char`], but line breaks and
/// tabs are allowed.
pub fn is_forbidden_text_char(c: char) -> bool {
    !matches!(c, '\n' | '\r' | '\t') && is_forbidden_char(c)
}

/// Validates a display name: trimmed, 1 to 80 characters, no control characters.
pub fn validate_display_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::Required);
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(FieldError::TooLong {
            max: MAX_DISPLAY_NAME_CHARS,
        });
    }
    if name.chars().any(is_forbidden_char) {
        return Err(FieldError::ControlCharacters);
    }
    Ok(name.to_owned())
}

/// Validates an email address.
///
/// The local part follows RFC 5322/6531 (dot-atoms, quoted strings, UTF-8). The domain
/// must be a host name of at least two labels, each of letters (any script, so
/// internationalised domains pass as typed), digits and inner hyphens, 1 to 63 bytes, and a
/// top-level label that is not all digits. Domain literals (`[192.0.2.1]`) and display
/// names (`Ann <ann@example.com>`) are refused: they are valid RFC syntax but not what a
/// contact form wants.
pub fn validate_email(email: &str) -> Result<String, FieldError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(FieldError::Required);
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(FieldError::TooLong {
            max: MAX_EMAIL_BYTES,
        });
    }
    if email.chars().any(is_forbidden_char) {
        return Err(FieldError::InvalidEmail);
    }
    let options = Options {
        minimum_sub_domains: 2,
        allow_domain_literal: false,
        allow_display_text: false,
    };
    let parsed =
        EmailAddress::parse_with_options(email, options).map_err(|_| FieldError::InvalidEmail)?;
    let labels: Vec<&str> = parsed.domain().split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c == '-' || c.is_alphanumeric())
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| !t.chars().all(|c| c.is_ascii_digit()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
        return Err(FieldError::InvalidEmail);
    }
    Ok(email.to_owned())
}

/// Validates chat text (also the optional first message): trimmed, not empty, at most
/// [`MAX_TEXT_CHARS`] characters, no control characters other than line breaks and tabs.
pub fn validate_text(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldError::Required);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError::TooLong {
            max: MAX_TEXT_CHARS,
        });
    }
    if text.chars().any(is_forbidden_text_char) {
        return Err(FieldError::ControlCharacters);
    }
    Ok(text.to_owned())
}

impl PreChatForm {
    /// Checks every field against the rules and the current privacy policy version, and
    /// returns either the cleaned form or all problems at once.
    pub fn validate(&self, current_policy_version: &str) -> Result<ValidForm, FormErrors> {
        let mut errors = FormErrors::default();
        let display_name = validate_display_name(&self.display_name)
            .map_err(|e| errors.push(Field::DisplayName, e))
            .ok();
        let email = validate_email(&self.email)
            .map_err(|e| errors.push(Field::Email, e))
            .ok();
        match self.consent.as_deref() {
            None => errors.push(Field::Consent, FieldError::ConsentRequired),
            Some(v) if v != current_policy_version => errors.push(
                Field::Consent,
                FieldError::ConsentOutdated {
                    current: current_policy_version.to_owned(),
                },
            ),
            Some(_) => {}
        }
        let first_message = match self.first_message.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => validate_text(m)
                .map_err(|e| errors.push(Field::FirstMessage, e))
                .ok(),
        };
        match (display_name, email) {
            (Some(display_name), Some(email)) if errors.fields.is_empty() => Ok(ValidForm {
                display_name,
                email,
                consent_version: current_policy_version.to_owned(),
                first_message,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn form() -> PreChatForm {
        PreChatForm {
            display_name: "  Ann Example ".into(),
            email: "ann@example.com".into(),
            consent: Some("2024-05".into()),
            first_message: Some("  Hello  ".into()),
        }
    }

    #[test]
    fn valid_form_is_cleaned() {
        let v = form().validate("2024-05").expect("valid");
        assert_eq!(v.display_name, "Ann Example");
        assert_eq!(v.first_message.as_deref(), Some("Hello"));
        let mut f = form();
        f.first_message = Some("   ".into());
        assert_eq!(f.validate("2024-05").expect("valid").first_message, None);
    }

    #[test]
    fn every_field_reports_its_error() {
        let f = PreChatForm {
            display_name: "\u{202E}evil".into(),
            email: "not-an-email".into(),
            consent: None,
            first_message: Some("x".repeat(MAX_TEXT_CHARS + 1)),
        };
        let e = f.validate("1").expect_err("invalid");
        assert_eq!(
            e.get(Field::DisplayName),
            Some(&FieldError::ControlCharacters)
        );
        assert_eq!(e.get(Field::Email), Some(&FieldError::InvalidEmail));
        assert_eq!(e.get(Field::Consent), Some(&FieldError::ConsentRequired));
        assert_eq!(
            e.get(Field::FirstMessage),
            Some(&FieldError::TooLong {
                max: MAX_TEXT_CHARS
            })
        );
        assert_eq!(e.fields.len(), 4);
    }

    #[test]
    fn consent_is_bound_to_the_version() {
        let e = form().validate("2025-01").expect_err("outdated");
        assert_eq!(
            e.get(Field::Consent),
            Some(&FieldError::ConsentOutdated {
                current: "2025-01".into()
            })
        );
    }

    #[test]
    fn display_name_bounds() {
        assert_eq!(validate_display_name("   "), Err(FieldError::Required));
        assert!(validate_display_name(&"é".repeat(80)).is_ok());
        assert_eq!(
            validate_display_name(&"é".repeat(81)),
            Err(FieldError::TooLong { max: 80 })
        );
        assert_eq!(
            validate_display_name("a\u{0007}b"),
            Err(FieldError::ControlCharacters)
        );
        // Markup is just text: allowed in a name, rendered as text by every UI.
        assert!(validate_display_name("<img src=x onerror=alert(1)>").is_ok());
    }

    #[test]
    fn emails() {
        for ok in [
            "ann@example.com",
            "first.last+tag@sub.example.co.uk",
            "jörg@bücher.de",
            "用户@例子.广告",
            "\"quoted local\"@example.org",
            "o'brien@example.ie",
            "x@a-b.io",
        ] {
            assert!(validate_email(ok).is_ok(), "{ok} should pass");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@example",
            "ann@@example.com",
            "ann@exa mple.com",
            "ann@-example.com",
            "ann@example-.com",
            "ann@example..com",
            "ann@[192.0.2.1]",
            "Ann <ann@example.com>",
            "ann@ex!ample.com",
            "ann@192.168.0.1",
            "a..b@example.com",
            "ann@exam\u{7}ple.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} should fail");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(matches!(
            validate_email(&long),
            Err(FieldError::TooLong { .. })
        ));
    }

    #[test]
    fn text_allows_newlines_not_controls() {
        assert_eq!(validate_text("a\nb").as_deref(), Ok("a\nb"));
        assert_eq!(validate_text("a\u{0}b"), Err(FieldError::ControlCharacters));
        assert_eq!(validate_text(" \n "), Err(FieldError::Required));
    }

    #[test]
    fn errors_serialise_with_codes() {
        let e = PreChatForm::default().validate("1").expect_err("empty");
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(json["fields"][0]["field"], "display_name");
        assert_eq!(json["fields"][0]["code"], "required");
        let back: FormErrors = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, e);
    }
}
