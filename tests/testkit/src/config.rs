//! The demo configuration (`config/demo.toml`) adjusted for a test: a database of the
//! test's, the workspace's `www`, a port the OS picks, nothing on a fixed port.

use std::path::{Path, PathBuf};

use interact_server::config::{Config, Database};

/// `config/demo.toml`, the configuration the tests start from (so the tests and the demo
/// stay in step).
pub const DEMO: &str = include_str!("../../../config/demo.toml");

/// The demo embed code (`[demo]` of [`DEMO`]: service `support`, template `demo`), which a
/// [`ServerProcess`](crate::ServerProcess) creates at start.
pub const DEMO_CODE: &str = "ie1_interactdemowidgetsupporta";

/// An origin the demo Domain Template allows, for the `Origin` header of a visitor
/// connection. Nothing needs to listen there (the demo serves its host page on it).
pub const ALLOWED: &str = "http://127.0.0.1:8081";

/// An origin no Domain Template of the demo allows.
pub const FOREIGN: &str = "https://evil.example.net";

/// The workspace's `www` folder (the console, the widget's files and packages).
pub fn www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../www")
}

/// The demo configuration for an in-process server ([`TestServer`](crate::TestServer)):
/// its database `dir/interact.db`, the workspace's `www`, `listen` on `127.0.0.1:0`, and
/// no `[demo]` section (no demo embed code, no demo host page).
///
/// `[metrics] listen` stays as the demo has it: only `interact-server serve` binds it,
/// never [`interact_server::run`].
pub fn config(dir: &Path) -> Config {
    config_from(DEMO, dir)
}

/// [`config`] of another configuration text (the demo one changed, say).
pub fn config_from(text: &str, dir: &Path) -> Config {
    let mut c = Config::parse(text).expect("the test configuration parses");
    c.validate().expect("the test configuration is valid");
    c.server.database = Database::Sqlite(dir.join("interact.db"));
    c.server.www = Some(www());
    c.server.listen = "127.0.0.1:0".parse().expect("an address");
    c.demo = None;
    // Connectors' secret references may name files in the test's folder.
    c.secrets.dir = Some(dir.to_owned());
    c
}

/// The demo configuration for a [`ServerProcess`](crate::ServerProcess), as a TOML table
/// to write with [`write_config`]: `listen` on `127.0.0.1:0` (the process reports the
/// port it got), the database `interact.db` next to the configuration file, the
/// workspace's `www`, no `[metrics]` address and no demo host page (`[demo] host_listen`);
/// the rest of `[demo]` stays, so [`DEMO_CODE`] works. `limits` (TOML `key = value`
/// lines, may be empty) override keys of `[limits]`.
pub fn process_config(limits: &str) -> toml::Table {
    let mut config: toml::Table = DEMO.parse().expect("the demo configuration is TOML");
    let server = config["server"].as_table_mut().expect("[server]");
    server.insert("listen".into(), "127.0.0.1:0".into());
    server.insert("database".into(), "interact.db".into());
    server.insert("www".into(), www().display().to_string().into());
    config.remove("metrics");
    if let Some(demo) = config.get_mut("demo").and_then(|d| d.as_table_mut()) {
        demo.remove("host_listen");
    }
    let overrides: toml::Table = limits.parse().expect("the limits are TOML");
    config["limits"]
        .as_table_mut()
        .expect("[limits]")
        .extend(overrides);
    config
}

/// Writes `config` to `dir/config.toml`; returns the file's path.
pub fn write_config(dir: &Path, config: &toml::Table) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, toml::to_string(config).expect("TOML")).expect("write the configuration");
    path
}

/// Replaces the configuration's workflows with one, `name` with the `[[step]]`s of
/// `steps` (TOML), and points every service that had a workflow at it (its Audio/Video
/// workflow is gone with the others: its call-first sessions run none).
pub fn with_workflow(config: &mut toml::Table, name: &str, steps: &str) {
    let workflow: toml::Table = format!("name = {name:?}\n{steps}")
        .parse()
        .expect("the workflow is TOML");
    config.insert("workflow".into(), vec![toml::Value::from(workflow)].into());
    for s in config
        .get_mut("service")
        .and_then(|s| s.as_array_mut())
        .expect("[[service]]")
    {
        let s = s.as_table_mut().expect("[[service]]");
        if s.get("workflow").is_some() {
            s.insert("workflow".into(), name.into());
        }
        s.remove("av_workflow");
    }
}
