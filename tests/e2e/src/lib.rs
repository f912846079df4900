//! End-to-end test harness: the real Interact server on a loopback port with a fresh
//! SQLite file, host pages on origins of their own (one the embed code's Domain Template
//! allows, one it does not), native agent and visitor clients, and headless Chromium
//! driven through chromedriver.
//!
//! The tests in `tests/` need the widget's wasm package (`cargo xtask widget`, which
//! `cargo xtask test` runs first) and `chromium` + `chromedriver` on `PATH`
//! (`cargo xtask prereq`). `INTERACT_SKIP_BROWSER=1` skips them.

pub mod agent;
pub mod axe;
pub mod browser;
pub mod console;
pub mod stack;
pub mod visitor;
pub mod widget;
mod ws;

/// Set to `1` to skip the browser tests on machines without Chromium.
pub const SKIP_ENV: &str = "INTERACT_SKIP_BROWSER";

/// Whether the browser tests are to be skipped (says so on stderr).
pub fn skip_browser(test: &str) -> bool {
    let skip = std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1");
    if skip {
        eprintln!("{SKIP_ENV}=1: skipping {test}");
    }
    skip
}
