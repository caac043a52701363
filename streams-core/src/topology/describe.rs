//! Text and diagram renderings of a topology.

use std::collections::HashMap;
use std::fmt;

use super::{NodeKind, Topology};

/// A printable description of a [`Topology`], in the format of Kafka Streams'
/// `TopologyDescription` (sub-topologies; sources, processors and sinks with their links).
///
/// Nodes are listed as Kafka Streams lists them: by the size of the sub-graph below them,
/// largest first, then by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyDescription {
    subtopologies: Vec<SubtopologyDescription>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SubtopologyDescription {
    id: u32,
    /// Fills a global store (Kafka's `GlobalStore` description).
    global: bool,
    nodes: Vec<NodeDescription>,
}

impl SubtopologyDescription {
    fn label(&self) -> String {
        if self.global {
            format!("Sub-topology: {} for global store (will not generate tasks)", self.id)
        } else {
            format!("Sub-topology: {}", self.id)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeRole {
    Source { topics: Vec<String> },
    Processor { stores: Vec<String> },
    Sink { topic: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeDescription {
    name: String,
    role: NodeRole,
    successors: Vec<String>,
    predecessors: Vec<String>,
}

/// `names` in the order Java's `HashSet` iterates them, which is the order Kafka Streams'
/// `TopologyDescription` prints a processor's stores in (a copy of the node's `HashSet` of
/// store names, added in connection order): by hash bucket (`String.hashCode`, spread as
/// `HashMap` does), then in insertion order.
fn java_hash_set_order(names: &[String]) -> Vec<String> {
    fn spread(name: &str) -> u32 {
        let h = name
            .encode_utf16()
            .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)));
        let h = h as u32;
        h ^ (h >> 16)
    }
    fn by_bucket(names: &mut [&String], capacity: usize) {
        names.sort_by_key(|n| spread(n) as usize & (capacity - 1));
    }
    let n = names.len();
    // The node's own set grows by doubling from 16 whenever it holds more than 3/4 of its
    // capacity; the copy is sized for its content at once (`HashSet(Collection)`).
    let mut own = 16usize;
    while n > own / 4 * 3 {
        own *= 2;
    }
    let copy = ((n * 4 / 3) + 1).max(16).next_power_of_two();
    let mut ordered: Vec<&String> = names.iter().collect();
    by_bucket(&mut ordered, own);
    by_bucket(&mut ordered, copy);
    ordered.into_iter().cloned().collect()
}

impl TopologyDescription {
    pub(super) fn new(topology: &Topology) -> Self {
        let nodes = &topology.nodes;
        let mut sizes: HashMap<usize, usize> = HashMap::new();
        fn size(i: usize, nodes: &[super::NodeDef], memo: &mut HashMap<usize, usize>) -> usize {
            if let Some(&s) = memo.get(&i) {
                return s;
            }
            let s = 1 + nodes[i].children.iter().map(|&c| size(c, nodes, memo)).sum::<usize>();
            memo.insert(i, s);
            s
        }
        for i in 0..nodes.len() {
            size(i, nodes, &mut sizes);
        }
        let order = |list: &mut Vec<usize>| {
            list.sort_by(|&a, &b| {
                sizes[&b]
                    .cmp(&sizes[&a])
                    .then_with(|| nodes[a].name.cmp(&nodes[b].name))
            });
        };
        let subtopologies = topology
            .subtopologies
            .iter()
            .map(|sub| {
                let mut members = sub.nodes.clone();
                order(&mut members);
                let nodes = members
                    .into_iter()
                    .map(|i| {
                        let def = &nodes[i];
                        let mut succ = def.children.clone();
                        order(&mut succ);
                        let mut pred = def.parents.clone();
                        order(&mut pred);
                        NodeDescription {
                            name: def.name.clone(),
                            role: match &def.kind {
                                NodeKind::Source { topics } => NodeRole::Source {
                                    topics: topics.iter().map(|t| t.name.clone()).collect(),
                                },
                                NodeKind::Processor => NodeRole::Processor {
                                    stores: java_hash_set_order(&def.stores),
                                },
                                NodeKind::Sink { topic } => NodeRole::Sink {
                                    topic: topic.name.clone(),
                                },
                            },
                            successors: succ.into_iter().map(|c| nodes[c].name.clone()).collect(),
                            predecessors: pred.into_iter().map(|c| nodes[c].name.clone()).collect(),
                        }
                    })
                    .collect();
                SubtopologyDescription {
                    id: sub.id,
                    global: sub.global,
                    nodes,
                }
            })
            .collect();
        TopologyDescription { subtopologies }
    }

    /// The topology as a Graphviz DOT digraph: one cluster per sub-topology, topics as
    /// ellipses, stores as cylinders.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph topology {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
        let mut topics = Vec::new();
        let mut stores = Vec::new();
        for sub in &self.subtopologies {
            out.push_str(&format!(
                "  subgraph cluster_{} {{\n    label=\"{}\";\n",
                sub.id,
                sub.label()
            ));
            for node in &sub.nodes {
                out.push_str(&format!("    \"{}\";\n", node.name));
            }
            out.push_str("  }\n");
            for node in &sub.nodes {
                for succ in &node.successors {
                    out.push_str(&format!("  \"{}\" -> \"{}\";\n", node.name, succ));
                }
                match &node.role {
                    NodeRole::Source { topics: ts } => {
                        for t in ts {
                            topics.push(t.clone());
                            out.push_str(&format!("  \"topic:{t}\" -> \"{}\";\n", node.name));
                        }
                    }
                    NodeRole::Sink { topic } => {
                        topics.push(topic.clone());
                        out.push_str(&format!("  \"{}\" -> \"topic:{topic}\";\n", node.name));
                    }
                    NodeRole::Processor { stores: ss } => {
                        for s in ss {
                            stores.push(s.clone());
                            out.push_str(&format!(
                                "  \"{}\" -> \"store:{s}\" [dir=both, style=dashed];\n",
                                node.name
                            ));
                        }
                    }
                }
            }
        }
        topics.sort();
        topics.dedup();
        stores.sort();
        stores.dedup();
        for t in topics {
            out.push_str(&format!("  \"topic:{t}\" [shape=ellipse, label=\"{t}\"];\n"));
        }
        for s in stores {
            out.push_str(&format!("  \"store:{s}\" [shape=cylinder, label=\"{s}\"];\n"));
        }
        out.push_str("}\n");
        out
    }

    /// The topology as a Mermaid flowchart: one subgraph per sub-topology, topics as stadiums,
    /// stores as cylinders.
    pub fn to_mermaid(&self) -> String {
        fn id(kind: &str, name: &str) -> String {
            let clean: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("{kind}_{clean}")
        }
        let mut out = String::from("flowchart LR\n");
        let mut links = String::new();
        let mut topics = Vec::new();
        let mut stores = Vec::new();
        for sub in &self.subtopologies {
            out.push_str(&format!("  subgraph sub{}[\"{}\"]\n", sub.id, sub.label()));
            for node in &sub.nodes {
                out.push_str(&format!("    {}[\"{}\"]\n", id("n", &node.name), node.name));
                for succ in &node.successors {
                    links.push_str(&format!("  {} --> {}\n", id("n", &node.name), id("n", succ)));
                }
                match &node.role {
                    NodeRole::Source { topics: ts } => {
                        for t in ts {
                            topics.push(t.clone());
                            links.push_str(&format!("  {} --> {}\n", id("t", t), id("n", &node.name)));
                        }
                    }
                    NodeRole::Sink { topic } => {
                        topics.push(topic.clone());
                        links.push_str(&format!("  {} --> {}\n", id("n", &node.name), id("t", topic)));
                    }
                    NodeRole::Processor { stores: ss } => {
                        for s in ss {
                            stores.push(s.clone());
                            links.push_str(&format!("  {} -.- {}\n", id("n", &node.name), id("s", s)));
                        }
                    }
                }
            }
            out.push_str("  end\n");
        }
        topics.sort();
        topics.dedup();
        stores.sort();
        stores.dedup();
        for t in topics {
            out.push_str(&format!("  {}([\"{t}\"])\n", id("t", &t)));
        }
        for s in stores {
            out.push_str(&format!("  {}[(\"{s}\")]\n", id("s", &s)));
        }
        out.push_str(&links);
        out
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

impl fmt::Display for NodeDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.role {
            NodeRole::Source { topics } => write!(
                f,
                "Source: {} (topics: [{}])\n      --> {}",
                self.name,
                topics.join(", "),
                names(&self.successors)
            ),
            NodeRole::Processor { stores } => write!(
                f,
                "Processor: {} (stores: [{}])\n      --> {}\n      <-- {}",
                self.name,
                stores.join(", "),
                names(&self.successors),
                names(&self.predecessors)
            ),
            NodeRole::Sink { topic } => write!(
                f,
                "Sink: {} (topic: {})\n      <-- {}",
                self.name,
                topic,
                names(&self.predecessors)
            ),
        }
    }
}

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Topologies:\n ")?;
        for sub in &self.subtopologies {
            writeln!(f, "  {}", sub.label())?;
            for node in &sub.nodes {
                writeln!(f, "    {node}")?;
            }
            // As Kafka Streams prints them, global stores are not followed by a blank line.
            if !sub.global {
                f.write_str("\n")?;
            }
        }
        Ok(())
    }
}
