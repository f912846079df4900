//! `interact-server serve`: the server, the demo host page, the banner.

use std::path::Path;

use super::CliResult;
use crate::config::Config;
use crate::node::state::AppState;

pub(super) async fn serve(path: &Path, config: Config) -> CliResult {
    // As many open files as the system lets this process have: the connection limits
    // are bounded by it (`listen::ConnLimits::from_config`).
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let listen = config.server.listen;
    match &config.server.www {
        Some(www) => tracing::info!(folder = %www.display(), "serving the pages from a folder"),
        None => {
            let missing = crate::http::files::missing_packages();
            if !missing.is_empty() {
                tracing::warn!(
                    missing = missing.join(", "),
                    "this binary was built without the wasm packages: the widget and the \
                     agent console cannot start in a browser (build with `cargo xtask widget` \
                     before the server, as `cargo xtask dist` does, or set server.www)"
                );
            }
        }
    }
    let state = crate::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let metrics_addr = match state.config.metrics.listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
            let bound = l.local_addr().unwrap_or(addr);
            let app = crate::http::metrics_app(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(l, app).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
            Some(bound)
        }
        None => None,
    };
    let host_page = match &state.config.demo {
        Some(demo) => match demo.host_listen {
            Some(addr) => Some(start_demo_host(&state, addr, &demo.embed_code).await?),
            None => None,
        },
        None => None,
    };
    // The Preview page opens only through a signed link: one for the demo code, for the
    // first hour.
    let preview = match &state.config.demo {
        Some(demo) => crate::preview::issue(state.store.as_ref(), &demo.embed_code, state.now())
            .await
            .ok()
            .map(|(ticket, _)| {
                format!(
                    "{}/preview/{}?ticket={ticket}",
                    state.config.server.public_url, demo.embed_code
                )
            }),
        None => None,
    };
    print_banner(
        preview,
        path,
        &state,
        listener.local_addr().unwrap_or(listen),
        host_page,
        metrics_addr,
    );
    crate::run(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Serves the demo host page on `addr` in the background; returns its address.
async fn start_demo_host(
    state: &AppState,
    addr: std::net::SocketAddr,
    code: &str,
) -> Result<std::net::SocketAddr, Box<dyn std::error::Error>> {
    let code = code.parse::<interact_sdk::embed::EmbedCode>()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for the demo host page: {e}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    // The custom-UI example next to a `www` folder (in the repository), else built in.
    let custom_ui =
        (state.config.server.www.as_deref()).and_then(crate::http::files::custom_ui_next_to);
    let app =
        crate::http::demo::demo_host(&state.config.server.public_url, &code, custom_ui.as_deref());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo host page stopped");
        }
    });
    Ok(bound)
}

fn print_banner(
    preview: Option<String>,
    path: &Path,
    state: &AppState,
    addr: std::net::SocketAddr,
    host_page: Option<std::net::SocketAddr>,
    metrics: Option<std::net::SocketAddr>,
) {
    let config = &state.config;
    let url = &config.server.public_url;
    // Checked before the first line: a client that waits for "listening" (the tests, a
    // script) must not wait on these Argon2 checks (slow in a debug build) to be
    // answered.
    let demo_password = config
        .demo
        .as_ref()
        .and_then(|d| d.agent_password.as_deref());
    let password_ok = demo_password.is_some_and(|p| {
        config
            .users
            .iter()
            .all(|u| crate::auth::verify_password(&u.password_hash, p))
    });
    println!("Interact server listening on {addr}");
    println!("  Agent console:   {url}/console/");
    println!("  Administration:  {url}/admin/");
    match (&config.demo, preview) {
        (Some(demo), Some(link)) => {
            println!(
                "  Preview page:    {link} (valid for an hour; the administration makes new links)"
            );
            println!("  Demo embed code: {} ({})", demo.embed_code, demo.target);
        }
        _ => println!(
            "  Preview page:    from the administration's embed codes (a signed link, valid for an hour)"
        ),
    }
    if let Some(host) = host_page {
        println!("  Demo host page:  http://{host}/ (a stand-in customer website with the widget)");
    }
    println!("  Health:          {url}/healthz");
    match (metrics, &config.metrics.token_sha256) {
        (Some(m), _) => {
            println!("  Metrics:         http://{m}/metrics (its own address; keep it private)")
        }
        (None, Some(_)) => {
            println!("  Metrics:         {url}/metrics (with the metrics bearer token)")
        }
        (None, None) => {}
    }
    let tenant = state.tenant();
    let admins: Vec<String> = config
        .users
        .iter()
        .filter_map(|u| {
            crate::http::admin_role_name(&tenant, &u.id).map(|role| format!("{} ({role})", u.id))
        })
        .collect();
    let users: Vec<&str> = config
        .users
        .iter()
        .filter(|u| !u.licences.is_empty())
        .map(|u| u.id.as_str())
        .collect();
    if let (Some(p), true) = (demo_password, password_ok) {
        println!(
            "  Demo agents:     {} with password {p:?}",
            users.join(", ")
        );
        if !admins.is_empty() {
            println!(
                "  Demo admins:     {} with password {p:?}",
                admins.join(", ")
            );
        }
    } else if !users.is_empty() {
        println!(
            "  Agents:          {} (sign-in names; the demo password is in {})",
            users.join(", "),
            path.display()
        );
    }
    println!("Stop with Ctrl-C.");
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
