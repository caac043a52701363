//! proptest strategies for keyed, timestamped record sequences.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::TestRecord;

/// Sequences of up to `max_len` records with keys from `keys`, values from `values`, and
/// timestamps that start at 0 and move forward by up to `max_step` ms per record (never back).
pub fn ordered_records<K, V>(
    keys: impl Strategy<Value = K> + Clone,
    values: impl Strategy<Value = V> + Clone,
    max_len: usize,
    max_step: i64,
) -> impl Strategy<Value = Vec<TestRecord<K, V>>>
where
    K: std::fmt::Debug + Clone,
    V: std::fmt::Debug + Clone,
{
    vec((keys, values, 0..=max_step), 0..=max_len).prop_map(|items| {
        let mut ts = 0;
        items
            .into_iter()
            .map(|(k, v, step)| {
                ts += step;
                TestRecord::new(k, v, ts)
            })
            .collect()
    })
}

/// Sequences of up to `max_len` records whose timestamps are anywhere in `0..max_ts`, so out of
/// order (late) records occur.
pub fn unordered_records<K, V>(
    keys: impl Strategy<Value = K> + Clone,
    values: impl Strategy<Value = V> + Clone,
    max_len: usize,
    max_ts: i64,
) -> impl Strategy<Value = Vec<TestRecord<K, V>>>
where
    K: std::fmt::Debug + Clone,
    V: std::fmt::Debug + Clone,
{
    vec((keys, values, 0..max_ts), 0..=max_len)
        .prop_map(|items| items.into_iter().map(|(k, v, ts)| TestRecord::new(k, v, ts)).collect())
}

/// Keys drawn from a small set (`k0` .. `k{n-1}`), so that keys repeat.
pub fn small_key_set(n: usize) -> impl Strategy<Value = String> + Clone {
    (0..n.max(1)).prop_map(|i| format!("k{i}"))
}
