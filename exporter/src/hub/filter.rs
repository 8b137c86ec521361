//! Server-side subscription filters.

use herald_proto::pb;

/// Returns true when `ev` passes `filter` (every non-empty list must contain the
/// event's value).
pub fn matches(filter: &pb::Filter, ev: &pb::Event) -> bool {
    fn keep(list: &[String], value: &str) -> bool {
        list.is_empty() || list.iter().any(|v| v == value)
    }
    let ns = ev.metadata.as_ref().map_or("", |m| m.namespace.as_str());
    let kind = ev.involved_object.as_ref().map_or("", |o| o.kind.as_str());
    keep(&filter.namespaces, ns)
        && keep(&filter.types, &ev.r#type)
        && keep(&filter.reasons, &ev.reason)
        && keep(&filter.kinds, kind)
}

/// Returns true when the filter lets everything through.
pub fn is_empty(filter: &pb::Filter) -> bool {
    filter.namespaces.is_empty()
        && filter.types.is_empty()
        && filter.reasons.is_empty()
        && filter.kinds.is_empty()
}

/// Canonical form (sorted, deduplicated lists) so equal filters compare equal.
pub fn normalize(mut filter: pb::Filter) -> pb::Filter {
    for list in [
        &mut filter.namespaces,
        &mut filter.types,
        &mut filter.reasons,
        &mut filter.kinds,
    ] {
        list.sort();
        list.dedup();
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ns: &str, ty: &str, reason: &str, kind: &str) -> pb::Event {
        pb::Event {
            metadata: Some(pb::ObjectMeta {
                namespace: ns.into(),
                ..Default::default()
            }),
            r#type: ty.into(),
            reason: reason.into(),
            involved_object: Some(pb::InvolvedObject {
                kind: kind.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn every_list_must_match() {
        let f = pb::Filter {
            namespaces: vec!["shop".into(), "prod".into()],
            types: vec!["Warning".into()],
            ..Default::default()
        };
        assert!(matches(&f, &ev("shop", "Warning", "BackOff", "Pod")));
        assert!(!matches(&f, &ev("shop", "Normal", "BackOff", "Pod")));
        assert!(!matches(&f, &ev("dev", "Warning", "BackOff", "Pod")));
        assert!(matches(&pb::Filter::default(), &ev("", "", "", "")));
    }

    #[test]
    fn normalized_filters_compare_equal() {
        let a = normalize(pb::Filter {
            kinds: vec!["Pod".into(), "Node".into(), "Pod".into()],
            ..Default::default()
        });
        let b = normalize(pb::Filter {
            kinds: vec!["Node".into(), "Pod".into()],
            ..Default::default()
        });
        assert_eq!(a, b);
        assert!(is_empty(&pb::Filter::default()));
        assert!(!is_empty(&a));
    }
}
