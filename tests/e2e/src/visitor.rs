//! A native visitor client speaking protocol v1 with the SDK's frame types, frame by
//! frame: the other side of an agent's chat in the console.

use std::net::SocketAddr;

use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{ClientFrame, Hello, PROTOCOL_VERSION, ServerFrame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::ws::{self, Ws};

/// A visitor connection from a web page on some origin.
#[derive(Debug)]
pub struct VisitorClient {
    ws: Ws,
}

impl VisitorClient {
    /// Opens the visitor WebSocket for `code` with the `Origin` of a page on `origin`, and
    /// says `hello`; returns the client and the server's answer (`welcome` when the origin
    /// is allowed).
    pub async fn connect(addr: SocketAddr, code: &EmbedCode, origin: &str) -> (Self, ServerFrame) {
        let mut req = format!("ws://{addr}/v1/ws?code={}", code.as_str())
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(origin).expect("header"));
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .unwrap_or_else(|e| panic!("the visitor from {origin} cannot connect: {e}"));
        let mut visitor = Self { ws };
        visitor
            .send(&ClientFrame::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                client: Some("e2e-visitor".into()),
                resume: None,
            }))
            .await;
        let answer = visitor.recv("the answer to hello").await;
        (visitor, answer)
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) {
        ws::send(&mut self.ws, "visitor", frame).await;
    }

    /// The next frame (pings skipped).
    pub async fn recv(&mut self, what: &str) -> ServerFrame {
        ws::recv(&mut self.ws, "visitor", what).await
    }

    /// Frames until one matches `pred`; returns that one.
    pub async fn until(&mut self, what: &str, pred: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        loop {
            let f = self.recv(what).await;
            if pred(&f) {
                return f;
            }
        }
    }

    /// Sends `start_chat` with `form` and waits for `session_started`; returns the session.
    pub async fn start_chat(&mut self, form: PreChatForm) -> SessionId {
        // Unique across clients: the server takes a `start_chat` with an id it saw from the
        // same address a moment ago for a repeat, and answers with that session.
        static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let id = MessageId::new(format!("start-{n}")).expect("id");
        self.send(&ClientFrame::StartChat {
            context: None,
            id,
            form,
            call: None,
        })
        .await;
        match self
            .until("the session to start", |f| {
                matches!(f, ServerFrame::SessionStarted { .. })
            })
            .await
        {
            ServerFrame::SessionStarted { session, .. } => session,
            _ => unreachable!(),
        }
    }

    /// Sends a chat message with message id `id` and waits for its `ack`.
    pub async fn say(&mut self, id: &str, text: &str) {
        let id = MessageId::new(id).expect("id");
        self.send(&ClientFrame::Send {
            session: None,
            id: id.clone(),
            text: text.into(),
            after: None,
        })
        .await;
        self.until(
            "the ack of the visitor's message",
            |f| matches!(f, ServerFrame::Ack { id: acked, .. } if *acked == id),
        )
        .await;
    }
}
