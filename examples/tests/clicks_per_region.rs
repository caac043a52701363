//! The clicks-per-region example through the test driver, with the exact records it writes.
//!
//! The first scenario is the one of Kafka's stream-table join integration test ("user-clicks",
//! "user-regions"); the others cover what it leaves out: users who move, users without a
//! region, deleted regions, several partitions.

use examples::clicks_per_region::{
    self, APPLICATION_ID, CLICKS_PER_REGION_STORE, OUTPUT_TOPIC, UNKNOWN_REGION, USER_CLICKS_TOPIC, USER_REGIONS_STORE,
    USER_REGIONS_TOPIC,
};
use examples::DemoRun;
use streams_core::internals::LogAndContinue;
use streams_core::serde::Serdes;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestInputTopic, TestOutputTopic, TestRecord, TopologyTestDriver};

/// A driver over the example's topology with its three topics. Region values are
/// `Option<String>` so that a test can write a null (delete a user's region).
struct App {
    driver: TopologyTestDriver,
    regions: TestInputTopic<String, Option<String>>,
    clicks: TestInputTopic<String, i64>,
    totals: TestOutputTopic<String, i64>,
}

impl App {
    fn new(config: DriverConfig) -> Self {
        let driver =
            TopologyTestDriver::with_config(clicks_per_region::topology().expect("topology"), config).expect("driver");
        App {
            regions: driver.create_input_topic(USER_REGIONS_TOPIC, Serdes::string(), Serdes::string()),
            clicks: driver.create_input_topic(USER_CLICKS_TOPIC, Serdes::string(), Serdes::i64()),
            totals: driver.create_output_topic(OUTPUT_TOPIC, Serdes::string(), Serdes::i64()),
            driver,
        }
    }

    fn region(&self, user: &str, region: &str, timestamp: i64) {
        self.regions
            .pipe_input_at(user.to_owned(), Some(region.to_owned()), timestamp)
            .expect("pipe region");
    }

    fn delete_region(&self, user: &str, timestamp: i64) {
        self.regions
            .pipe_input_at(user.to_owned(), None, timestamp)
            .expect("pipe tombstone");
    }

    fn click(&self, user: &str, clicks: i64, timestamp: i64) {
        self.clicks
            .pipe_input_at(user.to_owned(), clicks, timestamp)
            .expect("pipe clicks");
    }

    fn updates(&self) -> Vec<TestRecord<String, i64>> {
        self.totals.read_records_to_list().expect("read")
    }

    fn totals(&self) -> Vec<(String, i64)> {
        let mut totals: Vec<(String, i64)> = self.driver.key_value_store(CLICKS_PER_REGION_STORE).expect("store");
        totals.sort();
        totals
    }

    fn region_of(&self, user: &str) -> Option<String> {
        self.driver
            .store_get::<String, String>(USER_REGIONS_STORE, &user.to_owned())
            .expect("get")
    }

    /// Kafka's scenario: all regions first (alice moves from asia to europe before she
    /// clicks), then all clicks; timestamps 1..=7 s and 8..=15 s.
    fn kafka_scenario(&self) {
        let regions = [
            ("alice", "asia"),
            ("bob", "americas"),
            ("chao", "asia"),
            ("dave", "europe"),
            ("alice", "europe"),
            ("eve", "americas"),
            ("fang", "asia"),
        ];
        let clicks = [
            ("alice", 13),
            ("bob", 4),
            ("chao", 25),
            ("bob", 19),
            ("dave", 56),
            ("eve", 78),
            ("alice", 40),
            ("fang", 99),
        ];
        let mut timestamp = 0;
        for (user, region) in regions {
            timestamp += 1_000;
            self.region(user, region, timestamp);
        }
        for (user, n) in clicks {
            timestamp += 1_000;
            self.click(user, n, timestamp);
        }
    }
}

fn update(region: &str, clicks: i64, timestamp: i64) -> TestRecord<String, i64> {
    TestRecord::new(region.to_owned(), clicks, timestamp)
}

fn totals(entries: &[(&str, i64)]) -> Vec<(String, i64)> {
    entries.iter().map(|&(r, n)| (r.to_owned(), n)).collect()
}

/// The updates of Kafka's scenario, as its integration test expects them with caching off:
/// europe 13, americas 4, asia 25, americas 23, europe 69, americas 101, europe 109, asia 124.
fn kafka_scenario_updates() -> Vec<TestRecord<String, i64>> {
    vec![
        update("europe", 13, 8_000),
        update("americas", 4, 9_000),
        update("asia", 25, 10_000),
        update("americas", 23, 11_000),
        update("europe", 69, 12_000),
        update("americas", 101, 13_000),
        update("europe", 109, 14_000),
        update("asia", 124, 15_000),
    ]
}

#[test]
fn counts_clicks_per_region_as_in_kafka_streams() {
    let app = App::new(DriverConfig::default());
    app.kafka_scenario();
    assert_eq!(app.updates(), kafka_scenario_updates());
    assert_eq!(
        app.totals(),
        totals(&[("americas", 101), ("asia", 124), ("europe", 109)])
    );
    assert_eq!(app.region_of("alice").as_deref(), Some("europe"));
}

#[test]
fn a_user_who_moves_counts_for_the_new_region_from_then_on() {
    let app = App::new(DriverConfig::default());
    app.region("alice", "asia", 1_000);
    app.click("alice", 13, 2_000);
    app.region("alice", "europe", 3_000);
    app.click("alice", 40, 4_000);
    app.click("alice", 2, 5_000);
    // Moving changes no total by itself; later clicks go to europe, asia keeps the 13.
    assert_eq!(
        app.updates(),
        vec![
            update("asia", 13, 2_000),
            update("europe", 40, 4_000),
            update("europe", 42, 5_000),
        ]
    );
    assert_eq!(app.totals(), totals(&[("asia", 13), ("europe", 42)]));
}

#[test]
fn a_click_from_a_user_without_a_region_counts_as_unknown() {
    let app = App::new(DriverConfig::default());
    app.click("zoe", 5, 1_000);
    app.region("zoe", "asia", 2_000);
    app.click("zoe", 7, 3_000);
    app.click("yann", 2, 4_000);
    // The join looks the region up when the click arrives: a region that comes later does
    // not move clicks already counted.
    assert_eq!(
        app.updates(),
        vec![
            update(UNKNOWN_REGION, 5, 1_000),
            update("asia", 7, 3_000),
            update(UNKNOWN_REGION, 7, 4_000),
        ]
    );
    assert_eq!(app.totals(), totals(&[("UNKNOWN", 7), ("asia", 7)]));
}

#[test]
fn a_deleted_region_makes_later_clicks_unknown() {
    let app = App::new(DriverConfig::default());
    app.region("alice", "asia", 1_000);
    app.click("alice", 1, 2_000);
    app.delete_region("alice", 3_000);
    app.click("alice", 2, 4_000);
    assert_eq!(app.region_of("alice"), None);
    assert_eq!(
        app.updates(),
        vec![update("asia", 1, 2_000), update(UNKNOWN_REGION, 2, 4_000)]
    );
}

#[test]
fn the_demo_run_is_kafkas_scenario_then_a_move_and_an_unknown_user() {
    let mut updates = kafka_scenario_updates();
    updates.extend([update("europe", 110, 17_000), update(UNKNOWN_REGION, 5, 18_000)]);
    assert_eq!(
        clicks_per_region::run_demo().expect("demo"),
        DemoRun {
            updates,
            totals: totals(&[("UNKNOWN", 5), ("americas", 101), ("asia", 124), ("europe", 110)]),
        }
    );
}

#[test]
fn co_partitioned_inputs_with_three_partitions_give_the_same_totals() {
    let app = App::new(
        DriverConfig::default()
            .with_application_id(APPLICATION_ID)
            .with_partitions(USER_CLICKS_TOPIC, 3)
            .with_partitions(USER_REGIONS_TOPIC, 3),
    );
    app.kafka_scenario();
    app.region("fang", "europe", 16_000);
    app.click("fang", 1, 17_000);
    app.click("gina", 5, 18_000);
    // Each click is joined in the task of its user's partition, where that user's region is
    // (both topics are partitioned by user); every click makes exactly one update, and the
    // driver commits after each record, so the order is the input order.
    let mut expected = kafka_scenario_updates();
    expected.extend([update("europe", 110, 17_000), update(UNKNOWN_REGION, 5, 18_000)]);
    assert_eq!(app.updates(), expected);
    assert_eq!(
        app.totals(),
        totals(&[("UNKNOWN", 5), ("americas", 101), ("asia", 124), ("europe", 110)])
    );

    // Three tasks per sub-topology; the users were spread over several join tasks.
    let metrics = app.driver.metrics();
    assert_eq!(metrics.len(), 6);
    let joined: Vec<u64> = metrics
        .iter()
        .filter(|(id, _)| id.subtopology == 0)
        .map(|(_, m)| m.records_processed)
        .collect();
    assert_eq!(joined.iter().sum::<u64>(), 18);
    assert!(
        joined.iter().filter(|&&n| n > 0).count() >= 2,
        "users spread: {joined:?}"
    );
    // The repartition topic inherits the three partitions.
    let repartitioned = app
        .driver
        .produced_records("clicks-per-region-clicks-per-region-store-repartition");
    assert_eq!(repartitioned.len(), 10);
    assert!(repartitioned.iter().all(|r| matches!(r.partition, Some(0..=2))));
}

#[test]
fn inputs_that_are_not_co_partitioned_are_refused() {
    let result = TopologyTestDriver::with_config(
        clicks_per_region::topology().expect("topology"),
        DriverConfig::default()
            .with_partitions(USER_CLICKS_TOPIC, 3)
            .with_partitions(USER_REGIONS_TOPIC, 2),
    );
    match result {
        Err(StreamsError::Topology(message)) => {
            assert!(message.contains("co-partitioned"), "{message}");
            assert!(message.contains("`user-clicks` has 3"), "{message}");
            assert!(message.contains("`user-regions` has 2"), "{message}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a driver over inputs with 3 and 2 partitions was created"),
    }
}

#[test]
fn the_description_names_nodes_as_kafka_streams_does() {
    let description = clicks_per_region::topology().expect("topology").describe().to_string();
    for line in [
        "Source: KSTREAM-SOURCE-0000000000 (topics: [user-clicks])",
        "Source: KSTREAM-SOURCE-0000000001 (topics: [user-regions])",
        "Processor: KTABLE-SOURCE-0000000002 (stores: [user-regions-store])",
        "Processor: KSTREAM-LEFTJOIN-0000000003 (stores: [user-regions-store])",
        "Processor: KSTREAM-MAP-0000000004 (stores: [])",
        "Processor: KSTREAM-REDUCE-0000000005 (stores: [clicks-per-region-store])",
        "Processor: KTABLE-TOSTREAM-0000000009 (stores: [])",
        "Sink: KSTREAM-SINK-0000000010 (topic: clicks-per-region)",
        "(topic: clicks-per-region-store-repartition)",
        "(topics: [clicks-per-region-store-repartition])",
    ] {
        assert!(description.contains(line), "`{line}` missing from:\n{description}");
    }
}

#[test]
fn a_click_record_without_a_value_is_a_deserialization_error() {
    // Click counts are `i64`, not `Option<i64>`: a null value cannot be read. The default
    // handler stops processing; LogAndContinue skips the record and counts it.
    let mut failing = App::new(DriverConfig::default());
    let error = failing
        .clicks
        .pipe_raw(Some(b"alice".to_vec()), None, 1_000)
        .expect_err("a null click count fails");
    assert!(
        matches!(&error, StreamsError::Deserialization { part: "value", topic, .. } if topic == USER_CLICKS_TOPIC),
        "{error}"
    );

    let mut skipping = App::new(DriverConfig::default().with_deserialization_handler(LogAndContinue));
    skipping
        .clicks
        .pipe_raw(Some(b"alice".to_vec()), None, 1_000)
        .expect("skipped");
    skipping.click("alice", 3, 2_000);
    assert_eq!(skipping.updates(), vec![update(UNKNOWN_REGION, 3, 2_000)]);
    assert_eq!(skipping.driver.total_metrics().deserialization_errors_skipped, 1);
}

#[test]
fn a_click_with_a_negative_timestamp_is_dropped_and_counted() {
    let app = App::new(DriverConfig::default());
    app.click("alice", 3, -1);
    app.click("alice", 4, 1_000);
    assert_eq!(app.updates(), vec![update(UNKNOWN_REGION, 4, 1_000)]);
    assert_eq!(app.driver.total_metrics().dropped_records, 1);
}
