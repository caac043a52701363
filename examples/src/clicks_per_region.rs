//! Clicks per region: a stream of user clicks joined with a table of user regions, summed per
//! region. This is the classic Kafka Streams stream-table join example ("user-clicks" and
//! "user-regions", as in Kafka's `StreamToTableJoinIntegrationTest`).
//!
//! The topology, in Kafka Streams' vocabulary:
//!
//! 1. read the stream of click counts per user from [`USER_CLICKS_TOPIC`] (user -> clicks;
//!    several records per user each add up);
//! 2. read the table of regions per user from [`USER_REGIONS_TOPIC`] (user -> region; the
//!    latest record per user wins, a null value deletes), materialized as
//!    [`USER_REGIONS_STORE`];
//! 3. `left_join` each click record with the region its user has *at that moment*; a user
//!    without a region counts for [`UNKNOWN_REGION`];
//! 4. `map` to region -> clicks: the key changes, so the records go through the repartition
//!    topic `<application.id>-clicks-per-region-store-repartition`;
//! 5. `group_by_key` and `reduce` by summing, into the table materialized as
//!    [`CLICKS_PER_REGION_STORE`];
//! 6. `to_stream` and write each update of the table to [`OUTPUT_TOPIC`].
//!
//! The two input topics are joined, so they must be co-partitioned (same partition count);
//! the driver (and later the runtime) refuses to run them otherwise.
//!
//! ```
//! use examples::clicks_per_region;
//!
//! let topology = clicks_per_region::topology()?;
//! assert_eq!(topology.subtopologies().len(), 2); // split by the repartition topic
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TopologyTestDriver};

use crate::DemoRun;

/// `application.id` of the demo run: the prefix of its internal topics.
pub const APPLICATION_ID: &str = "clicks-per-region";
/// The stream of clicks: user -> number of clicks (8-byte big-endian, Kafka's `LongSerde`).
pub const USER_CLICKS_TOPIC: &str = "user-clicks";
/// The table of regions: user -> region (a null value deletes the user's region).
pub const USER_REGIONS_TOPIC: &str = "user-regions";
/// The topic of total updates: region -> clicks so far.
pub const OUTPUT_TOPIC: &str = "clicks-per-region";
/// The store of the user-regions table.
pub const USER_REGIONS_STORE: &str = "user-regions-store";
/// The store of the clicks-per-region table.
pub const CLICKS_PER_REGION_STORE: &str = "clicks-per-region-store";
/// The region of clicks from users without a known region.
pub const UNKNOWN_REGION: &str = "UNKNOWN";

/// A click record after the join: the user's region and the clicks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionWithClicks {
    /// The user's region when the clicks arrived, or [`UNKNOWN_REGION`].
    pub region: String,
    /// Number of clicks.
    pub clicks: i64,
}

/// Builds the clicks-per-region topology.
pub fn topology() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let clicks = builder.stream::<String, i64>(USER_CLICKS_TOPIC, Consumed::with(Serdes::string(), Serdes::i64()));
    let regions = builder.table_with::<String, String>(
        USER_REGIONS_TOPIC,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_(USER_REGIONS_STORE),
    );
    clicks
        .left_join(&regions, |clicks, region| RegionWithClicks {
            region: region.map_or_else(|| UNKNOWN_REGION.to_owned(), String::clone),
            clicks: *clicks,
        })
        .map(|_user, joined| (joined.region, joined.clicks))
        .group_by_key_with(Grouped::with(Serdes::string(), Serdes::i64()))
        .reduce_with(
            |total, clicks| total + clicks,
            Materialized::as_(CLICKS_PER_REGION_STORE),
        )
        .to_stream()
        .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::i64()));
    builder.build()
}

/// One input record of the demo run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoInput {
    /// `user -> region`, written to [`USER_REGIONS_TOPIC`].
    Region(&'static str, &'static str),
    /// `user -> clicks`, written to [`USER_CLICKS_TOPIC`].
    Clicks(&'static str, i64),
}

/// The demo's input, in the order it is written; record `i` has timestamp `(i + 1) * 1000`.
///
/// The first fifteen records are Kafka's scenario: every region first (alice moves from asia
/// to europe before she clicks), then the clicks. Then fang moves to europe, so her later
/// clicks count for europe while asia keeps what she clicked before; and gina, who has no
/// region, clicks.
pub const DEMO_INPUT: [DemoInput; 18] = [
    DemoInput::Region("alice", "asia"),
    DemoInput::Region("bob", "americas"),
    DemoInput::Region("chao", "asia"),
    DemoInput::Region("dave", "europe"),
    DemoInput::Region("alice", "europe"),
    DemoInput::Region("eve", "americas"),
    DemoInput::Region("fang", "asia"),
    DemoInput::Clicks("alice", 13),
    DemoInput::Clicks("bob", 4),
    DemoInput::Clicks("chao", 25),
    DemoInput::Clicks("bob", 19),
    DemoInput::Clicks("dave", 56),
    DemoInput::Clicks("eve", 78),
    DemoInput::Clicks("alice", 40),
    DemoInput::Clicks("fang", 99),
    DemoInput::Region("fang", "europe"),
    DemoInput::Clicks("fang", 1),
    DemoInput::Clicks("gina", 5),
];

/// The timestamp of the demo's `index`-th input record.
pub fn demo_timestamp(index: usize) -> i64 {
    (index as i64 + 1) * 1_000
}

/// Runs the topology on [`DEMO_INPUT`] through the testkit driver (one partition per topic,
/// a commit after every record, as Kafka's `TopologyTestDriver` does).
pub fn run_demo() -> Result<DemoRun, StreamsError> {
    let driver =
        TopologyTestDriver::with_config(topology()?, DriverConfig::default().with_application_id(APPLICATION_ID))?;
    let regions = driver.create_input_topic(USER_REGIONS_TOPIC, Serdes::string(), Serdes::string());
    let clicks = driver.create_input_topic(USER_CLICKS_TOPIC, Serdes::string(), Serdes::i64());
    let totals = driver.create_output_topic(OUTPUT_TOPIC, Serdes::string(), Serdes::i64());
    for (index, input) in DEMO_INPUT.iter().enumerate() {
        let timestamp = demo_timestamp(index);
        match *input {
            DemoInput::Region(user, region) => regions.pipe_input_at(user.to_owned(), region.to_owned(), timestamp)?,
            DemoInput::Clicks(user, n) => clicks.pipe_input_at(user.to_owned(), n, timestamp)?,
        }
    }
    Ok(DemoRun {
        updates: totals.read_records_to_list()?,
        totals: driver.key_value_store(CLICKS_PER_REGION_STORE)?,
    })
}

/// How the runner runs clicks-per-region on Kafka.
pub fn kafka_app() -> crate::runner::KafkaApp {
    crate::runner::KafkaApp {
        application_id: APPLICATION_ID,
        topology,
        input_topics: &[USER_CLICKS_TOPIC, USER_REGIONS_TOPIC],
        output_topic: OUTPUT_TOPIC,
        demo_input: || {
            DEMO_INPUT
                .iter()
                .enumerate()
                .map(|(index, input)| match *input {
                    DemoInput::Region(user, region) => (
                        USER_REGIONS_TOPIC,
                        Some(user.as_bytes().to_vec()),
                        Some(region.as_bytes().to_vec()),
                        demo_timestamp(index),
                    ),
                    DemoInput::Clicks(user, clicks) => (
                        USER_CLICKS_TOPIC,
                        Some(user.as_bytes().to_vec()),
                        Some(clicks.to_be_bytes().to_vec()),
                        demo_timestamp(index),
                    ),
                })
                .collect()
        },
        expected_totals: || Ok(run_demo()?.totals),
        expected_updates: || Ok(run_demo()?.updates.len()),
    }
}
