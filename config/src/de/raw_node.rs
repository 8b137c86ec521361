//! `Deserialize` for [`Node`], so a raw subtree can be a field (a sink's
//! `layout`, the `route` tree) and be decoded later with its locations.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{NODE_TOKEN, take_node};
use crate::location::Location;
use crate::node::{Key, Node, NodeValue};

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(NODE_TOKEN, NodeVisitor)
    }
}

/// Receives the node from the located deserializer, or rebuilds it (without
/// locations) from any other deserializer.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(take_node().unwrap_or_default())
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

/// Builds an unlocated node from any self-describing format.
struct AnyVisitor;

fn plain(value: NodeValue) -> Node {
    Node::new(value, Location::UNKNOWN)
}

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(plain(NodeValue::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(plain(NodeValue::Int(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(plain(match i64::try_from(v) {
            Ok(i) => NodeValue::Int(i),
            Err(_) => NodeValue::Float(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(plain(NodeValue::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(plain(NodeValue::String(v.to_owned())))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(plain(NodeValue::Null))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(plain(NodeValue::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(plain(NodeValue::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(NodeSeed)?;
            entries.push((
                Key {
                    name,
                    loc: Location::UNKNOWN,
                },
                value,
            ));
        }
        Ok(plain(NodeValue::Map(entries)))
    }
}

struct NodeSeed;

impl<'de> serde::de::DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}
