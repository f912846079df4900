//! The node's state: configuration, tenant, store, clock, hub, metrics and the Web
//! Request client, shared by every handler and task (cheap to clone).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use interact_sdk::embed::EmbedCode;
use interact_sdk::time::UnixMillis;

use crate::config::Config;
use crate::error::AppError;
use interact_model::{Clock, DomainTemplate, OriginPattern, Tenant};
use interact_store::{EmbedCodeRecord, Store, StoreError, TemplateRecord};

use crate::metrics::Metrics;
use crate::node::hub::Hub;

/// Everything handlers share; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The configuration file.
    pub config: Config,
    /// Services, users, licences: replaced whole when the administration changes them
    /// ([`AppState::tenant`]).
    tenant: RwLock<Arc<Tenant>>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The time ([`crate::clock::SystemClock`], or a virtual clock in tests).
    pub clock: Arc<dyn Clock>,
    /// LiveSession sessions and connections.
    pub hub: Hub,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The client of workflows' Web Request steps.
    pub web: crate::node::web::WebClient,
    /// Domain Templates (stored; cached here, refreshed on change).
    templates: RwLock<BTreeMap<String, DomainTemplate>>,
    /// This server's own origin, from `server.public_url` (parsed once).
    own_origin: Option<OriginPattern>,
    /// Set when the server has begun to shut down: `/readyz` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
    /// Set once the server has stopped serving: its workflow timers and web requests
    /// that are still under way do nothing more (a successor may own the sessions).
    pub stopped: std::sync::atomic::AtomicBool,
    /// The bus to the other nodes, when `[cluster] nats_url` names one (set once, at
    /// start).
    pub bus: std::sync::OnceLock<crate::node::bus::Bus>,
    /// The webhooks, and the signal that wakes their sender.
    pub webhooks: crate::node::webhooks::Webhooks,
    /// Wakes the WhatsApp sender ([`crate::node::whatsapp::run`]) when messages are
    /// stored to send.
    pub outbox: tokio::sync::Notify,
    /// The current version of every workflow.
    pub workflows: crate::node::workflows::Workflows,
    /// The opening hours in force (the tenant's configuration: [`crate::node::directory`]).
    pub directory: crate::node::directory::Directory,
    /// Held while this node changes the tenant's configuration, so that two changes
    /// never read the same before.
    pub directory_changes: tokio::sync::Mutex<()>,
    /// The email outbox, where `[smtp]` is configured.
    pub mailer: Option<crate::mailer::Mailer>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Inner {
    /// The tenant as it is now: services, users, licences (a snapshot; a change made
    /// meanwhile is in the next one).
    pub fn tenant(&self) -> Arc<Tenant> {
        self.tenant
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The widget configuration of `target` (the tenant's) with what this server offers
    /// besides: `transcript_email` where `[smtp]` is configured, and the largest file a
    /// chat takes (`[attachments] max_bytes`).
    pub fn widget_config(
        &self,
        target: &interact_model::TargetRef,
        availability: interact_sdk::config::Availability,
    ) -> Option<interact_sdk::config::WidgetConfig> {
        let mut config = self.tenant().widget_config(target, availability)?;
        config.transcript_email = self.mailer.is_some();
        config.attachment_max_bytes = Some(self.config.attachments.max_bytes);
        Some(config)
    }

    /// What a visitor is told about `target` now: closed by the opening hours of its
    /// chat workflow (its first Check Opening Hours step), with when they open next;
    /// otherwise whether an agent can take the chat; the expected wait where known.
    pub fn visitor_config(
        &self,
        target: &interact_model::TargetRef,
    ) -> Option<interact_sdk::config::WidgetConfig> {
        use interact_sdk::config::Availability;
        let now = self.now();
        let (availability, opens_at) = match self.opening_hours(target) {
            Some(h) if !interact_workflow::is_open(&h, now) => {
                (Availability::Closed, h.next_open(now))
            }
            _ => (self.hub.availability(target), None),
        };
        let mut config = self.widget_config(target, availability)?;
        config.opens_at = opens_at;
        if availability != Availability::Closed {
            config.expected_wait = self.hub.expected_wait(target);
        }
        Some(config)
    }

    /// The opening hours a service's chats are checked against: its chat workflow's
    /// ([`interact_workflow::Workflow::opening_hours`]). A user reached directly has none.
    fn opening_hours(
        &self,
        target: &interact_model::TargetRef,
    ) -> Option<Arc<interact_workflow::OpeningHours>> {
        let interact_model::TargetRef::Service(id) = target else {
            return None;
        };
        let name = self.tenant().services.get(id)?.config.workflow.clone()?;
        self.workflows.get(&name)?.opening_hours().cloned()
    }

    /// Wall-clock time now, from the state's clock.
    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// Monotonic time now, from the state's clock.
    pub fn instant(&self) -> Instant {
        self.clock.instant()
    }
}

impl AppState {
    /// Puts a changed tenant in force for every request from now on.
    pub(crate) fn set_tenant(&self, tenant: Tenant) {
        *self.tenant.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tenant);
    }

    /// Builds the state: seeds Domain Templates from the configuration into the store and
    /// loads the templates.
    pub async fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        for t in &config.domain_templates {
            let record = TemplateRecord {
                name: t.name.clone(),
                origins: t.origins.clone(),
            };
            store.put_template(&record, clock.now()).await?;
        }
        let tenant = config.tenant();
        let hub = Hub::new(&tenant, &config.limits, clock.clone());
        let web = crate::node::web::web_client(&config.web_requests);
        let metrics = Metrics::default();
        let own_origin = OriginPattern::parse(&config.server.public_url).ok();
        let mailer = config.smtp.as_ref().and_then(|s| {
            crate::mailer::Mailer::new(s, clock.instant())
                .map_err(|e| tracing::error!(error = %e, "smtp: no mailer"))
                .ok()
        });
        let state = Self(Arc::new(Inner {
            hub,
            config,
            tenant: RwLock::new(Arc::new(tenant)),
            store,
            clock,
            metrics,
            web,
            templates: RwLock::new(BTreeMap::new()),
            own_origin,
            draining: std::sync::atomic::AtomicBool::new(false),
            stopped: std::sync::atomic::AtomicBool::new(false),
            bus: std::sync::OnceLock::new(),
            webhooks: crate::node::webhooks::Webhooks::default(),
            outbox: tokio::sync::Notify::new(),
            workflows: crate::node::workflows::Workflows::default(),
            directory: crate::node::directory::Directory::default(),
            directory_changes: tokio::sync::Mutex::new(()),
            mailer,
        }));
        state.reload_templates().await?;
        state.webhooks.reload(state.store.as_ref()).await?;
        crate::node::directory::seed(&state).await?;
        // The stored opening hours first: the workflows are built with them.
        crate::node::directory::load_hours(&state).await?;
        crate::node::workflows::seed(&state).await?;
        crate::node::workflows::reload(&state).await?;
        crate::node::directory::reload(&state).await?;
        Ok(state)
    }

    /// After a change to the stored workflows on this node: reads them again and tells
    /// the other nodes (if there is a bus) to do the same.
    pub async fn workflows_changed(&self) -> Result<(), StoreError> {
        crate::node::workflows::reload(self).await?;
        if let Some(bus) = self.bus.get() {
            bus.config_changed("workflows").await;
        }
        Ok(())
    }

    /// After a change to the stored webhooks on this node: reads them again and tells
    /// the other nodes (if there is a bus) to do the same.
    pub async fn webhooks_changed(&self) -> Result<(), StoreError> {
        self.webhooks.reload(self.store.as_ref()).await?;
        if let Some(bus) = self.bus.get() {
            bus.config_changed("webhooks").await;
        }
        Ok(())
    }

    /// After a change to the stored Domain Templates on this node: reads them again and
    /// tells the other nodes (if there is a bus) to do the same.
    pub async fn templates_changed(&self) -> Result<(), StoreError> {
        self.reload_templates().await?;
        if let Some(bus) = self.bus.get() {
            bus.templates_changed().await;
        }
        Ok(())
    }

    /// Reloads the Domain Templates from the store.
    pub async fn reload_templates(&self) -> Result<(), StoreError> {
        let records = self.store.templates().await?;
        let map = records
            .into_iter()
            .map(|r| {
                let t = DomainTemplate {
                    origins: r
                        .origins
                        .iter()
                        .filter_map(|o| OriginPattern::parse(o).ok())
                        .collect(),
                    name: r.name.clone(),
                };
                (r.name, t)
            })
            .collect();
        *self.templates.write().unwrap_or_else(|p| p.into_inner()) = map;
        Ok(())
    }

    /// The template named `name` (deny-all if it vanished).
    pub fn template(&self, name: &str) -> DomainTemplate {
        self.templates
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_else(|| DomainTemplate {
                name: name.to_owned(),
                origins: Vec::new(),
            })
    }

    /// The gate every visitor request passes: the embed code must exist, not be revoked,
    /// point at a target that may be embedded, and the page's `Origin` must be allowed by
    /// the code's Domain Template, or be this server's own with a live Preview ticket for
    /// the code (`preview`, from the request's cookie: [`crate::preview`]). Unknown code:
    /// 404; foreign origin: 403.
    pub async fn admit(
        &self,
        code: &str,
        origin: Option<&str>,
        preview: Option<&str>,
    ) -> Result<(EmbedCodeRecord, DomainTemplate), AppError> {
        let (record, template) = self.lookup_code(code).await?;
        if template.allows(origin) {
            return Ok((record, template));
        }
        if let (Some(o), Some(ticket)) = (origin, preview)
            && self.is_own_origin(o)
            && crate::preview::check(
                self.store.as_ref(),
                record.code.as_str(),
                ticket,
                self.now(),
            )
            .await?
            .is_some()
        {
            return Ok((record, template));
        }
        self.metrics.reject("origin_not_allowed");
        Err(AppError::Forbidden(format!(
            "origin {} is not allowed for this embed code (Domain Template {:?})",
            origin.unwrap_or("(none)"),
            template.name
        )))
    }

    /// Whether `origin` is this server's own (from `server.public_url`): the origin of the
    /// Preview page and of every widget frame. It passes a Domain Template only with a
    /// Preview ticket ([`admit`](Self::admit)).
    pub fn is_own_origin(&self, origin: &str) -> bool {
        self.own_origin
            .as_ref()
            .is_some_and(|own| own.matches(origin))
    }

    /// This server's own origin, normalised (`server.public_url`).
    pub fn own_origin(&self) -> String {
        self.own_origin
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| self.config.server.public_url.clone())
    }

    /// The first half of [`admit`](Self::admit), without the `Origin` check: the embed
    /// code must be well-formed, exist, not be revoked and point at a target that may be
    /// embedded. Every failure is the same 404, so that codes cannot be probed. Used
    /// alone where the browser sends no `Origin` (the widget frame, whose framing the CSP
    /// `frame-ancestors` restricts instead).
    pub async fn lookup_code(
        &self,
        code: &str,
    ) -> Result<(EmbedCodeRecord, DomainTemplate), AppError> {
        let unknown = || AppError::NotFound("unknown or revoked embed code".into());
        let code = EmbedCode::from_str(code).map_err(|_| {
            self.metrics.reject("bad_embed_code");
            unknown()
        })?;
        let record = match self.store.embed_code(&code).await? {
            Some(r) if r.revoked_at.is_none() => r,
            _ => {
                self.metrics.reject("unknown_embed_code");
                return Err(unknown());
            }
        };
        if self.tenant().check_embeddable(&record.target).is_err() {
            self.metrics.reject("unlicensed_target");
            return Err(unknown());
        }
        let template = self.template(&record.template);
        Ok((record, template))
    }
}
