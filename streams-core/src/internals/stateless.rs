//! The record-at-a-time stateless DSL operators (`filter`, `peek`, `map`, `map_values`, ...) as
//! runtime nodes of their own.
//!
//! They need no [`ProcessorContext`](crate::processor::ProcessorContext): a filter or a peek
//! looks at the record where its parent put it and hands the same slot on, and a map writes
//! its result straight into the slot its child reads. A record therefore crosses such a node
//! without being moved, which matters for large values (every move of a record is a copy of
//! its bytes).

use std::any::Any;
use std::sync::Arc;

use super::node::{forward_slot, Env, NodeId, RuntimeNode};
use crate::processor::{Record, Schedule};
use crate::topology::{NodeBuildCtx, NodeFactory};
use crate::StreamsError;

/// A predicate over a record's key and value.
pub(crate) type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

/// A function from a record to a record, the whole of a `map`-like operator.
pub(crate) type RecordMapper<K, V, K2, V2> = Arc<dyn Fn(Record<K, V>) -> Record<K2, V2> + Send + Sync>;

/// What an in-place node does with the record it looks at.
pub(crate) enum Inspect<K, V> {
    /// `filter` / `filter_not`: forwards the records for which the predicate is `keep_if`.
    Filter { predicate: Predicate<K, V>, keep_if: bool },
    /// `peek` (`forward`) and `for_each` (terminal): calls the action on every record.
    Peek {
        action: Arc<dyn Fn(&K, &V) + Send + Sync>,
        forward: bool,
    },
}

impl<K, V> Clone for Inspect<K, V> {
    fn clone(&self) -> Self {
        match self {
            Inspect::Filter { predicate, keep_if } => Inspect::Filter {
                predicate: Arc::clone(predicate),
                keep_if: *keep_if,
            },
            Inspect::Peek { action, forward } => Inspect::Peek {
                action: Arc::clone(action),
                forward: *forward,
            },
        }
    }
}

/// The typed slot a parent hands over, or an internal error naming the node.
fn slot<'a, K: 'static, V: 'static>(
    input: &'a mut dyn Any,
    node: &str,
) -> Result<&'a mut Option<Record<K, V>>, StreamsError> {
    input.downcast_mut::<Option<Record<K, V>>>().ok_or_else(|| {
        StreamsError::Internal(format!(
            "node `{node}` received a record that is not a {}",
            std::any::type_name::<Record<K, V>>()
        ))
    })
}

fn empty_slot(node: &str) -> StreamsError {
    StreamsError::Internal(format!("node `{node}` received an empty record slot"))
}

/// A node that looks at the record in its parent's slot and hands the same slot on.
struct InspectNode<K, V> {
    name: Arc<str>,
    children: Vec<NodeId>,
    inspect: Inspect<K, V>,
}

impl<K: Clone + 'static, V: Clone + 'static> RuntimeNode for InspectNode<K, V> {
    fn init(&mut self, _env: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn process(&mut self, input: &mut dyn Any, env: &mut Env) -> Result<(), StreamsError> {
        let slot = slot::<K, V>(input, &self.name)?;
        let record = slot.as_ref().ok_or_else(|| empty_slot(&self.name))?;
        let pass = match &self.inspect {
            Inspect::Filter { predicate, keep_if } => predicate(&record.key, &record.value) == *keep_if,
            Inspect::Peek { action, forward } => {
                action(&record.key, &record.value);
                *forward
            }
        };
        if !pass {
            return Ok(());
        }
        env.clock.set(record.timestamp);
        forward_slot(env, &self.children, slot)
    }

    fn punctuate(&mut self, _: Schedule, _: i64, _: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn children(&self) -> &[NodeId] {
        &self.children
    }

    fn close(&mut self) {}
}

/// A node that maps each record to one record, written into its child's slot.
struct MapNode<K, V, K2, V2> {
    name: Arc<str>,
    children: Vec<NodeId>,
    mapper: RecordMapper<K, V, K2, V2>,
}

impl<K: 'static, V: 'static, K2: Clone + 'static, V2: Clone + 'static> RuntimeNode for MapNode<K, V, K2, V2> {
    fn init(&mut self, _env: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn process(&mut self, input: &mut dyn Any, env: &mut Env) -> Result<(), StreamsError> {
        let record = slot::<K, V>(input, &self.name)?
            .take()
            .ok_or_else(|| empty_slot(&self.name))?;
        let mut out = Some((self.mapper)(record));
        if let Some(record) = &out {
            env.clock.set(record.timestamp);
        }
        forward_slot(env, &self.children, &mut out)
    }

    fn punctuate(&mut self, _: Schedule, _: i64, _: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn children(&self) -> &[NodeId] {
        &self.children
    }

    fn close(&mut self) {}
}

/// A node factory for a `filter`, `filter_not`, `peek` or `for_each` operator.
pub(crate) fn inspect_factory<K: Clone + 'static, V: Clone + 'static>(inspect: Inspect<K, V>) -> NodeFactory {
    Arc::new(move |ctx: &NodeBuildCtx<'_>| {
        Box::new(InspectNode {
            name: Arc::clone(&ctx.name),
            children: ctx.children.clone(),
            inspect: inspect.clone(),
        }) as Box<dyn RuntimeNode>
    })
}

/// A node factory for a `map`, `map_values` or `select_key` operator.
pub(crate) fn map_factory<K: 'static, V: 'static, K2: Clone + 'static, V2: Clone + 'static>(
    mapper: RecordMapper<K, V, K2, V2>,
) -> NodeFactory {
    Arc::new(move |ctx: &NodeBuildCtx<'_>| {
        Box::new(MapNode {
            name: Arc::clone(&ctx.name),
            children: ctx.children.clone(),
            mapper: Arc::clone(&mapper),
        }) as Box<dyn RuntimeNode>
    })
}
