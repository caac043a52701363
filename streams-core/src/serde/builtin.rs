//! The fixed encodings: strings, Kafka's big-endian numbers, raw bytes, unit.

use super::{Serde, SerdeError};

/// Implements `Serde<Option<T>>` for a serde of `T`: `None` is null.
macro_rules! nullable_too {
    ($serde:ty, $t:ty) => {
        impl Serde<Option<$t>> for $serde {
            fn serialize(&self, value: &Option<$t>) -> Result<Vec<u8>, SerdeError> {
                match value {
                    Some(v) => Serde::<$t>::serialize(self, v),
                    None => Err(SerdeError::Null {
                        type_name: stringify!($t),
                    }),
                }
            }
            fn deserialize(&self, bytes: &[u8]) -> Result<Option<$t>, SerdeError> {
                Serde::<$t>::deserialize(self, bytes).map(Some)
            }
            fn serialize_nullable(&self, value: &Option<$t>) -> Result<Option<Vec<u8>>, SerdeError> {
                value
                    .as_ref()
                    .map(|v| Serde::<$t>::serialize(self, v))
                    .transpose()
            }
            fn is_null(&self, value: &Option<$t>) -> bool {
                value.is_none()
            }
            fn deserialize_null(&self) -> Result<Option<$t>, SerdeError> {
                Ok(None)
            }
        }
    };
}

/// UTF-8 strings.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, value: &String) -> Result<Vec<u8>, SerdeError> {
        Ok(value.as_bytes().to_vec())
    }
    fn deserialize(&self, bytes: &[u8]) -> Result<String, SerdeError> {
        Ok(std::str::from_utf8(bytes)?.to_owned())
    }
    fn serialize_into(&self, value: &String, out: &mut Vec<u8>) -> Result<(), SerdeError> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }
    fn serialize_nullable_owned(&self, value: String) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.into_bytes()))
    }
    fn deserialize_nullable_taken(&self, bytes: &mut Option<Vec<u8>>) -> Result<String, SerdeError> {
        match bytes.take() {
            Some(buffer) => String::from_utf8(buffer).map_err(|e| {
                let error = SerdeError::Utf8(e.utf8_error());
                *bytes = Some(e.into_bytes());
                error
            }),
            None => self.deserialize_null(),
        }
    }
}
nullable_too!(StringSerde, String);

/// Raw bytes, unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, value: &Vec<u8>) -> Result<Vec<u8>, SerdeError> {
        Ok(value.clone())
    }
    fn deserialize(&self, bytes: &[u8]) -> Result<Vec<u8>, SerdeError> {
        Ok(bytes.to_vec())
    }
    fn serialize_into(&self, value: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), SerdeError> {
        out.extend_from_slice(value);
        Ok(())
    }
    fn serialize_nullable_owned(&self, value: Vec<u8>) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value))
    }
    fn deserialize_nullable_taken(&self, bytes: &mut Option<Vec<u8>>) -> Result<Vec<u8>, SerdeError> {
        match bytes.take() {
            Some(buffer) => Ok(buffer),
            None => self.deserialize_null(),
        }
    }
}
nullable_too!(BytesSerde, Vec<u8>);

/// The unit type: always null on the wire; reads any key or value, null included, as `()`.
///
/// Useful as the key type of topics whose records carry no meaningful key.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitSerde;

impl Serde<()> for UnitSerde {
    fn serialize(&self, _value: &()) -> Result<Vec<u8>, SerdeError> {
        Ok(Vec::new())
    }
    fn deserialize(&self, _bytes: &[u8]) -> Result<(), SerdeError> {
        Ok(())
    }
    fn serialize_nullable(&self, _value: &()) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(None)
    }
    fn is_null(&self, _value: &()) -> bool {
        true
    }
    fn deserialize_null(&self) -> Result<(), SerdeError> {
        Ok(())
    }
}

macro_rules! big_endian {
    ($serde:ident, $t:ty, $n:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $serde;

        impl Serde<$t> for $serde {
            fn serialize(&self, value: &$t) -> Result<Vec<u8>, SerdeError> {
                Ok(value.to_be_bytes().to_vec())
            }
            fn serialize_into(&self, value: &$t, out: &mut Vec<u8>) -> Result<(), SerdeError> {
                out.extend_from_slice(&value.to_be_bytes());
                Ok(())
            }
            fn deserialize(&self, bytes: &[u8]) -> Result<$t, SerdeError> {
                let array: [u8; $n] = bytes.try_into().map_err(|_| SerdeError::Length {
                    type_name: stringify!($t),
                    expected: $n,
                    actual: bytes.len(),
                })?;
                Ok(<$t>::from_be_bytes(array))
            }
        }
        nullable_too!($serde, $t);
    };
}

big_endian!(I32Serde, i32, 4, "32-bit signed integers, 4 bytes big-endian.");
big_endian!(I64Serde, i64, 8, "64-bit signed integers, 8 bytes big-endian.");
big_endian!(U32Serde, u32, 4, "32-bit unsigned integers, 4 bytes big-endian.");
big_endian!(U64Serde, u64, 8, "64-bit unsigned integers, 8 bytes big-endian.");
big_endian!(F64Serde, f64, 8, "64-bit floats, IEEE 754, 8 bytes big-endian.");
