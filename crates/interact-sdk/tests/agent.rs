//! The agent machine handles several visitors at once: offers, accept, per-session
//! messages and ends, driven by hand-written server frames.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use interact_sdk::config::{Target, TargetKind};
use interact_sdk::ids::{AgentId, MessageId, Seq, SessionId};
use interact_sdk::protocol::{
    AgentInfo, ClientFrame, EndReason, EventFrame, IceServer, Offer, PROTOCOL_VERSION, Party,
    Presence, ServerFrame, SessionEvent, VisitorInfo, decode_client, encode,
};
use interact_sdk::time::{Instant, UnixMillis};
use interact_sdk::{Agent, AgentOptions, Error, Event, Input, LinkState, Output};

struct Driver {
    agent: Agent,
    sent: Vec<ClientFrame>,
    events: Vec<Event>,
}

impl Driver {
    fn drain(&mut self) {
        loop {
            match self.agent.poll_output() {
                Output::Transmit(t) => self.sent.push(decode_client(&t).expect("valid frame")),
                Output::Event(e) => self.events.push(e),
                Output::Timeout(_) => break,
                Output::Connect | Output::Close(_) => {}
            }
        }
    }

    fn receive(&mut self, frame: &ServerFrame) {
        self.agent
            .handle_input(Instant::from_millis(10), Input::Received(&encode(frame)))
            .expect("valid");
        self.drain();
    }
}

fn sid(s: &str) -> SessionId {
    SessionId::new(s).expect("valid")
}

fn offer(s: &str, name: &str) -> ServerFrame {
    ServerFrame::Offer(Offer {
        session: sid(s),
        visitor: VisitorInfo {
            display_name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            channel: None,
            phone: None,
            verified_id: None,
        },
        target: Target {
            kind: TargetKind::Service,
            display_name: "Support".into(),
        },
        first_message: None,
        expires_at: UnixMillis(30_000),
        call: None,
    })
}

fn event(s: &str, seq: u64, event: SessionEvent) -> ServerFrame {
    ServerFrame::Event(EventFrame {
        session: sid(s),
        seq: Seq(seq),
        at: UnixMillis(seq),
        event,
    })
}

#[test]
fn two_visitors_at_once() {
    let now = Instant::from_millis(10);
    let mut d = Driver {
        agent: Agent::new(
            Instant::ZERO,
            AgentOptions {
                seed: 1,
                token: "t".into(),
                client: None,
            },
        ),
        sent: Vec::new(),
        events: Vec::new(),
    };
    d.drain();
    d.agent.handle_input(now, Input::Connected).expect("ok");
    d.drain();
    assert!(
        matches!(&d.sent[..], [ClientFrame::AgentHello(h)] if h.token == "t" && h.protocol == PROTOCOL_VERSION)
    );
    d.receive(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: Some(AgentInfo {
            id: AgentId::new("a1").expect("valid"),
            display_name: "Alex".into(),
        }),
        heads: Default::default(),
    });
    assert!(matches!(
        d.sent.last(),
        Some(ClientFrame::SetPresence {
            presence: Presence::Available
        })
    ));
    // The server sets the agent away (missed offers): the next welcome keeps it so.
    d.receive(&ServerFrame::Presence {
        presence: Presence::Away,
    });
    assert_eq!(d.agent.presence(), Presence::Away);
    d.receive(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: None,
        heads: Default::default(),
    });
    assert!(matches!(
        d.sent.last(),
        Some(ClientFrame::SetPresence {
            presence: Presence::Away
        })
    ));
    d.agent.set_presence(now, Presence::Available);

    d.receive(&offer("s1", "Ann"));
    d.receive(&offer("s2", "Bob"));
    assert_eq!(d.agent.offers().count(), 2);
    d.agent.accept(now, &sid("s1")).expect("accept s1");
    d.agent.accept(now, &sid("s2")).expect("accept s2");
    assert!(matches!(
        d.agent.accept(now, &sid("s3")),
        Err(Error::ApiMisuse(_))
    ));
    d.drain();

    for (s, name) in [("s1", "Ann"), ("s2", "Bob")] {
        d.receive(&event(
            s,
            1,
            SessionEvent::Message {
                id: MessageId::new(format!("m-{s}")).expect("valid"),
                from: Party::Visitor,
                author: Some(name.into()),
                text: format!("hello from {name}"),
            },
        ));
    }
    // Each session got a delivered receipt addressed to it.
    let receipts: Vec<_> = d
        .sent
        .iter()
        .filter_map(|f| match f {
            ClientFrame::Receipt { session, up_to, .. } => Some((session.clone(), *up_to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        receipts,
        [(Some(sid("s1")), Seq(1)), (Some(sid("s2")), Seq(1))]
    );

    d.sent.clear();
    d.agent
        .send_message(now, &sid("s2"), "Hi Bob")
        .expect("send");
    d.agent
        .send_message(now, &sid("s1"), "Hi Ann")
        .expect("send");
    d.drain();
    let sends: Vec<_> = d
        .sent
        .iter()
        .filter_map(|f| match f {
            ClientFrame::Send { session, text, .. } => Some((session.clone(), text.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        sends,
        [(Some(sid("s2")), "Hi Bob"), (Some(sid("s1")), "Hi Ann")]
    );

    // Ending one session leaves the other open.
    d.receive(&event(
        "s1",
        2,
        SessionEvent::Ended {
            reason: EndReason::AgentEnded,
        },
    ));
    assert!(matches!(
        d.agent.send_message(now, &sid("s1"), "late"),
        Err(Error::ApiMisuse(_))
    ));
    d.agent
        .send_message(now, &sid("s2"), "still here")
        .expect("s2 open");
    let open: Vec<_> = d
        .agent
        .sessions()
        .filter(|(_, ended)| !ended)
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(open, [sid("s2")]);
    d.agent.forget(&sid("s1"));
    assert_eq!(d.agent.sessions().count(), 1);

    // After a reconnect the hello resumes the open session from what was seen.
    d.drain();
    d.sent.clear();
    d.agent
        .handle_input(now, Input::Disconnected(None))
        .expect("ok");
    d.agent.handle_input(now, Input::Connected).expect("ok");
    d.drain();
    let Some(ClientFrame::AgentHello(h)) = d.sent.first() else {
        panic!("expected agent_hello, got {:?}", d.sent);
    };
    assert_eq!(h.resume.get(&sid("s2")), Some(&Seq(1)));
    assert_eq!(h.resume.len(), 1);
}

#[test]
fn ice_servers_are_kept_and_announced_the_latest_replacing_the_last() {
    let now = Instant::from_millis(10);
    let mut d = Driver {
        agent: Agent::new(
            Instant::ZERO,
            AgentOptions {
                seed: 1,
                token: "t".into(),
                client: None,
            },
        ),
        sent: Vec::new(),
        events: Vec::new(),
    };
    d.drain();
    d.agent.handle_input(now, Input::Connected).expect("ok");
    d.drain();
    assert!(d.agent.ice_servers().is_empty());
    let turn = |user: &str| IceServer {
        urls: vec!["turn:turn.example.com:3478".into()],
        username: Some(format!("100:{user}")),
        credential: Some("c2VjcmV0".into()),
    };
    for (servers, expires_at) in [
        (vec![turn("a1")], Some(UnixMillis(100_000))),
        (Vec::new(), None),
    ] {
        d.events.clear();
        d.receive(&ServerFrame::IceServers {
            servers: servers.clone(),
            expires_at,
        });
        assert_eq!(d.agent.ice_servers(), &servers[..]);
        assert_eq!(d.agent.ice_expires_at(), expires_at);
        assert_eq!(
            d.events,
            vec![Event::IceServers {
                servers,
                expires_at
            }]
        );
    }
    // Nothing is sent back.
    assert!(matches!(&d.sent[..], [ClientFrame::AgentHello(_)]));
}

fn signed_in_agent() -> Driver {
    let mut d = Driver {
        agent: Agent::new(
            Instant::ZERO,
            AgentOptions {
                seed: 7,
                token: "t".into(),
                client: None,
            },
        ),
        sent: Vec::new(),
        events: Vec::new(),
    };
    d.drain();
    d.agent
        .handle_input(Instant::from_millis(10), Input::Connected)
        .expect("ok");
    d.drain();
    d
}

fn syncs(sent: &[ClientFrame]) -> Vec<(SessionId, Seq)> {
    sent.iter()
        .filter_map(|f| match f {
            ClientFrame::Sync {
                session: Some(s),
                after,
            } => Some((s.clone(), *after)),
            _ => None,
        })
        .collect()
}

/// After a reload the console knows none of its sessions: the welcome's heads name them,
/// and the agent fetches each from the start at once, page after page, until it has all.
#[test]
fn sessions_named_only_in_the_welcome_heads_are_fetched_page_by_page() {
    let mut d = signed_in_agent();
    d.receive(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: None,
        heads: [(sid("s1"), Seq(3)), (sid("s2"), Seq(2))].into(),
    });
    assert_eq!(
        syncs(&d.sent),
        [(sid("s1"), Seq(0)), (sid("s2"), Seq(0))],
        "each session is asked for from seq 0, without waiting for a timer"
    );
    d.sent.clear();
    // The server sends the first page of s1: two of its three events.
    let msg = |n: u64| SessionEvent::Message {
        id: MessageId::new(format!("m{n}")).expect("valid"),
        from: Party::Visitor,
        author: Some("Ann".into()),
        text: format!("hello {n}"),
    };
    d.receive(&event("s1", 1, msg(1)));
    d.receive(&event("s1", 2, msg(2)));
    d.receive(&ServerFrame::Replayed {
        session: sid("s1"),
        through: Seq(2),
        head: Seq(3),
    });
    assert_eq!(
        syncs(&d.sent),
        [(sid("s1"), Seq(2))],
        "more follows: asked at once"
    );
    d.sent.clear();
    d.receive(&event("s1", 3, msg(3)));
    d.receive(&ServerFrame::Replayed {
        session: sid("s1"),
        through: Seq(3),
        head: Seq(3),
    });
    assert!(syncs(&d.sent).is_empty(), "nothing missing: no sync");
    assert_eq!(d.agent.last_seq(&sid("s1")), Some(Seq(3)));
    // The next agent_hello resumes both where they are.
    d.agent
        .handle_input(Instant::from_millis(20), Input::Disconnected(Some(1001)))
        .expect("ok");
    d.agent.handle_timeout(Instant::from_millis(60_000));
    d.drain();
    d.agent
        .handle_input(Instant::from_millis(60_010), Input::Connected)
        .expect("ok");
    d.drain();
    let hello = d.sent.iter().rev().find_map(|f| match f {
        ClientFrame::AgentHello(h) => Some(h.resume.clone()),
        _ => None,
    });
    assert_eq!(
        hello,
        Some([(sid("s1"), Seq(3)), (sid("s2"), Seq(0))].into())
    );
}

/// A message refused for the rate is sent again with every later one, in order; one
/// refused for good is reported failed and not sent again.
#[test]
fn refused_messages_keep_their_order_or_fail() {
    use interact_sdk::DeliveryState;
    use interact_sdk::protocol::{ErrorCode, ErrorFrame};
    let mut d = signed_in_agent();
    d.receive(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: None,
        heads: [(sid("s1"), Seq(0))].into(),
    });
    d.receive(&offer("s9", "Ann"));
    d.agent
        .accept(Instant::from_millis(10), &sid("s9"))
        .expect("offered");
    d.receive(&event(
        "s9",
        1,
        SessionEvent::Started {
            context: None,
            visitor: VisitorInfo {
                display_name: "Ann".into(),
                email: "ann@example.com".into(),
                channel: None,
                phone: None,
                verified_id: None,
            },
            consent: interact_sdk::protocol::Consent {
                policy_version: "1".into(),
                at: UnixMillis(1),
            },
            target: Target {
                kind: TargetKind::Service,
                display_name: "Support".into(),
            },
            call: None,
        },
    ));
    let t0 = Instant::from_millis(100);
    let ids: Vec<MessageId> = (0..3)
        .map(|n| {
            d.agent
                .send_message(t0, &sid("s9"), &format!("m {n}"))
                .expect("sent")
        })
        .collect();
    d.drain();
    d.sent.clear();
    let refuse = |code, id: &MessageId| {
        ServerFrame::Error(
            ErrorFrame::new(code, "no")
                .in_session(sid("s9"))
                .about(id.clone()),
        )
    };
    // The first is refused for the rate (the later two are on their way and will be
    // refused by the server too).
    d.agent
        .handle_input(
            Instant::from_millis(200),
            Input::Received(&encode(&refuse(ErrorCode::RateLimited, &ids[0]))),
        )
        .expect("ok");
    d.drain();
    d.agent.handle_timeout(Instant::from_millis(4_000));
    d.drain();
    assert!(
        d.sent.is_empty(),
        "held back until ACK_TIMEOUT after the refusal"
    );
    d.agent.handle_timeout(Instant::from_millis(5_200));
    d.drain();
    let resent: Vec<MessageId> = d
        .sent
        .iter()
        .filter_map(|f| match f {
            ClientFrame::Send { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(resent, ids, "all three again, in their order");
    d.sent.clear();
    d.events.clear();
    // The second is refused for good: failed, never sent again.
    d.agent
        .handle_input(
            Instant::from_millis(5_300),
            Input::Received(&encode(&refuse(ErrorCode::SessionFull, &ids[1]))),
        )
        .expect("ok");
    d.drain();
    assert!(d.events.iter().any(|e| matches!(
        e,
        Event::MessageState { id, state: DeliveryState::Failed, .. } if *id == ids[1]
    )));
    d.agent.handle_timeout(Instant::from_millis(20_000));
    d.drain();
    assert!(
        d.sent
            .iter()
            .all(|f| !matches!(f, ClientFrame::Send { id, .. } if *id == ids[1]))
    );
    // The third is not allowed (a WhatsApp reply outside the 24-hour window): failed too.
    d.events.clear();
    d.agent
        .handle_input(
            Instant::from_millis(20_100),
            Input::Received(&encode(&refuse(ErrorCode::NotAllowed, &ids[2]))),
        )
        .expect("ok");
    d.drain();
    assert!(d.events.iter().any(|e| matches!(
        e,
        Event::MessageState { id, state: DeliveryState::Failed, .. } if *id == ids[2]
    )));
    // The first is stored, then its channel could not deliver it: failed.
    d.events.clear();
    d.receive(&event(
        "s9",
        2,
        SessionEvent::Message {
            id: ids[0].clone(),
            from: Party::Agent,
            author: Some("Alex".into()),
            text: "m 0".into(),
        },
    ));
    d.receive(&event(
        "s9",
        3,
        SessionEvent::Undelivered {
            message: ids[0].clone(),
            from: Party::Agent,
            reason: "The number is not on WhatsApp.".into(),
        },
    ));
    let states: Vec<DeliveryState> = d
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageState { id, state, .. } if *id == ids[0] => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(states, [DeliveryState::Sent, DeliveryState::Failed]);
}

/// "Retry now": a link waiting to reconnect, or closed for good (another console took
/// over with 4011), connects at once and says so; a link already connecting refuses.
#[test]
fn reconnect_now_connects_at_once() {
    let mut agent = Agent::new(
        Instant::ZERO,
        AgentOptions {
            seed: 7,
            token: "t".into(),
            client: None,
        },
    );
    let drain = |agent: &mut Agent| {
        let mut outputs = Vec::new();
        loop {
            match agent.poll_output() {
                Output::Timeout(_) => return outputs,
                o => outputs.push(o),
            }
        }
    };
    drain(&mut agent);
    assert!(matches!(
        agent.reconnect_now(Instant::ZERO),
        Err(Error::ApiMisuse(_))
    ));
    agent
        .handle_input(Instant::ZERO, Input::Disconnected(None))
        .expect("ok");
    drain(&mut agent);
    assert!(matches!(agent.link(), LinkState::Reconnecting { .. }));
    let now = Instant::from_millis(50);
    agent.reconnect_now(now).expect("reconnects");
    assert_eq!(
        drain(&mut agent),
        [
            Output::Connect,
            Output::Event(Event::Link(LinkState::Connecting))
        ]
    );
    agent.handle_input(now, Input::Connected).expect("ok");
    agent
        .handle_input(now, Input::Disconnected(Some(4011)))
        .expect("ok");
    drain(&mut agent);
    assert_eq!(agent.link(), &LinkState::Closed { code: Some(4011) });
    agent.reconnect_now(now).expect("reconnects after a close");
    assert_eq!(drain(&mut agent).first(), Some(&Output::Connect));
    assert_eq!(agent.link(), &LinkState::Connecting);
}

/// A transfer: the frame names the session and the target; the agent's own `agent_left`
/// closes the session for them (not resumed, not writable), while another agent's (in a
/// transcript replayed to the next agent) does not.
#[test]
fn own_transfer_closes_the_session_for_the_agent_only() {
    use interact_sdk::ids::TargetId;
    use interact_sdk::protocol::{AgentInfo, TargetInfo, TransferTarget};
    let me = |id: &str| AgentInfo {
        id: AgentId::new(id).expect("valid"),
        display_name: id.to_uppercase(),
    };
    let mut d = signed_in_agent();
    d.receive(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: Some(me("alex")),
        heads: Default::default(),
    });
    for s in ["s1", "s2"] {
        d.receive(&offer(s, "Ann"));
        d.agent
            .accept(Instant::from_millis(10), &sid(s))
            .expect("offered");
        d.receive(&event(s, 1, SessionEvent::Queued { position: 1 }));
    }
    let billing = TransferTarget {
        kind: TargetKind::Service,
        id: TargetId::new("billing").expect("valid"),
    };
    d.sent.clear();
    d.agent
        .transfer(Instant::from_millis(20), &sid("s1"), billing.clone())
        .expect("online, a session of the agent's");
    d.drain();
    assert_eq!(
        d.sent,
        [ClientFrame::Transfer {
            session: sid("s1"),
            to: billing.clone(),
        }]
    );
    assert!(
        d.agent
            .transfer(Instant::from_millis(20), &sid("s7"), billing.clone())
            .is_err()
    );
    // The server's answer: transferred, then alex's agent_left.
    d.receive(&event(
        "s1",
        2,
        SessionEvent::Transferred {
            by: Some(me("alex")),
            from: TargetInfo {
                kind: TargetKind::Service,
                id: TargetId::new("support").expect("valid"),
                display_name: "Support".into(),
            },
            to: TargetInfo {
                kind: TargetKind::Service,
                id: TargetId::new("billing").expect("valid"),
                display_name: "Billing".into(),
            },
        },
    ));
    d.receive(&event(
        "s1",
        3,
        SessionEvent::AgentLeft { agent: me("alex") },
    ));
    // Another agent's leaving (a colleague, in s2's history) changes nothing.
    d.receive(&event(
        "s2",
        2,
        SessionEvent::AgentLeft { agent: me("sam") },
    ));
    let sessions: Vec<(SessionId, bool)> = d
        .agent
        .sessions()
        .map(|(s, ended)| (s.clone(), ended))
        .collect();
    assert_eq!(sessions, [(sid("s1"), true), (sid("s2"), false)]);
    assert!(matches!(
        d.agent
            .send_message(Instant::from_millis(30), &sid("s1"), "still there?"),
        Err(Error::ApiMisuse(_))
    ));
    assert!(
        d.agent
            .transfer(Instant::from_millis(30), &sid("s1"), billing)
            .is_err()
    );
    d.agent
        .send_message(Instant::from_millis(30), &sid("s2"), "hello")
        .expect("s2 is still the agent's");
    // After a reconnect only s2 is resumed.
    d.sent.clear();
    d.agent
        .handle_input(Instant::from_millis(40), Input::Disconnected(Some(1006)))
        .expect("ok");
    d.agent.handle_timeout(Instant::from_millis(60_000));
    d.drain();
    d.agent
        .handle_input(Instant::from_millis(60_001), Input::Connected)
        .expect("ok");
    d.drain();
    let resumed = d.sent.iter().find_map(|f| match f {
        ClientFrame::AgentHello(h) => Some(h.resume.keys().cloned().collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(resumed, Some(vec![sid("s2")]));
    // Transferred back to alex, who accepts it again: theirs once more.
    d.receive(&ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        config: None,
        session: None,
        agent: Some(me("alex")),
        heads: [(sid("s2"), Seq(2))].into(),
    });
    d.receive(&offer("s1", "Ann"));
    d.agent
        .accept(Instant::from_millis(60_010), &sid("s1"))
        .expect("offered");
    d.receive(&event(
        "s1",
        4,
        SessionEvent::AgentJoined { agent: me("alex") },
    ));
    assert!(d.agent.sessions().all(|(_, ended)| !ended));
    d.agent
        .send_message(Instant::from_millis(60_020), &sid("s1"), "back again")
        .expect("s1 is the agent's again");
}
