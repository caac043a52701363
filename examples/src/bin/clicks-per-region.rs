//! `clicks-per-region`: sums user clicks per region with a stream-table left join
//! ([`examples::clicks_per_region`]).
//!
//! Without arguments it starts an embedded Kafka mock cluster, writes the demo regions and
//! clicks, runs the application on it, prints every total and the final totals, and checks
//! them against the in-process run. With `--bootstrap-servers` it runs against that cluster
//! until Ctrl-C or SIGTERM (`--feed-demo` writes the demo records first); `--help` lists the
//! options.
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

fn input() -> String {
    let rows: Vec<Vec<String>> = DEMO_INPUT
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
    section(
        "Input, in the order written",
        &table(&["timestamp", "topic", "user", "region or clicks"], &rows),
    )
}

fn main() -> ExitCode {
    report::main("clicks-per-region", &clicks_per_region::kafka_app(), input, || {
        let description = clicks_per_region::topology()?.describe();
        let run = clicks_per_region::run_demo()?;
        Ok([
            section("Topology", &description.to_string()),
            input(),
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
