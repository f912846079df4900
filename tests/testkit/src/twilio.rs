//! A stand-in Twilio for the WhatsApp connector's tests: Twilio cannot be reached from
//! here, so this plays it, as its documentation describes it, on `127.0.0.1` and a port
//! the OS picks. It is Twilio's side only; the product under test is never mocked.
//!
//! **The REST API** ([`StandInTwilio`], base URL [`StandInTwilio::url`], used where
//! `https://api.twilio.com` would be):
//!
//! - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` checks HTTP Basic
//!   authentication (the Account SID and auth token, or an API key's SID and secret:
//!   [`StandInTwilio::add_api_key`]; else `401`, error 20003), the account in the path
//!   (else `404`, 20404) and the form (`To` 21604, `From` 21603, `Body` 21602 when
//!   missing; a `To` that is not a phone number or channel address 21211; a `Body` over
//!   1,600 characters 21617; all `400`), records the request ([`StandInTwilio::requests`]:
//!   headers and form, and what it answered), and answers `201 Created` with the
//!   documented Message JSON (`sid` `SM` and 32 hex digits, `status` `queued`, `from`,
//!   `to`, `body`, `date_created`, `account_sid`, `num_segments`, `price`, `uri`...).
//!   Errors have Twilio's shape: `{"code", "message", "more_info", "status"}`.
//! - `GET` of the same URL lists the messages (newest first; `To`, `From`, `PageSize`
//!   filters), and `GET .../Messages/{sid}.json` fetches one: what a connector reads to
//!   find out whether an uncertain attempt created a message.
//! - **Idempotency**: Twilio documents no idempotency key for creating messages, so the
//!   stand-in honours none: every accepted `POST` is a new message, whatever headers it
//!   carries (`I-Twilio-Idempotency-Token` included; the headers are recorded).
//!
//! **Faults**: [`StandInTwilio::fail_next`] answers the next `n` API requests with `503`
//! (error 20503) or `429` (20429, `Retry-After: 1`), creating nothing, then recovers;
//! [`StandInTwilio::refuse_to`] refuses a `To` (`400`, 21211);
//! [`StandInTwilio::fail_delivery_to`] accepts messages to a number and then reports
//! them `failed` with an error code (63016: outside the customer service window, 63003:
//! not on WhatsApp).
//!
//! **Webhooks, as Twilio sends them** (form-encoded `POST`s signed with
//! `X-Twilio-Signature` by [`interact_twilio::signature::compute`] over the full URL):
//!
//! - [`send_inbound`] an incoming WhatsApp message ([`InboundMessage`]: the documented
//!   parameters, `From=whatsapp:+...`, `Body`, `NumMedia`, `ProfileName`, `WaId`...);
//! - [`send_status`] a status callback ([`StatusUpdate`]);
//! - [`Webhook`] for more: the same webhook sent again ([`Webhook::send`] twice: a
//!   replay, same `MessageSid`, same signature), a forged signature
//!   ([`Webhook::forged`]), none ([`Webhook::unsigned`]);
//! - [`StandInTwilio::status_callbacks`]: after accepting a message with a
//!   `StatusCallback`, post its callbacks (e.g. `sent`, `delivered`, `read`), signed,
//!   one after the other ([`StandInTwilio::callbacks`] records what the receiver
//!   answered).
//!
//! Webhooks also carry `I-Twilio-Idempotency-Token` (one per webhook, the same when it
//! is sent again), as Twilio's webhooks do in practice; Twilio's documentation does not
//! describe it, so a receiver should deduplicate on `MessageSid` (and the status), not
//! on this header.
//!
//! ```no_run
//! use interact_testkit::twilio::{InboundMessage, StandInTwilio, send_inbound};
//!
//! # async fn example(server_url: &str) {
//! let twilio = StandInTwilio::start().await;
//! twilio.status_callbacks(&["sent", "delivered", "read"]);
//! // Configure the connector with twilio.url(), twilio.account_sid, twilio.auth_token;
//! // then a customer writes:
//! let hook = format!("{server_url}/twilio/whatsapp/support");
//! let message = InboundMessage::text(&twilio.account_sid, "+447700900123", "+12025550123", "Hi");
//! assert_eq!(send_inbound(&hook, &twilio.auth_token, &message).await, 200);
//! // ...and the agent's reply arrives at the stand-in:
//! let sent = twilio.wait_for_created(1).await;
//! assert_eq!(sent[0].form_value("To"), Some("whatsapp:+447700900123"));
//! twilio.stop().await;
//! # }
//! ```

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use interact_twilio::outbound::{self, Credentials};
use interact_twilio::{errors, form, signature};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::client::WAIT;

/// How long the stand-in waits between two status callbacks of a message (and before
/// the first).
pub const CALLBACK_SPACING: Duration = Duration::from_millis(50);

/// A request the stand-in's REST API received, and what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedMessage {
    /// `POST` or `GET`.
    pub method: String,
    /// The path (`/2010-04-01/Accounts/AC.../Messages.json`).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The form-encoded body's parameters, in order.
    pub form: Vec<(String, String)>,
    /// The HTTP status the stand-in answered.
    pub status: u16,
    /// The SID of the message it created, for a `201`.
    pub sid: Option<String>,
}

impl RecordedMessage {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of form parameter `name`.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A status callback the stand-in posted, and what the receiver answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackSent {
    /// The message.
    pub message_sid: String,
    /// The `MessageStatus` posted.
    pub status: String,
    /// The `ErrorCode` posted, if any.
    pub error_code: Option<u32>,
    /// Where (the message's `StatusCallback`).
    pub url: String,
    /// The receiver's HTTP status, or `None` if it could not be reached.
    pub answer: Option<u16>,
}

/// A message the stand-in created.
#[derive(Clone, Debug)]
struct Stored {
    sid: String,
    from: String,
    to: String,
    body: String,
    status: String,
    status_callback: Option<String>,
    created: SystemTime,
    error_code: Option<u32>,
}

#[derive(Debug, Default)]
struct Knobs {
    /// Answer the next `.0` requests with status `.1`.
    fail_next: (usize, u16),
    refused_to: Vec<String>,
    undeliverable: Vec<(String, u32)>,
    callbacks: Vec<String>,
    api_keys: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Records {
    requests: Vec<RecordedMessage>,
    messages: Vec<Stored>,
    callbacks: Vec<CallbackSent>,
}

#[derive(Debug)]
struct Shared {
    account_sid: String,
    auth_token: String,
    /// Makes SIDs unique across stand-ins in one test process.
    nonce: u64,
    knobs: Mutex<Knobs>,
    records: Mutex<Records>,
    changed: Notify,
    counter: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock has failed already; go on with the data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 64 random bits from the standard library's per-process hash keys (enough for test
/// identifiers; no cryptography).
fn random_u64() -> u64 {
    RandomState::new().hash_one(SystemTime::now())
}

/// A Twilio-style SID: `prefix` and 32 hex digits.
fn random_sid(prefix: &str) -> String {
    format!("{prefix}{:016x}{:016x}", random_u64(), random_u64())
}

impl Shared {
    fn next_sid(&self, prefix: &str) -> String {
        let mut counter = lock(&self.counter);
        *counter += 1;
        format!("{prefix}{:016x}{:016x}", self.nonce, *counter)
    }
}

/// A running stand-in Twilio. Dropping it stops it (in the background); [`stop`](Self::stop)
/// waits until it has.
#[derive(Debug)]
pub struct StandInTwilio {
    /// The account's SID (`AC` and 32 hex digits).
    pub account_sid: String,
    /// The account's auth token: the API's Basic password and the key webhooks are
    /// signed with.
    pub auth_token: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl StandInTwilio {
    /// Starts a stand-in with a new account (random Account SID and auth token).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("the listener's address");
        let shared = Arc::new(Shared {
            account_sid: random_sid("AC"),
            auth_token: format!("{:016x}{:016x}", random_u64(), random_u64()),
            nonce: random_u64(),
            knobs: Mutex::default(),
            records: Mutex::default(),
            changed: Notify::new(),
            counter: Mutex::new(0),
        });
        let app = Router::new().fallback(api).with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            account_sid: shared.account_sid.clone(),
            auth_token: shared.auth_token.clone(),
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The base URL, where `https://api.twilio.com` would be: `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Messages resource's URL for this account
    /// ([`interact_twilio::outbound::messages_url`]).
    pub fn messages_url(&self) -> String {
        outbound::messages_url(&self.url(), &self.account_sid)
    }

    /// The account's SID and auth token as connector credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials::AuthToken {
            account_sid: self.account_sid.clone(),
            auth_token: self.auth_token.clone(),
        }
    }

    /// Creates an API key of the account; returns its SID (`SK...`) and secret, which the
    /// API accepts from now on (webhooks stay signed with the auth token).
    pub fn add_api_key(&self) -> (String, String) {
        let key = (
            random_sid("SK"),
            format!("{:016x}{:016x}", random_u64(), random_u64()),
        );
        lock(&self.shared.knobs).api_keys.push(key.clone());
        key
    }

    /// Every request the REST API received, in order, with what it answered.
    pub fn requests(&self) -> Vec<RecordedMessage> {
        lock(&self.shared.records).requests.clone()
    }

    /// The requests that created a message (answered `201`), in order.
    pub fn created(&self) -> Vec<RecordedMessage> {
        self.requests()
            .into_iter()
            .filter(|r| r.sid.is_some())
            .collect()
    }

    /// Waits (up to [`WAIT`]) until `n` messages have been created; returns them all.
    /// Panics, saying what came, if fewer did.
    pub async fn wait_for_created(&self, n: usize) -> Vec<RecordedMessage> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.shared.changed.notified();
            let created = self.created();
            if created.len() >= n {
                return created;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "the stand-in Twilio expected {n} messages within {WAIT:?}; it received: {:#?}",
                    self.requests()
                );
            }
        }
    }

    /// Answers the next `n` requests to the REST API with `status`, creating nothing,
    /// then answers normally again: `503` (Twilio error 20503), `429` (20429, with
    /// `Retry-After: 1`), `500` (20500), or any other status.
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.shared.knobs).fail_next = (n, status);
    }

    /// Refuses messages to `number` (E.164, with or without `whatsapp:`): `400`, error
    /// 21211, as for a number that is not valid.
    pub fn refuse_to(&self, number: &str) {
        lock(&self.shared.knobs)
            .refused_to
            .push(number.trim_start_matches("whatsapp:").to_owned());
    }

    /// Accepts messages to `number` (E.164, with or without `whatsapp:`) and then reports
    /// them `failed` with `error_code` in a status callback (if they have a
    /// `StatusCallback`), as Twilio does for 63016 (outside the 24-hour window) or 63003
    /// (not a WhatsApp user).
    pub fn fail_delivery_to(&self, number: &str, error_code: u32) {
        lock(&self.shared.knobs).undeliverable.push((
            number.trim_start_matches("whatsapp:").to_owned(),
            error_code,
        ));
    }

    /// After accepting a message that has a `StatusCallback`, post these statuses to it
    /// (signed, [`CALLBACK_SPACING`] apart, in this order), e.g. `["sent", "delivered",
    /// "read"]`; `[]` (the default) posts none.
    pub fn status_callbacks(&self, statuses: &[&str]) {
        lock(&self.shared.knobs).callbacks = statuses.iter().map(|s| (*s).to_owned()).collect();
    }

    /// The status callbacks posted so far.
    pub fn callbacks(&self) -> Vec<CallbackSent> {
        lock(&self.shared.records).callbacks.clone()
    }

    /// Waits (up to [`WAIT`]) until `n` status callbacks have been posted (and answered
    /// or failed); returns them all. Panics if fewer were.
    pub async fn wait_for_callbacks(&self, n: usize) -> Vec<CallbackSent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.shared.changed.notified();
            let callbacks = self.callbacks();
            if callbacks.len() >= n {
                return callbacks;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "the stand-in Twilio expected to post {n} status callbacks within {WAIT:?}; it posted: {callbacks:#?}"
                );
            }
        }
    }

    /// An incoming text message from `from` to `to` (E.164, with or without `whatsapp:`)
    /// on this account.
    pub fn inbound(&self, from: &str, to: &str, body: &str) -> InboundMessage {
        InboundMessage::text(&self.account_sid, from, to, body)
    }

    /// Sends `message` to the connector's webhook `url`, signed with this account's auth
    /// token; returns the HTTP status.
    pub async fn send_inbound(&self, url: &str, message: &InboundMessage) -> u16 {
        send_inbound(url, &self.auth_token, message).await
    }

    /// Posts a status callback for message `message_sid` (one this stand-in created, or
    /// any) to `url`, signed; returns the HTTP status.
    pub async fn send_status(&self, url: &str, message_sid: &str, status: &str) -> u16 {
        let mut update = StatusUpdate::new(&self.account_sid, message_sid, status);
        if let Some(m) = lock(&self.shared.records)
            .messages
            .iter()
            .find(|m| m.sid == message_sid)
        {
            update.from = Some(m.from.clone());
            update.to = Some(m.to.clone());
        }
        send_status(url, &self.auth_token, &update).await
    }

    /// Stops it and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for StandInTwilio {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ---- The REST API ----

/// Twilio's error answer.
fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": errors::more_info(code),
        "status": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

fn not_found(path: &str) -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        errors::NOT_FOUND,
        &format!("The requested resource {path} was not found"),
    )
}

/// RFC 2822 in GMT, as Twilio writes dates (`Thu, 24 Aug 2023 05:01:45 +0000`).
fn rfc2822(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn message_json(account_sid: &str, m: &Stored) -> Value {
    let created = rfc2822(m.created);
    let uri = format!("/2010-04-01/Accounts/{account_sid}/Messages/{}", m.sid);
    let sent = !matches!(m.status.as_str(), "queued" | "accepted" | "scheduled");
    json!({
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": created,
        "date_sent": if sent { Value::String(created.clone()) } else { Value::Null },
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": m.error_code,
        "error_message": m.error_code.and_then(errors::describe),
        "from": m.from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": m.status,
        "subresource_uris": { "media": format!("{uri}/Media.json") },
        "to": m.to,
        "uri": format!("{uri}.json"),
    })
}

/// Whether HTTP Basic `authorization` is the account's or one of its API keys'.
fn authorized(shared: &Shared, authorization: Option<&HeaderValue>) -> bool {
    let Some(credentials) = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| BASE64.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return false;
    };
    let Some((user, password)) = credentials.split_once(':') else {
        return false;
    };
    (user == shared.account_sid && password == shared.auth_token)
        || lock(&shared.knobs)
            .api_keys
            .iter()
            .any(|(sid, secret)| user == sid && password == secret)
}

/// A phone number (`+` and 7 to 15 digits) or a channel address (`whatsapp:+...`).
fn valid_address(s: &str) -> bool {
    let number = s.strip_prefix("whatsapp:").unwrap_or(s);
    interact_twilio::WhatsAppAddress::from_e164(number).is_ok()
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form::parse(&body);
    let mut record = RecordedMessage {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        form,
        status: 0,
        sid: None,
    };
    let (response, created) = answer(&shared, &method, &uri, &headers, &record.form);
    record.status = response.status().as_u16();
    record.sid = created.as_ref().map(|m| m.sid.clone());
    lock(&shared.records).requests.push(record);
    if let Some(message) = created {
        let callbacks = {
            let knobs = lock(&shared.knobs);
            let to = message.to.trim_start_matches("whatsapp:");
            match knobs.undeliverable.iter().find(|(n, _)| n == to) {
                Some((_, code)) => vec![("failed".to_owned(), Some(*code))],
                None => knobs.callbacks.iter().map(|s| (s.clone(), None)).collect(),
            }
        };
        if let Some(url) = message.status_callback.clone()
            && !callbacks.is_empty()
        {
            tokio::spawn(post_callbacks(Arc::clone(&shared), message, url, callbacks));
        }
    }
    shared.changed.notify_waiters();
    response
}

/// The answer to one API request, and the message it created, if any.
fn answer(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> (Response, Option<Stored>) {
    // Faults come first: an unavailable service checks nothing.
    {
        let mut knobs = lock(&shared.knobs);
        if knobs.fail_next.0 > 0 {
            knobs.fail_next.0 -= 1;
            let status = knobs.fail_next.1;
            drop(knobs);
            return (fault(status), None);
        }
    }
    if !authorized(shared, headers.get(header::AUTHORIZATION)) {
        let mut response = twilio_error(
            StatusCode::UNAUTHORIZED,
            errors::AUTHENTICATE,
            "Authenticate",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return (response, None);
    }
    let path = uri.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["2010-04-01", "Accounts", account, "Messages.json"])
            if *account == shared.account_sid =>
        {
            create(shared, form)
        }
        (&Method::GET, ["2010-04-01", "Accounts", account, "Messages.json"])
            if *account == shared.account_sid =>
        {
            (list(shared, uri), None)
        }
        (&Method::GET, ["2010-04-01", "Accounts", account, "Messages", file])
            if *account == shared.account_sid =>
        {
            let sid = file.strip_suffix(".json").unwrap_or(file);
            let records = lock(&shared.records);
            match records.messages.iter().find(|m| m.sid == sid) {
                Some(m) => (
                    (
                        StatusCode::OK,
                        axum::Json(message_json(&shared.account_sid, m)),
                    )
                        .into_response(),
                    None,
                ),
                None => (not_found(path), None),
            }
        }
        _ => (not_found(path), None),
    }
}

fn fault(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let mut response = twilio_error(status, errors::TOO_MANY_REQUESTS, "Too Many Requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            twilio_error(status, errors::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        StatusCode::INTERNAL_SERVER_ERROR => {
            twilio_error(status, errors::INTERNAL_ERROR, "Internal Server Error")
        }
        other => (other, "stand-in fault").into_response(),
    }
}

fn create(shared: &Arc<Shared>, form: &[(String, String)]) -> (Response, Option<Stored>) {
    let value = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let bad = |code, message: &str| (twilio_error(StatusCode::BAD_REQUEST, code, message), None);
    let Some(to) = value("To") else {
        return bad(errors::TO_REQUIRED, "A 'To' phone number is required.");
    };
    let Some(from) = value("From") else {
        return bad(errors::FROM_REQUIRED, "A 'From' phone number is required.");
    };
    let body = value("Body");
    if body.is_none() && value("MediaUrl").is_none() && value("ContentSid").is_none() {
        return bad(errors::BODY_REQUIRED, "Message body is required.");
    }
    let body = body.unwrap_or_default();
    if body.chars().count() > outbound::MAX_BODY_CHARS {
        return bad(
            errors::BODY_TOO_LONG,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    let refused = lock(&shared.knobs)
        .refused_to
        .iter()
        .any(|n| n == to.trim_start_matches("whatsapp:"));
    if !valid_address(to) || refused {
        return bad(
            errors::INVALID_TO,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let message = Stored {
        sid: shared.next_sid("SM"),
        from: from.to_owned(),
        to: to.to_owned(),
        body: body.to_owned(),
        status: "queued".to_owned(),
        status_callback: value("StatusCallback").map(str::to_owned),
        created: SystemTime::now(),
        error_code: None,
    };
    let json = message_json(&shared.account_sid, &message);
    lock(&shared.records).messages.push(message.clone());
    (
        (StatusCode::CREATED, axum::Json(json)).into_response(),
        Some(message),
    )
}

fn list(shared: &Arc<Shared>, uri: &Uri) -> Response {
    let query = form::parse(uri.query().unwrap_or_default().as_bytes());
    let filter = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let page_size = filter("PageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let records = lock(&shared.records);
    let messages: Vec<Value> = records
        .messages
        .iter()
        .rev()
        .filter(|m| filter("To").is_none_or(|to| to == m.to))
        .filter(|m| filter("From").is_none_or(|from| from == m.from))
        .take(page_size)
        .map(|m| message_json(&shared.account_sid, m))
        .collect();
    let uri = format!("{}?{}", uri.path(), uri.query().unwrap_or_default());
    let body = json!({
        "messages": messages,
        "end": messages.len().saturating_sub(1),
        "first_page_uri": uri,
        "next_page_uri": null,
        "page": 0,
        "page_size": page_size,
        "previous_page_uri": null,
        "start": 0,
        "uri": uri,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn post_callbacks(
    shared: Arc<Shared>,
    message: Stored,
    url: String,
    statuses: Vec<(String, Option<u32>)>,
) {
    for (status, error_code) in statuses {
        tokio::time::sleep(CALLBACK_SPACING).await;
        {
            let mut records = lock(&shared.records);
            if let Some(m) = records.messages.iter_mut().find(|m| m.sid == message.sid) {
                m.status.clone_from(&status);
                m.error_code = error_code;
            }
        }
        let update = StatusUpdate {
            account_sid: shared.account_sid.clone(),
            message_sid: message.sid.clone(),
            status: status.clone(),
            error_code,
            from: Some(message.from.clone()),
            to: Some(message.to.clone()),
        };
        let hook = Webhook::signed(&url, &shared.auth_token, update.params());
        let answer = hook.try_send().await.ok();
        lock(&shared.records).callbacks.push(CallbackSent {
            message_sid: message.sid.clone(),
            status,
            error_code,
            url: url.clone(),
            answer,
        });
        shared.changed.notify_waiters();
    }
}

// ---- Webhooks, as Twilio sends them ----

/// `whatsapp:` and `number`, unless it has the prefix already.
fn whatsapp(number: &str) -> String {
    if number.starts_with("whatsapp:") {
        number.to_owned()
    } else {
        format!("whatsapp:{number}")
    }
}

/// An incoming WhatsApp message, as Twilio's incoming-message webhook describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundMessage {
    /// `AccountSid`.
    pub account_sid: String,
    /// `MessageSid` (also sent as `SmsSid` and `SmsMessageSid`): new for each message.
    pub message_sid: String,
    /// `From`: `whatsapp:+<E.164>` of the user.
    pub from: String,
    /// `To`: `whatsapp:+1...` of the service.
    pub to: String,
    /// `Body`.
    pub body: String,
    /// `ProfileName`, if any.
    pub profile_name: Option<String>,
    /// `WaId` (the user's number's digits), if any.
    pub wa_id: Option<String>,
    /// Media items: (`MediaContentType<i>`, `MediaUrl<i>`); `NumMedia` is their count.
    pub media: Vec<(String, String)>,
}

impl InboundMessage {
    /// A text message from `from` to `to` (E.164, with or without `whatsapp:`), with a
    /// new `MessageSid`, the user's `WaId` and the profile name "WhatsApp User".
    pub fn text(account_sid: &str, from: &str, to: &str, body: &str) -> Self {
        let from = whatsapp(from);
        let wa_id = from.trim_start_matches("whatsapp:+").to_owned();
        Self {
            account_sid: account_sid.to_owned(),
            message_sid: random_sid("SM"),
            from,
            to: whatsapp(to),
            body: body.to_owned(),
            profile_name: Some("WhatsApp User".to_owned()),
            wa_id: Some(wa_id),
            media: Vec::new(),
        }
    }

    /// The same with a media item (`content_type`, e.g. `image/jpeg`) attached, as
    /// Twilio describes one (`MediaUrl0` on api.twilio.com, `MessageType` `image`...).
    pub fn with_media(mut self, content_type: &str) -> Self {
        let url = format!(
            "https://api.twilio.com/2010-04-01/Accounts/{}/Messages/{}/Media/{}",
            self.account_sid,
            self.message_sid,
            random_sid("ME")
        );
        self.media.push((content_type.to_owned(), url));
        self
    }

    /// The same with another `ProfileName` (`None`: not sent).
    pub fn with_profile_name(mut self, name: Option<&str>) -> Self {
        self.profile_name = name.map(str::to_owned);
        self
    }

    /// The webhook's parameters, in the order Twilio lists them.
    pub fn params(&self) -> Vec<(String, String)> {
        let message_type = match self.media.first() {
            None => "text",
            Some((t, _)) => t.split('/').next().unwrap_or("document"),
        };
        let mut params: Vec<(String, String)> = Vec::new();
        let mut push = |name: &str, value: &str| params.push((name.to_owned(), value.to_owned()));
        push("SmsMessageSid", &self.message_sid);
        push("NumMedia", &self.media.len().to_string());
        if let Some(name) = &self.profile_name {
            push("ProfileName", name);
        }
        push("MessageType", message_type);
        push("SmsSid", &self.message_sid);
        if let Some(wa_id) = &self.wa_id {
            push("WaId", wa_id);
        }
        push("SmsStatus", "received");
        push("Body", &self.body);
        push("To", &self.to);
        push("NumSegments", "1");
        push("ReferralNumMedia", "0");
        push("MessageSid", &self.message_sid);
        push("AccountSid", &self.account_sid);
        push("From", &self.from);
        push("ApiVersion", "2010-04-01");
        for (i, (content_type, url)) in self.media.iter().enumerate() {
            push(&format!("MediaContentType{i}"), content_type);
            push(&format!("MediaUrl{i}"), url);
        }
        params
    }
}

/// A status callback, as Twilio posts it to a message's `StatusCallback`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusUpdate {
    /// `AccountSid`.
    pub account_sid: String,
    /// `MessageSid` (also `SmsSid`).
    pub message_sid: String,
    /// `MessageStatus` (also `SmsStatus`): `sent`, `delivered`, `read`, `failed`...
    pub status: String,
    /// `ErrorCode`, for `failed` and `undelivered`.
    pub error_code: Option<u32>,
    /// `From`, if sent.
    pub from: Option<String>,
    /// `To`, if sent.
    pub to: Option<String>,
}

impl StatusUpdate {
    /// A callback saying message `message_sid` is now `status`.
    pub fn new(account_sid: &str, message_sid: &str, status: &str) -> Self {
        Self {
            account_sid: account_sid.to_owned(),
            message_sid: message_sid.to_owned(),
            status: status.to_owned(),
            error_code: None,
            from: None,
            to: None,
        }
    }

    /// The callback's parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        if let Some(code) = self.error_code {
            params.push(("ErrorCode", code.to_string()));
        }
        params.extend([
            ("SmsSid", self.message_sid.clone()),
            ("SmsStatus", self.status.clone()),
            ("MessageStatus", self.status.clone()),
        ]);
        if self
            .to
            .as_deref()
            .is_some_and(|t| t.starts_with("whatsapp:"))
        {
            params.push(("ChannelPrefix", "whatsapp".to_owned()));
        }
        if let Some(to) = &self.to {
            params.push(("To", to.clone()));
        }
        params.push(("MessageSid", self.message_sid.clone()));
        params.push(("AccountSid", self.account_sid.clone()));
        if let Some(from) = &self.from {
            params.push(("From", from.clone()));
        }
        params.push(("ApiVersion", "2010-04-01".to_owned()));
        params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// A webhook as Twilio sends it: a form-encoded `POST` of `params` to `url` with
/// `X-Twilio-Signature` ([`signature::compute`] over the full `url`) and
/// `I-Twilio-Idempotency-Token`. Send it as often as needed: the same request each time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// The full URL, as the connector's configuration gives it to Twilio.
    pub url: String,
    /// The form's parameters.
    pub params: Vec<(String, String)>,
    /// `X-Twilio-Signature`'s value (`None`: the header is not sent).
    pub signature: Option<String>,
    /// `I-Twilio-Idempotency-Token`'s value.
    pub idempotency_token: String,
}

impl Webhook {
    /// `params` to `url`, signed with `auth_token`.
    pub fn signed(url: &str, auth_token: &str, params: Vec<(String, String)>) -> Self {
        Self {
            signature: Some(signature::compute(auth_token, url, &params)),
            url: url.to_owned(),
            params,
            idempotency_token: format!("{:016x}-{:016x}", random_u64(), random_u64()),
        }
    }

    /// The same webhook signed with another key (what a forger who does not know the
    /// auth token sends).
    pub fn forged(mut self) -> Self {
        self.signature = Some(signature::compute(
            "not-the-auth-token",
            &self.url,
            &self.params,
        ));
        self
    }

    /// The same webhook without `X-Twilio-Signature`.
    pub fn unsigned(mut self) -> Self {
        self.signature = None;
        self
    }

    /// Sends it; returns the HTTP status. Panics if the receiver cannot be reached.
    pub async fn send(&self) -> u16 {
        self.try_send()
            .await
            .unwrap_or_else(|e| panic!("the webhook to {} could not be sent: {e}", self.url))
    }

    /// Sends it; returns the HTTP status, or why it could not be sent.
    pub async fn try_send(&self) -> std::io::Result<u16> {
        let mut headers = vec![
            ("Content-Type", form::CONTENT_TYPE.to_owned()),
            ("I-Twilio-Idempotency-Token", self.idempotency_token.clone()),
            ("User-Agent", "TwilioProxy/1.1".to_owned()),
        ];
        if let Some(sig) = &self.signature {
            headers.push((signature::HEADER, sig.clone()));
        }
        let answer = http("POST", &self.url, &headers, &form::encode(&self.params)).await?;
        Ok(answer.status)
    }
}

/// Sends incoming message `message` to the webhook `url`, signed with `auth_token`, as
/// Twilio does; returns the HTTP status. For a replay or a forgery, use [`Webhook`]:
/// `Webhook::signed(url, auth_token, message.params())`.
pub async fn send_inbound(url: &str, auth_token: &str, message: &InboundMessage) -> u16 {
    Webhook::signed(url, auth_token, message.params())
        .send()
        .await
}

/// Posts status callback `update` to `url`, signed with `auth_token`, as Twilio does;
/// returns the HTTP status.
pub async fn send_status(url: &str, auth_token: &str, update: &StatusUpdate) -> u16 {
    Webhook::signed(url, auth_token, update.params())
        .send()
        .await
}

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl HttpAnswer {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `method url` (plain `http://host:port/path?query` only) with `headers` and `body`
/// over a new connection (HTTP/1.1, `Connection: close`); waits up to [`WAIT`] for the
/// whole answer.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &str,
) -> std::io::Result<HttpAnswer> {
    use std::io::{Error, ErrorKind};
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("not an http:// URL: {url}"),
        )
    })?;
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    // A fragment is not sent (Twilio's connection overrides live there).
    let target = target.split('#').next().unwrap_or("/").to_owned();
    let exchange = async {
        let mut tcp = TcpStream::connect(authority).await?;
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        tcp.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await?;
        Ok::<_, Error>(answer)
    };
    let answer = tokio::time::timeout(WAIT, exchange).await.map_err(|_| {
        Error::new(
            ErrorKind::TimedOut,
            format!("no answer from {url} within {WAIT:?}"),
        )
    })??;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidData,
                format!("not an HTTP answer: {head:?}"),
            )
        })?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(HttpAnswer {
        status,
        headers,
        body,
    })
}

/// A chunked body's content.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc_2822_in_gmt() {
        // The Messages resource's example date.
        let t = UNIX_EPOCH + Duration::from_secs(1_692_853_305);
        assert_eq!(rfc2822(t), "Thu, 24 Aug 2023 05:01:45 +0000");
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc2822(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn sids_look_like_twilios() {
        assert!(interact_twilio::is_sid(&random_sid("SM"), "SM"));
        assert_ne!(random_sid("SM"), random_sid("SM"));
    }

    #[test]
    fn inbound_parameters_are_the_documented_ones() {
        let m = InboundMessage::text(&random_sid("AC"), "+447700900123", "+12025550123", "Hi")
            .with_media("image/jpeg");
        let params = m.params();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("From"), Some("whatsapp:+447700900123"));
        assert_eq!(get("To"), Some("whatsapp:+12025550123"));
        assert_eq!(get("WaId"), Some("447700900123"));
        assert_eq!(get("NumMedia"), Some("1"));
        assert_eq!(get("MediaContentType0"), Some("image/jpeg"));
        assert!(get("MediaUrl0").is_some_and(|u| u.starts_with("https://api.twilio.com/")));
        assert_eq!(get("MessageType"), Some("image"));
        assert_eq!(get("SmsSid"), Some(m.message_sid.as_str()));
        let read = interact_twilio::inbound::Inbound::from_form(&params).expect("readable");
        assert!(read.has_media());
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
        assert_eq!(dechunk("zz\r\n"), "");
    }
}
