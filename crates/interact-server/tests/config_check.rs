//! The binary's configuration commands and its demo safety: `config check` prints the
//! effective configuration (secrets masked, each value's source) and every problem with
//! its place, exiting non-zero on one; `serve` refuses the demo's admin token and `[demo]`
//! section without `--demo` and starts with it; no configuration is found through a
//! path fixed at build time.

use std::path::Path;
use std::process::{Command, Output};

use interact_testkit::{ServerProcess, process_config, write_config};

const SERVER: &str = env!("CARGO_BIN_EXE_interact-server");

/// Runs the binary in `dir` with these arguments and only these `INTERACT_*` variables.
fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(SERVER);
    cmd.current_dir(dir).args(args).env("RUST_LOG", "warn");
    for (name, _) in std::env::vars() {
        if name.starts_with("INTERACT_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run interact-server")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_shows_the_effective_configuration_and_every_problem() {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path(), &process_config(""));
    let file = config.to_str().expect("UTF-8");
    let written = std::fs::read_to_string(&config).expect("read");
    let line_of = |needle: &str| {
        written
            .lines()
            .position(|l| l.starts_with(needle))
            .expect("in the file")
            + 1
    };

    // The demo configuration: fine with --demo, and every value names its source.
    let out = run(
        dir.path(),
        &["--config", file, "config", "check", "--demo"],
        &[
            ("INTERACT_PUBLIC_URL", "http://localhost:8080"),
            (
                "INTERACT_DATABASE_URL",
                "postgres://interact:hunter2@db.internal/interact",
            ),
            ("INTERACT_LIMITS_MAX_CONNECTIONS", "500"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("The configuration is fine."), "{stderr}");
    assert!(
        stdout.contains("public_url = \"http://localhost:8080\"  # INTERACT_PUBLIC_URL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("max_connections = 500  # INTERACT_LIMITS_MAX_CONNECTIONS"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "frames_per_second = 20  # {file}:{}",
            line_of("frames_per_second")
        )),
        "{stdout}"
    );
    assert!(stdout.contains("interact:***@db.internal"), "{stdout}");
    assert!(
        !stdout.contains("hunter2"),
        "the password is masked:\n{stdout}"
    );
    assert!(
        !stdout.contains("91c16f0d6cc1bec3c3603972182a07c66ff4fa71618a975e963d6dbe42b6dd37"),
        "the token's hash is shortened:\n{stdout}"
    );
    assert!(stdout.contains("2 services, 3 users"), "{stdout}");

    // Without --demo, the demo's token and section are problems, with their lines; a bad
    // variable is one too, named. Exit code non-zero.
    let out = run(
        dir.path(),
        &["--config", file, "config", "check"],
        &[("INTERACT_DRAIN_SECS", "soon")],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("problem: INTERACT_DRAIN_SECS: \"soon\" is not a whole number"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "problem: {file}:{}: admin.token_sha256 is the hash of the public demo token",
            line_of("token_sha256")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("problem: {file}:{}: demo: ", line_of("[demo]"))),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: 3 problems in the configuration"),
        "{stderr}"
    );

    // A warning: public_url reachable from elsewhere, listen on loopback.
    let out = run(
        dir.path(),
        &["--config", file, "config", "check", "--demo"],
        &[("INTERACT_PUBLIC_URL", "https://chat.example.com")],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: {file}:{}: server.listen 127.0.0.1:0 is a loopback",
            line_of("listen")
        )),
        "{stderr}"
    );
}

#[test]
fn no_configuration_is_found_through_a_build_time_path() {
    // An empty folder, no --config, no INTERACT_CONFIG: the environment alone, which
    // names what is missing (the repository's config/demo.toml is not used).
    let dir = tempfile::tempdir().expect("dir");
    let out = run(dir.path(), &["config", "check"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("no file"), "{stdout}");
    assert!(stderr.contains("INTERACT_LISTEN"), "{stderr}");
    let out = run(dir.path(), &["serve"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("INTERACT_PUBLIC_URL"), "{stderr}");

    // The environment alone is a whole configuration.
    let db = format!("sqlite:{}", dir.path().join("interact.db").display());
    let out = run(
        dir.path(),
        &["config", "check"],
        &[
            ("INTERACT_LISTEN", "127.0.0.1:0"),
            ("INTERACT_PUBLIC_URL", "http://127.0.0.1:8080"),
            ("INTERACT_DATABASE_URL", &db),
            ("INTERACT_ADMIN_TOKEN", "a-real-admin-token"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("a-real-admin-token"), "{stdout}");

    // INTERACT_CONFIG names the file when --config does not.
    let config = write_config(dir.path(), &process_config(""));
    let out = run(
        dir.path(),
        &["config", "check", "--demo"],
        &[("INTERACT_CONFIG", config.to_str().expect("UTF-8"))],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[test]
fn serve_refuses_the_demo_without_demo() {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path(), &process_config(""));
    let out = run(
        dir.path(),
        &["serve", "--config", config.to_str().expect("UTF-8")],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("public demo token \"demo-admin-token\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("`interact-server serve --demo`"),
        "the message says how: {stderr}"
    );
    assert!(
        stderr.contains("and 1 more: `interact-server config check` lists them"),
        "{stderr}"
    );
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(
        !dir.path().join("interact.db").exists(),
        "refused before the database is opened"
    );

    // Without the [demo] section and with a token of its own it starts without --demo.
    let mut toml = process_config("");
    toml.remove("demo");
    toml["admin"].as_table_mut().expect("[admin]").insert(
        "token_sha256".into(),
        interact_server::auth::token_hash("a-real-token").into(),
    );
    let own = dir.path().join("own.toml");
    std::fs::write(&own, toml::to_string(&toml).expect("TOML")).expect("write");
    let out = run(
        dir.path(),
        &["config", "check", "--config", own.to_str().expect("UTF-8")],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_the_demo_with_demo() {
    // ServerProcess starts `serve --demo --config <file>`: the demo's token and section.
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path(), &process_config(""));
    let server = ServerProcess::start(SERVER, &config).await;
    let (status, body) =
        interact_testkit::http_request(server.addr, "GET", "/healthz", &[], "").await;
    assert_eq!(status, 200, "{body}");
}
