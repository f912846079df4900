//! A contact center over the weekend daylight saving starts, on a virtual clock: the
//! service's Instant Messaging workflow (opening hours in Europe/Berlin, priority for
//! urgent first messages, Queue Task, queue position announcements on a timer) feeds the
//! router; agents work local office hours, answer offers late or never, and go away.
//!
//! Nothing sleeps and nothing is random without a seed: a failure replays exactly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use interact_sdk::ids::SessionId;
use interact_sdk::protocol::Presence;
use interact_sdk::time::UnixMillis;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use interact_workflow::{Action, Definitions, Input, Params, Workflow, WorkflowRun};

const WORKFLOW: &str = r#"
[[opening_hours]]
name = "office"
time_zone = "Europe/Berlin"
[opening_hours.weekly]
mon = ["08:00-17:00"]
tue = ["08:00-17:00"]
wed = ["08:00-17:00"]
thu = ["08:00-17:00"]
fri = ["08:00-17:00"]

[[workflow]]
name = "support-im"
[[workflow.step]]
activity = "check_opening_hours"
hours = "office"
on_closed = "closed"
[[workflow.step]]
activity = "message"
text = "Welcome, {{visitor_name}}!"
[[workflow.step]]
activity = "check_parameter"
parameter = "first_message"
conditions = [{ op = "contains", value = "urgent", ignore_case = true, next = "urgent" }]
otherwise = "queue"
[[workflow.step]]
label = "urgent"
activity = "distribution_priority"
priority = 9
[[workflow.step]]
label = "queue"
activity = "queue_task"
[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 60
[[workflow.step]]
activity = "get_queue_position"
[[workflow.step]]
activity = "message"
text = "You are number {{queue_position}} in the queue."
next = "wait"
[[workflow.step]]
label = "closed"
activity = "disconnect"
message = "We are closed."
"#;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

fn utc(s: &str) -> u64 {
    let ts: jiff::Timestamp = s.parse().expect(s);
    u64::try_from(ts.as_millisecond()).expect("after 1970")
}

/// Whether Berlin's office is open at `ms`, worked out independently of the workflow.
fn office_open(ms: u64) -> bool {
    let ts = jiff::Timestamp::from_millisecond(i64::try_from(ms).expect("fits")).expect("valid");
    let local = ts.in_tz("Europe/Berlin").expect("zone").datetime();
    let weekday = local.weekday().to_monday_one_offset();
    weekday <= 5 && (8..17).contains(&local.hour())
}

#[derive(Debug, Default)]
struct Visitor {
    arrived: u64,
    urgent: bool,
    said: Vec<String>,
    positions: Vec<u32>,
    closed: bool,
    accepted_at: Option<u64>,
    ended: bool,
}

struct Center {
    rng: StdRng,
    router: Distributor,
    workflow: Arc<Workflow>,
    runs: HashMap<SessionId, WorkflowRun>,
    visitors: BTreeMap<SessionId, Visitor>,
    /// Workflow timers, answers to offers, ends of chats: (time, order) → what.
    agenda: BTreeMap<(u64, u64), Due>,
    order: u64,
    agents: Vec<UserId>,
    expired: u32,
    set_away: u32,
}

#[derive(Debug)]
enum Due {
    Timer(SessionId),
    Answer(SessionId, UserId, bool),
    End(SessionId),
    Back(UserId),
}

impl Center {
    fn new(seed: u64) -> Self {
        let defs = Definitions::parse(WORKFLOW).unwrap_or_else(|e| panic!("{e}"));
        let workflow = defs
            .workflows
            .values()
            .next()
            .cloned()
            .expect("one workflow");
        let agents: Vec<UserId> = (0..6).map(|i| format!("agent{i}").into()).collect();
        let router = Distributor::new(
            DistributorConfig {
                max_chats: 2,
                offer_timeout_ms: 30_000,
                missed_offers_before_away: 2,
                position_interval_ms: 1_000,
                strategy: Strategy::Indexed,
            },
            agents.iter().map(|id| AgentProfile {
                id: id.clone(),
                calls: false,
            }),
            [(TargetRef::Service("support".into()), agents.clone())],
        );
        Self {
            rng: StdRng::seed_from_u64(seed),
            router,
            workflow,
            runs: HashMap::new(),
            visitors: BTreeMap::new(),
            agenda: BTreeMap::new(),
            order: 0,
            agents,
            expired: 0,
            set_away: 0,
        }
    }

    fn at(&mut self, when: u64, due: Due) {
        self.order += 1;
        self.agenda.insert((when, self.order), due);
    }

    fn arrive(&mut self, now: u64, n: u32) {
        let session = SessionId::new(format!("s{n}")).expect("valid id");
        let urgent = self.rng.random_ratio(1, 6);
        let first = if urgent {
            "URGENT: my order is lost"
        } else {
            "a question"
        };
        let params = Params::from([
            ("visitor_name".to_owned(), format!("Visitor {n}")),
            ("first_message".to_owned(), first.to_owned()),
        ]);
        self.visitors.insert(
            session.clone(),
            Visitor {
                arrived: now,
                urgent,
                ..Visitor::default()
            },
        );
        self.router.add(
            session.clone(),
            &TargetRef::Service("support".into()),
            TaskKind::Chat,
        );
        let mut run = WorkflowRun::new(Arc::clone(&self.workflow), params);
        run.handle(UnixMillis(now), Input::Started);
        self.runs.insert(session.clone(), run);
        self.carry_out(now, &session);
    }

    fn feed(&mut self, now: u64, session: &SessionId, input: Input) {
        if let Some(run) = self.runs.get_mut(session) {
            run.handle(UnixMillis(now), input);
            self.carry_out(now, session);
        }
    }

    /// Does what the session's run asks, as `crate::drive` does for real.
    fn carry_out(&mut self, now: u64, session: &SessionId) {
        let Some(mut run) = self.runs.remove(session) else {
            return;
        };
        let mut keep = true;
        while let Some(action) = run.poll_action() {
            let v = self.visitors.get_mut(session).expect("visitor");
            match action {
                Action::SendMessage { text } | Action::AskVisitor { question: text } => {
                    v.said.push(text)
                }
                Action::StartTimer { at } => self.at(at.0, Due::Timer(session.clone())),
                Action::Queue { priority } => {
                    self.router.enqueue(session, priority, UnixMillis(now))
                }
                Action::SetPriority { priority } => {
                    self.router.set_priority(session, priority, UnixMillis(now));
                }
                Action::Disconnect { .. } => {
                    v.closed = true;
                    self.router.remove(session, UnixMillis(now));
                    keep = false;
                }
                Action::Done { .. } => keep = false,
                other => panic!("the workflow has no step that asks for {other:?}"),
            }
        }
        if keep && run.end().is_none() {
            self.runs.insert(session.clone(), run);
        }
    }

    /// Carries out the router's outputs.
    fn route(&mut self, now: u64) {
        while let Some(out) = self.router.poll_output() {
            match out {
                Output::Offer { session, agent, .. } => {
                    self.feed(
                        now,
                        &session,
                        Input::Offered {
                            agent: agent.to_string(),
                        },
                    );
                    // Most answer within 20 s, a few decline, some let it lapse.
                    let roll = self.rng.random_range(0..100);
                    if roll < 92 {
                        let when = now + self.rng.random_range(2..20) * 1_000;
                        self.at(when, Due::Answer(session, agent, roll < 88));
                    }
                }
                Output::Withdraw {
                    session,
                    why: Withdrawn::Expired,
                    ..
                } => {
                    self.expired += 1;
                    self.feed(now, &session, Input::OfferTimedOut);
                }
                Output::Withdraw { .. } => {}
                Output::Position { session, position } => {
                    if let Some(v) = self.visitors.get_mut(&session) {
                        v.positions.push(position);
                    }
                    self.feed(now, &session, Input::QueueUpdate { position });
                }
                Output::Presence { agent, .. } => {
                    self.set_away += 1;
                    let back = now + self.rng.random_range(2..10) * MINUTE;
                    self.at(back, Due::Back(agent));
                }
            }
        }
    }

    fn due(&mut self, now: u64, due: Due) {
        match due {
            Due::Timer(s) => self.feed(now, &s, Input::TimerFired),
            Due::Answer(s, agent, accept) => {
                if !self.router.is_offered_to(&s, &agent) {
                    return;
                }
                if accept {
                    self.router
                        .accept(&s, &agent, UnixMillis(now))
                        .expect("offered");
                    self.feed(
                        now,
                        &s,
                        Input::Accepted {
                            agent: agent.to_string(),
                        },
                    );
                    self.visitors.get_mut(&s).expect("visitor").accepted_at = Some(now);
                    let end = now + self.rng.random_range(2..15) * MINUTE;
                    self.at(end, Due::End(s));
                } else {
                    self.router.decline(&s, &agent, UnixMillis(now));
                    self.feed(now, &s, Input::OfferTimedOut);
                }
            }
            Due::End(s) => {
                self.router.remove(&s, UnixMillis(now));
                self.visitors.get_mut(&s).expect("visitor").ended = true;
            }
            Due::Back(agent) => {
                if self.router.presence(&agent) == Presence::Away {
                    self.router
                        .set_presence(&agent, Presence::Available, UnixMillis(now));
                }
            }
        }
    }

    /// Agents keep office hours on Berlin's clock, and stay on while chats wait.
    fn staff(&mut self, now: u64) {
        let open = office_open(now);
        let waiting = self.router.queue_len(&TargetRef::Service("support".into())) > 0;
        for a in self.agents.clone() {
            let signed_in = self.router.presence(&a) != Presence::Offline;
            if open && !signed_in {
                self.router.set_signed_in(&a, true, UnixMillis(now));
                self.router
                    .set_presence(&a, Presence::Available, UnixMillis(now));
            } else if !open && signed_in && !waiting && self.router.held_by(&a).is_empty() {
                self.router.set_signed_in(&a, false, UnixMillis(now));
            }
        }
    }
}

#[test]
fn a_weekend_with_a_time_zone_change_on_a_virtual_clock() {
    for seed in [7, 8] {
        run_weekend(seed);
    }
}

fn run_weekend(seed: u64) {
    // Friday 27 March 2026 00:00 UTC to Tuesday 31 March 06:00 UTC; Berlin moves from
    // CET (UTC+1) to CEST (UTC+2) on Sunday 29 March at 02:00 local.
    let start = utc("2026-03-27T00:00:00Z");
    let end = utc("2026-03-31T06:00:00Z");
    let mut c = Center::new(seed);
    let mut next = 0u32;
    let mut now = start;
    while now < end || !c.runs.is_empty() || !c.router.is_empty() {
        assert!(now < end + 12 * HOUR, "seed {seed}: the queue never drains");
        // A visitor about every 45 s, around the clock.
        if now < end && c.rng.random_ratio(1, 45) {
            next += 1;
            c.arrive(now, next);
        }
        c.staff(now);
        c.router.handle_timeout(UnixMillis(now));
        c.route(now);
        while let Some(entry) = c.agenda.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let due = entry.remove();
            c.due(now, due);
            c.route(now);
        }
        now += 1_000;
    }

    let mut in_hours = 0;
    let mut edge = (0, 0);
    for (s, v) in &c.visitors {
        let open = office_open(v.arrived);
        assert_eq!(
            v.closed, !open,
            "seed {seed}: {s} arrived at {} (open: {open}): {:?}",
            v.arrived, v.said
        );
        if !open {
            assert_eq!(v.said, ["We are closed."]);
            continue;
        }
        in_hours += 1;
        assert_eq!(
            v.said.first().map(String::as_str),
            Some(format!("Welcome, Visitor {}!", &s.as_str()[1..]).as_str())
        );
        assert!(
            v.accepted_at.is_some() && v.ended,
            "seed {seed}: {s} was never served"
        );
    }
    // 06:xx UTC is 07:xx CET on Friday (closed) and 08:xx CEST on Monday (open).
    for (s, v) in &c.visitors {
        if (v.arrived % (24 * HOUR)) / HOUR != 6 {
            continue;
        }
        if v.arrived < utc("2026-03-28T00:00:00Z") {
            assert!(
                v.closed,
                "seed {seed}: {s} came on Friday at 07:xx CET, before opening"
            );
            edge.0 += 1;
        } else if v.arrived > utc("2026-03-30T00:00:00Z") {
            assert!(
                !v.closed,
                "seed {seed}: {s} came on Monday at 08:xx CEST, open"
            );
            edge.1 += 1;
        }
    }
    assert!(
        edge.0 > 0 && edge.1 > 0,
        "seed {seed}: visitors at 06:xx UTC on both sides of the change: {edge:?}"
    );
    assert!(
        in_hours > 100,
        "seed {seed}: {in_hours} visitors in office hours"
    );
    assert!(
        c.expired > 0 && c.set_away > 0,
        "seed {seed}: offers lapsed ({}) and agents were set away ({})",
        c.expired,
        c.set_away
    );
    // Queue position messages came from the workflow's timer for those who waited.
    let announced = c
        .visitors
        .values()
        .filter(|v| v.said.iter().any(|t| t.starts_with("You are number")))
        .count();
    assert!(
        announced > 0,
        "seed {seed}: nobody waited long enough to hear their position"
    );
    let mean_wait = |urgent: bool| {
        let waits: Vec<u64> = c
            .visitors
            .values()
            .filter(|v| v.urgent == urgent)
            .filter_map(|v| v.accepted_at.map(|a| a - v.arrived))
            .collect();
        waits.iter().sum::<u64>() as f64 / waits.len().max(1) as f64
    };
    eprintln!(
        "seed {seed}: {next} visitors, {in_hours} in office hours, 06:xx UTC Fri/Mon {edge:?}, \
         {} offers lapsed, {} set away, {announced} heard their position, mean wait urgent \
         {:.0} s, others {:.0} s",
        c.expired,
        c.set_away,
        mean_wait(true) / 1e3,
        mean_wait(false) / 1e3
    );
    assert!(
        mean_wait(true) < mean_wait(false),
        "seed {seed}: urgent visitors waited {:.0} s on average, others {:.0} s",
        mean_wait(true) / 1e3,
        mean_wait(false) / 1e3
    );
}
