//! End-to-end throughput on a Kafka-protocol broker: the framework next to a hand-written
//! rdkafka consume -> produce loop doing the same work.
//!
//! Two modes:
//!
//! - **app** (`--bootstrap B --in T --out T --group G --workload filter|count|window`): runs the
//!   framework's topology for one workload against a broker until SIGTERM or Ctrl-C, with the
//!   argument shape of `../shared/bench-peers`, so its `run_all.sh` can time it next to other
//!   frameworks (`OURS_APP=target/release/kafka-bench`). On a `mock_broker.py` broker the
//!   internal topics are created through its control port (`--mock-ctl` or `$MOCK_CTL`).
//! - **compare** (the default without `--bootstrap`): starts an embedded mock cluster, writes
//!   the bench-peers data set, and times filter, count, a stream-table join, a tumbling window
//!   count and a stream-stream join, each by the hand-written loop and by the framework, until
//!   the output topic's high watermarks reach the expected count; checks that both wrote the
//!   same output and prints the ratio.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::data::{region_updates, Event, JoinOut, Region, JOIN_WINDOW_MS, REGION_UPDATES_TOPIC};
use clap::{Parser, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use streams_core::dsl::{
    BufferConfig, Consumed, JoinWindows, Materialized, Produced, StreamsBuilder, Suppressed, TimeWindows,
};
use streams_core::internals::partitioner::murmur2_partition;
use streams_core::kafka::embedded::EmbeddedKafka;
use streams_core::kafka::{KafkaStreams, State, StreamsConfig, TopicCreator};
use streams_core::serde::Serdes;
use streams_core::state::StoreType;
use streams_core::topology::{InternalTopic, Topology};
use streams_core::StreamsError;

/// Timestamp of the first record (ms), as in bench-peers' `common.py`.
const BASE_TS: i64 = 1_700_000_000_000;
/// Distinct keys `k0000..k0999`.
const KEYS: u64 = 1000;
/// Records per event-time second.
const EPS: u64 = 10_000;
/// Input partitions in compare mode.
const PARTITIONS: i32 = 4;
/// Size of the window workload's tumbling windows (ms).
const WINDOW_MS: i64 = 1000;
/// Output partitions of the stream-join workload in compare mode: its output (about 80 bytes
/// per record, one record per input) must stay within the mock's retention of about 5 MiB per
/// partition to be read back whole for the check.
const STREAM_JOIN_OUTPUT_PARTITIONS: i32 = 32;

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "End-to-end throughput of the framework next to a hand-written rdkafka loop")]
struct Cli {
    /// Broker to run the app against (app mode). Without it: compare mode on an embedded mock cluster.
    #[arg(long)]
    bootstrap: Option<String>,
    /// App mode: input topic.
    #[arg(long = "in")]
    input: Option<String>,
    /// App mode: output topic.
    #[arg(long)]
    out: Option<String>,
    /// App mode: consumer group, used as `application.id`.
    #[arg(long)]
    group: Option<String>,
    /// App mode: the workload to run.
    #[arg(long, value_enum)]
    workload: Option<AppWorkload>,
    /// App mode: control address of bench-peers' `mock_broker.py`, to create internal topics
    /// on a broker without the admin API (default: `$MOCK_CTL`).
    #[arg(long)]
    mock_ctl: Option<String>,
    /// App mode: `state.dir` (default: a fresh temporary directory, removed at exit).
    #[arg(long)]
    state_dir: Option<std::path::PathBuf>,
    /// Compare mode (the default without --bootstrap).
    #[arg(long)]
    compare: bool,
    /// Compare mode: input records (plus 1000 flush records, one per key).
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Compare mode: runs of each workload and implementation; medians are reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Compare mode: workloads to run (comma-separated; `window` and `stream-join` run only
    /// when named).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Workload::Filter, Workload::Count, Workload::CountInMemory, Workload::Join])]
    workloads: Vec<Workload>,
    /// Compare mode: input compression (`gzip`, `lz4`, `snappy`, `zstd`, `none`; the mock keeps about
    /// 5 MiB of batches per partition, so the input must compress well: at 1 000 000 records
    /// only zstd fits).
    #[arg(long, default_value = "zstd")]
    compression: String,
    /// Compare mode: run only this implementation (for profiling).
    #[arg(long, value_enum)]
    only: Option<Implementation>,
    /// Seconds to wait for one run's output before giving up.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Extra property of the framework's configuration, as key=value (repeatable).
    #[arg(long = "property", value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not key=value"))
}

/// The workloads of bench-peers' app shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AppWorkload {
    Filter,
    Count,
    Window,
}

/// The workloads of compare mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    Filter,
    /// Count on the default engine (`default.dsl.store`: RocksDB).
    Count,
    /// Count on an in-memory store.
    CountInMemory,
    Join,
    /// Tumbling 1 s count per key on a RocksDB window store, one output per closed window.
    Window,
    /// Stream-stream join with the region updates, 5 s window, on RocksDB window stores.
    StreamJoin,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Filter => "filter",
            Workload::Count => "count",
            Workload::CountInMemory => "count-in-memory",
            Workload::Join => "join",
            Workload::Window => "window",
            Workload::StreamJoin => "stream-join",
        }
    }

    /// Partitions of the workload's output topic in compare mode.
    fn output_partitions(self) -> i32 {
        match self {
            Workload::StreamJoin => STREAM_JOIN_OUTPUT_PARTITIONS,
            _ => PARTITIONS,
        }
    }

    /// Whether both outputs are read back whole and compared as sorted multisets (the two
    /// implementations may emit them in another order); otherwise the last records of each
    /// partition are compared in order.
    fn compared_whole(self) -> bool {
        matches!(self, Workload::Window | Workload::StreamJoin)
    }
}

/// An input record's value, as bench-peers' `common.make_value` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Input {
    seq: u64,
    key: String,
    ts: i64,
    amount: f64,
    cat: String,
    flush: bool,
    pad: String,
}

/// The filter workload's output value.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Filtered {
    seq: u64,
    key: String,
    cents: i64,
    cat: String,
}

/// The count workload's output value.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Counted {
    key: String,
    count: i64,
}

/// The window workload's output value, as bench-peers' apps write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WindowCount {
    start: i64,
    end: i64,
    count: i64,
}

/// The join workload's output value: the input enriched with the key's region.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Enriched {
    seq: u64,
    key: String,
    ts: i64,
    amount: f64,
    cat: String,
    flush: bool,
    pad: String,
    region: String,
}

fn keep(v: &Input) -> bool {
    !v.seq.is_multiple_of(10)
}

fn filtered(v: Input) -> Filtered {
    Filtered {
        seq: v.seq,
        key: v.key,
        // Truncation toward zero, as Python's int().
        cents: (v.amount * 100.0) as i64,
        cat: v.cat.to_uppercase(),
    }
}

fn enriched(v: Input, region: &str) -> Enriched {
    Enriched {
        seq: v.seq,
        key: v.key,
        ts: v.ts,
        amount: v.amount,
        cat: v.cat,
        flush: v.flush,
        pad: v.pad,
        region: region.to_owned(),
    }
}

fn key_name(i: u64) -> String {
    format!("k{i:04}")
}

fn region_of(i: u64) -> String {
    format!("region-{}", i % 16)
}

// ---------------------------------------------------------------------------------------------
// The framework's topologies

fn topology(workload: Workload, topics: &Topics<'_>, out: &str) -> Result<Topology, StreamsError> {
    match workload {
        Workload::Window => return window_topology(topics.input, out),
        Workload::StreamJoin => return stream_join_topology(topics.input, topics.updates, out),
        _ => {}
    }
    let builder = StreamsBuilder::new();
    let stream =
        builder.stream::<String, Input>(topics.input, Consumed::with(Serdes::string(), Serdes::json::<Input>()));
    match workload {
        Workload::Filter => stream
            .filter(|_, v| keep(v))
            .map_values(filtered)
            .to(out, Produced::with(Serdes::string(), Serdes::json::<Filtered>())),
        // Caching off: the workload asks for one output per input.
        Workload::Count | Workload::CountInMemory => stream
            .group_by_key()
            .count_with(match workload {
                Workload::CountInMemory => Materialized::as_("counts")
                    .with_caching_disabled()
                    .with_store_type(StoreType::InMemory),
                _ => Materialized::as_("counts").with_caching_disabled(),
            })
            .to_stream()
            .map_values_with_key(|k, count| Counted {
                key: k.clone(),
                count: count.unwrap_or(0),
            })
            .to(out, Produced::with(Serdes::string(), Serdes::json::<Counted>())),
        Workload::Join => {
            let regions =
                builder.table::<String, String>(topics.table, Consumed::with(Serdes::string(), Serdes::string()));
            stream
                .join(&regions, |v, region| enriched(v.clone(), region))
                .to(out, Produced::with(Serdes::string(), Serdes::json::<Enriched>()))
        }
        Workload::Window | Workload::StreamJoin => {}
    }
    builder.build()
}

/// bench-peers' window workload: a tumbling 1 s event-time count per key, one output per window
/// when it closes (no grace), keyed by the record key. The window store's cache is off: the
/// suppression buffer holds the counts until their window closes, and a cache in front of it
/// would hold every update back until the next commit (`commit.interval.ms`, 30 s by default).
/// The window store is the runtime's `default.dsl.store` (RocksDB), logged to a changelog.
fn window_topology(input: &str, out: &str) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, Input>(input, Consumed::with(Serdes::string(), Serdes::json::<Input>()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            WINDOW_MS as u64,
        ))?)
        .count_with(Materialized::as_("window-counts").with_caching_disabled())
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .flat_map(|windowed, count| {
            count.map(|count| {
                let window = WindowCount {
                    start: windowed.window.start,
                    end: windowed.window.end,
                    count,
                };
                (windowed.key, window)
            })
        })
        .to(out, Produced::with(Serdes::string(), Serdes::json::<WindowCount>()));
    builder.build()
}

/// The stream-join workload: every input record joined with the region updates of its key at
/// most [`JOIN_WINDOW_MS`] apart (both window stores on the runtime's `default.dsl.store`,
/// RocksDB, logged), written as `{"seq","key","amount","region"}` with the later timestamp.
fn stream_join_topology(input: &str, updates: &str, out: &str) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let regions = builder.stream::<String, Region>(updates, Consumed::with(Serdes::string(), Serdes::json::<Region>()));
    let window = JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(JOIN_WINDOW_MS as u64))?;
    builder
        .stream::<String, Event>(input, Consumed::with(Serdes::string(), Serdes::json::<Event>()))
        .join_stream(&regions, JoinOut::new, window)
        .to(out, Produced::with(Serdes::string(), Serdes::json::<JoinOut>()));
    builder.build()
}

fn streams_config(
    group: &str,
    bootstrap: &str,
    state_dir: &std::path::Path,
    properties: &[(String, String)],
) -> Result<StreamsConfig, StreamsError> {
    let mut pairs = vec![
        ("application.id".to_owned(), group.to_owned()),
        ("bootstrap.servers".to_owned(), bootstrap.to_owned()),
        ("state.dir".to_owned(), state_dir.display().to_string()),
    ];
    pairs.extend(properties.iter().cloned());
    StreamsConfig::from_pairs(pairs)
}

// ---------------------------------------------------------------------------------------------
// App mode

/// Creates topics through the control port of bench-peers' `mock_broker.py`
/// (`CREATE <topic> <partitions>` -> `OK <error name>`).
struct MockCtlTopicCreator(String);

impl TopicCreator for MockCtlTopicCreator {
    fn create_topics(&self, topics: &[InternalTopic]) -> Result<(), StreamsError> {
        let fail = |topic: &str, reason: String| StreamsError::Send {
            topic: topic.to_owned(),
            reason,
        };
        for t in topics {
            let mut stream =
                TcpStream::connect(&self.0).map_err(|e| fail(&t.name, format!("mock control port {}: {e}", self.0)))?;
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(|e| fail(&t.name, e.to_string()))?;
            writeln!(stream, "CREATE {} {}", t.name, t.partitions).map_err(|e| fail(&t.name, e.to_string()))?;
            let mut line = String::new();
            BufReader::new(&stream)
                .read_line(&mut line)
                .map_err(|e| fail(&t.name, e.to_string()))?;
            match line.trim() {
                "OK NO_ERROR" | "OK TOPIC_ALREADY_EXISTS" => {}
                other => return Err(fail(&t.name, format!("mock control port answered `{other}`"))),
            }
        }
        Ok(())
    }
}

fn run_app(cli: &Cli, bootstrap: &str) -> Result<(), String> {
    let missing = |what: &str| format!("app mode needs --{what}");
    let input = cli.input.as_deref().ok_or_else(|| missing("in"))?;
    let out = cli.out.as_deref().ok_or_else(|| missing("out"))?;
    let group = cli.group.as_deref().ok_or_else(|| missing("group"))?;
    let topics = Topics {
        input,
        table: "",
        updates: "",
    };
    let topology = match cli.workload.ok_or_else(|| missing("workload"))? {
        AppWorkload::Filter => topology(Workload::Filter, &topics, out),
        AppWorkload::Count => topology(Workload::Count, &topics, out),
        AppWorkload::Window => topology(Workload::Window, &topics, out),
    }
    .map_err(|e| e.to_string())?;
    let temp = tempfile::tempdir().map_err(|e| format!("state directory: {e}"))?;
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| temp.path().to_owned());
    let config = streams_config(group, bootstrap, &state_dir, &cli.properties).map_err(|e| e.to_string())?;
    let mut streams = KafkaStreams::new(topology, config).map_err(|e| e.to_string())?;
    streams.set_state_listener(|new, old| eprintln!("kafka-bench: state {old:?} -> {new:?}"));
    let ctl = cli.mock_ctl.clone().or_else(|| std::env::var("MOCK_CTL").ok());
    match ctl.filter(|c| !c.trim().is_empty()) {
        Some(ctl) => streams.start_with(&MockCtlTopicCreator(ctl.trim().to_owned())),
        None => streams.start(),
    }
    .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tick.tick() => if streams.state() == State::Error { break },
            }
        }
        Ok::<(), String>(())
    })?;
    if !streams.close(Duration::from_secs(30)) {
        eprintln!("kafka-bench: the stream threads did not stop within 30 s");
    }
    match streams.error() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Compare mode: data, the hand-written loop, timing, checks

fn kafka_err(what: &str) -> impl Fn(rdkafka::error::KafkaError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Sends with back-pressure: waits while the producer's queue is full.
fn send(producer: &ThreadedProducer<DefaultProducerContext>, record: BaseRecord<'_, [u8], [u8]>) -> Result<(), String> {
    let mut pending = record;
    loop {
        match producer.send(pending) {
            Ok(()) => return Ok(()),
            Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                pending = r;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(format!("produce: {e}")),
        }
    }
}

/// Key and timestamp of record `seq` of bench-peers' `preload.py` data set with `records`
/// records before the flush records.
fn input_key_and_timestamp(seq: u64, records: u64) -> (String, i64) {
    if seq >= records {
        let last = records.saturating_sub(1);
        (key_name(seq - records), BASE_TS + (last * 1000 / EPS) as i64 + 60_000)
    } else {
        (key_name(seq % KEYS), BASE_TS + (seq * 1000 / EPS) as i64)
    }
}

/// The data set of bench-peers' `preload.py`: `(key, value, timestamp)` of record `seq`.
fn input_record(seq: u64, records: u64) -> Result<(String, Vec<u8>, i64), String> {
    let flush = seq >= records;
    let (key, ts) = input_key_and_timestamp(seq, records);
    let value = Input {
        seq,
        key: key.clone(),
        ts,
        amount: ((seq * 7919 % 100_000) as f64) / 100.0,
        cat: format!("c{}", seq % 7),
        flush,
        pad: "xxxx".into(),
    };
    let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    Ok((key, bytes, ts))
}

/// Sums of the low and high watermarks of `topic`.
struct Watermarks {
    consumer: BaseConsumer,
    topic: String,
    partitions: i32,
}

impl Watermarks {
    fn new(bootstrap: &str, topic: &str, partitions: i32) -> Result<Self, String> {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "wm-probe")
            .create()
            .map_err(kafka_err("watermark client"))?;
        Ok(Watermarks {
            consumer,
            topic: topic.to_owned(),
            partitions,
        })
    }

    fn of(&self, partition: i32) -> Result<(i64, i64), String> {
        self.consumer
            .fetch_watermarks(&self.topic, partition, Duration::from_secs(10))
            .map_err(kafka_err("watermarks"))
    }

    fn sums(&self) -> Result<(i64, i64), String> {
        let mut sums = (0, 0);
        for p in 0..self.partitions {
            let (low, high) = self.of(p)?;
            sums.0 += low;
            sums.1 += high;
        }
        Ok(sums)
    }
}

/// What [`preload`] wrote.
struct Preloaded {
    /// Input records, flush records included.
    total: u64,
    /// Region updates (`(key, timestamp)`, in timestamp order); empty unless the stream-join
    /// workload runs.
    updates: Vec<(String, i64)>,
    seconds: f64,
}

/// Writes the input and table topics, and the region updates when `with_updates`, compressed,
/// and checks the mock kept all of it.
fn preload(kafka: &EmbeddedKafka, cli: &Cli, topics: &Topics<'_>, with_updates: bool) -> Result<Preloaded, String> {
    let (input, table) = (topics.input, topics.table);
    let bootstrap = kafka.bootstrap_servers();
    let mut created = vec![input, table];
    if with_updates {
        created.push(topics.updates);
    }
    for topic in created {
        kafka.create_topic(topic, PARTITIONS).map_err(|e| e.to_string())?;
    }
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("partitioner", "murmur2_random")
        .set("compression.type", &cli.compression)
        .set("linger.ms", "50")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("enable.idempotence", "false")
        .set("acks", "1")
        .create()
        .map_err(kafka_err("preload producer"))?;
    let began = Instant::now();
    // The table first, stamped before every stream record.
    for i in 0..KEYS {
        let key = key_name(i);
        let region = region_of(i);
        send(
            &producer,
            BaseRecord::to(table)
                .key(key.as_bytes())
                .payload(region.as_bytes())
                .timestamp(BASE_TS - 1000),
        )?;
    }
    let mut updates = Vec::new();
    if with_updates {
        for update in region_updates(cli.records) {
            let (Some(key), Some(value)) = (&update.key, &update.value) else {
                return Err("a region update without key or value".into());
            };
            send(
                &producer,
                BaseRecord::to(topics.updates)
                    .key(&key[..])
                    .payload(&value[..])
                    .timestamp(update.timestamp),
            )?;
            updates.push((String::from_utf8_lossy(key).into_owned(), update.timestamp));
        }
    }
    let total = cli.records + KEYS;
    for seq in 0..total {
        let (key, value, ts) = input_record(seq, cli.records)?;
        send(
            &producer,
            BaseRecord::to(input)
                .key(key.as_bytes())
                .payload(&value[..])
                .timestamp(ts),
        )?;
    }
    producer
        .flush(Duration::from_secs(300))
        .map_err(kafka_err("preload flush"))?;
    let seconds = began.elapsed().as_secs_f64();
    let mut written = vec![(input, total), (table, KEYS)];
    if with_updates {
        written.push((topics.updates, updates.len() as u64));
    }
    for (topic, expected) in written {
        let (low, high) = Watermarks::new(&bootstrap, topic, PARTITIONS)?.sums()?;
        if low != 0 || high != expected as i64 {
            return Err(format!(
                "topic {topic}: watermarks low={low} high={high}, expected 0/{expected}: the mock keeps about \
                 5 MiB per partition; use fewer --records or a stronger --compression"
            ));
        }
    }
    Ok(Preloaded {
        total,
        updates,
        seconds,
    })
}

/// Outputs of the window workload: one per (key, window) of the `records` input records
/// whose window ends at or before the largest timestamp of its partition (the flush records,
/// 60 s after the last record, close the windows of every key). The records of a partition
/// come in timestamp order, so no record arrives for a window already closed.
fn expected_window_outputs(records: u64) -> i64 {
    let keys: Vec<(String, i64)> = (0..records + KEYS)
        .map(|seq| input_key_and_timestamp(seq, records))
        .collect();
    let mut stream_time: HashMap<i32, i64> = HashMap::new();
    for (key, ts) in &keys {
        let time = stream_time
            .entry(murmur2_partition(key.as_bytes(), PARTITIONS))
            .or_insert(i64::MIN);
        *time = (*time).max(*ts);
    }
    let windows: BTreeSet<(&str, i64)> = keys
        .iter()
        .map(|(key, ts)| (key.as_str(), ts - ts.rem_euclid(WINDOW_MS)))
        .collect();
    windows
        .into_iter()
        .filter(|(key, start)| {
            stream_time
                .get(&murmur2_partition(key.as_bytes(), PARTITIONS))
                .is_some_and(|&time| start + WINDOW_MS <= time)
        })
        .count() as i64
}

/// Outputs of the stream-join workload: pairs of an input record (flush records included) and
/// a region update of the same key at most [`JOIN_WINDOW_MS`] apart.
fn expected_join_outputs(records: u64, updates: &[(String, i64)]) -> i64 {
    let mut by_key: HashMap<&str, Vec<i64>> = HashMap::new();
    for (key, ts) in updates {
        by_key.entry(key.as_str()).or_default().push(*ts);
    }
    for times in by_key.values_mut() {
        times.sort_unstable();
    }
    (0..records + KEYS)
        .map(|seq| {
            let (key, ts) = input_key_and_timestamp(seq, records);
            by_key.get(key.as_str()).map_or(0, |times| {
                let from = times.partition_point(|&t| t < ts - JOIN_WINDOW_MS);
                let to = times.partition_point(|&t| t <= ts + JOIN_WINDOW_MS);
                (to - from) as i64
            })
        })
        .sum()
}

/// The hand-written consume -> produce loop: what the framework's work costs without it.
fn hand_written(
    bootstrap: &str,
    workload: Workload,
    topics: &Topics<'_>,
    out: &str,
    group: &str,
    stop: &AtomicBool,
) -> Result<(), String> {
    let (input, table) = (topics.input, topics.table);
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .map_err(kafka_err("producer"))?;
    let regions = if workload == Workload::Join {
        read_table(bootstrap, table)?
    } else {
        HashMap::new()
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "5000")
        // As the framework's consumers: librdkafka's default (1 s) starves a fast loop.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .map_err(kafka_err("consumer"))?;
    match workload {
        Workload::Window => {
            consumer.subscribe(&[input]).map_err(kafka_err("subscribe"))?;
            window_loop(&consumer, &producer, out, stop)?;
            return producer.flush(Duration::from_secs(30)).map_err(kafka_err("flush"));
        }
        Workload::StreamJoin => {
            consumer
                .subscribe(&[input, topics.updates])
                .map_err(kafka_err("subscribe"))?;
            stream_join_loop(&consumer, &producer, topics.updates, out, stop)?;
            return producer.flush(Duration::from_secs(30)).map_err(kafka_err("flush"));
        }
        _ => {}
    }
    consumer.subscribe(&[input]).map_err(kafka_err("subscribe"))?;
    let mut counts: HashMap<String, i64> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.map_err(kafka_err("poll"))?;
        let (Some(key), Some(payload)) = (message.key(), message.payload()) else {
            continue;
        };
        let value: Input = serde_json::from_slice(payload).map_err(|e| format!("input: {e}"))?;
        let bytes = match workload {
            Workload::Filter => {
                if !keep(&value) {
                    continue;
                }
                serde_json::to_vec(&filtered(value))
            }
            Workload::Count | Workload::CountInMemory => {
                let count = match counts.get_mut(&value.key) {
                    Some(count) => {
                        *count += 1;
                        *count
                    }
                    None => {
                        counts.insert(value.key.clone(), 1);
                        1
                    }
                };
                serde_json::to_vec(&Counted { key: value.key, count })
            }
            Workload::Join => {
                let Some(region) = regions.get(&value.key) else {
                    continue;
                };
                serde_json::to_vec(&enriched(value, region))
            }
            Workload::Window | Workload::StreamJoin => continue,
        }
        .map_err(|e| format!("output: {e}"))?;
        let mut record = BaseRecord::to(out).key(key).payload(&bytes[..]);
        if let Some(ts) = message.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        send(&producer, record)?;
    }
    producer.flush(Duration::from_secs(30)).map_err(kafka_err("flush"))
}

/// Sends `value` as JSON under `key` with `timestamp`.
fn send_json<T: Serialize>(
    producer: &ThreadedProducer<DefaultProducerContext>,
    out: &str,
    key: &str,
    value: &T,
    timestamp: i64,
) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| format!("output: {e}"))?;
    send(
        producer,
        BaseRecord::to(out)
            .key(key.as_bytes())
            .payload(&bytes[..])
            .timestamp(timestamp),
    )
}

/// Polls `consumer` until `stop`, handing each message with a UTF-8 key, a payload and a
/// timestamp to `handle` as (topic, partition, key, payload, timestamp); other messages are
/// skipped.
fn poll_keyed(
    consumer: &BaseConsumer,
    stop: &AtomicBool,
    mut handle: impl FnMut(&str, i32, &str, &[u8], i64) -> Result<(), String>,
) -> Result<(), String> {
    while !stop.load(Ordering::Relaxed) {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.map_err(kafka_err("poll"))?;
        let (Some(key), Some(payload), Some(timestamp)) =
            (message.key(), message.payload(), message.timestamp().to_millis())
        else {
            continue;
        };
        let key = std::str::from_utf8(key).map_err(|e| format!("input key: {e}"))?;
        handle(message.topic(), message.partition(), key, payload, timestamp)?;
    }
    Ok(())
}

/// The hand-written window workload: a [`WindowCounts`] per input partition.
fn window_loop(
    consumer: &BaseConsumer,
    producer: &ThreadedProducer<DefaultProducerContext>,
    out: &str,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut partitions: HashMap<i32, WindowCounts> = HashMap::new();
    poll_keyed(consumer, stop, |_, partition, key, payload, timestamp| {
        // The value is parsed, as the framework's source does, though only the key and the
        // timestamp are counted.
        let _value: Input = serde_json::from_slice(payload).map_err(|e| format!("input: {e}"))?;
        partitions
            .entry(partition)
            .or_default()
            .add(key, timestamp, |key, window, timestamp| {
                send_json(producer, out, key, &window, timestamp)
            })
    })
}

/// The hand-written stream-join workload: a [`StreamJoin`] per partition (the two topics are
/// partitioned alike, so a key's records of both are in the same partition number).
fn stream_join_loop(
    consumer: &BaseConsumer,
    producer: &ThreadedProducer<DefaultProducerContext>,
    updates: &str,
    out: &str,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut partitions: HashMap<i32, StreamJoin> = HashMap::new();
    poll_keyed(consumer, stop, |topic, partition, key, payload, timestamp| {
        let join = partitions.entry(partition).or_default();
        let emit = |joined: &JoinOut, timestamp| send_json(producer, out, key, joined, timestamp);
        if topic == updates {
            let region: Region = serde_json::from_slice(payload).map_err(|e| format!("region update: {e}"))?;
            join.on_region(key, timestamp, region, emit)
        } else {
            let event: Event = serde_json::from_slice(payload).map_err(|e| format!("input: {e}"))?;
            join.on_event(key, timestamp, event, emit)
        }
    })
}

/// One window of [`WindowCounts`] not yet closed.
#[derive(Debug, Clone, Copy)]
struct OpenWindow {
    start: i64,
    count: i64,
    /// The largest record timestamp in the window: the output's timestamp.
    last: i64,
}

/// Tumbling [`WINDOW_MS`] counts of one input partition, emitted once per window when the
/// partition's stream time (the largest timestamp seen) reaches the window's end, as the
/// window workload's topology does (no grace: a record whose window has ended by then is
/// dropped).
#[derive(Debug, Default)]
struct WindowCounts {
    /// The largest timestamp seen, `None` before the first record.
    stream_time: Option<i64>,
    /// The open windows of each key.
    open: HashMap<String, Vec<OpenWindow>>,
    /// `(end, key)` of every open window, in the order they close.
    closing: BTreeSet<(i64, String)>,
}

impl WindowCounts {
    /// Counts a record of `key` at `timestamp`, then calls `emit(key, window, timestamp)` for
    /// every window the stream time has reached the end of, by end, then key.
    fn add(
        &mut self,
        key: &str,
        timestamp: i64,
        mut emit: impl FnMut(&str, WindowCount, i64) -> Result<(), String>,
    ) -> Result<(), String> {
        let stream_time = self.stream_time.map_or(timestamp, |t| t.max(timestamp));
        self.stream_time = Some(stream_time);
        let start = timestamp - timestamp.rem_euclid(WINDOW_MS);
        if start + WINDOW_MS > stream_time {
            let windows = match self.open.get_mut(key) {
                Some(windows) => windows,
                None => self.open.entry(key.to_owned()).or_default(),
            };
            match windows.iter_mut().find(|w| w.start == start) {
                Some(window) => {
                    window.count += 1;
                    window.last = window.last.max(timestamp);
                }
                None => {
                    windows.push(OpenWindow {
                        start,
                        count: 1,
                        last: timestamp,
                    });
                    self.closing.insert((start + WINDOW_MS, key.to_owned()));
                }
            }
        }
        while self.closing.first().is_some_and(|(end, _)| *end <= stream_time) {
            let Some((end, key)) = self.closing.pop_first() else {
                break;
            };
            let start = end - WINDOW_MS;
            let Some(windows) = self.open.get_mut(&key) else {
                continue;
            };
            let Some(at) = windows.iter().position(|w| w.start == start) else {
                continue;
            };
            let window = windows.swap_remove(at);
            emit(
                &key,
                WindowCount {
                    start,
                    end,
                    count: window.count,
                },
                window.last,
            )?;
        }
        Ok(())
    }
}

/// The records of one side of a [`StreamJoin`].
#[derive(Debug)]
struct JoinSide<T> {
    /// The largest timestamp seen on this side: later records of this side are not older.
    progress: i64,
    /// Records of each key that may still meet a record of the other side, oldest first.
    buffered: HashMap<String, VecDeque<(i64, T)>>,
}

impl<T> Default for JoinSide<T> {
    fn default() -> Self {
        JoinSide {
            progress: i64::MIN,
            buffered: HashMap::new(),
        }
    }
}

impl<T> JoinSide<T> {
    /// Buffered records of `key`, without those the other side has passed by more than the
    /// window (the other side's later records are at least `other_progress`).
    fn live(&mut self, key: &str, other_progress: i64) -> Option<&mut VecDeque<(i64, T)>> {
        let records = self.buffered.get_mut(key)?;
        while records
            .front()
            .is_some_and(|(t, _)| t.saturating_add(JOIN_WINDOW_MS) < other_progress)
        {
            records.pop_front();
        }
        Some(records)
    }
}

/// Inner join of one partition's input records with its region updates, the records of the
/// two sides at most [`JOIN_WINDOW_MS`] apart, in memory: each record is paired with the
/// other side's buffered records of its key in its window (the output carries the later
/// timestamp), then buffered itself unless the other side has passed it by more than the
/// window. Each side's records must come in timestamp order; the two sides may interleave in
/// any way.
#[derive(Debug, Default)]
struct StreamJoin {
    events: JoinSide<Event>,
    regions: JoinSide<Region>,
}

impl StreamJoin {
    fn on_event(
        &mut self,
        key: &str,
        timestamp: i64,
        event: Event,
        mut emit: impl FnMut(&JoinOut, i64) -> Result<(), String>,
    ) -> Result<(), String> {
        arrive(
            &mut self.events,
            &mut self.regions,
            key,
            timestamp,
            event,
            |event, region, t| emit(&JoinOut::new(event, region), t),
        )
    }

    fn on_region(
        &mut self,
        key: &str,
        timestamp: i64,
        region: Region,
        mut emit: impl FnMut(&JoinOut, i64) -> Result<(), String>,
    ) -> Result<(), String> {
        arrive(
            &mut self.regions,
            &mut self.events,
            key,
            timestamp,
            region,
            |region, event, t| emit(&JoinOut::new(event, region), t),
        )
    }
}

/// A record of `this` side arrives: pairs it with the other side's buffered records of `key`
/// at most [`JOIN_WINDOW_MS`] away, oldest first, then buffers it.
fn arrive<A, B>(
    this: &mut JoinSide<A>,
    other: &mut JoinSide<B>,
    key: &str,
    timestamp: i64,
    value: A,
    mut pair: impl FnMut(&A, &B, i64) -> Result<(), String>,
) -> Result<(), String> {
    this.progress = this.progress.max(timestamp);
    if let Some(records) = other.live(key, timestamp) {
        for (t, other_value) in records.iter() {
            if (t - timestamp).abs() <= JOIN_WINDOW_MS {
                pair(&value, other_value, timestamp.max(*t))?;
            }
        }
    }
    if timestamp.saturating_add(JOIN_WINDOW_MS) >= other.progress {
        let records = match this.live(key, other.progress) {
            Some(records) => records,
            None => this.buffered.entry(key.to_owned()).or_default(),
        };
        records.push_back((timestamp, value));
    }
    Ok(())
}

/// Reads a table topic to its end into a map (the hand-written join's table).
fn read_table(bootstrap: &str, topic: &str) -> Result<HashMap<String, String>, String> {
    let mut table = HashMap::new();
    for (_, records) in read_partitions(bootstrap, topic, PARTITIONS, i64::MAX)? {
        for (key, value, _) in records {
            table.insert(
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            );
        }
    }
    Ok(table)
}

/// An output record as read back: key, value, timestamp.
type OutputRecord = (Vec<u8>, Vec<u8>, i64);

/// The last `tail` records of each partition of `topic` (all of them for `i64::MAX`),
/// partitions in order.
fn read_partitions(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    tail: i64,
) -> Result<Vec<(i32, Vec<OutputRecord>)>, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafka-bench-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(kafka_err("reader"))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    let mut result: Vec<(i32, Vec<OutputRecord>)> = Vec::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(kafka_err("watermarks"))?;
        let start = low.max(high.saturating_sub(tail));
        if start < high {
            tpl.add_partition_offset(topic, p, Offset::Offset(start))
                .map_err(kafka_err("assign"))?;
            ends.insert(p, high);
        }
        result.push((p, Vec::new()));
    }
    consumer.assign(&tpl).map_err(kafka_err("assign"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(format!(
                "{topic}: could not read to the end of partitions {:?}",
                ends.keys()
            ));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.map_err(kafka_err("read"))?;
        let p = message.partition();
        if let Some((_, records)) = result.iter_mut().find(|(q, _)| *q == p) {
            records.push((
                message.key().unwrap_or_default().to_vec(),
                message.payload().unwrap_or_default().to_vec(),
                message.timestamp().to_millis().unwrap_or(-1),
            ));
        }
        if ends.get(&p).is_some_and(|&end| message.offset() + 1 >= end) {
            ends.remove(&p);
        }
    }
    Ok(result)
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// From start to the expected output count.
    seconds: f64,
    /// From start to the first output record.
    first_output: f64,
    /// CPU seconds the whole process (with the in-process broker) used until the end.
    cpu: f64,
    /// CPU seconds of the thread that polls, processes and produces (the stream thread, or
    /// the hand-written loop), from its start to the end.
    app_cpu: f64,
}

/// User + system ticks in a `/proc/.../stat` text, in seconds (Linux's `USER_HZ` is 100).
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses: state is the first, utime the
    // 12th and stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process's threads called `name` (Linux keeps 15 bytes of a name).
fn thread_cpu_seconds(name: &str) -> f64 {
    let name = &name.as_bytes()[..name.len().min(15)];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|task| std::fs::read(task.path().join("comm")).is_ok_and(|comm| comm.strip_suffix(b"\n") == Some(name)))
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| stat_cpu_seconds(&stat))
        .sum()
}

/// CPU seconds (user + system) this process used so far; 0 where `/proc` is not readable.
fn process_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |stat| stat_cpu_seconds(&stat))
}

/// Waits until the high watermarks of `out` sum to `expected`; returns the timing and the
/// sum found (which is checked against `expected` by the caller, after the app stopped).
fn wait_for_output(
    watermarks: &Watermarks,
    began: Instant,
    expected: i64,
    timeout: Duration,
    app_thread: &str,
    failed: &dyn Fn() -> Option<String>,
) -> Result<Timing, String> {
    let mut first = None;
    let cpu = process_cpu_seconds();
    loop {
        let (_, high) = watermarks.sums()?;
        let now = began.elapsed();
        if high > 0 && first.is_none() {
            first = Some(now);
        }
        if high >= expected {
            return Ok(Timing {
                seconds: now.as_secs_f64(),
                first_output: first.unwrap_or(now).as_secs_f64(),
                cpu: process_cpu_seconds() - cpu,
                app_cpu: thread_cpu_seconds(app_thread),
            });
        }
        if let Some(error) = failed() {
            return Err(error);
        }
        if now > timeout {
            return Err(format!("timed out with {high} of {expected} output records"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The two implementations compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Implementation {
    /// The hand-written loop.
    #[value(name = "raw")]
    HandWritten,
    /// The framework.
    #[value(name = "ours")]
    Framework,
}

impl Implementation {
    fn name(self) -> &'static str {
        match self {
            Implementation::HandWritten => "raw",
            Implementation::Framework => "ours",
        }
    }
}

/// The input topics of compare mode (and of app mode, which has only `input`).
struct Topics<'a> {
    input: &'a str,
    table: &'a str,
    /// The stream-join workload's second stream.
    updates: &'a str,
}

/// Runs one implementation on one workload into a fresh output topic; returns its timing and
/// the output's last records per partition, or all of them when the workload is
/// [compared whole](Workload::compared_whole) (for the checks).
fn run_once(
    kafka: &EmbeddedKafka,
    cli: &Cli,
    topics: &Topics<'_>,
    workload: Workload,
    implementation: Implementation,
    run: usize,
    expected: i64,
) -> Result<(Timing, Vec<(i32, Vec<OutputRecord>)>), String> {
    let bootstrap = kafka.bootstrap_servers();
    let name = format!("{}-{}-{run}", implementation.name(), workload.name());
    let out = format!("out-{name}");
    let group = format!("g-{name}");
    let out_partitions = workload.output_partitions();
    kafka.create_topic(&out, out_partitions).map_err(|e| e.to_string())?;
    let watermarks = Watermarks::new(&bootstrap, &out, out_partitions)?;
    let timeout = Duration::from_secs(cli.timeout);
    let timing = match implementation {
        Implementation::HandWritten => {
            let stop = Arc::new(AtomicBool::new(false));
            let began = Instant::now();
            let handle = {
                let (stop, bootstrap, out, group) = (Arc::clone(&stop), bootstrap.clone(), out.clone(), group.clone());
                let (input, table, updates) = (
                    topics.input.to_owned(),
                    topics.table.to_owned(),
                    topics.updates.to_owned(),
                );
                std::thread::Builder::new()
                    .name("hand-written".into())
                    .spawn(move || {
                        let topics = Topics {
                            input: &input,
                            table: &table,
                            updates: &updates,
                        };
                        hand_written(&bootstrap, workload, &topics, &out, &group, &stop)
                    })
                    .map_err(|e| format!("could not start the hand-written loop: {e}"))?
            };
            let timing = wait_for_output(&watermarks, began, expected, timeout, "hand-written", &|| {
                handle.is_finished().then(|| "the hand-written loop stopped".to_owned())
            });
            stop.store(true, Ordering::Relaxed);
            let stopped = handle.join().map_err(|_| "the hand-written loop panicked".to_owned())?;
            let timing = timing?;
            stopped?;
            timing
        }
        Implementation::Framework => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let topology = topology(workload, topics, &out).map_err(|e| e.to_string())?;
            let config = streams_config(&group, &bootstrap, dir.path(), &cli.properties).map_err(|e| e.to_string())?;
            let began = Instant::now();
            let mut streams = KafkaStreams::new(topology, config).map_err(|e| e.to_string())?;
            streams.start_with(&kafka.topic_creator()).map_err(|e| e.to_string())?;
            let thread = format!("{group}-StreamThread-1");
            let timing = wait_for_output(&watermarks, began, expected, timeout, &thread, &|| streams.error());
            if !streams.close(Duration::from_secs(60)) {
                return Err("the framework did not stop within 60 s".into());
            }
            if let Some(error) = streams.error() {
                return Err(error);
            }
            timing?
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    let (low, high) = watermarks.sums()?;
    if high != expected {
        return Err(format!("{name}: {high} output records, expected {expected}"));
    }
    let tail = if workload.compared_whole() {
        if low != 0 {
            return Err(format!(
                "{name}: the mock kept only {} of {high} output records (about 5 MiB per partition); the output \
                 cannot be compared whole: use fewer --records",
                high - low
            ));
        }
        i64::MAX
    } else {
        2000
    };
    let records = read_partitions(&bootstrap, &out, out_partitions, tail)?;
    Ok((timing, records))
}

/// The records of an output, as `(partition, key, value, timestamp)`, sorted: the output as a
/// multiset, whatever order each partition's records came in.
fn sorted_records(output: &[(i32, Vec<OutputRecord>)]) -> Vec<(i32, &[u8], &[u8], i64)> {
    let mut records: Vec<(i32, &[u8], &[u8], i64)> = output
        .iter()
        .flat_map(|(p, records)| records.iter().map(move |(k, v, t)| (*p, &k[..], &v[..], *t)))
        .collect();
    records.sort_unstable();
    records
}

/// Checks the final count of every key in a count output's tails.
fn check_counts(tails: &[(i32, Vec<OutputRecord>)], records: u64) -> Result<(), String> {
    let mut last: HashMap<String, i64> = HashMap::new();
    for (_, records) in tails {
        for (_, value, _) in records {
            let counted: Counted = serde_json::from_slice(value).map_err(|e| format!("count output: {e}"))?;
            last.insert(counted.key, counted.count);
        }
    }
    for i in 0..KEYS {
        let expected = (records / KEYS + u64::from(i < records % KEYS) + 1) as i64;
        let key = key_name(i);
        match last.get(&key) {
            Some(&found) if found == expected => {}
            found => return Err(format!("final count of {key}: {found:?}, expected {expected}")),
        }
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn run_compare(cli: &Cli) -> Result<(), String> {
    let kafka = EmbeddedKafka::start(1).map_err(|e| e.to_string())?;
    let topics = Topics {
        input: "bench-in",
        table: "bench-regions",
        updates: REGION_UPDATES_TOPIC,
    };
    let with_updates = cli.workloads.contains(&Workload::StreamJoin);
    let preloaded = preload(&kafka, cli, &topics, with_updates)?;
    let total = preloaded.total;
    println!(
        "preloaded {total} records ({} compressed, {PARTITIONS} partitions), {KEYS} table rows and {} region \
         updates in {:.2} s",
        cli.compression,
        preloaded.updates.len(),
        preloaded.seconds
    );
    let mut rows = Vec::new();
    for &workload in &cli.workloads {
        let expected = match workload {
            Workload::Filter => (0..total).filter(|s| !s.is_multiple_of(10)).count() as i64,
            Workload::Count | Workload::CountInMemory | Workload::Join => total as i64,
            Workload::Window => expected_window_outputs(cli.records),
            Workload::StreamJoin => expected_join_outputs(cli.records, &preloaded.updates),
        };
        // Records consumed: the stream-join workload reads the region updates too.
        let inputs = match workload {
            Workload::StreamJoin => total + preloaded.updates.len() as u64,
            _ => total,
        };
        let mut times: HashMap<&str, Vec<Timing>> = HashMap::new();
        for run in 0..cli.repeat.max(1) {
            // Alternate which goes first, so neither always runs on a warmer machine.
            let order = if run.is_multiple_of(2) {
                [Implementation::HandWritten, Implementation::Framework]
            } else {
                [Implementation::Framework, Implementation::HandWritten]
            };
            let mut tails = Vec::new();
            for implementation in order.into_iter().filter(|i| cli.only.is_none_or(|only| only == *i)) {
                let (timing, tail) = run_once(&kafka, cli, &topics, workload, implementation, run, expected)?;
                println!(
                    "  {:<6} {:<5} run {run}: {:.2} s, first output after {:.2} s, {:.0} records/s, CPU µs/record: \
                     {:.2} process, {:.2} app thread",
                    workload.name(),
                    implementation.name(),
                    timing.seconds,
                    timing.first_output,
                    inputs as f64 / timing.seconds,
                    timing.cpu * 1e6 / inputs as f64,
                    timing.app_cpu * 1e6 / inputs as f64
                );
                if matches!(workload, Workload::Count | Workload::CountInMemory) {
                    check_counts(&tail, cli.records)?;
                }
                times.entry(implementation.name()).or_default().push(timing);
                tails.push(tail);
            }
            let same = match (tails.first(), tails.last()) {
                (Some(a), Some(b)) if workload.compared_whole() => sorted_records(a) == sorted_records(b),
                (a, b) => a == b,
            };
            if !same {
                return Err(format!(
                    "{}: the framework's output differs from the hand-written loop's",
                    workload.name()
                ));
            }
        }
        let stat = |name: &str, f: fn(&Timing) -> f64| {
            median(&mut times.get(name).map_or_else(Vec::new, |t| t.iter().map(f).collect()))
        };
        rows.push((
            workload,
            inputs,
            expected,
            stat("ours", |t| t.seconds),
            stat("raw", |t| t.seconds),
            stat("ours", |t| t.seconds - t.first_output),
            stat("raw", |t| t.seconds - t.first_output),
            stat("ours", |t| t.cpu),
            stat("raw", |t| t.cpu),
            stat("ours", |t| t.app_cpu),
            stat("raw", |t| t.app_cpu),
        ));
    }
    println!();
    println!(
        "{} input records (stream-join: plus the region updates), medians of {} runs; ratio = ours / hand-written \
         records/s",
        total, cli.repeat
    );
    println!(
        "| workload | input records | output records | ours s | ours records/s | hand-written s | hand-written records/s | ratio | \
         ratio after first output | process CPU µs/record ours / hand-written | app thread CPU µs/record ours / hand-written |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (workload, inputs, expected, ours, raw, ours_after, raw_after, ours_cpu, raw_cpu, ours_app, raw_app) in rows {
        let rate = |s: f64| inputs as f64 / s;
        let per_record = |cpu: f64| cpu * 1e6 / inputs as f64;
        println!(
            "| {} | {inputs} | {expected} | {ours:.2} | {:.0} | {raw:.2} | {:.0} | {:.0}% | {:.0}% | {:.2} / {:.2} | {:.2} / {:.2} |",
            workload.name(),
            rate(ours),
            rate(raw),
            100.0 * raw / ours,
            100.0 * raw_after / ours_after,
            per_record(ours_cpu),
            per_record(raw_cpu),
            per_record(ours_app),
            per_record(raw_app),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.bootstrap.clone() {
        Some(bootstrap) if !cli.compare => run_app(&cli, &bootstrap),
        _ => run_compare(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kafka-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Feeds `(key, timestamp)` records to one partition's window counts; returns what it
    /// emitted as `(key, start, end, count, timestamp)`.
    fn window_outputs(records: &[(&str, i64)]) -> Vec<(String, i64, i64, i64, i64)> {
        let mut counts = WindowCounts::default();
        let mut out = Vec::new();
        for &(key, ts) in records {
            counts
                .add(key, ts, |key, w, t| {
                    out.push((key.to_owned(), w.start, w.end, w.count, t));
                    Ok(())
                })
                .unwrap();
        }
        out
    }

    #[test]
    fn hand_written_window_emits_each_window_once_when_stream_time_reaches_its_end() {
        let out = window_outputs(&[
            ("b", 100),
            ("a", 200),
            ("b", 999),
            ("a", 1000), // stream time 1000 closes [0, 1000) of a and b
            ("a", 500),  // its window has closed: dropped
            ("b", 1500),
            ("a", 2999),
            ("c", 3000), // closes [1000, 2000) and [2000, 3000)
        ]);
        assert_eq!(
            out,
            vec![
                ("a".to_owned(), 0, 1000, 1, 200),
                ("b".to_owned(), 0, 1000, 2, 999),
                ("a".to_owned(), 1000, 2000, 1, 1000),
                ("b".to_owned(), 1000, 2000, 1, 1500),
                ("a".to_owned(), 2000, 3000, 1, 2999),
            ]
        );
    }

    fn event(seq: u64, key: &str, ts: i64) -> Event {
        Event {
            seq,
            key: key.to_owned(),
            ts,
            amount: 1.5,
            cat: "c0".into(),
            flush: false,
            pad: String::new(),
        }
    }

    fn region(name: &str) -> Region {
        Region {
            region: name.to_owned(),
        }
    }

    /// A record of the stream-join test: an event (`seq`) or a region update.
    #[derive(Clone)]
    enum Side {
        Event(u64),
        Region(&'static str),
    }

    /// Feeds records `(key, timestamp, side)` to one partition's join; returns the output as
    /// `(seq, region, timestamp)`, and the records still buffered on each side.
    fn join_outputs(records: &[(&str, i64, Side)]) -> (Vec<(u64, String, i64)>, usize, usize) {
        let mut join = StreamJoin::default();
        let mut out = Vec::new();
        for (key, ts, side) in records {
            let emit = |j: &JoinOut, t| {
                out.push((j.seq, j.region.clone(), t));
                Ok(())
            };
            match side {
                Side::Event(seq) => join.on_event(key, *ts, event(*seq, key, *ts), emit).unwrap(),
                Side::Region(name) => join.on_region(key, *ts, region(name), emit).unwrap(),
            }
        }
        let events = join.events.buffered.values().map(VecDeque::len).sum();
        let regions = join.regions.buffered.values().map(VecDeque::len).sum();
        (out, events, regions)
    }

    #[test]
    fn hand_written_stream_join_pairs_records_at_most_the_window_apart() {
        let (out, _, _) = join_outputs(&[
            ("a", 0, Side::Event(1)),
            ("a", 5_000, Side::Region("r1")),  // pairs with event 1 (exactly 5 s)
            ("b", 5_001, Side::Event(2)),      // other key: nothing
            ("a", 6_000, Side::Event(3)),      // pairs with r1
            ("a", 10_001, Side::Region("r2")), // 4 001 after event 3; 10 001 after event 1: no
            ("a", 20_000, Side::Event(4)),     // nothing within 5 s
        ]);
        assert_eq!(
            out,
            vec![
                (1, "r1".to_owned(), 5_000),
                (3, "r1".to_owned(), 6_000),
                (3, "r2".to_owned(), 10_001),
            ]
        );
    }

    #[test]
    fn hand_written_stream_join_output_does_not_depend_on_how_the_sides_interleave() {
        let events: Vec<(&str, i64, Side)> = (0..200u64)
            .map(|i| (if i % 2 == 0 { "a" } else { "b" }, i as i64 * 100, Side::Event(i)))
            .collect();
        let regions: Vec<(&str, i64, Side)> = (0..4)
            .flat_map(|i| {
                [
                    ("a", i * 5_000 + 10, Side::Region("ra")),
                    ("b", i * 5_000 + 20, Side::Region("rb")),
                ]
            })
            .collect();
        let mut merged = events.clone();
        merged.extend(regions.iter().cloned());
        merged.sort_by_key(|r| r.1);
        let mut regions_first = regions.clone();
        regions_first.extend(events.iter().cloned());
        let mut events_first = events.clone();
        events_first.extend(regions.iter().cloned());
        let sorted = |mut v: Vec<(u64, String, i64)>| {
            v.sort();
            v
        };
        let (in_order, _, _) = join_outputs(&merged);
        // Each event at t meets the updates of its key in [t - 5000, t + 5000].
        let expected: usize = events
            .iter()
            .map(|(key, t, _)| {
                regions
                    .iter()
                    .filter(|(k, u, _)| k == key && (t - u).abs() <= 5_000)
                    .count()
            })
            .sum();
        assert_eq!(in_order.len(), expected);
        assert_eq!(sorted(join_outputs(&regions_first).0), sorted(in_order.clone()));
        assert_eq!(sorted(join_outputs(&events_first).0), sorted(in_order));
    }

    #[test]
    fn hand_written_stream_join_forgets_records_the_other_side_has_passed() {
        let (_, events, regions) = join_outputs(&[
            ("a", 0, Side::Event(1)),
            ("a", 1_000, Side::Region("r1")),
            ("a", 7_000, Side::Event(2)),      // r1 is 6 s behind the events: forgotten
            ("a", 12_001, Side::Region("r2")), // event 2 is 5 001 ms behind the updates: forgotten
        ]);
        assert_eq!((events, regions), (0, 1));
    }

    #[test]
    fn expected_outputs_match_the_hand_written_logic_on_the_data_set() {
        let records = 3_000;
        let updates: Vec<(String, i64)> = region_updates(records)
            .into_iter()
            .map(|u| (String::from_utf8(u.key.unwrap()).unwrap(), u.timestamp))
            .collect();
        // Per partition: input records and updates merged by timestamp.
        let mut windows: HashMap<i32, WindowCounts> = HashMap::new();
        let mut joins: HashMap<i32, StreamJoin> = HashMap::new();
        let (mut window_outputs, mut join_outputs) = (0, 0);
        let mut pending = updates.iter().peekable();
        for seq in 0..records + KEYS {
            let (key, ts) = input_key_and_timestamp(seq, records);
            while let Some((k, t)) = pending.next_if(|(_, t)| *t < ts) {
                let join = joins.entry(murmur2_partition(k.as_bytes(), PARTITIONS)).or_default();
                join.on_region(k, *t, region("r"), |_, _| {
                    join_outputs += 1;
                    Ok(())
                })
                .unwrap();
            }
            let partition = murmur2_partition(key.as_bytes(), PARTITIONS);
            windows
                .entry(partition)
                .or_default()
                .add(&key, ts, |_, _, _| {
                    window_outputs += 1;
                    Ok(())
                })
                .unwrap();
            let join = joins.entry(partition).or_default();
            join.on_event(&key, ts, event(seq, &key, ts), |_, _| {
                join_outputs += 1;
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(window_outputs, expected_window_outputs(records));
        assert_eq!(join_outputs, expected_join_outputs(records, &updates));
        // 300 events per key in 0.3 s of event time: one window per key.
        assert_eq!(expected_window_outputs(records), 1000);
    }
}
