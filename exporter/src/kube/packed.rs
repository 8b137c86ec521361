//! Compact form of an involved object's metadata for the lookup cache.
//!
//! The cache may hold `cacheSize` objects (KEE's default is 1024, large clusters set
//! 100,000). Kept as maps of owned strings, one pod's labels, annotations and owner
//! costs a dozen allocations and over a kilobyte (a B-tree node alone is ~0.5 KiB);
//! packed as one protobuf buffer it costs one allocation of its encoded size. A cache
//! hit decodes the buffer straight into the maps the Event carries, which is what the
//! old form cost too (a clone of those maps).
//!
//! Replicas of one workload usually carry identical labels, annotations and owner, so
//! identical buffers are also shared through an [`Interner`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use herald_proto::pb;
use prost::Message;

use super::api::ObjectMetadata;
use herald_proto::OwnerReference;

/// The wire form of [`PackedMetadata`] (private to the cache; never persisted).
#[derive(Clone, PartialEq, Message)]
struct PackedMessage {
    #[prost(btree_map = "string, string", tag = "1")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "2")]
    annotations: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "3")]
    owner_references: Vec<pb::OwnerReference>,
    #[prost(bool, tag = "4")]
    deleting: bool,
}

/// An object's labels, annotations, owners and deletion flag in one shared buffer.
#[derive(Debug, Clone)]
pub(crate) struct PackedMetadata(Arc<[u8]>);

/// The unpacked fields enrichment copies into an Event.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Unpacked {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
    pub deleting: bool,
}

impl PackedMetadata {
    /// Packs the fields enrichment uses (the UID is the cache key, not needed here).
    pub(crate) fn pack(meta: ObjectMetadata) -> Self {
        let message = PackedMessage {
            labels: meta.labels,
            annotations: meta.annotations,
            owner_references: meta.owner_references.into_iter().map(Into::into).collect(),
            deleting: meta.deleting,
        };
        PackedMetadata(Arc::from(message.encode_to_vec()))
    }

    /// Unpacks into owned maps.
    pub(crate) fn unpack(&self) -> Unpacked {
        // The buffer was produced by `pack` in this process, so it always decodes;
        // an impossible failure degrades to "no metadata" rather than a panic.
        let m = PackedMessage::decode(&*self.0).unwrap_or_default();
        Unpacked {
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references.into_iter().map(Into::into).collect(),
            deleting: m.deleting,
        }
    }

    /// Whether both hold the same metadata.
    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }

    /// Size of the packed buffer.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Shares identical [`PackedMetadata`] buffers. Buffers nobody else holds any more are
/// swept once the set has doubled since the last sweep (amortised O(1)).
#[derive(Debug)]
pub(crate) struct Interner {
    buffers: HashSet<Arc<[u8]>>,
    sweep_at: usize,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            buffers: HashSet::new(),
            sweep_at: Self::MIN_SWEEP,
        }
    }
}

impl Interner {
    const MIN_SWEEP: usize = 1024;

    /// Returns the shared copy of `p`'s contents.
    pub(crate) fn intern(&mut self, p: PackedMetadata) -> PackedMetadata {
        if let Some(shared) = self.buffers.get(&p.0) {
            return PackedMetadata(shared.clone());
        }
        if self.buffers.len() >= self.sweep_at {
            self.buffers.retain(|b| Arc::strong_count(b) > 1);
            self.sweep_at = (self.buffers.len() * 2).max(Self::MIN_SWEEP);
        }
        self.buffers.insert(p.0.clone());
        p
    }

    /// Distinct buffers held (including ones awaiting the next sweep).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buffers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectMetadata {
        ObjectMetadata {
            name: "web-5d8f7b9c4-x2k9q".into(),
            uid: "0b7c5a8e-1f0e-4f7c-9c55-3b1f8a1d2e11".into(),
            labels: [("app", "web"), ("pod-template-hash", "5d8f7b9c4")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            annotations: [("kubernetes.io/psp", "")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            owner_references: vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "web-5d8f7b9c4".into(),
                uid: "1c2d3e4f-0000-4000-8000-000000000001".into(),
                controller: Some(true),
                block_owner_deletion: None,
            }],
            deleting: true,
        }
    }

    #[test]
    fn round_trips_everything_enrichment_uses() {
        let meta = sample();
        let packed = PackedMetadata::pack(meta.clone());
        let got = packed.unpack();
        assert_eq!(got.labels, meta.labels);
        assert_eq!(got.annotations, meta.annotations);
        assert_eq!(got.owner_references, meta.owner_references);
        assert!(got.deleting);
        // empty values (a label `key: ""`) survive, as do `None` flags
        assert_eq!(got.annotations["kubernetes.io/psp"], "");
        assert_eq!(got.owner_references[0].block_owner_deletion, None);
    }

    #[test]
    fn identical_metadata_shares_one_buffer_and_dead_buffers_are_swept() {
        let mut interner = Interner::default();
        let a = interner.intern(PackedMetadata::pack(sample()));
        let b = interner.intern(PackedMetadata::pack(sample()));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(interner.len(), 1);
        let mut other = sample();
        other.labels.insert("version".into(), "2".into());
        let c = interner.intern(PackedMetadata::pack(other));
        assert!(!Arc::ptr_eq(&a.0, &c.0));
        // fill up to the sweep threshold with buffers nobody keeps
        drop(c);
        for i in 0..Interner::MIN_SWEEP {
            let mut m = sample();
            m.labels.insert("i".into(), i.to_string());
            drop(interner.intern(PackedMetadata::pack(m)));
        }
        // a sweep ran on the way: the set is far below everything ever inserted, and
        // the buffer still held is still the shared one
        assert!(interner.len() < Interner::MIN_SWEEP, "{}", interner.len());
        let again = interner.intern(PackedMetadata::pack(sample()));
        assert!(Arc::ptr_eq(&a.0, &again.0));
        assert_eq!(a.unpack(), b.unpack());
    }

    #[test]
    fn is_much_smaller_than_the_maps() {
        let packed = PackedMetadata::pack(sample());
        assert!(packed.len() < 200, "{} bytes", packed.len());
    }
}
