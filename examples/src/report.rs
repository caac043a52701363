//! Plain-text output of the example binaries: their command line, their header and tables.

use std::fmt::Write;
use std::process::ExitCode;

use streams_core::StreamsError;
use testkit::TestRecord;

/// What the binaries print first: their run is in-process, through the testkit driver.
pub const IN_PROCESS: &str = "in-process run; the Kafka runtime comes with the runtime feature";

/// The `main` of an example binary called `app`: handles the command line (no arguments but
/// `--help`/`-h`, which prints `help`), then prints what `render` returns.
///
/// Exits with 0 on success, 1 when the run fails and 2 on a bad argument.
pub fn main(app: &str, help: &str, render: impl FnOnce() -> Result<String, StreamsError>) -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            println!("{}", help.trim_end());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("{app}: unexpected argument `{other}`; try --help");
            return ExitCode::from(2);
        }
    }
    match render() {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{app}: {error}");
            ExitCode::FAILURE
        }
    }
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

/// The first line a binary prints: its name and [`IN_PROCESS`].
pub fn header(app: &str) -> String {
    format!("{app}: {IN_PROCESS}\n")
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
