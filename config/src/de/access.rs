//! serde access types for lists, mappings, structs, enums and mapping keys.
//!
//! Values whose errors were reported in an earlier pass are skipped (and the
//! collection remembers it, so a resulting `missing required key` is not
//! reported twice). Struct keys that are not fields are reported as unknown.

use std::cell::Cell;

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::error::{DeError, Origin};
use super::node_de::NodeDe;
use super::{LOCATED_TOKEN, NODE_TOKEN, Side, child_path, index_path, node_id, put_side};
use crate::diagnostics::{Diagnostic, Severity};
use crate::location::Location;
use crate::node::{Key, Node, NodeValue, ScalarStyle};
use crate::redact::EnvValues;
use crate::suggest::{one_of, suggest};

/// A null node for enum variants written without a value.
static NULL_NODE: Node = Node {
    value: NodeValue::Null,
    loc: Location::UNKNOWN,
    style: ScalarStyle::Plain,
    raw: None,
    env: EnvValues::none(),
};

/// Deserializes `child` with `seed`, attaching the child's location to errors
/// raised by visitors that never reached the deserializer.
fn deserialize_child<'a, T: DeserializeSeed<'a>>(
    seed: T,
    child: NodeDe<'a>,
) -> Result<T::Value, DeError> {
    let origin = child.origin();
    seed.deserialize(child).map_err(|mut e| {
        e.origin.get_or_insert(origin);
        e
    })
}

// === impl SeqDe ===

/// Items of a list.
pub(super) struct SeqDe<'a, 'p> {
    parent: &'p NodeDe<'a>,
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    skipped: &'p Cell<bool>,
}

impl<'a, 'p> SeqDe<'a, 'p> {
    pub(super) fn new(parent: &'p NodeDe<'a>, items: &'a [Node], skipped: &'p Cell<bool>) -> Self {
        SeqDe {
            parent,
            items: items.iter().enumerate(),
            skipped,
        }
    }
}

impl<'a> de::SeqAccess<'a> for SeqDe<'a, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        for (i, item) in self.items.by_ref() {
            if self.parent.ctx.is_skipped(item) {
                self.skipped.set(true);
                continue;
            }
            let child = self.parent.child(item, index_path(&self.parent.path, i));
            return deserialize_child(seed, child).map(Some);
        }
        Ok(None)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

// === impl MapDe ===

/// Entries of a free-form mapping (`HashMap`, `BTreeMap`, …).
pub(super) struct MapDe<'a, 'p> {
    parent: &'p NodeDe<'a>,
    entries: std::slice::Iter<'a, (Key, Node)>,
    pending: Option<&'a (Key, Node)>,
    skipped: &'p Cell<bool>,
}

impl<'a, 'p> MapDe<'a, 'p> {
    pub(super) fn new(
        parent: &'p NodeDe<'a>,
        entries: &'a [(Key, Node)],
        skipped: &'p Cell<bool>,
    ) -> Self {
        MapDe {
            parent,
            entries: entries.iter(),
            pending: None,
            skipped,
        }
    }
}

impl<'a> de::MapAccess<'a> for MapDe<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for entry in self.entries.by_ref() {
            if self.parent.ctx.is_skipped(&entry.1) {
                self.skipped.set(true);
                continue;
            }
            self.pending = Some(entry);
            return seed.deserialize(key_de(self.parent, entry)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        value_of(self.parent, self.pending.take(), seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

fn key_de<'a>(parent: &NodeDe<'a>, entry: &'a (Key, Node)) -> KeyDe<'a> {
    KeyDe {
        name: &entry.0.name,
        origin: Origin {
            loc: entry.0.loc,
            path: child_path(&parent.path, &entry.0.name),
            // Skipping the value skips the whole entry.
            node: node_id(&entry.1),
            env: EnvValues::none(),
        },
    }
}

fn value_of<'a, V: DeserializeSeed<'a>>(
    parent: &NodeDe<'a>,
    pending: Option<&'a (Key, Node)>,
    seed: V,
) -> Result<V::Value, DeError> {
    let Some((key, value)) = pending else {
        // serde's MapAccess contract: a value is only requested after its key.
        return Err(DeError::new(
            "internal error: value requested before its key",
        ));
    };
    deserialize_child(
        seed,
        parent.child(value, child_path(&parent.path, &key.name)),
    )
}

// === impl StructDe ===

/// Entries of a mapping decoded as a struct: keys that are not fields are
/// reported (warnings, or errors for strict types) and not passed on.
pub(super) struct StructDe<'a, 'p> {
    parent: &'p NodeDe<'a>,
    entries: std::slice::Iter<'a, (Key, Node)>,
    fields: &'static [&'static str],
    strict: bool,
    pending: Option<&'a (Key, Node)>,
    skipped: &'p Cell<bool>,
}

impl<'a, 'p> StructDe<'a, 'p> {
    pub(super) fn new(
        parent: &'p NodeDe<'a>,
        entries: &'a [(Key, Node)],
        fields: &'static [&'static str],
        strict: bool,
        skipped: &'p Cell<bool>,
    ) -> Self {
        StructDe {
            parent,
            entries: entries.iter(),
            fields,
            strict,
            pending: None,
            skipped,
        }
    }

    fn unknown(&self, key: &Key) {
        let (severity, message) = if self.strict {
            (Severity::Error, format!("unknown key `{}`", key.name))
        } else {
            (
                Severity::Warning,
                format!("unknown key `{}` is ignored", key.name),
            )
        };
        let mut d = Diagnostic::new(severity, key.loc, message);
        d.with_path(self.parent.path.clone());
        if let Some(near) = suggest(&key.name, self.fields) {
            d.with_hint(format!("did you mean `{near}`?"));
        } else if !self.fields.is_empty() && self.fields.len() <= 16 {
            d.with_hint(format!("known keys here: {}", one_of(self.fields)));
        }
        self.parent.ctx.record(d);
    }
}

impl<'a> de::MapAccess<'a> for StructDe<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        while let Some(entry) = self.entries.next() {
            if self.parent.ctx.is_skipped(&entry.1) {
                self.skipped.set(true);
                continue;
            }
            if !self.fields.contains(&entry.0.name.as_str()) {
                self.unknown(&entry.0);
                continue;
            }
            self.pending = Some(entry);
            return seed.deserialize(key_de(self.parent, entry)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        value_of(self.parent, self.pending.take(), seed)
    }
}

// === impl EnumDe ===

/// An enum written as `variant` or `variant: value`.
pub(super) struct EnumDe<'a, 'p> {
    parent: &'p NodeDe<'a>,
    variant: String,
    value: Option<&'a Node>,
}

impl<'a, 'p> EnumDe<'a, 'p> {
    pub(super) fn unit(parent: &'p NodeDe<'a>, variant: String) -> Self {
        EnumDe {
            parent,
            variant,
            value: None,
        }
    }

    pub(super) fn with_value(parent: &'p NodeDe<'a>, key: &'a Key, value: &'a Node) -> Self {
        EnumDe {
            parent,
            variant: key.name.clone(),
            value: Some(value),
        }
    }
}

impl<'a, 'p> de::EnumAccess<'a> for EnumDe<'a, 'p> {
    type Error = DeError;
    type Variant = VariantDe<'a, 'p>;

    fn variant_seed<V: DeserializeSeed<'a>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let name: StringDeserializer<DeError> = self.variant.clone().into_deserializer();
        let value = seed.deserialize(name)?;
        let path = child_path(&self.parent.path, &self.variant);
        Ok((
            value,
            VariantDe {
                parent: self.parent,
                variant: self.variant,
                value: self.value,
                path,
            },
        ))
    }
}

/// The value part of an enum.
pub(super) struct VariantDe<'a, 'p> {
    parent: &'p NodeDe<'a>,
    variant: String,
    value: Option<&'a Node>,
    path: String,
}

impl<'a> VariantDe<'a, '_> {
    fn value_de(&self) -> NodeDe<'a> {
        self.parent
            .child(self.value.unwrap_or(&NULL_NODE), self.path.clone())
    }
}

impl<'a> de::VariantAccess<'a> for VariantDe<'a, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            Some(v) if !v.is_null() => {
                let mut e = DeError::new(format!("`{}` takes no value", self.variant));
                e.origin = Some(self.value_de().origin());
                Err(e)
            }
            _ => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, DeError> {
        deserialize_child(seed, self.value_de())
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self.value_de(), visitor)
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(self.value_de(), "", fields, visitor)
    }
}

// === impl KeyDe ===

/// A mapping key. Keys are text; integer and boolean key types parse it.
pub(super) struct KeyDe<'a> {
    name: &'a str,
    origin: Origin,
}

impl KeyDe<'_> {
    fn error(&self, expected: &str) -> DeError {
        let mut e = DeError::new(format!("expected {expected} as key, found `{}`", self.name));
        e.origin = Some(self.origin.clone());
        e
    }

    fn located(&self, mut e: DeError) -> DeError {
        e.origin.get_or_insert_with(|| self.origin.clone());
        e
    }
}

macro_rules! key_int {
    ($name:ident, $visit:ident, $ty:ty) => {
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.name.parse::<$ty>() {
                Ok(v) => visitor.$visit(v).map_err(|e| self.located(e)),
                Err(_) => Err(self.error("an integer")),
            }
        }
    };
}

impl<'de> de::Deserializer<'de> for KeyDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor
            .visit_borrowed_str(self.name)
            .map_err(|e| self.located(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.name {
            "true" | "True" | "TRUE" => visitor.visit_bool(true),
            "false" | "False" | "FALSE" => visitor.visit_bool(false),
            _ => Err(self.error("a boolean")),
        }
    }

    key_int!(deserialize_i8, visit_i8, i8);
    key_int!(deserialize_i16, visit_i16, i16);
    key_int!(deserialize_i32, visit_i32, i32);
    key_int!(deserialize_i64, visit_i64, i64);
    key_int!(deserialize_u8, visit_u8, u8);
    key_int!(deserialize_u16, visit_u16, u16);
    key_int!(deserialize_u32, visit_u32, u32);
    key_int!(deserialize_u64, visit_u64, u64);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match name {
            LOCATED_TOKEN => {
                put_side(Side::Location(
                    self.origin.loc,
                    self.origin.path.clone(),
                    EnvValues::none(),
                ));
                visitor.visit_newtype_struct(self)
            }
            NODE_TOKEN => {
                put_side(Side::Node(Node::new(
                    NodeValue::String(self.name.to_owned()),
                    self.origin.loc,
                )));
                visitor.visit_unit()
            }
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let name: StringDeserializer<DeError> = self.name.to_owned().into_deserializer();
        let origin = self.origin.clone();
        visitor.visit_enum(name).map_err(|mut e| {
            e.origin.get_or_insert(origin);
            e
        })
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
