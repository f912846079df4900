//! The WebSocket endpoints on a real listener: a full chat between a visitor and an agent,
//! and everything that must be refused without taking the server down.

use interact_model::TargetRef;
use interact_sdk::form::{Field, FieldError, PreChatForm};
use interact_sdk::ids::{ResumeToken, Seq, SessionId};
use interact_sdk::protocol::{
    ClientFrame, ErrorCode, Party, Presence, ReceiptState, Resume, ServerFrame, SessionEvent,
};
use interact_testkit::{
    ALLOWED, Closed, FOREIGN, TestServer, config, connect_agent, connect_visitor, event_seqs, mid,
};

fn form(first: Option<&str>) -> PreChatForm {
    PreChatForm {
        display_name: "Vera <b>Visitor</b>".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: first.map(str::to_owned),
    }
}

fn support() -> TargetRef {
    TargetRef::Service("support".into())
}

#[tokio::test]
async fn full_chat_between_visitor_and_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;

    // The agent signs in and becomes available.
    let token = server.agent_token("alex").await;
    let mut agent = connect_agent(server.addr).await;
    let ServerFrame::Welcome {
        agent: Some(me), ..
    } = agent.agent_hello(&token).await
    else {
        panic!("agent welcome expected");
    };
    assert_eq!(me.id.as_str(), "alex");
    agent
        .send(&ClientFrame::SetPresence {
            presence: Presence::Available,
        })
        .await;
    agent
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Presence {
                    presence: Presence::Available
                }
            )
        })
        .await;

    // The visitor connects from an allowed origin and starts a chat.
    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    let ServerFrame::Welcome {
        config: Some(cfg), ..
    } = visitor.hello(None).await
    else {
        panic!("welcome with config expected");
    };
    assert_eq!(cfg.target.display_name, "Customer Care");
    let (session, resume_token) = visitor
        .start_chat(mid("start-1"), form(Some("Hello, I need help")))
        .await;
    assert!(resume_token.expose().len() >= 32, "at least 128 bits");

    // The agent is offered the chat, with the visitor's name as text, and accepts.
    let offers = agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = offers.last() else {
        unreachable!()
    };
    assert_eq!(offer.visitor.display_name, "Vera <b>Visitor</b>");
    assert_eq!(offer.first_message.as_deref(), Some("Hello, I need help"));
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    let joined = agent.recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))).await;
    // The agent saw the whole transcript: started (with consent), first message, queue, joined.
    let started = joined.iter().find_map(|f| match f {
        ServerFrame::Event(e) => match &e.event {
            SessionEvent::Started {
                visitor, consent, ..
            } => Some((visitor.clone(), consent.clone())),
            _ => None,
        },
        _ => None,
    });
    let (who, consent) = started.expect("started event");
    assert_eq!(who.email, "vera@example.com");
    assert_eq!(consent.policy_version, "2024-05");
    visitor.recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))).await;

    // Messages both ways, acknowledged after storage.
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v-1"),
            text: "<script>alert(1)</script>".into(),
            after: None,
        })
        .await;
    let acks = visitor
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    let Some(ServerFrame::Ack { seq, .. }) = acks.last() else {
        unreachable!()
    };
    let got = agent
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if e.seq == *seq))
        .await;
    let Some(ServerFrame::Event(e)) = got.last() else {
        unreachable!()
    };
    assert!(
        matches!(&e.event, SessionEvent::Message { text, from: Party::Visitor, .. } if text == "<script>alert(1)</script>")
    );
    // A resend with the same id is acknowledged with the same seq, not stored twice.
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v-1"),
            text: "<script>alert(1)</script>".into(),
            after: None,
        })
        .await;
    let again = visitor
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    assert!(matches!(again.last(), Some(ServerFrame::Ack { seq: s, .. }) if s == seq));

    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a-1"),
            text: "How can I help?".into(),
            after: None,
        })
        .await;
    let frames = visitor.recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { from: Party::Agent, .. }))).await;
    assert!(!frames.is_empty());
    // Typing reaches the other side, not stored.
    agent
        .send(&ClientFrame::Typing {
            session: Some(session.clone()),
            active: true,
        })
        .await;
    visitor
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Typing {
                    from: Party::Agent,
                    active: true,
                    ..
                }
            )
        })
        .await;
    visitor
        .send(&ClientFrame::Receipt {
            session: None,
            up_to: Seq(6),
            state: ReceiptState::Read,
        })
        .await;

    // The agent ends; both see it.
    agent
        .send(&ClientFrame::End {
            session: Some(session.clone()),
        })
        .await;
    visitor
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
        )
        .await;
    agent
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Ended { .. })),
        )
        .await;

    // Everything is in the database, in order, each message once.
    let stored = server.state.store.events(&session).await.expect("events");
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>());
    let v1 = stored
        .iter()
        .filter(|e| matches!(&e.event, SessionEvent::Message { id, .. } if id.as_str() == "v-1"))
        .count();
    assert_eq!(v1, 1);
    let record = server
        .state
        .store
        .session(&session)
        .await
        .expect("load")
        .expect("exists");
    assert_ne!(
        record.token_hash,
        resume_token.expose(),
        "only the hash is stored"
    );
    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("interact_messages_relayed_total"),
        "{metrics}"
    );
    // The latency histograms saw this chat: every stored frame's commit and relay, and
    // both WebSockets' upgrades under their route patterns.
    let count = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    let relayed = count("interact_relay_seconds_count");
    assert!(relayed >= 3.0, "{relayed} relays: {metrics}");
    assert!(count("interact_store_commit_seconds_count") >= relayed);
    for route in ["/v1/ws", "/v1/agent/ws"] {
        let series = format!(
            "interact_http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\",status=\"101\"}}"
        );
        assert!(count(&series) >= 1.0, "{series}");
    }
    server.stop().await;
}

#[tokio::test]
async fn foreign_origin_and_unknown_code_get_no_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    assert_eq!(
        connect_visitor(server.addr, code.as_str(), Some(FOREIGN))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        connect_visitor(server.addr, code.as_str(), None)
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        connect_visitor(server.addr, code.as_str(), Some("null"))
            .await
            .err(),
        Some(403)
    );
    let unknown = interact_sdk::embed::EmbedCode::from_random([9; 16]);
    assert_eq!(
        connect_visitor(server.addr, unknown.as_str(), Some(ALLOWED))
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        connect_visitor(server.addr, "not-a-code", Some(ALLOWED))
            .await
            .err(),
        Some(404)
    );
    // Revoked codes stop working at once.
    server
        .state
        .store
        .revoke_embed_code(&code, interact_server::clock::system_now())
        .await
        .expect("revoke");
    assert_eq!(
        connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .err(),
        Some(404)
    );
    assert!(server.state.hub.open_sessions() == 0);
    server.stop().await;
}

#[tokio::test]
async fn wrong_or_foreign_resume_tokens_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    let (session, resume_token) = v.start_chat(mid("s1"), form(None)).await;

    // A guessed token.
    let mut thief = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    thief
        .send(&ClientFrame::Hello(interact_sdk::protocol::Hello {
            protocol: 1,
            client: None,
            resume: Some(Resume {
                session: session.clone(),
                token: ResumeToken::new("0".repeat(64)),
                last_seq: Seq::ZERO,
            }),
        }))
        .await;
    let (closed, frames) = thief.closed().await;
    assert_eq!(closed, Closed::Code(4001));
    assert!(
        matches!(&frames[..], [ServerFrame::Error(e)] if e.code == ErrorCode::InvalidResume && e.fatal)
    );

    // The right token through another embed code is refused too.
    let other = server.embed_code(TargetRef::User("alex".into())).await;
    let mut elsewhere = connect_visitor(server.addr, other.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    elsewhere
        .send(&ClientFrame::Hello(interact_sdk::protocol::Hello {
            protocol: 1,
            client: None,
            resume: Some(Resume {
                session: session.clone(),
                token: resume_token.clone(),
                last_seq: Seq::ZERO,
            }),
        }))
        .await;
    assert_eq!(elsewhere.closed().await.0, Closed::Code(4001));

    // The right token resumes, replaying everything after last_seq, and replaces the old
    // connection (closed with 4011).
    let mut again = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    let welcome = again
        .hello(Some(Resume {
            session: session.clone(),
            token: resume_token,
            last_seq: Seq(1),
        }))
        .await;
    let ServerFrame::Welcome {
        session: Some(info),
        ..
    } = welcome
    else {
        panic!("resumed welcome")
    };
    let replay = again
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if e.seq == info.head))
        .await;
    assert_eq!(
        event_seqs(&replay, &session),
        (2..=info.head.0).map(Seq).collect::<Vec<_>>()
    );
    assert_eq!(v.closed().await.0, Closed::Code(4011));
    server.stop().await;
}

#[tokio::test]
async fn bad_frames_get_errors_and_proper_close_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;

    // A frame before hello.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.send(&ClientFrame::Ping { nonce: 1 }).await;
    let (closed, frames) = v.closed().await;
    assert_eq!(closed, Closed::Code(4003));
    assert!(
        matches!(&frames[..], [ServerFrame::Error(e)] if e.code == ErrorCode::HandshakeRequired)
    );

    // Unsupported protocol version.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.send_raw(r#"{"type":"hello","protocol":99}"#.into()).await;
    assert_eq!(v.closed().await.0, Closed::Code(4000));

    // Malformed frames: an error each, the connection stays, until too many.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    v.send_raw("{not json".into()).await;
    assert!(
        matches!(v.recv().await, ServerFrame::Error(e) if e.code == ErrorCode::Malformed && !e.fatal)
    );
    v.send_raw(format!("{}{}", "[".repeat(50), "]".repeat(50)))
        .await;
    assert!(matches!(v.recv().await, ServerFrame::Error(e) if e.code == ErrorCode::TooDeep));
    v.send_raw(r#"{"type":"teleport"}"#.into()).await;
    assert!(matches!(v.recv().await, ServerFrame::Error(e) if e.code == ErrorCode::UnknownType));
    v.send(&ClientFrame::Ping { nonce: 7 }).await;
    assert!(matches!(v.recv().await, ServerFrame::Pong { nonce: 7, .. }));
    // Two malformed so far (the unknown type does not count): three more, each with an
    // error, and the connection still answers; the sixth closes it.
    for _ in 0..3 {
        v.send_raw("nope".into()).await;
        assert!(
            matches!(v.recv().await, ServerFrame::Error(e) if e.code == ErrorCode::Malformed && !e.fatal)
        );
    }
    v.send(&ClientFrame::Ping { nonce: 8 }).await;
    assert!(matches!(v.recv().await, ServerFrame::Pong { nonce: 8, .. }));
    v.send_raw("nope".into()).await;
    let (closed, frames) = v.closed().await;
    assert_eq!(closed, Closed::Code(4003));
    assert!(
        matches!(&frames[..], [ServerFrame::Error(e)] if e.code == ErrorCode::Malformed && e.fatal),
        "{frames:?}"
    );

    // An oversize frame: refused with frame_too_large and 1009.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    v.send_raw(format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(interact_sdk::limits::MAX_FRAME_BYTES)
    ))
    .await;
    let (closed, frames) = v.closed().await;
    assert_eq!(closed, Closed::Code(1009));
    assert!(
        matches!(&frames[..], [ServerFrame::Error(e)] if e.code == ErrorCode::FrameTooLarge && e.fatal)
    );
    // One over twice the limit is not even read: 1009 without an error.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    v.send_raw("x".repeat(3 * interact_sdk::limits::MAX_FRAME_BYTES))
        .await;
    let (closed, frames) = v.closed().await;
    assert_eq!(closed, Closed::Code(1009));
    assert!(frames.is_empty(), "{frames:?}");

    // A message too long for chat is refused, nothing stored, the session goes on.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    let (session, _) = v.start_chat(mid("s1"), form(None)).await;
    v.send(&ClientFrame::Send {
        session: None,
        id: mid("long"),
        text: "x".repeat(5000),
        after: None,
    })
    .await;
    v.recv_until(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::InvalidField))
        .await;
    // An invalid form is refused field by field.
    let mut v2 = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v2.hello(None).await;
    let mut bad = form(None);
    bad.email = "nope".into();
    bad.consent = None;
    v2.send(&ClientFrame::StartChat {
        context: None,
        id: mid("s2"),
        form: bad,
        call: None,
    })
    .await;
    let ServerFrame::Error(e) = v2.recv().await else {
        panic!("error expected")
    };
    assert_eq!(e.code, ErrorCode::InvalidForm);
    assert_eq!(e.fields.expect("fields").fields.len(), 2);

    let stored = server.state.store.events(&session).await.expect("events");
    assert!(
        stored.iter().all(
            |e| !matches!(&e.event, SessionEvent::Message { id, .. } if id.as_str() == "long")
        )
    );
    // The server is still up.
    assert!(
        connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .is_ok()
    );
    server.stop().await;
}

/// Names and messages with nothing visible (a zero-width space, a Hangul filler...) are
/// refused like empty ones, from visitors and agents alike; the session goes on.
#[tokio::test]
async fn invisible_names_and_messages_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    let mut agent = server.available_agent("alex").await;
    let mut v = visitor_conn(&server, &code).await;
    v.hello(None).await;

    // A zero-width name: `required`, for the name only (a blank first message is none).
    for (i, name) in [
        "\u{200B}",
        " \u{200B}\u{FEFF} ",
        "\u{3164}",
        "\u{2800}\u{0301}",
    ]
    .into_iter()
    .enumerate()
    {
        let mut blank = form(Some("\u{200B}"));
        blank.display_name = name.into();
        let id = mid(&format!("blank-{i}"));
        v.send(&ClientFrame::StartChat {
            context: None,
            id: id.clone(),
            form: blank,
            call: None,
        })
        .await;
        let ServerFrame::Error(e) = v.recv().await else {
            panic!("error expected for {name:?}")
        };
        assert_eq!(e.code, ErrorCode::InvalidForm, "{name:?}");
        assert_eq!(e.id, Some(id));
        assert!(!e.fatal);
        let fields = e.fields.expect("fields").fields;
        assert_eq!(fields.len(), 1, "{name:?}: {fields:?}");
        assert_eq!(fields[0].field, Field::DisplayName);
        assert_eq!(fields[0].error, FieldError::Required);
    }

    // The same connection then starts a chat with a visible name (RTL, between bidi marks).
    let mut ok = form(Some("\u{2060}\u{200D}"));
    ok.display_name = " \u{200F}سارة\u{200F} ".into();
    let (session, _) = v.start_chat(mid("s-ok"), ok).await;
    let offers = agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = offers.last() else {
        unreachable!()
    };
    assert_eq!(offer.visitor.display_name, "\u{200F}سارة\u{200F}");
    assert_eq!(offer.first_message, None, "a blank first message is none");
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    let joined = |f: &ServerFrame| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }));
    agent.recv_until(joined).await;
    v.recv_until(joined).await;

    // Blank messages from the visitor: `invalid_field` with their id, each; not fatal.
    for (i, text) in [
        "\u{200B}",
        "\u{200B}\u{200C}\u{200D}",
        "\u{3000}\u{00A0}\u{FFA0}",
    ]
    .into_iter()
    .enumerate()
    {
        let id = mid(&format!("v-blank-{i}"));
        v.send(&ClientFrame::Send {
            session: None,
            id: id.clone(),
            text: text.into(),
            after: None,
        })
        .await;
        let frames = v
            .recv_until(|f| matches!(f, ServerFrame::Error(_) | ServerFrame::Ack { .. }))
            .await;
        let Some(ServerFrame::Error(e)) = frames.last() else {
            panic!("{text:?} was taken: {frames:?}")
        };
        assert_eq!(e.code, ErrorCode::InvalidField, "{text:?}");
        assert_eq!(e.id, Some(id));
        assert!(!e.fatal);
    }
    // And from the agent.
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a-blank"),
            text: "\u{FEFF}\u{200B}".into(),
            after: None,
        })
        .await;
    let frames = agent
        .recv_until(|f| matches!(f, ServerFrame::Error(_) | ServerFrame::Ack { .. }))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Error(e)) if e.code == ErrorCode::InvalidField && e.id == Some(mid("a-blank")) && !e.fatal),
        "{frames:?}"
    );

    // The session goes on: visible messages both ways, emoji and all.
    v.send(&ClientFrame::Send {
        session: None,
        id: mid("v-ok"),
        text: "\u{200B}hi 👋".into(),
        after: None,
    })
    .await;
    v.recv_until(|f| matches!(f, ServerFrame::Ack { id, .. } if id.as_str() == "v-ok"))
        .await;
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a-ok"),
            text: "Hello Sara".into(),
            after: None,
        })
        .await;
    v.recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { from: Party::Agent, text, .. } if text == "Hello Sara")))
        .await;

    // Only the visible messages were stored (besides the workflow's own).
    let stored = server.state.store.events(&session).await.expect("events");
    let messages: Vec<&str> = stored
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::Message { id, from, .. } if *from != Party::System => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(messages, ["v-ok", "a-ok"]);
    // The server is still up.
    assert!(
        connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .is_ok()
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_tells_clients_to_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    v.send(&ClientFrame::StartChat {
        context: None,
        id: mid("s1"),
        form: form(None),
        call: None,
    })
    .await;
    v.recv_until(|f| matches!(f, ServerFrame::SessionStarted { .. }))
        .await;
    let stopping = tokio::spawn(server.stop());
    let (closed, _) = v.closed().await;
    assert_eq!(
        closed,
        Closed::Code(1001),
        "going away: reconnect and resume"
    );
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn rate_limits_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.limits.sessions_per_minute_per_ip = 3;
    cfg.limits.frames_per_second = 5;
    let server = TestServer::start(cfg).await;
    let code = server.embed_code(support()).await;

    let mut refused = 0;
    for i in 0..5 {
        let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .expect("ok");
        v.hello(None).await;
        v.send(&ClientFrame::StartChat {
            context: None,
            id: mid(&format!("s{i}")),
            form: form(None),
            call: None,
        })
        .await;
        match v.recv().await {
            ServerFrame::SessionStarted { .. } => {}
            ServerFrame::Error(e) if e.code == ErrorCode::RateLimited => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(refused, 2, "3 sessions per minute per address");

    // A flood of frames closes the connection with 4008.
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.hello(None).await;
    for n in 0..50 {
        v.send(&ClientFrame::Ping { nonce: n }).await;
    }
    let (closed, frames) = v.closed().await;
    assert_eq!(closed, Closed::Code(4008));
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::RateLimited))
    );
    let metrics = server.state.metrics.render();
    assert!(metrics.contains("reason=\"rate_limited\""), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn replayed_and_swapped_tokens_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;

    // Two sessions; A's token presented for B is refused.
    let mut started = Vec::new();
    for id in ["a", "b"] {
        let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .expect("ok");
        v.hello(None).await;
        let (session, resume_token) = v.start_chat(mid(id), form(None)).await;
        started.push((session, resume_token));
    }
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("ok");
    v.send(&ClientFrame::Hello(interact_sdk::protocol::Hello {
        protocol: 1,
        client: None,
        resume: Some(Resume {
            session: started[1].0.clone(),
            token: started[0].1.clone(),
            last_seq: Seq::ZERO,
        }),
    }))
    .await;
    assert_eq!(v.closed().await.0, Closed::Code(4001));

    // An agent token that was signed out, or never issued, is refused.
    let token = server.agent_token("alex").await;
    server
        .state
        .store
        .delete_agent_token(&interact_server::auth::token_hash(&token))
        .await
        .expect("sign out");
    for t in [token.as_str(), "made-up"] {
        let mut agent = connect_agent(server.addr).await;
        agent
            .send(&ClientFrame::AgentHello(
                interact_sdk::protocol::AgentHello {
                    protocol: 1,
                    token: t.into(),
                    client: None,
                    resume: Default::default(),
                },
            ))
            .await;
        let (closed, frames) = agent.closed().await;
        assert_eq!(closed, Closed::Code(4001));
        assert!(
            matches!(&frames[..], [ServerFrame::Error(e)] if e.code == ErrorCode::Unauthorized)
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn messages_are_limited_per_session_across_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    // 5 frames a second per connection (bursts of 10), and 5 messages a second per
    // session and party (bursts of 10).
    cfg.limits.frames_per_second = 5;
    cfg.limits.messages_per_second_per_session = 5;
    let server = TestServer::start(cfg).await;
    let code = server.embed_code(support()).await;

    // The agent takes the chat, so that both parties can write.
    let mut agent = server.available_agent("alex").await;
    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let (session, resume_token) = visitor.start_chat(mid("start"), form(None)).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    agent.recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))).await;

    // The visitor writes over five connections in turn (a reconnect each time), each
    // staying within its own frame limit: hello and at most nine messages (eight on the
    // last one, which sends a ping too).
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    let mut last_seq = Seq::ZERO;
    for c in 0..5 {
        if c > 0 {
            visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
                .await
                .expect("allowed");
            let resume = Resume {
                session: session.clone(),
                token: resume_token.clone(),
                last_seq,
            };
            // The welcome; the events replayed after it are read below.
            visitor.hello(Some(resume)).await;
        }
        let sends = if c == 0 || c == 4 { 8 } else { 9 };
        for n in 0..sends {
            let id = mid(&format!("v{c}-{n}"));
            visitor
                .send(&ClientFrame::Send {
                    session: None,
                    id: id.clone(),
                    text: "hello".into(),
                    after: None,
                })
                .await;
            let frames = visitor
                .recv_until(|f| match f {
                    ServerFrame::Ack { id: a, .. } => *a == id,
                    ServerFrame::Error(e) => e.id.as_ref() == Some(&id),
                    _ => false,
                })
                .await;
            for f in &frames {
                if let ServerFrame::Event(e) = f {
                    last_seq = last_seq.max(e.seq);
                }
            }
            match frames.last() {
                Some(ServerFrame::Ack { seq, .. }) => {
                    last_seq = last_seq.max(*seq);
                    acked.push(id);
                }
                Some(ServerFrame::Error(e)) => {
                    assert_eq!(e.code, ErrorCode::RateLimited, "{e:?}");
                    assert!(!e.fatal, "the connection stays");
                    assert_eq!(e.session.as_ref(), Some(&session));
                    limited.push(id);
                }
                other => unreachable!("{other:?}"),
            }
        }
    }
    // 43 messages; a session's visitor gets a burst of 10 and 5 more a second, so unless
    // this took over six seconds some were refused, though no connection broke its own
    // limit.
    assert_eq!(acked.len() + limited.len(), 43);
    assert!(acked.len() >= 10, "the burst goes through: {acked:?}");
    assert!(!limited.is_empty(), "the session's limit held: {acked:?}");

    // The connection is still open, and the refused messages were not stored: the
    // session's events are those acknowledged (and the three before them).
    visitor.send(&ClientFrame::Ping { nonce: 7 }).await;
    let pongs = visitor
        .recv_until(|f| matches!(f, ServerFrame::Pong { nonce: 7, .. }))
        .await;
    let Some(ServerFrame::Pong { heads, .. }) = pongs.last() else {
        unreachable!()
    };
    let stored = server.state.store.events(&session).await.expect("events");
    let messages: Vec<_> = stored
        .iter()
        .filter_map(|e| match &e.event {
            // The visitor's (the demo workflow's greeting is the system's).
            SessionEvent::Message {
                id,
                from: interact_sdk::protocol::Party::Visitor,
                ..
            } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(messages, acked);
    assert_eq!(heads.get(&session).copied(), stored.last().map(|e| e.seq));

    // The agent's budget is their own: the visitor's flood does not silence them.
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a-1"),
            text: "How can I help?".into(),
            after: None,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("reason=\"message_rate_limited\""),
        "{metrics}"
    );
    server.stop().await;
}

/// A `start_chat` repeated after its answer was lost gets the same session; another
/// visitor behind the same address whose client chose the same start id gets their own.
#[tokio::test]
async fn a_repeated_start_resumes_but_a_same_id_stranger_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    let visitor = || async {
        let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
            .await
            .expect("allowed");
        v.hello(None).await;
        v
    };
    let mut first = visitor().await;
    let (session, token) = first.start_chat(mid("start-1"), form(None)).await;
    // The answer was lost: the same client repeats on a new connection.
    let mut repeat = visitor().await;
    let (again, again_token) = repeat.start_chat(mid("start-1"), form(None)).await;
    assert_eq!(again, session);
    // With a fresh token that replaces the first (the server keeps only hashes, so it
    // cannot hand out the first again).
    assert_ne!(again_token, token);
    let resume = |token: &interact_sdk::ids::ResumeToken| Resume {
        session: session.clone(),
        token: token.clone(),
        last_seq: Seq(0),
    };
    let mut old = visitor_conn(&server, &code).await;
    let refused = old.hello(Some(resume(&token))).await;
    assert!(
        matches!(&refused, ServerFrame::Error(e) if e.code == ErrorCode::InvalidResume),
        "{refused:?}"
    );
    interact_testkit::resume_visitor(server.addr, code.as_str(), &session, &again_token, Seq(0))
        .await;
    // Someone else, same address, same id, another form.
    let mut other = form(None);
    other.display_name = "Otto Other".into();
    other.email = "otto@example.com".into();
    let mut stranger = visitor().await;
    let (theirs, their_token) = stranger.start_chat(mid("start-1"), other).await;
    assert_ne!(theirs, session);
    assert_ne!(their_token, token);
    // And the first visitor's repeat still finds theirs.
    let mut late = visitor().await;
    assert_eq!(late.start_chat(mid("start-1"), form(None)).await.0, session);
    server.stop().await;
}

/// A visitor connection without a session may not send session frames (`not_allowed`);
/// one with a session may not name another (`unknown_session`).
#[tokio::test]
async fn session_frames_need_the_connections_own_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    let mut v = visitor_conn(&server, &code).await;
    v.hello(None).await;
    v.send(&ClientFrame::Send {
        session: None,
        id: mid("m-early"),
        text: "hello?".into(),
        after: None,
    })
    .await;
    let e = v.recv().await;
    assert!(
        matches!(&e, ServerFrame::Error(e) if e.code == ErrorCode::NotAllowed && e.id == Some(mid("m-early"))),
        "{e:?}"
    );
    let (session, _) = v.start_chat(mid("start-1"), form(None)).await;
    let other = SessionId::new("s0000000000000000000000000000000a").expect("valid");
    assert_ne!(other, session);
    v.send(&ClientFrame::Send {
        session: Some(other),
        id: mid("m-2"),
        text: "hi".into(),
        after: None,
    })
    .await;
    let frames = v.recv_until(|f| matches!(f, ServerFrame::Error(_))).await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Error(e)) if e.code == ErrorCode::UnknownSession),
        "{frames:?}"
    );
    server.stop().await;
}

/// A visitor connection that said hello.
async fn visitor_conn(
    server: &TestServer,
    code: &interact_sdk::embed::EmbedCode,
) -> interact_testkit::Client {
    connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed")
}

/// The host page's context (page address, attributes) travels in `start_chat`, is stored
/// in the session's `started` event (so it is there after a restart), and a context over
/// the protocol's bounds is refused with a clear `invalid_field`, starting nothing.
#[tokio::test]
async fn a_chat_context_is_stored_in_started_and_an_oversize_one_is_refused() {
    use interact_sdk::context::ChatContext;
    use interact_sdk::limits::{
        MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES,
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start(config(dir.path())).await;
    let code = server.embed_code(support()).await;
    let _agent = server.available_agent("alex").await;
    let mut v = visitor_conn(&server, &code).await;
    v.hello(None).await;

    let at_most = ChatContext {
        page_url: Some("https://shop.example/cart?item=kettle".into()),
        attributes: (0..MAX_ATTRIBUTES)
            .map(|i| {
                let key = format!("{i:0>width$}", width = MAX_ATTRIBUTE_KEY_CHARS);
                (key, "<b>ü</b>".repeat(MAX_ATTRIBUTE_VALUE_CHARS / 8))
            })
            .collect(),
    };
    let mut too_many = at_most.clone();
    too_many.attributes.insert("one more".into(), "v".into());
    let mut long_key = at_most.clone();
    long_key.attributes.pop_first();
    long_key
        .attributes
        .insert("k".repeat(MAX_ATTRIBUTE_KEY_CHARS + 1), "v".into());
    let mut long_value = at_most.clone();
    long_value
        .attributes
        .insert("plan".into(), "v".repeat(MAX_ATTRIBUTE_VALUE_CHARS + 1));
    long_value.attributes.pop_first();
    let mut script_url = at_most.clone();
    script_url.page_url = Some("javascript:alert(1)".into());
    for (i, (context, why)) in [
        (too_many, "more than 20 attributes"),
        (long_key, "longer than 40 characters"),
        (long_value, "longer than 200 characters"),
        (script_url, "page address"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = mid(&format!("ctx-{i}"));
        v.send(&ClientFrame::StartChat {
            id: id.clone(),
            form: form(None),
            call: None,
            context: Some(context),
        })
        .await;
        let ServerFrame::Error(e) = v.recv().await else {
            panic!("an error expected for {why}")
        };
        assert_eq!(e.code, ErrorCode::InvalidField, "{why}");
        assert_eq!(e.id, Some(id));
        assert!(!e.fatal);
        assert!(
            e.message.starts_with("the context is invalid: ") && e.message.contains(why),
            "{why}: {}",
            e.message
        );
    }
    assert!(
        server
            .state
            .store
            .open_sessions()
            .await
            .expect("sessions")
            .is_empty(),
        "a refused context starts nothing"
    );

    // At the bounds: stored in `started`, and still there after a restart.
    v.send(&ClientFrame::StartChat {
        id: mid("ctx-ok"),
        form: form(None),
        call: None,
        context: Some(at_most.clone()),
    })
    .await;
    let started = v
        .recv_until(|f| matches!(f, ServerFrame::SessionStarted { .. }))
        .await;
    let Some(ServerFrame::SessionStarted { session, .. }) = started.last() else {
        unreachable!()
    };
    let session = session.clone();
    let context_of = |events: Vec<interact_sdk::protocol::EventFrame>| match &events[0].event {
        SessionEvent::Started { context, .. } => context.clone().map(|c| *c),
        other => panic!("started expected first: {other:?}"),
    };
    let stored = server.state.store.events(&session).await.expect("events");
    assert_eq!(context_of(stored), Some(at_most.clone()));
    drop(v);
    server.restart().await;
    let stored = server.state.store.events(&session).await.expect("events");
    assert_eq!(context_of(stored), Some(at_most));
    server.stop().await;
}
