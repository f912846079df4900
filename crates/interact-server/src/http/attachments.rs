//! Files in widget chats (docs/protocol.md §2.6): `POST /v1/sessions/{session}/attachments`
//! stores an image or a PDF a party of the session sends, and the session gets its
//! `attachment` event; `GET /v1/sessions/{session}/attachments/{id}` gives it back to the
//! session's parties only.
//!
//! Who may: the visitor with the session's current resume token (`Authorization: Bearer`,
//! from a page of an origin the session's embed code allows, or this server's own: the
//! widget's frame), or an agent with their sign-in token: the one holding the session to
//! upload, one who held it (an `agent_joined` of theirs) to download. What may: the type
//! is read from the first bytes of the content (PNG, JPEG, GIF, WebP, PDF) and must agree
//! with the name's extension, so an executable or an HTML page named `photo.png` is
//! refused; the size is checked against `Content-Length` and again while reading. The
//! answer to a download carries the sniffed type, `nosniff`, a sandboxing CSP and a
//! `Content-Disposition`, so that even a hostile file is never run as a page of this
//! origin.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    ORIGIN, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http_body_util::BodyExt as _;
use interact_sdk::ids::{AttachmentId, SessionId};
use interact_sdk::protocol::{Party, SessionEvent};
use interact_store::{AttachmentRecord, SessionRecord};
use serde::Deserialize;
use serde_json::json;

use super::{NOSNIFF, bearer, json_error};
use crate::auth;
use crate::error::AppError;
use crate::listen::ClientIp;
use crate::node::session::{self, AttachRefusal};
use crate::node::state::AppState;

/// Longest file name kept, in characters.
pub(super) const MAX_NAME_CHARS: usize = 120;

/// Requests (uploads and downloads) one address may make per [`WINDOW`].
const REQUESTS_PER_ADDRESS: u32 = 240;

/// The window of the rate limits.
const WINDOW: Duration = Duration::from_secs(60);

/// Keys tracked before expired windows are swept.
const SWEEP_ABOVE: usize = 4096;

/// The CSP of a served file: it may run nothing, load nothing, and is a unique origin if
/// a browser shows it as a page anyway.
const FILE_CSP: HeaderValue = HeaderValue::from_static("sandbox; default-src 'none'");

/// The routes: for a page of another origin (a custom UI on the JavaScript SDK) with
/// CORS for the origins the session's embed code allows ([`cors`]).
pub(super) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sessions/{session}/attachments",
            post(upload).options(preflight),
        )
        .route(
            "/v1/sessions/{session}/attachments/{id}",
            get(download).options(preflight),
        )
        .layer(axum::middleware::from_fn_with_state(state, cors))
        .layer(Extension(Limits::default()))
}

/// A preflight that [`cors`] let through: 204 (its headers are added there).
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// CORS for a visitor's page of another origin than the server's (a custom UI): the
/// answer names the `Origin` in `Access-Control-Allow-Origin` only when the session's
/// embed code allows it (never `*`), always with `Vary: Origin`; a preflight from any
/// other origin is refused (403). The request itself is checked by [`caller`] as for
/// any other origin.
async fn cors(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::header::{
        ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_MAX_AGE, VARY,
    };
    let origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| !state.is_own_origin(o))
        .map(str::to_owned);
    let session = req
        .uri()
        .path()
        .strip_prefix("/v1/sessions/")
        .and_then(|p| p.split('/').next())
        .map(str::to_owned);
    let allowed = match (&origin, &session) {
        (Some(o), Some(s)) => origin_allowed(&state, s, o).await,
        _ => false,
    };
    let is_preflight = req.method() == axum::http::Method::OPTIONS;
    if is_preflight && !allowed {
        return json_error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this origin may not use this session's files",
        );
    }
    let mut answer = next.run(req).await;
    let h = answer.headers_mut();
    h.append(VARY, HeaderValue::from_static("Origin"));
    if let (true, Some(o)) = (allowed, origin.and_then(|o| HeaderValue::from_str(&o).ok())) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
        if is_preflight {
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    answer
}

/// Whether the embed code of session `raw` allows pages of `origin`.
async fn origin_allowed(state: &AppState, raw: &str, origin: &str) -> bool {
    let Ok(id) = SessionId::new(raw) else {
        return false;
    };
    let Ok(Some(record)) = state.store.session(&id).await else {
        return false;
    };
    match state.store.embed_code(&record.embed_code).await {
        Ok(Some(code)) => state.template(&code.template).allows(Some(origin)),
        _ => false,
    }
}

/// Fixed-window counters: uploads per session, requests per address.
#[derive(Clone, Debug, Default)]
struct Limits {
    sessions: Window<SessionId>,
    addresses: Window<Option<IpAddr>>,
}

/// Counts per key in a fixed window of [`WINDOW`] from the key's first request.
#[derive(Clone, Debug)]
struct Window<K>(Arc<Mutex<HashMap<K, (Instant, u32)>>>);

impl<K> Default for Window<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<K: std::hash::Hash + Eq + Clone> Window<K> {
    /// Counts one; `false` if `key` is over `limit` in its window.
    fn allow(&self, key: &K, now: Instant, limit: u32) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = map.entry(key.clone()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= limit
    }
}

/// The types a file may have: the MIME type, and the extensions its name may end with.
const TYPES: [(&str, &[&str]); 5] = [
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("image/gif", &["gif"]),
    ("image/webp", &["webp"]),
    ("application/pdf", &["pdf"]),
];

/// The type of a file by its first bytes (its signature), if it is one of [`TYPES`].
pub(super) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// The type a file name's extension says, if it is one of [`TYPES`].
pub(super) fn type_of_name(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(_, exts)| exts.contains(&ext.as_str()))
        .map(|(mime, _)| *mime)
}

/// A file name as the server keeps and shows it: the last path part (of `/` or `\`),
/// without control, format (bidirectional overrides, zero-width) or line-separator
/// characters, trimmed, at most [`MAX_NAME_CHARS`] characters with the extension kept;
/// `file` if nothing is left.
pub(super) fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(*c,
                    '\u{200B}'..='\u{200F}'
                    | '\u{2028}'..='\u{202E}'
                    | '\u{2060}'..='\u{206F}'
                    | '\u{FEFF}'
                    | '\u{FFF9}'..='\u{FFFB}')
        })
        .collect();
    let kept = kept.trim().trim_start_matches('.').trim();
    if kept.is_empty() {
        return "file".into();
    }
    if kept.chars().count() <= MAX_NAME_CHARS {
        return kept.to_owned();
    }
    // Keep the extension (short ones only), cut the stem.
    let ext = kept
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| e.chars().count() <= 10);
    let room = MAX_NAME_CHARS - ext.map_or(0, |e| e.chars().count() + 1);
    let stem: String = kept.chars().take(room).collect();
    match ext {
        Some(e) => format!("{}.{e}", stem.trim_end()),
        None => stem,
    }
}

/// `Content-Disposition` for a served file: `inline` for images (shown as thumbnails),
/// `attachment` for anything else; an ASCII `filename` and the exact `filename*`.
fn disposition(mime: &str, name: &str) -> HeaderValue {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    /// RFC 8187's `attr-char`s are left as they are.
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let kind = if mime.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = utf8_percent_encode(name, ATTR);
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Who is asking, as one of the session's parties.
#[derive(Clone, Debug)]
enum Caller {
    /// The visitor (the session's resume token).
    Visitor,
    /// An agent: their user id and display name.
    Agent { user: String, name: String },
}

/// The session `raw` and who is asking: 404 for no such session; 401 without a
/// credential of the session's visitor or of an agent; 403 for a visitor on a page of an
/// origin the session's embed code does not allow.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    raw: &str,
) -> Result<(SessionRecord, Caller), AppError> {
    let no_session = || AppError::NotFound("no such session".into());
    let id = SessionId::new(raw).map_err(|_| no_session())?;
    let token = bearer(headers).ok_or_else(|| {
        AppError::Unauthorized("an Authorization: Bearer credential is needed".into())
    })?;
    let record = state.store.session(&id).await?.ok_or_else(no_session)?;
    let hash = auth::token_hash(token);
    if auth::hashes_equal(&hash, &record.token_hash) {
        let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
        if let Some(origin) = origin
            && !state.is_own_origin(origin)
        {
            let allowed = match state.store.embed_code(&record.embed_code).await? {
                Some(code) => state.template(&code.template).allows(Some(origin)),
                None => false,
            };
            if !allowed {
                state.metrics.reject("origin_not_allowed");
                return Err(AppError::Forbidden(format!(
                    "origin {origin} is not allowed for this session"
                )));
            }
        }
        return Ok((record, Caller::Visitor));
    }
    if let Some((user, _)) = state.store.agent_token(&hash, state.now()).await? {
        let name = state
            .tenant()
            .users
            .get(user.as_str())
            .map(|u| u.config.display_name.clone())
            .unwrap_or_else(|| user.clone());
        return Ok((record, Caller::Agent { user, name }));
    }
    Err(AppError::Unauthorized(
        "not a credential of this session".into(),
    ))
}

/// The query of an upload.
#[derive(Debug, Deserialize)]
struct UploadQuery {
    /// The file's name (cleaned by [`clean_name`]).
    #[serde(default)]
    name: String,
}

/// `POST /v1/sessions/{session}/attachments?name=` with the file as the body: `201
/// {"id", "name", "mime", "size", "seq"}`; refusals as docs/protocol.md §2.6 lists.
async fn upload(
    State(state): State<AppState>,
    Extension(limits): Extension<Limits>,
    ClientIp(ip): ClientIp,
    Path(raw): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match upload_inner(&state, &limits, ip, &raw, &q, &headers, body).await {
        Ok(r) | Err(r) => r,
    }
}

/// [`upload`], with every refusal as its response.
async fn upload_inner(
    state: &AppState,
    limits: &Limits,
    ip: Option<IpAddr>,
    raw: &str,
    q: &UploadQuery,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let cfg = &state.config.attachments;
    let refuse = |status, code: &str, message: &str| {
        state.metrics.reject(&format!("attachment_{code}"));
        json_error(status, code, message)
    };
    if !limits
        .addresses
        .allow(&ip, state.instant(), REQUESTS_PER_ADDRESS)
    {
        return Err(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; wait a minute",
        ));
    }
    let (record, who) = caller(state, headers, raw)
        .await
        .map_err(IntoResponse::into_response)?;
    if record.channel == interact_model::Channel::Whatsapp {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "not_allowed",
            "files cannot be sent in a WhatsApp chat",
        ));
    }
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "the file is larger than {} (the most this server takes)",
                interact_sdk::transcript::file_size(cfg.max_bytes)
            ),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.max_bytes) {
        return Err(too_large());
    }
    let name = clean_name(&q.name);
    let Some(named) = type_of_name(&name) else {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "only images (PNG, JPEG, GIF, WebP) and PDF files can be sent",
        ));
    };
    let (party, agent) = match &who {
        Caller::Visitor => (Party::Visitor, None),
        Caller::Agent { user, name } => (Party::Agent, Some((user.as_str(), name.clone()))),
    };
    let per_session = usize::try_from(cfg.per_session).unwrap_or(usize::MAX);
    let agent_id = agent.as_ref().map(|(u, _)| *u);
    let live = session::attachment_room(state, &record.id, party, agent_id, per_session)
        .await
        .map_err(|r| refusal(state, r))?;
    if !limits
        .sessions
        .allow(&record.id, state.instant(), cfg.per_minute)
    {
        return Err(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many files in this chat; wait a minute",
        ));
    }
    let data = read_body(body, cfg.max_bytes).await.map_err(|e| match e {
        BodyError::TooLarge => too_large(),
        BodyError::Broken => refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the upload broke off",
        ),
    })?;
    if data.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the file is empty",
        ));
    }
    let Some(mime) = sniff(&data) else {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "only images (PNG, JPEG, GIF, WebP) and PDF files can be sent; this file is none of them",
        ));
    };
    if mime != named {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "the file's content does not match its name's extension",
        ));
    }
    let id = AttachmentId::new(format!("a_{}", hex::encode(auth::random_128())))
        .unwrap_or_else(|e| unreachable!("a_ and hex make an id: {e}"));
    let size = data.len() as u64;
    let stored = AttachmentRecord {
        id: id.clone(),
        session: record.id.clone(),
        from: party,
        name: name.clone(),
        mime: mime.to_owned(),
        data,
        created_at: state.now(),
    };
    if let Err(e) = state.store.put_attachment(&stored).await {
        return Err(AppError::from(e).into_response());
    }
    let event = SessionEvent::Attachment {
        id: id.clone(),
        from: party,
        author: agent.as_ref().map(|(_, n)| n.clone()),
        name: name.clone(),
        mime: mime.to_owned(),
        size,
    };
    let seq = session::append_attachment(state, &live, party, agent_id, per_session, event)
        .await
        .map_err(|r| refusal(state, r))?;
    tracing::info!(session = %record.id, attachment = %id, from = ?party, size, mime, "file stored");
    Ok((
        StatusCode::CREATED,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({"id": id, "name": name, "mime": mime, "size": size, "seq": seq})),
    )
        .into_response())
}

/// The answer to a refusal of the session.
fn refusal(state: &AppState, r: AttachRefusal) -> Response {
    state.metrics.reject("attachment_refused");
    match r {
        AttachRefusal::Unknown => json_error(StatusCode::NOT_FOUND, "not_found", "no such session"),
        AttachRefusal::Ended => {
            json_error(StatusCode::CONFLICT, "session_ended", "the chat has ended")
        }
        AttachRefusal::NotHeld => json_error(
            StatusCode::FORBIDDEN,
            "not_allowed",
            "only the agent handling the chat may send files in it",
        ),
        AttachRefusal::Full => json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "this chat holds as many files as the server keeps for one chat",
        ),
        AttachRefusal::Internal => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        ),
    }
}

/// Why a body could not be read.
enum BodyError {
    /// Over the limit (nothing more is read).
    TooLarge,
    /// The connection broke.
    Broken,
}

/// The request body, read while counting: [`BodyError::TooLarge`] as soon as it passes
/// `max` bytes.
async fn read_body(mut body: Body, max: u64) -> Result<axum::body::Bytes, BodyError> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(chunk) = frame.into_data() {
            if (out.len() + chunk.len()) as u64 > max {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&chunk);
        }
    }
    Ok(out.into())
}

/// `GET /v1/sessions/{session}/attachments/{id}`: the file, to the session's visitor and
/// to an agent who held the session.
async fn download(
    State(state): State<AppState>,
    Extension(limits): Extension<Limits>,
    ClientIp(ip): ClientIp,
    Path((raw, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if !limits
        .addresses
        .allow(&ip, state.instant(), REQUESTS_PER_ADDRESS)
    {
        state.metrics.reject("attachment_rate_limited");
        return Err(AppError::RateLimited(
            "too many requests; wait a minute".into(),
        ));
    }
    let (record, who) = caller(&state, &headers, &raw).await?;
    let none = || AppError::NotFound("no such file in this session".into());
    if let Caller::Agent { user, .. } = &who {
        let holds = record.agent_id.as_ref().is_some_and(|a| a.as_str() == user);
        let held = holds
            || state.store.events(&record.id).await?.iter().any(|e| {
                matches!(&e.event, SessionEvent::AgentJoined { agent } if agent.id.as_str() == user)
            });
        if !held {
            return Err(AppError::Unauthorized(
                "only the session's agents may read its files".into(),
            ));
        }
    }
    let id = AttachmentId::new(id).map_err(|_| none())?;
    let file = state
        .store
        .attachment(&record.id, &id)
        .await?
        .ok_or_else(none)?;
    let mime = HeaderValue::from_str(&file.mime)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (CONTENT_TYPE, mime),
            (CONTENT_DISPOSITION, disposition(&file.mime, &file.name)),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
            (CONTENT_SECURITY_POLICY, FILE_CSP),
            (CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        Body::from(file.data),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content_and_must_match_the_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"MZ\x90\0\x03"), None, "a Windows executable");
        assert_eq!(sniff(b"<!doctype html><script>"), None);
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(type_of_name("Photo.JPG"), Some("image/jpeg"));
        assert_eq!(type_of_name("a.jpeg"), Some("image/jpeg"));
        assert_eq!(type_of_name("scan.pdf"), Some("application/pdf"));
        assert_eq!(type_of_name("x.svg"), None);
        assert_eq!(type_of_name("png"), None);
        assert_eq!(type_of_name("photo.png.exe"), None);
    }

    #[test]
    fn names_lose_paths_and_invisible_characters() {
        assert_eq!(clean_name("C:\\Users\\v\\photo.png"), "photo.png");
        assert_eq!(clean_name("../../etc/passwd.png"), "passwd.png");
        assert_eq!(clean_name("a\u{202E}gnp.exe"), "agnp.exe");
        assert_eq!(clean_name("line\nbreak\u{0}.pdf"), "linebreak.pdf");
        assert_eq!(clean_name("  .hidden.png "), "hidden.png");
        assert_eq!(clean_name("\u{200B}"), "file");
        assert_eq!(clean_name(""), "file");
        let long = format!("{}.pdf", "\u{e4}".repeat(300));
        let cut = clean_name(&long);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with(".pdf"));
        assert_eq!(clean_name("Rechnung März.pdf"), "Rechnung März.pdf");
    }

    #[test]
    fn dispositions_quote_nothing_they_should_not() {
        let d = disposition("application/pdf", "Rechnung \"März\";x.pdf");
        assert_eq!(
            d.to_str().expect("ascii"),
            "attachment; filename=\"Rechnung _M_rz_;x.pdf\"; filename*=UTF-8''Rechnung%20%22M%C3%A4rz%22%3Bx.pdf"
        );
        let d = disposition("image/png", "a.png");
        assert!(d.to_str().expect("ascii").starts_with("inline; "));
    }

    #[test]
    fn windows_count_per_key() {
        let w = Window::<u8>::default();
        let t0 = Instant::now();
        assert!(w.allow(&1, t0, 2));
        assert!(w.allow(&1, t0, 2));
        assert!(!w.allow(&1, t0, 2));
        assert!(w.allow(&2, t0, 2));
        assert!(w.allow(&1, t0 + WINDOW, 2));
    }
}
