//! The bus between nodes (NATS, `[cluster] nats_url`). The database stays the source of
//! truth: a message on the bus only says "read again", so a lost one costs at most
//! `[cluster] refresh_secs` of delay, never data.
//!
//! It carries one kind of announcement, on [`CONFIG_SUBJECT`]: the Domain Templates,
//! the webhooks or the workflows changed (through the admin API of any node); every node
//! then reads them again.

use std::time::Duration;

use futures_util::StreamExt as _;

use crate::node::state::AppState;

/// The subject of configuration changes.
pub const CONFIG_SUBJECT: &str = "interact.config";

/// How long a node waits for the NATS server at start.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// A connection to the NATS server (cheap to clone; it reconnects by itself).
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
}

impl Bus {
    /// Connects to `url` (`nats://host:4222`), or fails within a few seconds.
    pub async fn connect(url: &str) -> Result<Self, std::io::Error> {
        let options = async_nats::ConnectOptions::new()
            .name("interact-server")
            .connection_timeout(CONNECT_WITHIN)
            .retry_on_initial_connect();
        let connecting = async_nats::connect_with_options(url, options);
        let client = tokio::time::timeout(CONNECT_WITHIN, connecting)
            .await
            .map_err(|_| std::io::Error::other(format!("no answer from NATS at {url}")))?
            .map_err(|e| std::io::Error::other(format!("NATS at {url}: {e}")))?;
        // `retry_on_initial_connect` returns before the first connection: wait for it.
        let connected = async {
            while client.connection_state() != async_nats::connection::State::Connected {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(CONNECT_WITHIN, connected)
            .await
            .map_err(|_| std::io::Error::other(format!("no connection to NATS at {url}")))?;
        Ok(Self { client })
    }

    /// The NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Whether the connection is up (for `/readyz`).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Tells every node that the Domain Templates changed. A failure is logged, not
    /// returned: the change is in the database, and the other nodes read it again within
    /// `[cluster] refresh_secs` anyway.
    pub async fn templates_changed(&self) {
        self.config_changed("templates").await;
    }

    /// Tells every node that `what` (`templates`, `webhooks`) changed; as
    /// [`templates_changed`](Self::templates_changed).
    pub async fn config_changed(&self, what: &'static str) {
        let sent = async {
            self.client.publish(CONFIG_SUBJECT, what.into()).await?;
            self.client.flush().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        };
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, what, "could not announce a configuration change on the bus");
        }
    }
}

/// Reads the Domain Templates again whenever the bus says they changed, and every
/// `[cluster] refresh_secs` whatever it says. Runs until the server stops.
pub async fn follow_config(state: AppState) {
    let mut changes = match state.bus.get() {
        Some(bus) => match bus.client.subscribe(CONFIG_SUBJECT).await {
            Ok(sub) => Some(sub),
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow configuration changes on the bus");
                None
            }
        },
        None => None,
    };
    let every = Duration::from_secs(state.config.cluster.refresh_secs.max(1));
    let mut refresh = tokio::time::interval(every);
    refresh.tick().await;
    loop {
        tokio::select! {
            Some(_) = async {
                match changes.as_mut() {
                    Some(sub) => sub.next().await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = refresh.tick() => {}
        }
        if let Err(e) = state.reload_templates().await {
            tracing::warn!(error = %e, "could not read the Domain Templates again");
        }
        if let Err(e) = state.webhooks.reload(state.store.as_ref()).await {
            tracing::warn!(error = %e, "could not read the webhooks again");
        }
        if let Err(e) = crate::node::directory::reload(&state).await {
            tracing::warn!(error = %e, "could not read the tenant's configuration again");
        }
        if let Err(e) = crate::node::workflows::reload(&state).await {
            tracing::warn!(error = %e, "could not read the workflows again");
        }
    }
}
