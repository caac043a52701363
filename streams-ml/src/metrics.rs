//! Counters and a latency histogram of the scoring operator, readable by the application.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (inclusive, in microseconds) of the latency histogram's buckets; a last
/// bucket counts everything slower.
pub const LATENCY_BUCKETS_US: [u64; 14] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000];

/// A histogram of durations with fixed buckets ([`LATENCY_BUCKETS_US`]), updated without locks.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl LatencyHistogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let index = LATENCY_BUCKETS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The histogram's current counts.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: LATENCY_BUCKETS_US
                .iter()
                .map(|&b| Some(b))
                .chain([None])
                .zip(&self.buckets)
                .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
        }
    }
}

/// The counts of a [`LatencyHistogram`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// `(upper bound in µs, count)` per bucket; `None` is the last, unbounded bucket.
    pub buckets: Vec<(Option<u64>, u64)>,
    /// Number of observations.
    pub count: u64,
    /// Sum of the observed durations, in nanoseconds.
    pub sum_ns: u64,
}

impl HistogramSnapshot {
    /// The mean observed duration (zero without observations).
    pub fn mean(&self) -> Duration {
        match self.count {
            0 => Duration::ZERO,
            n => Duration::from_nanos(self.sum_ns / n),
        }
    }
}

macro_rules! counters {
    ($(#[$meta:meta])* $name:ident / $snapshot:ident { $($(#[$fmeta:meta])* $field:ident,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fmeta])* pub(crate) $field: AtomicU64,)*
            /// Time spent in the model: one observation per batch call and per
            /// [`LATENCY_SAMPLE_INTERVAL`](crate::LATENCY_SAMPLE_INTERVAL) single-record calls.
            pub(crate) latency: LatencyHistogram,
        }

        /// The values of the counters at one moment (see the fields of the live counters).
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $snapshot {
            $($(#[$fmeta])* pub $field: u64,)*
            /// Time spent in the model: one observation per batch call and per
            /// [`LATENCY_SAMPLE_INTERVAL`](crate::LATENCY_SAMPLE_INTERVAL) single-record calls
            /// (the first of a task's, then every that many).
            pub latency: HistogramSnapshot,
        }

        impl $name {
            /// The current values.
            pub fn snapshot(&self) -> $snapshot {
                $snapshot {
                    $($field: self.$field.load(Ordering::Relaxed),)*
                    latency: self.latency.snapshot(),
                }
            }
        }
    };
}

counters!(
    /// Live counters of one scoring operator (all its tasks), shared with the application
    /// through [`Scoring::metrics`](crate::Scoring::metrics).
    ScoringMetrics / ScoringMetricsSnapshot {
        /// Records scored by the model and emitted on the main output.
        predictions,
        /// Records the model could not score (sent to the errors output).
        errors,
        /// Records dropped because no model was loaded ([`NoModelPolicy::Drop`](crate::NoModelPolicy::Drop)).
        no_model_dropped,
        /// Records emitted unscored because no model was loaded
        /// ([`NoModelPolicy::PassThrough`](crate::NoModelPolicy::PassThrough)).
        no_model_passed,
        /// Records held while no model was loaded ([`NoModelPolicy::Hold`](crate::NoModelPolicy::Hold)).
        no_model_held,
        /// Held records emitted unscored because the hold buffer was full or a commit came
        /// before any model.
        held_released_unscored,
        /// Calls to the model with more than one record.
        batches,
        /// Records the shadow (candidate) model scored.
        shadow_predictions,
        /// Records the shadow model could not score.
        shadow_errors,
        /// Records not shadow-scored because the candidate model was not loaded.
        shadow_no_model,
    }
);

impl ScoringMetrics {
    pub(crate) fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Live counters of a [`ModelRegistry`](crate::ModelRegistry).
#[derive(Debug, Default)]
pub struct RegistryMetrics {
    pub(crate) loaded: AtomicU64,
    pub(crate) load_errors: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) removed: AtomicU64,
}

/// The values of a registry's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryMetricsSnapshot {
    /// Models installed (a new name, or a higher version).
    pub loaded: u64,
    /// Documents that failed to load (the previous model kept serving).
    pub load_errors: u64,
    /// Documents ignored because their version was not higher than the one serving.
    pub ignored: u64,
    /// Models removed by a tombstone.
    pub removed: u64,
}

impl RegistryMetrics {
    pub(crate) fn snapshot(&self) -> RegistryMetricsSnapshot {
        RegistryMetricsSnapshot {
            loaded: self.loaded.load(Ordering::Relaxed),
            load_errors: self.load_errors.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            removed: self.removed.load(Ordering::Relaxed),
        }
    }
}
