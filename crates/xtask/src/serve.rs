//! `cargo xtask serve`: builds the reference server and starts it as a demo
//! (`interact-server serve --demo --config config/demo.toml`: the demo tenant, a SQLite
//! file under `data/`; the server refuses the demo's public admin token and `[demo]`
//! section without `--demo`). The server prints the URLs of the agent console, the
//! Preview page and the demo host page, and the demo agents' sign-in names; Ctrl-C stops
//! it gracefully.
//!
//! Before it installs or builds anything it says what it will install and about how long
//! the run takes ([`Plan`]: figures measured on a first run, or this machine's last
//! build), and after the build how long that took. The server is a debug build (fast to
//! compile) with Argon2 and its hash optimised (`[profile.dev.package.*]` in the
//! workspace `Cargo.toml`), so that sign-ins are not slow.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::prereq::{self, Install};
use crate::{cmd, widget, workspace};

/// The configuration the server starts with, relative to the workspace root.
const DEMO_CONFIG: &str = "config/demo.toml";

/// The CPU cores of the machine the first-run figures below were measured on (a shared
/// virtual machine: a build of someone else's ran alongside).
const MEASURED_CORES: usize = 2;

/// Seconds `cargo install wasm-bindgen-cli` took there (274).
const WASM_BINDGEN_CLI_SECS: u64 = 275;

/// Seconds a download (a rustup target or component, binaryen with apt-get) takes on a
/// good connection: an estimate, not measured.
const DOWNLOAD_SECS: u64 = 30;

/// Seconds the first build of the wasm packages (the widget's three and the console's,
/// release builds for size, with wasm-opt and the precompressed copies) took there,
/// xtask's own first build included (51 + 97).
const WIDGET_SECS: u64 = 150;

/// Seconds the first debug build of the server (`cargo build -p interact-server`, every
/// dependency) took there (322).
const SERVER_SECS: u64 = 330;

/// Builds the wasm packages of the widget and the agent console (with what that needs),
/// then runs the server in the foreground until it stops.
pub(crate) fn run() -> Result<()> {
    let plan = Plan {
        installs: prereq::wasm_installs()?,
        packages_built: widget::pkg_dir().is_dir(),
        server_built: server_binary().is_file(),
        last_build: last_build(),
    };
    print!("{}", plan.describe(cores()));
    let started = Instant::now();
    prereq::ensure_toolchain()?;
    prereq::ensure_test_runner()?;
    prereq::ensure_wasm_opt()?;
    let installed = started.elapsed();
    widget::build()?;
    let packaged = started.elapsed();
    // A debug build: it compiles much faster than `--release` and serves a demo well;
    // Argon2 is optimised even here (the workspace's `[profile.dev.package.*]`).
    cmd::run(cmd::cargo().args(["build", "--package", "interact-server"]))?;
    let built = started.elapsed();
    println!(
        "cargo xtask serve: ready in {} (installing {}, wasm packages {}, server {})",
        minutes(built),
        minutes(installed),
        minutes(packaged - installed),
        minutes(built - packaged),
    );
    record_build(built);
    cmd::run(cmd::cargo().args([
        "run",
        "--package",
        "interact-server",
        "--",
        "serve",
        // The demo's public admin token and `[demo]` section: only with `--demo`.
        "--demo",
        "--config",
        DEMO_CONFIG,
    ]))
}

/// What a run of `serve` is about to do on this machine, said before it does it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// What is missing and will be installed.
    installs: Vec<Install>,
    /// Whether the wasm packages were built before (a rebuild is quick).
    packages_built: bool,
    /// Whether the server was built before (a rebuild is quick).
    server_built: bool,
    /// How long this machine's last `serve` took to install and build.
    last_build: Option<Duration>,
}

impl Plan {
    /// The lines printed before anything is installed: each install and first build with
    /// its measured time (scaled to `cores`), and the total.
    fn describe(&self, cores: usize) -> String {
        // Compiling scales with the cores; downloads do not.
        let scaled = |secs: u64| {
            let cores = cores.clamp(1, 16) as u64;
            Duration::from_secs((secs * MEASURED_CORES as u64).div_ceil(cores))
        };
        let mut steps: Vec<(String, Duration)> = Vec::new();
        for install in &self.installs {
            steps.push(match install {
                Install::Components(names) => (
                    format!("install the rustup components {}", names.join(", ")),
                    Duration::from_secs(DOWNLOAD_SECS),
                ),
                Install::WasmTarget => (
                    format!("install the rustup target {}", workspace::WASM_TARGET),
                    Duration::from_secs(DOWNLOAD_SECS),
                ),
                Install::WasmBindgenCli(version) => (
                    format!(
                        "install wasm-bindgen-cli {version} (cargo install: compiles it; \
                         wasm-bindgen and its test runner)"
                    ),
                    scaled(WASM_BINDGEN_CLI_SECS),
                ),
                Install::WasmOpt => (
                    "install binaryen (wasm-opt) with apt-get".to_owned(),
                    Duration::from_secs(DOWNLOAD_SECS),
                ),
            });
        }
        if !self.packages_built {
            steps.push((
                "build the wasm packages (widget, console) for the first time".to_owned(),
                scaled(WIDGET_SECS),
            ));
        }
        if !self.server_built {
            steps.push((
                "build the server (debug, Argon2 optimised) for the first time".to_owned(),
                scaled(SERVER_SECS),
            ));
        }
        let mut out = String::from("cargo xtask serve: before the server starts, this run will\n");
        if self.installs.is_empty() {
            out.push_str(
                "  install nothing (the wasm32 target, wasm-bindgen-cli and wasm-opt are there)\n",
            );
        }
        for (what, takes) in &steps {
            let _ = writeln!(out, "  {what}: about {}", minutes(*takes));
        }
        if steps.is_empty() {
            let _ = writeln!(
                out,
                "  rebuild what changed: {}",
                match self.last_build {
                    Some(last) => format!("the last run took {}", minutes(last)),
                    None => "a minute or two".to_owned(),
                }
            );
        } else {
            let total: Duration = steps.iter().map(|(_, takes)| *takes).sum();
            let _ = writeln!(
                out,
                "  in all about {} (measured on {MEASURED_CORES} cores, this machine has \
                 {cores}); later runs a minute or two (the wasm packages are optimised \
                 again, the server embeds them)",
                minutes(total)
            );
        }
        out
    }
}

/// `1 min 05 s`, `42 s`.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

/// The CPU cores cargo will use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The server's debug binary.
fn server_binary() -> PathBuf {
    workspace::target_dir()
        .join("debug")
        .join(format!("interact-server{}", std::env::consts::EXE_SUFFIX))
}

/// Where the last run's install and build time is kept (seconds).
fn last_build_file() -> PathBuf {
    workspace::target_dir()
        .join("xtask")
        .join("serve-build-secs")
}

fn last_build() -> Option<Duration> {
    let text = std::fs::read_to_string(last_build_file()).ok()?;
    text.trim().parse().ok().map(Duration::from_secs)
}

fn record_build(took: Duration) {
    let file = last_build_file();
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(file, format!("{}\n", took.as_secs()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_run_says_what_it_installs_and_how_long_it_takes() {
        let plan = Plan {
            installs: vec![
                Install::WasmTarget,
                Install::WasmBindgenCli("0.2.130".into()),
            ],
            packages_built: false,
            server_built: false,
            last_build: None,
        };
        let text = plan.describe(MEASURED_CORES);
        assert!(
            text.contains("rustup target wasm32-unknown-unknown"),
            "{text}"
        );
        assert!(text.contains("wasm-bindgen-cli 0.2.130"), "{text}");
        assert!(text.contains("build the server"), "{text}");
        let total = DOWNLOAD_SECS + WASM_BINDGEN_CLI_SECS + WIDGET_SECS + SERVER_SECS;
        assert!(
            text.contains(&format!(
                "in all about {}",
                minutes(Duration::from_secs(total))
            )),
            "{text}"
        );
        // Twice the cores: the compiling half as long, the download as long.
        let faster = plan.describe(2 * MEASURED_CORES);
        let half = |secs: u64| secs.div_ceil(2);
        let total =
            DOWNLOAD_SECS + half(WASM_BINDGEN_CLI_SECS) + half(WIDGET_SECS) + half(SERVER_SECS);
        assert!(
            faster.contains(&format!(
                "in all about {}",
                minutes(Duration::from_secs(total))
            )),
            "{faster}"
        );
    }

    #[test]
    fn a_later_run_installs_nothing_and_names_the_last_build() {
        let plan = Plan {
            installs: Vec::new(),
            packages_built: true,
            server_built: true,
            last_build: Some(Duration::from_secs(75)),
        };
        let text = plan.describe(8);
        assert!(text.contains("install nothing"), "{text}");
        assert!(text.contains("the last run took 1 min 15 s"), "{text}");
        assert!(!text.contains("in all"), "{text}");
    }
}
