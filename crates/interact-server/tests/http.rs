//! The HTTP side through the router (`tower::ServiceExt::oneshot`, no listener): the
//! widget configuration and its CORS, the widget frame's CSP, agent sign-in, the admin API,
//! the console's static files, health and metrics. The configuration is config/demo.toml,
//! so the tests and the demo stay in step.

use axum::Router;
use axum::body::Body;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE,
    VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use interact_sdk::embed::EmbedCode;
use interact_server::clock::system_now as now;
use interact_server::config::Config;
use interact_server::node::state::AppState;
use interact_server::{app, auth, build_state};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

const DEMO: &str = include_str!("../../../config/demo.toml");
/// The demo admin token (config/demo.toml holds its SHA-256).
const ADMIN_TOKEN: &str = "demo-admin-token";
/// The demo agents' password (config/demo.toml holds its Argon2 hashes).
const PASSWORD: &str = "demo-password";
const ALLOWED: &str = "http://127.0.0.1:8081";
const FOREIGN: &str = "https://evil.example.net";
const CONSOLE_PAGE: &str = "<!doctype html><title>console fixture</title>";

/// A server state on a fresh database, with the demo embed code, and the router over it.
struct Fixture {
    _dir: TempDir,
    state: AppState,
    app: Router,
    /// The demo embed code (service `support`, template `demo`).
    code: String,
}

impl Fixture {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// The demo configuration, changed by `tweak`, on a temporary database; `www` holds a
    /// stand-in console page.
    async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let console = dir.path().join("www").join("console");
        std::fs::create_dir_all(&console).expect("www");
        std::fs::write(console.join("index.html"), CONSOLE_PAGE).expect("index.html");
        let mut config = Config::parse(DEMO).expect("demo config parses");
        config.validate().expect("demo config is valid");
        config.server.database =
            interact_server::config::Database::Sqlite(dir.path().join("interact.db"));
        config.server.www = Some(dir.path().join("www"));
        tweak(&mut config);
        let code = config
            .demo
            .as_ref()
            .expect("the demo config has a [demo] section")
            .embed_code
            .clone();
        let state = build_state(config).await.expect("state");
        Self {
            _dir: dir,
            app: app(state.clone()),
            state,
            code,
        }
    }

    async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.app.clone().oneshot(request).await.expect("infallible")
    }

    async fn get(&self, uri: &str) -> Response<Body> {
        self.send(
            request(Method::GET, uri)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// `GET /v1/config?code=` with an optional `Origin`.
    async fn config(&self, code: &str, origin: Option<&str>) -> Response<Body> {
        let mut req = request(Method::GET, &format!("/v1/config?code={code}"));
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    /// An admin API call with the demo admin token.
    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Response<Body> {
        self.admin_as(Some(ADMIN_TOKEN), method, uri, body).await
    }

    async fn admin_as(
        &self,
        token: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Response<Body> {
        let mut req = request(method, uri);
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(with_json(req, body)).await
    }

    /// A signed Preview link for `code` opened: the cookie it sets (`name=ticket`).
    async fn preview_cookie(&self, code: &str) -> String {
        let r = self
            .admin(
                Method::POST,
                &format!("/admin/v1/embed-codes/{code}/preview-link"),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let link = json_body(r).await;
        let url = link["url"].as_str().expect("url");
        let path = url
            .strip_prefix("http://127.0.0.1:8080")
            .expect("the link is on the public URL");
        assert!(
            path.starts_with(&format!("/preview/{code}?ticket=")),
            "{url}"
        );
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            header(&r, &LOCATION),
            Some(format!("/preview/{code}").as_str())
        );
        let cookie = header(&r, &SET_COOKIE).expect("a cookie").to_owned();
        let max_age: u64 = cookie
            .split("Max-Age=")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .and_then(|v| v.parse().ok())
            .expect("Max-Age");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && (3_590..=3_600).contains(&max_age)
                && cookie.starts_with(&format!("interact_preview_{code}=")),
            "{cookie}"
        );
        cookie.split(';').next().expect("name=value").to_owned()
    }

    /// `GET` with a cookie and, optionally, an `Origin`.
    async fn get_with(
        &self,
        uri: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Response<Body> {
        let mut req = request(Method::GET, uri);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    async fn login(&self, username: &str, password: &str) -> Response<Body> {
        let req = request(Method::POST, "/v1/agent/login");
        let body = json!({"username": username, "password": password});
        self.send(with_json(req, Some(body))).await
    }
}

fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

fn with_json(req: axum::http::request::Builder, body: Option<Value>) -> Request<Body> {
    match body {
        Some(v) => req
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request")
}

async fn text(response: Response<Body>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

async fn json_body(response: Response<Body>) -> Value {
    serde_json::from_str(&text(response).await).expect("JSON body")
}

fn header<'a>(response: &'a Response<Body>, name: &axum::http::HeaderName) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A well-formed embed code that was never issued.
fn unknown_code() -> String {
    EmbedCode::from_random([0x5a; 16]).as_str().to_owned()
}

/// The metrics token of [`health_and_metrics_are_not_public`].
const METRICS_TOKEN: &str = "metrics-test-token";

#[tokio::test]
async fn health_and_metrics_are_not_public() {
    // Without a metrics token configured, the main address does not serve them.
    let f = Fixture::new().await;
    let r = f.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(text(r).await, "ok");
    assert_eq!(f.get("/metrics").await.status(), StatusCode::NOT_FOUND);

    // With one, only with it.
    let f = Fixture::with(|c| {
        c.metrics.token_sha256 = Some(interact_server::auth::token_hash(METRICS_TOKEN));
    })
    .await;
    assert_eq!(f.get("/metrics").await.status(), StatusCode::UNAUTHORIZED);
    let wrong = f
        .admin_as(Some("not-the-token"), Method::GET, "/metrics", None)
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let r = f
        .admin_as(Some(METRICS_TOKEN), Method::GET, "/metrics", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, &CONTENT_TYPE), Some("text/plain; version=0.0.4"));
    let body = text(r).await;
    for series in [
        "interact_active_sessions",
        "interact_sessions_in_memory",
        "interact_tcp_connections",
    ] {
        assert!(body.contains(series), "{series} in {body}");
    }

    // The metrics' own address serves them without a token, and nothing else.
    let own = interact_server::http::metrics_app(f.state.clone());
    let get = |uri: &str| {
        own.clone().oneshot(
            request(Method::GET, uri)
                .body(Body::empty())
                .expect("request"),
        )
    };
    assert_eq!(
        get("/metrics").await.expect("infallible").status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/v1/config").await.expect("infallible").status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn root_page_links_to_the_console() {
    let f = Fixture::new().await;
    let r = f.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, &X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert!(header(&r, &CONTENT_SECURITY_POLICY).is_some());
    let page = text(r).await;
    assert!(page.contains(r#"href="/console/""#), "{page}");
    assert!(page.contains(r#"href="/healthz""#), "{page}");
}

#[tokio::test]
async fn config_answers_allowed_origins_with_cors() {
    let f = Fixture::new().await;
    let r = f.config(&f.code, Some(ALLOWED)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_ORIGIN), Some(ALLOWED));
    assert_eq!(header(&r, &VARY), Some("Origin"));
    let config = json_body(r).await;
    assert_eq!(config["target"]["kind"], "service");
    assert_eq!(config["target"]["display_name"], "Customer Care");
    assert_eq!(config["privacy"]["version"], "2024-05");
    assert_eq!(
        config["modalities"],
        json!(["chat", "audio", "video", "screen_share"])
    );
    // Nobody has signed in.
    assert_eq!(config["availability"], "no_agents");
    assert_eq!(config["languages"], json!(["en", "de"]));
}

#[tokio::test]
async fn config_refuses_foreign_missing_and_null_origins() {
    let f = Fixture::new().await;
    for origin in [
        Some(FOREIGN),
        None,
        Some("null"),
        Some("http://127.0.0.1:8082"),
    ] {
        let r = f.config(&f.code, origin).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_ORIGIN), None, "{origin:?}");
        assert_eq!(header(&r, &VARY), Some("Origin"), "{origin:?}");
        let body = json_body(r).await;
        assert_eq!(body["error"]["code"], "origin_not_allowed", "{origin:?}");
    }
}

#[tokio::test]
async fn config_gives_the_same_404_for_unknown_malformed_and_missing_codes() {
    let f = Fixture::new().await;
    let unknown = unknown_code();
    for code in [unknown.as_str(), "not-a-code", "", "ie1_%3Cscript%3E"] {
        let r = f.config(code, Some(ALLOWED)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{code:?}");
        assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_ORIGIN), None);
        let body = json_body(r).await;
        assert_eq!(body["error"]["code"], "not_found", "{code:?}");
    }
    let r = f.get("/v1/config").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn revoked_codes_are_unknown() {
    let f = Fixture::new().await;
    let r = f
        .admin(
            Method::POST,
            "/admin/v1/embed-codes",
            Some(json!({"target": {"kind": "user", "id": "alex"}, "template": "demo"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created = json_body(r).await;
    let code = created["code"].as_str().expect("code").to_owned();
    assert_eq!(created["target"], json!({"kind": "user", "id": "alex"}));
    assert!(
        created["snippet"]
            .as_str()
            .expect("snippet")
            .contains(&code)
    );

    let r = f.config(&code, Some(ALLOWED)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_body(r).await["target"]["display_name"], "Alex Agent");

    let uri = format!("/admin/v1/embed-codes/{code}/revoke");
    let r = f.admin(Method::POST, &uri, None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = f.config(&code, Some(ALLOWED)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = f.get(&format!("/widget/frame?code={code}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Revoking twice, or an unknown code: 404.
    let r = f.admin(Method::POST, &uri, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let uri = format!("/admin/v1/embed-codes/{}/revoke", unknown_code());
    let r = f.admin(Method::POST, &uri, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = f.admin(Method::GET, "/admin/v1/embed-codes", None).await;
    let list = json_body(r).await;
    let listed = list
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["code"] == code.as_str())
        .expect("listed");
    assert!(listed["revoked_at"].is_u64());
}

#[tokio::test]
async fn preflight_only_for_allowed_origins() {
    let f = Fixture::new().await;
    let preflight = |origin: &'static str| {
        request(Method::OPTIONS, &format!("/v1/config?code={}", f.code))
            .header(ORIGIN, origin)
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .expect("request")
    };
    let r = f.send(preflight(ALLOWED)).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_ORIGIN), Some(ALLOWED));
    assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_METHODS), Some("GET"));
    assert_eq!(header(&r, &ACCESS_CONTROL_MAX_AGE), Some("600"));
    assert_eq!(header(&r, &VARY), Some("Origin"));

    let r = f.send(preflight(FOREIGN)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_ORIGIN), None);
    assert_eq!(header(&r, &VARY), Some("Origin"));
}

#[tokio::test]
async fn widget_frame_is_framed_only_by_the_checked_host() {
    let f = Fixture::with(|c| c.services[0].display_name = "<b>Care</b> & Co".into()).await;
    let frame = |host: &str| {
        format!(
            "/widget/frame?code={}&host={}&lang=de",
            f.code,
            host.replace(':', "%3A")
                .replace('/', "%2F")
                .replace(' ', "%20")
                .replace(';', "%3B")
                .replace('*', "%2A")
        )
    };
    let r = f.get(&frame(ALLOWED)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = header(&r, &CONTENT_SECURITY_POLICY)
        .expect("CSP")
        .to_owned();
    assert!(
        csp.contains("frame-ancestors http://127.0.0.1:8081;"),
        "exactly the host: {csp}"
    );
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains('*'), "{csp}");
    assert_eq!(header(&r, &X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert!(header(&r, &CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")));
    let page = text(r).await;
    assert!(
        page.contains("data-host=\"http://127.0.0.1:8081\""),
        "{page}"
    );
    assert!(page.contains("data-lang=\"de\""), "{page}");
    assert!(page.contains("src=\"/widget/frame.js\""), "{page}");
    assert!(page.contains("&lt;b&gt;Care&lt;/b&gt; &amp; Co"), "{page}");
    assert!(!page.contains("<b>"), "{page}");

    // Without a host: the server's own origin (the Preview page).
    let r = f.get(&format!("/widget/frame?code={}", f.code)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = header(&r, &CONTENT_SECURITY_POLICY).expect("CSP");
    assert!(
        csp.contains("frame-ancestors http://127.0.0.1:8080;"),
        "{csp}"
    );

    // A host outside the template, a wildcard, a null origin or CSP syntax: refused in words.
    for host in [
        FOREIGN,
        "null",
        "http://*.example.com",
        "http://127.0.0.1:8081; script-src *",
    ] {
        let r = f.get(&frame(host)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{host}");
        assert!(header(&r, &CONTENT_SECURITY_POLICY).is_none(), "{host}");
        let page = text(r).await;
        assert!(page.contains("is not allowed to show this chat"), "{page}");
    }
    // A hostile language tag is dropped, not echoed.
    let r = f
        .get(&format!(
            "/widget/frame?code={}&lang=%22%3E%3Cscript%3E",
            f.code
        ))
        .await;
    let page = text(r).await;
    assert!(
        !page.contains("<script>") && !page.contains("data-lang"),
        "{page}"
    );

    // The frame needs no Origin, but a live code.
    let r = f
        .get(&format!("/widget/frame?code={}", unknown_code()))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_servers_own_origin_passes_only_through_a_signed_preview_link() {
    let f = Fixture::new().await;
    let r = f
        .admin(
            Method::PUT,
            "/admin/v1/templates/closed",
            Some(json!({"origins": []})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = f
        .admin(
            Method::POST,
            "/admin/v1/embed-codes",
            Some(json!({"target": {"kind": "service", "id": "support"}, "template": "closed"})),
        )
        .await;
    let code = json_body(r).await["code"]
        .as_str()
        .expect("code")
        .to_owned();
    const OWN: &str = "http://127.0.0.1:8080";
    let own_frame = format!("/widget/frame?code={code}&host=http%3A%2F%2F127.0.0.1%3A8080");
    let r = f
        .get(&format!(
            "/widget/frame?code={code}&host=http%3A%2F%2F127.0.0.1%3A8081"
        ))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = f.config(&code, Some(ALLOWED)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The server's own origin passes no template by itself: not the configuration, not
    // the frame, not the Preview page.
    let r = f.config(&code, Some(OWN)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.get(&own_frame).await.status(), StatusCode::FORBIDDEN);
    let r = f.get(&format!("/preview/{code}")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        text(r)
            .await
            .contains("The Preview page is for administrators")
    );
    // A ticket that is made up, or for another code, opens nothing.
    let r = f
        .get(&format!("/preview/{code}?ticket={}", "ab".repeat(32)))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(text(r).await.contains("has expired or is not valid"));
    let other = f.preview_cookie(&f.code).await;
    let forged = other.replace(&f.code, &code);
    let r = f
        .get_with(&format!("/preview/{code}"), Some(&forged), None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Through the signed link: the page, its frame, and the configuration from the
    // server's own origin.
    let cookie = f.preview_cookie(&code).await;
    let r = f
        .get_with(&format!("/preview/{code}"), Some(&cookie), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = text(r).await;
    assert!(
        page.contains("None: the template allows no website"),
        "{page}"
    );
    assert_eq!(
        f.get_with(&own_frame, Some(&cookie), None).await.status(),
        StatusCode::OK
    );
    let r = f
        .get_with(&format!("/v1/config?code={code}"), Some(&cookie), Some(OWN))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The cookie does not make another origin pass.
    let r = f
        .get_with(
            &format!("/v1/config?code={code}"),
            Some(&cookie),
            Some(ALLOWED),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn preview_page_shows_the_widget_snippet_and_origin_checks() {
    let f = Fixture::new().await;
    let cookie = f.preview_cookie(&f.code).await;
    let r = f
        .get_with(&format!("/preview/{}", f.code), Some(&cookie), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = header(&r, &CONTENT_SECURITY_POLICY)
        .expect("CSP")
        .to_owned();
    assert!(
        csp.contains("frame-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let page = text(r).await;
    assert!(page.contains("<h1>Preview: Customer Care</h1>"), "{page}");
    assert!(
        page.contains(&format!(
            "src=\"/widget/frame?code={}&amp;host=http%3A%2F%2F127.0.0.1%3A8080\"",
            f.code
        )),
        "the widget frame: {page}"
    );
    assert!(
        page.contains(&format!(
            "&lt;script async src=&quot;http://127.0.0.1:8080/widget/loader.js&quot; \
             data-interact-code=&quot;{}&quot;&gt;&lt;/script&gt;",
            f.code
        )),
        "the snippet, escaped in the textarea: {page}"
    );
    for origin in ["http://127.0.0.1:8081", "http://localhost:8080"] {
        assert!(
            page.contains(&format!("<li><code>{origin}</code></li>")),
            "{page}"
        );
    }

    for (origin, verdict) in [
        ("http%3A%2F%2F127.0.0.1%3A8081", "class=\"verdict ok\""),
        (
            "https%3A%2F%2Fevil.example.net",
            "is not allowed: add it to Domain Template",
        ),
        ("null", "null origin"),
        ("evil.example.net", "is not an origin"),
        ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "is not an origin"),
    ] {
        let r = f
            .get_with(
                &format!("/preview/{}?origin={origin}", f.code),
                Some(&cookie),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = text(r).await;
        assert!(page.contains(verdict), "{origin}: {page}");
        assert!(!page.contains("<script>alert"), "{origin}: {page}");
    }

    let r = f.get(&format!("/preview/{}", unknown_code())).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(text(r).await.contains("There is no live embed code"));
}

#[tokio::test]
async fn widget_files_are_public_with_cors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let widget = dir.path().join("widget");
    std::fs::create_dir_all(&widget).expect("dir");
    std::fs::write(widget.join("loader.js"), "/* loader */").expect("loader");
    let www = dir.path().to_owned();
    let f = Fixture::with(move |c| c.server.www = Some(www)).await;
    let r = f.get("/widget/loader.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, &ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
    assert_eq!(header(&r, &X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert!(header(&r, &CONTENT_TYPE).is_some_and(|t| t.contains("javascript")));
    assert_eq!(text(r).await, "/* loader */");
    let r = f.get("/widget/../config/demo.toml").await;
    assert_ne!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_api_needs_the_admin_token() {
    let f = Fixture::new().await;
    for token in [None, Some("wrong-token"), Some("")] {
        for (method, uri) in [
            (Method::GET, "/admin/v1/templates"),
            (Method::GET, "/admin/v1/embed-codes"),
            (Method::DELETE, "/admin/v1/templates/demo"),
        ] {
            let r = f.admin_as(token, method, uri, None).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token:?} {uri}");
            assert_eq!(json_body(r).await["error"]["code"], "unauthorized");
        }
    }
    // Nothing was deleted.
    let r = f.admin(Method::GET, "/admin/v1/templates/demo", None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn templates_are_validated_and_applied_at_once() {
    let f = Fixture::new().await;
    let r = f
        .admin(
            Method::PUT,
            "/admin/v1/templates/shop",
            Some(json!({"origins": ["https://shop.example.com", "https://shop.example.com/cart"]})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let message = json_body(r).await["error"]["message"].to_string();
    assert!(
        message.contains("https://shop.example.com/cart"),
        "{message}"
    );
    for bad in [
        "null",
        "*",
        "shop.example.com",
        "https://shop.example.com\"",
        "https://shop.example.com;script-src",
        "https://<shop>.example.com",
        "https://*.com",
    ] {
        let r = f
            .admin(
                Method::PUT,
                "/admin/v1/templates/shop",
                Some(json!({ "origins": [bad] })),
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = f.admin(Method::GET, "/admin/v1/templates/shop", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The demo code's template now allows one more site, at once.
    assert_eq!(
        f.config(&f.code, Some("https://www.example.org"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = f
        .admin(
            Method::PUT,
            "/admin/v1/templates/demo",
            Some(json!({"origins": [ALLOWED, "https://*.example.org"]})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json_body(r).await,
        json!({"name": "demo", "origins": [ALLOWED, "https://*.example.org"]})
    );
    assert_eq!(
        f.config(&f.code, Some("https://www.example.org"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        f.config(&f.code, Some("http://localhost:8080"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = f.admin(Method::GET, "/admin/v1/templates", None).await;
    assert_eq!(json_body(r).await[0]["name"], "demo");

    // In use by the demo code: 409; once the code is revoked it is still referenced.
    let r = f
        .admin(Method::DELETE, "/admin/v1/templates/demo", None)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let revoke = format!("/admin/v1/embed-codes/{}/revoke", f.code);
    let r = f.admin(Method::POST, &revoke, None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = f
        .admin(Method::DELETE, "/admin/v1/templates/demo", None)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // An unused template can go.
    let r = f
        .admin(
            Method::PUT,
            "/admin/v1/templates/spare",
            Some(json!({"origins": []})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = f
        .admin(Method::DELETE, "/admin/v1/templates/spare", None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = f
        .admin(Method::DELETE, "/admin/v1/templates/spare", None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn embed_codes_need_licences_and_a_template() {
    let f = Fixture::new().await;
    let create = |target: Value, template: &str| {
        f.admin(
            Method::POST,
            "/admin/v1/embed-codes",
            Some(json!({"target": target, "template": template})),
        )
    };
    let r = create(json!({"kind": "service", "id": "sales"}), "demo").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let message = json_body(r).await["error"]["message"].to_string();
    assert!(message.contains("Interact"), "{message}");

    let r = create(json!({"kind": "user", "id": "sam"}), "demo").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let message = json_body(r).await["error"]["message"].to_string();
    assert!(message.contains("Interact User"), "{message}");

    let r = create(json!({"kind": "service", "id": "nobody"}), "demo").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = create(json!({"kind": "service", "id": "support"}), "absent").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let message = json_body(r).await["error"]["message"].to_string();
    assert!(message.contains("absent"), "{message}");

    let r = create(json!({"kind": "group", "id": "x"}), "demo").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(r).await["error"]["code"], "bad_request");
}

#[tokio::test]
async fn snippets_are_plain_text() {
    let f = Fixture::new().await;
    let uri = format!("/admin/v1/embed-codes/{}/snippet", f.code);
    let r = f.admin(Method::GET, &uri, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, &CONTENT_TYPE).is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(
        text(r).await.trim_end(),
        format!(
            r#"<script async src="http://127.0.0.1:8080/widget/loader.js" data-interact-code="{}"></script>"#,
            f.code
        )
    );
    let uri = format!("/admin/v1/embed-codes/{}/snippet", unknown_code());
    let r = f.admin(Method::GET, &uri, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn agents_sign_in_and_out() {
    let f = Fixture::new().await;
    let r = f.login("alex", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The answer carries a bearer token: no cache may keep it.
    assert_eq!(
        header(&r, &axum::http::header::CACHE_CONTROL),
        Some("no-store")
    );
    let body = json_body(r).await;
    assert_eq!(
        body["agent"],
        json!({"id": "alex", "display_name": "Alex Agent"})
    );
    let token = body["token"].as_str().expect("token").to_owned();
    assert!(token.len() >= 32);

    // The store knows the token's hash, never the token.
    let store = &f.state.store;
    let hash = auth::token_hash(&token);
    let (user, expires) = store
        .agent_token(&hash, now())
        .await
        .expect("store")
        .expect("the token is known");
    assert_eq!(user, "alex");
    // Valid for 12 hours from now (give or take the test's own run time).
    let twelve_hours = 12 * 60 * 60 * 1000;
    assert!(
        expires.0.abs_diff(now().0 + twelve_hours) < 60_000,
        "{expires:?}"
    );
    assert_eq!(store.agent_token(&token, now()).await.expect("store"), None);

    let logout = |token: Option<&str>| {
        let mut req = request(Method::POST, "/v1/agent/logout");
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        f.send(req.body(Body::empty()).expect("request"))
    };
    assert_eq!(logout(None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(logout(Some(&token)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(store.agent_token(&hash, now()).await.expect("store"), None);
}

#[tokio::test]
async fn wrong_credentials_get_one_answer() {
    let f = Fixture::new().await;
    let wrong_password = f.login("alex", "not-the-password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    let unknown_user = f.login("mallory", PASSWORD).await;
    assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        json_body(wrong_password).await,
        json_body(unknown_user).await
    );

    let r = f
        .send(
            request(Method::POST, "/v1/agent/login")
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .expect("request"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(r).await["error"]["code"], "bad_request");
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let f = Fixture::new().await;
    // All oneshot requests come from the same (unknown) address.
    for _ in 0..10 {
        let r = f.login("mallory", "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = f.login("alex", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json_body(r).await["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn request_bodies_are_limited() {
    let f = Fixture::new().await;
    let big = json!({"username": "alex", "password": "x".repeat(20 * 1024)});
    let r = f
        .send(with_json(
            request(Method::POST, "/v1/agent/login"),
            Some(big),
        ))
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(r).await["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn console_is_served_with_its_csp() {
    let f = Fixture::new().await;
    let r = f.get("/console").await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(header(&r, &LOCATION), Some("/console/"));

    let r = f.get("/console/").await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = header(&r, &CONTENT_SECURITY_POLICY).expect("CSP");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&r, &X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert_eq!(text(r).await, CONSOLE_PAGE);

    let r = f.get("/console/index.html").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, &CONTENT_SECURITY_POLICY).is_some());

    let r = f.get("/console/missing.js").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = f.get("/console/../interact.db").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_repository_console_is_served() {
    let www = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
    let f = Fixture::with(|c| c.server.www = Some(www.into())).await;
    let r = f.get("/console/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, &CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")));
    assert!(header(&r, &CONTENT_SECURITY_POLICY).is_some());
}

#[tokio::test]
async fn the_demo_privacy_policy_is_served_where_the_demo_consent_links() {
    let www = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../www"));
    let f = Fixture::with(move |c| c.server.www = Some(www)).await;
    let url = f.state.config.services[0].privacy.url.clone();
    let path = url
        .strip_prefix(&f.state.config.server.public_url)
        .expect("the demo policy is on this server");
    let r = f.get(path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, &CONTENT_SECURITY_POLICY),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert!(text(r).await.contains("version 2024-05"));
}
