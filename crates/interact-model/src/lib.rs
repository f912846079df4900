//! Interact's domain types, shared by the server-side crates and free of IO: who can be
//! contacted ([`TargetRef`], [`Tenant`] with its services, users and licences), which
//! websites may embed them ([`OriginPattern`], [`DomainTemplate`]), a task's
//! [`Priority`], how a session ended ([`Outcome`]), and the [`Clock`] the server reads
//! time from.
//!
//! ```
//! use interact_model::{Licence, ServiceConfig, TargetRef, Tenant};
//!
//! let target: TargetRef = "service:support".parse()?;
//! let tenant = Tenant::new(&[], &[], &[]);
//! assert!(tenant.check_embeddable(&target).is_err(), "no such service");
//! # let _ = (Licence::Interact, std::marker::PhantomData::<ServiceConfig>);
//! # Ok::<(), interact_model::TargetError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod clock;
mod ids;
mod origin;
mod outcome;
mod priority;
mod target;
mod tenant;

pub use channel::Channel;
pub use clock::Clock;
pub use ids::{ServiceId, UserId};
pub use origin::{DomainTemplate, DomainTemplateConfig, OriginError, OriginPattern};
pub use outcome::Outcome;
pub use priority::Priority;
pub use target::{TargetError, TargetRef};
pub use tenant::{Licence, LicenceError, Service, ServiceConfig, Tenant, User, UserConfig};
