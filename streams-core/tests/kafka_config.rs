//! `StreamsConfig`: Kafka Streams' keys parsed and validated, other keys passed through,
//! secrets never printed.

use streams_core::kafka::{DeserializationHandlerKind, ProcessingGuarantee, StreamsConfig};
use streams_core::state::StoreType;

fn err(pairs: &[(&str, &str)]) -> String {
    StreamsConfig::from_pairs(pairs.iter().copied())
        .expect_err("invalid")
        .to_string()
}

const BASE: [(&str, &str); 2] = [("application.id", "app"), ("bootstrap.servers", "localhost:9092")];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BASE.iter().chain(extra).copied().collect()
}

#[test]
fn defaults_follow_kafka_streams() {
    let config = StreamsConfig::from_pairs(BASE).expect("valid");
    assert_eq!(config.num_stream_threads, 1);
    assert_eq!(config.commit_interval_ms, 30_000);
    assert_eq!(config.processing_guarantee, ProcessingGuarantee::AtLeastOnce);
    assert_eq!(config.cache_max_bytes_buffering, 10 * 1024 * 1024);
    assert_eq!(config.deserialization_handler, DeserializationHandlerKind::LogAndFail);
    assert_eq!(config.replication_factor, -1);
    assert_eq!(config.default_dsl_store, StoreType::RocksDb);
    assert!(config.client_properties.is_empty());
}

#[test]
fn default_dsl_store_takes_kafka_spellings() {
    let config = StreamsConfig::from_pairs(with(&[("default.dsl.store", "in_memory")])).expect("valid");
    assert_eq!(config.default_dsl_store, StoreType::InMemory);
    let config = StreamsConfig::from_pairs(with(&[("default.dsl.store", "rocksDB")])).expect("valid");
    assert_eq!(config.default_dsl_store, StoreType::RocksDb);
    assert_eq!(
        err(&with(&[("default.dsl.store", "memory")])),
        "invalid configuration `default.dsl.store`: `memory` is not a store type: use rocksDB or in_memory"
    );
}

#[test]
fn exactly_once_commits_every_100_ms_unless_set() {
    let config = StreamsConfig::from_pairs(with(&[("processing.guarantee", "exactly_once_v2")])).expect("valid");
    assert_eq!(config.processing_guarantee, ProcessingGuarantee::ExactlyOnceV2);
    assert_eq!(config.commit_interval_ms, 100);
    let config = StreamsConfig::from_pairs(with(&[
        ("commit.interval.ms", "250"),
        ("processing.guarantee", "exactly_once_v2"),
    ]))
    .expect("valid");
    assert_eq!(config.commit_interval_ms, 250);
}

#[test]
fn bad_values_name_the_key_and_the_fix() {
    assert_eq!(
        err(&[("bootstrap.servers", "b:9092")]),
        "invalid configuration `application.id`: is required: set it to a name unique to this application"
    );
    assert_eq!(
        err(&with(&[("processing.guarantee", "exactly_once")])),
        "invalid configuration `processing.guarantee`: `exactly_once` is not a guarantee: use at_least_once or \
         exactly_once_v2"
    );
    assert_eq!(
        err(&with(&[("num.stream.threads", "two")])),
        "invalid configuration `num.stream.threads`: `two` is not a whole number of threads (at least 1)"
    );
    assert_eq!(
        err(&with(&[("num.stream.threads", "0")])),
        "invalid configuration `num.stream.threads`: must be at least 1"
    );
    assert_eq!(
        err(&with(&[("default.deserialization.exception.handler", "Retry")])),
        "invalid configuration `default.deserialization.exception.handler`: `Retry` is not a handler: use \
         LogAndFailExceptionHandler or LogAndContinueExceptionHandler"
    );
    assert_eq!(
        err(&with(&[("group.id", "other")])),
        "invalid configuration `group.id`: is managed by the runtime (group.id is application.id; commits and \
         transactions follow processing.guarantee): remove it"
    );
    assert_eq!(
        err(&[("application.id", "my app"), ("bootstrap.servers", "b:9092")]),
        "invalid configuration `application.id`: `my app` is not a valid topic prefix: use letters, digits, '.', \
         '_' and '-' only"
    );
}

#[test]
fn handler_names_are_accepted_with_their_java_package() {
    let config = StreamsConfig::from_pairs(with(&[(
        "default.deserialization.exception.handler",
        "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler",
    )]))
    .expect("valid");
    assert_eq!(
        config.deserialization_handler,
        DeserializationHandlerKind::LogAndContinue
    );
}

#[test]
fn other_keys_pass_through_and_secrets_are_hidden() {
    let config = StreamsConfig::from_pairs(with(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "svc"),
        ("sasl.password", "s3cr3t-value"),
        ("ssl.key.password", "another-secret"),
    ]))
    .expect("valid");
    assert_eq!(config.client_properties["security.protocol"], "SASL_SSL");
    assert_eq!(config.client_properties["sasl.password"], "s3cr3t-value");
    let printed = format!("{config:?}");
    assert!(printed.contains("\"sasl.username\": \"svc\""), "{printed}");
    assert!(printed.contains("\"sasl.password\": \"[hidden]\""), "{printed}");
    assert!(
        !printed.contains("s3cr3t-value") && !printed.contains("another-secret"),
        "{printed}"
    );
}
