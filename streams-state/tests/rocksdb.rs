//! The RocksDB engine: exact behaviour, and property tests against a `BTreeMap` model (alone,
//! across close and reopen, and under the logging and caching layers).
#![cfg(feature = "rocksdb")]
#![allow(clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;

#[allow(dead_code)]
#[path = "properties/model.rs"]
mod model;

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use streams_state::rocksdb::KEY_VALUE_STORES_DIR;
use streams_state::{
    restore_all, InMemoryKeyValueStore, KeyValue, KeyValueBytesStoreSupplier, KeyValueStore, RecordClock,
    RocksDbConfig, RocksDbKeyValueBytesStoreSupplier, RocksDbKeyValueStore, RocksDbResources, StateError, Stores,
};
use tempfile::TempDir;

use crate::common::{collect, kv, rec, RecordingSink};
use crate::model::{apply, entries, op, write_op, Count, Model, Op};

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// A RocksDB store called `name` in the task directory `dir`, through the public factory.
fn open(name: &str, dir: &Path) -> Box<dyn KeyValueStore> {
    Stores::persistent_key_value_store(name).get(Some(dir)).unwrap()
}

/// Keys in the order RocksDB must return them, 0xff bytes and the empty key included.
fn ordered_keys() -> Vec<Vec<u8>> {
    vec![
        vec![],
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x00, 0xff],
        vec![0x01],
        vec![0x01, 0xff],
        vec![0x01, 0xff, 0xff],
        vec![0x02],
        b"a".to_vec(),
        b"ab".to_vec(),
        vec![0x7f],
        vec![0x80],
        vec![0xfe, 0xff],
        vec![0xff],
        vec![0xff, 0x00],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0x00],
        vec![0xff, 0xff, 0xff],
    ]
}

/// A store holding every key of [`ordered_keys`], inserted in reverse, each valued by its index.
fn filled(dir: &Path) -> Box<dyn KeyValueStore> {
    let mut store = open("filled", dir);
    for (i, key) in ordered_keys().iter().enumerate().rev() {
        store.put(key, &[i as u8]).unwrap();
    }
    store
}

fn expected(filter: impl Fn(&[u8]) -> bool) -> Vec<KeyValue> {
    ordered_keys()
        .into_iter()
        .enumerate()
        .filter(|(_, k)| filter(k))
        .map(|(i, k)| (k, vec![i as u8]))
        .collect()
}

fn is_closed(result: Result<impl std::fmt::Debug, StateError>) -> bool {
    matches!(result, Err(StateError::Closed { ref store }) if store == "kv")
}

#[test]
fn put_get_overwrite_and_delete() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    assert_eq!(store.get(b"a").unwrap(), None);
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"").unwrap();
    store.put(b"", b"empty key").unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(b"b").unwrap(), Some(Vec::new()));
    assert_eq!(store.get(b"").unwrap(), Some(b"empty key".to_vec()));
    store.put(b"a", b"2").unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"2".to_vec()));
    // `get_into` replaces the buffer's content, and empties it for a missing key.
    let mut buffer = b"left over".to_vec();
    assert!(store.get_into(b"a", &mut buffer).unwrap());
    assert_eq!(buffer, b"2");
    assert!(store.get_into(b"b", &mut buffer).unwrap());
    assert!(buffer.is_empty());
    buffer.push(7);
    assert!(!store.get_into(b"missing", &mut buffer).unwrap());
    assert!(buffer.is_empty());
    assert_eq!(store.delete(b"a").unwrap(), Some(b"2".to_vec()));
    assert_eq!(store.delete(b"a").unwrap(), None);
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.put_if_absent(b"b", b"x").unwrap(), Some(Vec::new()));
    assert_eq!(store.put_if_absent(b"c", b"3").unwrap(), None);
    assert_eq!(
        collect(store.all().unwrap()),
        vec![kv(b"", b"empty key"), kv(b"b", b""), kv(b"c", b"3")]
    );
}

#[test]
fn all_is_in_bytewise_key_order_including_0xff() {
    let dir = tempdir();
    let store = filled(dir.path());
    assert_eq!(collect(store.all().unwrap()), expected(|_| true));
}

#[test]
fn reads_span_memtables_and_sst_files() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    store.put(b"a", b"old").unwrap();
    store.put(b"b", b"2").unwrap();
    store.put(b"d", b"4").unwrap();
    store.flush().unwrap();
    store.put(b"a", b"new").unwrap();
    store.put(b"c", b"3").unwrap();
    store.delete(b"d").unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"new".to_vec()));
    assert_eq!(store.get(b"d").unwrap(), None);
    assert_eq!(
        collect(store.all().unwrap()),
        vec![kv(b"a", b"new"), kv(b"b", b"2"), kv(b"c", b"3")]
    );
}

#[test]
fn range_is_inclusive_at_both_ends() {
    let dir = tempdir();
    let store = filled(dir.path());
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (vec![0x01], vec![0x02]),
        (vec![], vec![0x00]),
        (vec![0x00, 0xff], vec![0x01, 0xff]),
        (vec![0xff], vec![0xff, 0xff]),
        (vec![0xff, 0xff], vec![0xff, 0xff, 0xff]),
        (vec![0xfe], vec![0xff, 0xff, 0xff, 0xff]),
        (b"a".to_vec(), b"a".to_vec()),
        (b"aa".to_vec(), b"aa".to_vec()),
        (vec![], vec![0xff, 0xff, 0xff]),
    ];
    for (from, to) in cases {
        assert_eq!(
            collect(store.range(&from, &to).unwrap()),
            expected(|k| from.as_slice() <= k && k <= to.as_slice()),
            "range {from:?}..={to:?}"
        );
    }
}

#[test]
fn range_with_from_after_to_is_empty() {
    let dir = tempdir();
    let store = filled(dir.path());
    assert!(collect(store.range(&[0x02], &[0x01]).unwrap()).is_empty());
    assert!(collect(store.range(&[0xff, 0x00], &[0xff]).unwrap()).is_empty());
}

#[test]
fn prefix_scan_returns_exactly_the_keys_with_the_prefix() {
    let dir = tempdir();
    let store = filled(dir.path());
    let prefixes: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x01],
        vec![0x01, 0xff],
        vec![0xfe],
        vec![0xff],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff, 0xff],
        b"a".to_vec(),
        b"b".to_vec(),
    ];
    for prefix in prefixes {
        assert_eq!(
            collect(store.prefix_scan(&prefix).unwrap()),
            expected(|k| k.starts_with(&prefix)),
            "prefix {prefix:?}"
        );
    }
}

#[test]
fn iterators_can_stop_early_on_a_large_store() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    for i in 0u32..10_000 {
        store.put(&i.to_be_bytes(), &[0u8; 100]).unwrap();
    }
    let first: Vec<KeyValue> = store.all().unwrap().take(2).map(Result::unwrap).collect();
    assert_eq!(
        first,
        vec![
            (0u32.to_be_bytes().to_vec(), vec![0u8; 100]),
            (1u32.to_be_bytes().to_vec(), vec![0u8; 100])
        ]
    );
    assert_eq!(
        store
            .range(&5000u32.to_be_bytes(), &5999u32.to_be_bytes())
            .unwrap()
            .count(),
        1000
    );
}

#[test]
fn approximate_num_entries_reads_the_rocksdb_estimate() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    assert_eq!(store.approximate_num_entries().unwrap(), 0);
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    store.put(b"c", b"3").unwrap();
    assert_eq!(store.approximate_num_entries().unwrap(), 3);
    store.flush().unwrap();
    assert_eq!(store.approximate_num_entries().unwrap(), 3);
}

#[test]
fn restore_batch_applies_puts_and_tombstones_in_order() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    store.put(b"gone", b"x").unwrap();
    store
        .restore_batch(&[
            rec(b"a", Some(b"1"), 1),
            rec(b"b", Some(b"2"), 2),
            rec(b"a", None, 3),
            rec(b"gone", None, 4),
            rec(b"b", Some(b"22"), 5),
            rec(b"missing", None, 6),
        ])
        .unwrap();
    assert_eq!(collect(store.all().unwrap()), vec![kv(b"b", b"22")]);

    let records = vec![rec(b"c", Some(b"3"), 7), rec(b"b", None, 8), rec(b"d", Some(b"4"), 9)];
    assert_eq!(restore_all(store.as_mut(), records, 2).unwrap(), 3);
    assert_eq!(collect(store.all().unwrap()), vec![kv(b"c", b"3"), kv(b"d", b"4")]);
}

#[test]
fn data_survives_close_and_reopen_in_the_same_directory() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    store.flush().unwrap();
    store.put(b"c", b"3").unwrap();
    store.delete(b"b").unwrap();
    store.restore_batch(&[rec(b"d", Some(b"4"), 0)]).unwrap();
    store.close().unwrap();

    let mut store = open("kv", dir.path());
    assert_eq!(
        collect(store.all().unwrap()),
        vec![kv(b"a", b"1"), kv(b"c", b"3"), kv(b"d", b"4")]
    );
    store.put(b"e", b"5").unwrap();
    store.close().unwrap();

    let store = open("kv", dir.path());
    assert_eq!(store.get(b"e").unwrap(), Some(b"5".to_vec()));
    assert!(dir.path().join(KEY_VALUE_STORES_DIR).join("kv").is_dir());
}

#[test]
fn data_survives_a_drop_without_close() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    store.put(b"a", b"1").unwrap();
    drop(store);
    let store = open("kv", dir.path());
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn stores_with_different_names_or_tasks_are_separate() {
    let dir = tempdir();
    let mut a = open("a", dir.path());
    let mut b = open("b", dir.path());
    let mut a_other_task = open("a", &dir.path().join("0_1"));
    a.put(b"k", b"a").unwrap();
    b.put(b"k", b"b").unwrap();
    a_other_task.put(b"k", b"a2").unwrap();
    assert_eq!(a.get(b"k").unwrap(), Some(b"a".to_vec()));
    assert_eq!(b.get(b"k").unwrap(), Some(b"b".to_vec()));
    assert_eq!(a_other_task.get(b"k").unwrap(), Some(b"a2".to_vec()));
}

#[test]
fn every_call_after_close_fails_with_closed() {
    let dir = tempdir();
    let mut store = open("kv", dir.path());
    store.put(b"a", b"1").unwrap();
    store.close().unwrap();
    assert!(is_closed(store.get(b"a")));
    assert!(is_closed(store.put(b"a", b"2")));
    assert!(is_closed(store.put_if_absent(b"a", b"2")));
    assert!(is_closed(store.delete(b"a")));
    assert!(is_closed(store.range(b"a", b"b").map(|_| ())));
    assert!(is_closed(store.range(b"b", b"a").map(|_| ())));
    assert!(is_closed(store.prefix_scan(b"a").map(|_| ())));
    assert!(is_closed(store.all().map(|_| ())));
    assert!(is_closed(store.approximate_num_entries()));
    assert!(is_closed(store.restore_batch(&[rec(b"a", None, 0)])));
    assert!(is_closed(store.flush()));
    store.close().unwrap();
    assert_eq!(store.name(), "kv");
    assert!(store.persistent());
}

#[test]
fn a_missing_state_directory_is_a_config_error() {
    let supplier = Stores::persistent_key_value_store("counts");
    let error = supplier.get(None).map(|_| ()).unwrap_err();
    assert!(
        matches!(&error, StateError::Config { store, .. } if store == "counts"),
        "{error:?}"
    );
    assert!(error.to_string().contains("state directory"), "{error}");
}

#[test]
fn names_that_are_not_one_directory_component_are_config_errors() {
    let dir = tempdir();
    for name in ["", ".", "..", "../escape", "a/b", "a\\b"] {
        let error = Stores::persistent_key_value_store(name)
            .get(Some(dir.path()))
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(error, StateError::Config { .. }), "{name:?}: {error:?}");
    }
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn an_open_directory_cannot_be_opened_twice() {
    let dir = tempdir();
    let _store = open("kv", dir.path());
    let error = Stores::persistent_key_value_store("kv")
        .get(Some(dir.path()))
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&error, StateError::Engine { store, .. } if store == "kv"),
        "{error:?}"
    );
}

#[test]
fn an_unusable_directory_is_an_engine_error() {
    let dir = tempdir();
    std::fs::write(dir.path().join(KEY_VALUE_STORES_DIR), b"a file, not a directory").unwrap();
    let error = Stores::persistent_key_value_store("kv")
        .get(Some(dir.path()))
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&error, StateError::Engine { store, .. } if store == "kv"),
        "{error:?}"
    );
}

#[test]
fn supplier_describes_a_persistent_rocksdb_store() {
    let dir = tempdir();
    let supplier = RocksDbKeyValueBytesStoreSupplier::new("counts");
    assert_eq!(supplier.name(), "counts");
    assert_eq!(supplier.metrics_scope(), "rocksdb");
    assert_eq!(
        supplier.store_dir(dir.path()),
        dir.path().join("rocksdb").join("counts")
    );
    let store = supplier.get(Some(dir.path())).unwrap();
    assert_eq!(store.name(), "counts");
    assert!(store.persistent());
    assert!(!store.caching_enabled());
    let store =
        RocksDbKeyValueStore::open("direct", dir.path().join("elsewhere"), &RocksDbResources::global()).unwrap();
    assert_eq!(store.path(), dir.path().join("elsewhere"));
}

#[test]
fn default_config_is_the_documented_one() {
    let config = RocksDbConfig::default();
    assert_eq!(config.block_cache_bytes, 64 << 20);
    assert_eq!(config.write_buffer_manager_bytes, 32 << 20);
    assert!(config.charge_write_buffers_to_cache);
    assert_eq!(config.write_buffer_bytes, 16 << 20);
    assert_eq!(config.max_write_buffer_number, 3);
    assert_eq!(config.block_size_bytes, 4096);
    assert_eq!(config.bloom_filter_bits_per_key, 10);
    assert_eq!(config.compression, streams_state::RocksDbCompression::None);
    assert!(config.background_threads >= 2);
}

#[test]
fn the_global_resources_keep_their_first_config() {
    // No test in this binary installs a non-default global configuration.
    let global = RocksDbResources::init_global(RocksDbConfig::default()).unwrap();
    assert_eq!(global.config(), &RocksDbConfig::default());
    let other = RocksDbConfig {
        block_cache_bytes: 1 << 20,
        ..RocksDbConfig::default()
    };
    assert_eq!(RocksDbResources::init_global(other.clone()).unwrap_err(), other);
    assert_eq!(RocksDbResources::global().config(), &RocksDbConfig::default());
}

#[test]
fn stores_share_the_memory_of_their_resources() {
    let dir = tempdir();
    let resources = RocksDbResources::new(RocksDbConfig {
        block_cache_bytes: 8 << 20,
        write_buffer_manager_bytes: 4 << 20,
        ..RocksDbConfig::default()
    });
    assert_eq!(resources.write_buffer_usage(), 0);
    let mut a = RocksDbKeyValueBytesStoreSupplier::with_resources("a", resources.clone())
        .get(Some(dir.path()))
        .unwrap();
    let mut b = RocksDbKeyValueBytesStoreSupplier::with_resources("b", resources.clone())
        .get(Some(dir.path()))
        .unwrap();
    a.put(b"k", &[1u8; 1000]).unwrap();
    b.put(b"k", &[2u8; 1000]).unwrap();
    assert!(resources.write_buffer_usage() > 0);
    assert!(resources.block_cache_usage() >= resources.write_buffer_usage());

    // Writing far more than the shared limit stays readable (memtables are flushed early).
    for i in 0u32..20_000 {
        a.put(&i.to_be_bytes(), &[7u8; 512]).unwrap();
    }
    assert_eq!(a.get(&19_999u32.to_be_bytes()).unwrap(), Some(vec![7u8; 512]));
    assert_eq!(a.prefix_scan(&[0, 0]).unwrap().count(), 20_000);
}

#[test]
fn a_logged_store_restores_into_a_fresh_directory() {
    let dir = tempdir();
    let sink = RecordingSink::new();
    let clock = RecordClock::shared();
    let builder = Stores::key_value_store_builder(Stores::persistent_key_value_store("kv"));
    let mut store = builder
        .build(Some(dir.path()), Some(sink.boxed()), clock.clone())
        .unwrap();
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    store.delete(b"a").unwrap();
    store.close().unwrap();

    let fresh = tempdir();
    let mut restored = Stores::persistent_key_value_store("kv")
        .get(Some(fresh.path()))
        .unwrap();
    restore_all(restored.as_mut(), sink.records(), 2).unwrap();
    assert_eq!(collect(restored.all().unwrap()), vec![kv(b"b", b"2")]);
}

/// A step of a property test: a store operation, or closing the store and opening it again.
#[derive(Debug, Clone)]
enum Step {
    Op(Op),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![20 => op().prop_map(Step::Op), 1 => Just(Step::Reopen)]
}

/// Mostly writes, so that the store grows, with reads and reopens in between.
fn write_heavy_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => write_op().prop_map(Step::Op),
        10 => op().prop_map(Step::Op),
        1 => Just(Step::Reopen),
    ]
}

/// What a fresh in-memory store holds after restoring everything `sink` received.
fn replay(sink: &RecordingSink) -> Vec<KeyValue> {
    let mut restored = InMemoryKeyValueStore::new("replay");
    restore_all(&mut restored, sink.records(), 5).unwrap();
    collect(restored.all().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The RocksDB store answers every read as a `BTreeMap` does, also after being closed and
    /// reopened in the same directory any number of times.
    #[test]
    fn rocksdb_store_matches_a_btreemap_across_reopens(
        steps in prop::collection::vec(prop_oneof![step(), write_heavy_step()], 0..120),
    ) {
        let dir = tempdir();
        let supplier = RocksDbKeyValueBytesStoreSupplier::new("model");
        let clock = RecordClock::default();
        let mut store = supplier.get(Some(dir.path())).unwrap();
        let mut model = Model::new();
        for step in &steps {
            match step {
                Step::Op(op) => {
                    apply(store.as_mut(), &mut model, &clock, op, Count::Any)?;
                }
                Step::Reopen => {
                    store.close().unwrap();
                    let closed = matches!(store.get(b""), Err(StateError::Closed { .. }));
                    prop_assert!(closed, "a closed store still answered");
                    store = supplier.get(Some(dir.path())).unwrap();
                    prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
                }
            }
        }
        prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
        store.close().unwrap();
        let store = supplier.get(Some(dir.path())).unwrap();
        prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
    }

    /// Caching over logging over RocksDB, as the builder assembles it, answers like a
    /// `BTreeMap` across reopens; its changelog replays to the same contents, and after the
    /// last close RocksDB itself holds them.
    #[test]
    fn cached_logged_rocksdb_stack_matches_a_btreemap(
        max_bytes in prop_oneof![1usize..60, 60usize..400, Just(1usize << 20)],
        steps in prop::collection::vec(step(), 0..120),
    ) {
        let dir = tempdir();
        let clock = RecordClock::shared();
        let sink = RecordingSink::new();
        let builder = Stores::key_value_store_builder(Stores::persistent_key_value_store("stack"))
            .with_caching_enabled(max_bytes);
        let build = || builder.build(Some(dir.path()), Some(sink.boxed()), Arc::clone(&clock)).unwrap();
        let mut store = build();
        prop_assert!(store.caching_enabled());
        let mut model = Model::new();
        for step in &steps {
            match step {
                Step::Op(op) => {
                    apply(store.as_mut(), &mut model, &clock, op, Count::Any)?;
                }
                Step::Reopen => {
                    store.close().unwrap();
                    store = build();
                    prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
                }
            }
        }
        prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
        store.close().unwrap();
        prop_assert_eq!(replay(&sink), entries(&model));
        let engine = Stores::persistent_key_value_store("stack").get(Some(dir.path())).unwrap();
        prop_assert_eq!(collect(engine.all().unwrap()), entries(&model));
    }
}
