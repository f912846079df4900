//! Embed codes: the public, unguessable identifier of one service or user on a website.
//!
//! Textual form: `ie1_` followed by 26 characters of base32 (RFC 4648 alphabet, lowercase,
//! no padding) encoding 128 bits from a cryptographic random source, for example
//! `ie1_kq3mz7d2xw5a6ncrj4t2hb7vsy`. The trailing two bits of the last character are
//! zero, so each 128-bit value has exactly one spelling. Parsing accepts upper case and
//! surrounding white space (pasted snippets) and normalises to the canonical form.
//!
//! The code is not a secret (it stands in the host page's HTML) but it cannot be guessed
//! or enumerated: which websites may use it is decided by the Domain Template it is bound
//! to on the server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const PREFIX: &str = "ie1_";
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const BODY_LEN: usize = 26;

/// Why a string is not an embed code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedCodeError {
    /// The string does not start with `ie1_`.
    #[error("embed code must start with \"ie1_\"")]
    Prefix,
    /// The part after the prefix is not 26 characters long.
    #[error("embed code must have 26 characters after \"ie1_\"")]
    Length,
    /// A character outside the base32 alphabet, or non-zero padding bits.
    #[error("embed code holds a character outside a-z and 2-7")]
    Alphabet,
}

/// An embed code (see the [module docs](self) for the format).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmbedCode(String);

impl EmbedCode {
    /// Builds the code for 128 random bits, which the caller draws from a CSPRNG.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut out = String::with_capacity(PREFIX.len() + BODY_LEN);
        out.push_str(PREFIX);
        let mut acc: u32 = 0;
        let mut bits = 0;
        for b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
        }
        Self(out)
    }

    /// The 128 bits the code stands for.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut i = 0;
        for c in self.0[PREFIX.len()..].bytes() {
            acc = (acc << 5) | decode_char(c).unwrap_or(0);
            bits += 5;
            if bits >= 8 && i < 16 {
                bits -= 8;
                out[i] = (acc >> bits) as u8;
                i += 1;
            }
        }
        out
    }

    /// The canonical text of the code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn decode_char(c: u8) -> Option<u32> {
    match c {
        b'a'..=b'z' => Some(u32::from(c - b'a')),
        b'2'..=b'7' => Some(u32::from(c - b'2') + 26),
        _ => None,
    }
}

impl FromStr for EmbedCode {
    type Err = EmbedCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let body = s.strip_prefix(PREFIX).ok_or(EmbedCodeError::Prefix)?;
        if body.len() != BODY_LEN {
            return Err(EmbedCodeError::Length);
        }
        let mut last = 0;
        for c in body.bytes() {
            last = decode_char(c).ok_or(EmbedCodeError::Alphabet)?;
        }
        // 26 * 5 = 130 bits carry 128: the last character's two low bits must be zero.
        if last & 0b11 != 0 {
            return Err(EmbedCodeError::Alphabet);
        }
        Ok(Self(s))
    }
}

impl TryFrom<String> for EmbedCode {
    type Error = EmbedCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EmbedCode> for String {
    fn from(c: EmbedCode) -> String {
        c.0
    }
}

impl fmt::Display for EmbedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmbedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmbedCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn round_trips_bytes() {
        for seed in 0u8..=255 {
            let bytes: [u8; 16] =
                std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 17));
            let code = EmbedCode::from_random(bytes);
            assert_eq!(code.as_str().len(), 30);
            let parsed: EmbedCode = code.as_str().parse().expect("own output parses");
            assert_eq!(parsed, code);
            assert_eq!(parsed.to_bytes(), bytes);
        }
    }

    #[test]
    fn parsing_normalises_and_rejects() {
        let code = EmbedCode::from_random([7; 16]);
        let shouted = format!(
            "  {}\n",
            code.as_str().to_uppercase().replace("IE1_", "ie1_")
        );
        assert_eq!(shouted.parse::<EmbedCode>(), Ok(code.clone()));
        assert_eq!("ie2_aaaa".parse::<EmbedCode>(), Err(EmbedCodeError::Prefix));
        assert_eq!("ie1_abc".parse::<EmbedCode>(), Err(EmbedCodeError::Length));
        let mut bad = code.as_str().to_owned();
        bad.replace_range(5..6, "1");
        assert_eq!(bad.parse::<EmbedCode>(), Err(EmbedCodeError::Alphabet));
        // Non-canonical padding bits: 'b' is 1, which sets a padding bit.
        let mut padded = code.as_str().to_owned();
        padded.replace_range(29..30, "b");
        assert_eq!(padded.parse::<EmbedCode>(), Err(EmbedCodeError::Alphabet));
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<EmbedCode>("\"ie1_<script>\"").is_err());
        let code = EmbedCode::from_random([1; 16]);
        let json = serde_json::to_string(&code).expect("serialises");
        assert_eq!(
            serde_json::from_str::<EmbedCode>(&json).expect("parses"),
            code
        );
    }
}
