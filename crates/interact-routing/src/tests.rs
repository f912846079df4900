//! The router on a virtual clock: each rule on its own, the indexed strategy against the
//! brute-force specification, and seeded simulations of many agents and visitors.

use proptest::prelude::{ProptestConfig, any, prop, prop_assert_eq, prop_oneof, proptest};
use proptest::strategy::Strategy as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const TIMEOUT: u64 = 30_000;

fn service(id: &str) -> TargetRef {
    TargetRef::Service(id.into())
}

fn sid(n: u32) -> SessionId {
    SessionId::new(format!("s{n}")).expect("valid id")
}

fn prio(p: u8) -> Priority {
    Priority::new(p).expect("1 to 9")
}

fn config(strategy: Strategy) -> DistributorConfig {
    DistributorConfig {
        max_chats: 2,
        offer_timeout_ms: TIMEOUT,
        missed_offers_before_away: 2,
        position_interval_ms: 0,
        strategy,
    }
}

/// `agents` agents a0.. (every third without audio/video), all members of `sales`; the
/// even ones also of `support`.
fn router(agents: u32, strategy: Strategy) -> Distributor {
    let names: Vec<UserId> = (0..agents).map(|i| format!("a{i}").into()).collect();
    let profiles = names.iter().enumerate().map(|(i, n)| AgentProfile {
        id: n.clone(),
        calls: i % 3 != 2,
    });
    let support: Vec<UserId> = names.iter().step_by(2).cloned().collect();
    let mut targets = vec![
        (service("sales"), names.clone()),
        (service("support"), support),
    ];
    targets.extend(
        names
            .iter()
            .map(|n| (TargetRef::User(n.clone()), vec![n.clone()])),
    );
    Distributor::new(config(strategy), profiles, targets)
}

fn drain(r: &mut Distributor) -> Vec<Output> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

fn offers(out: &[Output]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Offer { session, agent, .. } => Some((session.to_string(), agent.to_string())),
            _ => None,
        })
        .collect()
}

fn sign_in(r: &mut Distributor, agent: &str, at: u64) {
    r.set_signed_in(agent, true, UnixMillis(at));
    r.set_presence(agent, Presence::Available, UnixMillis(at));
}

fn queue(r: &mut Distributor, n: u32, target: &TargetRef, priority: u8, at: u64) {
    r.add(sid(n), target, TaskKind::Chat);
    r.enqueue(&sid(n), prio(priority), UnixMillis(at));
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(s, a)| ((*s).to_owned(), (*a).to_owned()))
        .collect()
}

#[test]
fn longest_idle_agent_first_and_load_spreads() {
    let mut r = router(3, Strategy::Indexed);
    sign_in(&mut r, "a1", 10);
    sign_in(&mut r, "a0", 20);
    sign_in(&mut r, "a2", 30);
    for n in 1..=4 {
        queue(&mut r, n, &service("sales"), 5, 100 + u64::from(n));
    }
    // a1 has waited longest, then a0, then a2; the fourth goes to a1 again (idle since
    // their offer at 101, earlier than the others').
    assert_eq!(
        offers(&drain(&mut r)),
        pairs(&[("s1", "a1"), ("s2", "a0"), ("s3", "a2"), ("s4", "a1")])
    );
}

#[test]
fn priority_first_then_time_in_queue() {
    let mut r = router(1, Strategy::Indexed);
    queue(&mut r, 1, &service("sales"), 5, 1);
    queue(&mut r, 2, &service("sales"), 8, 2);
    queue(&mut r, 3, &service("sales"), 5, 3);
    queue(&mut r, 4, &service("sales"), 8, 4);
    // Raising a task's priority keeps its time in the queue.
    r.set_priority(&sid(3), prio(9), UnixMillis(5));
    let out = drain(&mut r);
    let position = |n: u32| r.position(&sid(n));
    assert_eq!(
        [position(3), position(2), position(4), position(1)],
        [Some(1), Some(2), Some(3), Some(4)]
    );
    assert!(offers(&out).is_empty(), "nobody signed in");
    // One agent with room for two chats: the first two at once, then one per end.
    sign_in(&mut r, "a0", 10);
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s3", "a0"), ("s2", "a0")]));
    for (done, next) in [(3, Some(4)), (2, Some(1)), (4, None)] {
        r.accept(&sid(done), "a0", UnixMillis(11)).expect("offered");
        r.remove(&sid(done), UnixMillis(12));
        let expected: Vec<(String, String)> = next
            .iter()
            .map(|n| (format!("s{n}"), "a0".to_owned()))
            .collect();
        assert_eq!(offers(&drain(&mut r)), expected);
    }
}

#[test]
fn chat_limit_and_positions_count_down() {
    let mut r = router(1, Strategy::Indexed);
    sign_in(&mut r, "a0", 0);
    for n in 1..=5 {
        queue(&mut r, n, &service("sales"), 5, n.into());
    }
    let out = drain(&mut r);
    assert_eq!(
        offers(&out),
        pairs(&[("s1", "a0"), ("s2", "a0")]),
        "two chats at most"
    );
    for n in [1, 2] {
        r.accept(&sid(n), "a0", UnixMillis(10)).expect("offered");
    }
    drain(&mut r);
    assert_eq!(r.position(&sid(5)), Some(3));
    // An offered task still waits (position 1 until accepted); s5 moves up as the
    // tasks before it are accepted.
    let mut seen = Vec::new();
    let mut s5 = |out: &[Output]| {
        seen.extend(out.iter().filter_map(|o| match o {
            Output::Position { session, position } if session == &sid(5) => Some(*position),
            _ => None,
        }));
    };
    for (done, next) in [(1, 3), (2, 4), (3, 5)] {
        r.remove(&sid(done), UnixMillis(100));
        let out = drain(&mut r);
        assert_eq!(offers(&out), pairs(&[(&format!("s{next}"), "a0")]));
        s5(&out);
        r.accept(&sid(next), "a0", UnixMillis(101))
            .expect("offered");
        s5(&drain(&mut r));
    }
    assert_eq!(seen, [2, 1], "s5 counted down while chats ended");
    assert_eq!(r.position(&sid(5)), None, "accepted tasks have no position");
}

#[test]
fn positions_are_coalesced_to_one_announcement_per_interval() {
    let mut r = Distributor::new(
        DistributorConfig {
            position_interval_ms: 1_000,
            ..config(Strategy::Indexed)
        },
        [AgentProfile {
            id: "a0".into(),
            calls: false,
        }],
        [(service("sales"), vec![UserId::from("a0")])],
    );
    let positions = |out: &[Output]| -> Vec<(String, u32)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Position { session, position } => Some((session.to_string(), *position)),
                _ => None,
            })
            .collect()
    };
    // The first change goes out at once.
    queue(&mut r, 1, &service("sales"), 5, 0);
    assert_eq!(positions(&drain(&mut r)), [("s1".to_owned(), 1)]);
    // Changes within the interval wait for its end, and go out once, as they stand then.
    queue(&mut r, 2, &service("sales"), 5, 10);
    queue(&mut r, 3, &service("sales"), 9, 20);
    assert!(positions(&drain(&mut r)).is_empty());
    assert_eq!(r.poll_timeout(), Some(UnixMillis(1_000)));
    r.handle_timeout(UnixMillis(999));
    assert!(positions(&drain(&mut r)).is_empty());
    r.handle_timeout(UnixMillis(1_000));
    assert_eq!(
        positions(&drain(&mut r)),
        [
            ("s3".to_owned(), 1),
            ("s1".to_owned(), 2),
            ("s2".to_owned(), 3)
        ]
    );
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.position(&sid(2)), Some(3));
}

#[test]
fn an_unanswered_offer_goes_to_the_next_agent_and_the_agent_goes_away() {
    let mut r = router(2, Strategy::Indexed);
    sign_in(&mut r, "a0", 0);
    sign_in(&mut r, "a1", 1);
    queue(&mut r, 1, &service("sales"), 5, 10);
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a0")]));
    assert_eq!(r.poll_timeout(), Some(UnixMillis(10 + TIMEOUT)));
    r.handle_timeout(UnixMillis(10 + TIMEOUT - 1));
    assert!(drain(&mut r).is_empty(), "not yet");
    r.handle_timeout(UnixMillis(10 + TIMEOUT));
    let out = drain(&mut r);
    assert_eq!(
        out,
        [
            Output::Withdraw {
                session: sid(1),
                agent: "a0".into(),
                why: Withdrawn::Expired
            },
            Output::Offer {
                session: sid(1),
                agent: "a1".into(),
                expires_at: UnixMillis(10 + 2 * TIMEOUT)
            },
        ]
    );
    assert_eq!(
        r.accept(&sid(1), "a0", UnixMillis(10 + TIMEOUT)),
        Err(AcceptError::NotOffered)
    );
    // a1 misses it too: everyone has, so a new round starts with a0 (missed one).
    r.handle_timeout(UnixMillis(10 + 2 * TIMEOUT));
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a0")]));
    // a0's second miss in a row sets them away; a1 gets it again.
    r.handle_timeout(UnixMillis(10 + 3 * TIMEOUT));
    let out = drain(&mut r);
    assert!(out.contains(&Output::Presence {
        agent: "a0".into(),
        presence: Presence::Away
    }));
    assert_eq!(offers(&out), pairs(&[("s1", "a1")]));
    assert_eq!(r.presence("a0"), Presence::Away);
    r.accept(&sid(1), "a1", UnixMillis(10 + 3 * TIMEOUT + 5))
        .expect("offered");
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn a_decline_moves_on_at_once_without_penalty() {
    let mut r = router(2, Strategy::Indexed);
    sign_in(&mut r, "a0", 0);
    sign_in(&mut r, "a1", 1);
    queue(&mut r, 1, &service("sales"), 5, 10);
    drain(&mut r);
    assert!(!r.decline(&sid(1), "a1", UnixMillis(11)), "not a1's offer");
    assert!(r.decline(&sid(1), "a0", UnixMillis(11)));
    let out = drain(&mut r);
    assert_eq!(offers(&out), pairs(&[("s1", "a1")]));
    assert!(
        !out.iter().any(|o| matches!(o, Output::Withdraw { .. })),
        "the decliner knows"
    );
    assert_eq!(r.presence("a0"), Presence::Available);
}

#[test]
fn a_call_blocks_the_agent_and_chat_does_not() {
    let mut r = router(2, Strategy::Indexed);
    sign_in(&mut r, "a0", 0);
    queue(&mut r, 1, &service("sales"), 5, 1);
    r.accept(&sid(1), "a0", UnixMillis(2)).expect("offered");
    drain(&mut r);
    assert_eq!(
        r.agent_counts(&service("sales")),
        (1, 0),
        "one chat does not block"
    );
    r.call_started(&sid(1), UnixMillis(3));
    queue(&mut r, 2, &service("sales"), 5, 4);
    assert!(
        offers(&drain(&mut r)).is_empty(),
        "in a call: nothing is offered"
    );
    assert_eq!(r.agent_counts(&service("sales")), (0, 1));
    assert!(r.is_open(&service("sales")), "visitors may still queue");
    r.call_ended(&sid(1), UnixMillis(5));
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s2", "a0")]));

    // Calls only go to members licensed for audio/video (a2 is not).
    let mut r = router(3, Strategy::Indexed);
    sign_in(&mut r, "a2", 0);
    r.add(sid(3), &service("sales"), TaskKind::Call);
    r.enqueue(&sid(3), Priority::DEFAULT, UnixMillis(1));
    assert!(offers(&drain(&mut r)).is_empty());
    sign_in(&mut r, "a0", 2);
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s3", "a0")]));
    r.accept(&sid(3), "a0", UnixMillis(3)).expect("offered");
    queue(&mut r, 4, &TargetRef::User("a0".into()), 5, 4);
    assert!(
        offers(&drain(&mut r)).is_empty(),
        "a direct chat waits for the call's end"
    );
    r.remove(&sid(3), UnixMillis(5));
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s4", "a0")]));
}

#[test]
fn a_declined_call_comes_back_to_its_only_licensed_member() {
    // a0 and a1 take calls, a2 does not; a0 declines, a1 misses: the round is over for
    // everyone who could take it, so a0 gets it again (a2 never counts).
    let mut r = router(3, Strategy::Indexed);
    for (i, a) in ["a0", "a1", "a2"].into_iter().enumerate() {
        sign_in(&mut r, a, i as u64);
    }
    r.add(sid(1), &service("sales"), TaskKind::Call);
    r.enqueue(&sid(1), Priority::DEFAULT, UnixMillis(10));
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a0")]));
    assert!(r.decline(&sid(1), "a0", UnixMillis(11)));
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a1")]));
    assert!(r.decline(&sid(1), "a1", UnixMillis(12)));
    assert_eq!(
        offers(&drain(&mut r)),
        pairs(&[("s1", "a0")]),
        "a new round, without waiting for a2 who cannot take calls"
    );
}

#[test]
fn signing_out_takes_offers_back_and_cancel_withdraws() {
    let mut r = router(2, Strategy::Indexed);
    sign_in(&mut r, "a0", 0);
    queue(&mut r, 1, &service("sales"), 5, 1);
    queue(&mut r, 2, &service("sales"), 5, 2);
    drain(&mut r);
    r.set_signed_in("a0", false, UnixMillis(3));
    assert_eq!(r.presence("a0"), Presence::Offline);
    assert!(!r.is_open(&service("sales")));
    sign_in(&mut r, "a1", 4);
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a1"), ("s2", "a1")]));
    r.dequeue(&sid(2), UnixMillis(5));
    let out = drain(&mut r);
    assert!(out.contains(&Output::Withdraw {
        session: sid(2),
        agent: "a1".into(),
        why: Withdrawn::Cancelled
    }));
    assert_eq!(r.queue_len(&service("sales")), 1);
    // Transfer: to support, where only even agents are members.
    r.retarget(&sid(1), &service("support"), UnixMillis(6));
    let out = drain(&mut r);
    assert!(offers(&out).is_empty(), "a1 is not in support");
    assert_eq!(r.queue_len(&service("support")), 1);
    sign_in(&mut r, "a0", 7);
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a0")]));
}

#[test]
fn an_agents_transfer_frees_them_and_waits_for_the_new_target() {
    let mut r = router(2, Strategy::Indexed);
    sign_in(&mut r, "a1", 0);
    queue(&mut r, 1, &service("sales"), 5, 1);
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a1")]));
    r.accept(&sid(1), "a1", UnixMillis(2)).expect("offered");
    assert_eq!(r.agent_of(&sid(1)), Some("a1"));
    // To support (even agents only): a1 holds it no more, and it waits for its
    // workflow's Queue Task there.
    r.retarget(&sid(1), &service("support"), UnixMillis(3));
    assert_eq!(r.agent_of(&sid(1)), None);
    assert!(r.held_by("a1").is_empty());
    assert_eq!(r.queue_len(&service("support")), 0);
    check_invariants(&r);
    sign_in(&mut r, "a0", 4);
    r.enqueue(&sid(1), Priority::DEFAULT, UnixMillis(5));
    assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a0")]));
    check_invariants(&r);
}

/// One step of a random history.
#[derive(Clone, Debug)]
enum Op {
    SignIn(u8),
    SignOut(u8),
    Presence(u8, u8),
    Queue {
        target: u8,
        priority: u8,
        call: bool,
    },
    Priority(u8, u8),
    Accept(u8),
    Decline(u8),
    End(u8),
    Cancel(u8),
    Transfer(u8),
    Call(u8, bool),
    Tick(u16),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        1 => (0u8..6).prop_map(Op::SignIn),
        1 => (0u8..6).prop_map(Op::SignOut),
        1 => (0u8..6, 0u8..4).prop_map(|(a, p)| Op::Presence(a, p)),
        3 => (0u8..8, 1u8..10, prop::bool::weighted(0.2))
            .prop_map(|(target, priority, call)| Op::Queue { target, priority, call }),
        1 => (0u8..40, 1u8..10).prop_map(|(t, p)| Op::Priority(t, p)),
        3 => (0u8..40).prop_map(Op::Accept),
        1 => (0u8..40).prop_map(Op::Decline),
        2 => (0u8..40).prop_map(Op::End),
        1 => (0u8..40).prop_map(Op::Cancel),
        1 => (0u8..40).prop_map(Op::Transfer),
        1 => (0u8..40, any::<bool>()).prop_map(|(t, on)| Op::Call(t, on)),
        2 => (0u16..40_000).prop_map(Op::Tick),
    ]
}

/// Checks what must hold after every step, whatever happened.
fn check_invariants(r: &Distributor) {
    for (a, ag) in r.agents.iter().enumerate() {
        let a = a as u32;
        let (mut chats, mut calls) = (0, 0);
        for t in r.tasks.values() {
            let holds = matches!(t.state, State::Offered { agent, .. } | State::Assigned { agent } if agent == a);
            if holds {
                match t.kind {
                    TaskKind::Chat => chats += 1,
                    TaskKind::Call => calls += 1,
                }
            }
        }
        assert_eq!(
            (ag.chat_load, ag.call_load),
            (chats, calls),
            "load of {}",
            ag.id
        );
    }
    for (s, t) in &r.tasks {
        if let State::Offered { agent, expires_at } = t.state {
            assert!(r.offers.contains(&(expires_at, s.clone())));
            assert!(
                r.targets[t.target].members.contains(&agent),
                "offered to a member"
            );
            assert!(!t.declined.contains(&agent));
        }
    }
    // Work-conserving: no waiting task has an eligible agent left idle.
    for t in r.tasks.values().filter(|t| t.state == State::Waiting) {
        for &a in &r.targets[t.target].members {
            assert!(
                !r.eligible(t, a),
                "{} idle while a task waits",
                r.agents[a as usize].id
            );
        }
    }
}

/// Runs `ops` on a router and returns everything it said.
fn replay(ops: &[Op], strategy: Strategy, check: bool) -> Vec<Output> {
    let mut r = router(6, strategy);
    let targets: Vec<TargetRef> = [service("sales"), service("support")]
        .into_iter()
        .chain((0..6).map(|i| TargetRef::User(format!("a{i}").into())))
        .collect();
    let mut now = 0u64;
    let mut next = 0u32;
    let mut all = Vec::new();
    let agent = |a: u8| format!("a{a}");
    for op in ops {
        now += 1;
        let at = UnixMillis(now);
        match *op {
            Op::SignIn(a) => r.set_signed_in(&agent(a), true, at),
            Op::SignOut(a) => r.set_signed_in(&agent(a), false, at),
            Op::Presence(a, p) => {
                let p = [
                    Presence::Available,
                    Presence::Busy,
                    Presence::Away,
                    Presence::Offline,
                ][usize::from(p)];
                r.set_presence(&agent(a), p, at);
            }
            Op::Queue {
                target,
                priority,
                call,
            } => {
                next += 1;
                let kind = if call { TaskKind::Call } else { TaskKind::Chat };
                r.add(sid(next), &targets[usize::from(target)], kind);
                r.enqueue(&sid(next), prio(priority), at);
            }
            Op::Priority(t, p) => r.set_priority(&sid(t.into()), prio(p), at),
            Op::Accept(t) => {
                // Whoever it is offered to accepts.
                let to = (0..6)
                    .map(agent)
                    .find(|a| r.is_offered_to(&sid(t.into()), a));
                if let Some(a) = to {
                    r.accept(&sid(t.into()), &a, at).expect("offered");
                }
            }
            Op::Decline(t) => {
                let to = (0..6)
                    .map(agent)
                    .find(|a| r.is_offered_to(&sid(t.into()), a));
                if let Some(a) = to {
                    assert!(r.decline(&sid(t.into()), &a, at));
                }
            }
            Op::End(t) => r.remove(&sid(t.into()), at),
            Op::Cancel(t) => r.dequeue(&sid(t.into()), at),
            Op::Transfer(t) => r.retarget(&sid(t.into()), &service("support"), at),
            Op::Call(t, true) => r.call_started(&sid(t.into()), at),
            Op::Call(t, false) => r.call_ended(&sid(t.into()), at),
            Op::Tick(ms) => {
                now += u64::from(ms);
                r.handle_timeout(UnixMillis(now));
            }
        }
        all.extend(drain(&mut r));
        if check {
            check_invariants(&r);
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The indexed strategy takes exactly the decisions of the brute-force
    /// specification, and the invariants hold after every step.
    #[test]
    fn indexed_decides_like_the_specification(ops in prop::collection::vec(op(), 1..120)) {
        let indexed = replay(&ops, Strategy::Indexed, true);
        let scan = replay(&ops, Strategy::Scan, false);
        prop_assert_eq!(indexed, scan);
    }
}

/// A working day on a virtual clock: 12 agents in two services sign in and out, go away
/// and come back, answer offers late or never, take calls; 2,000 visitors arrive with
/// random priorities and leave when served or tired of waiting. Everyone who stays is
/// served, the invariants hold throughout, and priority shortens the wait.
#[test]
fn a_simulated_day_serves_everyone_and_priority_shortens_the_wait() {
    for seed in [1, 2, 3] {
        simulate_day(seed);
    }
}

fn simulate_day(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let agents = 12u32;
    let mut r = router(agents, Strategy::Indexed);
    let name = |a: u32| format!("a{a}");
    // Work: each assigned chat ends at a time; offers are answered at a time (or never).
    let mut ends: BTreeMap<u64, Vec<SessionId>> = BTreeMap::new();
    let mut answers: BTreeMap<u64, Vec<(SessionId, String, bool)>> = BTreeMap::new();
    let mut queued_at: HashMap<SessionId, (u64, u8)> = HashMap::new();
    let mut patience: BTreeMap<u64, Vec<SessionId>> = BTreeMap::new();
    let mut waits: Vec<(u8, u64)> = Vec::new();
    let (mut served, mut gave_up, mut expired) = (0u32, 0u32, 0u32);
    let day = 8 * 3_600_000u64;
    let mut next = 0u32;
    let mut now = 0u64;
    for a in 0..agents {
        sign_in(&mut r, &name(a), rng.random_range(0..600_000));
    }
    // After the day, until the last visitor is through (everyone comes back to help).
    while now < day || !r.tasks.is_empty() {
        assert!(
            now < day + 4 * 3_600_000,
            "seed {seed}: {} tasks never finish",
            r.tasks.len()
        );
        if now == day {
            for a in 0..agents {
                sign_in(&mut r, &name(a), now);
            }
        }
        now += 1_000;
        let at = UnixMillis(now);
        // Arrivals: about one visitor every 20 s during the day.
        if now < day && rng.random_ratio(1, 20) {
            next += 1;
            let s = sid(next);
            let target = if rng.random_ratio(1, 3) {
                service("support")
            } else {
                service("sales")
            };
            let priority = if rng.random_ratio(1, 5) { 9 } else { 5 };
            r.add(s.clone(), &target, TaskKind::Chat);
            r.enqueue(&s, prio(priority), at);
            queued_at.insert(s.clone(), (now, priority));
            // A tenth leave if they wait more than two minutes.
            if rng.random_ratio(1, 10) {
                patience.entry(now + 120_000).or_default().push(s);
            }
        }
        // Agents go away and come back, sign out and in.
        if now < day && rng.random_ratio(1, 30) {
            let a = name(rng.random_range(0..agents));
            match rng.random_range(0..4) {
                0 => r.set_presence(&a, Presence::Away, at),
                1 => r.set_signed_in(&a, false, at),
                _ => sign_in(&mut r, &a, now),
            }
        }
        for s in patience.remove(&now).unwrap_or_default() {
            if r.agent_of(&s).is_none() && r.tasks.contains_key(&s) {
                r.remove(&s, at);
                queued_at.remove(&s);
                gave_up += 1;
            }
        }
        for (s, a, accept) in answers.remove(&now).unwrap_or_default() {
            if !r.is_offered_to(&s, &a) {
                continue;
            }
            if accept {
                r.accept(&s, &a, at).expect("offered");
                let (since, priority) = queued_at[&s];
                waits.push((priority, now - since));
                served += 1;
                // Now and then the chat becomes a call for a while.
                if rng.random_ratio(1, 10) {
                    r.call_started(&s, at);
                }
                ends.entry(now + rng.random_range(60..600) * 1_000)
                    .or_default()
                    .push(s);
            } else {
                r.decline(&s, &a, at);
            }
        }
        for s in ends.remove(&now).unwrap_or_default() {
            r.remove(&s, at);
            queued_at.remove(&s);
        }
        r.handle_timeout(at);
        for o in drain(&mut r) {
            match o {
                Output::Offer { session, agent, .. } => {
                    // Most answer within 20 s; some decline; some never answer.
                    let roll = rng.random_range(0..100);
                    if roll < 90 {
                        let when = now + rng.random_range(1..20) * 1_000;
                        answers.entry(when).or_default().push((
                            session,
                            agent.to_string(),
                            roll < 85,
                        ));
                    }
                }
                Output::Withdraw {
                    why: Withdrawn::Expired,
                    ..
                } => expired += 1,
                Output::Presence { agent, .. } => {
                    // Back at the desk a few minutes later.
                    let back = rng.random_range(0..2) == 0;
                    if back {
                        r.set_presence(&agent, Presence::Available, at);
                    }
                }
                _ => {}
            }
        }
        if now.is_multiple_of(10_000) {
            check_invariants(&r);
        }
    }
    let mean = |p: u8| {
        let w: Vec<u64> = waits
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, w)| *w)
            .collect();
        w.iter().sum::<u64>() as f64 / w.len().max(1) as f64
    };
    eprintln!(
        "seed {seed}: {next} visitors, {served} served, {gave_up} left, {expired} offers missed, \
         mean wait p9 {:.0} s, p5 {:.0} s",
        mean(9) / 1000.0,
        mean(5) / 1000.0
    );
    assert_eq!(
        served + gave_up,
        next,
        "seed {seed}: everyone was served or left"
    );
    assert!(served > 1_000, "seed {seed}: served {served} of {next}");
    assert!(
        expired > 0 && gave_up > 0,
        "seed {seed}: the day had misses ({expired}) and leavers ({gave_up})"
    );
    assert!(
        mean(9) < mean(5),
        "seed {seed}: priority 9 waited {:.0} ms on average, priority 5 {:.0} ms",
        mean(9),
        mean(5)
    );
}

#[test]
fn a_changed_directory_takes_effect_on_the_running_router() {
    for strategy in [Strategy::Indexed, Strategy::Scan] {
        let mut r = router(2, strategy);
        sign_in(&mut r, "a0", 1);
        sign_in(&mut r, "a1", 2);
        // a0 holds one chat of `support`; two more wait in a queue nobody free serves.
        queue(&mut r, 1, &service("support"), 5, 10);
        assert_eq!(offers(&drain(&mut r)), pairs(&[("s1", "a0")]));
        r.accept(&sid(1), "a0", UnixMillis(11)).expect("offered");
        r.set_presence("a0", Presence::Away, UnixMillis(12));
        queue(&mut r, 2, &service("support"), 5, 13);
        assert!(
            offers(&drain(&mut r)).is_empty(),
            "a1 is no member of support"
        );

        // The administration makes a1 a member of support, adds a new agent a9 (member
        // of support) and drops a0 from every list.
        let directory = |agents: &[&str], support: &[&str]| {
            let profiles: Vec<AgentProfile> = agents
                .iter()
                .map(|a| AgentProfile {
                    id: (*a).into(),
                    calls: true,
                })
                .collect();
            let members: Vec<UserId> = support.iter().map(|a| (*a).into()).collect();
            (profiles, vec![(service("support"), members)])
        };
        let (agents, targets) = directory(&["a1", "a9"], &["a1", "a9"]);
        r.set_directory(agents, targets, UnixMillis(20));
        assert_eq!(
            offers(&drain(&mut r)),
            pairs(&[("s2", "a1")]),
            "{strategy:?}: the new member gets the waiting chat at once"
        );
        assert_eq!(r.agent_of(&sid(1)), Some("a0"), "a0 keeps what it holds");
        r.set_presence("a0", Presence::Available, UnixMillis(21));
        queue(&mut r, 3, &service("support"), 5, 22);
        queue(&mut r, 4, &service("support"), 5, 23);
        sign_in(&mut r, "a9", 24);
        let got = offers(&drain(&mut r));
        assert!(
            got.iter().all(|(_, a)| a != "a0"),
            "{strategy:?}: a0 is no longer a member: {got:?}"
        );
        assert_eq!(got.len(), 2, "{strategy:?}: {got:?}");
    }
}
