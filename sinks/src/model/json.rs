//! [`kee_json`]: the default JSON of an event (no layout), byte for byte what
//! kubernetes-event-exporter's `json.Marshal(EnhancedEvent)` writes.
//!
//! Written directly from the [`Event`] (no intermediate tree) because every
//! event of every layout-less receiver goes through it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use herald_proto::event::StringMap;
use herald_proto::{Event, EventSeries, OwnerReference};

use super::escape::write_json_string;
use super::time::push_utc;

/// Appends the KEE JSON of `ev` to `out` (no trailing newline).
///
/// Field order, `omitempty` rules, always-present `source`,
/// `reportingComponent`, `reportingInstance`, `clusterName` and `deleted`,
/// `null` for zero timestamps, `metav1.Time` with seconds and `MicroTime` with
/// microseconds, sorted map keys and HTML escaping all follow Go's
/// `encoding/json` as kubernetes-event-exporter uses it. With `dedot` (KEE's
/// `deDot`), the keys of the event's and the involved object's labels and
/// annotations have every `.` replaced by `_`.
pub fn kee_json(ev: &Event, dedot: bool, out: &mut Vec<u8>) {
    let mut w = Obj::open(out);
    // metadata
    let m = &ev.metadata;
    w.key("metadata");
    {
        let mut mo = Obj::open(w.out);
        mo.opt_str("name", &m.name);
        mo.opt_str("generateName", &m.generate_name);
        mo.opt_str("namespace", &m.namespace);
        mo.opt_str("selfLink", &m.self_link);
        mo.opt_str("uid", &m.uid);
        mo.opt_str("resourceVersion", &m.resource_version);
        if m.generation != 0 {
            mo.key("generation");
            write_int(mo.out, m.generation);
        }
        mo.key("creationTimestamp");
        write_time(mo.out, m.creation_timestamp, false);
        if let Some(t) = m.deletion_timestamp {
            mo.key("deletionTimestamp");
            write_time(mo.out, Some(t), false);
        }
        if let Some(s) = m.deletion_grace_period_seconds {
            mo.key("deletionGracePeriodSeconds");
            write_int(mo.out, s);
        }
        mo.opt_map("labels", &m.labels, dedot);
        mo.opt_map("annotations", &m.annotations, dedot);
        mo.opt_owners(&m.owner_references);
        if !m.finalizers.is_empty() {
            mo.key("finalizers");
            mo.out.push(b'[');
            for (i, f) in m.finalizers.iter().enumerate() {
                if i > 0 {
                    mo.out.push(b',');
                }
                write_json_string(mo.out, f);
            }
            mo.out.push(b']');
        }
        mo.close();
    }
    w.opt_str("reason", &ev.reason);
    w.opt_str("message", &ev.message);
    w.key("source");
    {
        let mut so = Obj::open(w.out);
        so.opt_str("component", &ev.source.component);
        so.opt_str("host", &ev.source.host);
        so.close();
    }
    w.key("firstTimestamp");
    write_time(w.out, ev.first_timestamp, false);
    w.key("lastTimestamp");
    write_time(w.out, ev.last_timestamp, false);
    if ev.count != 0 {
        w.key("count");
        write_int(w.out, i64::from(ev.count));
    }
    w.opt_str("type", &ev.event_type);
    w.key("eventTime");
    write_time(w.out, ev.event_time, true);
    if let Some(s) = &ev.series {
        w.key("series");
        write_series(w.out, s);
    }
    w.opt_str("action", &ev.action);
    if let Some(r) = &ev.related {
        w.key("related");
        let mut ro = Obj::open(w.out);
        ro.reference([
            &r.kind,
            &r.namespace,
            &r.name,
            &r.uid,
            &r.api_version,
            &r.resource_version,
            &r.field_path,
        ]);
        ro.close();
    }
    w.key("reportingComponent");
    write_json_string(w.out, &ev.reporting_component);
    w.key("reportingInstance");
    write_json_string(w.out, &ev.reporting_instance);
    w.key("clusterName");
    write_json_string(w.out, &ev.cluster_name);
    w.key("involvedObject");
    {
        let io = &ev.involved_object;
        let mut oo = Obj::open(w.out);
        oo.reference([
            &io.kind,
            &io.namespace,
            &io.name,
            &io.uid,
            &io.api_version,
            &io.resource_version,
            &io.field_path,
        ]);
        oo.opt_map("labels", &io.labels, dedot);
        oo.opt_map("annotations", &io.annotations, dedot);
        oo.opt_owners(&io.owner_references);
        oo.key("deleted");
        oo.out
            .extend_from_slice(if io.deleted { b"true" } else { b"false" });
        oo.close();
    }
    w.close();
}

/// Returns the key with every `.` replaced by `_` when `dedot` is set.
pub(crate) fn dedot_key(key: &str, dedot: bool) -> Cow<'_, str> {
    if dedot && key.contains('.') {
        Cow::Owned(key.replace('.', "_"))
    } else {
        Cow::Borrowed(key)
    }
}

/// Returns whether de-dotting changes any key of `m`.
pub(crate) fn has_dotted_key(m: &StringMap) -> bool {
    m.keys().any(|k| k.contains('.'))
}

/// Writes a JSON object member by member, inserting commas.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes a member name (escaped like any string: map keys are user data).
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_json_string(self.out, k);
        self.out.push(b':');
    }

    fn close(self) {
        self.out.push(b'}');
    }

    /// A string field with `omitempty`.
    fn opt_str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.key(k);
            write_json_string(self.out, v);
        }
    }

    /// A `map[string]string` field with `omitempty`, keys sorted (after
    /// de-dotting, as Go sorts when it marshals the de-dotted copy).
    fn opt_map(&mut self, k: &str, m: &StringMap, dedot: bool) {
        if m.is_empty() {
            return;
        }
        self.key(k);
        if dedot && has_dotted_key(m) {
            let dedotted: BTreeMap<Cow<'_, str>, &str> = m
                .iter()
                .map(|(k, v)| (dedot_key(k, true), v.as_str()))
                .collect();
            write_map(self.out, dedotted.iter().map(|(k, v)| (k.as_ref(), *v)));
        } else {
            write_map(self.out, m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
    }

    /// `ownerReferences` with `omitempty`.
    fn opt_owners(&mut self, refs: &[OwnerReference]) {
        if refs.is_empty() {
            return;
        }
        self.key("ownerReferences");
        self.out.push(b'[');
        for (i, r) in refs.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let mut o = Obj::open(self.out);
            o.key("apiVersion");
            write_json_string(o.out, &r.api_version);
            o.key("kind");
            write_json_string(o.out, &r.kind);
            o.key("name");
            write_json_string(o.out, &r.name);
            o.key("uid");
            write_json_string(o.out, &r.uid);
            if let Some(c) = r.controller {
                o.key("controller");
                write_bool(o.out, c);
            }
            if let Some(b) = r.block_owner_deletion {
                o.key("blockOwnerDeletion");
                write_bool(o.out, b);
            }
            o.close();
        }
        self.out.push(b']');
    }

    /// The `omitempty` members of a `v1.ObjectReference`, in Go order: kind,
    /// namespace, name, uid, apiVersion, resourceVersion, fieldPath.
    fn reference(&mut self, fields: [&str; 7]) {
        const NAMES: [&str; 7] = [
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        ];
        for (name, value) in NAMES.iter().zip(fields) {
            self.opt_str(name, value);
        }
    }
}

fn write_map<'k>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'k str, &'k str)>) {
    let mut o = Obj::open(out);
    for (k, v) in entries {
        o.key(k);
        write_json_string(o.out, v);
    }
    o.close();
}

fn write_series(out: &mut Vec<u8>, s: &EventSeries) {
    let mut o = Obj::open(out);
    if s.count != 0 {
        o.key("count");
        write_int(o.out, i64::from(s.count));
    }
    o.key("lastObservedTime");
    write_time(o.out, s.last_observed_time, true);
    o.close();
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
}

fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

/// `metav1.Time` (RFC 3339, seconds) or `metav1.MicroTime`
/// (`2006-01-02T15:04:05.000000Z`), in UTC; `null` when unset.
fn write_time(out: &mut Vec<u8>, t: Option<DateTime<Utc>>, micro: bool) {
    match t {
        None => out.extend_from_slice(b"null"),
        Some(t) => {
            out.push(b'"');
            push_utc(out, &t, if micro { 6 } else { 0 });
            out.push(b'"');
        }
    }
}
