//! Example applications built with the typed DSL, each runnable and tested with the testkit.
//!
//! | module | binary | what it shows |
//! |---|---|---|
//! | [`word_count`] | `word-count` | `flat_map_values`, `group_by` (a repartition topic), `count`, `to_stream` |
//! | [`clicks_per_region`] | `clicks-per-region` | a stream-table `left_join`, `map` (re-keying), `group_by_key`, `reduce` |
//! | [`order_scoring`] | `order-scoring` | scoring with a model from a model topic, learning on the stream, a live model swap |
//! | [`heart_risk`] | `heart-risk` | scoring with a model trained offline, a confusion matrix from a join with the actual outcomes |
//!
//! Each module builds its topology in `topology()`, runs it on built-in demo data in the
//! testkit in `run_demo()`, and describes itself to the Kafka [`runner`] in `kafka_app()`.
//! The binaries run on Kafka: against `--bootstrap-servers` as a service until Ctrl-C or
//! SIGTERM, or, without it, on an embedded mock cluster fed with the demo data, printing the
//! results and checking them against the in-process run:
//!
//! ```text
//! cargo run --release -p examples --bin clicks-per-region
//! cargo run --release -p examples --bin word-count -- --bootstrap-servers localhost:9092 --feed-demo
//! ```

pub mod clicks_per_region;
pub mod heart_risk;
pub mod order_scoring;
pub mod report;
pub mod runner;
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
