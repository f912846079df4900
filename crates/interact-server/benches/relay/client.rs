//! The clients: agents, visitors and the message exchange, over tokio-tungstenite.
//!
//! The setup speaks each server's own handshake (Interact: `hello`, `start_chat`, the agent
//! accepting the `offer`; the bare forwarder: none). The measured exchange is the same code
//! for both servers: a visitor sends a protocol v1 `send` frame and waits until its own
//! socket confirms it (Interact: the `ack`; bare: the echo) and the agent's socket has
//! received it (Interact: the `message` event; bare: the forwarded frame). Message ids
//! (`v<pair>-<n>`) tell the agent side which pair a message belongs to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{MessageId, SessionId};
use interact_sdk::protocol::{
    AgentHello, ClientFrame, Hello, PROTOCOL_VERSION, Presence, ServerFrame, SessionEvent,
    decode_server, encode,
};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Result;

/// An origin the demo Domain Template allows.
const ORIGIN: &str = "http://127.0.0.1:8081";
/// How often an otherwise quiet client sends `ping` (the protocol's `PING_INTERVAL`).
const PING_EVERY: Duration = Duration::from_secs(20);
/// Longest wait for any single answer before the run is abandoned.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The clients' WebSocket read buffer.
const CLIENT_READ_BUFFER: usize = 8 * 1024;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which server the clients talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Interact,
    Bare,
}

/// Tells the agent side's receiver which message of a pair arrived, and when.
pub(crate) type Delivered = (u64, Instant);

async fn connect(url: String, origin: Option<&str>) -> Result<Ws> {
    let mut req = url.into_client_request()?;
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o)?);
    }
    // Browsers and native clients disable Nagle's algorithm. Frames are small: a read
    // buffer of 8 KiB instead of tungstenite's 128 KiB, which it zero-fills on every read,
    // keeps the clients' share of the two cores and of memory down (the same for both
    // servers).
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true).await?;
    Ok(ws)
}

async fn send(ws: &mut Ws, frame: &ClientFrame) -> Result<()> {
    ws.send(Message::Text(encode(frame).into())).await?;
    Ok(())
}

/// The next text frame.
async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        match tokio::time::timeout(ANSWER_TIMEOUT, ws.next()).await {
            Err(_) => return Err("no frame from the server within 60 s".into()),
            Ok(None) => return Err("the server closed the connection".into()),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_owned()),
            Ok(Some(Ok(Message::Close(c)))) => {
                return Err(format!("the server closed the connection: {c:?}").into());
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Interact frames until `pick` returns something; an `error` frame fails.
async fn recv_until<T>(ws: &mut Ws, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> Result<T> {
    loop {
        let frame = decode_server(&next_text(ws).await?)?;
        if let ServerFrame::Error(e) = &frame {
            return Err(format!("server error {:?}: {}", e.code, e.message).into());
        }
        if let Some(v) = pick(frame) {
            return Ok(v);
        }
    }
}

/// The few members of a received frame the exchange looks at, for either server.
#[derive(Debug, Deserialize)]
struct Probe {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    event: Option<ProbeEvent>,
}

#[derive(Debug, Deserialize)]
struct ProbeEvent {
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    from: Option<String>,
}

impl Probe {
    /// The id of a visitor's chat message as the agent side receives it: Interact's
    /// `message` event from the visitor, or the bare server's forwarded `send` frame.
    fn visitor_message(&self) -> Option<&str> {
        match &self.event {
            Some(e) if e.kind == "message" && e.from.as_deref() == Some("visitor") => {
                e.id.as_deref()
            }
            Some(_) => None,
            None if self.kind == "send" => self.id.as_deref(),
            None => None,
        }
    }
}

fn message_id(pair: usize, n: u64) -> String {
    format!("v{pair}-{n}")
}

fn parse_message_id(id: &str) -> Option<(usize, u64)> {
    let (pair, n) = id.strip_prefix('v')?.split_once('-')?;
    Some((pair.parse().ok()?, n.parse().ok()?))
}

/// One agent connection, signed in (Interact) and ready.
pub(crate) async fn agent(target: Target, addr: SocketAddr, n: usize, token: &str) -> Result<Ws> {
    match target {
        Target::Bare => connect(format!("ws://{addr}/agent?n={n}"), None).await,
        Target::Interact => {
            let mut ws = connect(format!("ws://{addr}/v1/agent/ws"), None).await?;
            send(
                &mut ws,
                &ClientFrame::AgentHello(AgentHello {
                    protocol: PROTOCOL_VERSION,
                    token: token.to_owned(),
                    client: Some("relay-bench".into()),
                    resume: Default::default(),
                }),
            )
            .await?;
            recv_until(&mut ws, |f| {
                matches!(f, ServerFrame::Welcome { agent: Some(_), .. }).then_some(())
            })
            .await?;
            send(
                &mut ws,
                &ClientFrame::SetPresence {
                    presence: Presence::Available,
                },
            )
            .await?;
            recv_until(&mut ws, |f| {
                matches!(
                    f,
                    ServerFrame::Presence {
                        presence: Presence::Available
                    }
                )
                .then_some(())
            })
            .await?;
            Ok(ws)
        }
    }
}

/// An agent's connection until `stop`: accepts every offer, reports every visitor message
/// to its pair's receiver, pings when quiet.
pub(crate) async fn agent_loop(
    mut ws: Ws,
    pairs: Arc<Vec<mpsc::UnboundedSender<Delivered>>>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut tick = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut nonce = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            _ = tick.tick() => {
                nonce += 1;
                send(&mut ws, &ClientFrame::Ping { nonce }).await?;
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => {
                        return Err(format!("agent connection closed: {c:?}").into());
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err("agent connection closed".into()),
                };
                let at = Instant::now();
                let probe: Probe = serde_json::from_str(text.as_str())?;
                if let Some((pair, n)) = probe.visitor_message().and_then(parse_message_id) {
                    if let Some(tx) = pairs.get(pair) {
                        let _ = tx.send((n, at));
                    }
                } else if probe.kind == "offer" {
                    let session = probe.session.ok_or("an offer without a session")?;
                    send(&mut ws, &ClientFrame::Accept { session: SessionId::new(session)? }).await?;
                } else if probe.kind == "error" {
                    return Err(format!(
                        "agent got an error: {}",
                        probe.message.unwrap_or_default()
                    )
                    .into());
                }
            }
        }
    }
}

/// A visitor with its socket and the receiver its agent side reports to.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) index: usize,
    ws: Ws,
    delivered: mpsc::UnboundedReceiver<Delivered>,
    next: u64,
}

fn hello() -> ClientFrame {
    ClientFrame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        client: Some("relay-bench".into()),
        resume: None,
    })
}

/// One visitor, connected and greeted; for Interact, with a started chat that an agent
/// accepted.
pub(crate) async fn visitor(
    target: Target,
    addr: SocketAddr,
    code: &str,
    index: usize,
    agents: usize,
    delivered: mpsc::UnboundedReceiver<Delivered>,
) -> Result<Pair> {
    let ws = match target {
        Target::Bare => {
            let mut ws = connect(
                format!("ws://{addr}/visitor?agent={}", index % agents.max(1)),
                Some(ORIGIN),
            )
            .await?;
            // The counterpart of Interact's hello and welcome: one frame each way.
            send(&mut ws, &hello()).await?;
            next_text(&mut ws).await?;
            ws
        }
        Target::Interact => {
            let mut ws = connect(format!("ws://{addr}/v1/ws?code={code}"), Some(ORIGIN)).await?;
            send(&mut ws, &hello()).await?;
            recv_until(&mut ws, |f| {
                matches!(f, ServerFrame::Welcome { .. }).then_some(())
            })
            .await?;
            send(
                &mut ws,
                &ClientFrame::StartChat {
                    context: None,
                    id: MessageId::new(format!("start-{index}"))?,
                    form: PreChatForm {
                        display_name: format!("Visitor {index}"),
                        email: format!("visitor{index}@example.com"),
                        consent: Some("2024-05".into()),
                        first_message: None,
                    },
                    call: None,
                },
            )
            .await?;
            recv_until(&mut ws, |f| {
                matches!(f, ServerFrame::SessionStarted { .. }).then_some(())
            })
            .await?;
            recv_until(&mut ws, |f| match f {
                ServerFrame::Event(e) => {
                    matches!(e.event, SessionEvent::AgentJoined { .. }).then_some(())
                }
                _ => None,
            })
            .await?;
            ws
        }
    };
    Ok(Pair {
        index,
        ws,
        delivered,
        next: 0,
    })
}

/// Keeps a pair's connection alive (reading what comes, pinging when quiet) until `stop`,
/// then hands it back.
pub(crate) async fn park(mut pair: Pair, mut stop: watch::Receiver<bool>) -> Result<Pair> {
    let mut tick = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut nonce = 0;
    loop {
        if *stop.borrow_and_update() {
            return Ok(pair);
        }
        tokio::select! {
            r = stop.changed() => if r.is_err() {
                return Ok(pair);
            },
            _ = tick.tick() => {
                nonce += 1;
                send(&mut pair.ws, &ClientFrame::Ping { nonce }).await?;
            }
            msg = pair.ws.next() => match msg {
                Some(Ok(Message::Close(c))) => {
                    return Err(format!("visitor {} closed while idle: {c:?}", pair.index).into());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(format!("visitor {} closed while idle", pair.index).into()),
            }
        }
    }
}

/// Sends one chat message from the visitor and waits until the visitor's socket confirmed
/// it and the agent side received it. Returns the relay latency: from `since` (the send,
/// or the time it was scheduled for) to the agent side's receipt.
pub(crate) async fn exchange(pair: &mut Pair, since: Instant) -> Result<Duration> {
    let n = pair.next;
    pair.next += 1;
    let id = message_id(pair.index, n);
    let text = format!("Benchmark message {n} from visitor {}.", pair.index);
    let frame = ClientFrame::Send {
        session: None,
        id: MessageId::new(id.clone())?,
        text,
        after: None,
    };
    let done = async {
        pair.ws.send(Message::Text(encode(&frame).into())).await?;
        let mut confirmed = false;
        let mut received: Option<Instant> = None;
        while !confirmed || received.is_none() {
            tokio::select! {
                msg = pair.ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        let probe: Probe = serde_json::from_str(t.as_str())?;
                        if probe.id.as_deref() == Some(id.as_str()) {
                            if probe.kind == "error" {
                                return Err(format!(
                                    "message {id} refused: {}",
                                    probe.message.unwrap_or_default()
                                )
                                .into());
                            }
                            confirmed = true;
                        }
                    }
                    Some(Ok(Message::Close(c))) => {
                        return Err(format!("visitor {} closed: {c:?}", pair.index).into());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(format!("visitor {} closed", pair.index).into()),
                },
                got = pair.delivered.recv() => match got {
                    Some((m, at)) if m == n => received = Some(at),
                    Some(_) => {}
                    None => return Err("the agent side stopped".into()),
                },
            }
        }
        Ok::<_, crate::Error>(received.map_or(Duration::ZERO, |at| at - since))
    };
    tokio::time::timeout(ANSWER_TIMEOUT, done)
        .await
        .map_err(|_| {
            format!(
                "message {} not relayed within 60 s",
                message_id(pair.index, n)
            )
        })?
}
