//! The call state machine that runs beside the chat: ringing, offer/answer, trickled ICE,
//! renegotiation and hang-up. It only signals; the driver owns the `RTCPeerConnection`.
//!
//! The visitor always calls and the agent answers. For renegotiation (screen share on and
//! off) both sides may offer; collisions are resolved as in WebRTC's "perfect negotiation":
//! the agent is the polite side and rolls back its own offer, the visitor ignores the
//! colliding offer.

use crate::error::Error;
use crate::ids::CallId;
use crate::limits::MAX_CANDIDATE_BYTES;
#[cfg(test)]
use crate::limits::MAX_SDP_BYTES;
use crate::protocol::{
    CallMedia, CallSignal, DeviceKind, HangupReason, IceCandidate, MediaState, Party, is_valid_sdp,
};
use crate::quality::{QualityMeter, QualityRating, QualitySample, StatsReading};
use crate::time::Instant;

/// Where a call stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallState {
    /// No call.
    Idle,
    /// The visitor asked for a call; the agent's side rings.
    Ringing {
        /// The call.
        call: CallId,
        /// Audio or video.
        media: CallMedia,
        /// Whether this side placed the call.
        outgoing: bool,
    },
    /// Accepted; the first offer/answer exchange is under way.
    Negotiating {
        /// The call.
        call: CallId,
        /// Audio or video.
        media: CallMedia,
    },
    /// Offer and answer exchanged; media can flow. Renegotiation happens in this state.
    Active {
        /// The call.
        call: CallId,
        /// Audio or video.
        media: CallMedia,
    },
}

impl CallState {
    /// The current call's id, if there is a call.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Self::Idle => None,
            Self::Ringing { call, .. }
            | Self::Negotiating { call, .. }
            | Self::Active { call, .. } => Some(call),
        }
    }
}

/// What the driver must do, or show, because of a signal from the other side.
///
/// Serialisable (tagged by `event`, snake case) so that a page can hand it to code in
/// another wasm module: the widget's call module, which is loaded on the first call and
/// carries the events out on its `RTCPeerConnection`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallEvent {
    /// Agent side: a call rings. Accept or decline.
    Incoming {
        /// The call.
        call: CallId,
        /// Audio or video.
        media: CallMedia,
    },
    /// Visitor side: the agent accepted. Create the peer connection and an offer, then
    /// pass it to `local_offer`.
    Accepted {
        /// The call.
        call: CallId,
        /// Audio or video.
        media: CallMedia,
    },
    /// Apply the remote offer and create an answer for `local_answer`. If `rollback` is
    /// set, first roll back the local offer that collided with it.
    RemoteOffer {
        /// The call.
        call: CallId,
        /// The SDP.
        sdp: String,
        /// Roll back the pending local offer first.
        rollback: bool,
    },
    /// Apply the remote answer.
    RemoteAnswer {
        /// The call.
        call: CallId,
        /// The SDP.
        sdp: String,
    },
    /// Add a remote ICE candidate.
    RemoteCandidate {
        /// The call.
        call: CallId,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The other side's mute, camera or screen-share state changed.
    RemoteMedia {
        /// The call.
        call: CallId,
        /// Its new state.
        state: MediaState,
    },
    /// The other side switched a device.
    RemoteDeviceChanged {
        /// The call.
        call: CallId,
        /// Which device.
        kind: DeviceKind,
    },
    /// The call is over: close the peer connection and stop local tracks.
    Ended {
        /// The call.
        call: CallId,
        /// Why.
        reason: HangupReason,
        /// Who ended it.
        by: Party,
    },
}

/// The call machine of one side of a session.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    me: Party,
    pub(crate) state: CallState,
    making_offer: bool,
    pub(crate) local_media: MediaState,
    /// The quality samples of the current call.
    quality: QualityMeter,
    /// The final quality summary of the call that just ended, for the driver to send.
    final_quality: Option<CallSignal>,
}

impl Call {
    pub(crate) fn new(me: Party) -> Self {
        Self {
            me,
            state: CallState::Idle,
            making_offer: false,
            local_media: MediaState::default(),
            quality: QualityMeter::new(),
            final_quality: None,
        }
    }

    fn current(&self) -> Result<CallId, Error> {
        self.state
            .call()
            .cloned()
            .ok_or(Error::ApiMisuse("no call in progress"))
    }

    pub(crate) fn start(&mut self, call: CallId, media: CallMedia) -> Result<CallSignal, Error> {
        if self.me != Party::Visitor {
            return Err(Error::ApiMisuse("only the visitor places calls"));
        }
        if self.state != CallState::Idle {
            return Err(Error::ApiMisuse("a call is already in progress"));
        }
        self.state = CallState::Ringing {
            call: call.clone(),
            media,
            outgoing: true,
        };
        self.local_media = MediaState {
            muted: false,
            camera: media == CallMedia::Video,
            screen: false,
        };
        Ok(CallSignal::Start { call, media })
    }

    pub(crate) fn accept(&mut self) -> Result<CallSignal, Error> {
        match &self.state {
            CallState::Ringing {
                call,
                media,
                outgoing: false,
            } => {
                let (call, media) = (call.clone(), *media);
                self.state = CallState::Negotiating {
                    call: call.clone(),
                    media,
                };
                self.local_media = MediaState {
                    muted: false,
                    camera: media == CallMedia::Video,
                    screen: false,
                };
                Ok(CallSignal::Accept { call })
            }
            _ => Err(Error::ApiMisuse("no incoming call to accept")),
        }
    }

    pub(crate) fn hangup(
        &mut self,
        reason: HangupReason,
    ) -> Result<(CallSignal, CallEvent), Error> {
        let call = self.current()?;
        self.reset();
        Ok((
            CallSignal::Hangup {
                call: call.clone(),
                reason,
            },
            CallEvent::Ended {
                call,
                reason,
                by: self.me,
            },
        ))
    }

    pub(crate) fn local_offer(&mut self, sdp: String) -> Result<CallSignal, Error> {
        check_sdp(&sdp)?;
        match &self.state {
            CallState::Negotiating { call, .. } | CallState::Active { call, .. } => {
                self.making_offer = true;
                Ok(CallSignal::Offer {
                    call: call.clone(),
                    sdp,
                })
            }
            _ => Err(Error::ApiMisuse("an offer needs an accepted call")),
        }
    }

    pub(crate) fn local_answer(&mut self, sdp: String) -> Result<CallSignal, Error> {
        check_sdp(&sdp)?;
        match &self.state {
            CallState::Negotiating { call, media } | CallState::Active { call, media } => {
                let call = call.clone();
                self.state = CallState::Active {
                    call: call.clone(),
                    media: *media,
                };
                Ok(CallSignal::Answer { call, sdp })
            }
            _ => Err(Error::ApiMisuse("an answer needs an accepted call")),
        }
    }

    pub(crate) fn local_candidate(&mut self, candidate: IceCandidate) -> Result<CallSignal, Error> {
        if candidate.candidate.len() > MAX_CANDIDATE_BYTES {
            return Err(Error::ApiMisuse("ICE candidate exceeds the protocol limit"));
        }
        match &self.state {
            CallState::Negotiating { call, .. } | CallState::Active { call, .. } => {
                Ok(CallSignal::Ice {
                    call: call.clone(),
                    candidate,
                })
            }
            _ => Err(Error::ApiMisuse("candidates need an accepted call")),
        }
    }

    pub(crate) fn set_media(&mut self, state: MediaState) -> Result<CallSignal, Error> {
        let call = self.current()?;
        self.local_media = state;
        Ok(CallSignal::Media { call, state })
    }

    pub(crate) fn device_changed(&mut self, kind: DeviceKind) -> Result<CallSignal, Error> {
        Ok(CallSignal::DeviceChanged {
            call: self.current()?,
            kind,
        })
    }

    /// Applies a signal this side sent, as the session log echoes or replays it (after a
    /// reload the log is the only memory of the call). What was already applied locally
    /// changes nothing.
    pub(crate) fn apply_own(&mut self, signal: &CallSignal) {
        match (signal, &self.state) {
            (CallSignal::Start { call, media }, CallState::Idle) if self.me == Party::Visitor => {
                self.state = CallState::Ringing {
                    call: call.clone(),
                    media: *media,
                    outgoing: true,
                };
            }
            (
                CallSignal::Accept { call },
                CallState::Ringing {
                    call: c,
                    media,
                    outgoing: false,
                },
            ) if c == call => {
                self.state = CallState::Negotiating {
                    call: call.clone(),
                    media: *media,
                };
            }
            (CallSignal::Answer { call, .. }, CallState::Negotiating { call: c, media })
                if c == call =>
            {
                self.state = CallState::Active {
                    call: call.clone(),
                    media: *media,
                };
            }
            (CallSignal::Hangup { call, .. }, _) if self.state.call() == Some(call) => self.reset(),
            _ => {}
        }
    }

    fn reset(&mut self) {
        self.final_quality = self.quality_signal();
        self.quality = QualityMeter::new();
        self.state = CallState::Idle;
        self.making_offer = false;
        self.local_media = MediaState::default();
    }

    /// Takes a quality sample of the answered call; returns the rating of the latest
    /// samples.
    pub(crate) fn stats(
        &mut self,
        now: Instant,
        reading: StatsReading,
    ) -> Result<Option<QualityRating>, Error> {
        match self.state {
            CallState::Negotiating { .. } | CallState::Active { .. } => {
                self.quality.record(now, reading);
                Ok(self.quality.rating())
            }
            _ => Err(Error::ApiMisuse("quality samples need an answered call")),
        }
    }

    /// The median figures of the latest quality samples of the current call.
    pub(crate) fn quality_recent(&self) -> Option<QualitySample> {
        self.quality.latest()
    }

    /// The quality summary of the current call so far, if it has samples.
    pub(crate) fn quality_signal(&self) -> Option<CallSignal> {
        Some(CallSignal::Quality {
            call: self.state.call()?.clone(),
            summary: self.quality.summary()?,
        })
    }

    /// The periodic quality summary, if one is due at `now`; it counts as sent.
    pub(crate) fn quality_due(&mut self, now: Instant) -> Option<CallSignal> {
        if !self.quality.due(now) {
            return None;
        }
        self.quality.reported(now);
        self.quality_signal()
    }

    /// The final quality summary of the call that ended last, once.
    pub(crate) fn take_final_quality(&mut self) -> Option<CallSignal> {
        self.final_quality.take()
    }

    /// Applies a signal from the other side. Signals for another call than the current
    /// one are stale (for example replayed after a reconnect) and ignored.
    pub(crate) fn handle_remote(&mut self, signal: CallSignal) -> Option<CallEvent> {
        let current = self.state.call().cloned();
        let is_current = |c: &CallId| current.as_ref() == Some(c);
        match signal {
            CallSignal::Start { call, media } => {
                if self.me != Party::Agent || self.state != CallState::Idle {
                    return None;
                }
                self.state = CallState::Ringing {
                    call: call.clone(),
                    media,
                    outgoing: false,
                };
                Some(CallEvent::Incoming { call, media })
            }
            CallSignal::Accept { call } => match &self.state {
                CallState::Ringing {
                    call: c,
                    media,
                    outgoing: true,
                } if *c == call => {
                    let media = *media;
                    self.state = CallState::Negotiating {
                        call: call.clone(),
                        media,
                    };
                    Some(CallEvent::Accepted { call, media })
                }
                _ => None,
            },
            CallSignal::Offer { call, sdp } if is_current(&call) => {
                if matches!(self.state, CallState::Ringing { .. }) {
                    return None;
                }
                let collision = self.making_offer;
                if collision && self.me == Party::Visitor {
                    // Impolite side: keep our offer, the agent rolls back.
                    return None;
                }
                self.making_offer = false;
                Some(CallEvent::RemoteOffer {
                    call,
                    sdp,
                    rollback: collision,
                })
            }
            CallSignal::Answer { call, sdp } if is_current(&call) && self.making_offer => {
                self.making_offer = false;
                if let CallState::Negotiating { call, media } = &self.state {
                    self.state = CallState::Active {
                        call: call.clone(),
                        media: *media,
                    };
                }
                Some(CallEvent::RemoteAnswer { call, sdp })
            }
            CallSignal::Ice { call, candidate } if is_current(&call) => {
                Some(CallEvent::RemoteCandidate { call, candidate })
            }
            CallSignal::Media { call, state } if is_current(&call) => {
                Some(CallEvent::RemoteMedia { call, state })
            }
            CallSignal::DeviceChanged { call, kind } if is_current(&call) => {
                Some(CallEvent::RemoteDeviceChanged { call, kind })
            }
            CallSignal::Hangup { call, reason } if is_current(&call) => {
                self.reset();
                Some(CallEvent::Ended {
                    call,
                    reason,
                    by: match self.me {
                        Party::Visitor => Party::Agent,
                        _ => Party::Visitor,
                    },
                })
            }
            _ => None,
        }
    }
}

fn check_sdp(sdp: &str) -> Result<(), Error> {
    if !is_valid_sdp(sdp) {
        return Err(Error::ApiMisuse(
            "SDP is empty, exceeds the protocol limit or holds control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn id(s: &str) -> CallId {
        CallId::new(s).expect("valid")
    }

    fn pair() -> (Call, Call) {
        (Call::new(Party::Visitor), Call::new(Party::Agent))
    }

    /// The widget's chat module hands call events to its call module as JSON: every
    /// variant comes back as it went, tagged by `event`.
    #[test]
    fn call_events_cross_as_json_and_come_back_equal() {
        let media = MediaState {
            muted: true,
            camera: false,
            screen: true,
        };
        let events = [
            CallEvent::Incoming {
                call: id("c1"),
                media: CallMedia::Audio,
            },
            CallEvent::Accepted {
                call: id("c1"),
                media: CallMedia::Video,
            },
            CallEvent::RemoteOffer {
                call: id("c1"),
                sdp: "v=0\r\n".into(),
                rollback: true,
            },
            CallEvent::RemoteAnswer {
                call: id("c1"),
                sdp: "v=0\r\n".into(),
            },
            CallEvent::RemoteCandidate {
                call: id("c1"),
                candidate: IceCandidate {
                    candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                },
            },
            CallEvent::RemoteMedia {
                call: id("c1"),
                state: media,
            },
            CallEvent::RemoteDeviceChanged {
                call: id("c1"),
                kind: DeviceKind::VideoInput,
            },
            CallEvent::Ended {
                call: id("c1"),
                reason: HangupReason::NoAnswer,
                by: Party::System,
            },
        ];
        for event in events {
            let json = serde_json::to_string(&event).expect("serialises");
            assert!(json.starts_with("{\"event\":\""), "{json}");
            let back: CallEvent = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, event);
        }
        assert_eq!(
            serde_json::from_str::<CallEvent>("{\"event\":\"ended\",\"call\":\"c1\"}").ok(),
            None,
            "a missing field is refused"
        );
    }

    #[test]
    fn full_call_flow() {
        let (mut v, mut a) = pair();
        let start = v.start(id("c1"), CallMedia::Video).expect("start");
        assert!(matches!(
            a.handle_remote(start),
            Some(CallEvent::Incoming { .. })
        ));
        let accept = a.accept().expect("accept");
        assert!(matches!(
            v.handle_remote(accept),
            Some(CallEvent::Accepted { .. })
        ));
        let offer = v.local_offer("v=0 offer".into()).expect("offer");
        let Some(CallEvent::RemoteOffer {
            rollback: false, ..
        }) = a.handle_remote(offer)
        else {
            panic!("agent should get the offer");
        };
        let answer = a.local_answer("v=0 answer".into()).expect("answer");
        assert!(matches!(
            v.handle_remote(answer),
            Some(CallEvent::RemoteAnswer { .. })
        ));
        assert!(matches!(v.state, CallState::Active { .. }));
        assert!(matches!(a.state, CallState::Active { .. }));
        // Renegotiation for screen sharing, from the visitor.
        let offer = v.local_offer("v=0 screen".into()).expect("reoffer");
        assert!(matches!(
            a.handle_remote(offer),
            Some(CallEvent::RemoteOffer { .. })
        ));
        let (hangup, ended) = a.hangup(HangupReason::Normal).expect("hangup");
        assert!(matches!(
            ended,
            CallEvent::Ended {
                by: Party::Agent,
                ..
            }
        ));
        assert!(matches!(
            v.handle_remote(hangup),
            Some(CallEvent::Ended {
                by: Party::Agent,
                ..
            })
        ));
        assert_eq!(v.state, CallState::Idle);
    }

    #[test]
    fn glare_is_resolved_by_the_polite_agent() {
        let (mut v, mut a) = pair();
        a.handle_remote(v.start(id("c1"), CallMedia::Audio).expect("start"));
        v.handle_remote(a.accept().expect("accept"));
        a.handle_remote(v.local_offer("o1".into()).expect("offer"));
        v.handle_remote(a.local_answer("a1".into()).expect("answer"));
        let vo = v.local_offer("v-offer".into()).expect("v offer");
        let ao = a.local_offer("a-offer".into()).expect("a offer");
        assert_eq!(
            v.handle_remote(ao),
            None,
            "impolite visitor ignores the collision"
        );
        assert!(matches!(
            a.handle_remote(vo),
            Some(CallEvent::RemoteOffer { rollback: true, .. })
        ));
    }

    #[test]
    fn misuse_is_an_error_and_stale_signals_are_ignored() {
        let (mut v, mut a) = pair();
        assert!(a.start(id("c1"), CallMedia::Audio).is_err());
        assert!(v.accept().is_err());
        assert!(v.local_offer("x".into()).is_err());
        assert!(v.hangup(HangupReason::Normal).is_err());
        v.start(id("c1"), CallMedia::Audio).expect("start");
        assert!(v.start(id("c2"), CallMedia::Audio).is_err());
        let stale = CallSignal::Hangup {
            call: id("c0"),
            reason: HangupReason::Normal,
        };
        assert_eq!(v.handle_remote(stale), None);
        assert!(matches!(v.state, CallState::Ringing { .. }));
        assert!(v.local_answer(String::new()).is_err());
        assert!(v.local_offer("x".repeat(MAX_SDP_BYTES + 1)).is_err());
    }
}
