//! Restoring a store from its changelog.

use crate::store::{ChangelogRecord, KeyValueStore};
use crate::StateError;

/// Applies `records` (read from the store's changelog, in offset order) to `store` through
/// [`KeyValueStore::restore_batch`], `batch_size` records at a time (a `batch_size` of 0 is
/// taken as 1). Returns how many records were applied.
///
/// Restoring bypasses the logging and caching layers, so nothing is written back to the
/// changelog.
pub fn restore_all<S>(
    store: &mut S,
    records: impl IntoIterator<Item = ChangelogRecord>,
    batch_size: usize,
) -> Result<u64, StateError>
where
    S: KeyValueStore + ?Sized,
{
    let batch_size = batch_size.max(1);
    let mut batch = Vec::with_capacity(batch_size.min(4096));
    let mut restored = 0u64;
    for record in records {
        batch.push(record);
        if batch.len() == batch_size {
            store.restore_batch(&batch)?;
            restored += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.restore_batch(&batch)?;
        restored += batch.len() as u64;
    }
    Ok(restored)
}
