//! How stored items are presented: as stored (`core/v1` and other full objects),
//! converted to `events.k8s.io/v1`, or reduced to `PartialObjectMetadata`.

use bytes::Bytes;

use crate::json::{push_json_str, with_type_meta};
use crate::model::event::{Event, EventV1};
use crate::status::ListMeta;
use crate::store::{events, objects};

/// Object form of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Objects as stored.
    Full,
    /// Events converted to `events.k8s.io/v1`.
    EventsV1,
    /// `PartialObjectMetadata`.
    Metadata,
}

/// A collection as requested: which kind, at which group/version, in which form.
#[derive(Clone, Debug)]
pub struct Target {
    /// API group of the request.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Kind of the objects.
    pub kind: String,
    /// `group/version` of the request.
    pub api_version: String,
    /// Presentation.
    pub view: View,
    /// Whether the collection is Events (which bypass the watch cache by default).
    pub is_events: bool,
}

const META_KIND: &str = "PartialObjectMetadata";
const META_API: &str = "meta.k8s.io/v1";

impl Target {
    /// The list-item form of a stored object.
    pub fn item(&self, stored: &Bytes) -> Result<Bytes, String> {
        match self.view {
            View::Full => Ok(stored.clone()),
            View::EventsV1 => {
                let e = events::decode(stored)?;
                serde_json::to_vec(&EventV1::from(&e))
                    .map(Bytes::from)
                    .map_err(|err| err.to_string())
            }
            View::Metadata => {
                let raw = objects::metadata_raw(stored)?;
                let mut out = Vec::with_capacity(raw.len() + 64);
                out.extend_from_slice(b"{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
                out.extend_from_slice(raw);
                out.push(b'}');
                Ok(Bytes::from(out))
            }
        }
    }

    /// A standalone object (with `kind`/`apiVersion`), without the trailing newline.
    pub fn object(&self, stored: &Bytes) -> Result<Vec<u8>, String> {
        let item = self.item(stored)?;
        Ok(match self.view {
            View::Metadata => item.to_vec(),
            View::Full | View::EventsV1 => with_type_meta(&self.kind, &self.api_version, &item),
        })
    }

    /// `kind` and `apiVersion` of a list of this target.
    pub fn list_type(&self) -> (String, &str) {
        match self.view {
            View::Metadata => (format!("{META_KIND}List"), META_API),
            View::Full | View::EventsV1 => {
                (format!("{}List", self.kind), self.api_version.as_str())
            }
        }
    }

    /// The opening of a list document, up to and including `"items":[`.
    pub fn list_head(&self, meta: &ListMeta) -> Vec<u8> {
        let (kind, api_version) = self.list_type();
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"{\"kind\":");
        push_json_str(&mut out, &kind);
        out.extend_from_slice(b",\"apiVersion\":");
        push_json_str(&mut out, api_version);
        out.extend_from_slice(b",\"metadata\":");
        // ListMeta is plain strings and integers; serialisation cannot fail.
        let _ = serde_json::to_writer(&mut out, meta);
        out.extend_from_slice(b",\"items\":[");
        out
    }

    /// The minimal object of a BOOKMARK: the Go zero value of the kind with only
    /// `metadata.resourceVersion` set.
    pub fn bookmark(&self, rv: u64) -> Vec<u8> {
        let meta = format!(r#""metadata":{{"resourceVersion":"{rv}","creationTimestamp":null}}"#);
        match self.view {
            View::Metadata => {
                format!(r#"{{"kind":"{META_KIND}","apiVersion":"{META_API}",{meta}}}"#).into_bytes()
            }
            View::Full | View::EventsV1 if self.is_events => {
                let mut e = Event::default();
                e.metadata.resource_version = rv.to_string();
                let item = if self.view == View::EventsV1 {
                    serde_json::to_vec(&EventV1::from(&e))
                } else {
                    serde_json::to_vec(&e)
                }
                .unwrap_or_default();
                with_type_meta(&self.kind, &self.api_version, &item)
            }
            View::Full | View::EventsV1 => {
                let zero = match self.kind.as_str() {
                    "Namespace" | "Service" | "PersistentVolumeClaim" => {
                        r#","spec":{},"status":{}"#
                    }
                    "Pod" => r#","spec":{"containers":null},"status":{}"#,
                    "Lease" => r#","spec":{}"#,
                    _ => "",
                };
                with_type_meta(
                    &self.kind,
                    &self.api_version,
                    format!("{{{meta}{zero}}}").as_bytes(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(view: View, kind: &str, api: &str, is_events: bool) -> Target {
        Target {
            group: String::new(),
            resource: String::new(),
            kind: kind.into(),
            api_version: api.into(),
            view,
            is_events,
        }
    }

    #[test]
    fn event_bookmark_matches_watch_cache_capture() {
        let t = target(View::Full, "Event", "v1", true);
        assert_eq!(
            String::from_utf8(t.bookmark(365)).unwrap(),
            r#"{"kind":"Event","apiVersion":"v1","metadata":{"resourceVersion":"365","creationTimestamp":null},"involvedObject":{},"source":{},"firstTimestamp":null,"lastTimestamp":null,"eventTime":null,"reportingComponent":"","reportingInstance":""}"#
        );
        let v1 = target(View::EventsV1, "Event", "events.k8s.io/v1", true);
        assert_eq!(
            String::from_utf8(v1.bookmark(7)).unwrap(),
            r#"{"kind":"Event","apiVersion":"events.k8s.io/v1","metadata":{"resourceVersion":"7","creationTimestamp":null},"eventTime":null,"regarding":{},"deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null}"#
        );
    }

    #[test]
    fn metadata_view_keeps_metadata_bytes() {
        let t = target(View::Metadata, "Pod", "v1", false);
        let stored = Bytes::from_static(
            br#"{"metadata":{"name":"p","creationTimestamp":null},"spec":{"x":1}}"#,
        );
        assert_eq!(
            &t.item(&stored).unwrap()[..],
            br#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"p","creationTimestamp":null}}"#
        );
        let head = t.list_head(&ListMeta {
            resource_version: "5".into(),
            ..ListMeta::default()
        });
        assert_eq!(
            String::from_utf8(head).unwrap(),
            r#"{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"5"},"items":["#
        );
    }
}
