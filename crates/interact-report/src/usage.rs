//! Usage metering per modality, for billing: per tenant, UTC day, target (a service, or a
//! user for direct contacts) and channel, how many chat sessions started, how many
//! messages came in and went out, how many minutes of audio calls, video calls and screen
//! sharing there were, and how many WhatsApp messages were received and sent. Listed by
//! the admin API (`GET /admin/v1/usage`) and the CLI (`interact-server report usage`).
//!
//! Like the session report, usage is derived when it is read, from what the sessions
//! already store: the `sessions` row (target, channel, creation time), the call events of
//! their logs, and their messages counted per UTC day by the store (a [`UsageRow`];
//! message texts are never read). What is counted, and on which day:
//!
//! | Column | Counts | On the UTC day |
//! |--------|--------|----------------|
//! | `chat_sessions` | sessions started (every session starts as a chat; a transferred one once, for the target it is for now) | it was created |
//! | `messages_in` | messages from the visitor | each was stored |
//! | `messages_out` | messages from the agent or the service (workflow messages: `system`) | each was stored |
//! | `audio_minutes`, `video_minutes` | answered calls of that media (as placed), from the agent's accept to the hang-up (or the session's end, the agent leaving, the next call) | each minute happened: a call over midnight counts on both days |
//! | `screen_share_minutes` | time during an answered call when either side shared its screen (a `media` signal with `screen` on, until one with it off or the call's end) | as for calls |
//! | `whatsapp_received`, `whatsapp_sent` | `messages_in` and `messages_out` of `whatsapp` sessions (0 for other channels): what the session stored, whether or not Twilio delivered it | as for messages |
//!
//! A call's media is as it was placed (its `start` signal): an audio call in which a
//! camera was switched on stays audio. A call still on is counted once it has ended. Minutes are the row's milliseconds
//! summed, then given as decimal minutes rounded to 0.01 (half up): `1.5` is 90 seconds.
//! Rows with nothing to count are left out; rows are ordered by day, kind, target and
//! channel.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use interact_model::TargetRef;
use interact_sdk::ids::{CallId, SessionId};
use interact_sdk::protocol::{CallMedia, CallSignal, Party, SessionEvent};
use interact_sdk::time::UnixMillis;
use serde::{Serialize, Serializer};

use crate::{Channel, FilterError, Format, Lifecycle, TargetKind, write_row};

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

/// The longest range one usage report covers, in days (`from` and `to` included).
pub const MAX_DAYS: u64 = 366;

/// The range a usage report covers without `from`: this many days, `to` included.
pub const DEFAULT_DAYS: u64 = 30;

/// A UTC calendar day, as days since 1970-01-01; written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u64);

impl Day {
    /// The UTC day of a time.
    pub fn of(t: UnixMillis) -> Self {
        Self(t.0 / DAY_MS)
    }

    /// Its first millisecond.
    pub fn start(self) -> UnixMillis {
        UnixMillis(self.0.saturating_mul(DAY_MS))
    }

    /// The day after.
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count (`civil_from_days`): year, month, day.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(i64::try_from(self.0).unwrap_or(i64::MAX / 2));
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Day {
    type Err = String;

    /// `YYYY-MM-DD`, a real date from 1970-01-01 to 9999-12-31.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a day (YYYY-MM-DD)");
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b[r.clone()]
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| s[r].parse::<i64>().ok())
                .flatten()
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
            return Err(bad());
        };
        if y < 1970 || !(1..=12).contains(&m) || d < 1 {
            return Err(bad());
        }
        let days = days_from_civil(y, m, d);
        // A day past the month's end comes back as another date.
        if civil_from_days(days) != (y, m, d) {
            return Err(bad());
        }
        u64::try_from(days).map(Self).map_err(|_| bad())
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A duration, summed in milliseconds and shown as decimal minutes rounded to 0.01 (half
/// up): a JSON number (`1.5`), a CSV cell with two decimals (`1.50`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minutes {
    /// The exact duration.
    pub ms: u64,
}

impl Minutes {
    /// Hundredths of a minute (600 ms each), rounded half up.
    pub fn hundredths(self) -> u64 {
        self.ms.saturating_add(300) / 600
    }
}

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.hundredths();
        write!(f, "{}.{:02}", h / 100, h % 100)
    }
}

impl Serialize for Minutes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exact for every count of hundredths below 2^53; serde_json writes the shortest
        // form that reads back the same (`0.03`, `1.5`).
        let minutes = self.hundredths() as f64 / 100.0;
        s.serialize_f64(minutes)
    }
}

/// Which sessions a usage report reads from the store: those that may have had usage in
/// `[from, to)` (created before `to` and not ended before `from`), narrowed by every
/// filter given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only service sessions, or only direct user contacts.
    pub kind: Option<TargetKind>,
    /// Only sessions for this service.
    pub service: Option<String>,
    /// Only direct contacts with this user.
    pub user: Option<String>,
    /// Only sessions of this channel.
    pub channel: Option<Channel>,
    /// The start of the range (the first millisecond of its first day).
    pub from: UnixMillis,
    /// The end of the range, excluded (the first millisecond after its last day).
    pub to: UnixMillis,
    /// Only sessions after this one in report order (`created_at`, then id): paging.
    pub after: Option<(UnixMillis, SessionId)>,
    /// At most this many.
    pub limit: usize,
}

/// A session's messages of one UTC day, counted by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageCount {
    /// The day.
    pub day: Day,
    /// From the visitor.
    pub inbound: u64,
    /// From the agent or the service (`agent` and `system`).
    pub outbound: u64,
}

/// A stored session with what its usage is derived from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    /// The session.
    pub id: SessionId,
    /// The service or user contacted.
    pub target: TargetRef,
    /// How the visitor came.
    pub channel: Channel,
    /// Creation time.
    pub created_at: UnixMillis,
    /// Its lifecycle events in order, all of them (not only those in the range: a call
    /// answered before the range may go on in it), as a [`ReportRow`](crate::ReportRow)
    /// has them. Messages among them are ignored: they are counted in `messages`.
    pub events: Vec<(UnixMillis, SessionEvent)>,
    /// Its messages per UTC day of the query's range, days without messages left out,
    /// in any order.
    pub messages: Vec<MessageCount>,
}

/// Which usage a report lists: the days from `from` to `to` (both included, UTC),
/// narrowed by every filter given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageFilter {
    /// Only service sessions, or only direct user contacts.
    pub kind: Option<TargetKind>,
    /// Only sessions for this service.
    pub service: Option<String>,
    /// Only direct contacts with this user.
    pub user: Option<String>,
    /// Only sessions of this channel (`widget`, `whatsapp`).
    pub channel: Option<Channel>,
    /// The first day.
    pub from: Day,
    /// The last day (included).
    pub to: Day,
    /// JSON or CSV.
    pub format: Format,
}

impl UsageFilter {
    /// The last [`DEFAULT_DAYS`] days up to `today`, every session, as JSON.
    pub fn new(today: Day) -> Self {
        Self {
            kind: None,
            service: None,
            user: None,
            channel: None,
            from: Day(today.0.saturating_sub(DEFAULT_DAYS - 1)),
            to: today,
            format: Format::Json,
        }
    }

    /// Reads the parameters of `GET /admin/v1/usage` (`from`, `to`: UTC days
    /// `YYYY-MM-DD`, both included, `to` by default `today` and `from` by default
    /// [`DEFAULT_DAYS`] days up to `to`, at most [`MAX_DAYS`] days; `service`, `user`,
    /// `kind`, `channel`, `format` as for the session report). Empty values count as
    /// absent; unknown and repeated parameters are refused.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        today: Day,
    ) -> Result<Self, FilterError> {
        let err = |parameter: &str, message: String| FilterError {
            parameter: parameter.to_owned(),
            message,
        };
        let mut f = Self::new(today);
        let (mut from, mut to) = (None, None);
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name) {
                return Err(err(name, "given more than once".into()));
            }
            seen.push(name);
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name {
                "service" => f.service = Some(value.to_owned()),
                "user" => f.user = Some(value.to_owned()),
                "channel" => f.channel = Some(value.parse().map_err(|m| err(name, m))?),
                "kind" => {
                    f.kind = Some(match value {
                        "service" => TargetKind::Service,
                        "user" => TargetKind::User,
                        _ => return Err(err(name, format!("{value:?} is not service or user"))),
                    });
                }
                "from" => from = Some(value.parse::<Day>().map_err(|m| err(name, m))?),
                "to" => to = Some(value.parse::<Day>().map_err(|m| err(name, m))?),
                "format" => {
                    f.format = match value {
                        "json" => Format::Json,
                        "csv" => Format::Csv,
                        _ => return Err(err(name, format!("{value:?} is not json or csv"))),
                    };
                }
                _ => return Err(err(name, "unknown parameter".into())),
            }
        }
        f.to = to.unwrap_or(today);
        f.from = from.unwrap_or(Day(f.to.0.saturating_sub(DEFAULT_DAYS - 1)));
        // A wrong range names `to`, unless `to` was left to its default (today).
        let culprit = if to.is_some() { "to" } else { "from" };
        if f.to < f.from {
            return Err(err(culprit, format!("{} is after {}", f.from, f.to)));
        }
        if f.days() > MAX_DAYS {
            return Err(err(
                culprit,
                format!(
                    "the range {} to {} is {} days; at most {MAX_DAYS}",
                    f.from,
                    f.to,
                    f.days()
                ),
            ));
        }
        Ok(f)
    }

    /// How many days the range has.
    pub fn days(&self) -> u64 {
        self.to.0.saturating_sub(self.from.0) + 1
    }

    /// The store query of this filter (without paging and limit: the caller pages).
    pub fn query(&self) -> UsageQuery {
        UsageQuery {
            kind: self.kind,
            service: self.service.clone(),
            user: self.user.clone(),
            channel: self.channel,
            from: self.from.start(),
            to: self.to.next().start(),
            after: None,
            limit: 0,
        }
    }
}

/// The usage of one tenant, day, target and channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayUsage {
    /// The tenant (one per server: the host of its public URL).
    pub tenant: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: Day,
    /// Service sessions or direct user contacts.
    pub kind: TargetKind,
    /// The service's or user's id.
    pub target: String,
    /// `widget` or `whatsapp`.
    pub channel: Channel,
    /// Sessions started.
    pub chat_sessions: u64,
    /// Messages from the visitor.
    pub messages_in: u64,
    /// Messages from the agent or the service.
    pub messages_out: u64,
    /// Answered audio calls.
    pub audio_minutes: Minutes,
    /// Answered video calls.
    pub video_minutes: Minutes,
    /// Screen sharing during answered calls.
    pub screen_share_minutes: Minutes,
    /// WhatsApp messages received (from the visitor).
    pub whatsapp_received: u64,
    /// WhatsApp messages sent (by the agent or the service).
    pub whatsapp_sent: u64,
}

impl DayUsage {
    fn is_empty(&self) -> bool {
        self.chat_sessions == 0
            && self.messages_in == 0
            && self.messages_out == 0
            && self.audio_minutes.ms == 0
            && self.video_minutes.ms == 0
            && self.screen_share_minutes.ms == 0
    }
}

/// What a call or a screen share adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metered {
    Audio,
    Video,
    Screen,
}

/// The usage of sessions added one by one ([`Usage::add`]), for the days from `from` to
/// `to` (both included).
#[derive(Clone, Debug)]
pub struct Usage {
    tenant: String,
    from: Day,
    to: Day,
    rows: BTreeMap<(Day, TargetKind, String, Channel), DayUsage>,
}

impl Usage {
    /// No usage yet, of `tenant` for the days from `from` to `to`.
    pub fn new(tenant: impl Into<String>, from: Day, to: Day) -> Self {
        Self {
            tenant: tenant.into(),
            from,
            to,
            rows: BTreeMap::new(),
        }
    }

    /// The row of `day` for `row`'s target and channel, if the day is in the range.
    fn at(&mut self, day: Day, row: &UsageRow) -> Option<&mut DayUsage> {
        if day < self.from || day > self.to {
            return None;
        }
        let (kind, target) = match &row.target {
            TargetRef::Service(id) => (TargetKind::Service, id.to_string()),
            TargetRef::User(id) => (TargetKind::User, id.to_string()),
        };
        let tenant = &self.tenant;
        Some(
            self.rows
                .entry((day, kind, target.clone(), row.channel))
                .or_insert_with(|| DayUsage {
                    tenant: tenant.clone(),
                    day,
                    kind,
                    target,
                    channel: row.channel,
                    chat_sessions: 0,
                    messages_in: 0,
                    messages_out: 0,
                    audio_minutes: Minutes::default(),
                    video_minutes: Minutes::default(),
                    screen_share_minutes: Minutes::default(),
                    whatsapp_received: 0,
                    whatsapp_sent: 0,
                }),
        )
    }

    /// Adds a session's usage in the range.
    pub fn add(&mut self, row: &UsageRow) {
        if let Some(u) = self.at(Day::of(row.created_at), row) {
            u.chat_sessions += 1;
        }
        let whatsapp = row.channel == Channel::Whatsapp;
        for m in &row.messages {
            if let Some(u) = self.at(m.day, row) {
                u.messages_in += m.inbound;
                u.messages_out += m.outbound;
                if whatsapp {
                    u.whatsapp_received += m.inbound;
                    u.whatsapp_sent += m.outbound;
                }
            }
        }
        for (what, from, to) in metered(&row.events) {
            for (day, ms) in split_by_day(from, to) {
                if let Some(u) = self.at(day, row) {
                    let minutes = match what {
                        Metered::Audio => &mut u.audio_minutes,
                        Metered::Video => &mut u.video_minutes,
                        Metered::Screen => &mut u.screen_share_minutes,
                    };
                    minutes.ms += ms;
                }
            }
        }
    }

    /// The rows with anything in them, by day, kind, target and channel.
    pub fn rows(self) -> Vec<DayUsage> {
        self.rows.into_values().filter(|u| !u.is_empty()).collect()
    }
}

/// The intervals of a session's log that are metered: each answered call that has ended
/// (audio or video, from its accept to its end, as [`Lifecycle`] reads them), and each
/// stretch of such a call during which either side shared its screen.
fn metered(events: &[(UnixMillis, SessionEvent)]) -> Vec<(Metered, UnixMillis, UnixMillis)> {
    let lifecycle = Lifecycle::from_events(events.iter().map(|(at, e)| (*at, e)));
    let mut out = Vec::new();
    for call in &lifecycle.calls {
        let (Some(answered), Some(ended)) = (call.answered_at, call.ended_at) else {
            continue;
        };
        let media = match call.media {
            CallMedia::Audio => Metered::Audio,
            CallMedia::Video => Metered::Video,
        };
        out.push((media, answered, ended));
        out.extend(
            screen_shares(events, &call.call, answered, ended)
                .into_iter()
                .map(|(from, to)| (Metered::Screen, from, to)),
        );
    }
    out
}

/// When a screen was shared in call `call`, answered at `from` and ended at `to`: from a
/// `media` signal with `screen` on (of either side) until both sides' last signals have
/// it off, or the call's end; clipped to the answered call.
fn screen_shares(
    events: &[(UnixMillis, SessionEvent)],
    call: &CallId,
    from: UnixMillis,
    to: UnixMillis,
) -> Vec<(UnixMillis, UnixMillis)> {
    let mut sharing = [false; 3];
    let side = |p: Party| match p {
        Party::Visitor => 0,
        Party::Agent => 1,
        Party::System => 2,
    };
    let mut since: Option<UnixMillis> = None;
    let mut out = Vec::new();
    let close = |start: UnixMillis, end: UnixMillis, out: &mut Vec<_>| {
        let (a, b) = (start.max(from), end.min(to));
        if a < b {
            out.push((a, b));
        }
    };
    for (at, event) in events {
        if *at > to {
            break;
        }
        let SessionEvent::Call {
            from: party,
            signal: CallSignal::Media { call: c, state },
        } = event
        else {
            continue;
        };
        if c != call {
            continue;
        }
        sharing[side(*party)] = state.screen;
        let on = sharing.contains(&true);
        match (since, on) {
            (None, true) => since = Some(*at),
            (Some(start), false) => {
                close(start, *at, &mut out);
                since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = since {
        close(start, to, &mut out);
    }
    out
}

/// `[from, to)` cut at UTC midnights: each day's milliseconds.
fn split_by_day(from: UnixMillis, to: UnixMillis) -> Vec<(Day, u64)> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let day = Day::of(at);
        let end = day.next().start().min(to);
        out.push((day, end.0 - at.0));
        at = end;
    }
    out
}

/// The CSV columns, in order: the JSON fields, minutes with two decimals.
pub const USAGE_CSV_COLUMNS: [&str; 13] = [
    "tenant",
    "day",
    "kind",
    "target",
    "channel",
    "chat_sessions",
    "messages_in",
    "messages_out",
    "audio_minutes",
    "video_minutes",
    "screen_share_minutes",
    "whatsapp_received",
    "whatsapp_sent",
];

/// Usage as CSV, with the conventions of [`to_csv`](crate::to_csv) (RFC 4180, a header
/// row, CRLF, formula cells prefixed with `'`).
pub fn usage_csv(rows: &[DayUsage]) -> String {
    let mut out = String::with_capacity(96 * (rows.len() + 1));
    write_row(&mut out, USAGE_CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    for r in rows {
        write_row(
            &mut out,
            [
                r.tenant.clone(),
                r.day.to_string(),
                r.kind.as_str().to_owned(),
                r.target.clone(),
                r.channel.as_str().to_owned(),
                r.chat_sessions.to_string(),
                r.messages_in.to_string(),
                r.messages_out.to_string(),
                r.audio_minutes.to_string(),
                r.video_minutes.to_string(),
                r.screen_share_minutes.to_string(),
                r.whatsapp_received.to_string(),
                r.whatsapp_sent.to_string(),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use interact_sdk::protocol::{AgentInfo, EndReason, HangupReason, MediaState};

    use super::*;

    /// 2024-05-01T00:00:00Z.
    const MAY_1: u64 = 19_844 * DAY_MS;
    const MIN: u64 = 60_000;

    fn day(s: &str) -> Day {
        s.parse().expect("a day")
    }

    fn call_id(n: u32) -> CallId {
        CallId::new(format!("c{n}")).expect("valid")
    }

    fn call(from: Party, signal: CallSignal) -> SessionEvent {
        SessionEvent::Call { from, signal }
    }

    fn start(n: u32, media: CallMedia) -> SessionEvent {
        call(
            Party::Visitor,
            CallSignal::Start {
                call: call_id(n),
                media,
            },
        )
    }

    fn accept(n: u32) -> SessionEvent {
        call(Party::Agent, CallSignal::Accept { call: call_id(n) })
    }

    fn hangup(n: u32) -> SessionEvent {
        call(
            Party::Visitor,
            CallSignal::Hangup {
                call: call_id(n),
                reason: HangupReason::Normal,
            },
        )
    }

    fn screen(n: u32, from: Party, on: bool) -> SessionEvent {
        call(
            from,
            CallSignal::Media {
                call: call_id(n),
                state: MediaState {
                    muted: false,
                    camera: true,
                    screen: on,
                },
            },
        )
    }

    fn joined() -> SessionEvent {
        SessionEvent::AgentJoined {
            agent: AgentInfo {
                id: interact_sdk::ids::AgentId::new("alex").expect("valid"),
                display_name: "Alex".into(),
            },
        }
    }

    fn ended() -> SessionEvent {
        SessionEvent::Ended {
            reason: EndReason::AgentEnded,
        }
    }

    fn session(
        id: &str,
        target: TargetRef,
        channel: Channel,
        created: u64,
        events: &[(u64, SessionEvent)],
        messages: &[(&str, u64, u64)],
    ) -> UsageRow {
        UsageRow {
            id: SessionId::new(id).expect("valid"),
            target,
            channel,
            created_at: UnixMillis(created),
            events: events
                .iter()
                .map(|(at, e)| (UnixMillis(*at), e.clone()))
                .collect(),
            messages: messages
                .iter()
                .map(|(d, inbound, outbound)| MessageCount {
                    day: day(d),
                    inbound: *inbound,
                    outbound: *outbound,
                })
                .collect(),
        }
    }

    fn support() -> TargetRef {
        TargetRef::Service("support".into())
    }

    fn usage(from: &str, to: &str, rows: &[UsageRow]) -> Vec<DayUsage> {
        let mut u = Usage::new("shop.example.com", day(from), day(to));
        for r in rows {
            u.add(r);
        }
        u.rows()
    }

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day("1970-01-01"), Day(0));
        assert_eq!(day("2024-05-01"), Day(19_844));
        assert_eq!(day("2024-02-29"), Day(19_782));
        assert_eq!(day("2000-03-01").0 - day("2000-02-28").0, 2, "2000 is leap");
        for s in [
            "1970-01-01",
            "2024-02-29",
            "2024-12-31",
            "2100-03-01",
            "9999-12-31",
        ] {
            assert_eq!(day(s).to_string(), s);
            assert_eq!(Day::of(day(s).start()), day(s));
            assert_eq!(Day::of(UnixMillis(day(s).next().start().0 - 1)), day(s));
        }
        for bad in [
            "2023-02-29",
            "2024-04-31",
            "2024-13-01",
            "2024-00-10",
            "2024-05-00",
            "2024-5-01",
            "24-05-01",
            "1969-12-31",
            "2024-05-01T00:00:00Z",
            "+024-05-01",
            "2024/05/01",
            "",
        ] {
            assert!(bad.parse::<Day>().is_err(), "{bad:?}");
        }
        assert_eq!(
            serde_json::to_value(day("2024-05-01")).expect("json"),
            "2024-05-01"
        );
    }

    #[test]
    fn minutes_are_rounded_to_hundredths_half_up() {
        for (ms, shown, json) in [
            (0, "0.00", "0.0"),
            (299, "0.00", "0.0"),
            (300, "0.01", "0.01"),
            (1_800, "0.03", "0.03"),
            (90_000, "1.50", "1.5"),
            (MIN * 125 + 29_999, "125.50", "125.5"),
            (MIN * 60 * 24, "1440.00", "1440.0"),
        ] {
            let m = Minutes { ms };
            assert_eq!(m.to_string(), shown, "{ms}");
            assert_eq!(serde_json::to_string(&m).expect("json"), json, "{ms}");
        }
    }

    #[test]
    fn sessions_messages_and_calls_count_on_their_days() {
        // Created at 23:50 on 1 May: a message in before midnight, two in and an
        // agent's and a workflow's after; an audio call answered at 23:58 and hung up at
        // 00:03 on 2 May; a screen shared from 23:59 to 00:01.
        let created = MAY_1 + 24 * 60 * MIN - 10 * MIN;
        let midnight = MAY_1 + 24 * 60 * MIN;
        let s1 = session(
            "s1",
            support(),
            Channel::Widget,
            created,
            &[
                (created + MIN, joined()),
                (midnight - 3 * MIN, start(1, CallMedia::Audio)),
                (midnight - 2 * MIN, accept(1)),
                (midnight - MIN, screen(1, Party::Agent, true)),
                (midnight + MIN, screen(1, Party::Agent, false)),
                (midnight + 3 * MIN, hangup(1)),
                (midnight + 4 * MIN, ended()),
            ],
            &[("2024-05-01", 1, 0), ("2024-05-02", 2, 2)],
        );
        let rows = usage("2024-05-01", "2024-05-02", std::slice::from_ref(&s1));
        assert_eq!(rows.len(), 2, "{rows:#?}");
        let (may1, may2) = (&rows[0], &rows[1]);
        assert_eq!(
            (may1.day, may1.kind, may1.target.as_str(), may1.channel),
            (
                day("2024-05-01"),
                TargetKind::Service,
                "support",
                Channel::Widget
            )
        );
        assert_eq!(may1.tenant, "shop.example.com");
        assert_eq!(
            (may1.chat_sessions, may1.messages_in, may1.messages_out),
            (1, 1, 0)
        );
        assert_eq!(may1.audio_minutes.ms, 2 * MIN);
        assert_eq!(may1.screen_share_minutes.ms, MIN);
        assert_eq!(
            (may2.chat_sessions, may2.messages_in, may2.messages_out),
            (0, 2, 2)
        );
        assert_eq!(may2.audio_minutes.ms, 3 * MIN);
        assert_eq!(may2.screen_share_minutes.ms, MIN);
        assert_eq!(
            (
                may1.video_minutes.ms,
                may2.whatsapp_received,
                may2.whatsapp_sent
            ),
            (0, 0, 0),
            "no video, no WhatsApp"
        );
        // A range of the second day only: the session started before it, but its
        // messages and minutes of that day count.
        let rows = usage("2024-05-02", "2024-05-02", &[s1]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].chat_sessions,
                rows[0].messages_in,
                rows[0].audio_minutes.ms
            ),
            (0, 2, 3 * MIN)
        );
    }

    #[test]
    fn calls_of_several_sessions_add_up_and_media_is_as_placed() {
        // Two sessions of one target on one day, each with a call; the first has a video
        // call and then an audio call, the second an audio call that the agent leaving
        // ends, a declined call and a call still on (counted once it ends).
        let t = MAY_1 + 9 * 60 * MIN;
        let s1 = session(
            "s1",
            support(),
            Channel::Widget,
            t,
            &[
                (t, joined()),
                (t + MIN, start(1, CallMedia::Video)),
                (t + 2 * MIN, accept(1)),
                (t + 12 * MIN, hangup(1)),
                (t + 20 * MIN, start(2, CallMedia::Audio)),
                (t + 21 * MIN, accept(2)),
                // The next call's start ends this one (the relay allows one at a time).
                (t + 26 * MIN, start(3, CallMedia::Audio)),
                (t + 27 * MIN, hangup(3)),
            ],
            &[],
        );
        let s2 = session(
            "s2",
            support(),
            Channel::Widget,
            t + 60 * MIN,
            &[
                (t + 60 * MIN, joined()),
                (t + 61 * MIN, start(1, CallMedia::Audio)),
                (t + 62 * MIN, accept(1)),
                (
                    t + 64 * MIN,
                    SessionEvent::AgentLeft {
                        agent: AgentInfo {
                            id: interact_sdk::ids::AgentId::new("alex").expect("valid"),
                            display_name: "Alex".into(),
                        },
                    },
                ),
                (t + 65 * MIN, joined()),
                (t + 66 * MIN, start(2, CallMedia::Video)),
                (
                    t + 67 * MIN,
                    call(
                        Party::Agent,
                        CallSignal::Hangup {
                            call: call_id(2),
                            reason: HangupReason::Declined,
                        },
                    ),
                ),
                (t + 68 * MIN, start(3, CallMedia::Video)),
                (t + 69 * MIN, accept(3)),
            ],
            &[],
        );
        let rows = usage("2024-05-01", "2024-05-01", &[s1, s2]);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        let r = &rows[0];
        assert_eq!(r.chat_sessions, 2);
        assert_eq!(r.video_minutes.ms, 10 * MIN, "call 3 of s2 is still on");
        assert_eq!(r.audio_minutes.ms, 5 * MIN + 2 * MIN);
        assert_eq!(r.screen_share_minutes.ms, 0);
    }

    #[test]
    fn screen_sharing_is_either_side_sharing_during_the_answered_call() {
        let t = MAY_1;
        let events = [
            (t, start(1, CallMedia::Video)),
            // Shared while it rang: counts from the accept.
            (t + MIN, screen(1, Party::Visitor, true)),
            (t + 2 * MIN, accept(1)),
            (t + 3 * MIN, screen(1, Party::Visitor, false)),
            // The agent shares, the visitor too, the agent stops: still on.
            (t + 4 * MIN, screen(1, Party::Agent, true)),
            (t + 5 * MIN, screen(1, Party::Visitor, true)),
            (t + 6 * MIN, screen(1, Party::Agent, false)),
            // A camera change keeps it on.
            (t + 7 * MIN, screen(1, Party::Visitor, true)),
            (t + 8 * MIN, screen(1, Party::Visitor, false)),
            // Another call's signal changes nothing here.
            (t + 9 * MIN, screen(2, Party::Agent, true)),
            // On until the call ends.
            (t + 10 * MIN, screen(1, Party::Agent, true)),
            (t + 12 * MIN, hangup(1)),
            // After the end, nothing counts.
            (t + 13 * MIN, screen(1, Party::Agent, true)),
        ];
        let shares = screen_shares(
            &events
                .iter()
                .map(|(at, e)| (UnixMillis(*at), e.clone()))
                .collect::<Vec<_>>(),
            &call_id(1),
            UnixMillis(t + 2 * MIN),
            UnixMillis(t + 12 * MIN),
        );
        assert_eq!(
            shares,
            [
                (UnixMillis(t + 2 * MIN), UnixMillis(t + 3 * MIN)),
                (UnixMillis(t + 4 * MIN), UnixMillis(t + 8 * MIN)),
                (UnixMillis(t + 10 * MIN), UnixMillis(t + 12 * MIN)),
            ]
        );
        let rows = usage(
            "2024-05-01",
            "2024-05-01",
            &[session("s1", support(), Channel::Widget, t, &events, &[])],
        );
        assert_eq!(rows[0].screen_share_minutes.ms, 7 * MIN);
        assert_eq!(rows[0].video_minutes.ms, 10 * MIN);
        // A screen shared during a call nobody answered is not metered.
        let rows = usage(
            "2024-05-01",
            "2024-05-01",
            &[session(
                "s2",
                support(),
                Channel::Widget,
                t,
                &[
                    (t, start(1, CallMedia::Video)),
                    (t + MIN, screen(1, Party::Visitor, true)),
                    (t + 2 * MIN, hangup(1)),
                ],
                &[],
            )],
        );
        assert_eq!(rows[0].screen_share_minutes.ms, 0);
    }

    #[test]
    fn rows_are_per_day_target_and_channel_with_whatsapp_counted_apart() {
        let t = MAY_1 + 60 * MIN;
        let rows = usage(
            "2024-05-01",
            "2024-05-03",
            &[
                session(
                    "s1",
                    TargetRef::Service("sales".into()),
                    Channel::Whatsapp,
                    t,
                    &[],
                    &[("2024-05-01", 3, 2)],
                ),
                session(
                    "s2",
                    TargetRef::Service("sales".into()),
                    Channel::Widget,
                    t,
                    &[],
                    &[("2024-05-01", 1, 1)],
                ),
                session(
                    "s3",
                    TargetRef::User("alex".into()),
                    Channel::Widget,
                    t + DAY_MS,
                    &[],
                    &[("2024-05-02", 1, 0)],
                ),
                session(
                    "s4",
                    TargetRef::Service("sales".into()),
                    Channel::Whatsapp,
                    t + 2 * DAY_MS,
                    &[],
                    &[("2024-05-03", 1, 4)],
                ),
                // Started before the range, nothing in it: no row.
                session(
                    "s5",
                    support(),
                    Channel::Widget,
                    t - DAY_MS,
                    &[],
                    &[("2024-04-30", 1, 0)],
                ),
            ],
        );
        let keys: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {} {} {}", r.day, r.kind.as_str(), r.target, r.channel))
            .collect();
        assert_eq!(
            keys,
            [
                "2024-05-01 service sales widget",
                "2024-05-01 service sales whatsapp",
                "2024-05-02 user alex widget",
                "2024-05-03 service sales whatsapp",
            ]
        );
        let counts = |r: &DayUsage| {
            (
                r.chat_sessions,
                r.messages_in,
                r.messages_out,
                r.whatsapp_received,
                r.whatsapp_sent,
            )
        };
        assert_eq!(counts(&rows[0]), (1, 1, 1, 0, 0));
        assert_eq!(counts(&rows[1]), (1, 3, 2, 3, 2));
        assert_eq!(counts(&rows[2]), (1, 1, 0, 0, 0));
        assert_eq!(counts(&rows[3]), (1, 1, 4, 1, 4));
        let json = serde_json::to_value(&rows[1]).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "tenant": "shop.example.com",
                "day": "2024-05-01",
                "kind": "service",
                "target": "sales",
                "channel": "whatsapp",
                "chat_sessions": 1,
                "messages_in": 3,
                "messages_out": 2,
                "audio_minutes": 0.0,
                "video_minutes": 0.0,
                "screen_share_minutes": 0.0,
                "whatsapp_received": 3,
                "whatsapp_sent": 2,
            })
        );
    }

    #[test]
    fn usage_csv_has_a_header_and_a_line_per_row() {
        let t = MAY_1;
        let mut rows = usage(
            "2024-05-01",
            "2024-05-01",
            &[session(
                "s1",
                TargetRef::Service("=support".into()),
                Channel::Widget,
                t,
                &[
                    (t, start(1, CallMedia::Audio)),
                    (t + 1_000, accept(1)),
                    (t + 91_000, hangup(1)),
                ],
                &[("2024-05-01", 2, 3)],
            )],
        );
        rows[0].tenant = "a,b".into();
        let csv = usage_csv(&rows);
        let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], USAGE_CSV_COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "\"a,b\",2024-05-01,service,'=support,widget,1,2,3,1.50,0.00,0.00,0,0"
        );
        assert_eq!(
            usage_csv(&[]),
            format!("{}\r\n", USAGE_CSV_COLUMNS.join(","))
        );
    }

    #[test]
    fn filters_parse_default_and_name_the_bad_parameter() {
        let today = day("2024-05-31");
        let f = UsageFilter::from_pairs([], today).expect("defaults");
        assert_eq!((f.from, f.to, f.days()), (day("2024-05-02"), today, 30));
        assert_eq!(f.format, Format::Json);
        let f = UsageFilter::from_pairs(
            [
                ("from", "2024-05-01"),
                ("to", "2024-05-01"),
                ("service", "support"),
                ("channel", "whatsapp"),
                ("kind", "service"),
                ("format", "csv"),
                ("user", " "),
            ],
            today,
        )
        .expect("valid");
        assert_eq!(
            (f.from, f.to, f.days()),
            (day("2024-05-01"), day("2024-05-01"), 1)
        );
        assert_eq!(f.service.as_deref(), Some("support"));
        assert_eq!(f.user, None);
        assert_eq!(
            (f.channel, f.kind, f.format),
            (
                Some(Channel::Whatsapp),
                Some(TargetKind::Service),
                Format::Csv
            )
        );
        let q = f.query();
        assert_eq!(
            (q.from, q.to),
            (UnixMillis(MAY_1), UnixMillis(MAY_1 + DAY_MS))
        );
        // Only `to`: the 30 days up to it; a year and a day at most (2024 is leap).
        let f = UsageFilter::from_pairs([("to", "2024-03-01")], today).expect("valid");
        assert_eq!(f.from, day("2024-02-01"));
        let f = UsageFilter::from_pairs([("from", "2024-01-01"), ("to", "2024-12-31")], today)
            .expect("366 days");
        assert_eq!(f.days(), MAX_DAYS);
        for (pairs, bad) in [
            (vec![("from", "2024-01-01"), ("to", "2025-01-01")], "to"),
            (vec![("from", "2024-05-02"), ("to", "2024-05-01")], "to"),
            (vec![("from", "2024-06-01")], "from"),
            (vec![("from", "2023-05-30")], "from"),
            (vec![("from", "1714521600000")], "from"),
            (vec![("to", "2024-02-30")], "to"),
            (vec![("kind", "group")], "kind"),
            (vec![("channel", "sms")], "channel"),
            (vec![("format", "xml")], "format"),
            (vec![("outcome", "handled")], "outcome"),
            (vec![("limit", "5")], "limit"),
            (vec![("service", "a"), ("service", "b")], "service"),
        ] {
            let e = UsageFilter::from_pairs(pairs.clone(), today).expect_err("refused");
            assert_eq!(e.parameter, bad, "{pairs:?}: {e}");
        }
    }

    #[test]
    fn split_by_day_cuts_at_utc_midnight() {
        let m = UnixMillis(MAY_1);
        assert_eq!(split_by_day(m, m), []);
        assert_eq!(
            split_by_day(UnixMillis(MAY_1 - 1), UnixMillis(MAY_1 + 2 * DAY_MS + 5)),
            [
                (day("2024-04-30"), 1),
                (day("2024-05-01"), DAY_MS),
                (day("2024-05-02"), DAY_MS),
                (day("2024-05-03"), 5),
            ]
        );
    }

    #[test]
    fn a_transferred_session_counts_once_for_the_target_it_is_for() {
        use interact_sdk::config::TargetKind as K;
        use interact_sdk::ids::TargetId;
        use interact_sdk::protocol::TargetInfo;
        let info = |id: &str| TargetInfo {
            kind: K::Service,
            id: TargetId::new(id).expect("valid"),
            display_name: id.into(),
        };
        let events = [
            (
                MAY_1 + MIN,
                SessionEvent::Transferred {
                    by: None,
                    from: info("support"),
                    to: info("billing"),
                },
            ),
            (MAY_1 + 2 * MIN, ended()),
        ];
        let billing = TargetRef::Service("billing".into());
        let row = session(
            "s1",
            billing,
            Channel::Widget,
            MAY_1,
            &events,
            &[("2024-05-01", 2, 1)],
        );
        let rows = usage("2024-05-01", "2024-05-01", &[row]);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (
                rows[0].target.as_str(),
                rows[0].chat_sessions,
                rows[0].messages_in
            ),
            ("billing", 1, 2)
        );
    }
}
