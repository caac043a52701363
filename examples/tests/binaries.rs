//! The example binaries: what they print and how they treat their command line.

use std::process::{Command, Output};

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn word_count_runs_on_an_embedded_cluster_and_matches_the_in_process_run() {
    let output = run(env!("CARGO_BIN_EXE_word-count"), &[]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("word-count: ran on an embedded Kafka mock cluster at 127.0.0.1:"));
    assert!(text.contains(" (4 partitions per topic)\n\n== Topology\nTopologies:\n"));
    assert!(text.contains("    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])\n"));
    assert!(text.ends_with(
        "== Final totals: latest value per key in streams-wordcount-output\n\
         key      total\n\
         -------  -----\n\
         all          1\n\
         hello        1\n\
         join         1\n\
         kafka        3\n\
         lead         1\n\
         streams      2\n\
         summit       1\n\
         to           1\n\
         \n\
         == Check\n\
         same final totals as the in-process run of the same input: yes\n"
    ));
}

#[test]
fn clicks_per_region_runs_on_an_embedded_cluster_and_matches_the_in_process_run() {
    let output = run(env!("CARGO_BIN_EXE_clicks-per-region"), &["--partitions", "2"]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains(" (2 partitions per topic)\n"));
    assert!(text.contains("    Processor: KSTREAM-LEFTJOIN-0000000003 (stores: [user-regions-store])\n"));
    assert!(text.ends_with(
        "== Final totals: latest value per key in clicks-per-region\n\
         key       total\n\
         --------  -----\n\
         UNKNOWN       5\n\
         americas    101\n\
         asia        124\n\
         europe      110\n\
         \n\
         == Check\n\
         same final totals as the in-process run of the same input: yes\n"
    ));
}

#[test]
fn in_process_runs_print_every_update_in_order() {
    let output = run(env!("CARGO_BIN_EXE_word-count"), &["--in-process"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with(
        "word-count: in-process run through the testkit driver (no broker)\n\n== Topology\nTopologies:\n"
    ));
    assert!(text.ends_with(
        "== Final counts: store counts-store\n\
         word     count\n\
         -------  -----\n\
         all          1\n\
         hello        1\n\
         join         1\n\
         kafka        3\n\
         lead         1\n\
         streams      2\n\
         summit       1\n\
         to           1\n"
    ));
    let output = run(env!("CARGO_BIN_EXE_clicks-per-region"), &["--in-process"]);
    assert!(output.status.success());
    assert!(stdout(&output).ends_with(
        "== Final totals: store clicks-per-region-store\n\
         region    clicks\n\
         --------  ------\n\
         UNKNOWN        5\n\
         americas     101\n\
         asia         124\n\
         europe       110\n"
    ));
}

const ORDER_SCORING_INPUT: &str = "\n== Input (plus 100 labelled orders at timestamps 100..199)\n\
    timestamp  record\n\
    ---------  --------------------\n        \
    1  model version 1\n       \
    10  order o1: -0.8 units\n       \
    11  order o2: -0.6 units\n       \
    12  order o3: 0.4 units\n       \
    13  order o4: 1 units\n     \
    1000  order o5: -0.8 units\n     \
    1001  order o6: -0.6 units\n     \
    1002  order o7: 0.4 units\n     \
    1003  order o8: 1 units\n";

#[test]
fn order_scoring_runs_on_an_embedded_cluster_and_matches_the_in_process_run() {
    let output = run(env!("CARGO_BIN_EXE_order-scoring"), &[]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("order-scoring: ran on an embedded Kafka mock cluster at 127.0.0.1:"));
    assert!(text.contains(" (4 partitions per topic)\n\n== Topology\nTopologies:\n"));
    // The model topic is a global store, and its documents are also checked by a stream task
    // that reports the ones that fail to load.
    assert!(text.contains(
        " for global store (will not generate tasks)\n    \
         Source: order-models-model-source (topics: [order-models])\n      \
         --> order-models-model-source-table-source\n    \
         Processor: order-models-model-source-table-source (stores: [order-models-models])\n"
    ));
    assert!(text.contains(
        "    Source: order-models-model-check-source (topics: [order-models])\n      \
         --> order-models-model-checker\n"
    ));
    assert!(text.contains("    Sink: KSTREAM-SINK-0000000014 (topic: order-models)\n      <-- learn-order-risk\n"));
    assert!(text.contains(ORDER_SCORING_INPUT));
    // The decision counts' timestamps and their order across partitions depend on how the
    // orders' partitions interleave; the final counts do not.
    assert!(text.contains("\n== Output: topic order-decisions, by partition and offset\n"));
    assert!(text.ends_with(
        "== Final totals: latest value per key in order-decisions\n\
         key      total\n\
         -------  -----\n\
         approve      4\n\
         review       4\n\
         \n\
         == Check\n\
         same final totals as the in-process run of the same input: yes\n"
    ));
}

#[test]
fn order_scoring_in_process_prints_every_score_with_the_model_version() {
    let output = run(env!("CARGO_BIN_EXE_order-scoring"), &["--in-process"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        format!(
            "order-scoring: in-process run through the testkit driver (no broker)\n\
             {ORDER_SCORING_INPUT}\n\
             == Output: topic order-scores, in order\n\
             orderunits  decision  P(review)  model\n\
             ----------  --------  ---------  -------------\n\
             -0.8        approve   0.002473   order-risk v1\n\
             -0.6        approve   0.017986   order-risk v1\n\
             0.4         review    0.997527   order-risk v1\n\
             1           review    0.999994   order-risk v1\n\
             -0.8        approve   0.226805   order-risk v2\n\
             -0.6        approve   0.298132   order-risk v2\n\
             0.4         review    0.730064   order-risk v2\n\
             1           review    0.891450   order-risk v2\n\
             \n\
             == Versions published by the learner\n\
             [2]\n\
             \n\
             == Decisions: store order-decisions-store\n\
             decision  orders\n\
             --------  ------\n\
             approve        4\n\
             review         4\n"
        )
    );
}

#[test]
fn heart_risk_runs_on_an_embedded_cluster_and_matches_the_in_process_run() {
    let output = run(env!("CARGO_BIN_EXE_heart-risk"), &[]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("heart-risk: ran on an embedded Kafka mock cluster at 127.0.0.1:"));
    assert!(text.contains(" (4 partitions per topic)\n\n== Topology\nTopologies:\n"));
    assert!(text.contains(
        " for global store (will not generate tasks)\n    \
         Source: heart-models-model-source (topics: [heart-models])\n"
    ));
    assert!(text.contains(
        "\n== Input\n\
         model version 1 (examples/data/heart_model.json), then 50 test patients with their outcomes held back\n\
         \n\
         == Output: topic heart-confusion, by partition and offset\n"
    ));
    assert!(text.ends_with(
        "== Final totals: latest value per key in heart-confusion\n\
         key             total\n\
         --------------  -----\n\
         false-negative      6\n\
         true-negative      21\n\
         true-positive      23\n\
         \n\
         == Check\n\
         same final totals as the in-process run of the same input: yes\n"
    ));
}

#[test]
fn heart_risk_in_process_prints_the_confusion_matrix_and_the_accuracy() {
    let output = run(env!("CARGO_BIN_EXE_heart-risk"), &["--in-process"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        "heart-risk: in-process run through the testkit driver (no broker)\n\
         \n\
         == Input\n\
         model version 1 (examples/data/heart_model.json), then 50 test patients with their outcomes held back\n\
         \n\
         == Confusion matrix\n                 \
         predicted at-risk  predicted low-risk\n\
         ---------------  -----------------  ------------------\n\
         actual at-risk                  23                   6\n\
         actual low-risk                  0                  21\n\
         \n\
         == Accuracy\n\
         44/50 = 0.880\n"
    );
}

#[test]
fn help_lists_the_ways_to_run() {
    for binary in [
        env!("CARGO_BIN_EXE_word-count"),
        env!("CARGO_BIN_EXE_clicks-per-region"),
        env!("CARGO_BIN_EXE_order-scoring"),
        env!("CARGO_BIN_EXE_heart-risk"),
    ] {
        let output = run(binary, &["--help"]);
        assert!(output.status.success());
        let text = stdout(&output);
        for option in [
            "--bootstrap-servers",
            "--feed-demo",
            "--in-process",
            "--state-dir",
            "--property",
        ] {
            assert!(text.contains(option), "{option} missing from:\n{text}");
        }
    }
}

#[test]
fn a_bad_command_line_is_refused_with_status_2() {
    let output = run(env!("CARGO_BIN_EXE_word-count"), &["--partitions=three"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid value 'three' for '--partitions <PARTITIONS>'"));
    let output = run(env!("CARGO_BIN_EXE_word-count"), &["--property", "novalue"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`novalue` is not key=value"));
}

#[test]
fn a_bad_property_is_reported_with_its_key() {
    let output = run(
        env!("CARGO_BIN_EXE_word-count"),
        &[
            "--bootstrap-servers",
            "127.0.0.1:1",
            "--property",
            "num.stream.threads=0",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "word-count: invalid configuration `num.stream.threads`: must be at least 1\n"
    );
}
