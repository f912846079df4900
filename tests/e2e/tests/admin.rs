//! The admin web app (`www/admin/`, served at `/admin/`) in headless Chromium:
//!
//! - a Tenant Admin signs in with a username and password, creates a Domain Template for
//!   a brand-new website origin and an embed code, copies the snippet from the app into
//!   that website's page, and a visitor there chats with an agent; no restart anywhere;
//! - axe-core (npm, injected through WebDriver) finds no serious or critical violation on
//!   any admin page; the workflow editor shows a validation error at its step and line,
//!   and names with markup are shown as text;
//! - a Service Owner sees only their navigation, and another service's page and API
//!   answer 403, shown as a clear message.
//! - a Tenant Admin connects WhatsApp (Twilio) on a service's page: a `+44` sender is
//!   refused with the server's message at the field, a `+1` one is saved with a `file:`
//!   reference (the token itself never shown) and the webhook URL to give Twilio is
//!   shown; then the connector is removed after a confirmation.
//!
//! Screenshots go to `target/test-artifacts/admin-*.png`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use interact_e2e::agent::AgentClient;
use interact_e2e::axe::assert_accessible;
use interact_e2e::browser::{Page, with_browser};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget;
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use interact_server::config::Config;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(90);

/// The demo's agents' password; the admins of the test have it too.
const PASSWORD: &str = "demo-password";
/// A Tenant Admin of the test configuration.
const ADMIN: &str = "ada";
/// The Service Owner of `support` (and nothing else).
const OWNER: &str = "olive";
/// The owner's display name: markup that must show as text.
const HOSTILE: &str = "<img src=x onerror=\"document.title='pwned'\">Olive Owner";

/// The demo configuration plus a Tenant Admin (`ada`) and the Service Owner of `support`
/// (`olive`, whose name is markup); both have the demo password.
fn with_admins(config: &mut Config) {
    let base = config
        .users
        .iter()
        .find(|u| u.id.as_str() == "sam")
        .expect("the demo has sam")
        .clone();
    let mut ada = base.clone();
    ada.id = ADMIN.into();
    ada.display_name = "Ada Admin".into();
    ada.tenant_admin = true;
    let mut olive = base;
    olive.id = OWNER.into();
    olive.display_name = HOSTILE.into();
    olive.tenant_admin = false;
    config.users.push(ada);
    config.users.push(olive);
    for s in &mut config.services {
        if s.id.as_str() == "support" {
            s.owners = vec![OWNER.into()];
        }
    }
}

/// Opens the app and signs in with `user`'s password; waits for the first page.
async fn sign_in(page: &Page, server_url: &str, user: &str) {
    page.browser
        .goto(&format!("{server_url}/admin/"))
        .await
        .expect("open the admin app");
    page.record_problems().await;
    page.wait_visible("the sign-in form", "#signin-form").await;
    page.type_into("#signin-username", user).await;
    page.type_into("#signin-password", PASSWORD).await;
    page.click("#signin-submit").await;
    page.wait_visible("the app", "#app-view").await;
    wait_rendered(page).await;
}

/// Waits until the app has rendered the route in the address bar.
async fn wait_rendered(page: &Page) {
    page.wait_until(
        "the page to render",
        "const m = document.getElementById('main');
         return m.dataset.rendered === location.hash && !m.hasAttribute('aria-busy')
           ? true : (m.dataset.rendered ?? 'rendering') + ' / ' + location.hash;",
        vec![],
    )
    .await;
}

/// Goes to `hash` (e.g. `#/templates`) and waits until it is rendered.
async fn go(page: &Page, hash: &str) {
    let _: Value = page
        .eval(
            "location.hash = arguments[0]; return null;",
            vec![json!(hash)],
        )
        .await;
    wait_rendered(page).await;
}

/// The `<h1>` of the page shown.
async fn heading(page: &Page) -> String {
    page.eval(
        "return document.querySelector('#main h1')?.textContent ?? '';",
        vec![],
    )
    .await
}

/// Sets a `<select>`'s value (and tells the page).
async fn choose(page: &Page, css: &str, value: &str) {
    let ok: bool = page
        .eval(
            "const s = document.querySelector(arguments[0]);
             if (!s || ![...s.options].some((o) => o.value === arguments[1])) return false;
             s.value = arguments[1];
             s.dispatchEvent(new Event('change', { bubbles: true }));
             return true;",
            vec![json!(css), json!(value)],
        )
        .await;
    assert!(ok, "{css} has no option {value:?}");
}

/// Fails if names or messages became markup, or a script from one ran.
async fn assert_text_only(page: &Page, when: &str) {
    let markup: Vec<String> = page
        .eval(
            "return [...document.querySelectorAll('img, script:not([src]), [onerror], #main b')].map((n) => n.outerHTML);",
            vec![],
        )
        .await;
    assert!(markup.is_empty(), "{when}: text became markup: {markup:?}");
    let title: String = page.eval("return document.title;", vec![]).await;
    assert_ne!(title, "pwned", "{when}: a script from a name ran");
}

/// The signed-in admin's bearer token, as the app keeps it.
async fn token(page: &Page) -> String {
    page.eval(
        "return JSON.parse(sessionStorage.getItem('interact-admin')).token;",
        vec![],
    )
    .await
}

/// `method path` on the server with `token`; the status and the JSON answer (or null).
async fn api(stack: &Stack, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let (status, text) = interact_testkit::http_request(
        stack.addr,
        method,
        path,
        &[
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
        ],
        body,
    )
    .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A website on a brand-new origin whose page carries whatever snippet is put in `html`.
async fn website(html: Arc<Mutex<String>>) -> (String, tokio::task::JoinHandle<()>) {
    use axum::response::Html;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the website");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let snippet = html.lock().expect("snippet").clone();
            async move {
                Html(format!(
                    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                     <title>A new shop</title>\n</head>\n<body>\n<h1>A brand-new shop</h1>\n\
                     <p>Its snippet was copied from the admin app.</p>\n{snippet}\n</body>\n</html>\n"
                ))
            }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_puts_a_new_website_live_from_the_app_without_a_restart() {
    if skip_browser("the admin app test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start_with(with_admins).await;
    let snippet = Arc::new(Mutex::new(String::new()));
    let (shop, shop_task) = website(snippet.clone()).await;
    let agent_token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &agent_token).await;
    let (stack_ref, agent, shop) = (&stack, &mut agent, shop.as_str());

    with_browser("admin", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 900)
            .await
            .expect("window size");

        // --- Sign in as a Tenant Admin.
        sign_in(page, &stack.server_url, ADMIN).await;
        page.wait_text("the admin's name", "#me-name", "Ada Admin").await;
        page.wait_text("the role", "#me-role", "Tenant Admin").await;

        // --- A Domain Template for the new website; a malformed origin first.
        page.click("#nav a[href='#/templates']").await;
        wait_rendered(page).await;
        assert_eq!(heading(page).await, "Domain Templates");
        page.type_into("#main form input[name=name]", "new-shop").await;
        page.type_into(
            "#main form textarea[name=origins]",
            &format!("{shop}\nhttps://shop.example.com/path"),
        )
        .await;
        page.click("#main form button[type=submit]").await;
        page.wait_until(
            "the origin's error at the field",
            "const e = document.querySelector('textarea[name=origins] ~ .field-error');
             return e && !e.hidden && e.textContent.startsWith('Line 2') ? true : (e ? e.textContent : 'none');",
            vec![],
        )
        .await;
        let invalid: Option<String> = page
            .eval(
                "return document.querySelector('textarea[name=origins]').getAttribute('aria-invalid');",
                vec![],
            )
            .await;
        assert_eq!(invalid.as_deref(), Some("true"));
        let area = page.element("#main form textarea[name=origins]").await;
        area.clear().await.expect("clear");
        area.send_keys(shop).await.expect("type the origin");
        page.click("#main form button[type=submit]").await;
        page.wait_text("the new template's page", "#main h1", "Domain Template: new-shop")
            .await;
        wait_rendered(page).await;

        // The live check, as the admin types.
        page.type_into("input[name=origin]", shop).await;
        page.wait_until(
            "the live check to allow the website",
            "const v = document.querySelector('.verdict');
             return v && v.classList.contains('verdict-ok') ? true : (v ? v.className + ': ' + v.textContent : 'none');",
            vec![],
        )
        .await;
        let check = page.element("input[name=origin]").await;
        check.clear().await.expect("clear");
        check
            .send_keys("https://elsewhere.example.net")
            .await
            .expect("type");
        page.wait_until(
            "the live check to refuse another origin",
            "const v = document.querySelector('.verdict');
             return v && v.classList.contains('verdict-no') ? true : (v ? v.className + ': ' + v.textContent : 'none');",
            vec![],
        )
        .await;
        page.screenshot("template").await;

        // --- An embed code for the service with that template; the snippet from the app.
        page.click("#nav a[href='#/embed-codes']").await;
        wait_rendered(page).await;
        choose(page, "select[name=template]", "new-shop").await;
        let target_is_select: bool = page
            .eval("return document.querySelector('[name=target]').tagName === 'SELECT';", vec![])
            .await;
        if target_is_select {
            choose(page, "select[name=target]", "service:support").await;
        } else {
            page.type_into("input[name=target]", "service:support").await;
        }
        page.click("#main form button[type=submit]").await;
        page.wait_visible("the new code", ".created .new-code").await;
        let copied_snippet: String = page
            .eval(
                "return document.querySelector('.created textarea[data-snippet]').value;",
                vec![],
            )
            .await;
        assert!(
            copied_snippet.contains(&format!("{}/widget/loader.js", stack.server_url)),
            "the snippet loads the widget from this server: {copied_snippet}"
        );
        page.click(".created button[data-copy]").await;
        page.wait_until(
            "the copy button to answer",
            "const c = document.querySelector('.created .copied');
             return c && c.textContent !== '' ? true : 'nothing yet';",
            vec![],
        )
        .await;
        let code: String = page
            .eval("return document.querySelector('.created .new-code').textContent;", vec![])
            .await;
        page.wait_any_text("the code in the list", "table.data code", &code)
            .await;

        // The Preview button: a signed link that opens the Preview page.
        let preview = "[...document.querySelectorAll('table.data tr')].find((tr) => tr.querySelector('code')?.textContent === arguments[0])";
        let _: Value = page
            .eval(
                &format!(
                    "const tr = {preview}; [...tr.querySelectorAll('button')].find((b) => b.textContent === 'Preview').click(); return null;"
                ),
                vec![json!(code)],
            )
            .await;
        page.wait_until(
            "the signed Preview link",
            &format!("const tr = {preview}; const a = tr.querySelector('a.preview-link'); return a ? true : tr.textContent;"),
            vec![json!(code)],
        )
        .await;
        let link: String = page
            .eval(
                &format!("const tr = {preview}; return tr.querySelector('a.preview-link').href;"),
                vec![json!(code)],
            )
            .await;
        assert!(
            link.starts_with(&format!("{}/", stack.server_url)),
            "the Preview link is on this server: {link}"
        );
        page.screenshot("embed-code").await;
        page.assert_no_problems("the admin app").await;

        // --- The website, with the copied snippet: a visitor chats with an agent.
        *snippet.lock().expect("snippet") = copied_snippet;
        widget::start_chat(page, shop, "Wes Visitor", "Hello from the new shop").await;
        let session = agent.accept_next().await;
        agent.wait_visitor_message("Hello from the new shop").await;
        agent.say(&session, "Welcome to the new shop!").await;
        page.wait_any_text("the agent's answer", ".iw-agent .iw-text", "Welcome to the new shop!")
            .await;
        page.assert_no_problems("the widget on the new website").await;
        page.screenshot("chat").await;
        widget::top(page).await;

        // The signed Preview link opens the Preview page (here in this tab).
        page.browser.goto(&link).await.expect("open the Preview link");
        page.wait_until(
            "the Preview page",
            "const h = document.querySelector('h1');
             return h && h.textContent.startsWith('Preview:') ? true : document.body.innerText.slice(0, 300);",
            vec![],
        )
        .await;

        // The agent ends the chat; the report has it, handled, and its transcript.
        agent
            .send(&ClientFrame::End {
                session: Some(session.clone()),
            })
            .await;
        agent
            .until("the end of the chat", |f| {
                matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. }))
            })
            .await;
        page.browser
            .goto(&format!("{}/admin/#/reports", stack.server_url))
            .await
            .expect("back to the admin app");
        page.record_problems().await;
        page.wait_visible("the app, still signed in", "#app-view").await;
        wait_rendered(page).await;
        page.wait_any_text("the chat's row", "table.data td", "handled")
            .await;
        let bars: usize = page
            .eval(
                "return document.querySelectorAll('svg.chart rect[data-outcome=handled]').length;",
                vec![],
            )
            .await;
        assert_eq!(bars, 1, "one day's bar of handled sessions");
        page.click("#main table.data button").await;
        page.wait_any_text(
            "the transcript",
            ".transcript td",
            "Hello from the new shop",
        )
        .await;
        assert_accessible(page, "the report with a session and its transcript").await;
        page.screenshot("report").await;
        page.assert_no_problems("the admin app's report").await;
    })
    .await;
    shop_task.abort();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_page_passes_axe_and_shows_names_and_errors_as_text() {
    if skip_browser("the admin app's accessibility test") {
        return;
    }
    let _ = interact_e2e::axe::script();
    let stack = Stack::start_with(with_admins).await;
    let stack_ref = &stack;

    with_browser("admin-axe", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 900)
            .await
            .expect("window size");
        page.browser
            .goto(&format!("{}/admin/", stack.server_url))
            .await
            .expect("open the admin app");
        page.wait_visible("the sign-in form", "#signin-form").await;
        assert_accessible(page, "the sign-in page").await;
        sign_in(page, &stack.server_url, ADMIN).await;

        // A webhook, so its list and delivery log have a row; the secret shows once.
        go(page, "#/webhooks").await;
        page.type_into("input[name=url]", "https://hooks.example.com/interact")
            .await;
        page.click("#main form button[type=submit]").await;
        page.wait_until(
            "the secret, shown once",
            "const s = document.getElementById('webhook-secret');
             return s && s.value.length > 10 ? true : 'no secret';",
            vec![],
        )
        .await;
        assert_accessible(page, "the webhooks page with a new secret").await;
        let hook: String = page
            .eval(
                "return document.querySelector('a[href^=\"#/webhooks/\"]').getAttribute('href');",
                vec![],
            )
            .await;

        for hash in [
            "#/services",
            "#/services/support",
            "#/users",
            "#/templates",
            "#/templates/demo",
            "#/embed-codes",
            "#/workflows",
            "#/opening-hours",
            "#/opening-hours/support-hours",
            "#/users/alex",
            "#/reports",
            "#/audit",
            "#/webhooks",
            hook.as_str(),
        ] {
            go(page, hash).await;
            assert_accessible(page, hash).await;
            assert_text_only(page, hash).await;
            page.screenshot(&format!("page-{}", hash.trim_start_matches("#/").replace('/', "-")))
                .await;
        }

        // An origin typed with markup in the live check is answered as text.
        go(page, "#/templates/demo").await;
        page.type_into("input[name=origin]", HOSTILE).await;
        page.wait_until(
            "the check's verdict on markup",
            "const v = document.querySelector('.verdict');
             return v && v.classList.contains('verdict-no') ? true : (v ? v.className + ': ' + v.textContent : 'none');",
            vec![],
        )
        .await;
        assert_text_only(page, "the origin check").await;

        // Revoking asks first, in an accessible dialog.
        go(page, "#/embed-codes").await;
        page.click("#main table.data .btn-danger").await;
        page.wait_until(
            "the confirmation dialog",
            "const d = document.getElementById('confirm'); return d.open ? true : 'closed';",
            vec![],
        )
        .await;
        assert_accessible(page, "the confirmation dialog").await;
        page.click("#confirm-ok").await;
        page.wait_visible("the revoked code", "#main table.data .badge-off")
            .await;

        // The CSV download is fetched with the token and saved from a blob.
        go(page, "#/reports").await;
        page.click("#csv").await;
        page.wait_until(
            "the download",
            "const s = document.getElementById('status').textContent;
             return s === 'The CSV file is downloading.' ? true : s;",
            vec![],
        )
        .await;

        // The users page lists the owner by a name that is markup: shown as text.
        go(page, "#/users").await;
        page.wait_any_text("the owner's name as text", "table.data a", HOSTILE)
            .await;
        assert_text_only(page, "the users page").await;

        // A service renamed with markup in its name: saved, and listed as text.
        go(page, "#/services/sales").await;
        let name = page.element("#main input[name=display_name]").await;
        name.clear().await.expect("clear");
        name.send_keys("Sales <b>EU</b> & Co").await.expect("type");
        page.click("#main form button[type=submit]").await;
        page.wait_until(
            "the service saved",
            "const s = document.getElementById('status').textContent;
             return s.startsWith('Service Sales <b>EU</b> & Co saved') ? true : s;",
            vec![],
        )
        .await;
        go(page, "#/services").await;
        page.wait_any_text("the new name, as text", "table.data a", "Sales <b>EU</b> & Co")
            .await;
        assert_text_only(page, "the services list").await;

        // The workflow editor: an unknown activity is shown at its step and line.
        go(page, "#/workflows/support-im").await;
        let _: Value = page
            .eval(
                "const a = document.getElementById('definition');
                 a.value = a.value.replace('activity = \"queue_task\"', 'activity = \"juggle\"');
                 a.dispatchEvent(new Event('input'));
                 return null;",
                vec![],
            )
            .await;
        page.click("#main form[aria-labelledby=editor-heading] button[type=submit]")
            .await;
        page.wait_visible("the error at the step", ".step-error").await;
        let (step_label, gutter, message): (String, String, String) = page
            .eval(
                "return [document.querySelector('.step-error button').textContent,
                         document.querySelector('.gutter-error')?.textContent ?? '',
                         document.getElementById('definition-error').textContent];",
                vec![],
            )
            .await;
        assert!(step_label.contains("juggle"), "the step marked: {step_label}");
        assert!(message.contains("juggle"), "the server's message: {message}");
        let line: usize = gutter.parse().unwrap_or_else(|_| panic!("a line marked: {gutter:?}"));
        let at_line: String = page
            .eval(
                "return document.getElementById('definition').value.split('\\n')[arguments[0] - 1];",
                vec![json!(line)],
            )
            .await;
        assert!(
            at_line.contains("juggle") || at_line.contains("[[step]]"),
            "line {line} is the step's: {at_line:?}"
        );
        assert_accessible(page, "the workflow editor with an error").await;
        page.screenshot("workflow-error").await;

        // Put right, it saves: the error goes and a new version is current.
        let _: Value = page
            .eval(
                "const a = document.getElementById('definition');
                 a.value = a.value.replace('activity = \"juggle\"', 'activity = \"queue_task\"')
                   .replace('thank you for contacting Customer Care.', 'welcome to Customer Care.');
                 a.dispatchEvent(new Event('input'));
                 return null;",
                vec![],
            )
            .await;
        page.click("#main form[aria-labelledby=editor-heading] button[type=submit]")
            .await;
        page.wait_until(
            "the save",
            "const s = document.getElementById('status').textContent;
             return s.startsWith('Workflow support-im saved') && document.getElementById('definition-error').hidden
               ? true : s;",
            vec![],
        )
        .await;

        // The dry run of the saved version (the editor opened afresh), a visitor named
        // with markup: a sentence and the events, all text.
        go(page, "#/workflows").await;
        go(page, "#/workflows/support-im").await;
        page.element("input[name=visitor_name]")
            .await
            .clear()
            .await
            .expect("clear");
        page.type_into("input[name=visitor_name]", HOSTILE).await;
        page.click("#main form[aria-labelledby=dry-heading] button[type=submit]")
            .await;
        page.wait_visible("the dry run's summary", ".dry-result .summary")
            .await;
        let summary: String = page
            .eval("return document.querySelector('.dry-result .summary').textContent;", vec![])
            .await;
        assert!(
            summary.starts_with("A chat arriving Saturday") && summary.contains("→"),
            "the dry run in words: {summary}"
        );
        let events = page.texts(".dry-result td").await;
        assert!(
            events.iter().any(|t| t.contains(HOSTILE)),
            "the greeting names the visitor, as text: {events:?}"
        );
        assert_text_only(page, "the dry run").await;
        assert_accessible(page, "the dry run").await;
        page.screenshot("dry-run").await;
        page.assert_no_problems("the admin app").await;
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_owner_is_refused_another_services_pages_and_api() {
    if skip_browser("the admin app's Service Owner test") {
        return;
    }
    let stack = Stack::start_with(with_admins).await;
    let stack_ref = &stack;

    with_browser("admin-owner", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 900)
            .await
            .expect("window size");

        // A user who is only an agent is not let in.
        page.browser
            .goto(&format!("{}/admin/", stack.server_url))
            .await
            .expect("open the admin app");
        page.wait_visible("the sign-in form", "#signin-form").await;
        page.type_into("#signin-username", "alex").await;
        page.type_into("#signin-password", PASSWORD).await;
        page.click("#signin-submit").await;
        page.wait_until(
            "the refusal of an agent",
            "const e = document.getElementById('signin-error').textContent;
             return e.startsWith('This account has no administration role') ? true : e;",
            vec![],
        )
        .await;

        // The operator's admin token signs in too (a Tenant Admin named Operator).
        page.click("details.operator summary").await;
        page.type_into("#signin-token", "demo-admin-token").await;
        page.click("#token-form button[type=submit]").await;
        page.wait_visible("the app", "#app-view").await;
        page.wait_text("the operator's role", "#me-role", "Tenant Admin")
            .await;
        wait_rendered(page).await;
        page.click("#signout").await;
        page.wait_visible("the sign-in form", "#signin-form").await;

        sign_in(page, &stack.server_url, OWNER).await;
        page.wait_text("the owner's name, as text", "#me-name", HOSTILE).await;
        page.wait_text("the role", "#me-role", "Service Owner").await;
        assert_text_only(page, "the owner's top bar").await;
        let nav: Vec<String> = page
            .eval(
                "return [...document.querySelectorAll('#nav li')].filter((li) => li.checkVisibility()).map((li) => li.dataset.page);",
                vec![],
            )
            .await;
        assert_eq!(
            nav,
            ["services", "embed-codes", "workflows", "opening-hours", "reports"],
            "the owner's navigation"
        );

        // Their service's embed codes: the snippet and the Preview, no creating or revoking.
        go(page, "#/embed-codes").await;
        let (targets, buttons): (Vec<String>, Vec<String>) = page
            .eval(
                "const rows = [...document.querySelectorAll('table.data tbody tr')];
                 return [rows.map((r) => r.children[1].textContent),
                         [...document.querySelectorAll('#main button')].map((b) => b.textContent)];",
                vec![],
            )
            .await;
        assert!(
            !targets.is_empty() && targets.iter().all(|t| t == "service:support"),
            "only the owner's service's codes: {targets:?}"
        );
        assert!(
            buttons.iter().all(|b| b == "Snippet" || b == "Preview"),
            "no create or revoke for an owner: {buttons:?}"
        );
        page.click("#main table.data button:nth-child(2)").await;
        page.wait_visible("the owner's Preview link", "a.preview-link")
            .await;

        // Their reports: their services only, no "all services".
        go(page, "#/reports").await;
        let (options, alerts): (Vec<String>, usize) = page
            .eval(
                "return [[...document.querySelectorAll('#main select[name=service] option')].map((o) => o.value),
                         document.querySelectorAll('#main .alert').length];",
                vec![],
            )
            .await;
        assert_eq!(options, ["support"], "the owner's report filter");
        assert_eq!(alerts, 0, "the owner's report loads");
        assert_accessible(page, "the owner's reports").await;

        // Their own service opens; another one is refused with a clear message.
        go(page, "#/services/support").await;
        assert_eq!(heading(page).await, "Service: Customer Care");

        // They change their service (not its licences).
        let disabled: bool = page
            .eval(
                "return [...document.querySelectorAll('#main input[name=licences]')].every((b) => b.disabled);",
                vec![],
            )
            .await;
        assert!(disabled, "an owner's licences are read-only");
        let languages = page.element("#main input[name=languages]").await;
        languages.clear().await.expect("clear");
        languages.send_keys("de, en").await.expect("type");
        page.click("#main form button[type=submit]").await;
        page.wait_until(
            "the owner's change saved",
            "const s = document.getElementById('status').textContent;
             return s.startsWith('Service Customer Care saved') ? true : s;",
            vec![],
        )
        .await;
        go(page, "#/services/sales").await;
        page.wait_until(
            "the refusal",
            "const a = document.querySelector('#main .alert-forbidden');
             return a && a.textContent.startsWith('Not allowed') ? true : document.getElementById('main').textContent;",
            vec![],
        )
        .await;
        page.screenshot("refused").await;
        go(page, "#/templates").await;
        page.wait_visible("the refusal of templates", "#main .alert-forbidden")
            .await;
        assert_accessible(page, "a refused page").await;

        // The API says the same to the owner's token. (Their own service, as the body of
        // a change to another one, so that only the role can refuse it.)
        let token = token(page).await;
        let (status, own) = api(stack, "GET", "/admin/v1/services/support", &token, "").await;
        let mut other_body = own.clone();
        if let Some(o) = other_body.as_object_mut() {
            o.remove("id");
        }
        let other_body = other_body.to_string();
        assert_eq!(status, 200, "the owner's own service: {own}");
        for (method, path, body) in [
            ("GET", "/admin/v1/services/sales", ""),
            ("PUT", "/admin/v1/services/sales", other_body.as_str()),
            ("GET", "/admin/v1/templates", ""),
            ("PUT", "/admin/v1/users/alex", "{\"display_name\": \"Alex\"}"),
            ("GET", "/admin/v1/audit", ""),
            ("GET", "/admin/v1/webhooks", ""),
        ] {
            let (status, answer) = api(stack, method, path, &token, body).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden", "{method} {path}: {answer}");
        }

        // A sign-in that ends elsewhere (here: signed out through the API) sends the app
        // back to the sign-in form at its next request.
        let (status, answer) = api(stack, "POST", "/admin/v1/sign-out", &token, "").await;
        assert_eq!(status, 204, "sign-out: {answer}");
        let _: Value = page
            .eval("location.hash = '#/workflows'; return null;", vec![])
            .await;
        page.wait_until(
            "the sign-in form after the token ended",
            "const e = document.getElementById('signin-error');
             return !document.getElementById('signin-view').hidden && e.textContent.startsWith('Your session has ended')
               ? true : e.textContent;",
            vec![],
        )
        .await;
        let kept: Option<String> = page
            .eval("return sessionStorage.getItem('interact-admin');", vec![])
            .await;
        assert_eq!(kept, None, "the ended token is not kept");

        // Signing out in the app ends the token on the server.
        sign_in(page, &stack.server_url, OWNER).await;
        let token = self::token(page).await;
        page.click("#signout").await;
        page.wait_visible("the sign-in form again", "#signin-form").await;
        // (The app shows the form at once and tells the server in the background.)
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (status, _) = api(stack, "GET", "/admin/v1/workflows", &token, "").await;
            if status == 401 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the token still works 5 s after signing out ({status})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        page.assert_no_problems("the admin app").await;
    })
    .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_connects_whatsapp_on_the_service_page() {
    if skip_browser("the admin app's WhatsApp card test") {
        return;
    }
    let _ = interact_e2e::axe::script();
    // The auth token, in a file of the operator's secrets folder that the connector's
    // reference names (any token will do: the server reads it to check the reference,
    // and sends nothing to Twilio here).
    let secrets = tempfile::tempdir().expect("a folder for the token");
    let folder = secrets.path().to_owned();
    let stack = Stack::start_with(|c| {
        with_admins(c);
        c.secrets.dir = Some(folder);
    })
    .await;
    let token_file = secrets.path().join("twilio-auth-token");
    let secret_token = "f00dfeedc0ffee5ecre7f00dfeedc0ff";
    std::fs::write(&token_file, secret_token).expect("write the token");
    let reference = format!("file:{}", token_file.display());
    let (stack_ref, reference) = (&stack, reference.as_str());

    with_browser("admin-whatsapp", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1280, 900)
            .await
            .expect("window size");
        sign_in(page, &stack.server_url, ADMIN).await;
        go(page, "#/services/support").await;
        page.wait_text("the card", "#whatsapp h2", "WhatsApp (Twilio)")
            .await;
        page.wait_visible("no connector yet", "#whatsapp .whatsapp-none")
            .await;
        let (base, help): (String, String) = page
            .eval(
                "return [document.querySelector('#whatsapp input[name=api_base]').value,
                         document.getElementById('whatsapp').textContent];",
                vec![],
            )
            .await;
        assert_eq!(base, "https://api.twilio.com", "the API base's default");
        for words in ["file:NAME or env:NAME", "never stored", "(+1)", "Contact Center licence", "templates are not supported", "24 hours"] {
            assert!(help.contains(words), "the help says {words:?}: {help}");
        }

        // A UK sender: the server's refusal, at the field.
        let account = "AC0123456789abcdef0123456789abcdef";
        page.type_into("#whatsapp input[name=account_sid]", account).await;
        page.type_into("#whatsapp input[name=auth_token]", reference).await;
        page.type_into("#whatsapp input[name=sender]", "+447700900123").await;
        page.click("#whatsapp form button[type=submit]").await;
        page.wait_until(
            "the server's refusal of a +44 sender",
            "const e = document.querySelector('#whatsapp input[name=sender] ~ .field-error');
             return e && !e.hidden && e.textContent.startsWith('sender: ')
               && e.textContent.includes('United States numbers (+1) only') ? true : (e ? e.textContent : 'none');",
            vec![],
        )
        .await;
        let invalid: Option<String> = page
            .eval(
                "return document.querySelector('#whatsapp input[name=sender]').getAttribute('aria-invalid');",
                vec![],
            )
            .await;
        assert_eq!(invalid.as_deref(), Some("true"));
        assert_accessible(page, "the WhatsApp card with the server's refusal").await;
        show_in_window(page, "#whatsapp input[name=sender]").await;
        page.screenshot("refused").await;

        // A US sender: saved; the webhook URL to give Twilio is shown.
        let sender = page.element("#whatsapp input[name=sender]").await;
        sender.clear().await.expect("clear");
        sender.send_keys("+12025550123").await.expect("type the sender");
        page.click("#whatsapp form button[type=submit]").await;
        page.wait_until(
            "the webhook URL",
            "const u = document.getElementById('whatsapp-webhook');
             return u && u.value === arguments[0] ? true : (u ? u.value : 'none');",
            vec![json!(format!("{}/v1/whatsapp/support", stack.server_url))],
        )
        .await;
        let summary: String = page
            .eval("return document.querySelector('#whatsapp .whatsapp-summary').textContent;", vec![])
            .await;
        assert!(
            summary.contains("+12025550123") && summary.contains(account),
            "what the connector is: {summary}"
        );
        let admin_token = token(page).await;
        let (status, stored) = api(stack, "GET", "/admin/v1/services/support/whatsapp", &admin_token, "").await;
        assert_eq!(status, 200, "{stored}");
        assert_eq!(stored["auth_token"], reference, "the reference is stored, not the token");
        assert_eq!(stored["sender"], "+12025550123");
        assert_eq!(stored["api_base"], "https://api.twilio.com");
        assert!(stored.get("api_key_sid").is_none(), "no API key given: {stored}");

        // Shown again on a fresh page, from the server; the token itself never is.
        go(page, "#/services").await;
        go(page, "#/services/support").await;
        page.wait_visible("the stored connector", "#whatsapp-webhook").await;
        let (form_reference, text): (String, String) = page
            .eval(
                "return [document.querySelector('#whatsapp input[name=auth_token]').value,
                         document.body.textContent + [...document.querySelectorAll('input')].map((i) => i.value).join(' ')];",
                vec![],
            )
            .await;
        assert_eq!(form_reference, reference);
        assert!(!text.contains(secret_token), "the token is never shown");
        assert_accessible(page, "the service page with a WhatsApp connector").await;
        assert_text_only(page, "the WhatsApp card").await;
        show_in_window(page, "#whatsapp").await;
        page.screenshot("connected").await;

        // Removed, after a confirmation.
        page.click("#whatsapp .btn-danger").await;
        page.wait_until(
            "the confirmation dialog",
            "const d = document.getElementById('confirm'); return d.open ? true : 'closed';",
            vec![],
        )
        .await;
        page.click("#confirm-ok").await;
        page.wait_visible("no connector any more", "#whatsapp .whatsapp-none")
            .await;
        let (status, _) = api(stack, "GET", "/admin/v1/services/support/whatsapp", &admin_token, "").await;
        assert_eq!(status, 404, "the connector is gone");
        page.assert_no_problems("the admin app").await;
    })
    .await;
    stack.stop().await;
}

/// Scrolls the element matching `css` into the middle of the window, for a screenshot.
async fn show_in_window(page: &Page, css: &str) {
    let _: Value = page
        .eval(
            "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' }); return null;",
            vec![json!(css)],
        )
        .await;
}

/// `GET path` on the server: the status, the headers asked for and the body.
async fn fetch(stack: &Stack, path: &str, headers: &[&str]) -> (u16, Vec<Option<String>>, String) {
    use axum::body::Body;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let url = format!("{}{path}", stack.server_url);
    let response = client
        .request(
            axum::http::Request::get(&url)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let values = headers
        .iter()
        .map(|h| {
            response
                .headers()
                .get(*h)
                .map(|v| v.to_str().expect("ASCII header").to_owned())
        })
        .collect();
    let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
        .await
        .expect("body");
    (status, values, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_app_is_served_with_a_strict_policy_and_the_api_wins_over_its_files() {
    const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'self'";
    let stack = Stack::start().await;
    let (status, location, _) = fetch(&stack, "/admin", &["location"]).await;
    assert_eq!((status, location[0].as_deref()), (308, Some("/admin/")));
    for (path, content_type) in [
        ("/admin/", "text/html"),
        ("/admin/app.js", "text/javascript"),
        ("/admin/pages/workflows.js", "text/javascript"),
        ("/admin/admin.css", "text/css"),
    ] {
        let (status, h, _) = fetch(
            &stack,
            path,
            &[
                "content-type",
                "content-security-policy",
                "x-content-type-options",
                "cache-control",
            ],
        )
        .await;
        assert_eq!(status, 200, "{path}");
        assert!(
            h[0].as_deref().is_some_and(|t| t.starts_with(content_type)),
            "{path}: {:?}",
            h[0]
        );
        assert_eq!(h[1].as_deref(), Some(CSP), "{path}");
        assert_eq!(h[2].as_deref(), Some("nosniff"), "{path}");
        assert_eq!(h[3].as_deref(), Some("no-cache"), "{path}");
    }
    // The API's routes are not files, and a path under /admin/v1/ is never a file.
    let (status, _, body) = fetch(&stack, "/admin/v1/templates", &[]).await;
    assert_eq!(status, 401, "{body}");
    let (status, h, body) = fetch(&stack, "/admin/v1/index.html", &["content-type"]).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        h[0].as_deref()
            .is_some_and(|t| t.starts_with("application/json")),
        "{h:?}"
    );
    let (_, _, root) = fetch(&stack, "/", &[]).await;
    assert!(
        root.contains("href=\"/admin/\""),
        "the root page links the app: {root}"
    );
    stack.stop().await;
}

#[test]
fn the_admin_app_never_parses_markup_nor_inlines_script_or_style() {
    let dir = interact_e2e::stack::www().join("admin");
    let mut files = Vec::new();
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 5, "the app's files: {files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let name = path.display();
        if path.extension().is_some_and(|e| e == "js") {
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setAttribute(\"style\"",
                ".style.",
                "localStorage",
            ] {
                assert!(!text.contains(banned), "{name} uses {banned}");
            }
        }
        if path.extension().is_some_and(|e| e == "html") {
            assert!(!text.contains(" style="), "{name} has a style attribute");
            assert!(!text.contains("<style"), "{name} has a style element");
            assert!(!text.contains("<script>"), "{name} has an inline script");
            let handler = text.split(" on").skip(1).any(|rest| {
                let word: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
                !word.is_empty() && rest[word.len()..].starts_with('=')
            });
            assert!(!handler, "{name} has an inline event handler");
        }
    }
}
