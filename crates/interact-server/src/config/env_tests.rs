//! The environment's variables over the configuration file: each overrides its setting,
//! secrets come from files, a bad value names its variable, every problem has its place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::env::VARIABLES;
use super::*;

const DEMO: &str = include_str!("../../../../config/demo.toml");

/// A file setting for every setting a variable overrides: the demo configuration with
/// the sections it leaves out (or comments out) written in.
fn full_file() -> String {
    let text = DEMO
        .replacen(
            "[server]\n",
            "[server]\ndrain_secs = 3\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
            1,
        )
        .replacen(
            "[metrics]\n",
            &format!("[metrics]\ntoken_sha256 = \"{}\"\n", "a".repeat(64)),
            1,
        );
    format!(
        "{text}\n\
         [telemetry]\notlp_endpoint = \"http://file.example:4318\"\nservice_name = \"file\"\n\
         [cluster]\nnats_url = \"nats://file.example:4222\"\nname = \"file\"\nrefresh_secs = 11\n\
         [smtp]\nhost = \"smtp.file.example\"\nport = 2525\nfrom = \"file@example.com\"\n\
         tls = \"none\"\nuser = \"file-user\"\npassword = \"file-password\"\nper_minute = 7\n\
         [secrets]\ndir = \"file-secrets\"\nenv_prefix = \"FILE_\"\n\
         [web_requests]\nallow_private_addresses = false\n\
         [ice]\ncredential_ttl_secs = 600\n\
         [attachments]\nmax_bytes = 1000\nper_minute = 2\nper_session = 3\n"
    )
}

/// An environment of these variables only.
fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| vars.get(name).cloned()
}

/// A folder with `config.toml` holding `text`.
fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

/// A CA certificate (PEM) in `dir`, for `web_requests.ca_file`.
fn ca_file(dir: &Path) -> PathBuf {
    let cert = rcgen::generate_simple_self_signed(vec!["ca.example".into()]).expect("cert");
    let path = dir.join("ca.pem");
    std::fs::write(&path, cert.cert.pem()).expect("write");
    path
}

fn database(c: &Config) -> String {
    match &c.server.database {
        Database::Postgres(url) => url.clone(),
        Database::Sqlite(file) => file.display().to_string(),
    }
}

fn smtp(c: &Config) -> &SmtpSection {
    c.smtp.as_ref().expect("[smtp]")
}

type Get = fn(&Config) -> String;

#[test]
fn every_variable_overrides_its_file_setting() {
    let (dir, path) = file_with(&full_file());
    let ca = ca_file(dir.path());
    let ca = ca.to_str().expect("UTF-8");
    let admin = crate::auth::token_hash("env-admin-token");
    let metrics = crate::auth::token_hash("env-metrics-token");
    let b64 = "b".repeat(64);
    let c64 = "c".repeat(64);
    // (variable, its value, the setting read back, what it must be then).
    let rows: &[(&'static str, &str, Get, String)] = &[
        (
            "INTERACT_LISTEN",
            "0.0.0.0:9000",
            |c| c.server.listen.to_string(),
            "0.0.0.0:9000".into(),
        ),
        (
            "INTERACT_PUBLIC_URL",
            "https://chat.example.com",
            |c| c.server.public_url.clone(),
            "https://chat.example.com".into(),
        ),
        (
            "INTERACT_DATABASE_URL",
            "postgres://u:pw@db.example/interact",
            database,
            "postgres://u:pw@db.example/interact".into(),
        ),
        (
            "INTERACT_WWW",
            "/srv/interact/www",
            |c| format!("{:?}", c.server.www),
            "Some(\"/srv/interact/www\")".into(),
        ),
        (
            "INTERACT_TRUSTED_PROXIES",
            "192.168.0.0/16, 127.0.0.1",
            |c| format!("{:?}", c.server.trusted_proxies),
            "[192.168.0.0/16, 127.0.0.1/32]".into(),
        ),
        (
            "INTERACT_DRAIN_SECS",
            "15",
            |c| c.server.drain_secs.to_string(),
            "15".into(),
        ),
        (
            "INTERACT_ADMIN_TOKEN",
            "env-admin-token",
            |c| c.admin.token_sha256.clone(),
            admin,
        ),
        (
            "INTERACT_ADMIN_TOKEN_SHA256",
            b64.as_str(),
            |c| c.admin.token_sha256.clone(),
            b64.clone(),
        ),
        (
            "INTERACT_METRICS_LISTEN",
            "10.1.2.3:9100",
            |c| format!("{:?}", c.metrics.listen),
            "Some(10.1.2.3:9100)".into(),
        ),
        (
            "INTERACT_METRICS_TOKEN",
            "env-metrics-token",
            |c| c.metrics.token_sha256.clone().unwrap_or_default(),
            metrics,
        ),
        (
            "INTERACT_METRICS_TOKEN_SHA256",
            c64.as_str(),
            |c| c.metrics.token_sha256.clone().unwrap_or_default(),
            c64.clone(),
        ),
        (
            "INTERACT_OTLP_ENDPOINT",
            "http://collector.example:4318",
            |c| format!("{:?}", c.telemetry.otlp_endpoint),
            "Some(\"http://collector.example:4318\")".into(),
        ),
        (
            "INTERACT_SERVICE_NAME",
            "chat-eu",
            |c| format!("{:?}", c.telemetry.service_name),
            "Some(\"chat-eu\")".into(),
        ),
        (
            "INTERACT_NATS_URL",
            "nats://env.example:4222",
            |c| c.cluster.nats_url.clone().unwrap_or_default(),
            "nats://env.example:4222".into(),
        ),
        (
            "INTERACT_CLUSTER_NAME",
            "blue",
            |c| c.cluster.name.clone().unwrap_or_default(),
            "blue".into(),
        ),
        (
            "INTERACT_CLUSTER_REFRESH_SECS",
            "5",
            |c| c.cluster.refresh_secs.to_string(),
            "5".into(),
        ),
        (
            "INTERACT_SMTP_HOST",
            "smtp.env.example",
            |c| smtp(c).host.clone(),
            "smtp.env.example".into(),
        ),
        (
            "INTERACT_SMTP_PORT",
            "465",
            |c| smtp(c).port().to_string(),
            "465".into(),
        ),
        (
            "INTERACT_SMTP_FROM",
            "Shop <env@example.com>",
            |c| smtp(c).from.clone(),
            "Shop <env@example.com>".into(),
        ),
        (
            "INTERACT_SMTP_TLS",
            "tls",
            |c| format!("{:?}", smtp(c).tls),
            "Tls".into(),
        ),
        (
            "INTERACT_SMTP_USER",
            "env-user",
            |c| smtp(c).user.clone().unwrap_or_default(),
            "env-user".into(),
        ),
        (
            "INTERACT_SMTP_PASSWORD",
            "env-password",
            |c| {
                smtp(c)
                    .password()
                    .ok()
                    .flatten()
                    .map(|p| p.expose().to_owned())
                    .unwrap_or_default()
            },
            "env-password".into(),
        ),
        (
            "INTERACT_SMTP_PER_MINUTE",
            "30",
            |c| smtp(c).per_minute.to_string(),
            "30".into(),
        ),
        (
            "INTERACT_SECRETS_DIR",
            "/run/interact-secrets",
            |c| format!("{:?}", c.secrets.dir),
            "Some(\"/run/interact-secrets\")".into(),
        ),
        (
            "INTERACT_SECRETS_ENV_PREFIX",
            "SHOP_",
            |c| c.secrets.env_prefix.clone(),
            "SHOP_".into(),
        ),
        (
            "INTERACT_WEB_REQUESTS_CA_FILE",
            ca,
            |c| format!("{:?}", c.web_requests.ca_file),
            format!("Some({ca:?})"),
        ),
        (
            "INTERACT_WEB_REQUESTS_ALLOW_PRIVATE_ADDRESSES",
            "yes",
            |c| c.web_requests.allow_private_addresses.to_string(),
            "true".into(),
        ),
        (
            "INTERACT_ICE_CREDENTIAL_TTL_SECS",
            "3600",
            |c| c.ice.credential_ttl_secs.to_string(),
            "3600".into(),
        ),
        (
            "INTERACT_ATTACHMENTS_MAX_BYTES",
            "2048",
            |c| c.attachments.max_bytes.to_string(),
            "2048".into(),
        ),
        (
            "INTERACT_ATTACHMENTS_PER_MINUTE",
            "4",
            |c| c.attachments.per_minute.to_string(),
            "4".into(),
        ),
        (
            "INTERACT_ATTACHMENTS_PER_SESSION",
            "5",
            |c| c.attachments.per_session.to_string(),
            "5".into(),
        ),
        (
            "INTERACT_LIMITS_SESSIONS_PER_MINUTE_PER_IP",
            "101",
            |c| c.limits.sessions_per_minute_per_ip.to_string(),
            "101".into(),
        ),
        (
            "INTERACT_LIMITS_FRAMES_PER_SECOND",
            "102",
            |c| c.limits.frames_per_second.to_string(),
            "102".into(),
        ),
        (
            "INTERACT_LIMITS_MESSAGES_PER_SECOND_PER_SESSION",
            "103",
            |c| c.limits.messages_per_second_per_session.to_string(),
            "103".into(),
        ),
        (
            "INTERACT_LIMITS_OFFER_TIMEOUT_SECS",
            "104",
            |c| c.limits.offer_timeout_secs.to_string(),
            "104".into(),
        ),
        (
            "INTERACT_LIMITS_MAX_CHATS_PER_AGENT",
            "105",
            |c| c.limits.max_chats_per_agent.to_string(),
            "105".into(),
        ),
        (
            "INTERACT_LIMITS_MISSED_OFFERS_BEFORE_AWAY",
            "106",
            |c| c.limits.missed_offers_before_away.to_string(),
            "106".into(),
        ),
        (
            "INTERACT_LIMITS_CONNECTIONS_PER_IP",
            "107",
            |c| c.limits.connections_per_ip.to_string(),
            "107".into(),
        ),
        (
            "INTERACT_LIMITS_MAX_CONNECTIONS",
            "108",
            |c| c.limits.max_connections.to_string(),
            "108".into(),
        ),
        (
            "INTERACT_LIMITS_HEADER_TIMEOUT_SECS",
            "109",
            |c| c.limits.header_timeout_secs.to_string(),
            "109".into(),
        ),
        (
            "INTERACT_LIMITS_REPLAYS_PER_SECOND",
            "110",
            |c| c.limits.replays_per_second.to_string(),
            "110".into(),
        ),
        (
            "INTERACT_LIMITS_RESUME_TOKEN_TTL_SECS",
            "111",
            |c| c.limits.resume_token_ttl_secs.to_string(),
            "111".into(),
        ),
        (
            "INTERACT_LIMITS_ENDED_SESSION_GRACE_SECS",
            "112",
            |c| c.limits.ended_session_grace_secs.to_string(),
            "112".into(),
        ),
        (
            "INTERACT_LIMITS_START_ID_TTL_SECS",
            "113",
            |c| c.limits.start_id_ttl_secs.to_string(),
            "113".into(),
        ),
        (
            "INTERACT_LIMITS_MAX_EVENTS_PER_SESSION",
            "114",
            |c| c.limits.max_events_per_session.to_string(),
            "114".into(),
        ),
        (
            "INTERACT_LIMITS_MAX_BYTES_PER_SESSION",
            "115",
            |c| c.limits.max_bytes_per_session.to_string(),
            "115".into(),
        ),
        (
            "INTERACT_LIMITS_SESSION_MEMORY_IDLE_SECS",
            "116",
            |c| c.limits.session_memory_idle_secs.to_string(),
            "116".into(),
        ),
    ];
    // Every variable has its row, and no row names one that does not exist.
    let named: Vec<&str> = rows.iter().map(|r| r.0).collect();
    for v in VARIABLES {
        assert!(
            named.contains(&v.name),
            "{} has no row in this test",
            v.name
        );
    }
    assert_eq!(rows.len(), VARIABLES.len(), "one row per variable");

    let file = Config::load_from(Some(&path), &env_of(&[])).expect("the file alone loads");
    for &(var, value, get, ref wanted) in rows {
        assert_ne!(
            get(&file),
            *wanted,
            "{var}: the file must set something else"
        );
        let checked = Checked::load(Some(&path), &env_of(&[(var, value)]));
        assert!(checked.problems.is_empty(), "{var}: {:?}", checked.problems);
        let config = checked.config.as_ref().expect("loaded");
        assert_eq!(get(config), *wanted, "{var}={value}");
        let key = super::env::VARIABLES
            .iter()
            .find(|v| v.name == var)
            .expect("a variable")
            .key;
        assert_eq!(checked.source_of(key), Some(Place::Var(var)), "{var}");
        // The effective configuration names the variable and never shows a secret.
        let shown = checked.effective();
        assert!(shown.contains(&format!("# {var}")), "{var}:\n{shown}");
        if [
            "INTERACT_ADMIN_TOKEN",
            "INTERACT_SMTP_PASSWORD",
            "INTERACT_METRICS_TOKEN",
        ]
        .contains(&var)
        {
            assert!(!shown.contains(value), "{var} shown:\n{shown}");
        }
    }
    // The file's own settings show their lines.
    let checked = Checked::load(Some(&path), &env_of(&[]));
    let line = full_file()
        .lines()
        .position(|l| l.starts_with("listen = "))
        .expect("listen")
        + 1;
    assert!(
        checked.effective().contains(&format!(
            "listen = \"127.0.0.1:8080\"  # {}:{line}",
            path.display()
        )),
        "{}",
        checked.effective()
    );
}

#[test]
fn an_empty_variable_restores_the_default_and_a_required_one_is_refused() {
    let (_dir, path) = file_with(&full_file());
    let config =
        Config::load_from(Some(&path), &env_of(&[("INTERACT_NATS_URL", "")])).expect("loads");
    assert_eq!(config.cluster.nats_url, None);
    let config =
        Config::load_from(Some(&path), &env_of(&[("INTERACT_DRAIN_SECS", " ")])).expect("loads");
    assert_eq!(config.server.drain_secs, 0);
    let err =
        Config::load_from(Some(&path), &env_of(&[("INTERACT_LISTEN", "")])).expect_err("required");
    assert_eq!(err.problems[0].place, Place::Var("INTERACT_LISTEN"));
}

#[test]
fn a_secret_file_works() {
    let (dir, path) = file_with(DEMO);
    let token = dir.path().join("admin_token");
    std::fs::write(&token, "from-a-file\n").expect("write");
    let token = token.to_str().expect("UTF-8");
    let config = Config::load_from(
        Some(&path),
        &env_of(&[("INTERACT_ADMIN_TOKEN_FILE", token)]),
    )
    .expect("loads");
    assert_eq!(
        config.admin.token_sha256,
        crate::auth::token_hash("from-a-file"),
        "the file's line ending is not part of the token"
    );

    // Both the variable and its file: which one is meant?
    let err = Config::load_from(
        Some(&path),
        &env_of(&[
            ("INTERACT_ADMIN_TOKEN_FILE", token),
            ("INTERACT_ADMIN_TOKEN", "inline"),
        ]),
    )
    .expect_err("both");
    assert!(
        err.to_string()
            .contains("INTERACT_ADMIN_TOKEN and INTERACT_ADMIN_TOKEN_FILE"),
        "{err}"
    );
    // A file that is not there names its variable.
    let err = Config::load_from(
        Some(&path),
        &env_of(&[("INTERACT_ADMIN_TOKEN_FILE", "/nonexistent/admin_token")]),
    )
    .expect_err("missing file");
    assert_eq!(err.problems[0].place, Place::Var("INTERACT_ADMIN_TOKEN"));
    assert!(
        err.to_string().contains("INTERACT_ADMIN_TOKEN_FILE"),
        "{err}"
    );
    // The token and its hash both: one setting, two answers.
    let err = Config::load_from(
        Some(&path),
        &env_of(&[
            ("INTERACT_ADMIN_TOKEN", "x"),
            ("INTERACT_ADMIN_TOKEN_SHA256", &"d".repeat(64)),
        ]),
    )
    .expect_err("two");
    assert!(err.to_string().contains("give one of them"), "{err}");

    // The secrets a file names by variable (`password_env`, `secret_env`) come from
    // files too.
    let secret = dir.path().join("smtp_password");
    std::fs::write(&secret, "smtp-secret").expect("write");
    let text = format!(
        "{DEMO}\n[smtp]\nhost = \"smtp.example\"\nfrom = \"a@example.com\"\nuser = \"u\"\n\
         password_env = \"SHOP_SMTP_PASSWORD\"\n\
         [[ice.server]]\nurls = [\"turn:turn.example\"]\nsecret_env = \"SHOP_TURN_SECRET\"\n"
    );
    std::fs::write(&path, text).expect("write");
    let secret = secret.to_str().expect("UTF-8");
    let env = env_of(&[
        ("SHOP_SMTP_PASSWORD_FILE", secret),
        ("SHOP_TURN_SECRET_FILE", secret),
    ]);
    let config = Config::load_from(Some(&path), &env).expect("loads");
    assert_eq!(
        smtp(&config)
            .password_from(&env)
            .expect("password")
            .map(|p| p.expose().to_owned()),
        Some("smtp-secret".to_owned())
    );
    assert_eq!(
        config.ice.servers[0].secret().map(Secret::expose),
        Some("smtp-secret")
    );
}

#[test]
fn a_bad_value_names_its_variable() {
    let (_dir, path) = file_with(DEMO);
    for (var, value) in [
        ("INTERACT_LISTEN", "localhost"),
        ("INTERACT_PUBLIC_URL", "chat.example.com"),
        ("INTERACT_PUBLIC_URL", "https://chat.example.com/"),
        ("INTERACT_DATABASE_URL", "mysql://db/x"),
        ("INTERACT_NATS_URL", "nats-host"),
        ("INTERACT_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
        ("INTERACT_DRAIN_SECS", "-1"),
        ("INTERACT_LIMITS_MAX_CONNECTIONS", "4294967296"),
        ("INTERACT_SMTP_PORT", "70000"),
        ("INTERACT_SMTP_TLS", "ssl"),
        ("INTERACT_WEB_REQUESTS_ALLOW_PRIVATE_ADDRESSES", "maybe"),
        ("INTERACT_ADMIN_TOKEN_SHA256", "not-a-hash"),
    ] {
        let err = Config::load_from(Some(&path), &env_of(&[(var, value)]))
            .expect_err(&format!("{var}={value}"));
        assert_eq!(
            err.problems[0].place,
            Place::Var(var),
            "{var}={value}: {err}"
        );
        assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
    }
    // A value of the right kind that the checks refuse names its variable too.
    let checked = Checked::load(
        Some(&path),
        &env_of(&[("INTERACT_ICE_CREDENTIAL_TTL_SECS", "5")]),
    );
    assert_eq!(
        checked.problems[0].place,
        Place::Var("INTERACT_ICE_CREDENTIAL_TTL_SECS"),
        "{:?}",
        checked.problems
    );
    // A section made by the environment alone that lacks a required key names it.
    let checked = Checked::load(
        Some(&path),
        &env_of(&[("INTERACT_SMTP_HOST", "smtp.example")]),
    );
    assert_eq!(checked.problems.len(), 1, "{:?}", checked.problems);
    assert_eq!(checked.problems[0].place, Place::Var("INTERACT_SMTP_HOST"));
    assert!(
        checked.problems[0].message.contains("from"),
        "{:?}",
        checked.problems
    );
    // Every bad variable is reported, not only the first.
    let checked = Checked::load(
        Some(&path),
        &env_of(&[("INTERACT_LISTEN", "x"), ("INTERACT_DRAIN_SECS", "y")]),
    );
    let places: Vec<&Place> = checked.problems.iter().map(|p| &p.place).collect();
    assert_eq!(
        places,
        [
            &Place::Var("INTERACT_LISTEN"),
            &Place::Var("INTERACT_DRAIN_SECS")
        ]
    );
}

#[test]
fn problems_in_the_file_name_their_line() {
    let line_of = |text: &str, needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("in the text")
            + 1
    };
    // Two problems at once, each at its line.
    let text = DEMO
        .replacen(
            "public_url = \"http://127.0.0.1:8080\"",
            "public_url = \"http://127.0.0.1:8080/\"",
            1,
        )
        .replacen(
            "members = [\"alex\", \"sam\"]",
            "members = [\"alex\", \"nobody\"]",
            1,
        );
    let (_dir, path) = file_with(&text);
    let checked = Checked::load(Some(&path), &env_of(&[]));
    let shown: Vec<String> = checked.problems.iter().map(ToString::to_string).collect();
    let file = path.display();
    let service = line_of(&text, "id = \"support\"") - 1;
    let url = line_of(&text, "public_url = ");
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with(&format!("{file}:{service}: service \"support\"")),
        "{shown:?}"
    );
    assert!(
        shown[1].starts_with(&format!("{file}:{url}: server.public_url")),
        "{shown:?}"
    );
    // An unknown key: the schema's error, at its line.
    let text = DEMO.replacen("[server]\n", "[server]\nlisten_port = 1\n", 1);
    let (_dir, path) = file_with(&text);
    let checked = Checked::load(Some(&path), &env_of(&[]));
    assert_eq!(
        checked.problems[0].place,
        Place::Line {
            file: path.clone(),
            line: line_of(&text, "listen_port")
        },
        "{:?}",
        checked.problems
    );
    assert!(checked.problems[0].message.contains("listen_port"));
    // A TOML syntax error.
    let text = DEMO.replacen("[admin]\n", "[admin\n", 1);
    let (_dir, path) = file_with(&text);
    let checked = Checked::load(Some(&path), &env_of(&[]));
    assert_eq!(
        checked.problems[0].place,
        Place::Line {
            file: path.clone(),
            line: line_of(&text, "[admin")
        }
    );
}

#[test]
fn the_environment_alone_configures_a_node() {
    let env = env_of(&[
        ("INTERACT_LISTEN", "0.0.0.0:8080"),
        ("INTERACT_PUBLIC_URL", "https://chat.example.com"),
        (
            "INTERACT_DATABASE_URL",
            "sqlite:/var/lib/interact/interact.db",
        ),
        ("INTERACT_ADMIN_TOKEN", "a-real-token"),
    ]);
    let checked = Checked::load(None, &env);
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    let config = checked.config.expect("loaded");
    assert_eq!(config.server.public_url, "https://chat.example.com");
    assert!(config.demo_problems().is_empty());
    assert!(config.services.is_empty(), "the tenant is the database's");

    // What is missing is named with the variable that gives it.
    let checked = Checked::load(None, &env_of(&[("INTERACT_ADMIN_TOKEN", "t")]));
    assert_eq!(checked.problems.len(), 1, "{:?}", checked.problems);
    let message = &checked.problems[0].message;
    assert!(message.contains("INTERACT_PUBLIC_URL"), "{message}");
    let checked = Checked::load(None, &env_of(&[]));
    assert!(
        checked.problems[0].message.contains("INTERACT_LISTEN"),
        "{:?}",
        checked.problems
    );
}

#[test]
fn listen_and_public_url_change_together() {
    let (_dir, path) = file_with(DEMO);
    let warnings = |vars: &[(&str, &str)]| {
        Checked::load(Some(&path), &env_of(vars))
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert!(warnings(&[]).is_empty(), "the demo: both on loopback");
    let w = warnings(&[("INTERACT_PUBLIC_URL", "https://chat.example.com")]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("server.listen 127.0.0.1:8080 is a loopback address"),
        "{w:?}"
    );
    assert!(w[0].contains("INTERACT_LISTEN"), "{w:?}");
    let w = warnings(&[("INTERACT_LISTEN", "0.0.0.0:8080")]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("names this machine's loopback"), "{w:?}");
    assert!(
        warnings(&[
            ("INTERACT_LISTEN", "0.0.0.0:8080"),
            ("INTERACT_PUBLIC_URL", "https://chat.example.com"),
        ])
        .is_empty()
    );
    // Behind a reverse proxy on this machine, loopback is right.
    assert!(
        warnings(&[
            ("INTERACT_PUBLIC_URL", "https://chat.example.com"),
            ("INTERACT_TRUSTED_PROXIES", "127.0.0.1"),
        ])
        .is_empty()
    );
    for (url, loopback) in [
        ("http://localhost:8080", Some(true)),
        ("http://[::1]:8080", Some(true)),
        ("https://127.0.0.2", Some(true)),
        ("https://chat.example.com:8443/x", Some(false)),
        ("https://[2001:db8::1]", Some(false)),
        ("nonsense", None),
    ] {
        assert_eq!(url_is_loopback(url), loopback, "{url}");
    }
}

#[test]
fn the_demo_is_a_problem_unless_allowed() {
    let (_dir, path) = file_with(DEMO);
    let mut checked = Checked::load(Some(&path), &env_of(&[]));
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    checked.refuse_demo();
    let shown: Vec<String> = checked.problems.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown[0].contains("demo-admin-token"), "{shown:?}");
    assert!(shown.iter().all(|p| p.contains("--demo")), "{shown:?}");
    let token_line = DEMO
        .lines()
        .position(|l| l.starts_with("token_sha256"))
        .expect("token")
        + 1;
    assert_eq!(
        checked.problems[0].place,
        Place::Line {
            file: path.clone(),
            line: token_line
        }
    );
    assert_eq!(
        crate::auth::token_hash("demo-admin-token"),
        DEMO_ADMIN_TOKEN_SHA256
    );
}

/// The production example (`config/interact.example.toml`, in the release tarball) loads
/// with nothing but an admin token from the environment, and is no demo.
#[test]
fn the_production_example_needs_only_the_admin_token() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/interact.example.toml");
    let mut checked = Checked::load(
        Some(&path),
        &env_of(&[("INTERACT_ADMIN_TOKEN", "a-real-token")]),
    );
    checked.refuse_demo();
    checked.check_folders();
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    let config = checked.config.expect("loaded");
    assert_eq!(config.server.www, None, "the pages built in");
    assert!(config.services.is_empty() && config.users.is_empty());

    let checked = Checked::load(Some(&path), &env_of(&[]));
    assert_eq!(checked.problems.len(), 1, "{:?}", checked.problems);
    assert!(
        checked.problems[0].message.contains("INTERACT_ADMIN_TOKEN"),
        "{:?}",
        checked.problems
    );
}

/// A `server.www` that is no folder is a problem where the node runs (`serve`, `config
/// check`), not in the file's own checks (it may be for another machine).
#[test]
fn a_missing_www_folder_is_named() {
    let (dir, path) = file_with(DEMO);
    let mut checked = Checked::load(Some(&path), &env_of(&[]));
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    checked.check_folders();
    assert_eq!(checked.problems.len(), 1, "{:?}", checked.problems);
    assert!(
        checked.problems[0].message.starts_with("server.www "),
        "{:?}",
        checked.problems
    );
    assert_eq!(
        checked.problems[0].place,
        Place::Line {
            file: path.clone(),
            line: DEMO
                .lines()
                .position(|l| l.starts_with("www = "))
                .expect("the demo's www")
                + 1
        }
    );
    // A folder that is there (the variable's path is relative to the working directory).
    let env = env_of(&[("INTERACT_WWW", dir.path().to_str().expect("UTF-8"))]);
    let mut checked = Checked::load(Some(&path), &env);
    checked.check_folders();
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
}
