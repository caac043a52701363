//! Window specifications and windowed keys, in Kafka Streams' vocabulary: [`TimeWindows`]
//! (tumbling and hopping), [`SlidingWindows`], [`SessionWindows`], [`JoinWindows`] (the
//! windows of stream-stream joins), [`Window`] and [`Windowed`].

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

/// The time window of a stream-stream join (Kafka Streams' `JoinWindows`): a record at time
/// `t` of the left stream joins the right stream's records of the same key with timestamps in
/// `[t - before, t + after]`, and a right record at `t` joins the left records in
/// `[t - after, t + before]`. Symmetric by default (`before = after = time difference`);
/// [`before`](Self::before) and [`after`](Self::after) make it asymmetric.
///
/// The grace period says how long after a window's end out-of-order records are still
/// accepted: the join's window stores keep records for `before + after + grace`, and a left or
/// outer join emits a record that found no partner (with `None` for the other side) only once
/// stream time has passed `t + after + grace` (left records) or `t + before + grace` (right
/// records). A window of size 0 (`before + after = 0`) with no grace period keeps nothing, so
/// it joins nothing, as in Kafka Streams: give it a grace period of at least 1 ms.
///
/// ```
/// use std::time::Duration;
/// use streams_core::dsl::JoinWindows;
///
/// let windows = JoinWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::from_secs(1))?
///     .after(Duration::from_secs(2))?;
/// assert_eq!((windows.before_ms(), windows.after_ms(), windows.grace_ms()), (5_000, 2_000, 1_000));
/// assert_eq!(windows.size_ms(), 7_000);
/// // Kafka allows a negative bound as long as the window does not become empty:
/// let only_later = windows.with_before_ms(-1_000)?;
/// assert_eq!(only_later.size_ms(), 1_000);
/// assert!(windows.with_before_ms(-3_000).is_err());
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before: i64,
    after: i64,
    grace: i64,
}

impl JoinWindows {
    /// Records join when their timestamps differ by at most `time_difference`; no grace
    /// period.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Result<Self, StreamsError> {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Records join when their timestamps differ by at most `time_difference`; out-of-order
    /// records are accepted until `grace` after a window's end.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Result<Self, StreamsError> {
        let difference = millis("JoinWindows.timeDifference", time_difference)?;
        Self::new(difference, difference, millis("JoinWindows.grace", grace)?)
    }

    fn new(before: i64, after: i64, grace: i64) -> Result<Self, StreamsError> {
        if before.checked_add(after).is_none_or(|size| size < 0) {
            return Err(StreamsError::Config {
                key: "JoinWindows.size".into(),
                reason: format!(
                    "the window interval (before + after) must not be negative, got before = {before} ms and after = {after} ms"
                ),
            });
        }
        if grace < 0 {
            return Err(StreamsError::Config {
                key: "JoinWindows.grace".into(),
                reason: format!("the grace period must not be negative, got {grace} ms"),
            });
        }
        Ok(JoinWindows { before, after, grace })
    }

    /// Sets how far before a left record (after a right record) the window reaches, keeping
    /// the other bound.
    pub fn before(self, time_difference: Duration) -> Result<Self, StreamsError> {
        self.with_before_ms(millis("JoinWindows.before", time_difference)?)
    }

    /// Sets how far after a left record (before a right record) the window reaches, keeping
    /// the other bound.
    pub fn after(self, time_difference: Duration) -> Result<Self, StreamsError> {
        self.with_after_ms(millis("JoinWindows.after", time_difference)?)
    }

    /// [`before`](Self::before) in milliseconds, which may be negative (the window then starts
    /// after the record) as long as `before + after` is not.
    pub fn with_before_ms(self, before: i64) -> Result<Self, StreamsError> {
        Self::new(before, self.after, self.grace)
    }

    /// [`after`](Self::after) in milliseconds, which may be negative as long as `before +
    /// after` is not.
    pub fn with_after_ms(self, after: i64) -> Result<Self, StreamsError> {
        Self::new(self.before, after, self.grace)
    }

    /// How far the window reaches before a left record, in milliseconds.
    pub fn before_ms(&self) -> i64 {
        self.before
    }

    /// How far the window reaches after a left record, in milliseconds.
    pub fn after_ms(&self) -> i64 {
        self.after
    }

    /// The window size, `before + after`, in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.before + self.after
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

    #[test]
    fn join_windows_follow_kafkas_rules() -> Result<(), StreamsError> {
        let w = JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(10))?;
        assert_eq!(
            (w.before_ms(), w.after_ms(), w.grace_ms(), w.size_ms()),
            (10, 10, 0, 20)
        );
        // A zero time difference is a valid window (records with equal timestamps join).
        assert_eq!(
            JoinWindows::of_time_difference_with_no_grace(Duration::ZERO)?.size_ms(),
            0
        );
        let asym = w.before(Duration::ZERO)?.after(Duration::from_millis(3))?;
        assert_eq!((asym.before_ms(), asym.after_ms()), (0, 3));
        assert_eq!(asym.with_before_ms(-3)?.size_ms(), 0);
        assert!(matches!(
            asym.with_before_ms(-4),
            Err(StreamsError::Config { key, .. }) if key == "JoinWindows.size"
        ));
        assert!(matches!(
            w.with_after_ms(-11),
            Err(StreamsError::Config { key, .. }) if key == "JoinWindows.size"
        ));
        assert!(matches!(
            w.with_after_ms(i64::MAX),
            Err(StreamsError::Config { key, .. }) if key == "JoinWindows.size"
        ));
        assert!(matches!(
            JoinWindows::of_time_difference_and_grace(Duration::MAX, Duration::ZERO),
            Err(StreamsError::Config { key, .. }) if key == "JoinWindows.timeDifference"
        ));
        Ok(())
    }
}
