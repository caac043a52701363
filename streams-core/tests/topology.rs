//! Topology descriptions and partitioning: `describe()` in Kafka Streams' exact text format
//! (generated node names, repartition nodes, sub-topology numbering), the DOT and Mermaid
//! renderings, internal topics and their partition counts, and murmur2 against Kafka's
//! published vectors.

use streams_core::dsl::{
    Branched, Consumed, Grouped, Joined, Materialized, Named, Produced, Repartitioned, StreamsBuilder,
};
use streams_core::internals::partitioner::{murmur2_hash, murmur2_partition};
use streams_core::serde::Serdes;
use streams_core::topology::{InternalTopic, InternalTopicKind, Topology};
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_owned()
}

/// Kafka's `UtilsTest.testMurmur2` vectors (apache/kafka,
/// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
#[test]
fn murmur2_matches_kafkas_published_vectors() {
    let vectors: [(&[u8], i32); 6] = [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ];
    for (bytes, expected) in vectors {
        assert_eq!(murmur2_hash(bytes), expected, "{}", String::from_utf8_lossy(bytes));
        assert_eq!(
            murmur2_partition(bytes, 1000),
            (expected & 0x7fff_ffff) % 1000,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// The word count of Kafka Streams' tutorial ("Tutorial: Write a Kafka Streams Application").
fn tutorial_word_count() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(
            "streams-plaintext-input",
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .flat_map_values(|line| line.to_lowercase().split(' ').map(str::to_owned).collect::<Vec<_>>())
        .group_by_with(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::as_("counts-store"))
        .to_stream()
        .to("streams-wordcount-output", Produced::new());
    builder.build()
}

#[test]
fn describe_prints_the_tutorial_word_count_as_kafka_streams_does() -> Result<(), StreamsError> {
    // Kafka Streams' tutorial prints exactly this for the same topology.
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> counts-store-repartition-filter
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: counts-store-repartition-filter (stores: [])
      --> counts-store-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: counts-store-repartition-sink (topic: counts-store-repartition)
      <-- counts-store-repartition-filter

  Sub-topology: 1
    Source: counts-store-repartition-source (topics: [counts-store-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
      --> KTABLE-TOSTREAM-0000000007
      <-- counts-store-repartition-source
    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000007

";
    assert_eq!(tutorial_word_count()?.describe().to_string(), expected);
    Ok(())
}

/// Clicks (user -> page) counted per page behind a repartition; views (user -> page) re-keyed
/// by page and joined with those counts behind a second repartition.
fn three_subtopologies() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>("clicks", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, page| page.clone())
        .group_by_key_with(Grouped::with(Serdes::string(), Serdes::string()))
        .count();
    builder
        .stream::<String, String>("views", Consumed::with(Serdes::string(), Serdes::string()))
        .map(|user, page| (page, user))
        .join_with(
            &counts,
            |user, clicks| format!("{user} saw a page clicked {clicks} times"),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::i64()),
        )
        .to("page-views", Produced::with(Serdes::string(), Serdes::string()));
    builder.build()
}

#[test]
fn describe_prints_three_subtopologies_in_kafkas_format() -> Result<(), StreamsError> {
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [clicks])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> KSTREAM-FILTER-0000000005
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000005 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-KEY-SELECT-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition)
      <-- KSTREAM-FILTER-0000000005

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000011 (topics: [KSTREAM-MAP-0000000008-repartition])
      --> KSTREAM-JOIN-0000000012
    Processor: KSTREAM-JOIN-0000000012 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])
      --> KSTREAM-SINK-0000000013
      <-- KSTREAM-SOURCE-0000000011
    Source: KSTREAM-SOURCE-0000000006 (topics: [KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])
      --> none
      <-- KSTREAM-SOURCE-0000000006
    Sink: KSTREAM-SINK-0000000013 (topic: page-views)
      <-- KSTREAM-JOIN-0000000012

  Sub-topology: 2
    Source: KSTREAM-SOURCE-0000000007 (topics: [views])
      --> KSTREAM-MAP-0000000008
    Processor: KSTREAM-MAP-0000000008 (stores: [])
      --> KSTREAM-FILTER-0000000010
      <-- KSTREAM-SOURCE-0000000007
    Processor: KSTREAM-FILTER-0000000010 (stores: [])
      --> KSTREAM-SINK-0000000009
      <-- KSTREAM-MAP-0000000008
    Sink: KSTREAM-SINK-0000000009 (topic: KSTREAM-MAP-0000000008-repartition)
      <-- KSTREAM-FILTER-0000000010

";
    let topology = three_subtopologies()?;
    assert_eq!(topology.describe().to_string(), expected);
    assert_eq!(format!("{topology:?}"), expected);
    let sources: Vec<Vec<String>> = topology
        .subtopologies()
        .iter()
        .map(|sub| sub.source_topics("app"))
        .collect();
    assert_eq!(
        sources,
        vec![
            vec![s("clicks")],
            vec![
                s("app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"),
                s("app-KSTREAM-MAP-0000000008-repartition"),
            ],
            vec![s("views")],
        ]
    );
    assert_eq!(topology.source_topics(), vec![s("clicks"), s("views")]);
    assert_eq!(topology.sink_topics(), vec![s("page-views")]);
    Ok(())
}

#[test]
fn the_dot_rendering_has_a_cluster_per_subtopology_and_every_edge() -> Result<(), StreamsError> {
    let dot = three_subtopologies()?.describe().to_dot();
    assert!(dot.starts_with("digraph topology {\n"));
    assert!(dot.ends_with("}\n"));
    for line in [
        "  subgraph cluster_0 {\n    label=\"Sub-topology: 0\";\n",
        "  subgraph cluster_1 {\n    label=\"Sub-topology: 1\";\n",
        "  subgraph cluster_2 {\n    label=\"Sub-topology: 2\";\n",
        "    \"KSTREAM-JOIN-0000000012\";\n",
        "  \"topic:clicks\" -> \"KSTREAM-SOURCE-0000000000\";\n",
        "  \"KSTREAM-SOURCE-0000000000\" -> \"KSTREAM-KEY-SELECT-0000000001\";\n",
        "  \"KSTREAM-FILTER-0000000005\" -> \"KSTREAM-SINK-0000000004\";\n",
        "  \"KSTREAM-SINK-0000000004\" -> \"topic:KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition\";\n",
        "  \"topic:KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition\" -> \"KSTREAM-SOURCE-0000000006\";\n",
        "  \"KSTREAM-AGGREGATE-0000000003\" -> \"store:KSTREAM-AGGREGATE-STATE-STORE-0000000002\" [dir=both, style=dashed];\n",
        "  \"KSTREAM-JOIN-0000000012\" -> \"store:KSTREAM-AGGREGATE-STATE-STORE-0000000002\" [dir=both, style=dashed];\n",
        "  \"KSTREAM-JOIN-0000000012\" -> \"KSTREAM-SINK-0000000013\";\n",
        "  \"KSTREAM-SINK-0000000013\" -> \"topic:page-views\";\n",
        "  \"topic:page-views\" [shape=ellipse, label=\"page-views\"];\n",
        "  \"store:KSTREAM-AGGREGATE-STATE-STORE-0000000002\" [shape=cylinder, label=\"KSTREAM-AGGREGATE-STATE-STORE-0000000002\"];\n",
    ] {
        assert!(dot.contains(line), "missing {line:?} in\n{dot}");
    }
    // One declaration per topic and per store, however many nodes use them.
    assert_eq!(dot.matches("[shape=ellipse").count(), 5);
    assert_eq!(dot.matches("[shape=cylinder").count(), 1);
    Ok(())
}

#[test]
fn the_mermaid_rendering_has_a_subgraph_per_subtopology_and_every_edge() -> Result<(), StreamsError> {
    let mermaid = three_subtopologies()?.describe().to_mermaid();
    assert!(mermaid.starts_with("flowchart LR\n"));
    for line in [
        "  subgraph sub0[\"Sub-topology: 0\"]\n",
        "  subgraph sub1[\"Sub-topology: 1\"]\n",
        "  subgraph sub2[\"Sub-topology: 2\"]\n",
        "    n_KSTREAM_JOIN_0000000012[\"KSTREAM-JOIN-0000000012\"]\n",
        "  t_clicks([\"clicks\"])\n",
        "  s_KSTREAM_AGGREGATE_STATE_STORE_0000000002[(\"KSTREAM-AGGREGATE-STATE-STORE-0000000002\")]\n",
        "  t_clicks --> n_KSTREAM_SOURCE_0000000000\n",
        "  n_KSTREAM_MAP_0000000008 --> n_KSTREAM_FILTER_0000000010\n",
        "  n_KSTREAM_SINK_0000000009 --> t_KSTREAM_MAP_0000000008_repartition\n",
        "  t_KSTREAM_MAP_0000000008_repartition --> n_KSTREAM_SOURCE_0000000011\n",
        "  n_KSTREAM_JOIN_0000000012 -.- s_KSTREAM_AGGREGATE_STATE_STORE_0000000002\n",
        "  n_KSTREAM_AGGREGATE_0000000003 -.- s_KSTREAM_AGGREGATE_STATE_STORE_0000000002\n",
        "  n_KSTREAM_SINK_0000000013 --> t_page_views\n",
    ] {
        assert!(mermaid.contains(line), "missing {line:?} in\n{mermaid}");
    }
    assert_eq!(mermaid.matches("  end\n").count(), 3);
    Ok(())
}

#[test]
fn repartition_topics_joined_together_take_the_larger_partition_count() -> Result<(), StreamsError> {
    let topology = three_subtopologies()?;
    let partitions_of = |topic: &str| Some(if topic == "clicks" { 4 } else { 2 });
    let topics = topology.internal_topics("app", &partitions_of)?;
    assert_eq!(
        topics,
        vec![
            InternalTopic {
                name: s("app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"),
                partitions: 4,
                kind: InternalTopicKind::Repartition,
            },
            InternalTopic {
                name: s("app-KSTREAM-MAP-0000000008-repartition"),
                partitions: 4,
                kind: InternalTopicKind::Repartition,
            },
            InternalTopic {
                name: s("app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog"),
                partitions: 4,
                kind: InternalTopicKind::Changelog,
            },
        ]
    );
    assert_eq!(topology.task_counts(&partitions_of)?, vec![4, 4, 2]);
    Ok(())
}

#[test]
fn the_three_subtopologies_run_end_to_end() -> Result<(), StreamsError> {
    let config = DriverConfig::default()
        .with_partitions("clicks", 3)
        .with_partitions("views", 2);
    let driver = TopologyTestDriver::with_config(three_subtopologies()?, config)?;
    let clicks = driver.create_input_topic::<String, String>("clicks", Serdes::string(), Serdes::string());
    let views = driver.create_input_topic::<String, String>("views", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, String>("page-views", Serdes::string(), Serdes::string());
    views.pipe_input_at(s("ann"), s("home"), 1)?;
    clicks.pipe_input_at(s("bob"), s("home"), 2)?;
    clicks.pipe_input_at(s("cid"), s("home"), 3)?;
    views.pipe_input_at(s("dan"), s("home"), 4)?;
    clicks.pipe_input_at(s("eve"), s("cart"), 5)?;
    views.pipe_input_at(s("fay"), s("cart"), 6)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("home"), s("dan saw a page clicked 2 times"), 4),
            TestRecord::new(s("cart"), s("fay saw a page clicked 1 times"), 6),
        ]
    );
    Ok(())
}

#[test]
fn named_operations_name_their_nodes_and_internal_topics_as_kafka_does() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let table = builder.table::<String, String>(
        "profiles",
        Consumed::with(Serdes::string(), Serdes::string()).with_name("profiles-in"),
    );
    let branches = builder
        .stream::<String, String>("events", Consumed::with(Serdes::string(), Serdes::string()))
        .split_named(Named::as_("by-kind-"))
        .branch(|_, v| v.starts_with('a'), Branched::as_("a"))
        .default_branch(Branched::unnamed());
    for branch in ["by-kind-a", "by-kind-0"] {
        let stream = branches
            .get(branch)
            .ok_or_else(|| StreamsError::Internal(format!("no branch {branch}")))?;
        stream
            .select_key(|_, v| v.clone())
            .left_join_with(
                &table,
                |v, profile| format!("{v}/{}", profile.map_or("-", String::as_str)),
                Joined::with(Serdes::string(), Serdes::string(), Serdes::string()).with_name(format!("join-{branch}")),
            )
            .to("joined", Produced::with(Serdes::string(), Serdes::string()));
    }
    let description = builder.build()?.describe().to_string();
    for node in [
        "Source: profiles-in (topics: [profiles])",
        "Processor: profiles-in-table-source (stores: [profiles-STATE-STORE-0000000000])",
        "Processor: by-kind-a (stores: [])",
        "Processor: by-kind-0 (stores: [])",
        "Processor: join-by-kind-a-repartition-filter (stores: [])",
        "Sink: join-by-kind-a-repartition-sink (topic: join-by-kind-a-repartition)",
        "Source: join-by-kind-a-repartition-source (topics: [join-by-kind-a-repartition])",
        "Processor: join-by-kind-a (stores: [profiles-STATE-STORE-0000000000])",
        "Processor: join-by-kind-0 (stores: [profiles-STATE-STORE-0000000000])",
        // Generated names keep Kafka's numbering: every branch and every repartition consumes
        // indexes, named or not.
        "Processor: KSTREAM-KEY-SELECT-0000000005 (stores: [])",
        "Sink: KSTREAM-SINK-0000000009 (topic: joined)",
        "Processor: KSTREAM-KEY-SELECT-0000000010 (stores: [])",
        "Sink: KSTREAM-SINK-0000000014 (topic: joined)",
    ] {
        assert!(description.contains(node), "missing {node:?} in\n{description}");
    }
    Ok(())
}

#[test]
fn describe_prints_an_explicit_repartition_as_kafka_streams_does() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("customer-input", Consumed::with(Serdes::string(), Serdes::string()))
        .repartition_with(Repartitioned::default().with_number_of_partitions(10))
        .for_each(|_, _| {});
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [customer-input])
      --> KSTREAM-FILTER-0000000003
    Processor: KSTREAM-FILTER-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-SINK-0000000002 (topic: KSTREAM-REPARTITION-0000000001-repartition)
      <-- KSTREAM-FILTER-0000000003

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000004 (topics: [KSTREAM-REPARTITION-0000000001-repartition])
      --> KSTREAM-FOREACH-0000000005
    Processor: KSTREAM-FOREACH-0000000005 (stores: [])
      --> none
      <-- KSTREAM-SOURCE-0000000004

";
    let topology = builder.build()?;
    assert_eq!(topology.describe().to_string(), expected);
    let internal = topology.internal_topics("app", &|_| Some(1))?;
    assert_eq!(
        internal,
        vec![InternalTopic {
            name: s("app-KSTREAM-REPARTITION-0000000001-repartition"),
            partitions: 10,
            kind: InternalTopicKind::Repartition,
        }]
    );

    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .repartition_with(Repartitioned::as_("by-region"))
        .to("out", Produced::new());
    let description = builder.build()?.describe().to_string();
    for node in [
        "Processor: by-region-repartition-filter (stores: [])\n      --> by-region-repartition-sink\n",
        "Sink: by-region-repartition-sink (topic: by-region-repartition)\n",
        "Source: by-region-repartition-source (topics: [by-region-repartition])\n      --> KSTREAM-SINK-0000000004\n",
    ] {
        assert!(description.contains(node), "missing {node:?} in\n{description}");
    }
    Ok(())
}
