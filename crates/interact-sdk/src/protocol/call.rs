//! Audio/video call signalling. The server relays these; it never touches media.

use serde::{Deserialize, Serialize};

use crate::ids::CallId;
use crate::json::{
    FromJson, JsonError, JsonValue, deserialize_from_json, field, json_names, json_struct, tag,
};
use crate::limits::{
    MAX_QUALITY_BITRATE_KBPS, MAX_QUALITY_DELAY_MS, MAX_QUALITY_FRAME_PX, MAX_QUALITY_SAMPLES,
    MAX_SDP_BYTES,
};

/// Whether `sdp` may be signalled: 1 to [`MAX_SDP_BYTES`] bytes, and no control characters
/// but CR and LF (so that JSON escaping at most doubles it and the frame stays under
/// [`MAX_FRAME_BYTES`](crate::limits::MAX_FRAME_BYTES)).
pub fn is_valid_sdp(sdp: &str) -> bool {
    !sdp.is_empty()
        && sdp.len() <= MAX_SDP_BYTES
        && sdp
            .chars()
            .all(|c| !c.is_control() || c == '\r' || c == '\n')
}

/// What a call carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallMedia {
    /// Audio only.
    Audio,
    /// Audio and video.
    Video,
}

impl CallMedia {
    /// Its name on the wire, `"audio"` or `"video"` (also in reports, metrics and the
    /// JavaScript APIs).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }
}

/// A trickled ICE candidate, as `RTCIceCandidateInit` has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The candidate line; empty for end-of-candidates.
    pub candidate: String,
    /// Media stream identification tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Index of the media description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
}

/// Mute, camera and screen-share state of one side of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaState {
    /// The microphone is muted.
    pub muted: bool,
    /// The camera is sending.
    pub camera: bool,
    /// The screen is being shared.
    pub screen: bool,
}

/// Which device a side switched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Microphone.
    AudioInput,
    /// Camera.
    VideoInput,
    /// Speaker or headset.
    AudioOutput,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupReason {
    /// A side hung up.
    Normal,
    /// The callee declined.
    Declined,
    /// Nobody answered in time.
    NoAnswer,
    /// Media could not be established or was lost.
    Failed,
    /// The callee is in another call.
    Busy,
    /// The modality is not enabled for the target.
    NotAllowed,
    /// A reason this version does not know.
    #[serde(other)]
    Other,
}

/// The smallest, the median and the largest value of one figure of a call's quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Spread {
    /// The smallest value.
    pub min: u32,
    /// The median (of an even count, the mean of the two middle values, rounded down).
    pub median: u32,
    /// The largest value.
    pub max: u32,
}

impl Spread {
    fn is_valid(&self, bound: u32) -> bool {
        self.min <= self.median && self.median <= self.max && self.max <= bound
    }
}

/// One side's summary of a call's quality so far, from the `getStats()` samples it took
/// (see [`crate::quality`]). A figure is absent when no sample had it (an audio call has
/// no frame size). (Decoded by [`FromJson`]; `Deserialize` delegates to it.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct QualitySummary {
    /// How many samples the side took (one every 2 s in the reference clients).
    pub samples: u32,
    /// Round-trip time of the connection, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<Spread>,
    /// Jitter of the received media, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<Spread>,
    /// Received packets lost in a sample's interval, per mille of the packets expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_permille: Option<Spread>,
    /// Received bitrate (audio and video), in kbit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<Spread>,
    /// Width of the received video, in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_px: Option<Spread>,
    /// Height of the received video, in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height_px: Option<Spread>,
}

// A figure may be `null` or left out; unknown members are ignored.
json_struct!(QualitySummary {
    samples,
    rtt_ms: optional,
    jitter_ms: optional,
    loss_permille: optional,
    bitrate_kbps: optional,
    width_px: optional,
    height_px: optional,
});

json_struct!(Spread { min, median, max });

impl QualitySummary {
    /// Whether the server accepts it: 1 to [`MAX_QUALITY_SAMPLES`] samples, and every
    /// figure ordered (`min` ≤ `median` ≤ `max`) and within its bound (delays up to
    /// [`MAX_QUALITY_DELAY_MS`], loss up to 1000 ‰, bitrate up to
    /// [`MAX_QUALITY_BITRATE_KBPS`], frame sizes up to [`MAX_QUALITY_FRAME_PX`]).
    pub fn is_valid(&self) -> bool {
        let ok = |s: &Option<Spread>, bound| s.as_ref().is_none_or(|s| s.is_valid(bound));
        (1..=MAX_QUALITY_SAMPLES).contains(&self.samples)
            && ok(&self.rtt_ms, MAX_QUALITY_DELAY_MS)
            && ok(&self.jitter_ms, MAX_QUALITY_DELAY_MS)
            && ok(&self.loss_permille, 1000)
            && ok(&self.bitrate_kbps, MAX_QUALITY_BITRATE_KBPS)
            && ok(&self.width_px, MAX_QUALITY_FRAME_PX)
            && ok(&self.height_px, MAX_QUALITY_FRAME_PX)
    }
}

/// One call signalling step, tagged by `"op"`. SDP is an opaque string. (Decoded by
/// [`FromJson`]; `Deserialize` delegates to it.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallSignal {
    /// The caller (always the visitor) asks for a call; rings the agent.
    Start {
        /// Client-generated call id.
        call: CallId,
        /// Audio or video.
        media: CallMedia,
    },
    /// The callee accepts; the caller then sends an offer.
    Accept {
        /// The call.
        call: CallId,
    },
    /// An SDP offer (first negotiation or renegotiation, e.g. screen share on/off).
    Offer {
        /// The call.
        call: CallId,
        /// Session description, opaque.
        sdp: String,
    },
    /// An SDP answer.
    Answer {
        /// The call.
        call: CallId,
        /// Session description, opaque.
        sdp: String,
    },
    /// A trickled ICE candidate.
    Ice {
        /// The call.
        call: CallId,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The sender's mute, camera and screen-share state changed.
    Media {
        /// The call.
        call: CallId,
        /// The new state.
        state: MediaState,
    },
    /// The sender switched a device; the call goes on.
    DeviceChanged {
        /// The call.
        call: CallId,
        /// Which kind of device.
        kind: DeviceKind,
    },
    /// The call ends.
    Hangup {
        /// The call.
        call: CallId,
        /// Why.
        reason: HangupReason,
    },
    /// The sender's summary of the call's quality so far (sent every 30 s during the call
    /// and once when it ends); the report keeps each side's last.
    Quality {
        /// The call.
        call: CallId,
        /// The summary.
        summary: QualitySummary,
    },
    /// A signal this version does not know.
    Unknown,
}

impl FromJson for CallSignal {
    fn from_json<J: JsonValue>(f: &J) -> Result<Self, JsonError> {
        Ok(match tag(f, "op")?.as_str() {
            "start" => Self::Start {
                call: field(f, "call")?,
                media: field(f, "media")?,
            },
            "accept" => Self::Accept {
                call: field(f, "call")?,
            },
            "offer" => Self::Offer {
                call: field(f, "call")?,
                sdp: field(f, "sdp")?,
            },
            "answer" => Self::Answer {
                call: field(f, "call")?,
                sdp: field(f, "sdp")?,
            },
            "ice" => Self::Ice {
                call: field(f, "call")?,
                candidate: field(f, "candidate")?,
            },
            "media" => Self::Media {
                call: field(f, "call")?,
                state: field(f, "state")?,
            },
            "device_changed" => Self::DeviceChanged {
                call: field(f, "call")?,
                kind: field(f, "kind")?,
            },
            "hangup" => Self::Hangup {
                call: field(f, "call")?,
                reason: field(f, "reason")?,
            },
            "quality" => Self::Quality {
                call: field(f, "call")?,
                summary: field(f, "summary")?,
            },
            _ => Self::Unknown,
        })
    }
}

deserialize_from_json!(CallSignal, QualitySummary);

json_names!(CallMedia {
    Audio = "audio",
    Video = "video",
});
json_struct!(IceCandidate {
    candidate,
    sdp_mid: optional,
    sdp_m_line_index: optional,
});
json_struct!(MediaState {
    muted,
    camera,
    screen
});
json_names!(DeviceKind {
    AudioInput = "audio_input",
    VideoInput = "video_input",
    AudioOutput = "audio_output",
});
json_names!(HangupReason {
    Normal = "normal",
    Declined = "declined",
    NoAnswer = "no_answer",
    Failed = "failed",
    Busy = "busy",
    NotAllowed = "not_allowed",
    Other = "other",
} else Other);

impl CallSignal {
    /// The call the signal belongs to (`None` for [`CallSignal::Unknown`]).
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Self::Start { call, .. }
            | Self::Accept { call }
            | Self::Offer { call, .. }
            | Self::Answer { call, .. }
            | Self::Ice { call, .. }
            | Self::Media { call, .. }
            | Self::DeviceChanged { call, .. }
            | Self::Hangup { call, .. }
            | Self::Quality { call, .. } => Some(call),
            Self::Unknown => None,
        }
    }
}
