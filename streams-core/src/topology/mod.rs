//! The built topology: processor nodes, stores, internal topics and sub-topologies.
//!
//! [`StreamsBuilder::build`](crate::dsl::StreamsBuilder::build) validates the graph the DSL
//! recorded and splits it into sub-topologies: sets of nodes connected by parent-child links or
//! shared stores. Repartition topics cut the graph (a sink writes them, a source of another
//! sub-topology reads them). Each sub-topology then runs as one [`Task`] per input partition.

mod describe;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use streams_state::{KeyValueBytesStoreSupplier, KeyValueStoreBuilder, RecordClock, SharedKeyValueStore};

pub use describe::TopologyDescription;

use crate::internals::collector::{CollectorChangelogSink, RecordCollector};
use crate::internals::global::{GlobalStores, GlobalTask, GLOBAL_PARTITION};
use crate::internals::handler::{DeserializationExceptionHandler, LogAndFail};
use crate::internals::node::{Env, FlushForwarder, NodeId, RuntimeNode, StoreMeta, StoreSlot, TaskMetrics};
use crate::internals::task::{Task, TaskId};
use crate::state::StoreType;
use crate::StreamsError;

/// What a node factory needs to create a node for one task.
pub(crate) struct NodeBuildCtx<'a> {
    pub(crate) id: NodeId,
    pub(crate) name: Arc<str>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) child_names: Vec<Arc<str>>,
    pub(crate) application_id: &'a str,
}

impl NodeBuildCtx<'_> {
    /// The real name of `topic`: internal topics get the application id prefix.
    pub(crate) fn topic(&self, topic: &TopicName) -> Arc<str> {
        topic.resolve(self.application_id)
    }
}

pub(crate) type NodeFactory = Arc<dyn Fn(&NodeBuildCtx<'_>) -> Box<dyn RuntimeNode> + Send + Sync>;
pub(crate) type ForwarderFactory = Arc<dyn Fn() -> Box<dyn FlushForwarder> + Send + Sync>;

/// A topic as the topology names it: user topics as given, internal ones without the
/// application id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TopicName {
    pub(crate) name: String,
    pub(crate) internal: bool,
}

impl TopicName {
    pub(crate) fn user(name: impl Into<String>) -> Self {
        TopicName {
            name: name.into(),
            internal: false,
        }
    }

    pub(crate) fn internal(name: impl Into<String>) -> Self {
        TopicName {
            name: name.into(),
            internal: true,
        }
    }

    pub(crate) fn resolve(&self, application_id: &str) -> Arc<str> {
        if self.internal {
            Arc::from(format!("{application_id}-{}", self.name))
        } else {
            Arc::from(self.name.as_str())
        }
    }
}

#[derive(Clone)]
pub(crate) enum NodeKind {
    Source { topics: Vec<TopicName> },
    Processor,
    Sink { topic: TopicName },
}

#[derive(Clone)]
pub(crate) struct NodeDef {
    pub(crate) name: String,
    pub(crate) kind: NodeKind,
    pub(crate) parents: Vec<usize>,
    pub(crate) children: Vec<usize>,
    pub(crate) stores: Vec<String>,
    pub(crate) factory: NodeFactory,
    /// A global store's source or processor: runs in the global task, not in stream tasks.
    pub(crate) global: bool,
}

/// Makes the supplier of a store for an engine type: for stores whose suppliers carry more than
/// a name (window and session stores: retention, window size).
pub(crate) type SupplierMaker =
    Arc<dyn Fn(StoreType) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> + Send + Sync>;

/// Where a store's engine comes from.
#[derive(Clone)]
pub(crate) enum StoreEngine {
    /// A supplier the application gave.
    Supplier(Arc<dyn KeyValueBytesStoreSupplier>),
    /// A type the application chose.
    Type(StoreType),
    /// The task's default ([`TaskConfig::default_store_type`]).
    Default,
    /// A window or session store made by `make` for the type the application chose, else for
    /// the task's default type.
    Made {
        make: SupplierMaker,
        store_type: Option<StoreType>,
    },
}

impl StoreEngine {
    fn supplier(&self, name: &str, default: StoreType) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StreamsError> {
        Ok(match self {
            StoreEngine::Supplier(supplier) => Arc::clone(supplier),
            StoreEngine::Type(store_type) => store_type.key_value_supplier(name),
            StoreEngine::Default => default.key_value_supplier(name),
            StoreEngine::Made { make, store_type } => make(store_type.unwrap_or(default))?,
        })
    }
}

#[derive(Clone)]
pub(crate) struct StoreDef {
    pub(crate) name: String,
    pub(crate) engine: StoreEngine,
    pub(crate) meta: Arc<StoreMeta>,
    pub(crate) logging: bool,
    pub(crate) caching: bool,
    /// The node whose children receive the cache's flushed entries, and how they are decoded.
    pub(crate) forwarder: Option<(String, ForwarderFactory)>,
    /// A global store: one instance per process holding every partition of its topic, written
    /// by its global processor and read-only for stream tasks.
    pub(crate) global: bool,
}

/// A repartition topic the topology writes and reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepartitionTopicDef {
    pub(crate) name: String,
    pub(crate) partitions: Option<i32>,
}

/// A sub-topology: a connected part of the graph, run as one task per partition.
#[derive(Debug, Clone)]
pub struct Subtopology {
    /// Its id, the first part of its task ids.
    pub id: u32,
    pub(crate) nodes: Vec<usize>,
    pub(crate) source_topics: Vec<TopicName>,
    pub(crate) stores: Vec<String>,
    pub(crate) global: bool,
}

impl Subtopology {
    /// Whether it fills a global store: it runs in the global task and generates no tasks.
    pub fn is_global(&self) -> bool {
        self.global
    }

    /// The topics it reads, internal ones prefixed with `application_id`.
    pub fn source_topics(&self, application_id: &str) -> Vec<String> {
        self.source_topics
            .iter()
            .map(|t| t.resolve(application_id).to_string())
            .collect()
    }

    /// Names of the stores its tasks hold (for a stream sub-topology, every global store too,
    /// read-only).
    pub fn stores(&self) -> &[String] {
        &self.stores
    }
}

/// An internal topic the application needs, with its partition count and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    /// Full topic name (`<application.id>-...`).
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Changelog (compacted) or repartition.
    pub kind: InternalTopicKind,
}

/// The kinds of internal topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalTopicKind {
    /// `<application.id>-<name>-repartition`: re-keyed records between sub-topologies.
    Repartition,
    /// `<application.id>-<store>-changelog`: compacted log of a store's changes.
    Changelog,
    /// The changelog of a versioned store: compacted, but no record younger than the store's
    /// history retention plus one day is compacted away (`min.compaction.lag.ms`, as Kafka
    /// Streams configures it), so that a restore still finds the older versions.
    VersionedChangelog {
        /// The store's history retention, in milliseconds.
        history_retention_ms: i64,
    },
    /// The changelog of a window or session store (windowed aggregations, stream-stream
    /// joins): compacted and deleted after the store's retention plus one day
    /// (`cleanup.policy=compact,delete`, as Kafka Streams configures it), so that windows the
    /// store has dropped leave the topic too.
    WindowedChangelog {
        /// The store's retention, in milliseconds.
        retention_ms: i64,
    },
}

impl InternalTopicKind {
    /// The topic configuration Kafka Streams gives a topic of this kind.
    pub fn topic_config(&self) -> Vec<(&'static str, String)> {
        match self {
            InternalTopicKind::Repartition => vec![("cleanup.policy", "delete".to_owned())],
            InternalTopicKind::Changelog => vec![("cleanup.policy", "compact".to_owned())],
            InternalTopicKind::VersionedChangelog { history_retention_ms } => vec![
                ("cleanup.policy", "compact".to_owned()),
                (
                    "min.compaction.lag.ms",
                    history_retention_ms
                        .saturating_add(CHANGELOG_ADDITIONAL_RETENTION_MS)
                        .to_string(),
                ),
            ],
            InternalTopicKind::WindowedChangelog { retention_ms } => vec![
                ("cleanup.policy", "compact,delete".to_owned()),
                (
                    "retention.ms",
                    retention_ms
                        .saturating_add(CHANGELOG_ADDITIONAL_RETENTION_MS)
                        .to_string(),
                ),
            ],
        }
    }
}

/// What a windowed or versioned store's changelog keeps beyond the store's retention (Kafka's
/// default `windowstore.changelog.additional.retention.ms`, one day).
const CHANGELOG_ADDITIONAL_RETENTION_MS: i64 = 86_400_000;

/// Settings a task is created with.
#[derive(Clone)]
pub struct TaskConfig {
    /// `application.id`: prefixes internal topics and names the consumer group.
    pub application_id: String,
    /// Where output, repartition and changelog records go.
    pub collector: Arc<dyn RecordCollector>,
    /// What to do with records that fail to deserialize.
    pub deserialization_handler: Arc<dyn DeserializationExceptionHandler>,
    /// Bytes of write cache for the task's cached stores (0: no caching, every update is
    /// forwarded).
    pub cache_max_bytes: usize,
    /// The task's state directory (`<state.dir>/<application.id>/<task id>`), for persistent
    /// engines.
    pub state_dir: Option<PathBuf>,
    /// Initial wall-clock time in milliseconds.
    pub wall_clock_ms: i64,
    /// The process's global stores ([`Topology::create_global_stores`]), needed when the
    /// topology has any: stream tasks read them, the global task writes them.
    pub global_stores: Option<Arc<GlobalStores>>,
    /// The engine of DSL stores that name none (`default.dsl.store`). RocksDB stores need
    /// [`state_dir`](Self::state_dir).
    pub default_store_type: StoreType,
}

impl TaskConfig {
    /// Settings with the defaults: fail on bad records, no cache, no state directory, in-memory
    /// DSL stores.
    pub fn new(application_id: impl Into<String>, collector: Arc<dyn RecordCollector>) -> Self {
        TaskConfig {
            application_id: application_id.into(),
            collector,
            deserialization_handler: Arc::new(LogAndFail),
            cache_max_bytes: 0,
            state_dir: None,
            wall_clock_ms: 0,
            global_stores: None,
            default_store_type: StoreType::InMemory,
        }
    }
}

/// A validated processing graph, ready to run. Cheap to share: tasks are created from it.
#[derive(Clone)]
pub struct Topology {
    pub(crate) nodes: Vec<NodeDef>,
    pub(crate) stores: Vec<StoreDef>,
    pub(crate) repartition_topics: Vec<RepartitionTopicDef>,
    pub(crate) copartition_groups: Vec<BTreeSet<TopicName>>,
    pub(crate) subtopologies: Vec<Subtopology>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra] = rb;
        }
    }
}

impl Topology {
    /// Validates the graph and computes sub-topologies.
    pub(crate) fn new(
        nodes: Vec<NodeDef>,
        stores: Vec<StoreDef>,
        repartition_topics: Vec<RepartitionTopicDef>,
        copartition_groups: Vec<BTreeSet<TopicName>>,
    ) -> Result<Self, StreamsError> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for node in &nodes {
            if !seen.insert(node.name.as_str()) {
                problems.push(format!(
                    "processor name `{}` is used twice; give each a unique Named",
                    node.name
                ));
            }
        }
        let mut store_names = BTreeSet::new();
        for store in &stores {
            if !store_names.insert(store.name.as_str()) {
                problems.push(format!("state store `{}` is defined twice", store.name));
            }
        }
        // A topic is read by one source among the stream sub-topologies and by at most one
        // global source: the global thread reads it whole on every instance, stream tasks
        // read the partitions assigned to them (a model topic, say, feeds a global registry
        // and is checked once per record by a stream task).
        let mut topic_owner: BTreeMap<(&TopicName, bool), &str> = BTreeMap::new();
        for node in &nodes {
            for store in &node.stores {
                if !node.global && stores.iter().any(|s| s.global && &s.name == store) {
                    problems.push(format!(
                        "global store `{store}` can be used by processor `{}` without being connected; do not pass it",
                        node.name
                    ));
                }
                if !store_names.contains(store.as_str()) {
                    problems.push(format!(
                        "processor `{}` uses state store `{store}`, which was never added (StreamsBuilder::add_state_store)",
                        node.name
                    ));
                }
            }
            if let NodeKind::Source { topics } = &node.kind {
                for topic in topics {
                    if let Some(other) = topic_owner.insert((topic, node.global), &node.name) {
                        problems.push(format!(
                            "topic `{}` is read by two sources, `{other}` and `{}`; read it once and share the stream",
                            topic.name, node.name
                        ));
                    }
                }
            }
        }
        if nodes.is_empty() {
            problems.push("the topology has no nodes; add a source with StreamsBuilder::stream or table".into());
        }
        if !problems.is_empty() {
            return Err(StreamsError::Topology(problems.join("; ")));
        }

        // Group nodes connected by links or by shared stores. Global stores do not join: every
        // task reads them, and their global processor runs apart.
        let global_stores: BTreeSet<&str> = stores.iter().filter(|s| s.global).map(|s| s.name.as_str()).collect();
        let mut uf = UnionFind((0..nodes.len()).collect());
        let mut store_user: HashMap<&str, usize> = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            for &child in &node.children {
                uf.union(i, child);
            }
            for store in &node.stores {
                if global_stores.contains(store.as_str()) {
                    continue;
                }
                if let Some(&other) = store_user.get(store.as_str()) {
                    uf.union(i, other);
                } else {
                    store_user.insert(store, i);
                }
            }
        }
        // Number groups as Kafka Streams does: sources first, by name, then the other nodes.
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by(|&a, &b| {
            let is_source = |i: usize| matches!(nodes[i].kind, NodeKind::Source { .. });
            is_source(b)
                .cmp(&is_source(a))
                .then_with(|| nodes[a].name.cmp(&nodes[b].name))
        });
        let mut group_of_root: HashMap<usize, u32> = HashMap::new();
        let mut subtopologies: Vec<Subtopology> = Vec::new();
        for &i in &order {
            let root = uf.find(i);
            let id = *group_of_root.entry(root).or_insert_with(|| {
                subtopologies.push(Subtopology {
                    id: subtopologies.len() as u32,
                    nodes: Vec::new(),
                    source_topics: Vec::new(),
                    stores: Vec::new(),
                    global: false,
                });
                subtopologies.len() as u32 - 1
            });
            let _ = id;
        }
        for i in 0..nodes.len() {
            let id = group_of_root[&uf.find(i)] as usize;
            let sub = &mut subtopologies[id];
            sub.nodes.push(i);
            sub.global |= nodes[i].global;
            if let NodeKind::Source { topics } = &nodes[i].kind {
                sub.source_topics.extend(topics.iter().cloned());
            }
            for store in &nodes[i].stores {
                if !sub.stores.contains(store) {
                    sub.stores.push(store.clone());
                }
            }
        }
        // Every stream task can read every global store.
        for sub in subtopologies.iter_mut().filter(|s| !s.global) {
            sub.stores.extend(global_stores.iter().map(|s| (*s).to_owned()));
        }
        for sub in subtopologies.iter().filter(|s| s.global) {
            if let Some(&i) = sub.nodes.iter().find(|&&i| !nodes[i].global) {
                return Err(StreamsError::Topology(format!(
                    "node `{}` is connected to a global store's source or processor; a global processor \
                     only fills its store and has no children",
                    nodes[i].name
                )));
            }
        }
        for sub in &subtopologies {
            if sub.source_topics.is_empty() {
                let names: Vec<&str> = sub.nodes.iter().map(|&i| nodes[i].name.as_str()).collect();
                return Err(StreamsError::Topology(format!(
                    "nodes {names:?} are not connected to any source"
                )));
            }
        }
        Ok(Topology {
            nodes,
            stores,
            repartition_topics,
            copartition_groups,
            subtopologies,
        })
    }

    /// The sub-topologies, by id.
    pub fn subtopologies(&self) -> &[Subtopology] {
        &self.subtopologies
    }

    /// Every user topic the stream tasks read (internal topics and global topics excluded).
    pub fn source_topics(&self) -> Vec<String> {
        self.subtopologies
            .iter()
            .filter(|s| !s.global)
            .flat_map(|s| s.source_topics.iter())
            .filter(|t| !t.internal)
            .map(|t| t.name.clone())
            .collect()
    }

    /// The topics of the global stores, read whole by every instance.
    pub fn global_source_topics(&self) -> Vec<String> {
        self.subtopologies
            .iter()
            .filter(|s| s.global)
            .flat_map(|s| s.source_topics.iter())
            .map(|t| t.name.clone())
            .collect()
    }

    /// Whether the topology has global stores.
    pub fn has_global_stores(&self) -> bool {
        self.subtopologies.iter().any(|s| s.global)
    }

    /// Every user topic the topology writes (internal topics excluded).
    pub fn sink_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Sink { topic } if !topic.internal => Some(topic.name.clone()),
                _ => None,
            })
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// Names of all state stores.
    pub fn store_names(&self) -> Vec<String> {
        self.stores.iter().map(|s| s.name.clone()).collect()
    }

    /// The sub-topology whose tasks read `topic` (full name, internal topics prefixed); global
    /// topics are not read by tasks.
    pub fn subtopology_reading(&self, application_id: &str, topic: &str) -> Option<u32> {
        self.subtopologies
            .iter()
            .filter(|s| !s.global)
            .find(|s| s.source_topics.iter().any(|t| &*t.resolve(application_id) == topic))
            .map(|s| s.id)
    }

    /// Partition counts of every topic the application reads or creates, given the counts of
    /// the user's source topics (`partitions_of`), with co-partitioning checked.
    ///
    /// Repartition topics take the count given in `Repartitioned`, else the largest count among
    /// the source topics of the sub-topology that writes them. Then, as Kafka Streams does, the
    /// repartition topics of a join without a given count take the count of the user topics
    /// they are joined with or, when every joined topic is a repartition topic, the given count
    /// of one of them, else the largest count among them. Changelog topics take the partition
    /// count of their sub-topology.
    pub fn internal_topics(
        &self,
        application_id: &str,
        partitions_of: &dyn Fn(&str) -> Option<i32>,
    ) -> Result<Vec<InternalTopic>, StreamsError> {
        let counts = self.partition_counts(partitions_of)?;
        let mut topics = Vec::new();
        for def in &self.repartition_topics {
            let name = TopicName::internal(def.name.as_str());
            topics.push(InternalTopic {
                name: name.resolve(application_id).to_string(),
                partitions: counts[&name],
                kind: InternalTopicKind::Repartition,
            });
        }
        for sub in self.subtopologies.iter().filter(|s| !s.global) {
            let partitions = self.subtopology_partitions(sub, &counts)?;
            for store in &sub.stores {
                if let Some(def) = self.stores.iter().find(|s| &s.name == store && s.logging) {
                    let supplier = def.engine.supplier(store, StoreType::InMemory)?;
                    let kind = match (supplier.history_retention(), supplier.as_segmented()) {
                        (Some(history_retention_ms), _) => {
                            InternalTopicKind::VersionedChangelog { history_retention_ms }
                        }
                        (None, Some(segmented)) => InternalTopicKind::WindowedChangelog {
                            retention_ms: segmented.retention(),
                        },
                        (None, None) => InternalTopicKind::Changelog,
                    };
                    topics.push(InternalTopic {
                        name: changelog_topic(application_id, store),
                        partitions,
                        kind,
                    });
                }
            }
        }
        Ok(topics)
    }

    /// Number of tasks (partitions) of each sub-topology; 0 for global ones.
    pub fn task_counts(&self, partitions_of: &dyn Fn(&str) -> Option<i32>) -> Result<Vec<i32>, StreamsError> {
        let counts = self.partition_counts(partitions_of)?;
        self.subtopologies
            .iter()
            .map(|sub| {
                if sub.global {
                    Ok(0)
                } else {
                    self.subtopology_partitions(sub, &counts)
                }
            })
            .collect()
    }

    fn subtopology_partitions(&self, sub: &Subtopology, counts: &HashMap<TopicName, i32>) -> Result<i32, StreamsError> {
        let per_topic: BTreeSet<i32> = sub.source_topics.iter().map(|t| counts[t]).collect();
        match per_topic.len() {
            1 => Ok(per_topic.into_iter().next().unwrap_or(1)),
            _ => Err(StreamsError::Topology(format!(
                "sub-topology {} reads topics with different partition counts: {}",
                sub.id,
                sub.source_topics
                    .iter()
                    .map(|t| format!("{} ({})", t.name, counts[t]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn partition_counts(
        &self,
        partitions_of: &dyn Fn(&str) -> Option<i32>,
    ) -> Result<HashMap<TopicName, i32>, StreamsError> {
        let mut counts: HashMap<TopicName, i32> = HashMap::new();
        for topic in self
            .subtopologies
            .iter()
            .filter(|s| !s.global)
            .flat_map(|s| &s.source_topics)
        {
            if !topic.internal {
                let n = partitions_of(&topic.name).ok_or_else(|| {
                    StreamsError::Topology(format!(
                        "source topic `{}` does not exist (no partition count known)",
                        topic.name
                    ))
                })?;
                counts.insert(topic.clone(), n);
            }
        }
        let enforced: HashMap<TopicName, i32> = self
            .repartition_topics
            .iter()
            .filter_map(|def| def.partitions.map(|n| (TopicName::internal(def.name.as_str()), n)))
            .collect();
        counts.extend(enforced.iter().map(|(t, n)| (t.clone(), *n)));
        // Other repartition topics: the largest input count of the writing sub-topology,
        // resolved until nothing changes (chains of repartitions).
        loop {
            let mut changed = false;
            for def in &self.repartition_topics {
                let name = TopicName::internal(def.name.as_str());
                if counts.contains_key(&name) {
                    continue;
                }
                if let Some(sub) = self.subtopologies.iter().find(|s| {
                    s.nodes
                        .iter()
                        .any(|&i| matches!(&self.nodes[i].kind, NodeKind::Sink { topic } if *topic == name))
                }) {
                    let inputs: Option<Vec<i32>> = sub.source_topics.iter().map(|t| counts.get(t).copied()).collect();
                    if let Some(max) = inputs.and_then(|v| v.into_iter().max()) {
                        counts.insert(name.clone(), max);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for def in &self.repartition_topics {
            counts.entry(TopicName::internal(def.name.as_str())).or_insert(1);
        }
        // Co-partitioned groups, as Kafka Streams' CopartitionedTopicsEnforcer: repartition
        // topics without a given count take the count of the group's user topics, or, when the
        // group has only repartition topics, the given count of one of them, else the largest.
        for group in &self.copartition_groups {
            let external = group.iter().filter(|t| !t.internal).map(|t| counts[t]).max();
            let given = group.iter().filter_map(|t| enforced.get(t).copied()).max();
            let largest = group.iter().map(|t| counts[t]).max();
            if let Some(n) = external.or(given).or(largest) {
                for topic in group.iter().filter(|t| t.internal && !enforced.contains_key(*t)) {
                    counts.insert(topic.clone(), n);
                }
            }
        }
        for group in &self.copartition_groups {
            let per_topic: Vec<(String, i32)> = group.iter().map(|t| (t.name.clone(), counts[t])).collect();
            if per_topic.iter().any(|(_, n)| *n != per_topic[0].1) {
                return Err(StreamsError::Topology(format!(
                    "topics joined together must be co-partitioned (same partition count), but {}; \
                     repartition one side (KStream::repartition with Repartitioned::with_number_of_partitions)",
                    per_topic
                        .iter()
                        .map(|(t, n)| format!("`{t}` has {n}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )));
            }
        }
        Ok(counts)
    }

    /// Creates the task that runs sub-topology `id.subtopology` for partition `id.partition`.
    pub fn create_task(&self, id: TaskId, config: &TaskConfig) -> Result<Task, StreamsError> {
        let sub = self
            .subtopologies
            .get(id.subtopology as usize)
            .ok_or_else(|| StreamsError::Internal(format!("no sub-topology {}", id.subtopology)))?;
        if sub.global {
            return Err(StreamsError::Internal(format!(
                "sub-topology {} fills global stores and generates no tasks; use create_global_task",
                sub.id
            )));
        }
        self.create_task_for(sub, id, config)
    }

    /// Creates the tasks of `sub` (a stream task, or, for a global sub-topology, the part of
    /// the global task that fills its stores).
    fn create_task_for(&self, sub: &Subtopology, id: TaskId, config: &TaskConfig) -> Result<Task, StreamsError> {
        let local: HashMap<usize, NodeId> = sub.nodes.iter().enumerate().map(|(l, &g)| (g, l)).collect();
        let app = config.application_id.as_str();
        let mut nodes: Vec<Option<Box<dyn RuntimeNode>>> = Vec::with_capacity(sub.nodes.len());
        let mut sources = Vec::new();
        for (l, &g) in sub.nodes.iter().enumerate() {
            let def = &self.nodes[g];
            let ctx = NodeBuildCtx {
                id: l,
                name: Arc::from(def.name.as_str()),
                children: def.children.iter().map(|c| local[c]).collect(),
                child_names: def
                    .children
                    .iter()
                    .map(|&c| Arc::from(self.nodes[c].name.as_str()))
                    .collect(),
                application_id: app,
            };
            nodes.push(Some((def.factory)(&ctx)));
            if let NodeKind::Source { topics } = &def.kind {
                for topic in topics {
                    sources.push((topic.resolve(app), l));
                }
            }
        }
        let clock = RecordClock::shared();
        let cached = sub
            .stores
            .iter()
            .filter(|s| self.stores.iter().any(|d| &d.name == *s && d.caching && !d.global))
            .count();
        let cache_per_store = config.cache_max_bytes.checked_div(cached).unwrap_or(0);
        let mut stores = Vec::new();
        for name in &sub.stores {
            let def = self
                .stores
                .iter()
                .find(|d| &d.name == name)
                .ok_or_else(|| StreamsError::Internal(format!("store `{name}` is not defined")))?;
            if def.global {
                let shared = config.global_stores.as_ref().and_then(|g| g.get(name)).ok_or_else(|| {
                    StreamsError::StoreAccess {
                        store: name.clone(),
                        reason: "it is a global store and the task was created without the process's global \
                                 stores (TaskConfig::global_stores, from Topology::create_global_stores)"
                            .into(),
                    }
                })?;
                let store: Box<dyn streams_state::KeyValueStore> = if sub.global {
                    Box::new(shared.writer())
                } else {
                    Box::new(shared.reader())
                };
                stores.push(StoreSlot {
                    name: Arc::from(name.as_str()),
                    store,
                    meta: Arc::clone(&def.meta),
                    changelog_topic: None,
                    forwarder: None,
                    global: true,
                });
                continue;
            }
            let supplier = def.engine.supplier(name, config.default_store_type)?;
            // A versioned store logs plain values with their own timestamps already.
            let timestamped_changelog = def.meta.timestamped && supplier.history_retention().is_none();
            let mut builder = KeyValueStoreBuilder::new(supplier);
            builder = if def.logging {
                builder.with_logging_enabled()
            } else {
                builder.with_logging_disabled()
            };
            if def.caching && cache_per_store > 0 {
                builder = builder.with_caching_enabled(cache_per_store);
            } else {
                builder = builder.with_caching_disabled();
            }
            let changelog_topic: Option<Arc<str>> = def.logging.then(|| Arc::from(changelog_topic(app, name)));
            let sink = changelog_topic.as_ref().map(|topic| {
                Box::new(CollectorChangelogSink {
                    collector: Arc::clone(&config.collector),
                    topic: Arc::clone(topic),
                    partition: id.partition,
                    timestamped: timestamped_changelog,
                }) as Box<dyn streams_state::ChangelogSink>
            });
            let mut store = builder.build(config.state_dir.as_deref(), sink, Arc::clone(&clock))?;
            let forwarder = match &def.forwarder {
                Some((owner, factory)) => {
                    let owner = sub
                        .nodes
                        .iter()
                        .position(|&g| &self.nodes[g].name == owner)
                        .ok_or_else(|| StreamsError::Internal(format!("owner `{owner}` of `{name}` is elsewhere")))?;
                    let forwarder = factory();
                    store.set_old_values_on_flush(forwarder.needs_old_values());
                    Some((owner, forwarder))
                }
                None => None,
            };
            stores.push(StoreSlot {
                name: Arc::from(name.as_str()),
                store,
                meta: Arc::clone(&def.meta),
                changelog_topic,
                forwarder,
                global: false,
            });
        }
        let node_stores = sub
            .nodes
            .iter()
            .map(|&g| {
                self.nodes[g]
                    .stores
                    .iter()
                    .filter_map(|s| stores.iter().position(|slot| &*slot.name == s))
                    .collect()
            })
            .collect();
        let env = Env {
            nodes,
            node_stores,
            stores,
            current: None,
            stream_time: i64::MIN,
            wall_clock: config.wall_clock_ms,
            clock,
            collector: Arc::clone(&config.collector),
            deserialization_handler: Arc::clone(&config.deserialization_handler),
            schedules: Vec::new(),
            next_schedule_id: 0,
            task_id: id,
            application_id: Arc::from(app),
            metrics: TaskMetrics::default(),
            shared: BTreeMap::new(),
        };
        Ok(Task::new(id, env, sources))
    }

    /// Creates the process's global stores, one per global store of the topology, empty or (for
    /// persistent engines) reopened from `state_dir` (`<state.dir>/<application.id>/global`);
    /// stores that name no engine get `default_store_type`. Global stores are neither logged
    /// (their topic is their changelog) nor cached.
    pub fn create_global_stores(
        &self,
        state_dir: Option<&std::path::Path>,
        default_store_type: StoreType,
    ) -> Result<GlobalStores, StreamsError> {
        let mut stores = BTreeMap::new();
        for def in self.stores.iter().filter(|d| d.global) {
            let store = KeyValueStoreBuilder::new(def.engine.supplier(&def.name, default_store_type)?)
                .with_logging_disabled()
                .with_caching_disabled()
                .build(state_dir, None, RecordClock::shared())?;
            stores.insert(def.name.clone(), SharedKeyValueStore::new(store));
        }
        Ok(GlobalStores { stores })
    }

    /// Creates the global task: the global sub-topologies, each reading every partition of its
    /// topics and writing the stores of `config.global_stores`. `None` when the topology has no
    /// global store.
    pub fn create_global_task(&self, config: &TaskConfig) -> Result<Option<GlobalTask>, StreamsError> {
        let mut tasks = Vec::new();
        for sub in self.subtopologies.iter().filter(|s| s.global) {
            let id = TaskId {
                subtopology: sub.id,
                partition: GLOBAL_PARTITION,
            };
            let mut task = self.create_task_for(sub, id, config)?;
            task.initialize()?;
            tasks.push(task);
        }
        Ok((!tasks.is_empty()).then(|| GlobalTask::new(tasks)))
    }

    /// A description of the topology in Kafka Streams' format.
    pub fn describe(&self) -> TopologyDescription {
        TopologyDescription::new(self)
    }
}

/// The changelog topic of `store`: `<application.id>-<store>-changelog`.
pub fn changelog_topic(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}
