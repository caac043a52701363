//! Window and session stores: aggregates kept per key and time window.
//!
//! Both are key-value stores over *store keys* that put the window next to the record key, in
//! the byte layouts Kafka Streams uses for their stores and changelog topics:
//!
//! * window stores ([`WindowStore`]): `key ++ window start (8 bytes, big-endian) ++ seqnum (4
//!   bytes, big-endian)` (Kafka's `WindowKeySchema`). The seqnum is 0, as in Kafka Streams'
//!   stores that do not retain duplicates; a store that *retains duplicates* (Kafka's
//!   `retainDuplicates`, what stream-stream joins use) gives every write a new seqnum, so that
//!   several values of one key and window start live side by side;
//! * session stores ([`SessionStore`]): `key ++ session end (8 bytes) ++ session start (8
//!   bytes)` (Kafka's `SessionKeySchema`).
//!
//! Because a window store *is* a [`KeyValueStore`] over those keys, the change-logging layer
//! ([`crate::LoggingKeyValueStore`]) logs them unchanged, so the changelog carries Kafka's
//! layout, and [`KeyValueStore::restore_batch`] restores from it. The engine is
//! [`SegmentedBytesStore`]: entries are split into time segments, in memory or in one RocksDB
//! instance per segment, and segments older than the retention period are dropped.
//!
//! For the same reason the key-value write cache ([`crate::CachingKeyValueStore`]) caches them:
//! over a window or session engine it is itself a [`WindowStore`] or [`SessionStore`] (Kafka
//! Streams' `CachingWindowStore` / `CachingSessionStore`). Writes coalesce per store key until
//! a flush or an eviction writes them down (and records them, with the values they replace, for
//! the task to forward); window and session scans merge the cached entries over the store's, in
//! the store's order, cached deletes hiding stored entries.
//!
//! ```
//! use streams_state::window::{WindowStore, WindowEntry};
//! use streams_state::Stores;
//!
//! let supplier = Stores::in_memory_window_store("counts", 60_000, 10_000)?;
//! let mut store = supplier.get(None)?;
//! let windows = store.as_window_store_mut().ok_or(streams_state::StateError::Closed { store: "counts".into() })?;
//! windows.put_window(b"alice", Some(b"1"), 0)?;
//! windows.put_window(b"alice", Some(b"2"), 10_000)?;
//! assert_eq!(windows.fetch(b"alice", 10_000)?, Some(b"2".to_vec()));
//! assert_eq!(
//!     windows.fetch_range(b"alice", 0, 5_000)?,
//!     vec![WindowEntry { key: b"alice".to_vec(), window_start: 0, seqnum: 0, value: b"1".to_vec() }]
//! );
//! # Ok::<(), streams_state::StateError>(())
//! ```
//!
//! A store that retains duplicates keeps every value written, in the order written:
//!
//! ```
//! use streams_state::window::WindowStore;
//! use streams_state::Stores;
//!
//! let supplier = Stores::in_memory_window_store_with_duplicates("joins", 20_000, 10_000)?;
//! let mut store = supplier.get(None)?;
//! let windows = store.as_window_store_mut().ok_or(streams_state::StateError::Closed { store: "joins".into() })?;
//! windows.put_window(b"k", Some(b"A"), 5)?;
//! windows.put_window(b"k", Some(b"B"), 5)?;
//! windows.put_window(b"k", None, 5)?; // a null write changes nothing in such a store
//! let values: Vec<Vec<u8>> = windows.fetch_range(b"k", 0, 10)?.into_iter().map(|e| e.value).collect();
//! assert_eq!(values, vec![b"A".to_vec(), b"B".to_vec()]);
//! # Ok::<(), streams_state::StateError>(())
//! ```

mod cached;
mod segmented;

pub use segmented::{KeySchema, SegmentedBytesStore, SegmentedBytesStoreSupplier};

use crate::store::KeyValueStore;
use crate::StateError;

/// Bytes of the window start in a window store key.
pub const TIMESTAMP_SIZE: usize = 8;
/// Bytes of the sequence number at the end of a window store key.
pub const SEQNUM_SIZE: usize = 4;

/// The store (and changelog) key of `key`'s window starting at `window_start`:
/// `key ++ start (8 bytes BE) ++ seqnum (4 bytes BE)`.
pub fn window_store_key(key: &[u8], window_start: i64, seqnum: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.len() + TIMESTAMP_SIZE + SEQNUM_SIZE);
    window_store_key_into(&mut bytes, key, window_start, seqnum);
    bytes
}

/// [`window_store_key`] into `out`, replacing its content (to reuse one buffer per record).
pub fn window_store_key_into(out: &mut Vec<u8>, key: &[u8], window_start: i64, seqnum: u32) {
    out.clear();
    out.extend_from_slice(key);
    out.extend_from_slice(&window_start.to_be_bytes());
    out.extend_from_slice(&seqnum.to_be_bytes());
}

/// Splits a window store key into the record key, the window start and the seqnum; `None` if
/// it is shorter than 12 bytes.
pub fn parse_window_store_key(store_key: &[u8]) -> Option<(&[u8], i64, u32)> {
    let key_len = store_key.len().checked_sub(TIMESTAMP_SIZE + SEQNUM_SIZE)?;
    let (key, rest) = store_key.split_at(key_len);
    let (start, seq) = rest.split_at(TIMESTAMP_SIZE);
    Some((
        key,
        i64::from_be_bytes(start.try_into().ok()?),
        u32::from_be_bytes(seq.try_into().ok()?),
    ))
}

/// The store (and changelog) key of `key`'s session `[start, end]`:
/// `key ++ end (8 bytes BE) ++ start (8 bytes BE)`.
pub fn session_store_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.len() + 2 * TIMESTAMP_SIZE);
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&end.to_be_bytes());
    bytes.extend_from_slice(&start.to_be_bytes());
    bytes
}

/// Splits a session store key into the record key, the session start and its end; `None` if
/// it is shorter than 16 bytes.
pub fn parse_session_store_key(store_key: &[u8]) -> Option<(&[u8], i64, i64)> {
    let key_len = store_key.len().checked_sub(2 * TIMESTAMP_SIZE)?;
    let (key, rest) = store_key.split_at(key_len);
    let (end, start) = rest.split_at(TIMESTAMP_SIZE);
    Some((
        key,
        i64::from_be_bytes(start.try_into().ok()?),
        i64::from_be_bytes(end.try_into().ok()?),
    ))
}

/// One window of a window store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowEntry {
    /// The record key.
    pub key: Vec<u8>,
    /// Start of the window, in milliseconds.
    pub window_start: i64,
    /// The sequence number in the store key: 0, except in a store that retains duplicates.
    pub seqnum: u32,
    /// The stored value.
    pub value: Vec<u8>,
}

/// One session of a session store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// The record key.
    pub key: Vec<u8>,
    /// Timestamp of the session's first record.
    pub start: i64,
    /// Timestamp of the session's last record.
    pub end: i64,
    /// The stored value.
    pub value: Vec<u8>,
}

/// A store of values per key and fixed-size window (Kafka Streams' `WindowStore`).
///
/// Writes go through [`KeyValueStore::put`] / [`KeyValueStore::delete`] on the window store
/// key, so every layer of the key-value stack (change logging) applies to them. Reads return
/// windows in ascending order of window start, then key bytes, then seqnum (the order of
/// writes, in a store that retains duplicates); the `backward_` variants return the reverse. Windows whose start is older than the retention period (measured from the
/// largest window start written, the store's observed stream time) are neither stored nor
/// returned.
pub trait WindowStore: KeyValueStore {
    /// Windows with `time_from <= start <= time_to`, of `key` only or (with `None`) of every
    /// key, ascending by (start, key, seqnum).
    fn window_scan(&self, key: Option<&[u8]>, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError>;

    /// Whether the store keeps every value written (Kafka's `retainDuplicates`): each
    /// [`put_window`](Self::put_window) adds an entry under a new seqnum instead of replacing the
    /// window's value, and a `None` write changes nothing.
    fn retains_duplicates(&self) -> bool {
        false
    }

    /// The store key the next [`put_window`](Self::put_window) of `key`'s window starting at
    /// `window_start` writes: seqnum 0, or, in a store that retains duplicates, a seqnum no
    /// retained entry of that key and window uses.
    fn next_window_store_key(&mut self, key: &[u8], window_start: i64) -> Result<Vec<u8>, StateError> {
        Ok(window_store_key(key, window_start, 0))
    }

    /// Whether a write of a window starting at `window_start` would now be skipped because the
    /// window has expired (it starts at or before the observed stream time, counting this
    /// write, minus the retention period). A writer that must count such writes (Kafka
    /// Streams' `dropped-records`) asks before writing.
    fn write_expired(&self, window_start: i64) -> bool {
        let _ = window_start;
        false
    }

    /// Stores `value` for `key`'s window starting at `window_start`; `None` deletes it. In a
    /// store that retains duplicates the value is added next to those already there, and
    /// `None` does nothing (as in Kafka Streams).
    fn put_window(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<(), StateError> {
        if self.retains_duplicates() {
            return match value {
                Some(value) => {
                    let store_key = self.next_window_store_key(key, window_start)?;
                    self.put(&store_key, value)
                }
                None => Ok(()),
            };
        }
        let store_key = window_store_key(key, window_start, 0);
        match value {
            Some(value) => self.put(&store_key, value),
            None => self.delete(&store_key).map(drop),
        }
    }

    /// The value of `key`'s window starting at `window_start` (the first one written, in a store
    /// that retains duplicates).
    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>, StateError> {
        if self.retains_duplicates() {
            return Ok(self
                .window_scan(Some(key), window_start, window_start)?
                .into_iter()
                .next()
                .map(|e| e.value));
        }
        self.get(&window_store_key(key, window_start, 0))
    }

    /// `key`'s windows starting in `[time_from, time_to]`, oldest first.
    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        self.window_scan(Some(key), time_from, time_to)
    }

    /// `key`'s windows starting in `[time_from, time_to]`, newest first.
    fn backward_fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        let mut entries = self.window_scan(Some(key), time_from, time_to)?;
        entries.reverse();
        Ok(entries)
    }

    /// Every key's windows starting in `[time_from, time_to]`, ascending by (start, key,
    /// seqnum).
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        self.window_scan(None, time_from, time_to)
    }

    /// [`fetch_all`](Self::fetch_all) in reverse order.
    fn backward_fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        let mut entries = self.window_scan(None, time_from, time_to)?;
        entries.reverse();
        Ok(entries)
    }

    /// Every window retained, ascending by (start, key, seqnum).
    fn all_windows(&self) -> Result<Vec<WindowEntry>, StateError> {
        self.window_scan(None, i64::MIN, i64::MAX)
    }

    /// Every window retained, in reverse order.
    fn backward_all_windows(&self) -> Result<Vec<WindowEntry>, StateError> {
        self.backward_fetch_all(i64::MIN, i64::MAX)
    }
}

/// A store of values per key and session (Kafka Streams' `SessionStore`).
///
/// Writes go through [`KeyValueStore::put`] / [`KeyValueStore::delete`] on the session store
/// key. Reads return sessions in ascending order of (end, key, start); `backward_` variants
/// return the reverse. Sessions that ended before the retention period (measured from the
/// largest session end written) are neither stored nor returned.
pub trait SessionStore: KeyValueStore {
    /// Sessions with `end >= earliest_session_end` and `start <= latest_session_start`, of
    /// `key` only or (with `None`) of every key, ascending by (end, key, start).
    fn session_scan(
        &self,
        key: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<SessionEntry>, StateError>;

    /// Stores `value` for `key`'s session `[start, end]`.
    fn put_session(&mut self, key: &[u8], start: i64, end: i64, value: &[u8]) -> Result<(), StateError> {
        self.put(&session_store_key(key, start, end), value)
    }

    /// Removes `key`'s session `[start, end]`.
    fn remove_session(&mut self, key: &[u8], start: i64, end: i64) -> Result<(), StateError> {
        self.delete(&session_store_key(key, start, end)).map(drop)
    }

    /// The value of `key`'s session `[start, end]`.
    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> Result<Option<Vec<u8>>, StateError> {
        self.get(&session_store_key(key, start, end))
    }

    /// `key`'s sessions that end at or after `earliest_session_end` and start at or before
    /// `latest_session_start`: the sessions a record at time `t` with inactivity gap `g` may
    /// merge with are `find_sessions(key, t - g, t + g)`.
    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<SessionEntry>, StateError> {
        self.session_scan(Some(key), earliest_session_end, latest_session_start)
    }

    /// [`find_sessions`](Self::find_sessions) in reverse order.
    fn backward_find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<SessionEntry>, StateError> {
        let mut entries = self.session_scan(Some(key), earliest_session_end, latest_session_start)?;
        entries.reverse();
        Ok(entries)
    }

    /// Every retained session of `key`.
    fn fetch_sessions(&self, key: &[u8]) -> Result<Vec<SessionEntry>, StateError> {
        self.session_scan(Some(key), i64::MIN, i64::MAX)
    }

    /// Every retained session of `key`, in reverse order.
    fn backward_fetch_sessions(&self, key: &[u8]) -> Result<Vec<SessionEntry>, StateError> {
        self.backward_find_sessions(key, i64::MIN, i64::MAX)
    }

    /// Every retained session of every key.
    fn all_sessions(&self) -> Result<Vec<SessionEntry>, StateError> {
        self.session_scan(None, i64::MIN, i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keys_are_kafkas_layout() {
        let key = window_store_key(b"ab", 0x0102, 0);
        assert_eq!(key, vec![b'a', b'b', 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]);
        assert_eq!(parse_window_store_key(&key), Some((&b"ab"[..], 0x0102, 0)));
        assert_eq!(parse_window_store_key(&[0; 11]), None);
    }

    #[test]
    fn session_keys_are_key_end_start() {
        let key = session_store_key(b"k", 5, 9);
        assert_eq!(key, vec![b'k', 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(parse_session_store_key(&key), Some((&b"k"[..], 5, 9)));
        assert_eq!(parse_session_store_key(&[0; 15]), None);
    }
}
