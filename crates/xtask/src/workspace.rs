//! Facts about the workspace that the checks depend on.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};

/// The rustc target the browser crates are built for.
pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// A workspace crate that is also built for [`WASM_TARGET`] and tested in
/// headless Chromium.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WasmCrate {
    /// The Cargo package name, as passed to `-p`.
    pub(crate) package: &'static str,
    /// The crate directory relative to the workspace root; it holds the
    /// `webdriver.json` used for the crate's browser tests.
    pub(crate) dir: &'static str,
}

impl WasmCrate {
    /// The WebDriver capabilities file for this crate's browser tests.
    pub(crate) fn webdriver_json(&self) -> PathBuf {
        root().join(self.dir).join("webdriver.json")
    }
}

/// Every crate that is linted, tested and import-checked for [`WASM_TARGET`].
pub(crate) const WASM_CRATES: &[WasmCrate] = &[
    WasmCrate {
        package: "interact-sdk",
        dir: "crates/interact-sdk",
    },
    WasmCrate {
        package: "interact-widget",
        dir: "widget",
    },
    WasmCrate {
        package: "interact-widget-call",
        dir: "widget/call",
    },
    WasmCrate {
        package: "interact-widget-frame",
        dir: "widget/frame",
    },
    WasmCrate {
        package: "interact-console",
        dir: "crates/interact-console",
    },
    WasmCrate {
        package: "interact-browser",
        dir: "crates/interact-browser",
    },
];

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub(crate) fn root() -> &'static Path {
    // This crate lives at `<root>/crates/xtask`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or_else(|| Path::new("."))
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target/` in the root.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The exact version `dependency` is pinned to with `dependency = "=X"` (or
/// `{ version = "=X", .. }`) in the workspace `Cargo.toml`.
pub(crate) fn pinned_version(dependency: &str) -> Result<String> {
    let manifest = root().join("Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .with_context(|| format!("could not read {}", manifest.display()))?;
    find_pin(&text, dependency).ok_or_else(|| {
        anyhow!(
            "{} has no exact pin `{dependency} = \"=X.Y.Z\"` under [workspace.dependencies]",
            manifest.display()
        )
    })
}

/// Looks for `dependency`'s exact (`=`) version requirement in the
/// `[workspace.dependencies]` table of a manifest.
fn find_pin(manifest: &str, dependency: &str) -> Option<String> {
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.dependencies]";
            continue;
        }
        if !in_table {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != dependency {
            continue;
        }
        let value = value.trim();
        let requirement = match value.strip_prefix('{') {
            Some(table) => table.split(',').find_map(|entry| {
                let (key, value) = entry.split_once('=')?;
                (key.trim() == "version").then_some(value)
            })?,
            None => value,
        };
        let version = requirement.trim().strip_prefix('"')?.split('"').next()?;
        return version.strip_prefix('=').map(|v| v.trim().to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[workspace.package]
wasm-bindgen = "=9.9.9"

[workspace.dependencies]
serde = { version = "1", features = ["derive"] }
# Pinned with `=`.
wasm-bindgen = "=0.2.130"
wasm-bindgen-test = "=0.3.80"
js-sys = { version = "=0.3.77", default-features = false }
loose = "1.2"
"#;

    #[test]
    fn finds_exact_pins_in_workspace_dependencies() {
        assert_eq!(
            find_pin(MANIFEST, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            find_pin(MANIFEST, "wasm-bindgen-test").as_deref(),
            Some("0.3.80")
        );
        assert_eq!(find_pin(MANIFEST, "js-sys").as_deref(), Some("0.3.77"));
    }

    #[test]
    fn ignores_missing_and_unpinned_dependencies() {
        assert_eq!(find_pin(MANIFEST, "loose"), None);
        assert_eq!(find_pin(MANIFEST, "serde"), None);
        assert_eq!(find_pin(MANIFEST, "absent"), None);
    }

    #[test]
    fn reads_the_real_manifest() {
        let version = pinned_version("wasm-bindgen").expect("wasm-bindgen is pinned");
        assert!(version.starts_with("0."), "unexpected pin {version}");
    }

    #[test]
    fn every_wasm_crate_has_a_webdriver_json() {
        for krate in WASM_CRATES {
            assert!(krate.webdriver_json().is_file(), "{krate:?}");
        }
    }
}
