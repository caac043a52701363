//! Serializers and deserializers (serdes) between typed values and Kafka's bytes.
//!
//! A [`Serde<T>`] turns a `T` into bytes and back. Null (absent) keys and values are
//! represented by `Option`: a stream whose values may be null has values of type `Option<V>`,
//! and every ready serde here also implements `Serde<Option<T>>` mapping `None` to null.
//!
//! Integers use Kafka's big-endian encodings, so data written by Java's `LongSerializer` and
//! friends reads back unchanged.
//!
//! ```
//! use streams_core::serde::{Serde, Serdes};
//!
//! let serde = Serdes::i64();
//! let bytes = Serde::<i64>::serialize(&serde, &42)?;
//! assert_eq!(bytes, vec![0, 0, 0, 0, 0, 0, 0, 42]);
//! assert_eq!(Serde::<i64>::deserialize(&serde, &bytes)?, 42);
//! # Ok::<(), streams_core::serde::SerdeError>(())
//! ```

mod builtin;
mod json;
mod windowed;

use std::sync::Arc;

pub use builtin::{BytesSerde, F64Serde, I32Serde, I64Serde, StringSerde, U32Serde, U64Serde, UnitSerde};
pub use json::JsonSerde;
pub use windowed::{SessionWindowedSerde, TimeWindowedSerde};

/// Why bytes could not become a value, or a value bytes.
#[derive(Debug, thiserror::Error)]
pub enum SerdeError {
    /// The bytes have the wrong length for a fixed-size type.
    #[error("expected {expected} bytes for {type_name}, got {actual}")]
    Length {
        /// The type being read.
        type_name: &'static str,
        /// Bytes the encoding needs.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
    /// The bytes are not valid UTF-8.
    #[error("invalid UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    /// The bytes are not valid JSON for the type.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Null bytes where the type does not allow null (use an `Option` type to accept nulls).
    #[error("null where a {type_name} was expected (declare the type as Option<_> to accept nulls)")]
    Null {
        /// The non-nullable type.
        type_name: &'static str,
    },
    /// A custom serde failed.
    #[error("{0}")]
    Custom(String),
}

/// Converts values of `T` to bytes and back.
///
/// Implement `serialize` and `deserialize`; the nullable hooks let `Option` types map `None` to
/// Kafka's null.
pub trait Serde<T>: Send + Sync + 'static {
    /// The bytes of `value`.
    fn serialize(&self, value: &T) -> Result<Vec<u8>, SerdeError>;

    /// The value encoded in `bytes`.
    fn deserialize(&self, bytes: &[u8]) -> Result<T, SerdeError>;

    /// The bytes of `value`, or `None` when `value` is null. Non-nullable types never are.
    fn serialize_nullable(&self, value: &T) -> Result<Option<Vec<u8>>, SerdeError> {
        self.serialize(value).map(Some)
    }

    /// Whether `value` is null on the wire, that is whether
    /// [`serialize_nullable`](Self::serialize_nullable) gives `None` for it, without
    /// serializing it. Non-nullable types never are; a serde that overrides
    /// `serialize_nullable` overrides this too.
    fn is_null(&self, value: &T) -> bool {
        let _ = value;
        false
    }

    /// The value for null bytes: an error unless `T` is nullable.
    fn deserialize_null(&self) -> Result<T, SerdeError> {
        Err(SerdeError::Null {
            type_name: std::any::type_name::<T>(),
        })
    }

    /// The value for bytes that may be null.
    fn deserialize_nullable(&self, bytes: Option<&[u8]>) -> Result<T, SerdeError> {
        match bytes {
            Some(bytes) => self.deserialize(bytes),
            None => self.deserialize_null(),
        }
    }

    /// Appends the bytes [`serialize`](Self::serialize) gives for `value` to `out`; a serde that
    /// can write in place skips the intermediate buffer. On error `out` may hold part of them.
    fn serialize_into(&self, value: &T, out: &mut Vec<u8>) -> Result<(), SerdeError> {
        out.extend_from_slice(&self.serialize(value)?);
        Ok(())
    }

    /// [`deserialize_nullable`](Self::deserialize_nullable) of bytes the caller no longer needs.
    ///
    /// A serde may take the buffer out of `bytes` to reuse it (strings and byte vectors do),
    /// leaving `None`; it must then give a value that [`serialize_nullable`] turns back into the
    /// same bytes. Otherwise, and always on error, `bytes` is left as it was.
    ///
    /// [`serialize_nullable`]: Self::serialize_nullable
    fn deserialize_nullable_taken(&self, bytes: &mut Option<Vec<u8>>) -> Result<T, SerdeError> {
        self.deserialize_nullable(bytes.as_deref())
    }

    /// [`serialize_nullable`](Self::serialize_nullable) of a value the caller no longer needs:
    /// the same bytes, but a serde may reuse the value's buffer (strings and byte vectors do).
    fn serialize_nullable_owned(&self, value: T) -> Result<Option<Vec<u8>>, SerdeError> {
        self.serialize_nullable(&value)
    }
}

/// A shared, type-erased serde as the DSL and engine hold it.
pub type SharedSerde<T> = Arc<dyn Serde<T>>;

/// Wraps any serde so that `None` maps to null: `Nullable(MySerde)` is a `Serde<Option<T>>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nullable<S>(pub S);

impl<T, S: Serde<T>> Serde<Option<T>> for Nullable<S> {
    fn serialize(&self, value: &Option<T>) -> Result<Vec<u8>, SerdeError> {
        match value {
            Some(v) => self.0.serialize(v),
            None => Err(SerdeError::Null {
                type_name: std::any::type_name::<T>(),
            }),
        }
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Option<T>, SerdeError> {
        self.0.deserialize(bytes).map(Some)
    }

    fn serialize_nullable(&self, value: &Option<T>) -> Result<Option<Vec<u8>>, SerdeError> {
        value.as_ref().map(|v| self.0.serialize(v)).transpose()
    }

    fn is_null(&self, value: &Option<T>) -> bool {
        value.is_none()
    }

    fn deserialize_null(&self) -> Result<Option<T>, SerdeError> {
        Ok(None)
    }
}

/// Ready serdes, named after Kafka's `Serdes` factory.
#[derive(Debug, Clone, Copy)]
pub struct Serdes;

impl Serdes {
    /// UTF-8 strings.
    pub fn string() -> StringSerde {
        StringSerde
    }
    /// 32-bit signed integers, 4 bytes big-endian (Kafka's `IntegerSerde`).
    pub fn i32() -> I32Serde {
        I32Serde
    }
    /// 64-bit signed integers, 8 bytes big-endian (Kafka's `LongSerde`).
    pub fn i64() -> I64Serde {
        I64Serde
    }
    /// 32-bit unsigned integers, 4 bytes big-endian.
    pub fn u32() -> U32Serde {
        U32Serde
    }
    /// 64-bit unsigned integers, 8 bytes big-endian.
    pub fn u64() -> U64Serde {
        U64Serde
    }
    /// 64-bit floats, IEEE 754 big-endian (Kafka's `DoubleSerde`).
    pub fn f64() -> F64Serde {
        F64Serde
    }
    /// Keys or values that carry nothing: null on the wire, `()` in code.
    pub fn unit() -> UnitSerde {
        UnitSerde
    }
    /// Raw bytes, unchanged (Kafka's `ByteArraySerde`).
    pub fn bytes() -> BytesSerde {
        BytesSerde
    }
    /// JSON for any `serde` type.
    pub fn json<T>() -> JsonSerde<T> {
        JsonSerde::new()
    }
    /// Wraps `serde` so that `None` maps to null.
    pub fn nullable<S>(serde: S) -> Nullable<S> {
        Nullable(serde)
    }
}
