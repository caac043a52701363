//! Kafka's default partitioner for keyed records: murmur2 of the key bytes.

/// The partition Kafka's Java producer picks for `key_bytes` among `num_partitions`:
/// `(murmur2(key) & 0x7fffffff) % num_partitions`.
///
/// ```
/// use streams_core::internals::partitioner::murmur2_partition;
/// // Kafka's published murmur2 vector: murmur2("21") == -973932308.
/// assert_eq!(murmur2_partition(b"21", 1000), (-973932308i32 & 0x7fffffff) % 1000);
/// ```
pub fn murmur2_partition(key_bytes: &[u8], num_partitions: i32) -> i32 {
    let hash = murmur2_hash(key_bytes);
    (hash & 0x7fff_ffff) % num_partitions.max(1)
}

/// Kafka's `Utils.murmur2` (seed `0x9747b28c`) as a signed 32-bit value.
pub fn murmur2_hash(bytes: &[u8]) -> i32 {
    murmur2::murmur2(bytes, murmur2::KAFKA_SEED) as i32
}

/// Decides the partition of an output record; the default is [`murmur2_partition`] of the
/// serialized key.
pub trait StreamPartitioner<K, V>: Send + Sync {
    /// The partition for a record, or `None` to use the default.
    fn partition(&self, topic: &str, key: &K, value: &V, num_partitions: i32) -> Option<i32>;
}

impl<K, V, F> StreamPartitioner<K, V> for F
where
    F: Fn(&str, &K, &V, i32) -> Option<i32> + Send + Sync,
{
    fn partition(&self, topic: &str, key: &K, value: &V, num_partitions: i32) -> Option<i32> {
        self(topic, key, value, num_partitions)
    }
}
