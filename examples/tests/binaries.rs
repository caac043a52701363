//! The example binaries: what they print and how they treat their command line.

use std::process::{Command, Output};

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary).args(args).output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn word_count_prints_the_topology_and_the_counts() {
    let output = run(env!("CARGO_BIN_EXE_word-count"), &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with(
        "word-count: in-process run; the Kafka runtime comes with the runtime feature\n\n== Topology\nTopologies:\n"
    ));
    assert!(text.contains("    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])\n"));
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
}

#[test]
fn clicks_per_region_prints_the_topology_and_the_totals() {
    let output = run(env!("CARGO_BIN_EXE_clicks-per-region"), &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with("clicks-per-region: in-process run; the Kafka runtime comes with the runtime feature\n"));
    assert!(text.contains("    Processor: KSTREAM-LEFTJOIN-0000000003 (stores: [user-regions-store])\n"));
    assert!(text.ends_with(
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
fn help_says_the_run_is_in_process() {
    for binary in [
        env!("CARGO_BIN_EXE_word-count"),
        env!("CARGO_BIN_EXE_clicks-per-region"),
    ] {
        for flag in ["--help", "-h"] {
            let output = run(binary, &[flag]);
            assert!(output.status.success());
            let text = stdout(&output);
            assert!(text.contains("Usage: "), "{text}");
            assert!(
                text.contains("In-process run; the Kafka runtime comes with the runtime feature."),
                "{text}"
            );
        }
    }
}

#[test]
fn an_unknown_argument_is_refused_with_status_2() {
    let output = run(env!("CARGO_BIN_EXE_word-count"), &["--partitions=3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "word-count: unexpected argument `--partitions=3`; try --help\n"
    );
}
