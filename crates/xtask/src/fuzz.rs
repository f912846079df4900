//! The fuzz targets of `tests/fuzz` (cargo-fuzz, libFuzzer): one per parser that faces
//! the network or an administrator. `cargo xtask test` builds them and runs each for a
//! short while; `cargo xtask fuzz --secs N` runs them longer.
//!
//! cargo-fuzz needs a nightly compiler's `-Z` flags; the pinned stable toolchain accepts
//! them with `RUSTC_BOOTSTRAP=1`. The targets are built without a sanitizer (safe Rust:
//! the fuzzer looks for panics, infinite loops and runaway memory) and without
//! optimisations, which builds in half the time and still runs thousands of inputs a
//! second.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::cmd;
use crate::workspace;

/// The fuzz targets, each in `tests/fuzz/fuzz_targets/<name>.rs`.
pub(crate) const TARGETS: [&str; 4] = ["frames", "config", "origins", "templates"];

/// Seconds each target runs in `cargo xtask test`.
pub(crate) const SHORT_RUN_SECS: u64 = 60;

/// Targets fuzzed at the same time (one per core of the machines this runs on).
const AT_ONCE: usize = 2;

fn fuzz_dir() -> PathBuf {
    workspace::root().join("tests/fuzz")
}

/// `cargo fuzz <args>` with the flags every call here shares.
fn cargo_fuzz(sub: &str) -> Command {
    let mut command = cmd::cargo();
    command
        .args(["fuzz", sub, "--fuzz-dir"])
        .arg(fuzz_dir())
        .args(["--sanitizer", "none", "--dev"])
        .env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Installs cargo-fuzz unless `cargo fuzz` already works.
pub(crate) fn ensure_cargo_fuzz() -> Result<()> {
    let found = cmd::cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        println!("cargo-fuzz: installed");
        return Ok(());
    }
    cmd::run(cmd::cargo().args(["install", "cargo-fuzz"]))
}

/// Builds every target, then runs each for `secs` seconds ([`AT_ONCE`] at a time), with
/// the seeds of `tests/fuzz/seeds/<target>` and a corpus under `target/fuzz-corpus`.
/// Fails, with the fuzzer's last words and the command that reproduces the crash, if a
/// target finds one.
pub(crate) fn run(secs: u64) -> Result<()> {
    ensure_cargo_fuzz()?;
    cmd::run(&mut cargo_fuzz("build"))?;
    let logs = workspace::root().join("target/fuzz-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    for batch in TARGETS.chunks(AT_ONCE) {
        let running: Vec<(&str, PathBuf, Child)> = batch
            .iter()
            .map(|target| {
                let (log, child) = start(target, secs, &logs)?;
                Ok((*target, log, child))
            })
            .collect::<Result<_>>()?;
        for (target, log, mut child) in running {
            let status = child
                .wait()
                .with_context(|| format!("waiting for the fuzzer of `{target}`"))?;
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            if !status.success() {
                for line in tail.iter().rev() {
                    println!("  {line}");
                }
                bail!(
                    "fuzz target `{target}` failed ({status}); the log is {}",
                    log.display()
                );
            }
            let done = tail
                .iter()
                .find(|l| l.starts_with("Done "))
                .copied()
                .unwrap_or("finished");
            println!("fuzz target {target}: {done}");
        }
    }
    Ok(())
}

/// Starts the fuzzer of `target` for `secs` seconds, its output in a log file.
fn start(target: &str, secs: u64, logs: &Path) -> Result<(PathBuf, Child)> {
    let corpus = workspace::root().join("target/fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let log = logs.join(format!("{target}.log"));
    let file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = cargo_fuzz("run");
    command
        .arg(target)
        .arg(&corpus)
        .arg(fuzz_dir().join("seeds").join(target))
        .arg("--")
        .arg(format!("-max_total_time={secs}"))
        // One input may take at most this long, and the process this much memory.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .stdout(file.try_clone()?)
        .stderr(file);
    println!(
        "$ cargo fuzz run {target} ... -max_total_time={secs} (log: {})",
        log.display()
    );
    let child = command
        .spawn()
        .with_context(|| format!("could not start the fuzzer of `{target}`"))?;
    Ok((log, child))
}
