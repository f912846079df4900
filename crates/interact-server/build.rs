//! The pages the server builds in (`www/` and `examples/custom-ui/`, see
//! `src/http/files.rs`) are read when it compiles: compile it again when a file there is
//! added, changed or removed (`cargo xtask widget` writes the wasm packages into `www/`).
//! Cargo watches every file under a folder named here.

fn main() {
    println!("cargo::rerun-if-changed=../../www");
    println!("cargo::rerun-if-changed=../../examples/custom-ui");
    println!("cargo::rerun-if-changed=build.rs");
}
