//! Protocol v1 frames over a native WebSocket: what the agent and visitor clients share.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interact_sdk::protocol::{ClientFrame, ServerFrame, decode_server, encode};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a client waits for any one frame.
const WAIT: Duration = Duration::from_secs(15);

/// A client's WebSocket.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Sends one frame; `who` names the client in a failure.
pub(crate) async fn send(ws: &mut Ws, who: &str, frame: &ClientFrame) {
    ws.send(Message::Text(encode(frame).into()))
        .await
        .unwrap_or_else(|e| panic!("the {who} cannot send: {e}"));
}

/// The next frame (pings skipped), waiting at most [`WAIT`] for `what`.
pub(crate) async fn recv(ws: &mut Ws, who: &str, what: &str) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("the {who} waited {WAIT:?} for {what}"))
            .unwrap_or_else(|| panic!("the {who}'s socket ended while waiting for {what}"))
            .unwrap_or_else(|e| panic!("the {who}'s socket failed while waiting for {what}: {e}"));
        match msg {
            Message::Text(t) => return decode_server(t.as_str()).expect("a valid server frame"),
            Message::Close(c) => {
                panic!("the {who}'s connection closed while waiting for {what}: {c:?}")
            }
            _ => {}
        }
    }
}
