//! The change-logging layer: every change is applied to the wrapped store and sent to the
//! store's changelog (Kafka Streams' `ChangeLoggingKeyValueBytesStore`).

use std::fmt;
use std::sync::Arc;

use crate::store::{
    ChangelogRecord, ChangelogSink, FlushedEntry, KeyValueIterator, KeyValueStore, RecordClock, StateStore,
};
use crate::versioned::{split_timestamped, PutOutcome, VersionedKeyValueStore, VersionedRecord};
use crate::window::{SessionEntry, SessionStore, WindowEntry, WindowStore};
use crate::StateError;

/// A key-value store layer that sends each change to a [`ChangelogSink`].
///
/// Writes go to the wrapped store first and then to the sink, stamped with the timestamp of the
/// record being processed as read from the shared [`RecordClock`]:
///
/// * `put` logs the new value;
/// * `put_if_absent` logs the new value only when it wrote it (no value was stored);
/// * `delete` always logs a tombstone (`value: None`), whether or not a value was stored, as
///   Kafka Streams does.
///
/// Reads, `flush`, `close` and [`KeyValueStore::restore_batch`] go straight to the wrapped
/// store; restoring never writes to the changelog. A refused send becomes
/// [`StateError::Changelog`]; the wrapped store has already applied the change by then, so the
/// task owning the store should treat the error as fatal (as a Kafka Streams task does).
pub struct LoggingKeyValueStore {
    inner: Box<dyn KeyValueStore>,
    sink: Box<dyn ChangelogSink>,
    clock: Arc<RecordClock>,
}

impl LoggingKeyValueStore {
    /// Wraps `inner`, logging its changes to `sink` with timestamps read from `clock`.
    pub fn new(inner: Box<dyn KeyValueStore>, sink: Box<dyn ChangelogSink>, clock: Arc<RecordClock>) -> Self {
        LoggingKeyValueStore { inner, sink, clock }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &dyn KeyValueStore {
        self.inner.as_ref()
    }

    fn log(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        let timestamp = self.clock.timestamp();
        self.log_at(key, value, timestamp)
    }

    fn log_at(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<(), StateError> {
        self.sink
            .send(key, value, timestamp)
            .map_err(|reason| StateError::Changelog {
                store: self.inner.name().to_owned(),
                reason,
            })
    }
}

impl fmt::Debug for LoggingKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggingKeyValueStore")
            .field("name", &self.inner.name())
            .finish_non_exhaustive()
    }
}

impl StateStore for LoggingKeyValueStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.inner.flush()
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.inner.close()
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
}

impl KeyValueStore for LoggingKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.inner.get(key)
    }

    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool, StateError> {
        self.inner.get_into(key, out)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        if self.inner.as_versioned_store().is_some() {
            let (timestamp, value) = split_timestamped(self.inner.name(), value)?;
            return self.put_versioned(key, Some(value), timestamp).map(|_| ());
        }
        self.inner.put(key, value)?;
        self.log(key, Some(value))
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if self.inner.as_versioned_store().is_some() {
            let existing = self.inner.get(key)?;
            if existing.is_none() {
                self.put(key, value)?;
            }
            return Ok(existing);
        }
        let previous = self.inner.put_if_absent(key, value)?;
        if previous.is_none() {
            self.log(key, Some(value))?;
        }
        Ok(previous)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(versioned) = self.inner.as_versioned_store() {
            let at = versioned.observed_stream_time();
            let previous = self.inner.get(key)?;
            self.put_versioned(key, None, at)?;
            return Ok(previous);
        }
        let previous = self.inner.delete(key)?;
        self.log(key, None)?;
        Ok(previous)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.inner.range(from, to)
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.inner.prefix_scan(prefix)
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.inner.all()
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.inner.approximate_num_entries()
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        self.inner.restore_batch(batch)
    }

    fn caching_enabled(&self) -> bool {
        self.inner.caching_enabled()
    }

    fn drain_flushed(&mut self) -> Vec<FlushedEntry> {
        self.inner.drain_flushed()
    }

    fn as_window_store(&self) -> Option<&dyn WindowStore> {
        self.inner.as_window_store()?;
        Some(self)
    }

    fn as_window_store_mut(&mut self) -> Option<&mut dyn WindowStore> {
        self.inner.as_window_store()?;
        Some(self)
    }

    fn as_session_store(&self) -> Option<&dyn SessionStore> {
        self.inner.as_session_store()?;
        Some(self)
    }

    fn as_session_store_mut(&mut self) -> Option<&mut dyn SessionStore> {
        self.inner.as_session_store()?;
        Some(self)
    }

    fn as_versioned_store(&self) -> Option<&dyn VersionedKeyValueStore> {
        self.inner.as_versioned_store()?;
        Some(self)
    }

    fn as_versioned_store_mut(&mut self) -> Option<&mut dyn VersionedKeyValueStore> {
        self.inner.as_versioned_store()?;
        Some(self)
    }
}

/// Reads go to the wrapped versioned store; every put it applies is logged as Kafka Streams
/// logs versioned stores: the key, the value (`None`: tombstone) and the version's timestamp.
impl VersionedKeyValueStore for LoggingKeyValueStore {
    fn put_versioned(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<PutOutcome, StateError> {
        let not_versioned = self.not_windowed("versioned");
        let outcome = self
            .inner
            .as_versioned_store_mut()
            .ok_or(not_versioned)?
            .put_versioned(key, value, timestamp)?;
        if outcome != PutOutcome::NotPut {
            self.log_at(key, value, timestamp)?;
        }
        Ok(outcome)
    }

    fn get_latest(&self, key: &[u8]) -> Result<Option<VersionedRecord>, StateError> {
        self.inner
            .as_versioned_store()
            .ok_or_else(|| self.not_windowed("versioned"))?
            .get_latest(key)
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord>, StateError> {
        self.inner
            .as_versioned_store()
            .ok_or_else(|| self.not_windowed("versioned"))?
            .get_as_of(key, as_of)
    }

    fn history_retention(&self) -> i64 {
        self.inner.as_versioned_store().map_or(0, |v| v.history_retention())
    }

    fn observed_stream_time(&self) -> i64 {
        self.inner
            .as_versioned_store()
            .map_or(i64::MIN, |v| v.observed_stream_time())
    }
}

impl LoggingKeyValueStore {
    fn not_windowed(&self, kind: &str) -> StateError {
        StateError::Config {
            store: self.inner.name().to_owned(),
            reason: format!("it is not a {kind} store"),
        }
    }
}

/// Reads go to the wrapped window store; writes (through `put`/`delete`) are logged, under the
/// store keys (seqnums) the wrapped store picks.
impl WindowStore for LoggingKeyValueStore {
    fn window_scan(&self, key: Option<&[u8]>, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        self.inner
            .as_window_store()
            .ok_or_else(|| self.not_windowed("window"))?
            .window_scan(key, time_from, time_to)
    }

    fn retains_duplicates(&self) -> bool {
        self.inner.as_window_store().is_some_and(|w| w.retains_duplicates())
    }

    fn next_window_store_key(&mut self, key: &[u8], window_start: i64) -> Result<Vec<u8>, StateError> {
        let not_windowed = self.not_windowed("window");
        self.inner
            .as_window_store_mut()
            .ok_or(not_windowed)?
            .next_window_store_key(key, window_start)
    }

    fn write_expired(&self, window_start: i64) -> bool {
        self.inner
            .as_window_store()
            .is_some_and(|w| w.write_expired(window_start))
    }
}

/// Reads go to the wrapped session store; writes (through `put`/`delete`) are logged.
impl SessionStore for LoggingKeyValueStore {
    fn session_scan(
        &self,
        key: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<SessionEntry>, StateError> {
        self.inner
            .as_session_store()
            .ok_or_else(|| self.not_windowed("session"))?
            .session_scan(key, earliest_session_end, latest_session_start)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;
    use std::sync::Mutex;

    struct VecSink(Arc<Mutex<Vec<ChangelogRecord>>>);

    impl ChangelogSink for VecSink {
        fn send(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<(), String> {
            self.0.lock().unwrap().push(ChangelogRecord {
                key: key.to_vec(),
                value: value.map(<[u8]>::to_vec),
                timestamp,
            });
            Ok(())
        }
    }

    #[test]
    fn put_if_absent_that_does_not_write_logs_nothing() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let clock = RecordClock::shared();
        let mut store = LoggingKeyValueStore::new(
            Box::new(InMemoryKeyValueStore::new("s")),
            Box::new(VecSink(log.clone())),
            clock.clone(),
        );
        clock.set(5);
        assert_eq!(store.put_if_absent(b"k", b"1").unwrap(), None);
        clock.set(6);
        assert_eq!(store.put_if_absent(b"k", b"2").unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            *log.lock().unwrap(),
            vec![ChangelogRecord {
                key: b"k".to_vec(),
                value: Some(b"1".to_vec()),
                timestamp: 5
            }]
        );
        assert_eq!(store.get(b"k").unwrap(), Some(b"1".to_vec()));
    }
}
