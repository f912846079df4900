//! The binary alone (issue 17): the pages built into it (`src/http/files.rs`) are served
//! as the `www/` folder is, and the binary, copied into an empty folder with nothing of
//! the repository around it, serves the widget, the console and the admin app and carries
//! a chat end to end.
//!
//! This runs the debug binary `cargo test` builds, which builds the pages in as a release
//! does; `cargo xtask test` runs the chat test once more on that binary packed into the
//! tarball as `cargo xtask dist` packs the release one, and unpacked
//! (`INTERACT_TEST_DIST_TARBALL`). The wasm packages must have been built before the
//! server (`cargo xtask widget`; `cargo xtask test` does that first).

use std::path::{Path, PathBuf};
use std::time::Duration;

use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, Presence, ServerFrame, SessionEvent};
use interact_testkit::{
    ALLOWED, DEMO_CODE, HttpAnswer, ServerProcess, TestServer, accept_offer, agent_token, config,
    connect_agent, connect_visitor, http_exchange, mid, process_config, write_config, www,
};

/// The server binary under test.
const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

/// The policy of the agent console's files (`src/http/pages.rs`).
const CONSOLE_CSP: &str = "default-src 'self'; connect-src 'self'; style-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; frame-ancestors 'none'";

/// A file of the workspace's `www/`.
fn built(path: &str) -> Vec<u8> {
    std::fs::read(www().join(path)).unwrap_or_else(|e| panic!("www/{path}: {e}"))
}

/// `GET path` with `Accept-Encoding: encoding` if given.
async fn get(addr: std::net::SocketAddr, path: &str, encoding: Option<&str>) -> HttpAnswer {
    let headers: Vec<(&str, &str)> = encoding
        .map(|e| ("Accept-Encoding", e))
        .into_iter()
        .collect();
    http_exchange(addr, "GET", path, &headers, "").await
}

/// What of an answer must be alike whether a file comes from the folder or the binary.
fn served(answer: &HttpAnswer) -> (u16, Vec<(String, String)>, usize, Vec<u8>) {
    let kept = [
        "content-type",
        "content-encoding",
        "content-length",
        "last-modified",
        "cache-control",
        "content-security-policy",
        "access-control-allow-origin",
        "cross-origin-resource-policy",
        "x-content-type-options",
        "referrer-policy",
        "location",
        "allow",
    ];
    let mut headers: Vec<_> = answer
        .headers
        .iter()
        .filter(|(name, _)| kept.contains(&name.as_str()))
        .cloned()
        .collect();
    headers.sort();
    (
        answer.status,
        headers,
        answer.body.len(),
        answer.body.clone(),
    )
}

/// The same requests to a server on the `www` folder and to one on its built-in copy get
/// the same answers: status, content type, coding, length, `Last-Modified`, the routes'
/// headers (CSP, CORS, caching) and bytes. (Only `Accept-Ranges` differs: the built-in
/// files are not served in ranges.)
#[tokio::test]
async fn the_built_in_pages_are_served_as_the_folder_is() {
    let folder_dir = tempfile::tempdir().expect("tempdir");
    let on_folder = TestServer::start(config(folder_dir.path())).await;
    let built_in_dir = tempfile::tempdir().expect("tempdir");
    let mut built_in = config(built_in_dir.path());
    built_in.server.www = None;
    let built_in = TestServer::start(built_in).await;

    let requests: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/widget/loader.js", None),
        ("GET", "/widget/loader.js", Some("gzip")),
        ("GET", "/widget/loader.js", Some("gzip, deflate, br, zstd")),
        ("GET", "/widget/loader.js", Some("br;q=0.5, gzip")),
        ("GET", "/widget/loader.js", Some("br;q=0, x-gzip;q=0.1")),
        ("GET", "/widget/loader.js", Some("identity, br;q=0.9")),
        ("GET", "/widget/loader.js", Some("br;q=nonsense")),
        ("HEAD", "/widget/loader.js", Some("br")),
        ("GET", "/widget/loader.d.ts", Some("br")),
        ("GET", "/widget/widget.css", Some("gzip")),
        ("GET", "/widget/pkg/interact_widget_bg.wasm", Some("br")),
        ("GET", "/widget/pkg/interact_widget_frame.js", Some("gzip")),
        ("GET", "/widget/pkg/interact_widget.d.ts", Some("br")),
        ("GET", "/widget/nothing.js", Some("br")),
        ("GET", "/widget/%2e%2e/privacy.html", None),
        ("POST", "/widget/loader.js", None),
        ("GET", "/console/", Some("br")),
        ("GET", "/console/index.html", None),
        ("GET", "/console/console.js", None),
        ("GET", "/console/favicon.svg", None),
        ("GET", "/console/pkg/interact_console_bg.wasm", Some("br")),
        ("GET", "/console/nothing.css", None),
        ("GET", "/admin/", None),
        ("GET", "/admin/pages/services.js", None),
        ("GET", "/admin/nothing.js", None),
        ("GET", "/privacy", Some("br")),
    ];
    for &(method, path, encoding) in requests {
        let headers: Vec<(&str, &str)> = encoding
            .map(|e| ("Accept-Encoding", e))
            .into_iter()
            .collect();
        let from_folder = http_exchange(on_folder.addr, method, path, &headers, "").await;
        let from_binary = http_exchange(built_in.addr, method, path, &headers, "").await;
        assert_eq!(
            served(&from_binary).1,
            served(&from_folder).1,
            "{method} {path} ({encoding:?}): headers"
        );
        assert!(
            served(&from_binary) == served(&from_folder),
            "{method} {path} ({encoding:?}): status {} and {} bytes from the binary, {} and {} \
             from the folder",
            from_binary.status,
            from_binary.body.len(),
            from_folder.status,
            from_folder.body.len(),
        );
    }

    // Revalidation by Last-Modified works on the built-in files too.
    let first = get(built_in.addr, "/admin/app.js", None).await;
    let modified = first.header("last-modified").expect("Last-Modified");
    let again = http_exchange(
        built_in.addr,
        "GET",
        "/admin/app.js",
        &[("If-Modified-Since", modified)],
        "",
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("cache-control"), Some("no-cache"));
    // A folder's path without its slash leads to it, under its route's prefix.
    let folder = get(built_in.addr, "/admin/pages?x=1", None).await;
    assert_eq!(folder.status, 307);
    assert_eq!(folder.header("location"), Some("/admin/pages/?x=1"));
}

/// Puts the server binary into `dir`, which has nothing of the repository: unpacked from
/// the tarball `INTERACT_TEST_DIST_TARBALL` names (`cargo xtask test` packs one as `cargo
/// xtask dist` does and runs this test on it), else copied from the binary under test.
fn lone_binary(dir: &Path) -> PathBuf {
    for folder in dir.ancestors() {
        assert!(
            !folder.join("www").exists() && !folder.join("Cargo.toml").exists(),
            "{} is in a repository",
            dir.display()
        );
    }
    if let Some(tarball) = std::env::var_os("INTERACT_TEST_DIST_TARBALL") {
        let file = std::fs::File::open(&tarball).expect("the dist tarball");
        tar::Archive::new(flate2::read::GzDecoder::new(file))
            .unpack(dir)
            .expect("unpack the dist tarball");
        let top: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("the unpacked tarball")
            .map(|e| e.expect("entry").path())
            .collect();
        let [release] = top.as_slice() else {
            panic!("the tarball holds one folder, not {top:?}");
        };
        for file in [
            "README.md",
            "config/interact.example.toml",
            "systemd/interact.service",
        ] {
            assert!(release.join(file).is_file(), "the tarball has no {file}");
        }
        return release.join("interact-server");
    }
    let binary = dir.join("interact-server");
    std::fs::copy(SERVER, &binary).expect("copy the server binary");
    binary
}

#[tokio::test]
async fn the_binary_alone_serves_the_pages_and_a_chat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = lone_binary(dir.path());
    // The demo configuration (the demo tenant, the demo embed code: `--demo`, as
    // ServerProcess passes), with no `www`: the pages built in.
    let mut settings = process_config("");
    settings["server"]
        .as_table_mut()
        .expect("[server]")
        .remove("www");
    let config_file = write_config(dir.path(), &settings);
    let server = ServerProcess::start_in(&binary, &config_file, dir.path()).await;
    let addr = server.addr;

    // The widget's files, with CORS and their precompressed copies.
    let loader = get(addr, "/widget/loader.js", None).await;
    assert_eq!(loader.status, 200);
    assert_eq!(loader.header("content-type"), Some("text/javascript"));
    assert_eq!(loader.header("access-control-allow-origin"), Some("*"));
    assert_eq!(loader.header("cache-control"), Some("no-cache"));
    assert_eq!(loader.header("content-encoding"), None);
    assert_eq!(loader.body, built("widget/loader.js"));
    let loader = get(addr, "/widget/loader.js", Some("gzip, deflate, br")).await;
    assert_eq!(loader.header("content-encoding"), Some("br"));
    assert_eq!(loader.body, built("widget/loader.js.br"));
    let missing = "the wasm package is missing: build the widget with `cargo xtask widget` \
                   before the server (`cargo xtask test` does)";
    for (module, encoding, extension) in [
        ("interact_widget_frame_bg.wasm", "br", ".br"),
        ("interact_widget_bg.wasm", "gzip", ".gz"),
        ("interact_widget_call_bg.wasm", "br", ".br"),
    ] {
        let path = format!("/widget/pkg/{module}");
        let wasm = get(addr, &path, Some(encoding)).await;
        assert_eq!(wasm.status, 200, "{path}: {missing}");
        assert_eq!(wasm.header("content-type"), Some("application/wasm"));
        assert_eq!(wasm.header("content-encoding"), Some(encoding));
        assert_eq!(
            wasm.body,
            built(&format!("widget/pkg/{module}{extension}")),
            "{path}"
        );
    }
    let frame = get(
        addr,
        &format!("/widget/frame?code={DEMO_CODE}&host={ALLOWED}"),
        None,
    )
    .await;
    assert_eq!(frame.status, 200);
    assert!(String::from_utf8_lossy(&frame.body).contains("/widget/frame.js"));

    // The agent console, with its package.
    let console = get(addr, "/console/", Some("br")).await;
    assert_eq!(console.status, 200);
    assert_eq!(console.header("content-type"), Some("text/html"));
    assert_eq!(console.header("content-security-policy"), Some(CONSOLE_CSP));
    assert_eq!(console.body, built("console/index.html"));
    let script = get(addr, "/console/console.js", None).await;
    assert_eq!(script.header("content-type"), Some("text/javascript"));
    let package = get(addr, "/console/pkg/interact_console_bg.wasm", None).await;
    assert_eq!(package.status, 200, "the console's {missing}");
    assert_eq!(package.header("content-type"), Some("application/wasm"));

    // The admin app and the privacy page.
    let admin = get(addr, "/admin/", None).await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.header("content-type"), Some("text/html"));
    assert_eq!(admin.header("cache-control"), Some("no-cache"));
    assert_eq!(admin.body, built("admin/index.html"));
    let pages = get(addr, "/admin/pages/services.js", None).await;
    assert_eq!(pages.header("content-type"), Some("text/javascript"));
    let privacy = get(addr, "/privacy", None).await;
    assert_eq!(privacy.status, 200);
    assert_eq!(privacy.body, built("privacy.html"));
    assert_eq!(get(addr, "/widget/nothing.js", None).await.status, 404);

    // A chat: the visitor starts it, the agent accepts, a message each way.
    let store = server.store().await;
    let token = agent_token(store.as_ref(), "alex", Duration::from_secs(3600)).await;
    let mut agent = connect_agent(addr).await;
    agent.agent_hello(&token).await;
    agent
        .send(&ClientFrame::SetPresence {
            presence: Presence::Available,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("the demo template allows this origin");
    visitor.hello(None).await;
    let form = PreChatForm {
        display_name: "Lone Binary".into(),
        email: "lone@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    };
    let (session, _resume) = visitor.start_chat(mid("start"), form).await;
    accept_offer(&mut agent, &mut visitor, &session).await;
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v1"),
            text: "Hello from a lone binary".into(),
            after: None,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { text, .. } if text == "Hello from a lone binary")))
        .await;
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a1"),
            text: "Hello, lone visitor".into(),
            after: None,
        })
        .await;
    visitor
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { text, .. } if text == "Hello, lone visitor")))
        .await;
    server.kill();
}
