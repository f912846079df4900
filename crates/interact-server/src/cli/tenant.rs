//! `interact-server config export` and `config import`: a tenant's configuration as a
//! file ([`crate::node::directory::Export`]), for backups, reviews and moving a tenant
//! between servers. Both work straight on the database the configuration names.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::{CliResult, open};
use crate::config::Config;
use crate::node::directory::{self, Export};

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
    /// Print the effective configuration (the file with the INTERACT_* environment
    /// variables over it; secrets masked, each setting's source) and every problem with
    /// its place (`file:line` or the variable); exits non-zero if there is one. Needs no
    /// database. With `--demo`, the demo admin token and `[demo]` are no problem.
    Check,
    /// Print the tenant (services, users with their password hashes, opening hours,
    /// Domain Templates, workflows) as TOML or JSON.
    Export {
        /// `toml` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Toml)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Replace the tenant with a file `config export` wrote (TOML, or JSON if the file
    /// ends in `.json`); checked whole first: nothing is changed if anything is wrong.
    /// Running servers take it within `[cluster] refresh_secs`.
    Import {
        /// The file.
        file: PathBuf,
    },
}

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// TOML, like the configuration file.
    Toml,
    /// JSON.
    Json,
}

pub(super) async fn config_command(config: Config, command: ConfigCommand) -> CliResult {
    let state = open(config).await?;
    match command {
        ConfigCommand::Export { format, output } => {
            let export = directory::export(&state).await?;
            let text = match format {
                Format::Toml => toml::to_string(&export)?,
                Format::Json => serde_json::to_string_pretty(&export)? + "\n",
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
                None => print!("{text}"),
            }
        }
        ConfigCommand::Check => unreachable!("checked without a database"),
        ConfigCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let export: Export = if file.extension().is_some_and(|e| e == "json") {
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?
            } else {
                toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?
            };
            directory::import(&state, &export, "cli")
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!(
                "imported {} services, {} users, {} opening hours, {} Domain Templates, {} workflows",
                export.tenant.services.len(),
                export.tenant.users.len(),
                export.tenant.opening_hours.len(),
                export.templates.len(),
                export.workflows.len()
            );
        }
    }
    Ok(())
}
