//! Running an example on Kafka: as a service against a cluster, or as a self-contained demo
//! on an embedded mock cluster.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use streams_core::kafka::embedded::{self, ConsumedRecord, EmbeddedKafka};
use streams_core::kafka::{AdminTopicCreator, KafkaStreams, StreamsConfig, TopicCreator};
use streams_core::serde::{Serde, Serdes};
use streams_core::topology::{InternalTopic, InternalTopicKind, Topology};
use streams_core::StreamsError;

/// A record to write to an input topic: topic, key, value, timestamp.
pub type InputRecord = (&'static str, Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// What the runner needs to know about an example.
pub struct KafkaApp {
    /// The default `application.id`.
    pub application_id: &'static str,
    /// Builds the topology.
    pub topology: fn() -> Result<Topology, StreamsError>,
    /// Topics the application reads (created with `--partitions` partitions when missing).
    pub input_topics: &'static [&'static str],
    /// The topic it writes; its keys are strings and values 64-bit counts.
    pub output_topic: &'static str,
    /// The demo input, in the order it is written.
    pub demo_input: fn() -> Vec<InputRecord>,
    /// The final totals the in-process (testkit) run computes from the demo input.
    pub expected_totals: fn() -> Result<Vec<(String, i64)>, StreamsError>,
    /// How many records the demo writes to the output topic with caching off.
    pub expected_updates: fn() -> Result<usize, StreamsError>,
}

/// Command line of the example binaries.
#[derive(Debug, Parser)]
pub struct Cli {
    /// Kafka cluster to run against (host:port,...). Without it, an embedded mock cluster is
    /// started, fed the demo input, and the results are printed.
    #[arg(long)]
    pub bootstrap_servers: Option<String>,
    /// With --bootstrap-servers: create the topics and write the demo input before running.
    #[arg(long)]
    pub feed_demo: bool,
    /// Run in-process through the testkit's driver instead (no broker at all).
    #[arg(long)]
    pub in_process: bool,
    /// `application.id` (default: the example's name).
    #[arg(long)]
    pub application_id: Option<String>,
    /// `state.dir` (default: a fresh temporary directory).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Partitions of the topics the runner creates.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// Any other property, as key=value (repeatable), e.g. `--property num.stream.threads=2`.
    #[arg(long = "property", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not key=value"))
}

fn config(
    app: &KafkaApp,
    cli: &Cli,
    bootstrap: &str,
    state_dir: &std::path::Path,
    demo: bool,
) -> Result<StreamsConfig, StreamsError> {
    let mut pairs: Vec<(String, String)> = vec![
        (
            "application.id".into(),
            cli.application_id
                .clone()
                .unwrap_or_else(|| app.application_id.to_owned()),
        ),
        ("bootstrap.servers".into(), bootstrap.to_owned()),
        ("state.dir".into(), state_dir.display().to_string()),
    ];
    if demo {
        // Every update reaches the output promptly, so the demo can show each one.
        pairs.push(("commit.interval.ms".into(), "100".into()));
        pairs.push(("cache.max.bytes.buffering".into(), "0".into()));
        // The mock cluster completes a rebalance (session timeout - 1 s) after a member leaves.
        pairs.push(("session.timeout.ms".into(), "6000".into()));
    }
    pairs.extend(cli.properties.iter().cloned());
    StreamsConfig::from_pairs(pairs)
}

/// A record of the output topic, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Partition of the output topic.
    pub partition: i32,
    /// Offset in it.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// Key.
    pub key: String,
    /// Value.
    pub value: i64,
}

fn decode(record: ConsumedRecord) -> Result<OutputRecord, StreamsError> {
    let err = |source| StreamsError::Serialization {
        context: "output".into(),
        source,
    };
    Ok(OutputRecord {
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: Serdes::string()
            .deserialize_nullable(record.key.as_deref())
            .map_err(err)?,
        value: Serde::<i64>::deserialize_nullable(&Serdes::i64(), record.value.as_deref()).map_err(err)?,
    })
}

/// The latest value per key: the last record of each key in its partition.
pub fn final_totals(records: &[OutputRecord]) -> Vec<(String, i64)> {
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    for r in records {
        latest.insert(r.key.clone(), r.value);
    }
    latest.into_iter().collect()
}

/// What a demo run on the embedded cluster produced.
pub struct EmbeddedRun {
    /// The cluster's address, while it ran.
    pub bootstrap_servers: String,
    /// Every output record, by partition then offset.
    pub output: Vec<OutputRecord>,
    /// Final totals read from the output topic.
    pub totals: Vec<(String, i64)>,
    /// The totals the in-process run computes from the same input.
    pub expected_totals: Vec<(String, i64)>,
}

/// Starts an embedded mock cluster, creates the topics, writes the demo input, runs the
/// application on it until every expected output record arrived, and stops it.
pub fn run_on_embedded_kafka(app: &KafkaApp, cli: &Cli) -> Result<EmbeddedRun, StreamsError> {
    let kafka = EmbeddedKafka::start(1)?;
    for topic in app.input_topics.iter().chain([&app.output_topic]) {
        kafka.create_topic(topic, cli.partitions)?;
    }
    write_input(&kafka.bootstrap_servers(), app)?;
    let state_dir = tempfile::tempdir().map_err(|e| StreamsError::Config {
        key: "state.dir".into(),
        reason: e.to_string(),
    })?;
    let dir = cli.state_dir.clone().unwrap_or_else(|| state_dir.path().to_owned());
    let mut streams = KafkaStreams::new(
        (app.topology)()?,
        config(app, cli, &kafka.bootstrap_servers(), &dir, true)?,
    )?;
    streams.start_with(&kafka.topic_creator())?;
    let expected = (app.expected_updates)()?;
    let records = kafka.consume(app.output_topic, expected, Duration::from_secs(120));
    let closed = streams.close(Duration::from_secs(30));
    if let Some(error) = streams.error() {
        return Err(StreamsError::Processor {
            processor: app.application_id.into(),
            reason: error,
        });
    }
    if !closed {
        tracing::warn!("the application did not stop within 30 s");
    }
    let output = records?.into_iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(EmbeddedRun {
        bootstrap_servers: kafka.bootstrap_servers(),
        totals: final_totals(&output),
        output,
        expected_totals: (app.expected_totals)()?,
    })
}

fn write_input(bootstrap: &str, app: &KafkaApp) -> Result<(), StreamsError> {
    for (topic, key, value, timestamp) in (app.demo_input)() {
        embedded::produce(bootstrap, topic, [(key, value, timestamp)])?;
    }
    Ok(())
}

/// Runs the application against `bootstrap` until Ctrl-C or SIGTERM, then closes it cleanly
/// (commit, flush, close).
pub fn run_service(app: &KafkaApp, cli: &Cli, bootstrap: &str) -> Result<(), StreamsError> {
    let app_id = cli
        .application_id
        .clone()
        .unwrap_or_else(|| app.application_id.to_owned());
    let default_dir = std::env::temp_dir().join("kafka-streams");
    let dir = cli.state_dir.clone().unwrap_or(default_dir);
    let config = config(app, cli, bootstrap, &dir, false)?;
    if cli.feed_demo {
        let topics: Vec<InternalTopic> = app
            .input_topics
            .iter()
            .chain([&app.output_topic])
            .map(|t| InternalTopic {
                name: (*t).to_owned(),
                partitions: cli.partitions,
                kind: InternalTopicKind::Repartition,
            })
            .collect();
        AdminTopicCreator::new(&config)?.create_topics(&topics)?;
        write_input(bootstrap, app)?;
    }
    let mut streams = KafkaStreams::new((app.topology)()?, config)?;
    streams.set_state_listener(move |new, old| tracing::info!(application = %app_id, ?old, ?new, "state"));
    streams.start()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StreamsError::Internal(e.to_string()))?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| StreamsError::Internal(e.to_string()))?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        Ok::<(), StreamsError>(())
    })?;
    tracing::info!("shutting down");
    if !streams.close(Duration::from_secs(60)) {
        tracing::warn!("threads did not stop within 60 s");
    }
    match streams.error() {
        Some(error) => Err(StreamsError::Processor {
            processor: app.application_id.into(),
            reason: error,
        }),
        None => Ok(()),
    }
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,librdkafka=warn,rdkafka=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
