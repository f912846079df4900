//! `application/x-www-form-urlencoded`, the format of Twilio's webhooks and of the
//! Messages resource's requests.

/// The `Content-Type` of form-encoded bodies.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The pairs of a form-encoded body, in order, repeated names kept (`+` is a space,
/// `%XX` a byte; bytes that are not UTF-8 become U+FFFD). This is what
/// [`crate::signature::verify`] must see: every parameter received.
pub fn parse(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// `pairs` form-encoded, in the order given.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name.as_ref(), value.as_ref());
    }
    serializer.finish()
}

/// The value of the only parameter called `name`: `Ok(None)` if there is none,
/// `Err(name)` if there are several (a form that gives one field twice is ambiguous).
pub(crate) fn single<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, &'static str> {
    let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    match (found.next(), found.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v.as_str())),
        (Some(_), Some(_)) => Err(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip() {
        let pairs = [
            ("From", "whatsapp:+12025550123"),
            ("Body", "Hello & welcome, 100% = ok? é👍"),
            ("Body", ""),
        ];
        let body = encode(&pairs);
        assert!(body.starts_with("From=whatsapp%3A%2B12025550123&Body=Hello+%26+welcome"));
        let back = parse(body.as_bytes());
        assert_eq!(back.len(), 3);
        for ((k, v), (k2, v2)) in pairs.iter().zip(&back) {
            assert_eq!((*k, *v), (k2.as_str(), v2.as_str()));
        }
    }

    #[test]
    fn one_value_per_name_or_an_error() {
        let params = parse(b"A=1&B=2&B=3");
        assert_eq!(single(&params, "A"), Ok(Some("1")));
        assert_eq!(single(&params, "C"), Ok(None));
        assert_eq!(single(&params, "B"), Err("B"));
    }
}
