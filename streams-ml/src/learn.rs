//! Learning on the stream: [`LearnExt::learn`] trains SGD models from labelled records and
//! publishes new versions for the model topic.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streams_core::dsl::{KStream, Named};
use streams_core::processor::{KeyValueStoreHandle, Processor, ProcessorContext, PunctuationType, Record, Schedule};
use streams_core::serde::Serdes;
use streams_core::state::{StoreBuilder, Stores};
use streams_core::StreamsError;

use crate::predict::FeatureVector;
use crate::{FeatureValue, ModelEnvelope, ModelError, ModelFormat, SgdConfig, SgdLearner};

/// A training example: features and label (0 or 1 for logistic regression).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledExample {
    /// The features, in the learner's feature order or named.
    pub features: FeatureVector,
    /// The label.
    pub label: f64,
}

impl LabelledExample {
    /// An example from features and a label.
    pub fn new(features: impl Into<FeatureVector>, label: f64) -> Self {
        LabelledExample {
            features: features.into(),
            label,
        }
    }
}

/// Live counters of a learning operator.
#[derive(Debug, Default)]
pub struct LearningMetrics {
    examples: AtomicU64,
    rejected: AtomicU64,
    published: AtomicU64,
}

/// The values of a learning operator's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearningMetricsSnapshot {
    /// Examples learned.
    pub examples: u64,
    /// Examples rejected (wrong features or label), skipped and logged.
    pub rejected: u64,
    /// Model versions published.
    pub published: u64,
}

impl LearningMetrics {
    /// The current values.
    pub fn snapshot(&self) -> LearningMetricsSnapshot {
        LearningMetricsSnapshot {
            examples: self.examples.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
        }
    }
}

/// How a stream of labelled records keyed by model name is learned: the learner's features
/// and settings, where its state lives, and when it publishes.
pub struct OnlineLearning<V> {
    store: String,
    features: Vec<String>,
    config: SgdConfig,
    example: Arc<dyn Fn(&V) -> LabelledExample + Send + Sync>,
    every_records: Option<NonZeroU64>,
    interval: Option<Duration>,
    first_version: u64,
    metrics: Arc<LearningMetrics>,
}

impl<V> OnlineLearning<V> {
    /// Learns models over `features` with `config`, keeping each model's learner in the
    /// store `store` (add it with [`store_builder`](Self::store_builder)); `example`
    /// extracts each record's features and label. Publishes nothing until told when.
    pub fn new(
        store: impl Into<String>,
        features: Vec<String>,
        config: SgdConfig,
        example: impl Fn(&V) -> LabelledExample + Send + Sync + 'static,
    ) -> Self {
        OnlineLearning {
            store: store.into(),
            features,
            config,
            example: Arc::new(example),
            every_records: None,
            interval: None,
            first_version: 1,
            metrics: Arc::new(LearningMetrics::default()),
        }
    }

    /// Publishes a model's new version after every `n` examples it learned.
    pub fn publish_every_records(mut self, n: NonZeroU64) -> Self {
        self.every_records = Some(n);
        self
    }

    /// Publishes, every `interval` of wall-clock time, the models that learned since their
    /// last version.
    pub fn publish_every(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// The version of a model's first publication (default 1); later ones count up from it.
    pub fn first_version(mut self, version: u64) -> Self {
        self.first_version = version;
        self
    }

    /// The logged store the learners live in (`model name -> learner state`), cached so
    /// that its changelog gets one record per model per commit.
    pub fn store_builder(&self) -> StoreBuilder<String, Vec<u8>> {
        Stores::key_value_store_builder::<String, Vec<u8>>(
            Stores::in_memory_key_value_store(self.store.clone()),
            Serdes::string(),
            Serdes::bytes(),
        )
        .with_caching_enabled()
    }

    /// The operator's counters.
    pub fn metrics(&self) -> Arc<LearningMetrics> {
        Arc::clone(&self.metrics)
    }
}

/// Online learning on a `KStream` keyed by model name.
///
/// ```
/// use std::num::NonZeroU64;
/// use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
/// use streams_core::serde::Serdes;
/// use streams_ml::linear::LinearKind;
/// use streams_ml::{LabelledExample, LearnExt, Model, ModelEnvelope, OnlineLearning, SgdConfig};
///
/// let builder = StreamsBuilder::new();
/// let learning = OnlineLearning::new("learners", vec!["x".into()], SgdConfig::new(LinearKind::Logistic),
///     |&(x, label): &(f64, f64)| LabelledExample::new(vec![x], label))
///     .publish_every_records(NonZeroU64::new(2).expect("non-zero"));
/// builder.add_state_store(learning.store_builder());
/// builder
///     .stream::<String, (f64, f64)>("labelled", Consumed::with(Serdes::string(), Serdes::json()))
///     .learn(learning)
///     .to("models", Produced::with(Serdes::string(), Serdes::bytes()));
///
/// let driver = testkit::TopologyTestDriver::new(builder.build()?)?;
/// let input = driver.create_input_topic::<String, (f64, f64)>("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
/// let models = driver.create_output_topic::<String, Vec<u8>>("models", Serdes::string(), Serdes::bytes());
/// input.pipe_input_at("clicks".into(), (1.0, 1.0), 1)?;
/// input.pipe_input_at("clicks".into(), (-1.0, 0.0), 2)?;
/// let (name, document) = models.read_key_value()?.expect("a model version");
/// let model = ModelEnvelope::from_bytes(&document)?.load(&name)?;
/// assert_eq!((model.name(), model.version()), ("clicks", 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait LearnExt<V> {
    /// Learns each record (keyed by model name) as `learning` says and emits each published
    /// version: key = model name, value = a [`ModelEnvelope`] (`json-linear`), to be
    /// written to the model topic.
    fn learn(&self, learning: OnlineLearning<V>) -> KStream<String, Vec<u8>>;

    /// [`learn`](Self::learn) with a name for the learning processor.
    fn learn_named(&self, named: Named, learning: OnlineLearning<V>) -> KStream<String, Vec<u8>>;
}

impl<V: Clone + 'static> LearnExt<V> for KStream<String, V> {
    fn learn(&self, learning: OnlineLearning<V>) -> KStream<String, Vec<u8>> {
        learn_impl(self, None, learning)
    }

    fn learn_named(&self, named: Named, learning: OnlineLearning<V>) -> KStream<String, Vec<u8>> {
        learn_impl(self, Some(named), learning)
    }
}

fn learn_impl<V: Clone + 'static>(
    stream: &KStream<String, V>,
    named: Option<Named>,
    learning: OnlineLearning<V>,
) -> KStream<String, Vec<u8>> {
    let store = learning.store.clone();
    let learning = Arc::new(learning);
    let supplier = move || LearningProcessor {
        learning: Arc::clone(&learning),
        handle: None,
        entries: HashMap::new(),
    };
    match named {
        Some(named) => stream.process_named(named, supplier, &[&store]),
        None => stream.process(supplier, &[&store]),
    }
}

/// What the store keeps per model.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredLearner {
    /// The last published version (`first_version - 1` before the first).
    published_version: u64,
    /// Examples learned since the last publication.
    unpublished: u64,
    /// [`SgdLearner::to_bytes`], as JSON.
    learner: serde_json::Value,
}

struct Entry {
    learner: SgdLearner,
    published_version: u64,
    unpublished: u64,
}

impl Entry {
    fn to_bytes(&self) -> Result<Vec<u8>, StreamsError> {
        let learner = serde_json::from_slice(&self.learner.to_bytes()).map_err(|e| internal(e.to_string()))?;
        serde_json::to_vec(&StoredLearner {
            published_version: self.published_version,
            unpublished: self.unpublished,
            learner,
        })
        .map_err(|e| internal(e.to_string()))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let malformed = |reason: String| ModelError::Malformed {
            format: "sgd-state",
            reason,
        };
        let stored: StoredLearner = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let learner_bytes = serde_json::to_vec(&stored.learner).map_err(|e| malformed(e.to_string()))?;
        Ok(Entry {
            learner: SgdLearner::from_bytes(&learner_bytes)?,
            published_version: stored.published_version,
            unpublished: stored.unpublished,
        })
    }
}

fn internal(reason: String) -> StreamsError {
    StreamsError::Internal(format!("learner state: {reason}"))
}

struct LearningProcessor<V> {
    learning: Arc<OnlineLearning<V>>,
    handle: Option<KeyValueStoreHandle<String, Vec<u8>>>,
    /// The learners read from or written to the store so far (the store is the durable copy).
    entries: HashMap<String, Entry>,
}

type LCtx<'a> = ProcessorContext<'a, String, Vec<u8>>;

impl<V: 'static> LearningProcessor<V> {
    fn handle(&self) -> Result<&KeyValueStoreHandle<String, Vec<u8>>, StreamsError> {
        self.handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("learning processor used before init".into()))
    }

    fn load(&self, name: &String, ctx: &mut LCtx<'_>) -> Result<Entry, StreamsError> {
        let handle = self.handle()?;
        match ctx.kv(handle).get(name)? {
            Some(bytes) => Entry::from_bytes(&bytes).map_err(|e| StreamsError::Processor {
                processor: ctx.processor_name().to_owned(),
                reason: format!("stored learner of model `{name}` is unreadable: {e}"),
            }),
            None => {
                let learner =
                    SgdLearner::new(self.learning.features.clone(), self.learning.config.clone()).map_err(|e| {
                        StreamsError::Config {
                            key: "learner".into(),
                            reason: e.to_string(),
                        }
                    })?;
                Ok(Entry {
                    learner,
                    published_version: self.learning.first_version.saturating_sub(1),
                    unpublished: 0,
                })
            }
        }
    }

    fn learn(&self, entry: &mut Entry, example: &LabelledExample) -> Result<f64, ModelError> {
        match &example.features {
            FeatureVector::Numbers(x) => entry.learner.learn(x, example.label),
            FeatureVector::Named(f) => entry.learner.learn_named(f, example.label),
            FeatureVector::Values(values) => {
                let mut x = Vec::with_capacity(values.len());
                for (value, name) in values.iter().zip(entry.learner.features()) {
                    match value {
                        FeatureValue::Number(v) => x.push(*v),
                        _ => return Err(ModelError::MissingFeature(name.clone())),
                    }
                }
                if values.len() != entry.learner.features().len() {
                    return Err(ModelError::FeatureCount {
                        expected: entry.learner.features().len(),
                        actual: values.len(),
                    });
                }
                entry.learner.learn(&x, example.label)
            }
        }
    }
}

/// Publishes `entry` as its next version and resets its count.
fn publish<V>(
    learning: &OnlineLearning<V>,
    name: &str,
    entry: &mut Entry,
    timestamp: i64,
    ctx: &mut LCtx<'_>,
) -> Result<(), StreamsError> {
    let version = entry.published_version + 1;
    let document = serde_json::to_vec(&entry.learner.to_document()).map_err(|e| internal(e.to_string()))?;
    let envelope = ModelEnvelope::new(ModelFormat::JsonLinear, version, document)
        .with_metadata("examples_seen", entry.learner.examples_seen().to_string());
    entry.published_version = version;
    entry.unpublished = 0;
    learning.metrics.published.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        model = name,
        version,
        examples = entry.learner.examples_seen(),
        "model version published"
    );
    ctx.forward(Record::new(name.to_owned(), envelope.to_bytes(), timestamp))
}

fn store(
    handle: Option<&KeyValueStoreHandle<String, Vec<u8>>>,
    name: &String,
    entry: &Entry,
    ctx: &mut LCtx<'_>,
) -> Result<(), StreamsError> {
    let handle = handle.ok_or_else(|| StreamsError::Internal("learning processor used before init".into()))?;
    let bytes = entry.to_bytes()?;
    ctx.kv(handle).put(name, &bytes)
}

impl<V: 'static> Processor<String, V, String, Vec<u8>> for LearningProcessor<V> {
    fn init(&mut self, ctx: &mut LCtx<'_>) -> Result<(), StreamsError> {
        self.handle = Some(ctx.key_value_store::<String, Vec<u8>>(&self.learning.store)?);
        if let Some(interval) = self.learning.interval {
            ctx.schedule(interval, PunctuationType::WallClockTime)?;
        }
        Ok(())
    }

    fn process(&mut self, record: Record<String, V>, ctx: &mut LCtx<'_>) -> Result<(), StreamsError> {
        let example = (self.learning.example)(&record.value);
        let mut entry = match self.entries.remove(&record.key) {
            Some(entry) => entry,
            None => self.load(&record.key, ctx)?,
        };
        let learned = self.learn(&mut entry, &example);
        let entry = self.entries.entry(record.key.clone()).or_insert(entry);
        if let Err(error) = learned {
            self.learning.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(model = %record.key, %error, "training example rejected");
            ctx.record_dropped();
            return Ok(());
        }
        self.learning.metrics.examples.fetch_add(1, Ordering::Relaxed);
        entry.unpublished += 1;
        if self
            .learning
            .every_records
            .is_some_and(|n| entry.unpublished >= n.get())
        {
            publish(&self.learning, &record.key, entry, record.timestamp, ctx)?;
        }
        store(self.handle.as_ref(), &record.key, entry, ctx)
    }

    fn punctuate(&mut self, _: Schedule, timestamp: i64, ctx: &mut LCtx<'_>) -> Result<(), StreamsError> {
        let handle = self.handle()?;
        let names: Vec<String> = ctx.kv(handle).all()?.into_iter().map(|(name, _)| name).collect();
        for name in names {
            if !self.entries.contains_key(&name) {
                let entry = self.load(&name, ctx)?;
                self.entries.insert(name.clone(), entry);
            }
            let Some(entry) = self.entries.get_mut(&name) else {
                continue;
            };
            if entry.unpublished > 0 {
                publish(&self.learning, &name, entry, timestamp, ctx)?;
                store(self.handle.as_ref(), &name, entry, ctx)?;
            }
        }
        Ok(())
    }
}
