//! Global stores and the global task that fills them.
//!
//! A global store holds every partition of its topic on every instance. There is one instance
//! of each global store per process ([`GlobalStores`]), behind a mutex
//! ([`streams_state::SharedKeyValueStore`]): the global task writes it through its global
//! processor, and every stream task of every thread reads it through a read-only view that
//! sits in the task's store list like any other store. Stores that are not global are not
//! wrapped, so the task engine's single-threaded path is unchanged for them.
//!
//! The global task ([`GlobalTask`]) runs the global sub-topologies (a source and the global
//! processor per global store) on every record of the global topics, in the order they are
//! read, and restoring a global store at start-up runs the records through the same global
//! processor: a custom global processor (one that, say, keeps parsed models in memory as well)
//! sees the same records when restoring as when running.

use std::collections::BTreeMap;

use streams_state::SharedKeyValueStore;

use super::task::{Task, TaskId};
use crate::processor::{RawRecord, ValueAndTimestamp};
use crate::StreamsError;

/// The partition in the ids of global tasks, which read every partition.
pub const GLOBAL_PARTITION: i32 = -1;

/// The global stores of one process, by name.
#[derive(Debug, Clone, Default)]
pub struct GlobalStores {
    pub(crate) stores: BTreeMap<String, SharedKeyValueStore>,
}

impl GlobalStores {
    /// The shared store `name`.
    pub fn get(&self, name: &str) -> Option<&SharedKeyValueStore> {
        self.stores.get(name)
    }

    /// Names of the stores.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stores.keys().map(String::as_str)
    }
}

/// Runs the global sub-topologies: every record of a global topic goes through its global
/// processor, which writes the global store.
pub struct GlobalTask {
    tasks: Vec<Task>,
}

impl GlobalTask {
    pub(crate) fn new(tasks: Vec<Task>) -> Self {
        GlobalTask { tasks }
    }

    /// The global topics.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().flat_map(|t| t.input_topics())
    }

    /// Whether `topic` is a global topic.
    pub fn reads(&self, topic: &str) -> bool {
        self.tasks.iter().any(|t| t.reads(topic))
    }

    /// Processes one record of `partition` of the global topic `topic` at once.
    pub fn process(&mut self, topic: &str, partition: i32, record: RawRecord) -> Result<(), StreamsError> {
        let task = self
            .tasks
            .iter_mut()
            .find(|t| t.reads(topic))
            .ok_or_else(|| StreamsError::Internal(format!("`{topic}` is not a global topic")))?;
        task.process_now(topic, partition, record)
    }

    /// Flushes the global stores.
    pub fn commit(&mut self) -> Result<(), StreamsError> {
        self.tasks.iter_mut().try_for_each(Task::commit)
    }

    /// Flushes, then closes the global processors and stores.
    pub fn close(&mut self) -> Result<(), StreamsError> {
        self.tasks.iter_mut().try_for_each(Task::close)
    }

    /// The ids of the global sub-topologies' tasks (`<sub-topology>_-1`).
    pub fn ids(&self) -> Vec<TaskId> {
        self.tasks.iter().map(Task::id).collect()
    }

    /// The global topics whose stores keep their data on disk (their read offsets are
    /// checkpointed and restoring resumes from there).
    pub fn persistent_topics(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|t| t.stores().all(|(name, _)| t.store_is_persistent(name)))
            .flat_map(|t| t.input_topics().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }

    /// The task holding global store `name`.
    pub fn task_with_store(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.stores().any(|(s, _)| s == name))
    }

    /// Every entry of global store `name`, typed, in key-byte order (timestamps dropped).
    pub fn store_entries<K: 'static, V: 'static>(&self, name: &str) -> Result<Vec<(K, V)>, StreamsError> {
        self.task_of(name)?.store_entries(name)
    }

    /// Every entry of the timestamped global store `name`, typed, in key-byte order.
    pub fn timestamped_store_entries<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<Vec<(K, ValueAndTimestamp<V>)>, StreamsError> {
        self.task_of(name)?.timestamped_store_entries(name)
    }

    fn task_of(&self, name: &str) -> Result<&Task, StreamsError> {
        self.task_with_store(name).ok_or_else(|| StreamsError::StoreAccess {
            store: name.to_owned(),
            reason: "no such global store".into(),
        })
    }
}
