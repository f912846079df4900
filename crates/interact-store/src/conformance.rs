//! The conformance suite: what every [`Store`] backend must do, as async functions that
//! take a fresh, empty store. A backend runs them all with one line in its tests (as
//! matrix-rust-sdk runs one state-store suite against every store):
//!
//! ```ignore
//! async fn fresh() -> (MyStore, TempDir) { /* a new, empty store */ }
//! interact_store::store_conformance_tests!(fresh);
//! ```
//!
//! The macro makes one `#[tokio::test]` per function below (the calling crate needs
//! `tokio` with `macros` and `rt` among its dev-dependencies). `fresh` returns the store
//! and whatever must live as long as it (a temporary folder, a database to drop).

use interact_model::{Outcome, TargetRef};
use interact_report::{Day, MessageCount, ReportQuery, TargetKind, UsageQuery, UsageRow};
use interact_sdk::embed::EmbedCode;
use interact_sdk::ids::{AgentId, AttachmentId, CallId, MessageId, Seq, SessionId};
use interact_sdk::protocol::{
    AgentInfo, CallMedia, CallSignal, Consent, EndReason, EventFrame, MediaState, Party,
    ReceiptState, SessionEvent, VisitorInfo,
};
use interact_sdk::time::UnixMillis;

use crate::{
    AttachmentRecord, Attempt, AuditEntry, ConfigItem, DeliveryRecord, EmbedCodeRecord,
    EncodedEvent, Epoch, NewDelivery, NewOutbound, OutboundRecord, OutboundState, OutboundUpdate,
    SessionRecord, Store, StoreError, TemplateRecord, WebhookRecord, WorkflowRunRecord,
    WorkflowVersion,
};

/// Makes one `#[tokio::test]` per function of [`conformance`](crate::conformance), each on
/// a store from `$fresh`, an async function of the calling module that returns the store
/// and a guard to keep alive.
#[macro_export]
macro_rules! store_conformance_tests {
    ($fresh:ident) => {
        mod store_conformance {
            $crate::__conformance_test!($fresh, templates_and_embed_codes);
            $crate::__conformance_test!($fresh, sessions_and_their_events);
            $crate::__conformance_test!($fresh, appends_are_all_or_nothing);
            $crate::__conformance_test!($fresh, concurrent_appends_are_isolated);
            $crate::__conformance_test!($fresh, an_end_closes_the_session);
            $crate::__conformance_test!($fresh, start_keys_are_unique);
            $crate::__conformance_test!($fresh, session_fields_change);
            $crate::__conformance_test!($fresh, a_transfer_changes_target_and_frees_the_agent);
            $crate::__conformance_test!($fresh, workflow_runs);
            $crate::__conformance_test!($fresh, agent_tokens);
            $crate::__conformance_test!($fresh, admin_tokens_are_apart_from_agent_tokens);
            $crate::__conformance_test!($fresh, config_items_by_kind_and_name);
            $crate::__conformance_test!($fresh, report_facts_and_rows);
            $crate::__conformance_test!($fresh, one_rating_and_one_transcript_email_per_session);
            $crate::__conformance_test!($fresh, attachments_by_session_and_id);
            $crate::__conformance_test!($fresh, usage_rows_count_messages_per_day);
            $crate::__conformance_test!($fresh, claims_count_up);
            $crate::__conformance_test!($fresh, a_claim_fences_the_former_owner);
            $crate::__conformance_test!($fresh, concurrent_claims_get_distinct_epochs);
            $crate::__conformance_test!($fresh, fenced_appends_fail_alone);
            $crate::__conformance_test!($fresh, a_claim_ends_the_former_owners_writes);
            $crate::__conformance_test!($fresh, audit_log_pages_newest_first);
            $crate::__conformance_test!($fresh, webhooks_by_id_and_their_deliveries);
            $crate::__conformance_test!($fresh, deliveries_are_claimed_when_due);
            $crate::__conformance_test!($fresh, attempts_are_recorded);
            $crate::__conformance_test!($fresh, deliveries_are_listed_newest_first);
            $crate::__conformance_test!($fresh, concurrent_delivery_claims_are_distinct);
            $crate::__conformance_test!($fresh, open_sessions_are_found_by_origin);
            $crate::__conformance_test!($fresh, identity_secrets_per_embed_code);
            $crate::__conformance_test!($fresh, a_verified_visitors_sessions);
            $crate::__conformance_test!($fresh, outbound_pieces_are_stored_once);
            $crate::__conformance_test!($fresh, outbound_pieces_leave_in_order);
            $crate::__conformance_test!($fresh, outbound_updates_and_provider_ids);
            $crate::__conformance_test!($fresh, concurrent_outbound_claims_are_distinct);
            $crate::__conformance_test!($fresh, workflow_versions_and_the_current_one);
            $crate::__conformance_test!($fresh, workflow_versions_are_kept_as_first_stored);
            $crate::__conformance_test!($fresh, concurrent_workflow_seeds_agree);
            $crate::__conformance_test!($fresh, offline_messages_are_kept_once_and_answered_once);
            $crate::__conformance_test!($fresh, session_notes_are_kept_in_order_per_session);
            $crate::__conformance_test!($fresh, session_answers_keep_the_latest_per_parameter);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ($fresh:ident, $name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (store, _keep) = super::$fresh().await;
            $crate::conformance::$name(&store).await;
        }
    };
}

fn at(ms: u64) -> UnixMillis {
    UnixMillis(ms)
}

fn code(n: u8) -> EmbedCode {
    EmbedCode::from_random([n; 16])
}

fn sid(s: &str) -> SessionId {
    SessionId::new(s).expect("a valid session id")
}

async fn template(store: &dyn Store, name: &str) {
    let t = TemplateRecord {
        name: name.into(),
        origins: vec!["https://shop.example.com".into()],
    };
    store.put_template(&t, at(1)).await.expect("put");
}

fn embed_code(n: u8, template: &str, created: u64) -> EmbedCodeRecord {
    EmbedCodeRecord {
        code: code(n),
        target: TargetRef::Service("support".into()),
        template: template.into(),
        created_at: at(created),
        revoked_at: None,
    }
}

/// A session record of `id` through embed code 1, made at `created`.
pub fn session_record(id: &str, target: TargetRef, created: u64) -> SessionRecord {
    SessionRecord {
        channel: interact_model::Channel::Widget,
        visitor_id: None,
        id: sid(id),
        embed_code: code(1),
        target,
        start_id: format!("start {id}"),
        start_key: Some(format!("key-{id}")),
        visitor_seen_at: None,
        token_hash: "0".repeat(64),
        visitor_name: "Vera".into(),
        visitor_email: "vera@example.com".into(),
        consent_version: "1".into(),
        consent_at: at(created),
        origin: "https://shop.example.com".into(),
        agent_id: None,
        created_at: at(created),
        ended: None,
    }
}

fn frame(session: &str, seq: u64, time: u64, event: SessionEvent) -> EventFrame {
    EventFrame {
        session: sid(session),
        seq: Seq(seq),
        at: at(time),
        event,
    }
}

fn started() -> SessionEvent {
    SessionEvent::Started {
        context: None,
        visitor: VisitorInfo {
            display_name: "Vera".into(),
            email: "vera@example.com".into(),
            channel: None,
            phone: None,
            verified_id: None,
        },
        consent: Consent {
            policy_version: "1".into(),
            at: at(1),
        },
        target: interact_sdk::config::Target {
            kind: interact_sdk::config::TargetKind::Service,
            display_name: "Support".into(),
        },
        call: None,
    }
}

fn message(n: u32) -> SessionEvent {
    SessionEvent::Message {
        id: MessageId::new(format!("m{n}")).expect("valid"),
        from: Party::Visitor,
        author: Some("Vera <b>".into()),
        text: format!("message {n} \u{1F600} \"quoted\"\n"),
    }
}

fn encoded(frames: &[EventFrame]) -> Vec<EncodedEvent> {
    frames.iter().map(EncodedEvent::new).collect()
}

/// Creates session `id` (template `t`, embed code 1 exist) with `started` as event 1.
async fn new_session(
    store: &dyn Store,
    id: &str,
    target: TargetRef,
    created: u64,
) -> Vec<EventFrame> {
    let first = vec![frame(id, 1, created, started())];
    store
        .create_session(&session_record(id, target, created), &encoded(&first))
        .await
        .expect("create the session");
    first
}

/// The prerequisites of a session: template `t` and embed code 1.
async fn setup(store: &dyn Store) {
    template(store, "t").await;
    store
        .create_embed_code(&embed_code(1, "t", 1))
        .await
        .expect("embed code");
}

/// Domain Templates are upserted and listed by name; an embed code needs its template;
/// a template in use cannot go, nor one that revoked codes (which are kept) still name.
pub async fn templates_and_embed_codes(store: &dyn Store) {
    store.ping().await.expect("a fresh store answers");
    template(store, "b").await;
    template(store, "a").await;
    let changed = TemplateRecord {
        name: "b".into(),
        origins: vec![
            "https://*.example.org".into(),
            "http://127.0.0.1:8081".into(),
        ],
    };
    store.put_template(&changed, at(2)).await.expect("upsert");
    let names: Vec<String> = store
        .templates()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.templates().await.expect("list").contains(&changed));

    assert!(matches!(
        store.create_embed_code(&embed_code(9, "nope", 1)).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .create_embed_code(&embed_code(2, "a", 20))
        .await
        .expect("code 2");
    store
        .create_embed_code(&embed_code(3, "b", 10))
        .await
        .expect("code 3");
    assert!(matches!(
        store.create_embed_code(&embed_code(2, "b", 30)).await,
        Err(StoreError::Conflict)
    ));
    let listed: Vec<EmbedCode> = store
        .embed_codes()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(listed, [code(3), code(2)], "by creation time");
    assert_eq!(
        store.embed_code(&code(2)).await.expect("get"),
        Some(embed_code(2, "a", 20))
    );
    assert_eq!(store.embed_code(&code(7)).await.expect("get"), None);

    assert!(matches!(
        store.delete_template("a").await,
        Err(StoreError::Conflict)
    ));
    assert!(
        store
            .revoke_embed_code(&code(2), at(40))
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_embed_code(&code(2), at(41))
            .await
            .expect("again")
    );
    assert!(
        !store
            .revoke_embed_code(&code(7), at(41))
            .await
            .expect("unknown")
    );
    assert_eq!(
        store
            .embed_code(&code(2))
            .await
            .expect("get")
            .and_then(|c| c.revoked_at),
        Some(at(40))
    );
    assert!(matches!(
        store.delete_template("a").await,
        Err(StoreError::Referenced(_))
    ));
    assert!(!store.delete_template("zzz").await.expect("absent"));
    template(store, "unused").await;
    assert!(store.delete_template("unused").await.expect("deleted"));
    assert!(
        !store
            .templates()
            .await
            .expect("list")
            .iter()
            .any(|t| t.name == "unused")
    );
}

/// A session is created with its first events and read back as written, events in
/// order, texts exactly as they were (markup, emoji, quotes, line breaks).
pub async fn sessions_and_their_events(store: &dyn Store) {
    setup(store).await;
    let mut all = new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    let more: Vec<EventFrame> = (2..=4)
        .map(|n| frame("s1", n, 100 + n, message(n as u32)))
        .collect();
    store
        .append_events(&sid("s1"), &encoded(&more[..1]))
        .await
        .expect("one");
    store
        .append_events(&sid("s1"), &encoded(&more[1..]))
        .await
        .expect("two");
    all.extend(more);
    assert_eq!(store.events(&sid("s1")).await.expect("events"), all);
    assert_eq!(
        store.session(&sid("s1")).await.expect("get"),
        Some(session_record(
            "s1",
            TargetRef::Service("support".into()),
            100
        ))
    );
    assert_eq!(store.session(&sid("s9")).await.expect("get"), None);
    assert!(store.events(&sid("s9")).await.expect("none").is_empty());
    assert!(matches!(
        store
            .create_session(
                &session_record("s1", TargetRef::Service("support".into()), 5),
                &[]
            )
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store
            .append_events(&sid("s9"), &encoded(&[frame("s9", 1, 1, started())]))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let open: Vec<SessionId> = store
        .open_sessions()
        .await
        .expect("open")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(open, [sid("s1")]);
}

/// An append whose events clash with stored ones stores none of them.
pub async fn appends_are_all_or_nothing(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    let clash = [
        frame("s1", 2, 102, message(2)),
        frame("s1", 1, 103, message(3)),
    ];
    assert!(matches!(
        store.append_events(&sid("s1"), &encoded(&clash)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.events(&sid("s1")).await.expect("events").len(), 1);
    // The retry with the right numbers goes through.
    let retry = [frame("s1", 2, 104, message(2))];
    store
        .append_events(&sid("s1"), &encoded(&retry))
        .await
        .expect("retry");
    assert_eq!(store.events(&sid("s1")).await.expect("events").len(), 2);
}

/// Appends of many sessions at once (which a backend may commit together) each succeed or
/// fail alone: a duplicate among them fails with [`StoreError::Conflict`] and takes none
/// of the others with it; every acknowledged event is stored once, in order.
pub async fn concurrent_appends_are_isolated(store: &dyn Store) {
    setup(store).await;
    let ids: Vec<String> = (0..20).map(|n| format!("c{n}")).collect();
    for (n, id) in (0u64..).zip(&ids) {
        new_session(store, id, TargetRef::Service("support".into()), 100 + n).await;
    }
    let append = |id: &str, seq: u64| {
        let events = encoded(&[frame(id, seq, 200 + seq, message(seq as u32))]);
        let session = sid(id);
        async move { store.append_events(&session, &events).await }
    };
    // Every session appends 2..=6, one at a time, all sessions at once.
    let rounds = ids.iter().map(|id| async move {
        for seq in 2..=6 {
            append(id, seq).await.expect("append");
        }
    });
    futures_util::future::join_all(rounds).await;
    // One more event each, at once, and a duplicate of c0's event 3 among them.
    let mut next: Vec<_> = ids.iter().map(|id| Box::pin(append(id, 7))).collect();
    next.insert(10, Box::pin(append("c0", 3)));
    let results = futures_util::future::join_all(next).await;
    for (i, result) in results.iter().enumerate() {
        if i == 10 {
            assert!(
                matches!(result, Err(StoreError::Conflict)),
                "the duplicate fails: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "append {i}: {result:?}");
        }
    }
    for id in &ids {
        let seqs: Vec<u64> = store
            .events(&sid(id))
            .await
            .expect("events")
            .iter()
            .map(|e| e.seq.0)
            .collect();
        assert_eq!(seqs, (1..=7).collect::<Vec<_>>(), "session {id}");
    }
}

/// The `ended` event records the end with the session and forgets its workflow run.
pub async fn an_end_closes_the_session(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::User("alex".into()), 50).await;
    let run = WorkflowRunRecord {
        session: sid("s1"),
        workflow: "w".into(),
        fingerprint: "f".into(),
        state: "{}".into(),
        updated_at: at(101),
    };
    store.put_workflow_run(&run).await.expect("run");
    let end = [
        frame("s1", 2, 110, message(2)),
        frame(
            "s1",
            3,
            120,
            SessionEvent::Ended {
                reason: EndReason::AgentEnded,
            },
        ),
    ];
    store
        .append_events(&sid("s1"), &encoded(&end))
        .await
        .expect("end");
    let s = store.session(&sid("s1")).await.expect("get").expect("s1");
    assert_eq!(s.ended, Some((at(120), EndReason::AgentEnded)));
    assert_eq!(store.workflow_run(&sid("s1")).await.expect("run"), None);
    let open: Vec<SessionId> = store
        .open_sessions()
        .await
        .expect("open")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(open, [sid("s2")]);
}

/// A start key names one session: a second session with it is refused, and the key
/// finds its session. Sessions without one (older ones) do not clash.
pub async fn start_keys_are_unique(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    let mut same_key = session_record("s2", TargetRef::Service("support".into()), 101);
    same_key.start_key = Some("key-s1".into());
    assert!(matches!(
        store.create_session(&same_key, &[]).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.session(&sid("s2")).await.expect("get"), None);
    let found = store
        .session_by_start_key("key-s1")
        .await
        .expect("lookup")
        .map(|s| s.id);
    assert_eq!(found, Some(sid("s1")));
    assert_eq!(
        store
            .session_by_start_key("key-nope")
            .await
            .expect("lookup"),
        None
    );
    for id in ["s3", "s4"] {
        let mut old = session_record(id, TargetRef::Service("support".into()), 102);
        old.start_key = None;
        store.create_session(&old, &[]).await.expect("no key");
    }
}

/// The fields that change after creation: the resume token, when the visitor was last
/// there, the agent.
pub async fn session_fields_change(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    store
        .set_token_hash(&sid("s1"), &"f".repeat(64))
        .await
        .expect("token");
    store
        .set_visitor_seen(&sid("s1"), at(150))
        .await
        .expect("seen");
    let agent = AgentInfo {
        id: AgentId::new("alex").expect("valid"),
        display_name: "Alex".into(),
    };
    store
        .set_session_agent(&sid("s1"), &agent.id)
        .await
        .expect("agent");
    let s = store.session(&sid("s1")).await.expect("get").expect("s1");
    assert_eq!(s.token_hash, "f".repeat(64));
    assert_eq!(s.visitor_seen_at, Some(at(150)));
    assert_eq!(s.agent_id, Some(agent.id));
}

/// A transfer: the session is for its new target (in reports, the open sessions and the
/// lookup by origin too) and no agent holds it; the others are untouched.
pub async fn a_transfer_changes_target_and_frees_the_agent(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::Service("support".into()), 101).await;
    let alex = AgentId::new("alex").expect("valid");
    for s in ["s1", "s2"] {
        store
            .set_session_agent(&sid(s), &alex)
            .await
            .expect("agent");
    }
    let sales = TargetRef::Service("sales".into());
    store
        .transfer_session(&sid("s1"), &sales)
        .await
        .expect("transfer");
    let s1 = store.session(&sid("s1")).await.expect("get").expect("s1");
    assert_eq!((s1.target, s1.agent_id), (sales.clone(), None));
    let s2 = store.session(&sid("s2")).await.expect("get").expect("s2");
    assert_eq!(
        (s2.target, s2.agent_id),
        (TargetRef::Service("support".into()), Some(alex))
    );
    let open = store.open_sessions().await.expect("open");
    let s1 = open.iter().find(|s| s.id == sid("s1")).expect("open s1");
    assert_eq!((&s1.target, &s1.agent_id), (&sales, &None));
    let rows = store
        .report_rows(&ReportQuery {
            service: Some("sales".into()),
            limit: 10,
            ..ReportQuery::default()
        })
        .await
        .expect("rows");
    assert_eq!(
        rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [sid("s1")]
    );
    // To a user, then; a session that does not exist is no error.
    let user = TargetRef::User("alex".into());
    store
        .transfer_session(&sid("s1"), &user)
        .await
        .expect("to a user");
    let s1 = store.session(&sid("s1")).await.expect("get").expect("s1");
    assert_eq!(s1.target, user);
    store
        .transfer_session(&sid("s9"), &sales)
        .await
        .expect("unknown session");
}

/// A workflow run's state is upserted, read and forgotten; it needs its session.
pub async fn workflow_runs(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    let mut run = WorkflowRunRecord {
        session: sid("s1"),
        workflow: "w".into(),
        fingerprint: "f1".into(),
        state: r#"{"step":1}"#.into(),
        updated_at: at(101),
    };
    store.put_workflow_run(&run).await.expect("put");
    run.state = r#"{"step":2}"#.into();
    run.updated_at = at(102);
    store.put_workflow_run(&run).await.expect("replace");
    assert_eq!(
        store.workflow_run(&sid("s1")).await.expect("get"),
        Some(run.clone())
    );
    store.delete_workflow_run(&sid("s1")).await.expect("delete");
    assert_eq!(store.workflow_run(&sid("s1")).await.expect("get"), None);
    store
        .delete_workflow_run(&sid("s1"))
        .await
        .expect("deleting nothing");
    let orphan = WorkflowRunRecord {
        session: sid("s9"),
        ..run
    };
    assert!(matches!(
        store.put_workflow_run(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Sign-in tokens: found until they expire, gone at sign-out; an administrator's
/// sign-out removes every token of the user.
pub async fn agent_tokens(store: &dyn Store) {
    for (hash, user, expires) in [
        ("h1", "alex", 1_000),
        ("h2", "alex", 2_000),
        ("h3", "sam", 3_000),
    ] {
        store
            .put_agent_token(hash, user, at(1), at(expires))
            .await
            .expect("put");
    }
    assert!(matches!(
        store.put_agent_token("h1", "sam", at(1), at(9)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.agent_token("h1", at(999)).await.expect("get"),
        Some(("alex".into(), at(1_000)))
    );
    assert_eq!(
        store.agent_token("h1", at(1_000)).await.expect("expired"),
        None
    );
    assert_eq!(
        store.agent_token("nope", at(1)).await.expect("unknown"),
        None
    );
    store.delete_agent_token("h3").await.expect("sign out");
    assert_eq!(store.agent_token("h3", at(1)).await.expect("gone"), None);
    assert_eq!(store.delete_agent_tokens_of("alex").await.expect("all"), 2);
    assert_eq!(store.agent_token("h2", at(1)).await.expect("gone"), None);
    assert_eq!(store.delete_agent_tokens_of("alex").await.expect("none"), 0);
}

/// Admin sign-in tokens: found until they expire, gone at sign-out, and never taken for
/// an agent's token (or the other way round).
pub async fn admin_tokens_are_apart_from_agent_tokens(store: &dyn Store) {
    store
        .put_admin_token("a1", "dana", at(1), at(1_000))
        .await
        .expect("put");
    store
        .put_admin_token("a2", "dana", at(1), at(2_000))
        .await
        .expect("put");
    store
        .put_agent_token("g1", "dana", at(1), at(1_000))
        .await
        .expect("put agent");
    assert!(matches!(
        store.put_admin_token("a1", "sam", at(1), at(9)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.admin_token("a1", at(999)).await.expect("get"),
        Some(("dana".into(), at(1_000)))
    );
    assert_eq!(
        store.admin_token("a1", at(1_000)).await.expect("expired"),
        None
    );
    assert_eq!(store.admin_token("g1", at(1)).await.expect("agent's"), None);
    assert_eq!(store.agent_token("a2", at(1)).await.expect("admin's"), None);
    store.delete_admin_token("a1").await.expect("sign out");
    assert_eq!(store.admin_token("a1", at(1)).await.expect("gone"), None);
    assert_eq!(store.delete_admin_tokens_of("dana").await.expect("all"), 1);
    assert_eq!(store.admin_token("a2", at(1)).await.expect("gone"), None);
    assert_eq!(
        store.agent_token("g1", at(1)).await.expect("agent's stays"),
        Some(("dana".into(), at(1_000)))
    );
}

/// Configuration items: replaced by kind and name, listed by kind in name order,
/// deleted once.
pub async fn config_items_by_kind_and_name(store: &dyn Store) {
    let item = |kind: &str, name: &str, body: &str, time: u64| ConfigItem {
        kind: kind.into(),
        name: name.into(),
        body: body.into(),
        updated_at: at(time),
    };
    for i in [
        item("service", "sales", r#"{"v":1}"#, 1),
        item("service", "support", r#"{"v":1}"#, 2),
        item("user", "sales", r#"{"u":1}"#, 3),
        item("service", "sales", r#"{"v":2, "quote": "it's"}"#, 4),
    ] {
        store.put_config_item(&i).await.expect("put");
    }
    assert_eq!(
        store.config_items("service").await.expect("services"),
        vec![
            item("service", "sales", r#"{"v":2, "quote": "it's"}"#, 4),
            item("service", "support", r#"{"v":1}"#, 2),
        ]
    );
    assert_eq!(
        store.config_items("user").await.expect("users"),
        vec![item("user", "sales", r#"{"u":1}"#, 3)]
    );
    assert!(
        store
            .config_items("opening_hours")
            .await
            .expect("none")
            .is_empty()
    );
    assert!(
        store
            .delete_config_item("service", "sales")
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_config_item("service", "sales")
            .await
            .expect("twice")
    );
    assert_eq!(store.config_items("service").await.expect("one").len(), 1);
    assert_eq!(store.config_items("user").await.expect("kept").len(), 1);
}

/// After the chat: the first rating of a session is kept (a second is refused, not
/// stored), a transcript email is claimed once, and report rows carry the rating.
pub async fn one_rating_and_one_transcript_email_per_session(store: &dyn Store) {
    use interact_report::Satisfaction;
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::Service("support".into()), 200).await;
    // A session with report facts already (an offer) takes a rating the same way.
    store
        .record_offer(&sid("s2"), at(201))
        .await
        .expect("offer");
    let rating = Satisfaction {
        score: 4,
        comment: Some("Quick and kind \u{1F600}, \"thanks\"\nbye".into()),
    };
    assert!(
        store
            .record_satisfaction(&sid("s1"), at(150), &rating)
            .await
            .expect("rate")
    );
    let other = Satisfaction {
        score: 1,
        comment: None,
    };
    assert!(
        !store
            .record_satisfaction(&sid("s1"), at(151), &other)
            .await
            .expect("a second rating"),
        "the first rating stays"
    );
    assert!(
        store
            .record_satisfaction(&sid("s2"), at(250), &other)
            .await
            .expect("rate")
    );
    assert!(matches!(
        store.record_satisfaction(&sid("s9"), at(1), &other).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .claim_transcript_email(&sid("s1"), at(160))
            .await
            .expect("claim")
    );
    assert!(
        !store
            .claim_transcript_email(&sid("s1"), at(161))
            .await
            .expect("claim again")
    );
    assert!(
        store
            .claim_transcript_email(&sid("s2"), at(260))
            .await
            .expect("claim")
    );
    let rows = store
        .report_rows(&ReportQuery {
            limit: 10,
            ..ReportQuery::default()
        })
        .await
        .expect("rows");
    let got: Vec<(&str, Option<&Satisfaction>)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.satisfaction.as_ref()))
        .collect();
    assert_eq!(got, [("s1", Some(&rating)), ("s2", Some(&other))]);
    assert_eq!((rows[1].offers, rows[1].offered_at), (1, Some(at(201))));
}

/// Files are stored with their bytes exactly (every byte value, an empty file too) and
/// read back only in their own session; an id is used once; a file needs its session.
pub async fn attachments_by_session_and_id(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::Service("support".into()), 200).await;
    let aid = |s: &str| AttachmentId::new(s).expect("a valid attachment id");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let photo = AttachmentRecord {
        id: aid("a1"),
        session: sid("s1"),
        from: Party::Visitor,
        name: "Foto \u{e4}\u{1F600} \"1\".png".into(),
        mime: "image/png".into(),
        data: bytes.into(),
        created_at: at(150),
    };
    let label = AttachmentRecord {
        id: aid("a2"),
        session: sid("s1"),
        from: Party::Agent,
        name: "label.pdf".into(),
        mime: "application/pdf".into(),
        data: bytes::Bytes::new(),
        created_at: at(160),
    };
    store.put_attachment(&photo).await.expect("store a file");
    store
        .put_attachment(&label)
        .await
        .expect("store an empty file");
    assert_eq!(
        store
            .attachment(&sid("s1"), &aid("a1"))
            .await
            .expect("read"),
        Some(photo.clone())
    );
    assert_eq!(
        store
            .attachment(&sid("s1"), &aid("a2"))
            .await
            .expect("read"),
        Some(label)
    );
    assert_eq!(
        store
            .attachment(&sid("s2"), &aid("a1"))
            .await
            .expect("read"),
        None,
        "a file is not found through another session"
    );
    assert_eq!(
        store
            .attachment(&sid("s1"), &aid("a9"))
            .await
            .expect("read"),
        None
    );
    let again = AttachmentRecord {
        session: sid("s2"),
        ..photo.clone()
    };
    assert!(matches!(
        store.put_attachment(&again).await,
        Err(StoreError::Conflict)
    ));
    let orphan = AttachmentRecord {
        id: aid("a3"),
        session: sid("s9"),
        ..photo
    };
    assert!(matches!(
        store.put_attachment(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
}

/// What reports read: offers (the first time and how many), a recorded outcome (the last
/// wins), the workflow path, and rows selected, ordered and paged as asked.
pub async fn report_facts_and_rows(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::User("alex".into()), 200).await;
    let mut whatsapp = session_record("s3", TargetRef::Service("sales".into()), 200);
    whatsapp.channel = interact_model::Channel::Whatsapp;
    store
        .create_session(&whatsapp, &encoded(&[frame("s3", 1, 200, started())]))
        .await
        .expect("create a WhatsApp session");
    assert_eq!(
        store
            .session(&sid("s3"))
            .await
            .expect("read")
            .map(|s| s.channel),
        Some(interact_model::Channel::Whatsapp)
    );
    let joined = SessionEvent::AgentJoined {
        agent: AgentInfo {
            id: AgentId::new("alex").expect("valid"),
            display_name: "Alex".into(),
        },
    };
    let lifecycle = [
        frame("s1", 2, 110, SessionEvent::Queued { position: 1 }),
        frame("s1", 3, 115, message(3)),
        frame("s1", 4, 120, joined.clone()),
    ];
    store
        .append_events(&sid("s1"), &encoded(&lifecycle))
        .await
        .expect("events");
    store
        .record_offer(&sid("s1"), at(111))
        .await
        .expect("offer");
    store
        .record_offer(&sid("s1"), at(119))
        .await
        .expect("offer");
    store
        .record_outcome(&sid("s1"), Outcome::Cancelled)
        .await
        .expect("outcome");
    store
        .record_outcome(&sid("s1"), Outcome::Transferred)
        .await
        .expect("outcome");
    for (n, label) in ["hours", "greet", "queue"].into_iter().enumerate() {
        store
            .record_workflow_step(&sid("s1"), at(101 + n as u64), label)
            .await
            .expect("step");
    }
    assert!(matches!(
        store.record_offer(&sid("s9"), at(1)).await,
        Err(StoreError::NotFound(_))
    ));

    let all = ReportQuery {
        limit: 10,
        ..ReportQuery::default()
    };
    let rows = store.report_rows(&all).await.expect("rows");
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2", "s3"], "by creation time, then id");
    let s1 = &rows[0];
    assert_eq!(s1.target, TargetRef::Service("support".into()));
    assert_eq!((s1.offered_at, s1.offers), (Some(at(111)), 2));
    assert_eq!(s1.recorded_outcome, Some(Outcome::Transferred));
    assert_eq!(s1.workflow_path, ["hours", "greet", "queue"]);
    // Lifecycle events are there in order (a backend may leave others out).
    let kinds: Vec<(UnixMillis, &SessionEvent)> = s1
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                SessionEvent::Queued { .. } | SessionEvent::AgentJoined { .. }
            )
        })
        .map(|(t, e)| (*t, e))
        .collect();
    assert_eq!(
        kinds,
        [
            (at(110), &SessionEvent::Queued { position: 1 }),
            (at(120), &joined)
        ]
    );
    assert_eq!((rows[1].offers, rows[1].recorded_outcome), (0, None));

    let select = |q: ReportQuery| async move {
        store
            .report_rows(&ReportQuery { limit: 10, ..q })
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        select(ReportQuery {
            kind: Some(TargetKind::User),
            ..ReportQuery::default()
        })
        .await,
        ["s2"]
    );
    assert_eq!(
        select(ReportQuery {
            channel: Some(interact_model::Channel::Whatsapp),
            ..ReportQuery::default()
        })
        .await,
        ["s3"]
    );
    assert_eq!(
        select(ReportQuery {
            channel: Some(interact_model::Channel::Widget),
            ..ReportQuery::default()
        })
        .await,
        ["s1", "s2"]
    );
    assert_eq!(rows[2].channel, interact_model::Channel::Whatsapp);
    assert_eq!(
        select(ReportQuery {
            service: Some("support".into()),
            ..ReportQuery::default()
        })
        .await,
        ["s1"]
    );
    assert_eq!(
        select(ReportQuery {
            user: Some("alex".into()),
            ..ReportQuery::default()
        })
        .await,
        ["s2"]
    );
    assert_eq!(
        select(ReportQuery {
            from: Some(at(150)),
            to: Some(at(201)),
            ..ReportQuery::default()
        })
        .await,
        ["s2", "s3"]
    );
    assert_eq!(
        select(ReportQuery {
            after: Some((at(200), sid("s2"))),
            ..ReportQuery::default()
        })
        .await,
        ["s3"]
    );
    let limited = store
        .report_rows(&ReportQuery {
            limit: 2,
            ..ReportQuery::default()
        })
        .await
        .expect("rows");
    assert_eq!(limited.len(), 2);
    let none = store
        .report_rows(&ReportQuery::default())
        .await
        .expect("rows");
    assert!(none.is_empty(), "a limit of 0 reads nothing");
}

/// What usage reads: the sessions open at some time of a range (created before its end,
/// not ended before its start), selected by target and channel, ordered and paged as
/// report rows; each with its lifecycle events in order, and its messages in the range
/// counted per UTC day, from the visitor and from the agent or service (a text that
/// looks like another message or sender changes nothing).
pub async fn usage_rows_count_messages_per_day(store: &dyn Store) {
    const DAY: u64 = 86_400_000;
    // 2024-05-01T00:00:00Z; the range is 1 and 2 May.
    let d = 19_844 * DAY;
    setup(store).await;
    let say = |n: u32, from: Party, text: &str| SessionEvent::Message {
        id: MessageId::new(format!("m{n}")).expect("valid"),
        from,
        author: (from != Party::Visitor).then(|| "Alex".to_owned()),
        text: text.to_owned(),
    };
    let fake = r#"","from":"visitor","text":"{\"kind\":\"message\",\"from\":\"agent\"}"#;
    let signal = |from: Party, signal: CallSignal| SessionEvent::Call { from, signal };
    let call = CallId::new("c1").expect("valid");
    let agent = AgentInfo {
        id: AgentId::new("alex").expect("valid"),
        display_name: "Alex \"from\":\"visitor\"".into(),
    };
    // Sessions, by creation: s2 (a user contact, over before the range), s3 (WhatsApp,
    // open since the day before), s1 (in the range, with a call, ended on its second
    // day), s4 (after the range).
    let create = |id: &'static str, target: TargetRef, channel, created: u64| async move {
        let mut record = session_record(id, target, created);
        record.channel = channel;
        store
            .create_session(&record, &encoded(&[frame(id, 1, created, started())]))
            .await
            .expect("create");
    };
    let widget = interact_model::Channel::Widget;
    let whatsapp = interact_model::Channel::Whatsapp;
    let support = || TargetRef::Service("support".into());
    create("s1", support(), widget, d + 3_600_000).await;
    create("s2", TargetRef::User("alex".into()), widget, d - 2 * DAY).await;
    create("s3", TargetRef::Service("sales".into()), whatsapp, d - DAY).await;
    create("s4", support(), widget, d + 2 * DAY).await;
    let h = d + 3_600_000;
    let s1 = [
        frame("s1", 2, h + 1, SessionEvent::Queued { position: 1 }),
        frame("s1", 3, h + 2, say(1, Party::Visitor, "hello")),
        frame(
            "s1",
            4,
            h + 3,
            SessionEvent::AgentJoined {
                agent: agent.clone(),
            },
        ),
        frame("s1", 5, h + 4, say(2, Party::Agent, fake)),
        frame(
            "s1",
            6,
            h + 5,
            say(3, Party::System, "Bye \"from\":\"visitor\""),
        ),
        frame(
            "s1",
            7,
            h + 6,
            SessionEvent::Receipt {
                by: Party::Visitor,
                up_to: Seq(6),
                state: ReceiptState::Read,
            },
        ),
        frame(
            "s1",
            8,
            h + 10,
            signal(
                Party::Visitor,
                CallSignal::Start {
                    call: call.clone(),
                    media: CallMedia::Audio,
                },
            ),
        ),
        frame(
            "s1",
            9,
            h + 11,
            signal(
                Party::Visitor,
                CallSignal::Offer {
                    call: call.clone(),
                    sdp: r#"{"kind":"message","id":"m","from":"visitor"}"#.into(),
                },
            ),
        ),
        frame(
            "s1",
            10,
            h + 12,
            signal(Party::Agent, CallSignal::Accept { call: call.clone() }),
        ),
        frame(
            "s1",
            11,
            h + 13,
            signal(
                Party::Agent,
                CallSignal::Media {
                    call: call.clone(),
                    state: MediaState {
                        muted: false,
                        camera: false,
                        screen: true,
                    },
                },
            ),
        ),
        frame(
            "s1",
            12,
            d + DAY + 5,
            signal(
                Party::Visitor,
                CallSignal::Hangup {
                    call: call.clone(),
                    reason: interact_sdk::protocol::HangupReason::Normal,
                },
            ),
        ),
        frame("s1", 13, d + DAY + 6, say(4, Party::Visitor, fake)),
        frame(
            "s1",
            14,
            d + DAY + 7,
            SessionEvent::Ended {
                reason: EndReason::AgentEnded,
            },
        ),
    ];
    let s2 = [
        frame("s2", 2, d - 2 * DAY + 1, say(1, Party::Visitor, "old")),
        frame(
            "s2",
            3,
            d - DAY - 1,
            SessionEvent::Ended {
                reason: EndReason::VisitorEnded,
            },
        ),
    ];
    let s3 = [
        // The day before the range, its first millisecond, its last day's last
        // millisecond, and the first after it.
        frame("s3", 2, d - 1, say(1, Party::Visitor, "before")),
        frame("s3", 3, d, say(2, Party::Visitor, "first")),
        frame("s3", 4, d + 2 * DAY - 1, say(3, Party::Agent, "last")),
        frame("s3", 5, d + 2 * DAY, say(4, Party::Agent, "after")),
    ];
    for (id, events) in [("s1", &s1[..]), ("s2", &s2[..]), ("s3", &s3[..])] {
        store
            .append_events(&sid(id), &encoded(events))
            .await
            .expect("events");
    }

    let range = UsageQuery {
        from: at(d),
        to: at(d + 2 * DAY),
        limit: 10,
        ..UsageQuery::default()
    };
    let rows = store.usage_rows(&range).await.expect("rows");
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["s3", "s1"], "open in the range, by creation time");
    let counts = |r: &UsageRow| {
        let mut m = r.messages.clone();
        m.sort_by_key(|c| c.day);
        m
    };
    let count = |day: u64, inbound: u64, outbound: u64| MessageCount {
        day: Day(day),
        inbound,
        outbound,
    };
    assert_eq!(
        counts(&rows[0]),
        [count(19_844, 1, 0), count(19_845, 0, 1)],
        "s3: the range's messages only"
    );
    assert_eq!(
        counts(&rows[1]),
        [count(19_844, 1, 2), count(19_845, 1, 0)],
        "s1: messages by day and sender"
    );
    let s1_row = &rows[1];
    assert_eq!(
        (
            &s1_row.target,
            s1_row.channel,
            s1_row.created_at,
            rows[0].channel
        ),
        (&support(), widget, at(h), whatsapp)
    );
    // The lifecycle events, in order (a backend may add others; messages are counted
    // apart).
    let lifecycle: Vec<(UnixMillis, &SessionEvent)> = s1_row
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                SessionEvent::Queued { .. }
                    | SessionEvent::AgentJoined { .. }
                    | SessionEvent::Ended { .. }
                    | SessionEvent::Call {
                        signal: CallSignal::Start { .. }
                            | CallSignal::Accept { .. }
                            | CallSignal::Media { .. }
                            | CallSignal::Hangup { .. },
                        ..
                    }
            )
        })
        .map(|(t, e)| (*t, e))
        .collect();
    let expected: Vec<(UnixMillis, &SessionEvent)> = [0, 2, 6, 8, 9, 10, 12]
        .into_iter()
        .map(|i| (s1[i].at, &s1[i].event))
        .collect();
    assert_eq!(lifecycle, expected);

    let select = |q: UsageQuery| async move {
        store
            .usage_rows(&UsageQuery { limit: 10, ..q })
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let range = || UsageQuery {
        from: at(d),
        to: at(d + 2 * DAY),
        ..UsageQuery::default()
    };
    assert_eq!(
        select(UsageQuery {
            service: Some("support".into()),
            ..range()
        })
        .await,
        ["s1"]
    );
    assert_eq!(
        select(UsageQuery {
            channel: Some(whatsapp),
            ..range()
        })
        .await,
        ["s3"]
    );
    assert_eq!(
        select(UsageQuery {
            kind: Some(TargetKind::User),
            ..range()
        })
        .await,
        Vec::<String>::new()
    );
    // The day s2 ended and s3 began: s2 only (s3 was created at the range's end).
    let before = UsageQuery {
        from: at(d - 2 * DAY),
        to: at(d - DAY),
        ..UsageQuery::default()
    };
    assert_eq!(select(before.clone()).await, ["s2"]);
    assert_eq!(
        select(UsageQuery {
            user: Some("alex".into()),
            ..before.clone()
        })
        .await,
        ["s2"]
    );
    let rows = store
        .usage_rows(&UsageQuery { limit: 1, ..before })
        .await
        .expect("rows");
    assert_eq!(counts(&rows[0]), [count(19_842, 1, 0)]);
    // Everything from s2's day on, page by page.
    let all = || UsageQuery {
        from: at(d - 2 * DAY),
        to: at(d + 3 * DAY),
        ..UsageQuery::default()
    };
    assert_eq!(select(all()).await, ["s2", "s3", "s1", "s4"]);
    assert_eq!(
        select(UsageQuery {
            after: Some((at(d - DAY), sid("s3"))),
            ..all()
        })
        .await,
        ["s1", "s4"]
    );
    let page = store
        .usage_rows(&UsageQuery { limit: 2, ..all() })
        .await
        .expect("rows");
    assert_eq!(page.len(), 2);
    assert!(
        store.usage_rows(&all()).await.expect("rows").is_empty(),
        "a limit of 0 reads nothing"
    );
}

/// Claims of a session's lease count up from 1, whoever claims (the same node too), and
/// the owner is the last claimer; a session never claimed has none, and an unknown
/// session cannot be claimed.
pub async fn claims_count_up(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::Service("support".into()), 101).await;
    assert_eq!(store.session_owner(&sid("s1")).await.expect("owner"), None);
    let claims = [("node-a", 1), ("node-b", 2), ("node-b", 3), ("node-a", 4)];
    for (n, (node, expected)) in (0u64..).zip(claims) {
        let epoch = store
            .claim_session(&sid("s1"), node, at(200 + n))
            .await
            .expect("claim");
        assert_eq!(epoch, Epoch(expected), "claim by {node}");
        assert_eq!(
            store.session_owner(&sid("s1")).await.expect("owner"),
            Some((node.to_owned(), Epoch(expected)))
        );
    }
    assert_eq!(
        store.session_owner(&sid("s2")).await.expect("owner"),
        None,
        "another session's claims are not its own"
    );
    assert_eq!(
        store
            .claim_session(&sid("s2"), "node-b", at(300))
            .await
            .expect("claim"),
        Epoch(1)
    );
    assert!(matches!(
        store.claim_session(&sid("s9"), "node-a", at(300)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.session_owner(&sid("s9")).await.expect("owner"), None);
}

/// An append fenced by the current epoch is stored; once another node has claimed the
/// session, the former owner's append is [`StoreError::Fenced`] and nothing of it is
/// stored (not even the end it carries), while the new owner's goes through. A session
/// never claimed takes no fenced append.
pub async fn a_claim_fences_the_former_owner(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    new_session(store, "s2", TargetRef::Service("support".into()), 101).await;
    let old = store
        .claim_session(&sid("s1"), "node-a", at(150))
        .await
        .expect("claim");
    store
        .append_events_fenced(
            &sid("s1"),
            old,
            &encoded(&[frame("s1", 2, 160, message(2))]),
        )
        .await
        .expect("the owner's append");
    let stored = store.events(&sid("s1")).await.expect("events");
    assert_eq!(stored.len(), 2);

    let new = store
        .claim_session(&sid("s1"), "node-b", at(170))
        .await
        .expect("claim");
    assert!(new > old);
    let late = [
        frame("s1", 3, 180, message(3)),
        frame(
            "s1",
            4,
            181,
            SessionEvent::Ended {
                reason: EndReason::AgentEnded,
            },
        ),
    ];
    let refused = store
        .append_events_fenced(&sid("s1"), old, &encoded(&late))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Fenced)),
        "the former owner's append: {refused:?}"
    );
    assert_eq!(store.events(&sid("s1")).await.expect("events"), stored);
    let s1 = store.session(&sid("s1")).await.expect("get").expect("s1");
    assert_eq!(s1.ended, None, "the refused end is not recorded");

    let mine = [frame("s1", 3, 190, message(3))];
    store
        .append_events_fenced(&sid("s1"), new, &encoded(&mine))
        .await
        .expect("the new owner's append");
    let seqs: Vec<u64> = store
        .events(&sid("s1"))
        .await
        .expect("events")
        .iter()
        .map(|e| e.seq.0)
        .collect();
    assert_eq!(seqs, [1, 2, 3]);

    let unclaimed = store
        .append_events_fenced(
            &sid("s2"),
            Epoch(1),
            &encoded(&[frame("s2", 2, 200, message(2))]),
        )
        .await;
    assert!(
        matches!(unclaimed, Err(StoreError::Fenced)),
        "never claimed: {unclaimed:?}"
    );
    assert_eq!(store.events(&sid("s2")).await.expect("events").len(), 1);
}

/// Claims made at once each get an epoch of their own: 20 claims, epochs 1 to 20, and
/// the owner is the claim that got 20.
pub async fn concurrent_claims_get_distinct_epochs(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    let nodes: Vec<String> = (0..20).map(|n| format!("node-{n}")).collect();
    let claims = nodes.iter().map(|node| async move {
        let epoch = store
            .claim_session(&sid("s1"), node, at(200))
            .await
            .expect("claim");
        (epoch, node.clone())
    });
    let mut claimed = futures_util::future::join_all(claims).await;
    claimed.sort();
    let epochs: Vec<u64> = claimed.iter().map(|(e, _)| e.0).collect();
    assert_eq!(epochs, (1..=20).collect::<Vec<_>>());
    let (last, node) = claimed.pop().expect("20 claims");
    assert_eq!(
        store.session_owner(&sid("s1")).await.expect("owner"),
        Some((node, last))
    );
}

/// Fenced appends to many sessions at once (which a backend may commit together), plain
/// appends among them: the one whose epoch is stale fails alone with
/// [`StoreError::Fenced`], and every other is stored.
pub async fn fenced_appends_fail_alone(store: &dyn Store) {
    setup(store).await;
    let ids: Vec<String> = (0..12).map(|n| format!("f{n}")).collect();
    let mut epochs = Vec::new();
    for (n, id) in (0u64..).zip(&ids) {
        new_session(store, id, TargetRef::Service("support".into()), 100 + n).await;
        let epoch = store
            .claim_session(&sid(id), "node-a", at(150))
            .await
            .expect("claim");
        epochs.push(epoch);
    }
    let stale = 5;
    store
        .claim_session(&sid(&ids[stale]), "node-b", at(160))
        .await
        .expect("taken over");
    // Events 2..=4 of every session: fenced, except every third session's (plain); a
    // session's appends one after the other, all sessions at once.
    let rounds = ids
        .iter()
        .zip(&epochs)
        .enumerate()
        .map(|(i, (id, &epoch))| async move {
            let mut results = Vec::new();
            for seq in 2..=4 {
                let events = encoded(&[frame(id, seq, 200 + seq, message(seq as u32))]);
                let result = if i % 3 == 0 && i != stale {
                    store.append_events(&sid(id), &events).await
                } else {
                    store.append_events_fenced(&sid(id), epoch, &events).await
                };
                results.push(result);
            }
            results
        });
    let results = futures_util::future::join_all(rounds).await;
    for (i, (id, results)) in ids.iter().zip(&results).enumerate() {
        let stored: Vec<u64> = store
            .events(&sid(id))
            .await
            .expect("events")
            .iter()
            .map(|e| e.seq.0)
            .collect();
        if i == stale {
            assert!(
                results.iter().all(|r| matches!(r, Err(StoreError::Fenced))),
                "the stale session's appends: {results:?}"
            );
            assert_eq!(stored, [1], "nothing of {id}'s stale appends");
        } else {
            assert!(results.iter().all(Result::is_ok), "{id}: {results:?}");
            assert_eq!(stored, [1, 2, 3, 4], "session {id}");
        }
    }
}

/// Once a claim has returned, the former owner's writes are over: its appends in flight
/// during the claim were either stored before the claim's answer or are refused, so the
/// new owner reads, right after claiming, the whole log the old epoch wrote.
pub async fn a_claim_ends_the_former_owners_writes(store: &dyn Store) {
    setup(store).await;
    new_session(store, "s1", TargetRef::Service("support".into()), 100).await;
    let old = store
        .claim_session(&sid("s1"), "node-a", at(150))
        .await
        .expect("claim");
    let writer = async {
        let mut acknowledged = 1;
        for seq in 2..=200 {
            let events = encoded(&[frame("s1", seq, 200 + seq, message(seq as u32))]);
            match store.append_events_fenced(&sid("s1"), old, &events).await {
                Ok(()) => acknowledged = seq,
                Err(StoreError::Fenced) => break,
                Err(e) => panic!("append {seq}: {e}"),
            }
        }
        acknowledged
    };
    let claimer = async {
        // Claim while the writer is under way (a backend that answers at once has let
        // it finish already).
        while store.events(&sid("s1")).await.expect("events").len() < 5 {}
        store
            .claim_session(&sid("s1"), "node-b", at(300))
            .await
            .expect("claim");
        store.events(&sid("s1")).await.expect("events").len()
    };
    let (acknowledged, seen) = futures_util::future::join(writer, claimer).await;
    let stored = store.events(&sid("s1")).await.expect("events");
    assert_eq!(
        stored.len(),
        seen,
        "nothing stored after the claim returned"
    );
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=acknowledged).collect::<Vec<_>>());
}

fn audit(time: u64, action: &str, before: Option<&str>, after: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: at(time),
        actor: "admin \"root\"".into(),
        action: action.into(),
        target: format!("target of {action}"),
        before: before.map(Into::into),
        after: after.map(Into::into),
    }
}

/// Audit entries get growing ids (whatever id they came with); the log reads newest
/// first, at most `limit`, below `before` when given, the JSON before and after as
/// stored (`None` too).
pub async fn audit_log_pages_newest_first(store: &dyn Store) {
    assert!(store.audit_log(None, 10).await.expect("empty").is_empty());
    let entries = [
        audit(
            100,
            "template.put",
            None,
            Some(r#"{"name":"shop","origins":["https://*.example.com"]}"#),
        ),
        audit(
            101,
            "template.put",
            Some(r#"{"name":"shop","origins":[]}"#),
            Some(r#"{"name":"shop","origins":["\u00e9 \"q\""]}"#),
        ),
        audit(102, "embed_code.revoke", Some(r#"{"code":"c"}"#), None),
        audit(102, "webhook.delete", None, None),
        AuditEntry {
            id: 42,
            ..audit(103, "template.delete", Some("{}"), None)
        },
    ];
    let mut stored: Vec<AuditEntry> = Vec::new();
    for e in &entries {
        let id = store.append_audit(e).await.expect("append");
        if let Some(last) = stored.last() {
            assert!(id > last.id, "ids grow: {id} after {}", last.id);
        }
        stored.push(AuditEntry { id, ..e.clone() });
    }
    let newest_first: Vec<AuditEntry> = stored.iter().rev().cloned().collect();
    assert_eq!(store.audit_log(None, 10).await.expect("all"), newest_first);
    assert_eq!(
        store.audit_log(None, 2).await.expect("limit"),
        newest_first[..2]
    );
    assert_eq!(
        store.audit_log(Some(stored[3].id), 10).await.expect("page"),
        newest_first[2..],
        "below entry 4: entries 3, 2, 1"
    );
    assert_eq!(
        store.audit_log(Some(stored[3].id), 1).await.expect("page"),
        newest_first[2..3]
    );
    assert!(
        store
            .audit_log(Some(stored[0].id), 10)
            .await
            .expect("nothing older")
            .is_empty()
    );
    assert!(store.audit_log(None, 0).await.expect("limit 0").is_empty());
}

fn webhook(id: &str, url: &str, events: &[&str], created: u64) -> WebhookRecord {
    WebhookRecord {
        id: id.into(),
        url: url.into(),
        secret: format!("secret of {id}"),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        created_at: at(created),
    }
}

fn delivery(webhook: &str, n: u32, time: u64) -> NewDelivery {
    NewDelivery {
        webhook: webhook.into(),
        event: "session.started".into(),
        body: format!(r#"{{"n":{n},"text":"\u00e9 \"q\"\n"}}"#),
        at: at(time),
    }
}

/// The record a new delivery is stored as, with its id.
fn stored_delivery(id: i64, d: &NewDelivery) -> DeliveryRecord {
    DeliveryRecord {
        id,
        webhook: d.webhook.clone(),
        event: d.event.clone(),
        body: d.body.clone(),
        created_at: d.at,
        attempts: 0,
        next_at: Some(d.at),
        last_status: None,
        last_error: None,
        delivered_at: None,
    }
}

/// Enqueues `new` (their webhooks exist) and returns them as stored, in order.
async fn enqueue(store: &dyn Store, new: &[NewDelivery]) -> Vec<DeliveryRecord> {
    store.enqueue_deliveries(new).await.expect("enqueue");
    let mut stored = store
        .deliveries(None, new.len() as u32)
        .await
        .expect("deliveries");
    stored.reverse();
    assert_eq!(stored.len(), new.len());
    stored
        .iter()
        .zip(new)
        .map(|(s, d)| stored_delivery(s.id, d))
        .collect()
}

fn ids(deliveries: &[DeliveryRecord]) -> Vec<i64> {
    deliveries.iter().map(|d| d.id).collect()
}

/// Webhooks are created, replaced (by id) and listed by id, secrets and events as
/// stored; deleting one deletes its deliveries (and only its), and says whether it was
/// there.
pub async fn webhooks_by_id_and_their_deliveries(store: &dyn Store) {
    assert!(store.webhooks().await.expect("none").is_empty());
    let b = webhook("b", "https://hooks.example.com/b", &["session.started"], 10);
    let a = webhook(
        "a",
        "http://127.0.0.1:9000/a?x=1",
        &["session.ended", "session.started"],
        20,
    );
    store.put_webhook(&b).await.expect("put b");
    store.put_webhook(&a).await.expect("put a");
    assert_eq!(
        store.webhooks().await.expect("list"),
        [a.clone(), b.clone()]
    );
    let b2 = WebhookRecord {
        url: "https://hooks.example.com/b2".into(),
        secret: "another secret".into(),
        events: vec!["session.ended".into()],
        ..b
    };
    store.put_webhook(&b2).await.expect("replace b");
    assert_eq!(
        store.webhooks().await.expect("list"),
        [a.clone(), b2.clone()]
    );

    let mine = enqueue(store, &[delivery("a", 1, 100), delivery("b", 2, 100)]).await;
    enqueue(store, &[delivery("a", 3, 100)]).await;
    assert!(store.delete_webhook("a").await.expect("delete a"));
    assert!(!store.delete_webhook("a").await.expect("again"));
    assert!(!store.delete_webhook("zzz").await.expect("unknown"));
    assert_eq!(store.webhooks().await.expect("list"), [b2]);
    assert!(
        store
            .deliveries(Some("a"), 10)
            .await
            .expect("a's")
            .is_empty(),
        "a's deliveries went with it"
    );
    assert_eq!(
        store.deliveries(None, 10).await.expect("all"),
        [mine[1].clone()]
    );
    assert_eq!(
        ids(&store
            .claim_deliveries(at(1_000), at(2_000), 10)
            .await
            .expect("claim")),
        [mine[1].id],
        "a deleted webhook's deliveries are not claimed"
    );
    // The deleted deliveries' ids are not given again (a sender still holding one must
    // not record its attempt on another delivery).
    let gone = mine[0].id.max(mine[1].id) + 1;
    let later = enqueue(store, &[delivery("b", 4, 100)]).await;
    assert!(
        later[0].id > gone,
        "{} reuses a deleted delivery's id",
        later[0].id
    );
}

/// Enqueueing is all or nothing (an unknown webhook: [`StoreError::NotFound`], nothing
/// stored). A claim takes only due deliveries, oldest due first (then by id), at most
/// `limit`, and sets their `next_at` to `until`: another claim takes none of them until
/// then, and all of them after.
pub async fn deliveries_are_claimed_when_due(store: &dyn Store) {
    store
        .put_webhook(&webhook(
            "w1",
            "https://a.example/1",
            &["session.started"],
            1,
        ))
        .await
        .expect("w1");
    store
        .put_webhook(&webhook(
            "w2",
            "https://a.example/2",
            &["session.started"],
            1,
        ))
        .await
        .expect("w2");
    store.enqueue_deliveries(&[]).await.expect("nothing");
    let refused = store
        .enqueue_deliveries(&[
            delivery("w1", 0, 100),
            delivery("nope", 0, 100),
            delivery("w2", 0, 100),
        ])
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "an unknown webhook: {refused:?}"
    );
    assert!(
        store.deliveries(None, 10).await.expect("none").is_empty(),
        "none of them stored"
    );

    let d = enqueue(
        store,
        &[
            delivery("w1", 1, 300),
            delivery("w2", 2, 100),
            delivery("w1", 3, 200),
            delivery("w1", 4, 100),
            delivery("w2", 5, 1_000),
        ],
    )
    .await;
    for pair in d.windows(2) {
        assert!(pair[1].id > pair[0].id, "ids grow: {pair:?}");
    }
    let mut all = d.clone();
    all.reverse();
    assert_eq!(store.deliveries(None, 10).await.expect("stored"), all);

    let claimed_as = |d: &DeliveryRecord, until: u64| DeliveryRecord {
        next_at: Some(at(until)),
        ..d.clone()
    };
    assert!(
        store
            .claim_deliveries(at(99), at(400), 10)
            .await
            .expect("nothing due")
            .is_empty()
    );
    assert!(
        store
            .claim_deliveries(at(300), at(400), 0)
            .await
            .expect("limit 0")
            .is_empty()
    );
    assert_eq!(
        store
            .claim_deliveries(at(300), at(400), 2)
            .await
            .expect("claim"),
        [claimed_as(&d[1], 400), claimed_as(&d[3], 400)],
        "the two due first (at 100), by id"
    );
    assert_eq!(
        store
            .claim_deliveries(at(300), at(400), 10)
            .await
            .expect("claim"),
        [claimed_as(&d[2], 400), claimed_as(&d[0], 400)],
        "the rest of the due ones, not those claimed"
    );
    assert!(
        store
            .claim_deliveries(at(300), at(400), 10)
            .await
            .expect("claim")
            .is_empty(),
        "all due ones are claimed"
    );
    assert!(
        store
            .claim_deliveries(at(399), at(500), 10)
            .await
            .expect("claim")
            .is_empty(),
        "claimed until 400"
    );
    let stored = store.deliveries(None, 10).await.expect("stored");
    let next: Vec<Option<UnixMillis>> = stored.iter().rev().map(|d| d.next_at).collect();
    assert_eq!(
        next,
        [
            Some(at(400)),
            Some(at(400)),
            Some(at(400)),
            Some(at(400)),
            Some(at(1_000))
        ]
    );
    assert_eq!(
        store
            .claim_deliveries(at(400), at(500), 10)
            .await
            .expect("claim"),
        [
            claimed_as(&d[0], 500),
            claimed_as(&d[1], 500),
            claimed_as(&d[2], 500),
            claimed_as(&d[3], 500)
        ],
        "claimable again once their claim ran out, by id (all due at 400)"
    );
    assert_eq!(
        store
            .claim_deliveries(at(1_000), at(1_100), 10)
            .await
            .expect("claim"),
        [
            claimed_as(&d[0], 1_100),
            claimed_as(&d[1], 1_100),
            claimed_as(&d[2], 1_100),
            claimed_as(&d[3], 1_100),
            claimed_as(&d[4], 1_100)
        ]
    );
}

/// An attempt counts, and leaves its status and error; a failed one makes the delivery
/// due again at its `next_at`, a delivered one (no `next_at`) is never claimed again and
/// records when it was delivered. An unknown delivery is `Ok(false)`.
pub async fn attempts_are_recorded(store: &dyn Store) {
    store
        .put_webhook(&webhook("w", "https://a.example/", &["session.started"], 1))
        .await
        .expect("webhook");
    let d = enqueue(store, &[delivery("w", 1, 100), delivery("w", 2, 100)]).await;
    assert_eq!(
        ids(&store
            .claim_deliveries(at(100), at(200), 10)
            .await
            .expect("claim")),
        ids(&d)
    );
    let failed = Attempt {
        at: at(150),
        status: Some(500),
        error: Some("HTTP 500 \"oops\"".into()),
        delivered: false,
        next_at: Some(at(300)),
    };
    assert!(
        store
            .record_attempt(d[0].id, &failed)
            .await
            .expect("failed")
    );
    let delivered = Attempt {
        at: at(160),
        status: Some(204),
        error: None,
        delivered: true,
        next_at: None,
    };
    assert!(
        store
            .record_attempt(d[1].id, &delivered)
            .await
            .expect("delivered")
    );
    let first = DeliveryRecord {
        attempts: 1,
        next_at: Some(at(300)),
        last_status: Some(500),
        last_error: Some("HTTP 500 \"oops\"".into()),
        ..d[0].clone()
    };
    let second = DeliveryRecord {
        attempts: 1,
        next_at: None,
        last_status: Some(204),
        delivered_at: Some(at(160)),
        ..d[1].clone()
    };
    assert_eq!(
        store.deliveries(None, 10).await.expect("stored"),
        [second.clone(), first.clone()]
    );
    assert!(
        store
            .claim_deliveries(at(299), at(400), 10)
            .await
            .expect("claim")
            .is_empty(),
        "the failed one is due at 300, the delivered one never"
    );
    assert_eq!(
        store
            .claim_deliveries(at(300), at(400), 10)
            .await
            .expect("claim"),
        [DeliveryRecord {
            next_at: Some(at(400)),
            ..first.clone()
        }]
    );

    // A failure without an answer clears the last status; then a success.
    let timeout = Attempt {
        at: at(410),
        status: None,
        error: Some("timed out".into()),
        delivered: false,
        next_at: Some(at(600)),
    };
    assert!(
        store
            .record_attempt(d[0].id, &timeout)
            .await
            .expect("timeout")
    );
    let third = DeliveryRecord {
        attempts: 2,
        next_at: Some(at(600)),
        last_status: None,
        last_error: Some("timed out".into()),
        ..first
    };
    assert_eq!(
        store.deliveries(None, 10).await.expect("stored"),
        [second.clone(), third.clone()]
    );
    let ok = Attempt {
        at: at(620),
        status: Some(200),
        error: None,
        delivered: true,
        next_at: None,
    };
    assert!(store.record_attempt(d[0].id, &ok).await.expect("ok"));
    let done = DeliveryRecord {
        attempts: 3,
        next_at: None,
        last_status: Some(200),
        last_error: None,
        delivered_at: Some(at(620)),
        ..third
    };
    assert_eq!(
        store.deliveries(None, 10).await.expect("stored"),
        [second, done]
    );
    assert!(
        store
            .claim_deliveries(at(1_000_000_000_000), at(1_000_000_000_001), 10)
            .await
            .expect("claim")
            .is_empty(),
        "delivered: never claimed again"
    );

    // A given-up delivery: no next attempt, not delivered.
    let gone = [delivery("w", 3, 700)];
    let gone = enqueue(store, &gone).await;
    let given_up = Attempt {
        at: at(710),
        status: Some(410),
        error: Some("HTTP 410".into()),
        delivered: false,
        next_at: None,
    };
    assert!(
        store
            .record_attempt(gone[0].id, &given_up)
            .await
            .expect("given up")
    );
    assert_eq!(
        store.deliveries(None, 1).await.expect("stored"),
        [DeliveryRecord {
            attempts: 1,
            next_at: None,
            last_status: Some(410),
            last_error: Some("HTTP 410".into()),
            ..gone[0].clone()
        }]
    );
    assert!(
        store
            .claim_deliveries(at(1_000_000_000_000), at(1_000_000_000_001), 10)
            .await
            .expect("claim")
            .is_empty(),
        "given up: never claimed again"
    );

    assert!(
        !store
            .record_attempt(gone[0].id + 1_000, &failed)
            .await
            .expect("unknown")
    );
}

/// A webhook's deliveries (or every webhook's), newest first, at most `limit`.
pub async fn deliveries_are_listed_newest_first(store: &dyn Store) {
    for id in ["w1", "w2"] {
        store
            .put_webhook(&webhook(id, "https://a.example/", &["session.started"], 1))
            .await
            .expect("webhook");
    }
    assert!(store.deliveries(None, 10).await.expect("none").is_empty());
    let d = enqueue(
        store,
        &[
            delivery("w1", 1, 500),
            delivery("w2", 2, 100),
            delivery("w1", 3, 300),
        ],
    )
    .await;
    let more = enqueue(store, &[delivery("w2", 4, 50), delivery("w1", 5, 50)]).await;
    let d = [d, more].concat();
    assert_eq!(
        ids(&store.deliveries(None, 10).await.expect("all")),
        [d[4].id, d[3].id, d[2].id, d[1].id, d[0].id],
        "newest first, whenever they are due"
    );
    assert_eq!(
        ids(&store.deliveries(None, 2).await.expect("limit")),
        [d[4].id, d[3].id]
    );
    assert_eq!(
        store.deliveries(Some("w1"), 10).await.expect("w1"),
        [d[4].clone(), d[2].clone(), d[0].clone()]
    );
    assert_eq!(
        store.deliveries(Some("w2"), 1).await.expect("w2"),
        [d[3].clone()]
    );
    assert!(
        store
            .deliveries(Some("w3"), 10)
            .await
            .expect("unknown")
            .is_empty()
    );
    assert!(store.deliveries(None, 0).await.expect("limit 0").is_empty());
}

/// Two claims at once (two nodes) never take the same delivery: of 20 due ones, each
/// is returned once, by one of them. Ten rounds (each on 20 new deliveries; the ones
/// before stay claimed), as a race may go either way.
pub async fn concurrent_delivery_claims_are_distinct(store: &dyn Store) {
    store
        .put_webhook(&webhook("w", "https://a.example/", &["session.started"], 1))
        .await
        .expect("webhook");
    let until = at(1_000_000_000_000);
    for round in 0..10u64 {
        let start = round * 10_000;
        let new: Vec<NewDelivery> = (0..20)
            .map(|n| delivery("w", n, start + 100 + u64::from(n)))
            .collect();
        let d = enqueue(store, &new).await;
        let claim = || async {
            store
                .claim_deliveries(at(start + 1_000), until, 20)
                .await
                .expect("claim")
        };
        let (a, b) = futures_util::future::join(claim(), claim()).await;
        assert!(
            a.iter().chain(&b).all(|c| c.next_at == Some(until)),
            "claimed until {until:?}"
        );
        let mut claimed = [ids(&a), ids(&b)].concat();
        claimed.sort_unstable();
        assert_eq!(
            claimed,
            ids(&d),
            "round {round}, each once: {:?} and {:?}",
            ids(&a),
            ids(&b)
        );
    }
}

fn workflow(name: &str, fingerprint: &str, definition: &str, created: u64) -> WorkflowVersion {
    WorkflowVersion {
        name: name.into(),
        fingerprint: fingerprint.into(),
        definition: definition.into(),
        created_at: at(created),
    }
}

/// A seed (`replace = false`) makes a version current only if its name has none; a
/// replace always does; the answer says whether the version put is current. Every
/// version stays findable; the current ones are listed by name.
pub async fn workflow_versions_and_the_current_one(store: &dyn Store) {
    assert!(store.workflows().await.expect("none").is_empty());
    let v1 = workflow("triage", "f1", "[[workflow]]\nname = \"triage\"\n# v1", 10);
    let v2 = workflow("triage", "f2", "[[workflow]]\nname = \"triage\"\n# v2", 20);
    let v3 = workflow("triage", "f3", "[[workflow]]\nname = \"triage\"\n# v3", 30);
    assert!(
        store.put_workflow(&v1, false).await.expect("seed v1"),
        "the first seed of a name makes it current"
    );
    assert_eq!(
        store.workflows().await.expect("list"),
        std::slice::from_ref(&v1)
    );
    assert!(
        !store.put_workflow(&v2, false).await.expect("seed v2"),
        "a seed does not replace a current version"
    );
    assert_eq!(
        store.workflows().await.expect("list"),
        std::slice::from_ref(&v1)
    );
    assert!(
        store.put_workflow(&v1, false).await.expect("seed v1 again"),
        "the current version seeded again is current"
    );
    assert!(
        store.put_workflow(&v3, true).await.expect("replace by v3"),
        "a replace makes it current"
    );
    assert_eq!(
        store.workflows().await.expect("list"),
        std::slice::from_ref(&v3)
    );
    // Another name, sorting before the first.
    let a = workflow(
        "onboarding",
        "g1",
        "[[workflow]]\nname = \"onboarding\"",
        40,
    );
    assert!(
        store
            .put_workflow(&a, true)
            .await
            .expect("replace on empty")
    );
    assert_eq!(
        store.workflows().await.expect("list"),
        [a.clone(), v3.clone()],
        "by name"
    );
    for v in [&v1, &v2, &v3, &a] {
        assert_eq!(
            store
                .workflow_version(&v.name, &v.fingerprint)
                .await
                .expect("find")
                .as_ref(),
            Some(v),
            "{} {}",
            v.name,
            v.fingerprint
        );
    }
    assert_eq!(
        store
            .workflow_version("triage", "g1")
            .await
            .expect("other name's"),
        None
    );
    assert_eq!(
        store
            .workflow_version("triage", "f9")
            .await
            .expect("unknown"),
        None
    );
    assert_eq!(
        store
            .workflow_version("zzz", "f1")
            .await
            .expect("unknown name"),
        None
    );
}

/// A version put again (same name and fingerprint) keeps the definition and the time it
/// was first stored with; a replace still makes it current again.
pub async fn workflow_versions_are_kept_as_first_stored(store: &dyn Store) {
    let v1 = workflow("triage", "f1", "first", 10);
    let v2 = workflow("triage", "f2", "second", 20);
    assert!(store.put_workflow(&v1, true).await.expect("v1"));
    assert!(store.put_workflow(&v2, true).await.expect("v2"));
    let again = workflow("triage", "f1", "rewritten", 30);
    assert!(
        !store
            .put_workflow(&again, false)
            .await
            .expect("seed v1 again"),
        "v2 stays current"
    );
    assert_eq!(
        store.workflow_version("triage", "f1").await.expect("v1"),
        Some(v1.clone()),
        "kept as first stored"
    );
    assert!(
        store
            .put_workflow(&again, true)
            .await
            .expect("replace by v1"),
        "current again"
    );
    assert_eq!(
        store.workflows().await.expect("list"),
        std::slice::from_ref(&v1),
        "the first stored definition and time"
    );
    assert_eq!(
        store.workflow_version("triage", "f1").await.expect("v1"),
        Some(v1)
    );
    assert_eq!(
        store.workflow_version("triage", "f2").await.expect("v2"),
        Some(v2)
    );
}

/// Two nodes seeding the same new workflow at once (different versions) both succeed;
/// exactly one of them is told its version is current, and it is. Ten rounds (each on a
/// new name), as a race may go either way.
pub async fn concurrent_workflow_seeds_agree(store: &dyn Store) {
    for round in 0..10u64 {
        let name = format!("w{round}");
        let a = workflow(&name, "fa", "a", round);
        let b = workflow(&name, "fb", "b", round);
        let (ra, rb) = futures_util::future::join(
            store.put_workflow(&a, false),
            store.put_workflow(&b, false),
        )
        .await;
        let (ra, rb) = (ra.expect("seed a"), rb.expect("seed b"));
        assert!(
            ra != rb,
            "round {round}: exactly one is current ({ra}, {rb})"
        );
        let winner = if ra { a } else { b };
        let current: Vec<WorkflowVersion> = store
            .workflows()
            .await
            .expect("list")
            .into_iter()
            .filter(|v| v.name == name)
            .collect();
        assert_eq!(current, [winner], "round {round}");
    }
}

fn piece(session: &str, message: &str, part: u32, time: u64) -> NewOutbound {
    NewOutbound {
        session: sid(session),
        message: message.into(),
        part,
        seq: Seq(time),
        connector: "support".into(),
        to: "whatsapp:+447700900123".into(),
        body: format!("{message} part {part}"),
        at: at(time),
    }
}

fn outbound_ids(pieces: &[OutboundRecord]) -> Vec<(String, String, u32)> {
    pieces
        .iter()
        .map(|o| (o.session.to_string(), o.message.clone(), o.part))
        .collect()
}

fn key(session: &str, message: &str, part: u32) -> (String, String, u32) {
    (session.into(), message.into(), part)
}

/// An update after an attempt: `state`, maybe a provider id, due again at `next`.
fn sent(time: u64, state: OutboundState, sid: Option<&str>, next: Option<u64>) -> OutboundUpdate {
    OutboundUpdate {
        at: at(time),
        attempted: true,
        state,
        sid: sid.map(str::to_owned),
        next_at: next.map(at),
        uncertain: false,
        error: None,
    }
}

/// A piece is stored once per (session, message, part), whoever stores it again, and
/// comes back as stored: pending, due at its time, no attempts.
pub async fn outbound_pieces_are_stored_once(store: &dyn Store) {
    let first = [piece("s-1", "m-1", 0, 100), piece("s-1", "m-1", 1, 100)];
    assert_eq!(store.enqueue_outbound(&first).await.expect("enqueue"), 2);
    let again = [piece("s-1", "m-1", 1, 200), piece("s-1", "m-2", 0, 200)];
    assert_eq!(
        store.enqueue_outbound(&again).await.expect("enqueue again"),
        1,
        "only m-2 is new"
    );
    assert_eq!(store.enqueue_outbound(&[]).await.expect("nothing"), 0);
    let stored = store.session_outbound(&sid("s-1")).await.expect("list");
    assert_eq!(
        outbound_ids(&stored),
        [
            key("s-1", "m-1", 0),
            key("s-1", "m-1", 1),
            key("s-1", "m-2", 0)
        ]
    );
    let p = &stored[1];
    assert_eq!(p.body, "m-1 part 1", "the first storing's text is kept");
    assert_eq!(p.created_at, at(100));
    assert_eq!(p.next_at, Some(at(100)));
    assert_eq!(p.state, OutboundState::Pending);
    assert_eq!(
        (p.attempts, p.uncertain, p.sid.as_deref()),
        (0, false, None)
    );
    assert_eq!(p.seq, Seq(100));
    assert_eq!(p.connector, "support");
    assert_eq!(p.to, "whatsapp:+447700900123");
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id), "ids grow");
    assert!(
        store
            .session_outbound(&sid("s-2"))
            .await
            .expect("none")
            .is_empty()
    );
}

/// A claim takes each session's earliest pending piece when it is due, and nothing
/// after it until it is no longer pending; a claimed piece is not claimed again before
/// `until`.
pub async fn outbound_pieces_leave_in_order(store: &dyn Store) {
    store
        .enqueue_outbound(&[
            piece("s-a", "m-1", 0, 100),
            piece("s-a", "m-1", 1, 100),
            piece("s-b", "m-1", 0, 150),
            piece("s-a", "m-2", 0, 160),
            piece("s-c", "m-1", 0, 5_000),
        ])
        .await
        .expect("enqueue");
    assert!(
        store
            .claim_outbound(at(99), at(10_000), 10)
            .await
            .expect("early")
            .is_empty(),
        "nothing is due before its time"
    );
    let claimed = store
        .claim_outbound(at(1_000), at(2_000), 10)
        .await
        .expect("claim");
    assert_eq!(
        outbound_ids(&claimed),
        [key("s-a", "m-1", 0), key("s-b", "m-1", 0)],
        "each session's head; s-c is not due"
    );
    assert!(claimed.iter().all(|o| o.next_at == Some(at(2_000))));
    assert!(
        store
            .claim_outbound(at(1_500), at(3_000), 10)
            .await
            .expect("again")
            .is_empty(),
        "claimed heads hold their sessions back"
    );
    // The head of s-a is accepted: its next piece may go.
    let head = claimed[0].id;
    store
        .update_outbound(head, &sent(1_600, OutboundState::Sent, Some("SMa1"), None))
        .await
        .expect("update")
        .expect("exists");
    let next = store
        .claim_outbound(at(1_700), at(3_000), 10)
        .await
        .expect("next");
    assert_eq!(outbound_ids(&next), [key("s-a", "m-1", 1)]);
    // It fails for now, to be tried again at 4 000: m-2 waits behind it.
    store
        .update_outbound(
            next[0].id,
            &sent(1_800, OutboundState::Pending, None, Some(4_000)),
        )
        .await
        .expect("retry later")
        .expect("exists");
    let blocked = store
        .claim_outbound(at(3_500), at(9_000), 10)
        .await
        .expect("blocked");
    assert_eq!(
        outbound_ids(&blocked),
        [key("s-b", "m-1", 0)],
        "s-a waits for its retry (m-2 does not pass it); s-b's claim has lapsed"
    );
    let due = store
        .claim_outbound(at(4_000), at(9_000), 10)
        .await
        .expect("retry due");
    assert_eq!(
        outbound_ids(&due),
        [key("s-a", "m-1", 1)],
        "the retry alone"
    );
    // Given up: the session's next message goes.
    let retry = due.iter().find(|o| o.session == sid("s-a")).expect("s-a");
    store
        .update_outbound(retry.id, &sent(4_100, OutboundState::Failed, None, None))
        .await
        .expect("fail")
        .expect("exists");
    let after = store
        .claim_outbound(at(9_500), at(20_000), 10)
        .await
        .expect("after");
    assert!(
        outbound_ids(&after).contains(&key("s-a", "m-2", 0)),
        "after a piece is given up the next goes: {:?}",
        outbound_ids(&after)
    );
    assert!(
        outbound_ids(&after).contains(&key("s-c", "m-1", 0)),
        "s-c is due now"
    );
    assert_eq!(
        store
            .claim_outbound(at(30_000), at(40_000), 1)
            .await
            .expect("limit")
            .len(),
        1,
        "at most the limit"
    );
}

/// An update sets the state, the error, the due time and the uncertainty, counts an
/// attempt only when one was made, keeps a known provider id, and refuses an id that
/// another piece has; pieces are found by their provider id.
pub async fn outbound_updates_and_provider_ids(store: &dyn Store) {
    store
        .enqueue_outbound(&[piece("s-1", "m-1", 0, 10), piece("s-1", "m-2", 0, 20)])
        .await
        .expect("enqueue");
    let stored = store.session_outbound(&sid("s-1")).await.expect("list");
    let (one, two) = (stored[0].id, stored[1].id);
    let lost = OutboundUpdate {
        at: at(30),
        attempted: true,
        state: OutboundState::Pending,
        sid: None,
        next_at: Some(at(1_030)),
        uncertain: true,
        error: Some("no answer within 10 s".into()),
    };
    let p = store
        .update_outbound(one, &lost)
        .await
        .expect("update")
        .expect("exists");
    assert_eq!((p.attempts, p.uncertain), (1, true));
    assert_eq!(p.error.as_deref(), Some("no answer within 10 s"));
    assert_eq!((p.next_at, p.updated_at), (Some(at(1_030)), at(30)));
    let found = store
        .update_outbound(one, &sent(1_100, OutboundState::Sent, Some("SM1"), None))
        .await
        .expect("sent")
        .expect("exists");
    assert_eq!(found.attempts, 2);
    assert_eq!(
        (found.state, found.sid.as_deref()),
        (OutboundState::Sent, Some("SM1"))
    );
    assert_eq!(
        (found.next_at, found.uncertain, found.error),
        (None, false, None)
    );
    // A status report: no attempt, the id is kept.
    let report = OutboundUpdate {
        at: at(1_200),
        attempted: false,
        state: OutboundState::Delivered,
        sid: None,
        next_at: None,
        uncertain: false,
        error: None,
    };
    let delivered = store
        .update_outbound(one, &report)
        .await
        .expect("report")
        .expect("exists");
    assert_eq!(delivered.attempts, 2, "a report is no attempt");
    assert_eq!(delivered.sid.as_deref(), Some("SM1"), "the id is kept");
    assert_eq!(delivered.state, OutboundState::Delivered);
    assert_eq!(
        store.outbound_by_sid("SM1").await.expect("by sid"),
        Some(delivered.clone())
    );
    assert_eq!(store.outbound_by_sid("SM2").await.expect("none"), None);
    assert!(
        matches!(
            store
                .update_outbound(two, &sent(1_300, OutboundState::Sent, Some("SM1"), None))
                .await,
            Err(StoreError::Conflict)
        ),
        "one provider id, one piece"
    );
    assert_eq!(
        store
            .update_outbound(999_999, &report)
            .await
            .expect("unknown"),
        None
    );
}

/// Two claims at once take distinct pieces (each session's head once).
pub async fn concurrent_outbound_claims_are_distinct(store: &dyn Store) {
    let until = at(1_000_000_000_000);
    for round in 0..5u64 {
        let start = round * 10_000;
        let new: Vec<NewOutbound> = (0..20u32)
            .map(|n| {
                piece(
                    &format!("r{round}-s{n}"),
                    "m-1",
                    0,
                    start + 100 + u64::from(n),
                )
            })
            .collect();
        store.enqueue_outbound(&new).await.expect("enqueue");
        let claim = || async {
            store
                .claim_outbound(at(start + 1_000), until, 20)
                .await
                .expect("claim")
        };
        let (a, b) = futures_util::future::join(claim(), claim()).await;
        let mut claimed: Vec<_> = a.iter().chain(&b).map(|o| o.session.to_string()).collect();
        claimed.sort_unstable();
        let mut expected: Vec<_> = (0..20u32).map(|n| format!("r{round}-s{n}")).collect();
        expected.sort_unstable();
        assert_eq!(claimed, expected, "round {round}: each once");
    }
}

/// A sender's open session is found by channel, target and origin: the newest open one,
/// never an ended one, another channel's, another target's or another sender's.
pub async fn open_sessions_are_found_by_origin(store: &dyn Store) {
    use interact_model::Channel;
    setup(store).await;
    let support = TargetRef::Service("support".into());
    let sales = TargetRef::Service("sales".into());
    let wanda = "whatsapp:+12025550188";
    let whatsapp = |id: &str, target: TargetRef, origin: &str, created: u64| {
        let mut r = session_record(id, target, created);
        r.channel = Channel::Whatsapp;
        r.origin = origin.into();
        r.start_key = Some(format!("key-{id}"));
        r
    };
    let first = [frame("w-old", 1, 100, started())];
    let records = [
        whatsapp("w-old", support.clone(), wanda, 100),
        whatsapp("w-sales", sales.clone(), wanda, 300),
        whatsapp("w-other", support.clone(), "whatsapp:+12025550177", 400),
    ];
    for r in &records {
        let first: Vec<EventFrame> = first
            .iter()
            .map(|f| frame(r.id.as_str(), 1, f.at.0, started()))
            .collect();
        store
            .create_session(r, &encoded(&first))
            .await
            .expect("create");
    }
    // A widget session from an origin that happens to look the same.
    let mut widget = session_record("widget", support.clone(), 500);
    widget.origin = wanda.into();
    store
        .create_session(&widget, &encoded(&[frame("widget", 1, 500, started())]))
        .await
        .expect("create");
    let found = |target: TargetRef, origin: &'static str| async move {
        store
            .open_session_from(Channel::Whatsapp, &target, origin)
            .await
            .expect("read")
            .map(|s| s.id.to_string())
    };
    assert_eq!(
        found(support.clone(), wanda).await.as_deref(),
        Some("w-old")
    );
    assert_eq!(
        found(sales.clone(), wanda).await.as_deref(),
        Some("w-sales")
    );
    assert_eq!(found(support.clone(), "whatsapp:+1999").await, None);
    // A newer one is found first; an ended one never.
    store
        .create_session(
            &whatsapp("w-new", support.clone(), wanda, 600),
            &encoded(&[frame("w-new", 1, 600, started())]),
        )
        .await
        .expect("create");
    assert_eq!(
        found(support.clone(), wanda).await.as_deref(),
        Some("w-new")
    );
    let end = [frame(
        "w-new",
        2,
        700,
        SessionEvent::Ended {
            reason: EndReason::AgentEnded,
        },
    )];
    store
        .append_events(&sid("w-new"), &encoded(&end))
        .await
        .expect("end");
    assert_eq!(
        found(support.clone(), wanda).await.as_deref(),
        Some("w-old")
    );
    assert_eq!(
        store
            .open_session_from(Channel::Widget, &support, wanda)
            .await
            .expect("read")
            .map(|s| s.id.to_string())
            .as_deref(),
        Some("widget")
    );
}

fn offline_message(id: &str, target: TargetRef, created: u64) -> crate::OfflineMessageRecord {
    crate::OfflineMessageRecord {
        id: id.into(),
        request_key: format!("key {id}"),
        embed_code: code(1),
        target,
        visitor_name: "Vera \"V\" <b>".into(),
        visitor_email: "vera@example.com".into(),
        text: format!("Please call me back \u{1F600}\n{id}"),
        consent_version: "1".into(),
        origin: "https://shop.example.com".into(),
        context: Some(interact_sdk::context::ChatContext {
            page_url: Some("https://shop.example.com/cart".into()),
            attributes: [("plan".to_owned(), "pro".to_owned())].into(),
        }),
        created_at: at(created),
        answer: None,
    }
}

/// Offline messages: stored once per request key, listed newest first per target (open
/// ones only on request), counted while open, answered once.
pub async fn offline_messages_are_kept_once_and_answered_once(store: &dyn Store) {
    let care = TargetRef::Service("care".into());
    let sales = TargetRef::Service("sales".into());
    let alex = TargetRef::User("alex".into());
    let a = offline_message("om-a", care.clone(), 10);
    assert!(store.put_offline_message(&a).await.expect("put"));
    // A repeat (same request key, whatever else) is not stored again.
    let mut repeat = offline_message("om-a2", care.clone(), 11);
    repeat.request_key = a.request_key.clone();
    assert!(!store.put_offline_message(&repeat).await.expect("repeat"));
    assert_eq!(store.offline_message("om-a2").await.expect("get"), None);
    let mut b = offline_message("om-b", care.clone(), 20);
    b.context = None;
    assert!(store.put_offline_message(&b).await.expect("put"));
    let c = offline_message("om-c", sales.clone(), 30);
    assert!(store.put_offline_message(&c).await.expect("put"));
    let d = offline_message("om-d", alex.clone(), 40);
    assert!(store.put_offline_message(&d).await.expect("put"));

    assert_eq!(
        store.offline_message("om-a").await.expect("get"),
        Some(a.clone())
    );
    let ids = |v: Vec<crate::OfflineMessageRecord>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let listed = store
        .offline_messages(std::slice::from_ref(&care), false, 10)
        .await
        .expect("list");
    assert_eq!(
        ids(listed),
        ["om-b", "om-a"],
        "newest first, this target's only"
    );
    let both = store
        .offline_messages(&[care.clone(), alex.clone()], false, 10)
        .await
        .expect("list");
    assert_eq!(ids(both), ["om-d", "om-b", "om-a"]);
    let limited = store
        .offline_messages(&[care.clone(), alex.clone()], false, 2)
        .await
        .expect("list");
    assert_eq!(ids(limited), ["om-d", "om-b"]);
    assert!(
        store
            .offline_messages(&[], false, 10)
            .await
            .expect("none")
            .is_empty()
    );
    assert_eq!(
        store
            .count_open_offline_messages(&care)
            .await
            .expect("count"),
        2
    );

    let answer = crate::OfflineAnswer {
        agent: AgentId::new("alex").expect("valid"),
        text: "We will call you tomorrow.".into(),
        at: at(50),
    };
    assert!(
        store
            .answer_offline_message("om-a", &answer)
            .await
            .expect("answer")
    );
    let second = crate::OfflineAnswer {
        text: "Another answer".into(),
        at: at(60),
        ..answer.clone()
    };
    assert!(
        !store
            .answer_offline_message("om-a", &second)
            .await
            .expect("once")
    );
    let stored = store
        .offline_message("om-a")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(stored.answer, Some(answer));
    assert!(matches!(
        store.answer_offline_message("om-none", &second).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .count_open_offline_messages(&care)
            .await
            .expect("count"),
        1
    );
    let open = store
        .offline_messages(std::slice::from_ref(&care), true, 10)
        .await
        .expect("list");
    assert_eq!(ids(open), ["om-b"]);
    // An id taken by another request is a conflict, not a silent loss.
    let mut clash = offline_message("om-b", sales, 70);
    clash.request_key = "another key".into();
    assert!(matches!(
        store.put_offline_message(&clash).await,
        Err(StoreError::Conflict)
    ));
}

/// Agents' notes: ids grow, each session's notes in the order added, apart from others'.
pub async fn session_notes_are_kept_in_order_per_session(store: &dyn Store) {
    let note = |session: &str, agent: &str, text: &str, t: u64| crate::NoteRecord {
        id: 0,
        session: sid(session),
        agent: AgentId::new(agent).expect("valid"),
        text: text.into(),
        at: at(t),
    };
    assert!(
        store
            .session_notes(&sid("s-none"))
            .await
            .expect("none")
            .is_empty()
    );
    let first = store
        .add_session_note(&note("s-1", "alex", "VIP customer \u{1F600} <b>", 10))
        .await
        .expect("add");
    let other = store
        .add_session_note(&note("s-2", "sam", "another session", 11))
        .await
        .expect("add");
    let second = store
        .add_session_note(&note("s-1", "sam", "Called back.\nAll good.", 12))
        .await
        .expect("add");
    assert!(first < other && other < second, "{first} {other} {second}");
    let notes = store.session_notes(&sid("s-1")).await.expect("list");
    assert_eq!(
        notes,
        [
            crate::NoteRecord {
                id: first,
                ..note("s-1", "alex", "VIP customer \u{1F600} <b>", 10)
            },
            crate::NoteRecord {
                id: second,
                ..note("s-1", "sam", "Called back.\nAll good.", 12)
            },
        ]
    );
    assert_eq!(
        store.session_notes(&sid("s-2")).await.expect("list").len(),
        1
    );
}

/// Visitors' answers: one per (session, parameter), the latest kept in the place of the
/// first; sessions apart; text kept as written.
pub async fn session_answers_keep_the_latest_per_parameter(store: &dyn Store) {
    let answer =
        |session: &str, name: &str, value: &str, seq: Option<u64>, t: u64| crate::AnswerRecord {
            session: sid(session),
            name: name.into(),
            question: format!("Your {name}?"),
            value: value.into(),
            seq,
            at: at(t),
        };
    assert!(
        store
            .session_answers(&sid("s-none"))
            .await
            .expect("none")
            .is_empty()
    );
    for a in [
        answer("s-1", "order", "12", Some(4), 10),
        answer("s-2", "order", "99", None, 11),
        answer(
            "s-1",
            "email",
            "<b>di@example.com</b> \u{1F600}",
            Some(6),
            12,
        ),
        answer("s-1", "order", "1234", Some(8), 13),
    ] {
        store.put_session_answer(&a).await.expect("put");
    }
    assert_eq!(
        store.session_answers(&sid("s-1")).await.expect("list"),
        [
            answer("s-1", "order", "1234", Some(8), 13),
            answer(
                "s-1",
                "email",
                "<b>di@example.com</b> \u{1F600}",
                Some(6),
                12
            ),
        ]
    );
    assert_eq!(
        store.session_answers(&sid("s-2")).await.expect("list"),
        [answer("s-2", "order", "99", None, 11)]
    );
}

/// An embed code's identity secret is set, replaced and removed; unknown codes have none
/// and cannot get one; codes do not share them.
pub async fn identity_secrets_per_embed_code(store: &dyn Store) {
    setup(store).await;
    store
        .create_embed_code(&embed_code(2, "t", 2))
        .await
        .expect("embed code 2");
    assert_eq!(store.identity_secret(&code(1)).await.expect("read"), None);
    assert!(
        store
            .set_identity_secret(&code(1), Some("first"))
            .await
            .expect("set")
    );
    assert_eq!(
        store
            .identity_secret(&code(1))
            .await
            .expect("read")
            .as_deref(),
        Some("first")
    );
    assert_eq!(store.identity_secret(&code(2)).await.expect("read"), None);
    assert!(
        store
            .set_identity_secret(&code(1), Some("second"))
            .await
            .expect("rotate")
    );
    assert_eq!(
        store
            .identity_secret(&code(1))
            .await
            .expect("read")
            .as_deref(),
        Some("second")
    );
    // The code's record is unchanged by it.
    assert_eq!(
        store.embed_code(&code(1)).await.expect("read"),
        Some(embed_code(1, "t", 1))
    );
    assert!(
        store
            .set_identity_secret(&code(1), None)
            .await
            .expect("remove")
    );
    assert_eq!(store.identity_secret(&code(1)).await.expect("read"), None);
    assert!(
        !store
            .set_identity_secret(&code(9), Some("x"))
            .await
            .expect("unknown")
    );
    assert_eq!(store.identity_secret(&code(9)).await.expect("read"), None);
}

/// A verified visitor's sessions: only ended ones, of that visitor id and embed code,
/// newest first, at most `limit`; the id is stored with the session.
pub async fn a_verified_visitors_sessions(store: &dyn Store) {
    setup(store).await;
    store
        .create_embed_code(&embed_code(2, "t", 2))
        .await
        .expect("embed code 2");
    let support = TargetRef::Service("support".into());
    let make = |id: &str, visitor: Option<&str>, code_n: u8, created: u64| {
        let mut r = session_record(id, support.clone(), created);
        r.visitor_id = visitor.map(str::to_owned);
        r.embed_code = code(code_n);
        r
    };
    let end = |id: &str, time: u64| {
        [frame(
            id,
            2,
            time,
            SessionEvent::Ended {
                reason: EndReason::VisitorEnded,
            },
        )]
    };
    let records = [
        make("v-old", Some("user-42"), 1, 100),
        make("v-new", Some("user-42"), 1, 300),
        make("v-mid", Some("user-42"), 1, 200),
        make("v-open", Some("user-42"), 1, 400),
        make("v-other", Some("user-43"), 1, 150),
        make("v-code2", Some("user-42"), 2, 250),
        make("anon", None, 1, 120),
    ];
    for r in &records {
        store
            .create_session(
                r,
                &encoded(&[frame(r.id.as_str(), 1, r.created_at.0, started())]),
            )
            .await
            .expect("create");
        if r.id.as_str() != "v-open" {
            store
                .append_events(&r.id, &encoded(&end(r.id.as_str(), r.created_at.0 + 5)))
                .await
                .expect("end");
        }
    }
    let stored = store
        .session(&sid("v-new"))
        .await
        .expect("read")
        .expect("v-new");
    assert_eq!(stored.visitor_id.as_deref(), Some("user-42"));
    let anon = store
        .session(&sid("anon"))
        .await
        .expect("read")
        .expect("anon");
    assert_eq!(anon.visitor_id, None);
    let ids = |v: Vec<SessionRecord>| v.into_iter().map(|s| s.id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .visitor_sessions(&code(1), "user-42", 20)
            .await
            .expect("read")),
        ["v-new", "v-mid", "v-old"]
    );
    assert_eq!(
        ids(store
            .visitor_sessions(&code(1), "user-42", 2)
            .await
            .expect("read")),
        ["v-new", "v-mid"]
    );
    assert_eq!(
        ids(store
            .visitor_sessions(&code(2), "user-42", 20)
            .await
            .expect("read")),
        ["v-code2"]
    );
    assert_eq!(
        ids(store
            .visitor_sessions(&code(1), "user-43", 20)
            .await
            .expect("read")),
        ["v-other"]
    );
    assert!(
        store
            .visitor_sessions(&code(1), "user-4", 20)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .visitor_sessions(&code(1), "", 20)
            .await
            .expect("read")
            .is_empty()
    );
}
