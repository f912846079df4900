//! Identified visitors: a website that knows who its visitor is (signed in) tells the
//! widget (`Interact.identify({id, name, email, hash})` in the loader). `hash` is the
//! lowercase hex HMAC-SHA256 of `id` under the embed code's identity secret, computed by
//! the website's server, so the browser cannot claim someone else's id. The visitor sends
//! it in an `identify` frame; the server checks the hash and answers with the visitor's
//! earlier conversations (`history`), or refuses it (`identity_refused`). Chats started
//! afterwards on the connection are stored under the verified id.
//!
//! This module holds the shapes and the bounds both ends check; the HMAC itself is the
//! server's (it holds the secret).

use crate::form::{is_blank, is_forbidden_char};
use crate::limits::MAX_VISITOR_ID_CHARS;

/// Length of an identity hash: 32 bytes as hex.
pub const HASH_HEX_CHARS: usize = 64;

/// Why an identity is refused before it is sent (and by the server, as `invalid_field`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The visitor id is empty, has nothing visible, is longer than
    /// [`MAX_VISITOR_ID_CHARS`] or holds control characters.
    #[error(
        "the visitor id must have 1 to {MAX_VISITOR_ID_CHARS} characters, something visible and no control characters"
    )]
    InvalidId,
    /// The hash is not 64 hexadecimal digits.
    #[error("the hash must be 64 hexadecimal digits (HMAC-SHA256)")]
    InvalidHash,
}

/// Checks a visitor id and its hash against the protocol's bounds.
pub fn validate(visitor: &str, hash: &str) -> Result<(), IdentityError> {
    let n = visitor.chars().count();
    if n == 0
        || n > MAX_VISITOR_ID_CHARS
        || is_blank(visitor)
        || visitor.chars().any(is_forbidden_char)
    {
        return Err(IdentityError::InvalidId);
    }
    if hash.len() != HASH_HEX_CHARS || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(IdentityError::InvalidHash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn bounds() {
        let hash = "a".repeat(64);
        assert_eq!(validate("user-42", &hash), Ok(()));
        assert_eq!(validate("u", &"0F".repeat(32)), Ok(()));
        assert_eq!(validate(&"x".repeat(128), &hash), Ok(()));
        for bad in ["", "   ", "a\u{0}b", "a\nb", &"x".repeat(129)] {
            assert_eq!(
                validate(bad, &hash),
                Err(IdentityError::InvalidId),
                "{bad:?}"
            );
        }
        for bad in ["", &"a".repeat(63), &"a".repeat(65), &"g".repeat(64)] {
            assert_eq!(
                validate("u", bad),
                Err(IdentityError::InvalidHash),
                "{bad:?}"
            );
        }
    }
}
