//! Checks that a crate compiled for wasm32 imports nothing from the `env`
//! module.
//!
//! `env` imports are what the linker leaves behind for symbols nobody defined:
//! C code, `extern "C"` blocks or std APIs wasm32-unknown-unknown lacks. A
//! browser cannot satisfy them, so the module would fail to instantiate.
//! Imports wasm-bindgen generates (module `wbg`, `__wbindgen_*`) are fine.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use serde::Deserialize;
use wasmparser::{Parser, Payload};

use crate::cmd;
use crate::workspace::{WASM_TARGET, WasmCrate};

/// The import module that must not appear.
const FORBIDDEN_MODULE: &str = "env";

/// Checks the wasm32 library test binary of `krate`.
///
/// The test binary (rather than a release build) is what the browser tests
/// load, and building it again is a no-op after those tests ran.
pub(crate) fn check_crate(krate: &WasmCrate) -> Result<()> {
    let artefacts = lib_test_artefacts(krate)?;
    ensure!(
        !artefacts.is_empty(),
        "cargo built no wasm32 library test binary for {}; does it have a library \
         target with tests enabled?",
        krate.package
    );
    for path in &artefacts {
        check_file(path)?;
    }
    Ok(())
}

/// The library test binaries `cargo test --no-run` reports for `krate`.
fn lib_test_artefacts(krate: &WasmCrate) -> Result<Vec<PathBuf>> {
    let messages = cmd::stdout(cmd::cargo().args([
        "test",
        "-p",
        krate.package,
        "--target",
        WASM_TARGET,
        "--no-run",
        "--message-format=json",
    ]))?;
    let mut artefacts = Vec::new();
    for line in messages.lines().filter(|line| line.starts_with('{')) {
        let message: Message = serde_json::from_str(line)
            .with_context(|| format!("unexpected cargo JSON message: {line}"))?;
        if let Some(path) = message.lib_test_executable() {
            artefacts.push(path);
        }
    }
    Ok(artefacts)
}

/// The parts of a cargo `--message-format=json` message this check needs.
#[derive(Debug, Deserialize)]
struct Message {
    reason: String,
    target: Option<Target>,
    profile: Option<Profile>,
    executable: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct Target {
    kind: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    test: bool,
}

impl Message {
    /// The executable, if this message reports a library's test binary.
    fn lib_test_executable(self) -> Option<PathBuf> {
        let is_test = self.profile.is_some_and(|profile| profile.test);
        let is_lib = self.target.is_some_and(|target| {
            target.kind.iter().any(|kind| {
                matches!(
                    kind.as_str(),
                    "lib" | "rlib" | "cdylib" | "dylib" | "staticlib"
                )
            })
        });
        (self.reason == "compiler-artifact" && is_test && is_lib)
            .then_some(self.executable)
            .flatten()
    }
}

/// Fails listing every `env` import of the wasm module at `path`.
fn check_file(path: &Path) -> Result<()> {
    let bytes = fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let imports = imports_from(&bytes, FORBIDDEN_MODULE)
        .with_context(|| format!("could not parse {}", path.display()))?;
    if !imports.is_empty() {
        bail!(
            "{} imports from the `{FORBIDDEN_MODULE}` module, which a browser cannot provide:\n  {}",
            path.display(),
            imports.join("\n  ")
        );
    }
    println!("{}: no `{FORBIDDEN_MODULE}` imports", path.display());
    Ok(())
}

/// The names (`module::name`) of everything the module `wasm` imports from
/// `module`.
fn imports_from(wasm: &[u8], module: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::ImportSection(section) = payload? {
            for import in section.into_imports() {
                let import = import?;
                if import.module == module {
                    found.push(format!("{}::{}", import.module, import.name));
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal module with one `() -> ()` type and a function import of it
    /// per `(module, name)` pair. Names must be shorter than 128 bytes.
    fn module_importing(imports: &[(&str, &str)]) -> Vec<u8> {
        fn name(bytes: &mut Vec<u8>, name: &str) {
            bytes.push(u8::try_from(name.len()).expect("short name"));
            bytes.extend_from_slice(name.as_bytes());
        }
        let mut section = vec![u8::try_from(imports.len()).expect("few imports")];
        for (module, field) in imports {
            name(&mut section, module);
            name(&mut section, field);
            section.extend_from_slice(&[0x00, 0x00]); // a function of type 0
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type section
        wasm.push(0x02); // import section
        wasm.push(u8::try_from(section.len()).expect("small section"));
        wasm.extend_from_slice(&section);
        wasm
    }

    #[test]
    fn lists_only_env_imports() {
        let wasm = module_importing(&[
            ("wbg", "__wbindgen_throw"),
            ("env", "malloc"),
            ("__wbindgen_placeholder__", "__wbindgen_describe"),
            ("env", "getrandom"),
        ]);
        assert_eq!(
            imports_from(&wasm, "env").expect("valid module"),
            ["env::malloc", "env::getrandom"]
        );
    }

    #[test]
    fn accepts_wasm_bindgen_imports() {
        let wasm = module_importing(&[("wbg", "__wbindgen_throw")]);
        assert!(imports_from(&wasm, "env").expect("valid module").is_empty());
    }

    #[test]
    fn rejects_garbage() {
        assert!(imports_from(b"not wasm", "env").is_err());
    }

    #[test]
    fn picks_lib_test_binaries_from_cargo_messages() {
        let message = |kind: &str, test: bool| -> Message {
            serde_json::from_str(&format!(
                r#"{{"reason":"compiler-artifact","target":{{"kind":["{kind}"]}},
                    "profile":{{"test":{test}}},"executable":"/t/x.wasm","fresh":true}}"#
            ))
            .expect("valid message")
        };
        assert_eq!(
            message("lib", true).lib_test_executable(),
            Some(PathBuf::from("/t/x.wasm"))
        );
        assert_eq!(message("test", true).lib_test_executable(), None);
        assert_eq!(message("lib", false).lib_test_executable(), None);
        let finished: Message =
            serde_json::from_str(r#"{"reason":"build-finished","success":true}"#).expect("valid");
        assert_eq!(finished.lib_test_executable(), None);
    }
}
