//! The in-memory key-value engine: an ordered map.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use crate::store::{ChangelogRecord, KeyValueBytesStoreSupplier, KeyValueIterator, KeyValueStore, StateStore};
use crate::StateError;

/// A key-value store kept in a `BTreeMap`; nothing survives a restart except through the
/// changelog.
#[derive(Debug)]
pub struct InMemoryKeyValueStore {
    name: String,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    open: bool,
}

impl InMemoryKeyValueStore {
    /// An empty store called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueStore {
            name: name.into(),
            map: BTreeMap::new(),
            open: true,
        }
    }

    fn check_open(&self) -> Result<(), StateError> {
        if self.open {
            Ok(())
        } else {
            Err(StateError::Closed {
                store: self.name.clone(),
            })
        }
    }

    fn iter_range<'a>(
        &'a self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Result<KeyValueIterator<'a>, StateError> {
        self.check_open()?;
        if let (Bound::Included(l), Bound::Included(u)) = (&lower, &upper) {
            if l > u {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        Ok(Box::new(
            self.map.range((lower, upper)).map(|(k, v)| Ok((k.clone(), v.clone()))),
        ))
    }
}

impl StateStore for InMemoryKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.check_open()
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.open = false;
        Ok(())
    }

    fn persistent(&self) -> bool {
        false
    }
}

impl KeyValueStore for InMemoryKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.check_open()?;
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.check_open()?;
        match self.map.get_mut(key) {
            Some(existing) => {
                existing.clear();
                existing.extend_from_slice(value);
            }
            None => {
                self.map.insert(key.to_vec(), value.to_vec());
            }
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.check_open()?;
        Ok(self.map.remove(key))
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.iter_range(Bound::Included(from.to_vec()), Bound::Included(to.to_vec()))
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        let upper = match prefix_successor(prefix) {
            Some(next) => Bound::Excluded(next),
            None => Bound::Unbounded,
        };
        self.iter_range(Bound::Included(prefix.to_vec()), upper)
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.iter_range(Bound::Unbounded, Bound::Unbounded)
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.check_open()?;
        Ok(self.map.len() as u64)
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        self.check_open()?;
        for record in batch {
            match &record.value {
                Some(value) => {
                    self.map.insert(record.key.clone(), value.clone());
                }
                None => {
                    self.map.remove(&record.key);
                }
            }
        }
        Ok(())
    }
}

/// The smallest byte string greater than every string starting with `prefix`, or `None` when
/// there is none (the prefix is empty or all `0xff`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

/// Supplies [`InMemoryKeyValueStore`]s.
#[derive(Debug, Clone)]
pub struct InMemoryKeyValueBytesStoreSupplier {
    name: String,
}

impl InMemoryKeyValueBytesStoreSupplier {
    /// A supplier of in-memory stores called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueBytesStoreSupplier { name: name.into() }
    }
}

impl KeyValueBytesStoreSupplier for InMemoryKeyValueBytesStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, _state_dir: Option<&Path>) -> Result<Box<dyn KeyValueStore>, StateError> {
        Ok(Box::new(InMemoryKeyValueStore::new(self.name.clone())))
    }

    fn metrics_scope(&self) -> &str {
        "in-memory"
    }
}
