//! Errors raised by state stores.

/// An error from a state store or one of its layers.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store was used after [`crate::StateStore::close`].
    #[error("state store `{store}` is closed")]
    Closed {
        /// Name of the store.
        store: String,
    },
    /// The changelog sink refused a change.
    #[error("state store `{store}` could not log a change to its changelog: {reason}")]
    Changelog {
        /// Name of the store.
        store: String,
        /// What the sink reported.
        reason: String,
    },
    /// The storage engine failed (I/O, corruption, ...).
    #[error("state store `{store}` storage engine failed: {reason}")]
    Engine {
        /// Name of the store.
        store: String,
        /// What the engine reported.
        reason: String,
    },
    /// A store or layer was configured with values it cannot work with.
    #[error("state store `{store}` is misconfigured: {reason}")]
    Config {
        /// Name of the store.
        store: String,
        /// What is wrong with the configuration.
        reason: String,
    },
    /// A store builder has logging enabled but was given no changelog sink to log to.
    #[error(
        "state store `{store}` has change logging enabled but no changelog sink was given; \
         pass a sink to `build` or disable logging with `with_logging_disabled()`"
    )]
    MissingChangelogSink {
        /// Name of the store.
        store: String,
    },
    /// A store key does not have the layout the store needs (a window or session store key
    /// too short to hold its window).
    #[error("state store `{store}` got an invalid key: {reason}")]
    InvalidKey {
        /// Name of the store.
        store: String,
        /// What is wrong with the key.
        reason: String,
    },
    /// A write reached a store that is read-only where it was used (a global store read by a
    /// stream task).
    #[error("state store `{store}` is read-only here: only its global processor writes it")]
    ReadOnly {
        /// Name of the store.
        store: String,
    },
}
