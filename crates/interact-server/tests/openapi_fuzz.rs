//! The admin API against its OpenAPI document (`GET /admin/v1/openapi.json`):
//!
//! - every admin route the router has is in the document, with the same methods, and
//!   nothing else is (so a new route without an annotation fails here);
//! - schemathesis, a property-based API fuzzer (from PyPI, pinned in
//!   `tests/openapi_fuzz/requirements.txt`), runs every operation of the document against
//!   a real server with the admin token: no answer is a 5xx, and every 4xx is a JSON error
//!   with a code (`tests/openapi_fuzz/hooks.py`); the answers match the documented statuses,
//!   content types and schemas.
//!
//! `cargo xtask test` (and `cargo xtask prereq`) install schemathesis into
//! `target/schemathesis-venv`; run alone, the fuzz test installs it there the same way
//! (`python3 -m venv`, then `pip install -r`) or says how. `INTERACT_FUZZ_SEED` picks
//! another seed (the default one keeps runs repeatable), `INTERACT_FUZZ_EXAMPLES` the
//! number of examples per operation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::ALLOW;
use axum::http::{Method, Request, StatusCode};
use interact_testkit::{TestServer, config, http_get};
use serde_json::Value;
use tower::ServiceExt as _;

/// The demo admin token (config/demo.toml holds its SHA-256).
const ADMIN_TOKEN: &str = "demo-admin-token";

/// Where the document is.
const DOCUMENT: &str = "/admin/v1/openapi.json";

/// The methods an OpenAPI path item may have, as the document spells them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Examples per operation and phase, unless `INTERACT_FUZZ_EXAMPLES` says otherwise:
/// enough to find what a first run finds, within the time below on 2 cores.
const EXAMPLES: &str = "60";

/// The seed, unless `INTERACT_FUZZ_SEED` says otherwise.
const SEED: &str = "13";

/// The whole run may take this long (it takes about a minute); then it is stopped.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// A server on the demo configuration with a database of its own.
async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    (TestServer::start(config(dir.path())).await, dir)
}

/// The document, as JSON.
async fn document(server: &TestServer) -> Value {
    let (status, body) = http_get(server.addr, DOCUMENT).await;
    assert_eq!(status, 200, "GET {DOCUMENT} without a token: {body}");
    serde_json::from_str(&body).expect("the document is JSON")
}

/// `(path, METHOD)` of every operation of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (path.clone(), m.to_ascii_uppercase()))
        })
        .collect()
}

/// `(path, METHOD)` of every admin route of the router: the paths from the router's
/// `Debug` (axum lists its routes' paths there), the methods from the `Allow` header of
/// the 405 each path answers to a method no route uses (`HEAD` left out: axum adds it
/// to every `GET`).
async fn routed(server: &TestServer) -> BTreeSet<(String, String)> {
    let app = interact_server::app(server.state.clone());
    let shown = format!("{app:?}");
    let paths: BTreeSet<&str> = shown
        .split('"')
        .filter(|s| s.starts_with("/admin/v1/") && !s.contains("{*"))
        .collect();
    assert!(
        paths.len() > 10,
        "found {} admin routes in the router's Debug; has axum changed how it shows \
         them? {paths:?}",
        paths.len()
    );
    let mut routes = BTreeSet::new();
    for path in paths {
        let uri = path.replace('{', "x").replace('}', "");
        let request = Request::builder()
            .method(Method::TRACE)
            .uri(&uri)
            .body(Body::empty())
            .expect("a request");
        let answer = app.clone().oneshot(request).await.expect("infallible");
        assert_eq!(
            answer.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "TRACE {uri} ({path})"
        );
        let allow = answer
            .headers()
            .get(ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("the 405 of {uri} has an Allow header"));
        for method in allow.split(',').map(str::trim) {
            if method != "HEAD" && !method.is_empty() {
                routes.insert((path.to_owned(), method.to_owned()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_admin_route_is_in_the_document() {
    let (server, _dir) = server().await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = documented(&doc);
    let routed = routed(&server).await;
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without an operation in {DOCUMENT} (annotate the handler with \
         #[utoipa::path] and list it in http/openapi.rs): {missing:?}; operations \
         without a route: {extra:?}"
    );
    // Every operation but the document's own needs the token, and says what it answers.
    for (path, method) in &documented {
        let operation = &doc["paths"][path][method.to_ascii_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} documents a 2xx answer"
        );
        if path != DOCUMENT {
            assert!(
                responses.contains_key("401"),
                "{method} {path} documents its 401"
            );
        }
    }
}

/// The pinned requirements (`schemathesis==X.Y.Z`).
fn requirements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi_fuzz/requirements.txt")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target/` of the workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The virtual environment `cargo xtask prereq` installs schemathesis into.
fn venv() -> PathBuf {
    target_dir().join("schemathesis-venv")
}

/// The schemathesis of [`venv`], installed there first if it is not (or not at the pinned
/// version): as `cargo xtask prereq` does, recorded by a copy of the requirements.
fn schemathesis() -> PathBuf {
    let venv = venv();
    let program = venv.join("bin/schemathesis");
    let wanted = std::fs::read_to_string(requirements()).expect("the requirements file");
    let stamp = venv.join("installed-requirements.txt");
    if program.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return program;
    }
    let how = format!(
        "schemathesis is not installed in {venv}; run `cargo xtask prereq`, or\n\n    \
         python3 -m venv {venv} && {venv}/bin/pip install -r {req} && cp {req} {stamp}\n\n\
         (Python 3.11 or later, with venv)",
        venv = venv.display(),
        req = requirements().display(),
        stamp = stamp.display(),
    );
    eprintln!("installing schemathesis into {}", venv.display());
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    let installed = ok(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        && ok(Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(requirements()))
        && std::fs::write(&stamp, &wanted).is_ok();
    assert!(installed && program.is_file(), "{how}");
    program
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_survives_the_fuzzer() {
    let program = schemathesis();
    let (server, _dir) = server().await;
    let reports = tempfile::tempdir().expect("dir");
    let examples = std::env::var("INTERACT_FUZZ_EXAMPLES").unwrap_or_else(|_| EXAMPLES.into());
    let seed = std::env::var("INTERACT_FUZZ_SEED").unwrap_or_else(|_| SEED.into());
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi_fuzz/hooks.py");
    let mut command = Command::new(&program);
    command
        .arg("run")
        .arg(format!("{}{DOCUMENT}", server.url()))
        .args(["--url", &server.url()])
        .args(["--header", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,json_error_with_code,status_code_conformance,\
             content_type_conformance,response_schema_conformance,ignored_auth,\
             use_after_free,unsupported_method",
        ])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--workers", "2", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "ndjson", "--report-dir"])
        .arg(reports.path())
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .current_dir(reports.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let id = child.id();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    let output = match tokio::time::timeout(RUN_LIMIT, run).await {
        Ok(done) => done.expect("joined").expect("schemathesis ran"),
        Err(_) => {
            // Ours to stop: the child this test started, by its id.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("schemathesis did not finish within {RUN_LIMIT:?}");
        }
    };
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    println!("schemathesis took {:.1} s", took.as_secs_f64());
    assert!(
        output.status.success(),
        "schemathesis found problems ({}); its output is above",
        output.status
    );
}
