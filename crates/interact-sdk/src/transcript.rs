//! A session's transcript as plain text: what the widget offers for download after a chat
//! and what the server emails. One function, so both say the same.
//!
//! ```
//! use interact_sdk::ids::{MessageId, Seq, SessionId};
//! use interact_sdk::protocol::{EventFrame, Party, SessionEvent};
//! use interact_sdk::time::UnixMillis;
//! use interact_sdk::transcript::plain_text;
//!
//! let event = EventFrame {
//!     session: SessionId::new("s1").unwrap(),
//!     seq: Seq(2),
//!     at: UnixMillis(1_717_243_200_000),
//!     event: SessionEvent::Message {
//!         id: MessageId::new("m1").unwrap(),
//!         from: Party::Agent,
//!         author: Some("Alex".into()),
//!         text: "Hello!".into(),
//!     },
//! };
//! let text = plain_text("Chat with Support", [&event]);
//! assert!(text.ends_with("[2024-06-01 12:00 UTC] Alex: Hello!\n"));
//! ```

use std::fmt::Write as _;

use crate::protocol::{EventFrame, Party, SessionEvent};
use crate::time::UnixMillis;

/// The transcript of `events` (in order) under the heading `title`: one line per message
/// with its time (UTC, to the minute) and its author's name, a message's further lines
/// indented by two spaces. Names come from the events: the visitor's from `started`, an
/// agent's from the message or the last `agent_joined`. Everything is text as written;
/// nothing is interpreted.
pub fn plain_text<'a>(title: &str, events: impl IntoIterator<Item = &'a EventFrame>) -> String {
    let mut out = String::new();
    out.push_str(title.trim());
    out.push('\n');
    out.push('\n');
    let mut visitor = String::from("Visitor");
    let mut agent = String::from("Agent");
    for f in events {
        match &f.event {
            SessionEvent::Started { visitor: v, .. } => visitor.clone_from(&v.display_name),
            SessionEvent::AgentJoined { agent: a } => agent.clone_from(&a.display_name),
            SessionEvent::Message {
                from, author, text, ..
            } => {
                let name = match (from, author) {
                    (_, Some(a)) => a.as_str(),
                    (Party::Visitor, None) => &visitor,
                    (Party::Agent, None) => &agent,
                    (Party::System, None) => "",
                };
                let _ = write!(out, "[{}] ", utc_minute(f.at));
                if !name.is_empty() {
                    let _ = write!(out, "{name}: ");
                }
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.push_str("\n  ");
                    }
                    out.push_str(line);
                }
                out.push('\n');
            }
            SessionEvent::Attachment {
                from,
                author,
                name,
                size,
                ..
            } => {
                let who = match (from, author) {
                    (_, Some(a)) => a.as_str(),
                    (Party::Visitor, None) => &visitor,
                    (Party::Agent, None) => &agent,
                    (Party::System, None) => "",
                };
                let _ = write!(out, "[{}] ", utc_minute(f.at));
                if !who.is_empty() {
                    let _ = write!(out, "{who}: ");
                }
                let _ = writeln!(out, "[file: {name}, {}]", file_size(*size));
            }
            _ => {}
        }
    }
    out
}

/// A file size for people: `512 B`, `12 KB`, `3.4 MB` (1 KB = 1024 bytes).
pub fn file_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = KB * KB;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < MB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        let tenths = (bytes * 10).div_ceil(MB);
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

/// `YYYY-MM-DD HH:MM UTC` of a time.
pub fn utc_minute(at: UnixMillis) -> String {
    let secs = at.0 / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count
/// since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::config::{Target, TargetKind};
    use crate::ids::{AgentId, MessageId, Seq, SessionId};
    use crate::protocol::{AgentInfo, Consent, EndReason, VisitorInfo};

    fn frame(seq: u64, at: u64, event: SessionEvent) -> EventFrame {
        EventFrame {
            session: SessionId::new("s1").expect("valid"),
            seq: Seq(seq),
            at: UnixMillis(at),
            event,
        }
    }

    fn message(from: Party, author: Option<&str>, text: &str) -> SessionEvent {
        SessionEvent::Message {
            id: MessageId::new("m1").expect("valid"),
            from,
            author: author.map(str::to_owned),
            text: text.into(),
        }
    }

    #[test]
    fn dates_are_gregorian_utc() {
        assert_eq!(utc_minute(UnixMillis(0)), "1970-01-01 00:00 UTC");
        assert_eq!(
            utc_minute(UnixMillis(951_782_400_000 + 59_999)),
            "2000-02-29 00:00 UTC"
        );
        assert_eq!(
            utc_minute(UnixMillis(1_798_761_599_000)),
            "2026-12-31 23:59 UTC"
        );
    }

    #[test]
    fn messages_have_times_and_names_and_markup_stays_text() {
        let events = [
            frame(
                1,
                1_717_243_200_000,
                SessionEvent::Started {
                    visitor: VisitorInfo {
                        display_name: "Vera <b>".into(),
                        email: "vera@example.com".into(),
                        channel: None,
                        phone: None,
                        verified_id: None,
                    },
                    consent: Consent {
                        policy_version: "1".into(),
                        at: UnixMillis(1),
                    },
                    target: Target {
                        kind: TargetKind::Service,
                        display_name: "Support".into(),
                    },
                    call: None,
                    context: None,
                },
            ),
            frame(
                2,
                1_717_243_260_000,
                message(Party::Visitor, None, "Hi\nmy order"),
            ),
            frame(
                3,
                1_717_243_320_000,
                SessionEvent::AgentJoined {
                    agent: AgentInfo {
                        id: AgentId::new("alex").expect("valid"),
                        display_name: "Alex".into(),
                    },
                },
            ),
            frame(
                4,
                1_717_243_380_000,
                message(Party::Agent, None, "Let me check"),
            ),
            frame(5, 1_717_243_440_000, message(Party::System, None, "Bye")),
            frame(
                6,
                1_717_243_500_000,
                SessionEvent::Ended {
                    reason: EndReason::AgentEnded,
                },
            ),
        ];
        assert_eq!(
            plain_text(" Chat with Support ", &events),
            "Chat with Support\n\n\
             [2024-06-01 12:01 UTC] Vera <b>: Hi\n  my order\n\
             [2024-06-01 12:03 UTC] Alex: Let me check\n\
             [2024-06-01 12:04 UTC] Bye\n"
        );
    }

    #[test]
    fn attachments_are_a_line_with_name_and_size() {
        let file = |from, author: Option<&str>, name: &str, size| SessionEvent::Attachment {
            id: crate::ids::AttachmentId::new("a1").expect("valid"),
            from,
            author: author.map(str::to_owned),
            name: name.into(),
            mime: "image/png".into(),
            size,
        };
        let events = [
            frame(
                1,
                1_717_243_200_000,
                file(Party::Visitor, None, "photo.png", 2048),
            ),
            frame(
                2,
                1_717_243_260_000,
                file(Party::Agent, Some("Alex"), "invoice.pdf", 3_500_000),
            ),
        ];
        assert_eq!(
            plain_text("Chat", &events),
            "Chat\n\n\
             [2024-06-01 12:00 UTC] Visitor: [file: photo.png, 2 KB]\n\
             [2024-06-01 12:01 UTC] Alex: [file: invoice.pdf, 3.4 MB]\n"
        );
        assert_eq!(file_size(0), "0 B");
        assert_eq!(file_size(1023), "1023 B");
        assert_eq!(file_size(1025), "2 KB");
        assert_eq!(file_size(10 * 1024 * 1024), "10.0 MB");
    }
}
