//! `X-Twilio-Signature`: how Twilio signs every webhook it sends, and how to check it.
//!
//! Twilio's documentation ("Secure webhooks",
//! <https://www.twilio.com/docs/usage/webhooks/webhooks-security>) describes it:
//!
//! 1. take the full URL of the request, as Twilio requested it (scheme, host, port if
//!    any, path and query string);
//! 2. for a `POST`, sort the POST parameters by name and append each name and its value
//!    to the URL, with no delimiters (a name that occurs more than once appears once per
//!    value, its values sorted too, as Twilio's helper libraries do it);
//! 3. sign the result with HMAC-SHA1, the account's auth token as the key;
//! 4. encode the 20 bytes in Base64: that is the header's value.
//!
//! Sorting is by Unicode code point, which for Rust strings is their byte order. The
//! URL must be the one Twilio was configured with, byte for byte (behind a proxy: the
//! public one, not the one the server sees). Twilio may add parameters at any time:
//! verify over every parameter received, not a list of known ones.
//!
//! JSON-bodied webhooks (`bodySHA256`) do not occur for messaging webhooks and are not
//! handled here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use sha1::Sha1;

/// The header that carries the signature.
pub const HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

/// The MAC of `full_url` followed by the sorted parameters, keyed with the auth token.
fn mac(auth_token: &str, full_url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(full_url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_unstable();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The `X-Twilio-Signature` value Twilio sends with a `POST` of `params` to `full_url`,
/// signed with `auth_token`.
pub fn compute(auth_token: &str, full_url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(mac(auth_token, full_url, params).finalize().into_bytes())
}

/// Whether `signature` (the header's value) is Twilio's signature of a `POST` of
/// `params` to `full_url` with `auth_token`. The comparison takes the same time however
/// many bytes match; a header that is not Base64 of 20 bytes is simply wrong.
pub fn verify(
    auth_token: &str,
    full_url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(given) = BASE64.decode(signature.trim()) else {
        return false;
    };
    mac(auth_token, full_url, params)
        .verify_slice(&given)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Twilio's worked example, published with its documentation's signature-validation
    /// code samples ("Validate Signature of Request", https://www.twilio.com/docs/usage/
    /// security#validating-requests, now /docs/usage/webhooks/webhooks-security; the
    /// samples' source: github.com/TwilioDevEd/api-snippets,
    /// security/signature_validation/signature_validation.3.x.js and .7.x.java): auth
    /// token `12345`, this URL, these POST parameters, this signature. The helper
    /// libraries test the same vector (twilio-python tests/unit/test_request_validator.py).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn documented_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn the_documented_example_signs_as_documented() {
        assert_eq!(compute(TOKEN, URL, &documented_params()), EXPECTED);
        assert!(verify(TOKEN, URL, &documented_params(), EXPECTED));
    }

    #[test]
    fn the_order_parameters_arrive_in_does_not_matter() {
        let mut shuffled = documented_params();
        shuffled.reverse();
        shuffled.swap(0, 2);
        assert_eq!(compute(TOKEN, URL, &shuffled), EXPECTED);
    }

    #[test]
    fn repeated_names_are_sorted_by_value_too() {
        // twilio-python's vector for a repeated parameter (the same URL and token).
        let repeated = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            compute(TOKEN, URL, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn another_documented_vector_from_the_current_samples() {
        // The same example with the numbers the current samples use.
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(compute(TOKEN, URL, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn tampering_with_anything_breaks_the_signature() {
        let params = documented_params();
        // A changed value.
        let mut changed = params.clone();
        changed[2].1 = "9999".into();
        assert!(!verify(TOKEN, URL, &changed, EXPECTED));
        // A parameter added or removed.
        let mut added = params.clone();
        added.push(("Body".into(), "hi".into()));
        assert!(!verify(TOKEN, URL, &added, EXPECTED));
        assert!(!verify(TOKEN, URL, &params[1..], EXPECTED));
        // A value moved to another name (the concatenation has no delimiters, but the
        // sort order changes).
        let mut renamed = params.clone();
        renamed[0].0 = "CallSidX".into();
        assert!(!verify(TOKEN, URL, &renamed, EXPECTED));
        // Another URL: scheme, port, path, query.
        for url in [
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            "https://mycompany.com/myapp.php",
        ] {
            assert!(!verify(TOKEN, url, &params, EXPECTED), "{url}");
        }
        // Another token.
        assert!(!verify("54321", URL, &params, EXPECTED));
        // A signature that is not one.
        for bad in [
            "",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "RSOYDt4T1cUTdK1PDd93/VVr8B9=",
            "rsoydt4t1cutdk1pdd93/vvr8b8=",
            "not base64!",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=RSOY",
        ] {
            assert!(!verify(TOKEN, URL, &params, bad), "{bad:?}");
        }
        // Surrounding whitespace in the header is not a change.
        assert!(verify(
            TOKEN,
            URL,
            &params,
            " RSOYDt4T1cUTdK1PDd93/VVr8B8= "
        ));
    }

    #[test]
    fn no_parameters_signs_the_url_alone() {
        let sig = compute(TOKEN, URL, &[]);
        assert!(verify(TOKEN, URL, &[], &sig));
        assert_ne!(sig, EXPECTED);
    }

    #[test]
    fn unicode_values_are_signed_as_utf8() {
        let params = pairs(&[("Body", "¡Hola! 👍"), ("ProfileName", "Zoë")]);
        let sig = compute(TOKEN, URL, &params);
        assert!(verify(TOKEN, URL, &params, &sig));
        let mut other = params.clone();
        other[1].1 = "Zoe".into();
        assert!(!verify(TOKEN, URL, &other, &sig));
    }
}
