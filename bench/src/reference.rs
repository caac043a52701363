//! The workloads written by hand, without the framework: deserialize, the same logic, a
//! `HashMap`, serialize. They take the same batches of raw records as the framework's task
//! (and drop each record after use, as the task does) and write the same output records (same
//! keys, values, timestamps and partitions), but keep no changelog.
//!
//! Each workload is a function kept out of line, so that profiles show its timed part as one
//! function, as the framework's `drive`.

use crate::{Timer, Timing};
use std::collections::{HashMap, VecDeque};

use streams_core::internals::partitioner::murmur2_partition;
use streams_core::processor::RawRecord;

use crate::data::{CountOut, Event, FilterOut, Input, JoinOut, Region, WindowCountOut, JOIN_WINDOW_MS, WINDOW_MS};
use crate::sink::{Sink, SinkCollector};
use crate::{RunConfig, Workload};

/// Why the reference failed: the input is not what it expects.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs `workload` over `input` writing into `sink`; returns what was written and the time the
/// stream records took (the join's table is loaded before the clock starts).
pub fn run(workload: Workload, input: &Input, config: &RunConfig, sink: Sink) -> Result<(Sink, Timing), Error> {
    let producer = SinkCollector::new(config.output_partitions, sink);
    let timing = run_with(workload, input, config, &producer)?;
    Ok((producer.take(), timing))
}

fn run_with(workload: Workload, input: &Input, config: &RunConfig, sink: &SinkCollector) -> Result<Timing, Error> {
    let records = input.batches(config.batch);
    let partitions = config.output_partitions;
    match workload {
        Workload::FilterMap => {
            let start = Timer::start();
            filter_map(records, partitions, sink)?;
            Ok(start.elapsed())
        }
        Workload::Count => {
            let start = Timer::start();
            count_coalesced(records, config.commit_every, partitions, sink)?;
            Ok(start.elapsed())
        }
        Workload::CountNoCache => {
            let start = Timer::start();
            count_each(records, partitions, sink)?;
            Ok(start.elapsed())
        }
        Workload::WindowCount => {
            let start = Timer::start();
            window_count_coalesced(records, config.commit_every, partitions, sink)?;
            Ok(start.elapsed())
        }
        Workload::StreamJoin => {
            let updates = input.region_updates.clone();
            let start = Timer::start();
            stream_join(records, updates, partitions, sink)?;
            Ok(start.elapsed())
        }
        Workload::Join => {
            let table = load_table(&input.table)?;
            let start = Timer::start();
            join(records, &table, partitions, sink)?;
            Ok(start.elapsed())
        }
    }
}

/// The records of every batch, in order.
fn each(batches: Vec<Vec<RawRecord>>) -> impl Iterator<Item = RawRecord> {
    batches.into_iter().flatten()
}

fn parts(record: &RawRecord) -> Result<(&[u8], &[u8]), Error> {
    match (&record.key, &record.value) {
        (Some(key), Some(value)) => Ok((key, value)),
        _ => Err(format!("record {} has a null key or value", record.offset).into()),
    }
}

/// Drops `seq % 10 == 0`, maps the rest.
#[inline(never)]
fn filter_map(batches: Vec<Vec<RawRecord>>, partitions: i32, sink: &SinkCollector) -> Result<(), Error> {
    for record in each(batches) {
        let (key, value) = parts(&record)?;
        let event: Event = serde_json::from_slice(value)?;
        if FilterOut::keep(&event) {
            let out = serde_json::to_vec(&FilterOut::from_event(event))?;
            let partition = murmur2_partition(key, partitions);
            sink.produce(partition, key, &out, record.timestamp);
        }
    }
    Ok(())
}

/// One output per input: the key's new count.
#[inline(never)]
fn count_each(batches: Vec<Vec<RawRecord>>, partitions: i32, sink: &SinkCollector) -> Result<(), Error> {
    let mut counts: HashMap<String, i64> = HashMap::new();
    for record in each(batches) {
        let (key, value) = parts(&record)?;
        let key_str = std::str::from_utf8(key)?;
        let _event: Event = serde_json::from_slice(value)?;
        let count = match counts.get_mut(key_str) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => {
                counts.insert(key_str.to_owned(), 1);
                1
            }
        };
        let out = serde_json::to_vec(&CountOut {
            key: key_str.to_owned(),
            count,
        })?;
        let partition = murmur2_partition(key, partitions);
        sink.produce(partition, key, &out, record.timestamp);
    }
    Ok(())
}

struct Counter {
    count: i64,
    timestamp: i64,
    dirty: bool,
}

/// Counts per key, and at each commit outputs the count of every key updated since the last
/// one (in the order the keys were first updated), as the store's cache does.
#[inline(never)]
fn count_coalesced(
    batches: Vec<Vec<RawRecord>>,
    commit_every: usize,
    partitions: i32,
    sink: &SinkCollector,
) -> Result<(), Error> {
    let mut counts: HashMap<String, Counter> = HashMap::new();
    let mut dirty: Vec<String> = Vec::new();
    let mut since_commit = 0;
    for batch in batches {
        since_commit += batch.len();
        for record in batch {
            let (key, value) = parts(&record)?;
            let key_str = std::str::from_utf8(key)?;
            let _event: Event = serde_json::from_slice(value)?;
            let counter = match counts.get_mut(key_str) {
                Some(counter) => counter,
                None => counts.entry(key_str.to_owned()).or_insert(Counter {
                    count: 0,
                    timestamp: i64::MIN,
                    dirty: false,
                }),
            };
            counter.count += 1;
            counter.timestamp = counter.timestamp.max(record.timestamp);
            if !counter.dirty {
                counter.dirty = true;
                dirty.push(key_str.to_owned());
            }
        }
        if since_commit >= commit_every {
            emit_dirty(&mut counts, &mut dirty, partitions, sink)?;
            since_commit = 0;
        }
    }
    emit_dirty(&mut counts, &mut dirty, partitions, sink)
}

fn emit_dirty(
    counts: &mut HashMap<String, Counter>,
    dirty: &mut Vec<String>,
    partitions: i32,
    sink: &SinkCollector,
) -> Result<(), Error> {
    for key in dirty.drain(..) {
        let Some(counter) = counts.get_mut(&key) else {
            continue;
        };
        counter.dirty = false;
        let count = counter.count;
        let timestamp = counter.timestamp;
        let partition = murmur2_partition(key.as_bytes(), partitions);
        let out = serde_json::to_vec(&CountOut {
            key: key.clone(),
            count,
        })?;
        sink.produce(partition, key.as_bytes(), &out, timestamp);
    }
    Ok(())
}

struct WindowCounter {
    count: i64,
    /// The largest record timestamp in the window.
    timestamp: i64,
    /// When the window was last updated (a sequence number), while it has an update to emit.
    dirty_since: Option<u64>,
}

/// 1 s tumbling counts per key (no grace: a record whose window has ended by the largest
/// timestamp seen is dropped). At each commit, outputs the count of every window updated since
/// the last one, in the order of their last update (as the window store's cache does), then
/// forgets the windows that have closed.
#[inline(never)]
fn window_count_coalesced(
    batches: Vec<Vec<RawRecord>>,
    commit_every: usize,
    partitions: i32,
    sink: &SinkCollector,
) -> Result<(), Error> {
    let mut windows: HashMap<String, HashMap<i64, WindowCounter>> = HashMap::new();
    let mut dirty: Vec<(String, i64)> = Vec::new();
    let mut observed = i64::MIN;
    let mut seq = 0u64;
    let mut since_commit = 0;
    for batch in batches {
        since_commit += batch.len();
        for record in batch {
            let (key, value) = parts(&record)?;
            let key_str = std::str::from_utf8(key)?;
            let _event: Event = serde_json::from_slice(value)?;
            let timestamp = record.timestamp;
            observed = observed.max(timestamp);
            let start = timestamp - timestamp.rem_euclid(WINDOW_MS);
            if start + WINDOW_MS <= observed {
                continue;
            }
            let per_key = match windows.get_mut(key_str) {
                Some(per_key) => per_key,
                None => windows.entry(key_str.to_owned()).or_default(),
            };
            let counter = per_key.entry(start).or_insert(WindowCounter {
                count: 0,
                timestamp: i64::MIN,
                dirty_since: None,
            });
            counter.count += 1;
            counter.timestamp = counter.timestamp.max(timestamp);
            if counter.dirty_since.replace(seq).is_none() {
                dirty.push((key_str.to_owned(), start));
            }
            seq += 1;
        }
        if since_commit >= commit_every {
            emit_windows(&mut windows, &mut dirty, observed, partitions, sink)?;
            since_commit = 0;
        }
    }
    emit_windows(&mut windows, &mut dirty, observed, partitions, sink)
}

fn emit_windows(
    windows: &mut HashMap<String, HashMap<i64, WindowCounter>>,
    dirty: &mut Vec<(String, i64)>,
    observed: i64,
    partitions: i32,
    sink: &SinkCollector,
) -> Result<(), Error> {
    let mut order: Vec<(u64, String, i64)> = dirty
        .drain(..)
        .filter_map(|(key, start)| {
            let counter = windows.get_mut(&key)?.get_mut(&start)?;
            Some((counter.dirty_since.take()?, key, start))
        })
        .collect();
    order.sort_unstable_by_key(|(seq, _, _)| *seq);
    for (_, key, start) in order {
        let Some(counter) = windows.get(&key).and_then(|w| w.get(&start)) else {
            continue;
        };
        let out = serde_json::to_vec(&WindowCountOut {
            key: key.clone(),
            start,
            end: start + WINDOW_MS,
            count: counter.count,
        })?;
        let partition = murmur2_partition(key.as_bytes(), partitions);
        sink.produce(partition, key.as_bytes(), &out, counter.timestamp);
    }
    // Closed windows get no more records.
    for per_key in windows.values_mut() {
        per_key.retain(|start, _| start + WINDOW_MS > observed);
    }
    Ok(())
}

fn load_table(rows: &[RawRecord]) -> Result<HashMap<String, Region>, Error> {
    let mut table = HashMap::new();
    for row in rows {
        let (key, value) = parts(row)?;
        table.insert(std::str::from_utf8(key)?.to_owned(), serde_json::from_slice(value)?);
    }
    Ok(table)
}

/// Joins each record with the region of its key; records without one are dropped.
#[inline(never)]
fn join(
    batches: Vec<Vec<RawRecord>>,
    table: &HashMap<String, Region>,
    partitions: i32,
    sink: &SinkCollector,
) -> Result<(), Error> {
    for record in each(batches) {
        let (key, value) = parts(&record)?;
        let event: Event = serde_json::from_slice(value)?;
        let Some(region) = table.get(std::str::from_utf8(key)?) else {
            continue;
        };
        let out = serde_json::to_vec(&JoinOut::new(&event, region))?;
        let partition = murmur2_partition(key, partitions);
        sink.produce(partition, key, &out, record.timestamp);
    }
    Ok(())
}

/// The records of one key seen on one side of the stream-stream join, oldest first.
type Seen<T> = HashMap<String, VecDeque<(i64, T)>>;

/// Writes the join of `event` and `region`.
fn emit_joined(
    sink: &SinkCollector,
    partitions: i32,
    key: &[u8],
    event: &Event,
    region: &Region,
    timestamp: i64,
) -> Result<(), Error> {
    let out = serde_json::to_vec(&JoinOut::new(event, region))?;
    sink.produce(murmur2_partition(key, partitions), key, &out, timestamp);
    Ok(())
}

/// Remembers `value` seen at `t` for `key`, forgetting what is older than twice the window.
fn remember<T>(seen: &mut Seen<T>, key: &str, t: i64, value: T) {
    let records = match seen.get_mut(key) {
        Some(records) => records,
        None => seen.entry(key.to_owned()).or_default(),
    };
    while records.front().is_some_and(|(old, _)| *old < t - 2 * JOIN_WINDOW_MS) {
        records.pop_front();
    }
    records.push_back((t, value));
}

/// The records of `key` in `seen` at most [`JOIN_WINDOW_MS`] from `t`, oldest first.
fn in_window<'a, T>(seen: &'a Seen<T>, key: &str, t: i64) -> impl Iterator<Item = &'a (i64, T)> {
    seen.get(key)
        .into_iter()
        .flatten()
        .filter(move |(other, _)| (t - JOIN_WINDOW_MS..=t + JOIN_WINDOW_MS).contains(other))
}

/// Inner join of the events with the region updates of the same key at most
/// [`JOIN_WINDOW_MS`] apart: the two streams are merged in timestamp order (an event before an
/// update of the same timestamp), each record joins the other side's records seen so far in
/// its window, oldest first, and the output carries the later of the two timestamps.
#[inline(never)]
fn stream_join(
    batches: Vec<Vec<RawRecord>>,
    updates: Vec<RawRecord>,
    partitions: i32,
    sink: &SinkCollector,
) -> Result<(), Error> {
    let mut events: Seen<Event> = HashMap::new();
    let mut regions: Seen<Region> = HashMap::new();
    let mut updates = updates.into_iter().peekable();
    let on_update = |update: RawRecord, events: &Seen<Event>, regions: &mut Seen<Region>| -> Result<(), Error> {
        let (key, value) = parts(&update)?;
        let region: Region = serde_json::from_slice(value)?;
        let (t, key_str) = (update.timestamp, std::str::from_utf8(key)?);
        for (te, event) in in_window(events, key_str, t) {
            emit_joined(sink, partitions, key, event, &region, t.max(*te))?;
        }
        remember(regions, key_str, t, region);
        Ok(())
    };
    for record in each(batches) {
        while let Some(update) = updates.next_if(|u| u.timestamp < record.timestamp) {
            on_update(update, &events, &mut regions)?;
        }
        let (key, value) = parts(&record)?;
        let event: Event = serde_json::from_slice(value)?;
        let (t, key_str) = (record.timestamp, std::str::from_utf8(key)?);
        for (tr, region) in in_window(&regions, key_str, t) {
            emit_joined(sink, partitions, key, &event, region, t.max(*tr))?;
        }
        remember(&mut events, key_str, t, event);
    }
    for update in updates {
        on_update(update, &events, &mut regions)?;
    }
    Ok(())
}
