//! Kill the server process mid-chat (SIGKILL, no shutdown), start it again on the same
//! database: the visitor and the agent resume, and no acknowledged message is lost or
//! delivered twice.

use std::time::Duration;

use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::protocol::{
    AgentHello, ClientFrame, PROTOCOL_VERSION, Party, Presence, Resume, ServerFrame, SessionEvent,
};
use interact_testkit::{
    ALLOWED, DEMO_CODE, ServerProcess, agent_token, connect_agent, connect_visitor, mid,
    process_config, write_config,
};

/// The server binary under test.
const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

fn messages(frames: &[ServerFrame]) -> Vec<(Seq, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) => match &e.event {
                SessionEvent::Message { text, .. } => Some((e.seq, text.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn kill_and_restart_mid_chat_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &process_config(""));
    let mut server = ServerProcess::start(SERVER, &config).await;
    let addr = server.addr;

    // An agent token, written to the same database file the server uses.
    let store = server.store().await;
    let token = agent_token(store.as_ref(), "alex", Duration::from_secs(3600)).await;

    let mut agent = connect_agent(addr).await;
    agent.agent_hello(&token).await;
    agent
        .send(&ClientFrame::SetPresence {
            presence: Presence::Available,
        })
        .await;

    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("admitted");
    visitor.hello(None).await;
    let form = interact_sdk::form::PreChatForm {
        display_name: "Rita Restart".into(),
        email: "rita@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    };
    visitor
        .send(&ClientFrame::StartChat {
            context: None,
            id: mid("start"),
            form,
            call: None,
        })
        .await;
    let frames = visitor
        .recv_until(|f| matches!(f, ServerFrame::SessionStarted { .. }))
        .await;
    let Some(ServerFrame::SessionStarted {
        session,
        resume_token,
        ..
    }) = frames.last().cloned()
    else {
        unreachable!()
    };
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    let mut visitor_seen = visitor
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })))
        .await;
    let mut agent_seen = agent
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })))
        .await;

    // Visitor messages, each acknowledged (so stored).
    for i in 0..3 {
        visitor
            .send(&ClientFrame::Send {
                session: None,
                id: mid(&format!("v{i}")),
                text: format!("visitor {i}"),
                after: None,
            })
            .await;
        visitor_seen.extend(
            visitor
                .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
                .await,
        );
    }
    agent_seen.extend(
        agent
            .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { text, .. } if text == "visitor 2")))
            .await,
    );
    // The agent answers; the visitor only sees the first answer before the crash.
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a0"),
            text: "agent 0".into(),
            after: None,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    visitor_seen.extend(
        visitor
            .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { from: Party::Agent, .. })))
            .await,
    );
    let visitor_last = visitor_seen
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) => Some(e.seq),
            _ => None,
        })
        .max()
        .expect("events");
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: mid("a1"),
            text: "agent 1".into(),
            after: None,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    let agent_last = agent_seen
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) => Some(e.seq),
            _ => None,
        })
        .max()
        .expect("events");

    // SIGKILL: no shutdown, no flush beyond what was committed.
    server.restart().await;

    // The visitor resumes from what it processed: exactly the missed events, in order.
    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("admitted");
    let welcome = visitor
        .hello(Some(Resume {
            session: session.clone(),
            token: resume_token,
            last_seq: visitor_last,
        }))
        .await;
    let ServerFrame::Welcome {
        session: Some(info),
        ..
    } = welcome
    else {
        panic!("resumed welcome")
    };
    let replay = visitor
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if e.seq == info.head))
        .await;
    let seqs = interact_testkit::event_seqs(&replay, &session);
    assert_eq!(
        seqs,
        ((visitor_last.0 + 1)..=info.head.0)
            .map(Seq)
            .collect::<Vec<_>>()
    );
    assert!(
        messages(&replay).iter().any(|(_, t)| t == "agent 1"),
        "the message after the visitor's last seen"
    );

    // The agent reconnects with its resume map and gets what it missed.
    let mut agent = connect_agent(addr).await;
    agent
        .send(&ClientFrame::AgentHello(AgentHello {
            protocol: PROTOCOL_VERSION,
            token: token.clone(),
            client: None,
            resume: [(session.clone(), agent_last)].into_iter().collect(),
        }))
        .await;
    let frames = agent
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if e.seq == info.head))
        .await;
    assert_eq!(
        interact_testkit::event_seqs(&frames, &session),
        ((agent_last.0 + 1)..=info.head.0)
            .map(Seq)
            .collect::<Vec<_>>()
    );

    // The chat goes on; a resend of a message stored before the crash is not stored twice.
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v2"),
            text: "visitor 2".into(),
            after: None,
        })
        .await;
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v3"),
            text: "after restart".into(),
            after: None,
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { text, .. } if text == "after restart")))
        .await;
    let stored = store.events(&session).await.expect("events");
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "no gaps"
    );
    let mut texts: Vec<String> = messages(
        &stored
            .iter()
            .cloned()
            .map(ServerFrame::Event)
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .map(|(_, t)| t)
    .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            // The demo service's workflow greets the visitor.
            "Hello Rita Restart, thank you for contacting Customer Care.",
            "after restart",
            "agent 0",
            "agent 1",
            "visitor 0",
            "visitor 1",
            "visitor 2"
        ]
    );
    let _: &SessionId = &session;
    drop(server);
}

/// The server is killed (SIGKILL) after a chat's start was stored but before the visitor
/// read the answer; after the restart the visitor repeats its `start_chat`, as the
/// protocol says, and gets the same session, with a token that works. No second session
/// is made.
#[tokio::test]
async fn a_start_chat_repeated_after_a_crash_gets_the_same_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &process_config(""));
    let mut server = ServerProcess::start(SERVER, &config).await;
    let addr = server.addr;
    let store = server.store().await;
    let form = interact_sdk::form::PreChatForm {
        display_name: "Cora Crash".into(),
        email: "cora@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Are you there?".into()),
    };
    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("admitted");
    visitor.hello(None).await;
    visitor
        .send(&ClientFrame::StartChat {
            context: None,
            id: mid("start-crash"),
            form: form.clone(),
            call: None,
        })
        .await;
    // Stored, but the answer is never read: the crash comes first.
    let stored = loop {
        let open = store.open_sessions().await.expect("sessions");
        if let [s] = &open[..] {
            break s.id.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    server.restart().await;
    drop(visitor);

    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("admitted");
    visitor.hello(None).await;
    let (session, token) = visitor.start_chat(mid("start-crash"), form).await;
    assert_eq!(session, stored, "the same session");
    assert_eq!(store.open_sessions().await.expect("sessions").len(), 1);
    // Its first message is there once, and the new token resumes it.
    let frames = visitor
        .recv_until(|f| matches!(f, ServerFrame::Replayed { .. }))
        .await;
    let firsts = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Message { text, .. } if text == "Are you there?")))
        .count();
    assert_eq!(firsts, 1);
    drop(visitor);
    interact_testkit::resume_visitor(addr, DEMO_CODE, &session, &token, Seq(0)).await;
    drop(server);
}

/// The process configuration with the support service's workflow replaced by `steps`
/// (TOML `[[step]]` tables of a workflow named "crash").
fn with_workflow(steps: &str) -> toml::Table {
    let mut cfg = process_config("");
    interact_testkit::with_workflow(&mut cfg, "crash", steps);
    cfg
}

/// The service's messages stored in `session`, in order.
async fn system_messages(store: &dyn interact_store::Store, session: &SessionId) -> Vec<String> {
    store
        .events(session)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.event {
            SessionEvent::Message {
                from: Party::System,
                text,
                ..
            } => Some(text),
            _ => None,
        })
        .collect()
}

/// Waits until the service's messages in `session` end with `last`.
async fn until_said(
    store: &dyn interact_store::Store,
    session: &SessionId,
    last: &str,
) -> Vec<String> {
    let since = std::time::Instant::now();
    loop {
        let said = system_messages(store, session).await;
        if said.last().is_some_and(|l| l == last) {
            return said;
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "{last:?} never came; the service said {said:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A visitor's chat with the support service, started; the connection stays open.
async fn chat(addr: std::net::SocketAddr, name: &str) -> (interact_testkit::Client, SessionId) {
    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("admitted");
    visitor.hello(None).await;
    let form = interact_sdk::form::PreChatForm {
        display_name: name.into(),
        email: "crash@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    };
    let (session, _) = visitor.start_chat(mid("start-crash"), form).await;
    (visitor, session)
}

/// The server aborts right after a workflow step's message is stored, before the run's
/// state after it is: after the restart the run carries out what was left of that input
/// (the message is not sent twice, the rest is sent once, the chat is queued).
#[tokio::test]
async fn a_crash_between_a_workflow_message_and_the_run_state_repeats_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &with_workflow(
            r#"
            [[step]]
            activity = "message"
            text = "Hello."
            [[step]]
            activity = "delay"
            seconds = 1
            [[step]]
            activity = "message"
            text = "Thanks for waiting."
            [[step]]
            activity = "message"
            text = "You are in the queue now."
            [[step]]
            activity = "queue_task"
            [[step]]
            label = "wait"
            activity = "delay"
            seconds = 600
            next = "wait"
            "#,
        ),
    );
    // The greeting is stored with the session (no crash point): the first message the
    // run stores itself is the one after the timer.
    let mut server =
        ServerProcess::start_crashing_at(SERVER, &config, "workflow.message_stored:1").await;
    let store = server.store().await;
    let (visitor, session) = chat(server.addr, "Wanda Wait").await;
    server.crashed(Duration::from_secs(15)).await;
    drop(visitor);
    assert_eq!(
        system_messages(store.as_ref(), &session).await,
        ["Hello.", "Thanks for waiting."],
        "the crash came right after the second message was stored"
    );

    server.restart().await;
    let said = until_said(store.as_ref(), &session, "You are in the queue now.").await;
    assert_eq!(
        said,
        ["Hello.", "Thanks for waiting.", "You are in the queue now."]
    );
    // Queued: an agent who becomes available is offered the chat.
    let token = agent_token(store.as_ref(), "alex", Duration::from_secs(3600)).await;
    let mut agent =
        interact_testkit::available_agent(connect_agent(server.addr).await, &token).await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(system_messages(store.as_ref(), &session).await.len(), 3);
}

/// The server aborts right after a visitor's answer is stored, before the workflow run
/// heard it: after the restart the run hears it and goes on with it.
#[tokio::test]
async fn a_crash_before_the_workflow_hears_the_visitor_loses_no_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &with_workflow(
            r#"
            [[step]]
            activity = "input_customer"
            question = "Sales or support?"
            choices = [{ answers = ["sales"], next = "sales" }, { answers = ["support"], next = "support" }]
            [[step]]
            label = "sales"
            activity = "message"
            text = "Sales it is."
            next = "queue"
            [[step]]
            label = "support"
            activity = "message"
            text = "Support it is."
            [[step]]
            label = "queue"
            activity = "queue_task"
            [[step]]
            label = "wait"
            activity = "delay"
            seconds = 600
            next = "wait"
            "#,
        ),
    );
    let mut server =
        ServerProcess::start_crashing_at(SERVER, &config, "session.visitor_message_stored").await;
    let store = server.store().await;
    let (mut visitor, session) = chat(server.addr, "Sam Sales").await;
    until_said(store.as_ref(), &session, "Sales or support?").await;
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("answer"),
            text: "Sales".into(),
            after: None,
        })
        .await;
    server.crashed(Duration::from_secs(15)).await;
    drop(visitor);
    assert_eq!(
        system_messages(store.as_ref(), &session).await,
        ["Sales or support?"]
    );

    server.restart().await;
    let said = until_said(store.as_ref(), &session, "Sales it is.").await;
    assert_eq!(said, ["Sales or support?", "Sales it is."]);
}

/// The server aborts right after the workflow's greeting to a WhatsApp customer is
/// stored, before its outbound piece is: after the restart the greeting goes out to
/// Twilio, once.
#[tokio::test]
async fn a_crash_before_a_whatsapp_reply_is_queued_still_sends_it_once() {
    use interact_testkit::twilio::{StandInTwilio, Webhook};
    let dir = tempfile::tempdir().expect("tempdir");
    // Twilio signs the URL it posts to: the public URL is the server's own address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut config = interact_testkit::process_config("");
    let server_table = config["server"].as_table_mut().expect("[server]");
    server_table.insert("listen".into(), format!("127.0.0.1:{port}").into());
    server_table.insert(
        "public_url".into(),
        format!("http://127.0.0.1:{port}").into(),
    );
    let mut web = toml::Table::new();
    web.insert("allow_private_addresses".into(), true.into());
    config.insert("web_requests".into(), web.into());
    // The token's file is a secret next to the configuration.
    let mut secrets = toml::Table::new();
    secrets.insert("dir".into(), ".".into());
    config.insert("secrets".into(), secrets.into());
    let config = write_config(dir.path(), &config);
    let twilio = StandInTwilio::start().await;
    let token = dir.path().join("twilio-token");
    std::fs::write(&token, &twilio.auth_token).expect("token file");

    let mut server =
        ServerProcess::start_crashing_at(SERVER, &config, "whatsapp.reply_stored").await;
    let store = server.store().await;
    // The connector, as the admin API stores it (read from the database at every use).
    let body = serde_json::json!({
        "account_sid": twilio.account_sid,
        "auth_token": "file:twilio-token",
        "sender": "+12025550123",
        "api_base": twilio.url(),
    })
    .to_string();
    store
        .put_config_item(&interact_store::ConfigItem {
            kind: "whatsapp".into(),
            name: "support".into(),
            body,
            updated_at: interact_server::clock::system_now(),
        })
        .await
        .expect("the connector");
    let webhook = format!("http://127.0.0.1:{port}/v1/whatsapp/support");
    let hello = twilio.inbound("+12025550188", "+12025550123", "Hello?");
    // The server dies while it answers.
    let _ = Webhook::signed(&webhook, &twilio.auth_token, hello.params())
        .try_send()
        .await;
    server.crashed(Duration::from_secs(15)).await;
    let open = store.open_sessions().await.expect("open");
    assert_eq!(open.len(), 1, "the customer's session is stored");
    let session = open[0].id.clone();
    assert_eq!(
        system_messages(store.as_ref(), &session).await.len(),
        1,
        "the greeting is stored"
    );
    assert!(
        store
            .session_outbound(&session)
            .await
            .expect("outbox")
            .is_empty(),
        "its piece is not"
    );
    assert!(twilio.created().is_empty());

    server.restart().await;
    let sent = twilio.wait_for_created(1).await;
    assert!(
        sent[0]
            .form_value("Body")
            .is_some_and(|b| b.contains("thank you for contacting Customer Care")),
        "{sent:?}"
    );
    assert_eq!(sent[0].form_value("To"), Some("whatsapp:+12025550188"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(twilio.created().len(), 1, "once");
    twilio.stop().await;
}

/// The server aborts right after an agent's transfer is stored as events, before the
/// session's new target is: after the restart the log's `transferred` says where the
/// session went, the record is mended, and the new target's agent is offered it.
#[tokio::test]
async fn a_crash_after_a_transfer_is_stored_still_sends_the_session_on() {
    use interact_sdk::config::TargetKind;
    use interact_sdk::ids::TargetId;
    use interact_sdk::protocol::TransferTarget;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &process_config(""));
    let mut server =
        ServerProcess::start_crashing_at(SERVER, &config, "transfer.events_stored").await;
    let store = server.store().await;
    let token = agent_token(store.as_ref(), "alex", Duration::from_secs(3600)).await;
    let mut alex = connect_agent(server.addr).await;
    alex.agent_hello(&token).await;
    alex.send(&ClientFrame::SetPresence {
        presence: Presence::Available,
    })
    .await;
    let (visitor, session) = chat(server.addr, "Tom Transfer").await;
    alex.recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
        .await;
    alex.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    alex.recv_until(|f| matches!(f, ServerFrame::Replayed { session: s, through, head } if *s == session && through == head))
        .await;
    alex.send(&ClientFrame::Transfer {
        session: session.clone(),
        to: TransferTarget {
            kind: TargetKind::User,
            id: TargetId::new("sam").expect("valid"),
        },
    })
    .await;
    server.crashed(Duration::from_secs(15)).await;
    drop((alex, visitor));
    let record = store
        .session(&session)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        record.target,
        interact_model::TargetRef::Service("support".into()),
        "the crash came before the new target was stored"
    );

    server.restart().await;
    let token = agent_token(store.as_ref(), "sam", Duration::from_secs(3600)).await;
    let mut sam = connect_agent(server.addr).await;
    sam.agent_hello(&token).await;
    sam.send(&ClientFrame::SetPresence {
        presence: Presence::Available,
    })
    .await;
    let frames = sam
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
        .await;
    assert!(
        matches!(frames.last(), Some(ServerFrame::Offer(o)) if o.target.display_name == "Sam Support"),
        "{frames:?}"
    );
    let record = store
        .session(&session)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (record.target, record.agent_id),
        (interact_model::TargetRef::User("sam".into()), None),
        "mended in the store"
    );
}
