//! Versioned key-value stores: every key keeps its history of values, each valid from its
//! timestamp until the next one, for a *history retention* period (Kafka Streams'
//! `VersionedKeyValueStore`, KIP-889).
//!
//! A [`VersionedKeyValueStore`] answers "what was the value of `key` as of time `t`?"
//! ([`get_as_of`](VersionedKeyValueStore::get_as_of)), which is what a stream-table join needs
//! to join each stream record with the table *as of the record's own timestamp*, so that
//! out-of-order table updates do not change which row a stream record meets.
//!
//! The semantics are Kafka Streams':
//!
//! * one record per key and timestamp: a second put with the same key and timestamp replaces
//!   the first; a `None` value is a tombstone (the key has no value from then on);
//! * the store tracks its *observed stream time*, the largest timestamp put so far. A put older
//!   than `observed stream time - history retention` is not applied
//!   ([`PutOutcome::NotPut`]); the history retention doubles as the store's grace period;
//! * [`get_as_of`](VersionedKeyValueStore::get_as_of) returns the record with the largest
//!   timestamp not after the bound, or `None` when that record is a tombstone or the bound is
//!   older than the history retention (except that the latest record of a key never expires:
//!   it is returned whenever its timestamp is not after the bound).
//!
//! [`VersionedBytesStore`] implements it over any key-value engine (in memory or RocksDB), in
//! three key spaces of the engine:
//!
//! * `0x00 ++ key` -> the latest record: `timestamp (8 bytes BE) ++ kind (1 byte: 1 value, 0
//!   tombstone) ++ value`;
//! * `0x01 ++ key length (4 bytes BE) ++ key ++ valid-from (8 bytes, order-preserving)` -> an
//!   older record: `valid-to (8 bytes BE) ++ kind ++ value`;
//! * `0x02 ++ expiry time (8 bytes, order-preserving) ++ store key` -> nothing: an index of when
//!   older records (and latest tombstones) fall out of the history retention, so expired
//!   records are removed as stream time advances.
//!
//! Through the plain [`KeyValueStore`] interface the store reads and writes the *latest*
//! values, in Kafka's `ValueAndTimestamp` layout (`timestamp (8 bytes BE) ++ value`), so that
//! table lookups and interactive queries work on it unchanged: `put` writes a record version at
//! the timestamp in the value, `delete` writes a tombstone at the observed stream time, scans
//! go over the latest values of all keys.
//!
//! Its changelog carries one record per put: the key, the value (`None` for a tombstone) and
//! the record's timestamp, as Kafka Streams' versioned stores log them; restoring replays them
//! as puts. The observed stream time is not stored: after a restart it starts over and the
//! restored (or newly put) records advance it, as in Kafka Streams.
//!
//! ```
//! use streams_state::versioned::{PutOutcome, VersionedKeyValueStore};
//! use streams_state::Stores;
//!
//! let supplier = Stores::in_memory_versioned_key_value_store("regions", 10_000)?;
//! let mut store = supplier.get(None)?;
//! let versions = store.as_versioned_store_mut().ok_or(streams_state::StateError::Closed { store: "regions".into() })?;
//! assert_eq!(versions.put_versioned(b"alice", Some(b"EU"), 1_000)?, PutOutcome::Latest);
//! assert_eq!(versions.put_versioned(b"alice", Some(b"US"), 5_000)?, PutOutcome::Latest);
//! // An out-of-order update lands in the history, valid until the next version.
//! assert_eq!(versions.put_versioned(b"alice", Some(b"APAC"), 3_000)?, PutOutcome::ValidTo(5_000));
//! let as_of = |t| versions.get_as_of(b"alice", t).map(|r| r.map(|r| r.value));
//! assert_eq!(as_of(999)?, None);
//! assert_eq!(as_of(2_000)?, Some(b"EU".to_vec()));
//! assert_eq!(as_of(4_999)?, Some(b"APAC".to_vec()));
//! assert_eq!(as_of(5_000)?, Some(b"US".to_vec()));
//! # Ok::<(), streams_state::StateError>(())
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::store::{ChangelogRecord, KeyValueBytesStoreSupplier, KeyValueIterator, KeyValueStore, StateStore};
use crate::StateError;

const LATEST: u8 = 0x00;
const HISTORY: u8 = 0x01;
const EXPIRY: u8 = 0x02;
const KIND_TOMBSTONE: u8 = 0;
const KIND_VALUE: u8 = 1;
const TS: usize = 8;

/// One version of a key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedRecord {
    /// The value.
    pub value: Vec<u8>,
    /// When the value became valid (the timestamp it was put with).
    pub timestamp: i64,
    /// When the next version replaced it (exclusive); `None` for the latest version.
    pub valid_to: Option<i64>,
}

/// What a put did (Kafka Streams' put return codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The record is now the latest version of its key.
    Latest,
    /// The record went into the key's history: it is valid until this timestamp (exclusive),
    /// when a later version takes over.
    ValidTo(i64),
    /// The record was older than the history retention allows and was not put.
    NotPut,
}

/// A key-value store keeping every key's versions for a history retention period. See the
/// [module documentation](self) for the semantics.
pub trait VersionedKeyValueStore: Send {
    /// Puts `value` (`None`: a tombstone) for `key`, valid from `timestamp`.
    fn put_versioned(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<PutOutcome, StateError>;

    /// Puts a tombstone for `key` at `timestamp` and returns the record that was valid at
    /// `timestamp` (inclusive), or `None` (also when the tombstone was too old to be put).
    fn delete_versioned(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord>, StateError> {
        let valid = self.get_as_of(key, timestamp)?;
        match self.put_versioned(key, None, timestamp)? {
            PutOutcome::NotPut => Ok(None),
            _ => Ok(valid),
        }
    }

    /// The latest record of `key`, `None` if it has none or the latest is a tombstone.
    fn get_latest(&self, key: &[u8]) -> Result<Option<VersionedRecord>, StateError>;

    /// The record of `key` with the largest timestamp not after `as_of` (inclusive); `None`
    /// if there is none, it is a tombstone, or `as_of` is older than the history retention
    /// (unless the latest record qualifies).
    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord>, StateError>;

    /// How long (ms) older versions are kept, relative to the observed stream time; also how
    /// far back puts are accepted.
    fn history_retention(&self) -> i64;

    /// The largest timestamp put so far (`i64::MIN` before the first put).
    fn observed_stream_time(&self) -> i64;
}

/// Splits a value in the `ValueAndTimestamp` layout (`timestamp (8 bytes BE) ++ value`), as
/// the key-value interface of a versioned store takes it.
pub fn split_timestamped<'v>(store: &str, value: &'v [u8]) -> Result<(i64, &'v [u8]), StateError> {
    value
        .split_at_checked(TS)
        .and_then(|(ts, rest)| Some((i64::from_be_bytes(ts.try_into().ok()?), rest)))
        .ok_or_else(|| StateError::Engine {
            store: store.to_owned(),
            reason: "a value put into a versioned store must start with its 8-byte timestamp".into(),
        })
}

/// Maps a signed timestamp to 8 bytes whose lexicographic order is the numeric order.
fn ordered(ts: i64) -> [u8; TS] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

fn unordered(bytes: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(bytes.try_into().ok()?) ^ (1 << 63)) as i64)
}

fn latest_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(LATEST);
    k.extend_from_slice(key);
    k
}

fn history_prefix(key: &[u8]) -> Result<Vec<u8>, StateError> {
    let len = u32::try_from(key.len()).map_err(|_| StateError::Config {
        store: String::new(),
        reason: format!("a key of {} bytes is too long for a versioned store", key.len()),
    })?;
    let mut k = Vec::with_capacity(5 + key.len() + TS);
    k.push(HISTORY);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(key);
    Ok(k)
}

fn history_key(prefix: &[u8], valid_from: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + TS);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&ordered(valid_from));
    k
}

fn expiry_key(expires_at: i64, store_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + TS + store_key.len());
    k.push(EXPIRY);
    k.extend_from_slice(&ordered(expires_at));
    k.extend_from_slice(store_key);
    k
}

/// `timestamp ++ kind ++ value`: the layout of latest records (timestamp = valid from) and of
/// older records (timestamp = valid to).
fn encode(timestamp: i64, value: Option<&[u8]>) -> Vec<u8> {
    let mut v = Vec::with_capacity(TS + 1 + value.map_or(0, <[u8]>::len));
    v.extend_from_slice(&timestamp.to_be_bytes());
    match value {
        Some(value) => {
            v.push(KIND_VALUE);
            v.extend_from_slice(value);
        }
        None => v.push(KIND_TOMBSTONE),
    }
    v
}

/// A decoded stored record: its timestamp field and its value (`None`: tombstone).
struct Stored {
    timestamp: i64,
    value: Option<Vec<u8>>,
}

/// A key-value store that keeps versions (see the [module documentation](self)), over any
/// key-value engine.
pub struct VersionedBytesStore {
    name: String,
    engine: Box<dyn KeyValueStore>,
    history_retention: i64,
    observed_stream_time: i64,
    /// The earliest time in the expiry index, or a lower bound of it (`i64::MIN` before the
    /// index was first read, `i64::MAX` when it is empty): a put that advances stream time
    /// reads the index only when the cutoff reaches it.
    earliest_expiry: i64,
}

impl VersionedBytesStore {
    /// A versioned store over `engine` (which must be empty or hold a versioned store's data),
    /// keeping `history_retention` ms of history.
    pub fn new(
        name: impl Into<String>,
        engine: Box<dyn KeyValueStore>,
        history_retention: i64,
    ) -> Result<Self, StateError> {
        let name = name.into();
        if history_retention < 0 {
            return Err(StateError::Config {
                store: name,
                reason: format!("history retention must not be negative, got {history_retention} ms"),
            });
        }
        Ok(VersionedBytesStore {
            name,
            engine,
            history_retention,
            observed_stream_time: i64::MIN,
            earliest_expiry: i64::MIN,
        })
    }

    fn corrupt(&self, what: &str) -> StateError {
        StateError::Engine {
            store: self.name.clone(),
            reason: format!("a stored {what} is not in the versioned store's layout"),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Stored, StateError> {
        let corrupt = || self.corrupt("record");
        let (ts, rest) = bytes.split_at_checked(TS).ok_or_else(corrupt)?;
        let timestamp = i64::from_be_bytes(ts.try_into().map_err(|_| corrupt())?);
        let value = match rest.split_first() {
            Some((&KIND_VALUE, value)) => Some(value.to_vec()),
            Some((&KIND_TOMBSTONE, [])) => None,
            _ => return Err(corrupt()),
        };
        Ok(Stored { timestamp, value })
    }

    /// Timestamps before this are outside the history retention.
    fn cutoff(&self) -> i64 {
        self.observed_stream_time.saturating_sub(self.history_retention)
    }

    fn latest(&self, key: &[u8]) -> Result<Option<Stored>, StateError> {
        self.engine
            .get(&latest_key(key))?
            .map(|bytes| self.decode(&bytes))
            .transpose()
    }

    /// The older record with the largest valid-from not after `at`, with its valid-from.
    fn history_floor(&self, prefix: &[u8], at: i64) -> Result<Option<(i64, Stored)>, StateError> {
        let mut found = None;
        for entry in self
            .engine
            .range(&history_key(prefix, i64::MIN), &history_key(prefix, at))?
        {
            found = Some(entry?);
        }
        found
            .map(|(k, v)| {
                let valid_from = unordered(&k[prefix.len()..]).ok_or_else(|| self.corrupt("history key"))?;
                Ok((valid_from, self.decode(&v)?))
            })
            .transpose()
    }

    /// The older record with the smallest valid-from after `at`.
    fn history_ceiling(&self, prefix: &[u8], at: i64) -> Result<Option<i64>, StateError> {
        if at == i64::MAX {
            return Ok(None);
        }
        let first = self
            .engine
            .range(&history_key(prefix, at + 1), &history_key(prefix, i64::MAX))?
            .next()
            .transpose()?;
        first
            .map(|(k, _)| unordered(&k[prefix.len()..]).ok_or_else(|| self.corrupt("history key")))
            .transpose()
    }

    fn put_history(
        &mut self,
        prefix: &[u8],
        valid_from: i64,
        valid_to: i64,
        value: Option<&[u8]>,
    ) -> Result<(), StateError> {
        let key = history_key(prefix, valid_from);
        self.engine.put(&key, &encode(valid_to, value))?;
        self.index_expiry(valid_to, &key)
    }

    /// Files `store_key` in the expiry index under `expires_at`.
    fn index_expiry(&mut self, expires_at: i64, store_key: &[u8]) -> Result<(), StateError> {
        self.earliest_expiry = self.earliest_expiry.min(expires_at);
        self.engine.put(&expiry_key(expires_at, store_key), &[])
    }

    /// Removes older records whose validity ended before the history retention, and latest
    /// tombstones older than it.
    fn expire(&mut self) -> Result<(), StateError> {
        let cutoff = self.cutoff();
        if cutoff < self.earliest_expiry {
            return Ok(());
        }
        let mut expired = Vec::new();
        let mut next = i64::MAX;
        for entry in self.engine.prefix_scan(&[EXPIRY])? {
            let (index_key, _) = entry?;
            let expires_at = index_key
                .get(1..1 + TS)
                .and_then(unordered)
                .ok_or_else(|| self.corrupt("expiry index key"))?;
            if expires_at > cutoff {
                next = expires_at;
                break;
            }
            expired.push(index_key);
        }
        for index_key in expired {
            let store_key = &index_key[1 + TS..];
            if let Some(bytes) = self.engine.get(store_key)? {
                let stored = self.decode(&bytes)?;
                // An older record whose validity ended by the cutoff answers no query any more;
                // a latest tombstone from before it decides nothing (older puts are refused).
                let done = match store_key.first() {
                    Some(&HISTORY) => stored.timestamp <= cutoff,
                    _ => stored.value.is_none() && stored.timestamp <= cutoff,
                };
                if done {
                    self.engine.delete(store_key)?;
                }
            }
            self.engine.delete(&index_key)?;
        }
        self.earliest_expiry = next;
        Ok(())
    }

    fn latest_entries<'a>(&'a self, inner: KeyValueIterator<'a>) -> KeyValueIterator<'a> {
        Box::new(inner.filter_map(move |entry| {
            let (key, bytes) = match entry {
                Ok(entry) => entry,
                Err(e) => return Some(Err(e)),
            };
            match self.decode(&bytes) {
                Ok(Stored {
                    timestamp,
                    value: Some(value),
                }) => {
                    let mut v = Vec::with_capacity(TS + value.len());
                    v.extend_from_slice(&timestamp.to_be_bytes());
                    v.extend_from_slice(&value);
                    Some(Ok((key[1..].to_vec(), v)))
                }
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        }))
    }
}

impl fmt::Debug for VersionedBytesStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionedBytesStore")
            .field("name", &self.name)
            .field("history_retention", &self.history_retention)
            .field("observed_stream_time", &self.observed_stream_time)
            .finish_non_exhaustive()
    }
}

impl VersionedKeyValueStore for VersionedBytesStore {
    fn put_versioned(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<PutOutcome, StateError> {
        if timestamp < self.cutoff() {
            tracing::debug!(store = %self.name, timestamp, "skipping a put older than the history retention");
            return Ok(PutOutcome::NotPut);
        }
        let advanced = timestamp > self.observed_stream_time;
        self.observed_stream_time = self.observed_stream_time.max(timestamp);
        let prefix = history_prefix(key)?;
        let latest_key = latest_key(key);
        let outcome = match self.latest(key)? {
            Some(latest) if timestamp < latest.timestamp => {
                // Out of order: the record goes into the history, between its neighbours.
                let valid_to = self.history_ceiling(&prefix, timestamp)?.unwrap_or(latest.timestamp);
                match self.history_floor(&prefix, timestamp)? {
                    Some((from, previous)) if from == timestamp => {
                        self.put_history(&prefix, timestamp, previous.timestamp, value)?;
                        PutOutcome::ValidTo(previous.timestamp)
                    }
                    Some((from, previous)) => {
                        self.put_history(&prefix, from, timestamp, previous.value.as_deref())?;
                        self.put_history(&prefix, timestamp, valid_to, value)?;
                        PutOutcome::ValidTo(valid_to)
                    }
                    None => {
                        self.put_history(&prefix, timestamp, valid_to, value)?;
                        PutOutcome::ValidTo(valid_to)
                    }
                }
            }
            latest => {
                if let Some(latest) = latest.filter(|l| l.timestamp < timestamp) {
                    self.put_history(&prefix, latest.timestamp, timestamp, latest.value.as_deref())?;
                }
                self.engine.put(&latest_key, &encode(timestamp, value))?;
                if value.is_none() {
                    self.index_expiry(timestamp, &latest_key)?;
                }
                PutOutcome::Latest
            }
        };
        if advanced {
            self.expire()?;
        }
        Ok(outcome)
    }

    fn get_latest(&self, key: &[u8]) -> Result<Option<VersionedRecord>, StateError> {
        Ok(self.latest(key)?.and_then(|latest| {
            latest.value.map(|value| VersionedRecord {
                value,
                timestamp: latest.timestamp,
                valid_to: None,
            })
        }))
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord>, StateError> {
        if let Some(latest) = self.latest(key)? {
            if latest.timestamp <= as_of {
                return Ok(latest.value.map(|value| VersionedRecord {
                    value,
                    timestamp: latest.timestamp,
                    valid_to: None,
                }));
            }
        }
        if as_of < self.cutoff() {
            return Ok(None);
        }
        let prefix = history_prefix(key)?;
        Ok(match self.history_floor(&prefix, as_of)? {
            Some((
                valid_from,
                Stored {
                    timestamp: valid_to,
                    value: Some(value),
                },
            )) if valid_to > as_of => Some(VersionedRecord {
                value,
                timestamp: valid_from,
                valid_to: Some(valid_to),
            }),
            _ => None,
        })
    }

    fn history_retention(&self) -> i64 {
        self.history_retention
    }

    fn observed_stream_time(&self) -> i64 {
        self.observed_stream_time
    }
}

impl StateStore for VersionedBytesStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.engine.flush()
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.engine.close()
    }

    fn persistent(&self) -> bool {
        self.engine.persistent()
    }
}

impl KeyValueStore for VersionedBytesStore {
    /// The latest value, as `timestamp ++ value`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.get_latest(key)?.map(|r| {
            let mut v = Vec::with_capacity(TS + r.value.len());
            v.extend_from_slice(&r.timestamp.to_be_bytes());
            v.extend_from_slice(&r.value);
            v
        }))
    }

    /// Puts the version `value[8..]` at the timestamp `value[..8]`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        let (timestamp, value) = split_timestamped(&self.name, value)?;
        self.put_versioned(key, Some(value), timestamp).map(|_| ())
    }

    /// Puts a tombstone at the observed stream time (which no version is after); returns the
    /// latest value it replaced.
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let previous = self.get(key)?;
        self.put_versioned(key, None, self.observed_stream_time)?;
        Ok(previous)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        let inner = self.engine.range(&latest_key(from), &latest_key(to))?;
        Ok(self.latest_entries(inner))
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        let inner = self.engine.prefix_scan(&latest_key(prefix))?;
        Ok(self.latest_entries(inner))
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.prefix_scan(&[])
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        let mut n = 0u64;
        for entry in self.all()? {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// Replays changelog records (key, value or tombstone, timestamp) as versioned puts.
    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        for record in batch {
            self.put_versioned(&record.key, record.value.as_deref(), record.timestamp)?;
        }
        Ok(())
    }

    fn as_versioned_store(&self) -> Option<&dyn VersionedKeyValueStore> {
        Some(self)
    }

    fn as_versioned_store_mut(&mut self) -> Option<&mut dyn VersionedKeyValueStore> {
        Some(self)
    }
}

/// Creates [`VersionedBytesStore`]s over an in-memory or RocksDB engine (Kafka Streams'
/// `Stores.persistentVersionedKeyValueStore`).
pub struct VersionedBytesStoreSupplier {
    engine: Arc<dyn KeyValueBytesStoreSupplier>,
    history_retention: i64,
}

impl VersionedBytesStoreSupplier {
    /// Versioned stores over the engine `engine` supplies, keeping `history_retention` ms.
    pub fn new(engine: Arc<dyn KeyValueBytesStoreSupplier>, history_retention: i64) -> Result<Self, StateError> {
        if history_retention < 0 {
            return Err(StateError::Config {
                store: engine.name().to_owned(),
                reason: format!("history retention must not be negative, got {history_retention} ms"),
            });
        }
        Ok(VersionedBytesStoreSupplier {
            engine,
            history_retention,
        })
    }
}

impl fmt::Debug for VersionedBytesStoreSupplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionedBytesStoreSupplier")
            .field("name", &self.engine.name())
            .field("engine", &self.engine.metrics_scope())
            .field("history_retention", &self.history_retention)
            .finish()
    }
}

impl KeyValueBytesStoreSupplier for VersionedBytesStoreSupplier {
    fn name(&self) -> &str {
        self.engine.name()
    }

    fn get(&self, state_dir: Option<&Path>) -> Result<Box<dyn KeyValueStore>, StateError> {
        let engine = self.engine.get(state_dir)?;
        Ok(Box::new(VersionedBytesStore::new(
            self.engine.name(),
            engine,
            self.history_retention,
        )?))
    }

    fn metrics_scope(&self) -> &str {
        self.engine.metrics_scope()
    }

    fn history_retention(&self) -> Option<i64> {
        Some(self.history_retention)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;

    fn physical_keys(store: &VersionedBytesStore) -> Vec<Vec<u8>> {
        store.engine.all().unwrap().map(|entry| entry.unwrap().0).collect()
    }

    /// Older records and latest tombstones leave the engine, index entries included, once
    /// stream time passes their validity by the retention; puts that expire nothing do not
    /// read the index.
    #[test]
    fn expired_versions_leave_the_engine() {
        let mut store = VersionedBytesStore::new("v", Box::new(InMemoryKeyValueStore::new("v")), 10).unwrap();
        store.put_versioned(b"a", Some(b"1"), 0).unwrap();
        store.put_versioned(b"a", Some(b"2"), 5).unwrap();
        store.put_versioned(b"b", None, 8).unwrap();
        // latest a, latest b (tombstone), history a@0, index entries at 5 (a@0) and 8 (b).
        assert_eq!(physical_keys(&store).len(), 5);
        // The first put read the (then empty) index; the next ones, cutoffs -5 and -2, are
        // before the earliest entry (5) and skipped it.
        assert_eq!(store.earliest_expiry, 5);
        // Stream time 16: cutoff 6 expires a@0 (valid to 5), not the tombstone at 8.
        store.put_versioned(b"c", Some(b"3"), 16).unwrap();
        assert_eq!(store.earliest_expiry, 8);
        assert_eq!(physical_keys(&store).len(), 4, "latest a, b, c and b's index entry");
        assert_eq!(store.get_as_of(b"a", 3).unwrap(), None);
        // Stream time 18: cutoff 8 expires the tombstone of b.
        store.put_versioned(b"c", Some(b"4"), 18).unwrap();
        let mut expected = vec![latest_key(b"a"), latest_key(b"c")];
        // c@16 is history now, valid to 18: it and its index entry stay.
        expected.push(history_key(&history_prefix(b"c").unwrap(), 16));
        expected.push(expiry_key(18, &history_key(&history_prefix(b"c").unwrap(), 16)));
        expected.sort();
        assert_eq!(physical_keys(&store), expected);
        assert_eq!(store.earliest_expiry, 18);
        assert_eq!(store.get_as_of(b"c", 17).unwrap().map(|r| r.value), Some(b"3".to_vec()));
    }
}
