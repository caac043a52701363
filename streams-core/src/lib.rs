//! Kafka Streams-style stream processing for Rust.
//!
//! Build a topology with the typed DSL ([`dsl::StreamsBuilder`]), or with your own
//! [`processor::Processor`]s; test it without a broker through the `testkit` crate; run it
//! against Kafka with the runtime. The same task engine ([`internals::Task`]) runs it
//! everywhere.
//!
//! ```
//! use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
//! use streams_core::serde::Serdes;
//!
//! // Word count: lines in, running counts per word out.
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream::<(), String>("lines", Consumed::with(Serdes::unit(), Serdes::string()))
//!     .flat_map_values(|line| line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
//!     .group_by_with(|_, word| word.clone(), Grouped::with(Serdes::string(), Serdes::string()))
//!     .count_with(Materialized::as_("counts"))
//!     .to_stream()
//!     .to("word-counts", Produced::new());
//! let topology = builder.build()?;
//! assert_eq!(topology.subtopologies().len(), 2); // split by the repartition topic
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

pub mod dsl;
mod error;
pub mod internals;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod processor;
pub mod serde;
pub mod state;
pub mod topology;

pub use error::{Result, StreamsError};
