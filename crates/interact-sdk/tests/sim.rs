//! Deterministic simulations: visitor, server-side relay and agent on a virtual clock,
//! over a seeded network that drops, duplicates, reorders and cuts.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::{
    NetConfig, Who, World, accept_offers, assert_exactly_once_in_order, demo_form, message_counts,
};
use interact_sdk::call::{CallEvent, CallState};
use interact_sdk::form::Field;
use interact_sdk::ids::Seq;
use interact_sdk::modality::Modalities;
use interact_sdk::protocol::{
    CallMedia, CallSignal, ErrorCode, HangupReason, IceCandidate, MediaState, Party, SessionEvent,
};
use interact_sdk::quality::{QualityRating, StatsReading};
use interact_sdk::{DeliveryState, Error, Event, LinkState, VisitorState};

fn started_and_connected(w: &mut World, first: Option<&str>) -> interact_sdk::ids::SessionId {
    w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
    w.visitor
        .start_chat(w.at(), demo_form(first))
        .expect("valid form");
    w.pump();
    w.run_until_cond(10_000, |w| {
        w.agent.offers().count() == 1 && w.agent.link() == &LinkState::Online
    });
    assert_eq!(accept_offers(w), 1);
    w.run_until_cond(10_000, |w| {
        matches!(w.visitor.state(), VisitorState::Connected { .. })
    });
    w.server.logs.keys().next().expect("one session").clone()
}

#[test]
fn the_forms_first_message_reaches_read_like_the_others() {
    let mut w = World::new(2, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, Some("Hello, I need help"));
    let first = w.server.logs[&session]
        .events_after(Seq::ZERO)
        .iter()
        .find_map(|f| match &f.event {
            SessionEvent::Message {
                id,
                from: Party::Visitor,
                ..
            } => Some(id.clone()),
            _ => None,
        })
        .expect("the first message is stored");
    w.run_until(w.now + 1_000);
    w.agent.mark_read(&session).expect("read");
    w.pump();
    w.run_until(w.now + 1_000);
    let states: Vec<DeliveryState> = w.seen[&Who::Visitor]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageState { id, state, .. } if *id == first => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(states.last(), Some(&DeliveryState::Read), "{states:?}");
}

#[test]
fn chat_end_to_end_on_a_perfect_link() {
    let mut w = World::new(1, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, Some("Hello, I need help"));
    let now = w.at();
    let m1 = w
        .visitor
        .send_message(now, "My order is late")
        .expect("send");
    w.agent
        .send_message(now, &session, "Let me check")
        .expect("send");
    w.pump();
    w.run_until(w.now + 1_000);
    w.agent.mark_read(&session).expect("read");
    w.visitor.mark_read().expect("read");
    w.pump();
    w.run_until(w.now + 1_000);

    let states: Vec<DeliveryState> = w.seen[&Who::Visitor]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageState { id, state, .. } if *id == m1 => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            DeliveryState::Pending,
            DeliveryState::Sent,
            DeliveryState::Delivered,
            DeliveryState::Read
        ]
    );

    w.visitor.end_chat(w.at()).expect("end");
    w.pump();
    w.run_until(w.now + 1_000);
    assert!(matches!(w.visitor.state(), VisitorState::Ended { .. }));
    assert!(matches!(w.visitor.link(), LinkState::Closed { .. }));
    assert!(w.agent.sessions().all(|(_, ended)| ended));

    let log = &w.server.logs[&session];
    let texts: Vec<(Party, String)> = log
        .events_after(Seq::ZERO)
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::Message { from, text, .. } => Some((*from, text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            (Party::Visitor, "Hello, I need help".to_owned()),
            (Party::Visitor, "My order is late".to_owned()),
            (Party::Agent, "Let me check".to_owned()),
        ]
    );
    assert_exactly_once_in_order(&w.seen[&Who::Visitor].timeline, log, Seq::ZERO);
    assert_exactly_once_in_order(&w.seen[&Who::Agent].timeline, log, Seq::ZERO);
    assert!(matches!(
        log.events_after(Seq::ZERO)[0].event,
        SessionEvent::Started { .. }
    ));
    assert!(matches!(
        log.events_after(Seq::ZERO).last().map(|e| &e.event),
        Some(SessionEvent::Ended { .. })
    ));
}

/// Many messages both ways over a link that drops 10%, duplicates 10%, reorders within
/// 80 ms and cuts connections: afterwards every message is stored once and both sides saw
/// every event exactly once, in order.
fn lossy_run(seed: u64) {
    let mut w = World::new(seed, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    w.net = NetConfig {
        drop_pm: 100,
        dup_pm: 100,
        max_delay_ms: 80,
        cut_pm: 10,
        reorder: true,
    };
    let mut sent_v = Vec::new();
    let mut sent_a = Vec::new();
    for i in 0..30 {
        let now = w.at();
        if let Ok(id) = w.visitor.send_message(now, &format!("visitor {i}")) {
            sent_v.push(id);
        }
        if let Ok(id) = w.agent.send_message(now, &session, &format!("agent {i}")) {
            sent_a.push(id);
        }
        w.pump();
        w.run_until(w.now + 150);
    }
    assert_eq!(sent_v.len(), 30, "sending works while offline too");
    assert_eq!(sent_a.len(), 30);
    w.heal();
    w.run_until_cond(120_000, |w| {
        !w.visitor.has_unsent()
            && !w.agent.has_unsent()
            && w.visitor.link() == &LinkState::Online
            && w.agent.link() == &LinkState::Online
            && w.visitor.last_seq() == w.server.logs[&session].head()
            && w.agent.last_seq(&session) == Some(w.server.logs[&session].head())
    });
    let log = &w.server.logs[&session];
    let counts = message_counts(log);
    for id in &sent_v {
        assert_eq!(
            counts.get(&("Visitor".into(), id.clone())),
            Some(&1),
            "{id}"
        );
    }
    for id in &sent_a {
        assert_eq!(counts.get(&("Agent".into(), id.clone())), Some(&1), "{id}");
    }
    assert_exactly_once_in_order(&w.seen[&Who::Visitor].timeline, log, Seq::ZERO);
    assert_exactly_once_in_order(&w.seen[&Who::Agent].timeline, log, Seq::ZERO);
    assert!(
        w.frames_dropped > 0 && w.frames_duplicated > 0,
        "the link was lossy"
    );
}

#[test]
fn lossy_link_delivers_everything_exactly_once_in_order() {
    for seed in [7, 8, 9] {
        lossy_run(seed);
    }
}

#[test]
fn reload_resumes_with_the_whole_transcript_once() {
    let mut w = World::new(3, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, Some("first"));
    w.agent
        .send_message(w.at(), &session, "hello from the agent")
        .expect("send");
    w.pump();
    w.run_until(w.now + 500);
    let resume = w.visitor.resume_state().expect("session exists");
    assert_eq!(resume.session, session);

    // The visitor goes away; the agent writes meanwhile; the page reloads.
    w.cut_visitor();
    w.agent
        .send_message(w.at(), &session, "are you still there?")
        .expect("send");
    w.pump();
    w.reload_visitor(Some(resume), 99);
    w.run_until_cond(5_000, |w| {
        w.visitor.last_seq() == w.server.logs[&session].head()
    });
    assert!(matches!(w.visitor.state(), VisitorState::Connected { .. }));
    let log = &w.server.logs[&session];
    assert_exactly_once_in_order(&w.seen[&Who::Visitor].timeline, log, Seq::ZERO);
    let id = w
        .visitor
        .send_message(w.at(), "yes, back")
        .expect("send after resume");
    w.pump();
    w.run_until(w.now + 500);
    assert!(message_counts(&w.server.logs[&session]).contains_key(&("Visitor".into(), id)));
}

#[test]
fn wrong_resume_token_is_refused() {
    let mut w = World::new(4, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    let mut forged = w.visitor.resume_state().expect("session");
    forged.token = interact_sdk::ids::ResumeToken::new("guessed");
    w.reload_visitor(Some(forged), 5);
    w.run_until(w.now + 1_000);
    assert_eq!(w.server.rejected_resumes, 1);
    assert!(w.seen[&Who::Visitor].events.iter().any(|e| matches!(
        e,
        Event::ServerError(f) if f.code == ErrorCode::InvalidResume
    )));
    assert!(
        w.seen[&Who::Visitor].timeline.is_empty(),
        "nothing of the session leaked"
    );
    assert!(w.visitor.resume_state().is_none());
    let _ = session;
}

#[test]
fn invalid_form_is_refused_locally_with_field_errors() {
    let mut w = World::new(5, NetConfig::PERFECT);
    w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
    let mut form = demo_form(None);
    form.email = "vera@".into();
    form.consent = None;
    let Err(Error::InvalidForm(errors)) = w.visitor.start_chat(w.at(), form) else {
        panic!("form should be refused");
    };
    assert!(errors.get(Field::Email).is_some());
    assert!(errors.get(Field::Consent).is_some());
    assert_eq!(w.visitor.state(), &VisitorState::Form);
    assert!(w.server.logs.is_empty());
    assert!(matches!(
        w.visitor.send_message(w.at(), "hi"),
        Err(Error::ApiMisuse(_))
    ));
}

#[test]
fn typing_is_forwarded_and_expires() {
    let mut w = World::new(6, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    w.visitor.set_typing(w.at(), true).expect("typing");
    w.pump();
    w.run_until(w.now + 100);
    let typing = |w: &World| -> Vec<bool> {
        w.seen[&Who::Agent]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Typing { active, .. } => Some(*active),
                _ => None,
            })
            .collect()
    };
    assert_eq!(typing(&w), [true]);
    // No refresh: the indicator goes away by itself.
    w.run_until(w.now + 7_000);
    assert_eq!(typing(&w), [true, false]);
    let _ = session;
}

#[test]
fn a_message_left_while_closed_is_stored_once_across_cuts() {
    for seed in 0..20 {
        let mut w = World::new(40 + seed, NetConfig::PERFECT);
        let config = w.server.config.as_mut().expect("a config");
        config.availability = interact_sdk::config::Availability::Closed;
        config.offline_messages = true;
        w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
        assert_eq!(
            w.visitor.start_chat(w.at(), demo_form(None)),
            Err(Error::ApiMisuse("the target cannot take a chat now"))
        );
        // The message is required.
        assert!(matches!(
            w.visitor.leave_message(w.at(), demo_form(Some(" \u{200b} "))),
            Err(Error::InvalidForm(e)) if e.get(Field::FirstMessage).is_some()
        ));
        // Sent over a link that cuts connections and duplicates frames.
        w.net = NetConfig {
            drop_pm: 0,
            dup_pm: 200,
            max_delay_ms: 80,
            cut_pm: 30,
            reorder: false,
        };
        let id = w
            .visitor
            .leave_message(w.at(), demo_form(Some("Please call me back")))
            .expect("valid");
        assert_eq!(
            w.visitor
                .leave_message(w.at(), demo_form(Some("again")))
                .map(|_| ()),
            Err(Error::ApiMisuse("a message is being sent"))
        );
        w.pump();
        w.run_until_cond(60_000, |w| {
            w.seen[&Who::Visitor]
                .events
                .contains(&Event::Done(id.clone()))
        });
        assert_eq!(
            w.server.left,
            [(id.clone(), "Please call me back".to_owned())],
            "seed {seed}"
        );
        assert!(w.server.logs.is_empty(), "no session for a message left");
        // Another one may follow.
        w.heal();
        let second = w
            .visitor
            .leave_message(w.at(), demo_form(Some("And a second thing")))
            .expect("a second message");
        w.run_until_cond(60_000, |w| {
            w.seen[&Who::Visitor]
                .events
                .contains(&Event::Done(second.clone()))
        });
        assert_eq!(w.server.left.len(), 2);
    }
    // Where the target can be chatted with, no message is left.
    let mut w = World::new(99, NetConfig::PERFECT);
    w.server.config.as_mut().expect("a config").offline_messages = true;
    w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
    assert_eq!(
        w.visitor.leave_message(w.at(), demo_form(Some("hi"))),
        Err(Error::ApiMisuse("the target takes no message now"))
    );
}

#[test]
fn a_rating_after_the_end_reopens_the_link_once_and_closes_it_again() {
    let mut w = World::new(3, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    assert_eq!(
        w.visitor.rate(w.at(), 4, None),
        Err(Error::ApiMisuse("the chat has not ended"))
    );
    assert!(matches!(
        w.visitor.rate(w.at(), 9, None),
        Err(Error::InvalidRating(_))
    ));
    w.visitor.end_chat(w.at()).expect("end");
    w.pump();
    w.run_until(w.now + 1_000);
    assert!(matches!(w.visitor.link(), LinkState::Closed { .. }));

    let id = w
        .visitor
        .rate(w.at(), 4, Some(" Quick and kind "))
        .expect("rate");
    assert_eq!(
        w.visitor.rate(w.at(), 5, None),
        Err(Error::ApiMisuse("already asked for this session"))
    );
    w.pump();
    w.run_until(w.now + 2_000);
    assert_eq!(
        w.server.ratings,
        [(session, 4, Some("Quick and kind".to_owned()))]
    );
    assert!(w.seen[&Who::Visitor].events.contains(&Event::Done(id)));
    assert!(matches!(w.visitor.link(), LinkState::Closed { .. }));
    // No transcript by email where the server does not offer it.
    assert!(matches!(
        w.visitor.email_transcript(w.at()),
        Err(Error::ApiMisuse(_))
    ));
}

#[test]
fn a_rating_too_late_to_resume_fails_and_the_end_stays() {
    let mut w = World::new(4, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    w.visitor.end_chat(w.at()).expect("end");
    w.pump();
    w.run_until(w.now + 1_000);
    w.server.expire_resume(&session);
    let id = w.visitor.rate(w.at(), 2, None).expect("rate");
    w.pump();
    w.run_until(w.now + 2_000);
    let refused = w.seen[&Who::Visitor].events.iter().any(|e| {
        matches!(e, Event::ServerError(f)
            if f.id.as_ref() == Some(&id) && f.code == ErrorCode::NotAllowed)
    });
    assert!(refused, "the rating fails");
    assert!(matches!(w.visitor.state(), VisitorState::Ended { .. }));
    assert!(w.server.ratings.is_empty());
}

#[test]
fn queue_position_and_ended_states_reach_the_visitor() {
    let mut w = World::new(10, NetConfig::PERFECT);
    w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
    w.visitor
        .start_chat(w.at(), demo_form(None))
        .expect("valid");
    w.pump();
    w.run_until_cond(5_000, |w| {
        w.visitor.state() == &VisitorState::Queued { position: Some(1) }
    });
    let session = w.server.logs.keys().next().expect("session").clone();
    w.run_until_cond(5_000, |w| {
        w.agent.offers().count() == 1 && w.agent.link() == &LinkState::Online
    });
    assert_eq!(accept_offers(&mut w), 1);
    w.run_until_cond(5_000, |w| {
        matches!(w.visitor.state(), VisitorState::Connected { .. })
    });
    w.agent.end(w.at(), &session).expect("end");
    w.pump();
    w.run_until_cond(5_000, |w| {
        matches!(w.visitor.state(), VisitorState::Ended { .. })
    });
    assert!(matches!(
        w.visitor.send_message(w.at(), "late"),
        Err(Error::ApiMisuse(_))
    ));
}

fn call_events(w: &World, who: Who) -> Vec<CallEvent> {
    w.seen[&who]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Call { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn call_signalling_through_the_relay() {
    let mut w = World::new(11, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    w.visitor
        .start_call(w.at(), CallMedia::Video)
        .expect("call");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(
        call_events(&w, Who::Agent)[..],
        [CallEvent::Incoming {
            media: CallMedia::Video,
            ..
        }]
    ));
    w.agent.accept_call(w.at(), &session).expect("accept");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(
        call_events(&w, Who::Visitor)[..],
        [CallEvent::Accepted { .. }]
    ));
    w.visitor
        .local_offer(w.at(), "v=0\r\no=- offer".into())
        .expect("offer");
    let cand = IceCandidate {
        candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    };
    w.visitor
        .local_candidate(w.at(), cand.clone())
        .expect("ice");
    w.pump();
    w.run_until(w.now + 100);
    w.agent
        .local_answer(w.at(), &session, "v=0\r\no=- answer".into())
        .expect("answer");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(w.visitor.call_state(), CallState::Active { .. }));
    // Screen sharing on: media state plus a renegotiation.
    w.visitor
        .set_media(
            w.at(),
            MediaState {
                muted: false,
                camera: true,
                screen: true,
            },
        )
        .expect("screen");
    w.visitor
        .local_offer(w.at(), "v=0\r\no=- screen".into())
        .expect("reoffer");
    w.pump();
    w.run_until(w.now + 100);
    let agent_events = call_events(&w, Who::Agent);
    assert!(
        agent_events.iter().any(
            |e| matches!(e, CallEvent::RemoteCandidate { candidate, .. } if *candidate == cand)
        )
    );
    assert!(
        agent_events
            .iter()
            .any(|e| matches!(e, CallEvent::RemoteMedia { state, .. } if state.screen))
    );
    assert_eq!(
        agent_events
            .iter()
            .filter(|e| matches!(e, CallEvent::RemoteOffer { .. }))
            .count(),
        2
    );
    w.agent
        .hangup(w.at(), &session, HangupReason::Normal)
        .expect("hangup");
    w.pump();
    w.run_until(w.now + 100);
    assert_eq!(w.visitor.call_state(), &CallState::Idle);
    assert!(matches!(
        call_events(&w, Who::Visitor).last(),
        Some(CallEvent::Ended {
            by: Party::Agent,
            ..
        })
    ));
    assert!(!w.server.logs[&session].in_call());
    // The chat goes on after the call.
    w.visitor
        .send_message(w.at(), "thanks for the call")
        .expect("chat");
}

/// An ICE restart (protocol §10.2) is a renegotiation: when the visitor's media path
/// fails while its signalling link is down too, the restart offer is refused without
/// leaving an offer outstanding, goes out once the link is back, reaches the agent exactly
/// once and is answered; an offer the agent makes meanwhile is not taken for a collision.
#[test]
fn an_ice_restart_offer_goes_out_once_after_the_link_is_back() {
    let mut w = World::new(12, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    w.visitor
        .start_call(w.at(), CallMedia::Video)
        .expect("call");
    w.pump();
    w.run_until(w.now + 100);
    w.agent.accept_call(w.at(), &session).expect("accept");
    w.pump();
    w.run_until(w.now + 100);
    w.visitor
        .local_offer(w.at(), "v=0\r\na=ice-ufrag:old".into())
        .expect("offer");
    w.pump();
    w.run_until(w.now + 100);
    w.agent
        .local_answer(w.at(), &session, "v=0\r\na=ice-ufrag:agent-old".into())
        .expect("answer");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(w.visitor.call_state(), CallState::Active { .. }));

    // The network changes: the signalling link drops with the media path.
    w.cut_visitor();
    assert!(!matches!(w.visitor.link(), LinkState::Online));
    assert!(matches!(
        w.visitor
            .local_offer(w.at(), "v=0\r\na=ice-ufrag:new".into()),
        Err(Error::ApiMisuse(_))
    ));
    assert!(matches!(w.visitor.call_state(), CallState::Active { .. }));
    w.run_until_cond(10_000, |w| w.visitor.link() == &LinkState::Online);

    // Nothing outstanding on the visitor's side: an offer from the agent is applied, not
    // ignored as a collision.
    w.agent
        .local_offer(w.at(), &session, "v=0\r\na=ice-ufrag:agent-offer".into())
        .expect("agent offer");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(
        call_events(&w, Who::Visitor).last(),
        Some(CallEvent::RemoteOffer {
            rollback: false,
            ..
        })
    ));
    w.visitor
        .local_answer(w.at(), "v=0\r\na=ice-ufrag:visitor-answer".into())
        .expect("answer the agent");
    w.pump();
    w.run_until(w.now + 100);

    // The restart offer, now that the link is back: exactly once at the agent, answered.
    w.visitor
        .local_offer(w.at(), "v=0\r\na=ice-ufrag:new".into())
        .expect("restart offer");
    w.pump();
    w.run_until(w.now + 500);
    let restarts = call_events(&w, Who::Agent)
        .iter()
        .filter(|e| matches!(e, CallEvent::RemoteOffer { sdp, .. } if sdp.contains("ufrag:new")))
        .count();
    assert_eq!(restarts, 1, "the restart offer reaches the agent once");
    w.agent
        .local_answer(w.at(), &session, "v=0\r\na=ice-ufrag:agent-new".into())
        .expect("answer the restart");
    w.pump();
    w.run_until(w.now + 500);
    assert!(matches!(
        call_events(&w, Who::Visitor).last(),
        Some(CallEvent::RemoteAnswer { sdp, .. }) if sdp.contains("agent-new")
    ));
    assert!(matches!(w.visitor.call_state(), CallState::Active { .. }));
    assert!(w.server.logs[&session].in_call());
}

#[test]
fn modalities_not_enabled_are_never_offered() {
    let mut w = World::new(12, NetConfig::PERFECT);
    let mut config = common::demo_config();
    config.modalities = Modalities::new([
        interact_sdk::modality::Modality::Chat,
        interact_sdk::modality::Modality::Audio,
    ]);
    w.server.config = Some(config);
    let session = started_and_connected(&mut w, None);
    assert!(matches!(
        w.visitor.start_call(w.at(), CallMedia::Video),
        Err(Error::ApiMisuse(_))
    ));
    // A client that skips the check is refused by the relay.
    let forged = interact_sdk::protocol::ClientFrame::Call {
        session: None,
        signal: interact_sdk::protocol::CallSignal::Start {
            call: interact_sdk::ids::CallId::new("c-forged").expect("valid"),
            media: CallMedia::Video,
        },
    };
    let log = w.server.logs.get_mut(&session).expect("log");
    let err = log
        .handle(interact_sdk::time::UnixMillis(0), Party::Visitor, &forged)
        .expect_err("refused");
    assert_eq!(err.code, ErrorCode::NotAllowed);
    // Audio is fine; the camera cannot be switched on in an audio call.
    w.visitor
        .start_call(w.at(), CallMedia::Audio)
        .expect("audio");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(
        w.visitor.set_media(
            w.at(),
            MediaState {
                muted: false,
                camera: false,
                screen: true
            }
        ),
        Err(Error::ApiMisuse(_))
    ));
}

#[test]
fn a_call_first_session_rings_the_agent_and_asks_the_visitor_to_call_once_accepted() {
    let mut w = World::new(17, NetConfig::PERFECT);
    w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
    w.visitor
        .start_with_call(w.at(), demo_form(None), CallMedia::Video)
        .expect("valid form");
    w.pump();
    w.run_until_cond(10_000, |w| {
        w.agent.offers().count() == 1 && w.agent.link() == &LinkState::Online
    });
    // The offer says it is a call (the console rings), and nothing is to be placed yet.
    assert_eq!(
        w.agent.offers().next().and_then(|o| o.call),
        Some(CallMedia::Video)
    );
    assert_eq!(w.visitor.pending_call(), None);
    assert_eq!(accept_offers(&mut w), 1);
    w.run_until_cond(10_000, |w| {
        matches!(w.visitor.state(), VisitorState::Connected { .. })
    });
    let session = w.server.logs.keys().next().expect("one session").clone();
    assert_eq!(w.visitor.call_first(), Some(CallMedia::Video));
    assert_eq!(w.visitor.pending_call(), Some(CallMedia::Video));
    w.visitor
        .start_call(w.at(), CallMedia::Video)
        .expect("call");
    assert_eq!(w.visitor.pending_call(), None, "placed once");
    w.pump();
    w.run_until(w.now + 100);
    assert!(matches!(
        call_events(&w, Who::Agent)[..],
        [CallEvent::Incoming {
            media: CallMedia::Video,
            ..
        }]
    ));
    // The relay counts the session as a call task until that call ends.
    assert!(w.server.logs[&session].call_task());
    w.visitor
        .hangup(w.at(), HangupReason::Normal)
        .expect("hangup");
    w.pump();
    w.run_until(w.now + 100);
    assert!(!w.server.logs[&session].call_task());
    assert_eq!(
        w.visitor.pending_call(),
        None,
        "the chat goes on without a new call"
    );
    // A chat never asks for a call.
    let mut chat = World::new(18, NetConfig::PERFECT);
    started_and_connected(&mut chat, None);
    assert_eq!(chat.visitor.pending_call(), None);
    assert!(
        !chat
            .server
            .logs
            .values()
            .next()
            .expect("a session")
            .call_task()
    );
}

/// The relay's view of a call-first session across a transfer: an agent leaving during the
/// call owes the next agent a call (a call task again); leaving after it ended does not.
#[test]
fn a_call_first_call_goes_on_with_the_next_agent_only_if_it_was_on() {
    use interact_sdk::ids::{AgentId, CallId, SessionId};
    use interact_sdk::protocol::{AgentInfo, CallSignal, Consent, VisitorInfo};
    use interact_sdk::relay::SessionLog;
    use interact_sdk::time::UnixMillis;
    let agent = |id: &str| AgentInfo {
        id: AgentId::new(id).expect("id"),
        display_name: id.into(),
    };
    let call = |n: &str, signal: fn(CallId) -> CallSignal, from: Party| SessionEvent::Call {
        from,
        signal: signal(CallId::new(n).expect("id")),
    };
    let start = |c| CallSignal::Start {
        call: c,
        media: CallMedia::Audio,
    };
    let hangup = |c| CallSignal::Hangup {
        call: c,
        reason: HangupReason::Normal,
    };
    let mut log = SessionLog::new(SessionId::new("s1").expect("id"), Modalities::ALL);
    let at = UnixMillis(1);
    let push = |log: &mut SessionLog, e| {
        log.append(at, e).expect("appended");
    };
    push(
        &mut log,
        SessionEvent::Started {
            context: None,
            visitor: VisitorInfo {
                display_name: "Cora".into(),
                email: "cora@example.com".into(),
                channel: None,
                phone: None,
                verified_id: None,
            },
            consent: Consent {
                policy_version: "2024-05".into(),
                at,
            },
            target: common::demo_config().target,
            call: Some(CallMedia::Audio),
        },
    );
    assert!(log.call_task(), "waiting: a call task");
    push(&mut log, SessionEvent::AgentJoined { agent: agent("a") });
    push(&mut log, call("c1", start, Party::Visitor));
    assert!(log.call_task());
    // Transferred during the call: the next agent is owed the call.
    push(&mut log, SessionEvent::AgentLeft { agent: agent("a") });
    assert!(log.call_task(), "still a call for the next agent");
    push(&mut log, SessionEvent::AgentJoined { agent: agent("b") });
    push(&mut log, call("c2", start, Party::Visitor));
    push(&mut log, call("c2", hangup, Party::Agent));
    assert!(!log.call_task(), "the call ended: a chat");
    // Transferred after the call ended: a chat for the next agent too.
    push(&mut log, SessionEvent::AgentLeft { agent: agent("b") });
    assert!(!log.call_task());
}

/// The quality summaries of `from` stored in the session's log, in order.
fn stored_quality(w: &World, session: &interact_sdk::ids::SessionId, from: Party) -> Vec<u32> {
    w.server.logs[session]
        .events_after(Seq::ZERO)
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::Call {
                from: f,
                signal: CallSignal::Quality { summary, .. },
            } if *f == from => Some(summary.samples),
            _ => None,
        })
        .collect()
}

/// Both sides sample the answered call every 2 s on the virtual clock: each sends its
/// summary every 30 s, and its final one when the call ends (the agent after its own
/// hang-up, the visitor when it hears of it), each covering the whole call.
#[test]
fn quality_summaries_go_out_every_interval_and_at_the_end() {
    let mut w = World::new(13, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    // Not before the call is answered.
    assert!(matches!(
        w.visitor.call_stats(w.at(), StatsReading::default()),
        Err(Error::ApiMisuse(_))
    ));
    w.visitor
        .start_call(w.at(), CallMedia::Video)
        .expect("call");
    w.pump();
    w.run_until(w.now + 100);
    w.agent.accept_call(w.at(), &session).expect("accept");
    w.pump();
    w.run_until(w.now + 100);
    let reading = |n: u64| StatsReading {
        rtt_ms: Some(40),
        jitter_ms: Some(5),
        packets_received: Some(n * 100),
        packets_lost: Some(0),
        bytes_received: Some(n * 250_000),
        width_px: Some(640),
        height_px: Some(480),
    };
    // 40 samples, one every 2 s: 78 s, so two periodic summaries each (at 30 s and 60 s).
    for n in 0..40 {
        let v = w.visitor.call_stats(w.at(), reading(n)).expect("visitor");
        let a = w
            .agent
            .call_stats(w.at(), &session, reading(n))
            .expect("agent");
        assert_eq!(
            (v, a),
            (Some(QualityRating::Good), Some(QualityRating::Good))
        );
        w.pump();
        w.run_until(w.now + 2_000);
    }
    assert_eq!(stored_quality(&w, &session, Party::Visitor), [16, 31]);
    assert_eq!(stored_quality(&w, &session, Party::Agent), [16, 31]);
    let recent = w.agent.call_quality(&session).expect("samples");
    assert_eq!(
        (recent.rtt_ms, recent.bitrate_kbps, recent.height_px),
        (Some(40), Some(1000), Some(480))
    );
    w.agent
        .hangup(w.at(), &session, HangupReason::Normal)
        .expect("hangup");
    w.pump();
    w.run_until(w.now + 500);
    assert_eq!(stored_quality(&w, &session, Party::Visitor), [16, 31, 40]);
    assert_eq!(stored_quality(&w, &session, Party::Agent), [16, 31, 40]);
    let last = w.server.logs[&session]
        .events_after(Seq::ZERO)
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            SessionEvent::Call {
                signal: CallSignal::Quality { summary, .. },
                ..
            } => Some(*summary),
            _ => None,
        })
        .expect("a summary");
    assert_eq!(last.height_px.map(|h| h.median), Some(480));
    assert_eq!(
        last.bitrate_kbps.map(|b| (b.min, b.max)),
        Some((1000, 1000))
    );
    assert_eq!(last.loss_permille.map(|l| l.max), Some(0));
    // The call is over: no more samples, nothing more sent.
    assert!(w.agent.call_stats(w.at(), &session, reading(41)).is_err());
    assert!(w.agent.call_quality(&session).is_none());
}

/// A call that ends with its session: the side that ends the chat sends its quality
/// summary first, so it is stored before `ended`; the other side sends nothing after.
#[test]
fn ending_the_chat_in_a_call_sends_the_quality_summary_first() {
    let mut w = World::new(14, NetConfig::PERFECT);
    let session = started_and_connected(&mut w, None);
    w.visitor
        .start_call(w.at(), CallMedia::Audio)
        .expect("call");
    w.pump();
    w.run_until(w.now + 100);
    w.agent.accept_call(w.at(), &session).expect("accept");
    w.pump();
    w.run_until(w.now + 100);
    let reading = StatsReading {
        rtt_ms: Some(120),
        ..Default::default()
    };
    for _ in 0..3 {
        w.visitor.call_stats(w.at(), reading).expect("visitor");
        w.agent
            .call_stats(w.at(), &session, reading)
            .expect("agent");
        w.run_until(w.now + 2_000);
    }
    w.visitor.end_chat(w.at()).expect("end");
    w.pump();
    w.run_until(w.now + 500);
    let events = w.server.logs[&session].events_after(Seq::ZERO);
    let tail: Vec<&SessionEvent> = events.iter().rev().take(2).map(|e| &e.event).collect();
    assert!(
        matches!(
            tail[..],
            [
                SessionEvent::Ended { .. },
                SessionEvent::Call {
                    from: Party::Visitor,
                    signal: CallSignal::Quality { .. },
                }
            ]
        ),
        "{tail:?}"
    );
    assert_eq!(stored_quality(&w, &session, Party::Visitor), [3]);
    assert!(stored_quality(&w, &session, Party::Agent).is_empty());
}

/// The host page's context goes with `start_chat` and ends up in the session's `started`
/// event; one over the bounds is refused locally and the previous one stays.
#[test]
fn the_chat_context_travels_in_start_chat_and_an_oversize_one_is_refused() {
    use interact_sdk::context::{ChatContext, ContextError};

    let mut w = World::new(8, NetConfig::PERFECT);
    let context = ChatContext {
        page_url: Some("https://shop.example/kettles".into()),
        attributes: [("plan".to_owned(), "gold".to_owned())].into(),
    };
    w.visitor
        .set_context(context.clone())
        .expect("within bounds");
    let mut oversize = context.clone();
    oversize.attributes.insert("note".into(), "x".repeat(201));
    assert_eq!(
        w.visitor.set_context(oversize),
        Err(Error::InvalidContext(ContextError::InvalidValue {
            key: "note".into(),
            max: 200
        }))
    );
    let session = started_and_connected(&mut w, None);
    let started = w.server.logs[&session]
        .events_after(Seq::ZERO)
        .first()
        .expect("started")
        .event
        .clone();
    let SessionEvent::Started { context: sent, .. } = started else {
        panic!("started first: {started:?}");
    };
    assert_eq!(sent.map(|c| *c), Some(context));
}
