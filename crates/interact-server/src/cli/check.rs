//! `interact-server config check`: the effective configuration, secrets masked, and every
//! problem with its place; no database needed.

use std::path::Path;

use super::CliResult;
use crate::config::Checked;

/// Prints the effective settings (standard output), then the warnings and problems
/// (standard error); an error if there is a problem. `demo` allows the demo's token and
/// section, as `serve --demo` does.
pub(super) fn check(
    path: Option<&Path>,
    demo: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> CliResult {
    let mut checked = Checked::load(path, env);
    if !demo {
        checked.refuse_demo();
    }
    checked.check_folders();
    match path {
        Some(file) => println!(
            "# The effective configuration: {} with the INTERACT_* environment variables \
             over it (each value's source after it; secrets masked).",
            file.display()
        ),
        None => println!(
            "# The effective configuration: no file, the INTERACT_* environment variables \
             alone (secrets masked)."
        ),
    }
    print!("{}", checked.effective());
    for warning in &checked.warnings {
        eprintln!("warning: {warning}");
    }
    for problem in &checked.problems {
        eprintln!("problem: {problem}");
    }
    match checked.problems.len() {
        0 => {
            eprintln!("The configuration is fine.");
            Ok(())
        }
        1 => Err("1 problem in the configuration".into()),
        n => Err(format!("{n} problems in the configuration").into()),
    }
}
