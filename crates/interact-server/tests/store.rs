//! The SQLite store on a real file: group commit keeps every append durable and isolated.

use std::sync::Arc;

use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::protocol::{EventFrame, Party, SessionEvent};
use interact_sdk::time::UnixMillis;
use interact_server::store::{
    EmbedCodeRecord, EncodedEvent, SessionRecord, SqliteStore, Store, StoreError, TemplateRecord,
};
use interact_server::tenant::TargetRef;

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
        id: id.clone(),
        embed_code: code.clone(),
        target: TargetRef::Service("support".into()),
        start_id: format!("start{n}"),
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
