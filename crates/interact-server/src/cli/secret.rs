//! The hashes a configuration holds: agents' passwords and the admin token.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use super::CliResult;
use crate::auth;

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

pub(super) fn hash_password() -> CliResult {
    let password = read_secret("Password")?;
    println!("{}", auth::hash_password(&password));
    Ok(())
}

pub(super) fn hash_token() -> CliResult {
    let token = read_secret("Token")?;
    println!("{}", auth::token_hash(&token));
    Ok(())
}
