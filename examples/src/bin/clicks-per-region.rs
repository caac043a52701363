//! `clicks-per-region`: runs the clicks-per-region topology ([`examples::clicks_per_region`])
//! on built-in demo records and prints the topology's description, every total written to the
//! output topic and the final totals per region.
//!
//! In-process run; the Kafka runtime comes with the runtime feature. Until then the topology
//! runs in the testkit's `TopologyTestDriver`, which drives the same task engine.
//!
//! ```text
//! cargo run --release -p examples --bin clicks-per-region
//! ```

use std::process::ExitCode;

use examples::clicks_per_region::{
    self, demo_timestamp, DemoInput, CLICKS_PER_REGION_STORE, DEMO_INPUT, OUTPUT_TOPIC, USER_CLICKS_TOPIC,
    USER_REGIONS_TOPIC,
};
use examples::report::{self, section, table, total_rows, update_rows};

const HELP: &str = "
clicks-per-region: sums user clicks per region with a stream-table left join.

Usage: clicks-per-region [-h | --help]

In-process run; the Kafka runtime comes with the runtime feature. Until then the topology
runs in the testkit's TopologyTestDriver, which drives the same task engine, with one
partition per topic and a commit after every record. It prints the topology's description,
the input records, every total written to the output topic, and the final totals.
";

fn main() -> ExitCode {
    report::main("clicks-per-region", HELP, || {
        let description = clicks_per_region::topology()?.describe();
        let run = clicks_per_region::run_demo()?;
        let input: Vec<Vec<String>> = DEMO_INPUT
            .iter()
            .enumerate()
            .map(|(index, input)| {
                let (topic, user, value) = match *input {
                    DemoInput::Region(user, region) => (USER_REGIONS_TOPIC, user, region.to_owned()),
                    DemoInput::Clicks(user, clicks) => (USER_CLICKS_TOPIC, user, clicks.to_string()),
                };
                vec![
                    demo_timestamp(index).to_string(),
                    topic.to_owned(),
                    user.to_owned(),
                    value,
                ]
            })
            .collect();
        Ok([
            report::header("clicks-per-region"),
            section("Topology", &description.to_string()),
            section(
                "Input, in the order written",
                &table(&["timestamp", "topic", "user", "region or clicks"], &input),
            ),
            section(
                &format!("Output: topic {OUTPUT_TOPIC}, every update in order"),
                &table(&["timestamp", "region", "clicks"], &update_rows(&run.updates)),
            ),
            section(
                &format!("Final totals: store {CLICKS_PER_REGION_STORE}"),
                &table(&["region", "clicks"], &total_rows(&run.totals)),
            ),
        ]
        .concat())
    })
}
