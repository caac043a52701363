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
//!   the bench-peers data set, and times filter, count and a stream-table join, each by the
//!   hand-written loop and by the framework, until the output topic's high watermarks reach
//!   the expected count; checks that both wrote the same output and prints the ratio. With
//!   `--workloads window` it times the tumbling 1 s window count (RocksDB window store,
//!   changelog, one final result per window) the same way.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use streams_core::dsl::{BufferConfig, Consumed, Materialized, Produced, StreamsBuilder, Suppressed, TimeWindows};
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
    /// Compare mode: workloads to run (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Workload::Filter, Workload::Count, Workload::CountInMemory, Workload::Join])]
    workloads: Vec<Workload>,
    /// Compare mode: input compression (`gzip`, `lz4`, `snappy`, `none`; the mock keeps about
    /// 5 MiB of batches per partition, so the input must compress well).
    #[arg(long, default_value = "gzip")]
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
    /// A tumbling 1 s count per key on a RocksDB window store, one final result per window
    /// (suppressed until the window closes).
    Window,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Filter => "filter",
            Workload::Count => "count",
            Workload::CountInMemory => "count-in-memory",
            Workload::Join => "join",
            Workload::Window => "window",
        }
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

fn topology(workload: Workload, input: &str, table: &str, out: &str) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let stream = builder.stream::<String, Input>(input, Consumed::with(Serdes::string(), Serdes::json::<Input>()));
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
            let regions = builder.table::<String, String>(table, Consumed::with(Serdes::string(), Serdes::string()));
            stream
                .join(&regions, |v, region| enriched(v.clone(), region))
                .to(out, Produced::with(Serdes::string(), Serdes::json::<Enriched>()))
        }
        Workload::Window => return window_topology(input, out),
    }
    builder.build()
}

/// bench-peers' window workload: a tumbling 1 s event-time count per key, one output per window
/// when it closes (no grace), keyed by the record key. The window store's cache is off: the
/// suppression buffer holds the counts until their window closes, and a cache in front of it
/// would hold every update back until the next commit (`commit.interval.ms`, 30 s by default).
fn window_topology(input: &str, out: &str) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, Input>(input, Consumed::with(Serdes::string(), Serdes::json::<Input>()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(1))?)
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
    let topology = match cli.workload.ok_or_else(|| missing("workload"))? {
        AppWorkload::Filter => topology(Workload::Filter, input, "", out),
        AppWorkload::Count => topology(Workload::Count, input, "", out),
        AppWorkload::Window => window_topology(input, out),
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

/// The data set of bench-peers' `preload.py`: `(key, value, timestamp)` of record `seq`.
fn input_record(seq: u64, records: u64) -> Result<(String, Vec<u8>, i64), String> {
    let flush = seq >= records;
    let (key, ts) = if flush {
        let last = records.saturating_sub(1);
        (key_name(seq - records), BASE_TS + (last * 1000 / EPS) as i64 + 60_000)
    } else {
        (key_name(seq % KEYS), BASE_TS + (seq * 1000 / EPS) as i64)
    };
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

/// Writes the input and table topics, compressed, and checks the mock kept all of it.
fn preload(kafka: &EmbeddedKafka, cli: &Cli, input: &str, table: &str) -> Result<(u64, f64), String> {
    let bootstrap = kafka.bootstrap_servers();
    for topic in [input, table] {
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
    for (topic, expected) in [(input, total), (table, KEYS)] {
        let (low, high) = Watermarks::new(&bootstrap, topic, PARTITIONS)?.sums()?;
        if low != 0 || high != expected as i64 {
            return Err(format!(
                "topic {topic}: watermarks low={low} high={high}, expected 0/{expected}: the mock keeps about \
                 5 MiB per partition; use fewer --records or a stronger --compression"
            ));
        }
    }
    Ok((total, seconds))
}

/// The hand-written consume -> produce loop: what the framework's work costs without it.
fn hand_written(
    bootstrap: &str,
    workload: Workload,
    input: &str,
    table: &str,
    out: &str,
    group: &str,
    stop: &AtomicBool,
) -> Result<(), String> {
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
    consumer.subscribe(&[input]).map_err(kafka_err("subscribe"))?;
    let mut counts: HashMap<String, i64> = HashMap::new();
    let mut windows: HashMap<i32, OpenWindows> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.map_err(kafka_err("poll"))?;
        let (Some(key), Some(payload)) = (message.key(), message.payload()) else {
            continue;
        };
        let value: Input = serde_json::from_slice(payload).map_err(|e| format!("input: {e}"))?;
        if workload == Workload::Window {
            let timestamp = message.timestamp().to_millis().unwrap_or(value.ts);
            let open = windows.entry(message.partition()).or_default();
            for (key, window, timestamp) in open.add(value.key, timestamp) {
                let bytes = serde_json::to_vec(&window).map_err(|e| format!("output: {e}"))?;
                send(
                    &producer,
                    BaseRecord::to(out)
                        .key(key.as_bytes())
                        .payload(&bytes[..])
                        .timestamp(timestamp),
                )?;
            }
            continue;
        }
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
            Workload::Window => continue,
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

/// The hand-written window count of one input partition: tumbling 1 s windows per key, each
/// emitted once, when the partition's stream time (its largest timestamp) reaches the window's
/// end; records for windows already closed are dropped (no grace).
#[derive(Default)]
struct OpenWindows {
    stream_time: i64,
    /// Window start -> key -> (count, largest timestamp).
    open: std::collections::BTreeMap<i64, HashMap<String, (i64, i64)>>,
}

impl OpenWindows {
    const SIZE: i64 = 1000;

    /// Counts a record; returns the windows it closed as (key, result, timestamp).
    fn add(&mut self, key: String, timestamp: i64) -> Vec<(String, WindowCount, i64)> {
        self.stream_time = self.stream_time.max(timestamp);
        let start = timestamp - timestamp.rem_euclid(Self::SIZE);
        if start + Self::SIZE > self.stream_time {
            let (count, last) = self.open.entry(start).or_default().entry(key).or_insert((0, timestamp));
            *count += 1;
            *last = (*last).max(timestamp);
        }
        let mut closed = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            let start = *entry.key();
            if start + Self::SIZE > self.stream_time {
                break;
            }
            for (key, (count, last)) in entry.remove() {
                let window = WindowCount {
                    start,
                    end: start + Self::SIZE,
                    count,
                };
                closed.push((key, window, last));
            }
        }
        closed
    }
}

/// Reads a table topic to its end into a map (the hand-written join's table).
fn read_table(bootstrap: &str, topic: &str) -> Result<HashMap<String, String>, String> {
    let mut table = HashMap::new();
    for (_, records) in read_partitions(bootstrap, topic, PARTITIONS, i64::MAX)? {
        for (key, value) in records {
            table.insert(
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            );
        }
    }
    Ok(table)
}

/// The last `tail` records `(key, value)` of each partition of `topic` (all of them for
/// `i64::MAX`), partitions in order.
#[allow(clippy::type_complexity)]
fn read_partitions(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    tail: i64,
) -> Result<Vec<(i32, Vec<(Vec<u8>, Vec<u8>)>)>, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafka-bench-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(kafka_err("reader"))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    let mut result: Vec<(i32, Vec<(Vec<u8>, Vec<u8>)>)> = Vec::new();
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
    let deadline = Instant::now() + Duration::from_secs(60);
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

struct Topics<'a> {
    input: &'a str,
    table: &'a str,
}

/// Runs one implementation on one workload into a fresh output topic; returns its timing and
/// the output's last records per partition (for the checks).
#[allow(clippy::type_complexity)]
fn run_once(
    kafka: &EmbeddedKafka,
    cli: &Cli,
    topics: &Topics<'_>,
    workload: Workload,
    implementation: Implementation,
    run: usize,
    expected: i64,
) -> Result<(Timing, Vec<(i32, Vec<(Vec<u8>, Vec<u8>)>)>), String> {
    let bootstrap = kafka.bootstrap_servers();
    let name = format!("{}-{}-{run}", implementation.name(), workload.name());
    let out = format!("out-{name}");
    let group = format!("g-{name}");
    kafka.create_topic(&out, PARTITIONS).map_err(|e| e.to_string())?;
    let watermarks = Watermarks::new(&bootstrap, &out, PARTITIONS)?;
    let timeout = Duration::from_secs(cli.timeout);
    let timing = match implementation {
        Implementation::HandWritten => {
            let stop = Arc::new(AtomicBool::new(false));
            let began = Instant::now();
            let handle = {
                let (stop, bootstrap, out, group) = (Arc::clone(&stop), bootstrap.clone(), out.clone(), group.clone());
                let (input, table) = (topics.input.to_owned(), topics.table.to_owned());
                std::thread::Builder::new()
                    .name("hand-written".into())
                    .spawn(move || hand_written(&bootstrap, workload, &input, &table, &out, &group, &stop))
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
            let topology = topology(workload, topics.input, topics.table, &out).map_err(|e| e.to_string())?;
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
    let (_, high) = watermarks.sums()?;
    if high != expected {
        return Err(format!("{name}: {high} output records, expected {expected}"));
    }
    // The window workload's two sides emit a partition's windows in different orders (by end
    // and key bytes, by end and hash order): read all of it, sorted, to compare.
    let tail = if workload == Workload::Window {
        let mut all = read_partitions(&bootstrap, &out, PARTITIONS, i64::MAX)?;
        for (_, records) in &mut all {
            records.sort();
        }
        all
    } else {
        read_partitions(&bootstrap, &out, PARTITIONS, 2000)?
    };
    Ok((timing, tail))
}

/// Checks the final count of every key in a count output's tails.
fn check_counts(tails: &[(i32, Vec<(Vec<u8>, Vec<u8>)>)], records: u64) -> Result<(), String> {
    let mut last: HashMap<String, i64> = HashMap::new();
    for (_, records) in tails {
        for (_, value) in records {
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

/// How many windows the window workload emits: one per key and 1 s window of the data set
/// (the flush records, a minute later, close every window and sit in windows that never close).
fn window_expected(records: u64) -> Result<i64, String> {
    let mut windows = std::collections::HashSet::new();
    for seq in 0..records {
        let (key, _, ts) = input_record(seq, records)?;
        windows.insert((key, ts - ts.rem_euclid(OpenWindows::SIZE)));
    }
    Ok(windows.len() as i64)
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
    };
    let (total, seconds) = preload(&kafka, cli, topics.input, topics.table)?;
    println!(
        "preloaded {total} records ({} compressed, {PARTITIONS} partitions) and {KEYS} table rows in {seconds:.2} s",
        cli.compression
    );
    let filter_expected = (0..total).filter(|s| !s.is_multiple_of(10)).count() as i64;
    let mut rows = Vec::new();
    for &workload in &cli.workloads {
        let expected = match workload {
            Workload::Filter => filter_expected,
            Workload::Count | Workload::CountInMemory | Workload::Join => total as i64,
            Workload::Window => window_expected(cli.records)?,
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
                    total as f64 / timing.seconds,
                    timing.cpu * 1e6 / total as f64,
                    timing.app_cpu * 1e6 / total as f64
                );
                if matches!(workload, Workload::Count | Workload::CountInMemory) {
                    check_counts(&tail, cli.records)?;
                }
                times.entry(implementation.name()).or_default().push(timing);
                tails.push(tail);
            }
            if tails.first() != tails.last() {
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
        "{} input records, medians of {} runs; ratio = ours / hand-written records/s",
        total, cli.repeat
    );
    println!(
        "| workload | output records | ours s | ours records/s | hand-written s | hand-written records/s | ratio | \
         ratio after first output | process CPU µs/record ours / hand-written | app thread CPU µs/record ours / hand-written |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (workload, expected, ours, raw, ours_after, raw_after, ours_cpu, raw_cpu, ours_app, raw_app) in rows {
        let rate = |s: f64| total as f64 / s;
        let per_record = |cpu: f64| cpu * 1e6 / total as f64;
        println!(
            "| {} | {expected} | {ours:.2} | {:.0} | {raw:.2} | {:.0} | {:.0}% | {:.0}% | {:.2} / {:.2} | {:.2} / {:.2} |",
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

    fn closed(windows: Vec<(String, WindowCount, i64)>) -> Vec<(String, i64, i64, i64, i64)> {
        let mut out: Vec<_> = windows
            .into_iter()
            .map(|(k, w, ts)| (k, w.start, w.end, w.count, ts))
            .collect();
        out.sort();
        out
    }

    /// The hand-written window count emits each window once, when stream time reaches its
    /// end, with its count and largest timestamp; records of closed windows are dropped.
    #[test]
    fn open_windows_close_when_stream_time_reaches_their_end() {
        let mut open = OpenWindows::default();
        assert!(open.add("a".into(), 100).is_empty());
        assert!(open.add("b".into(), 900).is_empty());
        assert!(open.add("a".into(), 950).is_empty());
        assert!(open.add("a".into(), 1500).len() == 2);
        // The window [0, 1000) is closed: this record is dropped.
        assert!(open.add("a".into(), 999).is_empty());
        let mut open = OpenWindows::default();
        open.add("a".into(), 100);
        open.add("b".into(), 900);
        open.add("a".into(), 950);
        open.add("a".into(), 1500);
        assert_eq!(
            closed(open.add("c".into(), 3000)),
            vec![("a".into(), 1000, 2000, 1, 1500)]
        );
        let mut fresh = OpenWindows::default();
        fresh.add("a".into(), 100);
        fresh.add("b".into(), 900);
        fresh.add("a".into(), 950);
        assert_eq!(
            closed(fresh.add("a".into(), 1000)),
            vec![("a".into(), 0, 1000, 2, 950), ("b".into(), 0, 1000, 1, 900)]
        );
    }

    #[test]
    fn the_window_workload_expects_one_result_per_key_and_second() {
        // 20 000 records at 10 000 per second, 1000 keys: 2 seconds x 1000 keys.
        assert_eq!(window_expected(20_000).unwrap(), 2000);
    }
}
