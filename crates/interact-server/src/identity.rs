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
use interact_sdk::identity::{MAX_HISTORY, PastChat, PastMessage};
use interact_sdk::limits::{HISTORY_MESSAGES, MAX_FRAME_BYTES};
use interact_sdk::protocol::{ServerFrame, SessionEvent, encode};
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

/// The earlier (ended) conversations of verified visitor `visitor` through `code`,
/// newest first: at most [`MAX_HISTORY`], each with its last [`HISTORY_MESSAGES`]
/// messages, and cut (oldest messages first) so that the `history` frame fits
/// [`MAX_FRAME_BYTES`].
pub async fn history(
    state: &AppState,
    code: &EmbedCode,
    visitor: &str,
) -> Result<Vec<PastChat>, StoreError> {
    let limit = u32::try_from(MAX_HISTORY).unwrap_or(u32::MAX);
    let sessions = state.store.visitor_sessions(code, visitor, limit).await?;
    let mut budget = HISTORY_BUDGET;
    let mut chats = Vec::with_capacity(sessions.len());
    for s in sessions {
        let events = state.store.events(&s.id).await?;
        let messages = last_messages(events.into_iter().map(|e| e.event), &mut budget);
        if !messages.is_empty() {
            chats.push(PastChat {
                session: s.id,
                at: s.created_at,
                messages,
            });
        }
        if budget == 0 {
            break;
        }
    }
    Ok(chats)
}

/// Bytes of messages' JSON a `history` frame may carry.
const HISTORY_BUDGET: usize = MAX_FRAME_BYTES - HISTORY_ENVELOPE_BYTES;

/// The last [`HISTORY_MESSAGES`] messages of a session's `events` that fit in `budget`
/// bytes of JSON, oldest first; takes their size from `budget`, which is left at 0 when
/// a message did not fit (the frame is full).
fn last_messages(
    events: impl DoubleEndedIterator<Item = SessionEvent>,
    budget: &mut usize,
) -> Vec<PastMessage> {
    let mut messages: Vec<PastMessage> = Vec::new();
    // The newest first, while they fit; reversed after.
    for event in events.rev() {
        if messages.len() == HISTORY_MESSAGES {
            break;
        }
        let SessionEvent::Message {
            from, author, text, ..
        } = event
        else {
            continue;
        };
        let m = PastMessage { from, author, text };
        let size = encode(&m).len() + 1;
        if size > *budget {
            *budget = 0;
            break;
        }
        *budget -= size;
        messages.push(m);
    }
    messages.reverse();
    messages
}

/// Whether a `history` frame with `sessions` fits the frame limit (what [`history`]
/// promises; checked by the tests).
pub fn fits(sessions: &[PastChat]) -> bool {
    let frame = ServerFrame::History {
        id: interact_sdk::ids::MessageId::new("m").unwrap_or_else(|e| unreachable!("{e}")),
        sessions: sessions.to_vec(),
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
        use interact_sdk::ids::{MessageId, SessionId};
        use interact_sdk::protocol::Party;
        use interact_sdk::time::UnixMillis;
        // 20 sessions of 60 messages of 4000 characters, an emoji and a quote in turn
        // (3 bytes of JSON each on average): far beyond a frame.
        let text: String = "\u{1F600}\"".repeat(2000);
        let session = |n: usize| -> Vec<SessionEvent> {
            (0..60)
                .map(|i| SessionEvent::Message {
                    id: MessageId::new(format!("m{n}-{i}")).expect("id"),
                    from: if i % 2 == 0 {
                        Party::Visitor
                    } else {
                        Party::Agent
                    },
                    author: Some("Vera".into()),
                    text: text.clone(),
                })
                .collect()
        };
        let mut budget = HISTORY_BUDGET;
        let mut chats = Vec::new();
        for n in 0..MAX_HISTORY {
            let messages = last_messages(session(n).into_iter(), &mut budget);
            if !messages.is_empty() {
                chats.push(PastChat {
                    session: SessionId::new(format!("s{n:032}")).expect("id"),
                    at: UnixMillis(1_767_225_600_000),
                    messages,
                });
            }
            if budget == 0 {
                break;
            }
        }
        assert!(fits(&chats));
        // The newest messages are the ones kept, in order.
        let kept = &chats[0].messages;
        assert!(kept.len() >= 4, "{}", kept.len());
        assert_eq!(kept.last().map(|m| m.from), Some(Party::Agent));
        // Short chats: 50 messages of each, at most.
        let mut budget = HISTORY_BUDGET;
        let short = (0..80).map(|i| SessionEvent::Message {
            id: MessageId::new(format!("m{i}")).expect("id"),
            from: Party::Visitor,
            author: None,
            text: format!("message {i}"),
        });
        let kept = last_messages(short.collect::<Vec<_>>().into_iter(), &mut budget);
        assert_eq!(kept.len(), HISTORY_MESSAGES);
        assert_eq!(kept[0].text, "message 30");
        assert_eq!(kept[49].text, "message 79");
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
