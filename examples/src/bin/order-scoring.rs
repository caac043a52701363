//! `order-scoring`: scores orders with a model from a model topic while a model learned on
//! the stream replaces it live ([`examples::order_scoring`]).
//!
//! Without arguments it starts an embedded Kafka mock cluster, writes the demo input, runs
//! the application, prints the decision counts and checks them against the in-process run.
//! `--in-process` runs it through the testkit driver and prints every scored order with the
//! model version that scored it; `--help` lists the options.
//!
//! ```text
//! cargo run --release -p examples --bin order-scoring -- --in-process
//! ```

use std::process::ExitCode;

use examples::order_scoring::{self, demo_input, DemoInput, DECISIONS_STORE, SCORES_TOPIC};
use examples::report::{self, section, table, total_rows};

fn input() -> String {
    let rows: Vec<Vec<String>> = demo_input()
        .into_iter()
        .filter_map(|(input, ts)| match input {
            DemoInput::Model(_) => Some(vec![ts.to_string(), "model version 1".into()]),
            DemoInput::Order(id, units) => Some(vec![ts.to_string(), format!("order {id}: {units} units")]),
            DemoInput::Labelled(..) => None,
        })
        .collect();
    section(
        "Input (plus 100 labelled orders at timestamps 100..199)",
        &table(&["timestamp", "record"], &rows),
    )
}

fn main() -> ExitCode {
    report::main("order-scoring", &order_scoring::kafka_app(), input, || {
        let run = order_scoring::run_demo()?;
        let rows: Vec<Vec<String>> = run
            .scores
            .iter()
            .map(|s| {
                vec![
                    s.orderunits.to_string(),
                    s.decision.clone(),
                    format!("{:.6}", s.probability),
                    format!("{} v{}", s.model, s.version),
                ]
            })
            .collect();
        Ok([
            input(),
            section(
                &format!("Output: topic {SCORES_TOPIC}, in order"),
                &table(&["orderunits", "decision", "P(review)", "model"], &rows),
            ),
            section("Versions published by the learner", &format!("{:?}\n", run.published)),
            section(
                &format!("Decisions: store {DECISIONS_STORE}"),
                &table(&["decision", "orders"], &total_rows(&run.decisions)),
            ),
        ]
        .concat())
    })
}
