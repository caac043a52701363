//! The example binaries' `main`: command line, runs, and plain-text tables of the results.

use std::fmt::Write;
use std::process::ExitCode;

use clap::Parser;
use streams_core::StreamsError;
use testkit::TestRecord;

use crate::runner::{init_logging, run_on_embedded_kafka, run_service, Cli, KafkaApp, OutputRecord};

/// The `main` of an example binary: parses the command line, then runs `app` as a service
/// (`--bootstrap-servers`), in-process (`--in-process`, printing what `in_process` returns),
/// or on an embedded mock cluster (the default), printing `input_section` and the results.
///
/// Exits with 0 on success, 1 when the run fails or its totals differ from the in-process
/// run's, and 2 on a bad command line.
pub fn main(
    name: &str,
    app: &KafkaApp,
    input_section: impl FnOnce() -> String,
    in_process: impl FnOnce() -> Result<String, StreamsError>,
) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging();
    let result = if cli.in_process {
        in_process().map(|text| {
            print!("{name}: in-process run through the testkit driver (no broker)\n{text}");
            true
        })
    } else if let Some(bootstrap) = cli.bootstrap_servers.clone() {
        run_service(app, &cli, &bootstrap).map(|()| true)
    } else {
        run_on_embedded_kafka(app, &cli).and_then(|run| {
            let description = (app.topology)()?.describe();
            let same = run.totals == run.expected_totals;
            print!(
                "{}",
                [
                    format!(
                        "{name}: ran on an embedded Kafka mock cluster at {} ({} partitions per topic)\n",
                        run.bootstrap_servers, cli.partitions
                    ),
                    section("Topology", &description.to_string()),
                    input_section(),
                    section(
                        &format!("Output: topic {}, by partition and offset", app.output_topic),
                        &table(
                            &["partition", "offset", "timestamp", "key", "value"],
                            &output_rows(&run.output)
                        ),
                    ),
                    section(
                        &format!("Final totals: latest value per key in {}", app.output_topic),
                        &table(&["key", "total"], &total_rows(&run.totals)),
                    ),
                    section(
                        "Check",
                        &format!(
                            "same final totals as the in-process run of the same input: {}",
                            if same { "yes" } else { "NO" }
                        ),
                    ),
                ]
                .concat()
            );
            Ok(same)
        })
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Table rows of output records: partition, offset, timestamp, key, value.
pub fn output_rows(records: &[OutputRecord]) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|r| {
            vec![
                r.partition.to_string(),
                r.offset.to_string(),
                r.timestamp.to_string(),
                r.key.clone(),
                r.value.to_string(),
            ]
        })
        .collect()
}

/// Renders rows as a table: a header line, a rule, one line per row. Columns are padded to
/// their widest cell; columns whose cells are all integers are right-aligned.
///
/// ```
/// use examples::report::table;
///
/// let rows = vec![vec!["kafka".to_string(), "3".to_string()], vec!["to".to_string(), "12".to_string()]];
/// assert_eq!(table(&["word", "count"], &rows), "word   count\n-----  -----\nkafka      3\nto        12\n");
/// ```
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let width = |column: usize| {
        rows.iter()
            .filter_map(|row| row.get(column))
            .map(|cell| cell.chars().count())
            .chain([headers[column].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..headers.len()).map(width).collect();
    let numeric: Vec<bool> = (0..headers.len())
        .map(|column| {
            rows.iter()
                .all(|row| row.get(column).is_some_and(|cell| cell.parse::<i64>().is_ok()))
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (column, cell) in cells.enumerate() {
            let width = widths[column];
            if column > 0 {
                text.push_str("  ");
            }
            if numeric[column] {
                let _ = write!(text, "{cell:>width$}");
            } else {
                let _ = write!(text, "{cell:<width$}");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    let rules: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    line(&mut rules.iter().map(String::as_str));
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A titled block of output, preceded by a blank line.
pub fn section(title: &str, body: &str) -> String {
    let body = body.trim_end();
    format!("\n== {title}\n{body}\n")
}

/// Table rows of output updates: timestamp, key, value.
pub fn update_rows(updates: &[TestRecord<String, i64>]) -> Vec<Vec<String>> {
    updates
        .iter()
        .map(|r| vec![r.timestamp.to_string(), r.key.clone(), r.value.to_string()])
        .collect()
}

/// Table rows of a table's entries: key, value.
pub fn total_rows(totals: &[(String, i64)]) -> Vec<Vec<String>> {
    totals.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect()
}
