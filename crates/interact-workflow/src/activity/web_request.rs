//! Web Request: calls an HTTP endpoint and maps its JSON answer into parameters.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Behaviour, Target, opt};
use crate::run::{Action, Cx, Event, Flow, HttpRequest, Wait};
use crate::template::{Escape, Params, Template, is_valid_name, json_param, render_json};

/// HTTP method of a Web Request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// Web Request: calls an HTTP endpoint and maps its JSON answer into parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebRequest {
    /// Default GET.
    #[serde(default = "default_method")]
    pub method: Method,
    /// `http(s)://host/...`; placeholders only after the host (values are
    /// percent-encoded).
    pub url: Template,
    /// Request headers (values with placeholders; control characters are removed).
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// A text body; placeholders are filled encoded for its `Content-Type` header
    /// (percent-encoded for a form, escaped as in a JSON string for JSON, as they are
    /// otherwise; without the header it is sent as `text/plain`).
    #[serde(default)]
    pub body: Option<Template>,
    /// A JSON body; placeholders in its strings are filled and JSON-escaped.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// 1 to 30 seconds, default 10.
    #[serde(default = "default_web_timeout")]
    pub timeout_secs: u32,
    /// Parameter name to JSON pointer into the response, e.g. `{ tier = "/customer/tier" }`.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
    /// Saves the HTTP status code to this parameter.
    #[serde(default)]
    pub save_status_to: Option<String>,
    /// Where to go on success (2xx, and a JSON body if `save` is set); default: next step.
    #[serde(default)]
    pub on_success: Option<Target>,
    /// Where to go on failure (no answer in time, another status, a body that is not
    /// JSON).
    pub on_failure: Target,
}

fn default_method() -> Method {
    Method::Get
}

fn default_web_timeout() -> u32 {
    10
}

impl WebRequest {
    /// The request, with the task's parameters filled in and each encoded for where it
    /// goes: percent-encoded in the URL (a value that would make a path segment `.` or
    /// `..` is an error), without control characters in headers, and in a text body by
    /// its content type (percent-encoded for a form, escaped as in a JSON string for
    /// JSON, as it is for other types; a body without a content type is sent as
    /// `text/plain`).
    fn request(&self, params: &Params) -> Result<HttpRequest, String> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, t)| (k.clone(), t.render(params, Escape::Header)))
            .collect();
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase());
        let body = match (&self.body, &self.json) {
            (Some(t), _) => {
                let escape = match content_type.as_deref().map(body_kind) {
                    Some(BodyKind::Form) => Escape::Url,
                    Some(BodyKind::Json) => Escape::JsonString,
                    Some(BodyKind::Other) => Escape::Plain,
                    None => {
                        headers.push(("Content-Type".into(), "text/plain; charset=utf-8".into()));
                        Escape::Plain
                    }
                };
                Some(t.render(params, escape))
            }
            (None, Some(j)) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                Some(render_json(j, params).to_string())
            }
            (None, None) => None,
        };
        Ok(HttpRequest {
            method: self.method,
            url: self.url.render_url(params)?,
            headers,
            body,
            timeout: Duration::from_secs(self.timeout_secs.into()),
        })
    }

    /// The answer came (`Some`: status and body) or did not: save what it says, then
    /// the success or failure exit.
    fn answered(&self, cx: &mut Cx<'_>, answer: Option<(u16, String)>) -> Flow {
        let ok = match answer {
            None => false,
            Some((status, body)) => {
                if let Some(p) = &self.save_status_to {
                    cx.params_mut().insert(p.clone(), status.to_string());
                }
                if !(200..300).contains(&status) {
                    false
                } else if self.save.is_empty() {
                    true
                } else {
                    match serde_json::from_str::<serde_json::Value>(&body) {
                        Ok(json) => {
                            let params = cx.params_mut();
                            for (param, pointer) in &self.save {
                                match json_param(&json, pointer) {
                                    Some(v) => params.insert(param.clone(), v),
                                    None => params.remove(param),
                                };
                            }
                            true
                        }
                        Err(_) => false,
                    }
                }
            }
        };
        if ok {
            Flow::to(cx.exit(self.on_success.as_ref()))
        } else {
            Flow::Goto(self.on_failure.index)
        }
    }
}

impl Behaviour for WebRequest {
    fn check(&self) -> Result<(), String> {
        let url = self.url.source();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| format!("url {url:?} must start with http:// or https://"))?;
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host = &rest[..host_end];
        if host.is_empty() || host.contains("{{") || host.contains('@') || host.contains(' ') {
            return Err(format!(
                "url {url:?}: the host must be written out (no placeholders, no user info)"
            ));
        }
        if !(1..=30).contains(&self.timeout_secs) {
            return Err(format!(
                "timeout_secs = {} is out of range (1 to 30)",
                self.timeout_secs
            ));
        }
        for h in self.headers.keys() {
            if h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                return Err(format!("headers: {h:?} is not a header name"));
            }
        }
        if self.body.is_some() && self.json.is_some() {
            return Err("give body or json, not both".into());
        }
        // A body's values are encoded by its content type: it must be known when loading.
        if self.body.is_some()
            && let Some((_, t)) = self
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            && t.first_placeholder().is_some()
        {
            return Err("headers: the Content-Type of a body cannot hold placeholders".into());
        }
        if matches!(self.method, Method::Get | Method::Delete)
            && (self.body.is_some() || self.json.is_some())
        {
            return Err(format!("{} takes no body", self.method.as_str()));
        }
        for (param, pointer) in &self.save {
            if !is_valid_name(param) {
                return Err(format!("save: {param:?} is not a parameter name"));
            }
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(format!(
                    "save.{param}: {pointer:?} is not a JSON pointer (\"\" or starting with /)"
                ));
            }
        }
        if let Some(s) = &self.save_status_to
            && !is_valid_name(s)
        {
            return Err(format!("save_status_to: {s:?} is not a parameter name"));
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<(&'static str, &mut Target)> {
        let mut out: Vec<(&'static str, &mut Target)> = Vec::new();
        out.extend(opt("on_success", &mut self.on_success));
        out.push(("on_failure", &mut self.on_failure));
        out
    }

    fn falls_through(&self) -> bool {
        self.on_success.is_none()
    }

    fn enter(&self, cx: &mut Cx<'_>) -> Flow {
        match self.request(cx.params()) {
            Ok(request) => {
                cx.push(Action::HttpRequest(request));
                cx.set_wait(Wait::Web { step: cx.pc() });
                Flow::Wait
            }
            // A value that cannot be sent safely: the request fails without being made.
            Err(_) => Flow::Goto(self.on_failure.index),
        }
    }

    fn may_wait(&self, wait: &Wait) -> bool {
        matches!(wait, Wait::Web { .. })
    }

    /// A request in flight when the run was stored counts as failed.
    fn on_event(&self, cx: &mut Cx<'_>, event: Event<'_>) -> Flow {
        match event {
            Event::WebAnswer(answer) => self.answered(cx, answer),
            Event::Resumed => self.answered(cx, None),
            _ => Flow::Wait,
        }
    }
}

/// How a text body's content type wants values written into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json`, or any `+json` type.
    Json,
    /// Anything else (`text/plain`, XML, ...).
    Other,
}

/// The kind of a `Content-Type` value (lower case).
fn body_kind(content_type: &str) -> BodyKind {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else if essence == "application/json" || essence.ends_with("+json") {
        BodyKind::Json
    } else {
        BodyKind::Other
    }
}
