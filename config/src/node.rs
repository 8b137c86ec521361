//! The located YAML tree: every value and every key knows where it was
//! written in the user's file.
//!
//! [`Node`] is also what other crates keep for parts of the configuration they
//! decode later (`route`, `receivers`, a sink's `layout`). Its `Debug` output
//! masks values under secret-looking keys so a whole config can be logged.

use std::borrow::Cow;
use std::fmt;

use crate::location::Location;
use crate::redact::EnvValues;

/// A YAML value with its location.
#[derive(Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// Where the value starts in the user's file.
    pub loc: Location,
    /// How a scalar was written; [`ScalarStyle::Plain`] for collections.
    pub style: ScalarStyle,
    /// Source text of a non-string scalar (`0x1F`, `True`, `~`), used when a
    /// string is expected; `None` for strings and collections.
    pub raw: Option<String>,
    /// Environment values pasted into this value (for a collection: into any
    /// value below it). Diagnostics about the node show `${NAME}` instead.
    pub env: EnvValues,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// `true`/`false` in any of their YAML spellings.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (quoted, block or plain text that is not another type).
    String(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, in file order, with merge keys already applied.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key text (non-string scalar keys use their source text).
    pub name: String,
    /// Where the key is written.
    pub loc: Location,
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted.
    #[default]
    Plain,
    /// `'single quoted'`.
    SingleQuoted,
    /// `"double quoted"`.
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

impl Default for Node {
    fn default() -> Self {
        Node::new(NodeValue::Null, Location::UNKNOWN)
    }
}

impl Node {
    /// Creates a plain node without source text.
    pub fn new(value: NodeValue, loc: Location) -> Self {
        Node {
            value,
            loc,
            style: ScalarStyle::Plain,
            raw: None,
            env: EnvValues::none(),
        }
    }

    /// Returns whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// Returns whether the scalar was written in quotes.
    pub fn is_quoted(&self) -> bool {
        matches!(
            self.style,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
        )
    }

    /// Returns the string, if this is a string node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Returns the entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Returns the items, if this is a list.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Returns the key and value under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, v)| (k, v))
    }

    /// Follows a path of mapping keys: `node.at_path(&["exporter", "grpc"])`.
    pub fn at_path(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// Returns the text of a scalar as a string field would read it: strings
    /// as they are, other scalars as written (`8080`, `True`), null as `""`.
    pub fn scalar_text(&self) -> Option<Cow<'_, str>> {
        match &self.value {
            NodeValue::String(s) => Some(Cow::Borrowed(s)),
            NodeValue::Null => Some(Cow::Borrowed("")),
            NodeValue::Bool(_) | NodeValue::Int(_) | NodeValue::Float(_) => Some(match &self.raw {
                Some(raw) => Cow::Borrowed(raw.as_str()),
                None => Cow::Owned(match &self.value {
                    NodeValue::Bool(b) => b.to_string(),
                    NodeValue::Int(i) => i.to_string(),
                    NodeValue::Float(f) => f.to_string(),
                    _ => String::new(),
                }),
            }),
            NodeValue::Seq(_) | NodeValue::Map(_) => None,
        }
    }

    /// Describes the kind of value for messages: `a mapping`, `a list`, ….
    pub fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// Describes the value for messages, with the value itself for scalars:
    /// `the string "60"`, `the integer 5`, `a mapping`. Long strings are
    /// shortened.
    pub fn describe(&self) -> String {
        match &self.value {
            NodeValue::Null => "null".to_owned(),
            NodeValue::Bool(b) => format!("the boolean {b}"),
            NodeValue::Int(i) => format!("the integer {i}"),
            NodeValue::Float(_) => format!(
                "the number {}",
                self.scalar_text().unwrap_or(Cow::Borrowed("?"))
            ),
            NodeValue::String(s) => format!("the string {:?}", shorten(s)),
            NodeValue::Seq(_) => "a list".to_owned(),
            NodeValue::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// Shortens long text for messages.
pub(crate) fn shorten(s: &str) -> Cow<'_, str> {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("{}…", s.chars().take(MAX).collect::<String>()))
    }
}

/// Returns whether a mapping key names a secret, so its value is masked in
/// `Debug` output and summaries.
pub fn is_secret_key(key: &str) -> bool {
    const MARKERS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "authorization",
        "credential",
        "privatekey",
        "private_key",
        // An incoming-webhook URL (Slack's `webhookURL`) is itself the
        // credential.
        "webhookurl",
    ];
    let lower = key.to_ascii_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

/// Masks the password of `scheme://user:password@host` URLs.
pub(crate) fn redact_url_userinfo(s: &str) -> Cow<'_, str> {
    let Some(scheme_end) = s.find("://") else {
        return Cow::Borrowed(s);
    };
    let rest = &s[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return Cow::Borrowed(s);
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    Cow::Owned(format!(
        "{}{}:***{}",
        &s[..scheme_end + 3],
        user,
        &rest[at..]
    ))
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} ", self.loc)?;
        debug_value(self, f, false)
    }
}

/// Flow-style rendering; values under secret-looking keys print as `***`.
fn debug_value(node: &Node, f: &mut fmt::Formatter<'_>, masked: bool) -> fmt::Result {
    match &node.value {
        NodeValue::Seq(items) => {
            f.write_str("[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                debug_value(item, f, masked)?;
            }
            f.write_str("]")
        }
        NodeValue::Map(entries) => {
            f.write_str("{")?;
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{:?}: ", key.name)?;
                debug_value(value, f, masked || is_secret_key(&key.name))?;
            }
            f.write_str("}")
        }
        _ if masked && !node.is_null() => f.write_str("***"),
        NodeValue::String(s) => write!(f, "{:?}", redact_url_userinfo(s)),
        _ => f.write_str(&node.scalar_text().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::new(NodeValue::String(v.to_owned()), Location::new(1, 1))
    }

    fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::new(
            NodeValue::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.to_owned(),
                                loc: Location::new(1, 1),
                            },
                            v,
                        )
                    })
                    .collect(),
            ),
            Location::new(1, 1),
        )
    }

    #[test]
    fn debug_masks_secret_keys_and_url_passwords() {
        let node = map(vec![
            ("apiKey", s("abc123")),
            (
                "sasl",
                map(vec![("username", s("bob")), ("password", s("pw"))]),
            ),
            ("hosts", s("https://elastic:hunter2@es:9200/x")),
            ("name", s("dump")),
        ]);
        let text = format!("{node:?}");
        assert!(!text.contains("abc123"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("\"pw\""), "{text}");
        assert!(text.contains("\"dump\""), "{text}");
        assert!(text.contains("https://elastic:***@es:9200/x"), "{text}");
    }

    #[test]
    fn path_lookup_and_scalar_text() {
        let mut port = Node::new(NodeValue::Int(8080), Location::new(2, 3));
        port.raw = Some("0x1F90".to_owned());
        let node = map(vec![("a", map(vec![("port", port)]))]);
        let found = node.at_path(&["a", "port"]).unwrap();
        assert_eq!(found.scalar_text().unwrap(), "0x1F90");
        assert!(node.at_path(&["a", "missing"]).is_none());
        assert_eq!(s("x").describe(), "the string \"x\"");
    }

    #[test]
    fn secret_key_detection() {
        for k in [
            "password",
            "apiKey",
            "token",
            "X-API-KEY",
            "Authorization",
            "clientSecret",
            "webhookURL",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["name", "endpoint", "keyFile", "certFile", "hosts"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
