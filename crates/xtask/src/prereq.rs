//! Tools the checks need beyond `cargo` and `rustup`, installed on demand so a
//! fresh machine (or CI container) needs no manual setup:
//!
//! - the Rust components and target named in `rust-toolchain.toml`
//!   (`rustup` does not add them to an already installed toolchain);
//! - `wasm-bindgen-test-runner` (the `.cargo/config.toml` runner for wasm32) at
//!   exactly the `wasm-bindgen` version pinned in the workspace `Cargo.toml`,
//!   because the CLI refuses test binaries built by a different version;
//! - Chromium and chromedriver for the headless browser tests, and axe-core (from npm,
//!   into `target/npm`), which the admin app's browser test injects into every page;
//! - TypeScript (from npm, into `target/npm` too), whose `tsc` checks the npm package's
//!   declarations against a consumer ([`crate::npm::check`]);
//! - a PostgreSQL server for the PostgreSQL store's tests (Debian's `postgresql`,
//!   installed and started when nothing answers on 127.0.0.1:5432);
//! - a NATS server for the cluster tests (Debian's `nats-server`, installed and started
//!   when nothing answers on 127.0.0.1:4222);
//! - schemathesis (from PyPI, at the version its requirements file pins) for the admin
//!   API's fuzz test, in a Python virtual environment of its own,
//!   `target/schemathesis-venv`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail, ensure};

use crate::cmd;
use crate::workspace::{self, WASM_TARGET};

/// The rustup components the checks use.
const COMPONENTS: &[&str] = &["clippy", "rustfmt"];

/// The binary `cargo test` runs wasm32 test artefacts with.
const TEST_RUNNER: &str = "wasm-bindgen-test-runner";

/// Debian/Ubuntu packages providing [`Chromium::browser`] and
/// [`Chromium::driver`].
const CHROMIUM_PACKAGES: &[&str] = &["chromium", "chromium-driver"];

/// A headless-capable Chromium and the matching WebDriver server.
#[derive(Debug, Clone)]
pub(crate) struct Chromium {
    /// The browser executable.
    pub(crate) browser: PathBuf,
    /// The chromedriver executable.
    pub(crate) driver: PathBuf,
}

/// Ensures every prerequisite of `cargo xtask test`; Chromium only when
/// `with_browser` is set. Returns the Chromium found, if it was required, and the
/// PostgreSQL URL the tests use.
pub(crate) fn ensure_all(with_browser: bool) -> Result<(Option<Chromium>, Services)> {
    ensure_toolchain()?;
    ensure_test_runner()?;
    ensure_wasm_opt()?;
    ensure_schemathesis()?;
    let services = Services {
        postgres: ensure_postgres()?,
        nats: ensure_nats()?,
    };
    ensure_typescript()?;
    let chromium = with_browser.then(ensure_chromium).transpose()?;
    if with_browser {
        ensure_axe()?;
    }
    Ok((chromium, services))
}

/// The TypeScript version range the npm package's check uses.
const TYPESCRIPT: &str = "typescript@5";

/// Ensures TypeScript's compiler for the npm package's check: installed with `npm install
/// --prefix target/npm typescript@5` (never globally) when `target/npm/node_modules/.bin/
/// tsc` is missing. Needs `npm` (Node.js) and the npm registry. Returns `tsc`.
pub(crate) fn ensure_typescript() -> Result<PathBuf> {
    let prefix = workspace::root().join("target/npm");
    let tsc = prefix.join("node_modules/.bin/tsc");
    if tsc.is_file() {
        println!("tsc: {}", tsc.display());
        return Ok(tsc);
    }
    if cmd::find_on_path("npm").is_none() {
        bail!(
            "npm is not on PATH: the npm package's check installs TypeScript from npm. \
             Install Node.js (e.g. `apt-get install -y nodejs npm`)"
        );
    }
    std::fs::create_dir_all(&prefix).with_context(|| format!("create {}", prefix.display()))?;
    cmd::run(
        cmd::program_in_root("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(TYPESCRIPT),
    )?;
    ensure!(
        tsc.is_file(),
        "npm installed TypeScript, but {} is not there",
        tsc.display()
    );
    Ok(tsc)
}

/// The requirements file pinning schemathesis, the property-based API fuzzer of the admin
/// API's test (`crates/interact-server/tests/openapi_fuzz.rs`, which reads it too).
const SCHEMATHESIS_REQUIREMENTS: &str =
    "crates/interact-server/tests/openapi_fuzz/requirements.txt";

/// Where schemathesis is installed (the fuzz test looks there).
fn schemathesis_venv() -> PathBuf {
    workspace::target_dir().join("schemathesis-venv")
}

/// Ensures schemathesis at the pinned version in [`schemathesis_venv`]: `python3 -m
/// venv` there, then `pip install -r` [`SCHEMATHESIS_REQUIREMENTS`], recorded by a copy
/// of the requirements (`installed-requirements.txt`), so that a changed pin installs
/// again. Needs Python 3.11 or later with `venv` (on Debian, as root, `python3` and
/// `python3-venv` are installed with apt when missing) and PyPI.
pub(crate) fn ensure_schemathesis() -> Result<()> {
    let venv = schemathesis_venv();
    let requirements = workspace::root().join(SCHEMATHESIS_REQUIREMENTS);
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp = venv.join("installed-requirements.txt");
    if venv.join("bin/schemathesis").is_file()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted)
    {
        println!("schemathesis: {}", venv.display());
        return Ok(());
    }
    if !venv.join("bin/pip").is_file() {
        let python = python_with_venv()?;
        cmd::run(
            cmd::program_in_root(&python)
                .args(["-m", "venv"])
                .arg(&venv),
        )?;
    }
    cmd::run(
        cmd::program_in_root(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    ensure!(
        venv.join("bin/schemathesis").is_file(),
        "pip installed {}, but {} has no bin/schemathesis",
        requirements.display(),
        venv.display()
    );
    println!("schemathesis: installed into {}", venv.display());
    Ok(())
}

/// A Python of at least 3.11 on `PATH` that can make virtual environments (`python3`,
/// else `python3.13`, `python3.12`, `python3.11`), installing Debian's `python3` and
/// `python3-venv` with apt as root when there is none.
fn python_with_venv() -> Result<PathBuf> {
    let find = || {
        ["python3", "python3.13", "python3.12", "python3.11"]
            .into_iter()
            .filter_map(cmd::find_on_path)
            .find(|python| {
                std::process::Command::new(python)
                    .args([
                        "-c",
                        "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))",
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    };
    if let Some(python) = find() {
        return Ok(python);
    }
    if cmd::find_on_path("apt-get").is_none() || !is_root()? {
        bail!(
            "the admin API's fuzz test needs schemathesis, which needs Python 3.11 or later \
             with venv on PATH as python3 (Debian: `apt-get install -y python3 \
             python3-venv`), or run this as root on Debian, where it installs them"
        );
    }
    let apt_get = || {
        let mut command = cmd::program_in_root("apt-get");
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    cmd::run(apt_get().arg("update"))?;
    cmd::run(apt_get().args(["install", "-y", "python3", "python3-venv"]))?;
    find().context("no Python 3.11 or later with venv on PATH after installing python3-venv")
}

/// The axe-core version range the accessibility checks use.
const AXE_CORE: &str = "axe-core@4";

/// Where the browser tests read axe-core from (`tests/e2e/src/axe.rs` looks there too).
pub(crate) fn axe_script() -> PathBuf {
    workspace::root().join("target/npm/node_modules/axe-core/axe.min.js")
}

/// Ensures axe-core's script for the admin app's accessibility checks: installed with
/// `npm install --prefix target/npm axe-core@4` when `target/npm/node_modules/axe-core/
/// axe.min.js` is missing. Needs `npm` (Node.js) and the npm registry.
pub(crate) fn ensure_axe() -> Result<()> {
    let script = axe_script();
    if script.is_file() {
        println!("axe-core: {}", script.display());
        return Ok(());
    }
    if cmd::find_on_path("npm").is_none() {
        bail!(
            "npm is not on PATH: the admin app's browser test injects axe-core from npm. \
             Install Node.js (e.g. `apt-get install -y nodejs npm`), or pass --skip-browser"
        );
    }
    let prefix = workspace::root().join("target/npm");
    std::fs::create_dir_all(&prefix).with_context(|| format!("create {}", prefix.display()))?;
    cmd::run(
        cmd::program_in_root("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(AXE_CORE),
    )?;
    ensure!(
        script.is_file(),
        "npm installed axe-core, but {} is not there",
        script.display()
    );
    Ok(())
}

/// The servers the tests use, as URLs.
#[derive(Debug, Clone)]
pub(crate) struct Services {
    /// PostgreSQL ([`TEST_POSTGRES_ENV`]).
    pub(crate) postgres: String,
    /// NATS ([`TEST_NATS_ENV`]).
    pub(crate) nats: String,
}

/// The environment variable naming the NATS server the cluster tests use.
pub(crate) const TEST_NATS_ENV: &str = "INTERACT_TEST_NATS";

/// Where the tests find NATS unless [`TEST_NATS_ENV`] says otherwise.
const DEFAULT_NATS: &str = "nats://127.0.0.1:4222";

/// Ensures a NATS server for the tests and returns its URL: the one [`TEST_NATS_ENV`]
/// names, else the one answering on 127.0.0.1:4222, else Debian's `nats-server`,
/// installed (as root, with apt) and started here in the background (with JetStream,
/// on loopback only; it keeps running after the tests, as a system service would).
pub(crate) fn ensure_nats() -> Result<String> {
    if let Ok(url) = std::env::var(TEST_NATS_ENV) {
        println!("NATS: {TEST_NATS_ENV} (set by you)");
        return Ok(url);
    }
    if answers(4222) {
        println!("NATS: 127.0.0.1:4222 answers");
        return Ok(DEFAULT_NATS.to_owned());
    }
    println!("NATS: nothing answers on 127.0.0.1:4222");
    if cmd::find_on_path("nats-server").is_none() {
        if cmd::find_on_path("apt-get").is_none() || !is_root()? {
            bail!(
                "the cluster tests need a NATS server: start `nats-server -js -a 127.0.0.1 \
                 -p 4222`, set {TEST_NATS_ENV}=nats://host:port, or run this as root on \
                 Debian, where it installs and starts the `nats-server` package"
            );
        }
        let apt_get = || {
            let mut command = cmd::program_in_root("apt-get");
            command.env("DEBIAN_FRONTEND", "noninteractive");
            command
        };
        cmd::run(apt_get().arg("update"))?;
        cmd::run(apt_get().args(["install", "-y", "nats-server"]))?;
    }
    let log = workspace::target_dir().join("nats-server.log");
    std::fs::create_dir_all(workspace::target_dir())?;
    let log_file = std::fs::File::create(&log)?;
    std::process::Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", "4222"])
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .context("cannot start nats-server")?;
    for _ in 0..50 {
        if answers(4222) {
            println!("NATS: started on 127.0.0.1:4222 (log: {})", log.display());
            return Ok(DEFAULT_NATS.to_owned());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bail!(
        "nats-server was started but nothing answers on 127.0.0.1:4222 (see {})",
        log.display()
    )
}

/// The environment variable naming the PostgreSQL server the tests use (a URL of a
/// database to connect to for `CREATE DATABASE`), as `interact-store-postgres` reads it.
pub(crate) const TEST_POSTGRES_ENV: &str = "INTERACT_TEST_POSTGRES";

/// Where the tests find PostgreSQL unless [`TEST_POSTGRES_ENV`] says otherwise: this
/// project's machines run it there with trust authentication on loopback.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The password `cargo xtask` gives the `postgres` role of a server it installed itself
/// (Debian's loopback connections ask for one). Only ever on loopback, for tests.
const INSTALLED_POSTGRES: &str = "postgres://postgres:interact-tests@127.0.0.1:5432/postgres";

/// Ensures a PostgreSQL server for the tests and returns its URL: the one
/// [`TEST_POSTGRES_ENV`] names, else the one answering on 127.0.0.1:5432, else Debian's
/// `postgresql`, installed (as root, with apt) and started here.
pub(crate) fn ensure_postgres() -> Result<String> {
    if let Ok(url) = std::env::var(TEST_POSTGRES_ENV) {
        println!("PostgreSQL: {TEST_POSTGRES_ENV} (set by you)");
        return Ok(url);
    }
    if postgres_answers() {
        println!("PostgreSQL: 127.0.0.1:5432 answers");
        return Ok(DEFAULT_POSTGRES.to_owned());
    }
    println!("PostgreSQL: nothing answers on 127.0.0.1:5432");
    if cmd::find_on_path("apt-get").is_none() || !is_root()? {
        bail!(
            "the PostgreSQL store's tests need a PostgreSQL server: start one on \
             127.0.0.1:5432 that the `postgres` role may use without a password, set \
             {TEST_POSTGRES_ENV}=postgres://user:password@host:port/postgres, or run this \
             as root on Debian, where it installs and starts the `postgresql` package"
        );
    }
    if cmd::find_on_path("pg_ctlcluster").is_none() {
        let apt_get = || {
            let mut command = cmd::program_in_root("apt-get");
            command.env("DEBIAN_FRONTEND", "noninteractive");
            command
        };
        cmd::run(apt_get().arg("update"))?;
        cmd::run(apt_get().args(["install", "-y", "postgresql"]))?;
    }
    // Debian keeps one cluster per major version under /etc/postgresql/<version>/main.
    let version = std::fs::read_dir("/etc/postgresql")
        .context("no /etc/postgresql after installing postgresql")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
        .context("no PostgreSQL cluster in /etc/postgresql")?;
    // Already running (on another port, say) is not an error; the check below decides.
    let _ = cmd::run(cmd::program_in_root("pg_ctlcluster").args([&version, "main", "start"]));
    for _ in 0..50 {
        if postgres_answers() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    ensure!(
        postgres_answers(),
        "PostgreSQL {version} was started but nothing answers on 127.0.0.1:5432"
    );
    cmd::run(cmd::program_in_root("su").args([
        "postgres",
        "-c",
        "psql -q -c \"ALTER ROLE postgres PASSWORD 'interact-tests'\"",
    ]))?;
    println!("PostgreSQL {version}: installed and started on 127.0.0.1:5432");
    Ok(INSTALLED_POSTGRES.to_owned())
}

/// Whether something accepts TCP connections on PostgreSQL's port on loopback.
fn postgres_answers() -> bool {
    answers(5432)
}

/// Whether something accepts TCP connections on `port` of 127.0.0.1.
fn answers(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_ok()
}

/// Something [`ensure_toolchain`], [`ensure_test_runner`] or [`ensure_wasm_opt`] would
/// install on this machine now ([`wasm_installs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Install {
    /// Rustup components (`clippy`, `rustfmt`): a download.
    Components(Vec<&'static str>),
    /// The [`WASM_TARGET`] standard library: a download.
    WasmTarget,
    /// `wasm-bindgen-cli` at this version, compiled by `cargo install`.
    WasmBindgenCli(String),
    /// `binaryen` (for `wasm-opt`) with apt-get.
    WasmOpt,
}

/// The [`COMPONENTS`] missing from the active toolchain.
fn missing_components() -> Result<Vec<&'static str>> {
    let installed = cmd::stdout(rustup().args(["component", "list", "--installed"]))?;
    Ok(COMPONENTS
        .iter()
        .copied()
        .filter(|component| {
            !installed.lines().any(|line| {
                line.trim().starts_with(&format!("{component}-")) || line.trim() == *component
            })
        })
        .collect())
}

/// Whether the active toolchain has [`WASM_TARGET`].
fn has_wasm_target() -> Result<bool> {
    let targets = cmd::stdout(rustup().args(["target", "list", "--installed"]))?;
    Ok(targets.lines().any(|line| line.trim() == WASM_TARGET))
}

/// What building the wasm packages would install first (what [`ensure_toolchain`],
/// [`ensure_test_runner`] and [`ensure_wasm_opt`] do when something is missing), found
/// without installing anything.
pub(crate) fn wasm_installs() -> Result<Vec<Install>> {
    let mut installs = Vec::new();
    let components = missing_components()?;
    if !components.is_empty() {
        installs.push(Install::Components(components));
    }
    if !has_wasm_target()? {
        installs.push(Install::WasmTarget);
    }
    let wanted = workspace::pinned_version("wasm-bindgen")?;
    if test_runner_version()?.as_deref() != Some(wanted.as_str()) {
        installs.push(Install::WasmBindgenCli(wanted));
    }
    if cmd::find_on_path("wasm-opt").is_none()
        && cmd::find_on_path("apt-get").is_some()
        && is_root()?
    {
        installs.push(Install::WasmOpt);
    }
    Ok(installs)
}

/// Ensures the active toolchain has [`COMPONENTS`] and [`WASM_TARGET`].
pub(crate) fn ensure_toolchain() -> Result<()> {
    let missing = missing_components()?;
    if missing.is_empty() {
        println!("rustup components {}: installed", COMPONENTS.join(", "));
    } else {
        cmd::run(rustup().args(["component", "add"]).args(&missing))?;
    }

    if has_wasm_target()? {
        println!("rustup target {WASM_TARGET}: installed");
    } else {
        cmd::run(rustup().args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

/// Ensures `wasm-bindgen-test-runner` on `PATH` reports exactly the pinned
/// `wasm-bindgen` version, installing `wasm-bindgen-cli` at that version if
/// not.
pub(crate) fn ensure_test_runner() -> Result<()> {
    let wanted = workspace::pinned_version("wasm-bindgen")?;
    match test_runner_version()? {
        Some(found) if found == wanted => {
            println!("{TEST_RUNNER} {found}: installed");
            return Ok(());
        }
        Some(found) => println!("{TEST_RUNNER} is {found}, but wasm-bindgen is pinned to {wanted}"),
        None => println!("{TEST_RUNNER} is not on PATH"),
    }

    // No `--locked`: installing wasm-bindgen-cli 0.2.130 with its published
    // lock file fails, while a fresh resolution builds fine.
    cmd::run(cmd::cargo().args(["install", "wasm-bindgen-cli", "--version", &wanted]))?;

    let found = test_runner_version()?;
    ensure!(
        found.as_deref() == Some(wanted.as_str()),
        "installed wasm-bindgen-cli {wanted}, but `{TEST_RUNNER}` on PATH reports {}; \
         is cargo's bin directory (usually ~/.cargo/bin) on PATH, ahead of other copies?",
        found.as_deref().unwrap_or("nothing (not found)"),
    );
    Ok(())
}

/// The version the test runner on `PATH` reports, if there is one.
fn test_runner_version() -> Result<Option<String>> {
    let Some(runner) = cmd::find_on_path(TEST_RUNNER) else {
        return Ok(None);
    };
    let output = cmd::stdout(cmd::program_in_root(runner).arg("--version"))?;
    // Prints e.g. `wasm-bindgen-test-runner 0.2.130`.
    let version = output
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("unexpected `{TEST_RUNNER} --version` output: {output:?}"))?;
    Ok(Some(version.to_owned()))
}

/// Ensures `chromium` and `chromedriver` are on `PATH` with the same major
/// version, installing the Debian packages when running as root.
pub(crate) fn ensure_chromium() -> Result<Chromium> {
    let chromium = match find_chromium() {
        Some(chromium) => chromium,
        None => {
            install_chromium()?;
            find_chromium()
                .context("chromium and chromedriver are still not on PATH after installing them")?
        }
    };

    let browser = major_version(&chromium.browser)?;
    let driver = major_version(&chromium.driver)?;
    ensure!(
        browser == driver,
        "{} is version {browser} but {} is version {driver}; chromedriver only drives \
         the Chromium major version it was built for",
        chromium.browser.display(),
        chromium.driver.display(),
    );
    println!(
        "chromium {browser}: {}, chromedriver: {}",
        chromium.browser.display(),
        chromium.driver.display()
    );
    Ok(chromium)
}

fn find_chromium() -> Option<Chromium> {
    Some(Chromium {
        browser: cmd::find_on_path("chromium")?,
        driver: cmd::find_on_path("chromedriver")?,
    })
}

/// Installs [`CHROMIUM_PACKAGES`] with apt, or explains how to.
fn install_chromium() -> Result<()> {
    let packages = CHROMIUM_PACKAGES.join(" ");
    println!("chromium and/or chromedriver are not on PATH");
    if cmd::find_on_path("apt-get").is_none() {
        bail!(
            "chromium and chromedriver (same major version) must be on PATH; install them \
             with your package manager, or pass --skip-browser to skip the browser tests"
        );
    }
    if !is_root()? {
        bail!(
            "chromium and chromedriver must be on PATH; install them with\n\n    \
             sudo apt-get update && sudo apt-get install -y {packages}\n\n\
             (or pass --skip-browser to skip the browser tests)"
        );
    }
    let apt_get = || {
        let mut command = cmd::program_in_root("apt-get");
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    cmd::run(apt_get().arg("update"))?;
    cmd::run(apt_get().args(["install", "-y"]).args(CHROMIUM_PACKAGES))
}

/// Ensures `wasm-opt` (Debian package `binaryen`) is on `PATH`, installing it with apt
/// when running as root. Without it the widget still builds, only larger, so this warns
/// rather than fails.
pub(crate) fn ensure_wasm_opt() -> Result<()> {
    if cmd::find_on_path("wasm-opt").is_some() {
        println!("wasm-opt: installed");
        return Ok(());
    }
    if cmd::find_on_path("apt-get").is_some() && is_root()? {
        let apt_get = || {
            let mut command = cmd::program_in_root("apt-get");
            command.env("DEBIAN_FRONTEND", "noninteractive");
            command
        };
        cmd::run(apt_get().arg("update"))?;
        cmd::run(apt_get().args(["install", "-y", "binaryen"]))?;
    } else {
        println!(
            "wasm-opt is not on PATH: the widget will be built without size optimisation. \
             Install it with `sudo apt-get install -y binaryen`."
        );
    }
    Ok(())
}

/// Whether this process runs as root (and so may install system packages).
fn is_root() -> Result<bool> {
    Ok(cmd::stdout(cmd::program_in_root("id").arg("-u"))?.trim() == "0")
}

/// The major version `program --version` reports, e.g. `156` for
/// `Chromium 156.0.8078.79 built on Debian` or `ChromeDriver 156.0.8078.79 (…)`.
fn major_version(program: &std::path::Path) -> Result<u32> {
    let output = cmd::stdout(cmd::program_in_root(program).arg("--version"))?;
    parse_major_version(&output).with_context(|| {
        format!(
            "no version number in `{} --version` output: {output:?}",
            program.display()
        )
    })
}

fn parse_major_version(output: &str) -> Option<u32> {
    output
        .split_whitespace()
        .find_map(|word| word.split_once('.')?.0.parse().ok())
}

fn rustup() -> std::process::Command {
    cmd::program_in_root("rustup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_browser_and_driver_versions() {
        assert_eq!(
            parse_major_version("Chromium 156.0.8078.79 built on Debian GNU/Linux 12 (bookworm)\n"),
            Some(156)
        );
        assert_eq!(
            parse_major_version(
                "ChromeDriver 156.0.8078.79 (a21ce95c-refs/branch-heads/8078@{#1704})"
            ),
            Some(156)
        );
        assert_eq!(parse_major_version("no version here"), None);
    }
}
