//! Window and session stores: both engines against `BTreeMap` models, Kafka's changelog key
//! layouts, restore from the changelog, retention, and RocksDB reopen.
#![allow(clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use streams_state::window::{session_store_key, window_store_key, SessionEntry, WindowEntry};
use streams_state::{
    restore_all, ChangelogRecord, KeyValueBytesStoreSupplier, KeyValueStore, RecordClock, StateError, Stores,
};

use crate::common::RecordingSink;

const RETENTION: i64 = 100;
const SEGMENT: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Memory,
    #[cfg(feature = "rocksdb")]
    RocksDb,
}

fn window_supplier(engine: Engine, name: &str) -> Arc<dyn KeyValueBytesStoreSupplier> {
    match engine {
        Engine::Memory => Arc::new(
            streams_state::SegmentedBytesStoreSupplier::in_memory_window(name, RETENTION, 10)
                .unwrap()
                .with_segment_interval(SEGMENT)
                .unwrap(),
        ),
        #[cfg(feature = "rocksdb")]
        Engine::RocksDb => Arc::new(
            streams_state::SegmentedBytesStoreSupplier::rocksdb_window(name, RETENTION, 10, None)
                .unwrap()
                .with_segment_interval(SEGMENT)
                .unwrap(),
        ),
    }
}

fn session_supplier(engine: Engine, name: &str) -> Arc<dyn KeyValueBytesStoreSupplier> {
    match engine {
        Engine::Memory => Arc::new(
            streams_state::SegmentedBytesStoreSupplier::in_memory_session(name, RETENTION)
                .unwrap()
                .with_segment_interval(SEGMENT)
                .unwrap(),
        ),
        #[cfg(feature = "rocksdb")]
        Engine::RocksDb => Arc::new(
            streams_state::SegmentedBytesStoreSupplier::rocksdb_session(name, RETENTION, None)
                .unwrap()
                .with_segment_interval(SEGMENT)
                .unwrap(),
        ),
    }
}

fn engines() -> Vec<Engine> {
    vec![
        Engine::Memory,
        #[cfg(feature = "rocksdb")]
        Engine::RocksDb,
    ]
}

/// A logged store stack from `supplier` in `dir`, logging to `sink`.
fn logged(
    supplier: Arc<dyn KeyValueBytesStoreSupplier>,
    dir: &Path,
    sink: &RecordingSink,
    clock: &Arc<RecordClock>,
) -> Box<dyn KeyValueStore> {
    Stores::key_value_store_builder(supplier)
        .build(Some(dir), Some(sink.boxed()), Arc::clone(clock))
        .unwrap()
}

fn w(key: &[u8], start: i64, value: &[u8]) -> WindowEntry {
    WindowEntry {
        key: key.to_vec(),
        window_start: start,
        seqnum: 0,
        value: value.to_vec(),
    }
}

fn s(key: &[u8], start: i64, end: i64, value: &[u8]) -> SessionEntry {
    SessionEntry {
        key: key.to_vec(),
        start,
        end,
        value: value.to_vec(),
    }
}

#[test]
fn window_store_fetches_forward_and_backward_and_logs_kafkas_layout() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let clock = RecordClock::shared();
        let mut store = logged(window_supplier(engine, "win"), dir.path(), &sink, &clock);
        let windows = store.as_window_store_mut().unwrap();
        clock.set(7);
        windows.put_window(b"a", Some(b"1"), 0).unwrap();
        windows.put_window(b"b", Some(b"2"), 0).unwrap();
        windows.put_window(b"a", Some(b"3"), 10).unwrap();
        windows.put_window(b"ab", Some(b"4"), 10).unwrap();
        clock.set(8);
        windows.put_window(b"b", None, 0).unwrap();
        assert_eq!(windows.fetch(b"a", 10).unwrap(), Some(b"3".to_vec()));
        assert_eq!(windows.fetch(b"b", 0).unwrap(), None);
        assert_eq!(
            windows.fetch_range(b"a", 0, 10).unwrap(),
            vec![w(b"a", 0, b"1"), w(b"a", 10, b"3")]
        );
        assert_eq!(
            windows.backward_fetch_range(b"a", 0, 10).unwrap(),
            vec![w(b"a", 10, b"3"), w(b"a", 0, b"1")]
        );
        assert_eq!(windows.fetch_range(b"a", 1, 9).unwrap(), vec![]);
        assert_eq!(
            windows.fetch_all(0, 10).unwrap(),
            vec![w(b"a", 0, b"1"), w(b"a", 10, b"3"), w(b"ab", 10, b"4")]
        );
        assert_eq!(
            windows.backward_all_windows().unwrap(),
            vec![w(b"ab", 10, b"4"), w(b"a", 10, b"3"), w(b"a", 0, b"1")]
        );
        let log = sink.records();
        assert_eq!(log.len(), 5, "{engine:?}");
        assert_eq!(
            log[0],
            ChangelogRecord {
                key: vec![b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                value: Some(b"1".to_vec()),
                timestamp: 7
            }
        );
        assert_eq!(log[3].key, vec![b'a', b'b', 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0]);
        assert_eq!(
            log[4],
            ChangelogRecord {
                key: window_store_key(b"b", 0, 0),
                value: None,
                timestamp: 8
            }
        );
    }
}

#[test]
fn window_store_drops_expired_windows_and_segments() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = window_supplier(engine, "win").get(Some(dir.path())).unwrap();
        let windows = store.as_window_store_mut().unwrap();
        windows.put_window(b"k", Some(b"0"), 0).unwrap();
        windows.put_window(b"k", Some(b"35"), 35).unwrap();
        windows.put_window(b"k", Some(b"100"), 100).unwrap();
        // Observed stream time 100, retention 100: window 0 is expired, 35 is not.
        assert_eq!(windows.fetch(b"k", 0).unwrap(), None);
        assert_eq!(
            windows.fetch_range(b"k", 0, 100).unwrap(),
            vec![w(b"k", 35, b"35"), w(b"k", 100, b"100")]
        );
        // A write for an expired window is skipped.
        windows.put_window(b"k", Some(b"late"), 0).unwrap();
        assert_eq!(windows.fetch(b"k", 0).unwrap(), None);
        windows.put_window(b"k", Some(b"190"), 190).unwrap();
        // Segments [0,30) and [30,60) and [60, 90) are wholly expired (min live time 91).
        assert_eq!(
            windows.all_windows().unwrap(),
            vec![w(b"k", 100, b"100"), w(b"k", 190, b"190")]
        );
        #[cfg(feature = "rocksdb")]
        if engine == Engine::RocksDb {
            let mut segments: Vec<String> = std::fs::read_dir(dir.path().join("win"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            segments.sort();
            assert_eq!(segments, vec!["win.180".to_owned(), "win.90".to_owned()]);
        }
    }
}

#[test]
fn session_store_finds_sessions_and_logs_key_end_start() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let clock = RecordClock::shared();
        let mut store = logged(session_supplier(engine, "ses"), dir.path(), &sink, &clock);
        let sessions = store.as_session_store_mut().unwrap();
        clock.set(3);
        sessions.put_session(b"a", 0, 5, b"x").unwrap();
        sessions.put_session(b"a", 10, 20, b"y").unwrap();
        sessions.put_session(b"b", 3, 12, b"z").unwrap();
        assert_eq!(sessions.fetch_session(b"a", 10, 20).unwrap(), Some(b"y".to_vec()));
        // Sessions of `a` that end at or after 4 and start at or before 9: only [0, 5].
        assert_eq!(sessions.find_sessions(b"a", 4, 9).unwrap(), vec![s(b"a", 0, 5, b"x")]);
        assert_eq!(
            sessions.find_sessions(b"a", 0, 30).unwrap(),
            vec![s(b"a", 0, 5, b"x"), s(b"a", 10, 20, b"y")]
        );
        assert_eq!(
            sessions.backward_fetch_sessions(b"a").unwrap(),
            vec![s(b"a", 10, 20, b"y"), s(b"a", 0, 5, b"x")]
        );
        assert_eq!(
            sessions.all_sessions().unwrap(),
            vec![s(b"a", 0, 5, b"x"), s(b"b", 3, 12, b"z"), s(b"a", 10, 20, b"y")]
        );
        clock.set(4);
        sessions.remove_session(b"a", 0, 5).unwrap();
        assert_eq!(sessions.fetch_sessions(b"a").unwrap(), vec![s(b"a", 10, 20, b"y")]);
        let log = sink.records();
        assert_eq!(
            log[0].key,
            vec![b'a', 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
            "{engine:?}"
        );
        assert_eq!(
            log[3],
            ChangelogRecord {
                key: session_store_key(b"a", 0, 5),
                value: None,
                timestamp: 4
            }
        );
    }
}

#[test]
fn stores_restore_from_their_changelog() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let clock = RecordClock::shared();
        let mut store = logged(window_supplier(engine, "win"), dir.path(), &sink, &clock);
        let windows = store.as_window_store_mut().unwrap();
        for (key, start, value) in [(b"a", 0, &b"1"[..]), (b"b", 10, b"2"), (b"a", 10, b"3")] {
            windows.put_window(key, Some(value), start).unwrap();
        }
        windows.put_window(b"b", None, 10).unwrap();
        let before = windows.all_windows().unwrap();

        let restored_dir = tempfile::tempdir().unwrap();
        let mut restored = window_supplier(engine, "win").get(Some(restored_dir.path())).unwrap();
        assert_eq!(restore_all(restored.as_mut(), sink.records(), 2).unwrap(), 4);
        assert_eq!(restored.as_window_store().unwrap().all_windows().unwrap(), before);
        assert_eq!(before, vec![w(b"a", 0, b"1"), w(b"a", 10, b"3")]);

        let session_sink = RecordingSink::new();
        let mut sessions = logged(session_supplier(engine, "ses"), dir.path(), &session_sink, &clock);
        let view = sessions.as_session_store_mut().unwrap();
        view.put_session(b"a", 0, 0, b"1").unwrap();
        view.remove_session(b"a", 0, 0).unwrap();
        view.put_session(b"a", 0, 4, b"2").unwrap();
        let mut restored = session_supplier(engine, "ses").get(Some(restored_dir.path())).unwrap();
        restore_all(restored.as_mut(), session_sink.records(), 10).unwrap();
        assert_eq!(
            restored.as_session_store().unwrap().all_sessions().unwrap(),
            vec![s(b"a", 0, 4, b"2")]
        );
    }
}

fn dup_window_supplier(engine: Engine, name: &str) -> Arc<dyn KeyValueBytesStoreSupplier> {
    let supplier = match engine {
        Engine::Memory => streams_state::SegmentedBytesStoreSupplier::in_memory_window(name, RETENTION, 10),
        #[cfg(feature = "rocksdb")]
        Engine::RocksDb => streams_state::SegmentedBytesStoreSupplier::rocksdb_window(name, RETENTION, 10, None),
    };
    Arc::new(
        supplier
            .unwrap()
            .with_segment_interval(SEGMENT)
            .unwrap()
            .with_retain_duplicates()
            .unwrap(),
    )
}

fn wd(key: &[u8], start: i64, seqnum: u32, value: &[u8]) -> WindowEntry {
    WindowEntry {
        seqnum,
        ..w(key, start, value)
    }
}

/// A store retaining duplicates keeps every value of a key and window start under seqnums 1,
/// 2, ... (Kafka's), ignores null writes, logs each value under its own key, expires by
/// retention like any window store, and comes back the same from its changelog, where a new
/// write after the restore takes a seqnum no restored entry holds.
#[test]
fn window_store_retaining_duplicates_keeps_every_value_and_restores_them() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let clock = RecordClock::shared();
        let mut store = logged(dup_window_supplier(engine, "dups"), dir.path(), &sink, &clock);
        let windows = store.as_window_store_mut().unwrap();
        assert!(windows.retains_duplicates());
        clock.set(3);
        windows.put_window(b"k", Some(b"A"), 5).unwrap();
        windows.put_window(b"k", Some(b"B"), 5).unwrap();
        windows.put_window(b"j", Some(b"x"), 5).unwrap();
        windows.put_window(b"k", Some(b"C"), 7).unwrap();
        // Null writes change nothing, log nothing and take no seqnum.
        windows.put_window(b"k", None, 5).unwrap();
        windows.put_window(b"k", Some(b"A"), 5).unwrap();
        assert_eq!(
            windows.fetch_range(b"k", 0, 10).unwrap(),
            vec![
                wd(b"k", 5, 1, b"A"),
                wd(b"k", 5, 2, b"B"),
                wd(b"k", 5, 5, b"A"),
                wd(b"k", 7, 4, b"C")
            ],
            "{engine:?}"
        );
        assert_eq!(windows.fetch(b"k", 5).unwrap(), Some(b"A".to_vec()));
        assert_eq!(
            windows.backward_fetch_range(b"k", 5, 5).unwrap(),
            vec![wd(b"k", 5, 5, b"A"), wd(b"k", 5, 2, b"B"), wd(b"k", 5, 1, b"A")]
        );
        assert_eq!(
            windows.fetch_all(5, 5).unwrap(),
            vec![
                wd(b"j", 5, 3, b"x"),
                wd(b"k", 5, 1, b"A"),
                wd(b"k", 5, 2, b"B"),
                wd(b"k", 5, 5, b"A")
            ]
        );
        let log = sink.records();
        assert_eq!(
            log.len(),
            5,
            "{engine:?}: one changelog record per value, none for null writes"
        );
        assert_eq!(
            log[1],
            ChangelogRecord {
                key: window_store_key(b"k", 5, 2),
                value: Some(b"B".to_vec()),
                timestamp: 3
            }
        );
        assert!(log.iter().all(|r| r.value.is_some()));
        // Retention: observed stream time 106 expires window starts up to 6.
        assert!(!windows.write_expired(6));
        windows.put_window(b"k", Some(b"D"), 106).unwrap();
        assert!(windows.write_expired(6));
        assert!(!windows.write_expired(7));
        windows.put_window(b"k", Some(b"late"), 6).unwrap();
        assert_eq!(
            windows.all_windows().unwrap(),
            vec![wd(b"k", 7, 4, b"C"), wd(b"k", 106, 6, b"D")]
        );
        let before = windows.all_windows().unwrap();
        // The store skips the late write; the change-logging layer logs it all the same, as
        // Kafka Streams' does, and a restore skips it again.
        assert_eq!(sink.records().len(), 7);

        // Restore into a fresh store: the same entries, and a new write does not overwrite one.
        let restored_dir = tempfile::tempdir().unwrap();
        let restored_sink = RecordingSink::new();
        let mut restored = logged(
            dup_window_supplier(engine, "dups"),
            restored_dir.path(),
            &restored_sink,
            &clock,
        );
        restore_all(restored.as_mut(), sink.records(), 2).unwrap();
        let windows = restored.as_window_store_mut().unwrap();
        assert_eq!(windows.all_windows().unwrap(), before, "{engine:?}");
        assert!(restored_sink.records().is_empty(), "restoring logs nothing");
        windows.put_window(b"k", Some(b"E"), 7).unwrap();
        windows.put_window(b"k", Some(b"F"), 106).unwrap();
        let after: Vec<(i64, Vec<u8>)> = windows
            .fetch_range(b"k", 0, 200)
            .unwrap()
            .into_iter()
            .map(|e| (e.window_start, e.value))
            .collect();
        assert_eq!(
            after,
            vec![
                (7, b"C".to_vec()),
                (7, b"E".to_vec()),
                (106, b"D".to_vec()),
                (106, b"F".to_vec())
            ],
            "{engine:?}"
        );
    }
}

/// Two writes of one key and window start after a RocksDB store was reopened from disk keep
/// both values and the values from before.
#[cfg(feature = "rocksdb")]
#[test]
fn rocksdb_window_store_retaining_duplicates_reopens_without_overwriting() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = dup_window_supplier(Engine::RocksDb, "dups")
        .get(Some(dir.path()))
        .unwrap();
    let windows = store.as_window_store_mut().unwrap();
    windows.put_window(b"a", Some(b"1"), 5).unwrap();
    windows.put_window(b"a", Some(b"2"), 5).unwrap();
    store.close().unwrap();
    let mut reopened = dup_window_supplier(Engine::RocksDb, "dups")
        .get(Some(dir.path()))
        .unwrap();
    let windows = reopened.as_window_store_mut().unwrap();
    windows.put_window(b"a", Some(b"3"), 5).unwrap();
    windows.put_window(b"a", Some(b"4"), 5).unwrap();
    let values: Vec<Vec<u8>> = windows
        .fetch_range(b"a", 5, 5)
        .unwrap()
        .into_iter()
        .map(|e| e.value)
        .collect();
    assert_eq!(values, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"4".to_vec()]);
}

#[cfg(feature = "rocksdb")]
#[test]
fn rocksdb_window_store_reopens_its_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = window_supplier(Engine::RocksDb, "win").get(Some(dir.path())).unwrap();
    let windows = store.as_window_store_mut().unwrap();
    windows.put_window(b"a", Some(b"1"), 5).unwrap();
    windows.put_window(b"a", Some(b"2"), 65).unwrap();
    store.close().unwrap();
    assert!(matches!(
        store.get(&window_store_key(b"a", 5, 0)),
        Err(StateError::Closed { .. })
    ));
    let reopened = window_supplier(Engine::RocksDb, "win").get(Some(dir.path())).unwrap();
    assert_eq!(
        reopened.as_window_store().unwrap().all_windows().unwrap(),
        vec![w(b"a", 5, b"1"), w(b"a", 65, b"2")]
    );
    assert!(reopened.persistent());
}

#[test]
fn malformed_store_keys_and_bad_configs_are_typed_errors() {
    let mut store = window_supplier(Engine::Memory, "win").get(None).unwrap();
    assert!(matches!(store.put(b"short", b"v"), Err(StateError::InvalidKey { store, .. }) if store == "win"));
    assert!(matches!(
        Stores::in_memory_window_store("w", 5, 10),
        Err(StateError::Config { store, .. }) if store == "w"
    ));
    assert!(matches!(
        Stores::in_memory_session_store("s", -1),
        Err(StateError::Config { store, .. }) if store == "s"
    ));
}

/// An operation on a window or session store.
#[derive(Debug, Clone)]
enum Op {
    Put(u8, i64, u8),
    Delete(u8, i64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    // Keys 0..3 as one or two bytes (so one key prefixes another), times 0..300.
    let op = prop_oneof![
        4 => (0u8..4, 0i64..300, any::<u8>()).prop_map(|(k, t, v)| Op::Put(k, t, v)),
        1 => (0u8..4, 0i64..300).prop_map(|(k, t)| Op::Delete(k, t)),
    ];
    proptest::collection::vec(op, 1..60)
}

fn key(k: u8) -> Vec<u8> {
    if k == 3 {
        vec![1, 1]
    } else {
        vec![k]
    }
}

/// A window store model: what is live is what was last written at a time not older than
/// `observed - retention`, where `observed` is the largest time written.
struct WindowModel<K> {
    map: BTreeMap<(i64, K), Vec<u8>>,
    observed: Option<i64>,
}

impl<K: Ord + Clone> WindowModel<K> {
    fn new() -> Self {
        WindowModel {
            map: BTreeMap::new(),
            observed: None,
        }
    }

    fn min_live(&self) -> i64 {
        self.observed.map_or(i64::MIN, |o| o - RETENTION + 1)
    }

    fn write(&mut self, key: K, time: i64, value: Option<Vec<u8>>) {
        self.observed = Some(self.observed.map_or(time, |o| o.max(time)));
        if time < self.min_live() {
            return;
        }
        match value {
            Some(v) => {
                self.map.insert((time, key), v);
            }
            None => {
                self.map.remove(&(time, key));
            }
        }
    }

    fn live(&self) -> Vec<(i64, K, Vec<u8>)> {
        let min = self.min_live();
        self.map
            .iter()
            .filter(|((t, _), _)| *t >= min)
            .map(|((t, k), v)| (*t, k.clone(), v.clone()))
            .collect()
    }
}

fn check_window_engine(engine: Engine, ops: &[Op], from: i64, to: i64) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = window_supplier(engine, "win").get(Some(dir.path())).unwrap();
    let mut model = WindowModel::new();
    for op in ops {
        let windows = store.as_window_store_mut().unwrap();
        match op {
            Op::Put(k, t, v) => {
                windows.put_window(&key(*k), Some(&[*v]), *t).unwrap();
                model.write(key(*k), *t, Some(vec![*v]));
            }
            Op::Delete(k, t) => {
                windows.put_window(&key(*k), None, *t).unwrap();
                model.write(key(*k), *t, None);
            }
        }
    }
    let windows = store.as_window_store().unwrap();
    let live = model.live();
    let expected_all: Vec<WindowEntry> = live.iter().map(|(t, k, v)| w(k, *t, v)).collect();
    prop_assert_eq!(windows.all_windows().unwrap(), expected_all.clone());
    let in_range: Vec<WindowEntry> = expected_all
        .iter()
        .filter(|e| e.window_start >= from && e.window_start <= to)
        .cloned()
        .collect();
    prop_assert_eq!(windows.fetch_all(from, to).unwrap(), in_range.clone());
    for k in 0..4u8 {
        let of_key: Vec<WindowEntry> = in_range.iter().filter(|e| e.key == key(k)).cloned().collect();
        prop_assert_eq!(windows.fetch_range(&key(k), from, to).unwrap(), of_key.clone());
        let mut backward = of_key;
        backward.reverse();
        prop_assert_eq!(windows.backward_fetch_range(&key(k), from, to).unwrap(), backward);
        for (t, _, _) in &live {
            let expected = model.map.get(&(*t, key(k))).cloned();
            prop_assert_eq!(windows.fetch(&key(k), *t).unwrap(), expected);
        }
    }
    Ok(())
}

fn check_session_engine(engine: Engine, ops: &[Op], earliest_end: i64, latest_start: i64) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = session_supplier(engine, "ses").get(Some(dir.path())).unwrap();
    // Sessions [t, t + len] with len from the value; the model keys them by (end, (key, start)).
    let mut model = WindowModel::new();
    for op in ops {
        let sessions = store.as_session_store_mut().unwrap();
        match op {
            Op::Put(k, t, v) => {
                let end = t + i64::from(*v % 20);
                sessions.put_session(&key(*k), *t, end, &[*v]).unwrap();
                model.write((key(*k), *t), end, Some(vec![*v]));
            }
            Op::Delete(k, t) => {
                sessions.remove_session(&key(*k), *t, *t).unwrap();
                model.write((key(*k), *t), *t, None);
            }
        }
    }
    let sessions = store.as_session_store().unwrap();
    let live: Vec<SessionEntry> = model
        .live()
        .into_iter()
        .map(|(end, (k, start), v)| s(&k, start, end, &v))
        .collect();
    prop_assert_eq!(sessions.all_sessions().unwrap(), live.clone());
    for k in 0..4u8 {
        let found: Vec<SessionEntry> = live
            .iter()
            .filter(|e| e.key == key(k) && e.end >= earliest_end && e.start <= latest_start)
            .cloned()
            .collect();
        prop_assert_eq!(
            sessions.find_sessions(&key(k), earliest_end, latest_start).unwrap(),
            found.clone()
        );
        let mut backward = found;
        backward.reverse();
        prop_assert_eq!(
            sessions
                .backward_find_sessions(&key(k), earliest_end, latest_start)
                .unwrap(),
            backward
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn in_memory_window_store_matches_the_model(ops in ops(), from in 0i64..300, len in 0i64..300) {
        check_window_engine(Engine::Memory, &ops, from, from + len)?;
    }

    #[test]
    fn in_memory_session_store_matches_the_model(ops in ops(), end in 0i64..300, start in 0i64..300) {
        check_session_engine(Engine::Memory, &ops, end, start)?;
    }
}

#[cfg(feature = "rocksdb")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn rocksdb_window_store_matches_the_model(ops in ops(), from in 0i64..300, len in 0i64..300) {
        check_window_engine(Engine::RocksDb, &ops, from, from + len)?;
    }

    #[test]
    fn rocksdb_session_store_matches_the_model(ops in ops(), end in 0i64..300, start in 0i64..300) {
        check_session_engine(Engine::RocksDb, &ops, end, start)?;
    }
}
