//! The syntax of an email address: the HTML standard's "valid e-mail address", what a
//! browser's `<input type="email">` accepts, with RFC 5321's length of the local part.

use crate::limits::MAX_EMAIL_LOCAL_BYTES;

/// The longest label of a domain, in bytes (RFC 1034).
const MAX_LABEL_BYTES: usize = 63;

/// Whether `email` (already trimmed) is a valid e-mail address in the sense of the HTML
/// standard (WHATWG, "valid e-mail address"), that is whether it matches
///
/// ```text
/// ^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$
/// ```
///
/// and its local part is at most [`MAX_EMAIL_LOCAL_BYTES`] long. (The length of the whole
/// address is checked by the caller.) ASCII only: quoted local parts, comments, domain
/// literals and internationalised addresses are refused, as browsers refuse them.
pub(super) fn is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= MAX_EMAIL_LOCAL_BYTES
        && local.bytes().all(is_local_byte)
        && domain.split('.').all(is_label)
}

/// The characters of the local part: `atext` and the dot, in any order.
fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

/// A domain label: 1 to 63 letters, digits and hyphens, first and last not a hyphen.
fn is_label(label: &str) -> bool {
    let b = label.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= MAX_LABEL_BYTES
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::form::{FieldError, validate_email};
    use crate::limits::MAX_EMAIL_BYTES;

    /// `local@domain` with the local part `l` bytes and the whole address `total` bytes
    /// long, of labels of at most 63 characters.
    fn sized(l: usize, total: usize) -> String {
        let mut domain = String::new();
        let mut left = total - l - 1;
        while left > 0 {
            if !domain.is_empty() {
                domain.push('.');
                left -= 1;
            }
            // Never leave a single character for a label after a dot.
            let n = if left > 63 { 63.min(left - 2) } else { left };
            domain.push_str(&"d".repeat(n));
            left -= n;
        }
        let email = format!("{}@{domain}", "l".repeat(l));
        assert_eq!(email.len(), total);
        email
    }

    #[test]
    fn accepted() {
        let cases: &[(&str, &str)] = &[
            ("ann@example.com", "plain"),
            ("first.last+tag@sub.example.co.uk", "dots and plus"),
            ("o'brien@example.ie", "apostrophe"),
            ("!#$%&'*+/=?^_`{|}~-@example.org", "every atext symbol"),
            ("a@b", "one letter each"),
            ("ann@localhost", "a single label, as browsers take it"),
            ("ann@example", "a single label"),
            ("ann@192.168.0.1", "digits only labels"),
            ("x@a-b.io", "an inner hyphen"),
            ("x@a--b.io", "two inner hyphens"),
            ("x@1a.io", "a label that starts with a digit"),
            ("ANN@EXAMPLE.COM", "capitals"),
            (".ann@example.com", "a leading dot in the local part"),
            ("ann.@example.com", "a trailing dot in the local part"),
            ("a..b@example.com", "two dots in the local part"),
            ("  ann@example.com\n", "trimmed first"),
            ("xn--bcher-kva.de@xn--bcher-kva.de", "punycode"),
        ];
        for (email, why) in cases {
            assert_eq!(
                validate_email(email).as_deref(),
                Ok(email.trim()),
                "{why}: {email:?}"
            );
        }
    }

    #[test]
    fn refused() {
        let cases: &[(&str, &str)] = &[
            ("plain", "no @"),
            ("@example.com", "no local part"),
            ("ann@", "no domain"),
            ("ann@@example.com", "two @"),
            ("ann@b@example.com", "an @ in the domain"),
            ("\"quoted\"@example.com", "a quoted local part"),
            (
                "\"quoted local\"@example.org",
                "a quoted local part with a space",
            ),
            ("ann smith@example.com", "a space in the local part"),
            ("ann@exa mple.com", "a space in the domain"),
            ("ann@-example.com", "a leading hyphen in a label"),
            ("ann@example-.com", "a trailing hyphen in a label"),
            ("ann@example.-com", "a leading hyphen in the last label"),
            ("ann@example.com-", "a trailing hyphen in the last label"),
            ("ann@example..com", "an empty label"),
            ("ann@.example.com", "an empty first label"),
            ("ann@example.com.", "a trailing dot"),
            ("ann@[192.0.2.1]", "a domain literal"),
            ("Ann <ann@example.com>", "a display name"),
            ("ann@ex!ample.com", "a symbol in the domain"),
            ("ann@ex_ample.com", "an underscore in the domain"),
            ("jörg@example.de", "non-ASCII in the local part"),
            ("joerg@bücher.de", "non-ASCII in the domain"),
            ("用户@例子.广告", "non-ASCII throughout"),
            ("ann@example.com\u{200B}", "a zero-width space"),
            ("ann@exam\u{7}ple.com", "a control character"),
            ("ann(comment)@example.com", "a comment"),
            ("ann\\@example.com", "a backslash"),
        ];
        for (email, why) in cases {
            assert_eq!(
                validate_email(email),
                Err(FieldError::InvalidEmail),
                "{why}: {email:?}"
            );
        }
        assert_eq!(validate_email(""), Err(FieldError::Required));
        assert_eq!(validate_email(" \t "), Err(FieldError::Required));
    }

    #[test]
    fn lengths() {
        let label = |n| format!("ann@{}.com", "d".repeat(n));
        assert!(validate_email(&label(63)).is_ok(), "a label of 63");
        assert_eq!(
            validate_email(&label(64)),
            Err(FieldError::InvalidEmail),
            "a label of 64"
        );
        assert!(validate_email(&sized(64, 80)).is_ok(), "a local part of 64");
        assert_eq!(
            validate_email(&sized(65, 80)),
            Err(FieldError::InvalidEmail),
            "a local part of 65"
        );
        assert!(validate_email(&sized(64, 254)).is_ok(), "254 in all");
        assert_eq!(
            validate_email(&sized(64, 255)),
            Err(FieldError::TooLong {
                max: MAX_EMAIL_BYTES
            }),
            "255 in all"
        );
    }
}
