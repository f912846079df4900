//! Call quality: what a side measures of its `RTCPeerConnection` during a call, a rating
//! to show, and the summary both sides send ([`CallSignal::Quality`]) for the report.
//!
//! The driver reads `getStats()` every [`SAMPLE_INTERVAL`] while a call is answered and
//! passes what it read as a [`StatsReading`] (cumulative counters, as the browser has
//! them) to the machine's `call_stats`. The [`QualityMeter`] turns two readings into a
//! [`QualitySample`] (loss and bitrate are differences over the interval), keeps the
//! samples of the call in bounded memory and summarises them as a [`QualitySummary`]:
//! per figure the smallest, the median and the largest value.
//!
//! # Memory
//!
//! The meter keeps at most [`MAX_KEPT`] samples (an hour at one every 2 s). When it is
//! full it drops every other kept sample and from then on keeps one sample in two (then
//! one in four, ...), so the kept samples stay evenly spread over the whole call. Minima
//! and maxima are tracked over every sample, so they are exact; the median is that of
//! the kept samples.
//!
//! # Rating
//!
//! [`rate`] rates the median of the last [`RATING_WINDOW`] samples of round-trip time,
//! loss and jitter (bitrate and frame size depend on what is sent, not on the network):
//!
//! | Rating | When | Round-trip time | Loss | Jitter |
//! |--------|------|-----------------|------|--------|
//! | good | every figure known is below | 300 ms | 2 % | 30 ms |
//! | poor | any figure is above | 500 ms | 8 % | 60 ms |
//! | fair | otherwise | | | |
//!
//! The round-trip bounds follow ITU-T G.114 (one-way delay up to 150 ms is good for
//! conversation, beyond 250 ms it hampers it); loss and jitter those common in VoIP and
//! WebRTC practice (Opus with FEC hides a few percent of loss, a jitter buffer about
//! 30 ms of jitter).
//!
//! [`CallSignal::Quality`]: crate::protocol::CallSignal::Quality

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::json::json_struct;
use crate::limits::{
    MAX_QUALITY_BITRATE_KBPS, MAX_QUALITY_DELAY_MS, MAX_QUALITY_FRAME_PX, MAX_QUALITY_SAMPLES,
    QUALITY_INTERVAL,
};
use crate::protocol::{QualitySummary, Spread};
use crate::time::Instant;

/// How often the reference clients read `getStats()` during an answered call.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

/// Most samples a [`QualityMeter`] keeps for the median.
pub const MAX_KEPT: usize = 1800;

/// How many of the latest samples [`QualityMeter::rating`] rates.
pub const RATING_WINDOW: usize = 3;

/// Round-trip time below which a call can be good, in milliseconds.
pub const GOOD_RTT_MS: u32 = 300;
/// Loss below which a call can be good, per mille.
pub const GOOD_LOSS_PERMILLE: u32 = 20;
/// Jitter below which a call can be good, in milliseconds.
pub const GOOD_JITTER_MS: u32 = 30;
/// Round-trip time above which a call is poor, in milliseconds.
pub const POOR_RTT_MS: u32 = 500;
/// Loss above which a call is poor, per mille.
pub const POOR_LOSS_PERMILLE: u32 = 80;
/// Jitter above which a call is poor, in milliseconds.
pub const POOR_JITTER_MS: u32 = 60;

/// One reading of `RTCPeerConnection.getStats()`, as the driver found it. Every member is
/// optional: a browser may lack it, or the call may not carry it yet.
///
/// - `rtt_ms`: `currentRoundTripTime` of the selected (nominated, succeeded) candidate
///   pair, in milliseconds;
/// - `jitter_ms`: the largest `jitter` of the `inbound-rtp` streams, in milliseconds;
/// - `packets_received`, `packets_lost`, `bytes_received`: the sums over the
///   `inbound-rtp` streams (cumulative counters; a negative `packetsLost` counts as 0);
/// - `width_px`, `height_px`: `frameWidth` and `frameHeight` of the inbound video
///   stream (the largest, if several).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReading {
    /// Round-trip time, ms.
    #[serde(default)]
    pub rtt_ms: Option<u32>,
    /// Jitter, ms.
    #[serde(default)]
    pub jitter_ms: Option<u32>,
    /// Packets received so far.
    #[serde(default)]
    pub packets_received: Option<u64>,
    /// Packets lost so far.
    #[serde(default)]
    pub packets_lost: Option<u64>,
    /// Bytes received so far.
    #[serde(default)]
    pub bytes_received: Option<u64>,
    /// Width of the received video, pixels.
    #[serde(default)]
    pub width_px: Option<u32>,
    /// Height of the received video, pixels.
    #[serde(default)]
    pub height_px: Option<u32>,
}

/// The figures of one sample: a reading, with loss and bitrate taken over the interval
/// since the previous reading. Values are clamped to the bounds of
/// [`QualitySummary::is_valid`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualitySample {
    /// Round-trip time, ms.
    pub rtt_ms: Option<u32>,
    /// Jitter, ms.
    pub jitter_ms: Option<u32>,
    /// Packets lost in the interval, per mille of those expected (received + lost).
    pub loss_permille: Option<u32>,
    /// Received bitrate over the interval, kbit/s.
    pub bitrate_kbps: Option<u32>,
    /// Width of the received video, pixels.
    pub width_px: Option<u32>,
    /// Height of the received video, pixels.
    pub height_px: Option<u32>,
}

/// How many figures a sample has.
const FIGURES: usize = 6;

impl QualitySample {
    fn figures(&self) -> [Option<u32>; FIGURES] {
        [
            self.rtt_ms,
            self.jitter_ms,
            self.loss_permille,
            self.bitrate_kbps,
            self.width_px,
            self.height_px,
        ]
    }

    fn clamped(self) -> Self {
        let c = |v: Option<u32>, max: u32| v.map(|v| v.min(max));
        Self {
            rtt_ms: c(self.rtt_ms, MAX_QUALITY_DELAY_MS),
            jitter_ms: c(self.jitter_ms, MAX_QUALITY_DELAY_MS),
            loss_permille: c(self.loss_permille, 1000),
            bitrate_kbps: c(self.bitrate_kbps, MAX_QUALITY_BITRATE_KBPS),
            width_px: c(self.width_px, MAX_QUALITY_FRAME_PX),
            height_px: c(self.height_px, MAX_QUALITY_FRAME_PX),
        }
    }
}

/// A simple rating of a call's connection, for a person to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityRating {
    /// Above the "poor" bounds on some figure.
    Poor,
    /// Neither good nor poor.
    Fair,
    /// Below the "good" bounds on every figure known.
    Good,
}

impl QualityRating {
    /// The name: `good`, `fair` or `poor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Fair => "fair",
            Self::Poor => "poor",
        }
    }
}

/// Rates one sample (see the [module docs](self)); `None` if it has none of round-trip
/// time, loss and jitter.
pub fn rate(sample: &QualitySample) -> Option<QualityRating> {
    let checks = [
        (sample.rtt_ms, GOOD_RTT_MS, POOR_RTT_MS),
        (sample.loss_permille, GOOD_LOSS_PERMILLE, POOR_LOSS_PERMILLE),
        (sample.jitter_ms, GOOD_JITTER_MS, POOR_JITTER_MS),
    ];
    let known = checks
        .iter()
        .filter_map(|(v, good, poor)| v.map(|v| (v, *good, *poor)));
    let mut rating = None;
    for (v, good, poor) in known {
        let this = if v > poor {
            QualityRating::Poor
        } else if v < good {
            QualityRating::Good
        } else {
            QualityRating::Fair
        };
        rating = Some(rating.map_or(this, |r: QualityRating| r.min(this)));
    }
    rating
}

/// The median of `values`: of an even count, the mean of the two middle values rounded
/// down; `None` if there are none.
fn median(values: &[u32]) -> Option<u32> {
    let n = values.len();
    let upper = kth(values, n / 2)?;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = u64::from(kth(values, n / 2 - 1)?);
    u32::try_from((lower + u64::from(upper)) / 2).ok()
}

/// The `k`-th smallest of `values` (from 0), found by halving the range of values: 32
/// counts at most, and no sort (whose code would weigh more in the widget than the time it
/// saves on a few thousand values every 30 s).
fn kth(values: &[u32], k: usize) -> Option<u32> {
    let (mut lo, mut hi) = (*values.iter().min()?, *values.iter().max()?);
    if k >= values.len() {
        return None;
    }
    // The answer is the smallest `v` with more than `k` values at most `v`.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if values.iter().filter(|v| **v <= mid).count() > k {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The samples of one call and their summary, in bounded memory (see the
/// [module docs](self)).
#[derive(Clone, Debug, Default)]
pub struct QualityMeter {
    /// The previous reading, for the differences.
    previous: Option<(Instant, StatsReading)>,
    /// Samples taken.
    samples: u32,
    /// Exact minimum and maximum of every figure, over all samples.
    range: [Option<(u32, u32)>; FIGURES],
    /// The samples kept for the median: one in `stride`.
    kept: Vec<QualitySample>,
    stride: u32,
    /// Samples since the last one kept.
    skipped: u32,
    /// The latest samples, for the rating: sample `n` (from 0) is at
    /// `n % RATING_WINDOW`.
    recent: [QualitySample; RATING_WINDOW],
    /// When the last summary was sent (or the first sample taken).
    reported_at: Option<Instant>,
}

impl QualityMeter {
    /// A meter without samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a sample from `reading`, made at `now`: loss and bitrate are taken over the
    /// time since the previous reading (none for the first, or when a counter went
    /// backwards, as when the browser replaced a stream). Returns the sample. A reading
    /// with nothing in it (the connection is not up yet) is no sample.
    pub fn record(&mut self, now: Instant, reading: StatsReading) -> QualitySample {
        if reading == StatsReading::default() {
            return QualitySample::default();
        }
        let mut sample = QualitySample {
            rtt_ms: reading.rtt_ms,
            jitter_ms: reading.jitter_ms,
            loss_permille: None,
            bitrate_kbps: None,
            width_px: reading.width_px,
            height_px: reading.height_px,
        };
        if let Some((then, before)) = self.previous {
            let received = reading
                .packets_received
                .zip(before.packets_received)
                .and_then(|(r, b)| r.checked_sub(b));
            if let Some(received) = received {
                let lost = reading
                    .packets_lost
                    .zip(before.packets_lost)
                    .map_or(0, |(l, b)| l.saturating_sub(b));
                let expected = received.saturating_add(lost);
                if let Some(permille) = lost.saturating_mul(1000).checked_div(expected) {
                    sample.loss_permille = Some(u32::try_from(permille).unwrap_or(1000));
                }
            }
            let ms = now.as_millis().saturating_sub(then.as_millis());
            let bytes = reading
                .bytes_received
                .zip(before.bytes_received)
                .and_then(|(r, b)| r.checked_sub(b));
            // Bits per millisecond are kbit/s.
            if let Some(kbps) = bytes.and_then(|b| b.saturating_mul(8).checked_div(ms)) {
                sample.bitrate_kbps = Some(u32::try_from(kbps).unwrap_or(u32::MAX));
            }
        }
        self.previous = Some((now, reading));
        self.reported_at.get_or_insert(now);
        self.add(sample);
        sample.clamped()
    }

    /// Adds a sample made elsewhere (values beyond the summary's bounds are clamped).
    pub fn add(&mut self, sample: QualitySample) {
        let sample = sample.clamped();
        self.recent[self.samples as usize % RATING_WINDOW] = sample;
        self.samples = self.samples.saturating_add(1);
        for (range, value) in self.range.iter_mut().zip(sample.figures()) {
            if let Some(v) = value {
                *range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            }
        }
        let stride = self.stride.max(1);
        self.skipped += 1;
        if self.skipped < stride {
            return;
        }
        self.skipped = 0;
        if self.kept.len() == MAX_KEPT {
            // Keep every other sample, and one in twice as many from now on.
            let mut i = 0;
            self.kept.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride = stride * 2;
        }
        self.kept.push(sample);
    }

    /// How many samples were taken.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// How many samples are kept for the median (at most [`MAX_KEPT`]).
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// The summary of every sample so far; `None` before the first.
    pub fn summary(&self) -> Option<QualitySummary> {
        if self.samples == 0 {
            return None;
        }
        let spread = |i: usize| {
            let (min, max) = self.range[i]?;
            let values: Vec<u32> = self.kept.iter().filter_map(|s| s.figures()[i]).collect();
            // The kept samples may all lack a figure that a dropped one had.
            let median = median(&values).unwrap_or(min).clamp(min, max);
            Some(Spread { min, median, max })
        };
        Some(QualitySummary {
            samples: self.samples.min(MAX_QUALITY_SAMPLES),
            rtt_ms: spread(0),
            jitter_ms: spread(1),
            loss_permille: spread(2),
            bitrate_kbps: spread(3),
            width_px: spread(4),
            height_px: spread(5),
        })
    }

    /// The latest samples, at most [`RATING_WINDOW`], in no particular order.
    fn recent(&self) -> &[QualitySample] {
        let n = (self.samples as usize).min(RATING_WINDOW);
        &self.recent[..n]
    }

    /// The median of each figure over the last [`RATING_WINDOW`] samples.
    pub fn latest(&self) -> Option<QualitySample> {
        if self.samples == 0 {
            return None;
        }
        let med = |i: usize| {
            let v: Vec<u32> = self
                .recent()
                .iter()
                .filter_map(|s| s.figures()[i])
                .collect();
            median(&v)
        };
        Some(QualitySample {
            rtt_ms: med(0),
            jitter_ms: med(1),
            loss_permille: med(2),
            bitrate_kbps: med(3),
            width_px: med(4),
            height_px: med(5),
        })
    }

    /// The rating of the last samples ([`rate`] of [`QualityMeter::latest`]).
    pub fn rating(&self) -> Option<QualityRating> {
        self.latest().as_ref().and_then(rate)
    }

    /// Whether a periodic summary is due at `now`: [`QUALITY_INTERVAL`] after the first
    /// sample, then after the last summary sent.
    pub fn due(&self, now: Instant) -> bool {
        self.reported_at
            .is_some_and(|t| now >= t + QUALITY_INTERVAL)
    }

    /// Notes that a summary was sent at `now`.
    pub fn reported(&mut self, now: Instant) {
        self.reported_at = Some(now);
    }
}

json_struct!(StatsReading {
    rtt_ms: optional,
    jitter_ms: optional,
    packets_received: optional,
    packets_lost: optional,
    bytes_received: optional,
    width_px: optional,
    height_px: optional,
});

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn rtt(ms: u32) -> QualitySample {
        QualitySample {
            rtt_ms: Some(ms),
            ..Default::default()
        }
    }

    #[test]
    fn min_median_max_of_odd_and_even_counts() {
        let mut m = QualityMeter::new();
        assert_eq!(m.summary(), None);
        for v in [50, 10, 30] {
            m.add(rtt(v));
        }
        let s = m.summary().expect("samples");
        assert_eq!(s.samples, 3);
        assert_eq!(
            s.rtt_ms,
            Some(Spread {
                min: 10,
                median: 30,
                max: 50
            })
        );
        m.add(rtt(41));
        let s = m.summary().expect("samples");
        // 10 30 41 50: (30 + 41) / 2, rounded down.
        assert_eq!(s.rtt_ms.map(|s| s.median), Some(35));
        assert_eq!(s.jitter_ms, None, "no sample had jitter");
    }

    #[test]
    fn the_median_without_a_sort_is_the_sorted_one() {
        let mut seed: u64 = 7;
        for n in 1..60 {
            let values: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    // Few distinct values (duplicates), or the whole range.
                    let v = (seed >> 33) as u32;
                    if n % 2 == 0 { v % 5 } else { v }
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let expected = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                ((u64::from(sorted[n / 2 - 1]) + u64::from(sorted[n / 2])) / 2) as u32
            };
            assert_eq!(median(&values), Some(expected), "{values:?}");
        }
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[u32::MAX, u32::MAX - 1]), Some(u32::MAX - 1));
    }

    #[test]
    fn missing_figures_count_only_where_present() {
        let mut m = QualityMeter::new();
        m.add(QualitySample {
            rtt_ms: Some(20),
            height_px: Some(480),
            ..Default::default()
        });
        m.add(rtt(40));
        m.add(QualitySample {
            height_px: Some(720),
            ..Default::default()
        });
        let s = m.summary().expect("samples");
        assert_eq!(s.samples, 3);
        assert_eq!(
            s.rtt_ms,
            Some(Spread {
                min: 20,
                median: 30,
                max: 40
            })
        );
        assert_eq!(
            s.height_px,
            Some(Spread {
                min: 480,
                median: 600,
                max: 720
            })
        );
        assert!(s.is_valid());
    }

    #[test]
    fn loss_and_bitrate_are_taken_over_the_interval() {
        let mut m = QualityMeter::new();
        let reading = |recv, lost, bytes| StatsReading {
            rtt_ms: Some(25),
            packets_received: Some(recv),
            packets_lost: Some(lost),
            bytes_received: Some(bytes),
            ..Default::default()
        };
        let first = m.record(Instant::from_millis(1000), reading(100, 0, 10_000));
        assert_eq!((first.loss_permille, first.bitrate_kbps), (None, None));
        // 2 s later: 190 more received, 10 more lost; 250 000 bytes = 2 Mbit in 2 s.
        let s = m.record(Instant::from_millis(3000), reading(290, 10, 260_000));
        assert_eq!(s.loss_permille, Some(50));
        assert_eq!(s.bitrate_kbps, Some(1000));
        // A counter that went backwards (a new stream) gives no loss or bitrate.
        let s = m.record(Instant::from_millis(5000), reading(5, 0, 100));
        assert_eq!((s.loss_permille, s.bitrate_kbps), (None, None));
        assert_eq!(m.samples(), 3);
    }

    #[test]
    fn memory_stays_bounded_over_hours() {
        let mut m = QualityMeter::new();
        // Ten hours at one sample every 2 s; the first and last are the extremes.
        let n: u32 = 18_000;
        for i in 0..n {
            m.add(rtt(100 + i % 7));
            assert!(m.kept() <= MAX_KEPT);
        }
        m.add(rtt(5));
        m.add(rtt(900));
        assert!(m.kept() <= MAX_KEPT && m.kept() > MAX_KEPT / 4);
        let s = m.summary().expect("samples");
        assert_eq!(s.samples, n + 2);
        let r = s.rtt_ms.expect("rtt");
        assert_eq!((r.min, r.max), (5, 900), "extremes are exact");
        assert!((100..=106).contains(&r.median), "{r:?}");
    }

    #[test]
    fn ratings_follow_the_thresholds() {
        let s = |rtt, loss, jitter| QualitySample {
            rtt_ms: rtt,
            loss_permille: loss,
            jitter_ms: jitter,
            ..Default::default()
        };
        use QualityRating::{Fair, Good, Poor};
        assert_eq!(rate(&s(None, None, None)), None);
        assert_eq!(rate(&s(Some(299), Some(19), Some(29))), Some(Good));
        assert_eq!(rate(&s(Some(300), Some(0), Some(0))), Some(Fair));
        assert_eq!(rate(&s(Some(500), Some(80), Some(60))), Some(Fair));
        assert_eq!(rate(&s(Some(501), Some(0), Some(0))), Some(Poor));
        assert_eq!(rate(&s(Some(20), Some(81), None)), Some(Poor));
        assert_eq!(rate(&s(None, Some(20), Some(10))), Some(Fair));
        assert_eq!(rate(&s(None, None, Some(61))), Some(Poor));
        // The meter rates the median of the last samples: one spike does not count.
        let mut m = QualityMeter::new();
        for v in [40, 900, 45] {
            m.add(rtt(v));
        }
        assert_eq!(m.rating(), Some(Good));
        m.add(rtt(800));
        assert_eq!(m.rating(), Some(Poor));
    }

    #[test]
    fn values_beyond_the_bounds_are_clamped() {
        let mut m = QualityMeter::new();
        m.add(QualitySample {
            rtt_ms: Some(u32::MAX),
            loss_permille: Some(5000),
            width_px: Some(100_000),
            ..Default::default()
        });
        assert!(m.summary().expect("a sample").is_valid());
    }

    #[test]
    fn a_summary_is_due_every_interval() {
        let mut m = QualityMeter::new();
        assert!(!m.due(Instant::from_millis(100_000)));
        // An empty reading is no sample.
        m.record(Instant::from_millis(500), StatsReading::default());
        assert_eq!(m.samples(), 0);
        assert!(!m.due(Instant::from_millis(100_000)));
        let rtt = StatsReading {
            rtt_ms: Some(1),
            ..Default::default()
        };
        m.record(Instant::from_millis(1000), rtt);
        assert!(!m.due(Instant::from_millis(30_999)));
        assert!(m.due(Instant::from_millis(31_000)));
        m.reported(Instant::from_millis(31_000));
        assert!(!m.due(Instant::from_millis(60_999)));
        assert!(m.due(Instant::from_millis(61_000)));
    }
}
