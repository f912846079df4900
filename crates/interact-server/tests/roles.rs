//! Roles in the admin API, through the router (no listener): admin sign-in, and a matrix
//! of every admin route against every kind of caller (nobody, an agent's console token,
//! a Service Owner, a Tenant Admin, the operator's token), each with the status it must
//! get. The configuration is config/demo.toml: Dana is the Tenant Admin, Sam the Service
//! Owner of `support` (not of `sales`), Alex an agent.

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use interact_server::config::Config;
use interact_server::{app, build_state};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

const DEMO: &str = include_str!("../../../config/demo.toml");
const OPERATOR_TOKEN: &str = "demo-admin-token";
const PASSWORD: &str = "demo-password";

struct Fixture {
    _dir: TempDir,
    app: Router,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::parse(DEMO).expect("demo config parses");
        config.validate().expect("demo config is valid");
        config.server.database =
            interact_server::config::Database::Sqlite(dir.path().join("interact.db"));
        config.server.www = Some(dir.path().join("www"));
        let state = build_state(config).await.expect("state");
        Self {
            _dir: dir,
            app: app(state),
        }
    }

    async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => req
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let r = self.app.clone().oneshot(req).await.expect("infallible");
        let status = r.status();
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    async fn sign_in(&self, user: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({"username": user, "password": password});
        self.call(None, Method::POST, "/admin/v1/sign-in", Some(&body))
            .await
    }

    async fn token_of(&self, user: &str) -> String {
        let (status, body) = self.sign_in(user, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{user}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Service `id` as the operator reads it.
    async fn service(&self, id: &str) -> Value {
        let (status, body) = self
            .call(
                Some(OPERATOR_TOKEN),
                Method::GET,
                &format!("/admin/v1/services/{id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// A new embed code for `target` (`{"kind", "id"}`), by the operator.
    async fn code_for(&self, target: Value) -> String {
        let body = json!({"target": target, "template": "demo"});
        let (status, created) = self
            .call(
                Some(OPERATOR_TOKEN),
                Method::POST,
                "/admin/v1/embed-codes",
                Some(&body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["code"].as_str().expect("code").to_owned()
    }
}

#[tokio::test]
async fn admins_sign_in_agents_do_not() {
    let f = Fixture::new().await;
    let (status, dana) = f.sign_in("dana", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{dana}");
    assert_eq!(dana["role"], "tenant_admin");
    assert_eq!(
        dana["user"],
        json!({"id": "dana", "display_name": "Dana Admin"})
    );
    assert_eq!(dana["services"], json!(["sales", "support"]));
    assert_eq!(dana["token"].as_str().map(str::len), Some(64));

    let (status, sam) = f.sign_in("sam", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{sam}");
    assert_eq!(sam["role"], "service_owner");
    assert_eq!(sam["services"], json!(["support"]));

    let (status, alex) = f.sign_in("alex", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{alex}");
    assert_eq!(alex["error"]["code"], "forbidden");
    for (user, password) in [("dana", "wrong"), ("nobody", PASSWORD)] {
        let (status, body) = f.sign_in(user, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}: {body}");
        assert_eq!(body["error"]["message"], "wrong username or password");
    }

    // `me`, then sign-out ends the token.
    let token = dana["token"].as_str().expect("token");
    let (status, me) = f.call(Some(token), Method::GET, "/admin/v1/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "tenant_admin");
    assert!(me.get("token").is_none(), "{me}");
    assert_eq!(me["expires_at"], dana["expires_at"], "{me}");
    assert!(dana["expires_at"].as_u64().is_some(), "{dana}");
    let (status, _) = f
        .call(Some(token), Method::POST, "/admin/v1/sign-out", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = f.call(Some(token), Method::GET, "/admin/v1/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A change is audited under the admin's name.
    let token = f.token_of("dana").await;
    let (status, _) = f
        .call(
            Some(&token),
            Method::PUT,
            "/admin/v1/templates/by-dana",
            Some(&json!({"origins": ["https://dana.example"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = f
        .call(Some(&token), Method::GET, "/admin/v1/audit?limit=1", None)
        .await;
    assert_eq!(log[0]["actor"], "dana", "{log}");
    assert_eq!(log[0]["action"], "template.put", "{log}");
}

/// The expected status of one route for a Service Owner of `support` and for a Tenant
/// Admin (the operator's token gets the Tenant Admin's; nobody and an agent's console
/// token always get 401).
struct Row {
    method: Method,
    uri: String,
    body: Option<Value>,
    owner: StatusCode,
    admin: StatusCode,
}

#[tokio::test]
async fn every_admin_route_refuses_the_roles_it_must() {
    use StatusCode as S;
    let f = Fixture::new().await;
    let sam = f.token_of("sam").await;
    let dana = f.token_of("dana").await;
    let login = json!({"username": "alex", "password": PASSWORD});
    let (status, body) = f
        .call(None, Method::POST, "/v1/agent/login", Some(&login))
        .await;
    assert_eq!(status, S::OK, "{body}");
    let agent = body["token"].as_str().expect("console token").to_owned();

    let support_code = f
        .code_for(json!({"kind": "service", "id": "support"}))
        .await;
    let user_code = f.code_for(json!({"kind": "user", "id": "alex"})).await;
    // A workflow no service of Sam's uses.
    let other = json!({"definition": "name = \"other\"\n\n[[step]]\nlabel = \"bye\"\nactivity = \"disconnect\"\n"});
    let (status, body) = f
        .call(
            Some(OPERATOR_TOKEN),
            Method::PUT,
            "/admin/v1/workflows/other",
            Some(&other),
        )
        .await;
    assert_eq!(status, S::OK, "{body}");
    let (_, support_im) = f
        .call(
            Some(OPERATOR_TOKEN),
            Method::GET,
            "/admin/v1/workflows/support-im",
            None,
        )
        .await;
    let support_im = json!({"definition": support_im["definition"]});

    let sales = f.service("sales").await;
    let support = f.service("support").await;

    let row = |method: Method, uri: &str, body: Option<Value>, owner: S, admin: S| Row {
        method,
        uri: uri.to_owned(),
        body,
        owner,
        admin,
    };
    let g = Method::GET;
    let p = Method::POST;
    let rows = vec![
        row(g.clone(), "/admin/v1/me", None, S::OK, S::OK),
        row(g.clone(), "/admin/v1/templates", None, S::FORBIDDEN, S::OK),
        row(
            g.clone(),
            "/admin/v1/templates/demo",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/templates/demo/check?origin=https%3A%2F%2Fa.example",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::PUT,
            "/admin/v1/templates/matrix",
            Some(json!({"origins": []})),
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::DELETE,
            "/admin/v1/templates/matrix",
            None,
            S::FORBIDDEN,
            S::NO_CONTENT,
        ),
        row(g.clone(), "/admin/v1/embed-codes", None, S::OK, S::OK),
        row(
            p.clone(),
            "/admin/v1/embed-codes",
            Some(json!({"target": {"kind": "service", "id": "support"}, "template": "demo"})),
            S::FORBIDDEN,
            S::CREATED,
        ),
        row(
            g.clone(),
            &format!("/admin/v1/embed-codes/{support_code}/snippet"),
            None,
            S::OK,
            S::OK,
        ),
        row(
            g.clone(),
            &format!("/admin/v1/embed-codes/{user_code}/snippet"),
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            p.clone(),
            &format!("/admin/v1/embed-codes/{support_code}/preview-link"),
            None,
            S::OK,
            S::OK,
        ),
        row(
            p.clone(),
            &format!("/admin/v1/embed-codes/{user_code}/preview-link"),
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            p.clone(),
            &format!("/admin/v1/embed-codes/{user_code}/revoke"),
            None,
            S::FORBIDDEN,
            S::NO_CONTENT,
        ),
        row(
            p.clone(),
            "/admin/v1/agents/alex/sign-out",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(g.clone(), "/admin/v1/audit", None, S::FORBIDDEN, S::OK),
        row(
            g.clone(),
            "/admin/v1/sessions/unknown/transcript",
            None,
            S::NOT_FOUND,
            S::NOT_FOUND,
        ),
        row(g.clone(), "/admin/v1/webhooks", None, S::FORBIDDEN, S::OK),
        row(
            p.clone(),
            "/admin/v1/webhooks",
            Some(json!({"url": "https://hooks.example/x", "events": ["message"]})),
            S::FORBIDDEN,
            S::CREATED,
        ),
        row(
            g.clone(),
            "/admin/v1/webhooks/nope",
            None,
            S::FORBIDDEN,
            S::NOT_FOUND,
        ),
        row(
            Method::PUT,
            "/admin/v1/webhooks/nope",
            Some(json!({"url": "https://hooks.example/y", "events": ["message"]})),
            S::FORBIDDEN,
            S::NOT_FOUND,
        ),
        row(
            Method::DELETE,
            "/admin/v1/webhooks/nope",
            None,
            S::FORBIDDEN,
            S::NOT_FOUND,
        ),
        row(
            g.clone(),
            "/admin/v1/webhooks/nope/deliveries",
            None,
            S::FORBIDDEN,
            S::NOT_FOUND,
        ),
        row(g.clone(), "/admin/v1/workflows", None, S::OK, S::OK),
        row(
            g.clone(),
            "/admin/v1/workflows/support-im",
            None,
            S::OK,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/workflows/other",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::PUT,
            "/admin/v1/workflows/support-im",
            Some(support_im),
            S::OK,
            S::OK,
        ),
        row(
            Method::PUT,
            "/admin/v1/workflows/other",
            Some(other.clone()),
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            p.clone(),
            "/admin/v1/workflows/support-im/dry-run",
            Some(json!({"at": 1_700_000_000_000u64})),
            S::OK,
            S::OK,
        ),
        row(
            p.clone(),
            "/admin/v1/workflows/other/dry-run",
            Some(json!({"at": 1_700_000_000_000u64})),
            S::FORBIDDEN,
            S::OK,
        ),
        row(g.clone(), "/admin/v1/services", None, S::OK, S::OK),
        row(g.clone(), "/admin/v1/services/support", None, S::OK, S::OK),
        row(
            g.clone(),
            "/admin/v1/services/sales",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::PUT,
            "/admin/v1/services/sales",
            Some(sales.clone()),
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::PUT,
            "/admin/v1/services/support",
            Some(support.clone()),
            S::OK,
            S::OK,
        ),
        row(
            Method::DELETE,
            "/admin/v1/services/nothing",
            None,
            S::FORBIDDEN,
            S::NOT_FOUND,
        ),
        row(g.clone(), "/admin/v1/users", None, S::OK, S::OK),
        row(g.clone(), "/admin/v1/users/alex", None, S::OK, S::OK),
        row(
            Method::PUT,
            "/admin/v1/users/matrix",
            Some(json!({"display_name": "Matrix", "password": "matrix-password"})),
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::DELETE,
            "/admin/v1/users/matrix",
            None,
            S::FORBIDDEN,
            S::NO_CONTENT,
        ),
        row(g.clone(), "/admin/v1/opening-hours", None, S::OK, S::OK),
        row(
            Method::PUT,
            "/admin/v1/opening-hours/matrix",
            Some(json!({"time_zone": "UTC", "weekly": {"mon": ["09:00-17:00"]}})),
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            Method::DELETE,
            "/admin/v1/opening-hours/matrix",
            None,
            S::FORBIDDEN,
            S::NO_CONTENT,
        ),
        row(g.clone(), "/admin/v1/reports/sessions", None, S::OK, S::OK),
        row(
            g.clone(),
            "/admin/v1/reports/sessions?service=support",
            None,
            S::OK,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/reports/sessions?service=sales",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/reports/sessions?kind=user",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/reports/sessions?user=alex",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(g.clone(), "/admin/v1/usage", None, S::OK, S::OK),
        row(
            g.clone(),
            "/admin/v1/usage?service=support&format=csv",
            None,
            S::OK,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/usage?service=sales",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/usage?kind=user",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
        row(
            g.clone(),
            "/admin/v1/usage?user=alex",
            None,
            S::FORBIDDEN,
            S::OK,
        ),
    ];

    // A Preview ticket is no admin token.
    let (status, link) = f
        .call(
            Some(OPERATOR_TOKEN),
            Method::POST,
            &format!("/admin/v1/embed-codes/{support_code}/preview-link"),
            None,
        )
        .await;
    assert_eq!(status, S::OK, "{link}");
    let ticket = link["url"]
        .as_str()
        .and_then(|u| u.split("ticket=").nth(1))
        .expect("a ticket")
        .to_owned();

    let mut wrong = Vec::new();
    // Owner first: their refusals change nothing the Tenant Admin's rows depend on.
    for (who, token) in [
        ("nobody", None),
        ("agent", Some(agent.as_str())),
        ("a made-up token", Some("0123456789abcdef")),
        ("a Preview ticket", Some(ticket.as_str())),
        ("owner", Some(sam.as_str())),
        ("admin", Some(dana.as_str())),
    ] {
        for r in &rows {
            if r.uri == "/admin/v1/me" && token.is_none() {
                continue;
            }
            let expected = match who {
                "owner" => r.owner,
                "admin" => r.admin,
                _ => S::UNAUTHORIZED,
            };
            let (status, body) = f
                .call(token, r.method.clone(), &r.uri, r.body.as_ref())
                .await;
            if status != expected {
                wrong.push(format!(
                    "{who}: {} {} got {status}, expected {expected}: {body}",
                    r.method, r.uri
                ));
            } else if status.is_client_error() {
                let code = body["error"]["code"].as_str().unwrap_or_default();
                let want = match status {
                    S::UNAUTHORIZED => "unauthorized",
                    S::FORBIDDEN => "forbidden",
                    _ => code,
                };
                if code != want || code.is_empty() {
                    wrong.push(format!(
                        "{who}: {} {}: error code {code:?}, expected {want:?}",
                        r.method, r.uri
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // A Service Owner's lists hold their services' things only.
    let (_, codes) = f
        .call(Some(&sam), Method::GET, "/admin/v1/embed-codes", None)
        .await;
    let codes = codes.as_array().expect("codes");
    assert!(!codes.is_empty());
    assert!(
        codes
            .iter()
            .all(|c| c["target"] == json!({"kind": "service", "id": "support"})),
        "{codes:?}"
    );
    let (_, workflows) = f
        .call(Some(&sam), Method::GET, "/admin/v1/workflows", None)
        .await;
    let names: Vec<&str> = workflows
        .as_array()
        .expect("workflows")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    // The chat workflow and the call workflow of their service.
    assert_eq!(names, ["support-av", "support-im"]);
}
