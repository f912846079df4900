//! Secrets: password hashes (Argon2id), random tokens, and token hashes (SHA-256).
//!
//! Tokens (agent sign-in, visitor resume) carry 256 random bits and are stored only as
//! SHA-256 hashes; a stolen database does not let anyone resume a session or sign in.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Hashes a password with Argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).unwrap_or_else(|e| unreachable!("16-byte salt: {e}"));
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|e| unreachable!("argon2 with default parameters: {e}"))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash never matches.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// 256 random bits from the OS, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// 128 random bits from the OS.
pub fn random_128() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// SHA-256 of a secret, hex-encoded: what is stored in place of the secret.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two hashes without an early exit.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_salts_differ() {
        let a = hash_password("correct horse");
        let b = hash_password("correct horse");
        assert_ne!(a, b);
        assert!(verify_password(&a, "correct horse"));
        assert!(!verify_password(&a, "wrong"));
        assert!(!verify_password("not a hash", "correct horse"));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token());
        assert_eq!(token_hash("abc").len(), 64);
        assert!(hashes_equal(&token_hash("abc"), &token_hash("abc")));
        assert!(!hashes_equal(&token_hash("abc"), &token_hash("abd")));
    }
}
