//! The widget's side of the server: its static files (the loader, the frame script and
//! style, the wasm package), the page its iframe loads, and the Preview page admins use
//! to try an embed code.

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use interact_sdk::config::{Availability, TargetKind};
use serde::Deserialize;

use super::NOSNIFF;
use super::files::{self, Source};
use crate::admin::{escape_html, snippet};
use crate::error::AppError;
use crate::node::state::AppState;
use interact_model::{DomainTemplate, OriginPattern};
use interact_store::EmbedCodeRecord;

/// `Cross-Origin-Resource-Policy`, so that pages with COEP can load the loader too.
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// Routes: `GET /widget/frame`, `GET /preview/{code}`, and the files of `www/widget`
/// (with the wasm package the build puts in `www/widget/pkg`) under `/widget/`, each
/// with its brotli or gzip copy where the client accepts one.
pub(super) fn router(www: Source<'_>) -> Router<AppState> {
    let files = Router::new()
        .fallback_service(files::folder(www, "widget", true))
        .layer(middleware::map_response(file_headers));
    Router::new()
        .route("/widget/frame", get(frame))
        .route("/preview/{code}", get(preview))
        .nest_service("/widget", files)
}

/// Every widget file is public and used from other origins: the loader by host pages,
/// the package by custom UIs built on the JavaScript SDK (module scripts and the wasm
/// fetch need CORS). They are not content-hashed, so caches revalidate.
async fn file_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(CORP, HeaderValue::from_static("cross-origin"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The query of the frame page.
#[derive(Debug, Deserialize)]
struct FrameQuery {
    #[serde(default)]
    code: String,
    /// The origin of the page that embeds the frame (the loader sends `location.origin`).
    #[serde(default)]
    host: Option<String>,
    /// The language the snippet asked for.
    #[serde(default)]
    lang: Option<String>,
}

/// A language tag safe to put in an attribute (letters, digits, `-`), else `None`.
fn clean_lang(lang: Option<&str>) -> Option<&str> {
    lang.filter(|l| {
        (1..=35).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// `host` as one CSP source: a well-formed, exact origin (no wildcard, nothing that could
/// end the directive).
fn csp_origin(host: &str) -> Option<String> {
    let origin = OriginPattern::parse(host).ok()?.to_string();
    let plain = origin
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:/[]".contains(&b));
    (plain && !origin.contains('*')).then_some(origin)
}

/// `GET /widget/frame?code=&host=&lang=`: the page the widget's iframe loads. The code
/// must be live and `host` (the embedding page's origin, default this server's own) must
/// be allowed by its Domain Template; the CSP `frame-ancestors` is then exactly `host`, so
/// the browser itself refuses to show the frame anywhere else. 404 and 403 pages say why
/// in plain words.
async fn frame(
    State(state): State<AppState>,
    Query(q): Query<FrameQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let preview = crate::preview::from_cookies(&headers, q.code.trim());
    match frame_inner(&state, &q, preview).await {
        Ok(r) => r,
        Err(e) => {
            let status = e.status();
            let page = plain_page("Interact", &e.public_message());
            (status, [(X_CONTENT_TYPE_OPTIONS, NOSNIFF)], page).into_response()
        }
    }
}

async fn frame_inner(
    state: &AppState,
    q: &FrameQuery,
    preview: Option<&str>,
) -> Result<Response, AppError> {
    let (record, template) = state.lookup_code(&q.code).await?;
    let host = q.host.clone().unwrap_or_else(|| state.own_origin());
    // The server's own pages (the Preview page) only with a Preview ticket for the code.
    let allowed = template.allows(Some(&host))
        || (state.is_own_origin(&host)
            && match preview {
                Some(ticket) => crate::preview::check(
                    state.store.as_ref(),
                    record.code.as_str(),
                    ticket,
                    state.now(),
                )
                .await?
                .is_some(),
                None => false,
            });
    let Some(host) = csp_origin(&host).filter(|_| allowed) else {
        state.metrics.reject("origin_not_allowed");
        return Err(AppError::Forbidden(format!(
            "the website {host} is not allowed to show this chat (Domain Template {:?})",
            template.name
        )));
    };
    let name = target_name(state, &record);
    let csp = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
         frame-ancestors {host}; base-uri 'none'; form-action 'none'"
    );
    let csp = HeaderValue::from_str(&csp)
        .map_err(|_| AppError::Forbidden("this origin cannot be expressed in a CSP".into()))?;
    let lang = clean_lang(q.lang.as_deref());
    let page = format!(
        "<!doctype html>\n<html lang=\"{html_lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/widget/widget.css\">\n\
         <link rel=\"modulepreload\" href=\"/widget/pkg/interact_widget_frame.js\">\n\
         <script type=\"module\" src=\"/widget/frame.js\"></script>\n\
         </head>\n<body data-code=\"{code}\" data-host=\"{host_attr}\"{lang_attr}>\n\
         <main id=\"interact\"><noscript>This chat needs JavaScript.</noscript></main>\n\
         </body>\n</html>\n",
        html_lang = lang.unwrap_or("en"),
        title = escape_html(&name),
        code = escape_html(record.code.as_str()),
        host_attr = escape_html(&host),
        lang_attr = lang
            .map(|l| format!(" data-lang=\"{l}\""))
            .unwrap_or_default(),
    );
    Ok((
        [
            (CONTENT_SECURITY_POLICY, csp),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Html(page),
    )
        .into_response())
}

fn target_name(state: &AppState, record: &EmbedCodeRecord) -> String {
    state
        .tenant()
        .widget_config(&record.target, Availability::Closed)
        .map(|c| c.target.display_name)
        .unwrap_or_default()
}

/// A page with a heading and one paragraph, for refusals.
fn plain_page(title: &str, text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{t}</title>\n</head>\n<body>\n<h1>{t}</h1>\n<p>{}</p>\n</body>\n</html>\n",
        escape_html(text),
        t = escape_html(title),
    ))
}

/// The policy of the Preview page: its own style and script, the widget frame from this
/// server, and no framing of the page itself.
const PREVIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     frame-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The query of the Preview page: an origin to check against the Domain Template, and
/// the ticket of a signed Preview link ([`crate::preview`]).
#[derive(Debug, Deserialize)]
struct PreviewQuery {
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
}

/// What the Domain Template says about one origin, in words.
pub(super) fn origin_verdict(
    state: &AppState,
    template: &DomainTemplate,
    origin: &str,
) -> (bool, String) {
    let origin = origin.trim();
    if origin == "null" {
        return (
            false,
            "The null origin (sandboxed frames, file: pages) is never allowed.".into(),
        );
    }
    if let Err(e) = OriginPattern::parse(origin) {
        return (
            false,
            format!("{origin} is not an origin: it {e}. Enter it as scheme://host[:port]."),
        );
    }
    if template.allows(Some(origin)) {
        (
            true,
            format!(
                "{origin} is allowed: Domain Template {:?} lists it.",
                template.name
            ),
        )
    } else if state.is_own_origin(origin) {
        (
            false,
            format!(
                "{origin} is this server itself: it shows the widget only on this Preview page \
                 (opened through a signed link), never for a website."
            ),
        )
    } else {
        (
            false,
            format!(
                "{origin} is not allowed: add it to Domain Template {:?} to use the widget there.",
                template.name
            ),
        )
    }
}

/// `GET /preview/{code}`: the widget as a visitor will see it, the snippet to copy, and
/// which origins the code's Domain Template accepts, with a check for any origin
/// (`?origin=`). Everything it shows is public anyway: the snippet is in every page that
/// embeds it, and the allowed origins are in the frame's CSP.
async fn preview(
    State(state): State<AppState>,
    UrlPath(code): UrlPath<String>,
    Query(q): Query<PreviewQuery>,
    request_headers: axum::http::HeaderMap,
) -> Response {
    let headers = [
        (
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PREVIEW_CSP),
        ),
        (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    let denied = |text: &str| {
        (
            StatusCode::FORBIDDEN,
            headers.clone(),
            plain_page("Interact Preview", text),
        )
            .into_response()
    };
    let (record, template) = match state.lookup_code(&code).await {
        Ok(found) => found,
        Err(e) => {
            let text = format!(
                "{} There is no live embed code {code:?}: it was never issued, or it was revoked.",
                e.public_message()
            );
            return (
                StatusCode::NOT_FOUND,
                headers,
                plain_page("Interact Preview", &text),
            )
                .into_response();
        }
    };
    // Only through a signed link: its ticket, then the cookie it set.
    let code_text = record.code.as_str();
    if let Some(ticket) = q.ticket.as_deref() {
        return match crate::preview::check(state.store.as_ref(), code_text, ticket, state.now())
            .await
        {
            Ok(Some(expires)) => {
                let max_age = expires.0.saturating_sub(state.now().0) / 1000;
                // `Secure` where the server is reached over https (the demo is http).
                let secure = if state.config.server.public_url.starts_with("https://") {
                    "; Secure"
                } else {
                    ""
                };
                let cookie = format!(
                    "{}={ticket}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    crate::preview::cookie_name(code_text)
                );
                let location = format!("/preview/{code_text}");
                match (
                    HeaderValue::from_str(&cookie),
                    HeaderValue::from_str(&location),
                ) {
                    (Ok(cookie), Ok(location)) => (
                        StatusCode::SEE_OTHER,
                        headers,
                        [(SET_COOKIE, cookie), (LOCATION, location)],
                    )
                        .into_response(),
                    _ => denied("This Preview link is malformed."),
                }
            }
            Ok(None) => denied(
                "This Preview link has expired or is not valid. Open the Preview again from \
                 the administration (/admin/): links are valid for one hour.",
            ),
            Err(e) => AppError::from(e).into_response(),
        };
    }
    let cookie = crate::preview::from_cookies(&request_headers, code_text);
    let admitted = match cookie {
        Some(ticket) => {
            match crate::preview::check(state.store.as_ref(), code_text, ticket, state.now()).await
            {
                Ok(found) => found.is_some(),
                Err(e) => return AppError::from(e).into_response(),
            }
        }
        None => false,
    };
    if !admitted {
        return denied(
            "The Preview page is for administrators: open it from the administration \
             (/admin/), which gives a signed link valid for one hour.",
        );
    }
    let config = state.visitor_config(&record.target);
    let availability = config
        .as_ref()
        .map_or(Availability::Unknown, |c| c.availability);
    let name = target_name(&state, &record);
    let kind = match config.as_ref().map(|c| c.target.kind) {
        Some(TargetKind::User) => "user",
        _ => "service",
    };
    let availability = match availability {
        Availability::Open => "available",
        Availability::NoAgents => "no agent available",
        Availability::Closed => "closed",
        _ => "unknown",
    };
    let origins = if template.origins.is_empty() {
        "<li>None: the template allows no website (deny by default).</li>".to_owned()
    } else {
        template
            .origins
            .iter()
            .map(|o| format!("<li><code>{}</code></li>", escape_html(&o.to_string())))
            .collect()
    };
    let check = match q.origin.as_deref().filter(|o| !o.trim().is_empty()) {
        Some(origin) => {
            let (ok, text) = origin_verdict(&state, &template, origin);
            format!(
                "<p class=\"verdict {}\" role=\"status\">{}</p>",
                if ok { "ok" } else { "no" },
                escape_html(&text)
            )
        }
        None => String::new(),
    };
    let own = state.own_origin();
    let frame_src = format!(
        "/widget/frame?code={code_text}&host={}",
        percent_encoding::utf8_percent_encode(&own, interact_workflow::template::URL_ESCAPE)
    );
    let snippet = snippet(&state.config.server.public_url, &record.code);
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Preview: {name}</title>\n<link rel=\"stylesheet\" href=\"/widget/preview.css\">\n\
<script src=\"/widget/preview.js\" defer></script>\n</head>\n<body>\n<main>\n\
<h1>Preview: {name}</h1>\n\
<p>Embed code <code>{code}</code> for the {kind} <strong>{name}</strong> ({availability}), \
Domain Template <code>{template}</code>.</p>\n\
<div class=\"cols\">\n<section aria-labelledby=\"h-widget\">\n\
<h2 id=\"h-widget\">The widget as a visitor sees it</h2>\n\
<iframe class=\"widget\" title=\"Chat widget preview\" src=\"{frame_src}\" \
allow=\"microphone; camera; display-capture; autoplay\"></iframe>\n</section>\n\
<div>\n<section aria-labelledby=\"h-snippet\">\n<h2 id=\"h-snippet\">Snippet</h2>\n\
<p>Paste this once into every page that should show the chat, before <code>&lt;/body&gt;</code>. \
Options: <code>data-interact-lang</code> (en, de), <code>data-interact-position</code> \
(bottom-right, bottom-left), <code>data-interact-color</code> (#rrggbb), \
<code>data-interact-z-index</code>. A page with a Content-Security-Policy must allow \
<code>{public}</code> in <code>script-src</code>, <code>connect-src</code> and \
<code>frame-src</code>.</p>\n\
<textarea id=\"snippet\" readonly rows=\"4\" aria-label=\"Snippet\">{snippet}</textarea>\n\
<button type=\"button\" id=\"copy\" hidden>Copy snippet</button> <span id=\"copied\" role=\"status\"></span>\n\
</section>\n<section aria-labelledby=\"h-origins\">\n<h2 id=\"h-origins\">Where it works</h2>\n\
<p>Domain Template <code>{template}</code> allows these origins (and this server itself, \
for this page):</p>\n<ul>{origins}</ul>\n\
<form method=\"get\">\n<label for=\"origin\">Check a website's origin</label>\n\
<input id=\"origin\" name=\"origin\" type=\"text\" placeholder=\"https://www.example.com\" \
value=\"{origin_value}\" spellcheck=\"false\">\n<button type=\"submit\">Check</button>\n</form>\n\
{check}\n</section>\n</div>\n</div>\n</main>\n</body>\n</html>\n",
        name = escape_html(&name),
        code = escape_html(code_text),
        template = escape_html(&template.name),
        public = escape_html(&state.config.server.public_url),
        frame_src = escape_html(&frame_src),
        snippet = escape_html(&snippet),
        origin_value = escape_html(q.origin.as_deref().unwrap_or("")),
    );
    (headers, Html(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_origins_become_csp_sources() {
        assert_eq!(
            csp_origin("https://Shop.Example.com:8443").as_deref(),
            Some("https://shop.example.com:8443")
        );
        assert_eq!(
            csp_origin("http://127.0.0.1:8081").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        for bad in [
            "https://*.example.com",
            "https://a.example.com;script-src",
            "https://a'b.example.com",
            "javascript:alert(1)",
            "null",
            "",
        ] {
            assert_eq!(csp_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn languages_are_tags_or_nothing() {
        assert_eq!(clean_lang(Some("de-AT")), Some("de-AT"));
        assert_eq!(clean_lang(Some("de\"><script>")), None);
        assert_eq!(clean_lang(Some("")), None);
        assert_eq!(clean_lang(None), None);
    }
}
