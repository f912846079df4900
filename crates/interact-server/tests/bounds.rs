//! Loses nothing, lets nothing linger: complete replays in pages, a slow client closed
//! rather than silently short of frames, resume tokens that expire, agent sockets closed
//! at sign-out, ended sessions leaving memory, and a cap on a session's size. Real
//! listener, real WebSockets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::SinkExt;
use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{ResumeToken, Seq, SessionId};
use interact_sdk::protocol::{
    AgentHello, ClientFrame, ErrorCode, PROTOCOL_VERSION, Resume, ServerFrame, SessionEvent, encode,
};
use interact_server::config::Config;
use interact_testkit::{
    ALLOWED, Client, Closed, TestServer, config, connect_agent, connect_visitor, mid,
};
use tower::ServiceExt as _;

fn form(name: &str) -> PreChatForm {
    PreChatForm {
        display_name: name.into(),
        email: "v@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    }
}

/// The demo configuration without workflows (chats queue at once), with the rate limits
/// raised so that tests can make long sessions quickly.
fn fast(dir: &std::path::Path) -> Config {
    let mut c = config(dir);
    for s in &mut c.services {
        s.workflow = None;
    }
    c.limits.frames_per_second = 100_000;
    c.limits.messages_per_second_per_session = 100_000;
    c.limits.replays_per_second = 1_000;
    c.limits.max_chats_per_agent = 8;
    c
}

fn support() -> TargetRef {
    TargetRef::Service("support".into())
}

/// A visitor who said hello and started a chat: the connection, session and token.
async fn chat(server: &TestServer, code: &str, name: &str) -> (Client, SessionId, ResumeToken) {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(None).await;
    let (s, t) = v
        .start_chat(mid(&format!("start-{name}")), form(name))
        .await;
    (v, s, t)
}

/// Sends `n` messages and waits for the last one's ack.
async fn send_many(v: &mut Client, prefix: &str, n: usize, size: usize) {
    for i in 0..n {
        v.send(&ClientFrame::Send {
            session: None,
            id: mid(&format!("{prefix}-{i}")),
            text: format!("{i:x>size$}"),
            after: None,
        })
        .await;
    }
    let last = mid(&format!("{prefix}-{}", n - 1));
    v.recv_until(|f| matches!(f, ServerFrame::Ack { id, .. } if *id == last))
        .await;
}

/// Reads what a reconnecting agent is sent, asking for more after every page that says
/// more follows, until each session in `heads` is complete; returns the event seqs per
/// session (duplicates kept) and the largest page seen.
async fn catch_up(
    agent: &mut Client,
    heads: &BTreeMap<SessionId, Seq>,
) -> (BTreeMap<SessionId, Vec<u64>>, usize) {
    let mut seqs: BTreeMap<SessionId, Vec<u64>> = BTreeMap::new();
    let mut done = BTreeSet::new();
    let mut page = 0;
    let mut largest = 0;
    while done.len() < heads.len() {
        match agent.recv().await {
            ServerFrame::Event(e) => {
                seqs.entry(e.session.clone()).or_default().push(e.seq.0);
                page += 1;
            }
            ServerFrame::Replayed {
                session,
                through,
                head,
            } => {
                largest = largest.max(page);
                page = 0;
                assert_eq!(
                    Some(&head),
                    heads.get(&session),
                    "the head it was welcomed with"
                );
                if through < head {
                    agent
                        .send(&ClientFrame::Sync {
                            session: Some(session),
                            after: through,
                        })
                        .await;
                } else {
                    done.insert(session);
                }
            }
            _ => {}
        }
    }
    (seqs, largest)
}

/// Six sessions, about 1,170 events: an agent that reconnects and names them all gets
/// every event, page by page, each page saying whether more follows; one that names two
/// gets those two only, and learns of the others from its welcome.
#[tokio::test]
async fn a_reconnecting_agent_gets_its_whole_backlog_page_by_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(fast(dir.path())).await;
    let code = server.embed_code(support()).await;
    let token = server.agent_token("alex").await;
    let mut alex = server.available_agent("alex").await;
    let mut visitors = Vec::new();
    for n in 0..6 {
        let (mut v, session, _) = chat(&server, code.as_str(), &format!("V{n}")).await;
        let frames = alex
            .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
            .await;
        drop(frames);
        alex.send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
        v.recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })),
        )
        .await;
        send_many(&mut v, &format!("v{n}"), 190, 20).await;
        visitors.push((v, session));
    }
    drop(alex);

    let hello = |resume: BTreeMap<SessionId, Seq>| {
        ClientFrame::AgentHello(AgentHello {
            protocol: PROTOCOL_VERSION,
            token: token.clone(),
            client: None,
            resume,
        })
    };
    let all: BTreeMap<SessionId, Seq> = visitors.iter().map(|(_, s)| (s.clone(), Seq(0))).collect();
    let mut alex = connect_agent(server.addr).await;
    alex.send(&hello(all.clone())).await;
    let ServerFrame::Welcome { heads, .. } = alex.recv().await else {
        panic!("a welcome first");
    };
    assert_eq!(
        heads.keys().collect::<Vec<_>>(),
        all.keys().collect::<Vec<_>>(),
        "the welcome names every session the agent handles"
    );
    let total: u64 = heads.values().map(|h| h.0).sum();
    assert!(total >= 1_150, "about 1,170 events: {total}");
    let (seqs, largest) = catch_up(&mut alex, &heads).await;
    for (session, head) in &heads {
        let got: BTreeSet<u64> = seqs[session].iter().copied().collect();
        assert_eq!(
            got,
            (1..=head.0).collect::<BTreeSet<_>>(),
            "every event of {session}"
        );
    }
    assert!(
        (1..=interact_sdk::limits::REPLAY_PAGE_EVENTS).contains(&largest),
        "pages are bounded: {largest}"
    );
    drop(alex);

    // Naming two: only those two are replayed.
    let two: BTreeMap<SessionId, Seq> = all
        .iter()
        .take(2)
        .map(|(s, _)| (s.clone(), Seq(100)))
        .collect();
    let mut alex = connect_agent(server.addr).await;
    alex.send(&hello(two.clone())).await;
    let ServerFrame::Welcome { heads: again, .. } = alex.recv().await else {
        panic!("a welcome first");
    };
    assert_eq!(again, heads);
    let frames = alex.recv_for(800).await;
    let replayed: BTreeSet<&SessionId> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) => Some(&e.session),
            ServerFrame::Replayed { session, .. } => Some(session),
            _ => None,
        })
        .collect();
    assert_eq!(
        replayed,
        two.keys().collect(),
        "only the named sessions: {frames:?}"
    );
    assert!(
        frames
            .iter()
            .all(|f| !matches!(f, ServerFrame::Event(e) if e.seq.0 <= 100)),
        "from where the agent said it was"
    );
    drop(visitors);
    server.stop().await;
}

/// A `sync` is answered with one page and a `replayed` frame that says where it stopped;
/// a connection that sends syncs too fast is refused (and stays open).
#[tokio::test]
async fn sync_answers_are_pages_and_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = fast(dir.path());
    c.limits.replays_per_second = 5;
    let server = TestServer::start(c).await;
    let code = server.embed_code(support()).await;
    let (mut v, session, _) = chat(&server, code.as_str(), "Sy").await;
    send_many(&mut v, "m", 300, 10).await;
    v.recv_for(200).await;
    v.send(&ClientFrame::Sync {
        session: None,
        after: Seq(0),
    })
    .await;
    let frames = v
        .recv_until(|f| matches!(f, ServerFrame::Replayed { .. }))
        .await;
    let events = interact_testkit::event_seqs(&frames, &session);
    let page = interact_sdk::limits::REPLAY_PAGE_EVENTS as u64;
    assert_eq!(events, (1..=page).map(Seq).collect::<Vec<_>>());
    let Some(ServerFrame::Replayed { through, head, .. }) = frames.last() else {
        unreachable!()
    };
    assert_eq!(*through, Seq(page));
    assert!(head.0 > 300, "{head:?}");
    // A burst of syncs: twice the rate is allowed at once, the rest refused.
    for _ in 0..20 {
        v.send(&ClientFrame::Sync {
            session: None,
            after: Seq(head.0 - 1),
        })
        .await;
    }
    let frames = v.recv_for(500).await;
    let pages = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Replayed { .. }))
        .count();
    let refused = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::RateLimited))
        .count();
    assert!((9..=11).contains(&pages), "{pages} pages answered");
    assert_eq!(pages + refused, 20);
    // The connection is still fine.
    v.send(&ClientFrame::Ping { nonce: 9 }).await;
    v.recv_until(|f| matches!(f, ServerFrame::Pong { nonce: 9, .. }))
        .await;
    server.stop().await;
}

/// A visitor connection whose socket takes almost nothing.
async fn slow_visitor(server: &TestServer, code: &str) -> interact_testkit::Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let tcp = socket.connect(server.addr).await.expect("connect");
    let mut req = format!("ws://{}/v1/ws?code={code}", server.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("origin", ALLOWED.parse().expect("header"));
    let (ws, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .expect("upgrade");
    ws
}

/// A client that stops reading is closed with 4010 once its queue is full, instead of
/// being silently short of frames: what it got is a gap-free prefix, and resuming from
/// there gets the rest.
#[tokio::test]
async fn a_client_that_does_not_read_is_closed_with_4010_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = fast(dir.path());
    c.limits.max_bytes_per_session = 64 << 20;
    c.limits.max_events_per_session = 100_000;
    let server = TestServer::start(c).await;
    let code = server.embed_code(support()).await;
    let mut alex = server.available_agent("alex").await;
    let mut slow = Client::new(slow_visitor(&server, code.as_str()).await).named("visitor");
    slow.hello(None).await;
    let (session, token) = slow.start_chat(mid("start-slow"), form("Slow")).await;
    alex.recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    alex.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    alex.recv_until(|f| matches!(f, ServerFrame::Replayed { .. }))
        .await;
    // The agent writes far more than the socket buffers and the queue hold (reading its
    // own acks as it goes); the visitor does not read.
    let n = 3_000;
    for chunk in 0..n / 100 {
        for i in chunk * 100..(chunk + 1) * 100 {
            alex.ws
                .feed(tokio_tungstenite::tungstenite::Message::Text(
                    encode(&ClientFrame::Send {
                        session: Some(session.clone()),
                        id: mid(&format!("a-{i}")),
                        // 4,000 characters (not spaces: they would be trimmed).
                        text: format!("{i:x>4000}"),
                        after: None,
                    })
                    .into(),
                ))
                .await
                .expect("send");
        }
        alex.ws.flush().await.expect("flush");
        let last = mid(&format!("a-{}", (chunk + 1) * 100 - 1));
        alex.recv_until(|f| matches!(f, ServerFrame::Ack { id, .. } if *id == last))
            .await;
    }
    // Now read: a prefix of the session without a gap, then the close.
    let (closed, frames) = slow.closed().await;
    assert_eq!(closed, Closed::Code(4010), "closed for not reading");
    let seqs = interact_testkit::event_seqs(&frames, &session);
    let first = seqs.first().copied().unwrap_or(Seq(1)).0;
    assert_eq!(
        seqs,
        (first..first + seqs.len() as u64)
            .map(Seq)
            .collect::<Vec<_>>(),
        "no frame dropped before the close"
    );
    let got = seqs.last().copied().unwrap_or(Seq(0));
    assert!(got.0 < n as u64, "the queue filled up before the end");
    // The visitor resumes where it was and gets the rest.
    let (mut v, head) =
        interact_testkit::resume_visitor(server.addr, code.as_str(), &session, &token, got).await;
    let mut rest = Vec::new();
    let mut at = got;
    while at < head {
        let frames = v
            .recv_until(|f| matches!(f, ServerFrame::Replayed { .. }))
            .await;
        rest.extend(interact_testkit::event_seqs(&frames, &session));
        let Some(ServerFrame::Replayed { through, .. }) = frames.last() else {
            unreachable!()
        };
        at = *through;
        v.send(&ClientFrame::Sync {
            session: None,
            after: at,
        })
        .await;
    }
    assert_eq!(rest, ((got.0 + 1)..=head.0).map(Seq).collect::<Vec<_>>());
    assert!(
        server
            .state
            .metrics
            .render()
            .contains(r#"interact_rejections_total{reason="slow_consumer"} 1"#),
        "counted"
    );
    server.stop().await;
}

/// A resume token stops working some time after the visitor was last there; an ended
/// session can be read back for a short while only, never written to.
#[tokio::test]
async fn resume_tokens_expire_and_ended_sessions_are_read_only_for_a_while() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = fast(dir.path());
    c.limits.resume_token_ttl_secs = 1;
    c.limits.ended_session_grace_secs = 2;
    let server = TestServer::start(c).await;
    let code = server.embed_code(support()).await;
    let resume = |session: &SessionId, token: &ResumeToken| {
        Some(Resume {
            session: session.clone(),
            token: token.clone(),
            last_seq: Seq(0),
        })
    };
    let reconnect = || async {
        connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .expect("allowed")
    };

    // Gone for longer than the token lives: refused.
    let (v, idle, idle_token) = chat(&server, code.as_str(), "Ida").await;
    drop(v);
    let mut v = reconnect().await;
    assert!(
        matches!(
            v.hello(resume(&idle, &idle_token)).await,
            ServerFrame::Welcome { .. }
        ),
        "back at once: resumed"
    );
    drop(v);
    tokio::time::sleep(Duration::from_millis(1_400)).await;
    let mut v = reconnect().await;
    let refused = v.hello(resume(&idle, &idle_token)).await;
    assert!(
        matches!(&refused, ServerFrame::Error(e) if e.code == ErrorCode::InvalidResume && e.fatal),
        "{refused:?}"
    );
    assert_eq!(v.closed().await.0, Closed::Code(4001));

    // Ended: readable right after the end, never reopened; refused after the grace.
    let (mut v, ended, token) = chat(&server, code.as_str(), "Eve").await;
    v.send(&ClientFrame::End { session: None }).await;
    v.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
    )
    .await;
    drop(v);
    let mut v = reconnect().await;
    let welcome = v.hello(resume(&ended, &token)).await;
    assert!(
        matches!(
            welcome,
            ServerFrame::Welcome {
                session: Some(_),
                ..
            }
        ),
        "{welcome:?}"
    );
    let replay = v
        .recv_until(|f| matches!(f, ServerFrame::Replayed { .. }))
        .await;
    assert!(
        replay.iter().any(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. }))
        ),
        "the reload shows the end"
    );
    v.send(&ClientFrame::Send {
        session: None,
        id: mid("late"),
        text: "hello again".into(),
        after: None,
    })
    .await;
    let e = v.recv().await;
    assert!(
        matches!(&e, ServerFrame::Error(e) if e.code == ErrorCode::SessionEnded),
        "{e:?}"
    );
    drop(v);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let mut v = reconnect().await;
    let refused = v.hello(resume(&ended, &token)).await;
    assert!(
        matches!(&refused, ServerFrame::Error(e) if e.code == ErrorCode::InvalidResume),
        "{refused:?}"
    );
    server.stop().await;
}

/// The fatal error and close code an agent connection ends with.
async fn agent_closed(agent: &mut Client) -> (Closed, Option<ErrorCode>) {
    let (closed, frames) = agent.closed().await;
    let fatal = frames.iter().rev().find_map(|f| match f {
        ServerFrame::Error(e) if e.fatal => Some(e.code),
        _ => None,
    });
    (closed, fatal)
}

/// Signing out, an expired sign-in and an administrator's sign-out close the agent's open
/// connections at once.
#[tokio::test]
async fn sign_out_expiry_and_admin_sign_out_close_agent_sockets() {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(fast(dir.path())).await;
    let app = interact_server::app(server.state.clone());
    let post = |uri: &str, token: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };

    // Sign-out: both tabs of that token close; a tab of another token stays.
    let token = server.agent_token("alex").await;
    let other = server.agent_token("alex").await;
    let mut tab1 = connect_agent(server.addr).await;
    tab1.agent_hello(&token).await;
    let mut tab2 = connect_agent(server.addr).await;
    tab2.agent_hello(&token).await;
    let mut phone = connect_agent(server.addr).await;
    phone.agent_hello(&other).await;
    let r = app
        .clone()
        .oneshot(post("/v1/agent/logout", &token))
        .await
        .expect("infallible");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(
            agent_closed(tab).await,
            (Closed::Code(4001), Some(ErrorCode::Unauthorized))
        );
    }
    phone.send(&ClientFrame::Ping { nonce: 1 }).await;
    phone
        .recv_until(|f| matches!(f, ServerFrame::Pong { .. }))
        .await;

    // An administrator signs alex out everywhere.
    let r = app
        .clone()
        .oneshot(post("/admin/v1/agents/alex/sign-out", "demo-admin-token"))
        .await
        .expect("infallible");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        agent_closed(&mut phone).await,
        (Closed::Code(4001), Some(ErrorCode::Unauthorized))
    );
    let mut again = connect_agent(server.addr).await;
    let refused = again.agent_hello(&other).await;
    assert!(
        matches!(&refused, ServerFrame::Error(e) if e.code == ErrorCode::Unauthorized),
        "the token stopped working: {refused:?}"
    );

    // A sign-in that expires closes its connection when it does.
    let short = interact_server::auth::random_token();
    let now = interact_server::clock::system_now();
    server
        .state
        .store
        .put_agent_token(
            &interact_server::auth::token_hash(&short),
            "sam",
            now,
            interact_sdk::time::UnixMillis(now.0 + 1_200),
        )
        .await
        .expect("token");
    let mut sam = connect_agent(server.addr).await;
    assert!(matches!(
        sam.agent_hello(&short).await,
        ServerFrame::Welcome { .. }
    ));
    let started = std::time::Instant::now();
    assert_eq!(
        agent_closed(&mut sam).await,
        (Closed::Code(4001), Some(ErrorCode::Unauthorized))
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    server.stop().await;
}

/// Ended sessions leave memory (they stay in the store and are read back for a resume),
/// and a session holds at most so many events: then `session_full`, but `end` works.
#[tokio::test]
async fn ended_sessions_leave_memory_and_sessions_are_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = fast(dir.path());
    c.limits.max_events_per_session = 30;
    let server = TestServer::start(c).await;
    let code = server.embed_code(support()).await;
    let (mut v, session, token) = chat(&server, code.as_str(), "Cap").await;
    let mut refused = None;
    for i in 0..40 {
        let id = mid(&format!("c-{i}"));
        v.send(&ClientFrame::Send {
            session: None,
            id: id.clone(),
            text: "x".into(),
            after: None,
        })
        .await;
        let frames = v
            .recv_until(|f| match f {
                ServerFrame::Ack { id: a, .. } => *a == id,
                ServerFrame::Error(e) => e.id.as_ref() == Some(&id),
                _ => false,
            })
            .await;
        if let Some(ServerFrame::Error(e)) = frames.last() {
            assert_eq!(e.code, ErrorCode::SessionFull, "{e:?}");
            refused = Some(i);
            break;
        }
    }
    assert!(refused.is_some(), "the 30-event cap was reached");
    let stored = server.state.store.events(&session).await.expect("events");
    assert_eq!(stored.len(), 30, "nothing past the cap");
    v.send(&ClientFrame::End { session: None }).await;
    v.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
    )
    .await;
    drop(v);

    // Nobody uses it: it leaves memory, and a reload reads it back from the store.
    let mut left = 0;
    for _ in 0..100 {
        left = server.state.hub.sessions_in_memory();
        if left == 0 {
            break;
        }
        server
            .state
            .hub
            .evict(Duration::ZERO, Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "the ended session left memory");
    let (_, head) =
        interact_testkit::resume_visitor(server.addr, code.as_str(), &session, &token, Seq(0))
            .await;
    assert_eq!(head, Seq(31), "30 events and the end");
    server.stop().await;
}
