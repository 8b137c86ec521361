//! Generic objects (involved objects, namespaces, leases): stored as
//! `{"metadata":…,<other top-level fields>}` and addressed by resource, namespace, name.

use bytes::Bytes;

use crate::model::meta::{MetadataOnly, ObjectMeta};
use crate::resources::ResourceDef;

/// Store key of an object.
pub fn key(def: &ResourceDef, namespace: &str, name: &str) -> String {
    if def.namespaced {
        format!("{}{namespace}/{name}", def.collection())
    } else {
        format!("{}{name}", def.collection())
    }
}

/// Collection (and namespace) prefix for lists and watches.
pub fn prefix(def: &ResourceDef, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if def.namespaced => format!("{}{ns}/", def.collection()),
        _ => def.collection(),
    }
}

/// Serialises an object item: metadata first, then `rest` (comma-separated `"key":value`
/// members, possibly empty).
pub fn encode(meta: &ObjectMeta, rest: &str) -> Result<Bytes, String> {
    let mut out = b"{\"metadata\":".to_vec();
    serde_json::to_writer(&mut out, meta).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        out.push(b',');
        out.extend_from_slice(rest.as_bytes());
    }
    out.push(b'}');
    Ok(Bytes::from(out))
}

/// Byte range of the `metadata` value inside an item.
fn metadata_span(item: &[u8]) -> Result<(usize, usize), String> {
    let only: MetadataOnly<'_> = serde_json::from_slice(item).map_err(|e| e.to_string())?;
    let raw = only.metadata.get();
    // `raw` borrows from `item` (the deserializer works in place), so its offset is the
    // distance between the two pointers.
    let start = (raw.as_ptr() as usize).wrapping_sub(item.as_ptr() as usize);
    let end = start.wrapping_add(raw.len());
    if end > item.len() || start > end {
        return Err("metadata is not borrowed from the item".to_owned());
    }
    Ok((start, end))
}

/// The raw `metadata` JSON of an item.
pub fn metadata_raw(item: &[u8]) -> Result<&[u8], String> {
    let (start, end) = metadata_span(item)?;
    Ok(&item[start..end])
}

/// The parsed metadata of an item.
pub fn metadata(item: &[u8]) -> Result<ObjectMeta, String> {
    serde_json::from_slice(metadata_raw(item)?).map_err(|e| e.to_string())
}

/// The members after `metadata` (`"spec":…,"status":…`), without the leading comma.
pub fn rest(item: &[u8]) -> Result<&[u8], String> {
    let (_, end) = metadata_span(item)?;
    let tail = item.get(end..).unwrap_or_default();
    let tail = tail.strip_suffix(b"}").unwrap_or(tail);
    Ok(tail.strip_prefix(b",").unwrap_or(tail))
}

/// Rewrites only the metadata of an item, keeping the other bytes as they are.
pub fn replace_metadata(item: &[u8], f: impl FnOnce(&mut ObjectMeta)) -> Result<Bytes, String> {
    let (start, end) = metadata_span(item)?;
    let mut meta: ObjectMeta =
        serde_json::from_slice(&item[start..end]).map_err(|e| e.to_string())?;
    f(&mut meta);
    let mut out = Vec::with_capacity(item.len() + 16);
    out.extend_from_slice(&item[..start]);
    serde_json::to_writer(&mut out, &meta).map_err(|e| e.to_string())?;
    out.extend_from_slice(&item[end..]);
    Ok(Bytes::from(out))
}

/// Serialises the top-level members of a JSON object other than
/// `kind`/`apiVersion`/`metadata`, comma-separated.
pub fn rest_from_value(obj: &serde_json::Map<String, serde_json::Value>) -> Result<String, String> {
    let mut out = String::new();
    for (k, v) in obj {
        if k == "kind" || k == "apiVersion" || k == "metadata" {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).map_err(|e| e.to_string())?);
        out.push(':');
        out.push_str(&serde_json::to_string(v).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Parses `rest` (comma-separated members) as a JSON object.
pub fn rest_map(rest: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut doc = Vec::with_capacity(rest.len() + 2);
    doc.push(b'{');
    doc.extend_from_slice(rest);
    doc.push(b'}');
    serde_json::from_slice(&doc).map_err(|e| e.to_string())
}

/// A write of a custom resource's object (not of its `status` subresource): the new
/// members and `metadata.generation`. `old` is the stored generation and members.
/// With a status subresource the stored status is kept (the written one is
/// ignored) and only other members move the generation; without one, any member
/// does. A new object starts at generation 1.
pub fn custom_write(
    rest: &str,
    old: Option<(i64, &[u8])>,
    status_subresource: bool,
) -> Result<(String, i64), String> {
    let mut new = rest_map(rest.as_bytes())?;
    let Some((generation, old_rest)) = old else {
        if status_subresource {
            new.remove("status");
        }
        return Ok((rest_from_value(&new)?, 1));
    };
    let mut old = rest_map(old_rest)?;
    if status_subresource {
        new.remove("status");
        let kept = old.remove("status");
        let changed = new != old;
        if let Some(st) = kept {
            new.insert("status".to_owned(), st);
        }
        let generation = if changed { generation + 1 } else { generation };
        return Ok((rest_from_value(&new)?, generation.max(1)));
    }
    let generation = if new == old {
        generation
    } else {
        generation + 1
    };
    Ok((rest_from_value(&new)?, generation.max(1)))
}

/// Default members for kinds whose Go types always serialise them.
pub fn default_rest(kind: &str) -> &'static str {
    match kind {
        "Namespace" => r#""spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}"#,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_can_be_replaced_in_place() {
        let item = br#"{"metadata":{"name":"l","resourceVersion":"1","creationTimestamp":null},"spec":{"holderIdentity":"a","leaseDurationSeconds":15}}"#;
        let out = replace_metadata(item, |m| m.resource_version = "2".into()).unwrap();
        assert_eq!(
            &out[..],
            br#"{"metadata":{"name":"l","resourceVersion":"2","creationTimestamp":null},"spec":{"holderIdentity":"a","leaseDurationSeconds":15}}"#
        );
        assert_eq!(
            rest(&out).unwrap(),
            br#""spec":{"holderIdentity":"a","leaseDurationSeconds":15}"#
        );
        assert_eq!(metadata(&out).unwrap().name, "l");
    }

    #[test]
    fn encode_and_rest_of_metadata_only_object() {
        let meta = ObjectMeta {
            name: "p".into(),
            ..ObjectMeta::default()
        };
        let item = encode(&meta, "").unwrap();
        assert_eq!(
            &item[..],
            br#"{"metadata":{"name":"p","creationTimestamp":null}}"#
        );
        assert_eq!(rest(&item).unwrap(), b"");
    }

    #[test]
    fn custom_writes_track_the_generation_and_keep_the_status() {
        let (rest, g) = custom_write(r#""spec":{"a":1},"status":{"x":1}"#, None, true).unwrap();
        assert_eq!((rest.as_str(), g), (r#""spec":{"a":1}"#, 1));
        let stored = br#""spec":{"a":1},"status":{"ok":true}"#;
        // the same spec, another status: nothing changes
        let (rest, g) = custom_write(
            r#""spec":{"a":1},"status":{"x":2}"#,
            Some((1, stored)),
            true,
        )
        .unwrap();
        assert_eq!(
            (rest.as_str(), g),
            (r#""spec":{"a":1},"status":{"ok":true}"#, 1)
        );
        // a new spec: generation 2, status kept
        let (rest, g) = custom_write(r#""spec":{"a":2}"#, Some((1, stored)), true).unwrap();
        assert_eq!(
            (rest.as_str(), g),
            (r#""spec":{"a":2},"status":{"ok":true}"#, 2)
        );
        // without a status subresource, status is written and moves the generation
        let (rest, g) = custom_write(
            r#""spec":{"a":1},"status":{"x":2}"#,
            Some((1, stored)),
            false,
        )
        .unwrap();
        assert_eq!(
            (rest.as_str(), g),
            (r#""spec":{"a":1},"status":{"x":2}"#, 2)
        );
    }

    #[test]
    fn keys_follow_scope() {
        let ns = ResourceDef::new("", &["v1"], "namespaces", "Namespace", false);
        let pods = ResourceDef::new("", &["v1"], "pods", "Pod", true);
        assert_eq!(key(&ns, "", "shop"), "namespaces/shop");
        assert_eq!(key(&pods, "shop", "p"), "pods/shop/p");
        assert_eq!(prefix(&pods, Some("shop")), "pods/shop/");
        assert_eq!(prefix(&ns, Some("shop")), "namespaces/");
    }
}
