//! Errors of the client state machines.

use crate::context::ContextError;
use crate::form::{FieldError, FormErrors, RatingError};
use crate::identity::IdentityError;

/// An error from a [`Visitor`](crate::Visitor) or [`Agent`](crate::Agent) call.
///
/// None of them leaves the state machine broken: it stays usable after every error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller used the API wrongly, e.g. sent a message before a session exists.
    #[error("api misuse: {0}")]
    ApiMisuse(&'static str),
    /// The pre-chat form is invalid; the errors say why, per field.
    #[error("invalid form: {0}")]
    InvalidForm(FormErrors),
    /// The chat text is invalid (empty or nothing visible, too long, control characters).
    #[error("invalid text: {0}")]
    InvalidText(FieldError),
    /// The end-of-chat rating is invalid (score not 1 to 5, or a bad comment).
    #[error("invalid rating: {0}")]
    InvalidRating(RatingError),
    /// The chat's context (page address, attributes) breaks the protocol's bounds.
    #[error("invalid context: {0}")]
    InvalidContext(ContextError),
    /// The visitor's identity (`identify`) breaks the protocol's bounds.
    #[error("invalid identity: {0}")]
    InvalidIdentity(IdentityError),
    /// The server sent something invalid; the frame was dropped.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(String),
}
