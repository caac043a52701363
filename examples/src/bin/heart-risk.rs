//! `heart-risk`: scores test patients with a model trained offline and reports the confusion
//! matrix against the actual outcomes ([`examples::heart_risk`]).
//!
//! Without arguments it runs on an embedded Kafka mock cluster and checks the counts against
//! the in-process run; `--in-process` runs it through the testkit driver; `--help` lists the
//! options.
//!
//! ```text
//! cargo run --release -p examples --bin heart-risk -- --in-process
//! ```

use std::process::ExitCode;

use examples::heart_risk::{self, rows, Row};
use examples::report::{self, section, table};

fn input() -> String {
    let test: Vec<Row> = rows().unwrap_or_default().into_iter().filter(Row::is_test).collect();
    section(
        "Input",
        &format!(
            "model version 1 (examples/data/heart_model.json), then {} test patients with their outcomes held back\n",
            test.len()
        ),
    )
}

fn main() -> ExitCode {
    report::main("heart-risk", &heart_risk::kafka_app(), input, || {
        let run = heart_risk::run_demo()?;
        let c = run.confusion;
        let matrix = table(
            &["", "predicted at-risk", "predicted low-risk"],
            &[
                vec![
                    "actual at-risk".into(),
                    c.true_positive.to_string(),
                    c.false_negative.to_string(),
                ],
                vec![
                    "actual low-risk".into(),
                    c.false_positive.to_string(),
                    c.true_negative.to_string(),
                ],
            ],
        );
        Ok([
            input(),
            section("Confusion matrix", &matrix),
            section(
                "Accuracy",
                &format!(
                    "{}/{} = {:.3}\n",
                    c.true_positive + c.true_negative,
                    c.total(),
                    c.accuracy()
                ),
            ),
        ]
        .concat())
    })
}
