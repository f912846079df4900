//! Headless Chromium through chromedriver, and a page handle with waits and checks that
//! fail with a clear message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{Value, json};

/// How long any one thing may take to show up in a page.
pub const WAIT: Duration = Duration::from_secs(15);
/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(50);

/// `chromium` and `chromedriver` from `PATH`, or a failure that says how to get them.
pub fn browser_binaries() -> (PathBuf, PathBuf) {
    let find = |name: &str| {
        find_on_path(name).unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: the end-to-end tests drive headless Chromium. Run \
                 `cargo xtask prereq` to install chromium and chromedriver, or set {}=1 to \
                 skip them (`cargo xtask test --skip-browser` does).",
                crate::SKIP_ENV
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

/// `target/test-artifacts` of the workspace, created if needed.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir.canonicalize().unwrap_or(dir)
}

/// A chromedriver child process on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver and waits until it listens.
    pub async fn start(program: &Path) -> Self {
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

    /// A new browser session: headless Chromium with a fresh profile in `profile` and
    /// fake media devices.
    pub async fn session(&self, chromium: &Path, profile: &Path) -> fantoccini::Client {
        self.session_in(chromium, profile, None).await
    }

    /// [`session`](Self::session) of a browser whose language is `lang` (`de-DE`, say:
    /// its `navigator.languages` and `Accept-Language`), or Chromium's default.
    pub async fn session_in(
        &self,
        chromium: &Path,
        profile: &Path,
        lang: Option<&str>,
    ) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--use-fake-device-for-media-stream".to_owned(),
            "--use-fake-ui-for-media-stream".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut prefs = serde_json::Map::new();
        if let Some(lang) = lang {
            args.push(format!("--lang={lang}"));
            let primary = lang.split('-').next().unwrap_or(lang);
            prefs.insert(
                "intl.accept_languages".into(),
                json!(format!("{lang},{primary}")),
            );
        }
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": args,
                "prefs": prefs,
            }),
        );
        // A dialog nobody expected stays open (WebDriver commands then fail with
        // "unexpected alert open") rather than being dismissed behind the test's back.
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        self.connect(chromium, caps).await
    }

    async fn connect(
        &self,
        chromium: &Path,
        caps: serde_json::Map<String, Value>,
    ) -> fantoccini::Client {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = fantoccini::ClientBuilder::new(connector);
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut attempt =
            tokio::time::timeout(Duration::from_secs(30), builder.connect(&url)).await;
        if matches!(attempt, Ok(Err(_))) {
            // Several Chromiums starting at once on a small shared machine: one may miss
            // chromedriver's start-up window. Once more, after a breath.
            tokio::time::sleep(Duration::from_secs(1)).await;
            attempt = tokio::time::timeout(Duration::from_secs(30), builder.connect(&url)).await;
        }
        match attempt {
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

/// A browser session seen as one page at a time, with artefacts named `<name>-*`.
#[derive(Debug)]
pub struct Page {
    /// The WebDriver session.
    pub browser: fantoccini::Client,
    name: String,
}

/// Records script errors, console warnings and errors, and CSP violations of a document.
const RECORD_PROBLEMS: &str = "if (!window.__e2e) {
   const rec = { errors: [], warnings: [], csp: [] };
   window.__e2e = rec;
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
 return true;";

impl Page {
    /// Wraps a session; artefacts are saved as `<name>-<what>.png`.
    pub fn new(browser: fantoccini::Client, name: &str) -> Self {
        Self {
            browser,
            name: name.to_owned(),
        }
    }

    /// Runs `script` (a function body; `arguments` are `args`) and decodes its result.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> T {
        let value = self
            .browser
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"));
        serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("unexpected script result {value}: {e}\n{script}"))
    }

    /// Types `text` into the first element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.element(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Polls `script` until it returns `true`; anything else it returns is the state
    /// reported if [`WAIT`] passes first.
    pub async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) {
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
    pub async fn wait_text(&self, what: &str, css: &str, expected: &str) {
        self.wait_until(
            what,
            "const n = document.querySelector(arguments[0]);
             if (!n) return 'no element matches ' + arguments[0];
             return n.textContent === arguments[1] ? true : n.textContent;",
            vec![json!(css), json!(expected)],
        )
        .await;
    }

    /// The texts of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        self.eval(
            "return [...document.querySelectorAll(arguments[0])].map((n) => n.textContent);",
            vec![json!(css)],
        )
        .await
    }

    /// Waits until some element matching `css` has exactly the text `expected`.
    pub async fn wait_any_text(&self, what: &str, css: &str, expected: &str) {
        self.wait_until(
            what,
            "const found = [...document.querySelectorAll(arguments[0])].map((n) => n.textContent);
             return found.includes(arguments[1]) ? true : found;",
            vec![json!(css), json!(expected)],
        )
        .await;
    }

    /// Whether an element matching `css` is rendered.
    pub async fn is_visible(&self, css: &str) -> bool {
        self.eval(
            "const n = document.querySelector(arguments[0]);
             return n !== null && n.checkVisibility();",
            vec![json!(css)],
        )
        .await
    }

    /// Waits until an element matching `css` is rendered.
    pub async fn wait_visible(&self, what: &str, css: &str) {
        self.wait_until(
            what,
            "const n = document.querySelector(arguments[0]);
             return n !== null && n.checkVisibility() ? true : (n ? 'hidden' : 'absent');",
            vec![json!(css)],
        )
        .await;
    }

    /// The first element matching `css`, waiting for it.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.browser
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Starts recording script errors, console warnings/errors and CSP violations in the
    /// current document.
    pub async fn record_problems(&self) {
        let _: bool = self.eval(RECORD_PROBLEMS, vec![]).await;
    }

    /// Fails if the current document recorded any problem since
    /// [`record_problems`](Self::record_problems).
    pub async fn assert_no_problems(&self, which: &str) {
        let problems = self.problems().await;
        let empty = json!({"errors": [], "warnings": [], "csp": []});
        assert_eq!(problems, empty, "{which} reported problems");
    }

    async fn problems(&self) -> Value {
        self.browser
            .execute("return window.__e2e ?? null;", vec![])
            .await
            .unwrap_or_else(|e| json!(format!("cannot read: {e}")))
    }

    /// Fails if a JavaScript dialog is open.
    pub async fn assert_no_alert(&self) {
        match self.browser.get_alert_text().await {
            Err(e) if e.is_no_such_alert() => {}
            Ok(text) => panic!("a JavaScript dialog is open: {text:?}"),
            Err(e) => panic!("cannot check for dialogs: {e}"),
        }
    }

    /// Waits for a JavaScript dialog and returns its text.
    pub async fn wait_alert(&self) -> String {
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

    /// Waits until the current document's finite animations (entry transitions) have
    /// finished, so that a screenshot shows where they end.
    pub async fn wait_animations(&self) {
        self.wait_until(
            "animations to finish",
            "const running = document.getAnimations().filter((a) =>
               a.playState === 'running' && a.effect.getComputedTiming().iterations !== Infinity);
             return running.length === 0 ? true : running.map((a) => a.animationName ?? a.id);",
            vec![],
        )
        .await;
    }

    /// Makes the page's `prefers-color-scheme` dark (`true`) or light, through
    /// chromedriver's DevTools endpoint (`Emulation.setEmulatedMedia`). It applies to the
    /// page and its frames until changed.
    pub async fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.browser
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
            })
            .await
            .unwrap_or_else(|e| panic!("emulate the {value} colour scheme: {e}"));
        let applied: bool = self
            .eval(
                "return matchMedia('(prefers-color-scheme: ' + arguments[0] + ')').matches;",
                vec![json!(value)],
            )
            .await;
        assert!(applied, "the {value} colour scheme did not apply");
    }

    /// Saves a screenshot of the whole viewport as `<name>-<what>.png`.
    pub async fn screenshot(&self, what: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        let path = artifacts().join(format!("{}-{what}.png", self.name));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    /// Saves what helps to understand a failure; never panics.
    pub async fn save_failure(&self) {
        let dir = artifacts();
        let _ = self.browser.enter_parent_frame().await;
        if let Ok(png) = self.browser.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{}-failure.png", self.name)), png);
        }
        let problems = self.problems().await;
        let html = self
            .browser
            .source()
            .await
            .unwrap_or_else(|e| format!("cannot read: {e}"));
        let _ = std::fs::write(
            dir.join(format!("{}-failure.txt", self.name)),
            format!("page problems: {problems:#}\n\npage source:\n{html}\n"),
        );
        eprintln!(
            "the {} test failed; see {}/{}-failure.{{png,txt}}",
            self.name,
            dir.display(),
            self.name
        );
    }
}

/// Runs a browser scenario with a fresh Chromium: bounds it in time, saves a screenshot
/// and the page's problems if it fails, and always closes the browser.
pub async fn with_browser<F, Fut>(name: &str, limit: Duration, scenario: F)
where
    F: FnOnce(std::sync::Arc<Page>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    with_browser_in(name, None, limit, scenario).await;
}

/// [`with_browser`] with a browser whose language is `lang` (`de-DE`, say), or
/// Chromium's default.
pub async fn with_browser_in<F, Fut>(name: &str, lang: Option<&str>, limit: Duration, scenario: F)
where
    F: FnOnce(std::sync::Arc<Page>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt as _;
    use std::panic::AssertUnwindSafe;

    let (chromium, chromedriver) = browser_binaries();
    for stale in ["failure.png", "failure.txt"] {
        let _ = std::fs::remove_file(artifacts().join(format!("{name}-{stale}")));
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Driver::start(&chromedriver).await;
    let page = std::sync::Arc::new(Page::new(
        driver.session_in(&chromium, profile.path(), lang).await,
        name,
    ));
    let outcome = tokio::time::timeout(
        limit,
        AssertUnwindSafe(scenario(page.clone())).catch_unwind(),
    )
    .await;
    let cleanup = Duration::from_secs(15);
    if !matches!(outcome, Ok(Ok(()))) {
        let _ = tokio::time::timeout(cleanup, page.save_failure()).await;
    }
    // End the session (and so Chromium) before chromedriver goes away: killing
    // chromedriver would leave Chromium running.
    let _ = tokio::time::timeout(cleanup, page.browser.clone().close()).await;
    drop(driver);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the {name} scenario did not finish within {limit:?}"),
    }
}

/// One Chrome DevTools Protocol command through chromedriver
/// (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
