//! Task state directories: `<state.dir>/<application.id>/<task id>/`, a lock against a second
//! process, and the checkpoint file of flushed changelog offsets.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::internals::TaskId;
use crate::StreamsError;

const CHECKPOINT: &str = ".checkpoint";
const LOCK: &str = ".lock";

fn io_error(path: &Path, error: std::io::Error) -> StreamsError {
    StreamsError::Config {
        key: "state.dir".into(),
        reason: format!("{}: {error}", path.display()),
    }
}

/// A task's directory, locked for as long as this value lives.
pub(crate) struct TaskDirectory {
    pub(crate) path: PathBuf,
    _lock: File,
}

impl TaskDirectory {
    /// Creates (if needed) and locks the directory of `task`.
    pub(crate) fn lock(state_dir: &Path, application_id: &str, task: TaskId) -> Result<Self, StreamsError> {
        Self::lock_named(state_dir, application_id, &task.to_string())
    }

    /// Creates (if needed) and locks `<state.dir>/<application.id>/<name>/` (`global` for the
    /// global stores).
    pub(crate) fn lock_named(state_dir: &Path, application_id: &str, name: &str) -> Result<Self, StreamsError> {
        let path = state_dir.join(application_id).join(name);
        fs::create_dir_all(&path).map_err(|e| io_error(&path, e))?;
        let lock_path = path.join(LOCK);
        let file = File::create(&lock_path).map_err(|e| io_error(&lock_path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(TaskDirectory { path, _lock: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StreamsError::Config {
                key: "state.dir".into(),
                reason: format!(
                    "{} is locked by another instance; give each instance on this machine its own state.dir",
                    path.display()
                ),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(&lock_path, e)),
        }
    }

    /// Changelog offsets to restore from, as last checkpointed: `(topic, partition) -> offset`.
    pub(crate) fn read_checkpoint(&self) -> BTreeMap<(String, i32), i64> {
        let path = self.path.join(CHECKPOINT);
        let Ok(text) = fs::read_to_string(&path) else {
            return BTreeMap::new();
        };
        let mut offsets = BTreeMap::new();
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [topic, partition, offset] = parts.as_slice() {
                if let (Ok(p), Ok(o)) = (partition.parse(), offset.parse()) {
                    offsets.insert(((*topic).to_owned(), p), o);
                    continue;
                }
            }
            tracing::warn!(path = %path.display(), line, "ignoring a malformed checkpoint line");
        }
        offsets
    }

    /// Writes the checkpoint atomically (write to a temporary file, then rename).
    pub(crate) fn write_checkpoint(&self, offsets: &BTreeMap<(String, i32), i64>) -> Result<(), StreamsError> {
        let tmp = self.path.join(".checkpoint.tmp");
        let mut file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        for ((topic, partition), offset) in offsets {
            writeln!(file, "{topic} {partition} {offset}").map_err(|e| io_error(&tmp, e))?;
        }
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        let path = self.path.join(CHECKPOINT);
        fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
    }

    /// Removes the checkpoint (the stores may hold data past it).
    pub(crate) fn delete_checkpoint(&self) {
        let _ = fs::remove_file(self.path.join(CHECKPOINT));
    }
}
