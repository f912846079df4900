//! `cargo xtask serve`: builds the reference server and starts it as a demo
//! (`interact-server serve --demo --config config/demo.toml`: the demo tenant, a SQLite
//! file under `data/`; the server refuses the demo's public admin token and `[demo]`
//! section without `--demo`). The server prints the URLs of the agent console, the
//! Preview page and the demo host page, and the demo agents' sign-in names; Ctrl-C stops
//! it gracefully.

use anyhow::Result;

use crate::{cmd, prereq, widget};

/// The configuration the server starts with, relative to the workspace root.
const DEMO_CONFIG: &str = "config/demo.toml";

/// Builds the wasm packages of the widget and the agent console (with what that needs),
/// then runs the server in the foreground until it stops.
pub(crate) fn run() -> Result<()> {
    prereq::ensure_toolchain()?;
    prereq::ensure_test_runner()?;
    prereq::ensure_wasm_opt()?;
    widget::build()?;
    // A debug build: it compiles much faster than `--release` and serves a demo well.
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
