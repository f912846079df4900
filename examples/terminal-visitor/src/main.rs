//! `cargo run -p interact-terminal-visitor -- --code ie1_interactdemowidgetsupporta`
//! (with the server started by `cargo xtask serve` in another terminal, and an agent signed
//! in, hence available, at <http://127.0.0.1:8080/console/>).
//!
//! A terminal visitor client on `interact-sdk`: fill in the pre-chat form, then every line
//! is a chat message; `/end` ends the chat, `/quit` quits. `--origin` is the website the
//! client says it is on: the server checks it against the embed code's Domain Template,
//! as it does for browsers. It is a browser protection, not authentication (see the crate
//! docs).

use std::process::ExitCode;

use clap::Parser;
use interact_terminal_visitor::{Driver, Options, Outcome, visitor_url};

/// Chat with an Interact agent from a terminal.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server: http:// gives ws://, https:// gives wss:// (needs a TLS-enabled build).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The embed code (the demo code of config/demo.toml by default).
    #[arg(long, default_value = "ie1_interactdemowidgetsupporta")]
    code: String,
    /// The `Origin` header: a website the embed code's Domain Template allows. Browsers
    /// send it themselves; it protects them, it is not a credential.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    origin: String,
    /// Seed for message ids (random by default).
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let url = match visitor_url(&args.server, &args.code) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = Options {
        url,
        origin: args.origin,
        seed: args.seed.unwrap_or_else(rand::random),
    };
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    match Driver::new(options, input, tokio::io::stdout()).run().await {
        Ok(Outcome::Ended(_) | Outcome::Quit) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
