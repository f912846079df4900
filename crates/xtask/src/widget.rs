//! `cargo xtask widget`: builds the browser's wasm packages where the server serves them:
//! the widget's three (the frame module every visitor loads before the first message, the
//! JavaScript SDK for custom UIs, and the call module both load on the first call) into
//! `www/widget/pkg` (`/widget/pkg/`) and the agent console's into
//! `www/console/pkg` (`/console/pkg/`). Each is its crate for wasm32 with the `wasm`
//! profile (release, optimised for size), `wasm-opt -Oz` from binaryen, `wasm-bindgen
//! --target web` (ES module, TypeScript declarations) and shorter import names; the
//! widget also gets gzip and brotli copies of every served widget file, which the server
//! sends to browsers that accept them. Two packages, so that a visitor's download holds
//! no agent code. The JavaScript SDK's module is also assembled into the npm package
//! `interact-sdk` ([`crate::npm`]).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::workspace::{self, WASM_TARGET};
use crate::{cmd, import_names};

/// One wasm package this command builds.
#[derive(Debug)]
struct Package {
    /// The Cargo package.
    package: &'static str,
    /// The file name stem of its wasm and JavaScript (`<name>_bg.wasm`, `<name>.js`).
    name: &'static str,
    /// Where it goes, relative to the workspace root.
    dir: &'static str,
}

/// The JavaScript SDK for custom UIs (`InteractClient`, and `mountWidget` too); served
/// precompressed.
const WIDGET: Package = Package {
    package: "interact-widget",
    name: "interact_widget",
    dir: "www/widget/pkg",
};

/// The widget's frame module (`mountWidget` only): what every visitor downloads before
/// the first message (size-critical; served precompressed).
const FRAME: Package = Package {
    package: "interact-widget-frame",
    name: "interact_widget_frame",
    dir: "www/widget/pkg",
};

/// The widget's call module (device step, peer connection, call panel), which the chat
/// module loads on the first call; served precompressed too.
const CALL: Package = Package {
    package: "interact-widget-call",
    name: "interact_widget_call",
    dir: "www/widget/pkg",
};

/// The agent console's protocol layer (the SDK's `Agent` machine); not precompressed
/// (an agent loads it once a day, and the server serves the console's files as they are).
const CONSOLE: Package = Package {
    package: "interact-console",
    name: "interact_console",
    dir: "www/console/pkg",
};

/// The Cargo profile of the wasm builds (see the workspace `Cargo.toml`).
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

/// Where the widget's package goes.
pub(crate) fn pkg_dir() -> PathBuf {
    workspace::root().join(WIDGET.dir)
}

/// The files of `www/widget` the server serves compressed: the loader, the frame's
/// script and style, and the packages' JavaScript (with the snippets wasm-bindgen writes
/// under `pkg/snippets/`) and wasm.
pub(crate) fn served_files() -> Result<Vec<PathBuf>> {
    let www = workspace::root().join("www/widget");
    let mut files = Vec::new();
    // `www/widget` itself only at its top; the package with its subfolders.
    let mut dirs = vec![(www, false), (pkg_dir(), true)];
    while let Some((dir, deep)) = dirs.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if deep {
                    dirs.push((path, true));
                }
                continue;
            }
            let served = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("js" | "css" | "wasm")
            );
            if served {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Builds the packages, the widget's three (and their compressed copies) first. Without
/// `wasm-opt` on `PATH` the build still succeeds (larger).
pub(crate) fn build() -> Result<()> {
    write_loader_words()?;
    // wasm-bindgen names the snippet folders by a hash: drop the last build's.
    let snippets = pkg_dir().join("snippets");
    if snippets.is_dir() {
        fs::remove_dir_all(&snippets)
            .with_context(|| format!("removing {}", snippets.display()))?;
    }
    build_package(&FRAME)?;
    build_package(&WIDGET)?;
    build_package(&CALL)?;
    for file in served_files()? {
        precompress(&file)?;
    }
    build_package(&CONSOLE)?;
    // The JavaScript SDK as an npm package, from the module just built.
    crate::npm::assemble().map(drop)
}

/// Writes the loader's words of every language (from the widget's languages,
/// `widget/src/i18n/`) into `www/widget/loader.js`, on its `var WORDS = ...;` line.
fn write_loader_words() -> Result<()> {
    let path = workspace::root().join("www/widget/loader.js");
    let script =
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let words = format!("var WORDS = {};", interact_widget::i18n::loader_words_js());
    let updated = replace_words_line(&script, &words)
        .with_context(|| format!("{} has no `var WORDS = ...;` line", path.display()))?;
    if updated != script {
        fs::write(&path, updated)?;
        println!("wrote the loader's words into {}", path.display());
    }
    Ok(())
}

/// `script` with its one `var WORDS = ...;` line replaced by `line` (indentation kept).
fn replace_words_line(script: &str, line: &str) -> Option<String> {
    let mut found = false;
    let out: Vec<String> = script
        .split_inclusive('\n')
        .map(|l| {
            let trimmed = l.trim_start();
            if !found && trimmed.starts_with("var WORDS = ") {
                found = true;
                let indent = &l[..l.len() - trimmed.len()];
                let newline = if l.ends_with('\n') { "\n" } else { "" };
                format!("{indent}{line}{newline}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    found.then(|| out.concat())
}

/// Builds one package (a cargo invocation of its own, so that the other package's
/// dependencies cannot change its features).
fn build_package(package: &Package) -> Result<()> {
    cmd::run(cmd::cargo().args([
        "build",
        "--package",
        package.package,
        "--target",
        WASM_TARGET,
        "--profile",
        PROFILE,
    ]))?;
    let wasm = workspace::target_dir()
        .join(WASM_TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", package.name));
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
    let out = workspace::root().join(package.dir);
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
                package.name,
                "--out-dir",
            ])
            .arg(&out)
            .arg(&optimised),
    )?;
    let wasm_path = out.join(format!("{}_bg.wasm", package.name));
    let js_path = out.join(format!("{}.js", package.name));
    let (wasm, js, renamed) = import_names::shorten(
        &fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?,
        &fs::read_to_string(&js_path).with_context(|| format!("reading {}", js_path.display()))?,
    )?;
    fs::write(&wasm_path, wasm)?;
    fs::write(&js_path, js)?;
    println!("shortened {renamed} import names");
    println!("{} package: {}", package.package, out.display());
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

#[cfg(test)]
mod tests {
    use super::replace_words_line;

    #[test]
    fn the_words_line_is_replaced_in_place() {
        let script = "(function () {\n  var lang = \"en\";\n  var WORDS = {};\n  go();\n})();\n";
        let out = replace_words_line(script, "var WORDS = { en: {} };").expect("has the line");
        assert_eq!(
            out,
            "(function () {\n  var lang = \"en\";\n  var WORDS = { en: {} };\n  go();\n})();\n"
        );
        assert_eq!(replace_words_line("var x = 1;\n", "var WORDS = {};"), None);
    }
}
