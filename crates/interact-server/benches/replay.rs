//! Replay benchmark (issue 10). It prints figures; it asserts nothing.
//!
//! ```sh
//! cargo bench -p interact-server --bench replay
//! cargo bench -p interact-server --bench replay -- --events 900 --text 4000 --requests 40
//! ```
//!
//! A session grown to a few MiB (by default 900 chat messages of 4,000 characters, about
//! 3.6 MiB, the size of the chat the issue's attack replayed), answering `--requests`
//! requests for everything from `seq` 1:
//!
//! - **before**: what a `sync` cost until this issue: every event after `after`, each
//!   encoded anew as an `event` frame (`encode(&ServerFrame::Event(..))`);
//! - **now**: one page of the frames the session keeps encoded since they were stored
//!   ([`LiveSession::page`]): at most `REPLAY_PAGE_EVENTS` events and `REPLAY_PAGE_BYTES` bytes,
//!   shared (reference-counted) rather than copied, and a `replayed` frame.
//!
//! Both run in this process, one after the other; the ratio is what to read, the
//! absolute times depend on the machine.

use std::time::Instant;

use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::modality::Modalities;
use interact_sdk::protocol::{ClientFrame, Party, ServerFrame, encode};
use interact_sdk::relay::SessionLog;
use interact_sdk::time::UnixMillis;
use interact_server::node::hub::LiveSession;
use interact_store::SessionRecord;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let events = arg("--events", 900);
    let text = arg("--text", 4_000);
    let requests = arg("--requests", 40);
    let session = SessionId::new("s0123456789abcdef").expect("valid");
    let mut log = SessionLog::new(session.clone(), Modalities::CHAT_ONLY);
    for n in 0..events {
        let frame = ClientFrame::Send {
            session: None,
            id: MessageId::new(format!("m{n}")).expect("valid"),
            text: format!("{n:x>text$}"),
            after: None,
        };
        log.handle(
            UnixMillis(1_700_000_000_000 + n as u64),
            Party::Visitor,
            &frame,
        )
        .expect("stored");
    }
    let record = SessionRecord {
        channel: interact_model::Channel::Widget,
        visitor_id: None,
        id: session,
        embed_code: EmbedCode::from_random([7; 16]),
        target: TargetRef::Service("support".into()),
        start_id: "start".into(),
        start_key: None,
        visitor_seen_at: None,
        token_hash: "0".repeat(64),
        visitor_name: "V".into(),
        visitor_email: "v@example.com".into(),
        consent_version: "1".into(),
        consent_at: UnixMillis(1),
        origin: "https://shop.example.com".into(),
        agent_id: None,
        created_at: UnixMillis(1),
        ended: None,
    };
    let all = log.events_after(Seq::ZERO).to_vec();
    let t = Instant::now();
    let live = LiveSession::new(log, record, 5, t);
    let encode_once = t.elapsed();
    let (held, bytes) = live.size();

    let t = Instant::now();
    let mut before_bytes = 0;
    for _ in 0..requests {
        for e in &all {
            before_bytes += encode(&ServerFrame::Event(e.clone())).len();
        }
    }
    let before = t.elapsed();

    let t = Instant::now();
    let mut now_bytes = 0;
    let mut now_frames = 0;
    for _ in 0..requests {
        let page = live.page(Seq::ZERO);
        now_frames += page.len();
        now_bytes += page.iter().map(|f| f.as_str().len()).sum::<usize>();
    }
    let now = t.elapsed();

    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / requests as f64;
    println!(
        "Replay: a session of {held} events, {:.2} MiB as frames (encoded once when stored: {:.1} ms)",
        bytes as f64 / (1024.0 * 1024.0),
        encode_once.as_secs_f64() * 1e3
    );
    println!("{requests} requests for everything after seq 0:");
    println!(
        "  before (every event re-encoded)   {:>10.1} us/request  {:>8.2} MiB/request",
        per(before),
        before_bytes as f64 / requests as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  now (one page of stored frames)   {:>10.1} us/request  {:>8.2} MiB/request  ({} frames)",
        per(now),
        now_bytes as f64 / requests as f64 / (1024.0 * 1024.0),
        now_frames / requests
    );
    println!(
        "  now / before                      {:>10.4}x CPU        {:>8.4}x bytes",
        now.as_secs_f64() / before.as_secs_f64(),
        now_bytes as f64 / before_bytes as f64
    );
}
