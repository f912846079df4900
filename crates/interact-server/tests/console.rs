//! The agent console in a real headless Chromium against the real server, as a person
//! uses it: sign in (a wrong password first), become available, accept a chat from a
//! visitor whose name and first message are hostile markup, see them as text, reply with
//! Enter, read the visitor's answer, end the chat.
//!
//! The visitor is the native WebSocket client of `common`. The test starts `chromedriver`
//! itself (found on `PATH`, with `chromium`) and fails, saying to run
//! `cargo xtask prereq`, when either is missing. `INTERACT_SKIP_BROWSER=1` (set by
//! `cargo xtask test --skip-browser`) skips it.
//!
//! Screenshots go to `target/test-artifacts/console-*.png` (signin, offer, chat, ended);
//! when the scenario fails, `console-failure.png` and `console-failure.txt` (what the
//! page logged, and its DOM) are saved there too.

mod common;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ALLOWED, TestServer, config, connect_visitor, mid};
use fantoccini::Locator;
use fantoccini::key::Key;
use futures_util::FutureExt as _;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{
    ClientFrame, EndReason, Party, ReceiptState, ServerFrame, SessionEvent,
};
use interact_server::tenant::TargetRef;
use serde_json::{Value, json};

/// Set to `1` to skip this test on machines without Chromium.
const SKIP_ENV: &str = "INTERACT_SKIP_BROWSER";

/// How long any one thing may take to show up in the page.
const WAIT: Duration = Duration::from_secs(10);
/// The whole scenario, normally about 6 s.
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);
/// Saving what a failure left, and closing the browser.
const CLEANUP_LIMIT: Duration = Duration::from_secs(15);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// The visitor's display name and first message: markup that must stay text.
const NAME: &str = "<img src=x onerror=alert(1)>";
const FIRST: &str = "<b>bold?</b>";
/// What the agent types, and what the visitor answers.
const REPLY: &str = "Hello! How can I help? <3 & more";
const ANSWER: &str = "Thanks, <i>that</i> helps </p><script>alert(2)</script>";

/// Lists what visitor input would have become if it were rendered as HTML: `img`, `b`,
/// `i` or `script` elements or inline handlers where visitor text is shown, `b` elements or
/// inline handlers anywhere, and a request for the `x` image the hostile name would load.
const MARKUP_FROM_VISITOR: &str = "
    const bad = [];
    for (const area of document.querySelectorAll('#offers, #chats, #sessions, #notices')) {
      for (const n of area.querySelectorAll('img, b, i, script, [onerror]')) bad.push(n.outerHTML);
    }
    for (const n of document.querySelectorAll('b, [onerror]')) bad.push(n.outerHTML);
    for (const e of performance.getEntriesByType('resource')) {
      if (new URL(e.name).pathname.endsWith('/x')) bad.push('request ' + e.name);
    }
    return bad;";

/// The session view on screen.
const SHOWN: &str = ".session:not([hidden])";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_signs_in_accepts_and_chats_with_hostile_markup_shown_as_text() {
    if std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1") {
        eprintln!("{SKIP_ENV}=1: skipping the agent console test in Chromium");
        return;
    }
    let started = Instant::now();
    let (chromium, chromedriver) = browser_binaries();
    for stale in ["console-failure.png", "console-failure.txt"] {
        let _ = std::fs::remove_file(artifacts().join(stale));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;

    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(&chromium, profile.path()).await;
    let page = Page { browser };

    // A WebDriver command has no timeout of its own: bound the whole scenario.
    let outcome = tokio::time::timeout(
        SCENARIO_LIMIT,
        AssertUnwindSafe(scenario(&page, &server, code.as_str())).catch_unwind(),
    )
    .await;
    if !matches!(outcome, Ok(Ok(()))) {
        let _ = tokio::time::timeout(CLEANUP_LIMIT, page.save_failure()).await;
    }
    // End the session (and so Chromium) before chromedriver goes away: killing
    // chromedriver would leave Chromium running.
    let _ = tokio::time::timeout(CLEANUP_LIMIT, page.browser.close()).await;
    drop(driver);
    server.stop().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the console scenario did not finish within {SCENARIO_LIMIT:?}"),
    }
    eprintln!("agent console test took {:?}", started.elapsed());
}

async fn scenario(page: &Page, server: &TestServer, code: &str) {
    let base = format!("http://{}", server.addr);

    // --- Sign in, with a wrong password first.
    page.browser
        .set_window_size(1280, 860)
        .await
        .expect("window size");
    page.browser
        .goto(&format!("{base}/console/"))
        .await
        .expect("open the console");
    page.wait_visible("the sign-in form", "#signin-view").await;
    page.record_page_problems().await;
    page.element("#signin-username")
        .await
        .send_keys("alex")
        .await
        .expect("type the username");
    page.element("#signin-password")
        .await
        .send_keys("not-the-password")
        .await
        .expect("type a wrong password");
    page.element("#signin-submit")
        .await
        .click()
        .await
        .expect("click Sign in");
    page.wait_text(
        "the sign-in error",
        "#signin-error",
        "Wrong username or password.",
    )
    .await;
    assert!(
        page.is_visible("#signin-view").await && !page.is_visible("#app-view").await,
        "a wrong password must keep the sign-in form"
    );
    page.screenshot("signin").await;

    let password = page.element("#signin-password").await;
    password.clear().await.expect("clear the password");
    password
        .send_keys(&format!("demo-password{}", Key::Enter))
        .await
        .expect("type the password and press Enter");
    page.wait_visible("the console", "#app-view").await;
    page.wait_until(
        "the console to be online",
        "const c = document.getElementById('conn');
         return c.dataset.state === 'online' ? true : c.dataset.state + ': ' + c.textContent.trim();",
        vec![],
    )
    .await;
    page.wait_text("the agent's name", "#me-name", "Alex Agent")
        .await;
    assert!(!page.is_visible("#signin-view").await);

    // --- Presence: away, then available, each confirmed by the server.
    for presence in ["away", "available"] {
        page.element("#presence-select")
            .await
            .select_by_value(presence)
            .await
            .expect("choose a presence");
        page.wait_until(
            &format!("presence {presence} confirmed by the server"),
            "const p = document.querySelector('.presence');
             return p.dataset.presence === arguments[0] && !p.classList.contains('is-pending')
               ? true : p.dataset.presence + ' ' + p.className;",
            vec![json!(presence)],
        )
        .await;
    }

    // --- A visitor starts a chat from an allowed website, with hostile markup.
    let mut visitor = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("the allowed origin may connect");
    assert!(matches!(
        visitor.hello(None).await,
        ServerFrame::Welcome { .. }
    ));
    visitor
        .send(&ClientFrame::StartChat {
            id: mid("start-1"),
            form: PreChatForm {
                display_name: NAME.into(),
                email: "vera@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: Some(FIRST.into()),
            },
        })
        .await;
    let frames = visitor
        .recv_until(|f| matches!(f, ServerFrame::SessionStarted { .. }))
        .await;
    let Some(ServerFrame::SessionStarted { session, .. }) = frames.last().cloned() else {
        unreachable!()
    };

    // --- The offer shows the name and first message as text.
    page.element("#offers .offer").await;
    page.assert_inert("the offer").await;
    page.wait_text("the offer", "#offers .offer .offer-name", NAME)
        .await;
    page.wait_text(
        "the offer's first message",
        "#offers .offer .offer-message",
        FIRST,
    )
    .await;
    page.wait_text("the offer count", "#offers-count", "1")
        .await;
    page.screenshot("offer").await;

    page.element("#offers .offer .offer-accept")
        .await
        .click()
        .await
        .expect("click Accept");

    // --- The transcript: the visitor's name and first message, as text.
    page.wait_text("the chat's title", &format!("{SHOWN} .session-title"), NAME)
        .await;
    page.wait_transcript("the first message", ".msg-visitor .msg-text", FIRST)
        .await;
    page.wait_transcript(
        "the started line",
        ".sys-started .sys-text",
        &format!("{NAME} started the chat via Customer Care"),
    )
    .await;
    page.wait_transcript(
        "the joined line",
        ".sys-agent_joined .sys-text",
        "You joined the chat",
    )
    .await;
    page.wait_text("the visitor's name", &format!("{SHOWN} .d-name"), NAME)
        .await;
    page.wait_text(
        "the visitor's email",
        &format!("{SHOWN} .d-email"),
        "vera@example.com",
    )
    .await;
    page.wait_until(
        "the offer to leave the list",
        "return document.querySelectorAll('#offers .offer').length === 0
           ? true : document.getElementById('offers').textContent;",
        vec![],
    )
    .await;
    let transcript: String = page
        .eval(
            "return document.querySelector(arguments[0]).textContent;",
            vec![json!(format!("{SHOWN} .log"))],
        )
        .await;
    assert!(transcript.contains(NAME), "{transcript:?}");
    assert!(transcript.contains(FIRST), "{transcript:?}");
    page.assert_inert("the accepted chat").await;
    page.assert_no_alert().await;
    visitor
        .recv_until(|f| is_event(f, |e| matches!(e, SessionEvent::AgentJoined { .. })))
        .await;

    // --- The agent replies with Enter; the visitor receives it.
    let input = page.element(&format!("{SHOWN} .composer-input")).await;
    input
        .send_keys(&format!("{REPLY}{}", Key::Enter))
        .await
        .expect("type a reply and press Enter");
    let frames = visitor
        .recv_until(|f| {
            is_event(f, |e| {
                matches!(
                    e,
                    SessionEvent::Message {
                        from: Party::Agent,
                        ..
                    }
                )
            })
        })
        .await;
    let Some(ServerFrame::Event(reply)) = frames.last() else {
        unreachable!()
    };
    let SessionEvent::Message { text, author, .. } = &reply.event else {
        unreachable!()
    };
    assert_eq!(text, REPLY, "the visitor gets the agent's text unchanged");
    assert_eq!(author.as_deref(), Some("Alex Agent"));
    assert_eq!(
        input
            .prop("value")
            .await
            .expect("composer value")
            .as_deref(),
        Some(""),
        "Enter sends and empties the composer"
    );
    page.wait_transcript("the agent's reply", ".msg-self .msg-text", REPLY)
        .await;

    // --- The visitor reads it and answers; the answer appears as text.
    visitor
        .send(&ClientFrame::Receipt {
            session: None,
            up_to: reply.seq,
            state: ReceiptState::Read,
        })
        .await;
    page.wait_transcript("the read receipt", ".msg-self .msg-status", "Read")
        .await;
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v-2"),
            text: ANSWER.into(),
        })
        .await;
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    page.wait_transcript("the visitor's answer", ".msg-visitor .msg-text", ANSWER)
        .await;
    page.assert_inert("the chat").await;
    page.assert_no_alert().await;
    page.screenshot("chat").await;

    // --- The agent ends the chat (after confirming); the visitor sees it end.
    page.element(&format!("{SHOWN} .session-end"))
        .await
        .click()
        .await
        .expect("click End chat");
    let question = page.wait_alert().await;
    assert_eq!(question, format!("End the chat with {NAME}?"));
    page.browser
        .accept_alert()
        .await
        .expect("confirm ending the chat");
    let frames = visitor
        .recv_until(|f| is_event(f, |e| matches!(e, SessionEvent::Ended { .. })))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Event(e))
            if e.session == session
                && matches!(e.event, SessionEvent::Ended { reason: EndReason::AgentEnded })),
        "{:?}",
        frames.last()
    );
    page.wait_transcript(
        "the ended line",
        ".sys-ended .sys-text",
        "You ended the chat",
    )
    .await;
    page.wait_text(
        "the chat's state",
        &format!("{SHOWN} .session-state"),
        "Ended",
    )
    .await;
    page.wait_until(
        "the composer to be disabled",
        "return document.querySelector(arguments[0]).disabled;",
        vec![json!(format!("{SHOWN} .composer-input"))],
    )
    .await;
    page.screenshot("ended").await;

    page.assert_inert("the ended chat").await;
    page.assert_no_alert().await;
    page.assert_no_page_problems().await;
}

fn is_event(frame: &ServerFrame, pred: impl Fn(&SessionEvent) -> bool) -> bool {
    matches!(frame, ServerFrame::Event(e) if pred(&e.event))
}

// ---------------------------------------------------------------------------------------
// The page, through WebDriver

/// The console page in the browser, with waits and checks that fail with a clear message.
struct Page {
    browser: fantoccini::Client,
}

impl Page {
    /// Runs `script` (a function body; `arguments` are `args`) and decodes its result.
    async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> T {
        let value = self
            .browser
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"));
        serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("unexpected script result {value}: {e}\n{script}"))
    }

    /// Polls `script` until it returns `true`; anything else it returns is the state
    /// reported if [`WAIT`] passes first.
    async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) {
        let deadline = Instant::now() + WAIT;
        loop {
            let value: Value = self.eval(script, args.clone()).await;
            if value == Value::Bool(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what}; the page shows: {value}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the first element matching `css` has exactly the text `expected`.
    async fn wait_text(&self, what: &str, css: &str, expected: &str) {
        self.wait_until(
            what,
            "const n = document.querySelector(arguments[0]);
             if (!n) return 'no element matches ' + arguments[0];
             return n.textContent === arguments[1] ? true : n.textContent;",
            vec![json!(css), json!(expected)],
        )
        .await;
    }

    /// Waits until an element matching `css` in the shown chat's transcript has exactly
    /// the text `expected`.
    async fn wait_transcript(&self, what: &str, css: &str, expected: &str) {
        self.wait_until(
            what,
            "const found = [...document.querySelectorAll(arguments[0])].map((n) => n.textContent);
             return found.includes(arguments[1]) ? true : found;",
            vec![json!(format!("{SHOWN} .log {css}")), json!(expected)],
        )
        .await;
    }

    async fn is_visible(&self, css: &str) -> bool {
        self.eval(
            "const n = document.querySelector(arguments[0]);
             return n !== null && n.checkVisibility();",
            vec![json!(css)],
        )
        .await
    }

    async fn wait_visible(&self, what: &str, css: &str) {
        self.wait_until(
            what,
            "const n = document.querySelector(arguments[0]);
             return n !== null && n.checkVisibility() ? true : (n ? 'hidden' : 'absent');",
            vec![json!(css)],
        )
        .await;
    }

    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.browser
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Nothing a visitor typed became markup ([`MARKUP_FROM_VISITOR`] finds nothing).
    async fn assert_inert(&self, when: &str) {
        let found: Vec<String> = self.eval(MARKUP_FROM_VISITOR, vec![]).await;
        assert!(
            found.is_empty(),
            "{when}: visitor input became markup: {found:?}"
        );
    }

    async fn assert_no_alert(&self) {
        match self.browser.get_alert_text().await {
            Err(e) if e.is_no_such_alert() => {}
            Ok(text) => panic!("a JavaScript dialog is open: {text:?}"),
            Err(e) => panic!("cannot check for dialogs: {e}"),
        }
    }

    /// Waits for a JavaScript dialog and returns its text.
    async fn wait_alert(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.browser.get_alert_text().await {
                Ok(text) => return text,
                Err(e) if e.is_no_such_alert() => {}
                Err(e) => panic!("cannot read the dialog: {e}"),
            }
            assert!(Instant::now() < deadline, "waited {WAIT:?} for a dialog");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Records, from now on, script errors, console warnings and errors, and Content
    /// Security Policy violations in the page.
    async fn record_page_problems(&self) {
        let _: bool = self
            .eval(
                "if (!window.__consoleTest) {
                   const rec = { errors: [], warnings: [], csp: [] };
                   window.__consoleTest = rec;
                   window.addEventListener('error', (e) => rec.errors.push(String(e.message)));
                   window.addEventListener('unhandledrejection', (e) => rec.errors.push('unhandled rejection: ' + String(e.reason)));
                   document.addEventListener('securitypolicyviolation', (e) => rec.csp.push(e.violatedDirective + ' ' + e.blockedURI));
                   for (const level of ['warn', 'error']) {
                     const original = console[level].bind(console);
                     console[level] = (...args) => {
                       (level === 'warn' ? rec.warnings : rec.errors).push(args.map(String).join(' '));
                       original(...args);
                     };
                   }
                 }
                 return true;",
                vec![],
            )
            .await;
    }

    async fn page_problems(&self) -> Value {
        self.browser
            .execute("return window.__consoleTest ?? null;", vec![])
            .await
            .unwrap_or_else(|e| json!(format!("cannot read: {e}")))
    }

    async fn assert_no_page_problems(&self) {
        let problems = self.page_problems().await;
        let empty = json!({"errors": [], "warnings": [], "csp": []});
        assert_eq!(problems, empty, "the page reported problems");
    }

    /// Saves a screenshot as `console-<name>.png`, once entry animations have finished.
    async fn screenshot(&self, name: &str) {
        self.wait_until(
            "animations to finish",
            "const running = document.getAnimations().filter((a) =>
               a.playState === 'running' && a.effect.getComputedTiming().iterations !== Infinity);
             return running.length === 0 ? true : running.map((a) => a.animationName ?? a.id);",
            vec![],
        )
        .await;
        let png = self.browser.screenshot().await.expect("screenshot");
        let path = artifacts().join(format!("console-{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    /// Saves what helps to understand a failure; never panics.
    async fn save_failure(&self) {
        let dir = artifacts();
        if let Ok(png) = self.browser.screenshot().await {
            let _ = std::fs::write(dir.join("console-failure.png"), png);
        }
        let problems = self.page_problems().await;
        let markup = self
            .browser
            .execute(MARKUP_FROM_VISITOR, vec![])
            .await
            .unwrap_or_else(|e| json!(format!("cannot check: {e}")));
        let html = self
            .browser
            .source()
            .await
            .unwrap_or_else(|e| format!("cannot read: {e}"));
        let _ = std::fs::write(
            dir.join("console-failure.txt"),
            format!(
                "page problems: {problems:#}\n\nmarkup from visitor input: {markup:#}\n\n\
                 page source:\n{html}\n"
            ),
        );
        eprintln!(
            "the console test failed; see {}/console-failure.{{png,txt}}",
            dir.display()
        );
    }
}

/// `target/test-artifacts` of the workspace, created if needed.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir.canonicalize().unwrap_or(dir)
}

// ---------------------------------------------------------------------------------------
// Chromium and chromedriver

/// `chromium` and `chromedriver` from `PATH`, or a failure that says how to get them.
fn browser_binaries() -> (PathBuf, PathBuf) {
    let find = |name: &str| {
        find_on_path(name).unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: this test drives the agent console in headless \
                 Chromium. Run `cargo xtask prereq` to install chromium and chromedriver, or \
                 set {SKIP_ENV}=1 to skip it (`cargo xtask test --skip-browser` does)."
            )
        })
    };
    (find("chromium"), find("chromedriver"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A chromedriver child process on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start(program: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .arg("--log-level=WARNING")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut driver = Self { child, port };
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "{} exited at start ({status}); run `cargo xtask prereq`",
                    program.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on port {port} within {WAIT:?}",
                program.display()
            );
            tokio::time::sleep(POLL).await;
        }
        driver
    }

    /// A new browser session: headless Chromium with a fresh profile in `profile`.
    async fn session(&self, chromium: &Path, profile: &Path) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        // A dialog nobody expected stays open (WebDriver commands then fail with
        // "unexpected alert open") rather than being dismissed behind the test's back.
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = fantoccini::ClientBuilder::new(connector);
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{}", self.port);
        match tokio::time::timeout(Duration::from_secs(30), builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "chromedriver could not start {}: {e}; run `cargo xtask prereq` (chromium and \
                 chromedriver must have the same major version)",
                chromium.display()
            ),
            Err(_) => panic!("Chromium did not start within 30 s"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
