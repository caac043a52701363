//! In-process engine benchmark: the workloads of `../shared/bench-peers` (filter+map, count per
//! key, a 1 s tumbling count per key) plus a stream-table join, run through the real task engine of `streams-core` and,
//! as the reference, written by hand without the framework.
//!
//! * [`data`] generates the input: keys `k0000..k0999`, JSON values of about 100 bytes shaped
//!   like `bench-peers/common.py`'s `make_value`.
//! * [`framework`] builds each workload's [`Topology`](streams_core::topology::Topology) with the
//!   DSL and drives one [`Task`](streams_core::internals::Task) directly: raw records are added
//!   in batches, processed, and committed every N records.
//! * [`reference`] does the same work by hand: deserialize, same logic, a `HashMap`, serialize.
//! * Both write their output through [`sink::Sink`], a producer-like append-only buffer, so that
//!   their outputs can be compared byte for byte.
//!
//! The `engine-bench` binary times both and prints the figures.
//!
//! [`ml`] is the scoring benchmark of `streams-ml` (`ml-bench`): the `predict` operator in one
//! task of the engine next to the bare model call.

pub mod data;
pub mod framework;
pub mod ml;
pub mod reference;
pub mod sink;

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Drop `seq % 10 == 0`, map the rest to a new JSON value.
    FilterMap,
    /// Running count per key, with the store's write cache on (DSL default); outputs are the
    /// coalesced counts at each commit.
    Count,
    /// Running count per key with the cache off: one output per input.
    CountNoCache,
    /// Each record joined with the region of its key from a 1000-row table.
    Join,
    /// A 1 s tumbling count per key (no grace) in a RocksDB window store (the runtime's
    /// `default.dsl.store`), changelogged, with the write cache on: outputs are the coalesced
    /// counts of the windows updated since the last commit, at each commit.
    WindowCount,
    /// Each record joined with the region updates of its key at most 5 s apart (an inner
    /// KStream-KStream join, both window stores on RocksDB and changelogged).
    StreamJoin,
}

impl Workload {
    /// Every workload, in the order they are reported.
    pub const ALL: [Workload; 6] = [
        Workload::FilterMap,
        Workload::Count,
        Workload::CountNoCache,
        Workload::Join,
        Workload::WindowCount,
        Workload::StreamJoin,
    ];

    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Workload::FilterMap => "filter+map",
            Workload::Count => "count (cache on)",
            Workload::CountNoCache => "count (cache off)",
            Workload::Join => "stream-table join",
            Workload::WindowCount => "window count (1 s)",
            Workload::StreamJoin => "stream-stream join",
        }
    }

    /// Parses a command-line name: `filter`, `count`, `count-nocache`, `join`, `window-count`,
    /// `stream-join`.
    pub fn parse(name: &str) -> Option<Workload> {
        match name {
            "filter" | "filter+map" => Some(Workload::FilterMap),
            "count" => Some(Workload::Count),
            "count-nocache" => Some(Workload::CountNoCache),
            "join" => Some(Workload::Join),
            "window-count" => Some(Workload::WindowCount),
            "stream-join" => Some(Workload::StreamJoin),
            _ => None,
        }
    }
}

/// How records are fed and committed, the same for the framework and the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    /// Records handed to the task per `add_records` call (a consumer poll).
    pub batch: usize,
    /// Commit after at least this many records since the last commit (and once at the end).
    pub commit_every: usize,
    /// The task's write cache in bytes for [`Workload::Count`], [`Workload::Join`] and
    /// [`Workload::WindowCount`].
    pub cache_max_bytes: usize,
    /// Partition count of the output topic (records are partitioned by murmur2 of the key).
    pub output_partitions: i32,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            batch: 1000,
            commit_every: 100_000,
            cache_max_bytes: 10 * 1024 * 1024,
            output_partitions: 4,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The framework and the reference produce the same output on a small input, in every
    /// workload, with batch and commit sizes that do not divide each other or the input.
    #[test]
    fn framework_and_reference_agree() {
        let input = data::Input::generate(25_000);
        let config = RunConfig {
            batch: 700,
            commit_every: 5_000,
            ..RunConfig::default()
        };
        for workload in Workload::ALL {
            let (expected, _) = reference::run(workload, &input, &config, sink::Sink::default()).unwrap();
            let (framework_out, _) = framework::run(workload, &input, &config, sink::Sink::default()).unwrap();
            assert!(expected.output_records > 0, "{workload:?}");
            // The cache flushes keys in the order of their last update, the reference in the
            // order of their first update since the last commit (the window count's reference
            // keeps the cache's order).
            let allowed = match workload {
                Workload::Count => sink::Comparison::SameRecordsReordered,
                _ => sink::Comparison::Identical,
            };
            assert_eq!(sink::compare(&framework_out, &expected), allowed, "{workload:?}");
            if workload == Workload::WindowCount {
                // Commits after 5 600, 11 200, 16 800 and 22 400 records and at the end; each
                // emits every key's windows updated since the last (10 000 records per window,
                // so every key is in each): 1 000 + 2 000 + 1 000 + 2 000 + 1 000.
                assert_eq!(expected.output_records, 7_000);
                // Each window update leaves once per commit in the changelog too.
                assert_eq!(framework_out.changelog_records, 7_000);
            }
        }
    }

    /// The window count's output decoded: every window's last count is its number of
    /// records, and windows are 1 s long.
    #[test]
    fn window_count_outputs_count_each_window() {
        let input = data::Input::generate(12_000);
        let config = RunConfig {
            commit_every: 4_000,
            ..RunConfig::default()
        };
        let (out, _) = framework::run(Workload::WindowCount, &input, &config, sink::Sink::default()).unwrap();
        let mut last = std::collections::BTreeMap::new();
        for record in sink::decode(&out.output) {
            let value: data::WindowCountOut = serde_json::from_slice(&record.value.unwrap()).unwrap();
            assert_eq!(record.key.unwrap(), value.key.as_bytes());
            assert_eq!(value.end - value.start, data::WINDOW_MS);
            last.insert((value.key, value.start), (value.count, record.timestamp));
        }
        // Keys k0000..k0999, windows [BASE_TS, +1 s) (10 records each) and [+1 s, +2 s) (2).
        assert_eq!(last.len(), 2_000);
        assert_eq!(
            last.get(&("k0007".to_owned(), data::BASE_TS)),
            Some(&(10, data::timestamp_of(9_007)))
        );
        assert_eq!(
            last.get(&("k0007".to_owned(), data::BASE_TS + 1000)),
            Some(&(2, data::timestamp_of(11_007)))
        );
    }

    /// The reference's filter+map output is what the testkit driver gets from the same
    /// topology, record by record.
    #[test]
    fn reference_matches_the_test_driver() {
        use streams_core::serde::Serdes;
        let input = data::Input::generate(3_000);
        let (sink, _) = reference::run(
            Workload::FilterMap,
            &input,
            &RunConfig::default(),
            sink::Sink::default(),
        )
        .unwrap();
        let expected = sink::decode(&sink.output);

        let driver = testkit::TopologyTestDriver::new(framework::topology(Workload::FilterMap).unwrap()).unwrap();
        let events = driver.create_input_topic(data::INPUT_TOPIC, Serdes::bytes(), Serdes::bytes());
        let out = driver.create_output_topic(data::OUTPUT_TOPIC, Serdes::bytes(), Serdes::bytes());
        for record in &input.records {
            let key = record.key.clone().unwrap();
            let value = record.value.clone().unwrap();
            events.pipe_input_at(key, value, record.timestamp).unwrap();
        }
        let got: Vec<(Vec<u8>, Vec<u8>, i64)> = out
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        let expected: Vec<(Vec<u8>, Vec<u8>, i64)> = expected
            .into_iter()
            .map(|r| (r.key.unwrap(), r.value.unwrap(), r.timestamp))
            .collect();
        assert_eq!(got, expected);
    }
}

/// Wall-clock time and, where Linux reports it, the on-CPU time of the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Elapsed wall-clock time.
    pub wall: std::time::Duration,
    /// Time the thread spent on a CPU (`/proc/thread-self/schedstat`), when readable.
    pub cpu: Option<std::time::Duration>,
}

/// Measures a [`Timing`] from its creation.
#[derive(Debug)]
pub struct Timer {
    wall: std::time::Instant,
    cpu_ns: Option<u64>,
}

impl Timer {
    /// Starts measuring.
    pub fn start() -> Timer {
        Timer {
            cpu_ns: thread_cpu_ns(),
            wall: std::time::Instant::now(),
        }
    }

    /// Time since [`start`](Self::start).
    pub fn elapsed(&self) -> Timing {
        let wall = self.wall.elapsed();
        let cpu = match (self.cpu_ns, thread_cpu_ns()) {
            (Some(start), Some(end)) => Some(std::time::Duration::from_nanos(end.saturating_sub(start))),
            _ => None,
        };
        Timing { wall, cpu }
    }
}

/// Nanoseconds the calling thread has run on a CPU, from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
