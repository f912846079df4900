//! `cargo xtask widget`: builds the widget's wasm package into `www/widget/pkg`, where the
//! server serves it (`/widget/pkg/`): the crate for wasm32 with the `wasm` profile
//! (release, optimised for size), `wasm-bindgen --target web` (ES module, TypeScript
//! declarations), `wasm-opt -Oz` from binaryen, then gzip and brotli copies of every
//! served widget file, which the server sends to browsers that accept them.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::workspace::{self, WASM_TARGET};
use crate::{cmd, import_names};

/// The widget's Cargo package.
const PACKAGE: &str = "interact-widget";
/// The Cargo profile of the widget build (see the workspace `Cargo.toml`).
const PROFILE: &str = "wasm";

/// The wasm features rustc enables for wasm32-unknown-unknown by default (Rust 1.82
/// and later), which wasm-opt must accept in the input.
const RUSTC_WASM_FEATURES: &[&str] = &[
    "bulk-memory",
    "multivalue",
    "mutable-globals",
    "nontrapping-float-to-int",
    "reference-types",
    "sign-ext",
];

/// Where the package goes, relative to the workspace root.
pub(crate) fn pkg_dir() -> PathBuf {
    workspace::root().join("www/widget/pkg")
}

/// The files of `www/widget` the server serves compressed: the loader, the frame's
/// script and style, and the package's JavaScript and wasm.
pub(crate) fn served_files() -> Result<Vec<PathBuf>> {
    let www = workspace::root().join("www/widget");
    let mut files = Vec::new();
    for dir in [www.clone(), pkg_dir()] {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let served = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("js" | "css" | "wasm")
            );
            if served && path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Builds the package. Without `wasm-opt` on `PATH` the build still succeeds (larger).
pub(crate) fn build() -> Result<()> {
    cmd::run(cmd::cargo().args([
        "build",
        "--package",
        PACKAGE,
        "--target",
        WASM_TARGET,
        "--profile",
        PROFILE,
    ]))?;
    let wasm = workspace::target_dir()
        .join(WASM_TARGET)
        .join(PROFILE)
        .join("interact_widget.wasm");
    // wasm-opt runs on rustc's output, before wasm-bindgen: the binaryen of Debian 12
    // (version 108) cannot parse the `table.fill` wasm-bindgen's glue adds.
    let optimised = wasm.with_extension("opt.wasm");
    match cmd::find_on_path("wasm-opt") {
        Some(wasm_opt) => cmd::run(
            cmd::program_in_root(wasm_opt)
                .arg("-Oz")
                // By default -Oz inlines every function that has a single caller, however
                // large. That makes the module a little smaller but compress much worse
                // (about 13 KB more gzip): keep it to small functions, as for the others.
                .args(["--one-caller-inline-max-function-size", "20"])
                .args(RUSTC_WASM_FEATURES.iter().map(|f| format!("--enable-{f}")))
                .arg("-o")
                .arg(&optimised)
                .arg(&wasm),
        )?,
        None => {
            println!(
                "wasm-opt not found (Debian: apt-get install binaryen); the wasm stays unoptimised"
            );
            fs::copy(&wasm, &optimised)?;
        }
    }
    let out = pkg_dir();
    cmd::run(
        cmd::program_in_root("wasm-bindgen")
            .args([
                "--target",
                "web",
                // Every browser that runs the module (it uses reference types) has
                // `TextEncoder.encodeInto`: leave out the glue's fallback.
                "--encode-into",
                "always",
                "--remove-name-section",
                "--remove-producers-section",
                "--out-name",
                "interact_widget",
                "--out-dir",
            ])
            .arg(&out)
            .arg(&optimised),
    )?;
    let wasm_path = out.join("interact_widget_bg.wasm");
    let js_path = out.join("interact_widget.js");
    let (wasm, js, renamed) = import_names::shorten(
        &fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?,
        &fs::read_to_string(&js_path).with_context(|| format!("reading {}", js_path.display()))?,
    )?;
    fs::write(&wasm_path, wasm)?;
    fs::write(&js_path, js)?;
    println!("shortened {renamed} import names");
    for file in served_files()? {
        precompress(&file)?;
    }
    println!("widget package: {}", out.display());
    Ok(())
}

/// Writes `file.gz` and `file.br` next to `file` (best compression: built once, served
/// many times).
fn precompress(file: &Path) -> Result<()> {
    let data = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    fs::write(with_suffix(file, "gz"), gzip(&data)?)?;
    fs::write(with_suffix(file, "br"), brotli(&data)?)?;
    Ok(())
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// gzip by Zopfli: standard gzip any browser inflates, about 5% smaller than zlib's
/// level 9 for the wasm, at a second of build time (built once, served many times).
pub(crate) fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        data,
        &mut out,
    )?;
    Ok(out)
}

/// brotli at quality 11.
pub(crate) fn brotli(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(data)?;
    }
    Ok(out)
}
