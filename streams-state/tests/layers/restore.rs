use streams_state::{
    restore_all, ChangelogRecord, InMemoryKeyValueStore, KeyValueIterator, KeyValueStore, StateError, StateStore,
};

use crate::common::{collect, kv, rec};

/// An in-memory store that remembers the size of each restored batch.
struct BatchSpy {
    inner: InMemoryKeyValueStore,
    batches: Vec<usize>,
}

impl StateStore for BatchSpy {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn flush(&mut self) -> Result<(), StateError> {
        self.inner.flush()
    }
    fn close(&mut self) -> Result<(), StateError> {
        self.inner.close()
    }
    fn persistent(&self) -> bool {
        false
    }
}

impl KeyValueStore for BatchSpy {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.inner.get(key)
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.inner.put(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.inner.delete(key)
    }
    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.inner.range(from, to)
    }
    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.inner.prefix_scan(prefix)
    }
    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.inner.all()
    }
    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.inner.approximate_num_entries()
    }
    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        self.batches.push(batch.len());
        self.inner.restore_batch(batch)
    }
}

fn records() -> Vec<ChangelogRecord> {
    vec![
        rec(b"a", Some(b"1"), 1),
        rec(b"b", Some(b"2"), 2),
        rec(b"a", None, 3),
        rec(b"c", Some(b"3"), 4),
        rec(b"b", Some(b"4"), 5),
    ]
}

#[test]
fn restores_in_batches_and_applies_tombstones() {
    let mut spy = BatchSpy {
        inner: InMemoryKeyValueStore::new("s"),
        batches: Vec::new(),
    };
    assert_eq!(restore_all(&mut spy, records(), 2).unwrap(), 5);
    assert_eq!(spy.batches, vec![2, 2, 1]);
    assert_eq!(collect(spy.all().unwrap()), vec![kv(b"b", b"4"), kv(b"c", b"3")]);
}

#[test]
fn batch_size_zero_is_taken_as_one_and_nothing_to_restore_calls_nothing() {
    let mut spy = BatchSpy {
        inner: InMemoryKeyValueStore::new("s"),
        batches: Vec::new(),
    };
    assert_eq!(restore_all(&mut spy, records(), 0).unwrap(), 5);
    assert_eq!(spy.batches, vec![1; 5]);
    spy.batches.clear();
    assert_eq!(restore_all(&mut spy, Vec::new(), 10).unwrap(), 0);
    assert!(spy.batches.is_empty());
}

#[test]
fn works_through_a_trait_object_and_reports_errors() {
    let mut store: Box<dyn KeyValueStore> = Box::new(InMemoryKeyValueStore::new("s"));
    assert_eq!(restore_all(store.as_mut(), records(), 100).unwrap(), 5);
    assert_eq!(store.approximate_num_entries().unwrap(), 2);
    store.close().unwrap();
    assert!(matches!(
        restore_all(store.as_mut(), records(), 100),
        Err(StateError::Closed { .. })
    ));
}
