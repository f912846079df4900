//! The Interact reference server.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod session;
pub mod state;
pub mod store;
pub mod tenant;
