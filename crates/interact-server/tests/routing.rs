//! Distribution on a real listener: an offer that is not answered in time goes to the
//! next agent and sets the first one away, a decline moves it on, and a chat does not
//! block an agent while the chat limit does.
//!
//! The rules themselves are tested on a virtual clock in `src/routing/tests.rs`; this
//! checks that the server carries them out over WebSockets.

use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::{ClientFrame, Presence, ServerFrame, SessionEvent};
use interact_testkit::{ALLOWED, Client, TestServer, config, connect_visitor, mid};

fn form(name: &str) -> PreChatForm {
    PreChatForm {
        display_name: name.into(),
        email: "v@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    }
}

/// A visitor of `support` who has started a chat.
async fn visitor(server: &TestServer, code: &str, name: &str) -> (Client, SessionId) {
    let mut v = connect_visitor(server.addr, code, Some(ALLOWED))
        .await
        .expect("allowed origin");
    v.hello(None).await;
    let (session, _) = v
        .start_chat(mid(&format!("start-{name}")), form(name))
        .await;
    (v, session)
}

/// A server whose services queue plainly (no workflow in between), with `limits`
/// adjusted, and an embed code for `support`.
async fn support_without_workflow(
    dir: &std::path::Path,
    limits: impl FnOnce(&mut interact_server::config::LimitsSection),
) -> (TestServer, interact_sdk::embed::EmbedCode) {
    let mut c = config(dir);
    limits(&mut c.limits);
    for s in &mut c.services {
        s.workflow = None;
    }
    let server = TestServer::start(c).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    (server, code)
}

async fn offered(agent: &mut Client) -> SessionId {
    let frames = agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    match frames.last() {
        Some(ServerFrame::Offer(o)) => o.session.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_missed_offer_moves_on_and_sets_the_agent_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, code) = support_without_workflow(dir.path(), |limits| {
        limits.offer_timeout_secs = 1;
        limits.missed_offers_before_away = 1;
    })
    .await;
    let mut alex = server.available_agent("alex").await;
    let mut sam = server.available_agent("sam").await;

    let (mut v, session) = visitor(&server, code.as_str(), "Vic").await;
    // alex has been available longest.
    assert_eq!(offered(&mut alex).await, session);
    // alex lets it lapse: the offer is withdrawn, alex is set away, sam gets it.
    let frames = alex
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Presence {
                    presence: Presence::Away
                }
            )
        })
        .await;
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::OfferWithdrawn { session: s } if *s == session)),
        "{frames:?}"
    );
    assert_eq!(offered(&mut sam).await, session);
    // sam declines: everyone has had it, alex is away, so it waits.
    sam.send(&ClientFrame::Decline {
        session: session.clone(),
    })
    .await;
    // alex comes back and gets it again, accepts, and the visitor sees them join.
    alex.send(&ClientFrame::SetPresence {
        presence: Presence::Available,
    })
    .await;
    assert_eq!(offered(&mut alex).await, session);
    alex.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    v.recv_until(|f| {
        matches!(
            f,
            ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })
        )
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn chats_do_not_block_up_to_the_limit_and_the_queue_counts_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, code) =
        support_without_workflow(dir.path(), |limits| limits.max_chats_per_agent = 2).await;
    let mut alex = server.available_agent("alex").await;

    // Two chats at once: both offered to alex and accepted.
    let mut held = Vec::new();
    for name in ["One", "Two"] {
        let (_v, session) = visitor(&server, code.as_str(), name).await;
        assert_eq!(offered(&mut alex).await, session);
        alex.send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
        held.push(session);
    }
    // The third waits at position 1, the fourth at 2, although alex is available.
    let (mut third, s3) = visitor(&server, code.as_str(), "Three").await;
    let (mut fourth, s4) = visitor(&server, code.as_str(), "Four").await;
    let position = |p: u32| move |f: &ServerFrame| matches!(f, ServerFrame::Event(e) if e.event == SessionEvent::Queued { position: p });
    third.recv_until(position(1)).await;
    fourth.recv_until(position(2)).await;
    // alex ends a chat: the third is offered and accepted, the fourth moves up.
    alex.send(&ClientFrame::End {
        session: Some(held[0].clone()),
    })
    .await;
    assert_eq!(offered(&mut alex).await, s3);
    alex.send(&ClientFrame::Accept {
        session: s3.clone(),
    })
    .await;
    fourth.recv_until(position(1)).await;
    alex.send(&ClientFrame::End {
        session: Some(held[1].clone()),
    })
    .await;
    assert_eq!(offered(&mut alex).await, s4);
    server.stop().await;
}
