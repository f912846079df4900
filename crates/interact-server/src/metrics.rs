//! Prometheus metrics: active sessions, sessions started by channel, messages by channel
//! and sender, calls by modality, rejections by reason; latency histograms of HTTP
//! requests (by route and status), store commits and the relay of a frame.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Buckets of the latency histograms, in seconds: 0.25 ms to about 8 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Labels of the HTTP latency histogram: bounded sets only (the route as declared, not
/// the path asked for).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabel {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The route's pattern (`/v1/sessions/{session}/attachments`), or `unmatched`.
    pub route: String,
    /// The response's status code.
    pub status: u16,
}

/// Label of the rejection counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Why something was rejected.
    pub reason: String,
}

/// Label of the sessions-started counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    /// `widget`, `whatsapp`.
    pub channel: &'static str,
}

/// Labels of the message counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabel {
    /// `widget`, `whatsapp`.
    pub channel: &'static str,
    /// `visitor`, `agent`, `system`.
    pub from: &'static str,
}

/// Label of the call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModalityLabel {
    /// `audio`, `video`.
    pub modality: &'static str,
}

/// Label of the WhatsApp sending counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `accepted` (Twilio took it), `failed` (given up).
    pub outcome: &'static str,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Sessions not yet ended.
    pub active_sessions: Gauge,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Open TCP connections (HTTP and WebSocket).
    pub tcp_connections: Gauge,
    /// Sessions held in memory (the others are read from the store when needed).
    pub sessions_in_memory: Gauge,
    /// Chat messages stored and relayed.
    pub messages_relayed: Counter,
    /// Requests and frames refused, by reason.
    pub rejections: Family<Reason, Counter>,
    /// Sessions started, by channel.
    pub sessions_started: Family<ChannelLabel, Counter>,
    /// Chat messages stored, by channel and sender.
    pub messages: Family<MessageLabel, Counter>,
    /// Calls started, by modality.
    pub calls_started: Family<ModalityLabel, Counter>,
    /// WhatsApp messages handed to Twilio, by outcome.
    pub whatsapp_sent: Family<OutcomeLabel, Counter>,
    /// Time to answer an HTTP request (to the response's head; a WebSocket's upgrade),
    /// by method, route and status.
    pub http_seconds: Family<HttpLabel, Histogram, fn() -> Histogram>,
    /// Time the store takes to commit a session's new events.
    pub store_commit_seconds: Histogram,
    /// Time from a session's frame being handled to its events stored and handed to
    /// every connection of the session (the relay).
    pub relay_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("interact");
        let active_sessions = Gauge::default();
        let connections = Gauge::default();
        let tcp_connections = Gauge::default();
        let sessions_in_memory = Gauge::default();
        let messages_relayed = Counter::default();
        let rejections = Family::<Reason, Counter>::default();
        let sessions_started = Family::<ChannelLabel, Counter>::default();
        let messages = Family::<MessageLabel, Counter>::default();
        let calls_started = Family::<ModalityLabel, Counter>::default();
        let whatsapp_sent = Family::<OutcomeLabel, Counter>::default();
        let http_seconds =
            Family::<HttpLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        let store_commit_seconds = latency();
        let relay_seconds = latency();
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route and status",
            http_seconds.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Time the store takes to commit a session's new events",
            store_commit_seconds.clone(),
        );
        registry.register(
            "relay_seconds",
            "Time from a session's frame to its events stored and sent to the session's connections",
            relay_seconds.clone(),
        );
        registry.register(
            "whatsapp_sent",
            "WhatsApp messages handed to Twilio, by outcome (accepted, failed)",
            whatsapp_sent.clone(),
        );
        registry.register(
            "sessions_started",
            "Sessions started, by channel",
            sessions_started.clone(),
        );
        registry.register(
            "messages",
            "Chat messages stored, by channel and sender",
            messages.clone(),
        );
        registry.register(
            "calls_started",
            "Calls started, by modality",
            calls_started.clone(),
        );
        registry.register(
            "active_sessions",
            "Sessions not yet ended",
            active_sessions.clone(),
        );
        registry.register(
            "connections",
            "Open WebSocket connections",
            connections.clone(),
        );
        registry.register(
            "tcp_connections",
            "Open TCP connections (HTTP and WebSocket)",
            tcp_connections.clone(),
        );
        registry.register(
            "sessions_in_memory",
            "Sessions held in memory",
            sessions_in_memory.clone(),
        );
        registry.register(
            "messages_relayed",
            "Chat messages stored and relayed",
            messages_relayed.clone(),
        );
        registry.register(
            "rejections",
            "Requests and frames refused, by reason",
            rejections.clone(),
        );
        Self {
            registry,
            active_sessions,
            connections,
            tcp_connections,
            sessions_in_memory,
            messages_relayed,
            rejections,
            sessions_started,
            messages,
            calls_started,
            whatsapp_sent,
            http_seconds,
            store_commit_seconds,
            relay_seconds,
        }
    }
}

impl Metrics {
    /// Counts a rejection.
    pub fn reject(&self, reason: &str) {
        self.rejections
            .get_or_create(&Reason {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("encoding metrics failed");
        }
        out
    }
}
