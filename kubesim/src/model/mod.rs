//! Typed Kubernetes objects, serialised with the field order and `omitempty` rules of the
//! Go API types so that the simulator's JSON matches the real API server byte for byte.

pub mod event;
pub mod fields;
pub mod lease;
pub mod meta;

use serde::{Deserialize, Deserializer};

/// Deserialises `null` as the type's default, like Go's `encoding/json` does for
/// strings, maps and slices.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// `omitempty` for integers.
pub(crate) fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// `omitempty` for 64-bit integers.
pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
