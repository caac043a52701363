//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use streams_state::{ChangelogRecord, ChangelogSink, KeyValue, KeyValueIterator};

/// A changelog sink that records everything it is sent; clones share the record list.
#[derive(Clone, Default)]
pub struct RecordingSink {
    records: Arc<Mutex<Vec<ChangelogRecord>>>,
}

impl RecordingSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, in order.
    pub fn records(&self) -> Vec<ChangelogRecord> {
        self.records.lock().unwrap().clone()
    }

    /// Everything sent so far, clearing the list.
    pub fn take(&self) -> Vec<ChangelogRecord> {
        std::mem::take(&mut *self.records.lock().unwrap())
    }

    pub fn boxed(&self) -> Box<dyn ChangelogSink> {
        Box::new(self.clone())
    }
}

impl ChangelogSink for RecordingSink {
    fn send(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<(), String> {
        self.records.lock().unwrap().push(ChangelogRecord {
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
            timestamp,
        });
        Ok(())
    }
}

/// A sink that refuses every change.
pub struct FailingSink;

impl ChangelogSink for FailingSink {
    fn send(&mut self, _: &[u8], _: Option<&[u8]>, _: i64) -> Result<(), String> {
        Err("broker unavailable".to_owned())
    }
}

/// A changelog record.
pub fn rec(key: &[u8], value: Option<&[u8]>, timestamp: i64) -> ChangelogRecord {
    ChangelogRecord {
        key: key.to_vec(),
        value: value.map(<[u8]>::to_vec),
        timestamp,
    }
}

/// A key-value pair.
pub fn kv(key: &[u8], value: &[u8]) -> KeyValue {
    (key.to_vec(), value.to_vec())
}

/// Collects an iterator, failing on the first error.
pub fn collect(iter: KeyValueIterator<'_>) -> Vec<KeyValue> {
    iter.collect::<Result<Vec<_>, _>>().unwrap()
}
