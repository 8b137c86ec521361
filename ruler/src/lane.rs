//! Receiver lanes: every receiver reads the exporter's log through a consumer group of
//! its own, so a receiver that is down or slow holds back only its own position.
//!
//! The group of receiver `R` is `<ruler.group>.<R>` (`ruler.elasticsearch`). Group names
//! allow `[A-Za-z0-9._-]` and 128 characters; a receiver name outside that keeps its
//! allowed characters and gets a short hash of the full name appended, so distinct
//! names never share a group.

/// Longest group name the exporter accepts.
const MAX_GROUP: usize = 128;

/// The consumer group of receiver `receiver` under the ruler group `base`.
pub fn group_name(base: &str, receiver: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let plain = format!("{base}.{receiver}");
    if receiver.chars().all(allowed) && !receiver.is_empty() && plain.len() <= MAX_GROUP {
        return plain;
    }
    let cleaned: String = receiver
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    let hash = format!("{:08x}", fnv1a(receiver.as_bytes()));
    let room = MAX_GROUP.saturating_sub(base.len() + 2 + hash.len());
    let cut: String = cleaned.chars().take(room).collect();
    format!("{base}.{cut}-{hash}")
}

/// 32-bit FNV-1a: stable across versions and platforms (group names are persisted).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept_and_others_get_a_stable_hash() {
        assert_eq!(group_name("ruler", "dump"), "ruler.dump");
        assert_eq!(group_name("ruler", "es-prod_1"), "ruler.es-prod_1");
        let a = group_name("ruler", "team a/slack");
        let b = group_name("ruler", "team a:slack");
        assert!(a.starts_with("ruler.team_a_slack-"), "{a}");
        assert_ne!(a, b, "names that clean to the same text stay apart");
        assert_eq!(a, group_name("ruler", "team a/slack"), "stable");
        let long = group_name("ruler", &"x".repeat(300));
        assert!(long.len() <= MAX_GROUP, "{}", long.len());
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        );
        assert!(group_name("ruler", "").starts_with("ruler.-"));
    }
}
