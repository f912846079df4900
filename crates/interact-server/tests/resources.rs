//! Resources an outsider can tie up are bounded: silent and slow connections are closed,
//! one address cannot take every connection (and others still get in), pings cannot hold
//! a connection that never says hello, and memory returns near its baseline after a
//! thousand chats have ended.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, ServerFrame, SessionEvent};
use interact_testkit::{
    ALLOWED, Closed, ServerProcess, TestServer, config, connect_visitor, mid, process_config,
    write_config,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// A TCP connection to `addr` from the loopback address `from` (127.0.0.x: every one of
/// them is this machine, but the server sees another client address).
async fn tcp_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(addr).await.expect("connect")
}

/// Sends a request for `/healthz` on `tcp` and returns the status line of the answer.
async fn healthz(tcp: &mut TcpStream) -> String {
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    first_line(tcp).await
}

/// The first line the server sends on `tcp`, within 3 s (empty if it closed).
async fn first_line(tcp: &mut TcpStream) -> String {
    let mut buf = vec![0; 256];
    let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
        .await
        .expect("an answer within 3 s")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Whether the server closed `tcp` within `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0; 64];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Silent connections cannot lock anyone out: one address gets at most its share (then a
/// clear `429`), another address is served at once, and the silent ones are closed after
/// the header timeout, as is one that sends its headers a byte at a time. Past the
/// server's total, `503`.
#[tokio::test]
async fn silent_and_slow_connections_are_bounded_and_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.limits.connections_per_ip = 16;
    c.limits.max_connections = 40;
    c.limits.header_timeout_secs = 1;
    let server = TestServer::start(c).await;

    let mut silent = Vec::new();
    for _ in 0..16 {
        silent.push(tcp_from([127, 0, 0, 1], server.addr).await);
    }
    let mut over = tcp_from([127, 0, 0, 1], server.addr).await;
    let line = first_line(&mut over).await;
    assert!(line.starts_with("HTTP/1.1 429"), "{line}");
    let mut other = tcp_from([127, 0, 0, 2], server.addr).await;
    let asked = Instant::now();
    assert_eq!(healthz(&mut other).await, "HTTP/1.1 200 OK");
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "served at once"
    );

    // A request whose headers trickle in is cut off at the header timeout too.
    let mut slow = tcp_from([127, 0, 0, 3], server.addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("write");
    let trickle = tokio::spawn(async move {
        let began = Instant::now();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
        (
            closed_within(&mut slow, Duration::from_secs(3)).await,
            began.elapsed(),
        )
    });
    for (i, tcp) in silent.iter_mut().enumerate() {
        assert!(
            closed_within(tcp, Duration::from_secs(3)).await,
            "silent connection {i} closed after the header timeout"
        );
    }
    let (closed, after) = trickle.await.expect("trickle");
    assert!(
        closed && after < Duration::from_secs(4),
        "{closed} {after:?}"
    );
    // The address has its share back.
    let mut again = tcp_from([127, 0, 0, 1], server.addr).await;
    assert_eq!(healthz(&mut again).await, "HTTP/1.1 200 OK");

    // The total: 40 connections from many addresses, then 503 for anyone.
    let mut many = Vec::new();
    for i in 0..40u8 {
        many.push(tcp_from([127, 0, 1, i], server.addr).await);
    }
    let mut late = tcp_from([127, 0, 2, 1], server.addr).await;
    let line = first_line(&mut late).await;
    assert!(line.starts_with("HTTP/1.1 503"), "{line}");
    let metrics = server.state.metrics.render();
    for reason in ["connections_per_ip", "max_connections"] {
        assert!(
            metrics.contains(&format!(r#"reason="{reason}""#)),
            "{reason}"
        );
    }
    drop(many);
    server.stop().await;
}

/// WebSocket pings neither keep a connection that never says hello past the handshake
/// timeout nor escape the frame rate; and the WebSockets of one address are capped too.
#[tokio::test]
async fn pings_do_not_hold_a_connection_and_websockets_per_address_are_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.limits.connections_per_ip = 24;
    let server = TestServer::start(c).await;
    let code = server
        .embed_code(interact_model::TargetRef::Service("support".into()))
        .await;

    // A ping a second, no hello: closed at the handshake timeout all the same.
    let mut pinger = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    let opened = Instant::now();
    let pings = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if pinger.ws.send(Message::Ping(vec![1].into())).await.is_err() {
                break;
            }
            // Read what came (pongs), so that a close is seen.
            while let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(10), pinger.ws.next()).await
            {
                match msg {
                    Ok(Message::Close(Some(frame))) => return Some(u16::from(frame.code)),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        }
        None
    });

    // A burst of pings counts toward the frame rate.
    let mut burst = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    for _ in 0..100 {
        if burst.ws.send(Message::Ping(vec![2].into())).await.is_err() {
            break;
        }
    }
    let (closed, _) = burst.closed().await;
    assert_eq!(closed, Closed::Code(4008), "pings are frames too");

    // Twenty-four connections from one address; the next upgrade is refused.
    let mut held = Vec::new();
    for _ in 0..23 {
        held.push(
            connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
                .await
                .expect("within the cap"),
        );
    }
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://{}/v1/ws?code={}",
        server.addr,
        code.as_str()
    ))
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429)
        }
        other => panic!("the 25th connection of the address is refused: {other:?}"),
    }
    drop(held);

    let code = pings.await.expect("pinger");
    let after = opened.elapsed();
    assert_eq!(code, Some(4004), "closed for no hello");
    assert!(
        (Duration::from_millis(9_500)..Duration::from_millis(12_500)).contains(&after),
        "at the handshake timeout: {after:?}"
    );
    server.stop().await;
}

/// The metric `name` of the server's `/metrics` (with the metrics token).
async fn metric(addr: SocketAddr, token: &str, name: &str) -> i64 {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(
        format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut body = String::new();
    tcp.read_to_string(&mut body).await.expect("read");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

/// One whole chat: the form with a first message, four more messages, the end.
async fn one_chat(addr: SocketAddr, n: usize) {
    let code = "ie1_interactdemowidgetsupporta";
    let mut v = connect_visitor(addr, code, Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(None).await;
    let text = |i: usize| format!("{n}-{i}:{}", "x".repeat(3_000));
    v.start_chat(
        mid(&format!("start-{n}")),
        PreChatForm {
            display_name: format!("Visitor {n}"),
            email: "v@example.com".into(),
            consent: Some("2024-05".into()),
            first_message: Some(text(0)),
        },
    )
    .await;
    for i in 1..5 {
        v.send(&ClientFrame::Send {
            session: None,
            id: mid(&format!("m-{n}-{i}")),
            text: text(i),
            after: None,
        })
        .await;
    }
    v.recv_until(|f| matches!(f, ServerFrame::Ack { id, .. } if id.as_str() == format!("m-{n}-4")))
        .await;
    v.send(&ClientFrame::End { session: None }).await;
    v.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
    )
    .await;
}

/// Runs `chats` chats, `at_once` at a time, numbered from `first`.
async fn chats(addr: SocketAddr, first: usize, chats: usize, at_once: usize) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(first));
    let end = first + chats;
    let workers: Vec<_> = (0..at_once)
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    one_chat(addr, n).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("chat worker");
    }
}

/// Waits until no session is held in memory (ended ones leave within seconds).
async fn until_none_in_memory(addr: SocketAddr, token: &str) {
    for _ in 0..100 {
        if metric(addr, token, "interact_sessions_in_memory").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("sessions stayed in memory");
}

/// A thousand chats of about 15 KB each start and end; afterwards no session is held in
/// memory and the process's memory is back near what it was before them (measured after
/// a first thousand brought it to its working level).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_near_its_baseline_after_a_thousand_ended_chats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = "resources-metrics-token";
    let mut toml = process_config(
        "sessions_per_minute_per_ip = 1000000\nconnections_per_ip = 10000\n\
         frames_per_second = 1000\nmessages_per_second_per_session = 1000",
    );
    let metrics = format!(
        "token_sha256 = \"{}\"",
        interact_server::auth::token_hash(token)
    );
    toml.insert(
        "metrics".into(),
        metrics.parse::<toml::Table>().expect("TOML").into(),
    );
    let config = write_config(dir.path(), &toml);
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_interact-server"), &config).await;
    let addr = server.addr;

    // Warm up until memory is at its working level (the allocator's arenas, SQLite's page
    // caches of its five connections, which fill as the database grows), then the
    // baseline.
    let warm = 1_000;
    chats(addr, 0, warm, 20).await;
    until_none_in_memory(addr, token).await;
    let baseline = server.rss_kib();
    let began = Instant::now();
    chats(addr, warm, 1_000, 20).await;
    let took = began.elapsed();
    until_none_in_memory(addr, token).await;
    let after = server.rss_kib();
    let grown = after.saturating_sub(baseline);
    eprintln!(
        "memory: {baseline} KiB before, {after} KiB after 1,000 ended chats (+{grown} KiB); the chats took {:.1} s",
        took.as_secs_f64()
    );
    // A thousand chats hold about 15 MB of text (and as much again as sent frames): had
    // they stayed in memory, the growth would be about 30 MB. (Seen here: under 3 MB.)
    assert!(
        grown < 8 * 1024,
        "memory grew by {grown} KiB ({baseline} -> {after})"
    );
    server.kill();
}
