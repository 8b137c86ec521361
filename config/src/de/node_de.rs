//! `serde::Deserializer` for one located node.

use std::cell::Cell;

use serde::de::{self, Visitor};

use super::access::{EnumDe, MapDe, SeqDe, StructDe};
use super::error::{DeError, Origin};
use super::{Ctx, LOCATED_TOKEN, NODE_TOKEN, SECRET_TOKEN, Side, node_id, put_side};
use crate::node::{Node, NodeValue, shorten};
use crate::scalar::{Plain, resolve_plain};

/// Deserializer for one node; knows its key path and the pass context.
pub(crate) struct NodeDe<'a> {
    pub(super) node: &'a Node,
    pub(super) path: String,
    pub(super) ctx: &'a Ctx<'a>,
    /// Inside a `Secret`: messages never show values.
    pub(super) redact: bool,
}

/// What a field expects, for messages and hints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Int,
    Float,
    Bool,
    String,
    Char,
    List,
    Mapping,
    Null,
    Variant,
}

impl Want {
    fn describe(self) -> &'static str {
        match self {
            Want::Int => "an integer",
            Want::Float => "a number",
            Want::Bool => "a boolean (true or false)",
            Want::String => "a string",
            Want::Char => "a single character",
            Want::List => "a list",
            Want::Mapping => "a mapping",
            Want::Null => "nothing (null)",
            Want::Variant => "a name or a single-key mapping",
        }
    }
}

impl<'a> NodeDe<'a> {
    pub(super) fn new(node: &'a Node, path: String, ctx: &'a Ctx<'a>) -> Self {
        NodeDe {
            node,
            path,
            ctx,
            redact: false,
        }
    }

    /// A deserializer for a child node.
    pub(super) fn child(&self, node: &'a Node, path: String) -> NodeDe<'a> {
        NodeDe {
            node,
            path,
            ctx: self.ctx,
            redact: self.redact,
        }
    }

    pub(super) fn origin(&self) -> Origin {
        Origin {
            loc: self.node.loc,
            path: self.path.clone(),
            node: node_id(self.node),
            env: self.node.env.clone(),
        }
    }

    /// Attaches this node's location to an error raised below it by a visitor.
    pub(super) fn locate(&self, mut e: DeError) -> DeError {
        if e.origin.is_none() {
            e.origin = Some(self.origin());
            e.secret |= self.redact;
        }
        e
    }

    /// Like [`Self::locate`], and marks the error as a consequence of values
    /// skipped in this collection (a `missing key` for a skipped bad value).
    fn locate_collection(&self, e: DeError, skipped: &Cell<bool>) -> DeError {
        let mut e = e;
        if e.origin.is_none() && skipped.get() {
            e.consequential = true;
        }
        self.locate(e)
    }

    fn found(&self) -> String {
        if self.redact {
            return self.node.kind().to_owned();
        }
        // A value pasted whole from the environment is named, never shown;
        // anything else that holds pasted text is redacted with the error.
        let pasted = self
            .node
            .scalar_text()
            .and_then(|text| self.node.env.variable_with_value(&text).map(str::to_owned));
        match pasted {
            Some(name) => format!(
                "the value of environment variable `{name}` ({})",
                self.node.kind()
            ),
            None => self.node.describe(),
        }
    }

    /// A type mismatch at this node, with a hint where the fix is clear.
    fn mismatch(&self, want: Want) -> DeError {
        let mut e = DeError::new(format!(
            "expected {}, found {}",
            want.describe(),
            self.found()
        ));
        e.hint = self.hint(want);
        e.origin = Some(self.origin());
        e.secret = self.redact;
        e
    }

    fn hint(&self, want: Want) -> Option<String> {
        let text = self.node.as_str();
        let resolved = text.map(resolve_plain);
        match (want, &resolved) {
            (Want::Int, Some(Plain::Int(_)))
            | (Want::Float, Some(Plain::Int(_) | Plain::Float(_)))
            | (Want::Bool, Some(Plain::Bool(_)))
                if self.node.is_quoted() =>
            {
                Some("remove the quotes".to_owned())
            }
            (Want::Bool, Some(Plain::String)) => {
                let lower = text.unwrap_or("").to_ascii_lowercase();
                matches!(lower.as_str(), "yes" | "no" | "on" | "off" | "y" | "n")
                    .then(|| "write `true` or `false`".to_owned())
            }
            (Want::Int, Some(Plain::String)) if !self.redact && self.node.env.is_empty() => {
                let t = text.unwrap_or("");
                let unit = t.trim_start_matches(|c: char| c.is_ascii_digit());
                (!unit.is_empty() && unit.len() < t.len())
                    .then(|| format!("write a plain number without the unit `{}`", shorten(unit)))
            }
            (Want::List, _) if self.node.scalar_text().is_some() && !self.node.is_null() => {
                Some("write a list, e.g. `[value]` or one `- value` item per line".to_owned())
            }
            _ => None,
        }
    }

    fn int<V: Visitor<'a>>(&self, visitor: V, min: i128, max: i128) -> Result<V::Value, DeError> {
        let value = match &self.node.value {
            NodeValue::Int(i) => *i,
            NodeValue::Null => 0,
            // an integer literal too large for any integer type
            NodeValue::Float(f) if f.abs() >= 9.2e18 && self.is_integer_literal() => {
                let raw = self.node.raw.clone().unwrap_or_default();
                return Err(self.out_of_range(min, max, raw));
            }
            _ => return Err(self.mismatch(Want::Int)),
        };
        if i128::from(value) < min || i128::from(value) > max {
            return Err(self.out_of_range(min, max, value.to_string()));
        }
        visitor.visit_i64(value).map_err(|e| self.locate(e))
    }

    /// True for a number written as an integer (`123`, `0x1F`), whatever its size: a
    /// float is only ever read from text with a `.` (`1.5`, `.inf`).
    fn is_integer_literal(&self) -> bool {
        self.node.raw.as_deref().is_some_and(|raw| {
            !raw.contains('.')
                && raw
                    .trim_start_matches(['+', '-'])
                    .starts_with(|c: char| c.is_ascii_digit())
        })
    }

    fn out_of_range(&self, min: i128, max: i128, found: String) -> DeError {
        let range = if min == 0 {
            format!("a non-negative integer up to {max}")
        } else {
            format!("an integer between {min} and {max}")
        };
        let found = if self.redact {
            "a number out of range".to_owned()
        } else {
            found
        };
        let mut e = DeError::new(format!("expected {range}, found {found}"));
        e.origin = Some(self.origin());
        e.secret = self.redact;
        e
    }

    fn float<V: Visitor<'a>>(&self, visitor: V) -> Result<V::Value, DeError> {
        let value = match &self.node.value {
            NodeValue::Int(i) => *i as f64,
            NodeValue::Float(f) => *f,
            NodeValue::Null => 0.0,
            _ => return Err(self.mismatch(Want::Float)),
        };
        visitor.visit_f64(value).map_err(|e| self.locate(e))
    }

    fn string<V: Visitor<'a>>(&self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            NodeValue::String(s) => visitor.visit_borrowed_str(s),
            NodeValue::Seq(_) | NodeValue::Map(_) => return Err(self.mismatch(Want::String)),
            _ => {
                let text = self.node.scalar_text().unwrap_or_default().into_owned();
                visitor.visit_string(text)
            }
        };
        r.map_err(|e| self.locate(e))
    }

    fn seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: &'a [Node] = match &self.node.value {
            NodeValue::Seq(items) => items,
            NodeValue::Null => &[],
            _ => return Err(self.mismatch(Want::List)),
        };
        let skipped = Cell::new(false);
        let access = SeqDe::new(&self, items, &skipped);
        let r = visitor.visit_seq(access);
        r.map_err(|e| self.locate_collection(e, &skipped))
    }
}

macro_rules! int_method {
    ($name:ident, $min:expr, $max:expr) => {
        fn $name<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.int(visitor, i128::from($min), i128::from($max))
        }
    };
}

impl<'a> de::Deserializer<'a> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            NodeValue::Null => visitor.visit_unit(),
            NodeValue::Bool(b) => visitor.visit_bool(*b),
            NodeValue::Int(i) => visitor.visit_i64(*i),
            NodeValue::Float(f) => visitor.visit_f64(*f),
            NodeValue::String(s) => visitor.visit_borrowed_str(s),
            NodeValue::Seq(_) => return self.seq(visitor),
            NodeValue::Map(_) => return self.deserialize_map(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = match &self.node.value {
            NodeValue::Bool(b) => *b,
            NodeValue::Null => false,
            _ => return Err(self.mismatch(Want::Bool)),
        };
        visitor.visit_bool(value).map_err(|e| self.locate(e))
    }

    int_method!(deserialize_i8, i8::MIN, i8::MAX);
    int_method!(deserialize_i16, i16::MIN, i16::MAX);
    int_method!(deserialize_i32, i32::MIN, i32::MAX);
    int_method!(deserialize_i64, i64::MIN, i64::MAX);
    int_method!(deserialize_i128, i64::MIN, i64::MAX);
    int_method!(deserialize_u8, u8::MIN, u8::MAX);
    int_method!(deserialize_u16, u16::MIN, u16::MAX);
    int_method!(deserialize_u32, u32::MIN, u32::MAX);
    int_method!(deserialize_u64, 0, i64::MAX);
    int_method!(deserialize_u128, 0, i64::MAX);

    fn deserialize_f32<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.float(visitor)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.float(visitor)
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.node.scalar_text();
        let mut chars = text.as_deref().unwrap_or("").chars();
        match (chars.next(), chars.next(), text.is_some()) {
            (Some(c), None, true) => visitor.visit_char(c).map_err(|e| self.locate(e)),
            _ => Err(self.mismatch(Want::Char)),
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.string(visitor)
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.string(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            NodeValue::Seq(_) => self.seq(visitor),
            NodeValue::Map(_) => Err(self.mismatch(Want::String)),
            _ => {
                let text = self.node.scalar_text().unwrap_or_default().into_owned();
                visitor
                    .visit_byte_buf(text.into_bytes())
                    .map_err(|e| self.locate(e))
            }
        }
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            let origin = self.origin();
            visitor.visit_some(self).map_err(|mut e| {
                e.origin.get_or_insert(origin);
                e
            })
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_unit().map_err(|e| self.locate(e))
        } else {
            Err(self.mismatch(Want::Null))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let origin = self.origin();
        let r = match name {
            NODE_TOKEN => {
                put_side(Side::Node(self.node.clone()));
                visitor.visit_unit()
            }
            LOCATED_TOKEN => {
                put_side(Side::Location(
                    self.node.loc,
                    self.path.clone(),
                    self.node.env.clone(),
                ));
                visitor.visit_newtype_struct(self)
            }
            SECRET_TOKEN => visitor.visit_newtype_struct(NodeDe {
                redact: true,
                ..self
            }),
            _ => visitor.visit_newtype_struct(self),
        };
        r.map_err(|mut e| {
            e.origin.get_or_insert(origin);
            e
        })
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let entries = match &self.node.value {
            NodeValue::Map(entries) => entries.as_slice(),
            NodeValue::Null => &[],
            _ => return Err(self.mismatch(Want::Mapping)),
        };
        let skipped = Cell::new(false);
        let r = visitor.visit_map(MapDe::new(&self, entries, &skipped));
        r.map_err(|e| self.locate_collection(e, &skipped))
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries = match &self.node.value {
            NodeValue::Map(entries) => entries.as_slice(),
            NodeValue::Null => &[],
            _ => return Err(self.mismatch(Want::Mapping)),
        };
        let skipped = Cell::new(false);
        let strict = self.ctx.is_strict(name);
        let r = visitor.visit_map(StructDe::new(&self, entries, fields, strict, &skipped));
        r.map_err(|e| self.locate_collection(e, &skipped))
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            NodeValue::Bool(_) | NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::String(_) => {
                let text = self.node.scalar_text().unwrap_or_default().into_owned();
                visitor.visit_enum(EnumDe::unit(&self, text))
            }
            NodeValue::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(EnumDe::with_value(&self, key, value))
            }
            _ => return Err(self.mismatch(Want::Variant)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            NodeValue::Seq(_) | NodeValue::Map(_) => Err(self.mismatch(Want::String)),
            _ => {
                let text = self.node.scalar_text().unwrap_or_default().into_owned();
                visitor.visit_string(text).map_err(|e| self.locate(e))
            }
        }
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}
