//! Versioned key-value stores: Kafka Streams' documented semantics, both engines against a
//! model of every version, the changelog, restore, and the key-value view.
#![allow(clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use streams_state::versioned::{PutOutcome, VersionedKeyValueStore, VersionedRecord};
use streams_state::{restore_all, KeyValueStore, KeyValueStoreBuilder, RecordClock, Stores};

use crate::common::{rec, RecordingSink};

const RETENTION: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Memory,
    #[cfg(feature = "rocksdb")]
    RocksDb,
}

fn engines() -> Vec<Engine> {
    vec![
        Engine::Memory,
        #[cfg(feature = "rocksdb")]
        Engine::RocksDb,
    ]
}

fn builder(engine: Engine, name: &str, retention: i64) -> KeyValueStoreBuilder {
    let supplier = match engine {
        Engine::Memory => Stores::in_memory_versioned_key_value_store(name, retention).unwrap(),
        #[cfg(feature = "rocksdb")]
        Engine::RocksDb => Stores::persistent_versioned_key_value_store(name, retention).unwrap(),
    };
    Stores::key_value_store_builder(supplier)
}

/// A versioned store of `engine` under `dir`, logging to `sink`.
fn open(engine: Engine, dir: &Path, sink: &RecordingSink, retention: i64) -> Box<dyn KeyValueStore> {
    builder(engine, "versions", retention)
        .with_caching_enabled(1 << 20)
        .build(Some(dir), Some(sink.boxed()), RecordClock::shared())
        .unwrap()
}

fn versioned(store: &mut dyn KeyValueStore) -> &mut dyn VersionedKeyValueStore {
    store.as_versioned_store_mut().unwrap()
}

fn record(value: &[u8], timestamp: i64, valid_to: Option<i64>) -> Option<VersionedRecord> {
    Some(VersionedRecord {
        value: value.to_vec(),
        timestamp,
        valid_to,
    })
}

/// The example of Kafka Streams' versioned state store documentation: puts in and out of
/// order, a tombstone, and queries inside and beyond the history retention.
#[test]
fn versions_answer_as_of_queries_like_kafka_streams() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let mut store = open(engine, dir.path(), &sink, RETENTION);
        assert!(!store.caching_enabled(), "{engine:?}: a versioned store has no cache");
        let v = versioned(&mut *store);
        assert_eq!(v.history_retention(), RETENTION);
        assert_eq!(v.put_versioned(b"k", Some(b"a"), 10).unwrap(), PutOutcome::Latest);
        assert_eq!(v.put_versioned(b"k", Some(b"c"), 30).unwrap(), PutOutcome::Latest);
        // Out of order: valid from 20 until the next version, at 30.
        assert_eq!(v.put_versioned(b"k", Some(b"b"), 20).unwrap(), PutOutcome::ValidTo(30));
        // The same key and timestamp again replaces the version.
        assert_eq!(v.put_versioned(b"k", Some(b"B"), 20).unwrap(), PutOutcome::ValidTo(30));
        assert_eq!(v.put_versioned(b"k", None, 40).unwrap(), PutOutcome::Latest);
        assert_eq!(v.put_versioned(b"k", Some(b"e"), 50).unwrap(), PutOutcome::Latest);
        assert_eq!(v.observed_stream_time(), 50);

        assert_eq!(v.get_as_of(b"k", 9).unwrap(), None);
        assert_eq!(v.get_as_of(b"k", 10).unwrap(), record(b"a", 10, Some(20)));
        assert_eq!(v.get_as_of(b"k", 19).unwrap(), record(b"a", 10, Some(20)));
        assert_eq!(v.get_as_of(b"k", 25).unwrap(), record(b"B", 20, Some(30)));
        assert_eq!(v.get_as_of(b"k", 35).unwrap(), record(b"c", 30, Some(40)));
        assert_eq!(v.get_as_of(b"k", 45).unwrap(), None, "{engine:?}: deleted at 40");
        assert_eq!(v.get_as_of(b"k", 1_000).unwrap(), record(b"e", 50, None));
        assert_eq!(v.get_latest(b"k").unwrap(), record(b"e", 50, None));
        assert_eq!(v.get_as_of(b"other", 50).unwrap(), None);

        // Stream time 140: history before 40 is beyond the retention.
        assert_eq!(v.put_versioned(b"x", Some(b"x"), 140).unwrap(), PutOutcome::Latest);
        assert_eq!(
            v.get_as_of(b"k", 35).unwrap(),
            None,
            "{engine:?}: older than the retention"
        );
        // The latest version never expires.
        assert_eq!(v.get_as_of(b"k", 60).unwrap(), record(b"e", 50, None));
        // Puts older than the retention are refused, and not logged.
        assert_eq!(v.put_versioned(b"k", Some(b"late"), 39).unwrap(), PutOutcome::NotPut);
        assert_eq!(
            v.put_versioned(b"k", Some(b"in-grace"), 40).unwrap(),
            PutOutcome::ValidTo(50)
        );
        assert_eq!(v.get_as_of(b"k", 45).unwrap(), record(b"in-grace", 40, Some(50)));

        // The changelog has every applied put with its own timestamp, values without the
        // timestamp prefix, tombstones as `None`.
        assert_eq!(
            sink.records(),
            vec![
                rec(b"k", Some(b"a"), 10),
                rec(b"k", Some(b"c"), 30),
                rec(b"k", Some(b"b"), 20),
                rec(b"k", Some(b"B"), 20),
                rec(b"k", None, 40),
                rec(b"k", Some(b"e"), 50),
                rec(b"x", Some(b"x"), 140),
                rec(b"k", Some(b"in-grace"), 40),
            ],
            "{engine:?}"
        );
    }
}

/// `delete_versioned` returns the record valid at the deletion time and writes a tombstone.
#[test]
fn delete_returns_the_record_valid_at_its_timestamp() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let mut store = open(engine, dir.path(), &sink, RETENTION);
        let v = versioned(&mut *store);
        v.put_versioned(b"k", Some(b"a"), 10).unwrap();
        v.put_versioned(b"k", Some(b"b"), 30).unwrap();
        assert_eq!(v.delete_versioned(b"k", 20).unwrap(), record(b"a", 10, Some(30)));
        assert_eq!(v.get_as_of(b"k", 25).unwrap(), None);
        assert_eq!(v.get_as_of(b"k", 15).unwrap(), record(b"a", 10, Some(20)));
        assert_eq!(v.get_latest(b"k").unwrap(), record(b"b", 30, None));
        assert_eq!(v.delete_versioned(b"k", 35).unwrap(), record(b"b", 30, None));
        assert_eq!(v.get_latest(b"k").unwrap(), None);
        v.put_versioned(b"y", Some(b"y"), 200).unwrap();
        assert_eq!(
            v.delete_versioned(b"k", 50).unwrap(),
            None,
            "{engine:?}: too old to delete"
        );
    }
}

/// Through the key-value interface the store holds the latest values in the
/// `ValueAndTimestamp` layout; puts there are versions at the timestamp they carry.
#[test]
fn the_key_value_view_shows_latest_values() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = RecordingSink::new();
        let mut store = open(engine, dir.path(), &sink, RETENTION);
        let at = |ts: i64, v: &[u8]| [&ts.to_be_bytes()[..], v].concat();
        store.put(b"b", &at(20, b"two")).unwrap();
        store.put(b"a", &at(10, b"one")).unwrap();
        store.put(b"c", &at(15, b"three")).unwrap();
        store.put(b"a", &at(5, b"older")).unwrap();
        assert_eq!(store.get(b"a").unwrap(), Some(at(10, b"one")));
        assert_eq!(store.delete(b"c").unwrap(), Some(at(15, b"three")));
        assert_eq!(store.get(b"c").unwrap(), None);
        let all: Vec<_> = store.all().unwrap().map(Result::unwrap).collect();
        assert_eq!(
            all,
            vec![(b"a".to_vec(), at(10, b"one")), (b"b".to_vec(), at(20, b"two"))]
        );
        assert_eq!(store.approximate_num_entries().unwrap(), 2);
        assert!(store.put(b"a", b"short").is_err(), "{engine:?}: no timestamp prefix");
        let v = versioned(&mut *store);
        assert_eq!(v.get_as_of(b"a", 7).unwrap(), record(b"older", 5, Some(10)));
        // The tombstone went in at the observed stream time, 20.
        assert_eq!(v.get_as_of(b"c", 19).unwrap(), record(b"three", 15, Some(20)));
        assert_eq!(sink.records()[4], rec(b"c", None, 20));
    }
}

#[test]
fn negative_history_retention_is_refused() {
    assert!(Stores::in_memory_versioned_key_value_store("v", -1).is_err());
}

/// What a model of every version answers: the latest version and every older one kept.
#[derive(Default, Debug)]
struct Model {
    versions: BTreeMap<Vec<u8>, BTreeMap<i64, Option<Vec<u8>>>>,
    stream_time: Option<i64>,
}

impl Model {
    fn cutoff(&self) -> i64 {
        self.stream_time.map_or(i64::MIN, |t| t - RETENTION)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>, ts: i64) -> PutOutcome {
        if ts < self.cutoff() {
            return PutOutcome::NotPut;
        }
        self.stream_time = Some(self.stream_time.map_or(ts, |t| t.max(ts)));
        let versions = self.versions.entry(key.to_vec()).or_default();
        versions.insert(ts, value.map(<[u8]>::to_vec));
        match versions.range(ts + 1..).next() {
            Some((&next, _)) => PutOutcome::ValidTo(next),
            None => PutOutcome::Latest,
        }
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Option<VersionedRecord> {
        let versions = self.versions.get(key)?;
        let (&latest_ts, _) = versions.iter().next_back()?;
        if as_of < self.cutoff() && latest_ts > as_of {
            return None;
        }
        let (&ts, value) = versions.range(..=as_of).next_back()?;
        let valid_to = versions.range(ts + 1..).next().map(|(&t, _)| t);
        Some(VersionedRecord {
            value: value.clone()?,
            timestamp: ts,
            valid_to,
        })
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, Option<Vec<u8>>, i64),
    Get(Vec<u8>, i64),
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"ab".to_vec(), vec![]]);
    let value = prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..4));
    prop_oneof![
        3 => (key.clone(), value, 0i64..400).prop_map(|(k, v, t)| Op::Put(k, v, t)),
        2 => (key, -10i64..450).prop_map(|(k, t)| Op::Get(k, t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Both engines agree with the model on every put outcome and as-of query, and the
    /// changelog replayed into a fresh store answers every query as the store does.
    #[test]
    fn versioned_store_matches_the_model(ops in prop::collection::vec(op(), 1..80)) {
        for engine in engines() {
            let dir = tempfile::tempdir().unwrap();
            let sink = RecordingSink::new();
            let mut store = open(engine, dir.path(), &sink, RETENTION);
            let mut model = Model::default();
            for op in &ops {
                let v = versioned(&mut *store);
                match op {
                    Op::Put(k, value, ts) => {
                        prop_assert_eq!(v.put_versioned(k, value.as_deref(), *ts).unwrap(), model.put(k, value.as_deref(), *ts), "{:?} {:?}", engine, op);
                    }
                    Op::Get(k, ts) => {
                        prop_assert_eq!(v.get_as_of(k, *ts).unwrap(), model.get_as_of(k, *ts), "{:?} {:?}", engine, op);
                    }
                }
            }
            let restored_dir = tempfile::tempdir().unwrap();
            let mut restored = builder(engine, "versions", RETENTION)
                .with_logging_disabled()
                .build(Some(restored_dir.path()), None, RecordClock::shared())
                .unwrap();
            restore_all(&mut *restored, sink.records(), 7).unwrap();
            let cutoff = model.cutoff();
            for key in [b"a".to_vec(), b"b".to_vec(), b"ab".to_vec(), vec![]] {
                for ts in (cutoff.max(-10)..450).step_by(5) {
                    prop_assert_eq!(
                        versioned(&mut *restored).get_as_of(&key, ts).unwrap(),
                        versioned(&mut *store).get_as_of(&key, ts).unwrap(),
                        "{:?} restored {:?} at {}", engine, key, ts
                    );
                }
            }
        }
    }
}
