//! Project automation for the Interact workspace, run as `cargo xtask <COMMAND>`.
//!
//! `cargo xtask test` is the single entry point for every check CI runs
//! (`.ci/run` calls exactly that), so a green local run means a green CI run.
//! Everything it needs beyond `cargo` and `rustup` is installed on demand; see
//! [`prereq`].

mod cluster;
mod cmd;
mod container;
mod dist;
mod fuzz;
mod import_names;
mod npm;
mod prereq;
mod serve;
mod test;
mod wasm_imports;
mod widget;
mod workspace;

use std::fmt;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: cargo xtask <COMMAND> [OPTIONS]

Commands:
  test     Run every check CI runs, stopping at the first failure:
           prerequisites, rustfmt, clippy (native and wasm32), the npm package
           (tsc on a TypeScript consumer, npm pack), native tests, the dist
           tarball (its binary unpacked alone, a chat), wasm tests in headless Chromium, wasm import check, short fuzz runs, the container
           image (where `docker info` succeeds; skipped elsewhere), rustdoc
  fuzz     Run every fuzz target (tests/fuzz) for --secs N seconds each
           (default 600), two at a time; installs cargo-fuzz if needed
  prereq   Only install what `test` needs: the wasm32 target, the pinned
           wasm-bindgen-test-runner, Chromium and chromedriver, axe-core and
           TypeScript (npm, into target/npm), schemathesis (PyPI, into
           target/schemathesis-venv)
  serve    Build the wasm packages and the reference server (debug, Argon2
           optimised) and start it with the demo tenant (config/demo.toml); it says
           first what it will install and how long the run takes, then how long the
           build took, and prints the URLs to open. Ctrl-C stops it
  cluster  Like serve, but three nodes (a, b, c) on PostgreSQL and NATS behind a TCP
           proxy on 127.0.0.1:8090 (config and logs in data/cluster/); it prints the
           URLs and the nodes' PIDs, to try failover with `kill -9`. Ctrl-C stops them
  dist     Build the release for operators: the wasm packages, then the server
           (release, stripped, the pages built in), packed with a README, the
           example configuration and a systemd unit into
           target/dist/interact-<version>-<arch>-<os>.tar.gz
  widget   Only build the wasm packages: the widget's into www/widget/pkg, the
           agent console's into www/console/pkg; and the JavaScript SDK's npm
           package (target/npm-package/interact-sdk; `npm pack` there packs it)
  npm      Like widget, then check the npm package as `test` does: tsc --noEmit
           on a TypeScript consumer (TypeScript from npm into target/npm), and
           the files `npm pack --dry-run` lists
  help     Print this message

Options:
  --skip-browser   Do not require Chromium and skip the in-browser wasm tests
                   (for machines without Chromium; CI never passes this)
  --secs N         fuzz: seconds each target runs
";

/// A parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Test(Options),
    Prereq(Options),
    Serve,
    Cluster,
    Dist,
    Widget,
    Npm,
    Fuzz { secs: u64 },
    Help,
}

/// Options shared by the commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Options {
    /// Skip everything that needs Chromium.
    skip_browser: bool,
}

/// A command line that could not be understood.
#[derive(Debug, PartialEq, Eq)]
struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the arguments that follow the program name.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(command) = args.next() else {
        return Err(UsageError("no command given".to_owned()));
    };
    let mut options = Options::default();
    if command == "fuzz" {
        let mut secs = 600;
        while let Some(arg) = args.next() {
            match (arg.as_str(), args.next()) {
                ("--secs", Some(n)) => {
                    secs = n
                        .parse()
                        .map_err(|_| UsageError(format!("--secs takes seconds, not `{n}`")))?;
                }
                _ => return Err(UsageError(format!("unknown argument `{arg}`"))),
            }
        }
        return Ok(Command::Fuzz { secs });
    }
    for arg in args {
        match arg.as_str() {
            "--skip-browser" => options.skip_browser = true,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(UsageError(format!("unknown argument `{other}`"))),
        }
    }
    match command.as_str() {
        "test" => Ok(Command::Test(options)),
        "prereq" => Ok(Command::Prereq(options)),
        "serve" if options.skip_browser => Err(UsageError(
            "`--skip-browser` does not apply to `serve`".to_owned(),
        )),
        "serve" => Ok(Command::Serve),
        "cluster" if options.skip_browser => Err(UsageError(
            "`--skip-browser` does not apply to `cluster`".to_owned(),
        )),
        "cluster" => Ok(Command::Cluster),
        "dist" if options.skip_browser => Err(UsageError(
            "`--skip-browser` does not apply to `dist`".to_owned(),
        )),
        "dist" => Ok(Command::Dist),
        "widget" if options.skip_browser => Err(UsageError(
            "`--skip-browser` does not apply to `widget`".to_owned(),
        )),
        "widget" => Ok(Command::Widget),
        "npm" if options.skip_browser => Err(UsageError(
            "`--skip-browser` does not apply to `npm`".to_owned(),
        )),
        "npm" => Ok(Command::Npm),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(UsageError(format!("unknown command `{other}`"))),
    }
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("error: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Test(options) => test::run(options),
        Command::Prereq(options) => prereq::ensure_all(!options.skip_browser).map(drop),
        Command::Serve => serve::run(),
        Command::Cluster => cluster::run(),
        Command::Dist => dist::run(),
        Command::Fuzz { secs } => fuzz::run(secs),
        Command::Widget => prereq::ensure_toolchain()
            .and_then(|()| prereq::ensure_test_runner())
            .and_then(|()| prereq::ensure_wasm_opt())
            .and_then(|()| widget::build()),
        Command::Npm => prereq::ensure_toolchain()
            .and_then(|()| prereq::ensure_test_runner())
            .and_then(|()| prereq::ensure_wasm_opt())
            .and_then(|()| widget::build())
            .and_then(|()| npm::check()),
        Command::Help => {
            print!("{USAGE}");
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nerror: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        parse_args(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn parses_commands_and_options() {
        assert_eq!(parse(&["test"]), Ok(Command::Test(Options::default())));
        assert_eq!(
            parse(&["test", "--skip-browser"]),
            Ok(Command::Test(Options { skip_browser: true }))
        );
        assert_eq!(parse(&["prereq"]), Ok(Command::Prereq(Options::default())));
        assert_eq!(parse(&["serve"]), Ok(Command::Serve));
        assert_eq!(parse(&["cluster"]), Ok(Command::Cluster));
        assert_eq!(parse(&["widget"]), Ok(Command::Widget));
        assert_eq!(parse(&["dist"]), Ok(Command::Dist));
        assert_eq!(parse(&["npm"]), Ok(Command::Npm));
        assert_eq!(parse(&["help"]), Ok(Command::Help));
        assert_eq!(parse(&["fuzz"]), Ok(Command::Fuzz { secs: 600 }));
        assert_eq!(
            parse(&["fuzz", "--secs", "30"]),
            Ok(Command::Fuzz { secs: 30 })
        );
        assert!(parse(&["fuzz", "--secs", "x"]).is_err());
        assert_eq!(parse(&["test", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn rejects_unknown_input() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["tset"]).is_err());
        assert!(parse(&["test", "--fast"]).is_err());
        assert!(parse(&["serve", "--skip-browser"]).is_err());
        assert!(parse(&["cluster", "--skip-browser"]).is_err());
        assert!(parse(&["dist", "--skip-browser"]).is_err());
    }
}
