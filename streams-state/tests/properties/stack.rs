use std::sync::Arc;

use proptest::prelude::*;
use streams_state::{
    restore_all, CachingKeyValueStore, InMemoryKeyValueStore, KeyValue, KeyValueStore, LoggingKeyValueStore,
    RecordClock, StateStore, Stores,
};

use crate::common::{collect, RecordingSink};
use crate::model::{apply, entries, op, Count, Model};

/// Cache sizes: below one entry (every write goes straight down), a few entries (constant
/// eviction), and large (no eviction).
fn cache_size() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..60, 60usize..400, Just(1 << 20)]
}

fn caching_over_logging(max_bytes: usize) -> (CachingKeyValueStore, RecordingSink, Arc<RecordClock>) {
    let clock = RecordClock::shared();
    let sink = RecordingSink::new();
    let logged = LoggingKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new("stack")),
        sink.boxed(),
        clock.clone(),
    );
    let store = CachingKeyValueStore::new(Box::new(logged), max_bytes, clock.clone()).unwrap();
    (store, sink, clock)
}

/// What a fresh in-memory store holds after restoring everything `sink` received.
fn replay(sink: &RecordingSink, batch_size: usize) -> Vec<KeyValue> {
    let mut restored = InMemoryKeyValueStore::new("restored");
    restore_all(&mut restored, sink.records(), batch_size).unwrap();
    collect(restored.all().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (b) Reads through caching over logging over memory always agree with a `BTreeMap`,
    /// whatever the cache size and flushes; the cache never stays over its maximum.
    /// (c) Replaying the changelog into a fresh store reproduces what the logged store holds
    /// at any time, and after a final flush what the whole stack holds.
    #[test]
    fn caching_logging_stack_matches_a_btreemap_and_its_changelog_replays(
        max_bytes in cache_size(),
        ops in prop::collection::vec(op(), 0..100),
        batch_size in 1usize..8,
    ) {
        let (mut store, sink, clock) = caching_over_logging(max_bytes);
        let mut model = Model::new();
        for op in &ops {
            apply(&mut store, &mut model, &clock, op, Count::Any)?;
            prop_assert!(store.cache_size_bytes() <= max_bytes);
        }
        prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
        prop_assert_eq!(replay(&sink, batch_size), collect(store.inner().all().unwrap()));
        store.flush().unwrap();
        prop_assert_eq!(store.dirty_entries(), 0);
        prop_assert_eq!(collect(store.inner().all().unwrap()), entries(&model));
        prop_assert_eq!(replay(&sink, batch_size), entries(&model));
    }

    /// (b) and (c) again through the builder's stack, as tasks will get it.
    #[test]
    fn built_stack_matches_a_btreemap_and_its_changelog_replays(
        max_bytes in prop_oneof![Just(0usize), cache_size()],
        ops in prop::collection::vec(op(), 0..100),
    ) {
        let clock = RecordClock::shared();
        let sink = RecordingSink::new();
        let mut store = Stores::key_value_store_builder(Stores::in_memory_key_value_store("s"))
            .with_caching_enabled(max_bytes)
            .build(None, Some(sink.boxed()), clock.clone())
            .unwrap();
        prop_assert_eq!(store.caching_enabled(), max_bytes > 0);
        let mut model = Model::new();
        for op in &ops {
            apply(store.as_mut(), &mut model, &clock, op, Count::Any)?;
        }
        store.close().unwrap();
        prop_assert_eq!(replay(&sink, 3), entries(&model));
    }
}
