//! The labels of every namespace, kept current by a metadata-only list+watch of
//! Namespaces (`lookup.watchNamespaces`), so a label change reaches the next Events
//! within seconds instead of after the lookup cache's TTL.
//!
//! A namespace the view does not hold (the list has not completed yet, the watch is
//! refused, the namespace is newer than the last notification) is looked up with a
//! GET as before. While a list is in progress the previous view keeps serving; a
//! completed list replaces it, so a namespace deleted while the watch was down goes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use tracing::debug;

use super::super::api::ObjectMetadata;
use super::super::error::ApiError;
use super::super::metadata_watch::{Change, MetadataSink};

type Labels = BTreeMap<String, String>;

/// Namespace name → labels, fed by the watch; shared with the enricher.
#[derive(Debug, Default)]
pub(super) struct NamespaceView {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// What the enricher reads.
    current: HashMap<String, Labels>,
    /// A list in progress (replaces `current` when complete).
    listing: Option<HashMap<String, Labels>>,
}

impl NamespaceView {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The labels of namespace `name`, when the watch has seen it.
    pub(super) fn labels(&self, name: &str) -> Option<Labels> {
        self.lock().current.get(name).cloned()
    }

    /// Namespaces in the view.
    pub(super) fn len(&self) -> usize {
        self.lock().current.len()
    }
}

impl MetadataSink for NamespaceView {
    fn list_started(&self) {
        self.lock().listing = Some(HashMap::new());
    }

    fn list_page(&self, items: Vec<ObjectMetadata>) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let target = match inner.listing.as_mut() {
            Some(listing) => listing,
            None => &mut inner.current,
        };
        for m in items.into_iter().filter(|m| !m.name.is_empty()) {
            target.insert(m.name, m.labels);
        }
    }

    fn list_complete(&self) {
        let mut inner = self.lock();
        if let Some(listing) = inner.listing.take() {
            inner.current = listing;
        }
    }

    fn change(&self, change: Change) {
        let mut inner = self.lock();
        match change {
            Change::Upsert(m) if !m.name.is_empty() => {
                debug!(namespace = %m.name, labels = m.labels.len(), "namespace labels changed");
                inner.current.insert(m.name, m.labels);
            }
            Change::Delete(m) => {
                inner.current.remove(&m.name);
            }
            Change::Upsert(_) => {}
        }
    }

    fn unavailable(&self, error: &ApiError) {
        debug!(%error, "namespace metadata watch unavailable, namespace labels are looked up one by one");
        // nothing keeps the view current any more: look namespaces up with GETs
        let mut inner = self.lock();
        inner.current.clear();
        inner.listing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str, labels: &[(&str, &str)]) -> ObjectMetadata {
        ObjectMetadata {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ObjectMetadata::default()
        }
    }

    fn team(view: &NamespaceView, name: &str) -> Option<String> {
        view.labels(name)
            .map(|l| l.get("team").cloned().unwrap_or_default())
    }

    #[test]
    fn a_list_then_changes_keep_the_labels_current() {
        let view = NamespaceView::default();
        assert_eq!(view.labels("shop"), None);
        view.list_started();
        view.list_page(vec![ns("shop", &[("team", "a")]), ns("web", &[])]);
        assert_eq!(view.labels("shop"), None, "not before the list completes");
        view.list_complete();
        assert_eq!(team(&view, "shop").as_deref(), Some("a"));
        assert_eq!(view.len(), 2);
        view.change(Change::Upsert(ns("shop", &[("team", "b")])));
        assert_eq!(team(&view, "shop").as_deref(), Some("b"));
        view.change(Change::Upsert(ns("shop", &[])));
        assert_eq!(team(&view, "shop").as_deref(), Some(""), "label removed");
        view.change(Change::Delete(ns("web", &[])));
        assert_eq!(view.labels("web"), None);
    }

    #[test]
    fn a_relist_serves_the_old_view_until_complete_and_drops_what_is_gone() {
        let view = NamespaceView::default();
        view.list_started();
        view.list_page(vec![ns("shop", &[("team", "a")]), ns("old", &[])]);
        view.list_complete();
        view.list_started();
        view.list_page(vec![ns("shop", &[("team", "c")])]);
        assert_eq!(team(&view, "shop").as_deref(), Some("a"));
        view.list_complete();
        assert_eq!(team(&view, "shop").as_deref(), Some("c"));
        assert_eq!(view.labels("old"), None);
        view.unavailable(&ApiError::Forbidden {
            code: 403,
            message: "namespaces is forbidden".into(),
        });
        assert_eq!(view.labels("shop"), None, "GETs take over");
    }
}
