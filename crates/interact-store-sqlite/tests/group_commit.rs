//! The SQLite store on a real file: group commit keeps every append durable and isolated.

use std::sync::Arc;

use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::protocol::{EndReason, EventFrame, Party, SessionEvent};
use interact_sdk::time::UnixMillis;
use interact_store::{
    EmbedCodeRecord, EncodedEvent, SessionRecord, Store, StoreError, TemplateRecord,
    WorkflowRunRecord,
};
use interact_store_sqlite::SqliteStore;

fn message(session: &SessionId, seq: u64) -> EventFrame {
    EventFrame {
        session: session.clone(),
        seq: Seq(seq),
        at: UnixMillis(seq),
        event: SessionEvent::Message {
            id: MessageId::new(format!("m{seq}")).expect("valid"),
            from: Party::Visitor,
            author: None,
            text: format!("text {seq}"),
        },
    }
}

async fn session(store: &SqliteStore, code: &EmbedCode, n: usize) -> SessionId {
    let id = SessionId::new(format!("s{n}")).expect("valid");
    let record = SessionRecord {
        channel: interact_model::Channel::Widget,
        visitor_id: None,
        id: id.clone(),
        embed_code: code.clone(),
        target: TargetRef::Service("support".into()),
        start_id: format!("start{n}"),
        start_key: None,
        visitor_seen_at: None,
        token_hash: "0".repeat(64),
        visitor_name: "V".into(),
        visitor_email: "v@example.com".into(),
        consent_version: "1".into(),
        consent_at: UnixMillis(1),
        origin: "http://127.0.0.1:8081".into(),
        agent_id: None,
        created_at: UnixMillis(1),
        ended: None,
    };
    store.create_session(&record, &[]).await.expect("create");
    id
}

/// A store with the demo template and one embed code.
async fn open_with_code(path: &std::path::Path) -> (SqliteStore, EmbedCode) {
    let store = SqliteStore::open(path).await.expect("open");
    store
        .put_template(
            &TemplateRecord {
                name: "demo".into(),
                origins: vec![],
            },
            UnixMillis(1),
        )
        .await
        .expect("template");
    let code = EmbedCode::from_random([4; 16]);
    store
        .create_embed_code(&EmbedCodeRecord {
            code: code.clone(),
            target: TargetRef::Service("support".into()),
            template: "demo".into(),
            created_at: UnixMillis(1),
            revoked_at: None,
        })
        .await
        .expect("code");
    (store, code)
}

/// A session's workflow run is upserted, read back after a reopen, deleted on demand and
/// forgotten with the session's end (in the group commit's transaction).
#[tokio::test]
async fn workflow_runs_are_upserted_and_forgotten_when_the_session_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("interact.db");
    let (store, code) = open_with_code(&path).await;
    let a = session(&store, &code, 1).await;
    let b = session(&store, &code, 2).await;
    let run = |s: &SessionId, state: &str, at: u64| WorkflowRunRecord {
        session: s.clone(),
        workflow: "support-im".into(),
        fingerprint: "f".repeat(64),
        state: state.into(),
        updated_at: UnixMillis(at),
    };
    assert_eq!(store.workflow_run(&a).await.expect("read"), None);
    store
        .put_workflow_run(&run(&a, r#"{"v":1}"#, 10))
        .await
        .expect("put");
    store
        .put_workflow_run(&run(&a, r#"{"v":2}"#, 20))
        .await
        .expect("replace");
    store
        .put_workflow_run(&run(&b, r#"{"v":3}"#, 30))
        .await
        .expect("put");
    let unknown = SessionId::new("s-unknown").expect("valid");
    assert!(
        store
            .put_workflow_run(&run(&unknown, "{}", 1))
            .await
            .is_err(),
        "only for stored sessions"
    );
    drop(store);

    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(
        store.workflow_run(&a).await.expect("read"),
        Some(run(&a, r#"{"v":2}"#, 20)),
        "the last write wins"
    );
    store.delete_workflow_run(&a).await.expect("delete");
    store.delete_workflow_run(&a).await.expect("delete again");
    assert_eq!(store.workflow_run(&a).await.expect("read"), None);

    // The session's end forgets its run.
    let ended = EventFrame {
        session: b.clone(),
        seq: Seq(2),
        at: UnixMillis(40),
        event: SessionEvent::Ended {
            reason: EndReason::Failed,
        },
    };
    store
        .append_events(
            &b,
            &[
                EncodedEvent::new(&message(&b, 1)),
                EncodedEvent::new(&ended),
            ],
        )
        .await
        .expect("append");
    assert_eq!(store.workflow_run(&b).await.expect("read"), None);
    assert!(
        store
            .open_sessions()
            .await
            .expect("open")
            .iter()
            .all(|s| s.id != b)
    );
}

#[tokio::test]
async fn concurrent_appends_are_committed_in_groups_and_isolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("interact.db");
    let store = Arc::new(SqliteStore::open(&path).await.expect("open"));
    store
        .put_template(
            &TemplateRecord {
                name: "demo".into(),
                origins: vec![],
            },
            UnixMillis(1),
        )
        .await
        .expect("template");
    let code = EmbedCode::from_random([3; 16]);
    store
        .create_embed_code(&EmbedCodeRecord {
            code: code.clone(),
            target: TargetRef::Service("support".into()),
            template: "demo".into(),
            created_at: UnixMillis(1),
            revoked_at: None,
        })
        .await
        .expect("code");
    let mut sessions = Vec::new();
    for n in 0..40 {
        sessions.push(session(&store, &code, n).await);
    }
    // 40 sessions append 10 events each, all at once; one caller repeats a stored seq.
    let mut tasks = Vec::new();
    for s in &sessions {
        let (store, s) = (store.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            for seq in 1..=10 {
                store
                    .append_events(&s, &[EncodedEvent::new(&message(&s, seq))])
                    .await
                    .expect("append");
            }
        }));
    }
    let bad = {
        let (store, s) = (store.clone(), sessions[0].clone());
        tokio::spawn(async move {
            // Wait until seq 1 exists, then append it again.
            loop {
                if !store.events(&s).await.expect("read").is_empty() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            store
                .append_events(&s, &[EncodedEvent::new(&message(&s, 1))])
                .await
        })
    };
    for t in tasks {
        t.await.expect("task");
    }
    assert!(
        matches!(bad.await.expect("task"), Err(StoreError::Conflict)),
        "the duplicate alone fails"
    );
    drop(store);

    // Reopen: everything acknowledged is there, in order, once.
    let store = SqliteStore::open(&path).await.expect("reopen");
    for s in &sessions {
        let events = store.events(s).await.expect("events");
        let seqs: Vec<u64> = events.iter().map(|e| e.seq.0).collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "session {s}");
    }
}
