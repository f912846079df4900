//! The agent console in English and German.
//!
//! - Without a browser: `www/console/i18n.js` has the same keys, with the same `{names}`,
//!   in both dictionaries, and every key the console's scripts and page name is in them.
//! - In headless Chromium whose language is German: the sign-in card, the top bar, the
//!   sidebar, a chat's transcript, details and composer, the starter saved replies and
//!   the dates are German and `<html lang="de">`, and the top bar fits a narrow window; the switch in the top bar turns the
//!   open console English at once (the transcript too), and the choice outlives a reload
//!   (English although the browser is German), until switched back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use interact_e2e::browser::{Page, with_browser_in};
use interact_e2e::console::{SHOWN, accept_first_offer, require_console_package};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, www};
use interact_e2e::visitor::VisitorClient;
use interact_sdk::form::PreChatForm;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(120);

/// One dictionary of `i18n.js`: `export const <name> = {` up to `};`, one
/// `"key": "text",` a line.
fn dictionary(source: &str, name: &str) -> BTreeMap<String, String> {
    let start = source
        .find(&format!("export const {name} = {{\n"))
        .unwrap_or_else(|| panic!("i18n.js has no dictionary {name}"));
    let body = &source[start..];
    let end = body.find("\n};").expect("the dictionary's end");
    let mut words = BTreeMap::new();
    for line in body[..end].lines().skip(1) {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let (key, text) = line
            .split_once("\": \"")
            .unwrap_or_else(|| panic!("{name}: not a `\"key\": \"text\",` line: {line}"));
        let key = key.strip_prefix('"').expect("a quoted key").to_owned();
        let text = text
            .strip_suffix("\",")
            .unwrap_or_else(|| panic!("{name}: {key}: a line ends with `\",`"))
            .to_owned();
        assert!(
            words.insert(key.clone(), text).is_none(),
            "{name}: {key} twice"
        );
    }
    words
}

/// The `{names}` a text fills in.
fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The string literals of `source` (double-quoted, without escapes).
fn literals(source: &str) -> Vec<&str> {
    source.split('"').skip(1).step_by(2).collect()
}

#[test]
fn both_dictionaries_have_every_key_the_console_uses() {
    let dir = www().join("console");
    let source = std::fs::read_to_string(dir.join("i18n.js")).expect("i18n.js");
    let en = dictionary(&source, "en");
    let de = dictionary(&source, "de");
    assert!(en.len() > 100, "only {} English texts", en.len());
    let missing_de: Vec<_> = en.keys().filter(|k| !de.contains_key(*k)).collect();
    let missing_en: Vec<_> = de.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(
        missing_de.is_empty() && missing_en.is_empty(),
        "not in German: {missing_de:?}; not in English: {missing_en:?}"
    );
    for (key, text) in &en {
        assert_eq!(
            placeholders(text),
            placeholders(&de[key]),
            "{key}: the two texts fill in other names"
        );
        assert!(!de[key].trim().is_empty(), "{key}: no German text");
    }
    // Keys are `<area>.<name>`; a literal of the scripts or the page of that form whose
    // area is one of the dictionary's is a key (or a plural's, `<key>.one`), and must be
    // in it.
    let areas: BTreeSet<&str> = en
        .keys()
        .filter_map(|k| k.split_once('.').map(|(a, _)| a))
        .collect();
    let is_key = |s: &str| {
        s.split_once('.').is_some_and(|(area, rest)| {
            areas.contains(area)
                && !rest.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        })
    };
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("www/console") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "i18n.js" || !(name.ends_with(".js") || name.ends_with(".html")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a console file");
        for s in literals(&text) {
            if is_key(s) {
                used.insert((name.to_owned(), s.to_owned()));
            }
        }
    }
    assert!(
        used.iter().any(|(f, _)| f == "index.html") && used.len() > 150,
        "only {} keys found in the console: {used:?}",
        used.len()
    );
    let unknown: Vec<_> = used
        .iter()
        .filter(|(_, k)| !en.contains_key(k) && !en.contains_key(&format!("{k}.one")))
        .collect();
    assert!(
        unknown.is_empty(),
        "keys in neither dictionary: {unknown:?}"
    );
    // Every text of the page is worded from the dictionaries (no English left behind).
    let page = std::fs::read_to_string(dir.join("index.html")).expect("index.html");
    let template = page.split("<body>").nth(1).expect("the body");
    for tag in [
        "<button", "<label", "<legend", "<dt>", "<h2", "<h3", "<option",
    ] {
        for piece in template.split(tag).skip(1) {
            let head = piece.split('>').next().unwrap_or_default();
            let inner = piece.split_once('>').map(|(_, r)| r).unwrap_or_default();
            let text = inner.split('<').next().unwrap_or_default().trim();
            let worded = head.contains("data-i18n")
                || text.is_empty()
                || inner.starts_with("<span data-i18n")
                || head.contains("lang=")
                || head.contains("d-email-label");
            assert!(worded, "{tag}{head}> shows {text:?} in English only");
        }
    }
}

/// The words of the console the test reads, by selector.
const WORDS: &str = "
  const text = (css) => { const n = document.querySelector(css); return n ? n.textContent.trim() : null; };
  return {
    lang: document.documentElement.lang,
    title: document.title,
    signin: text('#signin-submit'),
    username: text('label[for=signin-username]'),
    signout: text('#signout'),
    chats: text('#chats-heading'),
    available: text('#presence-select option[value=available]'),
    sound: text('#alert-sound'),
    langLabel: text('label[for=lang-select]'),
    joined: text(arguments[0] + ' .sys-agent_joined .sys-text'),
    end: text(arguments[0] + ' .session-end'),
    placeholder: (document.querySelector(arguments[0] + ' .composer-input') || {}).placeholder || null,
    attach: (document.querySelector(arguments[0] + ' .composer-attach') || {}).ariaLabel || null,
    started: text(arguments[0] + ' .d-started'),
    detailsName: text(arguments[0] + ' .details-ident dt'),
  };";

async fn words(page: &Page) -> serde_json::Value {
    page.eval(WORDS, vec![json!(SHOWN)]).await
}

/// After a reload: the chat listed again, opened.
async fn open_chat(page: &Page) {
    page.wait_visible("the chat in the list", "#chats .chat-tab")
        .await;
    page.click("#chats .chat-tab").await;
    page.wait_until(
        "the chat again",
        "return document.querySelector(arguments[0] + ' .sys-agent_joined') ? true : 'not yet';",
        vec![json!(SHOWN)],
    )
    .await;
}

async fn wait_lang(page: &Page, lang: &str) {
    page.wait_until(
        &format!("the console in {lang}"),
        "const c = document.getElementById('conn');
         return document.documentElement.lang === arguments[0] && c.dataset.state === 'online'
           ? true : document.documentElement.lang + ' ' + c.dataset.state;",
        vec![json!(lang)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_browser_gets_a_german_console_and_the_choice_is_kept() {
    if skip_browser("the console language test in Chromium") {
        return;
    }
    require_console_package();
    let stack = Stack::start().await;
    let stack_ref = &stack;
    with_browser_in("console-i18n", Some("de-DE"), LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 860)
            .await
            .expect("window size");
        page.browser
            .goto(&format!("{}/console/", stack.server_url))
            .await
            .expect("open the console");
        page.record_problems().await;
        page.wait_visible("the sign-in form", "#signin-view").await;
        let languages: Vec<String> = page.eval("return [...navigator.languages];", vec![]).await;
        assert!(
            languages.first().is_some_and(|l| l.starts_with("de")),
            "the browser is not German: {languages:?}"
        );
        let w = words(page).await;
        assert_eq!(w["lang"], "de", "{w}");
        assert_eq!(w["signin"], "Anmelden");
        assert_eq!(w["username"], "Benutzername");
        assert_eq!(w["title"], "Anmelden · Interact Agentenkonsole");
        let chosen: String = page
            .eval(
                "return document.getElementById('signin-lang').value;",
                vec![],
            )
            .await;
        assert_eq!(chosen, "de");
        page.screenshot("signin-de").await;

        // Signed in (as the e2e helper does, in German): the top bar and sidebar.
        page.type_into("#signin-username", "alex").await;
        page.type_into(
            "#signin-password",
            &format!("demo-password{}", fantoccini::key::Key::Enter),
        )
        .await;
        wait_lang(page, "de").await;
        page.element("#presence-select")
            .await
            .select_by_value("available")
            .await
            .expect("choose available");
        page.wait_until(
            "presence available",
            "const p = document.querySelector('.presence');
             return p.dataset.presence === 'available' && !p.classList.contains('is-pending');",
            vec![],
        )
        .await;
        let w = words(page).await;
        assert_eq!(w["signout"], "Abmelden", "{w}");
        assert_eq!(w["chats"], "Meine Chats");
        assert_eq!(w["available"], "Verfügbar");
        assert_eq!(w["sound"], "Ton");
        assert_eq!(w["langLabel"], "Sprache");
        assert_eq!(w["title"], "Interact Agentenkonsole");

        // A chat: the offer, the transcript, the details and the composer.
        let (mut visitor, _) =
            VisitorClient::connect(stack.addr, &stack.code, &stack.host_url).await;
        visitor
            .start_chat(PreChatForm {
                display_name: "Vera".into(),
                email: "vera@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: Some("Hallo".into()),
            })
            .await;
        page.wait_text(
            "the German accept button",
            "#offers .offer-accept",
            "Annehmen",
        )
        .await;
        accept_first_offer(page).await;
        let w = words(page).await;
        assert_eq!(w["joined"], "Sie sind dem Chat beigetreten", "{w}");
        assert_eq!(w["end"], "Chat beenden");
        assert_eq!(w["placeholder"], "Antwort schreiben…");
        assert_eq!(w["attach"], "Datei anhängen");
        assert_eq!(w["detailsName"], "Name");
        // A German date: `07.12.2026, 14:05`.
        let started = w["started"].as_str().unwrap_or_default();
        assert!(
            started
                .split(", ")
                .next()
                .is_some_and(|d| d.split('.').count() == 3),
            "not a German date: {started:?}"
        );
        // The starter saved replies, in German (nothing saved yet).
        page.click(&format!("{SHOWN} .composer-replies")).await;
        page.wait_visible("the saved replies", "#replies-dialog .reply-use")
            .await;
        let replies = page.texts("#replies-dialog .reply-use").await;
        assert_eq!(
            replies[0],
            "Vielen Dank für Ihre Geduld. Ich kümmere mich jetzt darum."
        );
        assert_eq!(page.texts("#replies-close").await, ["Schließen"]);
        page.screenshot("chat-de").await;
        page.click("#replies-close").await;
        // The longer German words keep the top bar on the screen, wide or narrow.
        for width in [1280, 1200, 1000, 780] {
            page.browser
                .set_window_size(width, 860)
                .await
                .expect("window size");
            let sizes: Vec<u32> = page
                .eval(
                    "return [document.querySelector('.topbar').scrollWidth, window.innerWidth];",
                    vec![],
                )
                .await;
            assert!(
                sizes[0] <= sizes[1],
                "the German top bar is wider than a {width} px window: {sizes:?}"
            );
        }
        page.browser
            .set_window_size(1280, 860)
            .await
            .expect("window size");

        // The switch: English at once, the transcript too.
        page.element("#lang-select")
            .await
            .select_by_value("en")
            .await
            .expect("choose English");
        wait_lang(page, "en").await;
        let w = words(page).await;
        assert_eq!(w["signout"], "Sign out", "{w}");
        assert_eq!(w["chats"], "My chats");
        assert_eq!(w["joined"], "You joined the chat");
        assert_eq!(w["end"], "End chat");
        assert_eq!(w["placeholder"], "Write a reply…");
        assert_eq!(w["attach"], "Attach a file");

        // Kept across a reload, though the browser is German.
        page.browser.refresh().await.expect("reload");
        page.record_problems().await;
        wait_lang(page, "en").await;
        open_chat(page).await;
        let w = words(page).await;
        assert_eq!(w["signout"], "Sign out", "{w}");
        assert_eq!(w["joined"], "You joined the chat");
        let kept: String = page
            .eval(
                "return localStorage.getItem('interact.console.lang');",
                vec![],
            )
            .await;
        assert_eq!(kept, "en");

        // And back to German, kept too; the keyboard reaches the switch.
        page.element("#lang-select")
            .await
            .select_by_value("de")
            .await
            .expect("choose German");
        wait_lang(page, "de").await;
        page.browser.refresh().await.expect("reload");
        page.record_problems().await;
        wait_lang(page, "de").await;
        open_chat(page).await;
        page.wait_text(
            "the German transcript",
            &format!("{SHOWN} .sys-agent_joined .sys-text"),
            "Sie sind dem Chat beigetreten",
        )
        .await;
        let focusable: bool = page
            .eval(
                "const s = document.getElementById('lang-select'); s.focus();
                 return document.activeElement === s && s.labels.length === 1;",
                vec![],
            )
            .await;
        assert!(
            focusable,
            "the language switch takes the focus and has a label"
        );
        page.assert_no_problems("the console").await;
        drop(visitor);
    })
    .await;
    stack.stop().await;
}
