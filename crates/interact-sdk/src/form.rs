//! The pre-chat form and its validation, shared by the widget (errors next to each field)
//! and the server (the same verdict, authoritative).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::json::{
    FromJson, JsonError, JsonValue, deserialize_from_json, field, json_names, json_struct, tag,
};
use crate::limits::{
    MAX_DISPLAY_NAME_CHARS, MAX_EMAIL_BYTES, MAX_RATING_COMMENT_CHARS, MAX_RATING_SCORE,
    MAX_TEXT_CHARS, MIN_RATING_SCORE,
};

mod email;
mod visible;

pub use visible::{is_blank, is_invisible};

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
    /// Trimmed display name, 1 to 80 characters, something visible, no control characters.
    pub display_name: String,
    /// Trimmed email address, valid as the HTML standard defines it.
    pub email: String,
    /// The policy version consented to; equals the current one.
    pub consent_version: String,
    /// Trimmed first message, `None` if blank.
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

/// What is wrong with one field. `code` on the wire; UIs translate it. (Decoded by
/// [`FromJson`]; `Deserialize` delegates to it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldError {
    /// The field is required but empty, or holds nothing visible (only spaces, zero-width
    /// or other invisible characters: see [`is_invisible`]).
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
/// (Decoded by [`FromJson`]; `Deserialize` delegates to it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field.
    pub field: Field,
    /// What is wrong.
    #[serde(flatten)]
    pub error: FieldError,
}

impl FieldError {
    /// The error named by the tag (`code`) of `f`, with the fields of its variant (also
    /// a [`FieldProblem`]'s).
    fn from_coded<J: JsonValue>(f: &J) -> Result<Self, JsonError> {
        Ok(match tag(f, "code")?.as_str() {
            "required" => Self::Required,
            "too_long" => Self::TooLong {
                max: field(f, "max")?,
            },
            "control_characters" => Self::ControlCharacters,
            "invalid_email" => Self::InvalidEmail,
            "consent_required" => Self::ConsentRequired,
            "consent_outdated" => Self::ConsentOutdated {
                current: field(f, "current")?,
            },
            _ => Self::Unknown,
        })
    }
}

impl FromJson for FieldError {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        Self::from_coded(json)
    }
}

impl FromJson for FieldProblem {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        Ok(Self {
            field: field(json, "field")?,
            error: FieldError::from_coded(json)?,
        })
    }
}

deserialize_from_json!(FieldError, FieldProblem);

json_struct!(FormErrors { fields });
json_names!(Field {
    DisplayName = "display_name",
    Email = "email",
    Consent = "consent",
    FirstMessage = "first_message",
    Other = "other",
} else Other);

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

/// Validates a display name: trimmed, 1 to 80 characters, at least one of them visible
/// (see [`is_blank`]), no control characters.
pub fn validate_display_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if is_blank(name) {
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

/// Validates an email address: trimmed, not empty, at most [`MAX_EMAIL_BYTES`] bytes, and
/// a "valid e-mail address" as the HTML standard defines it (what a browser's
/// `<input type="email">` accepts: ASCII, no quoted local part, host name labels of 1 to
/// 63 letters, digits and inner hyphens), with a local part of at most
/// [`MAX_EMAIL_LOCAL_BYTES`](crate::limits::MAX_EMAIL_LOCAL_BYTES) bytes (RFC 5321).
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
    if !email::is_valid(email) {
        return Err(FieldError::InvalidEmail);
    }
    Ok(email.to_owned())
}

/// Validates chat text (also the optional first message): trimmed, something visible (see
/// [`is_blank`]), at most [`MAX_TEXT_CHARS`] characters, no control characters other than
/// line breaks and tabs.
pub fn validate_text(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    if is_blank(text) {
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

/// What is wrong with an end-of-chat rating (`rate`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RatingError {
    /// The score is not 1 to 5.
    #[error("the score must be 1 to 5")]
    Score,
    /// The comment is blank, too long (1000 characters) or holds control characters.
    #[error("comment: {0}")]
    Comment(FieldError),
}

/// A visitor's end-of-chat rating, checked: a score of 1 to 5 and an optional comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// 1 (bad) to 5 (very good).
    pub score: u8,
    /// The comment, trimmed: at most 1000 characters with something visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Checks an end-of-chat rating as the widget and the server do: the score 1 to 5, a
/// comment (if any) with the rules of a chat message ([`validate_text`]) but at most
/// [`MAX_RATING_COMMENT_CHARS`]. A comment given but with nothing visible is refused
/// (`required`): a UI leaves an empty comment out rather than send it.
pub fn validate_rating(score: u8, comment: Option<&str>) -> Result<Rating, RatingError> {
    if !(MIN_RATING_SCORE..=MAX_RATING_SCORE).contains(&score) {
        return Err(RatingError::Score);
    }
    let comment = comment
        .map(|c| {
            if c.trim().chars().count() > MAX_RATING_COMMENT_CHARS {
                return Err(RatingError::Comment(FieldError::TooLong {
                    max: MAX_RATING_COMMENT_CHARS,
                }));
            }
            validate_text(c).map_err(RatingError::Comment)
        })
        .transpose()?;
    Ok(Rating { score, comment })
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
        // Optional: a blank one (nothing visible) is none.
        let first_message = match self.first_message.as_deref() {
            None => None,
            Some(m) if is_blank(m) => None,
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

    /// Like [`validate`](Self::validate), for a message left while nobody can chat
    /// (`leave_message`): the message is required.
    pub fn validate_offline(&self, current_policy_version: &str) -> Result<ValidForm, FormErrors> {
        let blank = self.first_message.as_deref().is_none_or(is_blank);
        match self.validate(current_policy_version) {
            Ok(valid) if !blank => Ok(valid),
            Ok(_) => {
                let mut errors = FormErrors::default();
                errors.push(Field::FirstMessage, FieldError::Required);
                Err(errors)
            }
            Err(mut errors) => {
                if blank {
                    errors.push(Field::FirstMessage, FieldError::Required);
                }
                Err(errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_offline_message_needs_its_message() {
        let mut f = PreChatForm {
            display_name: "Vera".into(),
            email: "vera@example.com".into(),
            consent: Some("1".into()),
            first_message: Some(" Please call me back ".into()),
        };
        let v = f.validate_offline("1").expect("valid");
        assert_eq!(v.first_message.as_deref(), Some("Please call me back"));
        for blank in [None, Some(""), Some(" \u{200b} ")] {
            f.first_message = blank.map(str::to_owned);
            let e = f.validate_offline("1").expect_err("no message");
            assert_eq!(e.get(Field::FirstMessage), Some(&FieldError::Required));
            assert!(f.validate("1").is_ok(), "a chat may start without one");
        }
        // Every problem at once.
        f.display_name = String::new();
        let e = f.validate_offline("1").expect_err("two problems");
        assert_eq!(e.get(Field::DisplayName), Some(&FieldError::Required));
        assert_eq!(e.get(Field::FirstMessage), Some(&FieldError::Required));
    }

    #[test]
    fn ratings_take_scores_one_to_five_and_a_visible_bounded_comment() {
        assert_eq!(
            validate_rating(4, Some("  thanks \n")),
            Ok(Rating {
                score: 4,
                comment: Some("thanks".into())
            })
        );
        assert_eq!(validate_rating(1, None).map(|r| r.score), Ok(1));
        assert_eq!(validate_rating(5, None).map(|r| r.score), Ok(5));
        assert_eq!(validate_rating(0, None), Err(RatingError::Score));
        assert_eq!(validate_rating(6, Some("ok")), Err(RatingError::Score));
        assert_eq!(
            validate_rating(3, Some(" \u{200b} ")),
            Err(RatingError::Comment(FieldError::Required))
        );
        assert_eq!(
            validate_rating(3, Some("bad\u{202e}")),
            Err(RatingError::Comment(FieldError::ControlCharacters))
        );
        let long = "x".repeat(MAX_RATING_COMMENT_CHARS + 1);
        assert_eq!(
            validate_rating(3, Some(&long)),
            Err(RatingError::Comment(FieldError::TooLong { max: 1000 }))
        );
        let just = "\u{e9}".repeat(MAX_RATING_COMMENT_CHARS);
        assert!(validate_rating(3, Some(&just)).is_ok());
    }

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

    /// Names and messages that hold nothing visible, one per kind of invisible character.
    const BLANK: &[(&str, &str)] = &[
        ("\u{200B}", "zero-width space"),
        ("\u{200B}\u{200B}\u{200B}", "zero-width spaces"),
        (" \u{200C} ", "zero-width non-joiner between spaces"),
        ("\u{200D}", "zero-width joiner"),
        ("\u{2060}", "word joiner"),
        ("\u{FEFF}", "byte order mark"),
        ("\u{00AD}", "soft hyphen"),
        ("\u{200E}\u{200F}", "bidi marks"),
        ("\u{061C}", "Arabic letter mark"),
        ("\u{202A}\u{202C}", "bidi embedding"),
        ("\u{202E}", "bidi override"),
        ("\u{2066}\u{2069}", "bidi isolate"),
        ("\u{FE0F}", "variation selector"),
        ("\u{E0100}", "variation selector supplement"),
        ("\u{E0067}\u{E007F}", "tags"),
        ("\u{0301}\u{0308}", "combining marks alone"),
        ("\u{064E}", "an Arabic vowel mark alone"),
        ("\u{20DD}", "an enclosing mark alone"),
        ("\u{3000}", "ideographic space"),
        ("\u{00A0}", "no-break space"),
        ("\u{2003}\u{205F}\u{1680}", "other spaces"),
        ("\u{2028}\u{2029}", "line and paragraph separators"),
        ("\u{2800}", "braille blank"),
        ("\u{3164}", "Hangul filler"),
        ("\u{115F}\u{1160}", "Hangul choseong and jungseong fillers"),
        ("\u{FFA0}", "halfwidth Hangul filler"),
        ("\u{180E}", "Mongolian vowel separator"),
        ("\u{0007}", "a control character alone"),
        ("\u{200B}\u{3000}\u{2800}\u{FE0F}\u{0301}", "a mix"),
    ];

    /// Visible names and messages: what they become (trimmed as ever, nothing else).
    const SHOWN: &[(&str, &str)] = &[
        ("  Ann  ", "Ann"),
        ("😀", "😀"),
        ("👩\u{200D}💻", "👩\u{200D}💻"),
        ("1\u{FE0F}\u{20E3}", "1\u{FE0F}\u{20E3}"),
        ("\u{3000}李小龍\u{3000}", "李小龍"),
        (
            "\u{200F}مرحبا بالعالم\u{200F}",
            "\u{200F}مرحبا بالعالم\u{200F}",
        ),
        (" \u{200F}سارة\u{200F} ", "\u{200F}سارة\u{200F}"),
        ("e\u{0301}", "e\u{0301}"),
        ("\u{200B}x", "\u{200B}x"),
        ("·", "·"),
    ];

    #[test]
    fn names_and_messages_need_something_visible() {
        for (blank, what) in BLANK {
            assert_eq!(
                validate_display_name(blank),
                Err(FieldError::Required),
                "name: {what}"
            );
            assert_eq!(
                validate_text(blank),
                Err(FieldError::Required),
                "text: {what}"
            );
            // Optional: a blank first message is none, like an empty one.
            let mut f = form();
            f.first_message = Some((*blank).to_owned());
            let v = f.validate("2024-05").expect(what);
            assert_eq!(v.first_message, None, "first message: {what}");
            f.display_name = (*blank).to_owned();
            let e = f.validate("2024-05").expect_err(what);
            assert_eq!(e.fields.len(), 1, "{what}");
            assert_eq!(e.get(Field::DisplayName), Some(&FieldError::Required));
        }
        // However long: still required, not too long.
        let many = "\u{200B}".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(validate_display_name(&many), Err(FieldError::Required));
        assert_eq!(validate_text(&many), Err(FieldError::Required));
    }

    #[test]
    fn visible_names_and_messages_pass_trimmed() {
        for (input, cleaned) in SHOWN {
            assert_eq!(validate_display_name(input).as_deref(), Ok(*cleaned));
            assert_eq!(validate_text(input).as_deref(), Ok(*cleaned));
            let mut f = form();
            f.display_name = (*input).to_owned();
            f.first_message = Some((*input).to_owned());
            let v = f.validate("2024-05").expect(input);
            assert_eq!(v.display_name, *cleaned);
            assert_eq!(v.first_message.as_deref(), Some(*cleaned));
        }
        // Visible text with forbidden characters is refused for those, as before.
        assert_eq!(
            validate_display_name("\u{202E}evil"),
            Err(FieldError::ControlCharacters)
        );
        assert_eq!(
            validate_text("a\u{2066}b\u{2069}"),
            Err(FieldError::ControlCharacters)
        );
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
