//! Calls on a real listener: ICE servers with TURN credentials per session and per agent
//! (`ice_servers`), handed out only for a call; an agent in a call takes no other task
//! until the call ends, and the call is reported.

use std::time::Duration;

use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{CallId, SessionId};
use interact_sdk::protocol::{
    CallMedia, CallSignal, ClientFrame, HangupReason, IceServer, Party, Resume, ServerFrame,
    SessionEvent,
};
use interact_server::config::IceServerConfig;
use interact_testkit::{ALLOWED, Client, TestServer, config, connect_agent, connect_visitor, mid};

const TURN_SECRET: &str = "test-turn-secret";

fn form(name: &str) -> PreChatForm {
    PreChatForm {
        display_name: name.into(),
        email: "v@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    }
}

/// A server whose services queue plainly, alex may hold two chats (and is reachable
/// directly by chat only), and a STUN and a TURN server are configured.
async fn server(dir: &std::path::Path) -> TestServer {
    server_with_ttl(dir, 600).await
}

/// [`server`] with TURN credentials valid for `ttl` seconds.
async fn server_with_ttl(dir: &std::path::Path, ttl: u64) -> TestServer {
    let mut c = config(dir);
    for u in &mut c.users {
        if u.id == "alex" {
            u.modalities = vec![interact_sdk::modality::Modality::Chat];
        }
    }
    c.limits.max_chats_per_agent = 2;
    for s in &mut c.services {
        s.workflow = None;
    }
    c.ice.credential_ttl_secs = ttl;
    c.ice.servers = vec![
        IceServerConfig::new(vec!["stun:stun.example.com:3478".into()], None),
        IceServerConfig::new(
            vec!["turn:turn.example.com:3478?transport=udp".into()],
            Some(TURN_SECRET),
        ),
    ];
    TestServer::start(c).await
}

/// Embed codes of the support service (with calls) and of alex directly (chat only).
async fn codes(server: &TestServer) -> (EmbedCode, EmbedCode) {
    let support = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let chat_only = server.embed_code(TargetRef::User("alex".into())).await;
    (support, chat_only)
}

/// Checks an `ice_servers` frame made for `subject`.
fn assert_ice_for(frame: &ServerFrame, subject: &str) {
    let ServerFrame::IceServers {
        servers,
        expires_at,
    } = frame
    else {
        panic!("expected ice_servers, got {frame:?}");
    };
    let now = interact_server::clock::system_now().0;
    let expires = expires_at.expect("TURN credentials expire").0;
    assert!(
        (now + 590_000..=now + 600_000).contains(&expires),
        "{expires} is ten minutes after {now}"
    );
    assert_eq!(
        servers[0],
        IceServer {
            urls: vec!["stun:stun.example.com:3478".into()],
            username: None,
            credential: None,
        }
    );
    let turn = &servers[1];
    let username = turn.username.clone().expect("a TURN username");
    assert_eq!(username, format!("{}:{subject}", expires / 1000));
    assert_eq!(
        turn.credential.as_deref(),
        Some(interact_server::ice::turn_credential(TURN_SECRET.as_bytes(), &username).as_str())
    );
}

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

async fn offered(agent: &mut Client) -> SessionId {
    let frames = agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    match frames.last() {
        Some(ServerFrame::Offer(o)) => o.session.clone(),
        _ => unreachable!(),
    }
}

fn is_call(f: &ServerFrame, pred: impl Fn(&CallSignal) -> bool) -> bool {
    matches!(f, ServerFrame::Event(e) if matches!(&e.event, SessionEvent::Call { signal, .. } if pred(signal)))
}

/// No offer reaches `agent` within `ms`.
async fn no_offer_within(agent: &mut Client, ms: u64) {
    let waited = tokio::time::timeout(
        Duration::from_millis(ms),
        agent.recv_until(|f| matches!(f, ServerFrame::Offer(_))),
    )
    .await;
    assert!(waited.is_err(), "unexpected offer: {waited:?}");
}

/// No `ice_servers` frame among `frames`.
fn assert_no_ice(frames: &[ServerFrame], who: &str) {
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::IceServers { .. })),
        "{who} got TURN credentials without a call: {frames:?}"
    );
}

/// Alex takes Ann's chat; returns Ann's connection, the session and her resume token.
async fn chatting(
    server: &TestServer,
    alex: &mut Client,
    code: &EmbedCode,
) -> (Client, SessionId, interact_sdk::ids::ResumeToken) {
    let mut v = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed origin");
    v.hello(None).await;
    let (session, token) = v.start_chat(mid("start-Ann"), form("Ann")).await;
    assert_eq!(offered(alex).await, session);
    alex.send(&ClientFrame::Accept {
        session: session.clone(),
    })
    .await;
    let frames = v
        .recv_until(
            |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })),
        )
        .await;
    assert_no_ice(&frames, "the visitor of a chat");
    assert_no_ice(&alex.recv_for(300).await, "the agent of a chat");
    (v, session, token)
}

/// The visitor of `session` places a call; returns its id.
async fn place_call(v: &mut Client, n: u32) -> CallId {
    let call = CallId::new(format!("c-ann-{n}")).expect("valid");
    v.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Start {
            call: call.clone(),
            media: CallMedia::Audio,
        },
    })
    .await;
    call
}

/// The frames up to the `start` of a call, which must come right after `ice_servers`.
async fn ice_before_start(client: &mut Client, subject: &str) {
    let frames = client
        .recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Start { .. })))
        .await;
    let [.., ice, _start] = &frames[..] else {
        panic!("ice_servers before the call's start: {frames:?}");
    };
    assert_ice_for(ice, subject);
}

#[tokio::test]
async fn turn_credentials_are_handed_out_only_for_a_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path()).await;
    let (support, _) = codes(&server).await;

    // Signing in gets none; nor does a chat.
    let token = server.agent_token("alex").await;
    let mut alex = connect_agent(server.addr).await;
    assert!(matches!(
        alex.agent_hello(&token).await,
        ServerFrame::Welcome { .. }
    ));
    alex.send(&ClientFrame::SetPresence {
        presence: interact_sdk::protocol::Presence::Available,
    })
    .await;
    assert_no_ice(&alex.recv_for(300).await, "a signed-in agent");
    let (mut v, session, ann_token) = chatting(&server, &mut alex, &support).await;

    // A call starts: both get credentials of their own before they see it.
    let call = place_call(&mut v, 1).await;
    ice_before_start(&mut v, session.as_str()).await;
    ice_before_start(&mut alex, "alex").await;

    // Mid-call, a reloaded page and a reconnected console get fresh ones after the
    // welcome.
    drop(v);
    let mut v = connect_visitor(server.addr, support.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    let welcome = v
        .hello(Some(Resume {
            session: session.clone(),
            token: ann_token.clone(),
            last_seq: interact_sdk::ids::Seq(0),
        }))
        .await;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome {
            session: Some(_),
            ..
        }
    ));
    assert_ice_for(&v.recv().await, session.as_str());
    let mut alex2 = connect_agent(server.addr).await;
    let welcome = alex2.agent_hello(&token).await;
    assert!(
        matches!(&welcome, ServerFrame::Welcome { heads, .. } if heads.contains_key(&session)),
        "{welcome:?}"
    );
    assert_ice_for(&alex2.recv().await, "alex");

    // After the call, none again.
    v.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Hangup {
            call,
            reason: HangupReason::Normal,
        },
    })
    .await;
    v.recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Hangup { .. })))
        .await;
    drop(v);
    let mut v = connect_visitor(server.addr, support.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    v.hello(Some(Resume {
        session: session.clone(),
        token: ann_token,
        last_seq: interact_sdk::ids::Seq(0),
    }))
    .await;
    assert_no_ice(&v.recv_for(300).await, "a visitor resuming after the call");
    let mut alex3 = connect_agent(server.addr).await;
    alex3.agent_hello(&token).await;
    assert_no_ice(
        &alex3.recv_for(300).await,
        "an agent signing in after the call",
    );
    drop((alex, alex2, alex3, v));
    server.stop().await;
}

/// The `expires_at` of an `ice_servers` frame.
fn ice_expiry(frame: &ServerFrame) -> Option<u64> {
    match frame {
        ServerFrame::IceServers { expires_at, .. } => expires_at.map(|e| e.0),
        _ => None,
    }
}

/// Waits for the next `ice_servers` frame (ignoring the others) and returns its expiry.
async fn next_ice(client: &mut Client) -> u64 {
    let frames = client
        .recv_until(|f| matches!(f, ServerFrame::IceServers { .. }))
        .await;
    frames
        .last()
        .and_then(ice_expiry)
        .expect("TURN credentials expire")
}

#[tokio::test]
async fn long_calls_get_fresh_turn_credentials_every_half_lifetime() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two seconds (below the configurable minute, set directly): new credentials every
    // second.
    let server = server_with_ttl(dir.path(), 2).await;
    let (support, _) = codes(&server).await;
    let mut alex = server.available_agent("alex").await;
    let (mut v, _, _) = chatting(&server, &mut alex, &support).await;
    // Nothing while it is only a chat, however long.
    assert_no_ice(&v.recv_for(1_500).await, "the visitor of a chat");
    let call = place_call(&mut v, 1).await;
    for (who, client) in [("agent", &mut alex), ("visitor", &mut v)] {
        let first = next_ice(client).await;
        let second = next_ice(client).await;
        let third = next_ice(client).await;
        // The first came with the call's start; the refreshes a second apart each.
        assert!(
            first <= second && second < third,
            "{who}: each refresh expires later ({first}, {second}, {third})"
        );
    }
    // The call ends: no more.
    v.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Hangup {
            call,
            reason: HangupReason::Normal,
        },
    })
    .await;
    v.recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Hangup { .. })))
        .await;
    alex.recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Hangup { .. })))
        .await;
    assert_no_ice(&v.recv_for(2_500).await, "the visitor after the call");
    assert_no_ice(&alex.recv_for(100).await, "the agent after the call");
    server.stop().await;
}

#[tokio::test]
async fn an_agent_in_a_call_gets_no_other_chat_until_it_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(dir.path()).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let support = TargetRef::Service("support".into());
    let mut alex = server.available_agent("alex").await;

    let (mut v1, s1) = visitor(&server, code.as_str(), "One").await;
    assert_eq!(offered(&mut alex).await, s1);
    alex.send(&ClientFrame::Accept {
        session: s1.clone(),
    })
    .await;
    v1.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. })),
    )
    .await;

    // The visitor calls, alex answers: alex is in a call.
    let call = CallId::new("c-one-1").expect("valid");
    v1.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Start {
            call: call.clone(),
            media: CallMedia::Audio,
        },
    })
    .await;
    alex.recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Start { .. })))
        .await;
    assert_eq!(server.state.hub.agent_counts(&support), (1, 0));
    alex.send(&ClientFrame::Call {
        session: Some(s1.clone()),
        signal: CallSignal::Accept { call: call.clone() },
    })
    .await;
    alex.recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Accept { .. })))
        .await;
    assert_eq!(server.state.hub.agent_counts(&support), (0, 1));

    // A second visitor waits although alex holds one chat of two.
    let (mut v2, s2) = visitor(&server, code.as_str(), "Two").await;
    v2.recv_until(
        |f| matches!(f, ServerFrame::Event(e) if e.event == SessionEvent::Queued { position: 1 }),
    )
    .await;
    no_offer_within(&mut alex, 700).await;

    // The call ends: the second chat is offered to alex at once.
    v1.send(&ClientFrame::Call {
        session: None,
        signal: CallSignal::Hangup {
            call,
            reason: HangupReason::Normal,
        },
    })
    .await;
    assert_eq!(offered(&mut alex).await, s2);

    // The call is reported with the first session: audio, answered, the visitor hung up.
    v1.recv_until(|f| is_call(f, |s| matches!(s, CallSignal::Hangup { .. })))
        .await;
    let reports = interact_store::session_reports(
        server.state.store.as_ref(),
        &interact_report::ReportFilter::default(),
    )
    .await
    .expect("report");
    let r = reports
        .iter()
        .find(|r| r.session == s1)
        .expect("the first session");
    assert_eq!(r.modality, interact_report::Modality::Audio);
    let [c] = &r.calls[..] else {
        panic!("one call: {:?}", r.calls);
    };
    assert_eq!(c.call.as_str(), "c-one-1");
    assert_eq!(c.media, CallMedia::Audio);
    assert!(!c.screen_share);
    assert_eq!(c.ended_by, Some(Party::Visitor));
    assert_eq!(c.hangup_reason, Some(HangupReason::Normal));
    assert_eq!(c.outcome, Some(interact_report::CallOutcome::Answered));
    let (started, answered, ended) = (
        c.started_at,
        c.answered_at.expect("answered"),
        c.ended_at.expect("ended"),
    );
    assert!(started <= answered && answered <= ended, "{c:?}");
    assert_eq!(c.duration_ms, Some(ended.0 - answered.0));
    assert!(
        c.duration_ms >= Some(700),
        "the call lasted while the second chat waited: {c:?}"
    );
    server.stop().await;
}
