//! What an embed code points at: a service or a user.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{ServiceId, UserId};

/// What an embed code points at. Shown and parsed as `service:<id>` or `user:<id>`; in
/// JSON `{"kind": "service", "id": "<id>"}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum TargetRef {
    /// A service, by id.
    Service(ServiceId),
    /// A user, by id.
    User(UserId),
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service(id) => write!(f, "service:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
        }
    }
}

/// A target that is not `service:<id>` or `user:<id>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("target {0:?} must be service:<id> or user:<id>")]
pub struct TargetError(pub String);

impl FromStr for TargetRef {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, TargetError> {
        match s.split_once(':') {
            Some(("service", id)) if !id.is_empty() => Ok(Self::Service(id.into())),
            Some(("user", id)) if !id.is_empty() => Ok(Self::User(id.into())),
            _ => Err(TargetError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_print_and_parse_the_same() {
        for t in [
            TargetRef::Service("support".into()),
            TargetRef::User("alex".into()),
        ] {
            assert_eq!(t.to_string().parse::<TargetRef>(), Ok(t));
        }
        for bad in ["support", "service:", "team:x", ""] {
            assert!(bad.parse::<TargetRef>().is_err(), "{bad}");
        }
    }
}
