//! Modalities: the ways a visitor can talk to a target.

use serde::{Deserialize, Serialize};

use crate::json::{FromJson, JsonError, JsonValue};

/// One way of talking to a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Modality {
    /// Instant Messaging (chat).
    Chat,
    /// Audio call.
    Audio,
    /// Video call (implies audio).
    Video,
    /// Screen sharing within a call.
    ScreenShare,
}

/// The set of modalities a target enables; on the wire a list such as `["chat","audio"]`.
///
/// Rules that always hold for a set built through [`Modalities::new`] or parsed from the
/// wire: video needs audio, and screen sharing needs audio (it happens within a call).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<WireModality>", into = "Vec<Modality>")]
pub struct Modalities {
    /// Chat is enabled.
    pub chat: bool,
    /// Audio calls are enabled.
    pub audio: bool,
    /// Video calls are enabled.
    pub video: bool,
    /// Screen sharing is enabled.
    pub screen_share: bool,
}

impl Modalities {
    /// Only chat.
    pub const CHAT_ONLY: Self = Self {
        chat: true,
        audio: false,
        video: false,
        screen_share: false,
    };

    /// Every modality.
    pub const ALL: Self = Self {
        chat: true,
        audio: true,
        video: true,
        screen_share: true,
    };

    /// The set holding `list`, made consistent: video or screen sharing without audio are
    /// dropped, since both happen within a call.
    pub fn new(list: impl IntoIterator<Item = Modality>) -> Self {
        let mut m = Self::default();
        for x in list {
            match x {
                Modality::Chat => m.chat = true,
                Modality::Audio => m.audio = true,
                Modality::Video => m.video = true,
                Modality::ScreenShare => m.screen_share = true,
            }
        }
        if !m.audio {
            m.video = false;
            m.screen_share = false;
        }
        m
    }

    /// Whether `m` is in the set.
    pub fn contains(&self, m: Modality) -> bool {
        match m {
            Modality::Chat => self.chat,
            Modality::Audio => self.audio,
            Modality::Video => self.video,
            Modality::ScreenShare => self.screen_share,
        }
    }

    /// The modalities in the set, in a fixed order.
    pub fn to_vec(self) -> Vec<Modality> {
        [
            Modality::Chat,
            Modality::Audio,
            Modality::Video,
            Modality::ScreenShare,
        ]
        .into_iter()
        .filter(|m| self.contains(*m))
        .collect()
    }

    /// Whether no modality is enabled (the widget then has nothing to offer).
    pub fn is_empty(&self) -> bool {
        !self.chat && !self.audio
    }
}

/// A modality as read from the wire: names from a newer peer are skipped, not an error.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireModality {
    Chat,
    Audio,
    Video,
    ScreenShare,
    #[serde(other)]
    Unknown,
}

impl From<Vec<WireModality>> for Modalities {
    fn from(v: Vec<WireModality>) -> Self {
        Self::new(v.into_iter().filter_map(|m| match m {
            WireModality::Chat => Some(Modality::Chat),
            WireModality::Audio => Some(Modality::Audio),
            WireModality::Video => Some(Modality::Video),
            WireModality::ScreenShare => Some(Modality::ScreenShare),
            WireModality::Unknown => None,
        }))
    }
}

impl From<Modalities> for Vec<Modality> {
    fn from(m: Modalities) -> Self {
        m.to_vec()
    }
}

impl FromJson for Modalities {
    fn from_json<J: JsonValue>(json: &J) -> Result<Self, JsonError> {
        // As the derive through `WireModality`: unknown names are left out.
        let names = Vec::<String>::from_json(json)?;
        Ok(Self::new(names.iter().filter_map(|n| match n.as_str() {
            "chat" => Some(Modality::Chat),
            "audio" => Some(Modality::Audio),
            "video" => Some(Modality::Video),
            "screen_share" => Some(Modality::ScreenShare),
            _ => None,
        })))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn video_needs_audio() {
        let m = Modalities::new([Modality::Chat, Modality::Video, Modality::ScreenShare]);
        assert_eq!(m, Modalities::CHAT_ONLY);
        let m: Modalities = serde_json::from_str(r#"["video","audio"]"#).expect("parses");
        assert!(m.video && m.audio && !m.chat);
        assert_eq!(
            serde_json::to_string(&m).expect("ok"),
            r#"["audio","video"]"#
        );
        assert!(Modalities::default().is_empty());
        let m: Modalities = serde_json::from_str(r#"["chat","hologram"]"#).expect("tolerant");
        assert_eq!(m, Modalities::CHAT_ONLY);
    }
}
