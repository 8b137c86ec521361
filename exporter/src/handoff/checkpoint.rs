//! The failover checkpoint a leader keeps in its Lease (JSON in the annotation
//! `herald.dev/checkpoint`), and the rule a successor derives from it.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a leader publishes about the Event stream it handled.
///
/// ```json
/// {"rv":"1200","logId":"6f0…","coveredRv":"1350","pending":[1210,3,5]}
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Every Event change up to this resourceVersion was handled, and every occurrence
    /// logged from them is acknowledged by every consumer group. The successor resumes
    /// its watch here. Empty: nothing yet.
    pub rv: String,
    /// The log (exporter data) that wrote it.
    pub log_id: String,
    /// Every Event change up to this resourceVersion was handled, and every occurrence
    /// logged from them is acknowledged by every consumer group except those of the
    /// changes in `pending`. Absent: nothing is known beyond `rv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_rv: Option<String>,
    /// resourceVersions of the changes up to `covered_rv` whose occurrences were
    /// logged but are not acknowledged by every consumer group, ascending. On the wire
    /// each is the difference to the one before it (the first is absolute), which
    /// keeps a few thousand of them in a few KiB.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "to_deltas",
        deserialize_with = "from_deltas"
    )]
    pub pending: Vec<u64>,
}

fn to_deltas<S: Serializer>(values: &[u64], s: S) -> Result<S::Ok, S::Error> {
    let mut previous = 0;
    let deltas: Vec<u64> = values
        .iter()
        .map(|v| {
            let d = v.saturating_sub(previous);
            previous = *v;
            d
        })
        .collect();
    deltas.serialize(s)
}

fn from_deltas<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let deltas = Vec::<u64>::deserialize(d)?;
    let mut value: u64 = 0;
    deltas
        .into_iter()
        .map(|delta| {
            value = value
                .checked_add(delta)
                .ok_or_else(|| serde::de::Error::custom("pending resourceVersion overflows"))?;
            Ok(value)
        })
        .collect()
}

impl Checkpoint {
    /// Parses the annotation; `None` for an empty or malformed value (the successor
    /// then knows nothing and relies on its own state).
    pub fn parse(text: &str) -> Option<Checkpoint> {
        if text.is_empty() {
            return None;
        }
        serde_json::from_str(text).ok()
    }

    /// The annotation value.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a new leader does with one Event change its watch (or list) delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The previous leader handled it and every consumer group acknowledged what it
    /// logged: remember the occurrence, do not log it.
    Handled,
    /// The previous leader logged it but not every group acknowledged it: log it again
    /// (a consumer that had received it gets it twice, with the same idempotency key).
    Pending,
    /// The previous leader did not handle it: the usual rules apply.
    New,
}

/// The rule a new leader applies to the changes its predecessor may have handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handover {
    acknowledged: Option<u64>,
    covered: Option<u64>,
    pending: HashSet<u64>,
}

impl Handover {
    /// The rule of `checkpoint`. resourceVersions that are not numbers (Kubernetes
    /// declares them opaque; every API server in use counts) cover nothing.
    pub fn from_checkpoint(checkpoint: &Checkpoint) -> Handover {
        let acknowledged = checkpoint.rv.parse().ok();
        let covered = checkpoint
            .covered_rv
            .as_deref()
            .and_then(|c| c.parse().ok())
            .filter(|c| acknowledged.is_none_or(|a| *c > a));
        Handover {
            acknowledged,
            covered,
            pending: if covered.is_some() {
                checkpoint.pending.iter().copied().collect()
            } else {
                HashSet::new()
            },
        }
    }

    /// Decides about the change with resourceVersion `rv`.
    pub fn decide(&self, rv: &str) -> Decision {
        let Ok(rv) = rv.parse::<u64>() else {
            return Decision::New;
        };
        if self.pending.contains(&rv) {
            Decision::Pending
        } else if self.acknowledged.is_some_and(|a| rv <= a)
            || self.covered.is_some_and(|c| rv <= c)
        {
            Decision::Handled
        } else {
            Decision::New
        }
    }

    /// The newest resourceVersion this rule says anything about.
    pub fn covered(&self) -> Option<u64> {
        self.covered.or(self.acknowledged)
    }

    /// The pending changes newer than `rv`.
    pub fn pending_after(&self, rv: u64) -> impl Iterator<Item = u64> + '_ {
        self.pending.iter().copied().filter(move |p| *p > rv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(rv: &str, covered: Option<&str>, pending: &[u64]) -> Checkpoint {
        Checkpoint {
            rv: rv.into(),
            log_id: "log-a".into(),
            covered_rv: covered.map(str::to_owned),
            pending: pending.to_vec(),
        }
    }

    #[test]
    fn pending_travels_as_deltas_and_comes_back_absolute() {
        let cp = checkpoint("1200", Some("1350"), &[1210, 1213, 1218]);
        let json = cp.to_json();
        assert_eq!(
            json,
            r#"{"rv":"1200","logId":"log-a","coveredRv":"1350","pending":[1210,3,5]}"#
        );
        assert_eq!(Checkpoint::parse(&json), Some(cp));
    }

    #[test]
    fn checkpoints_of_earlier_versions_still_parse() {
        let cp = Checkpoint::parse(r#"{"rv":"77","logId":"log-a"}"#).unwrap();
        assert_eq!(cp, checkpoint("77", None, &[]));
        assert_eq!(
            checkpoint("77", None, &[]).to_json(),
            r#"{"rv":"77","logId":"log-a"}"#,
            "nothing new is written when there is nothing to say"
        );
        assert_eq!(Checkpoint::parse(""), None);
        assert_eq!(Checkpoint::parse("rv=5"), None);
        assert_eq!(
            Checkpoint::parse(&format!(
                r#"{{"rv":"1","logId":"x","coveredRv":"9","pending":[{},{}]}}"#,
                u64::MAX,
                2
            )),
            None,
            "an overflowing list is malformed"
        );
    }

    #[test]
    fn the_rule_skips_what_was_covered_and_acknowledged_only() {
        let h = Handover::from_checkpoint(&checkpoint("100", Some("150"), &[120, 140]));
        assert_eq!(h.decide("90"), Decision::Handled);
        assert_eq!(h.decide("100"), Decision::Handled);
        assert_eq!(h.decide("101"), Decision::Handled);
        assert_eq!(h.decide("120"), Decision::Pending);
        assert_eq!(h.decide("140"), Decision::Pending);
        assert_eq!(h.decide("150"), Decision::Handled);
        assert_eq!(h.decide("151"), Decision::New);
        assert_eq!(h.decide("not-a-number"), Decision::New);
        assert_eq!(h.covered(), Some(150));
        let mut after: Vec<u64> = h.pending_after(125).collect();
        after.sort_unstable();
        assert_eq!(after, vec![140]);
    }

    #[test]
    fn an_earlier_version_checkpoint_covers_its_prefix_only() {
        let h = Handover::from_checkpoint(&checkpoint("100", None, &[]));
        assert_eq!(h.decide("100"), Decision::Handled);
        assert_eq!(h.decide("101"), Decision::New);
        assert_eq!(h.covered(), Some(100));
        // pending without a covered position means nothing
        let h = Handover::from_checkpoint(&checkpoint("100", None, &[120]));
        assert_eq!(h.decide("120"), Decision::New);
        // a covered position behind the prefix, or not a number, adds nothing
        let h = Handover::from_checkpoint(&checkpoint("100", Some("90"), &[95]));
        assert_eq!(h.decide("95"), Decision::Handled);
        assert_eq!(h.covered(), Some(100));
        let h = Handover::from_checkpoint(&checkpoint("", Some("x"), &[]));
        assert_eq!(h.decide("1"), Decision::New);
        assert_eq!(h.covered(), None);
    }

    #[test]
    fn a_pending_change_is_logged_even_below_the_prefix() {
        // cannot be produced by a leader, but must never turn into a loss
        let h = Handover::from_checkpoint(&checkpoint("100", Some("150"), &[80]));
        assert_eq!(h.decide("80"), Decision::Pending);
    }
}
