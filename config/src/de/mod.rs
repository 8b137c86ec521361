//! Decoding any `#[derive(Deserialize)]` type from a located [`Node`] subtree,
//! with every problem recorded as a located [`Diagnostic`](crate::Diagnostic).
//!
//! * Type errors name the location, the key path, what was expected and what
//!   was found, with a hint when the fix is obvious (`remove the quotes`).
//! * kubernetes-event-exporter's coercions: a scalar for a string field is
//!   read as its text (`port: 8080` → `"8080"`); null reads as the zero value;
//!   a quoted number for an integer field is an error.
//! * Unknown keys of a struct are warnings with a "did you mean" hint, or
//!   errors for the struct types listed in [`DecodeOptions::strict_types`].
//! * Decoding does not stop at the first error: the failing value is skipped
//!   and decoding is retried, so one run reports every independent problem.
//!
//! Types that want locations use [`Located<T>`](crate::Located); a raw
//! [`Node`] field keeps a subtree verbatim for later decoding. A custom
//! `Deserialize` implementation can attach a hint to its error message after
//! [`HINT_SEPARATOR`] (`"invalid regex\nhint: …"`); the location and key path
//! are added by the decoder.

mod access;
mod error;
mod node_de;
mod raw_node;

use std::cell::RefCell;
use std::collections::HashSet;

use serde::de::DeserializeOwned;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::location::{Location, SourceFile};
use crate::node::Node;
use crate::redact::EnvValues;

pub use error::HINT_SEPARATOR;
use node_de::NodeDe;

/// Most failed passes of one decode (each reports one error).
const MAX_PASSES: usize = 100;

/// Newtype-struct name that makes the deserializer pass a location to [`crate::Located`].
pub(crate) const LOCATED_TOKEN: &str = "$herald_config::Located";
/// Newtype-struct name that makes the deserializer hand over the raw [`Node`].
pub(crate) const NODE_TOKEN: &str = "$herald_config::Node";
/// Newtype-struct name of [`crate::Secret`]: errors below it never show values.
pub(crate) const SECRET_TOKEN: &str = "$herald_config::Secret";

/// Options for [`decode_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeOptions<'a> {
    /// Key path of the node being decoded, used as the prefix of every
    /// reported path (for example `receivers` or `route`).
    pub path: &'a str,
    /// Names of struct types (as serde sees them, usually the Rust type name)
    /// whose unknown keys are errors instead of warnings.
    pub strict_types: &'a [&'a str],
}

/// Decodes `node` as a `T`, recording every problem in `diags`.
///
/// Returns `None` when any error was found (all of them are in `diags`);
/// warnings such as unknown keys do not prevent decoding.
pub fn decode<T: DeserializeOwned>(node: &Node, diags: &mut Diagnostics) -> Option<T> {
    decode_with(node, &DecodeOptions::default(), diags)
}

/// Decodes `node` as a `T` with a path prefix and strictness options. See
/// [`decode`].
pub fn decode_with<T: DeserializeOwned>(
    node: &Node,
    options: &DecodeOptions<'_>,
    diags: &mut Diagnostics,
) -> Option<T> {
    match decode_partial(node, options, diags) {
        Partial::Clean(value) => Some(value),
        Partial::WithErrors(_) | Partial::Failed => None,
    }
}

/// What [`decode_partial`] could make of a node.
pub(crate) enum Partial<T> {
    /// Decoded without errors.
    Clean(T),
    /// Decoded with the values that had errors left out (their defaults apply); the
    /// errors are in the diagnostics. Good for checking the other values.
    WithErrors(T),
    /// Not even that.
    Failed,
}

/// Like [`decode_with`], but keeps the value decoded without the failing parts, so
/// later checks of the other values still run and report their problems in the same
/// run.
pub(crate) fn decode_partial<T: DeserializeOwned>(
    node: &Node,
    options: &DecodeOptions<'_>,
    diags: &mut Diagnostics,
) -> Partial<T> {
    let mut skipped: HashSet<usize> = HashSet::new();
    let mut failed = false;
    for _ in 0..MAX_PASSES {
        let ctx = Ctx {
            skipped: &skipped,
            found: RefCell::new(Vec::new()),
            strict_types: options.strict_types,
        };
        let result = T::deserialize(NodeDe::new(node, options.path.to_owned(), &ctx));
        let found = ctx.found.into_inner();
        let errors_found = found.iter().any(Diagnostic::is_error);
        diags.extend(found);
        match result {
            Ok(value) if !failed && !errors_found => return Partial::Clean(value),
            Ok(value) => return Partial::WithErrors(value),
            Err(e) => {
                failed = true;
                if !e.consequential {
                    diags.push(e.to_diagnostic());
                }
                match e.origin {
                    Some(origin) if origin.node != node_id(node) && skipped.insert(origin.node) => {
                    }
                    _ => return Partial::Failed,
                }
            }
        }
    }
    Partial::Failed
}

/// Parses `text` (without environment expansion) and decodes it as a `T`;
/// convenient for tests and for small files of other crates.
///
/// # Errors
/// Returns every diagnostic when the text is not valid YAML or any error was
/// found; on success the warnings are returned beside the value.
pub fn from_str<T: DeserializeOwned>(
    name: &str,
    text: &str,
) -> Result<(T, Diagnostics), Diagnostics> {
    let source = std::sync::Arc::new(SourceFile::new(name, text));
    let mut diags = Diagnostics::for_source(source.clone());
    let Some(node) = crate::yaml::parse(&source, &mut diags) else {
        return Err(diags);
    };
    match decode::<T>(&node, &mut diags) {
        Some(value) if !diags.has_errors() => Ok((value, diags)),
        _ => Err(diags),
    }
}

/// State shared by one decoding pass.
pub(crate) struct Ctx<'a> {
    /// Nodes whose errors were reported in earlier passes; treated as absent.
    skipped: &'a HashSet<usize>,
    /// Warnings and non-fatal errors found in this pass.
    found: RefCell<Vec<Diagnostic>>,
    strict_types: &'a [&'a str],
}

impl Ctx<'_> {
    pub(crate) fn is_skipped(&self, node: &Node) -> bool {
        self.skipped.contains(&node_id(node))
    }

    pub(crate) fn record(&self, diagnostic: Diagnostic) {
        self.found.borrow_mut().push(diagnostic);
    }

    pub(crate) fn is_strict(&self, type_name: &str) -> bool {
        self.strict_types.contains(&type_name)
    }
}

/// Identity of a node during one decode (the tree is borrowed, so addresses
/// are stable).
pub(crate) fn node_id(node: &Node) -> usize {
    std::ptr::from_ref(node).addr()
}

/// Appends a mapping key to a key path: `a.b`, or `a["x.y"]` for keys that
/// are not simple names.
pub fn child_path(parent: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), simple) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// Appends a list index to a key path: `receivers[2]`.
pub fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

// === side channel ===
//
// `Located<T>` and `Node` need data that serde's data model cannot carry (a
// location, a whole subtree). When the deserializer sees their token it
// stores the data here and immediately calls the visitor, which takes it.
// With any other deserializer the slot stays empty and they fall back to an
// unknown location / a rebuilt tree.

/// Data handed from the deserializer to a visitor.
pub(crate) enum Side {
    Location(Location, String, EnvValues),
    Node(Node),
}

thread_local! {
    static SIDE: RefCell<Option<Side>> = const { RefCell::new(None) };
}

pub(crate) fn put_side(side: Side) {
    SIDE.with(|s| *s.borrow_mut() = Some(side));
}

pub(crate) fn take_location() -> Option<(Location, String, EnvValues)> {
    SIDE.with(|s| match s.borrow_mut().take() {
        Some(Side::Location(loc, path, env)) => Some((loc, path, env)),
        _ => None,
    })
}

pub(crate) fn take_node() -> Option<Node> {
    SIDE.with(|s| match s.borrow_mut().take() {
        Some(Side::Node(node)) => Some(node),
        _ => None,
    })
}
