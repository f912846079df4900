//! The administrative subcommands: embed codes, Domain Templates and reports, straight
//! in the database the configuration names (no running server needed).

use std::path::Path;

use clap::Subcommand;
use interact_model::TargetRef;
use interact_report as report;

use super::{CliResult, open};
use crate::admin;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(super) enum EmbedCodeCommand {
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
pub(super) enum ReportCommand {
    /// Every session (service sessions and direct user contacts) with its times, agent and
    /// outcome, oldest first; the same rows as `GET /admin/v1/reports/sessions`.
    Sessions {
        /// Only sessions for this service id.
        #[arg(long)]
        service: Option<String>,
        /// Only direct contacts with this user id.
        #[arg(long)]
        user: Option<String>,
        /// `widget` or `whatsapp`.
        #[arg(long)]
        channel: Option<String>,
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
    /// Usage per UTC day, target (service, or user for direct contacts) and channel: chat
    /// sessions, messages in and out, audio, video and screen-share minutes (decimal,
    /// rounded to 0.01), WhatsApp messages received and sent; the same rows as `GET
    /// /admin/v1/usage`.
    Usage {
        /// The first UTC day, `YYYY-MM-DD` [default: the 30 days up to --to].
        #[arg(long)]
        from: Option<String>,
        /// The last UTC day, included, `YYYY-MM-DD` [default: today]; at most 366 days
        /// from --from.
        #[arg(long)]
        to: Option<String>,
        /// Only sessions for this service id.
        #[arg(long)]
        service: Option<String>,
        /// Only direct contacts with this user id.
        #[arg(long)]
        user: Option<String>,
        /// `widget` or `whatsapp`.
        #[arg(long)]
        channel: Option<String>,
        /// `service` or `user`.
        #[arg(long)]
        kind: Option<String>,
        /// `csv` or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum TemplateCommand {
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

pub(super) async fn embed_code(config: Config, command: EmbedCodeCommand) -> CliResult {
    let state = open(config).await?;
    let store = state.store.as_ref();
    match command {
        EmbedCodeCommand::Create { target, template } => {
            let target: TargetRef = target.parse()?;
            let record = admin::create_embed_code(
                store,
                &state.tenant(),
                target,
                &template,
                state.now(),
                "cli",
            )
            .await?;
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
            admin::revoke_embed_code(store, &code, state.now(), "cli").await?;
            println!("revoked {}", code.trim());
        }
    }
    Ok(())
}

pub(super) async fn template(path: &Path, config: Config, command: TemplateCommand) -> CliResult {
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
            let record = admin::set_template(store, &name, &origins, state.now(), "cli").await?;
            println!("{}  {}", record.name, record.origins.join(" "));
            from_config(&name);
            eprintln!(
                "note: a running server applies this at its next start; the admin API applies it at once"
            );
        }
        TemplateCommand::Delete { name } => {
            admin::delete_template(store, &name, state.now(), "cli").await?;
            println!("deleted {name}");
            from_config(&name);
        }
    }
    Ok(())
}

pub(super) async fn report_command(config: Config, command: ReportCommand) -> CliResult {
    match command {
        ReportCommand::Sessions {
            service,
            user,
            channel,
            kind,
            outcome,
            from,
            to,
            limit,
            format,
        } => {
            let given = [
                ("service", service),
                ("user", user),
                ("channel", channel),
                ("kind", kind),
                ("outcome", outcome),
                ("from", from),
                ("to", to),
                ("limit", limit),
                ("format", Some(format)),
            ];
            sessions_command(config, &given).await
        }
        ReportCommand::Usage {
            from,
            to,
            service,
            user,
            channel,
            kind,
            format,
        } => {
            let given = [
                ("from", from),
                ("to", to),
                ("service", service),
                ("user", user),
                ("channel", channel),
                ("kind", kind),
                ("format", Some(format)),
            ];
            usage_command(config, &given).await
        }
    }
}

/// The options given (name and value) as the pairs a filter reads.
fn pairs<'a>(given: &'a [(&'a str, Option<String>)]) -> impl Iterator<Item = (&'a str, &'a str)> {
    given
        .iter()
        .filter_map(|(name, value)| Some((*name, value.as_deref()?)))
}

/// `report sessions`: the session report of the options `given`.
async fn sessions_command(config: Config, given: &[(&str, Option<String>)]) -> CliResult {
    let filter = report::ReportFilter::from_pairs(pairs(given)).map_err(|e| format!("--{e}"))?;
    let state = open(config).await?;
    let reports = interact_store::session_reports(state.store.as_ref(), &filter).await?;
    match filter.format {
        report::Format::Csv => print!("{}", report::to_csv(&reports)),
        report::Format::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
    }
    Ok(())
}

/// `report usage`: the usage report of the options `given`.
async fn usage_command(config: Config, given: &[(&str, Option<String>)]) -> CliResult {
    let today = report::Day::of(crate::clock::system_now());
    let filter =
        report::UsageFilter::from_pairs(pairs(given), today).map_err(|e| format!("--{e}"))?;
    let state = open(config).await?;
    let tenant = admin::tenant_name(&state.config.server.public_url);
    let rows = interact_store::usage(state.store.as_ref(), &filter, tenant).await?;
    match filter.format {
        report::Format::Csv => print!("{}", report::usage_csv(&rows)),
        report::Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(())
}
