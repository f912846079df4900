//! The `{{parameter}}` templates of workflows (messages, Web Request URLs, headers and
//! bodies), written by an administrator and filled with what visitors enter. Parsing must
//! not panic; filled in, a header value holds no control character, a URL no raw byte
//! outside ASCII or a dot segment made by a value, and a JSON-string value stays inside
//! its string.
#![no_main]

use interact_workflow::template::{Escape, Params, Template, is_valid_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Vec<(String, String)>)| {
    let (source, pairs) = input;
    let Ok(t) = Template::parse(&source) else {
        return;
    };
    let params: Params = pairs.into_iter().collect();
    let header = t.render(&params, Escape::Header);
    assert!(!header.chars().any(char::is_control) || source.chars().any(char::is_control));
    let _ = t.render(&params, Escape::Plain);
    let _ = t.render(&params, Escape::Url);
    if let Ok(url) = t.render_url(&params)
        && source.is_ascii()
    {
        assert!(url.is_ascii(), "{url:?}");
    }
    // A lone placeholder inside a JSON string: the value comes out as that string.
    if let Some((name, value)) = params.iter().find(|(name, _)| is_valid_name(name)) {
        let single = Template::parse(&format!("{{\"v\":\"{{{{{name}}}}}\"}}"));
        if let Ok(single) = single {
            let json = single.render(&params, Escape::JsonString);
            let parsed: serde_json::Value =
                serde_json::from_str(&json).expect("the body is still JSON");
            assert_eq!(parsed["v"].as_str(), Some(value.as_str()), "{json}");
        }
    }
});
