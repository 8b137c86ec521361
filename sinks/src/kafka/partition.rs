//! The default partitioner: sarama's hash partitioner, which
//! kubernetes-event-exporter used, so that herald sends each key to the
//! partition KEE sent it to.
//!
//! sarama hashes the key with 32-bit FNV-1a, reads the hash as a signed
//! 32-bit number, takes the remainder by the partition count and drops its
//! sign. librdkafka's own `fnv1a` partitioner takes the remainder of the
//! unsigned hash instead, which differs for every key whose hash has the top
//! bit set (about half of them), so herald computes sarama's way itself.

use rdkafka::producer::Partitioner;

/// 32-bit FNV-1a.
pub fn fnv1a(key: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// sarama's `HashPartitioner`: `abs(int32(fnv1a(key)) % partitions)`.
pub fn sarama_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return rdkafka::producer::PARTITION_UA;
    }
    #[allow(clippy::cast_possible_wrap)]
    let hash = fnv1a(key) as i32;
    (hash % partitions).abs()
}

/// librdkafka's `fnv1a` partitioner, for comparison in tests and docs:
/// `fnv1a(key) % partitions` on the unsigned hash.
pub fn librdkafka_fnv1a_partition(key: &[u8], partitions: i32) -> i32 {
    let n = u32::try_from(partitions).unwrap_or(1).max(1);
    i32::try_from(fnv1a(key) % n).unwrap_or_default()
}

/// The sarama-compatible partitioner handed to librdkafka. A message without
/// a key (never sent by herald) would go to partition 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaramaPartitioner;

impl Partitioner for SaramaPartitioner {
    fn partition(
        &self,
        _topic_name: &str,
        key: Option<&[u8]>,
        partition_cnt: i32,
        _is_partition_available: impl Fn(i32) -> bool,
    ) -> i32 {
        sarama_partition(key.unwrap_or_default(), partition_cnt)
    }
}
