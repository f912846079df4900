//! Several nodes on one PostgreSQL database and one NATS server (each test with a
//! database of its own; NATS from `INTERACT_TEST_NATS`, else `nats://127.0.0.1:4222`,
//! which `cargo xtask test` makes sure of): what one node's admin API changes, the other
//! enforces at once, and a node the announcement does not reach catches up by itself;
//! then three server processes: a visitor on one node and the agent on another, nodes
//! killed (SIGKILL) while chats go on, and nothing lost.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::{Seq, SessionId};
use interact_sdk::protocol::{ClientFrame, Party, Presence, ServerFrame, SessionEvent};
use interact_server::config::Database;
use interact_store_postgres::TestDatabase;
use interact_testkit::{
    ALLOWED, Client, DEMO_CODE, ServerProcess, TestServer, agent_token, config, connect_agent,
    connect_visitor, http_request, mid, process_config, write_config,
};

/// The NATS server of the tests.
fn nats_url() -> String {
    std::env::var("INTERACT_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A node on `db` and the tests' NATS server.
async fn node(db: &TestDatabase, dir: &std::path::Path) -> TestServer {
    let mut cfg = config(dir);
    cfg.server.database = Database::Postgres(db.url.clone());
    cfg.cluster.nats_url = Some(nats_url());
    TestServer::start(cfg).await
}

/// Waits until node `addr` refuses `code` from the demo origin; how long that took.
async fn until_refused(addr: SocketAddr, code: &str, within: Duration) -> Duration {
    let since = Instant::now();
    loop {
        match connect_visitor(addr, code, Some(ALLOWED)).await {
            Err(403) => return since.elapsed(),
            Ok(_) => {}
            Err(other) => panic!("the node answered {other}"),
        }
        assert!(
            since.elapsed() < within,
            "the node still admits the removed origin after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `PUT path` with a JSON body and the demo admin token; the status.
async fn admin_put(addr: SocketAddr, path: &str, body: &str) -> u16 {
    let headers = [
        ("Authorization", "Bearer demo-admin-token"),
        ("Content-Type", "application/json"),
    ];
    http_request(addr, "PUT", path, &headers, body).await.0
}

#[tokio::test]
async fn a_template_changed_on_one_node_refuses_the_origin_on_another_within_a_second() {
    let db = TestDatabase::create().await.expect("a test database");
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = node(&db, dir_a.path()).await;
    let b = node(&db, dir_b.path()).await;
    // An embed code made on node A works on node B (one database).
    let code = a.embed_code(TargetRef::Service("support".into())).await;
    assert!(
        connect_visitor(b.addr, code.as_str(), Some(ALLOWED))
            .await
            .is_ok(),
        "node B admits the demo template's origin"
    );

    // A service renamed through node A is renamed in node B's widget configuration
    // within a second.
    let (status, service) = http_request(
        a.addr,
        "GET",
        "/admin/v1/services/support",
        &[("Authorization", "Bearer demo-admin-token")],
        "",
    )
    .await;
    assert_eq!(status, 200, "{service}");
    let mut service: serde_json::Value = serde_json::from_str(&service).expect("json");
    service["display_name"] = "Customer Care, renamed".into();
    let status = admin_put(a.addr, "/admin/v1/services/support", &service.to_string()).await;
    assert_eq!(status, 200);
    let since = Instant::now();
    loop {
        let (status, config) = http_request(
            b.addr,
            "GET",
            &format!("/v1/config?code={}", code.as_str()),
            &[("Origin", ALLOWED)],
            "",
        )
        .await;
        assert_eq!(status, 200, "{config}");
        if config.contains("Customer Care, renamed") {
            eprintln!(
                "node B showed the renamed service {:?} after node A's change",
                since.elapsed()
            );
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "node B still shows the old name after a second: {config}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Node A's admin API removes that origin from the template.
    let status = admin_put(
        a.addr,
        "/admin/v1/templates/demo",
        r#"{"origins": ["https://shop.example.com"]}"#,
    )
    .await;
    assert_eq!(status, 200);
    let took = until_refused(b.addr, code.as_str(), Duration::from_secs(1)).await;
    eprintln!("node B refused the removed origin {took:?} after node A's change");
    // And node B is ready: database and bus reachable.
    let (status, body) = interact_testkit::http_get(b.addr, "/readyz").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("ready\nnode "), "{body}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_node_that_misses_the_announcement_catches_up_on_its_own() {
    let db = TestDatabase::create().await.expect("a test database");
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = node(&db, dir_a.path()).await;
    // Node B hears nothing from the bus (as if every message to it were lost), and reads
    // the templates again every second.
    let mut cfg = config(dir_b.path());
    cfg.server.database = Database::Postgres(db.url.clone());
    cfg.cluster.refresh_secs = 1;
    let b = TestServer::start(cfg).await;
    let code = a.embed_code(TargetRef::Service("support".into())).await;
    assert!(
        connect_visitor(b.addr, code.as_str(), Some(ALLOWED))
            .await
            .is_ok()
    );

    let status = admin_put(
        a.addr,
        "/admin/v1/templates/demo",
        r#"{"origins": ["https://shop.example.com"]}"#,
    )
    .await;
    assert_eq!(status, 200);
    let took = until_refused(b.addr, code.as_str(), Duration::from_secs(3)).await;
    eprintln!("node B, without the bus, refused the removed origin after {took:?}");
    a.stop().await;
    b.stop().await;
}

// ---------------------------------------------------------------------------------------
// Three server processes.

/// The server binary under test.
const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

/// Server processes on one test database and the tests' NATS server, each with a
/// directory of its own.
struct Nodes {
    _db: TestDatabase,
    _dirs: Vec<tempfile::TempDir>,
    nodes: Vec<Option<ServerProcess>>,
}

impl Nodes {
    /// `n` nodes whose services queue plainly (no workflow), with the message rates
    /// raised so that a test can chat quickly.
    async fn start(n: usize) -> Self {
        Self::start_with(n, no_workflows).await
    }

    /// `n` nodes on the demo configuration changed by `edit`, with the message rates
    /// raised.
    async fn start_with(n: usize, edit: impl Fn(&mut toml::Table)) -> Self {
        let db = TestDatabase::create().await.expect("a test database");
        let mut dirs = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..n {
            let dir = tempfile::tempdir().expect("dir");
            let mut cfg = process_config(
                "frames_per_second = 100000\nmessages_per_second_per_session = 100000\nreplays_per_second = 1000",
            );
            cfg["server"]
                .as_table_mut()
                .expect("[server]")
                .insert("database".into(), db.url.clone().into());
            let mut cluster = toml::Table::new();
            cluster.insert("nats_url".into(), nats_url().into());
            cfg.insert("cluster".into(), cluster.into());
            edit(&mut cfg);
            let path = write_config(dir.path(), &cfg);
            nodes.push(Some(ServerProcess::start(SERVER, &path).await));
            dirs.push(dir);
        }
        Self {
            _db: db,
            _dirs: dirs,
            nodes,
        }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].as_ref().expect("a running node").addr
    }

    /// Kills node `i` (SIGKILL).
    fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.kill();
        }
    }

    async fn store(&self) -> std::sync::Arc<dyn interact_store::Store> {
        self.nodes
            .iter()
            .flatten()
            .next()
            .expect("a running node")
            .store()
            .await
    }
}

/// The services queue plainly (no workflow).
fn no_workflows(cfg: &mut toml::Table) {
    if let Some(services) = cfg.get_mut("service").and_then(|s| s.as_array_mut()) {
        for s in services {
            s.as_table_mut().expect("[[service]]").remove("workflow");
        }
    }
}

fn form(name: &str) -> PreChatForm {
    PreChatForm {
        display_name: name.into(),
        email: "v@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: None,
    }
}

/// Agent `user` signed in on the node at `addr`, available.
async fn agent_on(nodes: &Nodes, addr: SocketAddr, user: &str) -> Client {
    let token = agent_token(
        nodes.store().await.as_ref(),
        user,
        Duration::from_secs(3600),
    )
    .await;
    let agent = connect_agent(addr).await.waiting(Duration::from_secs(15));
    interact_testkit::available_agent(agent, &token).await
}

/// A visitor on the node at `addr` who started a chat: the connection, session and token.
async fn visitor_on(
    addr: SocketAddr,
    name: &str,
) -> (Client, SessionId, interact_sdk::ids::ResumeToken) {
    let mut v = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("the demo origin is admitted")
        .named("visitor")
        .waiting(Duration::from_secs(15));
    v.hello(None).await;
    let (session, token) = v
        .start_chat(mid(&format!("start-{name}")), form(name))
        .await;
    (v, session, token)
}

/// The agent takes the next offer (of `session`) and sees its `agent_joined`.
async fn take_offer(agent: &mut Client, session: &SessionId) {
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if o.session == *session))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    agent
        .recv_until(|f| {
            matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::AgentJoined { .. }))
        })
        .await;
}

/// What one side of a chat saw: message events by `seq`, and its own acks.
#[derive(Default)]
struct Seen {
    messages: std::collections::BTreeMap<Seq, (Party, String)>,
    duplicates: usize,
    acks: usize,
}

impl Seen {
    fn take(&mut self, f: &ServerFrame) {
        match f {
            ServerFrame::Event(e) => {
                if let SessionEvent::Message { from, text, .. } = &e.event
                    && self.messages.insert(e.seq, (*from, text.clone())).is_some()
                {
                    self.duplicates += 1;
                }
            }
            ServerFrame::Ack { .. } => self.acks += 1,
            ServerFrame::Error(e) => panic!("an error frame: {e:?}"),
            _ => {}
        }
    }
}

/// Sends `n` messages (`{prefix}{i}`) in `session`, at most 64 unacknowledged, reading
/// all the while, until it has its `n` acks and `total` messages of both parties.
async fn pump(c: &mut Client, session: &SessionId, prefix: &str, n: usize, total: usize) -> Seen {
    let mut seen = Seen::default();
    pump_into(c, session, prefix, 0..n, total, &mut seen).await;
    seen
}

/// [`pump`] of the messages `range` into `seen`.
async fn pump_into(
    c: &mut Client,
    session: &SessionId,
    prefix: &str,
    range: std::ops::Range<usize>,
    total: usize,
    seen: &mut Seen,
) {
    let (n, acks_before) = (range.len(), seen.acks);
    let mut next = range.start;
    while seen.acks - acks_before < n || seen.messages.len() < total {
        while next < range.end && (next - range.start) - (seen.acks - acks_before) < 64 {
            c.send(&ClientFrame::Send {
                session: Some(session.clone()),
                id: mid(&format!("{prefix}{next}")),
                text: format!("{prefix}{next}"),
                after: None,
            })
            .await;
            next += 1;
        }
        let f = c.recv().await;
        seen.take(&f);
    }
}

/// Fetches by `sync` every event `seen` lacks, page by page, up to the session's head.
async fn catch_up(c: &mut Client, session: &SessionId, seen: &mut Seen) {
    let mut after = Seq(0);
    loop {
        c.send(&ClientFrame::Sync {
            session: Some(session.clone()),
            after,
        })
        .await;
        let frames = c
            .recv_until(|f| matches!(f, ServerFrame::Replayed { .. }))
            .await;
        let mut done = true;
        for f in &frames {
            match f {
                ServerFrame::Event(e) => {
                    if let SessionEvent::Message { from, text, .. } = &e.event {
                        seen.messages.insert(e.seq, (*from, text.clone()));
                    }
                }
                ServerFrame::Replayed { through, head, .. } => {
                    after = *through;
                    done = through >= head;
                }
                _ => {}
            }
        }
        if done {
            return;
        }
    }
}

/// The stored messages of `session`, by `seq`, after checking that `seq` is contiguous.
async fn stored_messages(
    nodes: &Nodes,
    session: &SessionId,
) -> std::collections::BTreeMap<Seq, (Party, String)> {
    let stored = nodes.store().await.events(session).await.expect("events");
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "seq is contiguous"
    );
    stored
        .into_iter()
        .filter_map(|e| match e.event {
            SessionEvent::Message { from, text, .. } => Some((e.seq, (from, text))),
            _ => None,
        })
        .collect()
}

/// The messages of `party` in `seen`, in `seq` order.
fn of(seen: &Seen, party: Party) -> Vec<String> {
    seen.messages
        .values()
        .filter(|(p, _)| *p == party)
        .map(|(_, t)| t.clone())
        .collect()
}

#[tokio::test]
async fn a_visitor_on_one_node_and_the_agent_on_another_exchange_a_thousand_messages_each_way() {
    const N: usize = 1000;
    let nodes = Nodes::start(3).await;
    let mut agent = agent_on(&nodes, nodes.addr(1), "alex").await;
    let (mut visitor, session, _) = visitor_on(nodes.addr(0), "Vera").await;
    take_offer(&mut agent, &session).await;

    let (v, a) = tokio::join!(
        pump(&mut visitor, &session, "v", N, 2 * N),
        pump(&mut agent, &session, "a", N, 2 * N),
    );
    let expected = |p: &str| (0..N).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    for (side, seen) in [("visitor", &v), ("agent", &a)] {
        assert_eq!(seen.duplicates, 0, "the {side} saw a message twice");
        assert_eq!(
            of(seen, Party::Visitor),
            expected("v"),
            "the visitor's messages at the {side}"
        );
        assert_eq!(
            of(seen, Party::Agent),
            expected("a"),
            "the agent's messages at the {side}"
        );
    }
    // Both saw the same log, and the database has it.
    assert_eq!(v.messages, a.messages);
    let stored = nodes.store().await.events(&session).await.expect("events");
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "seq is contiguous"
    );
    let stored_messages = stored
        .iter()
        .filter(|e| matches!(e.event, SessionEvent::Message { .. }))
        .count();
    assert_eq!(stored_messages, 2 * N);
}

#[tokio::test]
async fn the_node_that_owns_a_chat_is_killed_mid_chat_and_nothing_acknowledged_is_lost() {
    let mut nodes = Nodes::start(3).await;
    let mut agent = agent_on(&nodes, nodes.addr(1), "alex").await;
    // The visitor's node, node 0, owns the session.
    let (mut visitor, session, token) = visitor_on(nodes.addr(0), "Kim").await;
    take_offer(&mut agent, &session).await;
    let (mut v, mut a) = tokio::join!(
        pump(&mut visitor, &session, "v", 100, 200),
        pump(&mut agent, &session, "a", 100, 200),
    );

    // Fifty more from the visitor, not waited for, and the owner dies at once.
    for i in 100..150 {
        visitor
            .send(&ClientFrame::Send {
                session: Some(session.clone()),
                id: mid(&format!("v{i}")),
                text: format!("v{i}"),
                after: None,
            })
            .await;
    }
    nodes.kill(0);
    drop(visitor);

    // The visitor comes back on node 2 and sends again what was not acknowledged (the
    // same ids: a stored one is only acknowledged again); the agent, on node 1, goes on.
    let last = v.messages.keys().next_back().copied().unwrap_or(Seq(0));
    let (visitor, _) =
        interact_testkit::resume_visitor(nodes.addr(2), DEMO_CODE, &session, &token, last).await;
    let mut visitor = visitor.named("visitor").waiting(Duration::from_secs(15));
    tokio::join!(
        pump_into(&mut visitor, &session, "v", 100..200, 0, &mut v),
        pump_into(&mut agent, &session, "a", 100..200, 0, &mut a),
    );
    catch_up(&mut visitor, &session, &mut v).await;
    catch_up(&mut agent, &session, &mut a).await;

    let stored = stored_messages(&nodes, &session).await;
    let texts = |p: Party| -> Vec<String> {
        stored
            .values()
            .filter(|(from, _)| *from == p)
            .map(|(_, t)| t.clone())
            .collect()
    };
    let expected = |p: &str| (0..200).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(
        texts(Party::Visitor),
        expected("v"),
        "each visitor message once, in order"
    );
    assert_eq!(
        texts(Party::Agent),
        expected("a"),
        "each agent message once, in order"
    );
    assert_eq!(v.messages, stored, "the visitor has the whole chat");
    assert_eq!(a.messages, stored, "the agent kept the chat");
}

/// The router leader of `nodes`: the index of the node whose `/readyz` says so. A node
/// that does not answer within 2 s (a loaded machine: three server processes per test)
/// counts as not leading this time round.
async fn leader(nodes: &Nodes) -> Option<usize> {
    for (i, n) in nodes.nodes.iter().enumerate() {
        if let Some(n) = n
            && readyz(n.addr)
                .await
                .is_some_and(|r| r.contains("router leader"))
        {
            return Some(i);
        }
    }
    None
}

/// `GET /readyz` of `addr`: the answer, or `None` if none came within 2 s.
async fn readyz(addr: SocketAddr) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ask = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        tcp.write_all(b"GET /readyz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

/// Waits (up to `within`) until some node leads routing; which.
async fn until_led(nodes: &Nodes, within: Duration) -> usize {
    let since = Instant::now();
    loop {
        if let Some(i) = leader(nodes).await {
            return i;
        }
        assert!(
            since.elapsed() < within,
            "no node leads routing after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long three freshly started nodes may take to elect a router leader (what the
/// tests measure is the time to a new leader after a kill, not this).
const FIRST_ELECTION: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_chat_waiting_when_the_router_leader_is_killed_is_offered_within_five_seconds() {
    // The agent takes one chat at a time: the first offer must be the chat that waited
    // longest.
    let mut nodes = Nodes::start_with(3, |cfg| {
        no_workflows(cfg);
        cfg["limits"]
            .as_table_mut()
            .expect("[limits]")
            .insert("max_chats_per_agent".into(), 1.into());
    })
    .await;
    let lead = until_led(&nodes, FIRST_ELECTION).await;
    let (agent_node, visitor_node) = ((lead + 1) % 3, (lead + 2) % 3);
    let mut agent = agent_on(&nodes, nodes.addr(agent_node), "alex").await;
    agent
        .send(&ClientFrame::SetPresence {
            presence: Presence::Away,
        })
        .await;
    agent
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Presence {
                    presence: Presence::Away
                }
            )
        })
        .await;
    // Two chats wait, in this order.
    let (_v1, first, _) = visitor_on(nodes.addr(visitor_node), "First").await;
    let (mut v2, second, _) = visitor_on(nodes.addr(visitor_node), "Second").await;
    v2.recv_until(|f| {
        matches!(f, ServerFrame::Event(e) if matches!(e.event, SessionEvent::Queued { position: 2 }))
    })
    .await;

    nodes.kill(lead);
    let killed = Instant::now();
    agent
        .send(&ClientFrame::SetPresence {
            presence: Presence::Available,
        })
        .await;
    let frames = agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let took = killed.elapsed();
    eprintln!("the first offer after the leader's kill came {took:?} after it");
    match frames.last() {
        Some(ServerFrame::Offer(o)) => assert_eq!(
            o.session, first,
            "the chat that waited longest is offered first (not {second})"
        ),
        other => unreachable!("recv_until ends on an offer: {other:?}"),
    }
    assert!(
        took < Duration::from_secs(5),
        "offered {took:?} after the kill"
    );
    let new_lead = until_led(&nodes, Duration::from_secs(5)).await;
    assert_ne!(new_lead, lead);
}

/// What the timer test's workflow says when its delay ends.
const FIRED: &str = "The timer fired.";

/// The support service's chats wait 2 s in a workflow's Delay, then get [`FIRED`], then
/// queue (and wait there).
fn timer_workflow(cfg: &mut toml::Table) {
    let steps = format!(
        r#"
        [[step]]
        activity = "delay"
        seconds = 2
        [[step]]
        activity = "message"
        text = "{FIRED}"
        [[step]]
        activity = "queue_task"
        [[step]]
        label = "wait"
        activity = "delay"
        seconds = 600
        next = "wait"
        "#
    );
    interact_testkit::with_workflow(cfg, "timer-once", &steps);
}

/// How many times `session` got [`FIRED`].
async fn fired(nodes: &Nodes, session: &SessionId) -> usize {
    stored_messages(nodes, session)
        .await
        .values()
        .filter(|(_, t)| t == FIRED)
        .count()
}

#[tokio::test]
async fn a_workflow_timer_fires_exactly_once_across_a_kill_of_its_node() {
    let mut nodes = Nodes::start_with(3, timer_workflow).await;
    let lead = until_led(&nodes, FIRST_ELECTION).await;
    let owner = (lead + 1) % 3;
    // One chat whose timer fired on its node before the kill, one whose timer had not.
    let (_v1, before, _) = visitor_on(nodes.addr(owner), "Early").await;
    let since = Instant::now();
    while fired(&nodes, &before).await == 0 {
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the timer never fired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_v2, after, _) = visitor_on(nodes.addr(owner), "Late").await;
    nodes.kill(owner);

    // Nobody touches either chat: the router leader adopts them (their node is silent)
    // and their runs go on there.
    let since = Instant::now();
    while fired(&nodes, &after).await == 0 {
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "the timer of the chat whose node was killed never fired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "the orphaned timer fired {:?} after the kill",
        since.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        fired(&nodes, &before).await,
        1,
        "fired before the kill: once"
    );
    assert_eq!(fired(&nodes, &after).await, 1, "fired after the kill: once");
}

#[tokio::test]
async fn the_session_start_limit_per_address_holds_across_nodes() {
    // Two chats a minute from one address, over the whole cluster.
    let nodes = Nodes::start_with(3, |cfg| {
        no_workflows(cfg);
        cfg["limits"]
            .as_table_mut()
            .expect("[limits]")
            .insert("sessions_per_minute_per_ip".into(), 2.into());
    })
    .await;
    let (_a, _, _) = visitor_on(nodes.addr(0), "One").await;
    let (_b, _, _) = visitor_on(nodes.addr(1), "Two").await;
    // The third, on the node that has not seen this address start a chat, is refused
    // (once the other nodes' counts reached it: they go out as the chats start).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut v = connect_visitor(nodes.addr(2), DEMO_CODE, Some(ALLOWED))
        .await
        .expect("the demo origin is admitted")
        .named("visitor");
    v.hello(None).await;
    v.send(&ClientFrame::StartChat {
        context: None,
        id: mid("start-three"),
        form: form("Three"),
        call: None,
    })
    .await;
    let answer = v
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::SessionStarted { .. } | ServerFrame::Error(_)
            )
        })
        .await;
    match answer.last() {
        Some(ServerFrame::Error(e)) => {
            assert_eq!(
                e.code,
                interact_sdk::protocol::ErrorCode::RateLimited,
                "{e:?}"
            )
        }
        other => panic!("node C let a third chat start from the address: {other:?}"),
    }
}
