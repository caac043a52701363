use std::sync::Arc;

use streams_state::{
    cache_entry_size, CachingKeyValueStore, FlushedEntry, InMemoryKeyValueStore, KeyValueStore, LoggingKeyValueStore,
    RecordClock, StateError, StateStore, CACHE_ENTRY_OVERHEAD_BYTES,
};

use crate::common::{collect, kv, rec, RecordingSink};

/// Size of an entry with a one-byte key and a one-byte value.
const SMALL: usize = 2 + CACHE_ENTRY_OVERHEAD_BYTES;

fn cached(max_bytes: usize) -> (CachingKeyValueStore, Arc<RecordClock>) {
    let clock = RecordClock::shared();
    let store =
        CachingKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("counts")), max_bytes, clock.clone()).unwrap();
    (store, clock)
}

/// Caching over logging over memory: the sink shows every write that reaches the inner store.
fn cached_logged(max_bytes: usize) -> (CachingKeyValueStore, RecordingSink, Arc<RecordClock>) {
    let clock = RecordClock::shared();
    let sink = RecordingSink::new();
    let logged = LoggingKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new("counts")),
        sink.boxed(),
        clock.clone(),
    );
    let store = CachingKeyValueStore::new(Box::new(logged), max_bytes, clock.clone()).unwrap();
    (store, sink, clock)
}

fn flushed(key: &[u8], new: Option<&[u8]>, old: Option<&[u8]>, timestamp: i64) -> FlushedEntry {
    FlushedEntry {
        key: key.to_vec(),
        new_value: new.map(<[u8]>::to_vec),
        old_value: old.map(<[u8]>::to_vec),
        timestamp,
    }
}

#[test]
fn entry_size_is_key_plus_value_plus_overhead() {
    assert_eq!(cache_entry_size(b"key", Some(b"value")), 8 + CACHE_ENTRY_OVERHEAD_BYTES);
    assert_eq!(cache_entry_size(b"key", None), 3 + CACHE_ENTRY_OVERHEAD_BYTES);
    let (mut store, _) = cached(10_000);
    store.put(b"a", b"1").unwrap();
    store.put(b"bb", b"").unwrap();
    store.delete(b"ccc").unwrap();
    // a/1: 2 bytes, bb/"": 2 bytes, the tombstone for ccc: 3 bytes.
    assert_eq!(store.cache_size_bytes(), 7 + 3 * CACHE_ENTRY_OVERHEAD_BYTES);
    assert_eq!(store.cached_entries(), 3);
    assert_eq!(store.dirty_entries(), 3);
}

#[test]
fn writes_stay_in_the_cache_until_flush() {
    let (mut store, sink, clock) = cached_logged(10_000);
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    store.put(b"a", b"2").unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"2".to_vec()));
    assert_eq!(store.inner().get(b"a").unwrap(), None);
    assert!(sink.records().is_empty());
    assert!(store.drain_flushed().is_empty());
    assert!(store.caching_enabled());
    // approximate_num_entries is the inner store's: unflushed entries are not counted.
    assert_eq!(store.approximate_num_entries().unwrap(), 0);
    store.flush().unwrap();
    assert_eq!(sink.records(), vec![rec(b"a", Some(b"2"), 1)]);
    assert_eq!(store.approximate_num_entries().unwrap(), 1);
}

#[test]
fn flush_writes_in_dirty_order_with_old_values_and_a_reput_moves_to_the_end() {
    let (mut store, clock) = cached(10_000);
    store.restore_batch(&[rec(b"a", Some(b"old"), 0)]).unwrap();
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    clock.set(2);
    store.put(b"b", b"2").unwrap();
    clock.set(3);
    store.put(b"c", b"3").unwrap();
    clock.set(4);
    store.put(b"a", b"4").unwrap();
    store.flush().unwrap();
    assert_eq!(
        store.drain_flushed(),
        vec![
            flushed(b"b", Some(b"2"), None, 2),
            flushed(b"c", Some(b"3"), None, 3),
            flushed(b"a", Some(b"4"), Some(b"old"), 4),
        ]
    );
    assert!(store.drain_flushed().is_empty(), "drain clears");
    assert_eq!(store.dirty_entries(), 0);
    assert_eq!(store.cached_entries(), 3, "flushed values stay cached, clean");
    // Flushing again writes nothing.
    store.flush().unwrap();
    assert!(store.drain_flushed().is_empty());
    // A rewrite of a clean entry is flushed with the value flushed before as old value.
    clock.set(5);
    store.put(b"b", b"5").unwrap();
    store.flush().unwrap();
    assert_eq!(store.drain_flushed(), vec![flushed(b"b", Some(b"5"), Some(b"2"), 5)]);
}

/// When nobody downstream wants old values, flushed updates carry none (the stored value is
/// not read); a delete still reads it, to know whether there is anything to delete.
#[test]
fn without_old_values_only_deletes_read_the_stored_value() {
    let (mut store, clock) = cached(10_000);
    store.set_old_values_on_flush(false);
    store
        .restore_batch(&[rec(b"a", Some(b"old"), 0), rec(b"d", Some(b"gone"), 0)])
        .unwrap();
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    store.delete(b"d").unwrap();
    store.delete(b"never").unwrap();
    store.flush().unwrap();
    assert_eq!(
        store.drain_flushed(),
        vec![
            flushed(b"a", Some(b"1"), None, 1),
            flushed(b"b", Some(b"2"), None, 1),
            flushed(b"d", None, Some(b"gone"), 1),
        ]
    );
    assert_eq!(store.inner().get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.inner().get(b"d").unwrap(), None);
}

/// `get_into` answers like `get`: cached values, cached tombstones, then the wrapped store.
#[test]
fn get_into_reads_the_cache_over_the_store() {
    let (mut store, _) = cached(10_000);
    store
        .restore_batch(&[rec(b"stored", Some(b"s"), 0), rec(b"deleted", Some(b"d"), 0)])
        .unwrap();
    store.put(b"cached", b"c").unwrap();
    store.delete(b"deleted").unwrap();
    let mut buffer = Vec::new();
    for (key, expected) in [
        (&b"cached"[..], Some(&b"c"[..])),
        (b"stored", Some(b"s")),
        (b"deleted", None),
        (b"missing", None),
    ] {
        buffer.extend_from_slice(b"junk");
        assert_eq!(store.get_into(key, &mut buffer).unwrap(), expected.is_some());
        assert_eq!(buffer.as_slice(), expected.unwrap_or_default());
        assert_eq!(store.get(key).unwrap().as_deref(), expected);
    }
}

#[test]
fn flush_logs_each_entry_with_the_timestamp_of_its_last_write() {
    let (mut store, sink, clock) = cached_logged(10_000);
    clock.set(10);
    store.put(b"a", b"1").unwrap();
    clock.set(20);
    store.put(b"b", b"2").unwrap();
    clock.set(30);
    store.put(b"a", b"3").unwrap();
    clock.set(99);
    store.flush().unwrap();
    assert_eq!(
        sink.records(),
        vec![rec(b"b", Some(b"2"), 20), rec(b"a", Some(b"3"), 30)]
    );
    assert_eq!(clock.timestamp(), 99, "the clock is restored after the flush");
}

#[test]
fn delete_of_a_key_the_inner_store_never_had_writes_and_records_nothing() {
    let (mut store, sink, clock) = cached_logged(10_000);
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    clock.set(2);
    assert_eq!(store.delete(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.delete(b"never").unwrap(), None);
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.cached_entries(), 2, "two cached tombstones");
    store.flush().unwrap();
    assert!(store.drain_flushed().is_empty());
    assert!(sink.records().is_empty());
    assert_eq!(store.cached_entries(), 0, "flushed tombstones leave the cache");
}

#[test]
fn delete_of_a_stored_key_flushes_a_tombstone_with_the_old_value() {
    let (mut store, sink, clock) = cached_logged(10_000);
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    store.flush().unwrap();
    store.drain_flushed();
    clock.set(2);
    assert_eq!(store.delete(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.inner().get(b"a").unwrap(), Some(b"1".to_vec()));
    store.flush().unwrap();
    assert_eq!(store.drain_flushed(), vec![flushed(b"a", None, Some(b"1"), 2)]);
    assert_eq!(sink.records(), vec![rec(b"a", Some(b"1"), 1), rec(b"a", None, 2)]);
    assert_eq!(store.inner().get(b"a").unwrap(), None);
    assert_eq!(store.cached_entries(), 0);
}

#[test]
fn cached_tombstones_hide_stored_entries_in_every_read() {
    let (mut store, _) = cached(10_000);
    store
        .restore_batch(&[
            rec(b"a", Some(b"1"), 0),
            rec(b"ab", Some(b"2"), 0),
            rec(b"b", Some(b"3"), 0),
            rec(b"c", Some(b"4"), 0),
        ])
        .unwrap();
    store.delete(b"ab").unwrap();
    store.delete(b"c").unwrap();
    assert_eq!(store.get(b"ab").unwrap(), None);
    assert_eq!(store.inner().get(b"ab").unwrap(), Some(b"2".to_vec()));
    assert_eq!(collect(store.all().unwrap()), vec![kv(b"a", b"1"), kv(b"b", b"3")]);
    assert_eq!(
        collect(store.range(b"a", b"c").unwrap()),
        vec![kv(b"a", b"1"), kv(b"b", b"3")]
    );
    assert_eq!(collect(store.prefix_scan(b"a").unwrap()), vec![kv(b"a", b"1")]);
    // A range made only of hidden keys is empty.
    assert_eq!(collect(store.range(b"ab", b"ab").unwrap()), vec![]);
}

#[test]
fn range_and_all_merge_the_cache_over_the_inner_store_in_key_order() {
    let (mut store, _) = cached(10_000);
    store
        .restore_batch(&[
            rec(b"b", Some(b"stored-b"), 0),
            rec(b"d", Some(b"stored-d"), 0),
            rec(b"f", Some(b"stored-f"), 0),
        ])
        .unwrap();
    store.put(b"a", b"cached-a").unwrap();
    store.put(b"d", b"cached-d").unwrap();
    store.put(b"e", b"cached-e").unwrap();
    store.put(b"g", b"cached-g").unwrap();
    assert_eq!(
        collect(store.all().unwrap()),
        vec![
            kv(b"a", b"cached-a"),
            kv(b"b", b"stored-b"),
            kv(b"d", b"cached-d"),
            kv(b"e", b"cached-e"),
            kv(b"f", b"stored-f"),
            kv(b"g", b"cached-g"),
        ]
    );
    assert_eq!(
        collect(store.range(b"b", b"e").unwrap()),
        vec![kv(b"b", b"stored-b"), kv(b"d", b"cached-d"), kv(b"e", b"cached-e"),]
    );
    assert_eq!(collect(store.range(b"e", b"b").unwrap()), vec![]);
    // Reads while iterating are fine: iterators and gets share the store.
    let mut iter = store.all().unwrap();
    assert_eq!(iter.next().unwrap().unwrap(), kv(b"a", b"cached-a"));
    assert_eq!(store.get(b"a").unwrap(), Some(b"cached-a".to_vec()));
    assert_eq!(iter.count(), 5);
}

#[test]
fn prefix_scan_merges_and_handles_0xff_prefixes() {
    let (mut store, _) = cached(10_000);
    store
        .restore_batch(&[
            rec(b"p", Some(b"0"), 0),
            rec(b"pa", Some(b"1"), 0),
            rec(b"q", Some(b"2"), 0),
            rec(&[0xff, 0x01], Some(b"3"), 0),
        ])
        .unwrap();
    store.put(b"pb", b"4").unwrap();
    store.put(b"o", b"5").unwrap();
    store.put(&[0xff], b"6").unwrap();
    store.put(&[0xff, 0xff], b"7").unwrap();
    assert_eq!(
        collect(store.prefix_scan(b"p").unwrap()),
        vec![kv(b"p", b"0"), kv(b"pa", b"1"), kv(b"pb", b"4")]
    );
    assert_eq!(
        collect(store.prefix_scan(&[0xff]).unwrap()),
        vec![kv(&[0xff], b"6"), kv(&[0xff, 0x01], b"3"), kv(&[0xff, 0xff], b"7")]
    );
    assert_eq!(collect(store.prefix_scan(b"").unwrap()).len(), 8);
}

#[test]
fn eviction_flushes_every_dirty_entry_evicted_first_then_drops_the_lru_entry() {
    let (mut store, sink, clock) = cached_logged(3 * SMALL);
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    clock.set(2);
    store.put(b"b", b"2").unwrap();
    clock.set(3);
    store.put(b"c", b"3").unwrap();
    assert_eq!(store.cache_size_bytes(), 3 * SMALL);
    assert!(store.drain_flushed().is_empty(), "exactly full is within the max");
    // A read counts as use: recency is now b, c, a (least recent first).
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    clock.set(4);
    store.put(b"d", b"4").unwrap();
    // b is evicted: it is written first, then every other dirty entry in dirty order.
    assert_eq!(
        store.drain_flushed(),
        vec![
            flushed(b"b", Some(b"2"), None, 2),
            flushed(b"a", Some(b"1"), None, 1),
            flushed(b"c", Some(b"3"), None, 3),
            flushed(b"d", Some(b"4"), None, 4),
        ]
    );
    assert_eq!(
        sink.records(),
        vec![
            rec(b"b", Some(b"2"), 2),
            rec(b"a", Some(b"1"), 1),
            rec(b"c", Some(b"3"), 3),
            rec(b"d", Some(b"4"), 4),
        ]
    );
    assert_eq!(clock.timestamp(), 4);
    assert_eq!(store.cached_entries(), 3);
    assert_eq!(store.dirty_entries(), 0);
    assert_eq!(store.cache_size_bytes(), 3 * SMALL);
    assert_eq!(store.get(b"b").unwrap(), Some(b"2".to_vec()), "read from inner");
}

#[test]
fn eviction_of_clean_entries_is_least_recently_used_first_and_writes_nothing() {
    let (mut store, sink, _clock) = cached_logged(3 * SMALL);
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    store.put(b"c", b"3").unwrap();
    store.flush().unwrap();
    store.drain_flushed();
    sink.take();
    // Recency: a, b, c; reading a and b makes c the least recently used.
    store.get(b"a").unwrap();
    store.get(b"b").unwrap();
    store.put(b"d", b"4").unwrap();
    assert!(store.drain_flushed().is_empty(), "only clean c was dropped");
    assert!(sink.records().is_empty());
    assert_eq!(store.cached_entries(), 3);
    assert_eq!(store.dirty_entries(), 1);
    // Recency: a, b, d. Reading a leaves b least recently used.
    store.get(b"a").unwrap();
    store.put(b"e", b"5").unwrap();
    assert!(store.drain_flushed().is_empty());
    assert_eq!(store.cached_entries(), 3);
    // Recency: d, a, e. The eldest, d, is dirty: every dirty entry is written, d first.
    store.put(b"f", b"6").unwrap();
    assert_eq!(
        store.drain_flushed(),
        vec![
            flushed(b"d", Some(b"4"), None, 0),
            flushed(b"e", Some(b"5"), None, 0),
            flushed(b"f", Some(b"6"), None, 0),
        ]
    );
    assert_eq!(store.cached_entries(), 3, "a, e and f stay");
    assert_eq!(
        collect(store.all().unwrap()),
        vec![
            kv(b"a", b"1"),
            kv(b"b", b"2"),
            kv(b"c", b"3"),
            kv(b"d", b"4"),
            kv(b"e", b"5"),
            kv(b"f", b"6"),
        ]
    );
}

#[test]
fn an_entry_larger_than_the_whole_cache_is_written_through_at_once() {
    let (mut store, sink, clock) = cached_logged(SMALL);
    clock.set(7);
    store.put(b"big", b"value").unwrap();
    assert_eq!(store.cached_entries(), 0);
    assert_eq!(store.cache_size_bytes(), 0);
    assert_eq!(store.drain_flushed(), vec![flushed(b"big", Some(b"value"), None, 7)]);
    assert_eq!(sink.records(), vec![rec(b"big", Some(b"value"), 7)]);
}

#[test]
fn put_if_absent_sees_cached_values_and_tombstones() {
    let (mut store, _) = cached(10_000);
    store.restore_batch(&[rec(b"a", Some(b"stored"), 0)]).unwrap();
    assert_eq!(store.put_if_absent(b"a", b"new").unwrap(), Some(b"stored".to_vec()));
    store.delete(b"a").unwrap();
    assert_eq!(store.put_if_absent(b"a", b"new").unwrap(), None);
    assert_eq!(store.get(b"a").unwrap(), Some(b"new".to_vec()));
    store.flush().unwrap();
    assert_eq!(
        store.drain_flushed(),
        vec![flushed(b"a", Some(b"new"), Some(b"stored"), 0)]
    );
}

#[test]
fn restore_batch_drops_the_restored_keys_from_the_cache() {
    let (mut store, _) = cached(10_000);
    store.put(b"a", b"cached").unwrap();
    store.put(b"b", b"cached").unwrap();
    store
        .restore_batch(&[rec(b"a", Some(b"restored"), 0), rec(b"c", None, 0)])
        .unwrap();
    assert_eq!(store.cached_entries(), 1);
    assert_eq!(store.cache_size_bytes(), cache_entry_size(b"b", Some(b"cached")));
    assert_eq!(store.get(b"a").unwrap(), Some(b"restored".to_vec()));
    store.flush().unwrap();
    assert_eq!(store.drain_flushed(), vec![flushed(b"b", Some(b"cached"), None, 0)]);
}

#[test]
fn close_flushes_closes_the_inner_store_and_keeps_the_flushed_entries() {
    let (mut store, sink, clock) = cached_logged(10_000);
    clock.set(3);
    store.put(b"a", b"1").unwrap();
    store.close().unwrap();
    assert_eq!(sink.records(), vec![rec(b"a", Some(b"1"), 3)]);
    assert_eq!(store.drain_flushed(), vec![flushed(b"a", Some(b"1"), None, 3)]);
    assert!(matches!(store.get(b"a"), Err(StateError::Closed { .. })));
    assert!(matches!(store.put(b"a", b"2"), Err(StateError::Closed { .. })));
    assert!(matches!(store.all(), Err(StateError::Closed { .. })));
    assert!(matches!(store.flush(), Err(StateError::Closed { .. })));
    assert!(matches!(store.inner().get(b"a"), Err(StateError::Closed { .. })));
    store.close().unwrap();
}

#[test]
fn zero_bytes_is_a_configuration_error() {
    let err = CachingKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("counts")), 0, RecordClock::shared())
        .unwrap_err();
    assert!(matches!(err, StateError::Config { ref store, .. } if store == "counts"));
}
