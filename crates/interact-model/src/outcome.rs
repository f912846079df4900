//! How a session ended.

use serde::{Deserialize, Serialize};

/// How a session ended, for reporting (decided by the report's rules from what the
/// session's events say, or recorded by a workflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// An agent was with the visitor when the session ended.
    Handled,
    /// The session failed (for example its workflow became invalid).
    Failed,
    /// The visitor gave up (ended or went idle) before an agent was with them.
    Abandoned,
    /// The system ended the session before an agent took it (a workflow's Cancel Task or
    /// Disconnect, outside opening hours).
    Cancelled,
    /// The session was handed to another agent (or, recorded by a workflow, to another
    /// service).
    Transferred,
    /// No agent could take the session.
    NoAgent,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Self; 6] = [
        Self::Handled,
        Self::Failed,
        Self::Abandoned,
        Self::Cancelled,
        Self::Transferred,
        Self::NoAgent,
    ];

    /// The name in filters, JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::Cancelled => "cancelled",
            Self::Transferred => "transferred",
            Self::NoAgent => "no_agent",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|o| o.as_str()).collect();
                format!("unknown outcome {s:?}; one of {}", names.join(", "))
            })
    }
}
