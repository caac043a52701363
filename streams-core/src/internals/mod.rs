//! The engine: tasks, runtime nodes, record collection and partitioning.
//!
//! Everything that runs a topology, in tests and in production, goes through [`task::Task`].

pub mod collector;
pub mod global;
pub mod handler;
pub(crate) mod node;
pub mod partitioner;
pub(crate) mod stateless;
pub mod task;

pub use collector::RecordCollector;
pub use global::{GlobalStores, GlobalTask, GLOBAL_PARTITION};
pub use handler::{DeserializationExceptionHandler, DeserializationResponse, LogAndContinue, LogAndFail};
pub use node::TaskMetrics;
pub use task::{Task, TaskId};
