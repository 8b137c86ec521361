//! The data a template runs over: [`Value`], a Go-faithful dynamic value.
//!
//! Go templates observe the *type* of data (`%T`, type errors, `index` zero
//! values, JSON layout), so the model keeps what matters: integer vs. float,
//! element types of slices and maps, struct field names and embedding, the three
//! Go time types, and nil.

mod collections;
mod structs;
mod time;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use collections::{ElemType, Entries, List, Map, MapWriteError};
pub(crate) use structs::Lookup;
pub use structs::{
    FieldDef, FieldKind, StructError, StructType, StructTypeBuilder, StructValue,
    StructValueBuilder,
};
pub use time::{Duration, NamedInt, NamedKind, Time, TimeKind, Zone};
pub(crate) use time::{ZERO_UNIX, month_name};

/// A Go value.
///
/// `Value::Nil` is a nil interface or pointer. Struct fields that are nil
/// pointers print as `<nil>`; nil elements of maps and slices behave like
/// missing values and print as `<no value>`, exactly as in Go templates. Use an
/// empty [`Map`]/[`List`] for nil Go maps and slices (they print as `map[]`/`[]`).
#[derive(Clone, Debug)]
pub enum Value {
    /// A nil interface or pointer.
    Nil,
    /// `bool`.
    Bool(bool),
    /// Any signed integer (`int`, `int32`, `int64`, ...).
    Int(i64),
    /// Any unsigned integer.
    Uint(u64),
    /// `float64`.
    Float(f64),
    /// `string`; cheap to clone.
    String(Arc<str>),
    /// `[]byte`.
    Bytes(Arc<[u8]>),
    /// A slice.
    List(List),
    /// A `map[string]T`.
    Map(Map),
    /// `time.Time`, `metav1.Time` or `metav1.MicroTime`.
    Time(Time),
    /// `time.Duration`.
    Duration(Duration),
    /// `time.Month` or `time.Weekday`.
    Named(NamedInt),
    /// A struct (or pointer to one).
    Struct(Arc<StructValue>),
}

impl Value {
    /// Creates a string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// Creates a `[]interface {}`.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(List::from_values(items.into_iter().collect()))
    }

    /// Creates an immutable `map[string]interface {}`.
    pub fn map<K: Into<Arc<str>>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(Map::frozen(ElemType::Interface, entries))
    }

    /// Creates an immutable `map[string]string` (labels, annotations).
    pub fn string_map<K, V>(entries: impl IntoIterator<Item = (K, V)>) -> Value
    where
        K: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        Value::Map(Map::frozen(
            ElemType::String,
            entries
                .into_iter()
                .map(|(k, v)| (k, Value::String(v.into()))),
        ))
    }

    /// Converts decoded JSON (or YAML mapped to JSON): objects become immutable
    /// `map[string]interface {}`, arrays `[]interface {}`, integral numbers that
    /// fit `Int`/`Uint`, other numbers `Float`.
    pub fn from_json(v: &serde_json::Value) -> Value {
        from_json_impl(v, false)
    }

    /// Converts decoded JSON the way Go's `json.Unmarshal` into `interface{}`
    /// does: every number becomes a `float64` and maps are mutable (sprig
    /// `fromJson`).
    pub fn from_json_go(v: &serde_json::Value) -> Value {
        from_json_impl(v, true)
    }

    /// Returns the string if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Reports whether this is `Nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Returns Go's `%T` for the value.
    pub fn type_name(&self) -> Cow<'static, str> {
        match self {
            Value::Nil => Cow::Borrowed("<nil>"),
            Value::Bool(_) => Cow::Borrowed("bool"),
            Value::Int(_) => Cow::Borrowed("int"),
            Value::Uint(_) => Cow::Borrowed("uint"),
            Value::Float(_) => Cow::Borrowed("float64"),
            Value::String(_) => Cow::Borrowed("string"),
            Value::Bytes(_) => Cow::Borrowed("[]uint8"),
            Value::List(l) => Cow::Owned(format!("[]{}", l.elem().go_name())),
            Value::Map(m) => Cow::Owned(format!("map[string]{}", m.elem().go_name())),
            Value::Time(t) => Cow::Borrowed(t.kind().go_name()),
            Value::Duration(_) => Cow::Borrowed("time.Duration"),
            Value::Named(n) => Cow::Borrowed(n.type_name()),
            Value::Struct(s) => Cow::Owned(s.type_name()),
        }
    }

    /// Returns the `reflect.Kind` name (sprig `kindOf`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Named(_) => "int",
            Value::Uint(_) => "uint",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "struct",
            Value::Duration(_) => "int64",
            Value::Struct(s) if s.is_pointer() => "ptr",
            Value::Struct(_) => "struct",
        }
    }

    /// Returns how deeply containers nest inside the value (0 for scalars).
    pub fn depth(&self) -> u32 {
        match self {
            Value::List(l) => l.depth(),
            Value::Map(m) => m.depth(),
            Value::Struct(s) => s.depth(),
            _ => 0,
        }
    }

    /// Go template truth: false, 0, empty strings/slices/maps and nil are false;
    /// structs (including times) are always true.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Duration(d) => d.0 != 0,
            Value::Named(n) => n.value != 0,
            Value::Time(_) | Value::Struct(_) => true,
        }
    }
}

/// Go's `reflect.DeepEqual`: same types (including element types and struct
/// types) and equal contents, recursively.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        deep_eq(self, other, 0)
    }
}

fn deep_eq(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > 512 {
        return false;
    }
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Uint(x), Value::Uint(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Named(x), Value::Named(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.ptr_eq(y)
                || (x.elem() == y.elem()
                    && x.len() == y.len()
                    && x.items()
                        .iter()
                        .zip(y.items())
                        .all(|(p, q)| deep_eq(p, q, depth + 1)))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.ptr_eq(y) {
                return true;
            }
            if x.elem() != y.elem() || x.len() != y.len() {
                return false;
            }
            let (ex, ey) = (x.entries(), y.entries());
            ex.iter()
                .zip(ey.iter())
                .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_eq(v1, v2, depth + 1))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.type_name() == y.type_name()
                && x.text() == y.text()
                && x.values().len() == y.values().len()
                && x.values()
                    .iter()
                    .zip(y.values())
                    .all(|(p, q)| deep_eq(p, q, depth + 1))
        }
        _ => false,
    }
}

fn from_json_impl(v: &serde_json::Value, go: bool) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if !go {
                if let Some(i) = n.as_i64() {
                    return Value::Int(i);
                }
                if let Some(u) = n.as_u64() {
                    return Value::Uint(u);
                }
            }
            Value::Float(n.as_f64().unwrap_or(0.0))
        }
        serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
        serde_json::Value::Array(a) => Value::List(List::from_values(
            a.iter().map(|v| from_json_impl(v, go)).collect(),
        )),
        serde_json::Value::Object(o) => {
            let entries = o
                .iter()
                .map(|(k, v)| (Arc::<str>::from(k.as_str()), from_json_impl(v, go)));
            if go {
                Value::Map(Map::shared(entries))
            } else {
                Value::Map(Map::frozen(ElemType::Interface, entries))
            }
        }
    }
}

impl Default for Value {
    /// `Nil`.
    fn default() -> Value {
        Value::Nil
    }
}

// === From impls ===

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64);

macro_rules! from_uint {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Uint(u64::from(v))
            }
        }
    )*};
}
from_uint!(u8, u16, u32, u64);

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(Arc::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(Arc::from(v))
    }
}

impl From<Arc<str>> for Value {
    fn from(v: Arc<str>) -> Value {
        Value::String(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::List(List::from_values(v))
    }
}

impl From<List> for Value {
    fn from(v: List) -> Value {
        Value::List(v)
    }
}

impl From<Map> for Value {
    fn from(v: Map) -> Value {
        Value::Map(v)
    }
}

impl From<Time> for Value {
    fn from(v: Time) -> Value {
        Value::Time(v)
    }
}

impl From<Duration> for Value {
    fn from(v: Duration) -> Value {
        Value::Duration(v)
    }
}

impl From<StructValue> for Value {
    fn from(v: StructValue) -> Value {
        Value::Struct(Arc::new(v))
    }
}

impl From<Arc<StructValue>> for Value {
    fn from(v: Arc<StructValue>) -> Value {
        Value::Struct(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}

impl<K: Into<Arc<str>>> From<BTreeMap<K, Value>> for Value {
    fn from(v: BTreeMap<K, Value>) -> Value {
        Value::map(v)
    }
}

impl<K: Into<Arc<str>>, S> From<HashMap<K, Value, S>> for Value {
    fn from(v: HashMap<K, Value, S>) -> Value {
        Value::map(v)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        Value::from_json(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_match_go() {
        assert_eq!(Value::Nil.type_name(), "<nil>");
        assert_eq!(Value::list([Value::Int(1)]).type_name(), "[]interface {}");
        assert_eq!(
            Value::string_map([("a", "b")]).type_name(),
            "map[string]string"
        );
        assert_eq!(
            Value::Time(Time::zero(TimeKind::Seconds)).type_name(),
            "v1.Time"
        );
        let s = StructValue::builder("kube.EnhancedEvent").pointer().build();
        assert_eq!(Value::from(s).type_name(), "*kube.EnhancedEvent");
    }

    #[test]
    fn truth_follows_go_templates() {
        assert!(!Value::Nil.is_true());
        assert!(!Value::from("").is_true());
        assert!(!Value::Int(0).is_true());
        assert!(Value::Float(0.5).is_true());
        assert!(!Value::list([]).is_true());
        assert!(Value::Time(Time::zero(TimeKind::Go)).is_true());
    }

    #[test]
    fn from_json_keeps_integers_unless_go_semantics_are_asked_for() {
        let j: serde_json::Value = serde_json::json!({"a": 1, "b": [1.5, null], "c": "x"});
        let v = Value::from_json(&j);
        let Value::Map(m) = &v else {
            panic!("not a map")
        };
        assert!(matches!(m.get("a"), Some(Value::Int(1))));
        assert!(!m.is_mutable());
        let g = Value::from_json_go(&j);
        let Value::Map(m) = &g else {
            panic!("not a map")
        };
        assert!(matches!(m.get("a"), Some(Value::Float(f)) if f == 1.0));
        assert!(m.is_mutable());
    }
}
