//! The connection to the server as a client sees it: handshake, keep-alive, dead-link
//! detection and reconnect backoff. Shared by the visitor and the agent machines.

use std::time::Duration;

use std::collections::VecDeque;

use crate::client::{Event, Output};
use crate::error::Error;
use crate::ids::IdGen;
use crate::limits::{HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, PING_INTERVAL, RECONNECT_MAX, RECONNECT_MIN};
use crate::protocol::{ClientFrame, CloseCode, PROTOCOL_VERSION, encode};
use crate::time::Instant;

/// The state of the connection to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkState {
    /// Opening the transport or waiting for `welcome`.
    Connecting,
    /// Handshake done; frames flow.
    Online,
    /// The link dropped; the next attempt (number `attempt`, from 1) starts at `at`.
    Reconnecting {
        /// Attempt number.
        attempt: u32,
        /// When the attempt starts.
        at: Instant,
    },
    /// Closed for good: the session ended, or the server refused in a way retrying cannot fix.
    Closed {
        /// The close code, if one was received or sent.
        code: Option<u16>,
    },
}

/// What the link wants the machine to do after a timer fired.
#[derive(Debug, PartialEq, Eq)]
enum LinkAction {
    None,
    /// Ask the driver to open a transport.
    Connect,
    /// Send a ping.
    Ping,
    /// The transport is dead: ask the driver to close it; reconnect follows.
    Drop,
}

#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) state: LinkState,
    attempts: u32,
    since: Instant,
    last_rx: Instant,
    last_tx: Instant,
    /// When the last ping went out: the next waits a whole interval after it, whatever
    /// the pong does.
    last_ping: Instant,
    /// Nonce of the last ping.
    nonce: u64,
}

impl Link {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            state: LinkState::Connecting,
            attempts: 0,
            since: now,
            last_rx: now,
            last_tx: now,
            last_ping: now,
            nonce: 0,
        }
    }

    pub(crate) fn is_online(&self) -> bool {
        self.state == LinkState::Online
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.state, LinkState::Closed { .. })
    }

    pub(crate) fn connected(&mut self, now: Instant) {
        self.since = now;
        self.last_rx = now;
        self.last_tx = now;
        self.last_ping = now;
    }

    pub(crate) fn welcomed(&mut self, now: Instant) {
        self.state = LinkState::Online;
        self.attempts = 0;
        self.last_rx = now;
    }

    pub(crate) fn received(&mut self, now: Instant) {
        self.last_rx = now;
    }

    pub(crate) fn transmitted(&mut self, now: Instant) {
        self.last_tx = now;
    }

    /// The transport went away. Returns whether the state changed.
    pub(crate) fn disconnected(
        &mut self,
        now: Instant,
        code: Option<u16>,
        ids: &mut IdGen,
    ) -> bool {
        if self.is_closed() || matches!(self.state, LinkState::Reconnecting { .. }) {
            return false;
        }
        let retry = code
            .and_then(CloseCode::from_code)
            .is_none_or(|c| c.should_reconnect());
        if !retry {
            self.state = LinkState::Closed { code };
            return true;
        }
        self.attempts += 1;
        let base = RECONNECT_MIN
            .saturating_mul(1 << self.attempts.min(7).saturating_sub(1))
            .min(RECONNECT_MAX);
        // Up to 50% jitter so that many clients do not return in lock step after a restart.
        let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
        let jitter = ids.next_u64() % (base_ms / 2 + 1);
        self.state = LinkState::Reconnecting {
            attempt: self.attempts,
            at: now + Duration::from_millis(base_ms + jitter),
        };
        true
    }

    pub(crate) fn close(&mut self, code: CloseCode) {
        self.state = LinkState::Closed {
            code: Some(code.code()),
        };
    }

    /// A ping goes out when either direction has been quiet for [`PING_INTERVAL`]: the
    /// server's `pong` then proves the link alive and carries the session heads. At most
    /// one ping per interval: while its pong is on the way (or lost) the receive side
    /// stays quiet, and only [`IDLE_TIMEOUT`] decides that the link is dead.
    fn ping_at(&self) -> Instant {
        (self.last_tx.min(self.last_rx) + PING_INTERVAL).max(self.last_ping + PING_INTERVAL)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            LinkState::Connecting => Some(self.since + HANDSHAKE_TIMEOUT),
            LinkState::Online => Some(self.ping_at().min(self.last_rx + IDLE_TIMEOUT)),
            LinkState::Reconnecting { at, .. } => Some(at),
            LinkState::Closed { .. } => None,
        }
    }

    /// Takes the server's `welcome`: refuses another protocol version (closing with
    /// 4000), otherwise goes online.
    pub(crate) fn welcome(
        &mut self,
        now: Instant,
        protocol: u32,
        out: &mut VecDeque<Output>,
    ) -> Result<(), Error> {
        if protocol != PROTOCOL_VERSION {
            self.close(CloseCode::UnsupportedProtocol);
            out.push_back(Output::Close(CloseCode::UnsupportedProtocol));
            return Err(Error::PeerMisbehaved(format!(
                "server answered with protocol {protocol}"
            )));
        }
        self.welcomed(now);
        out.push_back(Output::Event(Event::Link(LinkState::Online)));
        Ok(())
    }

    /// Reconnects at once (a person clicked "Retry now"): while waiting to reconnect, or
    /// after a close that is not retried (the attempt count then starts over). Returns
    /// whether a new transport was asked for; connecting or online links stay as they are.
    pub(crate) fn reconnect_now(&mut self, now: Instant, out: &mut VecDeque<Output>) -> bool {
        match self.state {
            LinkState::Reconnecting { .. } => {}
            LinkState::Closed { .. } => self.attempts = 0,
            LinkState::Connecting | LinkState::Online => return false,
        }
        self.state = LinkState::Connecting;
        self.since = now;
        out.push_back(Output::Connect);
        out.push_back(Output::Event(Event::Link(LinkState::Connecting)));
        true
    }

    /// Lets the link's timers fire and queues what the driver must do (connect, ping,
    /// drop a dead transport). Returns whether the transport was dropped.
    pub(crate) fn fire(
        &mut self,
        now: Instant,
        ids: &mut IdGen,
        out: &mut VecDeque<Output>,
    ) -> bool {
        match self.handle_timeout(now) {
            LinkAction::Connect => {
                out.push_back(Output::Connect);
                out.push_back(Output::Event(Event::Link(LinkState::Connecting)));
            }
            LinkAction::Ping => {
                self.nonce += 1;
                out.push_back(Output::Transmit(encode(&ClientFrame::Ping {
                    nonce: self.nonce,
                })));
                self.transmitted(now);
                self.last_ping = now;
            }
            LinkAction::Drop => {
                out.push_back(Output::Close(CloseCode::GoingAway));
                self.disconnected(now, None, ids);
                out.push_back(Output::Event(Event::Link(self.state.clone())));
                return true;
            }
            LinkAction::None => {}
        }
        false
    }

    fn handle_timeout(&mut self, now: Instant) -> LinkAction {
        match self.state {
            LinkState::Connecting if now >= self.since + HANDSHAKE_TIMEOUT => LinkAction::Drop,
            LinkState::Online if now >= self.last_rx + IDLE_TIMEOUT => LinkAction::Drop,
            LinkState::Online if now >= self.ping_at() => LinkAction::Ping,
            LinkState::Reconnecting { at, .. } if now >= at => {
                self.state = LinkState::Connecting;
                self.since = now;
                LinkAction::Connect
            }
            _ => LinkAction::None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut ids = IdGen::new(9);
        let mut link = Link::new(Instant::ZERO);
        let mut last = Duration::ZERO;
        let mut now = Instant::ZERO;
        for _ in 0..12 {
            assert!(link.disconnected(now, None, &mut ids));
            let LinkState::Reconnecting { at, .. } = link.state else {
                panic!("expected reconnecting");
            };
            let wait = at.saturating_duration_since(now);
            assert!(
                wait >= RECONNECT_MIN && wait <= RECONNECT_MAX * 3 / 2,
                "{wait:?}"
            );
            assert!(
                wait * 2 >= last,
                "backoff must not shrink much: {wait:?} after {last:?}"
            );
            last = wait;
            now = at;
            assert_eq!(link.handle_timeout(now), LinkAction::Connect);
        }
        assert!(last >= RECONNECT_MAX);
    }

    /// A lost pong must not make the link ping in a loop: one ping per interval until
    /// the idle timeout drops the link.
    #[test]
    fn a_quiet_receive_side_gets_one_ping_per_interval() {
        let mut ids = IdGen::new(3);
        let mut out = VecDeque::new();
        let mut link = Link::new(Instant::ZERO);
        link.connected(Instant::ZERO);
        link.welcomed(Instant::ZERO);
        let mut pings = 0;
        let mut now = Instant::ZERO;
        while let Some(at) = link.poll_timeout() {
            assert!(at > now || pings == 0, "timer stuck at {at:?}");
            now = at;
            let dropped = link.fire(now, &mut ids, &mut out);
            if dropped {
                break;
            }
            pings = out
                .iter()
                .filter(|o| matches!(o, Output::Transmit(t) if t.contains("ping")))
                .count();
        }
        assert_eq!(now, Instant::ZERO + IDLE_TIMEOUT);
        let expected = (IDLE_TIMEOUT.as_millis() / PING_INTERVAL.as_millis()) as usize - 1;
        assert_eq!(
            pings, expected,
            "one ping per interval before the idle timeout"
        );
    }

    #[test]
    fn reconnect_now_skips_the_wait_and_a_close() {
        let mut ids = IdGen::new(5);
        let mut out = VecDeque::new();
        let mut link = Link::new(Instant::ZERO);
        assert!(
            !link.reconnect_now(Instant::ZERO, &mut out),
            "already connecting"
        );
        assert!(out.is_empty());
        link.disconnected(Instant::ZERO, None, &mut ids);
        let now = Instant::from_millis(100);
        assert!(link.reconnect_now(now, &mut out));
        assert_eq!(link.state, LinkState::Connecting);
        assert_eq!(out.pop_front(), Some(Output::Connect));
        assert_eq!(link.poll_timeout(), Some(now + HANDSHAKE_TIMEOUT));
        out.clear();
        link.disconnected(now, Some(4011), &mut ids);
        assert!(link.is_closed());
        assert!(link.reconnect_now(now, &mut out));
        assert_eq!(out.pop_front(), Some(Output::Connect));
        // The attempt count starts over after a close.
        link.disconnected(now, None, &mut ids);
        assert!(matches!(
            link.state,
            LinkState::Reconnecting { attempt: 1, .. }
        ));
    }

    #[test]
    fn fatal_close_codes_stop_reconnecting() {
        let mut ids = IdGen::new(1);
        let mut link = Link::new(Instant::ZERO);
        link.disconnected(Instant::ZERO, Some(4001), &mut ids);
        assert!(link.is_closed());
        assert_eq!(link.poll_timeout(), None);
    }
}
