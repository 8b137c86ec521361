//! kubernetes-event-exporter's `deDot`: a copy of the event
//! whose labels and annotations keys have every `.` replaced by `_`, made
//! before layout rendering so templates see the de-dotted keys.

use std::borrow::Cow;

use herald_proto::Event;
use herald_proto::event::StringMap;

use super::json::has_dotted_key;

/// Returns the event with the keys of `metadata.labels`,
/// `metadata.annotations`, `involvedObject.labels` and
/// `involvedObject.annotations` de-dotted; borrows it when no key has a dot.
///
/// When two keys collide after replacement (`a.b` and `a_b`), the one that
/// sorts last in the original map wins (KEE picked one at random).
pub fn dedot_event(ev: &Event) -> Cow<'_, Event> {
    let dotted = has_dotted_key(&ev.metadata.labels)
        || has_dotted_key(&ev.metadata.annotations)
        || has_dotted_key(&ev.involved_object.labels)
        || has_dotted_key(&ev.involved_object.annotations);
    if !dotted {
        return Cow::Borrowed(ev);
    }
    let mut copy = ev.clone();
    dedot_map(&mut copy.metadata.labels);
    dedot_map(&mut copy.metadata.annotations);
    dedot_map(&mut copy.involved_object.labels);
    dedot_map(&mut copy.involved_object.annotations);
    Cow::Owned(copy)
}

fn dedot_map(m: &mut StringMap) {
    if has_dotted_key(m) {
        *m = std::mem::take(m)
            .into_iter()
            .map(|(k, v)| (k.replace('.', "_"), v))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_dots_in_keys_only_and_borrows_when_clean() {
        let mut ev = Event::default();
        ev.metadata.labels.insert("plain".into(), "v.1".into());
        assert!(matches!(dedot_event(&ev), Cow::Borrowed(_)));
        ev.involved_object
            .annotations
            .insert("app.kubernetes.io/name".into(), "web.shop".into());
        let d = dedot_event(&ev);
        assert!(matches!(d, Cow::Owned(_)));
        assert_eq!(
            d.involved_object.annotations.get("app_kubernetes_io/name"),
            Some(&"web.shop".to_owned())
        );
        assert_eq!(d.metadata.labels.get("plain"), Some(&"v.1".to_owned()));
    }

    #[test]
    fn collisions_keep_the_key_that_sorts_last() {
        let mut ev = Event::default();
        ev.metadata.labels.insert("a.b".into(), "dotted".into());
        ev.metadata
            .labels
            .insert("a_b".into(), "underscored".into());
        let d = dedot_event(&ev);
        assert_eq!(d.metadata.labels.len(), 1);
        assert_eq!(
            d.metadata.labels.get("a_b"),
            Some(&"underscored".to_owned())
        );
    }
}
