//! Accessibility of what visitors and agents use, in the light and the dark colour scheme
//! (emulated through chromedriver's DevTools endpoint): axe-core finds no violation of
//! serious or critical impact on the Preview page, the host page's launcher, the
//! widget's pre-chat form, its chat and menu, its device step and call panel, and the
//! agent console with a chat and a ringing call (in English and in German); every visible control
//! shows a focus ring of 3:1 or more when focused from the keyboard, and every link is
//! 4.5:1 or more. Screenshots of each
//! state in both schemes go to `target/test-artifacts/a11y-*.png`.

use std::sync::Arc;
use std::time::Duration;

use interact_e2e::axe::serious_violations;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{enter_widget, fill_and_start, open_form, top};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(180);

/// Focuses every visible control of the document as the keyboard would
/// (`focusVisible`) and lists those whose focus ring is missing or under 3:1 against
/// the background it is drawn on, and links under 4.5:1 against theirs (WCAG 2.2,
/// 1.4.11 and 1.4.3). The background is the nearest opaque one of the ancestors.
const FOCUS_AND_LINKS: &str = r#"
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const shown = (el) => el.offsetParent !== null && !el.closest('[hidden]');
  const bad = [];
  const controls = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')]
    .filter((el) => shown(el) && !el.disabled);
  for (const el of controls) {
    el.focus({ focusVisible: true });
    const s = getComputedStyle(el);
    const name = el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : '') + (el.id ? '#' + el.id : '');
    if (document.activeElement !== el) { bad.push(name + ': not focusable'); continue; }
    const width = parseFloat(s.outlineWidth) || 0;
    if (s.outlineStyle === 'none' || width < 2) { bad.push(name + ': no focus ring'); continue; }
    const r = ratio(rgb(s.outlineColor).slice(0, 3), background(el.parentElement));
    if (r < 3) bad.push(name + ': focus ring ' + r.toFixed(2) + ':1');
  }
  for (const a of document.querySelectorAll('a[href]')) {
    if (!shown(a)) continue;
    const r = ratio(rgb(getComputedStyle(a).color).slice(0, 3), background(a));
    if (r < 4.5) bad.push('link ' + a.textContent + ': ' + r.toFixed(2) + ':1');
  }
  document.activeElement && document.activeElement.blur();
  return { checked: controls.length, bad };"#;

/// Runs axe on the current document in both colour schemes and screenshots each;
/// returns every serious or critical violation, named by state and scheme.
async fn check(page: &Page, state: &str, in_widget: bool, found: &mut Vec<String>) {
    for dark in [false, true] {
        let scheme = if dark { "dark" } else { "light" };
        page.color_scheme(dark).await;
        let what = format!("{state} ({scheme})");
        for v in serious_violations(page, &what).await {
            found.push(format!(
                "{what}: {} {}: {}",
                v["id"], v["impact"], v["nodes"]
            ));
        }
        let rings: serde_json::Value = page.eval(FOCUS_AND_LINKS, vec![]).await;
        assert!(
            rings["checked"].as_u64().unwrap_or(0) > 0,
            "{what}: no control to focus: {rings}"
        );
        for bad in rings["bad"].as_array().into_iter().flatten() {
            found.push(format!("{what}: {}", bad.as_str().unwrap_or_default()));
        }
        if in_widget {
            top(page).await;
        }
        page.screenshot(&format!("{}-{scheme}", state.replace(' ', "-")))
            .await;
        if in_widget {
            enter_widget(page).await;
        }
    }
    page.color_scheme(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_and_the_console_pass_axe_in_light_and_dark() {
    if skip_browser("the accessibility end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Arc::new(Stack::start().await);
    with_browser("a11y-console", LIMIT, |console| {
        let stack = Arc::clone(&stack);
        async move {
            sign_in_available(&console, &stack, "alex").await;
            with_browser("a11y-visitor", LIMIT, |visitor| async move {
                scenario(&console, &visitor, &stack).await;
            })
            .await;
        }
    })
    .await;
}

async fn scenario(console: &Page, visitor: &Page, stack: &Stack) {
    let mut found = Vec::new();

    // --- The Preview page, with the widget open in it.
    visitor
        .browser
        .goto(&stack.preview_link().await)
        .await
        .expect("open the Preview page");
    visitor.wait_visible("the Preview's widget", "iframe").await;
    check(visitor, "preview page", false, &mut found).await;

    // --- The host page with the launcher (closed).
    visitor
        .browser
        .goto(&stack.host_url)
        .await
        .expect("open the host page");
    visitor
        .wait_visible("the launcher", interact_e2e::widget::LAUNCHER)
        .await;
    check(visitor, "host page launcher", false, &mut found).await;

    // --- The pre-chat form, with its errors shown.
    open_form(visitor, &stack.host_url).await;
    visitor.click(".iw-start").await;
    visitor
        .wait_visible("the name's error", "[id$='-name-error']")
        .await;
    check(visitor, "widget form", true, &mut found).await;

    // --- The chat: the visitor's and the agent's messages, system lines.
    fill_and_start(visitor, "Ada Access", "Can you read this?").await;
    accept_first_offer(console).await;
    let input = console.element(&format!("{SHOWN} .composer-input")).await;
    input
        .send_keys("Yes, loud and clear.\u{e007}")
        .await
        .expect("the agent replies");
    visitor
        .wait_any_text(
            "the agent's reply",
            ".iw-agent .iw-text",
            "Yes, loud and clear.",
        )
        .await;
    check(visitor, "widget chat", true, &mut found).await;
    check(console, "console chat", false, &mut found).await;
    // The header's menu, open.
    visitor.click(".iw-more").await;
    visitor.wait_visible("the menu", ".iw-menu .iw-end").await;
    check(visitor, "widget menu", true, &mut found).await;
    visitor.click(".iw-more").await;

    // --- The device step (from the call module), ready.
    visitor.click(".iw-call-video").await;
    interact_e2e::widget::wait_device_step_ready(visitor).await;
    check(visitor, "widget device step", true, &mut found).await;

    // --- The call panel, ringing at both ends.
    visitor.click(".iw-call-go").await;
    visitor.wait_visible("the call panel", ".iw-call").await;
    console
        .wait_visible("the ringing call", &format!("{SHOWN} .call-banner"))
        .await;
    check(visitor, "widget call panel", true, &mut found).await;
    check(console, "console ringing", false, &mut found).await;
    // The console in German too (longer words, the same controls).
    console
        .element("#lang-select")
        .await
        .select_by_value("de")
        .await
        .expect("choose German");
    console
        .wait_until(
            "the console in German",
            "return document.documentElement.lang === 'de'
               && document.getElementById('signout').textContent === 'Abmelden';",
            vec![],
        )
        .await;
    check(console, "console ringing de", false, &mut found).await;
    console
        .element("#lang-select")
        .await
        .select_by_value("en")
        .await
        .expect("choose English");
    let _: bool = console
        .eval(
            "document.querySelector(arguments[0] + ' .call-accept').click(); return true;",
            vec![json!(SHOWN)],
        )
        .await;
    visitor
        .wait_until(
            "the call to connect",
            "const s = document.querySelector('.iw-call-status');
             return s && s.textContent.startsWith('In call') ? true : s && s.textContent;",
            vec![],
        )
        .await;
    check(visitor, "widget in call", true, &mut found).await;

    assert!(
        found.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        found.join("\n")
    );
}
