//! Test a topology without a broker.
//!
//! [`TopologyTestDriver`] runs the real task engine of `streams-core` over in-memory topics:
//! pipe records into input topics, read what the topology wrote, look into its state stores,
//! advance wall-clock time. Repartition topics are routed back into the tasks that read them,
//! and the driver commits after every record it processes, repartitioned ones included
//! (configurable), so caching behaves as in Kafka Streams' `TopologyTestDriver`.
//!
//! ```
//! use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
//! use streams_core::serde::Serdes;
//! use testkit::TopologyTestDriver;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
//!     .map_values(|v| v.len() as i64)
//!     .to("out", Produced::with(Serdes::string(), Serdes::i64()));
//! let driver = TopologyTestDriver::new(builder.build()?)?;
//! let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
//! let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
//! input.pipe_input_at("k".to_string(), "hello".to_string(), 1_000)?;
//! assert_eq!(output.read_key_value()?, Some(("k".to_string(), 5)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod driver;
pub mod strategies;
mod topics;

pub use driver::{DriverConfig, TopologyTestDriver};
pub use topics::{TestInputTopic, TestOutputTopic, TestRecord};
