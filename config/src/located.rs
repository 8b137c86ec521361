//! [`Located<T>`]: a decoded value with the location and key path it came
//! from, for semantic checks after decoding (an invalid regex, an unknown
//! receiver name) that must still point at the user's line.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use serde::de::{Deserialize, Deserializer, Visitor};

use crate::de::{LOCATED_TOKEN, take_location};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::location::Location;
use crate::redact::EnvValues;

/// A value and where it was written.
///
/// Decoded with [`crate::decode`], `location` and `path` are filled in; with
/// any other deserializer they are [`Location::UNKNOWN`] and empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    /// The decoded value.
    pub value: T,
    /// Where the value starts in the user's file.
    pub location: Location,
    /// Key path of the value, such as `route.routes[0].match[1].namespace`.
    pub path: String,
    /// Environment values pasted into the value; diagnostics about it show
    /// `${NAME}` instead.
    env: EnvValues,
}

impl<T> Located<T> {
    /// Wraps a value that was not read from a file.
    pub fn unlocated(value: T) -> Self {
        Located {
            value,
            location: Location::UNKNOWN,
            path: String::new(),
            env: EnvValues::none(),
        }
    }

    /// Environment values pasted into this value (empty when it was written
    /// out in the file).
    pub fn env_values(&self) -> &EnvValues {
        &self.env
    }

    /// Returns the value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Records an error about this value in `diags`, at its location and path.
    pub fn error<'d>(
        &self,
        diags: &'d mut Diagnostics,
        message: impl Into<String>,
    ) -> &'d mut Diagnostic {
        let d = diags.error(self.location, message);
        d.about_env_values(&self.env).with_path(self.path.clone());
        d
    }

    /// Records a warning about this value in `diags`, at its location and path.
    pub fn warning<'d>(
        &self,
        diags: &'d mut Diagnostics,
        message: impl Into<String>,
    ) -> &'d mut Diagnostic {
        let d = diags.warning(self.location, message);
        d.about_env_values(&self.env).with_path(self.path.clone());
        d
    }
}

impl<T> Deref for Located<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Located<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Display> fmt::Display for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(LOCATED_TOKEN, LocatedVisitor(PhantomData))
    }
}

struct LocatedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
    type Value = Located<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // Take the location before decoding the value, which may hold
        // located values of its own.
        let (location, path, env) = take_location().unwrap_or_default();
        let value = T::deserialize(d)?;
        Ok(Located {
            value,
            location,
            path,
            env,
        })
    }
}

impl<T: Default> Default for Located<T> {
    /// An unlocated default value (used for keys absent from the file).
    fn default() -> Self {
        Located::unlocated(T::default())
    }
}
