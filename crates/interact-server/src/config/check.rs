//! Loading a configuration from its file and the environment, with every problem and
//! where it comes from (a line of the file, or a variable): what [`Config::load`] and
//! `interact-server config check` share.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize as _, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::env::{self, Override, VARIABLES};
use super::{
    AttachmentsSection, ClusterSection, Config, Database, IceSection, LimitsSection,
    MetricsSection, SecretsSection, ServerSection, SmtpSection, TelemetrySection,
    WebRequestsSection,
};

/// Where a problem or a setting comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// A line of the configuration file (1-based).
    Line {
        /// The file, as given.
        file: PathBuf,
        /// The line.
        line: usize,
    },
    /// The configuration file as a whole.
    File(PathBuf),
    /// An environment variable.
    Var(&'static str),
    /// The configuration as a whole (no file: the environment alone).
    Configuration,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line { file, line } => write!(f, "{}:{line}", file.display()),
            Self::File(file) => write!(f, "{}", file.display()),
            Self::Var(name) => f.write_str(name),
            Self::Configuration => f.write_str("the configuration"),
        }
    }
}

/// One thing wrong with a configuration (or, as a warning, doubtful).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where it is.
    pub place: Place,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `place: message`, the variable named once where the message starts with it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Place::Var(name) if self.message.starts_with(name) => f.write_str(&self.message),
            _ => write!(f, "{}: {}", self.place, self.message),
        }
    }
}

/// A configuration read from its file and the environment, with all its problems.
#[derive(Debug)]
pub struct Checked {
    /// The file, if there is one.
    pub file: Option<PathBuf>,
    /// The configuration, if it could be read at all (it may still have problems).
    pub config: Option<Config>,
    /// What must be fixed before a node can start with it.
    pub problems: Vec<Problem>,
    /// What is doubtful (a node starts, and logs these).
    pub warnings: Vec<Problem>,
    /// The settings the environment gave: key → variable.
    from_env: BTreeMap<&'static str, &'static str>,
    /// The file's keys (`server.listen`, `service[1]`, `service:support`) → line.
    lines: BTreeMap<String, usize>,
}

impl Checked {
    /// Reads `file` (none: the environment alone) and the variables `env` gives
    /// (`|name| std::env::var(name).ok()` for the process's), and checks everything.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut checked = Self {
            file: file.map(Path::to_owned),
            config: None,
            problems: Vec::new(),
            warnings: Vec::new(),
            from_env: BTreeMap::new(),
            lines: BTreeMap::new(),
        };
        let text = match file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    checked.push(Place::File(path.to_owned()), format!("cannot read it: {e}"));
                    return checked;
                }
            },
            None => String::new(),
        };
        let mut overrides: Vec<Override> = Vec::new();
        for v in VARIABLES {
            let literal = env::read(v.name, env)
                .and_then(|value| value.map(|value| env::literal(v, &value)).transpose());
            match literal {
                Ok(Some(literal)) => {
                    if let Some(other) = overrides.iter().find(|o| o.variable.key == v.key) {
                        checked.push(
                            Place::Var(v.name),
                            format!(
                                "{} sets {} too: give one of them",
                                other.variable.name, v.key
                            ),
                        );
                        continue;
                    }
                    overrides.push(Override {
                        variable: v,
                        literal,
                    });
                }
                Ok(None) => {}
                Err(message) => checked.push(Place::Var(v.name), message),
            }
        }
        let root = match DeTable::parse(&text) {
            Ok(root) => root,
            Err(e) => {
                let place = checked.place_of_span(e.span(), &text, &[]);
                checked.push(place, e.message().trim().to_owned());
                return checked;
            }
        };
        lines_of(&text, "", root.get_ref(), &mut checked.lines);
        for o in &overrides {
            checked.from_env.insert(o.variable.key, o.variable.name);
        }
        let mut root = root.into_inner();
        if let Err(message) = env::overlay(&mut root, text.len(), &overrides) {
            checked.push(Place::Configuration, message);
            return checked;
        }
        let tree = toml::de::Deserializer::from(Spanned::new(0..text.len(), root));
        let mut config = match Config::deserialize(tree) {
            Ok(config) => config,
            Err(e) => {
                let place = checked.place_of_span(e.span(), &text, &overrides);
                let message = with_hint(e.message().trim());
                checked.push(place, message);
                return checked;
            }
        };
        if let Err(message) = config.load_definitions(&text) {
            let place = checked.place_of_message(&message);
            checked.push(place, message);
            return checked;
        }
        for message in config.problems() {
            let place = checked.place_of_message(&message);
            checked.push(place, message);
        }
        // Relative paths of the file are relative to its folder; those of the
        // environment to the working directory.
        let base = file
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .to_owned();
        let from_env = checked.from_env.clone();
        let base_of = |key: &str| {
            if from_env.contains_key(key) {
                PathBuf::from(".")
            } else {
                base.clone()
            }
        };
        if let Some(dir) = &config.secrets.dir {
            config.secrets.dir = Some(base_of("secrets.dir").join(dir));
        }
        if let Err(message) = config
            .web_requests
            .load_ca(&base_of("web_requests.ca_file"))
        {
            let place = checked.place_of_message(&message);
            checked.push(place, message);
        }
        if let Err(message) = config.ice.load_secrets_from(env) {
            let place = checked.place_of_message(&message);
            checked.push(place, message);
        }
        if let Some(smtp) = &config.smtp
            && let Err(message) = smtp.password_from(env)
        {
            let place = checked.place_of_message(&message);
            checked.push(place, message);
        }
        if let Database::Sqlite(f) = &config.server.database {
            config.server.database = Database::Sqlite(base_of("server.database").join(f));
        }
        if let Some(www) = &config.server.www {
            config.server.www = Some(base_of("server.www").join(www));
        }
        for message in config.warnings() {
            let place = checked.place_of_message(&message);
            checked.warnings.push(Problem { place, message });
        }
        checked.config = Some(config);
        checked
    }

    /// Adds the problems of a demo configuration (the demo admin token, a `[demo]`
    /// section), which only `--demo` allows.
    pub fn refuse_demo(&mut self) {
        let Some(config) = &self.config else { return };
        for message in config.demo_problems() {
            let place = self.place_of_message(&message);
            self.push(place, message);
        }
    }

    /// Adds the problem of a `server.www` that is no folder (what `serve` and `config
    /// check` look at on this machine; the configuration itself may be for another).
    pub fn check_folders(&mut self) {
        let Some(www) = self.config.as_ref().and_then(|c| c.server.www.clone()) else {
            return;
        };
        if !www.is_dir() {
            let message = format!(
                "server.www {} is not a folder: delete the setting to serve the pages built \
                 into the binary",
                www.display()
            );
            let place = self.place_of_message(&message);
            self.push(place, message);
        }
    }

    /// Where a setting comes from: its variable, its line, or nowhere (its default).
    pub fn source_of(&self, key: &str) -> Option<Place> {
        if let Some(var) = self.from_env.get(key) {
            return Some(Place::Var(var));
        }
        let line = self.lines.get(key)?;
        Some(match &self.file {
            Some(file) => Place::Line {
                file: file.clone(),
                line: *line,
            },
            None => Place::Configuration,
        })
    }

    /// The effective settings of the node (not the tenant: services, users, workflows
    /// are summarised), as TOML with each value's source in a comment and the secrets
    /// masked.
    pub fn effective(&self) -> String {
        let Some(config) = &self.config else {
            return String::new();
        };
        let node = Node {
            server: &config.server,
            admin: Admin {
                token_sha256: masked_hash(&config.admin.token_sha256),
            },
            metrics: &config.metrics,
            telemetry: &config.telemetry,
            cluster: &config.cluster,
            limits: &config.limits,
            attachments: &config.attachments,
            web_requests: &config.web_requests,
            secrets: &config.secrets,
            ice: &config.ice,
            smtp: config.smtp.as_ref(),
        };
        let text = toml::to_string(&node).unwrap_or_else(|e| format!("# not shown: {e}\n"));
        let mut out = String::new();
        let mut section = String::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim_matches(['[', ']']).to_owned();
                out.push_str(line);
            } else if let Some((key, _)) = line.split_once(" = ") {
                let key = format!("{section}.{}", key.trim());
                let source = match self.source_of(&key) {
                    Some(place) => place.to_string(),
                    None if section == "ice.server" => String::new(),
                    None => "default".to_owned(),
                };
                out.push_str(line);
                if !source.is_empty() {
                    out.push_str("  # ");
                    out.push_str(&source);
                }
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        let tenant = format!(
            "\n# The tenant (from the file; the database may hold more): {} services, {} users, \
             {} Domain Templates, {} opening hours, {} workflows{}\n",
            config.services.len(),
            config.users.len(),
            config.domain_templates.len(),
            config.opening_hours.len(),
            config.workflows.len(),
            match &config.demo {
                Some(demo) => format!(", a [demo] section (embed code {})", demo.embed_code),
                None => String::new(),
            }
        );
        out + &tenant
    }

    fn push(&mut self, place: Place, message: String) {
        self.problems.push(Problem { place, message });
    }

    fn at_line(&self, line: usize) -> Place {
        match &self.file {
            Some(file) => Place::Line {
                file: file.clone(),
                line,
            },
            None => Place::Configuration,
        }
    }

    fn whole(&self) -> Place {
        match &self.file {
            Some(file) => Place::File(file.clone()),
            None => Place::Configuration,
        }
    }

    /// The place of a parse or schema error's span: a variable's marker, or a line.
    fn place_of_span(
        &self,
        span: Option<std::ops::Range<usize>>,
        text: &str,
        overrides: &[Override],
    ) -> Place {
        let Some(span) = span else {
            return self.whole();
        };
        if let Some(i) = env::marked(text.len(), &span, overrides) {
            return Place::Var(overrides[i].variable.name);
        }
        self.at_line(line_of(text, span.start))
    }

    /// The place a validation message names: its leading key (`server.public_url ...`,
    /// `ice.server[0]: ...`), the service, user, template or workflow it names
    /// (`service "support": ...`), or a line (`..., line 12`).
    fn place_of_message(&self, message: &str) -> Place {
        if let Some(line) = message
            .split("line ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
        {
            return self.at_line(line);
        }
        for table in ["service", "user", "domain_template", "workflow"] {
            if let Some(rest) = message.strip_prefix(&format!("{table} \""))
                && let Some((name, _)) = rest.split_once('"')
                && let Some(line) = self.lines.get(&format!("{table}:{name}"))
            {
                return self.at_line(*line);
            }
        }
        let lead: String = message
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
            .collect();
        let mut key = lead.trim_end_matches('.');
        loop {
            if let Some(place) = self.source_of(key) {
                return place;
            }
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => return self.whole(),
            }
        }
    }
}

/// A missing setting's message with the variable that can give it.
fn with_hint(message: &str) -> String {
    let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    else {
        return message.to_owned();
    };
    let vars: Vec<&str> = VARIABLES
        .iter()
        .filter(|v| {
            v.required && (v.key.ends_with(&format!(".{field}")) || v.key.starts_with(field))
        })
        .map(|v| v.name)
        .collect();
    if vars.is_empty() {
        message.to_owned()
    } else {
        format!("{message} (in the file, or {})", vars.join(", "))
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// Records the line of every key of the tree: `server.listen`, arrays of tables by index
/// (`service[1]`) and, where their elements have an `id` or a `name`, by it
/// (`service:support`).
fn lines_of(text: &str, prefix: &str, table: &DeTable<'_>, out: &mut BTreeMap<String, usize>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.insert(path.clone(), line_of(text, key.span().start));
        match value.get_ref() {
            DeValue::Table(t) => lines_of(text, &path, t, out),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref() {
                        let at = format!("{path}[{i}]");
                        let line = line_of(text, item.span().start);
                        out.insert(at.clone(), line);
                        if let Some(name) = ["id", "name"]
                            .iter()
                            .find_map(|k| t.get(*k).and_then(|v| v.get_ref().as_str()))
                        {
                            out.insert(format!("{path}:{name}"), line);
                        }
                        lines_of(text, &at, t, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A SHA-256 shown by its first digits.
fn masked_hash(hash: &str) -> String {
    match hash.get(..8) {
        Some(start) => format!("{start}…"),
        None => hash.to_owned(),
    }
}

/// What `config check` shows of a node's settings.
#[derive(Serialize)]
struct Node<'a> {
    server: &'a ServerSection,
    admin: Admin,
    metrics: &'a MetricsSection,
    telemetry: &'a TelemetrySection,
    cluster: &'a ClusterSection,
    limits: &'a LimitsSection,
    attachments: &'a AttachmentsSection,
    web_requests: &'a WebRequestsSection,
    secrets: &'a SecretsSection,
    ice: &'a IceSection,
    #[serde(skip_serializing_if = "Option::is_none")]
    smtp: Option<&'a SmtpSection>,
}

#[derive(Serialize)]
struct Admin {
    token_sha256: String,
}

/// `Serialize` of a hash: its first digits.
pub(super) fn serialize_hash<S: serde::Serializer>(
    hash: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match hash {
        Some(h) => s.serialize_str(&masked_hash(h)),
        None => s.serialize_none(),
    }
}

/// `Serialize` of a URL that may hold a password: `scheme://user:***@host...`.
pub(super) fn serialize_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_str(&super::mask_password(url)),
        None => s.serialize_none(),
    }
}
