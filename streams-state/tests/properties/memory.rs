use proptest::prelude::*;
use streams_state::{InMemoryKeyValueStore, KeyValueStore, RecordClock};

use crate::common::collect;
use crate::model::{apply, entries, op, Count, Model};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (a) The in-memory engine answers every read as a `BTreeMap` does.
    #[test]
    fn in_memory_store_matches_a_btreemap(ops in prop::collection::vec(op(), 0..100)) {
        let clock = RecordClock::default();
        let mut store = InMemoryKeyValueStore::new("memory");
        let mut model = Model::new();
        for op in &ops {
            apply(&mut store, &mut model, &clock, op, Count::Exact)?;
        }
        prop_assert_eq!(collect(store.all().unwrap()), entries(&model));
        prop_assert_eq!(store.approximate_num_entries().unwrap(), model.len() as u64);
    }
}
