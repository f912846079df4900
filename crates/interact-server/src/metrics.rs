//! Prometheus metrics: active sessions, messages relayed, rejections by reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label of the rejection counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Why something was rejected.
    pub reason: String,
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
