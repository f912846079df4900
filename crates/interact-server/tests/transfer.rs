//! An agent's transfer of a session over real WebSockets: to a service, whose workflow
//! greets the visitor and queues the session for its own agent, who gets the whole
//! transcript while the first agent hears no more of it; to a user directly (a chat), kept
//! across a restart; refused for a call to a user, for a session that is not the agent's,
//! and for unknown or pointless targets. The report shows both legs.

use interact_model::TargetRef;
use interact_report::{Outcome, ReportFilter};
use interact_sdk::config::TargetKind;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{CallId, Seq, SessionId, TargetId};
use interact_sdk::protocol::{
    CallMedia, CallSignal, ClientFrame, ErrorCode, ErrorFrame, Party, ServerFrame, SessionEvent,
    TransferTarget,
};
use interact_server::config::Config;

use interact_testkit::{ALLOWED, Client, DEMO, TestServer, connect_visitor, mid};

/// Sales, Sam's only, with a workflow that greets and queues.
const SALES_IM: &str = r#"
[[workflow]]
name = "sales-im"

[[workflow.step]]
label = "greet"
activity = "message"
text = "Welcome to Sales, {{visitor_name}}."

[[workflow.step]]
label = "queue"
activity = "queue_task"

[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 600

[[workflow.step]]
label = "give_up"
activity = "disconnect"
outcome = "no_agent"
"#;

/// The demo, with Sales for Sam and its workflow.
fn config(dir: &std::path::Path) -> Config {
    let sales = "modalities = [\"chat\"]\nmembers = [\"alex\"]\n";
    assert!(DEMO.contains(sales), "the demo's Sales");
    let text = DEMO.replace(
        sales,
        "modalities = [\"chat\"]\nmembers = [\"sam\"]\nworkflow = \"sales-im\"\n",
    ) + SALES_IM;
    interact_testkit::config_from(&text, dir)
}

fn form() -> PreChatForm {
    PreChatForm {
        display_name: "Vera".into(),
        email: "vera@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("My invoice is wrong.".into()),
    }
}

fn to(kind: TargetKind, id: &str) -> TransferTarget {
    TransferTarget {
        kind,
        id: TargetId::new(id).expect("valid"),
    }
}

fn transfer(session: &SessionId, to: TransferTarget) -> ClientFrame {
    ClientFrame::Transfer {
        session: session.clone(),
        to,
    }
}

fn event_of<'a>(f: &'a ServerFrame, session: &SessionId) -> Option<&'a SessionEvent> {
    match f {
        ServerFrame::Event(e) if &e.session == session => Some(&e.event),
        _ => None,
    }
}

fn error(f: &ServerFrame) -> Option<&ErrorFrame> {
    match f {
        ServerFrame::Error(e) => Some(e),
        _ => None,
    }
}

/// A visitor of `code` with a chat started; its session.
async fn visitor(server: &TestServer, code: &str) -> (Client, SessionId) {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed")
        .named("visitor");
    v.hello(None).await;
    let (session, _) = v.start_chat(mid("start-1"), form()).await;
    (v, session)
}

/// `agent` accepts the offer of `session` and reads its transcript: the events replayed.
async fn accept(agent: &mut Client, session: &SessionId) -> Vec<ServerFrame> {
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if &o.session == session))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    agent
        .recv_until(|f| matches!(f, ServerFrame::Replayed { session: s, through, head } if s == session && through == head))
        .await
}

/// The error the next frames of `agent` bring.
async fn refused(agent: &mut Client) -> ErrorFrame {
    let frames = agent.recv_until(|f| error(f).is_some()).await;
    error(frames.last().expect("a frame"))
        .cloned()
        .expect("an error")
}

#[tokio::test]
async fn a_chat_transferred_to_a_service_goes_through_its_workflow_to_its_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut alex = server.available_agent("alex").await.named("alex");
    let (mut visitor, session) = visitor(&server, code.as_str()).await;
    accept(&mut alex, &session).await;
    alex.send(&ClientFrame::Send {
        session: Some(session.clone()),
        id: mid("a1"),
        text: "Let me pass you to Sales.".into(),
        after: None,
    })
    .await;
    visitor
        .recv_until(|f| {
            matches!(
                event_of(f, &session),
                Some(SessionEvent::Message {
                    from: Party::Agent,
                    ..
                })
            )
        })
        .await;
    let mut sam = server.available_agent("sam").await.named("sam");

    alex.send(&transfer(&session, to(TargetKind::Service, "sales")))
        .await;
    // Alex is told, in order, and the session is over for them.
    let frames = alex
        .recv_until(|f| matches!(event_of(f, &session), Some(SessionEvent::AgentLeft { .. })))
        .await;
    let told: Vec<_> = frames
        .iter()
        .filter_map(|f| event_of(f, &session))
        .collect();
    match told.as_slice() {
        [
            ..,
            SessionEvent::Transferred {
                by: Some(by),
                from,
                to,
            },
            SessionEvent::AgentLeft { agent },
        ] => {
            assert_eq!((by.id.as_str(), agent.id.as_str()), ("alex", "alex"));
            assert_eq!(
                (from.id.as_str(), from.display_name.as_str()),
                ("support", "Customer Care")
            );
            assert_eq!(
                (to.id.as_str(), to.display_name.as_str()),
                ("sales", "Sales")
            );
            assert_eq!(to.kind, TargetKind::Service);
        }
        other => panic!("alex was told {other:?}"),
    }

    // The visitor: the transfer, then Sales' workflow greets and queues.
    let frames = visitor
        .recv_until(|f| matches!(event_of(f, &session), Some(SessionEvent::Queued { .. })))
        .await;
    let kinds: Vec<_> = frames
        .iter()
        .filter_map(|f| event_of(f, &session))
        .map(|e| match e {
            SessionEvent::Transferred { .. } => "transferred".to_owned(),
            SessionEvent::AgentLeft { .. } => "agent_left".to_owned(),
            SessionEvent::Message {
                from: Party::System,
                text,
                author,
                ..
            } => {
                format!("{}: {text}", author.as_deref().unwrap_or_default())
            }
            SessionEvent::Queued { .. } => "queued".to_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "transferred",
            "agent_left",
            "Sales: Welcome to Sales, Vera.",
            "queued"
        ]
    );

    // Sam, of Sales, gets the offer, and on accepting the whole transcript from seq 1.
    let frames = sam
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!()
    };
    assert_eq!(offer.target.display_name, "Sales");
    assert_eq!(offer.first_message.as_deref(), Some("My invoice is wrong."));
    sam.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    let frames = sam
        .recv_until(|f| matches!(f, ServerFrame::Replayed { session: s, through, head } if s == &session && through == head))
        .await;
    let seqs = interact_testkit::event_seqs(&frames, &session);
    assert_eq!(seqs.first(), Some(&Seq(1)));
    assert!(seqs.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{seqs:?}");
    let transcript: Vec<_> = frames
        .iter()
        .filter_map(|f| event_of(f, &session))
        .collect();
    assert!(matches!(transcript[0], SessionEvent::Started { .. }));
    let texts: Vec<&str> = transcript
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Message { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(texts.contains(&"My invoice is wrong."), "{texts:?}");
    assert!(texts.contains(&"Let me pass you to Sales."), "{texts:?}");
    assert!(
        matches!(transcript.last(), Some(SessionEvent::AgentJoined { agent }) if agent.id.as_str() == "sam")
    );

    // The visitor writes: Sam reads it, Alex no longer hears of the session.
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v2"),
            text: "Thanks!".into(),
            after: None,
        })
        .await;
    sam.recv_until(|f| matches!(event_of(f, &session), Some(SessionEvent::Message { text, .. }) if text == "Thanks!"))
        .await;
    let late = alex.recv_for(300).await;
    assert!(
        late.iter().all(|f| event_of(f, &session).is_none()),
        "alex heard {late:?}"
    );
    // Alex may transfer it no more, nor write in it.
    alex.send(&transfer(&session, to(TargetKind::Service, "support")))
        .await;
    let e = refused(&mut alex).await;
    assert_eq!(
        (e.code, e.session.as_ref()),
        (ErrorCode::NotAllowed, Some(&session))
    );
    alex.send(&ClientFrame::Send {
        session: Some(session.clone()),
        id: mid("a2"),
        text: "still here?".into(),
        after: None,
    })
    .await;
    assert_eq!(refused(&mut alex).await.code, ErrorCode::UnknownSession);

    // The store has it for Sales without an agent until Sam took it.
    let record = server
        .state
        .store
        .session(&session)
        .await
        .expect("read")
        .expect("the session");
    assert_eq!(record.target, TargetRef::Service("sales".into()));
    assert_eq!(record.agent_id.as_ref().map(|a| a.as_str()), Some("sam"));

    // Sam ends it; the report has both legs.
    sam.send(&ClientFrame::End {
        session: Some(session.clone()),
    })
    .await;
    visitor
        .recv_until(|f| matches!(event_of(f, &session), Some(SessionEvent::Ended { .. })))
        .await;
    let reports =
        interact_store::session_reports(server.state.store.as_ref(), &ReportFilter::default())
            .await
            .expect("the report");
    let [report] = reports.as_slice() else {
        panic!("one session: {reports:?}")
    };
    assert_eq!(report.transfers, 1);
    assert_eq!(report.outcome, Some(Outcome::Transferred));
    assert_eq!(report.target, "sales");
    let legs: Vec<_> = report
        .legs
        .iter()
        .map(|l| {
            (
                l.target.as_str(),
                l.agent.as_ref().map(|a| a.as_str()),
                l.outcome,
                l.accepted_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            ("support", Some("alex"), Some(Outcome::Transferred), true),
            ("sales", Some("sam"), Some(Outcome::Handled), true),
        ]
    );
    assert_eq!(report.legs[0].ended_at, Some(report.legs[1].started_at));
    // The workflow path has both runs' steps: Customer Care's, then Sales' from its first.
    let path = &report.workflow_path;
    let greets: Vec<usize> = (0..path.len()).filter(|&i| path[i] == "greet").collect();
    assert_eq!(greets.len(), 2, "{path:?}");
    assert_eq!(path[greets[1]..][..2], ["greet", "queue"], "{path:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_chat_goes_to_a_user_and_a_restart_keeps_its_new_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut alex = server.available_agent("alex").await.named("alex");
    let (mut visitor, session) = visitor(&server, code.as_str()).await;
    accept(&mut alex, &session).await;

    // Refused: nowhere, to where it is, to oneself; the session stays with Alex.
    for (target, code) in [
        (to(TargetKind::Service, "nowhere"), ErrorCode::InvalidField),
        (to(TargetKind::User, "nobody"), ErrorCode::InvalidField),
        (to(TargetKind::Service, "support"), ErrorCode::NotAllowed),
        (to(TargetKind::User, "alex"), ErrorCode::NotAllowed),
        (to(TargetKind::User, "dana"), ErrorCode::NotAllowed),
    ] {
        alex.send(&transfer(&session, target.clone())).await;
        let e = refused(&mut alex).await;
        assert_eq!(
            (e.code, e.session.as_ref()),
            (code, Some(&session)),
            "{target:?}"
        );
    }

    // To Sam, directly (Sam is not signed in yet).
    alex.send(&transfer(&session, to(TargetKind::User, "sam")))
        .await;
    let frames = visitor
        .recv_until(|f| matches!(event_of(f, &session), Some(SessionEvent::AgentLeft { .. })))
        .await;
    assert!(frames.iter().any(|f| matches!(
        event_of(f, &session),
        Some(SessionEvent::Transferred { to, .. }) if to.kind == TargetKind::User && to.display_name == "Sam Support"
    )));
    // Stored just after the events were sent.
    let mut stored = None;
    for _ in 0..100 {
        let record = server
            .state
            .store
            .session(&session)
            .await
            .expect("read")
            .expect("the session");
        stored = Some((record.target, record.agent_id));
        if stored == Some((TargetRef::User("sam".into()), None)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored, Some((TargetRef::User("sam".into()), None)));

    // A restart: the session waits for Sam, who gets the offer as a direct contact.
    drop(alex);
    drop(visitor);
    server.restart().await;
    let mut sam = server.available_agent("sam").await.named("sam");
    let frames = sam
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == session))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!()
    };
    assert_eq!(
        (offer.target.kind, offer.target.display_name.as_str()),
        (TargetKind::User, "Sam Support")
    );
    sam.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    let transcript = sam
        .recv_until(|f| matches!(f, ServerFrame::Replayed { session: s, through, head } if s == &session && through == head))
        .await;
    assert_eq!(
        interact_testkit::event_seqs(&transcript, &session).first(),
        Some(&Seq(1))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_call_is_transferred_to_services_only_and_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut alex = server.available_agent("alex").await.named("alex");
    let (mut visitor, session) = visitor(&server, code.as_str()).await;
    accept(&mut alex, &session).await;
    let call = CallId::new("c-1").expect("valid");
    visitor
        .send(&ClientFrame::Call {
            session: None,
            signal: CallSignal::Start {
                call: call.clone(),
                media: CallMedia::Audio,
            },
        })
        .await;
    alex.recv_until(|f| {
        matches!(
            event_of(f, &session),
            Some(SessionEvent::Call {
                signal: CallSignal::Start { .. },
                ..
            })
        )
    })
    .await;
    alex.send(&ClientFrame::Call {
        session: Some(session.clone()),
        signal: CallSignal::Accept { call: call.clone() },
    })
    .await;
    visitor
        .recv_until(|f| {
            matches!(
                event_of(f, &session),
                Some(SessionEvent::Call {
                    signal: CallSignal::Accept { .. },
                    ..
                })
            )
        })
        .await;

    alex.send(&transfer(&session, to(TargetKind::User, "sam")))
        .await;
    let e = refused(&mut alex).await;
    assert_eq!(e.code, ErrorCode::NotAllowed);
    assert_eq!(e.message, "calls are transferred to services only");

    // To a service it goes, and the call ends with Alex's leaving.
    alex.send(&transfer(&session, to(TargetKind::Service, "sales")))
        .await;
    visitor
        .recv_until(|f| matches!(event_of(f, &session), Some(SessionEvent::AgentLeft { .. })))
        .await;
    let live = server.state.hub.session(&session).expect("in memory");
    assert!(!live.lock().await.log.in_call());
    // Alex is free for other work: a new chat of Customer Care is offered to them.
    let (_other, second) = visitor_again(&server, code.as_str()).await;
    alex.recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == second))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn the_transfer_targets_are_the_services_and_the_people_who_take_chats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(config(dir.path())).await;
    let token = server.agent_token("alex").await;
    let _alex = server.available_agent("alex").await;
    let path = "/v1/agent/transfer-targets";
    let bearer = format!("Bearer {token}");
    let (status, body) =
        interact_testkit::http_request(server.addr, "GET", path, &[("Authorization", &bearer)], "")
            .await;
    assert_eq!(status, 200, "{body}");
    let targets: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        targets,
        serde_json::json!({
            "services": [
                {"id": "sales", "display_name": "Sales", "available": 0},
                {"id": "support", "display_name": "Customer Care", "available": 1},
            ],
            // Not Alex (who asks), not Dana (who takes no chats).
            "users": [{"id": "sam", "display_name": "Sam Support", "available": false}],
        })
    );
    for auth in [None, Some("Bearer not-a-token")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let (status, _) =
            interact_testkit::http_request(server.addr, "GET", path, &headers, "").await;
        assert_eq!(status, 401, "{auth:?}");
    }
    server.stop().await;
}

/// A second visitor of `code` with a chat started.
async fn visitor_again(server: &TestServer, code: &str) -> (Client, SessionId) {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed")
        .named("second visitor");
    v.hello(None).await;
    let (session, _) = v.start_chat(mid("start-2"), form()).await;
    (v, session)
}
