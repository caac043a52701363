//! Serdes for windowed keys, byte-compatible with Kafka Streams' `TimeWindowedSerializer` /
//! `TimeWindowedDeserializer` and `SessionWindowedSerializer` / `SessionWindowedDeserializer`,
//! so that a Java consumer reads windowed output topics written here and the other way round.

use std::sync::Arc;

use super::{Serde, SerdeError, SharedSerde};
use crate::dsl::{Window, Windowed};

const TIMESTAMP_SIZE: usize = 8;

fn split_timestamp<'a>(bytes: &'a [u8], type_name: &'static str) -> Result<(&'a [u8], i64), SerdeError> {
    let key_len = bytes.len().checked_sub(TIMESTAMP_SIZE).ok_or(SerdeError::Length {
        type_name,
        expected: TIMESTAMP_SIZE,
        actual: bytes.len(),
    })?;
    let (rest, ts) = bytes.split_at(key_len);
    let mut raw = [0u8; TIMESTAMP_SIZE];
    raw.copy_from_slice(ts);
    Ok((rest, i64::from_be_bytes(raw)))
}

/// `Windowed<K>` of a time (tumbling, hopping or sliding) window: the key's bytes followed by
/// the window start as 8 bytes big-endian. The end is not written; reading gives
/// `start + window_size` (capped at `i64::MAX`), as Kafka's `TimeWindowedDeserializer` with a
/// window size does.
///
/// ```
/// use std::time::Duration;
/// use streams_core::dsl::{Window, Windowed};
/// use streams_core::serde::{Serde, Serdes, TimeWindowedSerde};
///
/// let serde = TimeWindowedSerde::new(Serdes::string(), Duration::from_millis(10));
/// let key = Windowed::new("a".to_string(), Window::new(20, 30));
/// let bytes = serde.serialize(&key)?;
/// assert_eq!(bytes, vec![b'a', 0, 0, 0, 0, 0, 0, 0, 20]);
/// assert_eq!(serde.deserialize(&bytes)?, key);
/// # Ok::<(), streams_core::serde::SerdeError>(())
/// ```
pub struct TimeWindowedSerde<K> {
    inner: SharedSerde<K>,
    window_size: i64,
}

impl<K> Clone for TimeWindowedSerde<K> {
    fn clone(&self) -> Self {
        TimeWindowedSerde {
            inner: Arc::clone(&self.inner),
            window_size: self.window_size,
        }
    }
}

impl<K: 'static> TimeWindowedSerde<K> {
    /// Windowed keys of `inner` for windows of `window_size`.
    pub fn new(inner: impl Serde<K>, window_size: std::time::Duration) -> Self {
        Self::shared(
            Arc::new(inner),
            i64::try_from(window_size.as_millis()).unwrap_or(i64::MAX),
        )
    }

    pub(crate) fn shared(inner: SharedSerde<K>, window_size_ms: i64) -> Self {
        TimeWindowedSerde {
            inner,
            window_size: window_size_ms,
        }
    }
}

impl<K: 'static> Serde<Windowed<K>> for TimeWindowedSerde<K> {
    fn serialize(&self, value: &Windowed<K>) -> Result<Vec<u8>, SerdeError> {
        let mut bytes = Vec::new();
        self.serialize_into(value, &mut bytes)?;
        Ok(bytes)
    }

    fn serialize_into(&self, value: &Windowed<K>, out: &mut Vec<u8>) -> Result<(), SerdeError> {
        self.inner.serialize_into(&value.key, out)?;
        out.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Windowed<K>, SerdeError> {
        let (key, start) = split_timestamp(bytes, "TimeWindowed key")?;
        Ok(Windowed::new(
            self.inner.deserialize(key)?,
            Window::new(start, start.saturating_add(self.window_size)),
        ))
    }
}

/// `Windowed<K>` of a session: the key's bytes, then the session end and start, each 8 bytes
/// big-endian (Kafka's `SessionKeySchema` binary layout).
///
/// ```
/// use streams_core::dsl::{Window, Windowed};
/// use streams_core::serde::{Serde, Serdes, SessionWindowedSerde};
///
/// let serde = SessionWindowedSerde::new(Serdes::string());
/// let key = Windowed::new("a".to_string(), Window::new(1, 2));
/// let bytes = serde.serialize(&key)?;
/// assert_eq!(bytes, vec![b'a', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
/// assert_eq!(serde.deserialize(&bytes)?, key);
/// # Ok::<(), streams_core::serde::SerdeError>(())
/// ```
pub struct SessionWindowedSerde<K> {
    inner: SharedSerde<K>,
}

impl<K> Clone for SessionWindowedSerde<K> {
    fn clone(&self) -> Self {
        SessionWindowedSerde {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: 'static> SessionWindowedSerde<K> {
    /// Session-windowed keys of `inner`.
    pub fn new(inner: impl Serde<K>) -> Self {
        Self::shared(Arc::new(inner))
    }

    pub(crate) fn shared(inner: SharedSerde<K>) -> Self {
        SessionWindowedSerde { inner }
    }
}

impl<K: 'static> Serde<Windowed<K>> for SessionWindowedSerde<K> {
    fn serialize(&self, value: &Windowed<K>) -> Result<Vec<u8>, SerdeError> {
        let mut bytes = Vec::new();
        self.serialize_into(value, &mut bytes)?;
        Ok(bytes)
    }

    fn serialize_into(&self, value: &Windowed<K>, out: &mut Vec<u8>) -> Result<(), SerdeError> {
        self.inner.serialize_into(&value.key, out)?;
        out.extend_from_slice(&value.window.end.to_be_bytes());
        out.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Windowed<K>, SerdeError> {
        let (rest, start) = split_timestamp(bytes, "SessionWindowed key")?;
        let (key, end) = split_timestamp(rest, "SessionWindowed key")?;
        Ok(Windowed::new(self.inner.deserialize(key)?, Window::new(start, end)))
    }
}
