//! Feeding a [`ModelRegistry`] from a model topic read as a global store.

use std::sync::Arc;

use streams_core::dsl::{Consumed, KStream, Named, Produced, StreamsBuilder};
use streams_core::processor::{KeyValueStoreHandle, Processor, ProcessorContext, Record};
use streams_core::serde::Serdes;
use streams_core::state::Stores;
use streams_core::StreamsError;

use crate::{load_model, Installed, ModelRegistry};

/// Header of a load-failure record naming why the document was rejected.
pub const LOAD_ERROR_HEADER: &str = "model.load.error";

/// The global processor of a model topic: keeps a registry in step with the topic (key =
/// model name, value = a [`ModelEnvelope`](crate::ModelEnvelope) document, null value =
/// remove the model).
///
/// Each document is loaded into the registry, which installs it when its version is higher
/// than the one serving (see [`ModelRegistry`]); an installed document is also written to the
/// key-value store `store` (`name -> document`), when given. A document that fails to load is
/// logged and counted by the registry ([`RegistryMetricsSnapshot::load_errors`](crate::RegistryMetricsSnapshot))
/// and the previous model keeps serving. A record without a key is logged and counted as a
/// dropped record.
///
/// As a global processor it sees every record of every partition, on every instance, and
/// restoring the global store at start runs the topic's records through it again, so the
/// registry is rebuilt before any stream task scores a record. In `init` it also loads the
/// documents already in the store (a persistent store reopened at start resumes from its
/// checkpoint, and the records before it are not replayed).
pub struct ModelTopicProcessor {
    registry: Arc<ModelRegistry>,
    store: Option<String>,
    handle: Option<KeyValueStoreHandle<String, Vec<u8>>>,
}

impl ModelTopicProcessor {
    /// A processor installing into `registry` and keeping installed documents in the
    /// key-value store `store` (`String -> bytes`), when given.
    pub fn new(registry: Arc<ModelRegistry>, store: Option<String>) -> Self {
        ModelTopicProcessor {
            registry,
            store,
            handle: None,
        }
    }
}

impl Processor<Option<String>, Option<Vec<u8>>, (), ()> for ModelTopicProcessor {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> Result<(), StreamsError> {
        let Some(store) = &self.store else { return Ok(()) };
        let handle = ctx.key_value_store::<String, Vec<u8>>(store)?;
        for (name, document) in ctx.kv(&handle).all()? {
            // Documents in the store loaded once already; one that no longer does (e.g. a
            // format this build does not support) is reported by the registry.
            let _ = self.registry.load(&name, &document);
        }
        self.handle = Some(handle);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<Option<String>, Option<Vec<u8>>>,
        ctx: &mut ProcessorContext<'_, (), ()>,
    ) -> Result<(), StreamsError> {
        let Some(name) = record.key else {
            tracing::warn!("model record without a key (the model name) dropped");
            ctx.record_dropped();
            return Ok(());
        };
        let Some(document) = record.value else {
            self.registry.remove(&name);
            if let Some(handle) = &self.handle {
                ctx.kv(handle).delete(&name)?;
            }
            return Ok(());
        };
        // A failure is logged and counted by the registry; the last good model keeps serving.
        if let Ok(Installed::Serving { .. }) = self.registry.load(&name, &document) {
            if let Some(handle) = &self.handle {
                ctx.kv(handle).put(&name, &document)?;
            }
        }
        Ok(())
    }
}

/// Checks every document of a model topic and forwards those that fail to load.
struct LoadChecker;

impl Processor<Option<String>, Option<Vec<u8>>, String, Vec<u8>> for LoadChecker {
    fn process(
        &mut self,
        record: Record<Option<String>, Option<Vec<u8>>>,
        ctx: &mut ProcessorContext<'_, String, Vec<u8>>,
    ) -> Result<(), StreamsError> {
        let (Some(name), Some(document)) = (record.key, record.value) else {
            // Tombstones remove a model; a record without a name is counted by the loader.
            return Ok(());
        };
        match load_model(&name, &document) {
            Ok(_) => Ok(()),
            Err(error) => {
                let mut failed = Record::new(name, document, record.timestamp).with_headers(record.headers);
                failed.headers.add(LOAD_ERROR_HEADER, error.to_string());
                ctx.forward(failed)
            }
        }
    }
}

/// A model topic read into a registry, from [`model_topic`].
pub struct ModelTopic {
    builder: StreamsBuilder,
    topic: String,
    store: String,
    registry: Arc<ModelRegistry>,
}

impl ModelTopic {
    /// The model topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The global store holding the document serving under each model name
    /// ([`model_store_name`]).
    pub fn store_name(&self) -> &str {
        &self.store
    }

    /// The registry the topic feeds.
    pub fn registry(&self) -> &Arc<ModelRegistry> {
        &self.registry
    }

    /// The documents of the topic that fail to load: key = model name, value = the bytes as
    /// read, header [`LOAD_ERROR_HEADER`] = the error, for an error topic.
    ///
    /// The global store cannot write to a topic (every instance reads every record, and
    /// reads them again at each start), so this adds a stream sub-topology that also reads the
    /// model topic, loads each document once more and forwards the failures: one record per
    /// broken document for the whole application, written by the task that owns the
    /// document's partition. It reports every document that does not load, including one
    /// whose version the registry ignores as stale. Call it once.
    pub fn load_failures(&self) -> KStream<String, Vec<u8>> {
        let source = self.builder.stream::<Option<String>, Option<Vec<u8>>>(
            &self.topic,
            Consumed::with(Serdes::nullable(Serdes::string()), Serdes::nullable(Serdes::bytes()))
                .with_name(format!("{}-model-check-source", self.topic)),
        );
        source.process_named(Named::as_(format!("{}-model-checker", self.topic)), || LoadChecker, &[])
    }

    /// Writes [`load_failures`](Self::load_failures) to `topic` (string keys, raw values).
    pub fn load_failures_to(&self, topic: &str) {
        self.load_failures()
            .to(topic, Produced::with(Serdes::string(), Serdes::bytes()));
    }
}

/// Reads `topic` as a model topic into `registry`: a global store (named
/// [`model_store_name`]) whose processor, a [`ModelTopicProcessor`], loads each document into
/// the registry.
///
/// As for any global store, every instance of the application reads every partition of the
/// topic, whatever the partitions of its stream tasks, and restores the store at start by
/// running the topic's records through the processor before its stream threads start, so the
/// last good model of every name serves from the first record on. A new version swaps in
/// between two records; a document that fails to load is logged and counted
/// ([`ModelRegistry::metrics`]) and the last good model keeps serving. Make the topic
/// compacted (`cleanup.policy=compact`) so that a start replays the latest document of each
/// model only.
///
/// ```
/// use std::sync::Arc;
/// use streams_core::dsl::StreamsBuilder;
/// use streams_ml::{model_topic, ModelRegistry};
///
/// let builder = StreamsBuilder::new();
/// let registry = Arc::new(ModelRegistry::new());
/// let models = model_topic(&builder, "models", &registry);
/// models.load_failures_to("model-errors"); // optional: an error topic
/// let topology = builder.build()?;
/// assert!(topology.has_global_stores());
/// assert_eq!(topology.global_source_topics(), ["models"]);
/// assert_eq!(models.store_name(), "models-models");
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
pub fn model_topic(builder: &StreamsBuilder, topic: &str, registry: &Arc<ModelRegistry>) -> ModelTopic {
    let store = model_store_name(topic);
    builder.add_global_store(
        Stores::key_value_store_builder::<String, Vec<u8>>(
            Stores::in_memory_key_value_store(store.clone()),
            Serdes::string(),
            Serdes::bytes(),
        )
        .with_logging_disabled(),
        topic,
        Consumed::with(Serdes::nullable(Serdes::string()), Serdes::nullable(Serdes::bytes()))
            .with_name(format!("{topic}-model-source")),
        {
            let registry = Arc::clone(registry);
            let store = store.clone();
            move || ModelTopicProcessor::new(Arc::clone(&registry), Some(store.clone()))
        },
    );
    ModelTopic {
        builder: builder.clone(),
        topic: topic.to_owned(),
        store,
        registry: Arc::clone(registry),
    }
}

/// The name of the global store [`model_topic`] keeps the documents of `topic` in.
pub fn model_store_name(topic: &str) -> String {
    format!("{topic}-models")
}
