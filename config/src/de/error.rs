//! The error type of the located deserializer.
//!
//! An error is raised either by the deserializer itself (a type mismatch,
//! already located) or by a visitor (`missing field`, a custom validation),
//! in which case the deserializer of the enclosing node attaches its location
//! and key path on the way out.

use std::fmt;

use crate::diagnostics::{Diagnostic, Severity};
use crate::location::Location;
use crate::redact::EnvValues;
use crate::suggest::{one_of, suggest};

/// Separates a message from its hint in custom errors of `Deserialize`
/// implementations (`D::Error::custom("bad value\nhint: write it so")`).
pub const HINT_SEPARATOR: &str = "\nhint: ";

/// Where an error was raised.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    pub(crate) loc: Location,
    pub(crate) path: String,
    /// Identity of the node that failed; the retry loop skips it next pass.
    pub(crate) node: usize,
    /// Environment values pasted into the failing value: never shown.
    pub(crate) env: EnvValues,
}

/// A decoding error.
#[derive(Clone, Debug)]
pub(crate) struct DeError {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) origin: Option<Origin>,
    /// Caused by skipping an earlier error's value; not reported again.
    pub(crate) consequential: bool,
    /// Raised inside a `Secret`: the source line is not shown.
    pub(crate) secret: bool,
}

impl DeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        DeError {
            message: message.into(),
            hint: None,
            origin: None,
            consequential: false,
            secret: false,
        }
    }

    pub(crate) fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Converts to a diagnostic for the user.
    pub(crate) fn to_diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::new(
            Severity::Error,
            self.origin.as_ref().map(|o| o.loc),
            self.message.clone(),
        );
        if let Some(origin) = &self.origin {
            d.with_path(origin.path.clone());
        }
        if let Some(hint) = &self.hint {
            d.with_hint(hint.clone());
        }
        if let Some(origin) = &self.origin {
            d.about_env_values(&origin.env);
        }
        d.hide_source = self.secret;
        d
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            if origin.loc.is_known() {
                write!(f, "{}: ", origin.loc)?;
            }
            if !origin.path.is_empty() {
                write!(f, "{}: ", origin.path)?;
            }
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl serde::de::Error for DeError {
    /// A message may carry a hint after a line break: `"message\nhint: how"`.
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let text = msg.to_string();
        match text.split_once(HINT_SEPARATOR) {
            Some((message, hint)) => DeError::new(message).with_hint(Some(hint.to_owned())),
            None => DeError::new(text),
        }
    }

    fn invalid_type(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        DeError::new(format!("expected {exp}, found {unexp}"))
    }

    fn invalid_value(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        DeError::new(format!("invalid value {unexp}, expected {exp}"))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing required key `{field}`"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = match suggest(variant, expected) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if !expected.is_empty() => Some(format!("expected {}", one_of(expected))),
            None => None,
        };
        DeError::new(format!("unknown value `{variant}`")).with_hint(hint)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = suggest(field, expected).map(|s| format!("did you mean `{s}`?"));
        DeError::new(format!("unknown key `{field}`")).with_hint(hint)
    }
}
