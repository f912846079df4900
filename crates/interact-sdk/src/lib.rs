//! Interact SDK core.
#![forbid(unsafe_code)]

pub mod agent;
pub mod call;
pub mod client;
pub mod config;
mod conversation;
pub mod embed;
pub mod error;
pub mod form;
pub mod ids;
pub mod limits;
mod link;
pub mod modality;
pub mod protocol;
pub mod time;
pub mod visitor;

pub use agent::{Agent, AgentOptions};
pub use call::{CallEvent, CallState};
pub use client::{DeliveryState, Event, Input, Output};
pub use error::Error;
pub use link::LinkState;
pub use visitor::{ResumeState, Visitor, VisitorOptions, VisitorState};
pub mod relay;
