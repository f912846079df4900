//! The server on PostgreSQL (`[server] database = "postgres://..."`), each test on a
//! database of its own on the machine's PostgreSQL: a chat from start to messages both
//! ways, and a restart that restores the open session from the database.

use interact_model::TargetRef;
use interact_sdk::form::PreChatForm;
use interact_sdk::protocol::{ClientFrame, Party, ServerFrame, SessionEvent};
use interact_server::config::Database;
use interact_store_postgres::TestDatabase;
use interact_testkit::{
    ALLOWED, TestServer, accept_offer, config, connect_visitor, mid, resume_visitor,
};

#[tokio::test]
async fn a_chat_on_postgres_survives_a_restart() {
    let db = TestDatabase::create().await.expect("a test database");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.server.database = Database::Postgres(db.url.clone());
    let mut server = TestServer::start(config).await;
    let code = server
        .embed_code(TargetRef::Service("support".into()))
        .await;
    let mut agent = server.available_agent("alex").await;

    let mut visitor = connect_visitor(server.addr, code.as_str(), Some(ALLOWED))
        .await
        .expect("allowed");
    visitor.hello(None).await;
    let form = PreChatForm {
        display_name: "Paula Postgres".into(),
        email: "paula@example.com".into(),
        consent: Some("2024-05".into()),
        first_message: Some("Hello from PostgreSQL".into()),
    };
    let (session, token) = visitor.start_chat(mid("start-pg"), form).await;
    accept_offer(&mut agent, &mut visitor, &session).await;
    for n in 0..5 {
        visitor
            .send(&ClientFrame::Send {
                session: None,
                id: mid(&format!("v-{n}")),
                text: format!("visitor {n}"),
                after: None,
            })
            .await;
        visitor
            .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
            .await;
    }

    // What the server acknowledged is in PostgreSQL.
    let stored = server
        .state
        .store
        .events(&session)
        .await
        .expect("the session's events");
    let texts: Vec<&str> = stored
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::Message {
                text,
                from: Party::Visitor,
                ..
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Hello from PostgreSQL",
            "visitor 0",
            "visitor 1",
            "visitor 2",
            "visitor 3",
            "visitor 4"
        ]
    );
    let head = stored.last().expect("events").seq;

    // A restart reads the open session back from PostgreSQL; the visitor resumes it.
    server.restart().await;
    let (mut visitor, resumed_head) =
        resume_visitor(server.addr, code.as_str(), &session, &token, head).await;
    assert_eq!(resumed_head, head);
    visitor
        .send(&ClientFrame::Send {
            session: None,
            id: mid("v-after"),
            text: "after the restart".into(),
            after: None,
        })
        .await;
    let acks = visitor
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. }))
        .await;
    let Some(ServerFrame::Ack { seq, .. }) = acks.last() else {
        unreachable!("recv_until ends on the ack")
    };
    assert_eq!(seq.0, head.0 + 1, "numbering goes on from the stored head");
    server.stop().await;
}
