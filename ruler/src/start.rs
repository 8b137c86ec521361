//! Where a lane's consumer group starts on an exporter that does not have it yet.
//!
//! Every exporter keeps its own log and its own consumer groups. A lane's group comes
//! into being on an exporter the first time the lane subscribes there, and that can be
//! long after the receiver started: a standby only serves groups with something to
//! drain, and reconnects back off for up to 30 s. So "this exporter has no group for
//! the receiver" means one of two things:
//!
//! * the receiver is **new** (added to the config): no exporter has its group. It
//!   starts where its siblings (the ruler's other receivers) are, so that adding a
//!   receiver does not replay hours of history into it;
//! * the receiver is **known** (some exporter has its group, or an exporter could not
//!   be asked): it never consumed this exporter's log, so it starts at the oldest
//!   retained event. Starting it at its siblings' position would skip, silently and for
//!   good, every event this exporter logged before that position.
//!
//! The decision rests on one snapshot of every exporter's groups, read once per ruler
//! process before any lane subscribes, so that lanes that start together never skip
//! what a faster sibling consumed in the meantime.

use std::sync::Arc;
use std::time::Duration;

use herald_proto::pb;
use tokio::sync::OnceCell;
use tracing::info;

use crate::subscription::Connector;

/// How long the snapshot waits for one exporter's groups; an exporter that does not
/// answer in time counts as unknown.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a group that does not exist yet starts.
#[derive(Clone)]
pub enum StartPolicy {
    /// As the hello says (`None`: the oldest retained event).
    Fixed(Option<pb::StartPosition>),
    /// Where the siblings are for a new receiver, the oldest retained event for a known
    /// one (see the module docs).
    Siblings {
        /// The shared prefix of the groups (the ruler's `group` setting): siblings are
        /// named `base` or `base.*`.
        base: String,
        /// Which exporter this lane subscribes to (an index into the snapshot).
        upstream: usize,
        /// Every exporter's groups as this ruler first saw them.
        snapshot: Arc<GroupsSnapshot>,
    },
}

impl std::fmt::Debug for StartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartPolicy::Fixed(p) => f.debug_tuple("Fixed").field(p).finish(),
            StartPolicy::Siblings { base, upstream, .. } => f
                .debug_struct("Siblings")
                .field("base", base)
                .field("upstream", upstream)
                .finish_non_exhaustive(),
        }
    }
}

impl StartPolicy {
    /// The start position to put in the hello of `group`.
    pub async fn start_for(&self, group: &str) -> Option<pb::StartPosition> {
        match self {
            StartPolicy::Fixed(p) => *p,
            StartPolicy::Siblings {
                base,
                upstream,
                snapshot,
            } => {
                let decision = decide(base, group, *upstream, snapshot.get().await);
                match &decision {
                    Decision::Exists | Decision::New(_) => {}
                    Decision::Known => {
                        info!(
                            group,
                            upstream,
                            "the receiver has a group on another exporter but not on this one: it starts at this log's oldest retained event"
                        );
                    }
                    Decision::Unknown => {
                        info!(
                            group,
                            upstream,
                            "an exporter could not be asked for its groups, so a new receiver cannot be told from a known one: it starts at the oldest retained event"
                        );
                    }
                }
                decision.position()
            }
        }
    }
}

/// What the snapshot says about a group on one exporter.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The exporter has the group: it continues from its committed offset.
    Exists,
    /// No exporter has the group: a new receiver, at its siblings' position (`None`:
    /// no sibling, the oldest retained event).
    New(Option<pb::StartPosition>),
    /// Another exporter has the group: the oldest retained event.
    Known,
    /// An exporter could not be asked: the oldest retained event.
    Unknown,
}

impl Decision {
    /// The start to put in the hello (`None`: the oldest retained event, or the
    /// group's own position when it exists).
    pub fn position(&self) -> Option<pb::StartPosition> {
        match self {
            Decision::New(p) => *p,
            Decision::Exists | Decision::Known | Decision::Unknown => None,
        }
    }
}

/// Decides where `group` starts on exporter `upstream`, given every exporter's groups
/// (`None`: that exporter could not be asked).
pub fn decide(
    base: &str,
    group: &str,
    upstream: usize,
    exporters: &[Option<Vec<pb::GroupStatus>>],
) -> Decision {
    let has = |groups: &[pb::GroupStatus]| groups.iter().any(|g| g.name == group);
    let Some(Some(here)) = exporters.get(upstream) else {
        return Decision::Unknown;
    };
    if has(here) {
        return Decision::Exists;
    }
    if exporters.iter().flatten().any(|groups| has(groups)) {
        return Decision::Known;
    }
    if exporters.iter().any(Option::is_none) {
        return Decision::Unknown;
    }
    let prefix = format!("{base}.");
    Decision::New(
        here.iter()
            .filter(|g| g.name == base || g.name.starts_with(&prefix))
            .map(|g| g.committed_offset)
            .min()
            .map(|committed| pb::StartPosition {
                position: Some(pb::start_position::Position::Offset(committed + 1)),
            }),
    )
}

/// Every exporter's consumer groups, read once (concurrently, each within
/// [`SNAPSHOT_TIMEOUT`]) the first time a lane asks.
pub struct GroupsSnapshot {
    connectors: Vec<Arc<dyn Connector>>,
    groups: OnceCell<Vec<Option<Vec<pb::GroupStatus>>>>,
}

impl GroupsSnapshot {
    /// A snapshot of these exporters' groups, not read yet.
    pub fn new(connectors: Vec<Arc<dyn Connector>>) -> Arc<GroupsSnapshot> {
        Arc::new(GroupsSnapshot {
            connectors,
            groups: OnceCell::new(),
        })
    }

    /// Each exporter's groups, in the order of the connectors (`None`: it did not
    /// answer).
    pub async fn get(&self) -> &[Option<Vec<pb::GroupStatus>>] {
        self.groups
            .get_or_init(|| async {
                let reads = self.connectors.iter().map(|c| async move {
                    match tokio::time::timeout(SNAPSHOT_TIMEOUT, c.groups()).await {
                        Ok(Ok(groups)) => Some(groups),
                        Ok(Err(e)) => {
                            info!(exporter = %c.describe(), error = %e, "cannot read the exporter's consumer groups; receivers without a group anywhere start at the oldest retained event");
                            None
                        }
                        Err(_) => {
                            info!(exporter = %c.describe(), "the exporter did not list its consumer groups in time; receivers without a group anywhere start at the oldest retained event");
                            None
                        }
                    }
                });
                futures::future::join_all(reads).await
            })
            .await
    }
}

#[cfg(test)]
mod tests;
