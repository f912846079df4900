//! Webhooks: a tenant's sessions, told to its own systems as they happen.
//!
//! - An admin registers a URL for some of [`EVENTS`] (`/admin/v1/webhooks`); the server
//!   makes its secret (256 bits, shown once).
//! - When a session starts, gets a message or ends, the node that stores the event stores
//!   one delivery per webhook that wants it ([`notify`]): a durable outbox, so a
//!   delivery survives the node.
//! - Every node sends due deliveries ([`run`]): it claims them first
//!   ([`Store::claim_deliveries`](interact_store::Store::claim_deliveries), `FOR UPDATE
//!   SKIP LOCKED` on PostgreSQL), so two nodes never send the same one at once. A
//!   delivery is a `POST` of the JSON body, signed: `Interact-Signature: v1=<hex>`, the
//!   HMAC-SHA256 under the webhook's secret of `<Interact-Timestamp>.<body>` (the receiver
//!   checks it and refuses old timestamps, so a captured request cannot be replayed
//!   later). A 2xx answer delivers it; anything else is tried again after 2 s, 4 s, 8 s,
//!   ... (at most an hour apart), [`MAX_ATTEMPTS`] times in all. Every attempt is in the
//!   delivery log (`/admin/v1/webhooks/{id}/deliveries`).
//! - Sent at least once: a receiver that answered but whose answer was lost gets the
//!   delivery again, with the same `Interact-Delivery` id to recognise it by.
//!
//! Addresses follow `[web_requests] allow_private_addresses`, as a workflow's Web Request
//! does: private and loopback addresses are refused unless allowed.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use interact_sdk::time::UnixMillis;
use interact_store::{Attempt, DeliveryRecord, NewDelivery, StoreError, WebhookRecord};
use interact_workflow::HttpRequest;
use sha2::Sha256;
use tokio::sync::Notify;

use crate::node::state::AppState;

/// The events a webhook may receive.
pub const EVENTS: [&str; 3] = [SESSION_STARTED, MESSAGE, SESSION_ENDED];
/// A session started (the visitor sent the pre-chat form).
pub const SESSION_STARTED: &str = "session.started";
/// A message was stored in a session (visitor's, agent's or the service's).
pub const MESSAGE: &str = "message";
/// A session ended, with its reporting outcome.
pub const SESSION_ENDED: &str = "session.ended";

/// Webhooks per tenant.
pub const MAX_WEBHOOKS: usize = 20;
/// Attempts at one delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 12;
/// The wait before the second attempt; it doubles after each failure.
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// The longest wait between two attempts.
const LONGEST_RETRY: Duration = Duration::from_secs(3600);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim keeps a delivery from other nodes (longer than an attempt).
const CLAIM_FOR: Duration = Duration::from_secs(60);
/// Deliveries claimed at once.
const CLAIM_BATCH: u32 = 16;
/// How often a node looks for due deliveries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);

/// The webhooks this node knows (read from the database at start, after every change
/// here, whenever the bus announces one and every `[cluster] refresh_secs`), and the
/// signal that wakes the sender.
#[derive(Debug, Default)]
pub struct Webhooks {
    known: RwLock<Arc<Vec<WebhookRecord>>>,
    wake: Notify,
}

impl Webhooks {
    /// Reads the webhooks again.
    pub async fn reload(&self, store: &dyn interact_store::Store) -> Result<(), StoreError> {
        let all = store.webhooks().await?;
        *self.known.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(all);
        Ok(())
    }

    /// Whether there are none (then nothing need be told).
    pub fn is_empty(&self) -> bool {
        self.known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The webhooks that receive `event`.
    fn receiving(&self, event: &str) -> Vec<String> {
        self.known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|w| w.events.iter().any(|e| e == event))
            .map(|w| w.id.clone())
            .collect()
    }
}

/// Stores a delivery of `event` with `data` for every webhook that receives it, and
/// wakes the sender. A failure is logged: the session goes on.
pub async fn notify(state: &AppState, event: &str, data: serde_json::Value) {
    let receivers = state.webhooks.receiving(event);
    if receivers.is_empty() {
        return;
    }
    let at = state.now();
    let body = serde_json::json!({
        "type": event,
        "at": at.0,
        "data": data,
    })
    .to_string();
    let deliveries: Vec<NewDelivery> = receivers
        .into_iter()
        .map(|webhook| NewDelivery {
            webhook,
            event: event.to_owned(),
            body: body.clone(),
            at,
        })
        .collect();
    match state.store.enqueue_deliveries(&deliveries).await {
        Ok(()) => state.webhooks.wake.notify_one(),
        Err(e) => tracing::warn!(event, error = %e, "storing webhook deliveries failed"),
    }
}

/// The signature of `body` sent at `timestamp` (Unix seconds) under `secret`: what
/// `Interact-Signature` carries after `v1=`.
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The wait after failed attempt number `attempts` (1 = the first).
fn retry_after(attempts: u32) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1 << attempts.saturating_sub(1).min(20));
    doubled.min(LONGEST_RETRY)
}

/// Sends due deliveries until the server stops.
pub async fn run(state: AppState) {
    loop {
        let now = state.now();
        let until = UnixMillis(now.0 + CLAIM_FOR.as_millis() as u64);
        let due = match state.store.claim_deliveries(now, until, CLAIM_BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                Vec::new()
            }
        };
        let full = due.len() == CLAIM_BATCH as usize;
        let sends = due.into_iter().map(|d| send(&state, d));
        futures_util::future::join_all(sends).await;
        if !full {
            let _ = tokio::time::timeout(POLL, state.webhooks.wake.notified()).await;
        }
    }
}

/// One attempt at delivery `d`, recorded.
async fn send(state: &AppState, d: DeliveryRecord) {
    let webhook = state
        .webhooks
        .known
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|w| w.id == d.webhook)
        .cloned();
    let webhook = match webhook {
        Some(w) => Some(w),
        // Made on another node a moment ago, perhaps.
        None => match state.store.webhooks().await {
            Ok(all) => all.into_iter().find(|w| w.id == d.webhook),
            Err(_) => None,
        },
    };
    let Some(webhook) = webhook else {
        // Deleted: its deliveries went with it.
        return;
    };
    let timestamp = state.now().0 / 1000;
    let req = HttpRequest {
        method: interact_workflow::activity::Method::Post,
        url: webhook.url.clone(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "Interact-Webhooks/1".into()),
            ("Interact-Delivery".into(), d.id.to_string()),
            ("Interact-Event".into(), d.event.clone()),
            ("Interact-Timestamp".into(), timestamp.to_string()),
            (
                "Interact-Signature".into(),
                format!("v1={}", signature(&webhook.secret, timestamp, &d.body)),
            ),
        ],
        body: Some(d.body.clone()),
        timeout: ATTEMPT_TIMEOUT,
    };
    let allow_private = state.config.web_requests.allow_private_addresses;
    let answer = tokio::time::timeout(
        ATTEMPT_TIMEOUT,
        crate::node::web::http(&state.web, &req, allow_private),
    )
    .await;
    let (status, error) = match answer {
        Ok(Ok((status, _))) if (200..300).contains(&status) => (Some(status), None),
        Ok(Ok((status, _))) => (Some(status), Some(format!("answered {status}"))),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(_) => (None, Some("no answer within 10 s".to_owned())),
    };
    let at = state.now();
    let delivered = error.is_none();
    let attempts = d.attempts + 1;
    let next_at = (!delivered && attempts < MAX_ATTEMPTS)
        .then(|| UnixMillis(at.0 + retry_after(attempts).as_millis() as u64));
    if !delivered {
        tracing::info!(
            webhook = %webhook.id,
            delivery = d.id,
            attempts,
            error = error.as_deref().unwrap_or_default(),
            "webhook delivery failed"
        );
    }
    let attempt = Attempt {
        at,
        status,
        error,
        delivered,
        next_at,
    };
    if let Err(e) = state.store.record_attempt(d.id, &attempt).await {
        tracing::warn!(delivery = d.id, error = %e, "recording a webhook attempt failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_an_hour() {
        let waits: Vec<u64> = (1..=MAX_ATTEMPTS)
            .map(|n| retry_after(n).as_secs())
            .collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600]
        );
        assert_eq!(retry_after(500).as_secs(), 3600);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_and_body() {
        // HMAC-SHA256("key", "1700000000.{}") as Python's `hmac` module computes it.
        let sig = signature("key", 1_700_000_000, "{}");
        assert_eq!(
            sig,
            "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(sig, signature("key", 1_700_000_001, "{}"));
        assert_ne!(sig, signature("other", 1_700_000_000, "{}"));
    }
}
