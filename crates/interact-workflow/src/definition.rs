//! Workflow definitions: the TOML shape, loading, and the checks that make a loaded
//! workflow safe to run.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::activity::{self, Activity, normalize_name};
use crate::hours::{OpeningHours, OpeningHoursConfig};
use crate::template::is_valid_name;

/// One `[[workflow.step]]` as written: keys with their places in the file. Its activity
/// is only known after reading `activity`, so it is checked by [`Definitions::build`]
/// rather than by serde.
pub type StepConfig = Spanned<BTreeMap<String, Spanned<toml::Value>>>;

/// `[[workflow]]` as written in the TOML file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// Unique name; services select a workflow by it.
    pub name: Spanned<String>,
    /// Steps a run may take before it is ended as failed (10 to 100000, default 1000).
    #[serde(default)]
    pub max_steps: Option<u32>,
    /// The tasks it runs: `instant_messaging` (the default) or `audio_video` (calls
    /// started from the widget, which the documents limit further).
    #[serde(default)]
    pub modality: WorkflowModality,
    /// The steps, in order; the first runs first.
    #[serde(rename = "step")]
    pub steps: Vec<StepConfig>,
}

/// The tasks a workflow runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowModality {
    /// Chats (the widget's and WhatsApp's).
    #[default]
    InstantMessaging,
    /// Audio/Video calls initiated from Interact.
    AudioVideo,
}

impl WorkflowModality {
    /// How the documents name it.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::InstantMessaging => "Instant Messaging",
            Self::AudioVideo => "Audio/Video calls initiated from Interact",
        }
    }
}

/// What the documents exclude for Audio/Video calls initiated from Interact: the
/// activity (TOML name and the documents' name), the parameter that makes a step of it
/// excluded (`None`: the activity itself), and the documents' words.
pub const NOT_FOR_CALLS: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "transfer",
        "Transfer",
        Some("user"),
        "can only target services",
    ),
    (
        "queue_task",
        "Queue",
        Some("distribution"),
        "the \"Pickup\" distribution type is not supported",
    ),
    ("voice_message", "Voice Message", None, "not supported"),
    (
        "input_customer",
        "Customer Input",
        Some("dtmf"),
        "sending DTMF over Interact (Client/SDK) is not supported",
    ),
];

/// A document of opening hours and workflows only (the server's configuration file has
/// the same tables among its others).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionsConfig {
    /// `[[opening_hours]]`
    #[serde(default)]
    pub opening_hours: Vec<OpeningHoursConfig>,
    /// `[[workflow]]`
    #[serde(default, rename = "workflow")]
    pub workflows: Vec<WorkflowConfig>,
}

/// Where in the definitions something is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The workflow's name.
    pub workflow: String,
    /// The step, counted from 1 as people count; `None` for the workflow as a whole.
    pub step: Option<usize>,
    /// The step's label.
    pub label: Option<String>,
    /// The line in the TOML file, when the text was at hand.
    pub line: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "workflow {:?}", self.workflow)?;
        if let Some(step) = self.step {
            write!(f, " step {step}")?;
        }
        if let Some(label) = &self.label {
            write!(f, " ({label:?})")?;
        }
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        Ok(())
    }
}

/// Why workflow definitions cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The TOML is malformed or does not fit the schema (the message names the line).
    #[error("{0}")]
    Toml(String),
    /// The step names an activity that exists in the product but not for Instant
    /// Messaging.
    #[error("{place}: activity {activity:?} is not supported for Instant Messaging")]
    Unsupported {
        /// Where.
        place: Place,
        /// The activity's name in the product documents, e.g. "Play Music".
        activity: &'static str,
    },
    /// A step of an Audio/Video workflow does what the documents exclude for calls
    /// initiated from Interact ([`NOT_FOR_CALLS`], or an activity this server runs for
    /// neither modality).
    #[error("{place}: {activity}: {limitation} for Audio/Video calls initiated from Interact")]
    NotForCalls {
        /// Where (the line of the parameter that excludes it, if one does).
        place: Place,
        /// The activity's name in the product documents.
        activity: &'static str,
        /// Why, in the documents' words.
        limitation: &'static str,
    },
    /// The step names no known activity.
    #[error("{place}: unknown activity {name:?}")]
    UnknownActivity {
        /// Where.
        place: Place,
        /// The name as written.
        name: String,
    },
    /// A step or workflow is inconsistent: bad parameters, missing labels, loops.
    #[error("{place}: {message}")]
    Invalid {
        /// Where.
        place: Place,
        /// What is wrong.
        message: String,
    },
    /// An `[[opening_hours]]` table is wrong.
    #[error("opening_hours {name:?}: {message}")]
    Hours {
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// One loaded step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its label, if it has one.
    pub label: Option<String>,
    /// What it does.
    pub activity: Activity,
    /// The step after it when it falls through (`next`, or the following step).
    pub next: Option<usize>,
    /// Its line in the TOML file.
    pub line: Option<usize>,
    /// Every step it can go to.
    successors: Vec<usize>,
}

/// A loaded, checked workflow: every label exists, no step falls off the end, every step
/// can be reached, and no loop runs without waiting for the visitor or the clock.
#[derive(Clone, Debug)]
pub struct Workflow {
    name: String,
    modality: WorkflowModality,
    steps: Vec<Step>,
    max_steps: u32,
    fingerprint: String,
}

/// Default run-time step budget.
pub const DEFAULT_MAX_STEPS: u32 = 1000;

impl Workflow {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tasks it runs.
    pub fn modality(&self) -> WorkflowModality {
        self.modality
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// How many steps a run may take before it is ended as failed.
    pub fn max_steps(&self) -> u32 {
        self.max_steps
    }

    /// SHA-256 (hex) of the workflow's canonical form: its name, step budget and steps,
    /// keys sorted, without comments, layout or places in the file. A stored run resumes
    /// only under a workflow with the same fingerprint. The opening hours its steps name
    /// are not part of it (a run can go on under changed hours).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// How a step appears in a workflow path: its label, or `#<n> <activity>` (counted
    /// from 1).
    pub fn step_name(&self, index: usize) -> String {
        match self.steps.get(index) {
            Some(Step { label: Some(l), .. }) => l.clone(),
            Some(s) => format!("#{} {}", index + 1, s.activity.display_name()),
            None => format!("#{}", index + 1),
        }
    }

    /// The services its Transfer steps name (for the caller to check).
    pub fn transfer_targets(&self) -> impl Iterator<Item = (usize, &str)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.activity {
                Activity::Transfer(t) => Some((i, t.service.as_str())),
                _ => None,
            })
    }

    /// The opening hours a visitor is told about before starting: those of the
    /// workflow's first Check Opening Hours step (in step order), if it has one. The
    /// widget shows "closed" and when it opens next from them, rather than letting a
    /// visitor fill in the form only to be sent away by that step.
    pub fn opening_hours(&self) -> Option<&Arc<OpeningHours>> {
        self.steps.iter().find_map(|s| match &s.activity {
            Activity::CheckOpeningHours(c) => c.resolved.as_ref(),
            _ => None,
        })
    }

    /// The place of a step, for error messages.
    pub fn place(&self, index: usize) -> Place {
        Place {
            workflow: self.name.clone(),
            step: Some(index + 1),
            label: self.steps.get(index).and_then(|s| s.label.clone()),
            line: self.steps.get(index).and_then(|s| s.line),
        }
    }
}

/// Loaded opening hours and workflows, by name.
#[derive(Clone, Debug, Default)]
pub struct Definitions {
    /// Opening hours by name.
    pub hours: BTreeMap<String, Arc<OpeningHours>>,
    /// Workflows by name.
    pub workflows: BTreeMap<String, Arc<Workflow>>,
}

impl Definitions {
    /// Parses and checks a document of `[[opening_hours]]` and `[[workflow]]` tables.
    pub fn parse(text: &str) -> Result<Self, WorkflowError> {
        let doc: DefinitionsConfig =
            toml::from_str(text).map_err(|e| WorkflowError::Toml(e.to_string()))?;
        Self::build(&doc.opening_hours, &doc.workflows, Some(text))
    }

    /// Checks parsed tables. `source` is the TOML text they came from, for line numbers
    /// in errors (`None`: errors name steps only).
    pub fn build(
        hours: &[OpeningHoursConfig],
        workflows: &[WorkflowConfig],
        source: Option<&str>,
    ) -> Result<Self, WorkflowError> {
        let mut defs = Self::default();
        for h in hours {
            let invalid = |message| WorkflowError::Hours {
                name: h.name.clone(),
                message,
            };
            let loaded = OpeningHours::from_config(h).map_err(invalid)?;
            if defs
                .hours
                .insert(h.name.clone(), Arc::new(loaded))
                .is_some()
            {
                return Err(invalid("is defined twice".into()));
            }
        }
        for w in workflows {
            let workflow = compile(w, &defs.hours, source)?;
            let name = workflow.name.clone();
            if defs
                .workflows
                .insert(name.clone(), Arc::new(workflow))
                .is_some()
            {
                return Err(WorkflowError::Invalid {
                    place: Place {
                        workflow: name,
                        step: None,
                        label: None,
                        line: line_of(source, w.name.span().start),
                    },
                    message: "is defined twice".into(),
                });
            }
        }
        Ok(defs)
    }
}

fn line_of(source: Option<&str>, offset: usize) -> Option<usize> {
    let text = source?;
    let head = text.get(..offset)?;
    Some(head.bytes().filter(|&b| b == b'\n').count() + 1)
}

fn compile(
    w: &WorkflowConfig,
    hours: &BTreeMap<String, Arc<OpeningHours>>,
    source: Option<&str>,
) -> Result<Workflow, WorkflowError> {
    let name = w.name.get_ref().clone();
    let whole = |message: String| WorkflowError::Invalid {
        place: Place {
            workflow: name.clone(),
            step: None,
            label: None,
            line: line_of(source, w.name.span().start),
        },
        message,
    };
    if !is_valid_name(&name) {
        return Err(whole(
            "the name must be 1 to 64 letters, digits, _, - or .".into(),
        ));
    }
    let max_steps = w.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
    if !(10..=100_000).contains(&max_steps) {
        return Err(whole(format!(
            "max_steps = {max_steps} is out of range (10 to 100000)"
        )));
    }
    if w.steps.is_empty() {
        return Err(whole("has no steps".into()));
    }

    // Pass 1: each step on its own.
    let mut steps = Vec::with_capacity(w.steps.len());
    let mut nexts = Vec::with_capacity(w.steps.len());
    for (i, raw) in w.steps.iter().enumerate() {
        let keys = raw.get_ref();
        let mut place = Place {
            workflow: name.clone(),
            step: Some(i + 1),
            label: None,
            line: line_of(source, raw.span().start),
        };
        let key_line = |key: &str| keys.get(key).and_then(|v| line_of(source, v.span().start));
        let invalid = |place: &Place, line: Option<usize>, message: String| {
            let mut place = place.clone();
            place.line = line.or(place.line);
            WorkflowError::Invalid { place, message }
        };
        let string = |place: &Place, key: &str| -> Result<Option<String>, WorkflowError> {
            match keys.get(key).map(|v| v.get_ref()) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(invalid(
                    place,
                    key_line(key),
                    format!("`{key}` must be a string, not {}", other.type_str()),
                )),
            }
        };
        let label = string(&place, "label")?;
        if let Some(l) = &label
            && !is_valid_name(l)
        {
            return Err(invalid(
                &place,
                key_line("label"),
                format!("label {l:?} must be 1 to 64 letters, digits, _, - or ."),
            ));
        }
        place.label = label.clone();
        let Some(written) = string(&place, "activity")? else {
            return Err(invalid(&place, None, "has no `activity`".into()));
        };
        let activity_line = key_line("activity").or(place.line);
        let key = normalize_name(&written);
        if w.modality == WorkflowModality::AudioVideo {
            // What the documents exclude for calls, named by the parameter that does.
            let excluded = NOT_FOR_CALLS.iter().find(|(k, _, param, _)| {
                *k == key
                    && match param {
                        None => true,
                        Some(p) => keys.get(*p).is_some_and(|v| excludes(p, v.get_ref())),
                    }
            });
            if let Some((_, activity, param, limitation)) = excluded {
                place.line = param.and_then(&key_line).or(activity_line);
                return Err(WorkflowError::NotForCalls {
                    place,
                    activity,
                    limitation,
                });
            }
            if let Some((_, display)) = activity::UNSUPPORTED.iter().find(|(k, _)| *k == key) {
                place.line = activity_line;
                return Err(WorkflowError::NotForCalls {
                    place,
                    activity: display,
                    limitation: "not supported by this server",
                });
            }
        }
        if let Some((_, display)) = activity::UNSUPPORTED.iter().find(|(k, _)| *k == key) {
            place.line = activity_line;
            return Err(WorkflowError::Unsupported {
                place,
                activity: display,
            });
        }
        if !activity::SUPPORTED.iter().any(|(k, _)| *k == key) {
            place.line = activity_line;
            return Err(WorkflowError::UnknownActivity {
                place,
                name: written,
            });
        }
        let next = string(&place, "next")?.map(|label| (label, key_line("next")));
        let params: toml::Table = keys
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "label" | "activity" | "next"))
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect();
        let activity = Activity::from_table(&key, params).map_err(|e| {
            let message = e.message().to_owned();
            // Point at the key the message is about, if it names one.
            let unknown = message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next());
            let line = unknown
                .and_then(|k| keys.get_key_value(k))
                .or_else(|| {
                    keys.iter()
                        .find(|(k, _)| message.contains(&format!("`{k}`")))
                })
                .and_then(|(k, _)| key_line(k));
            let display = activity::SUPPORTED
                .iter()
                .find(|(k, _)| *k == key)
                .map_or("", |(_, d)| d);
            invalid(&place, line, format!("{display}: {message}"))
        })?;
        activity.check().map_err(|message| {
            let line = keys
                .keys()
                .find(|k| message.starts_with(k.as_str()))
                .and_then(|k| key_line(k));
            invalid(
                &place,
                line,
                format!("{}: {message}", activity.display_name()),
            )
        })?;
        steps.push(Step {
            label,
            activity,
            next: None,
            line: place.line,
            successors: Vec::new(),
        });
        nexts.push((next, place, keys));
    }

    // Pass 2: labels, jumps and the end.
    let mut labels = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(l) = &s.label
            && labels.insert(l.clone(), i).is_some()
        {
            return Err(WorkflowError::Invalid {
                place: nexts[i].1.clone(),
                message: format!("label {l:?} is used by an earlier step too"),
            });
        }
    }
    let count = steps.len();
    for (i, step) in steps.iter_mut().enumerate() {
        let (next, place, keys) = &nexts[i];
        let at_key = |key: &str, message: String| {
            let mut place = place.clone();
            place.line = keys
                .get(key)
                .and_then(|v| line_of(source, v.span().start))
                .or(place.line);
            WorkflowError::Invalid { place, message }
        };
        let resolve = |key: &str, label: &str| {
            labels.get(label).copied().ok_or_else(|| {
                at_key(
                    key,
                    format!("`{key}` names label {label:?}, which no step of this workflow has"),
                )
            })
        };
        if let Some((label, _)) = next {
            if step.activity.is_terminal() {
                return Err(at_key(
                    "next",
                    format!(
                        "{} ends the workflow; it takes no `next`",
                        step.activity.display_name()
                    ),
                ));
            }
            step.next = Some(resolve("next", label)?);
        } else if i + 1 < count {
            step.next = Some(i + 1);
        }
        let mut successors = Vec::new();
        for (key, target) in step.activity.targets_mut() {
            target.index = resolve(key, &target.label)?;
            successors.push(target.index);
        }
        if step.activity.falls_through() {
            match step.next {
                Some(n) => successors.push(n),
                None => {
                    return Err(WorkflowError::Invalid {
                        place: place.clone(),
                        message: format!(
                            "{} is the last step and can go on: end the workflow with \
                             disconnect or transfer, or say where to go with `next`",
                            step.activity.display_name()
                        ),
                    });
                }
            }
        }
        successors.sort_unstable();
        successors.dedup();
        step.successors = successors;
        step.activity
            .link(hours)
            .map_err(|(key, message)| at_key(key, message))?;
    }

    let workflow = Workflow {
        fingerprint: fingerprint(&name, w.modality, max_steps, &w.steps),
        modality: w.modality,
        name,
        steps,
        max_steps,
    };
    check_reachable(&workflow)?;
    check_loops(&workflow)?;
    Ok(workflow)
}

/// See [`Workflow::fingerprint`]: JSON of the values as written (TOML tables are sorted
/// maps), hashed.
fn fingerprint(
    name: &str,
    modality: WorkflowModality,
    max_steps: u32,
    steps: &[StepConfig],
) -> String {
    use sha2::Digest as _;
    let steps: Vec<BTreeMap<&str, &toml::Value>> = steps
        .iter()
        .map(|s| {
            s.get_ref()
                .iter()
                .map(|(k, v)| (k.as_str(), v.get_ref()))
                .collect()
        })
        .collect();
    let mut canonical = serde_json::json!({
        "name": name,
        "max_steps": max_steps,
        "steps": steps,
    });
    // Instant Messaging workflows keep the fingerprints they had before modalities.
    if modality != WorkflowModality::InstantMessaging {
        canonical["modality"] = serde_json::json!(modality);
    }
    hex::encode(sha2::Sha256::digest(canonical.to_string().as_bytes()))
}

/// Whether parameter `param = value` of a step makes it one the documents exclude for
/// calls ([`NOT_FOR_CALLS`]): a Transfer to a user, Pickup distribution, DTMF input.
fn excludes(param: &str, value: &toml::Value) -> bool {
    match (param, value) {
        ("distribution", toml::Value::String(s)) => normalize_name(s) == "pickup",
        ("dtmf", toml::Value::Boolean(b)) => *b,
        ("user", _) => true,
        _ => false,
    }
}

fn check_reachable(w: &Workflow) -> Result<(), WorkflowError> {
    let mut seen = vec![false; w.steps.len()];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(i) = stack.pop() {
        for &s in &w.steps[i].successors {
            if !seen[s] {
                seen[s] = true;
                stack.push(s);
            }
        }
    }
    match seen.iter().position(|s| !s) {
        Some(i) => Err(WorkflowError::Invalid {
            place: w.place(i),
            message: "can never run: no step leads to it".into(),
        }),
        None => Ok(()),
    }
}

/// A loop whose steps all go on at once (none waits for the visitor or a delay) would
/// spin: refuse it, naming the steps.
fn check_loops(w: &Workflow) -> Result<(), WorkflowError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let n = w.steps.len();
    let mut mark = vec![Mark::New; n];
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative depth-first search over the edges of steps that do not wait.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut edge)) = path.last_mut() {
            let succ = if w.steps[node].activity.waits() {
                &[][..]
            } else {
                &w.steps[node].successors[..]
            };
            if let Some(&next) = succ.get(*edge) {
                *edge += 1;
                match mark[next] {
                    Mark::New => {
                        mark[next] = Mark::OnPath;
                        path.push((next, 0));
                    }
                    Mark::OnPath => {
                        let start = path.iter().position(|&(s, _)| s == next).unwrap_or(0);
                        let names: Vec<String> = path[start..]
                            .iter()
                            .map(|&(s, _)| format!("{} ({})", s + 1, w.step_name(s)))
                            .collect();
                        return Err(WorkflowError::Invalid {
                            place: w.place(next),
                            message: format!(
                                "steps {} -> {} loop without waiting: put a delay, \
                                 collect_information or input_customer in the loop",
                                names.join(" -> "),
                                next + 1
                            ),
                        });
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                path.pop();
            }
        }
    }
    Ok(())
}
