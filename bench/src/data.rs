//! The input data and the record types of the workloads.
//!
//! The shape follows `bench-peers/common.py`: record `seq` has key `k%04d` of `seq % 1000`,
//! timestamp `BASE_TS + seq * 1000 / EPS` (10 000 records per event-time second) and a JSON
//! value of about 100 bytes with the fields of `make_value`, in its order.

use serde::{Deserialize, Serialize};
use streams_core::processor::{Headers, RawRecord};

/// The stream's input topic.
pub const INPUT_TOPIC: &str = "events";
/// The table's input topic (join only).
pub const TABLE_TOPIC: &str = "regions";
/// The output topic.
pub const OUTPUT_TOPIC: &str = "out";
/// Distinct keys.
pub const KEYS: u64 = 1000;
/// Timestamp of record 0, as in `common.py`.
pub const BASE_TS: i64 = 1_700_000_000_000;
/// Records per event-time second.
pub const EPS: i64 = 10_000;
/// Distinct regions in the join's table.
pub const REGIONS: u64 = 16;

/// An input value, as `common.make_value` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number.
    pub seq: u64,
    /// The record's key, repeated.
    pub key: String,
    /// Event time in milliseconds (the record timestamp).
    pub ts: i64,
    /// An amount with two decimals, 0.00 to 999.99.
    pub amount: f64,
    /// One of `c0..c6`.
    pub cat: String,
    /// Whether this is a window-closing record of the peers' data set (always false here).
    pub flush: bool,
    /// Padding.
    pub pad: String,
}

/// The filter workload's output value (`raw_confluent.py`'s filter mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterOut {
    /// The input's `seq`.
    pub seq: u64,
    /// The input's `key`.
    pub key: String,
    /// `int(amount * 100)`: the amount times 100, truncated.
    pub cents: i64,
    /// The input's `cat`, upper-cased.
    pub cat: String,
}

impl FilterOut {
    /// Whether an event passes the filter: `seq % 10 != 0`.
    pub fn keep(event: &Event) -> bool {
        !event.seq.is_multiple_of(10)
    }

    /// The mapping of a kept event.
    pub fn from_event(event: Event) -> FilterOut {
        FilterOut {
            seq: event.seq,
            cents: (event.amount * 100.0) as i64,
            cat: event.cat.to_uppercase(),
            key: event.key,
        }
    }
}

/// The count workload's output value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountOut {
    /// The key counted.
    pub key: String,
    /// Records seen for it so far.
    pub count: i64,
}

/// The window-count workload's output value: a key's count in one 1 s tumbling window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowCountOut {
    /// The key counted.
    pub key: String,
    /// Start of the window (inclusive), epoch milliseconds.
    pub start: i64,
    /// End of the window (exclusive).
    pub end: i64,
    /// Records of the key in the window so far.
    pub count: i64,
}

/// Size of the window-count workload's tumbling windows, in milliseconds.
pub const WINDOW_MS: i64 = 1000;

/// A row of the join's table: the region of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Region name.
    pub region: String,
}

/// The join workload's output value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinOut {
    /// The event's `seq`.
    pub seq: u64,
    /// The event's `key`.
    pub key: String,
    /// The event's `amount`.
    pub amount: f64,
    /// The region of the key.
    pub region: String,
}

impl JoinOut {
    /// Joins an event with the region of its key.
    pub fn new(event: &Event, region: &Region) -> JoinOut {
        JoinOut {
            seq: event.seq,
            key: event.key.clone(),
            amount: event.amount,
            region: region.region.clone(),
        }
    }
}

/// The key of record `seq`.
pub fn key_of(seq: u64) -> String {
    format!("k{:04}", seq % KEYS)
}

/// The value of record `seq`.
pub fn event(seq: u64) -> Event {
    let key = key_of(seq);
    Event {
        seq,
        ts: timestamp_of(seq),
        amount: ((seq * 7919) % 100_000) as f64 / 100.0,
        cat: format!("c{}", seq % 7),
        flush: false,
        pad: "x".repeat(4),
        key,
    }
}

/// The timestamp of record `seq`.
pub fn timestamp_of(seq: u64) -> i64 {
    BASE_TS + seq as i64 * 1000 / EPS
}

/// The stream-stream join's second stream: region updates.
pub const REGION_UPDATES_TOPIC: &str = "region-updates";
/// Event time between two region updates of the same key.
pub const REGION_UPDATE_EVERY_MS: i64 = 10_000;
/// The stream-stream join's window: records of the two streams join when their timestamps are
/// at most this far apart.
pub const JOIN_WINDOW_MS: i64 = 5_000;

/// Pre-generated raw input: the stream's records, the join table's rows and the second
/// stream of the stream-stream join.
#[derive(Debug, Clone)]
pub struct Input {
    /// Stream records, offsets `0..n`.
    pub records: Vec<RawRecord>,
    /// Table rows, one per key, timestamped before the first stream record.
    pub table: Vec<RawRecord>,
    /// Region updates, in timestamp order: every key's region once every
    /// [`REGION_UPDATE_EVERY_MS`] of event time (key `k` at `k * 10` ms into each period), up
    /// to the last stream record's timestamp; 1 per 100 stream records ([`region_updates`]).
    pub region_updates: Vec<RawRecord>,
}

impl Input {
    /// `n` stream records and the table.
    pub fn generate(n: u64) -> Input {
        let records = (0..n)
            .map(|seq| {
                let value = serde_json::to_vec(&event(seq)).unwrap_or_default();
                raw(key_of(seq).into_bytes(), value, timestamp_of(seq), seq as i64)
            })
            .collect();
        let table = (0..KEYS)
            .map(|k| {
                let region = Region {
                    region: format!("region-{:02}", k % REGIONS),
                };
                let value = serde_json::to_vec(&region).unwrap_or_default();
                raw(key_of(k).into_bytes(), value, BASE_TS - 1000, k as i64)
            })
            .collect();
        let region_updates = region_updates(n);
        Input {
            records,
            table,
            region_updates,
        }
    }

    /// Copies of the stream records in batches of `size`, as a consumer hands them over: both
    /// the framework and the reference take their input this way, and drop each record after
    /// use.
    pub fn batches(&self, size: usize) -> Vec<Vec<RawRecord>> {
        self.records.chunks(size.max(1)).map(<[RawRecord]>::to_vec).collect()
    }

    /// Average size of a stream value in bytes.
    pub fn average_value_bytes(&self) -> f64 {
        let total: usize = self.records.iter().map(|r| r.value.as_ref().map_or(0, Vec::len)).sum();
        total as f64 / self.records.len().max(1) as f64
    }
}

/// The region updates that go with `n` stream records, in timestamp order: every key's region
/// (`{"region":"region-NN"}`) once every [`REGION_UPDATE_EVERY_MS`] of event time, key `k` at
/// `k * 10` ms into each period, up to the timestamp of record `n - 1`.
pub fn region_updates(n: u64) -> Vec<RawRecord> {
    let last = timestamp_of(n.saturating_sub(1));
    let periods = (last - BASE_TS) / REGION_UPDATE_EVERY_MS + 1;
    (0..periods)
        .flat_map(|period| (0..KEYS).map(move |k| (period, k)))
        .map(|(period, k)| {
            let timestamp = BASE_TS + period * REGION_UPDATE_EVERY_MS + k as i64 * 10;
            (timestamp, k, period)
        })
        .filter(|&(timestamp, _, _)| timestamp <= last)
        .enumerate()
        .map(|(offset, (timestamp, k, period))| {
            let region = Region {
                region: format!("region-{:02}", (k + period as u64) % REGIONS),
            };
            let value = serde_json::to_vec(&region).unwrap_or_default();
            raw(key_of(k).into_bytes(), value, timestamp, offset as i64)
        })
        .collect()
}

fn raw(key: Vec<u8>, value: Vec<u8>, timestamp: i64, offset: i64) -> RawRecord {
    RawRecord {
        key: Some(key),
        value: Some(value),
        timestamp,
        offset,
        headers: Headers::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_look_like_the_peers_data() {
        let input = Input::generate(20);
        let value = std::str::from_utf8(input.records[13].value.as_deref().unwrap()).unwrap();
        assert_eq!(
            value,
            r#"{"seq":13,"key":"k0013","ts":1700000000001,"amount":29.47,"cat":"c6","flush":false,"pad":"xxxx"}"#
        );
        assert_eq!(input.records[13].timestamp, 1_700_000_000_001);
    }
}
