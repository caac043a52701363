//! Errors raised while building or running a topology.

use streams_state::StateError;

use crate::serde::SerdeError;

/// An error from building or running a topology.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    /// `StreamsBuilder::build` rejected the topology.
    #[error("invalid topology: {0}")]
    Topology(String),

    /// A record could not be deserialized and the handler chose to fail.
    #[error("failed to deserialize the {part} of the record at {topic}-{partition}@{offset}: {source}")]
    Deserialization {
        /// Which part failed: `key` or `value`.
        part: &'static str,
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Offset in that partition.
        offset: i64,
        /// What the serde reported.
        #[source]
        source: SerdeError,
    },

    /// A key, value or store entry could not be serialized.
    #[error("failed to serialize for `{context}`: {source}")]
    Serialization {
        /// Where it happened (topic or store name).
        context: String,
        /// What the serde reported.
        #[source]
        source: SerdeError,
    },

    /// A state store failed.
    #[error(transparent)]
    State(#[from] StateError),

    /// A processor asked for a store it is not connected to, or with the wrong types.
    #[error("state store `{store}`: {reason}")]
    StoreAccess {
        /// Store name.
        store: String,
        /// What was wrong.
        reason: String,
    },

    /// Writing output failed.
    #[error("failed to send a record to `{topic}`: {reason}")]
    Send {
        /// Destination topic.
        topic: String,
        /// What the collector reported.
        reason: String,
    },

    /// A user processor returned an error.
    #[error("processor `{processor}` failed: {reason}")]
    Processor {
        /// Processor node name.
        processor: String,
        /// The error it returned.
        reason: String,
    },

    /// Invalid configuration.
    #[error("invalid configuration `{key}`: {reason}")]
    Config {
        /// The configuration key.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// An engine invariant was broken; this is a bug in the framework.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for results in this crate.
pub type Result<T, E = StreamsError> = std::result::Result<T, E>;
