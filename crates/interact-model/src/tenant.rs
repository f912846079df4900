//! The tenant: its services and users (agents), their licences and modalities, and the
//! rules that decide what may be embedded where and who takes a service's chats.

use std::collections::{BTreeMap, BTreeSet};

use interact_sdk::config::{Availability, PrivacyPolicy, Target, TargetKind, Theme, WidgetConfig};
use interact_sdk::modality::{Modalities, Modality};
use serde::{Deserialize, Serialize};

use crate::{DomainTemplate, DomainTemplateConfig, ServiceId, TargetRef, UserId};

/// A licence a service or user holds (names as in the product documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Licence {
    /// Service: Contact Center licence (chat workflows).
    ContactCenter,
    /// Service: Interact add-on (reachable from a website).
    Interact,
    /// User: Instant Messaging modality licence (receive chat tasks).
    InstantMessaging,
    /// User: Interact User licence (reachable directly from a website).
    InteractUser,
}

/// A service as a configuration declares it (`[[service]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Unique id.
    pub id: ServiceId,
    /// Name shown to visitors.
    pub display_name: String,
    /// Licences of the service.
    #[serde(default)]
    pub licences: BTreeSet<Licence>,
    /// Enabled modalities.
    #[serde(default)]
    pub modalities: Vec<Modality>,
    /// Member user ids.
    #[serde(default)]
    pub members: Vec<UserId>,
    /// The privacy policy visitors consent to.
    pub privacy: PrivacyPolicy,
    /// Languages, preferred first.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Presentation hints.
    #[serde(default)]
    pub theme: Theme,
    /// The Instant Messaging workflow chats to this service go through (the name of a
    /// `[[workflow]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The Audio/Video workflow calls to this service go through (a `[[workflow]]` with
    /// `modality = "audio_video"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub av_workflow: Option<String>,
    /// The users who are the service's Service Owners: they manage its settings,
    /// members, workflow and reports in the administration (and nothing else).
    #[serde(default)]
    pub owners: Vec<UserId>,
    /// Whether a visitor can start a chat while the service is open but nobody is
    /// available; it waits in the queue (default). When false the widget offers an
    /// offline message instead (where [`offline_messages`](Self::offline_messages)).
    #[serde(default = "yes")]
    pub queue_when_unavailable: bool,
    /// Whether a visitor who cannot chat (outside opening hours, or nobody available
    /// and no queueing) can leave a message that the service's agents answer by email
    /// (default).
    #[serde(default = "yes")]
    pub offline_messages: bool,
}

fn yes() -> bool {
    true
}

/// A user as a configuration declares it (`[[user]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Unique id, also the sign-in name.
    pub id: UserId,
    /// Name shown to visitors.
    pub display_name: String,
    /// Argon2 PHC string of the password (`interact-server hash-password` makes one).
    pub password_hash: String,
    /// Licences of the user.
    #[serde(default)]
    pub licences: BTreeSet<Licence>,
    /// Enabled modalities.
    #[serde(default)]
    pub modalities: Vec<Modality>,
    /// The privacy policy visitors consent to when contacting the user directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyPolicy>,
    /// Languages, preferred first.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Whether the user is a Tenant Admin: everything in the administration.
    #[serde(default)]
    pub tenant_admin: bool,
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}

/// Why an embed code cannot be issued (or used) for a target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenceError {
    /// No such service or user.
    #[error("no {0} is configured")]
    UnknownTarget(TargetRef),
    /// A licence is missing; the message names it.
    #[error("{target} lacks the {licence} licence: {why}")]
    Missing {
        /// The target.
        target: TargetRef,
        /// The missing licence.
        licence: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
    /// Nothing is enabled to talk over.
    #[error("{0} has no modality enabled")]
    NoModality(TargetRef),
}

/// A service, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct Service {
    /// Its definition.
    pub config: ServiceConfig,
    /// Enabled modalities.
    pub modalities: Modalities,
}

/// A user (agent), resolved from the configuration.
#[derive(Clone, Debug)]
pub struct User {
    /// Its definition.
    pub config: UserConfig,
    /// Enabled modalities.
    pub modalities: Modalities,
}

impl User {
    /// Whether the user can receive chat tasks from services: Instant Messaging licensed
    /// and chat enabled.
    pub fn can_take_service_chats(&self) -> bool {
        self.config.licences.contains(&Licence::InstantMessaging) && self.modalities.chat
    }
}

/// Services, users and Domain Templates.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Services by id.
    pub services: BTreeMap<ServiceId, Service>,
    /// Users by id.
    pub users: BTreeMap<UserId, User>,
    /// Domain Templates by name.
    pub templates: BTreeMap<String, DomainTemplate>,
}

impl Tenant {
    /// The tenant of these definitions (checked by whoever read them: references between
    /// them are not checked here).
    pub fn new(
        services: &[ServiceConfig],
        users: &[UserConfig],
        templates: &[DomainTemplateConfig],
    ) -> Self {
        let services = services
            .iter()
            .map(|s| {
                let service = Service {
                    config: s.clone(),
                    modalities: Modalities::new(s.modalities.iter().copied()),
                };
                (s.id.clone(), service)
            })
            .collect();
        let users = users
            .iter()
            .map(|u| {
                let user = User {
                    config: u.clone(),
                    modalities: Modalities::new(u.modalities.iter().copied()),
                };
                (u.id.clone(), user)
            })
            .collect();
        let templates = templates
            .iter()
            .map(|t| (t.name.clone(), DomainTemplate::from_config(t)))
            .collect();
        Self {
            services,
            users,
            templates,
        }
    }

    /// Checks that `target` may be reached from a website, as the licensing rules say.
    pub fn check_embeddable(&self, target: &TargetRef) -> Result<(), LicenceError> {
        let missing = |licence, why| LicenceError::Missing {
            target: target.clone(),
            licence,
            why,
        };
        match target {
            TargetRef::Service(id) => {
                let s = self
                    .services
                    .get(id)
                    .ok_or_else(|| LicenceError::UnknownTarget(target.clone()))?;
                if !s.config.licences.contains(&Licence::ContactCenter) {
                    return Err(missing("Contact Center", "chat workflows of a service"));
                }
                if !s.config.licences.contains(&Licence::Interact) {
                    return Err(missing("Interact", "a service reachable from a website"));
                }
                if s.modalities.is_empty() {
                    return Err(LicenceError::NoModality(target.clone()));
                }
            }
            TargetRef::User(id) => {
                let u = self
                    .users
                    .get(id)
                    .ok_or_else(|| LicenceError::UnknownTarget(target.clone()))?;
                if !u.config.licences.contains(&Licence::InteractUser) {
                    return Err(missing(
                        "Interact User",
                        "a user reachable directly from a website",
                    ));
                }
                if u.modalities.is_empty() {
                    return Err(LicenceError::NoModality(target.clone()));
                }
            }
        }
        Ok(())
    }

    /// The modalities enabled for `target`.
    pub fn modalities(&self, target: &TargetRef) -> Modalities {
        match target {
            TargetRef::Service(id) => self.services.get(id).map(|s| s.modalities),
            TargetRef::User(id) => self.users.get(id).map(|u| u.modalities),
        }
        .unwrap_or_default()
    }

    /// The users who may take a chat for `target`: service members with Instant
    /// Messaging, or the user themself.
    pub fn candidates(&self, target: &TargetRef) -> Vec<UserId> {
        match target {
            TargetRef::Service(id) => self
                .services
                .get(id)
                .map(|s| {
                    s.config
                        .members
                        .iter()
                        .filter(|m| self.users.get(*m).is_some_and(User::can_take_service_chats))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            TargetRef::User(id) => vec![id.clone()],
        }
    }

    /// The widget configuration for `target`, with the given availability.
    pub fn widget_config(
        &self,
        target: &TargetRef,
        availability: Availability,
    ) -> Option<WidgetConfig> {
        let default_privacy = || PrivacyPolicy {
            url: "https://example.invalid/privacy".into(),
            text: "I agree that my name, email and messages are processed to answer me.".into(),
            version: "1".into(),
        };
        let (kind, name, modalities, privacy, languages, theme, queue, offline) = match target {
            TargetRef::Service(id) => {
                let s = self.services.get(id)?;
                (
                    TargetKind::Service,
                    s.config.display_name.clone(),
                    s.modalities,
                    s.config.privacy.clone(),
                    s.config.languages.clone(),
                    s.config.theme.clone(),
                    s.config.queue_when_unavailable,
                    s.config.offline_messages,
                )
            }
            // A user reached directly: no queue to wait in when they are away, but a
            // message they answer later.
            TargetRef::User(id) => {
                let u = self.users.get(id)?;
                (
                    TargetKind::User,
                    u.config.display_name.clone(),
                    u.modalities,
                    u.config.privacy.clone().unwrap_or_else(default_privacy),
                    u.config.languages.clone(),
                    Theme::default(),
                    false,
                    true,
                )
            }
        };
        Some(WidgetConfig {
            target: Target {
                kind,
                display_name: name,
            },
            modalities,
            privacy,
            availability,
            theme,
            languages,
            transcript_email: false,
            opens_at: None,
            queue_when_unavailable: queue,
            expected_wait: None,
            offline_messages: offline,
            attachment_max_bytes: None,
        })
    }
}
