use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use streams_state::{CachingKeyValueStore, InMemoryKeyValueStore, KeyValueStore, RecordClock, StateStore};

use crate::common::collect;
use crate::model::{apply, entries, op, write_op, Count, Model, Op};

fn cache(max_bytes: usize) -> (CachingKeyValueStore, Arc<RecordClock>) {
    let clock = RecordClock::shared();
    let store =
        CachingKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("cache")), max_bytes, clock.clone()).unwrap();
    (store, clock)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (d) The drained flushed entries, applied in order to a model of the inner store, always
    /// give the inner store's contents; each old value is what the inner store held, each entry
    /// carries the timestamp of the key's last write, and no entry deletes a missing key.
    #[test]
    fn flushed_entries_replay_to_the_inner_store(
        max_bytes in prop_oneof![1usize..60, 60usize..400, Just(1 << 20)],
        ops in prop::collection::vec(op(), 0..100),
    ) {
        let (mut store, clock) = cache(max_bytes);
        let mut model = Model::new();
        let mut inner = Model::new();
        let mut last_write = BTreeMap::new();
        let check = |store: &mut CachingKeyValueStore,
                         inner: &mut Model,
                         last_write: &BTreeMap<Vec<u8>, i64>|
         -> Result<(), TestCaseError> {
            for entry in store.drain_flushed() {
                prop_assert_eq!(&entry.old_value, &inner.get(&entry.key).cloned());
                prop_assert!(entry.new_value.is_some() || entry.old_value.is_some());
                prop_assert_eq!(Some(&entry.timestamp), last_write.get(&entry.key));
                match entry.new_value {
                    Some(value) => inner.insert(entry.key, value),
                    None => inner.remove(&entry.key),
                };
            }
            prop_assert_eq!(collect(store.inner().all().unwrap()), entries(inner));
            Ok(())
        };
        for op in &ops {
            if let Some(key) = apply(&mut store, &mut model, &clock, op, Count::Any)? {
                last_write.insert(key, clock.timestamp());
            }
            check(&mut store, &mut inner, &last_write)?;
        }
        store.flush().unwrap();
        check(&mut store, &mut inner, &last_write)?;
        prop_assert_eq!(inner, model);
    }

    /// Without eviction, a flush writes the dirty keys in the order of their last write,
    /// leaving out deletes of keys the inner store does not hold.
    #[test]
    fn flush_follows_last_write_order(ops in prop::collection::vec(write_op(), 0..60)) {
        let (mut store, clock) = cache(1 << 20);
        let mut model = Model::new();
        let mut inner = Model::new();
        let mut dirty: Vec<Vec<u8>> = Vec::new();
        for op in ops.iter().chain(std::iter::once(&Op::Flush)) {
            if let Some(key) = apply(&mut store, &mut model, &clock, op, Count::Any)? {
                dirty.retain(|k| *k != key);
                dirty.push(key);
            }
            if matches!(op, Op::Flush) {
                let expected: Vec<Vec<u8>> = dirty
                    .drain(..)
                    .filter(|k| model.contains_key(k) || inner.contains_key(k))
                    .collect();
                let flushed: Vec<Vec<u8>> =
                    store.drain_flushed().into_iter().map(|e| e.key).collect();
                prop_assert_eq!(flushed, expected);
                inner = model.clone();
            } else {
                prop_assert!(store.drain_flushed().is_empty());
            }
        }
        prop_assert_eq!(collect(store.inner().all().unwrap()), entries(&model));
    }
}
