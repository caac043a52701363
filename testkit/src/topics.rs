//! Typed input and output topics of the test driver.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::rc::Rc;
use std::time::Duration;

use streams_core::processor::{Headers, ProducerRecord};
use streams_core::serde::SharedSerde;
use streams_core::StreamsError;

use crate::driver::DriverState;

/// A record as a test pipes or reads it: key, value, timestamp, headers.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Timestamp in milliseconds.
    pub timestamp: i64,
    /// Headers.
    pub headers: Headers,
}

impl<K, V> TestRecord<K, V> {
    /// A record without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        TestRecord {
            key,
            value,
            timestamp,
            headers: Headers::new(),
        }
    }

    /// The same record with `headers`.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

/// Pipes typed records into a topic of the topology.
///
/// Records without an explicit timestamp get the topic's current time, which starts at 0 and
/// moves by the auto-advance step after each record (0 unless set).
pub struct TestInputTopic<K, V> {
    state: Rc<RefCell<DriverState>>,
    topic: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    current_time: i64,
    auto_advance: i64,
}

impl<K: 'static, V: 'static> TestInputTopic<K, V> {
    pub(crate) fn new(
        state: Rc<RefCell<DriverState>>,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        TestInputTopic {
            state,
            topic: topic.to_owned(),
            key_serde,
            value_serde,
            current_time: 0,
            auto_advance: 0,
        }
    }

    /// Starts the topic's time at `start_ms` and advances it by `step` after each record.
    pub fn with_time(mut self, start_ms: i64, step: Duration) -> Self {
        self.current_time = start_ms;
        self.auto_advance = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Moves the topic's time forward.
    pub fn advance_time(&mut self, by: Duration) {
        self.current_time = self
            .current_time
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    fn serialize_err(&self, source: streams_core::serde::SerdeError) -> StreamsError {
        StreamsError::Serialization {
            context: self.topic.clone(),
            source,
        }
    }

    /// Pipes one record.
    pub fn pipe_record(&mut self, record: TestRecord<K, V>) -> Result<(), StreamsError> {
        let key = self
            .key_serde
            .serialize_nullable(&record.key)
            .map_err(|e| self.serialize_err(e))?;
        let value = self
            .value_serde
            .serialize_nullable(&record.value)
            .map_err(|e| self.serialize_err(e))?;
        self.state
            .borrow_mut()
            .pipe(&self.topic, key, value, record.timestamp, record.headers)
    }

    /// Pipes raw bytes, bypassing the serdes (to test what bad input does).
    pub fn pipe_raw(
        &mut self,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
    ) -> Result<(), StreamsError> {
        self.state
            .borrow_mut()
            .pipe(&self.topic, key, value, timestamp, Headers::new())
    }

    /// Pipes `key`/`value` at `timestamp`.
    pub fn pipe_input_at(&self, key: K, value: V, timestamp: i64) -> Result<(), StreamsError> {
        let key = self
            .key_serde
            .serialize_nullable(&key)
            .map_err(|e| self.serialize_err(e))?;
        let value = self
            .value_serde
            .serialize_nullable(&value)
            .map_err(|e| self.serialize_err(e))?;
        self.state
            .borrow_mut()
            .pipe(&self.topic, key, value, timestamp, Headers::new())
    }

    /// Pipes `key`/`value` at the topic's current time, then auto-advances it.
    pub fn pipe_input(&mut self, key: K, value: V) -> Result<(), StreamsError> {
        let timestamp = self.current_time;
        self.current_time = self.current_time.saturating_add(self.auto_advance);
        self.pipe_input_at(key, value, timestamp)
    }

    /// Pipes each `(key, value)` in order, at the topic's current time.
    pub fn pipe_key_value_list(&mut self, records: impl IntoIterator<Item = (K, V)>) -> Result<(), StreamsError> {
        for (k, v) in records {
            self.pipe_input(k, v)?;
        }
        Ok(())
    }

    /// Pipes each record in order.
    pub fn pipe_record_list(
        &mut self,
        records: impl IntoIterator<Item = TestRecord<K, V>>,
    ) -> Result<(), StreamsError> {
        for r in records {
            self.pipe_record(r)?;
        }
        Ok(())
    }
}

/// Reads what the topology wrote to a topic, in order; reading consumes.
pub struct TestOutputTopic<K, V> {
    state: Rc<RefCell<DriverState>>,
    topic: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K: 'static, V: 'static> TestOutputTopic<K, V> {
    pub(crate) fn new(
        state: Rc<RefCell<DriverState>>,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        TestOutputTopic {
            state,
            topic: topic.to_owned(),
            key_serde,
            value_serde,
        }
    }

    fn decode(&self, record: ProducerRecord) -> Result<TestRecord<K, V>, StreamsError> {
        let err = |source| StreamsError::Serialization {
            context: self.topic.clone(),
            source,
        };
        Ok(TestRecord {
            key: self
                .key_serde
                .deserialize_nullable(record.key.as_deref())
                .map_err(err)?,
            value: self
                .value_serde
                .deserialize_nullable(record.value.as_deref())
                .map_err(err)?,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }

    /// The next record, if any.
    pub fn read_record(&self) -> Result<Option<TestRecord<K, V>>, StreamsError> {
        let next = self.state.borrow().read_unread(&self.topic);
        next.map(|r| self.decode(r)).transpose()
    }

    /// The next key and value, if any.
    pub fn read_key_value(&self) -> Result<Option<(K, V)>, StreamsError> {
        Ok(self.read_record()?.map(|r| (r.key, r.value)))
    }

    /// The next value, if any.
    pub fn read_value(&self) -> Result<Option<V>, StreamsError> {
        Ok(self.read_record()?.map(|r| r.value))
    }

    /// All unread records.
    pub fn read_records_to_list(&self) -> Result<Vec<TestRecord<K, V>>, StreamsError> {
        let mut out = Vec::new();
        while let Some(r) = self.read_record()? {
            out.push(r);
        }
        Ok(out)
    }

    /// All unread keys and values.
    pub fn read_key_values_to_list(&self) -> Result<Vec<(K, V)>, StreamsError> {
        Ok(self
            .read_records_to_list()?
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect())
    }

    /// All unread values.
    pub fn read_values_to_list(&self) -> Result<Vec<V>, StreamsError> {
        Ok(self.read_records_to_list()?.into_iter().map(|r| r.value).collect())
    }

    /// The latest value per key over all unread records.
    pub fn read_key_values_to_map(&self) -> Result<HashMap<K, V>, StreamsError>
    where
        K: Eq + Hash,
    {
        Ok(self.read_key_values_to_list()?.into_iter().collect())
    }

    /// Whether every record has been read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }

    /// Number of unread records.
    pub fn queue_size(&self) -> usize {
        self.state.borrow().unread_count(&self.topic)
    }
}
