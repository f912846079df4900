//! `cargo xtask test`: every check CI runs, in order, stopping at the first
//! failure, followed by a per-step timing summary.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::Options;
use crate::prereq::{self, Chromium};
use crate::wasm_imports;
use crate::workspace::{self, WASM_CRATES, WASM_TARGET};
use crate::{cmd, dist};

/// Seconds each in-browser test binary may run (the runner's default is 20).
const BROWSER_TEST_TIMEOUT_SECS: &str = "120";

/// Seconds chromedriver may take to start (the runner's default of 5 is tight
/// on a busy CI machine).
const DRIVER_TIMEOUT_SECS: &str = "30";

/// Set to `1` for the native tests under `--skip-browser`: tests that need Chromium skip
/// themselves instead of failing.
const SKIP_BROWSER_ENV: &str = "INTERACT_SKIP_BROWSER";

/// The variable that hands the dist step's tarball to the server's `standalone` test.
const DIST_TARBALL_ENV: &str = "INTERACT_TEST_DIST_TARBALL";

/// State shared by the steps.
#[derive(Debug)]
struct Context {
    options: Options,
    /// Set by the prerequisites step unless browsers are skipped.
    chromium: Option<Chromium>,
    /// The PostgreSQL and NATS servers the tests use, set by the prerequisites step.
    services: Option<prereq::Services>,
}

/// One check: a name for the log and the summary, and what it runs.
struct Step {
    name: &'static str,
    /// Whether `--skip-browser` skips this step.
    needs_browser: bool,
    run: fn(&mut Context) -> Result<()>,
}

const STEPS: &[Step] = &[
    Step {
        name: "prerequisites",
        needs_browser: false,
        run: prerequisites,
    },
    Step {
        name: "rustfmt",
        needs_browser: false,
        run: rustfmt,
    },
    Step {
        name: "clippy (native)",
        needs_browser: false,
        run: clippy_native,
    },
    Step {
        name: "clippy (wasm32)",
        needs_browser: false,
        run: clippy_wasm,
    },
    Step {
        name: "widget build (wasm packages of the widget and the console, for the end-to-end tests)",
        needs_browser: false,
        run: widget_build,
    },
    Step {
        name: "npm package (tsc --noEmit on a TypeScript consumer, npm pack --dry-run)",
        needs_browser: false,
        run: npm_package,
    },
    Step {
        name: "tests (native)",
        needs_browser: false,
        run: tests_native,
    },
    Step {
        name: "dist tarball (packed as `cargo xtask dist` packs it, unpacked alone: pages and a chat)",
        needs_browser: false,
        run: dist_tarball,
    },
    Step {
        name: "tests (wasm32, headless Chromium)",
        needs_browser: true,
        run: tests_browser,
    },
    Step {
        name: "wasm32 imports (no `env` module)",
        needs_browser: false,
        run: wasm_imports,
    },
    Step {
        name: "fuzz (each target briefly, cargo-fuzz)",
        needs_browser: false,
        run: fuzz_short,
    },
    Step {
        name: "container image (docker build, HEALTHCHECK and /healthz; skipped without an engine)",
        needs_browser: false,
        run: container_image,
    },
    Step {
        name: "rustdoc",
        needs_browser: false,
        run: rustdoc,
    },
];

/// The error of a step that cannot run on this machine (and so is skipped, saying why).
#[derive(Debug)]
struct Skip(String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

/// How a step ended, for the summary.
#[derive(Debug)]
enum Outcome {
    Passed(Duration),
    Failed(Duration),
    Skipped,
}

/// Runs every step, then prints the summary; fails with the first failing
/// step's error.
pub(crate) fn run(options: Options) -> Result<()> {
    println!("workspace: {}", workspace::root().display());
    let mut context = Context {
        options,
        chromium: None,
        services: None,
    };
    let mut outcomes = Vec::new();
    let mut failure = None;
    for (index, step) in STEPS.iter().enumerate() {
        println!("\n==> [{}/{}] {}", index + 1, STEPS.len(), step.name);
        if step.needs_browser && options.skip_browser {
            println!("skipped (--skip-browser)");
            outcomes.push((step.name, Outcome::Skipped));
            continue;
        }
        let start = Instant::now();
        let result = (step.run)(&mut context);
        let elapsed = start.elapsed();
        match result {
            Ok(()) => outcomes.push((step.name, Outcome::Passed(elapsed))),
            Err(err) if err.downcast_ref::<Skip>().is_some() => {
                println!("SKIPPED: {err}");
                outcomes.push((step.name, Outcome::Skipped));
            }
            Err(err) => {
                outcomes.push((step.name, Outcome::Failed(elapsed)));
                failure = Some(err.context(format!("step `{}` failed", step.name)));
                break;
            }
        }
    }
    print_summary(&outcomes);
    failure.map_or(Ok(()), Err)
}

fn print_summary(outcomes: &[(&str, Outcome)]) {
    let width = STEPS.iter().map(|step| step.name.len()).max().unwrap_or(0);
    let mut total = Duration::ZERO;
    println!("\n==> summary");
    for (name, outcome) in outcomes {
        let (status, time) = match outcome {
            Outcome::Passed(time) => ("ok", Some(*time)),
            Outcome::Failed(time) => ("FAILED", Some(*time)),
            Outcome::Skipped => ("skipped", None),
        };
        total += time.unwrap_or_default();
        let time = time.map_or_else(String::new, |time| format!("{:>8.1}s", time.as_secs_f64()));
        println!("  {status:<8} {name:<width$} {time}");
    }
    for step in &STEPS[outcomes.len()..] {
        println!("  {:<8} {:<width$}", "not run", step.name);
    }
    println!(
        "  {:<8} {:<width$} {:>8.1}s",
        "",
        "total",
        total.as_secs_f64()
    );
}

fn prerequisites(context: &mut Context) -> Result<()> {
    let (chromium, services) = prereq::ensure_all(!context.options.skip_browser)?;
    context.chromium = chromium;
    context.services = Some(services);
    Ok(())
}

fn rustfmt(_: &mut Context) -> Result<()> {
    cmd::run(cmd::cargo().args(["fmt", "--all", "--check"]))
}

fn widget_build(_: &mut Context) -> Result<()> {
    crate::widget::build()
}

fn npm_package(_: &mut Context) -> Result<()> {
    crate::npm::check()
}

fn clippy_native(_: &mut Context) -> Result<()> {
    cmd::run(cmd::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

fn clippy_wasm(_: &mut Context) -> Result<()> {
    let mut command = cmd::cargo();
    command.arg("clippy");
    for krate in WASM_CRATES {
        command.args(["-p", krate.package]);
    }
    command.args([
        "--target",
        WASM_TARGET,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    cmd::run(&mut command)
}

/// Runs every native test. Some drive headless Chromium (`tests/e2e/tests`: the agent
/// console, the widget, the custom-UI example); with `--skip-browser` they are told to skip
/// through [`SKIP_BROWSER_ENV`].
fn tests_native(context: &mut Context) -> Result<()> {
    let mut command = cmd::cargo();
    command.args(["test", "--workspace"]);
    if let Some(services) = &context.services {
        command.env(prereq::TEST_POSTGRES_ENV, &services.postgres);
        command.env(prereq::TEST_NATS_ENV, &services.nats);
    }
    if context.options.skip_browser {
        command.env(SKIP_BROWSER_ENV, "1");
    }
    // A failure names its tests and panics again at the very end, after the summary.
    cmd::run_noting(&mut command, |line| {
        (line.starts_with("test ") && line.ends_with("FAILED"))
            || line.contains("panicked at")
            || line.starts_with("error: test failed")
    })
}

/// Packs the server binary the native tests built the way `cargo xtask dist` packs the
/// release one (`dist::assemble`, the same files and modes), then runs the server's
/// `standalone` test on it: the tarball unpacked into an empty folder, its binary serves
/// the widget, the console and the admin app and carries a chat. The debug binary stands
/// in for the release one (the same code with the pages built in; a release build with
/// LTO would take longer than the rest of the run).
fn dist_tarball(_: &mut Context) -> Result<()> {
    let binary = workspace::target_dir()
        .join("debug")
        .join("interact-server");
    let tarball = dist::assemble(
        &binary,
        workspace::root(),
        &workspace::target_dir().join("dist-test"),
        &dist::release_name(),
    )?;
    println!("packed {}", tarball.display());
    let mut command = cmd::cargo();
    // Every test target, as the native step built them (`--test standalone` alone would
    // leave the other packages' dev-dependencies out, change features and rebuild half
    // the workspace); the filter runs the one test.
    command
        .args(["test", "--workspace", "--tests"])
        .args([
            "--",
            "--exact",
            "the_binary_alone_serves_the_pages_and_a_chat",
        ])
        .env(DIST_TARBALL_ENV, &tarball);
    cmd::run_noting(&mut command, |line| {
        line.contains("panicked at") || line.starts_with("error: test failed")
    })
}

/// Runs each wasm crate's tests through `wasm-bindgen-test-runner` in headless
/// Chromium.
///
/// The runner reads WebDriver capabilities from `webdriver.json` in its
/// working directory (cargo starts it in the crate directory); the file is
/// passed explicitly through `WASM_BINDGEN_TEST_WEBDRIVER_JSON` so that does
/// not matter. `WASM_BINDGEN_USE_BROWSER` makes test binaries without a
/// `wasm_bindgen_test_configure!` run in the browser too rather than in
/// Node.js, which is not a prerequisite.
fn tests_browser(context: &mut Context) -> Result<()> {
    let chromium = context
        .chromium
        .as_ref()
        .context("the prerequisites step did not locate Chromium")?;
    for krate in WASM_CRATES {
        let webdriver_json = krate.webdriver_json();
        anyhow::ensure!(
            webdriver_json.is_file(),
            "{} is missing; it holds the Chromium flags (e.g. --no-sandbox) the tests need",
            webdriver_json.display()
        );
        let mut command = cmd::cargo();
        command
            .args(["test", "-p", krate.package, "--target", WASM_TARGET])
            .env("CHROMEDRIVER", &chromium.driver)
            .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver_json)
            .env("WASM_BINDGEN_USE_BROWSER", "1");
        env_default(
            &mut command,
            "WASM_BINDGEN_TEST_TIMEOUT",
            BROWSER_TEST_TIMEOUT_SECS,
        );
        env_default(
            &mut command,
            "WASM_BINDGEN_TEST_DRIVER_TIMEOUT",
            DRIVER_TIMEOUT_SECS,
        );
        cmd::run(&mut command)?;
    }
    Ok(())
}

/// Fails if any wasm crate's library, as compiled for wasm32, imports from
/// the `env` module (a sign of C code or an unsupported std API that will not
/// link in a browser).
fn wasm_imports(_: &mut Context) -> Result<()> {
    for krate in WASM_CRATES {
        wasm_imports::check_crate(krate)?;
    }
    Ok(())
}

/// Builds the fuzz targets and runs each for [`crate::fuzz::SHORT_RUN_SECS`].
fn fuzz_short(_: &mut Context) -> Result<()> {
    crate::fuzz::run(crate::fuzz::SHORT_RUN_SECS)
}

/// Builds the container image and checks that it becomes healthy and answers `/healthz`
/// ([`crate::container`]), where a container engine answers; skipped elsewhere.
fn container_image(_: &mut Context) -> Result<()> {
    if let Some(why) = crate::container::unavailable() {
        return Err(Skip(format!(
            "the container image is not built or started here: {why} (it is checked where a \
             container engine answers `docker info`)"
        ))
        .into());
    }
    crate::container::check()
}

fn rustdoc(_: &mut Context) -> Result<()> {
    cmd::run(
        cmd::cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-Dwarnings"),
    )
}

/// Sets `key` for `command` unless the caller's environment already does, so
/// developers can override the defaults.
fn env_default(command: &mut std::process::Command, key: &str, value: &str) {
    if std::env::var_os(key).is_none() {
        command.env(key, value);
    }
}
