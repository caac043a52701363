//! Example applications built with the typed DSL, each runnable and tested with the testkit.
//!
//! | module | binary | what it shows |
//! |---|---|---|
//! | [`word_count`] | `word-count` | `flat_map_values`, `group_by` (a repartition topic), `count`, `to_stream` |
//! | [`clicks_per_region`] | `clicks-per-region` | a stream-table `left_join`, `map` (re-keying), `group_by_key`, `reduce` |
//!
//! Each module builds its topology in `topology()` and runs it on built-in demo data in
//! `run_demo()`, through the testkit's `TopologyTestDriver`: the same task engine the Kafka
//! runtime will drive. There is no Kafka runtime yet, so the binaries run in-process:
//!
//! ```text
//! cargo run --release -p examples --bin word-count
//! cargo run --release -p examples --bin clicks-per-region
//! ```

pub mod clicks_per_region;
pub mod report;
pub mod word_count;

use testkit::TestRecord;

/// What a demo run produced. Both examples compute a table of `String` keys to `i64` totals.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRun {
    /// Every record written to the output topic, in order: one per table update.
    pub updates: Vec<TestRecord<String, i64>>,
    /// The final table, read from the aggregation's state store, in key order.
    pub totals: Vec<(String, i64)>,
}
