//! The widget's files as the server sends them: the precompressed copies `cargo xtask
//! widget` writes (gzip by Zopfli, brotli) inflate to exactly the built file, and a client
//! that accepts neither gets the file itself.

use std::io::Read as _;
use std::path::Path;

use axum::body::Body;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use interact_e2e::stack::{Stack, require_widget_package, www};

/// What the server answers to `GET url` with `Accept-Encoding: accept` (if any): the
/// `Content-Encoding`, the `Content-Type` and the body as sent.
async fn fetch(url: &str, accept: Option<&str>) -> (Option<String>, String, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let mut request = Request::get(url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let response = client
        .request(request.body(Body::empty()).expect("request"))
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().expect("ASCII header").to_owned())
    };
    let encoding = header(CONTENT_ENCODING);
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
        .await
        .expect("body");
    (encoding, content_type, body.to_vec())
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

#[tokio::test]
async fn the_precompressed_widget_inflates_to_the_built_files() {
    require_widget_package();
    let stack = Stack::start().await;
    for (path, content_type) in [
        ("pkg/interact_widget_bg.wasm", "application/wasm"),
        ("pkg/interact_widget.js", "text/javascript"),
        // The frame's module (every visitor) and the call module (the first call).
        ("pkg/interact_widget_frame_bg.wasm", "application/wasm"),
        ("pkg/interact_widget_frame.js", "text/javascript"),
        ("pkg/interact_widget_call_bg.wasm", "application/wasm"),
        ("pkg/interact_widget_call.js", "text/javascript"),
        ("loader.js", "text/javascript"),
    ] {
        let built = std::fs::read(www().join("widget").join(Path::new(path))).expect("built");
        let url = format!("{}/widget/{path}", stack.server_url);

        let (encoding, ty, body) = fetch(&url, Some("gzip")).await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{path}");
        assert!(ty.starts_with(content_type), "{path}: {ty}");
        assert!(body.len() < built.len(), "{path}: gzip is smaller");
        assert!(gunzip(&body) == built, "{path}: gzip inflates to the file");

        let (encoding, _, body) = fetch(&url, Some("gzip, deflate, br")).await;
        assert_eq!(encoding.as_deref(), Some("br"), "{path}: brotli preferred");
        assert!(
            unbrotli(&body) == built,
            "{path}: brotli inflates to the file"
        );

        let (encoding, ty, body) = fetch(&url, None).await;
        assert_eq!(encoding, None, "{path}");
        assert!(ty.starts_with(content_type), "{path}: {ty}");
        assert!(body == built, "{path}: sent as built");
    }
    stack.stop().await;
}

/// What a visitor downloads before the first message (issue 16's budget): the frame
/// module's wasm and JavaScript glue with its snippets, and the frame's own script and
/// style sheet, as the server sends them to a browser that accepts brotli. The call
/// module is not among them (it loads on the first call click; `call.rs` checks that).
/// `cargo bench -p interact-e2e --bench widget` prints the same figure with the others.
#[tokio::test]
async fn the_chat_path_is_at_most_100_kb_brotli() {
    const BUDGET: usize = 100_000;
    require_widget_package();
    let stack = Stack::start().await;
    let mut paths: Vec<String> = [
        "pkg/interact_widget_frame_bg.wasm",
        "pkg/interact_widget_frame.js",
        "frame.js",
        "widget.css",
    ]
    .map(String::from)
    .to_vec();
    let snippets = www().join("widget/pkg/snippets");
    for dir in std::fs::read_dir(&snippets).expect("the package's snippets") {
        let dir = dir.expect("entry").path();
        for file in std::fs::read_dir(&dir).expect("a snippet folder") {
            let file = file.expect("entry").path();
            if file.extension().is_some_and(|e| e == "js") {
                let relative = file.strip_prefix(www().join("widget")).expect("inside");
                paths.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut total = 0;
    let mut sizes = Vec::new();
    for path in &paths {
        let url = format!("{}/widget/{path}", stack.server_url);
        let (encoding, _, body) = fetch(&url, Some("gzip, deflate, br")).await;
        assert_eq!(encoding.as_deref(), Some("br"), "{path}");
        total += body.len();
        sizes.push(format!("{path}: {} B", body.len()));
    }
    assert!(
        total <= BUDGET,
        "the chat path is {total} B brotli, over its budget of {BUDGET} B:\n{}",
        sizes.join("\n")
    );
    assert!(
        paths.iter().all(|p| !p.contains("call")),
        "no call code on the chat path"
    );
    stack.stop().await;
}
