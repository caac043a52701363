//! Fault tests against a real Kafka-compatible broker process (tansu, started here): the
//! word-count binary is killed with SIGKILL at random points and restarted; nothing is lost.
//!
//! The broker binary is found through `TANSU_BIN`, else `~/.cache/kstreams-tools/bin/tansu`
//! (where `.ci/run` installs it). Without it these tests fail with instructions: they never pass
//! silently.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use examples::word_count::{words, INPUT_TOPIC, OUTPUT_TOPIC};
use streams_core::kafka::embedded::{consume, produce};
use streams_core::kafka::{AdminTopicCreator, StreamsConfig, TopicCreator};
use streams_core::serde::{Serde, Serdes};
use streams_core::topology::{InternalTopic, InternalTopicKind};

fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let path = home.join(".cache/kstreams-tools/bin/tansu");
    assert!(
        path.exists(),
        "the broker tests need the tansu broker at {} (or TANSU_BIN): `bash .ci/run` installs it, or run \
         `cargo install tansu --version 0.6.0 --features dynostore --locked --root ~/.cache/kstreams-tools`",
        path.display()
    );
    path
}

/// A tansu broker process on a free loopback port, with in-memory storage; killed on drop.
struct Broker {
    child: Child,
    bootstrap: String,
}

impl Broker {
    fn start() -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let bootstrap = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&bootstrap).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {bootstrap}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Broker { child, bootstrap }
    }

    fn create_topics(&self, topics: &[(&str, i32)]) {
        let config = StreamsConfig::new("topic-setup", &self.bootstrap);
        let topics: Vec<InternalTopic> = topics
            .iter()
            .map(|(name, partitions)| InternalTopic {
                name: (*name).to_owned(),
                partitions: *partitions,
                kind: InternalTopicKind::Repartition,
            })
            .collect();
        AdminTopicCreator::new(&config)
            .expect("admin client")
            .create_topics(&topics)
            .expect("topics created");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An application instance, and a channel that tells when it starts running (its state
/// listener logs `new=Running`).
struct App {
    child: Child,
    running: Receiver<()>,
}

impl App {
    fn start(bootstrap: &str, state_dir: &std::path::Path, app_id: &str) -> App {
        let mut child = command(bootstrap, state_dir, app_id)
            .spawn()
            .expect("word-count starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, running) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("new=Running") && line.contains("examples::runner") {
                    let _ = tx.send(());
                }
            }
        });
        App { child, running }
    }

    /// Kills the instance with SIGKILL `delay` after it starts running (or after the timeout).
    fn kill_after_running(mut self, delay: Duration) {
        let _ = self.running.recv_timeout(Duration::from_secs(60));
        std::thread::sleep(delay);
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

fn command(bootstrap: &str, state_dir: &std::path::Path, app_id: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_word-count"));
    command
        .args(["--bootstrap-servers", bootstrap, "--application-id", app_id])
        .arg("--state-dir")
        .arg(state_dir)
        .args(["--property", "commit.interval.ms=200"])
        // A killed member never leaves the group: the broker waits for its session to expire
        // before the next rebalance completes, so keep that short.
        .args(["--property", "session.timeout.ms=6000"])
        .args(["--property", "heartbeat.interval.ms=1000"])
        .env("RUST_LOG", "info,librdkafka=warn,rdkafka=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A small deterministic generator, so failures can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("w{} w{} common w{}", i % 11, i % 17, (i * 7) % 23))
        .collect()
}

fn expected(lines: &[String]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        for word in words(line) {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    counts
}

fn latest_counts(bootstrap: &str, at_least: usize) -> BTreeMap<String, i64> {
    let records = consume(bootstrap, OUTPUT_TOPIC, at_least, Duration::from_secs(5)).expect("consume");
    let mut latest = BTreeMap::new();
    for r in records {
        let key = Serdes::string().deserialize_nullable(r.key.as_deref()).expect("key");
        let value = Serde::<i64>::deserialize_nullable(&Serdes::i64(), r.value.as_deref()).expect("value");
        latest.insert(key, value);
    }
    latest
}

#[test]
fn killed_and_restarted_instances_lose_nothing_under_at_least_once() {
    let broker = Broker::start();
    broker.create_topics(&[(INPUT_TOPIC, 4), (OUTPUT_TOPIC, 4)]);
    let all = lines(30_000);
    let state_dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Lcg(0x5eed);
    // Each batch is written, then the running instance is killed at a random point while it
    // processes it (up to 1.5 s after it joined the group and restored its state), and a new
    // instance is started on the same state directory.
    let mut app = App::start(&broker.bootstrap, state_dir.path(), "crash-alos");
    for (batch, chunk) in all.chunks(5_000).enumerate() {
        let records: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| (None, Some(l.clone().into_bytes()), (batch * 5_000 + i) as i64))
            .collect();
        produce(&broker.bootstrap, INPUT_TOPIC, records).expect("produce");
        app.kill_after_running(Duration::from_millis(rng.next(1_500)));
        app = App::start(&broker.bootstrap, state_dir.path(), "crash-alos");
    }
    let want = expected(&all);
    let total_words: usize = want.values().map(|&c| c as usize).sum();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut got = BTreeMap::new();
    while Instant::now() < deadline {
        got = latest_counts(&broker.bootstrap, total_words);
        if got.len() == want.len() && got.iter().all(|(k, v)| *v >= want[k]) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    app.kill_after_running(Duration::ZERO);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    let extra: i64 = want.iter().map(|(word, count)| got[word] - count).sum();
    eprintln!("{extra} updates counted twice after crashes (at-least-once), none lost");
    for (word, count) in &want {
        // At least once: a record processed after the last commit may be counted again after
        // a crash, never lost.
        assert!(got[word] >= *count, "`{word}`: {} < {count} (lost updates)", got[word]);
    }
}
