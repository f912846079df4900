//! The reporting part of the store ([`interact_report`] derives the report from what
//! this reads). Nothing here is on the event-append path: reports are derived from the
//! stored sessions and their events when they are read, and the few facts the event log
//! lacks are written apart.

use async_trait::async_trait;
use interact_report::{
    DayUsage, Outcome, ReportFilter, ReportQuery, ReportRow, Satisfaction, SessionReport, Usage,
    UsageFilter, UsageQuery, UsageRow,
};
use interact_sdk::ids::SessionId;
use interact_sdk::time::UnixMillis;

use crate::{Store, StoreError};

/// For SQL backends: the stored JSON of the event kinds a report reads (an event's
/// `event_json`) matches one of these SQL `LIKE` patterns (the tag is
/// serialised first; a call event's members come as `kind`, `from`, `signal` and the
/// signal's `op` first). The filter only saves reading messages and the SDP and ICE of
/// calls (their `quality` summaries are read: the report shows them); the derivation
/// ignores other kinds anyway. (Inside a JSON string a quote is escaped, so SDP cannot
/// fake the `","signal":{"op":` of a call, nor a visitor's name the `"call":"` member of a
/// call-first session's `started`; a chat's `started` is not read.)
pub const LIFECYCLE_PREFIXES: [&str; 11] = [
    r#"{"kind":"queued"%"#,
    r#"{"kind":"agent_joined"%"#,
    r#"{"kind":"agent_left"%"#,
    r#"{"kind":"transferred"%"#,
    r#"{"kind":"ended"%"#,
    r#"{"kind":"call","from":"%","signal":{"op":"start"%"#,
    r#"{"kind":"call","from":"%","signal":{"op":"accept"%"#,
    r#"{"kind":"call","from":"%","signal":{"op":"media"%"#,
    r#"{"kind":"call","from":"%","signal":{"op":"hangup"%"#,
    r#"{"kind":"call","from":"%","signal":{"op":"quality"%"#,
    r#"{"kind":"started"%"call":"%"#,
];

/// For SQL backends: a message from the visitor is stored as JSON that matches this SQL
/// `LIKE` pattern, one from the agent or the service one of [`MESSAGE_OUT_PATTERNS`]
/// (`kind` first, then the message's `id`, then `from`). An id is a JSON string in which a
/// quote would be escaped (and ids are `A-Z a-z 0-9 - _` anyway), so nothing in it can
/// fake the `","from":` that ends it; the text comes after `from`.
pub const MESSAGE_IN_PATTERN: &str = r#"{"kind":"message","id":"%","from":"visitor"%"#;

/// For SQL backends: the stored JSON of a message from the agent or from the service
/// (workflow messages, `system`) matches one of these; see [`MESSAGE_IN_PATTERN`].
pub const MESSAGE_OUT_PATTERNS: [&str; 2] = [
    r#"{"kind":"message","id":"%","from":"agent"%"#,
    r#"{"kind":"message","id":"%","from":"system"%"#,
];

/// The reporting part of the [`Store`].
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Records an offer of the session to an agent at `at`: the first offer's time is
    /// kept and offers are counted.
    async fn record_offer(&self, session: &SessionId, at: UnixMillis) -> Result<(), StoreError>;

    /// Records the session's outcome, which then overrides the one derived from its events
    /// (for what the log cannot show: a workflow's Cancel Task, a workflow that became
    /// invalid, a transfer to another service). The last recording wins.
    async fn record_outcome(&self, session: &SessionId, outcome: Outcome)
    -> Result<(), StoreError>;

    /// Appends a step (the label of a workflow activity) to the session's workflow path.
    async fn record_workflow_step(
        &self,
        session: &SessionId,
        at: UnixMillis,
        label: &str,
    ) -> Result<(), StoreError>;

    /// Records the visitor's end-of-chat rating of the session at `at`. Returns false,
    /// and keeps the first, if the session already has one (one rating per session, also
    /// when two nodes race).
    async fn record_satisfaction(
        &self,
        session: &SessionId,
        at: UnixMillis,
        rating: &Satisfaction,
    ) -> Result<bool, StoreError>;

    /// Marks the session's transcript as emailed at `at`. Returns false if it already was
    /// (one transcript email per session).
    async fn claim_transcript_email(
        &self,
        session: &SessionId,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// The sessions `query` selects, ordered by `created_at` and then id.
    async fn report_rows(&self, query: &ReportQuery) -> Result<Vec<ReportRow>, StoreError>;

    /// The sessions that may have had usage in `query`'s range (created before `query.to`,
    /// not ended before `query.from`) and that its filters select, ordered by `created_at`
    /// and then id: each with its lifecycle events (all of them, as
    /// [`report_rows`](Self::report_rows) reads them) and its messages counted per UTC day
    /// of the range, from the visitor and from the agent or service. Message texts are
    /// not read.
    async fn usage_rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;
}

/// Sessions read from the store per round trip.
const PAGE: usize = 500;

/// The report: the sessions `filter` selects, oldest first, at most `filter.limit`.
pub async fn session_reports(
    store: &dyn Store,
    filter: &ReportFilter,
) -> Result<Vec<SessionReport>, StoreError> {
    let mut query = filter.query();
    let mut out = Vec::new();
    loop {
        // Outcomes are derived, so an outcome filter is applied here, page by page.
        query.limit = if filter.outcomes.is_empty() {
            (filter.limit - out.len()).min(PAGE)
        } else {
            PAGE
        };
        let rows = store.report_rows(&query).await?;
        let full = rows.len() == query.limit;
        query.after = rows.last().map(|r| (r.created_at, r.id.clone()));
        for row in rows {
            let report = SessionReport::new(row);
            let wanted = filter.outcomes.is_empty()
                || report.outcome.is_some_and(|o| filter.outcomes.contains(&o));
            if wanted {
                out.push(report);
                if out.len() == filter.limit {
                    return Ok(out);
                }
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

/// The usage report of `tenant`: every day, target and channel of `filter`'s range with
/// anything to count (see [`interact_report::usage`]), sessions read page by page.
pub async fn usage(
    store: &dyn Store,
    filter: &UsageFilter,
    tenant: &str,
) -> Result<Vec<DayUsage>, StoreError> {
    let mut query = filter.query();
    query.limit = PAGE;
    let mut usage = Usage::new(tenant, filter.from, filter.to);
    loop {
        let rows = store.usage_rows(&query).await?;
        let full = rows.len() == query.limit;
        query.after = rows.last().map(|r| (r.created_at, r.id.clone()));
        for row in &rows {
            usage.add(row);
        }
        if !full {
            return Ok(usage.rows());
        }
    }
}

#[cfg(test)]
mod tests {
    use interact_sdk::ids::{AgentId, CallId};
    use interact_sdk::protocol::{
        AgentInfo, CallMedia, CallSignal, EndReason, HangupReason, MediaState, Party, encode,
    };

    use super::*;
    use interact_model::TargetRef;
    use interact_report::TargetKind;
    use interact_sdk::protocol::SessionEvent;

    fn json<T: serde::Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("JSON")
    }

    /// SQL `LIKE` with `%` only (`_` matches itself here, which is stricter).
    fn like(text: &str, pattern: &str) -> bool {
        let mut parts = pattern.split('%');
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = text.strip_prefix(first) else {
            return false;
        };
        for part in parts {
            match rest.find(part) {
                Some(i) => rest = &rest[i + part.len()..],
                None => return false,
            }
        }
        pattern.ends_with('%') || rest.is_empty()
    }

    #[test]
    fn messages_are_stored_with_the_prefixes_usage_counts() {
        let message = |id: &str, from: Party, author: Option<&str>, text: &str| {
            encode(&SessionEvent::Message {
                id: interact_sdk::ids::MessageId::new(id).expect("valid"),
                from,
                author: author.map(str::to_owned),
                text: text.to_owned(),
            })
        };
        let fake = r#"x","from":"visitor","text":"{\"kind\":\"message\",\"id\":\"m\",\"from\":\"visitor\"}"#;
        for (stored, inbound, outbound) in [
            (message("m1", Party::Visitor, None, "hi"), true, false),
            (message("from", Party::Visitor, None, fake), true, false),
            (message("m2", Party::Agent, Some("Alex"), fake), false, true),
            (
                message("visitor", Party::Agent, None, "\"from\":\"visitor\""),
                false,
                true,
            ),
            (
                message("m3", Party::System, Some("Support"), fake),
                false,
                true,
            ),
        ] {
            let out = MESSAGE_OUT_PATTERNS.iter().any(|p| like(&stored, p));
            assert_eq!(
                (like(&stored, MESSAGE_IN_PATTERN), out),
                (inbound, outbound),
                "{stored}"
            );
        }
        // No other event is a message.
        let agent = AgentInfo {
            id: AgentId::new("alex").expect("valid"),
            display_name: "from visitor".into(),
        };
        for other in [
            SessionEvent::AgentJoined { agent },
            SessionEvent::Ended {
                reason: EndReason::VisitorEnded,
            },
        ] {
            let stored = encode(&other);
            assert!(!like(&stored, MESSAGE_IN_PATTERN), "{stored}");
            assert!(!MESSAGE_OUT_PATTERNS.iter().any(|p| like(&stored, p)));
        }
    }

    #[test]
    fn lifecycle_events_are_stored_with_the_prefixes_the_report_reads() {
        let agent = AgentInfo {
            id: AgentId::new("alex").expect("valid"),
            display_name: "Alex".into(),
        };
        let call = CallId::new("c1").expect("valid");
        let signal = |from: Party, signal: CallSignal| SessionEvent::Call { from, signal };
        let started = |call: Option<CallMedia>, name: &str| SessionEvent::Started {
            context: None,
            visitor: interact_sdk::protocol::VisitorInfo {
                display_name: name.into(),
                email: "ann@example.com".into(),
                channel: None,
                phone: None,
                verified_id: None,
            },
            consent: interact_sdk::protocol::Consent {
                policy_version: "2024-05".into(),
                at: UnixMillis(1),
            },
            target: interact_sdk::config::Target {
                kind: interact_sdk::config::TargetKind::Service,
                display_name: "Care \"call\":\"video".into(),
            },
            call,
        };
        let events = [
            SessionEvent::Queued { position: 1 },
            SessionEvent::AgentJoined {
                agent: agent.clone(),
            },
            SessionEvent::AgentLeft {
                agent: agent.clone(),
            },
            SessionEvent::Transferred {
                by: Some(agent),
                from: interact_sdk::protocol::TargetInfo {
                    kind: interact_sdk::config::TargetKind::Service,
                    id: interact_sdk::ids::TargetId::new("support").expect("valid"),
                    display_name: "Support".into(),
                },
                to: interact_sdk::protocol::TargetInfo {
                    kind: interact_sdk::config::TargetKind::User,
                    id: interact_sdk::ids::TargetId::new("sam").expect("valid"),
                    display_name: "Sam".into(),
                },
            },
            SessionEvent::Ended {
                reason: EndReason::VisitorEnded,
            },
            signal(
                Party::Visitor,
                CallSignal::Start {
                    call: call.clone(),
                    media: CallMedia::Video,
                },
            ),
            signal(Party::Agent, CallSignal::Accept { call: call.clone() }),
            signal(
                Party::Agent,
                CallSignal::Media {
                    call: call.clone(),
                    state: MediaState {
                        muted: false,
                        camera: true,
                        screen: true,
                    },
                },
            ),
            signal(
                Party::System,
                CallSignal::Hangup {
                    call: call.clone(),
                    reason: HangupReason::Normal,
                },
            ),
            signal(
                Party::Visitor,
                CallSignal::Quality {
                    call: call.clone(),
                    summary: interact_sdk::protocol::QualitySummary {
                        samples: 1,
                        ..Default::default()
                    },
                },
            ),
            started(Some(CallMedia::Video), "Ann \"call\":\"x"),
        ];
        assert_eq!(events.len(), LIFECYCLE_PREFIXES.len());
        for (event, prefix) in events.iter().zip(LIFECYCLE_PREFIXES) {
            let stored = encode(event);
            assert!(like(&stored, prefix), "{stored} is LIKE {prefix}");
        }
        // Messages and the SDP and ICE of calls are not read, whatever they hold.
        let sdp = r#"v=0 {"kind":"call","from":"x","signal":{"op":"start"}"#.to_owned();
        for skipped in [
            SessionEvent::Message {
                id: interact_sdk::ids::MessageId::new("m1").expect("valid"),
                from: Party::Visitor,
                author: None,
                text: r#"{"kind":"ended"}"#.into(),
            },
            signal(
                Party::Visitor,
                CallSignal::Offer {
                    call: call.clone(),
                    sdp: sdp.clone(),
                },
            ),
            signal(Party::Agent, CallSignal::Answer { call, sdp }),
            // A chat's start, whatever its names say.
            started(None, "Ann \"call\":\"video"),
        ] {
            let stored = encode(&skipped);
            assert!(
                !LIFECYCLE_PREFIXES.iter().any(|p| like(&stored, p)),
                "{stored}"
            );
        }
        for kind in [TargetKind::Service, TargetKind::User] {
            let target = match kind {
                TargetKind::Service => TargetRef::Service("x".into()),
                TargetKind::User => TargetRef::User("x".into()),
            };
            let prefix = format!(r#"{{"kind":"{}","#, kind.as_str());
            assert!(json(&target).starts_with(&prefix));
        }
    }
}
