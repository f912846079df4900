//! `interact-server`: the reference server's command line.
//!
//! `interact-server serve` starts the server; the other subcommands administer embed codes
//! and Domain Templates directly in the database named by the configuration (no running
//! server needed), print the session report and usage (`report sessions`, `report
//! usage`), and make the hashes the configuration file holds.
//!
//! The binary's `main` is [`main`]; the subcommands live by topic: `serve` (the server,
//! the demo host page and the banner), `admin` (embed codes, Domain Templates, reports
//! and usage in the database), `check` (`config check`: the effective configuration and
//! its problems) and `secret` (the hashes a configuration holds).
//!
//! The configuration is the file `--config` names (else `INTERACT_CONFIG`, else
//! `config/demo.toml` in the working directory if there is one, else none) with the
//! `INTERACT_*` environment variables over it ([`crate::config::env`]).

mod admin;
mod check;
mod secret;
mod serve;
mod tenant;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use self::admin::{
    EmbedCodeCommand, ReportCommand, TemplateCommand, embed_code, report_command, template,
};
use self::secret::{hash_password, hash_token};
use self::serve::serve;
use self::tenant::{ConfigCommand, config_command};
use crate::config::{Checked, Config};
use crate::node::state::AppState;
use crate::telemetry::{Settings, Tracing};

/// The configuration used without `--config` and `INTERACT_CONFIG` if it is there,
/// relative to the working directory (a checkout's demo).
const DEFAULT_CONFIG: &str = "config/demo.toml";

pub(super) type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The Interact reference server.
#[derive(Debug, Parser)]
#[command(name = "interact-server", version, about, long_about = None)]
struct Cli {
    /// The configuration file [default: INTERACT_CONFIG, else config/demo.toml if the
    /// working directory has one, else none: the INTERACT_* environment variables alone].
    #[arg(long, short, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// How the log is written to stderr: `text` for people, `json` (one object per
    /// line, every field and the request's span with its id) for a log collector
    /// [default: INTERACT_LOG_FORMAT, else text].
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// Allow the public demo admin token and a `[demo]` section (a demo, never a real
    /// deployment); without it `serve` refuses them.
    #[arg(long, global = true)]
    demo: bool,
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
    /// Check the configuration (file and environment: the effective settings, secrets
    /// masked, and every problem with its place), or export or import the tenant's
    /// configuration (services, users, opening hours, Domain Templates, workflows) as TOML
    /// or JSON.
    #[command(subcommand)]
    Config(ConfigCommand),
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

/// The log's format (`--log-format`, `INTERACT_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields
    /// (`message`, `session`, `agent`, ...) and `span`/`spans` with the request's
    /// `method`, `path` and `request_id`.
    Json,
}

impl LogFormat {
    /// `--log-format` if given, else `INTERACT_LOG_FORMAT`, else text.
    fn choose(flag: Option<Self>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        if let Some(f) = flag {
            return Ok(f);
        }
        match env("INTERACT_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("") => Ok(Self::default()),
            Some(v) => <Self as clap::ValueEnum>::from_str(v, true)
                .map_err(|_| format!("INTERACT_LOG_FORMAT: {v:?} is neither `text` nor `json`")),
        }
    }
}

/// Parses the command line, sets up logging (and the traces' exporter, for `serve` with
/// an OTLP endpoint: [`crate::telemetry`]) and runs the subcommand; what the binary's
/// `main` returns.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match LogFormat::choose(cli.log_format, &|n| std::env::var(n).ok()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let path = config_path(cli.config.clone(), &env);
    // `serve` reads its configuration before the log starts: whether spans are exported
    // is part of the log's setup.
    let serving = matches!(cli.command, Command::Serve)
        .then(|| serve_config(path.as_deref(), cli.demo, &env));
    let traces = match &serving {
        Some(Ok((config, _))) => start_traces(config, &env),
        _ => Ok(None),
    };
    let traces = match traces {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_log(format, traces.as_ref().map(|(_, t)| t));
    if let Some((settings, _)) = &traces {
        tracing::info!(
            endpoint = %settings.traces_url,
            service = %settings.service_name,
            "sending traces over OTLP"
        );
    }
    let result = run(cli, path, serving).await;
    // The spans not sent yet go before the process ends (graceful shutdown).
    if let Some((_, t)) = traces {
        let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The traces' exporter, started if the configuration (or the environment) names an
/// endpoint.
fn start_traces(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Settings, Tracing)>, crate::telemetry::TelemetryError> {
    match Settings::from_config(&config.telemetry, env)? {
        Some(settings) => {
            let tracing = Tracing::start(&settings)?;
            Ok(Some((settings, tracing)))
        }
        None => Ok(None),
    }
}

/// The log to stderr, text or JSON, filtered by `RUST_LOG` (info by default), and the
/// traces' layer if they are exported (with a filter of its own: the `ws.frame` and
/// `store.commit` spans are debug, in the traces but not the log).
fn init_log(format: LogFormat, tracing: Option<&Tracing>) {
    // PostgreSQL's notices ("relation ... already exists, skipping" at every migration
    // check) are not news.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into());
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = match format {
        LogFormat::Text => log
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => log.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![log];
    if let Some(t) = tracing {
        layers.push(t.layer());
    }
    tracing_subscriber::registry().with(layers).init();
}

/// What `serve` starts with: the configuration, checked (the demo's token and section
/// refused without `--demo`), and its warnings, to be logged.
fn serve_config(
    path: Option<&std::path::Path>,
    demo: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<String>), String> {
    let mut checked = Checked::load(path, env);
    if !demo {
        checked.refuse_demo();
    }
    checked.check_folders();
    if let Some(problem) = checked.problems.first() {
        let more = checked.problems.len() - 1;
        return Err(if more == 0 {
            format!("{problem}")
        } else {
            format!("{problem} (and {more} more: `interact-server config check` lists them)")
        });
    }
    let warnings = checked.warnings.iter().map(ToString::to_string).collect();
    Ok((checked.config.ok_or("no configuration")?, warnings))
}

async fn run(
    cli: Cli,
    path: Option<PathBuf>,
    serving: Option<Result<(Config, Vec<String>), String>>,
) -> CliResult {
    let env = |name: &str| std::env::var(name).ok();
    let load = || -> Result<Config, Box<dyn std::error::Error>> {
        Ok(Config::load_from(path.as_deref(), &env)?)
    };
    let shown = path
        .clone()
        .unwrap_or_else(|| PathBuf::from("the environment"));
    match cli.command {
        Command::Serve => {
            let (config, warnings) = serving.ok_or("no configuration")??;
            for warning in &warnings {
                tracing::warn!("{warning}");
            }
            serve(&shown, config).await
        }
        Command::Config(ConfigCommand::Check) => check::check(path.as_deref(), cli.demo, &env),
        Command::EmbedCode(c) => embed_code(load()?, c).await,
        Command::Template(c) => template(&shown, load()?, c).await,
        Command::Report(c) => report_command(load()?, c).await,
        Command::Config(c) => config_command(load()?, c).await,
        Command::Snippet { code } => {
            let state = open(load()?).await?;
            let public_url = &state.config.server.public_url;
            let snippet =
                crate::admin::snippet_for(state.store.as_ref(), public_url, &code).await?;
            println!("{snippet}");
            Ok(())
        }
        Command::HashPassword => hash_password(),
        Command::HashToken => hash_token(),
    }
}

/// The configuration file: `--config`, else `INTERACT_CONFIG`, else `config/demo.toml`
/// if the working directory has one, else none (the environment alone). Never a path
/// fixed at build time: a copied binary finds no configuration it was not given.
fn config_path(given: Option<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path);
    }
    if let Some(path) = env(crate::config::env::CONFIG_VAR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from(DEFAULT_CONFIG);
    local.is_file().then_some(local)
}

/// The state the administrative subcommands work on: the database, with the
/// configuration's Domain Templates seeded as the server seeds them.
pub(super) async fn open(config: Config) -> Result<AppState, Box<dyn std::error::Error>> {
    let store = crate::open_store(&config.server.database)
        .await
        .map_err(|e| format!("database {}: {e}", config.server.database))?;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    Ok(AppState::new(config, store, clock).await?)
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn the_log_format_comes_from_the_flag_else_the_environment() {
        let env = |value: Option<&'static str>| {
            move |name: &str| {
                assert_eq!(name, "INTERACT_LOG_FORMAT");
                value.map(str::to_owned)
            }
        };
        let choose = |flag, value| LogFormat::choose(flag, &env(value));
        assert_eq!(choose(None, None), Ok(LogFormat::Text));
        assert_eq!(choose(None, Some("")), Ok(LogFormat::Text));
        assert_eq!(choose(None, Some("json")), Ok(LogFormat::Json));
        assert_eq!(choose(None, Some(" JSON ")), Ok(LogFormat::Json));
        assert_eq!(
            choose(Some(LogFormat::Text), Some("json")),
            Ok(LogFormat::Text)
        );
        let refused = choose(None, Some("xml")).expect_err("xml is no format");
        assert!(refused.contains("INTERACT_LOG_FORMAT"), "{refused}");
    }
}
