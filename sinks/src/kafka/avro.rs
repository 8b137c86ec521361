//! kubernetes-event-exporter's Avro framing, byte for byte: a `0x00` byte,
//! the 16 bytes of the hex-decoded 32-character `schemaID`, then the Avro
//! binary encoding of the event JSON.
//!
//! KEE encoded with goavro's "standard JSON" codec, which reads plain JSON
//! (not Avro's JSON encoding, where union values are wrapped as
//! `{"string": "a"}`). This module does the same:
//!
//! * a union value is encoded with the first member that accepts it, skipping
//!   `null` unless the value is `null`; for numbers and objects the members
//!   are tried in the alphabetical order of their type names (goavro sorts
//!   them, so `["int", "double"]` encodes `5` as a double), for other values
//!   in the order the schema lists them;
//! * a record field missing from the JSON takes its `default` (a union's
//!   default is of its first member); an unknown field is an error;
//! * `int` and `long` accept integers only; arrays and maps are written as one
//!   block followed by the end marker (maps in key order: Go's map order was
//!   random, so there is no byte-for-byte order to match).
//!
//! An event that does not fit the schema is rejected for the receiver, as in
//! KEE. Logical types are encoded as their underlying type.

use std::collections::HashMap;

use serde_json::Value;

/// The schema could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(String);

/// An Avro schema, parsed once.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    nodes: Vec<Node>,
    root: usize,
}

#[derive(Debug, Clone)]
enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record { name: String, fields: Vec<Field> },
    Enum { name: String, symbols: Vec<String> },
    Array(usize),
    Map(usize),
    Union(Vec<usize>),
    Fixed { name: String, size: usize },
    /// A named type whose definition is still being parsed.
    Pending,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    schema: usize,
    default: Option<Value>,
}

struct Parser {
    nodes: Vec<Node>,
    names: HashMap<String, usize>,
}

fn err(message: impl Into<String>) -> SchemaError {
    SchemaError(message.into())
}

fn primitive(name: &str) -> Option<Node> {
    Some(match name {
        "null" => Node::Null,
        "boolean" => Node::Boolean,
        "int" => Node::Int,
        "long" => Node::Long,
        "float" => Node::Float,
        "double" => Node::Double,
        "bytes" => Node::Bytes,
        "string" => Node::String,
        _ => return None,
    })
}

impl Parser {
    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn full_name(name: &str, namespace: Option<&str>, enclosing: &str) -> String {
        if name.contains('.') {
            return name.to_owned();
        }
        match namespace.unwrap_or(enclosing) {
            "" => name.to_owned(),
            ns => format!("{ns}.{name}"),
        }
    }

    /// Registers a named type; returns its slot and full name.
    fn declare(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        enclosing: &str,
    ) -> Result<(usize, String), SchemaError> {
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| err("a named type (record, enum, fixed) needs a `name`"))?;
        let full = Self::full_name(name, obj.get("namespace").and_then(Value::as_str), enclosing);
        if self.names.contains_key(&full) {
            return Err(err(format!("the type `{full}` is defined twice")));
        }
        let slot = self.push(Node::Pending);
        self.names.insert(full.clone(), slot);
        Ok((slot, full))
    }

    fn parse(&mut self, schema: &Value, enclosing: &str) -> Result<usize, SchemaError> {
        match schema {
            Value::String(name) => {
                if let Some(p) = primitive(name) {
                    return Ok(self.push(p));
                }
                let candidates = [Self::full_name(name, None, enclosing), name.clone()];
                candidates
                    .iter()
                    .find_map(|c| self.names.get(c).copied())
                    .ok_or_else(|| err(format!("unknown type `{name}`")))
            }
            Value::Array(members) => {
                if members.is_empty() {
                    return Err(err("a union needs at least one member"));
                }
                let members = members
                    .iter()
                    .map(|m| self.parse(m, enclosing))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.push(Node::Union(members)))
            }
            Value::Object(obj) => self.parse_object(obj, enclosing),
            other => Err(err(format!("not a schema: {other}"))),
        }
    }

    fn parse_object(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        enclosing: &str,
    ) -> Result<usize, SchemaError> {
        let kind = obj
            .get("type")
            .ok_or_else(|| err("a schema object needs a `type`"))?;
        let Some(kind) = kind.as_str() else {
            return self.parse(kind, enclosing);
        };
        match kind {
            "record" | "error" => {
                let (slot, full) = self.declare(obj, enclosing)?;
                let ns = full.rsplit_once('.').map_or("", |(ns, _)| ns).to_owned();
                let fields = obj
                    .get("fields")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(format!("record `{full}` needs a `fields` list")))?;
                let mut parsed = Vec::with_capacity(fields.len());
                for f in fields {
                    let name = f
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| err(format!("a field of `{full}` has no `name`")))?;
                    let ty = f
                        .get("type")
                        .ok_or_else(|| err(format!("field `{name}` of `{full}` has no `type`")))?;
                    let schema = self.parse(ty, &ns)?;
                    parsed.push(Field {
                        name: name.to_owned(),
                        schema,
                        default: f.get("default").cloned(),
                    });
                }
                self.nodes[slot] = Node::Record {
                    name: full,
                    fields: parsed,
                };
                Ok(slot)
            }
            "enum" => {
                let (slot, full) = self.declare(obj, enclosing)?;
                let symbols = obj
                    .get("symbols")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(format!("enum `{full}` needs `symbols`")))?
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err(format!("the symbols of enum `{full}` must be strings")))?;
                self.nodes[slot] = Node::Enum {
                    name: full,
                    symbols,
                };
                Ok(slot)
            }
            "fixed" => {
                let (slot, full) = self.declare(obj, enclosing)?;
                let size = obj
                    .get("size")
                    .and_then(Value::as_u64)
                    .and_then(|s| usize::try_from(s).ok())
                    .ok_or_else(|| err(format!("fixed `{full}` needs a `size`")))?;
                self.nodes[slot] = Node::Fixed { name: full, size };
                Ok(slot)
            }
            "array" => {
                let items = obj
                    .get("items")
                    .ok_or_else(|| err("an array needs `items`"))?;
                let items = self.parse(items, enclosing)?;
                Ok(self.push(Node::Array(items)))
            }
            "map" => {
                let values = obj
                    .get("values")
                    .ok_or_else(|| err("a map needs `values`"))?;
                let values = self.parse(values, enclosing)?;
                Ok(self.push(Node::Map(values)))
            }
            name => self.parse(&Value::String(name.to_owned()), enclosing),
        }
    }
}

impl AvroSchema {
    /// Parses a schema in Avro's JSON form.
    ///
    /// # Errors
    /// The text is not JSON or not a valid schema.
    pub fn parse(text: &str) -> Result<AvroSchema, SchemaError> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| err(format!("the schema is not JSON: {e}")))?;
        let mut p = Parser {
            nodes: Vec::new(),
            names: HashMap::new(),
        };
        let root = p.parse(&json, "")?;
        let schema = AvroSchema {
            nodes: p.nodes,
            root,
        };
        schema.check_defaults()?;
        Ok(schema)
    }

    /// Every record field default must encode with its field's schema (goavro
    /// refuses the schema otherwise).
    fn check_defaults(&self) -> Result<(), SchemaError> {
        for node in &self.nodes {
            if let Node::Record { name, fields } = node {
                for f in fields {
                    if let Some(d) = &f.default {
                        self.encode_default(d, f.schema, &mut Vec::new())
                            .map_err(|e| {
                                err(format!("the default of field `{}` of `{name}`: {e}", f.name))
                            })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends the Avro binary encoding of `value` to `out`.
    ///
    /// # Errors
    /// The value does not fit the schema (`out` may hold part of it then).
    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        self.write(value, self.root, out)
    }

    fn type_name(&self, node: usize) -> &str {
        match &self.nodes[node] {
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int => "int",
            Node::Long => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Bytes => "bytes",
            Node::String => "string",
            Node::Array(_) => "array",
            Node::Map(_) => "map",
            Node::Union(_) => "union",
            Node::Record { name, .. } | Node::Enum { name, .. } | Node::Fixed { name, .. } => name,
            Node::Pending => "",
        }
    }

    /// A default value: a union's default is of its first member.
    fn encode_default(&self, value: &Value, node: usize, out: &mut Vec<u8>) -> Result<(), String> {
        if let Node::Union(members) = &self.nodes[node] {
            write_long(0, out);
            return self.write(value, members[0], out);
        }
        self.write(value, node, out)
    }

    fn write(&self, value: &Value, node: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let mismatch = || format!("expected {}, found {}", self.type_name(node), kind(value));
        match (&self.nodes[node], value) {
            (Node::Null, Value::Null) => Ok(()),
            (Node::Boolean, Value::Bool(b)) => {
                out.push(u8::from(*b));
                Ok(())
            }
            (Node::Int, Value::Number(n)) => {
                let v = n
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| format!("{n} is not an int"))?;
                write_long(i64::from(v), out);
                Ok(())
            }
            (Node::Long, Value::Number(n)) => {
                let v = n.as_i64().ok_or_else(|| format!("{n} is not a long"))?;
                write_long(v, out);
                Ok(())
            }
            (Node::Float, Value::Number(n)) => {
                #[allow(clippy::cast_possible_truncation)]
                let v = n.as_f64().unwrap_or_default() as f32;
                out.extend_from_slice(&v.to_le_bytes());
                Ok(())
            }
            (Node::Double, Value::Number(n)) => {
                out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes());
                Ok(())
            }
            (Node::Bytes | Node::String, Value::String(s)) => {
                write_bytes(s.as_bytes(), out);
                Ok(())
            }
            (Node::Enum { name, symbols }, Value::String(s)) => {
                let i = symbols
                    .iter()
                    .position(|x| x == s)
                    .ok_or_else(|| format!("`{s}` is not a symbol of enum `{name}`"))?;
                write_long(i64::try_from(i).unwrap_or_default(), out);
                Ok(())
            }
            (Node::Fixed { name, size }, Value::String(s)) => {
                if s.len() != *size {
                    return Err(format!("fixed `{name}` takes {size} bytes, found {}", s.len()));
                }
                out.extend_from_slice(s.as_bytes());
                Ok(())
            }
            (Node::Array(items), Value::Array(values)) => {
                if !values.is_empty() {
                    write_long(i64::try_from(values.len()).unwrap_or_default(), out);
                    for (i, v) in values.iter().enumerate() {
                        self.write(v, *items, out).map_err(|e| format!("[{i}]: {e}"))?;
                    }
                }
                write_long(0, out);
                Ok(())
            }
            (Node::Map(values), Value::Object(map)) => {
                if !map.is_empty() {
                    write_long(i64::try_from(map.len()).unwrap_or_default(), out);
                    let mut entries: Vec<_> = map.iter().collect();
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in entries {
                        write_bytes(k.as_bytes(), out);
                        self.write(v, *values, out).map_err(|e| format!("{k}: {e}"))?;
                    }
                }
                write_long(0, out);
                Ok(())
            }
            (Node::Record { name, fields }, Value::Object(map)) => {
                if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
                    return Err(format!("record `{name}` has no field `{unknown}`"));
                }
                for f in fields {
                    match (map.get(&f.name), &f.default) {
                        (Some(v), _) => self
                            .write(v, f.schema, out)
                            .map_err(|e| format!("{}: {e}", f.name))?,
                        (None, Some(d)) => self
                            .encode_default(d, f.schema, out)
                            .map_err(|e| format!("{} (default): {e}", f.name))?,
                        (None, None) => {
                            return Err(format!(
                                "field `{}` of `{name}` is missing and has no default",
                                f.name
                            ));
                        }
                    }
                }
                Ok(())
            }
            (Node::Union(members), _) => self.write_union(value, members, out),
            _ => Err(mismatch()),
        }
    }

    /// goavro's standard-JSON union: `null` goes to the null member; other
    /// values to the first member that takes them (alphabetical order of type
    /// names for numbers and objects, schema order otherwise).
    fn write_union(&self, value: &Value, members: &[usize], out: &mut Vec<u8>) -> Result<(), String> {
        let index_of = |m: usize| members.iter().position(|x| *x == m).unwrap_or_default();
        if value.is_null()
            && let Some(i) = members
                .iter()
                .position(|m| matches!(self.nodes[*m], Node::Null))
        {
            write_long(i64::try_from(i).unwrap_or_default(), out);
            return Ok(());
        }
        let mut order: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| !matches!(self.nodes[*m], Node::Null))
            .collect();
        if value.is_number() || value.is_object() {
            order.sort_by(|a, b| self.type_name(*a).cmp(self.type_name(*b)));
        }
        let mut tried = Vec::new();
        for m in order {
            let mut buf = Vec::new();
            if self.write(value, m, &mut buf).is_ok() {
                write_long(i64::try_from(index_of(m)).unwrap_or_default(), out);
                out.extend_from_slice(&buf);
                return Ok(());
            }
            tried.push(self.type_name(m).to_owned());
        }
        Err(format!("no member of the union [{}] takes {}", tried.join(", "), kind(value)))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Zig-zag varint.
fn write_long(v: i64, out: &mut Vec<u8>) {
    #[allow(clippy::cast_sign_loss)]
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        #[allow(clippy::cast_possible_truncation)]
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    #[allow(clippy::cast_possible_truncation)]
    out.push(n as u8);
}

fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    write_long(i64::try_from(b.len()).unwrap_or_default(), out);
    out.extend_from_slice(b);
}

/// Decodes KEE's 32-character hex `schemaID` into the 16 bytes of the frame.
///
/// # Errors
/// Not 32 characters, or not hexadecimal (KEE panicked at the first event).
pub fn schema_id_bytes(id: &str) -> Result<[u8; 16], String> {
    if id.len() != 32 {
        return Err(format!(
            "the schemaID must be 32 hexadecimal characters, found {}",
            id.len()
        ));
    }
    let mut out = [0u8; 16];
    for (i, pair) in id.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(pair).ok();
        out[i] = hex
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                format!(
                    "the schemaID is not hexadecimal (`{}` at position {})",
                    String::from_utf8_lossy(pair),
                    i * 2 + 1
                )
            })?;
    }
    Ok(out)
}

/// An encoder of KEE's Avro frame.
#[derive(Debug, Clone)]
pub struct AvroFrame {
    /// `0x00` and the 16 bytes of the schema ID.
    header: [u8; 17],
    schema: AvroSchema,
}

impl AvroFrame {
    /// Creates the encoder of `schema_id` (32 hex characters) and `schema`.
    ///
    /// # Errors
    /// A bad schema ID or schema.
    pub fn new(schema_id: &str, schema: &str) -> Result<AvroFrame, SchemaError> {
        let id = schema_id_bytes(schema_id).map_err(SchemaError)?;
        let mut header = [0u8; 17];
        header[1..].copy_from_slice(&id);
        Ok(AvroFrame {
            header,
            schema: AvroSchema::parse(schema)?,
        })
    }

    /// Frames the event JSON `json`.
    ///
    /// # Errors
    /// The event does not fit the schema.
    pub fn encode(&self, json: &[u8]) -> Result<Vec<u8>, String> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| format!("the event is not JSON: {e}"))?;
        let mut out = Vec::with_capacity(json.len());
        out.extend_from_slice(&self.header);
        self.schema.encode(&value, &mut out)?;
        Ok(out)
    }
}
