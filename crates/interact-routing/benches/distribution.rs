//! Routing benchmark (issue 5). It prints figures; it asserts nothing.
//!
//! ```sh
//! cargo bench -p interact-routing --bench distribution                # ~30 s
//! cargo bench -p interact-routing --bench distribution -- --tasks 10000 --agents 500 --services 10
//! ```
//!
//! The router alone (no IO, like the server drives it under its hub lock), with 10,000
//! queued chat tasks and 500 agents, each agent a member of two of 10 services, up to 4
//! chats each, task priorities 1 to 9:
//!
//! 1. **Fill**: all tasks wait; the agents sign in and become available one after the
//!    other, and every offer is accepted at once (2,000 decisions while 10,000 wait).
//! 2. **Drain**: one held chat ends at a time (a random one), which frees its agent for the
//!    next decision, until the queue is empty (8,000 more decisions, each over a queue of
//!    up to 8,000 tasks). The latency of a decision is the time of the call that ends the
//!    chat, takes the decision and recomputes the queue positions, measured per call.
//!
//! The baseline is [`Strategy::Scan`] on the same history in the same process: every
//! waiting task against every agent, i.e. the rules written out as plainly as possible
//! (and the specification the property tests compare the indexed router against). It is
//! slow, so it runs only the fill and the first `--scan-drain` drain decisions.

use std::time::{Duration, Instant};

use interact_model::Priority;
use interact_model::{TargetRef, UserId};
use interact_routing::{AgentProfile, Distributor, DistributorConfig, Output, Strategy, TaskKind};
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::Presence;
use interact_sdk::time::UnixMillis;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Args {
    tasks: u32,
    agents: u32,
    services: u32,
    scan_drain: u32,
}

fn args() -> Args {
    let mut a = Args {
        tasks: 10_000,
        agents: 500,
        services: 10,
        scan_drain: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> u32 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match flag.as_str() {
            "--tasks" => a.tasks = value("--tasks"),
            "--agents" => a.agents = value("--agents"),
            "--services" => a.services = value("--services"),
            "--scan-drain" => a.scan_drain = value("--scan-drain"),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    a
}

fn sid(n: u32) -> SessionId {
    SessionId::new(format!("s{n}")).expect("valid id")
}

/// What one run measured.
#[derive(Default)]
struct Run {
    fill: Duration,
    fill_decisions: u64,
    /// Per drain decision: how long the call took.
    drain: Vec<Duration>,
    positions: u64,
}

fn run(a: &Args, strategy: Strategy, drain_limit: u32) -> Run {
    let mut rng = StdRng::seed_from_u64(5);
    let services: Vec<TargetRef> = (0..a.services)
        .map(|s| TargetRef::Service(format!("service{s}").into()))
        .collect();
    let agents: Vec<UserId> = (0..a.agents).map(|i| format!("agent{i}").into()).collect();
    let mut members = vec![Vec::new(); services.len()];
    for (i, agent) in agents.iter().enumerate() {
        let first = i % services.len();
        let second = (first + 1 + rng.random_range(0..services.len() - 1)) % services.len();
        members[first].push(agent.clone());
        members[second].push(agent.clone());
    }
    let mut router = Distributor::new(
        DistributorConfig {
            max_chats: 4,
            offer_timeout_ms: 30_000,
            missed_offers_before_away: 2,
            position_interval_ms: 1_000,
            strategy,
        },
        agents.iter().map(|id| AgentProfile {
            id: id.clone(),
            calls: true,
        }),
        services.iter().cloned().zip(members),
    );
    for n in 0..a.tasks {
        let target = &services[rng.random_range(0..services.len())];
        router.add(sid(n), target, TaskKind::Chat);
        let priority = Priority::new(rng.random_range(1..=9)).expect("1 to 9");
        router.enqueue(&sid(n), priority, UnixMillis(u64::from(n)));
    }
    let mut result = Run::default();
    let mut held: Vec<(SessionId, UserId)> = Vec::new();
    let take = |router: &mut Distributor, held: &mut Vec<(SessionId, UserId)>, now| {
        let mut positions = 0;
        let mut offers = Vec::new();
        while let Some(o) = router.poll_output() {
            match o {
                Output::Offer { session, agent, .. } => offers.push((session, agent)),
                Output::Position { .. } => positions += 1,
                _ => {}
            }
        }
        for (s, agent) in offers {
            router.accept(&s, &agent, now).expect("offered");
            held.push((s, agent));
        }
        positions
    };
    let mut now = u64::from(a.tasks);
    take(&mut router, &mut held, UnixMillis(now));
    let start = Instant::now();
    for agent in &agents {
        now += 1;
        if router.poll_timeout().is_some_and(|at| at.0 <= now) {
            router.handle_timeout(UnixMillis(now));
        }
        router.set_signed_in(agent, true, UnixMillis(now));
        router.set_presence(agent, Presence::Available, UnixMillis(now));
        result.positions += take(&mut router, &mut held, UnixMillis(now));
    }
    result.fill = start.elapsed();
    result.fill_decisions = router.decisions();
    let mut done = 0;
    while !held.is_empty() && done < drain_limit {
        now += 1;
        let (s, _) = held.swap_remove(rng.random_range(0..held.len()));
        let before = router.decisions();
        let t = Instant::now();
        router.remove(&s, UnixMillis(now));
        if router.poll_timeout().is_some_and(|at| at.0 <= now) {
            router.handle_timeout(UnixMillis(now));
        }
        let positions = take(&mut router, &mut held, UnixMillis(now));
        let took = t.elapsed();
        if router.decisions() > before {
            result.drain.push(took);
            result.positions += positions;
            done += 1;
        }
    }
    result
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn report(name: &str, r: &mut Run) -> f64 {
    r.drain.sort();
    let total: Duration = r.drain.iter().sum();
    let per_s = r.drain.len() as f64 / total.as_secs_f64().max(1e-9);
    println!(
        "{name:>8}: fill {:>6} decisions in {:>8.1} ms ({:>9.0}/s) | drain {:>6} decisions: {:>9.0}/s, \
         p50 {:>7.1} µs, p99 {:>7.1} µs, max {:>8.1} µs | {} position updates",
        r.fill_decisions,
        r.fill.as_secs_f64() * 1e3,
        r.fill_decisions as f64 / r.fill.as_secs_f64().max(1e-9),
        r.drain.len(),
        per_s,
        quantile(&r.drain, 0.5).as_secs_f64() * 1e6,
        quantile(&r.drain, 0.99).as_secs_f64() * 1e6,
        r.drain.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
        r.positions,
    );
    per_s
}

fn main() {
    let a = args();
    println!(
        "Routing: {} queued chat tasks, {} agents (4 chats each, 2 of {} services each), priorities 1-9",
        a.tasks, a.agents, a.services
    );
    println!(
        "reproduce: cargo bench -p interact-routing --bench distribution -- --tasks {} --agents {} --services {}",
        a.tasks, a.agents, a.services
    );
    let mut indexed = run(&a, Strategy::Indexed, u32::MAX);
    let mut indexed_sample = run(&a, Strategy::Indexed, a.scan_drain);
    let mut scan = run(&a, Strategy::Scan, a.scan_drain);
    report("indexed", &mut indexed);
    let sample = report("indexed*", &mut indexed_sample);
    let base = report("scan*", &mut scan);
    println!(
        "(* the first {} drain decisions only) indexed vs scan baseline: fill x{:.1}, drain x{:.1} decisions/s",
        a.scan_drain,
        scan.fill.as_secs_f64() / indexed_sample.fill.as_secs_f64().max(1e-9),
        sample / base.max(1e-9),
    );
}
