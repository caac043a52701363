use std::sync::Arc;
use std::thread;

use streams_state::{InMemoryKeyValueBytesStoreSupplier, KeyValueStoreBuilder, RecordClock, StateError, Stores};

use crate::common::{collect, kv, rec, RecordingSink};

#[test]
fn stores_factory_makes_in_memory_suppliers_and_builders() {
    let supplier = Stores::in_memory_key_value_store("counts");
    assert_eq!(supplier.name(), "counts");
    assert_eq!(supplier.metrics_scope(), "in-memory");
    let builder = Stores::key_value_store_builder(supplier);
    assert_eq!(builder.name(), "counts");
    assert!(builder.logging_enabled(), "logging is on by default");
    assert!(!builder.caching_enabled(), "caching is off by default");
    assert_eq!(builder.cache_max_bytes(), 0);
}

#[test]
fn flags_toggle() {
    let builder = Stores::key_value_store_builder(Stores::in_memory_key_value_store("s"))
        .with_logging_disabled()
        .with_caching_enabled(100);
    assert!(!builder.logging_enabled());
    assert!(builder.caching_enabled());
    assert_eq!(builder.cache_max_bytes(), 100);
    let builder = builder.with_logging_enabled().with_caching_disabled();
    assert!(builder.logging_enabled());
    assert!(!builder.caching_enabled());
    assert!(!builder.clone().with_caching_enabled(0).caching_enabled());
    let debug = format!("{builder:?}");
    assert!(debug.contains("in-memory"), "{debug}");
}

#[test]
fn logging_without_a_sink_is_a_clear_error() {
    let builder = Stores::key_value_store_builder(Stores::in_memory_key_value_store("counts"));
    let Err(err) = builder.build(None, None, RecordClock::shared()) else {
        panic!("a logged store needs a sink");
    };
    assert!(matches!(err, StateError::MissingChangelogSink { ref store } if store == "counts"));
    let message = err.to_string();
    assert!(
        message.contains("counts") && message.contains("with_logging_disabled"),
        "{message}"
    );
}

#[test]
fn logged_uncached_store_sends_each_change() {
    let sink = RecordingSink::new();
    let clock = RecordClock::shared();
    let builder = Stores::key_value_store_builder(Stores::in_memory_key_value_store("counts"));
    let mut store = builder.build(None, Some(sink.boxed()), clock.clone()).unwrap();
    assert!(!store.caching_enabled());
    clock.set(4);
    store.put(b"a", b"1").unwrap();
    assert_eq!(sink.records(), vec![rec(b"a", Some(b"1"), 4)]);
}

#[test]
fn logged_cached_store_logs_on_flush_and_forwards_flushed_entries() {
    let sink = RecordingSink::new();
    let clock = RecordClock::shared();
    let builder =
        Stores::key_value_store_builder(Stores::in_memory_key_value_store("counts")).with_caching_enabled(10_000);
    let mut store = builder.build(None, Some(sink.boxed()), clock.clone()).unwrap();
    assert!(store.caching_enabled());
    clock.set(1);
    store.put(b"a", b"1").unwrap();
    store.put(b"a", b"2").unwrap();
    assert!(sink.records().is_empty());
    store.flush().unwrap();
    assert_eq!(sink.records(), vec![rec(b"a", Some(b"2"), 1)]);
    assert_eq!(store.drain_flushed().len(), 1);
}

#[test]
fn unlogged_store_ignores_a_given_sink() {
    let sink = RecordingSink::new();
    let builder = Stores::key_value_store_builder(Stores::in_memory_key_value_store("counts")).with_logging_disabled();
    let mut store = builder.build(None, Some(sink.boxed()), RecordClock::shared()).unwrap();
    store.put(b"a", b"1").unwrap();
    store.flush().unwrap();
    assert!(sink.records().is_empty());
    assert_eq!(collect(store.all().unwrap()), vec![kv(b"a", b"1")]);
}

#[test]
fn each_build_is_a_separate_store_and_the_builder_is_shared_across_threads() {
    let builder = Arc::new(
        KeyValueStoreBuilder::new(Arc::new(InMemoryKeyValueBytesStoreSupplier::new("s"))).with_caching_enabled(1000),
    );
    let handles: Vec<_> = (0..2u8)
        .map(|task| {
            let builder = Arc::clone(&builder);
            thread::spawn(move || {
                let sink = RecordingSink::new();
                let mut store = builder.build(None, Some(sink.boxed()), RecordClock::shared()).unwrap();
                store.put(&[task], &[task]).unwrap();
                store.close().unwrap();
                sink.records()
            })
        })
        .collect();
    for (task, handle) in handles.into_iter().enumerate() {
        let task = task as u8;
        assert_eq!(handle.join().unwrap(), vec![rec(&[task], Some(&[task]), 0)]);
    }
}
