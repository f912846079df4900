//! The demo host page: a stand-in for a customer's website, served on a second port (a
//! different origin from the server, as a real website is) with the snippet pasted in
//! and a strict Content-Security-Policy: no inline script or style, no `eval`, no wasm
//! compilation, only the Interact server allowed for scripts, connections and frames.
//! `interact-server serve` starts it when `[demo] host_listen` is set; the end-to-end
//! tests use it as their host page.
//!
//! Its own script (`/site.js`, `demo.js` here) shows the loader's JavaScript API: the queue
//! stub for calls made before the loader ran, attributes for the agent, buttons that open
//! the chat, and the widget's events in a list on the page.
//!
//! It also serves the custom-UI example (`examples/custom-ui`) at `/custom/`: a page built
//! on the JavaScript SDK, which runs the SDK's WebAssembly in the page itself and so
//! needs `'wasm-unsafe-eval'` (the widget's own frame needs nothing from the host page).

use std::path::Path;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use interact_sdk::embed::EmbedCode;

use super::NOSNIFF;
use crate::admin::{escape_html, snippet};

const STYLE: &str = "body { margin: 0; font: 16px/1.5 Georgia, serif; color: #222; }
header { padding: 24px 32px; background: #2f3e46; color: #fff; }
header h1 { margin: 0; font-size: 28px; }
main { max-width: 720px; padding: 24px 32px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f3f3; padding: 8px; }
.products { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 16px; }
.products li { list-style: none; border: 1px solid #ccc; border-radius: 8px; padding: 12px; }
.products button { display: block; margin-top: 8px; font: inherit; }
:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
";

/// The demo shop's own script: the loader API's queue stub and a few uses of the API.
const SCRIPT: &str = include_str!("demo.js");

/// The host page's router for a server reachable at `public_url` and an embed code, with
/// the custom-UI example from its folder, or from the copy built into the binary without
/// one.
pub fn demo_host(public_url: &str, code: &EmbedCode, custom_ui: Option<&Path>) -> Router {
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self' {public_url}; \
         connect-src {public_url}; frame-src {public_url}; base-uri 'none'; form-action 'self'"
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'"));
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Example Shop</title>\n<link rel=\"stylesheet\" href=\"/site.css\">\n\
         <script src=\"/site.js\"></script>\n</head>\n\
         <body>\n<header><h1>Example Shop</h1><p>A website that embeds the Interact widget.</p>\
         </header>\n<main>\n<p>This page stands for a customer's website. Its \
         Content-Security-Policy allows no inline script, no eval and no WebAssembly; the \
         chat button in the corner comes from the one snippet below, pasted before \
         <code>&lt;/body&gt;</code>:</p>\n<pre><code>{}</code></pre>\n\
         <p>Developers: <a href=\"/custom/?server={server}&amp;code={code}\">the same chat in a \
         custom UI</a> built on the JavaScript SDK.</p>\n\
         <ul class=\"products\">{products}</ul>\n\
         <h2>Chat activity</h2>\n<p>What the page's script hears from <code>Interact.on</code>:</p>\n\
         <ol data-demo=\"activity\"></ol>\n\
         </main>\n{}\n</body>\n</html>\n",
        escape_html(&snippet(public_url, code)),
        snippet(public_url, code),
        server = escape_html(public_url),
        code = escape_html(code.as_str()),
        products = ["Tea, 250 g", "Kettle", "Cups, set of 4"]
            .map(|p| format!(
                "<li>{p}<button type=\"button\" data-product=\"{p}\">Ask about it</button></li>"
            ))
            .concat(),
    );
    let ws_url = public_url
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let custom_csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self' {public_url} 'wasm-unsafe-eval'; \
         connect-src {public_url} {ws_url}; img-src blob:; base-uri 'none'; form-action 'none'"
    );
    let custom_csp = HeaderValue::from_str(&custom_csp)
        .unwrap_or(HeaderValue::from_static("default-src 'none'"));
    let files = Router::new()
        .fallback_service(super::files::custom_ui(custom_ui))
        .layer(axum::middleware::map_response(
            move |mut r: axum::response::Response| {
                let csp = custom_csp.clone();
                async move {
                    r.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
                    r.headers_mut().insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
                    r
                }
            },
        ));
    let router = Router::new().nest_service("/custom", files);
    router
        .route(
            "/",
            get(move || {
                let csp = csp.clone();
                let page = page.clone();
                async move {
                    (
                        [
                            (CONTENT_SECURITY_POLICY, csp),
                            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
                        ],
                        Html(page),
                    )
                }
            }),
        )
        .route(
            "/site.js",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/javascript"),
                        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    SCRIPT,
                )
                    .into_response()
            }),
        )
        .route(
            "/site.css",
            get(|| async { ([(CONTENT_TYPE, "text/css")], STYLE).into_response() }),
        )
}
