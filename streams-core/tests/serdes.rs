//! Serdes: every ready serde round-trips (proptest), writes Kafka's byte layouts, maps `None`
//! to null through its `Option` variant, and answers random bytes with a typed error or a
//! value, never a panic.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use streams_core::processor::ValueAndTimestamp;
use streams_core::serde::{Serde, SerdeError, Serdes};
use streams_core::state::{decode_value_and_timestamp, encode_value_and_timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    amount_cents: i64,
    express: Option<bool>,
    items: Vec<u32>,
}

fn order() -> impl Strategy<Value = Order> {
    (
        any::<u64>(),
        ".{0,12}",
        any::<i64>(),
        any::<Option<bool>>(),
        proptest::collection::vec(any::<u32>(), 0..5),
    )
        .prop_map(|(id, customer, amount_cents, express, items)| Order {
            id,
            customer,
            amount_cents,
            express,
            items,
        })
}

/// `value` survives `serde` as itself and through the serde's `Option` variant, and `None`
/// is null.
fn round_trips<T, S>(serde: &S, value: &T, same: impl Fn(&T, &T) -> bool) -> Result<(), TestCaseError>
where
    T: Clone + std::fmt::Debug + 'static,
    S: Serde<T> + Serde<Option<T>>,
{
    let bytes = Serde::<T>::serialize(serde, value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back = Serde::<T>::deserialize(serde, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(same(&back, value), "{back:?} != {value:?}");

    let some = Some(value.clone());
    let nullable =
        Serde::<Option<T>>::serialize_nullable(serde, &some).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(nullable.as_deref(), Some(bytes.as_slice()));
    let back = Serde::<Option<T>>::deserialize_nullable(serde, Some(&bytes))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(back.as_ref().is_some_and(|b| same(b, value)));

    prop_assert_eq!(
        Serde::<Option<T>>::serialize_nullable(serde, &None).map_err(|e| TestCaseError::fail(e.to_string()))?,
        None
    );
    // `is_null` agrees with `serialize_nullable`.
    prop_assert!(Serde::<Option<T>>::is_null(serde, &None));
    prop_assert!(!Serde::<Option<T>>::is_null(serde, &some));
    prop_assert!(!Serde::<T>::is_null(serde, value));
    prop_assert!(matches!(
        Serde::<Option<T>>::deserialize_nullable(serde, None),
        Ok(None)
    ));
    // The plain type has no null.
    prop_assert!(
        matches!(
            Serde::<T>::deserialize_nullable(serde, None),
            Err(SerdeError::Null { .. })
        ),
        "expected a null error"
    );
    prop_assert!(
        matches!(
            Serde::<Option<T>>::serialize(serde, &None),
            Err(SerdeError::Null { .. })
        ),
        "expected a null error"
    );
    Ok(())
}

fn eq<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

/// A fixed-size serde reads exactly `size` bytes and reports any other length.
fn fixed_size<T: std::fmt::Debug + 'static>(
    serde: &impl Serde<T>,
    size: usize,
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    match Serde::<T>::deserialize(serde, bytes) {
        Ok(_) => prop_assert_eq!(bytes.len(), size),
        Err(SerdeError::Length { expected, actual, .. }) => {
            prop_assert_eq!(expected, size);
            prop_assert_eq!(actual, bytes.len());
            prop_assert_ne!(bytes.len(), size);
        }
        Err(other) => prop_assert!(false, "unexpected error {other}"),
    }
    Ok(())
}

proptest! {
    #[test]
    fn strings_round_trip(value in any::<String>()) {
        round_trips(&Serdes::string(), &value, eq)?;
        prop_assert_eq!(Serde::<String>::serialize(&Serdes::string(), &value).ok(), Some(value.into_bytes()));
    }

    #[test]
    fn integers_round_trip_big_endian(a in any::<i32>(), b in any::<i64>(), c in any::<u32>(), d in any::<u64>()) {
        round_trips(&Serdes::i32(), &a, eq)?;
        round_trips(&Serdes::i64(), &b, eq)?;
        round_trips(&Serdes::u32(), &c, eq)?;
        round_trips(&Serdes::u64(), &d, eq)?;
        prop_assert_eq!(Serde::<i32>::serialize(&Serdes::i32(), &a).ok(), Some(a.to_be_bytes().to_vec()));
        prop_assert_eq!(Serde::<i64>::serialize(&Serdes::i64(), &b).ok(), Some(b.to_be_bytes().to_vec()));
        prop_assert_eq!(Serde::<u32>::serialize(&Serdes::u32(), &c).ok(), Some(c.to_be_bytes().to_vec()));
        prop_assert_eq!(Serde::<u64>::serialize(&Serdes::u64(), &d).ok(), Some(d.to_be_bytes().to_vec()));
    }

    #[test]
    fn doubles_round_trip_bit_for_bit(value in any::<f64>(), bits in any::<u64>()) {
        let same_bits = |a: &f64, b: &f64| a.to_bits() == b.to_bits();
        round_trips(&Serdes::f64(), &value, same_bits)?;
        // Every bit pattern, NaNs included.
        round_trips(&Serdes::f64(), &f64::from_bits(bits), same_bits)?;
    }

    #[test]
    fn bytes_round_trip_unchanged(value in proptest::collection::vec(any::<u8>(), 0..64)) {
        round_trips(&Serdes::bytes(), &value, eq)?;
        prop_assert_eq!(Serde::<Vec<u8>>::serialize(&Serdes::bytes(), &value).ok(), Some(value));
    }

    #[test]
    fn json_of_a_struct_round_trips(value in order()) {
        round_trips(&Serdes::json::<Order>(), &value, eq)?;
        let nullable = Serdes::nullable(Serdes::json::<Order>());
        let bytes = Serde::<Option<Order>>::serialize_nullable(&nullable, &Some(value.clone()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            Serde::<Option<Order>>::deserialize_nullable(&nullable, bytes.as_deref()).ok(),
            Some(Some(value))
        );
    }

    #[test]
    fn nullable_wraps_any_serde(value in any::<i64>()) {
        let serde = Serdes::nullable(Serdes::i64());
        prop_assert_eq!(Serde::<Option<i64>>::serialize_nullable(&serde, &Some(value)).ok(), Some(Some(value.to_be_bytes().to_vec())));
        prop_assert_eq!(Serde::<Option<i64>>::serialize_nullable(&serde, &None).ok(), Some(None));
        prop_assert_eq!(Serde::<Option<i64>>::deserialize_nullable(&serde, None).ok(), Some(None));
        prop_assert_eq!(Serde::<Option<i64>>::deserialize_nullable(&serde, Some(&value.to_be_bytes())).ok(), Some(Some(value)));
    }

    #[test]
    fn unit_is_null_on_the_wire_and_reads_anything(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
        let serde = Serdes::unit();
        prop_assert_eq!(Serde::<()>::serialize_nullable(&serde, &()).ok(), Some(None));
        prop_assert!(Serde::<()>::deserialize_nullable(&serde, None).is_ok());
        prop_assert!(Serde::<()>::deserialize_nullable(&serde, Some(&bytes)).is_ok());
    }

    #[test]
    fn random_bytes_give_a_value_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        fixed_size::<i32>(&Serdes::i32(), 4, &bytes)?;
        fixed_size::<i64>(&Serdes::i64(), 8, &bytes)?;
        fixed_size::<u32>(&Serdes::u32(), 4, &bytes)?;
        fixed_size::<u64>(&Serdes::u64(), 8, &bytes)?;
        fixed_size::<f64>(&Serdes::f64(), 8, &bytes)?;
        match Serde::<String>::deserialize(&Serdes::string(), &bytes) {
            Ok(s) => prop_assert_eq!(s.as_bytes(), bytes.as_slice()),
            Err(e) => {
                prop_assert!(matches!(e, SerdeError::Utf8(_)));
                prop_assert!(std::str::from_utf8(&bytes).is_err());
            }
        }
        match Serde::<Order>::deserialize(&Serdes::json::<Order>(), &bytes) {
            Ok(_) => {}
            Err(e) => prop_assert!(matches!(e, SerdeError::Json(_))),
        }
        let optional = Serde::<Option<i64>>::deserialize_nullable(&Serdes::i64(), Some(&bytes));
        prop_assert_eq!(optional.is_ok(), bytes.len() == 8);
        match decode_value_and_timestamp::<String>(&Serdes::string(), &bytes) {
            Ok(v) => prop_assert!(bytes.len() >= 8 && v.value.as_bytes() == &bytes[8..]),
            Err(e) => prop_assert!(bytes.len() < 8 || matches!(e, SerdeError::Utf8(_))),
        }
    }

    #[test]
    fn value_and_timestamp_round_trips(value in any::<String>(), timestamp in any::<i64>()) {
        let bytes = encode_value_and_timestamp(&Serdes::string(), &value, timestamp)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&bytes[..8], &timestamp.to_be_bytes()[..]);
        prop_assert_eq!(
            decode_value_and_timestamp(&Serdes::string(), &bytes).ok(),
            Some(ValueAndTimestamp { value, timestamp })
        );
    }
}

#[test]
fn encodings_match_kafkas_serializers() {
    // Kafka's IntegerSerializer, LongSerializer and DoubleSerializer write big-endian
    // two's-complement integers and IEEE 754 bits; StringSerializer writes UTF-8.
    assert_eq!(
        Serde::<i32>::serialize(&Serdes::i32(), &-2).ok(),
        Some(vec![0xff, 0xff, 0xff, 0xfe])
    );
    assert_eq!(
        Serde::<i64>::serialize(&Serdes::i64(), &258).ok(),
        Some(vec![0, 0, 0, 0, 0, 0, 1, 2])
    );
    assert_eq!(
        Serde::<f64>::serialize(&Serdes::f64(), &1.0).ok(),
        Some(vec![0x3f, 0xf0, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(
        Serde::<String>::serialize(&Serdes::string(), &"né".to_owned()).ok(),
        Some(vec![b'n', 0xc3, 0xa9])
    );
    assert_eq!(
        Serde::<Order>::serialize(
            &Serdes::json::<Order>(),
            &Order {
                id: 1,
                customer: "c".into(),
                amount_cents: -5,
                express: None,
                items: vec![2],
            }
        )
        .ok(),
        Some(br#"{"id":1,"customer":"c","amount_cents":-5,"express":null,"items":[2]}"#.to_vec())
    );
}

#[test]
fn errors_say_what_was_wrong() {
    let text = |e: Result<i64, SerdeError>| e.err().map(|e| e.to_string());
    assert_eq!(
        text(Serde::<i64>::deserialize(&Serdes::i64(), &[1, 2])),
        Some("expected 8 bytes for i64, got 2".to_owned())
    );
    assert_eq!(
        text(Serde::<i64>::deserialize_nullable(&Serdes::i64(), None)),
        Some("null where a i64 was expected (declare the type as Option<_> to accept nulls)".to_owned())
    );
}

#[test]
fn nullable_and_unit_serdes_say_what_is_null() {
    let nullable = Serdes::nullable(Serdes::i64());
    assert!(Serde::<Option<i64>>::is_null(&nullable, &None));
    assert!(!Serde::<Option<i64>>::is_null(&nullable, &Some(1)));
    assert_eq!(
        Serde::<Option<i64>>::serialize_nullable(&nullable, &None).ok(),
        Some(None)
    );
    // A unit key is always null on the wire.
    assert!(Serde::<()>::is_null(&Serdes::unit(), &()));
}
