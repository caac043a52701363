//! Window specifications and windowed keys, in Kafka Streams' vocabulary: [`TimeWindows`]
//! (tumbling and hopping), [`SlidingWindows`], [`SessionWindows`], [`Window`] and
//! [`Windowed`].

use std::fmt;
use std::time::Duration;

use crate::StreamsError;

/// A time interval. For time and sliding windows it is what Kafka Streams' `TimeWindow` is:
/// `[start, end)` for time windows, `[start, end]` for sliding windows (both ends count); for
/// sessions (`SessionWindow`) `[start, end]` spans the session's first to last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// Start, in milliseconds.
    pub start: i64,
    /// End, in milliseconds.
    pub end: i64,
}

impl Window {
    /// The window `[start, end]`.
    pub fn new(start: i64, end: i64) -> Self {
        Window { start, end }
    }
}

/// A key and the window its aggregate belongs to (Kafka Streams' `Windowed<K>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Windowed<K> {
    /// The record key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K> Windowed<K> {
    /// `key` in `window`.
    pub fn new(key: K, window: Window) -> Self {
        Windowed { key, window }
    }
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}@{}/{}]", self.key, self.window.start, self.window.end)
    }
}

fn millis(what: &str, duration: Duration) -> Result<i64, StreamsError> {
    i64::try_from(duration.as_millis()).map_err(|_| StreamsError::Config {
        key: what.to_owned(),
        reason: format!("{duration:?} does not fit in milliseconds as a 64-bit integer"),
    })
}

fn positive(what: &str, duration: Duration) -> Result<i64, StreamsError> {
    let ms = millis(what, duration)?;
    if ms <= 0 {
        return Err(StreamsError::Config {
            key: what.to_owned(),
            reason: format!("must be at least 1 ms, got {duration:?}"),
        });
    }
    Ok(ms)
}

/// Fixed-size windows: tumbling (advance = size) or hopping (advance < size), aligned to the
/// epoch (Kafka Streams' `TimeWindows`). A window `[start, start + size)` holds the records with
/// `start <= timestamp < start + size`; it closes when stream time reaches `end + grace`.
///
/// ```
/// use std::time::Duration;
/// use streams_core::dsl::TimeWindows;
///
/// let hopping = TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(2))?
///     .advance_by(Duration::from_secs(5))?;
/// let starts: Vec<i64> = hopping.windows_for(12_000).iter().map(|w| w.start).collect();
/// assert_eq!(starts, vec![5_000, 10_000]);
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size: i64,
    advance: i64,
    grace: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` with no grace period: a record is late as soon as stream
    /// time has passed its window's end.
    pub fn of_size_with_no_grace(size: Duration) -> Result<Self, StreamsError> {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` accepting out-of-order records for `grace` after a window's
    /// end.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Result<Self, StreamsError> {
        let size = positive("TimeWindows.size", size)?;
        let grace = millis("TimeWindows.grace", grace)?;
        Ok(TimeWindows {
            size,
            advance: size,
            grace,
        })
    }

    /// Hopping windows: a new window every `advance` (at least 1 ms, at most the size).
    pub fn advance_by(self, advance: Duration) -> Result<Self, StreamsError> {
        let advance = positive("TimeWindows.advance", advance)?;
        if advance > self.size {
            return Err(StreamsError::Config {
                key: "TimeWindows.advance".into(),
                reason: format!("must be at most the window size ({} ms), got {advance} ms", self.size),
            });
        }
        Ok(TimeWindows { advance, ..self })
    }

    /// Window size in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.size
    }

    /// Advance in milliseconds.
    pub fn advance_ms(&self) -> i64 {
        self.advance
    }

    /// Grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    /// The windows a record at `timestamp` falls into, oldest first.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        let first =
            (timestamp.saturating_sub(self.size).saturating_add(self.advance)).max(0) / self.advance * self.advance;
        let mut windows = Vec::new();
        let mut start = first;
        while start <= timestamp {
            windows.push(Window::new(start, start.saturating_add(self.size)));
            start = start.saturating_add(self.advance);
        }
        windows
    }
}

/// Windows of a fixed time difference that slide with the records (Kafka Streams'
/// `SlidingWindows`): two records are in a common window when their timestamps differ by at
/// most `time_difference`. Windows `[start, start + time_difference]` include both ends and are
/// created per record (its left window ending at it, its right window starting just after
/// it), so every distinct set of records close in time is aggregated once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    time_difference: i64,
    grace: i64,
}

impl SlidingWindows {
    /// Sliding windows of `time_difference` with no grace period.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Result<Self, StreamsError> {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Sliding windows of `time_difference` accepting records up to `grace` late.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Result<Self, StreamsError> {
        Ok(SlidingWindows {
            time_difference: millis("SlidingWindows.timeDifference", time_difference)?,
            grace: millis("SlidingWindows.grace", grace)?,
        })
    }

    /// The time difference (window size) in milliseconds.
    pub fn time_difference_ms(&self) -> i64 {
        self.time_difference
    }

    /// Grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }
}

/// Session windows (Kafka Streams' `SessionWindows`): records of a key closer than the
/// inactivity gap belong to one session, `[first timestamp, last timestamp]`; a record that
/// bridges two sessions merges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap: i64,
    grace: i64,
}

impl SessionWindows {
    /// Sessions split by `inactivity_gap`, with no grace period.
    pub fn of_inactivity_gap_with_no_grace(inactivity_gap: Duration) -> Result<Self, StreamsError> {
        Self::of_inactivity_gap_and_grace(inactivity_gap, Duration::ZERO)
    }

    /// Sessions split by `inactivity_gap`, accepting records up to `grace` late.
    pub fn of_inactivity_gap_and_grace(inactivity_gap: Duration, grace: Duration) -> Result<Self, StreamsError> {
        Ok(SessionWindows {
            gap: positive("SessionWindows.inactivityGap", inactivity_gap)?,
            grace: millis("SessionWindows.grace", grace)?,
        })
    }

    /// The inactivity gap in milliseconds.
    pub fn inactivity_gap_ms(&self) -> i64 {
        self.gap
    }

    /// Grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(w: &TimeWindows, ts: i64) -> Vec<(i64, i64)> {
        w.windows_for(ts).iter().map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn windows_for_match_kafka() -> Result<(), StreamsError> {
        let tumbling = TimeWindows::of_size_with_no_grace(Duration::from_millis(10))?;
        assert_eq!(starts(&tumbling, 0), vec![(0, 10)]);
        assert_eq!(starts(&tumbling, 9), vec![(0, 10)]);
        assert_eq!(starts(&tumbling, 10), vec![(10, 20)]);
        let hopping = tumbling.advance_by(Duration::from_millis(3))?;
        assert_eq!(starts(&hopping, 10), vec![(3, 13), (6, 16), (9, 19)]);
        assert_eq!(starts(&hopping, 2), vec![(0, 10)]);
        assert_eq!(starts(&hopping, 5), vec![(0, 10), (3, 13)]);
        Ok(())
    }

    #[test]
    fn invalid_windows_are_refused() {
        assert!(matches!(
            TimeWindows::of_size_with_no_grace(Duration::ZERO),
            Err(StreamsError::Config { key, .. }) if key == "TimeWindows.size"
        ));
        let w = TimeWindows::of_size_with_no_grace(Duration::from_millis(5));
        assert!(matches!(
            w.and_then(|w| w.advance_by(Duration::from_millis(6))),
            Err(StreamsError::Config { key, .. }) if key == "TimeWindows.advance"
        ));
        assert!(matches!(
            SessionWindows::of_inactivity_gap_with_no_grace(Duration::ZERO),
            Err(StreamsError::Config { key, .. }) if key == "SessionWindows.inactivityGap"
        ));
    }
}
