//! [`ReportStore`] on PostgreSQL: the `session_report` and `session_workflow_steps` tables
//! (migration 0002) and the reads a report is derived from. Portable SQL with `$n`
//! placeholders; none of it runs on the event-append path.

use std::collections::HashMap;

use async_trait::async_trait;
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::SessionEvent;
use interact_sdk::time::UnixMillis;
use sqlx::Row;

use interact_model::TargetRef;
use interact_report::{Outcome, ReportQuery, ReportRow};
use interact_store::{LIFECYCLE_PREFIXES, ReportStore, StoreError};

use super::{PgStore, Sql as _, conflict, db, json, ms, parse};

/// A bound value of a query built at run time.
#[derive(Clone)]
enum Param {
    Text(String),
    Int(i64),
}

/// `$first, $first+1, ...` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        query = match p {
            Param::Text(s) => query.bind(s.as_str()),
            Param::Int(n) => query.bind(*n),
        };
    }
    query
}

#[async_trait]
impl ReportStore for PgStore {
    async fn record_offer(&self, session: &SessionId, at: UnixMillis) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO session_report (session_id, offered_at, offers) VALUES ($1, $2, 1) \
             ON CONFLICT (session_id) DO UPDATE SET \
             offered_at = COALESCE(session_report.offered_at, excluded.offered_at), \
             offers = session_report.offers + 1",
        )
        .bind(session.as_str())
        .bind(db(at))
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    async fn record_outcome(
        &self,
        session: &SessionId,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO session_report (session_id, outcome) VALUES ($1, $2) \
             ON CONFLICT (session_id) DO UPDATE SET outcome = excluded.outcome",
        )
        .bind(session.as_str())
        .bind(outcome.as_str())
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    async fn record_workflow_step(
        &self,
        session: &SessionId,
        at: UnixMillis,
        label: &str,
    ) -> Result<(), StoreError> {
        // One writer per session (its workflow), so numbering by MAX + 1 does not race.
        sqlx::query(
            "INSERT INTO session_workflow_steps (session_id, step, at, label) \
             SELECT $1, COALESCE(MAX(step), 0) + 1, $2, $3 \
             FROM session_workflow_steps WHERE session_id = $1",
        )
        .bind(session.as_str())
        .bind(db(at))
        .bind(label)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    async fn report_rows(&self, q: &ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let mut params: Vec<Param> = Vec::new();
        let mut clauses: Vec<String> = Vec::new();
        let mut param = |p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        if let Some(kind) = q.kind {
            let prefix = format!(r#"{{"kind":"{}",%"#, kind.as_str());
            clauses.push(format!("s.target LIKE {}", param(Param::Text(prefix))));
        }
        // Targets are stored as the JSON of a `TargetRef`, which has one spelling.
        if let Some(service) = &q.service {
            let target = json(&TargetRef::Service(service.as_str().into()));
            clauses.push(format!("s.target = {}", param(Param::Text(target))));
        }
        if let Some(user) = &q.user {
            let target = json(&TargetRef::User(user.as_str().into()));
            clauses.push(format!("s.target = {}", param(Param::Text(target))));
        }
        if let Some(from) = q.from {
            clauses.push(format!("s.created_at >= {}", param(Param::Int(db(from)))));
        }
        if let Some(to) = q.to {
            clauses.push(format!("s.created_at < {}", param(Param::Int(db(to)))));
        }
        if let Some((at, id)) = &q.after {
            let at = param(Param::Int(db(*at)));
            let id = param(Param::Text(id.as_str().to_owned()));
            clauses.push(format!(
                "(s.created_at > {at} OR (s.created_at = {at} AND s.id > {id}))"
            ));
        }
        let limit = param(Param::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)));
        let filter = if clauses.is_empty() {
            "1 = 1".to_owned()
        } else {
            clauses.join(" AND ")
        };
        let sql = format!(
            "SELECT s.id, s.target, s.created_at, r.offered_at, r.offers, r.outcome \
             FROM sessions s LEFT JOIN session_report r ON r.session_id = s.id \
             WHERE {filter} ORDER BY s.created_at, s.id LIMIT {limit}"
        );
        let rows = bind_all(sqlx::query(&sql), &params)
            .fetch_all(&self.pool)
            .await
            .sql()?;
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
        let mut out = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id").sql()?;
            let recorded_outcome = row
                .try_get::<Option<String>, _>("outcome")
                .sql()?
                .map(|o| o.parse::<Outcome>().map_err(|e| corrupt(&e)))
                .transpose()?;
            index.insert(id.clone(), out.len());
            out.push(ReportRow {
                id: SessionId::new(id).map_err(|e| corrupt(&e))?,
                target: parse(&row.try_get::<String, _>("target").sql()?)?,
                created_at: ms(row.try_get("created_at").sql()?),
                offered_at: row.try_get::<Option<i64>, _>("offered_at").sql()?.map(ms),
                offers: row
                    .try_get::<Option<i64>, _>("offers")
                    .sql()?
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
                recorded_outcome,
                events: Vec::new(),
                workflow_path: Vec::new(),
            });
        }
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<Param> = out
            .iter()
            .map(|r| Param::Text(r.id.as_str().to_owned()))
            .collect();
        let list = placeholders(1, ids.len());
        let kinds = (0..LIFECYCLE_PREFIXES.len())
            .map(|i| format!("event LIKE ${}", ids.len() + 1 + i))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!(
            "SELECT session_id, at, event FROM session_events \
             WHERE session_id IN ({list}) AND ({kinds}) ORDER BY session_id, seq"
        );
        let mut event_params = ids.clone();
        event_params.extend(LIFECYCLE_PREFIXES.map(|p| Param::Text(p.to_owned())));
        for row in bind_all(sqlx::query(&sql), &event_params)
            .fetch_all(&self.pool)
            .await
            .sql()?
        {
            let id: String = row.try_get("session_id").sql()?;
            if let Some(&i) = index.get(&id) {
                let event: SessionEvent = parse(&row.try_get::<String, _>("event").sql()?)?;
                out[i].events.push((ms(row.try_get("at").sql()?), event));
            }
        }
        let sql = format!(
            "SELECT session_id, label FROM session_workflow_steps \
             WHERE session_id IN ({list}) ORDER BY session_id, step"
        );
        for row in bind_all(sqlx::query(&sql), &ids)
            .fetch_all(&self.pool)
            .await
            .sql()?
        {
            let id: String = row.try_get("session_id").sql()?;
            if let Some(&i) = index.get(&id) {
                out[i].workflow_path.push(row.try_get("label").sql()?);
            }
        }
        Ok(out)
    }
}
