//! The scoring operator: [`PredictExt::predict`] on a `KStream`.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use streams_core::dsl::{KStream, Named};
use streams_core::processor::{Headers, Processor, ProcessorContext, PunctuationType, Record, Schedule};
use streams_core::StreamsError;

use crate::metrics::ScoringMetrics;
use crate::{FeatureValue, Features, Model, ModelError, ModelRegistry, Prediction};

/// Header carrying the name of the model that scored a record.
pub const MODEL_NAME_HEADER: &str = "model.name";
/// Header carrying the version (decimal) of the model that scored a record.
pub const MODEL_VERSION_HEADER: &str = "model.version";

/// The scoring operator times one single-record model call in this many (the first, then
/// every this many after it, per task); batch calls are always timed.
pub const LATENCY_SAMPLE_INTERVAL: u64 = 16;

/// The features of one record, as the features function extracts them.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureVector {
    /// Numbers in the model's input order ([`Model::predict`]).
    Numbers(Vec<f64>),
    /// Values in the model's input order ([`Model::predict_values`]).
    Values(Vec<FeatureValue>),
    /// Named values ([`Model::predict_named`]): the model picks the ones it uses.
    Named(Features),
}

impl From<Vec<f64>> for FeatureVector {
    fn from(v: Vec<f64>) -> Self {
        FeatureVector::Numbers(v)
    }
}

impl From<Vec<FeatureValue>> for FeatureVector {
    fn from(v: Vec<FeatureValue>) -> Self {
        FeatureVector::Values(v)
    }
}

impl From<Features> for FeatureVector {
    fn from(f: Features) -> Self {
        FeatureVector::Named(f)
    }
}

impl FeatureVector {
    /// Scores these features with `model`.
    pub fn score(&self, model: &dyn Model) -> Result<Prediction, ModelError> {
        match self {
            FeatureVector::Numbers(v) => model.predict(v),
            FeatureVector::Values(v) => model.predict_values(v),
            FeatureVector::Named(f) => model.predict_named(f),
        }
    }

    /// The features as numbers in `model`'s input order, when they all are numbers.
    fn numbers(&self, model: &dyn Model) -> Option<Vec<f64>> {
        let numeric = |values: &[FeatureValue]| {
            values
                .iter()
                .map(|v| match v {
                    FeatureValue::Number(x) => Some(*x),
                    _ => None,
                })
                .collect()
        };
        match self {
            FeatureVector::Numbers(v) => Some(v.clone()),
            FeatureVector::Values(v) => numeric(v),
            FeatureVector::Named(f) => numeric(&f.to_values(model.inputs())),
        }
    }
}

/// What the scoring operator does with a record while no model of its name is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoModelPolicy {
    /// Drop the record (counted, and as a dropped record of the task).
    Drop,
    /// Emit it unscored (`prediction: None`, no model headers).
    PassThrough,
    /// Keep up to `capacity` records in arrival order and score them when a model arrives.
    /// The oldest record of a full buffer is emitted unscored; so is what is still held when
    /// the task commits, so that no record is held past the offsets being committed (held
    /// records wait at most one commit interval). Both are counted.
    Hold {
        /// How many records to hold at most.
        capacity: NonZeroUsize,
    },
}

/// A model's name and version, as carried by its outputs. Cloning it is cheap (the name is
/// shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// The model's name.
    pub name: Arc<str>,
    /// The model's version.
    pub version: u64,
}

impl ModelRef {
    fn of(model: &dyn Model) -> Self {
        ModelRef {
            name: Arc::from(model.name()),
            version: model.version(),
        }
    }
}

/// A record of the main output: the input value with its prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored<V> {
    /// The input value.
    pub value: V,
    /// The prediction; `None` when the record passed through without a model.
    pub prediction: Option<Prediction>,
    /// The model that scored it.
    pub model: Option<ModelRef>,
}

/// A record of the errors output: the model could not score it (wrong or missing features).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringFailure<V> {
    /// The input value.
    pub value: V,
    /// The model that rejected it.
    pub model: ModelRef,
    /// Why.
    pub error: ModelError,
}

/// A record of the shadow output: what the candidate model says about a record the operator
/// emitted, next to what the serving model said.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowScore<V> {
    /// The input value.
    pub value: V,
    /// The serving model, when one scored the record.
    pub model: Option<ModelRef>,
    /// The serving model's prediction (`None`: no model, or it failed).
    pub prediction: Option<Prediction>,
    /// The candidate model.
    pub candidate: ModelRef,
    /// The candidate's prediction or error.
    pub candidate_prediction: Result<Prediction, ModelError>,
}

/// What the scoring processor forwards; [`Predictions`] splits it into streams.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoringOutput<V> {
    /// For the main output.
    Scored(Scored<V>),
    /// For the errors output.
    Failed(ScoringFailure<V>),
    /// For the shadow output.
    Shadow(ShadowScore<V>),
}

/// How the features of a record are extracted.
enum FeaturesFn<K, V> {
    /// Returned by the function.
    Returned(Arc<dyn Fn(&K, &V) -> FeatureVector + Send + Sync>),
    /// Numbers written by the function into a buffer the operator reuses.
    Written(Arc<dyn Fn(&K, &V, &mut Vec<f64>) + Send + Sync>),
}

/// How a stream is scored: the registry and model name, the features function, and the
/// options. Give it to [`PredictExt::predict`].
pub struct Scoring<K, V> {
    registry: Arc<ModelRegistry>,
    model: String,
    candidate: Option<String>,
    features: FeaturesFn<K, V>,
    no_model: NoModelPolicy,
    batch: Option<(NonZeroUsize, Duration)>,
    hold_poll: Duration,
    metrics: Arc<ScoringMetrics>,
}

impl<K, V> Scoring<K, V> {
    /// Scores each record with the model `model` of `registry`, on the features `features`
    /// extracts (a `Vec<f64>`, a `Vec<FeatureValue>` or [`Features`]). Defaults: records are
    /// passed through unscored while no model is loaded, no batching, no shadow.
    pub fn new<X: Into<FeatureVector>>(
        registry: &Arc<ModelRegistry>,
        model: impl Into<String>,
        features: impl Fn(&K, &V) -> X + Send + Sync + 'static,
    ) -> Self {
        Self::with_features(
            registry,
            model.into(),
            FeaturesFn::Returned(Arc::new(move |k, v| features(k, v).into())),
        )
    }

    /// [`new`](Self::new) for numeric features that `features` appends, in the model's input
    /// order, to the vector it is given (empty at each call) instead of returning them: the
    /// operator reuses one vector, so extracting the features of a record scored at once
    /// allocates nothing. Records held for a batch or a model keep a vector of their own.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use streams_ml::{ModelRegistry, Scoring};
    ///
    /// let registry = Arc::new(ModelRegistry::new());
    /// let scoring = Scoring::new_numeric(&registry, "orders", |_id: &String, units: &f64, out: &mut Vec<f64>| {
    ///     out.push(*units)
    /// });
    /// # drop(scoring);
    /// ```
    pub fn new_numeric(
        registry: &Arc<ModelRegistry>,
        model: impl Into<String>,
        features: impl Fn(&K, &V, &mut Vec<f64>) + Send + Sync + 'static,
    ) -> Self {
        Self::with_features(registry, model.into(), FeaturesFn::Written(Arc::new(features)))
    }

    fn with_features(registry: &Arc<ModelRegistry>, model: String, features: FeaturesFn<K, V>) -> Self {
        Scoring {
            registry: Arc::clone(registry),
            model,
            candidate: None,
            features,
            no_model: NoModelPolicy::PassThrough,
            batch: None,
            hold_poll: Duration::from_millis(100),
            metrics: Arc::new(ScoringMetrics::default()),
        }
    }

    /// What to do while no model is loaded.
    pub fn with_no_model(mut self, policy: NoModelPolicy) -> Self {
        self.no_model = policy;
        self
    }

    /// Scores up to `max_records` records per call to the model ([`Model::predict_batch`]),
    /// waiting at most `max_latency` of wall-clock time (at least 1 ms) for a batch to fill;
    /// a batch is also scored when the task commits. Output order is input order, and all
    /// records of a batch are scored by the model serving when the batch is scored.
    pub fn with_batching(mut self, max_records: NonZeroUsize, max_latency: Duration) -> Self {
        self.batch = Some((max_records, max_latency));
        self
    }

    /// Also scores every emitted record with the candidate model `candidate` (from the same
    /// registry) and sends the comparison to the shadow output; the main output is unchanged.
    pub fn with_shadow(mut self, candidate: impl Into<String>) -> Self {
        self.candidate = Some(candidate.into());
        self
    }

    /// How often (wall-clock) held records check for a model when no record arrives
    /// (default 100 ms).
    pub fn with_hold_poll_interval(mut self, interval: Duration) -> Self {
        self.hold_poll = interval;
        self
    }

    /// The operator's counters and latency histogram, shared by all its tasks.
    pub fn metrics(&self) -> Arc<ScoringMetrics> {
        Arc::clone(&self.metrics)
    }
}

/// The outputs of [`PredictExt::predict`]. Each accessor adds a node splitting its part out
/// of [`events`](Self::events): call it once and keep the stream.
pub struct Predictions<K, V> {
    events: KStream<K, ScoringOutput<V>>,
    metrics: Arc<ScoringMetrics>,
}

impl<K: Clone + 'static, V: Clone + 'static> Predictions<K, V> {
    /// The main output: every record scored (or passed through without a model), in input
    /// order, with headers [`MODEL_NAME_HEADER`] and [`MODEL_VERSION_HEADER`] when scored.
    pub fn scored(&self) -> KStream<K, Scored<V>> {
        self.events.flat_map_values(|e| match e {
            ScoringOutput::Scored(s) => Some(s),
            _ => None,
        })
    }

    /// The records the model could not score, with the error; they are not on the main
    /// output.
    pub fn errors(&self) -> KStream<K, ScoringFailure<V>> {
        self.events.flat_map_values(|e| match e {
            ScoringOutput::Failed(f) => Some(f),
            _ => None,
        })
    }

    /// The shadow output (empty without [`Scoring::with_shadow`]), with the candidate's
    /// name and version as headers.
    pub fn shadow(&self) -> KStream<K, ShadowScore<V>> {
        self.events.flat_map_values(|e| match e {
            ScoringOutput::Shadow(s) => Some(s),
            _ => None,
        })
    }

    /// Everything the operator emits, in order: a record's main or error output, then its
    /// shadow output.
    pub fn events(&self) -> KStream<K, ScoringOutput<V>> {
        self.events.clone()
    }

    /// The operator's metrics (the same handle as [`Scoring::metrics`]).
    pub fn metrics(&self) -> Arc<ScoringMetrics> {
        Arc::clone(&self.metrics)
    }
}

/// Scoring on a `KStream`.
///
/// ```
/// use std::sync::Arc;
/// use streams_core::dsl::{Consumed, StreamsBuilder};
/// use streams_core::serde::Serdes;
/// use streams_ml::{ModelEnvelope, ModelFormat, ModelRegistry, PredictExt, Scoring};
///
/// let registry = Arc::new(ModelRegistry::new());
/// let doc = br#"{"model_type": "logistic", "features": ["x"], "coefficients": [10.0], "intercept": 2.0}"#;
/// registry.load("orders", &ModelEnvelope::new(ModelFormat::JsonLinear, 1, doc.to_vec()).to_bytes())?;
///
/// let builder = StreamsBuilder::new();
/// let orders = builder.stream::<String, f64>("orders", Consumed::with(Serdes::string(), Serdes::f64()));
/// let scoring = Scoring::new(&registry, "orders", |_id: &String, units: &f64| vec![*units]);
/// let metrics = scoring.metrics();
/// let predictions = orders.predict(scoring);
/// predictions
///     .scored()
///     .map_values(|s| s.prediction.and_then(|p| p.probability("1")).unwrap_or(f64::NAN))
///     .to("scores", streams_core::dsl::Produced::with(Serdes::string(), Serdes::f64()));
///
/// let driver = testkit::TopologyTestDriver::new(builder.build()?)?;
/// let input = driver.create_input_topic::<String, f64>("orders", Serdes::string(), Serdes::f64());
/// let output = driver.create_output_topic::<String, f64>("scores", Serdes::string(), Serdes::f64());
/// input.pipe_input_at("o1".into(), 0.0, 1)?;
/// assert_eq!(output.read_value()?, Some(1.0 / (1.0 + (-2.0f64).exp())));
/// assert_eq!(metrics.snapshot().predictions, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait PredictExt<K, V> {
    /// Scores each record as `scoring` says; see [`Predictions`] for the outputs.
    fn predict(&self, scoring: Scoring<K, V>) -> Predictions<K, V>;

    /// [`predict`](Self::predict) with a name for the scoring processor.
    fn predict_named(&self, named: Named, scoring: Scoring<K, V>) -> Predictions<K, V>;
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> PredictExt<K, V> for KStream<K, V> {
    fn predict(&self, scoring: Scoring<K, V>) -> Predictions<K, V> {
        predict_impl(self, None, scoring)
    }

    fn predict_named(&self, named: Named, scoring: Scoring<K, V>) -> Predictions<K, V> {
        predict_impl(self, Some(named), scoring)
    }
}

fn predict_impl<K: Clone + Send + 'static, V: Clone + Send + 'static>(
    stream: &KStream<K, V>,
    named: Option<Named>,
    scoring: Scoring<K, V>,
) -> Predictions<K, V> {
    let metrics = scoring.metrics();
    let scoring = Arc::new(scoring);
    let supplier = move || ScoringProcessor::new(Arc::clone(&scoring));
    let events = match named {
        Some(named) => stream.process_named(named, supplier, &[]),
        None => stream.process(supplier, &[]),
    };
    Predictions { events, metrics }
}

struct Pending<K, V> {
    record: Record<K, V>,
    features: FeatureVector,
    held: bool,
}

/// The processor behind [`PredictExt::predict`].
struct ScoringProcessor<K, V> {
    scoring: Arc<Scoring<K, V>>,
    generation: Option<u64>,
    model: Option<Arc<dyn Model>>,
    candidate: Option<Arc<dyn Model>>,
    pending: VecDeque<Pending<K, V>>,
    /// The [`ModelRef`] and model headers of the model that scored last, built once per model
    /// instead of once per record.
    last_ref: Option<ModelOutput>,
    /// Single-record model calls so far, for sampling their latency.
    single_calls: u64,
    /// The vector [`Scoring::new_numeric`]'s function writes into, kept between records.
    numbers: Vec<f64>,
}

/// What the records a model scores carry: its [`ModelRef`] and the headers naming it.
struct ModelOutput {
    model: Arc<dyn Model>,
    model_ref: ModelRef,
    /// [`MODEL_NAME_HEADER`] and [`MODEL_VERSION_HEADER`] of the model, shared by the records
    /// that had no headers before.
    headers: Headers,
}

type Ctx<'a, K, V> = ProcessorContext<'a, K, ScoringOutput<V>>;

fn set_model_headers(headers: &mut Headers, model: Option<&ModelRef>) {
    headers.remove(MODEL_NAME_HEADER).remove(MODEL_VERSION_HEADER);
    if let Some(model) = model {
        headers
            .add(MODEL_NAME_HEADER, model.name.as_bytes())
            .add(MODEL_VERSION_HEADER, model.version.to_string());
    }
}

/// [`set_model_headers`] with the model's headers already built: a record without headers
/// shares them.
fn set_built_model_headers(headers: &mut Headers, output: &ModelOutput) {
    if headers.is_empty() {
        *headers = output.headers.clone();
    } else {
        set_model_headers(headers, Some(&output.model_ref));
    }
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> ScoringProcessor<K, V> {
    fn new(scoring: Arc<Scoring<K, V>>) -> Self {
        ScoringProcessor {
            scoring,
            generation: None,
            model: None,
            candidate: None,
            pending: VecDeque::new(),
            last_ref: None,
            single_calls: 0,
            numbers: Vec::new(),
        }
    }

    /// What `model`'s records carry, reusing the last one while the same model instance
    /// scores.
    fn model_output(&mut self, model: &Arc<dyn Model>) -> &ModelOutput {
        let output = match self.last_ref.take() {
            Some(last) if Arc::ptr_eq(&last.model, model) => last,
            _ => {
                let model_ref = ModelRef::of(&**model);
                let mut headers = Headers::new();
                set_model_headers(&mut headers, Some(&model_ref));
                ModelOutput {
                    model: Arc::clone(model),
                    model_ref,
                    headers,
                }
            }
        };
        self.last_ref.insert(output)
    }

    fn metrics(&self) -> &ScoringMetrics {
        &self.scoring.metrics
    }

    /// Picks up models installed or removed since the last record.
    fn refresh(&mut self) {
        let registry = &self.scoring.registry;
        let generation = registry.generation();
        if self.generation != Some(generation) {
            self.model = registry.get(&self.scoring.model);
            self.candidate = self.scoring.candidate.as_deref().and_then(|c| registry.get(c));
            self.generation = Some(generation);
        }
    }

    fn drain(&mut self, ctx: &mut Ctx<'_, K, V>, flush_batch: bool, expire_held: bool) -> Result<(), StreamsError> {
        self.refresh();
        match self.model.clone() {
            Some(model) => {
                let size = self.scoring.batch.map_or(1, |(size, _)| size.get());
                if self.scoring.batch.is_some() && !flush_batch && self.pending.len() < size {
                    return Ok(());
                }
                while !self.pending.is_empty() {
                    let n = size.min(self.pending.len());
                    let chunk: Vec<Pending<K, V>> = self.pending.drain(..n).collect();
                    self.score_chunk(chunk, &model, ctx)?;
                }
            }
            None => match self.scoring.no_model {
                NoModelPolicy::Drop => {
                    while self.pending.pop_front().is_some() {
                        self.metrics().add(&self.metrics().no_model_dropped, 1);
                        ctx.record_dropped();
                    }
                }
                NoModelPolicy::PassThrough => {
                    while let Some(p) = self.pending.pop_front() {
                        self.metrics().add(&self.metrics().no_model_passed, 1);
                        self.emit_unscored(p, ctx)?;
                    }
                }
                NoModelPolicy::Hold { capacity } => {
                    let mut newly_held = 0;
                    for p in self.pending.iter_mut().filter(|p| !p.held) {
                        p.held = true;
                        newly_held += 1;
                    }
                    self.metrics().add(&self.metrics().no_model_held, newly_held);
                    while self.pending.len() > capacity.get() || (expire_held && !self.pending.is_empty()) {
                        let Some(p) = self.pending.pop_front() else { break };
                        self.metrics().add(&self.metrics().held_released_unscored, 1);
                        self.emit_unscored(p, ctx)?;
                    }
                }
            },
        }
        Ok(())
    }

    fn score_chunk(
        &mut self,
        chunk: Vec<Pending<K, V>>,
        model: &Arc<dyn Model>,
        ctx: &mut Ctx<'_, K, V>,
    ) -> Result<(), StreamsError> {
        if chunk.len() == 1 {
            for p in chunk {
                self.score_one(p.record, &p.features, model, ctx)?;
            }
            return Ok(());
        }
        let rows: Vec<Option<Vec<f64>>> = chunk.iter().map(|p| p.features.numbers(&**model)).collect();
        let start = Instant::now();
        let numeric: Vec<Vec<f64>> = rows.iter().flatten().cloned().collect();
        let mut batched = model.predict_batch(&numeric).into_iter();
        let results: Vec<Result<Prediction, ModelError>> = chunk
            .iter()
            .zip(&rows)
            .map(|(p, row)| match row {
                Some(_) => batched
                    .next()
                    .unwrap_or_else(|| Err(ModelError::Evaluation("the batch returned too few results".into()))),
                None => p.features.score(&**model),
            })
            .collect();
        self.metrics().latency.observe(start.elapsed());
        self.metrics().add(&self.metrics().batches, 1);
        for (p, result) in chunk.into_iter().zip(results) {
            self.emit(p.record, &p.features, model, result, ctx)?;
        }
        Ok(())
    }

    fn score_one(
        &mut self,
        record: Record<K, V>,
        features: &FeatureVector,
        model: &Arc<dyn Model>,
        ctx: &mut Ctx<'_, K, V>,
    ) -> Result<(), StreamsError> {
        let timed = self.single_calls.is_multiple_of(LATENCY_SAMPLE_INTERVAL);
        self.single_calls = self.single_calls.wrapping_add(1);
        let start = timed.then(Instant::now);
        let result = features.score(&**model);
        if let Some(start) = start {
            self.metrics().latency.observe(start.elapsed());
        }
        self.emit(record, features, model, result, ctx)
    }

    fn emit(
        &mut self,
        record: Record<K, V>,
        features: &FeatureVector,
        model: &Arc<dyn Model>,
        result: Result<Prediction, ModelError>,
        ctx: &mut Ctx<'_, K, V>,
    ) -> Result<(), StreamsError> {
        let shadow = self
            .scoring
            .candidate
            .is_some()
            .then(|| (record.key.clone(), record.value.clone(), record.headers.clone()));
        let primary = shadow.as_ref().and_then(|_| result.as_ref().ok().cloned());
        let mut record = record;
        let output = self.model_output(model);
        set_built_model_headers(&mut record.headers, output);
        let model_ref = output.model_ref.clone();
        let shadow_ref = shadow.as_ref().map(|_| model_ref.clone());
        let timestamp = record.timestamp;
        match result {
            Ok(prediction) => {
                self.metrics().add(&self.metrics().predictions, 1);
                ctx.forward(record.map_value(|value| {
                    ScoringOutput::Scored(Scored {
                        value,
                        prediction: Some(prediction),
                        model: Some(model_ref),
                    })
                }))?;
            }
            Err(error) => {
                self.metrics().add(&self.metrics().errors, 1);
                tracing::warn!(model = %model_ref.name, version = model_ref.version, %error,
                    "record could not be scored; sent to the errors output");
                ctx.forward(record.map_value(|value| {
                    ScoringOutput::Failed(ScoringFailure {
                        value,
                        model: model_ref,
                        error,
                    })
                }))?;
            }
        }
        if let Some((key, value, headers)) = shadow {
            self.emit_shadow(key, value, headers, timestamp, features, shadow_ref, primary, ctx)?;
        }
        Ok(())
    }

    fn emit_unscored(&mut self, p: Pending<K, V>, ctx: &mut Ctx<'_, K, V>) -> Result<(), StreamsError> {
        let Pending {
            mut record, features, ..
        } = p;
        let shadow = self
            .scoring
            .candidate
            .is_some()
            .then(|| (record.key.clone(), record.value.clone(), record.headers.clone()));
        set_model_headers(&mut record.headers, None);
        let timestamp = record.timestamp;
        ctx.forward(record.map_value(|value| {
            ScoringOutput::Scored(Scored {
                value,
                prediction: None,
                model: None,
            })
        }))?;
        if let Some((key, value, headers)) = shadow {
            self.emit_shadow(key, value, headers, timestamp, &features, None, None, ctx)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_shadow(
        &mut self,
        key: K,
        value: V,
        mut headers: Headers,
        timestamp: i64,
        features: &FeatureVector,
        model: Option<ModelRef>,
        prediction: Option<Prediction>,
        ctx: &mut Ctx<'_, K, V>,
    ) -> Result<(), StreamsError> {
        let Some(candidate) = self.candidate.clone() else {
            self.metrics().add(&self.metrics().shadow_no_model, 1);
            return Ok(());
        };
        let candidate_prediction = features.score(&*candidate);
        let counter = match candidate_prediction {
            Ok(_) => &self.metrics().shadow_predictions,
            Err(_) => &self.metrics().shadow_errors,
        };
        self.metrics().add(counter, 1);
        let candidate_ref = ModelRef::of(&*candidate);
        set_model_headers(&mut headers, Some(&candidate_ref));
        let shadow = ShadowScore {
            value,
            model,
            prediction,
            candidate: candidate_ref,
            candidate_prediction,
        };
        ctx.forward(Record::new(key, ScoringOutput::Shadow(shadow), timestamp).with_headers(headers))
    }
}

trait MapValue<K, V> {
    fn map_value<V2>(self, f: impl FnOnce(V) -> V2) -> Record<K, V2>;
}

impl<K, V> MapValue<K, V> for Record<K, V> {
    fn map_value<V2>(self, f: impl FnOnce(V) -> V2) -> Record<K, V2> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = self;
        Record {
            key,
            value: f(value),
            timestamp,
            headers,
        }
    }
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> Processor<K, V, K, ScoringOutput<V>>
    for ScoringProcessor<K, V>
{
    fn init(&mut self, ctx: &mut Ctx<'_, K, V>) -> Result<(), StreamsError> {
        let interval = match (self.scoring.batch, self.scoring.no_model) {
            (Some((_, latency)), _) => Some(latency),
            (None, NoModelPolicy::Hold { .. }) => Some(self.scoring.hold_poll),
            _ => None,
        };
        if let Some(interval) = interval {
            ctx.schedule(interval, PunctuationType::WallClockTime)?;
        }
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut Ctx<'_, K, V>) -> Result<(), StreamsError> {
        let (features, reuse) = match &self.scoring.features {
            FeaturesFn::Returned(extract) => (extract(&record.key, &record.value), false),
            FeaturesFn::Written(extract) => {
                let mut numbers = std::mem::take(&mut self.numbers);
                numbers.clear();
                extract(&record.key, &record.value, &mut numbers);
                (FeatureVector::Numbers(numbers), true)
            }
        };
        self.refresh();
        if self.pending.is_empty() && self.scoring.batch.is_none() {
            // The model is lent out for the call instead of cloned (nothing the call reaches
            // changes it).
            if let Some(model) = self.model.take() {
                let result = self.score_one(record, &features, &model, ctx);
                self.model = Some(model);
                if let (true, FeatureVector::Numbers(numbers)) = (reuse, features) {
                    self.numbers = numbers;
                }
                return result;
            }
        }
        self.pending.push_back(Pending {
            record,
            features,
            held: false,
        });
        self.drain(ctx, false, false)
    }

    fn punctuate(&mut self, _: Schedule, _: i64, ctx: &mut Ctx<'_, K, V>) -> Result<(), StreamsError> {
        self.drain(ctx, true, false)
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, K, V>) -> Result<(), StreamsError> {
        self.drain(ctx, true, true)
    }

    fn close(&mut self) {
        if !self.pending.is_empty() {
            tracing::warn!(records = self.pending.len(), model = %self.scoring.model,
                "scoring operator closed with records pending");
        }
    }
}
