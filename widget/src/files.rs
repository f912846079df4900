//! Files in the chat over HTTP (docs/protocol.md §2.6): an upload with its progress
//! (`XMLHttpRequest` reports an upload's progress, `fetch` does not), and a file fetched
//! into a `blob:` URL to show, both with the session's resume token in the
//! `Authorization` header (never in a URL). The frame's CSP allows `blob:` images.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest, XmlHttpRequestResponseType};

use interact_sdk::ResumeState;

/// The URL of the session's files (`rest` empty) or of one (`/<id>`), or an upload's
/// (`?name=<encoded name>`).
pub(crate) fn url(server: &str, creds: &ResumeState, rest: &str) -> String {
    format!("{server}/v1/sessions/{}/attachments{rest}", creds.session)
}

/// What a request reports when it is over: its HTTP status (0 if it never got an
/// answer) and, for a download of a file, the file as a `blob:` URL; for an upload, the
/// answer's text.
pub(crate) type Done = Box<dyn FnOnce(u16, Option<String>)>;

/// `POST`s `file` (an upload: `progress` gets the fraction sent, 0 to 1) or, without
/// one, `GET`s `url` as a Blob; `done` gets the answer.
pub(crate) fn request(
    url: &str,
    creds: &ResumeState,
    file: Option<&web_sys::File>,
    progress: Option<Box<dyn Fn(f64)>>,
    done: Done,
) -> Result<(), JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open_with_async(if file.is_some() { "POST" } else { "GET" }, url, true)?;
    xhr.set_request_header("Authorization", &format!("Bearer {}", creds.token.expose()))?;
    if file.is_none() {
        xhr.set_response_type(XmlHttpRequestResponseType::Blob);
    }
    // The listeners live until the request is over; the last one drops them all
    // (wasm-bindgen frees a closure dropped during its own call once the call returns).
    let keep: Rc<RefCell<Vec<EventListener>>> = Rc::default();
    if let Some(p) = progress {
        let upload = xhr.upload()?;
        keep.borrow_mut()
            .push(EventListener::new(&upload, "progress", move |e| {
                if let Some(e) = e.dyn_ref::<ProgressEvent>()
                    && e.length_computable()
                    && e.total() > 0.0
                {
                    p(e.loaded() / e.total());
                }
            }));
    }
    let (x, held, upload) = (xhr.clone(), keep.clone(), file.is_some());
    let mut done = Some(done);
    keep.borrow_mut()
        .push(EventListener::new(&xhr, "loadend", move |_| {
            let status = x.status().unwrap_or(0);
            let answer = if upload {
                x.response_text().ok().flatten()
            } else {
                (status == 200)
                    .then(|| x.response().ok())
                    .flatten()
                    .and_then(|r| r.dyn_into::<Blob>().ok())
                    .and_then(|b| web_sys::Url::create_object_url_with_blob(&b).ok())
            };
            if let Some(done) = done.take() {
                done(status, answer);
            }
            held.borrow_mut().clear();
        }));
    match file {
        Some(f) => xhr.send_with_opt_blob(Some(f)),
        None => xhr.send(),
    }
}
