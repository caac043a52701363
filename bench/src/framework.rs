//! The workloads through the framework: DSL topologies run by one task, driven the way the
//! runtime drives it (records added in batches, processed, committed every N records).

use crate::{Timer, Timing};
use std::sync::Arc;
use std::time::Duration;

use streams_core::dsl::{Consumed, JoinWindows, Materialized, Produced, StreamsBuilder, TimeWindows};
use streams_core::internals::{RecordCollector, Task, TaskId};
use streams_core::processor::RawRecord;
use streams_core::serde::Serdes;
use streams_core::state::StoreType;
use streams_core::topology::{TaskConfig, Topology};
use streams_core::StreamsError;

use crate::data::{
    CountOut, Event, FilterOut, Input, JoinOut, Region, WindowCountOut, INPUT_TOPIC, JOIN_WINDOW_MS, OUTPUT_TOPIC,
    REGION_UPDATES_TOPIC, TABLE_TOPIC, WINDOW_MS,
};
use crate::sink::{Sink, SinkCollector};
use crate::{RunConfig, Workload};

/// The application id of the benchmark's tasks (prefix of the changelog topics).
pub const APPLICATION_ID: &str = "engine-bench";

/// The workload's topology, built with the DSL. Stores are logged and cached (the DSL
/// defaults) on the task's default engine (in memory, except for the window count, which runs
/// on RocksDB as the runtime's `default.dsl.store`); whether the cache is used is the task's
/// `cache_max_bytes`.
pub fn topology(workload: Workload) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let events = builder.stream::<String, Event>(INPUT_TOPIC, Consumed::with(Serdes::string(), Serdes::json()));
    match workload {
        Workload::FilterMap => events
            .filter(|_, event| FilterOut::keep(event))
            .map_values(FilterOut::from_event)
            .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::json())),
        Workload::Count | Workload::CountNoCache => events
            .group_by_key()
            .count_with(Materialized::as_("counts"))
            .to_stream()
            .map_values_with_key(|key, count| CountOut {
                key: key.clone(),
                count: count.unwrap_or(0),
            })
            .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::json())),
        Workload::WindowCount => events
            .group_by_key()
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
                WINDOW_MS as u64,
            ))?)
            .count_with(Materialized::as_("window-counts"))
            .to_stream()
            .map(|windowed, count| {
                let out = WindowCountOut {
                    key: windowed.key.clone(),
                    start: windowed.window.start,
                    end: windowed.window.end,
                    count: count.unwrap_or(0),
                };
                (windowed.key, out)
            })
            .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::json())),
        Workload::StreamJoin => {
            let updates = builder
                .stream::<String, Region>(REGION_UPDATES_TOPIC, Consumed::with(Serdes::string(), Serdes::json()));
            let window = JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(JOIN_WINDOW_MS as u64))?;
            events
                .join_stream(&updates, JoinOut::new, window)
                .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::json()));
        }
        Workload::Join => {
            let regions = builder.table_with::<String, Region>(
                TABLE_TOPIC,
                Consumed::with(Serdes::string(), Serdes::json()),
                Materialized::as_("regions"),
            );
            events
                .join(&regions, JoinOut::new)
                .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::json()));
        }
    }
    builder.build()
}

/// Runs `workload` over `input` in one task writing into `sink`; returns what was written
/// and the time taken by the stream records (the join's table is loaded and committed before
/// the clock starts, and its changelog records are not kept).
pub fn run(workload: Workload, input: &Input, config: &RunConfig, sink: Sink) -> Result<(Sink, Timing), StreamsError> {
    let topology = topology(workload)?;
    if topology.subtopologies().len() != 1 {
        return Err(StreamsError::Internal(format!(
            "expected one sub-topology, got {}",
            topology.subtopologies().len()
        )));
    }
    let collector = SinkCollector::new(config.output_partitions, sink);
    let cache_max_bytes = match workload {
        Workload::CountNoCache => 0,
        _ => config.cache_max_bytes,
    };
    // Window stores are RocksDB's, in a directory removed after the run.
    let on_rocksdb = matches!(workload, Workload::WindowCount | Workload::StreamJoin);
    let state_dir = match on_rocksdb {
        true => Some(tempfile::tempdir().map_err(|e| StreamsError::StoreAccess {
            store: workload.name().into(),
            reason: format!("cannot create a state directory: {e}"),
        })?),
        false => None,
    };
    let task_config = TaskConfig {
        cache_max_bytes,
        state_dir: state_dir.as_ref().map(|dir| dir.path().to_path_buf()),
        default_store_type: match on_rocksdb {
            true => StoreType::RocksDb,
            false => StoreType::InMemory,
        },
        ..TaskConfig::new(APPLICATION_ID, Arc::clone(&collector) as Arc<dyn RecordCollector>)
    };
    let mut task = topology.create_task(
        TaskId {
            subtopology: 0,
            partition: 0,
        },
        &task_config,
    )?;
    task.initialize()?;
    if workload == Workload::Join {
        task.add_records(TABLE_TOPIC, input.table.iter().cloned())?;
        task.process_all()?;
        task.commit()?;
        collector.clear();
    }
    let batches = input.batches(config.batch);
    let elapsed = if workload == Workload::StreamJoin {
        // The second stream is buffered whole; the stream's records come in polls, and each
        // poll is processed only as long as both inputs have records, so the two streams
        // interleave in timestamp order whatever the poll size (as Kafka Streams waits for an
        // empty partition, `max.task.idle.ms`).
        task.add_records(REGION_UPDATES_TOPIC, input.region_updates.iter().cloned())?;
        drive_two_inputs(&mut task, batches, config.commit_every)?
    } else {
        drive(&mut task, batches, config.commit_every)?
    };
    task.close()?;
    drop(task);
    drop(state_dir);
    Ok((collector.take(), elapsed))
}

/// Adds, processes and commits every batch; returns the time it took. Kept out of line so
/// that profiles show the timed part as one function.
#[inline(never)]
fn drive(task: &mut Task, batches: Vec<Vec<RawRecord>>, commit_every: usize) -> Result<Timing, StreamsError> {
    let start = Timer::start();
    let mut since_commit = 0;
    for batch in batches {
        since_commit += batch.len();
        task.add_records(INPUT_TOPIC, batch)?;
        task.process_all()?;
        if since_commit >= commit_every {
            task.commit()?;
            since_commit = 0;
        }
    }
    task.commit()?;
    Ok(start.elapsed())
}

/// [`drive`] for a task with a second, fully buffered input: each batch is processed while
/// both inputs have records; what is left is processed at the end.
#[inline(never)]
fn drive_two_inputs(
    task: &mut Task,
    batches: Vec<Vec<RawRecord>>,
    commit_every: usize,
) -> Result<Timing, StreamsError> {
    let start = Timer::start();
    let mut since_commit = 0;
    for batch in batches {
        since_commit += batch.len();
        task.add_records(INPUT_TOPIC, batch)?;
        while !task.has_empty_input() {
            task.process_one()?;
        }
        if since_commit >= commit_every {
            task.commit()?;
            since_commit = 0;
        }
    }
    task.process_all()?;
    task.commit()?;
    Ok(start.elapsed())
}
