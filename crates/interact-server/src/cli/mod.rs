//! `interact-server`: the reference server's command line.
//!
//! `interact-server serve` starts the server; the other subcommands administer embed codes
//! and Domain Templates directly in the database named by the configuration (no running
//! server needed), print the session report and usage (`report sessions`, `report
//! usage`), and make the hashes the configuration file holds.
//!
//! The binary's `main` is [`main`]; the subcommands live by topic: `serve` (the server,
//! the demo host page and the banner), `admin` (embed codes, Domain Templates, reports
//! and usage in the database) and `secret` (the hashes a configuration holds).

mod admin;
mod secret;
mod serve;
mod tenant;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use self::admin::{
    EmbedCodeCommand, ReportCommand, TemplateCommand, embed_code, report_command, template,
};
use self::secret::{hash_password, hash_token};
use self::serve::serve;
use self::tenant::{ConfigCommand, config_command};
use crate::config::Config;
use crate::node::state::AppState;

/// The configuration used without `--config`, relative to the working directory.
const DEFAULT_CONFIG: &str = "config/demo.toml";

pub(super) type CliResult = Result<(), Box<dyn std::error::Error>>;

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
    /// Export or import the tenant's configuration (services, users, opening hours,
    /// Domain Templates, workflows) as TOML or JSON.
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

/// Parses the command line, sets up logging and runs the subcommand; what the binary's
/// `main` returns.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        // PostgreSQL's notices ("relation ... already exists, skipping" at every
        // migration check) are not news.
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into()),
        )
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
        Command::Config(c) => config_command(load()?.1, c).await,
        Command::Snippet { code } => {
            let state = open(load()?.1).await?;
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
pub(super) async fn open(config: Config) -> Result<AppState, Box<dyn std::error::Error>> {
    let store = crate::open_store(&config.server.database)
        .await
        .map_err(|e| format!("database {}: {e}", config.server.database))?;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    Ok(AppState::new(config, store, clock).await?)
}
