//! The nodes' configuration files, derived from the demo configuration, and the database
//! they share.

use std::net::SocketAddr;

use anyhow::{Context as _, Result};

use super::node::NodeSpec;
use super::{DATABASE, DEMO_CONFIG, DRAIN_SECS, HOST_PROXY, PROXY, REFRESH_SECS};
use crate::{cmd, workspace};

/// What the banner shows of the demo configuration.
#[derive(Debug, Default)]
pub(super) struct Demo {
    pub(super) embed_code: Option<String>,
    pub(super) agent_password: Option<String>,
    /// The agents: users with a licence (the demo's Tenant Admin has none).
    pub(super) users: Vec<String>,
}

impl Demo {
    pub(super) fn read(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("{DEMO_CONFIG} is not valid TOML"))?;
        let demo = table.get("demo").and_then(toml::Value::as_table);
        let text_of = |key: &str| {
            demo.and_then(|d| d.get(key))
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        };
        let users = table
            .get("user")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter(|user| {
                user.get("licences")
                    .and_then(toml::Value::as_array)
                    .is_some_and(|l| !l.is_empty())
            })
            .filter_map(|user| user.get("id")?.as_str().map(str::to_owned))
            .collect();
        Ok(Self {
            embed_code: text_of("embed_code"),
            agent_password: text_of("agent_password"),
            users,
        })
    }
}

/// The configuration file of `node`: the demo configuration (`demo`, TOML text) with the
/// node's addresses, the proxy's URL as `public_url` (the demo's own URLs, in the Domain
/// Template's origins and the privacy policies, become the proxy's), the shared
/// `database`, the bus (`nats`), a short drain, and absolute paths.
pub(super) fn node_config(
    demo: &str,
    node: &NodeSpec,
    database: &str,
    nats: &str,
) -> Result<String> {
    let mut table: toml::Table = demo
        .parse()
        .with_context(|| format!("{DEMO_CONFIG} is not valid TOML"))?;
    let server = section(&mut table, "server")?;
    let public_url = server
        .get("public_url")
        .and_then(toml::Value::as_str)
        .with_context(|| format!("{DEMO_CONFIG} has no [server] public_url"))?;
    let public_port = url_port(public_url)
        .with_context(|| format!("no port in {DEMO_CONFIG}'s public_url {public_url:?}"))?;
    let mut moves = vec![(public_port, PROXY.port())];
    let host_listen = table
        .get("demo")
        .and_then(|demo| demo.get("host_listen"))
        .and_then(toml::Value::as_str)
        .and_then(|addr| addr.parse::<SocketAddr>().ok());
    if let Some(host) = host_listen {
        moves.push((host.port(), HOST_PROXY.port()));
    }
    for (_, value) in table.iter_mut() {
        move_urls(value, &moves);
    }

    let server = section(&mut table, "server")?;
    server.insert("listen".into(), node.listen.to_string().into());
    server.insert("public_url".into(), proxy_url().into());
    server.insert("database".into(), database.into());
    // Absolute: the file is not where the demo configuration is.
    let www = workspace::root().join("www");
    server.insert("www".into(), www.display().to_string().into());
    server.insert("drain_secs".into(), i64::from(DRAIN_SECS).into());
    // See the header: behind an L4 proxy there is no proxy to trust.
    server.remove("trusted_proxies");
    section(&mut table, "metrics")?.insert("listen".into(), node.metrics.to_string().into());
    let cluster = section(&mut table, "cluster")?;
    cluster.insert("nats_url".into(), nats.into());
    cluster.insert("refresh_secs".into(), i64::from(REFRESH_SECS).into());
    if let Some(demo) = table.get_mut("demo").and_then(toml::Value::as_table_mut) {
        demo.insert("host_listen".into(), node.host.to_string().into());
    }
    if let Some(web_requests) = table
        .get_mut("web_requests")
        .and_then(toml::Value::as_table_mut)
        && let Some(ca_file) = web_requests.get("ca_file").and_then(toml::Value::as_str)
    {
        let ca_file = workspace::root().join("config").join(ca_file);
        web_requests.insert("ca_file".into(), ca_file.display().to_string().into());
    }

    let body = toml::to_string(&table).context("cannot write a node's configuration")?;
    Ok(format!(
        "\
# Node {name} of `cargo xtask cluster`, written at every start from {DEMO_CONFIG} (change
# that file, not this one). What differs: the ports, public_url (the proxy in front),
# the shared PostgreSQL database, [cluster], drain_secs and absolute paths.
#
# No trusted_proxies: the proxy in front ({PROXY}) relays TCP (L4) and adds no
# Forwarded or X-Forwarded-For header, so every client reaches a node from 127.0.0.1.
# Trusting 127.0.0.1 would only let any client name itself with such a header.

{body}",
        name = node.name,
    ))
}

/// The table `name` of `table`, made if it is missing.
fn section<'a>(table: &'a mut toml::Table, name: &str) -> Result<&'a mut toml::Table> {
    table
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .with_context(|| format!("{name} in {DEMO_CONFIG} is not a table"))
}

/// Points every loopback URL on a `from` port in `value` (strings, however deep) at the
/// `to` port instead.
fn move_urls(value: &mut toml::Value, moves: &[(u16, u16)]) {
    match value {
        toml::Value::String(text) => {
            for (from, to) in moves {
                for host in ["127.0.0.1", "localhost"] {
                    *text = text.replace(&format!("//{host}:{from}"), &format!("//{host}:{to}"));
                }
            }
        }
        toml::Value::Array(values) => {
            for value in values {
                move_urls(value, moves);
            }
        }
        toml::Value::Table(table) => {
            for (_, value) in table.iter_mut() {
                move_urls(value, moves);
            }
        }
        _ => {}
    }
}

/// The port of an `http://host:port` URL.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    authority.rsplit_once(':')?.1.parse().ok()
}

/// The URL of the proxy: every node's `public_url`.
pub(super) fn proxy_url() -> String {
    format!("http://{PROXY}")
}

/// Creates [`DATABASE`] on the PostgreSQL server of `admin_url` unless it exists, and
/// returns its URL.
pub(super) fn create_database(admin_url: &str) -> Result<String> {
    let psql = cmd::find_on_path("psql").with_context(|| {
        format!(
            "`psql` is not on PATH: create the database {DATABASE} by hand \
             (`createdb {DATABASE}`) and install the PostgreSQL client"
        )
    })?;
    let psql = || {
        let mut command = cmd::program_in_root(&psql);
        command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_url]);
        command
    };
    let found = cmd::stdout(psql().args([
        "-tA",
        "-c",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"),
    ]))?;
    if found.trim() == "1" {
        println!("PostgreSQL: database {DATABASE} exists");
    } else {
        cmd::run(psql().args(["-c", &format!("CREATE DATABASE {DATABASE}")]))?;
    }
    with_database(admin_url, DATABASE)
}

/// `url` (`postgres://user@host:port/db?options`) with the database `name` instead.
fn with_database(url: &str, name: &str) -> Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("{url:?} is not a PostgreSQL URL"))?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// The host and port of a URL, without the user information (which may hold a password).
pub(super) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../../../config/demo.toml");

    #[test]
    fn a_node_gets_its_ports_the_proxy_url_the_database_and_the_bus() {
        let node = NodeSpec::new("b", 8110);
        let text = node_config(
            DEMO,
            &node,
            "postgres://postgres@127.0.0.1:5432/interact_cluster",
            "nats://127.0.0.1:4222",
        )
        .expect("config");
        let table: toml::Table = text.parse().expect("valid TOML");
        let at = |section: &str, key: &str| {
            table
                .get(section)
                .and_then(|s| s.get(key))
                .cloned()
                .unwrap_or_else(|| panic!("no {section}.{key}"))
        };
        assert_eq!(at("server", "listen").as_str(), Some("127.0.0.1:8110"));
        assert_eq!(
            at("server", "public_url").as_str(),
            Some("http://127.0.0.1:8090")
        );
        assert_eq!(
            at("server", "database").as_str(),
            Some("postgres://postgres@127.0.0.1:5432/interact_cluster")
        );
        assert_eq!(at("server", "drain_secs").as_integer(), Some(2));
        assert!(table["server"].get("trusted_proxies").is_none());
        assert_eq!(at("metrics", "listen").as_str(), Some("127.0.0.1:8112"));
        assert_eq!(at("demo", "host_listen").as_str(), Some("127.0.0.1:8111"));
        assert_eq!(
            at("cluster", "nats_url").as_str(),
            Some("nats://127.0.0.1:4222")
        );
        assert!(std::path::Path::new(at("server", "www").as_str().expect("www")).is_absolute());
        // The demo's URLs became the proxy's: the template allows the proxied host page.
        assert!(!text.contains(":8080") && !text.contains(":8081"), "{text}");
        let origins = &table["domain_template"][0]["origins"];
        assert!(
            origins
                .as_array()
                .expect("origins")
                .iter()
                .any(|o| o.as_str() == Some("http://localhost:8091")),
            "{origins}"
        );
    }

    #[test]
    fn the_database_name_is_replaced_and_the_password_not_shown() {
        let with = |url| with_database(url, "interact_cluster").expect("URL");
        assert_eq!(
            with("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/interact_cluster"
        );
        assert_eq!(
            with("postgres://u:p@db:5432/postgres?sslmode=disable"),
            "postgres://u:p@db:5432/interact_cluster?sslmode=disable"
        );
        assert_eq!(with("postgresql://db"), "postgresql://db/interact_cluster");
        assert!(with_database("db", "x").is_err());
        assert_eq!(host_of("postgres://u:p@ss@db:5432/x?a=b"), "db:5432");
        assert_eq!(host_of("postgres://db/x"), "db");
        assert_eq!(url_port("http://127.0.0.1:8080"), Some(8080));
        assert_eq!(url_port("https://example.com/x"), None);
    }

    #[test]
    fn the_demo_facts_are_read() {
        let demo = Demo::read(DEMO).expect("demo");
        assert_eq!(demo.users, ["alex", "sam"]);
        assert!(demo.embed_code.is_some() && demo.agent_password.is_some());
    }
}
