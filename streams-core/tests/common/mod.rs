//! What several integration tests share.

/// The timeline Kafka Streams' DSL guide uses for its join tables (sections "KStream-KTable
/// Join" and "KTable-KTable Join"): one key, records in timestamp order as
/// `(timestamp, left side?, value)`; the left side is the stream (or the left table), `None` a
/// null value (a tombstone on a table).
pub const GUIDE_TIMELINE: [(i64, bool, Option<&str>); 15] = [
    (1, true, None),
    (2, false, None),
    (3, true, Some("A")),
    (4, false, Some("a")),
    (5, true, Some("B")),
    (6, false, Some("b")),
    (7, true, None),
    (8, false, None),
    (9, true, Some("C")),
    (10, false, Some("c")),
    (11, false, None),
    (12, true, None),
    (13, false, None),
    (14, false, Some("d")),
    (15, true, Some("D")),
];
