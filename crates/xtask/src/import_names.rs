//! Shorter import names in the widget's package.
//!
//! wasm-bindgen names each browser function the module imports
//! `__wbg_<name>_<16 hex digits>`; the digits keep the names unique when several crates
//! import the same function differently. They are incompressible and stand twice, in the
//! wasm's import section and in the JS glue's import object: about 4 KB of the gzipped
//! widget. [`shorten`] replaces them in both files: `__wbg_<name>` where that is unique,
//! else `__wbg_<name>_1`, `__wbg_<name>_2`, ...

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result, bail, ensure};
use wasm_encoder::Encode as _;
use wasmparser::{BinaryReader, Parser, TypeRef};

/// The import section's id.
const IMPORT_SECTION: u8 = 2;

/// Renames the hashed imports of `wasm` and their keys in `js`, the glue wasm-bindgen
/// wrote for it. Returns the new module and glue, and how many imports were renamed.
pub(crate) fn shorten(wasm: &[u8], js: &str) -> Result<(Vec<u8>, String, usize)> {
    ensure!(
        wasm.len() >= 8 && wasm[..4] == *b"\0asm",
        "not a wasm module"
    );
    let mut out = wasm[..8].to_vec();
    let mut renames = BTreeMap::new();
    let mut reader = BinaryReader::new(&wasm[8..], 8);
    while !reader.eof() {
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        let start = reader.original_position() as usize;
        let body = reader
            .read_bytes(size)
            .context("a section runs past the end of the module")?;
        if id == IMPORT_SECTION {
            let (section, names) = rename_imports(body, start)?;
            renames = names;
            out.push(id);
            section.encode(&mut out);
        } else {
            out.push(id);
            body.encode(&mut out);
        }
    }
    // The result must still be a module wasmparser reads to the end.
    for payload in Parser::new(0).parse_all(&out) {
        payload.context("the rewritten module does not parse")?;
    }
    let mut glue = js.to_owned();
    for (old, new) in &renames {
        ensure!(
            glue.matches(old.as_str()).count() == 1,
            "the glue does not name import {old} exactly once"
        );
        glue = glue.replacen(old.as_str(), new, 1);
    }
    Ok((out, glue, renames.len()))
}

/// The import section `body` with shortened names, and the renames (old to new).
fn rename_imports(body: &[u8], offset: usize) -> Result<(Vec<u8>, BTreeMap<String, String>)> {
    struct Entry<'a> {
        module: &'a str,
        name: &'a str,
        ty: &'a [u8],
    }
    let mut reader = BinaryReader::new(body, offset as u64);
    let count = reader.read_var_u32()?;
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let module = reader.read_string()?;
        let name = reader.read_string()?;
        let ty_start = reader.current_position();
        reader.read::<TypeRef>()?;
        let ty = &body[ty_start..reader.current_position()];
        entries.push(Entry { module, name, ty });
    }
    if !reader.eof() {
        bail!("the import section holds more than its {count} imports");
    }
    let taken: BTreeSet<&str> = entries.iter().map(|e| e.name).collect();
    let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &entries {
        if let Some(short) = without_hash(e.name) {
            wanted.entry(short).or_default().push(e.name);
        }
    }
    // `__wbg_<name>` where that is free; several of one name (or one taken) become
    // `__wbg_<name>_<n>`, counting from 1 in the module's order.
    let mut renames = BTreeMap::new();
    for (short, olds) in wanted {
        if let [old] = olds.as_slice()
            && !taken.contains(short)
        {
            renames.insert(old.to_string(), short.to_owned());
            continue;
        }
        for (n, old) in olds.iter().enumerate() {
            let new = format!("{short}_{}", n + 1);
            ensure!(!taken.contains(new.as_str()), "import {new} exists already");
            renames.insert(old.to_string(), new);
        }
    }
    let mut section = Vec::with_capacity(body.len());
    count.encode(&mut section);
    for e in &entries {
        e.module.encode(&mut section);
        renames
            .get(e.name)
            .map_or(e.name, String::as_str)
            .encode(&mut section);
        section.extend_from_slice(e.ty);
    }
    Ok((section, renames))
}

/// `__wbg_<name>` of `__wbg_<name>_<16 hex digits>`.
fn without_hash(name: &str) -> Option<&str> {
    let (short, hash) = name.rsplit_once('_')?;
    let hashed = hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    (hashed && short.starts_with("__wbg_") && short.len() > "__wbg_".len()).then_some(short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
        ImportSection, Instruction, Module, TypeSection,
    };

    /// A module importing `names` from `wbg` (each `() -> ()`), with one function that
    /// calls them all, exported.
    fn module(names: &[&str]) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut imports = ImportSection::new();
        for name in names {
            imports.import("wbg", name, EntityType::Function(0));
        }
        let mut functions = FunctionSection::new();
        functions.function(0);
        let mut exports = ExportSection::new();
        exports.export("run", ExportKind::Func, names.len() as u32);
        let mut body = Function::new([]);
        for i in 0..names.len() as u32 {
            body.instruction(&Instruction::Call(i));
        }
        body.instruction(&Instruction::End);
        let mut code = CodeSection::new();
        code.function(&body);
        let mut m = Module::new();
        m.section(&types)
            .section(&imports)
            .section(&functions)
            .section(&exports)
            .section(&code);
        m.finish()
    }

    fn import_names(wasm: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let wasmparser::Payload::ImportSection(reader) = payload.expect("parses") {
                for import in reader.into_imports() {
                    names.push(import.expect("import").name.to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn hashed_import_names_are_shortened_in_the_module_and_the_glue() {
        let names = [
            "__wbg_append_0123456789abcdef",
            "__wbg_set_1111111111111111",
            "__wbg_set_2222222222222222",
            "__wbg_now_3333333333333333",
            "__wbg_now",
            "__wbindgen_throw",
            "__wbg_short_123",
        ];
        let wasm = module(&names);
        let js: String = names
            .iter()
            .map(|n| format!("{n}: function() {{}},\n"))
            .collect();
        let (out, glue, renamed) = shorten(&wasm, &js).expect("rewrites");
        assert_eq!(renamed, 4);
        let expected = [
            "__wbg_append",
            // Two would be `__wbg_set`, and `__wbg_now` is taken: numbered.
            "__wbg_set_1",
            "__wbg_set_2",
            "__wbg_now_1",
            "__wbg_now",
            "__wbindgen_throw",
            "__wbg_short_123",
        ];
        assert_eq!(import_names(&out), expected);
        let keys: Vec<&str> = glue.lines().filter_map(|l| l.split(':').next()).collect();
        assert_eq!(keys, expected);
        // Everything but the import section is as it was.
        assert_eq!(out.len(), wasm.len() - 17 - 3 * 15);
        assert!(out.ends_with(&wasm[wasm.len() - 20..]));
    }

    #[test]
    fn glue_that_does_not_match_the_module_is_refused() {
        let wasm = module(&["__wbg_append_0123456789abcdef"]);
        let error = shorten(&wasm, "nothing here").expect_err("no key in the glue");
        assert!(error.to_string().contains("exactly once"), "{error}");
        assert!(shorten(b"not wasm at all", "").is_err());
    }
}
