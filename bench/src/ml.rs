//! Scoring throughput and latency: records scored by the `predict` operator of `streams-ml`
//! in one task of the real engine (driven as the runtime drives it, as [`crate::framework`]
//! does), next to the bare model call on the same rows in the same run, the raw limit.
//!
//! The models are the test models of `streams-ml` (compiled into the binary):
//!
//! * `logistic`: `testdata/json/logistic_regression.json`, a `json-linear` logistic
//!   regression with standardisation (4 features);
//! * `pmml-forest`: `testdata/pmml/iris_forest.pmml`, a PMML `MiningModel` averaging 10 trees
//!   (a scikit-learn random forest classifier, 4 features);
//! * `onnx-mlp`: `testdata/onnx/mlp_regressor.onnx`, a scikit-learn `MLPRegressor` exported by
//!   skl2onnx (4 inputs), scored row by row and with micro-batching
//!   ([`Scoring::with_batching`]).
//!
//! Each input record has an 8-byte key and a value of 4 little-endian `f64` features; the
//! operator's features function ([`Scoring::new_numeric`]) copies them into the vector the
//! operator reuses, the model's prediction (the
//! score, or the probability of the last class) is written as an 8-byte `f64`. Rows are
//! pseudo-random, in `[-3, 8)`, the same for every path.
//!
//! Two passes per path:
//!
//! * **throughput**: records added in polls of [`MlConfig::poll`] records, processed, and
//!   committed every [`MlConfig::commit_every`] records (and once at the end); records/s from
//!   wall-clock time of the whole pass, or from the thread's on-CPU time
//!   ([`MlConfig::cpu_clock`]);
//! * **latency**: [`MlConfig::latency_records`] records added one per poll; a record's latency
//!   is the time from adding it to its output reaching the collector, so with micro-batching it
//!   includes the wait for its batch to fill (records arrive back to back). For the bare model
//!   call it is the time of the call that scores the record (a whole batch for
//!   `predict_batch`).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Timer, Timing};
use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
use streams_core::internals::{RecordCollector, TaskId};
use streams_core::processor::{Headers, ProducerRecord, RawRecord};
use streams_core::serde::{Serde, SerdeError, Serdes};
use streams_core::topology::{TaskConfig, Topology};
use streams_core::StreamsError;
use streams_ml::{load_document, Model, ModelFormat, ModelRegistry, PredictExt, Prediction, Scoring};

/// The input topic of the scoring topology.
pub const FEATURES_TOPIC: &str = "features";
/// The output topic of the scoring topology.
pub const SCORES_TOPIC: &str = "scores";
/// The name the models are registered under.
pub const MODEL: &str = "bench-model";

const LOGISTIC_JSON: &[u8] = include_bytes!("../../streams-ml/testdata/json/logistic_regression.json");
const FOREST_PMML: &[u8] = include_bytes!("../../streams-ml/testdata/pmml/iris_forest.pmml");
const MLP_ONNX: &[u8] = include_bytes!("../../streams-ml/testdata/onnx/mlp_regressor.onnx");

/// A model of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchModel {
    /// JSON logistic regression.
    Logistic,
    /// PMML random forest (10 trees).
    PmmlForest,
    /// ONNX multi-layer perceptron.
    OnnxMlp,
}

impl BenchModel {
    /// Every model, in report order.
    pub const ALL: [BenchModel; 3] = [BenchModel::Logistic, BenchModel::PmmlForest, BenchModel::OnnxMlp];

    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            BenchModel::Logistic => "logistic",
            BenchModel::PmmlForest => "pmml-forest",
            BenchModel::OnnxMlp => "onnx-mlp",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<BenchModel> {
        BenchModel::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Loads the model.
    pub fn load(self) -> Result<Arc<dyn Model>, StreamsError> {
        let (format, bytes) = match self {
            BenchModel::Logistic => (ModelFormat::JsonLinear, LOGISTIC_JSON),
            BenchModel::PmmlForest => (ModelFormat::Pmml, FOREST_PMML),
            BenchModel::OnnxMlp => (ModelFormat::Onnx, MLP_ONNX),
        };
        load_document(format, MODEL, 1, bytes).map_err(|e| StreamsError::Internal(format!("{}: {e}", self.name())))
    }

    /// Whether the report includes runs with micro-batching.
    pub fn batches(self) -> bool {
        self == BenchModel::OnnxMlp
    }
}

/// Sizes of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlConfig {
    /// Records per throughput pass of the logistic and PMML models.
    pub records: usize,
    /// Records per throughput pass of the ONNX model.
    pub onnx_records: usize,
    /// Records per latency pass.
    pub latency_records: usize,
    /// Records per `add_records` call in the throughput pass.
    pub poll: usize,
    /// Commit after at least this many records.
    pub commit_every: usize,
    /// Batch size of micro-batching.
    pub batch: usize,
    /// Throughput from the thread's on-CPU time instead of wall-clock time.
    pub cpu_clock: bool,
}

impl MlConfig {
    /// The time of a throughput pass, as the configuration says to count it (wall-clock time
    /// when on-CPU time is not readable).
    fn pass_time(&self, timing: Timing) -> Duration {
        match (self.cpu_clock, timing.cpu) {
            (true, Some(cpu)) => cpu,
            _ => timing.wall,
        }
    }
}

impl Default for MlConfig {
    fn default() -> Self {
        MlConfig {
            records: 1_000_000,
            onnx_records: 200_000,
            latency_records: 100_000,
            poll: 1000,
            commit_every: 100_000,
            batch: 64,
            cpu_clock: false,
        }
    }
}

/// How the records are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoringPath {
    /// Through the operator, one model call per record.
    Operator,
    /// Through the operator with micro-batching of this many records.
    OperatorBatched(usize),
    /// `Model::predict` per row.
    Bare,
    /// `Model::predict_batch` per this many rows.
    BareBatched(usize),
}

impl ScoringPath {
    /// The label in the report.
    pub fn label(self) -> String {
        match self {
            ScoringPath::Operator => "operator".into(),
            ScoringPath::OperatorBatched(n) => format!("operator, batches of {n}"),
            ScoringPath::Bare => "bare Model::predict".into(),
            ScoringPath::BareBatched(n) => format!("bare Model::predict_batch({n})"),
        }
    }
}

/// The figures of one model and path.
#[derive(Debug, Clone, PartialEq)]
pub struct MlResult {
    /// The model.
    pub model: BenchModel,
    /// The path.
    pub path: ScoringPath,
    /// Records in the throughput pass.
    pub records: usize,
    /// Time of the throughput pass (wall-clock, or on-CPU with [`MlConfig::cpu_clock`]).
    pub elapsed: Duration,
    /// Median latency per record.
    pub p50: Duration,
    /// 99th percentile of the latency per record.
    pub p99: Duration,
    /// The outputs of the throughput pass (the score of each record, in order).
    pub outputs: Vec<f64>,
}

impl MlResult {
    /// Records per second of the throughput pass.
    pub fn records_per_second(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `n` pseudo-random rows of `width` values in `[-3, 8)` (a fixed linear congruential
/// generator, so every path and every run scores the same rows).
pub fn rows(n: usize, width: usize) -> Vec<Vec<f64>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 11.0 - 3.0
    };
    (0..n).map(|_| (0..width).map(|_| next()).collect()).collect()
}

/// A row of features as little-endian `f64`s.
struct RowSerde;

impl Serde<Vec<f64>> for RowSerde {
    fn serialize(&self, value: &Vec<f64>) -> Result<Vec<u8>, SerdeError> {
        Ok(value.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Vec<f64>, SerdeError> {
        if !bytes.len().is_multiple_of(8) {
            return Err(SerdeError::Custom(format!(
                "a row of f64 takes a multiple of 8 bytes, not {}",
                bytes.len()
            )));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b)
            })
            .collect())
    }
}

/// The number a prediction is reported as: the score, the probability of the last class, or
/// the first value of a vector.
pub fn as_number(prediction: &Prediction) -> f64 {
    match prediction {
        Prediction::Score(s) => *s,
        Prediction::Class(c) => c.probabilities.last().map_or(f64::NAN, |(_, p)| *p),
        Prediction::Vector(v) => v.first().copied().unwrap_or(f64::NAN),
    }
}

/// The scoring topology: features -> `predict` -> the prediction as a number -> scores.
pub fn topology(registry: &Arc<ModelRegistry>, batch: Option<usize>) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let mut scoring = Scoring::new_numeric(registry, MODEL, |_: &Vec<u8>, row: &Vec<f64>, out: &mut Vec<f64>| {
        out.extend_from_slice(row)
    });
    if let Some(n) = batch {
        let n = NonZeroUsize::new(n).ok_or_else(|| StreamsError::Internal("batch size 0".into()))?;
        scoring = scoring.with_batching(n, Duration::from_millis(5));
    }
    builder
        .stream::<Vec<u8>, Vec<f64>>(FEATURES_TOPIC, Consumed::with(Serdes::bytes(), RowSerde))
        .predict(scoring)
        .scored()
        .map_values(|s| s.prediction.as_ref().map_or(f64::NAN, as_number))
        .to(SCORES_TOPIC, Produced::with(Serdes::bytes(), Serdes::f64()));
    builder.build()
}

/// Collects the scores and, in the latency pass, the time each arrived.
#[derive(Default)]
struct ScoreCollector {
    scores: Mutex<(Vec<f64>, Vec<Instant>)>,
    /// Whether to read the clock for each record (the latency pass only).
    timed: AtomicBool,
}

impl ScoreCollector {
    fn take(&self) -> (Vec<f64>, Vec<Instant>) {
        std::mem::take(&mut *self.scores.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl RecordCollector for ScoreCollector {
    fn send(&self, record: ProducerRecord) -> Result<(), StreamsError> {
        let now = self.timed.load(Ordering::Relaxed).then(Instant::now);
        let score = record
            .value
            .as_deref()
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map_or(f64::NAN, f64::from_be_bytes);
        let mut scores = self.scores.lock().unwrap_or_else(PoisonError::into_inner);
        scores.0.push(score);
        scores.1.extend(now);
        Ok(())
    }

    fn partitions_for(&self, _topic: &str) -> Option<i32> {
        Some(1)
    }

    fn flush(&self) -> Result<(), StreamsError> {
        Ok(())
    }
}

fn raw(rows: &[Vec<f64>], first_offset: usize) -> Vec<RawRecord> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let offset = (first_offset + i) as i64;
            RawRecord {
                key: Some(offset.to_be_bytes().to_vec()),
                value: Some(row.iter().flat_map(|x| x.to_le_bytes()).collect()),
                timestamp: 1_700_000_000_000 + offset,
                offset,
                headers: Headers::default(),
            }
        })
        .collect()
}

/// Per-record latencies at the 50th and 99th percentiles.
pub fn percentiles(mut latencies: Vec<Duration>) -> (Duration, Duration) {
    if latencies.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    latencies.sort_unstable();
    let at = |q: usize| latencies[(latencies.len() * q / 100).min(latencies.len() - 1)];
    (at(50), at(99))
}

/// Runs `model` through the operator: the throughput pass over `rows`, then the latency pass
/// over the first `latency_records` of them.
fn run_operator(
    model: &Arc<dyn Model>,
    batch: Option<usize>,
    rows: &[Vec<f64>],
    config: &MlConfig,
) -> Result<(Duration, Vec<f64>, Vec<Duration>), StreamsError> {
    let registry = Arc::new(ModelRegistry::new());
    registry.install(Arc::clone(model));
    let topology = topology(&registry, batch)?;
    let collector = Arc::new(ScoreCollector::default());
    let task_config = TaskConfig::new("ml-bench", Arc::clone(&collector) as Arc<dyn RecordCollector>);
    let id = TaskId {
        subtopology: 0,
        partition: 0,
    };

    // Throughput: polls of `poll` records, built before the clock starts.
    let mut task = topology.create_task(id, &task_config)?;
    task.initialize()?;
    let polls: Vec<Vec<RawRecord>> = rows
        .chunks(config.poll.max(1))
        .enumerate()
        .map(|(i, chunk)| raw(chunk, i * config.poll.max(1)))
        .collect();
    let timer = Timer::start();
    let mut since_commit = 0;
    for poll in polls {
        since_commit += poll.len();
        task.add_records(FEATURES_TOPIC, poll)?;
        task.process_all()?;
        if since_commit >= config.commit_every {
            task.commit()?;
            since_commit = 0;
        }
    }
    task.commit()?;
    let elapsed = config.pass_time(timer.elapsed());
    task.close()?;
    let (outputs, _) = collector.take();

    // Latency: one record per poll.
    collector.timed.store(true, Ordering::Relaxed);
    let latency_rows = &rows[..config.latency_records.min(rows.len())];
    let mut task = topology.create_task(id, &task_config)?;
    task.initialize()?;
    let records = raw(latency_rows, 0);
    let mut added = Vec::with_capacity(records.len());
    for record in records {
        added.push(Instant::now());
        task.add_records(FEATURES_TOPIC, [record])?;
        task.process_all()?;
    }
    task.commit()?;
    task.close()?;
    let (_, arrived) = collector.take();
    let latencies = added
        .iter()
        .zip(&arrived)
        .map(|(a, b)| b.saturating_duration_since(*a))
        .collect();
    Ok((elapsed, outputs, latencies))
}

/// Scores `rows` by calling the model directly: the throughput pass, then the latency pass
/// over the first `latency_records` rows.
fn run_bare(
    model: &Arc<dyn Model>,
    batch: Option<usize>,
    rows: &[Vec<f64>],
    config: &MlConfig,
) -> (Duration, Vec<f64>, Vec<Duration>) {
    let score = |r: &Result<Prediction, streams_ml::ModelError>| r.as_ref().map_or(f64::NAN, as_number);
    let mut outputs = Vec::with_capacity(rows.len());
    let timer = Timer::start();
    match batch {
        None => outputs.extend(rows.iter().map(|row| score(&model.predict(row)))),
        Some(n) => {
            for chunk in rows.chunks(n.max(1)) {
                outputs.extend(model.predict_batch(chunk).iter().map(score));
            }
        }
    }
    let elapsed = config.pass_time(timer.elapsed());
    let latency_rows = &rows[..config.latency_records.min(rows.len())];
    let mut latencies = Vec::with_capacity(latency_rows.len());
    match batch {
        None => {
            for row in latency_rows {
                let start = Instant::now();
                std::hint::black_box(model.predict(row).ok());
                latencies.push(start.elapsed());
            }
        }
        Some(n) => {
            for chunk in latency_rows.chunks(n.max(1)) {
                let start = Instant::now();
                std::hint::black_box(model.predict_batch(chunk));
                let took = start.elapsed();
                latencies.extend(std::iter::repeat_n(took, chunk.len()));
            }
        }
    }
    (elapsed, outputs, latencies)
}

/// Runs every path of `model`.
pub fn run_model(model_kind: BenchModel, config: &MlConfig) -> Result<Vec<MlResult>, StreamsError> {
    let model = model_kind.load()?;
    let records = match model_kind {
        BenchModel::OnnxMlp => config.onnx_records,
        _ => config.records,
    };
    let rows = rows(records, model.inputs().len());
    let mut paths = vec![ScoringPath::Operator, ScoringPath::Bare];
    if model_kind.batches() {
        paths.insert(1, ScoringPath::OperatorBatched(config.batch));
        paths.push(ScoringPath::BareBatched(config.batch));
    }
    let mut results = Vec::new();
    for path in paths {
        let (elapsed, outputs, latencies) = match path {
            ScoringPath::Operator => run_operator(&model, None, &rows, config)?,
            ScoringPath::OperatorBatched(n) => run_operator(&model, Some(n), &rows, config)?,
            ScoringPath::Bare => run_bare(&model, None, &rows, config),
            ScoringPath::BareBatched(n) => run_bare(&model, Some(n), &rows, config),
        };
        let (p50, p99) = percentiles(latencies);
        results.push(MlResult {
            model: model_kind,
            path,
            records,
            elapsed,
            p50,
            p99,
            outputs,
        });
    }
    Ok(results)
}

/// Whether every path of a model gave the same scores as its bare `Model::predict` (within
/// 1e-5, for batched float runs), and the first difference otherwise.
pub fn check(results: &[MlResult]) -> Result<(), String> {
    for result in results {
        let Some(reference) = results
            .iter()
            .find(|r| r.model == result.model && r.path == ScoringPath::Bare)
        else {
            continue;
        };
        if result.outputs.len() != reference.outputs.len() {
            return Err(format!(
                "{} {}: {} outputs, bare predict gave {}",
                result.model.name(),
                result.path.label(),
                result.outputs.len(),
                reference.outputs.len()
            ));
        }
        let tolerance = match result.path {
            ScoringPath::OperatorBatched(_) | ScoringPath::BareBatched(_) => 1e-5,
            _ => 0.0,
        };
        if let Some((i, (a, b))) = result
            .outputs
            .iter()
            .zip(&reference.outputs)
            .enumerate()
            .find(|(_, (a, b))| !((*a - *b).abs() <= tolerance || (a.is_nan() && b.is_nan())))
        {
            return Err(format!(
                "{} {}: record {i} scored {a}, bare predict {b}",
                result.model.name(),
                result.path.label()
            ));
        }
    }
    Ok(())
}

/// The report table.
pub fn report(results: &[MlResult]) -> String {
    let micros = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e6);
    let mut rows = vec![[
        "model".to_owned(),
        "path".to_owned(),
        "records".to_owned(),
        "seconds".to_owned(),
        "records/s".to_owned(),
        "p50 µs".to_owned(),
        "p99 µs".to_owned(),
    ]];
    for r in results {
        rows.push([
            r.model.name().to_owned(),
            r.path.label(),
            r.records.to_string(),
            format!("{:.3}", r.elapsed.as_secs_f64()),
            format!("{:.0}", r.records_per_second()),
            micros(r.p50),
            micros(r.p99),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c < 2 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every model and path runs on a few records (debug build), and the operator's scores
    /// are the bare model's, batched or not.
    #[test]
    fn every_path_runs_and_agrees_with_the_bare_model() {
        let config = MlConfig {
            records: 2_500,
            onnx_records: 700,
            latency_records: 300,
            poll: 256,
            commit_every: 1000,
            batch: 16,
            cpu_clock: false,
        };
        let mut all = Vec::new();
        for model in BenchModel::ALL {
            let results = run_model(model, &config).unwrap();
            let expected_paths = if model.batches() { 4 } else { 2 };
            assert_eq!(results.len(), expected_paths, "{model:?}");
            for r in &results {
                assert_eq!(r.outputs.len(), r.records, "{model:?} {:?}", r.path);
                assert!(r.outputs.iter().all(|x| x.is_finite()), "{model:?} {:?}", r.path);
                assert!(r.p50 <= r.p99 && r.elapsed > Duration::ZERO);
            }
            all.extend(results);
        }
        check(&all).unwrap();
        let table = report(&all);
        assert_eq!(table.lines().count(), 1 + 2 + 2 + 4, "{table}");
        assert!(table.contains("onnx-mlp     operator, batches of 16"), "{table}");
    }

    #[test]
    fn percentiles_pick_the_ranked_values() {
        let ms = |n: u64| Duration::from_millis(n);
        assert_eq!(percentiles((1..=100).rev().map(ms).collect()), (ms(51), ms(100)));
        assert_eq!(percentiles(vec![ms(3)]), (ms(3), ms(3)));
        assert_eq!(percentiles(Vec::new()), (Duration::ZERO, Duration::ZERO));
    }
}
