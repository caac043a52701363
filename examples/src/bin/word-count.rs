//! `word-count`: counts words of text lines ([`examples::word_count`]).
//!
//! Without arguments it starts an embedded Kafka mock cluster, writes the demo lines, runs the
//! application on it, prints every count update and the final counts, and checks them against
//! the in-process run. With `--bootstrap-servers` it runs against that cluster until Ctrl-C or
//! SIGTERM (`--feed-demo` writes the demo lines first); `--help` lists the options.
//!
//! ```text
//! cargo run --release -p examples --bin word-count
//! ```

use std::process::ExitCode;

use examples::report::{self, section, table, total_rows, update_rows};
use examples::word_count::{self, COUNTS_STORE, DEMO_LINES, INPUT_TOPIC, OUTPUT_TOPIC};

fn input() -> String {
    let lines: Vec<Vec<String>> = DEMO_LINES
        .iter()
        .map(|(timestamp, line)| vec![timestamp.to_string(), (*line).to_owned()])
        .collect();
    section(
        &format!("Input: topic {INPUT_TOPIC}"),
        &table(&["timestamp", "line"], &lines),
    )
}

fn main() -> ExitCode {
    report::main("word-count", &word_count::kafka_app(), input, || {
        let description = word_count::topology()?.describe();
        let run = word_count::run_demo()?;
        Ok([
            section("Topology", &description.to_string()),
            input(),
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
