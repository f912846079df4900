//! Accessibility checks with axe-core (from npm), injected into a page through WebDriver.
//!
//! The script is `target/npm/node_modules/axe-core/axe.min.js`, which `cargo xtask prereq`
//! (and so `cargo xtask test`) installs with `npm install --prefix target/npm axe-core@4`.
//! Run outside xtask, [`script`] installs it the same way, or fails with that command.
//! WebDriver's script execution is not subject to the page's Content-Security-Policy, so
//! axe runs in pages whose CSP allows no inline or foreign script.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::browser::Page;

/// The npm package the checks use.
pub const PACKAGE: &str = "axe-core@4";

/// Where the script is, under the workspace's `target`.
pub fn script_path() -> PathBuf {
    workspace().join("target/npm/node_modules/axe-core/axe.min.js")
}

fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The command that installs the script.
pub fn install_command() -> String {
    format!(
        "npm install --no-audit --no-fund --prefix {} {PACKAGE}",
        workspace().join("target/npm").display()
    )
}

/// axe-core's source, installed with npm first if it is missing.
pub fn script() -> String {
    static INSTALL: Mutex<()> = Mutex::new(());
    let path = script_path();
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !path.is_file() {
        eprintln!("axe-core is missing; running `{}`", install_command());
        let prefix = workspace().join("target/npm");
        let _ = std::fs::create_dir_all(&prefix);
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(PACKAGE)
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()) && path.is_file(),
            "axe-core is not installed ({} is missing) and installing it failed ({status:?}). \
             Run `cargo xtask prereq`, or: {}",
            path.display(),
            install_command()
        );
    }
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs axe-core on the page's current document (injecting it if the document does not
/// have it yet); prints every violation and returns those of impact `serious` or
/// `critical`, each as `{id, impact, help, nodes: [{target, summary}]}`.
pub async fn serious_violations(page: &Page, what: &str) -> Vec<Value> {
    let present: bool = page
        .eval("return typeof window.axe === 'object';", vec![])
        .await;
    if !present {
        let source = script();
        let injected: bool = page
            .eval(
                &format!("{source}\n;return typeof window.axe === 'object';"),
                vec![],
            )
            .await;
        assert!(injected, "axe-core did not load into {what}");
    }
    let result = page
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done({ violations: r.violations.map((v) => ({
                 id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.slice(0, 8).map((n) => ({ target: n.target, summary: n.failureSummary })),
               })) }))
               .catch((e) => done({ error: String(e) }));",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("axe.run on {what}: {e}"));
    if let Some(error) = result.get("error") {
        panic!("axe.run on {what} failed: {error}");
    }
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    for v in &violations {
        eprintln!(
            "axe on {what}: {} ({}): {}\n  {}",
            v["id"],
            v["impact"],
            v["help"],
            serde_json::to_string(&v["nodes"]).unwrap_or_default()
        );
    }
    violations
        .into_iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect()
}

/// Fails, listing them, if axe-core finds a serious or critical violation on the page.
pub async fn assert_accessible(page: &Page, what: &str) {
    let bad = serious_violations(page, what).await;
    assert!(
        bad.is_empty(),
        "axe-core: serious or critical violations on {what}:\n{:#}",
        json!(bad)
    );
}
