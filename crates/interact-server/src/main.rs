//! `interact-server`: the reference server's command line.
//!
//! `interact-server serve` starts the server; the other subcommands administer embed codes
//! and Domain Templates directly in the database named by the configuration (no running
//! server needed), print the session report, and make the hashes the configuration file
//! holds.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use interact_server::config::Config;
use interact_server::state::AppState;
use interact_server::store::SqliteStore;
use interact_server::{admin, auth, report};
use tracing_subscriber::EnvFilter;

/// The configuration used without `--config`, relative to the working directory.
const DEFAULT_CONFIG: &str = "config/demo.toml";

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The Interact reference server.
#[derive(Debug, Parser)]
#[command(name = "interact-server", version, about, long_about = None)]
struct Cli {
    /// The configuration file [default: config/demo.toml].
    #[arg(long, short, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (stops gracefully on Ctrl-C or SIGTERM).
    Serve,
    /// Create, list and revoke embed codes.
    #[command(subcommand)]
    EmbedCode(EmbedCodeCommand),
    /// List, set and delete Domain Templates (the websites an embed code may be used on).
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Reports (read from the database; a running server need not be stopped).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the HTML snippet of an embed code, to paste into a website.
    Snippet {
        /// The embed code.
        code: String,
    },
    /// Read a password from standard input and print its Argon2 hash (for `password_hash`).
    HashPassword,
    /// Read a token from standard input and print its SHA-256 (for `admin.token_sha256`).
    HashToken,
}

#[derive(Debug, Subcommand)]
enum EmbedCodeCommand {
    /// Issue a new embed code and print it with its snippet.
    Create {
        /// What it points at: `service:<id>` or `user:<id>`.
        #[arg(long)]
        target: String,
        /// The Domain Template that decides which websites may use it.
        #[arg(long)]
        template: String,
    },
    /// List every embed code.
    List,
    /// Revoke an embed code: it stops working at once.
    Revoke {
        /// The embed code.
        code: String,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Every session (service sessions and direct user contacts) with its times, agent and
    /// outcome, oldest first; the same rows as `GET /admin/v1/reports/sessions`.
    Sessions {
        /// Only sessions for this service id.
        #[arg(long)]
        service: Option<String>,
        /// Only direct contacts with this user id.
        #[arg(long)]
        user: Option<String>,
        /// `service` or `user`.
        #[arg(long)]
        kind: Option<String>,
        /// Outcomes, comma-separated: handled, failed, abandoned, cancelled, transferred,
        /// no_agent.
        #[arg(long)]
        outcome: Option<String>,
        /// Created at or after this time (Unix milliseconds).
        #[arg(long)]
        from: Option<String>,
        /// Created before this time (Unix milliseconds).
        #[arg(long)]
        to: Option<String>,
        /// At most this many rows (1 to 10000) [default: 1000].
        #[arg(long)]
        limit: Option<String>,
        /// `csv` or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// List the Domain Templates.
    List,
    /// Create or replace a Domain Template.
    Set {
        /// Its name.
        name: String,
        /// Allowed origins: `https://shop.example.com`, `https://*.example.com`,
        /// `http://localhost:8081`. None allows nothing.
        origins: Vec<String>,
    },
    /// Delete a Domain Template that no live embed code uses.
    Delete {
        /// Its name.
        name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    let load = || -> Result<(PathBuf, Config), Box<dyn std::error::Error>> {
        let path = config_path(cli.config.clone());
        let config = Config::load(&path)?;
        Ok((path, config))
    };
    match cli.command {
        Command::Serve => {
            let (path, config) = load()?;
            serve(&path, config).await
        }
        Command::EmbedCode(c) => embed_code(load()?.1, c).await,
        Command::Template(c) => {
            let (path, config) = load()?;
            template(&path, config, c).await
        }
        Command::Report(c) => report_command(load()?.1, c).await,
        Command::Snippet { code } => {
            let state = open(load()?.1).await?;
            let public_url = &state.config.server.public_url;
            let snippet = admin::snippet_for(state.store.as_ref(), public_url, &code).await?;
            println!("{snippet}");
            Ok(())
        }
        Command::HashPassword => hash_password(),
        Command::HashToken => hash_token(),
    }
}

/// The configuration file: `--config`, else `config/demo.toml` in the working directory,
/// else the repository's own (for `cargo run` from another directory).
fn config_path(given: Option<PathBuf>) -> PathBuf {
    if let Some(path) = given {
        return path;
    }
    let local = PathBuf::from(DEFAULT_CONFIG);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(DEFAULT_CONFIG);
    if !local.is_file() && repo.is_file() {
        repo
    } else {
        local
    }
}

/// The state the administrative subcommands work on: the database, with the
/// configuration's Domain Templates seeded as the server seeds them.
async fn open(config: Config) -> Result<AppState, Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&config.server.database)
        .await
        .map_err(|e| format!("database {}: {e}", config.server.database.display()))?;
    Ok(AppState::new(config, std::sync::Arc::new(store)).await?)
}

async fn serve(path: &Path, config: Config) -> CliResult {
    // As many open files as the system lets this process have: the connection limits
    // are bounded by it (`listen::ConnLimits::from_config`).
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let listen = config.server.listen;
    let state = interact_server::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let metrics_addr = match state.config.metrics.listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
            let bound = l.local_addr().unwrap_or(addr);
            let app = interact_server::http::metrics_app(state.clone());
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
    print_banner(
        path,
        &state,
        listener.local_addr().unwrap_or(listen),
        host_page,
        metrics_addr,
    );
    interact_server::run(listener, state, shutdown_signal()).await?;
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
    let custom_ui = state.config.server.www.join("../examples/custom-ui");
    let app = interact_server::http::demo::demo_host(
        &state.config.server.public_url,
        &code,
        custom_ui.is_dir().then_some(custom_ui.as_path()),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo host page stopped");
        }
    });
    Ok(bound)
}

fn print_banner(
    path: &Path,
    state: &AppState,
    addr: std::net::SocketAddr,
    host_page: Option<std::net::SocketAddr>,
    metrics: Option<std::net::SocketAddr>,
) {
    let config = &state.config;
    let url = &config.server.public_url;
    println!("Interact server listening on {addr}");
    println!("  Agent console:   {url}/console/");
    match &config.demo {
        Some(demo) => {
            println!("  Preview page:    {url}/preview/{}", demo.embed_code);
            println!("  Demo embed code: {} ({})", demo.embed_code, demo.target);
        }
        None => println!(
            "  Preview page:    {url}/preview/<embed code> \
             (`interact-server embed-code create` makes a code)"
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
    let users: Vec<&str> = config.users.iter().map(|u| u.id.as_str()).collect();
    let demo_password = config
        .demo
        .as_ref()
        .and_then(|d| d.agent_password.as_deref());
    let password_ok = demo_password.is_some_and(|p| {
        config
            .users
            .iter()
            .all(|u| interact_server::auth::verify_password(&u.password_hash, p))
    });
    if let (Some(p), true) = (demo_password, password_ok) {
        println!(
            "  Demo agents:     {} with password {p:?}",
            users.join(", ")
        );
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

async fn embed_code(config: Config, command: EmbedCodeCommand) -> CliResult {
    let state = open(config).await?;
    let store = state.store.as_ref();
    match command {
        EmbedCodeCommand::Create { target, template } => {
            let target = admin::parse_target(&target)?;
            let record = admin::create_embed_code(store, &state.tenant, target, &template).await?;
            println!("{}", record.code.as_str());
            println!(
                "{}",
                admin::snippet(&state.config.server.public_url, &record.code)
            );
        }
        EmbedCodeCommand::List => {
            let codes = store.embed_codes().await?;
            if codes.is_empty() {
                println!("no embed codes");
            }
            for r in codes {
                let status = if r.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "{}  {status:<7}  {:<20}  template {}",
                    r.code.as_str(),
                    r.target.to_string(),
                    r.template
                );
            }
        }
        EmbedCodeCommand::Revoke { code } => {
            admin::revoke_embed_code(store, &code).await?;
            println!("revoked {}", code.trim());
        }
    }
    Ok(())
}

async fn template(path: &Path, config: Config, command: TemplateCommand) -> CliResult {
    let state = open(config).await?;
    let store = state.store.as_ref();
    let from_config = |name: &str| {
        if state.config.domain_templates.iter().any(|t| t.name == name) {
            eprintln!(
                "note: {name:?} is defined in {}, which the server applies again at every start",
                path.display()
            );
        }
    };
    match command {
        TemplateCommand::List => {
            for t in store.templates().await? {
                let origins = if t.origins.is_empty() {
                    "(allows nothing)".to_owned()
                } else {
                    t.origins.join(" ")
                };
                println!("{}  {origins}", t.name);
            }
        }
        TemplateCommand::Set { name, origins } => {
            let record = admin::set_template(store, &name, &origins).await?;
            println!("{}  {}", record.name, record.origins.join(" "));
            from_config(&name);
            eprintln!(
                "note: a running server applies this at its next start; the admin API applies it at once"
            );
        }
        TemplateCommand::Delete { name } => {
            admin::delete_template(store, &name).await?;
            println!("deleted {name}");
            from_config(&name);
        }
    }
    Ok(())
}

async fn report_command(config: Config, command: ReportCommand) -> CliResult {
    let ReportCommand::Sessions {
        service,
        user,
        kind,
        outcome,
        from,
        to,
        limit,
        format,
    } = command;
    let given = [
        ("service", service),
        ("user", user),
        ("kind", kind),
        ("outcome", outcome),
        ("from", from),
        ("to", to),
        ("limit", limit),
        ("format", Some(format)),
    ];
    let filter = report::ReportFilter::from_pairs(
        given
            .iter()
            .filter_map(|(name, value)| Some((*name, value.as_deref()?))),
    )
    .map_err(|e| format!("--{e}"))?;
    let state = open(config).await?;
    let reports = report::session_reports(state.store.as_ref(), &filter).await?;
    match filter.format {
        report::Format::Csv => print!("{}", report::to_csv(&reports)),
        report::Format::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
    }
    Ok(())
}

/// One line from standard input without its line ending; prompts when it is a terminal.
fn read_secret(prompt: &str) -> Result<String, Box<dyn std::error::Error>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let secret = line.strip_suffix('\n').unwrap_or(&line);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        return Err(format!("no {} on standard input", prompt.to_lowercase()).into());
    }
    Ok(secret.to_owned())
}

fn hash_password() -> CliResult {
    let password = read_secret("Password")?;
    println!("{}", auth::hash_password(&password));
    Ok(())
}

fn hash_token() -> CliResult {
    let token = read_secret("Token")?;
    println!("{}", auth::token_hash(&token));
    Ok(())
}
