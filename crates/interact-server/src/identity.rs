//! Identified visitors: the identity secret of an embed code (the HMAC-SHA256 key a
//! website signs its visitors' ids with), the check of an `identify` frame's hash, and a
//! verified visitor's earlier conversations (`history`).
//!
//! The secret is 32 random bytes as 64 hex digits; the HMAC's key is that text as the
//! admin copied it (as `crypto.createHmac('sha256', secret)` takes it), its message the
//! visitor id's UTF-8, and the hash the 64 lowercase or uppercase hex digits of the MAC.
//! The check is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use interact_sdk::embed::EmbedCode;
use interact_sdk::limits::{HISTORY_MESSAGES, HISTORY_SESSIONS, MAX_FRAME_BYTES};
use interact_sdk::protocol::{EventFrame, ServerFrame, SessionEvent, encode};
use interact_store::StoreError;
use sha2::Sha256;

use crate::AppState;

/// Room kept in a `history` frame for everything but the messages' own JSON.
const HISTORY_ENVELOPE_BYTES: usize = 8 * 1024;

/// A new identity secret: 256 bits from the OS, hex-encoded.
pub fn new_secret() -> String {
    crate::auth::random_token()
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|e| unreachable!("hmac accepts any key length: {e}"))
}

/// The hash a website computes for `visitor`: hex HMAC-SHA256 under `secret`.
pub fn sign(secret: &str, visitor: &str) -> String {
    let mut m = mac(secret);
    m.update(visitor.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Whether `hash` (hex, either case) is the HMAC-SHA256 of `visitor` under `secret`,
/// compared in constant time. Malformed hex never matches.
pub fn verify(secret: &str, visitor: &str, hash: &str) -> bool {
    let Ok(bytes) = hex::decode(hash) else {
        return false;
    };
    let mut m = mac(secret);
    m.update(visitor.as_bytes());
    m.verify_slice(&bytes).is_ok()
}

/// The `message` events of the earlier (ended) conversations of verified visitor
/// `visitor` through `code`: the newest conversation first, each one's messages in order;
/// at most [`HISTORY_SESSIONS`] conversations with their last [`HISTORY_MESSAGES`]
/// messages each, and cut (older messages and conversations first) so that the `history`
/// frame fits [`MAX_FRAME_BYTES`].
pub async fn history(
    state: &AppState,
    code: &EmbedCode,
    visitor: &str,
) -> Result<Vec<EventFrame>, StoreError> {
    let limit = u32::try_from(HISTORY_SESSIONS).unwrap_or(u32::MAX);
    let sessions = state.store.visitor_sessions(code, visitor, limit).await?;
    let mut budget = HISTORY_BUDGET;
    let mut history = Vec::new();
    for s in sessions {
        let events = state.store.events(&s.id).await?;
        history.extend(last_messages(events, &mut budget));
        if budget == 0 {
            break;
        }
    }
    Ok(history)
}

/// Bytes of events' JSON a `history` frame may carry.
const HISTORY_BUDGET: usize = MAX_FRAME_BYTES - HISTORY_ENVELOPE_BYTES;

/// The last [`HISTORY_MESSAGES`] `message` events of a session's `events` that fit in
/// `budget` bytes of JSON, in order; takes their size from `budget`, which is left at 0
/// when a message did not fit (the frame is full).
fn last_messages(events: Vec<EventFrame>, budget: &mut usize) -> Vec<EventFrame> {
    let mut messages: Vec<EventFrame> = Vec::new();
    // The newest first, while they fit; reversed after.
    for ev in events.into_iter().rev() {
        if messages.len() == HISTORY_MESSAGES {
            break;
        }
        if !matches!(ev.event, SessionEvent::Message { .. }) {
            continue;
        }
        let size = encode(&ev).len() + 1;
        if size > *budget {
            *budget = 0;
            break;
        }
        *budget -= size;
        messages.push(ev);
    }
    messages.reverse();
    messages
}

/// Whether a `history` frame with `events` fits the frame limit (what [`history`]
/// promises; checked by the tests).
pub fn fits(events: &[EventFrame]) -> bool {
    let frame = ServerFrame::History {
        id: interact_sdk::ids::MessageId::new("m").unwrap_or_else(|e| unreachable!("{e}")),
        events: events.to_vec(),
    };
    encode(&frame).len() <= MAX_FRAME_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(sign("Jefe", "what do ya want for nothing?"), want);
        assert!(verify("Jefe", "what do ya want for nothing?", want));
        assert!(verify(
            "Jefe",
            "what do ya want for nothing?",
            &want.to_ascii_uppercase()
        ));
    }

    #[test]
    fn a_known_visitor_hash() {
        // The README's example: Node's
        // crypto.createHmac('sha256', 'secret-of-the-embed-code').update('user-42').digest('hex')
        let hash = sign("secret-of-the-embed-code", "user-42");
        assert_eq!(
            hash,
            "0a9ae7fcbdbf1d0ed221f6cf964feaf4ebfb76e3b7046bed97d7c5537d10dc8b"
        );
    }

    #[test]
    fn the_longest_history_fits_a_frame() {
        use interact_sdk::ids::{MessageId, Seq, SessionId};
        use interact_sdk::protocol::{EndReason, Party};
        use interact_sdk::time::UnixMillis;
        // 20 sessions of 60 messages of 4000 characters, an emoji and a quote in turn
        // (3 bytes of JSON each on average), and an end: far beyond a frame.
        let text: String = "\u{1F600}\"".repeat(2000);
        let frame = |n: usize, i: u64, event: SessionEvent| EventFrame {
            session: SessionId::new(format!("s{n:032}")).expect("id"),
            seq: Seq(i + 1),
            at: UnixMillis(1_767_225_600_000 + i),
            event,
        };
        let session = |n: usize| -> Vec<EventFrame> {
            let mut events: Vec<EventFrame> = (0..60)
                .map(|i| {
                    let event = SessionEvent::Message {
                        id: MessageId::new(format!("m{n}-{i}")).expect("id"),
                        from: if i % 2 == 0 {
                            Party::Visitor
                        } else {
                            Party::Agent
                        },
                        author: Some("Vera".into()),
                        text: text.clone(),
                    };
                    frame(n, i, event)
                })
                .collect();
            let end = SessionEvent::Ended {
                reason: EndReason::AgentEnded,
            };
            events.push(frame(n, 60, end));
            events
        };
        let mut budget = HISTORY_BUDGET;
        let mut history = Vec::new();
        for n in 0..HISTORY_SESSIONS {
            history.extend(last_messages(session(n), &mut budget));
            if budget == 0 {
                break;
            }
        }
        assert!(fits(&history));
        // The newest messages of the newest session are the ones kept, in order, and
        // only messages.
        assert!(history.len() >= 4, "{}", history.len());
        assert!(history.iter().all(|e| e.session == history[0].session));
        assert_eq!(history.last().map(|e| e.seq), Some(Seq(60)));
        assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
        // Short chats: 50 messages of each, at most.
        let mut budget = HISTORY_BUDGET;
        let short = (0..80)
            .map(|i| {
                let event = SessionEvent::Message {
                    id: MessageId::new(format!("m{i}")).expect("id"),
                    from: Party::Visitor,
                    author: None,
                    text: format!("message {i}"),
                };
                frame(0, i, event)
            })
            .collect();
        let kept = last_messages(short, &mut budget);
        assert_eq!(kept.len(), HISTORY_MESSAGES);
        let text_of = |e: &EventFrame| match &e.event {
            SessionEvent::Message { text, .. } => text.clone(),
            _ => String::new(),
        };
        assert_eq!(text_of(&kept[0]), "message 30");
        assert_eq!(text_of(&kept[49]), "message 79");
    }

    #[test]
    fn wrong_hashes_are_refused() {
        let secret = new_secret();
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, new_secret());
        let hash = sign(&secret, "user-42");
        assert!(verify(&secret, "user-42", &hash));
        // Another id, another secret, a changed digit, a cut or malformed hash.
        assert!(!verify(&secret, "user-43", &hash));
        assert!(!verify(&new_secret(), "user-42", &hash));
        let mut flipped = hash.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        assert!(!verify(
            &secret,
            "user-42",
            &String::from_utf8(flipped).unwrap()
        ));
        assert!(!verify(&secret, "user-42", &hash[..62]));
        assert!(!verify(&secret, "user-42", &format!("{}zz", &hash[..62])));
        assert!(!verify(&secret, "user-42", ""));
    }
}
