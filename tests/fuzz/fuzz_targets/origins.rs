//! Origins: the patterns an administrator saves in a Domain Template, and the `Origin`
//! header any website sends. A pattern that parses must print as a plain origin (it
//! reaches a CSP header and pages) that parses to itself, and matching never panics.
#![no_main]

use interact_model::{DomainTemplate, OriginPattern};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, String)| {
    let (pattern, origin) = input;
    if let Ok(p) = OriginPattern::parse(&pattern) {
        let shown = p.to_string();
        assert!(
            shown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/.-*[]".contains(&b)),
            "{shown:?}"
        );
        assert_eq!(OriginPattern::parse(&shown).as_ref(), Ok(&p));
        let t = DomainTemplate {
            name: "t".into(),
            origins: vec![p],
        };
        let _ = t.allows(Some(&origin));
        assert!(!t.allows(Some("null")));
        let _ = t.frame_ancestors();
    }
});
