//! `word-count`: runs the word-count topology ([`examples::word_count`]) on built-in demo lines
//! and prints the topology's description, every count update written to the output topic and
//! the final counts.
//!
//! In-process run; the Kafka runtime comes with the runtime feature. Until then the topology
//! runs in the testkit's `TopologyTestDriver`, which drives the same task engine.
//!
//! ```text
//! cargo run --release -p examples --bin word-count
//! ```

use std::process::ExitCode;

use examples::report::{self, section, table, total_rows, update_rows};
use examples::word_count::{self, COUNTS_STORE, DEMO_LINES, INPUT_TOPIC, OUTPUT_TOPIC};

const HELP: &str = "
word-count: counts the words of built-in demo lines with the word-count topology.

Usage: word-count [-h | --help]

In-process run; the Kafka runtime comes with the runtime feature. Until then the topology
runs in the testkit's TopologyTestDriver, which drives the same task engine, with one
partition per topic and a commit after every line. It prints the topology's description,
the input lines, every count update written to the output topic, and the final counts.
";

fn main() -> ExitCode {
    report::main("word-count", HELP, || {
        let description = word_count::topology()?.describe();
        let run = word_count::run_demo()?;
        let lines: Vec<Vec<String>> = DEMO_LINES
            .iter()
            .map(|(timestamp, line)| vec![timestamp.to_string(), (*line).to_owned()])
            .collect();
        Ok([
            report::header("word-count"),
            section("Topology", &description.to_string()),
            section(
                &format!("Input: topic {INPUT_TOPIC}"),
                &table(&["timestamp", "line"], &lines),
            ),
            section(
                &format!("Output: topic {OUTPUT_TOPIC}, every update in order"),
                &table(&["timestamp", "word", "count"], &update_rows(&run.updates)),
            ),
            section(
                &format!("Final counts: store {COUNTS_STORE}"),
                &table(&["word", "count"], &total_rows(&run.totals)),
            ),
        ]
        .concat())
    })
}
