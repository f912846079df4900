//! `cargo xtask dist`: the release of the server for operators, a tarball under
//! `target/dist/`: the wasm packages built first (the server builds them in), then the
//! server in the `production` profile (release, stripped), packed with the operators'
//! README (`dist/README.md`), the example configuration
//! (`config/interact.example.toml`), the systemd unit (`dist/interact.service`) and the
//! changelog.
//!
//! `cargo xtask test` checks the tarball's assembly ([`assemble`], on a stand-in binary)
//! and the debug binary's built-in pages (`crates/interact-server/tests/standalone.rs`),
//! not the release build itself, which takes long: that runs when `dist` is run (and in
//! the container image's build, `Dockerfile`).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::{cmd, prereq, widget, workspace};

/// The Cargo profile of the release binary (see the workspace `Cargo.toml`).
pub(crate) const PROFILE: &str = "production";

/// The files of the tarball besides the binary: (where in the tarball, where in the
/// workspace).
pub(crate) const FILES: &[(&str, &str)] = &[
    ("README.md", "dist/README.md"),
    (
        "config/interact.example.toml",
        "config/interact.example.toml",
    ),
    ("systemd/interact.service", "dist/interact.service"),
    ("CHANGELOG.md", "CHANGELOG.md"),
];

/// The name of the release: `interact-<version>-<arch>-<os>`.
pub(crate) fn release_name() -> String {
    format!(
        "interact-{}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Builds the packages and the binary, then the tarball; prints its path.
pub(crate) fn run() -> Result<()> {
    prereq::ensure_toolchain()?;
    prereq::ensure_test_runner()?;
    prereq::ensure_wasm_opt()?;
    widget::build()?;
    cmd::run(cmd::cargo().args([
        "build",
        "--profile",
        PROFILE,
        "--package",
        "interact-server",
        "--bin",
        "interact-server",
    ]))?;
    let binary = workspace::target_dir()
        .join(PROFILE)
        .join("interact-server");
    let tarball = assemble(
        &binary,
        workspace::root(),
        &workspace::target_dir().join("dist"),
        &release_name(),
    )?;
    println!("\n{}", tarball.display());
    Ok(())
}

/// Packs `binary` and [`FILES`] (from `root`) as `<name>/...` into `<out>/<name>.tar.gz`;
/// returns its path. The binary is executable (0755), the rest 0644, owned by root, all
/// with the binary's time.
pub(crate) fn assemble(binary: &Path, root: &Path, out: &Path, name: &str) -> Result<PathBuf> {
    ensure!(
        binary.is_file(),
        "{} is missing: the server was not built",
        binary.display()
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mtime = std::fs::metadata(binary)?
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let path = out.join(format!("{name}.tar.gz"));
    let partial = out.join(format!("{name}.tar.gz.partial"));
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::best()));
    let mut add = |inside: &str, data: &[u8], mode: u32| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{inside}"), data)
            .with_context(|| format!("adding {inside}"))
    };
    let data = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    add("interact-server", &data, 0o755)?;
    for (inside, from) in FILES {
        let from = root.join(from);
        let data = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        add(inside, &data, 0o644)?;
    }
    tar.into_inner()?.finish()?.flush()?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    /// The tarball of a stand-in binary holds it and the operators' files under one
    /// folder, with the modes an operator needs.
    #[test]
    fn the_tarball_holds_the_binary_and_the_operators_files() {
        let dir = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let binary = dir.join("interact-server");
        std::fs::write(&binary, b"#!/bin/sh\necho stand-in\n").expect("write");
        let name = release_name();
        let tarball =
            assemble(&binary, workspace::root(), &dir.join("dist"), &name).expect("the tarball");
        assert_eq!(
            tarball.file_name().and_then(|n| n.to_str()),
            Some(format!("{name}.tar.gz").as_str())
        );
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
            File::open(&tarball).expect("open"),
        ));
        let mut found = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("an entry");
            let path = entry.path().expect("a path").display().to_string();
            let mode = entry.header().mode().expect("a mode");
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            found.push((path, mode, data));
        }
        let mut wanted = vec![(
            format!("{name}/interact-server"),
            0o755,
            std::fs::read(&binary).expect("read"),
        )];
        for (inside, from) in FILES {
            wanted.push((
                format!("{name}/{inside}"),
                0o644,
                std::fs::read(workspace::root().join(from)).expect("a distributed file"),
            ));
        }
        assert_eq!(found, wanted);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// The systemd unit runs the binary as it is unpacked to, as a user of its own, with
    /// the environment file the README describes and the hardening kept.
    #[test]
    fn the_systemd_unit_is_hardened() {
        let unit = std::fs::read_to_string(workspace::root().join("dist/interact.service"))
            .expect("dist/interact.service");
        for line in [
            "User=interact",
            "EnvironmentFile=-/etc/interact/interact.env",
            "ExecStart=/usr/local/bin/interact-server serve --config /etc/interact/interact.toml",
            "StateDirectory=interact",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "CapabilityBoundingSet=",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service",
            "MemoryDenyWriteExecute=yes",
        ] {
            assert!(
                unit.lines().any(|l| l.trim() == line),
                "dist/interact.service has no line {line:?}"
            );
        }
        assert!(!unit.contains("User=root"));
        let readme =
            std::fs::read_to_string(workspace::root().join("dist/README.md")).expect("README");
        for named in [
            "interact.env",
            "interact.example.toml",
            "useradd",
            "/healthz",
        ] {
            assert!(readme.contains(named), "dist/README.md names {named}");
        }
    }

    /// The example configuration holds no demo credentials.
    #[test]
    fn the_example_configuration_is_no_demo() {
        let example = std::fs::read_to_string(workspace::root().join(FILES[1].1))
            .expect("the example configuration");
        let demo = std::fs::read_to_string(workspace::root().join("config/demo.toml"))
            .expect("the demo configuration");
        let table: toml::Table = example.parse().expect("TOML");
        assert!(table.get("demo").is_none(), "no [demo] section");
        // The demo token's hash.
        assert!(
            !example.contains("91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37")
        );
        assert!(!example.contains("demo-password") && !example.contains("demo-admin-token"));
        assert!(demo.contains("demo-admin-token"), "the demo is the demo");
    }
}
