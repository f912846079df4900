//! Property tests: codec round trips, hostile input, and session invariants under
//! whatever drops, duplicates, reorderings and reconnects the link produces.
//!
//! Native only: proptest is not built for wasm32 here (the simulations in `sim.rs` run
//! in the browser too).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{
    NetConfig, Who, World, accept_offers, assert_exactly_once_in_order, demo_form, message_counts,
};
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::modality::Modalities;
use interact_sdk::protocol::{
    ClientFrame, ErrorCode, Party, ServerFrame, decode_client, decode_server, encode,
};
use interact_sdk::relay::{Effect, SessionLog};
use interact_sdk::time::UnixMillis;
use interact_sdk::{LinkState, VisitorState};
use proptest::prelude::*;

fn message_id() -> impl Strategy<Value = MessageId> {
    "[A-Za-z0-9_-]{1,64}".prop_map(|s| MessageId::new(s).expect("matches the id rules"))
}

proptest! {
    #[test]
    fn send_frames_round_trip(id in message_id(), text in any::<String>(), agent in any::<bool>()) {
        let session = agent.then(|| SessionId::new("s-1").expect("valid"));
        let frame = ClientFrame::Send { session, id, text, after: None };
        let json = encode(&frame);
        prop_assert_eq!(decode_client(&json).expect("own output decodes"), frame);
    }

    #[test]
    fn arbitrary_text_never_panics_the_decoders(text in any::<String>()) {
        let _ = decode_client(&text);
        let _ = decode_server(&text);
    }

    #[test]
    fn arbitrary_nesting_is_bounded(depth in 0usize..40, obj in any::<bool>()) {
        let (open, close) = if obj { ("{\"a\":", "}") } else { ("[", "]") };
        let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let r = decode_client(&text);
        if depth > interact_sdk::limits::MAX_JSON_DEPTH {
            prop_assert_eq!(r.expect_err("too deep").code(), ErrorCode::TooDeep);
        } else {
            prop_assert_eq!(r.expect_err("not a frame").code(), ErrorCode::Malformed);
        }
    }

    /// Whatever mix of new messages and resends arrives, every message id is stored once,
    /// sequence numbers have no gaps, and a resend is acknowledged with the original seq.
    #[test]
    fn relay_stores_each_message_once(ops in proptest::collection::vec((0u8..8, any::<bool>()), 1..60)) {
        let mut log = SessionLog::new(SessionId::new("s").expect("valid"), Modalities::ALL);
        let mut first_seq = std::collections::BTreeMap::new();
        for (n, (id, agent)) in ops.into_iter().enumerate() {
            let from = if agent { Party::Agent } else { Party::Visitor };
            let id = MessageId::new(format!("m{id}")).expect("valid");
            let frame = ClientFrame::Send { session: None, id: id.clone(), text: format!("text {n}"), after: None };
            let effects = log.handle(UnixMillis(n as u64), from, &frame).expect("valid send");
            let acked = effects.iter().find_map(|e| match e {
                Effect::Reply(ServerFrame::Ack { seq, .. }) => Some(*seq),
                _ => None,
            }).expect("always acknowledged");
            let expected = *first_seq.entry((from, id)).or_insert(acked);
            prop_assert_eq!(acked, expected);
        }
        for (i, e) in log.events_after(Seq::ZERO).iter().enumerate() {
            prop_assert_eq!(e.seq, Seq(i as u64 + 1));
        }
        prop_assert_eq!(log.head().0 as usize, first_seq.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The session invariant end to end: no event delivered twice or out of order, and
    /// every message stored exactly once, whatever the link does.
    #[test]
    fn exactly_once_in_order_whatever_the_link_does(
        seed in any::<u64>(),
        drop_pm in 0u64..300,
        dup_pm in 0u64..300,
        max_delay_ms in 1u64..200,
        cut_pm in 0u64..40,
        reorder in any::<bool>(),
        sends in proptest::collection::vec((any::<bool>(), 0u64..400), 1..25),
    ) {
        let mut w = World::new(seed, NetConfig::PERFECT);
        w.run_until_cond(5_000, |w| w.visitor.state() == &VisitorState::Form);
        w.visitor.start_chat(w.at(), demo_form(Some("hi"))).expect("valid form");
        w.pump();
        w.run_until_cond(10_000, |w| w.agent.offers().count() == 1 && w.agent.link() == &LinkState::Online);
        prop_assert_eq!(accept_offers(&mut w), 1);
        w.run_until_cond(10_000, |w| matches!(w.visitor.state(), VisitorState::Connected { .. }));
        let session = w.server.logs.keys().next().expect("session").clone();
        w.net = NetConfig { drop_pm, dup_pm, max_delay_ms, cut_pm, reorder };
        let mut ids = Vec::new();
        for (i, (agent, pause)) in sends.into_iter().enumerate() {
            let now = w.at();
            let text = format!("message {i}");
            let sent = if agent {
                w.agent.send_message(now, &session, &text).map(|id| ("Agent", id))
            } else {
                w.visitor.send_message(now, &text).map(|id| ("Visitor", id))
            };
            ids.push(sent.expect("sending works online and offline"));
            w.pump();
            w.run_until(w.now + pause);
        }
        w.heal();
        w.run_until_cond(200_000, |w| {
            let head = w.server.logs[&session].head();
            !w.visitor.has_unsent()
                && !w.agent.has_unsent()
                && w.visitor.last_seq() == head
                && w.agent.last_seq(&session) == Some(head)
        });
        let log = &w.server.logs[&session];
        let counts = message_counts(log);
        for (who, id) in ids {
            prop_assert_eq!(counts.get(&(who.to_owned(), id)), Some(&1));
        }
        assert_exactly_once_in_order(&w.seen[&Who::Visitor].timeline, log, Seq::ZERO);
        assert_exactly_once_in_order(&w.seen[&Who::Agent].timeline, log, Seq::ZERO);
    }
}
