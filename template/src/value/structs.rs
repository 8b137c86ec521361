//! Go structs: a shared [`StructType`] (field names, JSON names, embedding,
//! zero-argument methods) and per-value [`StructValue`]s.
//!
//! A type is described once and instantiated many times; field lookup by Go name
//! (with promotion through embedded structs, as `reflect.FieldByName` does) and
//! the `encoding/json` field list are computed when the type is built, so
//! rendering does one hash lookup per field access.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::Value;

/// What a struct member is.
#[derive(Clone, Debug)]
pub enum FieldKind {
    /// An ordinary field.
    Field,
    /// An embedded (anonymous) struct field of the given type. Its members are
    /// promoted: `.Name` on a type embedding `ObjectMeta` finds `ObjectMeta.Name`.
    Embedded(Arc<StructType>),
    /// A method without arguments whose result the builder precomputes
    /// (`GetTimestampMs`). Methods are never printed or serialised.
    Method,
}

/// One member of a [`StructType`].
#[derive(Clone, Debug)]
pub struct FieldDef {
    name: Arc<str>,
    json: Option<Arc<str>>,
    omitempty: bool,
    kind: FieldKind,
}

impl FieldDef {
    /// Returns the Go name used by templates (`.Message`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the JSON name, or `None` when the member is not serialised
    /// (`json:"-"`, methods, and embedded structs that are inlined).
    pub fn json_name(&self) -> Option<&str> {
        self.json.as_deref()
    }

    /// Reports whether the JSON encoder drops the member when it is empty.
    pub fn omitempty(&self) -> bool {
        self.omitempty
    }

    /// Returns what kind of member this is.
    pub fn kind(&self) -> &FieldKind {
        &self.kind
    }
}

/// FNV-1a: member names are short and come from type definitions, so a fast
/// non-keyed hash is appropriate for the per-field lookups of every render.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<V> = HashMap<Arc<str>, V, BuildHasherDefault<Fnv>>;

/// Result of resolving a Go selector on a struct type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Indexes through embedded structs; the last one names the member.
    Path(Box<[u16]>),
    /// Two members of that name at the same depth: Go reports no such field.
    Ambiguous,
}

/// A member `encoding/json` writes, with its path through embedded structs.
#[derive(Clone, Debug)]
pub(crate) struct JsonField {
    pub(crate) name: Arc<str>,
    pub(crate) path: Box<[u16]>,
    pub(crate) omitempty: bool,
}

/// The shape of a Go struct type.
#[derive(Debug)]
pub struct StructType {
    name: Arc<str>,
    fields: Vec<FieldDef>,
    lookup: FnvMap<Lookup>,
    json: Vec<JsonField>,
}

impl StructType {
    /// Starts describing a struct type named `name` as `%T` prints it
    /// (`kube.EnhancedEvent`, `v1.ObjectMeta`).
    pub fn builder(name: impl Into<Arc<str>>) -> StructTypeBuilder {
        StructTypeBuilder {
            name: name.into(),
            fields: Vec::new(),
        }
    }

    /// Returns the Go type name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the members in declaration order.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// Returns the index of the direct member called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| &*f.name == name)
    }

    pub(crate) fn resolve(&self, name: &str) -> Option<&Lookup> {
        self.lookup.get(name)
    }

    pub(crate) fn json_fields(&self) -> &[JsonField] {
        &self.json
    }
}

/// Builds a [`StructType`].
#[derive(Debug)]
pub struct StructTypeBuilder {
    name: Arc<str>,
    fields: Vec<FieldDef>,
}

impl StructTypeBuilder {
    fn push(mut self, name: &str, json: Option<&str>, omitempty: bool, kind: FieldKind) -> Self {
        self.fields.push(FieldDef {
            name: Arc::from(name),
            json: json.map(Arc::from),
            omitempty,
            kind,
        });
        self
    }

    /// Adds a field serialised under `json` (always emitted).
    pub fn field(self, name: &str, json: &str) -> Self {
        self.push(name, Some(json), false, FieldKind::Field)
    }

    /// Adds a field serialised under `json` with `omitempty`.
    pub fn field_omitempty(self, name: &str, json: &str) -> Self {
        self.push(name, Some(json), true, FieldKind::Field)
    }

    /// Adds a field that is not serialised (`json:"-"`).
    pub fn field_hidden(self, name: &str) -> Self {
        self.push(name, None, false, FieldKind::Field)
    }

    /// Adds an embedded struct. With `json: None` its fields are inlined into
    /// the outer JSON object (Go's rule for untagged embedded structs); with a
    /// name it is written as a nested object under that key.
    pub fn embedded(self, name: &str, ty: &Arc<StructType>, json: Option<&str>) -> Self {
        self.push(name, json, false, FieldKind::Embedded(ty.clone()))
    }

    /// Adds a zero-argument method whose value is supplied per instance.
    pub fn method(self, name: &str) -> Self {
        self.push(name, None, false, FieldKind::Method)
    }

    /// Finishes the type.
    pub fn build(self) -> Arc<StructType> {
        let lookup = compute_lookup(&self.fields);
        let json = compute_json_fields(&self.fields);
        Arc::new(StructType {
            name: self.name,
            fields: self.fields,
            lookup,
            json,
        })
    }
}

/// Go's `FieldByName`/method-set rule: the shallowest member wins, two at the
/// same depth cancel out.
fn compute_lookup(fields: &[FieldDef]) -> FnvMap<Lookup> {
    let mut result: FnvMap<Lookup> = FnvMap::default();
    // (path prefix, fields) per level, breadth first.
    let mut level: Vec<(Vec<u16>, &[FieldDef])> = vec![(Vec::new(), fields)];
    let mut depth = 0;
    while !level.is_empty() && depth < 16 {
        let mut found: HashMap<Arc<str>, Vec<Box<[u16]>>> = HashMap::new();
        let mut next = Vec::new();
        for (prefix, fields) in &level {
            for (i, f) in fields.iter().enumerate() {
                let mut path = prefix.clone();
                // Struct types have far fewer than 65536 members.
                path.push(u16::try_from(i).unwrap_or(u16::MAX));
                if let FieldKind::Embedded(ty) = &f.kind {
                    next.push((path.clone(), ty.fields.as_slice()));
                }
                if !result.contains_key(&f.name) {
                    found
                        .entry(f.name.clone())
                        .or_default()
                        .push(path.into_boxed_slice());
                }
            }
        }
        for (name, mut paths) in found {
            let entry = if paths.len() == 1 {
                Lookup::Path(paths.remove(0))
            } else {
                Lookup::Ambiguous
            };
            result.insert(name, entry);
        }
        level = next;
        depth += 1;
    }
    result
}

/// Go's `encoding/json` `typeFields`: inline untagged embedded structs, let the
/// shallowest field of a name dominate, drop same-depth duplicates, and keep
/// declaration order.
fn compute_json_fields(fields: &[FieldDef]) -> Vec<JsonField> {
    struct Candidate {
        name: Arc<str>,
        path: Vec<u16>,
        omitempty: bool,
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut level: Vec<(Vec<u16>, &[FieldDef])> = vec![(Vec::new(), fields)];
    let mut depth = 0;
    while !level.is_empty() && depth < 16 {
        let mut next = Vec::new();
        for (prefix, fields) in &level {
            for (i, f) in fields.iter().enumerate() {
                let mut path = prefix.clone();
                path.push(u16::try_from(i).unwrap_or(u16::MAX));
                match (&f.kind, &f.json) {
                    (FieldKind::Method, _) => {}
                    (FieldKind::Embedded(ty), None) => next.push((path, ty.fields.as_slice())),
                    (_, Some(name)) => candidates.push(Candidate {
                        name: name.clone(),
                        path,
                        omitempty: f.omitempty,
                    }),
                    (FieldKind::Field, None) => {}
                }
            }
        }
        level = next;
        depth += 1;
    }
    let mut out: Vec<JsonField> = Vec::new();
    for c in &candidates {
        let min_depth = candidates
            .iter()
            .filter(|o| o.name == c.name)
            .map(|o| o.path.len())
            .min()
            .unwrap_or(c.path.len());
        let same_depth = candidates
            .iter()
            .filter(|o| o.name == c.name && o.path.len() == min_depth)
            .count();
        if c.path.len() == min_depth && same_depth == 1 {
            out.push(JsonField {
                name: c.name.clone(),
                path: c.path.clone().into_boxed_slice(),
                omitempty: c.omitempty,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Why a struct value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StructError {
    /// The number of values does not match the number of members.
    #[error("struct {type_name} has {expected} members but {got} values were given")]
    Arity {
        /// The Go type name.
        type_name: String,
        /// Members declared.
        expected: usize,
        /// Values supplied.
        got: usize,
    },
    /// An embedded member was given something other than a struct of its type
    /// (or nil).
    #[error("embedded member {member} of {type_name} must be a {expected} struct or nil")]
    Embedded {
        /// The Go type name.
        type_name: String,
        /// The embedded member.
        member: String,
        /// The embedded type.
        expected: String,
    },
}

/// A value of a Go struct type.
#[derive(Clone)]
pub struct StructValue {
    ty: Arc<StructType>,
    values: Box<[Value]>,
    pointer: bool,
    text: Option<Arc<str>>,
    depth: u32,
}

fn struct_depth(values: &[Value]) -> u32 {
    1 + values.iter().map(Value::depth).max().unwrap_or(0)
}

impl StructValue {
    /// Creates a value of `ty` from its member values in declaration order.
    ///
    /// # Errors
    /// Fails when the number of values differs from the number of members, or an
    /// embedded member holds anything but a struct of its type or nil.
    pub fn new(ty: Arc<StructType>, values: Vec<Value>) -> Result<StructValue, StructError> {
        if values.len() != ty.fields.len() {
            return Err(StructError::Arity {
                type_name: ty.name.to_string(),
                expected: ty.fields.len(),
                got: values.len(),
            });
        }
        for (f, v) in ty.fields.iter().zip(&values) {
            if let FieldKind::Embedded(et) = &f.kind {
                let ok = match v {
                    Value::Nil => true,
                    Value::Struct(s) => Arc::ptr_eq(&s.ty, et),
                    _ => false,
                };
                if !ok {
                    return Err(StructError::Embedded {
                        type_name: ty.name.to_string(),
                        member: f.name.to_string(),
                        expected: et.name.to_string(),
                    });
                }
            }
        }
        let depth = struct_depth(&values);
        Ok(StructValue {
            ty,
            values: values.into_boxed_slice(),
            pointer: false,
            text: None,
            depth,
        })
    }

    /// Starts an ad-hoc struct whose type is built alongside its values.
    pub fn builder(type_name: impl Into<Arc<str>>) -> StructValueBuilder {
        StructValueBuilder {
            ty: StructType::builder(type_name),
            values: Vec::new(),
            pointer: false,
        }
    }

    /// Marks the value as reached through a pointer (`*T`): `%T` prints `*T`
    /// and `print` writes `&{...}`.
    pub fn into_pointer(mut self) -> StructValue {
        self.pointer = true;
        self
    }

    /// Gives the value a textual form, used where Go calls `String()` (fmt,
    /// `toString`) and `MarshalJSON`/`MarshalText` (a JSON string), like
    /// `*semver.Version`.
    pub fn with_text(mut self, text: impl Into<Arc<str>>) -> StructValue {
        self.text = Some(text.into());
        self
    }

    /// Returns a copy that is not a pointer (Go's `*p`).
    pub(crate) fn without_pointer(&self) -> StructValue {
        let mut v = self.clone();
        v.pointer = false;
        v
    }

    /// Returns the type.
    pub fn struct_type(&self) -> &Arc<StructType> {
        &self.ty
    }

    /// Returns the member values in declaration order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Returns how deeply containers nest inside.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Reports whether the value is a pointer.
    pub fn is_pointer(&self) -> bool {
        self.pointer
    }

    /// Returns the textual form, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Returns `%T`: the type name, with `*` for pointers.
    pub fn type_name(&self) -> String {
        if self.pointer {
            format!("*{}", self.ty.name)
        } else {
            self.ty.name.to_string()
        }
    }

    /// Returns the direct member called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.ty.index_of(name).map(|i| &self.values[i])
    }

    /// Follows a lookup path through embedded structs. Returns `Err(member)` with
    /// the embedded member's name when a nil embedded pointer is in the way.
    pub(crate) fn follow(&self, path: &[u16]) -> Result<(&FieldDef, &Value), String> {
        let mut cur = self;
        let mut i = 0;
        loop {
            let idx = usize::from(path[i]);
            let def = &cur.ty.fields[idx];
            let val = &cur.values[idx];
            if i + 1 == path.len() {
                return Ok((def, val));
            }
            match val {
                Value::Struct(s) => cur = s,
                _ => return Err(def.name.to_string()),
            }
            i += 1;
        }
    }
}

impl fmt::Debug for StructValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(&self.ty.name);
        for (def, v) in self.ty.fields.iter().zip(self.values.iter()) {
            d.field(&def.name, v);
        }
        d.finish()
    }
}

/// Builds a [`StructValue`] together with a one-off type; convenient for tests
/// and small ad-hoc values. Hot paths should build the [`StructType`] once and
/// use [`StructValue::new`].
#[derive(Debug)]
pub struct StructValueBuilder {
    ty: StructTypeBuilder,
    values: Vec<Value>,
    pointer: bool,
}

impl StructValueBuilder {
    /// Adds a field serialised under `json`.
    pub fn field(mut self, name: &str, json: &str, value: impl Into<Value>) -> Self {
        self.ty = self.ty.field(name, json);
        self.values.push(value.into());
        self
    }

    /// Adds a field serialised under `json` with `omitempty`.
    pub fn field_omitempty(mut self, name: &str, json: &str, value: impl Into<Value>) -> Self {
        self.ty = self.ty.field_omitempty(name, json);
        self.values.push(value.into());
        self
    }

    /// Adds a field that is not serialised.
    pub fn field_hidden(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.ty = self.ty.field_hidden(name);
        self.values.push(value.into());
        self
    }

    /// Adds an embedded struct value (see [`StructTypeBuilder::embedded`]).
    pub fn embedded(mut self, name: &str, value: StructValue, json: Option<&str>) -> Self {
        self.ty = self.ty.embedded(name, &value.ty, json);
        self.values.push(Value::Struct(Arc::new(value)));
        self
    }

    /// Adds a zero-argument method with its result.
    pub fn method(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.ty = self.ty.method(name);
        self.values.push(value.into());
        self
    }

    /// Marks the value as a pointer.
    pub fn pointer(mut self) -> Self {
        self.pointer = true;
        self
    }

    /// Finishes the value.
    pub fn build(self) -> StructValue {
        let ty = self.ty.build();
        let depth = struct_depth(&self.values);
        StructValue {
            ty,
            values: self.values.into_boxed_slice(),
            pointer: self.pointer,
            text: None,
            depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> StructValue {
        StructValue::builder("v1.ObjectMeta")
            .field_omitempty("Name", "name", "pod-1")
            .field_omitempty("Namespace", "namespace", "")
            .method("GetName", "pod-1")
            .build()
    }

    #[test]
    fn embedded_members_are_promoted() {
        let ev = StructValue::builder("v1.Event")
            .embedded("ObjectMeta", meta(), Some("metadata"))
            .field("Reason", "reason", "BackOff")
            .build();
        let Some(Lookup::Path(p)) = ev.ty.resolve("Name") else {
            panic!("Name not promoted");
        };
        let (def, v) = ev.follow(p).unwrap();
        assert_eq!(def.name(), "Name");
        assert_eq!(v.as_str(), Some("pod-1"));
        assert!(matches!(ev.ty.resolve("GetName"), Some(Lookup::Path(_))));
        assert!(ev.ty.resolve("Missing").is_none());
    }

    #[test]
    fn same_depth_duplicates_are_ambiguous() {
        let a = StructValue::builder("A").field("X", "x", 1i64).build();
        let b = StructValue::builder("B").field("X", "x", 2i64).build();
        let s = StructValue::builder("S")
            .embedded("A", a, None)
            .embedded("B", b, None)
            .build();
        assert_eq!(s.ty.resolve("X"), Some(&Lookup::Ambiguous));
        // encoding/json drops both.
        assert!(s.ty.json_fields().is_empty());
    }

    #[test]
    fn json_fields_inline_untagged_embeddings_and_respect_dominance() {
        let inner = StructValue::builder("v1.Event")
            .field("Reason", "reason", "r")
            .field_omitempty("InvolvedObject", "involvedObject", "inner")
            .build();
        let outer = StructValue::builder("kube.EnhancedEvent")
            .embedded("Event", inner, None)
            .field("ClusterName", "clusterName", "c")
            .field("InvolvedObject", "involvedObject", "outer")
            .build();
        let names: Vec<&str> = outer.ty.json_fields().iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["reason", "clusterName", "involvedObject"]);
    }

    #[test]
    fn new_checks_arity_and_embedding() {
        let ty = StructType::builder("T").field("A", "a").build();
        assert!(StructValue::new(ty.clone(), vec![]).is_err());
        assert!(StructValue::new(ty.clone(), vec![Value::Int(1)]).is_ok());
        let outer = StructType::builder("O").embedded("T", &ty, None).build();
        assert!(StructValue::new(outer.clone(), vec![Value::Int(1)]).is_err());
        assert!(StructValue::new(outer, vec![Value::Nil]).is_ok());
    }
}
