//! Feeding a [`ModelRegistry`] from a model topic.

use std::sync::Arc;

use streams_core::dsl::{Consumed, KStream, Named, StreamsBuilder};
use streams_core::processor::{KeyValueStoreHandle, Processor, ProcessorContext, Record};
use streams_core::serde::Serdes;
use streams_core::state::Stores;
use streams_core::StreamsError;

use crate::{Installed, ModelRegistry};

/// Header of a load-failure record naming why the document was rejected.
pub const LOAD_ERROR_HEADER: &str = "model.load.error";

/// Keeps a registry in step with a model topic: key = model name, value = a
/// [`ModelEnvelope`](crate::ModelEnvelope) document, null value = remove the model.
///
/// Each accepted document is written to a key-value store (`name -> document`), so that the
/// models are loaded back into the registry when the task starts again (from the store's
/// changelog). A document that fails to load is logged and counted by the registry, the
/// previous model keeps serving, and the record is forwarded (key = model name, value = the
/// document's bytes as read, header [`LOAD_ERROR_HEADER`] = the error) for an error topic.
/// A record without a key is dropped and counted as a dropped record.
pub struct ModelTopicProcessor {
    registry: Arc<ModelRegistry>,
    store: Option<String>,
    handle: Option<KeyValueStoreHandle<String, Vec<u8>>>,
}

impl ModelTopicProcessor {
    /// A processor installing into `registry` and keeping accepted documents in the
    /// key-value store `store` (`String -> bytes`), when given.
    pub fn new(registry: Arc<ModelRegistry>, store: Option<String>) -> Self {
        ModelTopicProcessor {
            registry,
            store,
            handle: None,
        }
    }
}

impl Processor<Option<String>, Option<Vec<u8>>, String, Vec<u8>> for ModelTopicProcessor {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, Vec<u8>>) -> Result<(), StreamsError> {
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
        ctx: &mut ProcessorContext<'_, String, Vec<u8>>,
    ) -> Result<(), StreamsError> {
        let Some(name) = record.key.clone() else {
            tracing::warn!("model record without a key (the model name) dropped");
            ctx.record_dropped();
            return Ok(());
        };
        let Some(document) = record.value.clone() else {
            self.registry.remove(&name);
            if let Some(handle) = &self.handle {
                ctx.kv(handle).delete(&name)?;
            }
            return Ok(());
        };
        match self.registry.load(&name, &document) {
            Ok(Installed::Serving { .. }) => {
                if let Some(handle) = &self.handle {
                    ctx.kv(handle).put(&name, &document)?;
                }
                Ok(())
            }
            Ok(Installed::SameVersion | Installed::Stale { .. }) => Ok(()),
            Err(error) => {
                let mut failed = Record::new(name, document, record.timestamp).with_headers(record.headers);
                failed.headers.add(LOAD_ERROR_HEADER, error.to_string());
                ctx.forward(failed)
            }
        }
    }
}

/// Reads `topic` as a model topic into `registry` (see [`ModelTopicProcessor`]), keeping
/// accepted documents in the logged store `<topic>-models` so that they are restored at
/// start. Returns the stream of documents that failed to load, to be written to an error
/// topic if wanted.
///
/// The topic is read as a stream by the task of each of its partitions; an application
/// instance serves the models of the partitions it owns, so give the model topic one
/// partition and scale with threads, or feed every instance through a global store.
///
/// ```
/// use std::sync::Arc;
/// use streams_core::dsl::StreamsBuilder;
/// use streams_ml::{model_topic, ModelRegistry};
///
/// let builder = StreamsBuilder::new();
/// let registry = Arc::new(ModelRegistry::new());
/// let failures = model_topic(&builder, "models", &registry);
/// failures.to("model-errors", streams_core::dsl::Produced::with(
///     streams_core::serde::Serdes::string(), streams_core::serde::Serdes::bytes()));
/// assert_eq!(builder.build()?.subtopologies().len(), 1);
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
pub fn model_topic(builder: &StreamsBuilder, topic: &str, registry: &Arc<ModelRegistry>) -> KStream<String, Vec<u8>> {
    let store = model_store_name(topic);
    builder.add_state_store(Stores::key_value_store_builder::<String, Vec<u8>>(
        Stores::in_memory_key_value_store(store.clone()),
        Serdes::string(),
        Serdes::bytes(),
    ));
    let registry = Arc::clone(registry);
    builder
        .stream::<Option<String>, Option<Vec<u8>>>(
            topic,
            Consumed::with(Serdes::nullable(Serdes::string()), Serdes::nullable(Serdes::bytes()))
                .with_name(format!("{topic}-model-source")),
        )
        .process_named(
            Named::as_(format!("{topic}-model-loader")),
            {
                let store = store.clone();
                move || ModelTopicProcessor::new(Arc::clone(&registry), Some(store.clone()))
            },
            &[&store],
        )
}

/// The name of the store [`model_topic`] keeps the documents of `topic` in.
pub fn model_store_name(topic: &str) -> String {
    format!("{topic}-models")
}
