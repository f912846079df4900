//! The tenant's configuration in the database, changed through the admin API on a real
//! listener with no restart: a new user and a new service route chats at once, a
//! renamed service shows in the widget's configuration at once, opening hours change
//! what workflows do, a Service Owner changes their service but not its licences, bad
//! changes are refused naming what is wrong, every change is audited (never a password
//! hash), and the database's tenant outlives a restart with a configuration file that
//! lacks it.

use std::net::SocketAddr;

use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::ServerFrame;
use interact_testkit::{ALLOWED, TestServer, config, connect_visitor, http_request, mid};
use serde_json::{Value, json};

const OPERATOR: &str = "demo-admin-token";

/// An admin API call with a bearer token: status and JSON body (`null` if none).
async fn call(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, text) = http_request(addr, method, path, &headers, &body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn privacy() -> Value {
    json!({"url": "https://billing.example/privacy", "text": "I agree.", "version": "b-1"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_and_service_take_chats_at_once_and_outlive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = TestServer::start(config(dir.path())).await;
    let addr = server.addr;

    // A new agent and a new service with her as its member.
    let (status, nina) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/users/nina",
        Some(json!({
            "display_name": "Nina New",
            "licences": ["instant_messaging"],
            "modalities": ["chat"],
            "password": "nina-password-1",
        })),
    )
    .await;
    assert_eq!(status, 200, "{nina}");
    assert!(nina.get("password_hash").is_none() && nina.get("password").is_none());
    assert_eq!(nina["interact"], false);
    let billing = json!({
        "display_name": "Billing",
        "licences": ["contact_center", "interact"],
        "modalities": ["chat"],
        "members": ["nina"],
        "privacy": privacy(),
    });
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/services/billing",
        Some(billing.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "billing");
    let (status, created) = call(
        addr,
        OPERATOR,
        "POST",
        "/admin/v1/embed-codes",
        Some(json!({"target": {"kind": "service", "id": "billing"}, "template": "demo"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().expect("code").to_owned();

    // Nina signs in to the console with the password just set, and gets the chat.
    let (status, login) = http_request(
        addr,
        "POST",
        "/v1/agent/login",
        &[("Content-Type", "application/json")],
        &json!({"username": "nina", "password": "nina-password-1"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let mut nina = server.available_agent("nina").await;
    let mut visitor = connect_visitor(addr, &code, Some(ALLOWED))
        .await
        .expect("admitted");
    visitor.hello(None).await;
    let form = PreChatForm {
        display_name: "Bill Payer".into(),
        email: "bill@example.com".into(),
        consent: Some("b-1".into()),
        first_message: Some("About my invoice".into()),
    };
    let (session, _) = visitor.start_chat(mid("start-billing"), form).await;
    let frames = nina
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
        .await;
    assert!(!frames.is_empty());

    // A rename shows in the widget's configuration at once.
    let config_of = |code: String| async move {
        let (status, text) = http_request(
            addr,
            "GET",
            &format!("/v1/config?code={code}"),
            &[("Origin", ALLOWED)],
            "",
        )
        .await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).expect("json")
    };
    assert_eq!(
        config_of(code.clone()).await["target"]["display_name"],
        "Billing"
    );
    let mut renamed = billing.clone();
    renamed["display_name"] = json!("Billing & Invoices");
    renamed["privacy"]["version"] = json!("b-2");
    let (status, _) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/services/billing",
        Some(renamed),
    )
    .await;
    assert_eq!(status, 200);
    let now = config_of(code.clone()).await;
    assert_eq!(now["target"]["display_name"], "Billing & Invoices");
    assert_eq!(now["privacy"]["version"], "b-2");

    // Bad changes are refused, naming what is wrong; nothing of them is stored.
    for (change, words) in [
        (
            json!({"members": ["ghost"]}),
            "member \"ghost\" is not a user",
        ),
        (
            json!({"privacy": {"url": "javascript:alert(1)", "text": "x", "version": "1"}}),
            "privacy.url must be http(s)",
        ),
        (
            json!({"workflow": "nope"}),
            "workflow \"nope\" is not defined",
        ),
        (
            json!({"display_name": ""}),
            "display_name must be 1 to 100 characters",
        ),
    ] {
        let mut bad = billing.clone();
        for (k, v) in change.as_object().expect("object") {
            bad[k] = v.clone();
        }
        let (status, body) = call(
            addr,
            OPERATOR,
            "PUT",
            "/admin/v1/services/billing",
            Some(bad),
        )
        .await;
        assert_eq!(status, 400, "{change}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{change}: {message}");
    }
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/users/newbie",
        Some(json!({"display_name": "No Password"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, stored) = call(addr, OPERATOR, "GET", "/admin/v1/services/billing", None).await;
    assert_eq!(stored["display_name"], "Billing & Invoices");
    assert_eq!(stored["members"], json!(["nina"]));

    // Audited, without the password hash.
    let (_, log) = call(addr, OPERATOR, "GET", "/admin/v1/audit?limit=20", None).await;
    let actions: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["user.put", "service.put"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
    assert!(!log.to_string().contains("$argon2"), "{log}");

    // A restart with the same configuration file (which has no billing) keeps the
    // database's tenant.
    drop(nina);
    drop(visitor);
    server.restart().await;
    let (status, services) = call(addr, OPERATOR, "GET", "/admin/v1/services", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = services
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["billing", "sales", "support"]);
    assert_eq!(
        config_of(code).await["target"]["display_name"],
        "Billing & Invoices"
    );
    server.stop().await;
}

#[tokio::test]
async fn opening_hours_and_roles_change_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(config(dir.path())).await;
    let addr = server.addr;
    let dry_run = || async {
        let (status, run) = call(
            addr,
            OPERATOR,
            "POST",
            "/admin/v1/workflows/support-im/dry-run",
            Some(json!({"at": 1_765_000_000_000u64, "agents_available": 1})),
        )
        .await;
        assert_eq!(status, 200, "{run}");
        run["summary"].as_str().unwrap_or_default().to_owned()
    };
    let open = dry_run().await;
    assert!(open.starts_with("hours → greet"), "{open}");
    // Closed every day, with a holiday: the same workflow now goes to "closed".
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/opening-hours/support-hours",
        Some(json!({"time_zone": "Europe/Berlin", "weekly": {}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let closed = dry_run().await;
    assert!(closed.starts_with("hours → closed"), "{closed}");
    let (_, log) = call(addr, OPERATOR, "GET", "/admin/v1/audit?limit=1", None).await;
    assert_eq!(log[0]["action"], "opening_hours.put", "{log}");
    assert_eq!(log[0]["target"], "support-hours", "{log}");
    assert!(
        log[0]["before"]
            .as_str()
            .is_some_and(|b| b.contains("00:00-24:00")),
        "{log}"
    );
    assert!(
        log[0]["after"]
            .as_str()
            .is_some_and(|a| !a.contains("00:00-24:00")),
        "{log}"
    );
    // Hours a workflow names cannot go; bad hours are refused.
    let (status, body) = call(
        addr,
        OPERATOR,
        "DELETE",
        "/admin/v1/opening-hours/support-hours",
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/opening-hours/odd",
        Some(json!({"time_zone": "Mars/Olympus", "weekly": {}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Sam owns support: he may rename it, not change its licences; once he is no
    // longer an owner, his sign-in opens nothing.
    let (status, signed) = http_request(
        addr,
        "POST",
        "/admin/v1/sign-in",
        &[("Content-Type", "application/json")],
        &json!({"username": "sam", "password": "demo-password"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let sam: Value = serde_json::from_str(&signed).expect("json");
    let sam = sam["token"].as_str().expect("token").to_owned();
    let (_, mut support) = call(addr, &sam, "GET", "/admin/v1/services/support", None).await;
    support["display_name"] = json!("Customer Care (Sam's)");
    let (status, body) = call(
        addr,
        &sam,
        "PUT",
        "/admin/v1/services/support",
        Some(support.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut licences = support.clone();
    licences["licences"] = json!(["contact_center"]);
    let (status, body) = call(
        addr,
        &sam,
        "PUT",
        "/admin/v1/services/support",
        Some(licences),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = call(addr, &sam, "GET", "/admin/v1/services/sales", None).await;
    assert_eq!(status, 403);
    support["owners"] = json!([]);
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/services/support",
        Some(support),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(addr, &sam, "GET", "/admin/v1/me", None).await;
    assert_eq!(status, 403, "{body}");
    server.stop().await;
}

/// Runs `interact-server --config <config> <args>`: exit success, standard output and
/// standard error.
fn cli(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_interact-server"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run interact-server");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_export_and_import_round_trip_a_tenant() {
    let dir = tempfile::tempdir().expect("dir");
    let config = interact_testkit::write_config(dir.path(), &interact_testkit::process_config(""));
    let (ok, text, err) = cli(&config, &["config", "export"]);
    assert!(ok, "{err}");
    let mut export: toml::Table = text.parse().expect("the export is TOML");
    assert_eq!(export["interact_tenant"].as_integer(), Some(1));
    for key in [
        "service",
        "user",
        "opening_hours",
        "domain_template",
        "workflow",
    ] {
        assert!(
            export
                .get(key)
                .and_then(toml::Value::as_array)
                .is_some_and(|a| !a.is_empty()),
            "{key} in {text}"
        );
    }

    // Rename a service, drop a member and add a Domain Template; import the result.
    let services = export["service"].as_array_mut().expect("services");
    let support = services
        .iter_mut()
        .find(|s| s["id"].as_str() == Some("support"))
        .expect("support");
    support["display_name"] = "Customer Care (imported)".into();
    support["members"] = toml::Value::Array(vec!["alex".into()]);
    let mut template = toml::Table::new();
    template.insert("name".into(), "imported".into());
    template.insert(
        "origins".into(),
        toml::Value::Array(vec!["https://shop.example.com".into()]),
    );
    export["domain_template"]
        .as_array_mut()
        .expect("templates")
        .push(toml::Value::Table(template));
    let file = dir.path().join("tenant.toml");
    std::fs::write(&file, toml::to_string(&export).expect("TOML")).expect("write");
    let (ok, out, err) = cli(&config, &["config", "import", file.to_str().expect("path")]);
    assert!(ok, "{err}");
    assert!(out.contains("imported 2 services, 3 users"), "{out}");

    // The database has it: the JSON export says the same as the file imported.
    let (ok, json_text, err) = cli(&config, &["config", "export", "--format", "json"]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&json_text).expect("JSON");
    let from_toml: serde_json::Value =
        serde_json::to_value(&export).expect("the imported file as JSON");
    assert_eq!(json["service"], from_toml["service"]);
    assert_eq!(json["user"], from_toml["user"]);
    assert_eq!(json["domain_template"], from_toml["domain_template"]);

    // A file with a broken reference changes nothing, and says what is wrong.
    let mut bad = export.clone();
    bad["service"].as_array_mut().expect("services")[0]["members"] =
        toml::Value::Array(vec!["ghost".into()]);
    std::fs::write(&file, toml::to_string(&bad).expect("TOML")).expect("write");
    let (ok, _, err) = cli(&config, &["config", "import", file.to_str().expect("path")]);
    assert!(!ok);
    assert!(err.contains("member \"ghost\" is not a user"), "{err}");
    let (_, again, _) = cli(&config, &["config", "export", "--format", "json"]);
    assert_eq!(again, json_text, "nothing changed");
}

/// A service's chats run a chat workflow and its calls a call workflow
/// (`modality = "audio_video"`): a service naming one for the other is refused, as is a
/// workflow change that would turn a workflow a service runs into the other modality.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_chat_and_call_workflows_of_the_right_modality() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(config(dir.path())).await;
    let addr = server.addr;
    let calls = "name = \"support-av\"\nmodality = \"audio_video\"\n\n[[step]]\nactivity = \"queue_task\"\n\n[[step]]\nlabel = \"wait\"\nactivity = \"delay\"\nseconds = 600\nnext = \"wait\"\n";
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/workflows/support-av",
        Some(json!({ "definition": calls })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // What the documents exclude for calls is refused with its place.
    let pickup = calls.replace(
        "activity = \"queue_task\"\n",
        "activity = \"queue_task\"\ndistribution = \"pickup\"\n",
    );
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/workflows/support-av",
        Some(json!({ "definition": pickup })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("step 1")
            && message.contains("Queue: the \"Pickup\" distribution type is not supported for Audio/Video calls initiated from Interact"),
        "{message}"
    );

    let (_, mut support) = call(addr, OPERATOR, "GET", "/admin/v1/services/support", None).await;
    support["av_workflow"] = json!("support-av");
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/services/support",
        Some(support.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["av_workflow"], "support-av");
    assert_eq!(body["workflow"], "support-im");
    let ran = server.state.tenant();
    assert_eq!(
        ran.services
            .get("support")
            .and_then(|s| s.config.av_workflow.as_deref()),
        Some("support-av")
    );

    // Swapped: refused, naming the field and the modality.
    let mut swapped = support.clone();
    swapped["workflow"] = json!("support-av");
    swapped["av_workflow"] = json!("support-im");
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/services/support",
        Some(swapped),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("workflow \"support-av\" is a workflow for Audio/Video calls"),
        "{message}"
    );

    // The call workflow cannot become a chat workflow while support runs it for calls.
    let (status, body) = call(
        addr,
        OPERATOR,
        "PUT",
        "/admin/v1/workflows/support-av",
        Some(json!({ "definition": calls.replace("modality = \"audio_video\"\n", "") })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string()
            .contains("service \\\"support\\\" runs it for calls"),
        "{body}"
    );
    server.stop().await;
}
