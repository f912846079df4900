//! The live node on a virtual clock: no sockets, no database file, no sleeping.
//!
//! The node runs on tokio's paused time with [`VirtualClock`] and the [`MemoryStore`];
//! connections are the node's own [`Conn`]s, read from their queues. When every task
//! waits, tokio moves the time to the next timer at once, so a 30-second offer timeout
//! takes no time to pass and happens at exactly the virtual instant it is due.

use std::sync::Arc;
use std::time::Duration;

use interact_model::{Clock, TargetRef};
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{AgentId, SessionId};
use interact_sdk::protocol::{
    AgentInfo, Party, Presence, ServerFrame, SessionEvent, decode_server,
};
use interact_sdk::time::UnixMillis;
use interact_server::clock::VirtualClock;
use interact_server::config::Config;
use interact_server::node::conn::{ConnEnds, Outgoing};
use interact_server::node::session;
use interact_server::node::state::AppState;
use interact_store::{EmbedCodeRecord, MemoryStore};

const DEMO: &str = include_str!("../../../config/demo.toml");

/// 2026-03-02 10:00 UTC, a Monday.
const START: UnixMillis = UnixMillis(1_772_445_600_000);

/// The demo configuration: the `support` service runs the `support-im` workflow (greet,
/// queue, then every 30 s a queue position), offers lapse after 30 s and two missed
/// offers set an agent away.
async fn node() -> (AppState, Arc<VirtualClock>) {
    let mut config = Config::parse(DEMO).expect("the demo configuration parses");
    config.validate().expect("the demo configuration is valid");
    config.demo = None;
    assert_eq!(config.limits.offer_timeout_secs, 30);
    assert_eq!(config.limits.missed_offers_before_away, 2);
    let clock = Arc::new(VirtualClock::new(START));
    let state = AppState::new(config, Arc::new(MemoryStore::default()), clock.clone())
        .await
        .expect("state");
    (state, clock)
}

/// A connection of `agent`, signed in and available.
fn agent(state: &AppState, id: &str) -> (AgentInfo, ConnEnds) {
    let info = AgentInfo {
        id: AgentId::new(id).expect("agent id"),
        display_name: id.to_owned(),
    };
    let (conn, ends) = state.hub.new_conn();
    state
        .hub
        .attach_agent(&info, conn, &format!("token-of-{id}"), state.now());
    (info, ends)
}

/// Starts a chat with `support` as the widget would, with the visitor's connection
/// attached.
async fn visitor(state: &AppState, name: &str) -> (SessionId, ConnEnds) {
    visitor_with(state, name, None).await
}

/// Starts a session with `support`: a chat, or call-first with `call`.
async fn visitor_with(
    state: &AppState,
    name: &str,
    call: Option<interact_sdk::protocol::CallMedia>,
) -> (SessionId, ConnEnds) {
    visitor_to(state, name, TargetRef::Service("support".into()), call).await
}

/// Starts a session with `target` (a chat, or call-first with `call`).
async fn visitor_to(
    state: &AppState,
    name: &str,
    target: TargetRef,
    call: Option<interact_sdk::protocol::CallMedia>,
) -> (SessionId, ConnEnds) {
    let seed = match &target {
        TargetRef::Service(_) => 7,
        TargetRef::User(_) => 8,
    };
    let record = EmbedCodeRecord {
        code: EmbedCode::from_random([seed; 16]),
        target,
        template: "demo".into(),
        created_at: state.now(),
        revoked_at: None,
    };
    if state
        .store
        .embed_code(&record.code)
        .await
        .expect("store")
        .is_none()
    {
        state.store.create_embed_code(&record).await.expect("store");
    }
    let form = PreChatForm {
        display_name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        consent: Some("2024-05".into()),
        first_message: Some("Hello?".into()),
    };
    let valid = form.validate("2024-05").expect("valid form");
    let start_id = format!("start-{name}");
    let key = format!("key-{name}");
    let (sid, _, _) = session::create(
        state,
        &record,
        "https://shop.example",
        &start_id,
        key,
        valid,
        session::Via {
            context: None,
            channel: interact_model::Channel::Widget,
            call,
            visitor_id: None,
        },
    )
    .await
    .expect("session created");
    let (conn, ends) = state.hub.new_conn();
    state.hub.attach_visitor(&sid, conn);
    session::dispatch(state).await;
    (sid, ends)
}

/// The next frame a connection is sent, waiting up to a virtual hour (a replay the
/// connection is asked to send, after an accept, is skipped).
async fn next(ends: &mut ConnEnds) -> ServerFrame {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(3600), ends.rx.recv())
            .await
            .expect("a frame within a virtual hour");
        match next.expect("the connection is open") {
            Outgoing::Frame(text) => {
                return decode_server(&text).expect("the node sends valid frames");
            }
            Outgoing::Replay { .. } => {}
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// Frames already queued for a connection, without waiting.
fn queued(ends: &mut ConnEnds) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    while let Ok(o) = ends.rx.try_recv() {
        if let Outgoing::Frame(text) = o {
            out.push(decode_server(&text).expect("valid frame"));
        }
    }
    out
}

fn elapsed(clock: &VirtualClock) -> u64 {
    clock.now().0 - START.0
}

fn texts(frames: &[ServerFrame]) -> Vec<(Party, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(e) => match &e.event {
                SessionEvent::Message { from, text, .. } => Some((*from, text.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn offers_lapse_the_workflow_keeps_time_and_the_next_agent_accepts() {
    let (state, clock) = node().await;
    tokio::spawn(session::run_timers(state.clone()));
    let (_alex, mut alex) = agent(&state, "alex");
    state
        .hub
        .set_presence("alex", Presence::Available, state.now());

    let (sid, mut vera) = visitor(&state, "Vera").await;
    // The workflow greeted and queued the chat: the visitor's log says so at once.
    let stored = state.store.events(&sid).await.expect("events");
    assert!(
        stored.iter().any(|e| matches!(&e.event, SessionEvent::Message { from: Party::System, text, .. } if text.starts_with("Hello Vera"))),
        "the greeting is stored: {stored:?}"
    );

    // Alex is offered the chat at once, until 30 s from now.
    let offer = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o;
        }
    };
    assert_eq!(offer.session, sid);
    assert_eq!(offer.first_message.as_deref(), Some("Hello?"));
    assert_eq!(elapsed(&clock), 0);
    assert_eq!(offer.expires_at.0, START.0 + 30_000);

    // Nobody answers: the offer is withdrawn exactly when it lapses.
    let withdrawn = loop {
        if let ServerFrame::OfferWithdrawn { session } = next(&mut alex).await {
            break session;
        }
    };
    assert_eq!(withdrawn, sid);
    assert_eq!(elapsed(&clock), 30_000);

    // The workflow's 30-second delay came due at the same instant: the visitor hears
    // their place in the queue.
    tokio::task::yield_now().await;
    let heard = texts(&queued(&mut vera));
    assert!(
        heard.contains(&(Party::System, "You are number 1 in the queue.".into())),
        "{heard:?}"
    );

    // Alex missed it, so it waits for another member: Sam signs in 15 s later and is
    // offered it at once.
    tokio::time::advance(Duration::from_secs(15)).await;
    let (sam_info, mut sam) = agent(&state, "sam");
    state
        .hub
        .set_presence("sam", Presence::Available, state.now());
    session::dispatch(&state).await;
    let offer = loop {
        if let ServerFrame::Offer(o) = next(&mut sam).await {
            break o;
        }
    };
    assert_eq!(offer.session, sid);
    assert_eq!(elapsed(&clock), 45_000);
    assert!(
        !queued(&mut alex)
            .iter()
            .any(|f| matches!(f, ServerFrame::Offer(_))),
        "an agent who missed a task is not offered it again while another member has not"
    );
    session::accept(&state, &sam_info, &sid)
        .await
        .expect("Sam accepts");

    // The visitor sees Sam join; the run has ended, so no more queue positions come.
    let joined = loop {
        if let ServerFrame::Event(e) = next(&mut vera).await
            && let SessionEvent::AgentJoined { agent } = e.event
        {
            break agent;
        }
    };
    assert_eq!(joined.id.as_str(), "sam");
    let before = state.store.events(&sid).await.expect("events").len();
    tokio::time::advance(Duration::from_secs(300)).await;
    tokio::task::yield_now().await;
    let after = state.store.events(&sid).await.expect("events");
    assert_eq!(
        after.len(),
        before,
        "nothing more after the accept: {after:?}"
    );
    let record = state
        .store
        .session(&sid)
        .await
        .expect("store")
        .expect("session");
    assert_eq!(record.agent_id.as_ref().map(|a| a.as_str()), Some("sam"));
}

#[tokio::test(start_paused = true)]
async fn queued_chats_are_offered_in_order_as_agents_free_up() {
    let (state, clock) = node().await;
    tokio::spawn(session::run_timers(state.clone()));
    let (alex_info, mut alex) = agent(&state, "alex");

    // Three visitors, one second apart, while nobody is available.
    let mut sessions = Vec::new();
    for name in ["Ana", "Ben", "Cleo"] {
        sessions.push(visitor(&state, name).await.0);
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert!(
        !queued(&mut alex)
            .iter()
            .any(|f| matches!(f, ServerFrame::Offer(_))),
        "nobody is offered anything while Alex is away"
    );

    // Alex becomes available: the oldest chat comes first.
    state
        .hub
        .set_presence("alex", Presence::Available, state.now());
    session::dispatch(&state).await;
    let first = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o.session;
        }
    };
    assert_eq!(first, sessions[0]);
    session::accept(&state, &alex_info, &first)
        .await
        .expect("accepted");

    // Alex can hold several chats (max_chats_per_agent): the next is offered at once.
    let second = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o.session;
        }
    };
    assert_eq!(second, sessions[1]);
    assert_eq!(elapsed(&clock), 3_000, "no time passed while offering");
}

/// WhatsApp's 24-hour customer service window: an agent's free-form reply is stored and
/// queued for Twilio while the customer wrote in the last 24 hours, refused with the
/// reason (and nothing stored) after, and allowed again once the customer writes.
#[tokio::test(start_paused = true)]
async fn whatsapp_replies_are_refused_outside_the_24_hour_window() {
    use interact_sdk::protocol::{ClientFrame, ErrorCode};
    use interact_server::node::whatsapp::{self, Received};
    let (state, _clock) = node().await;
    let (alex_info, mut alex) = agent(&state, "alex");
    state
        .hub
        .set_presence("alex", Presence::Available, state.now());
    let inbound = |sid: &str, body: &str| {
        let params: Vec<(String, String)> = [
            ("MessageSid", sid),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "whatsapp:+12025550188"),
            ("To", "whatsapp:+12025550123"),
            ("Body", body),
            ("NumMedia", "0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
        interact_twilio::inbound::Inbound::from_form(&params).expect("inbound")
    };
    let first = inbound("SM00000000000000000000000000000001", "Hello?");
    let Received::Started(sid) = whatsapp::receive(&state, "support", &first)
        .await
        .expect("received")
    else {
        panic!("a new session")
    };
    // The workflow greets and queues; Alex is offered the chat.
    while !matches!(next(&mut alex).await, ServerFrame::Offer(_)) {}
    session::accept(&state, &alex_info, &sid)
        .await
        .expect("Alex accepts");
    let send = |id: &str, text: &str| ClientFrame::Send {
        session: Some(sid.clone()),
        id: interact_sdk::ids::MessageId::new(id).expect("id"),
        text: text.into(),
        after: None,
    };
    let (conn, mut replies) = state.hub.new_conn();
    session::agent_frame(&state, &alex_info, &sid, send("r-1", "Hi there"), &conn).await;
    let queued_for = |pieces: &[interact_store::OutboundRecord], id: &str| {
        pieces.iter().any(|p| p.message == id)
    };
    let pieces = state.store.session_outbound(&sid).await.expect("outbox");
    assert!(queued_for(&pieces, "r-1"), "{pieces:?}");

    // A day later (and a second).
    tokio::time::advance(Duration::from_secs(24 * 3600 + 1)).await;
    let _ = queued(&mut replies);
    session::agent_frame(&state, &alex_info, &sid, send("r-2", "Still there?"), &conn).await;
    let refused = queued(&mut replies)
        .into_iter()
        .find_map(|f| match f {
            ServerFrame::Error(e) => Some(e),
            _ => None,
        })
        .expect("refused");
    assert_eq!(refused.code, ErrorCode::NotAllowed);
    assert_eq!(refused.id.as_ref().map(|i| i.as_str()), Some("r-2"));
    assert!(refused.message.contains("24 hours"), "{}", refused.message);
    assert!(refused.message.contains("templates"), "{}", refused.message);
    let events = state.store.events(&sid).await.expect("events");
    assert!(
        !events.iter().any(
            |e| matches!(&e.event, SessionEvent::Message { text, .. } if text == "Still there?")
        ),
        "not stored"
    );
    assert!(!queued_for(
        &state.store.session_outbound(&sid).await.expect("outbox"),
        "r-2"
    ));

    // The customer writes again: the window opens again.
    let again = inbound("SM00000000000000000000000000000002", "Yes, sorry");
    assert_eq!(
        whatsapp::receive(&state, "support", &again)
            .await
            .expect("joined"),
        Received::Joined(sid.clone())
    );
    session::agent_frame(&state, &alex_info, &sid, send("r-2", "Still there?"), &conn).await;
    assert!(queued_for(
        &state.store.session_outbound(&sid).await.expect("outbox"),
        "r-2"
    ));
}

/// The visitor's or the agent's call signal in `sid`, as their connection would send it.
async fn signal(
    state: &AppState,
    sid: &SessionId,
    who: Option<&AgentInfo>,
    signal: interact_sdk::protocol::CallSignal,
) {
    use interact_sdk::protocol::ClientFrame;
    let (conn, _ends) = state.hub.new_conn();
    match who {
        None => {
            let frame = ClientFrame::Call {
                session: None,
                signal,
            };
            session::handle_frame(state, sid, Party::Visitor, frame, &conn).await;
        }
        Some(agent) => {
            let frame = ClientFrame::Call {
                session: Some(sid.clone()),
                signal,
            };
            session::agent_frame(state, agent, sid, frame, &conn).await;
        }
    }
    session::dispatch(state).await;
}

/// Whether `ends` was offered anything since it was last read.
fn offered(ends: &mut ConnEnds) -> Vec<SessionId> {
    queued(ends)
        .into_iter()
        .filter_map(|f| match f {
            ServerFrame::Offer(o) => Some(o.session),
            _ => None,
        })
        .collect()
}

/// Call-first (issue: calls as tasks of their own): the session runs the service's
/// Audio/Video workflow (not its IM one) on the virtual clock, is offered only to a member
/// who may take calls, rings (the offer says `video`), and its agent takes no other task
/// from the accept until the call ends; the chat goes on after.
#[tokio::test(start_paused = true)]
async fn a_call_first_session_runs_the_av_workflow_and_blocks_its_agent_until_the_call_ends() {
    use interact_sdk::ids::CallId;
    use interact_sdk::protocol::{CallMedia, CallSignal, HangupReason};
    let (state, clock) = node().await;
    tokio::spawn(session::run_timers(state.clone()));
    let (alex_info, mut alex) = agent(&state, "alex");
    let (_sam_info, mut sam) = agent(&state, "sam");
    for who in ["alex", "sam"] {
        state
            .hub
            .set_presence(who, Presence::Available, state.now());
    }

    let (call, mut cora) = visitor_with(&state, "Cora", Some(CallMedia::Video)).await;
    let stored = state.store.events(&call).await.expect("events");
    assert!(
        matches!(
            stored[0].event,
            SessionEvent::Started {
                call: Some(CallMedia::Video),
                ..
            }
        ),
        "{:?}",
        stored[0]
    );
    let said: Vec<&str> = stored
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::Message {
                from: Party::System,
                text,
                ..
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        said,
        ["Hello Cora, we are connecting your call to Customer Care."]
    );

    // Alex (calls licensed) is rung; Sam (chat only) is offered nothing.
    let offer = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o;
        }
    };
    assert_eq!(
        (offer.session.clone(), offer.call),
        (call.clone(), Some(CallMedia::Video))
    );
    assert!(
        offered(&mut sam).is_empty(),
        "a chat-only agent is not rung"
    );

    // Nobody answers for 30 s: the ring lapses and the AV workflow tells the position.
    loop {
        if let ServerFrame::OfferWithdrawn { .. } = next(&mut alex).await {
            break;
        }
    }
    assert_eq!(elapsed(&clock), 30_000);
    tokio::task::yield_now().await;
    let heard = texts(&queued(&mut cora));
    assert!(
        heard.contains(&(Party::System, "Your call is number 1 in the queue.".into())),
        "{heard:?}"
    );

    // Sam goes away, so only Alex could take a chat. Alex is rung again and accepts.
    state.hub.set_presence("sam", Presence::Away, state.now());
    state
        .hub
        .set_presence("alex", Presence::Available, state.now());
    session::dispatch(&state).await;
    let again = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o.session;
        }
    };
    assert_eq!(again, call);
    session::accept(&state, &alex_info, &call)
        .await
        .expect("Alex accepts");
    session::dispatch(&state).await;

    // A chat arrives: Alex is in the call (accepted, not placed yet) and is not offered it.
    let (chat, _dan) = visitor(&state, "Dan").await;
    tokio::time::advance(Duration::from_secs(5)).await;
    session::dispatch(&state).await;
    assert!(
        !offered(&mut alex).contains(&chat),
        "blocked from the accept on"
    );

    // The visitor places the call, Alex answers, and it lasts a minute: still blocked.
    let id = CallId::new("c-first-1").expect("call id");
    signal(
        &state,
        &call,
        None,
        CallSignal::Start {
            call: id.clone(),
            media: CallMedia::Video,
        },
    )
    .await;
    signal(
        &state,
        &call,
        Some(&alex_info),
        CallSignal::Accept { call: id.clone() },
    )
    .await;
    tokio::time::advance(Duration::from_secs(60)).await;
    session::dispatch(&state).await;
    assert!(
        !offered(&mut alex).contains(&chat),
        "blocked during the call"
    );

    // Hang-up: Alex is free again and is offered the waiting chat at once; the call-first
    // session goes on as a chat.
    signal(
        &state,
        &call,
        Some(&alex_info),
        CallSignal::Hangup {
            call: id,
            reason: HangupReason::Normal,
        },
    )
    .await;
    let next_offer = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o.session;
        }
    };
    assert_eq!(next_offer, chat);
    let live = session::get(&state, &call)
        .await
        .expect("store")
        .expect("session");
    assert!(
        !live.lock().await.log.is_ended(),
        "the chat stays after the call"
    );
}

/// A direct call-first contact with a user: the user is "not available" to a second chat
/// offer while the call lasts, and available again after (chats do not block).
#[tokio::test(start_paused = true)]
async fn a_direct_call_makes_the_user_unavailable_to_other_chats_until_it_ends() {
    use interact_sdk::ids::CallId;
    use interact_sdk::protocol::{CallMedia, CallSignal, HangupReason};
    let (state, _clock) = node().await;
    tokio::spawn(session::run_timers(state.clone()));
    let (alex_info, mut alex) = agent(&state, "alex");
    state
        .hub
        .set_presence("alex", Presence::Available, state.now());
    let direct = TargetRef::User("alex".into());

    let (call, _v) = visitor_to(&state, "Cora", direct.clone(), Some(CallMedia::Audio)).await;
    let offer = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o;
        }
    };
    assert_eq!(
        (offer.session.clone(), offer.call),
        (call.clone(), Some(CallMedia::Audio))
    );
    session::accept(&state, &alex_info, &call)
        .await
        .expect("accepted");
    let id = CallId::new("c-direct-1").expect("call id");
    signal(
        &state,
        &call,
        None,
        CallSignal::Start {
            call: id.clone(),
            media: CallMedia::Audio,
        },
    )
    .await;
    signal(
        &state,
        &call,
        Some(&alex_info),
        CallSignal::Accept { call: id.clone() },
    )
    .await;

    // A second visitor writes to Alex directly: not offered while the call lasts.
    let (chat, _w) = visitor_to(&state, "Dan", direct.clone(), None).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    session::dispatch(&state).await;
    assert!(
        !offered(&mut alex).contains(&chat),
        "not available during the call"
    );

    signal(
        &state,
        &call,
        None,
        CallSignal::Hangup {
            call: id,
            reason: HangupReason::Normal,
        },
    )
    .await;
    let after = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o.session;
        }
    };
    assert_eq!(after, chat, "available again once the call ended");

    // A chat does not block: with the direct chat accepted, a third visitor is offered too.
    session::accept(&state, &alex_info, &chat)
        .await
        .expect("accepted");
    let (third, _x) = visitor_to(&state, "Eve", direct, None).await;
    let offered_third = loop {
        if let ServerFrame::Offer(o) = next(&mut alex).await {
            break o.session;
        }
    };
    assert_eq!(offered_third, third);
}

/// A visitor's earlier connection whose resume is handled after a newer one's (the client
/// gave up on it and reconnected) must not take the session from the newer one: the
/// stale one is the one to close (`Replaced`), and a connection re-attached to its own
/// session closes nothing.
#[tokio::test]
async fn a_late_resume_on_an_older_connection_does_not_replace_the_newer_one() {
    let (state, _clock) = node().await;
    let (sid, _first) = visitor(&state, "Vera").await;
    let (older, _older_ends) = state.hub.new_conn();
    let (newer, _newer_ends) = state.hub.new_conn();
    let (older_id, newer_id) = (older.id, newer.id);
    assert!(older_id < newer_id, "connection ids grow with every accept");

    // The newer connection resumes first and replaces the session's first connection.
    let replaced = state.hub.attach_visitor(&sid, newer.clone());
    assert!(replaced.is_some_and(|c| c.id != newer_id && c.id != older_id));
    // Re-attaching the same connection closes nothing.
    assert!(state.hub.attach_visitor(&sid, newer.clone()).is_none());
    // The older one's resume, handled late, gets itself back, to be closed.
    let to_close = state.hub.attach_visitor(&sid, older);
    assert_eq!(to_close.map(|c| c.id), Some(older_id));
    // The newer one is still the session's.
    assert!(!state.hub.detach_visitor(&sid, older_id));
    assert!(state.hub.detach_visitor(&sid, newer_id));
}
