//! The server in this process: [`interact_server::build_state`] and
//! [`interact_server::run`] on a listener bound to a port the OS picked.

use std::net::SocketAddr;
use std::time::Duration;

use interact_model::TargetRef;
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::PreChatForm;
use interact_sdk::ids::SessionId;
use interact_sdk::protocol::{ClientFrame, Presence, ServerFrame, SessionEvent};
use interact_sdk::time::UnixMillis;
use interact_server::config::Config;
use interact_server::node::state::AppState;
use interact_store::{EmbedCodeRecord, Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::{Client, connect_agent, connect_visitor, mid};
use crate::config::{ALLOWED, DEMO_CODE};

/// A running in-process server. Dropping it stops it (in the background).
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens (the same after [`restart`](Self::restart)).
    pub addr: SocketAddr,
    /// Its state (store, hub, metrics, configuration); a new one after a restart.
    pub state: AppState,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with `config` on `127.0.0.1` and a port the OS picks.
    pub async fn start(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::start_on(listener, config).await
    }

    /// Starts a server with `config` on `listener` (bound by the caller, who needs its
    /// address first: for `public_url`, say). `config.server.listen` becomes its address.
    pub async fn start_on(listener: TcpListener, mut config: Config) -> Self {
        log_to_test_output();
        let addr = listener.local_addr().expect("the listener's address");
        config.server.listen = addr;
        let mut server = Self {
            addr,
            state: build_state(config.clone()).await,
            config,
            stop: None,
            task: None,
        };
        server.serve(listener);
        server
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(interact_server::run(
            listener,
            self.state.clone(),
            async move {
                let _ = stopped.await;
            },
        )));
    }

    /// Stops serving as on a real shutdown (every connection is closed with 1001) and
    /// waits up to 10 s for it. [`start_again`](Self::start_again) brings it back.
    pub async fn shut_down(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }

    /// Starts it again after [`shut_down`](Self::shut_down), on the same port and database
    /// (a new state, which restores the open sessions).
    pub async fn start_again(&mut self) {
        assert!(self.task.is_none(), "the server is running");
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind the same port again");
        self.state = build_state(self.config.clone()).await;
        self.serve(listener);
    }

    /// [`shut_down`](Self::shut_down), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) {
        self.shut_down().await;
        self.start_again().await;
    }

    /// Stops it and waits until it has.
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// A new embed code for `target`, bound to the demo template.
    pub async fn embed_code(&self, target: TargetRef) -> EmbedCode {
        create_embed_code(self.state.store.as_ref(), target).await
    }

    /// A sign-in token for agent `user`, valid for an hour, stored as the sign-in
    /// endpoint would.
    pub async fn agent_token(&self, user: &str) -> String {
        agent_token(self.state.store.as_ref(), user, Duration::from_secs(3600)).await
    }

    /// Agent `user` signed in over a new connection, available, and confirmed so by the
    /// server.
    pub async fn available_agent(&self, user: &str) -> Client {
        let token = self.agent_token(user).await;
        available_agent(connect_agent(self.addr).await, &token).await
    }
}

async fn build_state(config: Config) -> AppState {
    interact_server::build_state(config)
        .await
        .expect("the server's state")
}

/// Stores a new embed code for `target`, bound to the demo template (`demo`).
pub async fn create_embed_code(store: &dyn Store, target: TargetRef) -> EmbedCode {
    let code = EmbedCode::from_random(interact_server::auth::random_128());
    store
        .create_embed_code(&EmbedCodeRecord {
            code: code.clone(),
            target,
            template: "demo".into(),
            created_at: UnixMillis(1),
            revoked_at: None,
        })
        .await
        .expect("store the embed code");
    code
}

/// Stores a sign-in token for agent `user`, valid for `valid`, as the sign-in endpoint
/// would; returns the token.
pub async fn agent_token(store: &dyn Store, user: &str, valid: Duration) -> String {
    let token = interact_server::auth::random_token();
    let now = interact_server::clock::system_now();
    let valid = u64::try_from(valid.as_millis()).unwrap_or(u64::MAX / 2);
    store
        .put_agent_token(
            &interact_server::auth::token_hash(&token),
            user,
            now,
            UnixMillis(now.0.saturating_add(valid)),
        )
        .await
        .expect("store the agent token");
    token
}

/// Sends the server's logs to the test output when `RUST_LOG` is set (e.g.
/// `RUST_LOG=interact_server=debug`); does nothing otherwise or when a subscriber is set.
pub fn log_to_test_output() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
}

/// Signs `agent` (a new agent connection) in with `token` and makes them available, as
/// confirmed by the server.
pub async fn available_agent(mut agent: Client, token: &str) -> Client {
    agent.agent_hello(token).await;
    agent
        .send(&ClientFrame::SetPresence {
            presence: Presence::Available,
        })
        .await;
    agent
        .recv_until(|f| {
            matches!(
                f,
                ServerFrame::Presence {
                    presence: Presence::Available
                }
            )
        })
        .await;
    agent
}

/// One chat on the demo embed code of the server at `addr`: a visitor (from [`ALLOWED`])
/// starts it with `form`, agent `user` (signed in with a token stored in `store`, and
/// available) accepts it. Returns when the visitor has seen the agent join: the
/// visitor's connection, the agent's and the session.
pub async fn accepted_chat(
    addr: SocketAddr,
    store: &dyn Store,
    user: &str,
    form: PreChatForm,
) -> (Client, Client, SessionId) {
    let token = agent_token(store, user, Duration::from_secs(3600)).await;
    let mut agent = available_agent(connect_agent(addr).await, &token).await;
    let mut visitor = connect_visitor(addr, DEMO_CODE, Some(ALLOWED))
        .await
        .expect("admitted");
    visitor.hello(None).await;
    let (session, _) = visitor.start_chat(mid("start-accepted"), form).await;
    accept_offer(&mut agent, &mut visitor, &session).await;
    (visitor, agent, session)
}

/// `agent` waits for the offer of `session` and accepts it; returns when `visitor` has
/// seen the agent join.
pub async fn accept_offer(agent: &mut Client, visitor: &mut Client, session: &SessionId) {
    agent
        .recv_until(|f| matches!(f, ServerFrame::Offer(o) if &o.session == session))
        .await;
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    visitor
        .recv_until(|f| {
            matches!(f, ServerFrame::Event(e)
                if &e.session == session && matches!(e.event, SessionEvent::AgentJoined { .. }))
        })
        .await;
}
