//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless an endpoint is configured
//! (`[telemetry] otlp_endpoint`, `INTERACT_OTLP_ENDPOINT`, else the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT`).
//!
//! The spans are `tracing`'s, made OpenTelemetry's by `tracing-opentelemetry`:
//!
//! - `request` (info): every HTTP request, with its `method`, `path` and `request_id`
//!   (the access log's span); a WebSocket's lasts as long as its connection;
//! - `ws.frame` (debug), [`FRAME_SPAN`]: each protocol frame a WebSocket connection
//!   handles, with its `frame` type, a child of the connection's `request`;
//! - `store.commit` (debug), [`COMMIT_SPAN`]: each write of a session's events to the
//!   store, with its `session` and number of `events`, a child of the `ws.frame` that
//!   caused it (or of nothing, for a timer's).
//!
//! The server's events at info and above go with their spans as span events, the access
//! log's `finished processing request` (`status`, `latency`) with each `request`.
//!
//! The two debug spans are not part of the log (unless `RUST_LOG` asks for debug), only of
//! the traces. Spans go out in batches from a thread of their own (the SDK's batch
//! processor; `OTEL_BSP_SCHEDULE_DELAY` and the other `OTEL_BSP_*` variables tune it);
//! [`Tracing::shutdown`] sends what is left when the server stops.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{Layer, Registry};

use crate::config::TelemetrySection;

/// The name of the span of a WebSocket frame handled.
pub const FRAME_SPAN: &str = "ws.frame";

/// The name of the span of a store commit.
pub const COMMIT_SPAN: &str = "store.commit";

/// The `service.name` of the traces unless configured or `OTEL_SERVICE_NAME` names one.
pub const DEFAULT_SERVICE_NAME: &str = "interact-server";

/// Where the traces go and as which service: the settings of `[telemetry]` with the
/// standard variables' as fallbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The OTLP/HTTP endpoint the spans are posted to, `.../v1/traces`.
    pub traces_url: String,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

impl Settings {
    /// The settings if traces are on: `otlp_endpoint` (else `OTEL_EXPORTER_OTLP_ENDPOINT`)
    /// with `/v1/traces` added, and `service_name` (else `OTEL_SERVICE_NAME`, else
    /// [`DEFAULT_SERVICE_NAME`]). `None`: no endpoint, no traces. An endpoint that is not
    /// `http://` is an error (the exporter has no TLS; the file's is checked with the
    /// configuration, this names `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn from_config(
        section: &TelemetrySection,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TelemetryError> {
        let not_empty = |v: String| {
            let v = v.trim().trim_end_matches('/').to_owned();
            (!v.is_empty()).then_some(v)
        };
        let Some(base) = section
            .otlp_endpoint
            .clone()
            .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .and_then(not_empty)
        else {
            return Ok(None);
        };
        if !base.starts_with("http://") {
            return Err(TelemetryError::Endpoint(base));
        }
        let service_name = section
            .service_name
            .clone()
            .or_else(|| env("OTEL_SERVICE_NAME"))
            .and_then(not_empty)
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        Ok(Some(Self {
            traces_url: format!("{base}/v1/traces"),
            service_name,
        }))
    }
}

/// The traces' exporter, running: its layer goes into the subscriber
/// ([`Tracing::layer`]), and [`Tracing::shutdown`] flushes it.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

/// Why the traces' exporter cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`) is not a plain `http://` URL.
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT {0:?}: only http:// (the exporter has no TLS)")]
    Endpoint(String),
    /// The OTLP exporter could not be built (its HTTP client, the endpoint).
    #[error("otlp exporter: {0}")]
    Exporter(String),
}

impl Tracing {
    /// Starts the batch exporter to `settings.traces_url`.
    pub fn start(settings: &Settings) -> Result<Self, TelemetryError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(settings.traces_url.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Self { provider })
    }

    /// The subscriber's layer that turns the server's spans ([module docs](self)) into
    /// OpenTelemetry's, with their events at info and above (the server's, and the access
    /// log's `finished processing request` with its `status` and `latency`); nothing else
    /// of other crates.
    pub fn layer(&self) -> Box<dyn Layer<Registry> + Send + Sync> {
        let tracer = self.provider.tracer("interact-server");
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // No `code.*` attributes: for other crates' events they would be absolute
            // paths of this machine's cargo registry.
            .with_location(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                let ours = meta.target().starts_with("interact_server");
                let access_log = meta.target().starts_with("tower_http::trace");
                (ours && meta.is_span())
                    || ((ours || access_log)
                        && meta.is_event()
                        && *meta.level() <= tracing::Level::INFO)
            }))
            .boxed()
    }

    /// Sends the spans not sent yet and stops the exporter (blocks until it is done, up
    /// to the exporter's timeout).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("error: sending the last traces: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_are_off_without_an_endpoint_and_the_file_wins_over_otel_variables() {
        let none = |_: &str| None;
        assert_eq!(
            Settings::from_config(&TelemetrySection::default(), &none).ok(),
            Some(None)
        );
        let otel = |n: &str| match n {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://otel.example:4318/".to_owned()),
            "OTEL_SERVICE_NAME" => Some("from-otel".to_owned()),
            _ => None,
        };
        assert_eq!(
            Settings::from_config(&TelemetrySection::default(), &otel).ok(),
            Some(Some(Settings {
                traces_url: "http://otel.example:4318/v1/traces".into(),
                service_name: "from-otel".into(),
            }))
        );
        let section = TelemetrySection {
            otlp_endpoint: Some("http://file.example:4318".into()),
            service_name: None,
        };
        assert_eq!(
            Settings::from_config(&section, &none).ok(),
            Some(Some(Settings {
                traces_url: "http://file.example:4318/v1/traces".into(),
                service_name: DEFAULT_SERVICE_NAME.into(),
            }))
        );
        let section = TelemetrySection {
            service_name: Some("chat".into()),
            ..section
        };
        assert_eq!(
            Settings::from_config(&section, &otel)
                .ok()
                .flatten()
                .map(|s| (s.traces_url, s.service_name)),
            Some(("http://file.example:4318/v1/traces".into(), "chat".into()))
        );
        let tls = |n: &str| {
            (n == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "https://otel.example:4318".to_owned())
        };
        let refused = Settings::from_config(&TelemetrySection::default(), &tls)
            .expect_err("no TLS")
            .to_string();
        assert!(refused.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{refused}");
    }

    #[test]
    fn an_endpoint_that_is_no_http_base_url_is_a_problem() {
        let demo = include_str!("../../../config/demo.toml");
        for bad in [
            "collector:4318",
            "http://collector:4318/",
            "https://collector:4318",
        ] {
            let text = format!("{demo}\n[telemetry]\notlp_endpoint = \"{bad}\"\n");
            let config = crate::config::Config::parse(&text).expect("parses");
            let problem = config.validate().expect_err(bad);
            assert!(problem.contains("telemetry.otlp_endpoint"), "{problem}");
        }
        let text = format!("{demo}\n[telemetry]\notlp_endpoint = \"http://collector:4318\"\n");
        let config = crate::config::Config::parse(&text).expect("parses");
        assert_eq!(config.validate(), Ok(()));
    }
}
