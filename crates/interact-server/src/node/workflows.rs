//! Workflows live in the database, changed through the admin API without a restart.
//!
//! - Every version is kept, named by its fingerprint
//!   ([`Store::put_workflow`](interact_store::Store::put_workflow)); each workflow name has
//!   a current version. A new chat runs the current version of its service's workflow; a
//!   running one goes on with the version it started with, after a restart or on another
//!   node too ([`version`]).
//! - The configuration's `[[workflow]]` tables seed a fresh database ([`seed`]); once a
//!   workflow is stored, the stored one stays (a changed table in the file is reported at
//!   start, not applied: change it through the admin API).
//! - A definition is one `[[workflow]]` table as TOML text (`name`, `max_steps`,
//!   `[[step]]`s), checked as the configuration's are ([`build`]): errors name the step
//!   and the line.
//! - Every node holds the current versions in memory ([`Workflows`]), read again after
//!   a change here, when the bus announces one, and every `[cluster] refresh_secs`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use interact_store::{StoreError, WorkflowVersion};
use interact_workflow::{Definitions, Workflow, WorkflowConfig};

use crate::node::state::AppState;

/// The longest definition (bytes of TOML).
pub const MAX_DEFINITION_BYTES: usize = 32 * 1024;

/// The current version of every workflow, on this node.
#[derive(Debug, Default)]
pub struct Workflows(RwLock<BTreeMap<String, Arc<Workflow>>>);

impl Workflows {
    /// The current version of workflow `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Workflow>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }
}

/// Checks definition `text` (one `[[workflow]]` table) against the configuration's
/// opening hours and services, and loads it. The error names the step and line.
pub fn build(state: &AppState, text: &str) -> Result<Arc<Workflow>, String> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(format!(
            "a workflow definition is at most {MAX_DEFINITION_BYTES} bytes"
        ));
    }
    let config: WorkflowConfig = toml::from_str(text).map_err(|e| e.to_string())?;
    let defs = Definitions::build(
        &state.directory.hours(),
        std::slice::from_ref(&config),
        Some(text),
    )
    .map_err(|e| e.to_string())?;
    let workflow = defs
        .workflows
        .into_values()
        .next()
        .ok_or_else(|| "no workflow in the definition".to_owned())?;
    let tenant = state.tenant();
    for (step, service) in workflow.transfer_targets() {
        if !tenant.services.contains_key(service) {
            return Err(format!(
                "{}: Transfer names service {service:?}, which does not exist",
                workflow.place(step)
            ));
        }
    }
    // The services that run it must keep a workflow of their modality.
    let name = workflow.name();
    for s in tenant.services.values() {
        let uses = match workflow.modality() {
            interact_workflow::WorkflowModality::InstantMessaging => {
                s.config.av_workflow.as_deref() == Some(name)
            }
            interact_workflow::WorkflowModality::AudioVideo => {
                s.config.workflow.as_deref() == Some(name)
            }
        };
        if uses {
            return Err(format!(
                "workflow {name:?}: service {:?} runs it for {}; its modality cannot become \
                 {}",
                s.config.id.as_str(),
                match workflow.modality() {
                    interact_workflow::WorkflowModality::InstantMessaging => "calls",
                    interact_workflow::WorkflowModality::AudioVideo => "chats",
                },
                workflow.modality().display_name()
            ));
        }
    }
    Ok(workflow)
}

/// Stores the configuration's workflows that the database does not have yet.
pub async fn seed(state: &AppState) -> Result<(), StoreError> {
    for (name, text) in &state.config.workflow_texts {
        let workflow = match build(state, text) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(workflow = %name, error = %e, "a configured workflow does not load");
                continue;
            }
        };
        let version = WorkflowVersion {
            name: name.clone(),
            fingerprint: workflow.fingerprint().to_owned(),
            definition: text.clone(),
            created_at: state.now(),
        };
        if !state.store.put_workflow(&version, false).await? {
            tracing::info!(
                workflow = %name,
                "the configuration's workflow differs from the stored one, which stays \
                 (change workflows through the admin API)"
            );
        }
    }
    Ok(())
}

/// Reads the current versions again.
pub async fn reload(state: &AppState) -> Result<(), StoreError> {
    let mut current = BTreeMap::new();
    for v in state.store.workflows().await? {
        match build(state, &v.definition) {
            Ok(w) => {
                current.insert(v.name.clone(), w);
            }
            Err(e) => {
                tracing::error!(workflow = %v.name, error = %e, "a stored workflow does not load");
            }
        }
    }
    *state.workflows.0.write().unwrap_or_else(|p| p.into_inner()) = current;
    Ok(())
}

/// Workflow `name` as it was at `fingerprint`: the current version, or a stored older
/// one (for a run that started with it).
pub async fn version(state: &AppState, name: &str, fingerprint: &str) -> Option<Arc<Workflow>> {
    if let Some(w) = state.workflows.get(name)
        && w.fingerprint() == fingerprint
    {
        return Some(w);
    }
    let stored = match state.store.workflow_version(name, fingerprint).await {
        Ok(v) => v?,
        Err(e) => {
            tracing::warn!(workflow = %name, error = %e, "reading a workflow version failed");
            return None;
        }
    };
    match build(state, &stored.definition) {
        Ok(w) if w.fingerprint() == fingerprint => Some(w),
        Ok(_) => {
            tracing::error!(workflow = %name, "a stored workflow version loads with another fingerprint");
            None
        }
        Err(e) => {
            tracing::error!(workflow = %name, error = %e, "a stored workflow version does not load");
            None
        }
    }
}

/// What a dry run is told: when the chat arrives, who writes, and how many agents there
/// are.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunInput {
    /// When the chat arrives (Unix milliseconds).
    pub at: u64,
    /// The visitor's name (default "Visitor").
    #[serde(default)]
    pub visitor_name: Option<String>,
    /// The visitor's first message, if any.
    #[serde(default)]
    pub first_message: Option<String>,
    /// The visitor's answers to the workflow's questions, in order (at most 20).
    #[serde(default)]
    pub answers: Vec<String>,
    /// Agents available and busy when the workflow asks (default none).
    #[serde(default)]
    pub agents_available: u32,
    /// Agents signed in but busy.
    #[serde(default)]
    pub agents_busy: u32,
    /// How long to follow the run on the virtual clock (seconds, 1 to 86400, default
    /// 600).
    #[serde(default)]
    pub for_secs: Option<u32>,
}

/// One thing a dry run saw.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DryRunEvent {
    /// When, on the virtual clock (Unix milliseconds).
    pub at: u64,
    /// What: `say`, `ask`, `answer`, `wait`, `queue`, `priority`, `leave_queue`,
    /// `web_request`, `transfer`, `disconnect`, `accept`.
    pub what: &'static str,
    /// Its text, URL, service, priority or outcome.
    pub detail: String,
}

/// `path` as one line, with a run of repeats folded: `a → (b → c) × 3 → b`. At each
/// place the repeat that covers the most steps is taken (the shorter one on a tie).
fn fold(path: &[String]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < path.len() {
        let rest = &path[i..];
        // (length of the repeated part, times): the one covering the most steps.
        let mut best = (1, 1);
        for k in 1..=rest.len() / 2 {
            let times = rest
                .chunks_exact(k)
                .take_while(|chunk| *chunk == &rest[..k])
                .count();
            if times >= 2 && k * times > best.0 * best.1 {
                best = (k, times);
            }
        }
        let (k, times) = best;
        let part = rest[..k].join(" → ");
        parts.push(match (k, times) {
            (_, 1) => part,
            (1, n) => format!("{part} × {n}"),
            (_, n) => format!("({part}) × {n}"),
        });
        i += k * times;
    }
    parts.join(" → ")
}

/// What a dry run found: the path, in words, and what happened on the way.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DryRun {
    /// The steps, in order (labels, or `#<n> <activity>`).
    pub path: Vec<String>,
    /// The path as one line, a loop folded: `greet → queue → (wait → announce) × 12 →
    /// wait`.
    pub summary: String,
    /// What the visitor and the queue would see, in order.
    pub events: Vec<DryRunEvent>,
    /// The reporting outcome, if the run ended within the time followed.
    pub outcome: Option<&'static str>,
    /// Where it waits at the end of the time followed, if it did not end.
    pub waiting: Option<String>,
}

/// Runs `workflow` for a chat as `input` describes it, on a virtual clock: no message is
/// sent, no queue joined, no request made (a Web Request counts as failed, as with no
/// answer). Timers fire at once on the virtual clock.
pub fn dry_run(workflow: Arc<Workflow>, input: &DryRunInput) -> DryRun {
    use interact_sdk::time::UnixMillis;
    use interact_workflow::{Action, Input, Params, WorkflowRun};
    let horizon = input
        .at
        .saturating_add(u64::from(input.for_secs.unwrap_or(600).clamp(1, 86_400)) * 1000);
    let mut params = Params::from([
        (
            "visitor_name".to_owned(),
            input
                .visitor_name
                .clone()
                .unwrap_or_else(|| "Visitor".into()),
        ),
        ("visitor_email".to_owned(), "visitor@example.com".to_owned()),
        ("session".to_owned(), "dry-run".to_owned()),
    ]);
    if let Some(first) = &input.first_message {
        params.insert("first_message".to_owned(), first.clone());
    }
    let mut run = WorkflowRun::new(workflow, params);
    let mut now = input.at;
    let mut events = Vec::new();
    let mut answers = input.answers.iter().take(20);
    let mut timer: Option<u64> = None;
    let mut asked = false;
    run.handle(UnixMillis(now), Input::Started);
    // Bounded: every round takes an input, and timers move the clock forward.
    for _ in 0..1000 {
        let mut fed = None;
        while let Some(action) = run.poll_action() {
            let (what, detail) = match action {
                Action::SendMessage { text } => ("say", text),
                Action::AskVisitor { question } => {
                    asked = true;
                    ("ask", question)
                }
                Action::StartTimer { at } => {
                    timer = Some(at.0);
                    ("wait", format!("until {}", at.0))
                }
                Action::QueryAgents => {
                    fed = Some(Input::AgentsAvailable {
                        available: input.agents_available,
                        busy: input.agents_busy,
                    });
                    continue;
                }
                Action::Queue { priority } => ("queue", format!("priority {}", priority.get())),
                Action::SetPriority { priority } => ("priority", priority.get().to_string()),
                Action::CancelQueue => ("leave_queue", String::new()),
                Action::HttpRequest(req) => {
                    fed = Some(Input::WebFailed);
                    (
                        "web_request",
                        format!("{} (not made in a dry run: counts as failed)", req.url),
                    )
                }
                Action::Transfer { service } => ("transfer", service),
                Action::Disconnect { outcome } => ("disconnect", outcome.as_str().to_owned()),
                Action::Accept => ("accept", String::new()),
                Action::Done { .. } => continue,
            };
            events.push(DryRunEvent {
                at: now,
                what,
                detail,
            });
        }
        if run.end().is_some() {
            break;
        }
        let next = match fed.take() {
            Some(i) => i,
            None if asked => match answers.next() {
                Some(a) => {
                    asked = false;
                    events.push(DryRunEvent {
                        at: now,
                        what: "answer",
                        detail: a.clone(),
                    });
                    Input::VisitorMessage(a.clone())
                }
                None => match timer.take() {
                    Some(at) if at <= horizon => {
                        now = now.max(at);
                        Input::TimerFired
                    }
                    _ => break,
                },
            },
            None => match timer.take() {
                Some(at) if at <= horizon => {
                    now = now.max(at);
                    Input::TimerFired
                }
                _ => break,
            },
        };
        run.handle(UnixMillis(now), next);
    }
    let path = run.path_names();
    DryRun {
        summary: fold(&path),
        outcome: run.end().map(|e| e.outcome().as_str()),
        waiting: run.end().is_none().then(|| {
            let at = run
                .path()
                .last()
                .map(|v| run.workflow().step_name(v.step))
                .unwrap_or_default();
            let task = match run.task_state() {
                interact_workflow::TaskState::NotQueued => "not in the queue",
                interact_workflow::TaskState::Queued => "in the queue",
                interact_workflow::TaskState::Offered => "offered to an agent",
            };
            format!("at step {at}, {task}")
        }),
        path,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    fn path(steps: &str) -> Vec<String> {
        steps.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn loops_are_folded_in_the_summary() {
        assert_eq!(fold(&path("a b c")), "a → b → c");
        assert_eq!(fold(&path("q w w w")), "q → w × 3");
        assert_eq!(
            fold(&path("h g q w p a w p a w p a w")),
            "h → g → q → (w → p → a) × 3 → w"
        );
        assert_eq!(fold(&path("a b a c")), "a → b → a → c");
        assert_eq!(fold(&[]), "");
    }
}
