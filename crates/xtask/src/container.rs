//! The container image (`Dockerfile`), checked by `cargo xtask test` where a container
//! engine answers (`docker info` succeeds): the image is built, started with the
//! environment alone (an admin token, a published port the engine picks), and must
//! report healthy (its `HEALTHCHECK` on `/healthz`) and answer `/healthz` from the host.
//! Elsewhere the step is skipped and says why.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};

use crate::{cmd, workspace};

/// The tag the check builds.
const TAG: &str = "interact-server:xtask-test";

/// How long the started container may take to be healthy.
const HEALTHY_WITHIN: Duration = Duration::from_secs(90);

/// Why the check cannot run here, if it cannot: no `docker` client, or no engine behind
/// it.
pub(crate) fn unavailable() -> Option<String> {
    if cmd::find_on_path("docker").is_none() {
        return Some("no `docker` on PATH".to_owned());
    }
    match cmd::program_in_root("docker").arg("info").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Some(format!("`docker info` failed: {}", why.trim()))
        }
        Err(e) => Some(format!("`docker info` did not run: {e}")),
    }
}

/// Builds the image, starts it and waits for `/healthz`; removes the container.
pub(crate) fn check() -> Result<()> {
    cmd::run(
        cmd::program_in_root("docker")
            .args(["build", "--tag", TAG, "."])
            .current_dir(workspace::root()),
    )?;
    let id = cmd::stdout(cmd::program_in_root("docker").args([
        "run",
        "--detach",
        "--rm",
        "--env",
        "INTERACT_ADMIN_TOKEN=xtask-container-check",
        "--publish",
        "127.0.0.1::8080",
        TAG,
    ]))?
    .trim()
    .to_owned();
    let outcome = wait_healthy(&id);
    if outcome.is_err() {
        let _ = cmd::run(cmd::program_in_root("docker").args(["logs", &id]));
    }
    let _ = cmd::program_in_root("docker").args(["stop", &id]).output();
    outcome
}

fn wait_healthy(id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let status = cmd::stdout(cmd::program_in_root("docker").args([
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            id,
        ]))?;
        match status.trim() {
            "healthy" => break,
            "unhealthy" => bail!("the container reports unhealthy"),
            _ if started.elapsed() > HEALTHY_WITHIN => {
                bail!("the container is not healthy within {HEALTHY_WITHIN:?} ({status})")
            }
            _ => std::thread::sleep(Duration::from_secs(2)),
        }
    }
    let port = cmd::stdout(cmd::program_in_root("docker").args(["port", id, "8080/tcp"]))?;
    let addr = port
        .lines()
        .next()
        .context("`docker port` names no address")?
        .trim()
        .to_owned();
    let answer = get_healthz(&addr)?;
    ensure!(
        answer.starts_with("HTTP/1.1 200") && answer.trim_end().ends_with("ok"),
        "GET http://{addr}/healthz answered {answer:?}"
    );
    println!("the container answers GET http://{addr}/healthz with 200 ok");
    Ok(())
}

/// `GET /healthz` at `addr` (`127.0.0.1:<port>`) over plain TCP: the whole answer.
fn get_healthz(addr: &str) -> Result<String> {
    use std::io::{Read as _, Write as _};
    let mut tcp =
        std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        tcp,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer)?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the image cannot be checked, the step says why in words (here: no daemon
    /// behind the `docker` client, or no client).
    #[test]
    fn a_skip_says_why() {
        match unavailable() {
            Some(why) => {
                println!("the container check would skip: {why}");
                assert!(why.contains("docker"), "{why}");
            }
            None => println!("a container engine answers: the check would run"),
        }
    }

    /// What the Dockerfile promises, read from it (the image itself is checked by
    /// [`check`] where an engine answers): the toolchain of `rust-toolchain.toml`, the
    /// pinned wasm-bindgen read from the workspace manifest, a non-root user, the port it
    /// listens on exposed and health-checked.
    #[test]
    fn the_dockerfile_keeps_its_promises() {
        let root = workspace::root();
        let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
        let toolchain: toml::Table = std::fs::read_to_string(root.join("rust-toolchain.toml"))
            .expect("rust-toolchain.toml")
            .parse()
            .expect("TOML");
        let channel = toolchain["toolchain"]["channel"].as_str().expect("channel");
        assert!(
            dockerfile.contains(&format!("FROM rust:{channel}-")),
            "the builder is the toolchain's Rust {channel}"
        );
        assert!(dockerfile.contains("cargo install wasm-bindgen-cli --version \"$version\""));
        assert!(dockerfile.contains("RUN cargo xtask dist"));
        let pin = workspace::pinned_version("wasm-bindgen").expect("the pin");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(
            manifest.contains(&format!("\nwasm-bindgen = \"={pin}\"")),
            "the Dockerfile's sed finds the pin on a line `wasm-bindgen = \"={pin}\"`"
        );
        let runtime = dockerfile
            .rsplit_once("\nFROM ")
            .expect("a runtime stage")
            .1;
        assert!(runtime.contains("\nUSER 10001:10001\n"), "a non-root user");
        assert!(runtime.contains("INTERACT_LISTEN=0.0.0.0:8080"));
        assert!(runtime.contains("\nEXPOSE 8080\n"));
        assert!(runtime.contains("HEALTHCHECK"));
        assert!(runtime.contains("/healthz"));
        assert!(runtime.contains("VOLUME [\"/var/lib/interact\"]"));
        assert!(runtime.contains("INTERACT_DATABASE_URL=sqlite:/var/lib/interact/"));
        let ignored = std::fs::read_to_string(root.join(".dockerignore")).expect(".dockerignore");
        for line in ["target", ".git", "www/widget/pkg", "www/console/pkg"] {
            assert!(ignored.lines().any(|l| l == line), ".dockerignore: {line}");
        }
    }
}
