//! `ml-bench`: scoring throughput and per-record latency of the `predict` operator in one
//! task of the engine, next to the bare model call on the same rows in the same run
//! ([`bench::ml`]).
//!
//! ```text
//! cargo build --release --workspace --bins
//! target/release/ml-bench [--records N] [--onnx-records N] [--latency-records N] [--poll P]
//!     [--commit-every C] [--batch B] [--clock wall|cpu] [--model logistic|pmml-forest|onnx-mlp]...
//! ```

use std::process::ExitCode;

use bench::ml::{check, report, run_model, BenchModel, MlConfig};

fn parse_args() -> Result<(MlConfig, Vec<BenchModel>), String> {
    let mut config = MlConfig::default();
    let mut models = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.replace('_', "").parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--records" => config.records = number(value()?)?.max(1),
            "--onnx-records" => config.onnx_records = number(value()?)?.max(1),
            "--latency-records" => config.latency_records = number(value()?)?,
            "--poll" => config.poll = number(value()?)?.max(1),
            "--commit-every" => config.commit_every = number(value()?)?,
            "--batch" => config.batch = number(value()?)?.max(1),
            "--clock" => {
                config.cpu_clock = match value()?.as_str() {
                    "wall" => false,
                    "cpu" => true,
                    other => return Err(format!("--clock wall|cpu, not `{other}`")),
                }
            }
            "--model" => {
                let name = value()?;
                models.push(BenchModel::parse(&name).ok_or_else(|| format!("unknown model `{name}`"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if models.is_empty() {
        models = BenchModel::ALL.to_vec();
    }
    Ok((config, models))
}

fn main() -> ExitCode {
    let (config, models) = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("ml-bench: {message}");
            }
            eprintln!(
                "usage: ml-bench [--records N] [--onnx-records N] [--latency-records N] [--poll P] \
                 [--commit-every C] [--batch B] [--clock wall|cpu] [--model logistic|pmml-forest|onnx-mlp]..."
            );
            return if message.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    println!(
        "ml-bench: {} records (onnx-mlp: {}) per throughput pass in polls of {}, commit every {}; \
         {} records per latency pass, one per poll; micro-batches of {}; one thread; {}{}",
        config.records,
        config.onnx_records,
        config.poll,
        config.commit_every,
        config.latency_records,
        config.batch,
        if config.cpu_clock {
            "rates from on-CPU time"
        } else {
            "rates from wall-clock time"
        },
        if cfg!(debug_assertions) {
            "; DEBUG BUILD, figures meaningless"
        } else {
            ""
        }
    );
    let mut results = Vec::new();
    for model in models {
        match run_model(model, &config) {
            Ok(r) => results.extend(r),
            Err(e) => {
                eprintln!("ml-bench: {}: {e}", model.name());
                return ExitCode::FAILURE;
            }
        }
    }
    println!();
    print!("{}", report(&results));
    println!();
    match check(&results) {
        Ok(()) => {
            println!("every path gave the scores of the bare Model::predict (batched: within 1e-5)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("MISMATCH: {e}");
            ExitCode::FAILURE
        }
    }
}
