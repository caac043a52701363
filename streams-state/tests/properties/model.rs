//! Random operations and the `BTreeMap` model they are checked against.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use streams_state::{KeyValue, KeyValueStore, RecordClock};

use crate::common::collect;

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    PutIfAbsent(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Range(Vec<u8>, Vec<u8>),
    PrefixScan(Vec<u8>),
    All,
    ApproximateNumEntries,
    /// Flushes the store (a no-op for the engine).
    Flush,
    /// Sets the record clock.
    SetClock(i64),
}

/// Short keys over a few bytes, including 0xff, so that keys collide, share prefixes and hit the
/// prefix-successor edge cases.
pub fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0xff]), 0..3)
}

pub fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..5)
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (key(), value()).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
        3 => key().prop_map(Op::Delete),
        3 => key().prop_map(Op::Get),
        2 => (key(), key()).prop_map(|(from, to)| Op::Range(from, to)),
        2 => key().prop_map(Op::PrefixScan),
        1 => Just(Op::All),
        1 => Just(Op::ApproximateNumEntries),
        1 => Just(Op::Flush),
        2 => (0i64..1000).prop_map(Op::SetClock),
    ]
}

/// Only writes, flushes and clock changes.
pub fn write_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (key(), value()).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
        3 => key().prop_map(Op::Delete),
        1 => Just(Op::Flush),
        2 => (0i64..1000).prop_map(Op::SetClock),
    ]
}

pub fn entries(model: &Model) -> Vec<KeyValue> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// How `approximate_num_entries` is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// It must equal the model's size.
    Exact,
    /// It only has to succeed (a cache keeps entries the estimate does not count).
    Any,
}

/// Applies `op` to `store` and `model`, checking every answer against the model. Returns the
/// key `op` wrote, if it wrote one.
pub fn apply(
    store: &mut dyn KeyValueStore,
    model: &mut Model,
    clock: &RecordClock,
    op: &Op,
    count: Count,
) -> Result<Option<Vec<u8>>, TestCaseError> {
    match op {
        Op::Put(k, v) => {
            store.put(k, v).unwrap();
            model.insert(k.clone(), v.clone());
            Ok(Some(k.clone()))
        }
        Op::PutIfAbsent(k, v) => {
            let previous = store.put_if_absent(k, v).unwrap();
            prop_assert_eq!(&previous, &model.get(k).cloned(), "put_if_absent {:?}", k);
            if previous.is_none() {
                model.insert(k.clone(), v.clone());
                Ok(Some(k.clone()))
            } else {
                Ok(None)
            }
        }
        Op::Delete(k) => {
            let previous = store.delete(k).unwrap();
            prop_assert_eq!(previous, model.remove(k), "delete {:?}", k);
            Ok(Some(k.clone()))
        }
        Op::Get(k) => {
            prop_assert_eq!(store.get(k).unwrap(), model.get(k).cloned(), "get {:?}", k);
            Ok(None)
        }
        Op::Range(from, to) => {
            let expected: Vec<KeyValue> = if from > to {
                Vec::new()
            } else {
                model
                    .range(from.clone()..=to.clone())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            prop_assert_eq!(
                collect(store.range(from, to).unwrap()),
                expected,
                "range {:?}..={:?}",
                from,
                to
            );
            Ok(None)
        }
        Op::PrefixScan(prefix) => {
            let expected: Vec<KeyValue> = model
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            prop_assert_eq!(
                collect(store.prefix_scan(prefix).unwrap()),
                expected,
                "prefix_scan {:?}",
                prefix
            );
            Ok(None)
        }
        Op::All => {
            prop_assert_eq!(collect(store.all().unwrap()), entries(model));
            Ok(None)
        }
        Op::ApproximateNumEntries => {
            let n = store.approximate_num_entries().unwrap();
            if count == Count::Exact {
                prop_assert_eq!(n, model.len() as u64);
            }
            Ok(None)
        }
        Op::Flush => {
            store.flush().unwrap();
            Ok(None)
        }
        Op::SetClock(timestamp) => {
            clock.set(*timestamp);
            Ok(None)
        }
    }
}
