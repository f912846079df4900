//! A native agent client speaking protocol v1 with the SDK's frame types: the other side
//! of a visitor's chat in the browser.

use std::net::SocketAddr;

use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{
    AgentHello, ClientFrame, PROTOCOL_VERSION, Party, Presence, ServerFrame, SessionEvent,
};

use crate::ws::{self, Ws};

/// A signed-in, available agent.
#[derive(Debug)]
pub struct AgentClient {
    ws: Ws,
    next_id: u32,
    client: u32,
    /// Every visitor message text received so far, in order of its sequence number's
    /// first arrival. An event sent again with the same sequence number (a replay that
    /// overlaps the live stream) counts once, as every client must treat it; a message
    /// stored twice would have two numbers and show here twice.
    pub visitor_messages: Vec<String>,
    seen: std::collections::BTreeSet<(interact_sdk::ids::SessionId, interact_sdk::ids::Seq)>,
}

impl AgentClient {
    /// Connects with `token`, signs in and becomes available.
    pub async fn connect(addr: SocketAddr, token: &str) -> Self {
        Self::connect_resuming(addr, token, Default::default()).await
    }

    /// Connects like [`connect`](Self::connect), resuming `sessions` from the given
    /// sequence numbers (the server replays what came after).
    pub async fn connect_resuming(
        addr: SocketAddr,
        token: &str,
        sessions: std::collections::BTreeMap<SessionId, interact_sdk::ids::Seq>,
    ) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/agent/ws"))
            .await
            .expect("agent connects");
        let mut agent = Self {
            ws,
            next_id: 0,
            client: 0,
            visitor_messages: Vec::new(),
            seen: Default::default(),
        };
        agent
            .send(&ClientFrame::AgentHello(AgentHello {
                protocol: PROTOCOL_VERSION,
                token: token.into(),
                client: Some("e2e-agent".into()),
                resume: sessions,
            }))
            .await;
        let welcome = agent
            .until("welcome", |f| matches!(f, ServerFrame::Welcome { .. }))
            .await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { agent: Some(_), .. }),
            "the agent is signed in: {welcome:?}"
        );
        agent
            .send(&ClientFrame::SetPresence {
                presence: Presence::Available,
            })
            .await;
        let presence = agent
            .until("presence confirmed", |f| {
                matches!(f, ServerFrame::Presence { .. })
            })
            .await;
        assert!(
            matches!(
                presence,
                ServerFrame::Presence {
                    presence: Presence::Available
                }
            ),
            "the agent is available: {presence:?}"
        );
        agent
    }

    /// Closes the connection (as a console tab that is closed).
    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) {
        ws::send(&mut self.ws, "agent", frame).await;
    }

    /// The next frame (pings skipped), recording visitor messages.
    pub async fn recv(&mut self, what: &str) -> ServerFrame {
        let frame = ws::recv(&mut self.ws, "agent", what).await;
        if let ServerFrame::Event(e) = &frame
            && self.seen.insert((e.session.clone(), e.seq))
            && let SessionEvent::Message {
                from: Party::Visitor,
                text,
                ..
            } = &e.event
        {
            self.visitor_messages.push(text.clone());
        }
        frame
    }

    /// Frames until one matches `pred`; returns that one.
    pub async fn until(&mut self, what: &str, pred: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        let mut frames = self.frames_until(what, pred).await;
        frames.pop().expect("the matching frame")
    }

    /// Frames until one matches `pred`; returns them all, that one last.
    pub async fn frames_until(
        &mut self,
        what: &str,
        pred: impl Fn(&ServerFrame) -> bool,
    ) -> Vec<ServerFrame> {
        let mut seen = Vec::new();
        loop {
            let f = self.recv(what).await;
            let done = pred(&f);
            seen.push(f);
            if done {
                return seen;
            }
        }
    }

    /// Waits for an offer and accepts it; returns the session.
    pub async fn accept_next(&mut self) -> SessionId {
        let session = match self
            .until("an offer", |f| matches!(f, ServerFrame::Offer(_)))
            .await
        {
            ServerFrame::Offer(o) => o.session,
            _ => unreachable!(),
        };
        self.send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
        self.until("the agent joining", |f| {
            matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))
        })
        .await;
        session
    }

    /// Sends a chat message in `session`.
    pub async fn say(&mut self, session: &SessionId, text: &str) {
        self.next_id += 1;
        // Unique across connections (a reconnected agent must not reuse an id: the
        // server would take it for a resend and acknowledge the old message).
        static CLIENTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        if self.client == 0 {
            self.client = CLIENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        }
        let id = MessageId::new(format!("agent-{}-{}", self.client, self.next_id)).expect("id");
        self.send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: id.clone(),
            text: text.into(),
            after: None,
        })
        .await;
        // Stored (acknowledged), or refused: the test must know which.
        match self
            .until("the ack of the agent's message", |f| match f {
                ServerFrame::Ack { id: acked, .. } => *acked == id,
                ServerFrame::Error(_) => true,
                _ => false,
            })
            .await
        {
            ServerFrame::Ack { .. } => {}
            other => panic!("the server refused the agent's message: {other:?}"),
        }
    }

    /// Waits until the visitor's message `text` has arrived.
    pub async fn wait_visitor_message(&mut self, text: &str) {
        while !self.visitor_messages.iter().any(|m| m == text) {
            self.recv(&format!("the visitor's message {text:?}")).await;
        }
    }
}
