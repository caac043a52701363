//! The learning operator in the testkit: published versions, accuracy on separable data, and
//! state that survives a restart.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU64;
use std::time::Duration;

use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
use streams_core::processor::ProducerRecord;
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_ml::linear::LinearKind;
use streams_ml::{
    LabelledExample, LearnExt, LearningMetricsSnapshot, ModelEnvelope, OnlineLearning, SgdConfig, SgdLearner,
};
use streams_state::ChangelogRecord;
use testkit::{DriverConfig, TopologyTestDriver};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const STORE: &str = "learners";

fn learning(every: u64) -> OnlineLearning<(f64, f64)> {
    OnlineLearning::new(
        STORE,
        vec!["x".into()],
        SgdConfig::new(LinearKind::Logistic),
        |&(x, label): &(f64, f64)| LabelledExample::new(vec![x], label),
    )
    .publish_every_records(NonZeroU64::new(every).unwrap())
    .first_version(2)
}

fn topology(learning: OnlineLearning<(f64, f64)>) -> Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store(learning.store_builder());
    builder
        .stream::<String, (f64, f64)>("labelled", Consumed::with(Serdes::string(), Serdes::json()))
        .learn(learning)
        .to("models", Produced::with(Serdes::string(), Serdes::bytes()));
    builder.build().unwrap()
}

/// Labelled examples of `x > 0.3`, deterministic and separable.
fn examples(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let x = ((i * 37) % 101) as f64 / 50.0 - 1.0;
            (x, if x > 0.3 { 1.0 } else { 0.0 })
        })
        .collect()
}

fn published(driver: &TopologyTestDriver) -> Vec<(String, ModelEnvelope)> {
    let output = driver.create_output_topic::<String, Vec<u8>>("models", Serdes::string(), Serdes::bytes());
    output
        .read_key_values_to_list()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, ModelEnvelope::from_bytes(&v).unwrap()))
        .collect()
}

#[test]
fn publishes_a_version_every_n_examples_equal_to_an_offline_learner() -> TestResult {
    let l = learning(100);
    let metrics = l.metrics();
    let driver = TopologyTestDriver::new(topology(l))?;
    let input = driver.create_input_topic("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
    let data = examples(250);
    for (i, example) in data.iter().enumerate() {
        input.pipe_input_at("clicks".to_owned(), *example, i as i64)?;
    }
    let versions = published(&driver);
    assert_eq!(
        versions
            .iter()
            .map(|(k, e)| (k.as_str(), e.version))
            .collect::<Vec<_>>(),
        vec![("clicks", 2), ("clicks", 3)]
    );
    // Each version is exactly what a learner fed the same examples offline would publish.
    let mut offline = SgdLearner::new(vec!["x".into()], SgdConfig::new(LinearKind::Logistic))?;
    for (i, (x, label)) in data.iter().enumerate().take(200) {
        offline.learn(&[*x], *label)?;
        if i == 199 {
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&versions[1].1.payload)?,
                serde_json::to_value(offline.to_document())?
            );
        }
    }
    assert_eq!(
        versions[1].1.metadata.get("examples_seen").map(String::as_str),
        Some("200")
    );
    // On separable data the published model classifies at least 95% of the examples right.
    let model = versions[1].1.load("clicks")?;
    let correct = data
        .iter()
        .filter(|(x, label)| model.predict(&[*x]).unwrap().label() == Some(if *label == 1.0 { "1" } else { "0" }))
        .count();
    assert!(correct * 100 >= 95 * data.len(), "accuracy {correct}/{}", data.len());
    assert_eq!(
        metrics.snapshot(),
        LearningMetricsSnapshot {
            examples: 250,
            rejected: 0,
            published: 2
        }
    );
    Ok(())
}

#[test]
fn publishes_on_wall_clock_time_only_what_learned_since() -> TestResult {
    let l = OnlineLearning::new(
        STORE,
        vec!["x".into()],
        SgdConfig::new(LinearKind::Linear),
        |&(x, y): &(f64, f64)| LabelledExample::new(vec![x], y),
    )
    .publish_every(Duration::from_secs(10));
    let driver = TopologyTestDriver::new(topology(l))?;
    let input = driver.create_input_topic("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
    input.pipe_input_at("a".to_owned(), (1.0, 2.0), 1)?;
    input.pipe_input_at("b".to_owned(), (1.0, 3.0), 2)?;
    driver.advance_wall_clock_time(Duration::from_secs(10))?;
    input.pipe_input_at("b".to_owned(), (2.0, 5.0), 3)?;
    driver.advance_wall_clock_time(Duration::from_secs(10))?;
    driver.advance_wall_clock_time(Duration::from_secs(10))?;
    let versions: Vec<(String, u64)> = published(&driver).into_iter().map(|(k, e)| (k, e.version)).collect();
    assert_eq!(
        versions,
        vec![("a".to_owned(), 1), ("b".to_owned(), 1), ("b".to_owned(), 2)]
    );
    Ok(())
}

#[test]
fn bad_examples_are_rejected_and_counted() -> TestResult {
    let l = learning(2);
    let metrics = l.metrics();
    let driver = TopologyTestDriver::new(topology(l))?;
    let input = driver.create_input_topic("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
    input.pipe_input_at("m".to_owned(), (1.0, 0.5), 1)?; // not a 0/1 label
    input.pipe_input_at("m".to_owned(), (1.0, 1.0), 2)?;
    input.pipe_input_at("m".to_owned(), (-1.0, 0.0), 3)?;
    assert_eq!(published(&driver).len(), 1);
    assert_eq!(
        metrics.snapshot(),
        LearningMetricsSnapshot {
            examples: 2,
            rejected: 1,
            published: 1
        }
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    Ok(())
}

fn changelog(records: &[ProducerRecord]) -> Vec<ChangelogRecord> {
    records
        .iter()
        .map(|r| ChangelogRecord {
            key: r.key.clone().unwrap_or_default(),
            value: r.value.clone(),
            timestamp: r.timestamp,
        })
        .collect()
}

#[test]
fn the_learner_state_survives_a_restart() -> TestResult {
    let data = examples(300);
    // One run over everything.
    let uninterrupted = TopologyTestDriver::new(topology(learning(100)))?;
    let input = uninterrupted.create_input_topic("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
    for (i, example) in data.iter().enumerate() {
        input.pipe_input_at("m".to_owned(), *example, i as i64)?;
    }
    let expected = published(&uninterrupted);

    // The same examples, with a restart after 150 (the store restored from its changelog).
    let first = TopologyTestDriver::new(topology(learning(100)))?;
    let input = first.create_input_topic("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
    for (i, example) in data.iter().enumerate().take(150) {
        input.pipe_input_at("m".to_owned(), *example, i as i64)?;
    }
    let mut versions = published(&first);
    let log = changelog(&first.produced_records(&format!("{}-{STORE}-changelog", first.application_id())));
    assert!(!log.is_empty());
    first.close()?;
    let second = TopologyTestDriver::with_config(
        topology(learning(100)),
        DriverConfig::default().with_restored_store(STORE, 0, log),
    )?;
    let input = second.create_input_topic("labelled", Serdes::string(), Serdes::json::<(f64, f64)>());
    for (i, example) in data.iter().enumerate().skip(150) {
        input.pipe_input_at("m".to_owned(), *example, i as i64)?;
    }
    versions.extend(published(&second));
    assert_eq!(
        versions.iter().map(|(_, e)| e.version).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(versions, expected);
    Ok(())
}
