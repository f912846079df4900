//! The proxy in front of the nodes: TCP (L4), each new connection to the next ready node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::net::{TcpListener, TcpStream};

use super::Cluster;
use super::node::{Node, NodeSpec};

/// How long the proxy waits for a node to accept a connection before it tries the next.
const CONNECT_WITHIN: Duration = Duration::from_secs(1);

/// Binds one of the proxy's addresses.
pub(super) async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for the proxy (is another `cargo xtask cluster` running?)")
    })
}

/// The proxy on one address: each connection goes to the next node in turn (`target`
/// picks the node's address), relayed byte for byte until either end closes.
pub(super) async fn proxy(
    listener: TcpListener,
    cluster: Arc<Cluster>,
    what: &'static str,
    target: fn(&NodeSpec) -> SocketAddr,
) {
    let mut turn = 0_usize;
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                println!("proxy ({what}): cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let this_turn = turn;
        turn = turn.wrapping_add(1);
        let cluster = Arc::clone(&cluster);
        tokio::spawn(
            async move { relay(client, peer, &cluster.nodes, this_turn, what, target).await },
        );
    }
}

/// Connects `client` to a node: the `turn`th of the ready ones (so that they share the
/// connections evenly), else the next ready one, and only when none of them accepts, the
/// others; a node that refuses is skipped.
async fn relay(
    mut client: TcpStream,
    peer: SocketAddr,
    nodes: &[Node],
    turn: usize,
    what: &'static str,
    target: fn(&NodeSpec) -> SocketAddr,
) {
    let (ready, others): (Vec<&Node>, Vec<&Node>) = nodes
        .iter()
        .partition(|node| node.ready.load(Ordering::Relaxed));
    for node in in_turn(ready, turn)
        .into_iter()
        .chain(in_turn(others, turn))
    {
        let name = node.spec.name;
        let connect = TcpStream::connect(target(&node.spec));
        let why = match tokio::time::timeout(CONNECT_WITHIN, connect).await {
            Ok(Ok(mut upstream)) => {
                println!("proxy: {peer} → node {name} ({what})");
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                // An error here is one end going away (a node killed, a tab closed).
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", CONNECT_WITHIN.as_secs()),
        };
        node.ready.store(false, Ordering::Relaxed);
        println!("proxy: node {name} did not take {peer} ({what}: {why}); trying the next");
    }
    println!("proxy: no node takes {peer} ({what}); closing it");
}

/// `list` from its `turn`th element (modulo its length) on, then the ones before.
fn in_turn<T>(mut list: Vec<T>, turn: usize) -> Vec<T> {
    if !list.is_empty() {
        let len = list.len();
        list.rotate_left(turn % len);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_go_round() {
        assert_eq!(in_turn(vec!['a', 'b', 'c'], 0), ['a', 'b', 'c']);
        assert_eq!(in_turn(vec!['a', 'b', 'c'], 4), ['b', 'c', 'a']);
        assert_eq!(in_turn(vec!['b', 'c'], 3), ['c', 'b']);
        assert!(in_turn(Vec::<char>::new(), 7).is_empty());
    }
}
