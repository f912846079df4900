//! Running external programs: every command is echoed before it starts and a
//! non-zero exit becomes an error that names the command.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::workspace;

/// A `cargo` command run from the workspace root.
///
/// Uses the `CARGO` environment variable when set (as it is under
/// `cargo xtask`), so the same toolchain runs the checks as built xtask.
pub(crate) fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    program_in_root(program)
}

/// A command for `program`, run from the workspace root.
pub(crate) fn program_in_root(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(workspace::root());
    command
}

/// Echoes `command`, runs it with inherited stdio and fails unless it exits
/// successfully.
pub(crate) fn run(command: &mut Command) -> Result<()> {
    let shown = display(command);
    println!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Like [`run`], but reads the command's standard output line by line as it goes
/// (echoing every line) and, if it fails, names in the error the lines `notable` picks
/// (a test run's failed tests and panics): the error is the last thing a log shows.
pub(crate) fn run_noting(command: &mut Command, notable: impl Fn(&str) -> bool) -> Result<()> {
    use std::io::BufRead as _;
    let shown = display(command);
    println!("$ {shown}");
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let mut noted = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let line = line.with_context(|| format!("reading the output of `{shown}`"))?;
            println!("{line}");
            if notable(&line) && noted.len() < 40 {
                noted.push(line);
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{shown}`"))?;
    if !status.success() {
        if noted.is_empty() {
            bail!("`{shown}` failed ({status})");
        }
        bail!("`{shown}` failed ({status}):\n  {}", noted.join("\n  "));
    }
    Ok(())
}

/// Echoes `command`, runs it and returns its standard output; its standard
/// error is passed through. Fails unless the command exits successfully.
pub(crate) fn stdout(command: &mut Command) -> Result<String> {
    let shown = display(command);
    println!("$ {shown}");
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !output.status.success() {
        bail!("`{shown}` failed ({})", output.status);
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{shown}` printed invalid UTF-8"))
}

/// Finds an executable called `name` on `PATH`, like `command -v`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &std::path::Path) -> bool {
    path.with_extension(env::consts::EXE_EXTENSION).is_file()
}

/// Renders `command` as a shell-like line: explicitly set environment
/// variables, then the program and its arguments.
fn display(command: &Command) -> String {
    let envs = command.get_envs().filter_map(|(key, value)| {
        value.map(|value| format!("{}={}", key.to_string_lossy(), quote(value)))
    });
    let program = std::iter::once(quote(command.get_program()));
    let args = command.get_args().map(quote);
    envs.chain(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `word` for display when a shell would need it.
fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_env_program_and_quoted_args() {
        let mut command = Command::new("cargo");
        command
            .env("RUSTDOCFLAGS", "-Dwarnings")
            .args(["doc", "--no-deps", "two words", "it's"]);
        assert_eq!(
            display(&command),
            r"RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps 'two words' 'it'\''s'"
        );
    }
}
