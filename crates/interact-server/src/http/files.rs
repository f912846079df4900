//! The static files (the widget's, the console, the admin app, the privacy page, the
//! custom-UI example of the demo host page): from the folder `server.www` names, or,
//! without it, the copies built into the binary, so that the binary alone serves
//! everything.
//!
//! The built-in copies are the workspace's `www/` (and `examples/custom-ui/`) as they were
//! when the server was compiled, with the brotli and gzip copies `cargo xtask widget`
//! writes next to the widget's files: whatever of it exists then (a build without the
//! wasm packages compiles, and serves no package; `serve` warns). `build.rs` has the
//! server compiled again when a file there is added, changed or removed.
//!
//! A built-in file is served as `tower_http`'s `ServeDir` serves one from the folder, so
//! that both ways answer alike: `Content-Type` from the file name, a precompressed copy
//! by `Accept-Encoding` (the highest `q` wins, brotli before gzip at equal `q`, the plain
//! file when there is no copy), `Last-Modified` (the file's time when it was built in) and
//! `304` for `If-Modified-Since`, `index.html` for a folder's path with a trailing slash
//! and a redirect to it without one, `405` for methods other than `GET` and `HEAD`. Only
//! byte ranges are not served (nothing served here is fetched in parts): the whole file,
//! without `Accept-Ranges`. The routes' own headers (CSP, CORS, `Cache-Control`) are
//! added around both alike.

use std::borrow::Cow;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::http::header::{
    ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, IF_MODIFIED_SINCE,
    IF_UNMODIFIED_SINCE, LAST_MODIFIED, LOCATION,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::{EmbeddedFile, RustEmbed};
use tower::ServiceExt as _;
use tower::util::BoxCloneSyncService;
use tower_http::services::{ServeDir, ServeFile};

/// A service of static files, to nest or route to.
pub(super) type Files = BoxCloneSyncService<Request, Response, Infallible>;

/// The workspace's `www/` as it was at compile time.
#[derive(RustEmbed)]
#[folder = "../../www"]
struct Www;

/// The custom-UI example (`examples/custom-ui/`) the demo host page serves at `/custom/`.
#[derive(RustEmbed)]
#[folder = "../../examples/custom-ui"]
struct CustomUi;

/// Where the static files come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// A folder on disk, read at each request (`server.www`: for development, or pages
    /// of one's own).
    Folder(&'a Path),
    /// The copies built into the binary.
    BuiltIn,
}

impl<'a> Source<'a> {
    /// The source `server.www` names: its folder, or the built-in copies without it.
    pub fn of(www: Option<&'a Path>) -> Self {
        www.map_or(Self::BuiltIn, Self::Folder)
    }
}

/// The wasm packages (the widget's and the console's) that the built-in copies lack: a
/// server compiled before `cargo xtask widget` ran has none, and its widget and console
/// cannot start in a browser.
pub fn missing_packages() -> Vec<&'static str> {
    [
        "widget/pkg/interact_widget_frame_bg.wasm",
        "widget/pkg/interact_widget_bg.wasm",
        "widget/pkg/interact_widget_call_bg.wasm",
        "console/pkg/interact_console_bg.wasm",
    ]
    .into_iter()
    .filter(|path| Www::get(path).is_none())
    .collect()
}

/// The files of the folder `dir` (`"console"`, `"widget"`) of the pages, as a service to
/// nest; with `precompressed`, a `.br` or `.gz` copy is served where the client accepts
/// it and the copy exists.
pub(super) fn folder(source: Source<'_>, dir: &'static str, precompressed: bool) -> Files {
    match source {
        Source::Folder(www) => {
            let mut files = ServeDir::new(www.join(dir));
            if precompressed {
                files = files.precompressed_br().precompressed_gzip();
            }
            boxed(files)
        }
        Source::BuiltIn => built_in(Bundle::Www, dir, precompressed),
    }
}

/// The one file `name` of the pages (`privacy.html`), whatever the request's path.
pub(super) fn file(source: Source<'_>, name: &'static str) -> Files {
    match source {
        Source::Folder(www) => boxed(ServeFile::new(www.join(name))),
        Source::BuiltIn => {
            BoxCloneSyncService::new(tower::service_fn(move |request: Request| async move {
                Ok(serve(Bundle::Www, name, false, &request, None))
            }))
        }
    }
}

/// The custom-UI example's files: from `folder` if there is one, else built in.
pub(super) fn custom_ui(folder: Option<&Path>) -> Files {
    match folder {
        Some(dir) => boxed(ServeDir::new(dir)),
        None => built_in(Bundle::CustomUi, "", false),
    }
}

/// `ServeDir` or `ServeFile` as [`Files`].
fn boxed<S, B>(service: S) -> Files
where
    S: tower::Service<Request, Response = axum::http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    BoxCloneSyncService::new(service.map_response(|r| r.map(Body::new)))
}

/// A set of built-in files.
#[derive(Clone, Copy, Debug)]
enum Bundle {
    Www,
    CustomUi,
}

impl Bundle {
    fn get(self, path: &str) -> Option<EmbeddedFile> {
        match self {
            Self::Www => Www::get(path),
            Self::CustomUi => CustomUi::get(path),
        }
    }

    /// Whether `dir` (no trailing slash; empty for the root) holds a file.
    fn has_folder(self, dir: &str) -> bool {
        let mut names: Box<dyn Iterator<Item = Cow<'static, str>>> = match self {
            Self::Www => Box::new(Www::iter()),
            Self::CustomUi => Box::new(CustomUi::iter()),
        };
        dir.is_empty()
            || names.any(|name| {
                name.strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

/// The built-in folder `dir` of `bundle` (`""` for all of it) as a service.
fn built_in(bundle: Bundle, dir: &'static str, precompressed: bool) -> Files {
    BoxCloneSyncService::new(tower::service_fn(move |request: Request| async move {
        Ok(match relative_path(request.uri().path()) {
            Some(rel) => {
                let path = if dir.is_empty() {
                    rel
                } else if rel.is_empty() {
                    dir.to_owned()
                } else {
                    format!("{dir}/{rel}")
                };
                let slash = request.uri().path().ends_with('/');
                serve(bundle, &path, precompressed, &request, Some(slash))
            }
            None => StatusCode::NOT_FOUND.into_response(),
        })
    }))
}

/// The request path as a relative path of the bundle: percent-decoded, `.` and empty
/// segments dropped; `None` for `..` and for what is no plain file name.
fn relative_path(uri_path: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(uri_path)
        .decode_utf8()
        .ok()?;
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            s if s.contains(['\\', '\0']) => return None,
            s => segments.push(s),
        }
    }
    Some(segments.join("/"))
}

/// Answers `request` with the file `path` of `bundle`. `folder_slash`: for a path of a
/// folder service, whether the request's path ends with `/` (a folder's path is then its
/// `index.html`, else a redirect there); `None` for a single file.
fn serve(
    bundle: Bundle,
    path: &str,
    precompressed: bool,
    request: &Request,
    folder_slash: Option<bool>,
) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(ALLOW, HeaderValue::from_static("GET,HEAD"))],
        )
            .into_response();
    }
    let mut path = Cow::Borrowed(path);
    if let Some(slash) = folder_slash
        && bundle.get(&path).is_none()
        && bundle.has_folder(&path)
    {
        if !slash {
            // As ServeDir: 307 to the same path with a slash, the query kept.
            let uri = request
                .extensions()
                .get::<OriginalUri>()
                .map_or(request.uri(), |original| &original.0);
            let location = match uri.query() {
                Some(query) => format!("{}/?{query}", uri.path()),
                None => format!("{}/", uri.path()),
            };
            return match HeaderValue::from_str(&location) {
                Ok(location) => {
                    (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]).into_response()
                }
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            };
        }
        path = if path.is_empty() {
            Cow::Borrowed("index.html")
        } else {
            Cow::Owned(format!("{path}/index.html"))
        };
    }
    let Some((file, encoding)) = pick(bundle, &path, precompressed, request.headers()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let modified = file
        .metadata
        .last_modified()
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    if let Some(status) = precondition(request.headers(), modified) {
        return status.into_response();
    }
    let mime = mime_guess::from_path(&*path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Some(encoding) = encoding {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
    }
    if let Some(modified) = modified
        && let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified))
    {
        headers.insert(LAST_MODIFIED, value);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(file.data.len()));
    let body = if request.method() == Method::HEAD {
        Body::empty()
    } else {
        Body::from(file.data)
    };
    (headers, body).into_response()
}

/// `304` for `If-Modified-Since` at or after `modified`, `412` for `If-Unmodified-Since`
/// before it (or a file without a time), as ServeDir answers them.
fn precondition(headers: &HeaderMap, modified: Option<SystemTime>) -> Option<StatusCode> {
    let date = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(httpdate::HttpDate::from)
    };
    // Compared at the second, as HTTP dates are.
    let modified = modified.map(httpdate::HttpDate::from);
    if let Some(since) = date(IF_UNMODIFIED_SINCE)
        && modified.is_none_or(|m| since < m)
    {
        return Some(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(since) = date(IF_MODIFIED_SINCE)
        && modified.is_some_and(|m| since >= m)
    {
        return Some(StatusCode::NOT_MODIFIED);
    }
    None
}

/// A content coding the precompressed copies have, in ServeDir's order of preference at
/// equal `q` (the later, the more preferred).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Brotli => "br",
        }
    }

    fn extension(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some(".gz"),
            Self::Brotli => Some(".br"),
        }
    }
}

/// The codings `Accept-Encoding` names that copies exist for, with their `q` in
/// thousandths (an entry with a malformed `q` is ignored, as ServeDir does).
fn accepted(headers: &HeaderMap) -> Vec<(Encoding, u16)> {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.splitn(2, ';');
            let name = parts.next().unwrap_or("").trim();
            let encoding = if name.eq_ignore_ascii_case("br") {
                Encoding::Brotli
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                Encoding::Gzip
            } else if name.eq_ignore_ascii_case("identity") {
                Encoding::Identity
            } else {
                return None;
            };
            let q = match parts.next() {
                Some(q) => parse_q(q.trim())?,
                None => 1000,
            };
            Some((encoding, q))
        })
        .collect()
}

/// `q=0.5` as 500: `0` or `1` and up to three decimals, at most 1.
fn parse_q(text: &str) -> Option<u16> {
    let value = text
        .strip_prefix("q=")
        .or_else(|| text.strip_prefix("Q="))?;
    let (whole, decimals) = value.split_once('.').unwrap_or((value, ""));
    if decimals.len() > 3 || !decimals.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let fraction = decimals
        .bytes()
        .zip([100, 10, 1])
        .map(|(digit, factor)| u16::from(digit - b'0') * factor)
        .sum::<u16>();
    let q = whole + fraction;
    (q <= 1000).then_some(q)
}

/// The file to send for `path`: its most preferred precompressed copy that exists (with
/// its coding), else the file itself.
fn pick(
    bundle: Bundle,
    path: &str,
    precompressed: bool,
    headers: &HeaderMap,
) -> Option<(EmbeddedFile, Option<Encoding>)> {
    if precompressed {
        let mut accepted = accepted(headers);
        while let Some(&(best, _)) = accepted
            .iter()
            .filter(|(_, q)| *q > 0)
            .max_by_key(|&&(encoding, q)| (q, encoding))
        {
            let Some(extension) = best.extension() else {
                break;
            };
            if let Some(file) = bundle.get(&format!("{path}{extension}")) {
                return Some((file, Some(best)));
            }
            accepted.retain(|(encoding, _)| *encoding != best);
        }
    }
    bundle.get(path).map(|file| (file, None))
}

/// The folder of `examples/custom-ui` next to a `www` folder, if there is one.
pub fn custom_ui_next_to(www: &Path) -> Option<PathBuf> {
    let dir = www.join("../examples/custom-ui");
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("value"),
        );
        headers
    }

    #[test]
    fn q_values_parse_as_servedir_reads_them() {
        assert_eq!(parse_q("q=1"), Some(1000));
        assert_eq!(parse_q("q=0"), Some(0));
        assert_eq!(parse_q("q=0.5"), Some(500));
        assert_eq!(parse_q("Q=0.125"), Some(125));
        assert_eq!(parse_q("q=1.000"), Some(1000));
        assert_eq!(parse_q("q=1.5"), None);
        assert_eq!(parse_q("q=0.1234"), None);
        assert_eq!(parse_q("q=2"), None);
        assert_eq!(parse_q("0.5"), None);
        assert_eq!(parse_q("q=.5"), None);
    }

    #[test]
    fn accept_encoding_lists_the_known_codings() {
        assert_eq!(
            accepted(&accept("gzip, deflate, br;q=0.9, zstd, x-gzip;q=x")),
            vec![(Encoding::Gzip, 1000), (Encoding::Brotli, 900)]
        );
        assert_eq!(accepted(&HeaderMap::new()), vec![]);
    }

    #[test]
    fn paths_stay_inside_the_bundle() {
        assert_eq!(relative_path("/").as_deref(), Some(""));
        assert_eq!(
            relative_path("/pkg/./a%20b.js").as_deref(),
            Some("pkg/a b.js")
        );
        assert_eq!(relative_path("//x//y/").as_deref(), Some("x/y"));
        assert_eq!(relative_path("/../config"), None);
        assert_eq!(relative_path("/a/%2e%2e/b"), None);
        assert_eq!(relative_path("/a%5cb"), None);
        assert_eq!(relative_path("/a%00"), None);
        assert_eq!(relative_path("/%ff"), None);
    }

    #[test]
    fn preconditions_compare_at_the_second() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let header = |name, time| {
            let mut h = HeaderMap::new();
            h.insert(
                name,
                HeaderValue::from_str(&httpdate::fmt_http_date(time)).expect("date"),
            );
            h
        };
        let later = at + Duration::from_secs(1);
        let earlier = at - Duration::from_secs(1);
        assert_eq!(
            precondition(&header(IF_MODIFIED_SINCE, at), Some(at)),
            Some(StatusCode::NOT_MODIFIED)
        );
        assert_eq!(
            precondition(&header(IF_MODIFIED_SINCE, earlier), Some(at)),
            None
        );
        assert_eq!(precondition(&header(IF_MODIFIED_SINCE, at), None), None);
        assert_eq!(
            precondition(&header(IF_UNMODIFIED_SINCE, earlier), Some(at)),
            Some(StatusCode::PRECONDITION_FAILED)
        );
        assert_eq!(
            precondition(&header(IF_UNMODIFIED_SINCE, later), Some(at)),
            None
        );
    }

    #[test]
    fn the_built_in_pages_are_there() {
        // The files in git (the wasm packages are built, and may be missing here).
        for path in [
            "console/index.html",
            "admin/index.html",
            "widget/loader.js",
            "privacy.html",
        ] {
            assert!(Www::get(path).is_some(), "{path}");
        }
        assert!(CustomUi::get("index.html").is_some());
        assert!(Bundle::Www.has_folder("admin/pages"));
        assert!(!Bundle::Www.has_folder("admin/pag"));
        assert!(Bundle::CustomUi.has_folder(""));
    }
}
