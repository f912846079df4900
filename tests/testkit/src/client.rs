//! WebSocket clients that speak protocol v1 with the SDK's frame types, frame by frame.
//! They panic on anything a test does not expect (a failed send, a close, a wait that
//! runs out), naming the client and what it waited for.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, ResumeToken, Seq, SessionId};
use interact_sdk::protocol::{
    AgentHello, ClientFrame, Hello, PROTOCOL_VERSION, Resume, ServerFrame, decode_server, encode,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::ALLOWED;

/// A client's WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a [`Client`] waits for a frame unless told otherwise
/// ([`Client::waiting`]).
pub const WAIT: Duration = Duration::from_secs(5);

/// Opens the visitor WebSocket for embed code `code`, with `Origin: origin` if given;
/// `Err(status)` if the server refuses the upgrade. Panics if the connection fails
/// otherwise.
pub async fn connect_visitor(
    addr: SocketAddr,
    code: &str,
    origin: Option<&str>,
) -> Result<Client, u16> {
    connect_visitor_with(addr, code, origin, &[]).await
}

/// [`connect_visitor`] with more request headers (`X-Forwarded-For`, say).
pub async fn connect_visitor_with(
    addr: SocketAddr,
    code: &str,
    origin: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Client, u16> {
    let mut req = format!("ws://{addr}/v1/ws?code={code}")
        .into_client_request()
        .expect("a request");
    if let Some(o) = origin {
        req.headers_mut().insert(
            "origin",
            HeaderValue::from_str(o).expect("an origin header"),
        );
    }
    for (name, value) in headers {
        req.headers_mut()
            .append(*name, HeaderValue::from_str(value).expect("a header value"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(Client::new(ws).named("visitor")),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("the visitor cannot connect to {addr}: {e}"),
    }
}

/// `GET path` over a new connection (HTTP/1.1, `Connection: close`); returns the status
/// and the body as text. Panics if the server does not answer with HTTP.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, &[], "").await
}

/// `method path` with `headers` and `body` over a new connection (HTTP/1.1,
/// `Connection: close`, a `Content-Length` for the body); returns the status and the
/// body as text. Panics if the server does not answer with HTTP.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let answer = http_exchange(addr, method, path, headers, body).await;
    (
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}

/// An HTTP answer as [`http_exchange`] reads it.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The header fields in their order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body's bytes as sent (not decoded: a `Content-Encoding` stays).
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// [`http_request`] with the whole answer: status, headers and the body's bytes. The
/// server must not answer in chunks (it sends a `Content-Length`, or closes the
/// connection after the body).
pub async fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpAnswer {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    tcp.write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} {path} within {WAIT:?}"))
        .expect("read the answer");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let body = answer.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body,
    }
}

/// Opens the agent WebSocket (not signed in yet: see [`Client::agent_hello`]).
pub async fn connect_agent(addr: SocketAddr) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/agent/ws"))
        .await
        .unwrap_or_else(|e| panic!("the agent cannot connect to {addr}: {e}"));
    Client::new(ws).named("agent")
}

/// A visitor connection from [`ALLOWED`] that resumes `session` after `last_seq`;
/// panics unless the server welcomes it so. Returns the connection and the session's
/// head.
pub async fn resume_visitor(
    addr: SocketAddr,
    code: &str,
    session: &SessionId,
    token: &ResumeToken,
    last_seq: Seq,
) -> (Client, Seq) {
    let mut v = connect_visitor(addr, code, Some(ALLOWED))
        .await
        .expect("the allowed origin is admitted");
    let welcome = v
        .hello(Some(Resume {
            session: session.clone(),
            token: token.clone(),
            last_seq,
        }))
        .await;
    match welcome {
        ServerFrame::Welcome {
            session: Some(info),
            ..
        } if info.session == *session => (v, info.head),
        other => panic!("a welcome that resumes {session}: {other:?}"),
    }
}

/// A message id; panics if `s` is not a valid one.
pub fn mid(s: &str) -> MessageId {
    MessageId::new(s).expect("a valid message id")
}

/// The sequence numbers of `session`'s events among `frames`, in order.
pub fn event_seqs(frames: &[ServerFrame], session: &SessionId) -> Vec<Seq> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) if &e.session == session => Some(e.seq),
            _ => None,
        })
        .collect()
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// With a close frame of this code (1005 if it had none).
    Code(u16),
    /// Without a close frame.
    Abrupt,
}

/// A protocol v1 client on a WebSocket.
#[derive(Debug)]
pub struct Client {
    /// The socket, for what the methods do not cover (pings, raw frames).
    pub ws: Ws,
    who: &'static str,
    wait: Duration,
}

impl Client {
    /// A client on `ws`, called "client" in failures, waiting [`WAIT`] for a frame.
    pub fn new(ws: Ws) -> Self {
        Self {
            ws,
            who: "client",
            wait: WAIT,
        }
    }

    /// Calls it `who` in failures ("visitor", "agent").
    pub fn named(mut self, who: &'static str) -> Self {
        self.who = who;
        self
    }

    /// Waits up to `wait` for any one frame (or for the close in [`closed`](Self::closed)).
    pub fn waiting(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_raw(encode(frame)).await;
    }

    /// Sends `text` as it is (a malformed frame, say).
    pub async fn send_raw(&mut self, text: String) {
        let who = self.who;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .unwrap_or_else(|e| panic!("the {who} cannot send: {e}"));
    }

    /// The next protocol frame (pings skipped).
    pub async fn recv(&mut self) -> ServerFrame {
        self.expect("a frame").await
    }

    /// The next protocol frame (pings skipped); `what` names it in a failure.
    pub async fn expect(&mut self, what: &str) -> ServerFrame {
        let (who, wait) = (self.who, self.wait);
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("the {who} waited {wait:?} for {what}"))
                .unwrap_or_else(|| panic!("the {who}'s socket ended while waiting for {what}"))
                .unwrap_or_else(|e| {
                    panic!("the {who}'s socket failed while waiting for {what}: {e}")
                });
            match msg {
                Message::Text(t) => {
                    return decode_server(t.as_str()).expect("a valid server frame");
                }
                Message::Close(c) => {
                    panic!("the {who}'s connection closed while waiting for {what}: {c:?}")
                }
                _ => {}
            }
        }
    }

    /// Frames until one matches `pred`; returns them all, that one last.
    pub async fn recv_until(
        &mut self,
        mut pred: impl FnMut(&ServerFrame) -> bool,
    ) -> Vec<ServerFrame> {
        let mut seen = Vec::new();
        loop {
            let f = self.recv().await;
            let done = pred(&f);
            seen.push(f);
            if done {
                return seen;
            }
        }
    }

    /// Every protocol frame that arrives within `ms` (the connection must stay open).
    pub async fn recv_for(&mut self, ms: u64) -> Vec<ServerFrame> {
        let who = self.who;
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(msg) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match msg {
                Some(Ok(Message::Text(t))) => {
                    frames.push(decode_server(t.as_str()).expect("a valid server frame"))
                }
                Some(Ok(Message::Close(c))) => panic!("the {who}'s connection closed: {c:?}"),
                Some(Ok(_)) => {}
                other => panic!("the {who}'s connection failed: {other:?}"),
            }
        }
        frames
    }

    /// Reads until the connection closes; returns how, and the frames before it.
    pub async fn closed(&mut self) -> (Closed, Vec<ServerFrame>) {
        let (who, wait) = (self.who, self.wait);
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout(wait, self.ws.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "the {who} waited {wait:?} for the close (after {} frames)",
                        frames.len()
                    )
                }) {
                Some(Ok(Message::Text(t))) => {
                    frames.push(decode_server(t.as_str()).expect("a valid server frame"))
                }
                Some(Ok(Message::Close(Some(c)))) => {
                    return (Closed::Code(u16::from(c.code)), frames);
                }
                Some(Ok(Message::Close(None))) => {
                    return (Closed::Code(u16::from(CloseCode::Status)), frames);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (Closed::Abrupt, frames),
            }
        }
    }

    /// Sends the visitor's `hello` (resuming `resume` if given); returns the answer.
    pub async fn hello(&mut self, resume: Option<Resume>) -> ServerFrame {
        self.send(&ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("test".into()),
            resume,
        }))
        .await;
        self.expect("the answer to hello").await
    }

    /// Sends the agent's `agent_hello` with `token`; returns the answer.
    pub async fn agent_hello(&mut self, token: &str) -> ServerFrame {
        self.send(&ClientFrame::AgentHello(AgentHello {
            protocol: PROTOCOL_VERSION,
            token: token.into(),
            client: None,
            resume: Default::default(),
        }))
        .await;
        self.expect("the answer to agent_hello").await
    }

    /// Sends `start_chat` and waits for `session_started`; returns the session and its
    /// resume token.
    pub async fn start_chat(
        &mut self,
        id: MessageId,
        form: PreChatForm,
    ) -> (SessionId, ResumeToken) {
        self.start_session(id, form, None).await
    }

    /// Sends a call-first `start_chat` (`call` set) and waits for `session_started`.
    pub async fn start_session(
        &mut self,
        id: MessageId,
        form: PreChatForm,
        call: Option<interact_sdk::protocol::CallMedia>,
    ) -> (SessionId, ResumeToken) {
        self.send(&ClientFrame::StartChat {
            id,
            form,
            call,
            context: None,
        })
        .await;
        let frames = self
            .recv_until(|f| matches!(f, ServerFrame::SessionStarted { .. }))
            .await;
        match frames.last() {
            Some(ServerFrame::SessionStarted {
                session,
                resume_token,
                ..
            }) => (session.clone(), resume_token.clone()),
            other => unreachable!("recv_until ends on session_started, got {other:?}"),
        }
    }
}
