//! Window and session reads through the write cache (Kafka Streams' `CachingWindowStore` and
//! `CachingSessionStore`).
//!
//! A window or session store is a key-value store over store keys, so its write cache is the
//! key-value one, [`CachingKeyValueStore`]: writes coalesce per store key between commits,
//! flushes and evictions write the entries down in the order their keys last became dirty and
//! record them (with the value the store below held) for the task to forward. What this module
//! adds are the window and session scans, which merge the cached entries over what the store
//! below returns: a cached value replaces the stored one of the same window or session, a
//! cached tombstone hides it, and the order is the store's ((start, key) for windows, (end,
//! key, start) for sessions).
//!
//! Cached entries are returned as they are, without the store's retention check: a window the
//! store below would drop as expired stays visible until it is flushed, as in Kafka Streams.

use std::cmp::Ordering;
use std::ops::Bound;

use super::{
    parse_session_store_key, parse_window_store_key, SessionEntry, SessionStore, WindowEntry, WindowStore, SEQNUM_SIZE,
    TIMESTAMP_SIZE,
};
use crate::caching::CachingKeyValueStore;
use crate::memory::prefix_successor;
use crate::store::StateStore;
use crate::StateError;

fn not_windowed(store: &str, kind: &str) -> StateError {
    StateError::Config {
        store: store.to_owned(),
        reason: format!("it is not a {kind} store"),
    }
}

/// Merges `cached` (each entry with whether it is a value, `false`: a tombstone) over `stored`,
/// both sorted by `cmp`: a cached entry replaces the stored entry it compares equal to, and a
/// cached tombstone removes it.
fn merge_over<T>(stored: Vec<T>, cached: Vec<(T, bool)>, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    if cached.is_empty() {
        return stored;
    }
    let mut merged = Vec::with_capacity(stored.len() + cached.len());
    let mut stored = stored.into_iter().peekable();
    for (entry, live) in cached {
        while let Some(next) = stored.peek() {
            match cmp(next, &entry) {
                Ordering::Less => merged.extend(stored.next()),
                Ordering::Equal => {
                    stored.next();
                    break;
                }
                Ordering::Greater => break,
            }
        }
        if live {
            merged.push(entry);
        }
    }
    merged.extend(stored);
    merged
}

/// The store-key bounds of the cached entries `key` (exactly, or every key with `None`) may
/// have: the byte range of its windows starting in `[time_from, time_to]` when both are
/// non-negative (big-endian times order as numbers then), else every store key with the
/// prefix `key`.
fn key_bounds(key: Option<&[u8]>, time_from: i64, time_to: i64, suffix: usize) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let Some(key) = key else {
        return (Bound::Unbounded, Bound::Unbounded);
    };
    if time_from >= 0 && time_to >= time_from {
        let mut lower = Vec::with_capacity(key.len() + TIMESTAMP_SIZE + suffix);
        lower.extend_from_slice(key);
        lower.extend_from_slice(&time_from.to_be_bytes());
        let mut upper = Vec::with_capacity(key.len() + TIMESTAMP_SIZE + suffix);
        upper.extend_from_slice(key);
        upper.extend_from_slice(&time_to.to_be_bytes());
        upper.extend(std::iter::repeat_n(u8::MAX, suffix));
        return (Bound::Included(lower), Bound::Included(upper));
    }
    let upper = match prefix_successor(key) {
        Some(next) => Bound::Excluded(next),
        None => Bound::Unbounded,
    };
    (Bound::Included(key.to_vec()), upper)
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(b) => Bound::Included(b.as_slice()),
        Bound::Excluded(b) => Bound::Excluded(b.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Windows of the store below merged with the cached ones, in the store's order.
impl WindowStore for CachingKeyValueStore {
    fn window_scan(&self, key: Option<&[u8]>, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        self.check_open()?;
        let stored = self
            .inner()
            .as_window_store()
            .ok_or_else(|| not_windowed(self.name(), "window"))?
            .window_scan(key, time_from, time_to)?;
        if time_from > time_to {
            return Ok(stored);
        }
        let (lower, upper) = key_bounds(key, time_from, time_to, SEQNUM_SIZE);
        let mut cached: Vec<(WindowEntry, bool)> = self
            .cached_range(as_slice(&lower), as_slice(&upper))
            .filter_map(|(store_key, value)| {
                let (entry_key, window_start, seqnum) = parse_window_store_key(store_key)?;
                let wanted = key.is_none_or(|k| k == entry_key) && (time_from..=time_to).contains(&window_start);
                wanted.then(|| {
                    let entry = WindowEntry {
                        key: entry_key.to_vec(),
                        window_start,
                        seqnum,
                        value: value.map(<[u8]>::to_vec).unwrap_or_default(),
                    };
                    (entry, value.is_some())
                })
            })
            .collect();
        let order = |a: &WindowEntry, b: &WindowEntry| (a.window_start, &a.key).cmp(&(b.window_start, &b.key));
        cached.sort_by(|a, b| order(&a.0, &b.0));
        Ok(merge_over(stored, cached, order))
    }
}

/// Sessions of the store below merged with the cached ones, in the store's order.
impl SessionStore for CachingKeyValueStore {
    fn session_scan(
        &self,
        key: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<SessionEntry>, StateError> {
        self.check_open()?;
        let stored = self
            .inner()
            .as_session_store()
            .ok_or_else(|| not_windowed(self.name(), "session"))?
            .session_scan(key, earliest_session_end, latest_session_start)?;
        // Sessions are keyed by end first: the ends wanted are [earliest end, +inf).
        let (lower, upper) = key_bounds(key, earliest_session_end, i64::MAX, TIMESTAMP_SIZE);
        let mut cached: Vec<(SessionEntry, bool)> = self
            .cached_range(as_slice(&lower), as_slice(&upper))
            .filter_map(|(store_key, value)| {
                let (entry_key, start, end) = parse_session_store_key(store_key)?;
                let wanted =
                    key.is_none_or(|k| k == entry_key) && end >= earliest_session_end && start <= latest_session_start;
                wanted.then(|| {
                    let entry = SessionEntry {
                        key: entry_key.to_vec(),
                        start,
                        end,
                        value: value.map(<[u8]>::to_vec).unwrap_or_default(),
                    };
                    (entry, value.is_some())
                })
            })
            .collect();
        let order = |a: &SessionEntry, b: &SessionEntry| (a.end, &a.key, a.start).cmp(&(b.end, &b.key, b.start));
        cached.sort_by(|a, b| order(&a.0, &b.0));
        Ok(merge_over(stored, cached, order))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::store::{FlushedEntry, KeyValueStore, RecordClock};
    use crate::window::{session_store_key, window_store_key, KeySchema, SegmentedBytesStore};

    /// A retention long enough that nothing expires in these tests.
    const RETENTION: i64 = 1 << 40;

    fn cached(schema: KeySchema, max_bytes: usize) -> CachingKeyValueStore {
        let engine = SegmentedBytesStore::in_memory("s", schema, RETENTION, 7);
        CachingKeyValueStore::new(Box::new(engine), max_bytes, RecordClock::shared()).unwrap()
    }

    #[test]
    fn cached_windows_merge_over_stored_ones_and_tombstones_hide_them() {
        let mut store = cached(KeySchema::Window, 10_000);
        let windows = store.as_window_store_mut().unwrap();
        windows.put_window(b"a", Some(b"1"), 0).unwrap();
        windows.put_window(b"a", Some(b"2"), 10).unwrap();
        windows.put_window(b"b", Some(b"3"), 10).unwrap();
        store.flush().unwrap();
        assert_eq!(store.drain_flushed().len(), 3);
        let windows = store.as_window_store_mut().unwrap();
        windows.put_window(b"a", None, 0).unwrap();
        windows.put_window(b"a", Some(b"4"), 10).unwrap();
        windows.put_window(b"ab", Some(b"5"), 10).unwrap();
        windows.put_window(b"a", Some(b"6"), 20).unwrap();
        let entry = |key: &[u8], window_start, value: &[u8]| WindowEntry {
            key: key.to_vec(),
            window_start,
            seqnum: 0,
            value: value.to_vec(),
        };
        let windows = store.as_window_store().unwrap();
        assert_eq!(
            windows.fetch_range(b"a", 0, 20).unwrap(),
            vec![entry(b"a", 10, b"4"), entry(b"a", 20, b"6")]
        );
        assert_eq!(
            windows.fetch_all(0, 10).unwrap(),
            vec![entry(b"a", 10, b"4"), entry(b"ab", 10, b"5"), entry(b"b", 10, b"3")]
        );
        assert_eq!(
            windows.backward_fetch_range(b"a", -5, 15).unwrap(),
            vec![entry(b"a", 10, b"4")]
        );
        assert_eq!(windows.fetch(b"a", 0).unwrap(), None);
        // Flushing writes the coalesced entries down with the values they replace.
        store.flush().unwrap();
        let flushed: Vec<(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>)> = store
            .drain_flushed()
            .into_iter()
            .map(|e| (e.key, e.new_value, e.old_value))
            .collect();
        assert_eq!(
            flushed,
            vec![
                (window_store_key(b"a", 0, 0), None, Some(b"1".to_vec())),
                (window_store_key(b"a", 10, 0), Some(b"4".to_vec()), Some(b"2".to_vec())),
                (window_store_key(b"ab", 10, 0), Some(b"5".to_vec()), None),
                (window_store_key(b"a", 20, 0), Some(b"6".to_vec()), None),
            ]
        );
    }

    #[test]
    fn a_session_removed_and_put_again_before_a_flush_leaves_as_one_update() {
        let mut store = cached(KeySchema::Session, 10_000);
        let sessions = store.as_session_store_mut().unwrap();
        sessions.put_session(b"k", 0, 5, b"2").unwrap();
        store.flush().unwrap();
        store.drain_flushed();
        let sessions = store.as_session_store_mut().unwrap();
        // A merge: [0, 5] and a new [7, 7] become [0, 9], and [0, 9] grows again.
        sessions.put_session(b"k", 7, 7, b"1").unwrap();
        sessions.remove_session(b"k", 0, 5).unwrap();
        sessions.remove_session(b"k", 7, 7).unwrap();
        sessions.put_session(b"k", 0, 9, b"4").unwrap();
        sessions.remove_session(b"k", 0, 9).unwrap();
        sessions.put_session(b"k", 0, 9, b"5").unwrap();
        assert_eq!(
            store.as_session_store().unwrap().find_sessions(b"k", 0, 20).unwrap(),
            vec![SessionEntry {
                key: b"k".to_vec(),
                start: 0,
                end: 9,
                value: b"5".to_vec()
            }]
        );
        store.flush().unwrap();
        // The session [7, 7] never reached the store: its tombstone is dropped.
        let flushed: Vec<FlushedEntry> = store.drain_flushed();
        let summary: Vec<(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>)> =
            flushed.into_iter().map(|e| (e.key, e.new_value, e.old_value)).collect();
        assert_eq!(
            summary,
            vec![
                (session_store_key(b"k", 0, 5), None, Some(b"2".to_vec())),
                (session_store_key(b"k", 0, 9), Some(b"5".to_vec()), None),
            ]
        );
    }

    #[derive(Debug, Clone)]
    enum WindowOp {
        Put(u8, i64, u8),
        Delete(u8, i64),
        Fetch(u8, i64),
        FetchRange(u8, i64, i64),
        BackwardFetchRange(u8, i64, i64),
        FetchAll(i64, i64),
        BackwardFetchAll(i64, i64),
        Flush,
    }

    /// Record keys where one is a prefix of another, to check that scans of one key leave
    /// the others out.
    const KEYS: [&[u8]; 4] = [b"", b"a", b"ab", b"b"];

    fn time() -> impl Strategy<Value = i64> {
        -20i64..40
    }

    fn window_op() -> impl Strategy<Value = WindowOp> {
        let key = 0u8..4;
        prop_oneof![
            5 => (key.clone(), time(), any::<u8>()).prop_map(|(k, t, v)| WindowOp::Put(k, t, v)),
            2 => (key.clone(), time()).prop_map(|(k, t)| WindowOp::Delete(k, t)),
            1 => (key.clone(), time()).prop_map(|(k, t)| WindowOp::Fetch(k, t)),
            2 => (key.clone(), time(), time()).prop_map(|(k, a, b)| WindowOp::FetchRange(k, a, b)),
            1 => (key, time(), time()).prop_map(|(k, a, b)| WindowOp::BackwardFetchRange(k, a, b)),
            1 => (time(), time()).prop_map(|(a, b)| WindowOp::FetchAll(a, b)),
            1 => (time(), time()).prop_map(|(a, b)| WindowOp::BackwardFetchAll(a, b)),
            1 => Just(WindowOp::Flush),
        ]
    }

    /// Applies what the cache wrote down to `downstream` (what the task forwarded so far),
    /// checking that each entry's old value is what `downstream` held.
    fn forward(
        store: &mut CachingKeyValueStore,
        downstream: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    ) -> Result<(), TestCaseError> {
        for entry in store.drain_flushed() {
            prop_assert_eq!(&entry.old_value, &downstream.get(&entry.key).cloned());
            match entry.new_value {
                Some(value) => downstream.insert(entry.key, value),
                None => downstream.remove(&entry.key),
            };
        }
        Ok(())
    }

    fn stored_windows(store: &CachingKeyValueStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
        store.inner().all().unwrap().map(Result::unwrap).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A caching window store answers every read as a `BTreeMap` of (start, key) does,
        /// whatever the cache size (evictions included); what it writes down, applied in
        /// order, rebuilds the store, each entry carrying the value it replaces.
        #[test]
        fn caching_window_store_matches_a_model(
            max_bytes in 1usize..400,
            ops in prop::collection::vec(window_op(), 0..80),
        ) {
            let mut store = cached(KeySchema::Window, max_bytes);
            let mut model: BTreeMap<(i64, Vec<u8>), Vec<u8>> = BTreeMap::new();
            let mut downstream = BTreeMap::new();
            let entries = |range: &mut dyn Iterator<Item = (&(i64, Vec<u8>), &Vec<u8>)>| -> Vec<WindowEntry> {
                range
                    .map(|((start, key), value)| WindowEntry {
                        key: key.clone(),
                        window_start: *start,
                        seqnum: 0,
                        value: value.clone(),
                    })
                    .collect()
            };
            for op in ops {
                let windows = store.as_window_store_mut().unwrap();
                match op {
                    WindowOp::Put(k, t, v) => {
                        windows.put_window(KEYS[k as usize], Some(&[v]), t).unwrap();
                        model.insert((t, KEYS[k as usize].to_vec()), vec![v]);
                    }
                    WindowOp::Delete(k, t) => {
                        windows.put_window(KEYS[k as usize], None, t).unwrap();
                        model.remove(&(t, KEYS[k as usize].to_vec()));
                    }
                    WindowOp::Fetch(k, t) => {
                        let expected = model.get(&(t, KEYS[k as usize].to_vec())).cloned();
                        prop_assert_eq!(windows.fetch(KEYS[k as usize], t).unwrap(), expected);
                    }
                    WindowOp::FetchRange(k, from, to) | WindowOp::BackwardFetchRange(k, from, to) => {
                        let key = KEYS[k as usize];
                        let mut expected = entries(
                            &mut model.iter().filter(|((t, kk), _)| kk == key && (from..=to).contains(t)),
                        );
                        let got = if matches!(op, WindowOp::FetchRange(..)) {
                            windows.fetch_range(key, from, to).unwrap()
                        } else {
                            expected.reverse();
                            windows.backward_fetch_range(key, from, to).unwrap()
                        };
                        prop_assert_eq!(got, expected);
                    }
                    WindowOp::FetchAll(from, to) | WindowOp::BackwardFetchAll(from, to) => {
                        let mut expected = entries(&mut model.iter().filter(|((t, _), _)| (from..=to).contains(t)));
                        let got = if matches!(op, WindowOp::FetchAll(..)) {
                            windows.fetch_all(from, to).unwrap()
                        } else {
                            expected.reverse();
                            windows.backward_fetch_all(from, to).unwrap()
                        };
                        prop_assert_eq!(got, expected);
                    }
                    WindowOp::Flush => {
                        store.flush().unwrap();
                        prop_assert_eq!(store.dirty_entries(), 0);
                    }
                }
                forward(&mut store, &mut downstream)?;
            }
            store.flush().unwrap();
            forward(&mut store, &mut downstream)?;
            let expected: BTreeMap<Vec<u8>, Vec<u8>> =
                model.iter().map(|((t, k), v)| (window_store_key(k, *t, 0), v.clone())).collect();
            prop_assert_eq!(&stored_windows(&store), &expected);
            prop_assert_eq!(&downstream, &expected);
        }
    }

    #[derive(Debug, Clone)]
    enum SessionOp {
        Put(u8, i64, i64, u8),
        Remove(u8, i64, i64),
        FindSessions(u8, i64, i64),
        BackwardFindSessions(u8, i64, i64),
        FetchSession(u8, i64, i64),
        AllSessions,
        Flush,
    }

    fn session() -> impl Strategy<Value = (i64, i64)> {
        (time(), 0i64..15).prop_map(|(start, length)| (start, start + length))
    }

    fn session_op() -> impl Strategy<Value = SessionOp> {
        let key = 0u8..4;
        prop_oneof![
            5 => (key.clone(), session(), any::<u8>()).prop_map(|(k, (s, e), v)| SessionOp::Put(k, s, e, v)),
            2 => (key.clone(), session()).prop_map(|(k, (s, e))| SessionOp::Remove(k, s, e)),
            2 => (key.clone(), time(), time()).prop_map(|(k, a, b)| SessionOp::FindSessions(k, a, b)),
            1 => (key.clone(), time(), time()).prop_map(|(k, a, b)| SessionOp::BackwardFindSessions(k, a, b)),
            1 => (key, session()).prop_map(|(k, (s, e))| SessionOp::FetchSession(k, s, e)),
            1 => Just(SessionOp::AllSessions),
            1 => Just(SessionOp::Flush),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The session-store counterpart of `caching_window_store_matches_a_model`, with a
        /// model ordered by (end, key, start).
        #[test]
        fn caching_session_store_matches_a_model(
            max_bytes in 1usize..400,
            ops in prop::collection::vec(session_op(), 0..80),
        ) {
            let mut store = cached(KeySchema::Session, max_bytes);
            let mut model: BTreeMap<(i64, Vec<u8>, i64), Vec<u8>> = BTreeMap::new();
            let mut downstream = BTreeMap::new();
            let entries = |range: &mut dyn Iterator<Item = (&(i64, Vec<u8>, i64), &Vec<u8>)>| -> Vec<SessionEntry> {
                range
                    .map(|((end, key, start), value)| SessionEntry {
                        key: key.clone(),
                        start: *start,
                        end: *end,
                        value: value.clone(),
                    })
                    .collect()
            };
            for op in ops {
                let sessions = store.as_session_store_mut().unwrap();
                match op {
                    SessionOp::Put(k, s, e, v) => {
                        sessions.put_session(KEYS[k as usize], s, e, &[v]).unwrap();
                        model.insert((e, KEYS[k as usize].to_vec(), s), vec![v]);
                    }
                    SessionOp::Remove(k, s, e) => {
                        sessions.remove_session(KEYS[k as usize], s, e).unwrap();
                        model.remove(&(e, KEYS[k as usize].to_vec(), s));
                    }
                    SessionOp::FindSessions(k, earliest_end, latest_start)
                    | SessionOp::BackwardFindSessions(k, earliest_end, latest_start) => {
                        let key = KEYS[k as usize];
                        let mut expected = entries(&mut model.iter().filter(|((end, kk, start), _)| {
                            kk == key && *end >= earliest_end && *start <= latest_start
                        }));
                        let got = if matches!(op, SessionOp::FindSessions(..)) {
                            sessions.find_sessions(key, earliest_end, latest_start).unwrap()
                        } else {
                            expected.reverse();
                            sessions.backward_find_sessions(key, earliest_end, latest_start).unwrap()
                        };
                        prop_assert_eq!(got, expected);
                    }
                    SessionOp::FetchSession(k, s, e) => {
                        prop_assert_eq!(
                            sessions.fetch_session(KEYS[k as usize], s, e).unwrap(),
                            model.get(&(e, KEYS[k as usize].to_vec(), s)).cloned()
                        );
                    }
                    SessionOp::AllSessions => {
                        prop_assert_eq!(sessions.all_sessions().unwrap(), entries(&mut model.iter()));
                    }
                    SessionOp::Flush => {
                        store.flush().unwrap();
                        prop_assert_eq!(store.dirty_entries(), 0);
                    }
                }
                forward(&mut store, &mut downstream)?;
            }
            store.flush().unwrap();
            forward(&mut store, &mut downstream)?;
            let expected: BTreeMap<Vec<u8>, Vec<u8>> =
                model.iter().map(|((e, k, s), v)| (session_store_key(k, *s, *e), v.clone())).collect();
            prop_assert_eq!(&stored_windows(&store), &expected);
            prop_assert_eq!(&downstream, &expected);
        }
    }
}
