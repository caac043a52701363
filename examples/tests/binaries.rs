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

#[test]
fn help_lists_the_ways_to_run() {
    for binary in [
        env!("CARGO_BIN_EXE_word-count"),
        env!("CARGO_BIN_EXE_clicks-per-region"),
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
