//! Records as processors see them.

use std::sync::Arc;

/// One record header: a key and an optional value, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key.
    pub key: String,
    /// Header value; `None` is a null value.
    pub value: Option<Vec<u8>>,
}

/// The ordered headers of a record (keys may repeat, as in Kafka).
///
/// The list is shared copy-on-write: cloning a `Headers` (as forwarding a record to several
/// children does) copies no header, and a record without headers holds no allocation.
#[derive(Clone, Default)]
pub struct Headers(Option<Arc<Vec<Header>>>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(None)
    }

    /// The headers as a slice, in order.
    fn as_slice(&self) -> &[Header] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The list, to change (copied first when shared).
    fn list_mut(&mut self) -> &mut Vec<Header> {
        Arc::make_mut(self.0.get_or_insert_with(Arc::default))
    }

    /// Appends a header.
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.list_mut().push(Header {
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Appends a header with a null value.
    pub fn add_null(&mut self, key: impl Into<String>) -> &mut Self {
        self.list_mut().push(Header {
            key: key.into(),
            value: None,
        });
        self
    }

    /// Removes every header called `key`.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        if self.as_slice().iter().any(|h| h.key == key) {
            let list = self.list_mut();
            list.retain(|h| h.key != key);
            if list.is_empty() {
                self.0 = None;
            }
        }
        self
    }

    /// The value of the last header called `key`.
    pub fn last_value(&self, key: &str) -> Option<&[u8]> {
        self.as_slice()
            .iter()
            .rev()
            .find(|h| h.key == key)
            .and_then(|h| h.value.as_deref())
    }

    /// All headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.as_slice().iter()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Headers").field(&self.as_slice()).finish()
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let list: Vec<Header> = iter
            .into_iter()
            .map(|(k, v)| Header {
                key: k.into(),
                value: Some(v.into()),
            })
            .collect();
        Headers((!list.is_empty()).then(|| Arc::new(list)))
    }
}

/// A typed record flowing between processors: key, value, timestamp (ms) and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Event time in milliseconds since the epoch.
    pub timestamp: i64,
    /// Headers, carried through every operator unless changed.
    pub headers: Headers,
}

impl<K, V> Record<K, V> {
    /// A record without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Record {
            key,
            value,
            timestamp,
            headers: Headers::new(),
        }
    }

    /// The same record with another key.
    pub fn with_key<K2>(self, key: K2) -> Record<K2, V> {
        Record {
            key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another value.
    pub fn with_value<V2>(self, value: V2) -> Record<K, V2> {
        Record {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same record with other headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

/// Where the record being processed came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Source topic.
    pub topic: Arc<str>,
    /// Source partition.
    pub partition: i32,
    /// Offset in the source partition.
    pub offset: i64,
}

/// An update to a table row: the new value and, when known, the previous one.
///
/// `new_value: None` is a delete (a tombstone downstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<V> {
    /// The row's value after the update.
    pub new_value: Option<V>,
    /// The row's value before the update, when the upstream operator sends it.
    pub old_value: Option<V>,
}

impl<V> Change<V> {
    /// A change from `old_value` to `new_value`.
    pub fn new(new_value: Option<V>, old_value: Option<V>) -> Self {
        Change { new_value, old_value }
    }
}

/// A value with the timestamp of the record that wrote it, as table stores keep them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueAndTimestamp<V> {
    /// The value.
    pub value: V,
    /// Timestamp of the record that wrote it.
    pub timestamp: i64,
}

impl<V> ValueAndTimestamp<V> {
    /// `value` written at `timestamp` (Kafka's `ValueAndTimestamp.make`).
    pub fn new(value: V, timestamp: i64) -> Self {
        ValueAndTimestamp { value, timestamp }
    }
}

/// A raw record as read from a topic partition, before deserialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Key bytes; `None` is a null key.
    pub key: Option<Vec<u8>>,
    /// Value bytes; `None` is a null value (a tombstone).
    pub value: Option<Vec<u8>>,
    /// Record timestamp in milliseconds.
    pub timestamp: i64,
    /// Offset in its partition.
    pub offset: i64,
    /// Headers.
    pub headers: Headers,
}

/// A record on its way to a topic, serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Destination topic.
    pub topic: Arc<str>,
    /// Destination partition; `None` lets the collector choose (null keys).
    pub partition: Option<i32>,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
    /// Timestamp in milliseconds.
    pub timestamp: i64,
    /// Headers.
    pub headers: Headers,
}
