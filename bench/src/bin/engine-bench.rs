//! `engine-bench`: records/second of the in-process engine on the peers' workloads, next to
//! the same work written by hand, measured in the same run.
//!
//! ```text
//! cargo run --release -p bench --bin engine-bench -- [--records N] [--runs R] [--batch B]
//!     [--commit-every C] [--cache-bytes BYTES] [--partitions P]
//!     [--workload filter|count|count-nocache|join|window-count]... [--only framework|reference] [--clock wall|cpu]
//! ```
//!
//! Each workload runs `R` times on each side, alternating which side goes first; the table
//! shows the medians. Every framework run's output is compared with the reference's. Rates are
//! computed from wall-clock time, or with `--clock cpu` from the thread's on-CPU time (steadier
//! when other processes share the cores); the `cpu` columns show on-CPU time over wall-clock
//! time.

use std::process::ExitCode;
use std::time::Duration;

use bench::data::Input;
use bench::sink::{compare, Comparison, Sink};
use bench::{framework, reference, RunConfig, Timing, Workload};

struct Args {
    records: u64,
    runs: usize,
    config: RunConfig,
    workloads: Vec<Workload>,
    only: Option<Side>,
    cpu_clock: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Framework,
    Reference,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        records: 1_000_000,
        runs: 5,
        config: RunConfig::default(),
        workloads: Vec::new(),
        only: None,
        cpu_clock: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.replace('_', "").parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--records" => args.records = number(value()?)?,
            "--runs" => args.runs = number(value()?)?.max(1) as usize,
            "--batch" => args.config.batch = number(value()?)?.max(1) as usize,
            "--commit-every" => args.config.commit_every = number(value()?)? as usize,
            "--cache-bytes" => args.config.cache_max_bytes = number(value()?)? as usize,
            "--partitions" => args.config.output_partitions = number(value()?)?.max(1) as i32,
            "--workload" => {
                let name = value()?;
                args.workloads
                    .push(Workload::parse(&name).ok_or_else(|| format!("unknown workload `{name}`"))?);
            }
            "--only" => {
                args.only = Some(match value()?.as_str() {
                    "framework" => Side::Framework,
                    "reference" => Side::Reference,
                    other => return Err(format!("--only framework|reference, not `{other}`")),
                })
            }
            "--clock" => {
                args.cpu_clock = match value()?.as_str() {
                    "wall" => false,
                    "cpu" => true,
                    other => return Err(format!("--clock wall|cpu, not `{other}`")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.workloads.is_empty() {
        args.workloads = Workload::ALL.to_vec();
    }
    Ok(args)
}

/// Medians and counts of one workload.
struct Row {
    workload: Workload,
    framework: Option<Timing>,
    reference: Option<Timing>,
    output_records: u64,
    changelog_records: u64,
    comparison: Option<Comparison>,
}

/// The time a rate is computed from: wall-clock, or on-CPU time with `--clock cpu`.
fn seconds(timing: &Timing, cpu_clock: bool) -> f64 {
    match (cpu_clock, timing.cpu) {
        (true, Some(cpu)) => cpu.as_secs_f64(),
        _ => timing.wall.as_secs_f64(),
    }
}

fn median(mut timings: Vec<Timing>, cpu_clock: bool) -> Option<Timing> {
    timings.sort_by(|a, b| seconds(a, cpu_clock).total_cmp(&seconds(b, cpu_clock)));
    timings.get(timings.len() / 2).copied()
}

fn rate(records: u64, timing: Option<Timing>, cpu_clock: bool) -> Option<f64> {
    timing.map(|t| records as f64 / seconds(&t, cpu_clock))
}

fn cpu_share(timing: Option<Timing>) -> String {
    match timing.and_then(|t| t.cpu.map(|cpu| (cpu, t.wall))) {
        Some((cpu, wall)) if wall > Duration::ZERO => format!("{:.0}%", 100.0 * cpu.as_secs_f64() / wall.as_secs_f64()),
        _ => "-".into(),
    }
}

fn run_workload(workload: Workload, input: &Input, args: &Args) -> Result<Row, String> {
    let capacity = input.records.len() * 128;
    let mut reference_sink = Sink::with_capacity(capacity);
    let mut framework_sink = Sink::with_capacity(capacity);
    let mut framework_times = Vec::new();
    let mut reference_times = Vec::new();
    let mut row = Row {
        workload,
        framework: None,
        reference: None,
        output_records: 0,
        changelog_records: 0,
        comparison: None,
    };
    for run in 0..args.runs {
        let reference_first = run % 2 == 0;
        for side in [reference_first, !reference_first] {
            if side && args.only != Some(Side::Framework) {
                reference_sink.clear();
                let (sink, timing) = reference::run(workload, input, &args.config, reference_sink)
                    .map_err(|e| format!("reference {}: {e}", workload.name()))?;
                reference_sink = sink;
                reference_times.push(timing);
            } else if !side && args.only != Some(Side::Reference) {
                framework_sink.clear();
                let (sink, timing) = framework::run(workload, input, &args.config, framework_sink)
                    .map_err(|e| format!("framework {}: {e}", workload.name()))?;
                framework_sink = sink;
                framework_times.push(timing);
                row.output_records = framework_sink.output_records;
                row.changelog_records = framework_sink.changelog_records;
            }
        }
        if args.only.is_none() {
            let comparison = compare(&framework_sink, &reference_sink);
            if let Comparison::Different(why) = &comparison {
                return Err(format!(
                    "{}: framework output differs from the reference: {why}",
                    workload.name()
                ));
            }
            row.comparison = Some(comparison);
        } else if args.only == Some(Side::Reference) {
            row.output_records = reference_sink.output_records;
        }
    }
    row.framework = median(framework_times, args.cpu_clock);
    row.reference = median(reference_times, args.cpu_clock);
    Ok(row)
}

fn fmt_rate(rate: Option<f64>) -> String {
    rate.map_or("-".into(), |r| format!("{r:.0}"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("engine-bench: {message}");
            }
            eprintln!(
                "usage: engine-bench [--records N] [--runs R] [--batch B] [--commit-every C] [--cache-bytes BYTES] \
                 [--partitions P] [--workload filter|count|count-nocache|join|window-count]... \
                 [--only framework|reference] [--clock wall|cpu]"
            );
            return ExitCode::from(2);
        }
    };
    let input = Input::generate(args.records);
    let c = &args.config;
    println!(
        "engine-bench: {} records per workload, values {:.1} B on average, 1000 keys; batches of {}, commit every {} \
         records, cache {} bytes, output partitions {}; median of {} runs per side; {} time",
        args.records,
        input.average_value_bytes(),
        c.batch,
        c.commit_every,
        c.cache_max_bytes,
        c.output_partitions,
        args.runs,
        if args.cpu_clock { "on-CPU" } else { "wall-clock" }
    );
    let mut rows = Vec::new();
    for &workload in &args.workloads {
        match run_workload(workload, &input, &args) {
            Ok(row) => rows.push(row),
            Err(message) => {
                eprintln!("engine-bench: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!();
    println!(
        "{:<20} {:>9} {:>8} {:>11} {:>21} {:>6} {:>8} {:>10} {:>9} {:>9}",
        "workload",
        "records",
        "seconds",
        "records/s",
        "reference records/s",
        "ratio",
        "output",
        "changelog",
        "cpu fw",
        "cpu ref"
    );
    for row in &rows {
        let framework = rate(args.records, row.framework, args.cpu_clock);
        let reference = rate(args.records, row.reference, args.cpu_clock);
        let ratio = match (framework, reference) {
            (Some(f), Some(r)) => format!("{:.2}", f / r),
            _ => "-".into(),
        };
        println!(
            "{:<20} {:>9} {:>8} {:>11} {:>21} {:>6} {:>8} {:>10} {:>9} {:>9}",
            row.workload.name(),
            args.records,
            row.framework
                .or(row.reference)
                .map_or("-".into(), |t| format!("{:.3}", seconds(&t, args.cpu_clock))),
            fmt_rate(framework),
            fmt_rate(reference),
            ratio,
            row.output_records,
            row.changelog_records,
            cpu_share(row.framework),
            cpu_share(row.reference),
        );
    }
    println!();
    for row in &rows {
        let verdict = match &row.comparison {
            Some(Comparison::Identical) => "identical to the reference's (bytes, order)",
            Some(Comparison::SameRecordsReordered) => "the reference's records, in another order",
            Some(Comparison::Different(_)) => "DIFFERENT from the reference's",
            None => "not compared (one side only)",
        };
        println!("{}: framework output {verdict}", row.workload.name());
    }
    ExitCode::SUCCESS
}
