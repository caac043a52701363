use std::sync::Arc;

use streams_state::{InMemoryKeyValueStore, KeyValueStore, LoggingKeyValueStore, RecordClock, StateError, StateStore};

use crate::common::{collect, kv, rec, FailingSink, RecordingSink};

fn logged() -> (LoggingKeyValueStore, RecordingSink, Arc<RecordClock>) {
    let sink = RecordingSink::new();
    let clock = RecordClock::shared();
    let store = LoggingKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new("counts")),
        sink.boxed(),
        clock.clone(),
    );
    (store, sink, clock)
}

#[test]
fn every_change_is_sent_in_order_with_the_clock_timestamp() {
    let (mut store, sink, clock) = logged();
    clock.set(10);
    store.put(b"a", b"1").unwrap();
    clock.set(11);
    store.put(b"b", b"2").unwrap();
    clock.set(12);
    store.put(b"a", b"3").unwrap();
    clock.set(13);
    assert_eq!(store.delete(b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(
        sink.records(),
        vec![
            rec(b"a", Some(b"1"), 10),
            rec(b"b", Some(b"2"), 11),
            rec(b"a", Some(b"3"), 12),
            rec(b"b", None, 13),
        ]
    );
    assert_eq!(collect(store.all().unwrap()), vec![kv(b"a", b"3")]);
}

#[test]
fn put_if_absent_logs_only_when_it_writes() {
    let (mut store, sink, clock) = logged();
    clock.set(1);
    assert_eq!(store.put_if_absent(b"k", b"first").unwrap(), None);
    clock.set(2);
    assert_eq!(store.put_if_absent(b"k", b"second").unwrap(), Some(b"first".to_vec()));
    assert_eq!(sink.records(), vec![rec(b"k", Some(b"first"), 1)]);
    assert_eq!(store.get(b"k").unwrap(), Some(b"first".to_vec()));
}

#[test]
fn delete_of_a_missing_key_still_sends_a_tombstone() {
    let (mut store, sink, clock) = logged();
    clock.set(5);
    assert_eq!(store.delete(b"nothing").unwrap(), None);
    assert_eq!(sink.records(), vec![rec(b"nothing", None, 5)]);
}

#[test]
fn restore_batch_goes_to_the_inner_store_without_logging() {
    let (mut store, sink, _clock) = logged();
    store
        .restore_batch(&[rec(b"a", Some(b"1"), 1), rec(b"b", Some(b"2"), 2), rec(b"a", None, 3)])
        .unwrap();
    assert!(sink.records().is_empty());
    assert_eq!(collect(store.inner().all().unwrap()), vec![kv(b"b", b"2")]);
}

#[test]
fn sink_errors_become_changelog_errors() {
    let mut store = LoggingKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new("counts")),
        Box::new(FailingSink),
        RecordClock::shared(),
    );
    match store.put(b"a", b"1") {
        Err(StateError::Changelog { store, reason }) => {
            assert_eq!(store, "counts");
            assert_eq!(reason, "broker unavailable");
        }
        other => panic!("expected a changelog error, got {other:?}"),
    }
    assert!(matches!(store.delete(b"a"), Err(StateError::Changelog { .. })));
    assert!(matches!(
        store.put_if_absent(b"z", b"1"),
        Err(StateError::Changelog { .. })
    ));
}

#[test]
fn reads_and_lifecycle_pass_through() {
    let (mut store, sink, _clock) = logged();
    store.put(b"aa", b"1").unwrap();
    store.put(b"ab", b"2").unwrap();
    store.put(b"b", b"3").unwrap();
    assert_eq!(store.name(), "counts");
    assert!(!store.persistent());
    assert!(!store.caching_enabled());
    assert!(store.drain_flushed().is_empty());
    assert_eq!(store.approximate_num_entries().unwrap(), 3);
    assert_eq!(
        collect(store.range(b"ab", b"b").unwrap()),
        vec![kv(b"ab", b"2"), kv(b"b", b"3")]
    );
    assert_eq!(
        collect(store.prefix_scan(b"a").unwrap()),
        vec![kv(b"aa", b"1"), kv(b"ab", b"2")]
    );
    store.flush().unwrap();
    store.close().unwrap();
    assert!(matches!(store.get(b"aa"), Err(StateError::Closed { .. })));
    assert!(matches!(store.put(b"c", b"4"), Err(StateError::Closed { .. })));
    // A write the inner store refused is not logged.
    assert_eq!(sink.records().len(), 3);
}
