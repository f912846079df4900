//! How a visitor reached the tenant: the channel of a session.

use serde::{Deserialize, Serialize};

/// The integration a session came through (the documents' "integration method").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// The website widget (or a custom UI on the SDK).
    #[default]
    Widget,
    /// WhatsApp, through a provider connector.
    Whatsapp,
}

impl Channel {
    /// Every channel, in report order.
    pub const ALL: [Self; 2] = [Self::Widget, Self::Whatsapp];

    /// The channel's name in reports, URLs and the database: `widget`, `whatsapp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Widget => "widget",
            Self::Whatsapp => "whatsapp",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a channel (widget, whatsapp)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_have_one_spelling() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(c));
            assert_eq!(
                serde_json::to_string(&c).expect("json"),
                format!("\"{}\"", c.as_str())
            );
        }
        assert!("interact".parse::<Channel>().is_err());
    }
}
