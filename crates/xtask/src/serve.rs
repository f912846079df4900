//! `cargo xtask serve`: builds the reference server and starts it on its embedded
//! defaults (`config/demo.toml`: the demo tenant, a SQLite file under `data/`). The
//! server prints the URLs of the agent console, the Preview page and the demo host page,
//! and the demo agents' sign-in names; Ctrl-C stops it gracefully.

use anyhow::Result;

use crate::cmd;

/// The configuration the server starts with, relative to the workspace root.
const DEMO_CONFIG: &str = "config/demo.toml";

/// Runs the prerequisites serving needs, then the server in the foreground until it
/// stops.
pub(crate) fn run() -> Result<()> {
    prerequisites();
    // A debug build: it compiles much faster than `--release` and serves a demo well.
    cmd::run(cmd::cargo().args([
        "run",
        "--package",
        "interact-server",
        "--",
        "serve",
        "--config",
        DEMO_CONFIG,
    ]))
}

/// What serving needs beyond cargo: nothing yet. The widget (issue 4) will add its wasm
/// build here.
fn prerequisites() {}
