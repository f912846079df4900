//! The JavaScript SDK as an npm package (`interact-sdk`): `packages/interact-sdk` holds its
//! own files (package.json, README, the `index.js` entry with the versions, its types and
//! a TypeScript consumer for the tests); [`assemble`] puts them together with the
//! widget's wasm-bindgen output (`www/widget/pkg/interact_widget.*` and the snippets that
//! module imports) in `target/npm-package/interact-sdk`, which `npm pack` packs as it is.
//! [`check`] type-checks the consumer with `tsc --noEmit` against the assembled package
//! and checks the files `npm pack --dry-run` would pack.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};

use crate::{cmd, prereq, widget, workspace};

/// The package's own files, relative to the workspace root.
const SOURCE: &str = "packages/interact-sdk";

/// Its name in package.json.
const NAME: &str = "interact-sdk";

/// The wasm-bindgen output of the SDK's module (in `www/widget/pkg`) the package holds,
/// besides the snippets the module imports.
const MODULE_FILES: &[&str] = &[
    "interact_widget.js",
    "interact_widget.d.ts",
    "interact_widget_bg.wasm",
    "interact_widget_bg.wasm.d.ts",
];

/// The package's own files copied from [`SOURCE`].
const OWN_FILES: &[&str] = &["package.json", "README.md", "index.js", "index.d.ts"];

/// The workspace's version, which the package has.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the package is assembled.
pub(crate) fn package_dir() -> PathBuf {
    workspace::target_dir().join("npm-package").join(NAME)
}

/// Checks that the package's files state the workspace's version and the SDK's protocol
/// version, then assembles the package from them and the built module (`cargo xtask
/// widget` first). Returns its folder.
pub(crate) fn assemble() -> Result<PathBuf> {
    let source = workspace::root().join(SOURCE);
    check_versions(&source)?;
    let pkg = widget::pkg_dir();
    let out = package_dir();
    if out.exists() {
        fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for file in OWN_FILES {
        copy(&source.join(file), &out.join(file))?;
    }
    for file in MODULE_FILES {
        let from = pkg.join(file);
        ensure!(
            from.is_file(),
            "{} is missing: build the widget first (`cargo xtask widget`)",
            from.display()
        );
        copy(&from, &out.join(file))?;
    }
    let module = fs::read_to_string(pkg.join("interact_widget.js"))?;
    for snippet in snippet_imports(&module) {
        copy(&pkg.join(&snippet), &out.join(&snippet))?;
    }
    println!("npm package {NAME} {VERSION}: {}", out.display());
    Ok(out)
}

/// `tsc --noEmit` on the package's TypeScript consumer (`test/consumer.ts`, with the
/// package installed beside it as `node_modules/interact-sdk`), then `npm pack --dry-run
/// --json`, whose file list must be exactly the package's files.
pub(crate) fn check() -> Result<()> {
    let package = assemble()?;
    let tsc = prereq::ensure_typescript()?;
    let consumer = workspace::target_dir().join("npm-package/consumer");
    if consumer.exists() {
        fs::remove_dir_all(&consumer)?;
    }
    let source = workspace::root().join(SOURCE).join("test");
    for file in ["consumer.ts", "tsconfig.json"] {
        copy(&source.join(file), &consumer.join(file))?;
    }
    copy_dir(&package, &consumer.join("node_modules").join(NAME))?;
    cmd::run(
        cmd::program_in_root(&tsc)
            .arg("--noEmit")
            .arg("--project")
            .arg(consumer.join("tsconfig.json")),
    )?;
    println!("tsc: the consumer type-checks against the package's declarations");

    let json = cmd::stdout(
        cmd::program_in_root("npm")
            .args(["pack", "--dry-run", "--json", "--ignore-scripts"])
            .current_dir(&package),
    )?;
    let packed = packed_files(&json)?;
    let module = fs::read_to_string(package.join("interact_widget.js"))?;
    let mut expected: Vec<String> = OWN_FILES
        .iter()
        .chain(MODULE_FILES)
        .map(|f| (*f).to_owned())
        .chain(snippet_imports(&module))
        .collect();
    expected.sort();
    ensure!(
        packed == expected,
        "npm pack would pack {packed:?}, not the package's files {expected:?}"
    );
    println!("npm pack: {} files, as expected", packed.len());
    Ok(())
}

/// The files of `npm pack --dry-run --json`'s answer, sorted.
fn packed_files(json: &str) -> Result<Vec<String>> {
    let answer: serde_json::Value =
        serde_json::from_str(json).context("npm pack --json printed no JSON")?;
    let files = answer
        .get(0)
        .and_then(|p| p.get("files"))
        .and_then(serde_json::Value::as_array)
        .context("npm pack --json: no `files` in its answer")?;
    let mut paths: Vec<String> = files
        .iter()
        .filter_map(|f| f.get("path").and_then(serde_json::Value::as_str))
        .map(str::to_owned)
        .collect();
    paths.sort();
    Ok(paths)
}

/// Fails unless package.json, index.js and index.d.ts name the workspace's version and
/// the protocol version the SDK speaks.
fn check_versions(source: &Path) -> Result<()> {
    let read = |file: &str| {
        fs::read_to_string(source.join(file))
            .with_context(|| format!("reading {}", source.join(file).display()))
    };
    let manifest: serde_json::Value = serde_json::from_str(&read("package.json")?)
        .with_context(|| format!("{SOURCE}/package.json is not JSON"))?;
    let protocol = interact_sdk::protocol::PROTOCOL_VERSION;
    let stated = (
        manifest["name"].as_str(),
        manifest["version"].as_str(),
        manifest["interact"]["protocolVersion"].as_u64(),
    );
    if stated != (Some(NAME), Some(VERSION), Some(u64::from(protocol))) {
        bail!(
            "{SOURCE}/package.json states name, version and interact.protocolVersion \
             {stated:?}; the workspace is {NAME} {VERSION} on protocol {protocol}: update it"
        );
    }
    for (file, version, protocol) in [
        (
            "index.js",
            format!("export const SDK_VERSION = \"{VERSION}\";"),
            format!("export const PROTOCOL_VERSION = {protocol};"),
        ),
        (
            "index.d.ts",
            format!("export declare const SDK_VERSION: \"{VERSION}\";"),
            format!("export declare const PROTOCOL_VERSION: {protocol};"),
        ),
    ] {
        let text = read(file)?;
        ensure!(
            text.contains(&version) && text.contains(&protocol),
            "{SOURCE}/{file} must say `{version}` and `{protocol}` (the workspace's versions)"
        );
    }
    Ok(())
}

/// The `./snippets/...` files a wasm-bindgen module imports, relative to its folder.
fn snippet_imports(module: &str) -> Vec<String> {
    let mut found: Vec<String> = module
        .lines()
        .filter(|l| l.trim_start().starts_with("import"))
        .filter_map(|l| {
            let start = l.find("'./snippets/").or_else(|| l.find("\"./snippets/"))?;
            let quote = &l[start..=start];
            let rest = &l[start + 3..];
            rest.find(quote).map(|end| rest[..end].to_owned())
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let target = to.join(path.file_name().context("a file name")?);
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            copy(&path, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_states_the_workspace_and_protocol_versions() {
        check_versions(&workspace::root().join(SOURCE)).expect("versions agree");
    }

    #[test]
    fn snippets_imported_by_the_module_are_found() {
        let module = "import { a } from './snippets/interact-widget-0123/inline0.js';\n\
                      import * as b from \"./snippets/x/y.js\";\n\
                      const s = './snippets/not-an-import.js';\n";
        assert_eq!(
            snippet_imports(module),
            [
                "snippets/interact-widget-0123/inline0.js",
                "snippets/x/y.js"
            ]
        );
    }

    #[test]
    fn npm_packs_answer_is_read() {
        let json = r#"[{"id": "interact-sdk@0.1.0", "files": [
            {"path": "package.json", "size": 1, "mode": 420},
            {"path": "index.js", "size": 1, "mode": 420}
        ]}]"#;
        assert_eq!(
            packed_files(json).expect("read"),
            ["index.js", "package.json"]
        );
    }
}
