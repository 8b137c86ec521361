//! YAML parsing into the located [`Node`] tree.
//!
//! Built on `saphyr-parser`'s event stream. Anchors, aliases and `<<` merge
//! keys are resolved here; for a multi-document file the first non-null
//! document is used (kubernetes-event-exporter does the same). Every location
//! is mapped back to the original file when the text went through
//! environment expansion. Parse errors carry the offending line and, when it
//! holds a `{{`, the hint for kubernetes-event-exporter's most common mistake:
//! an unquoted template.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use saphyr_parser::{Event, Parser, ScanError, Span, Tag};

use crate::diagnostics::Diagnostics;
use crate::expand::Expanded;
use crate::location::{Location, SourceFile};
use crate::node::{Key, Node, NodeValue, ScalarStyle};
use crate::redact::EnvValues;
use crate::scalar::{Plain, resolve_plain};

/// The hint given when a line with a template failed to parse.
pub const TEMPLATE_HINT: &str =
    "values with templates must be quoted, e.g. `key: \"{{ .Reason }}\"`";

/// Deepest nesting accepted (also after alias expansion).
const MAX_DEPTH: usize = 128;

/// Most nodes a document may expand to through aliases.
const MAX_NODES: usize = 250_000;

/// Parses `source` (no environment expansion) into its first non-null
/// document; a file without one gives a null node. Returns `None` when the
/// text is not valid YAML; every problem is added to `diags`.
pub fn parse(source: &SourceFile, diags: &mut Diagnostics) -> Option<Node> {
    let pos = |line: usize, col0: usize| Mapped {
        loc: Location::new(line, col0 + 1),
        variable: None,
    };
    let env = |_: (usize, usize), _: (usize, usize)| EnvValues::none();
    parse_with(
        source.text(),
        &Mapper {
            pos: &pos,
            env: &env,
        },
        source,
        diags,
    )
}

/// Parses the expanded text of `source`, reporting locations in the original
/// file. See [`parse`].
pub fn parse_expanded(
    expanded: &Expanded,
    source: &SourceFile,
    diags: &mut Diagnostics,
) -> Option<Node> {
    let pos = |line: usize, col0: usize| {
        let offset = expanded.expanded_offset(line, col0);
        Mapped {
            loc: expanded.original_location_of_offset(offset),
            variable: expanded.variable_at(offset).map(str::to_owned),
        }
    };
    let env = |start: (usize, usize), end: (usize, usize)| {
        expanded.env_values_in(
            expanded.expanded_offset(start.0, start.1),
            expanded.expanded_offset(end.0, end.1),
        )
    };
    parse_with(
        expanded.text(),
        &Mapper {
            pos: &pos,
            env: &env,
        },
        source,
        diags,
    )
}

/// A parser position mapped to the user's file.
struct Mapped {
    loc: Location,
    /// The environment variable whose pasted value holds the position.
    variable: Option<String>,
}

/// Maps parser positions to the user's file.
struct Mapper<'a> {
    /// A position (1-based line, 0-based column) in the parsed text.
    pos: &'a dyn Fn(usize, usize) -> Mapped,
    /// The environment values pasted between two positions.
    env: &'a dyn Fn((usize, usize), (usize, usize)) -> EnvValues,
}

type MapFn<'a> = &'a Mapper<'a>;

fn parse_with(
    text: &str,
    map: MapFn<'_>,
    source: &SourceFile,
    diags: &mut Diagnostics,
) -> Option<Node> {
    let mut local = Diagnostics::new();
    // The parser is not supposed to panic; if a malformed input ever makes it
    // do so, report an error instead of taking the process down.
    let result = catch_unwind(AssertUnwindSafe(|| {
        Builder::new(map, source, &mut local).run(text)
    }));
    diags.extend(local);
    match result {
        Ok(node) => node,
        Err(_) => {
            diags.error(None, "cannot parse YAML: the parser failed on this input");
            None
        }
    }
}

/// Why building stopped early.
struct Abort;

struct Builder<'a> {
    map: MapFn<'a>,
    source: &'a SourceFile,
    diags: &'a mut Diagnostics,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    /// An alias was expanded (the size limits then say so).
    aliased: bool,
    doc_root: Option<Node>,
    result: Option<Node>,
}

enum Frame {
    Seq {
        loc: Location,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        loc: Location,
        anchor: usize,
        entries: Vec<Entry>,
        key: PendingKey,
    },
}

enum PendingKey {
    None,
    Key(Key),
    Merge,
    Invalid,
}

enum Entry {
    Pair(Key, Node),
    Merge(Node),
}

impl<'a> Builder<'a> {
    fn new(map: MapFn<'a>, source: &'a SourceFile, diags: &'a mut Diagnostics) -> Self {
        Builder {
            map,
            source,
            diags,
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            aliased: false,
            doc_root: None,
            result: None,
        }
    }

    fn run(mut self, text: &str) -> Option<Node> {
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            match next {
                Ok((event, span)) => {
                    if self.event(event, span).is_err() {
                        return None;
                    }
                }
                Err(e) => {
                    self.scan_error(&e);
                    return None;
                }
            }
        }
        Some(
            self.result
                .unwrap_or_else(|| Node::new(NodeValue::Null, Location::new(1, 1))),
        )
    }

    fn loc(&self, span: &Span) -> Location {
        (self.map.pos)(span.start.line(), span.start.col()).loc
    }

    /// The environment values pasted into the text of `span`.
    fn env(&self, span: &Span) -> EnvValues {
        (self.map.env)(
            (span.start.line(), span.start.col()),
            (span.end.line(), span.end.col()),
        )
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Abort> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.stack.clear();
                self.doc_root = None;
                Ok(())
            }
            Event::DocumentEnd => {
                let root = self.doc_root.take();
                if self.result.is_none() {
                    self.result = root.filter(|n| !n.is_null());
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let loc = self.loc(&span);
                let env = self.env(&span);
                let mut node = self.scalar(text, style, tag.as_deref(), loc, &env);
                node.env = env;
                self.count(1, 0, loc)?;
                self.add(node, anchor);
                Ok(())
            }
            Event::SequenceStart(anchor, _) => {
                let loc = self.loc(&span);
                self.open(loc)?;
                self.stack.push(Frame::Seq {
                    loc,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                let loc = self.loc(&span);
                self.open(loc)?;
                self.stack.push(Frame::Map {
                    loc,
                    anchor,
                    entries: Vec::new(),
                    key: PendingKey::None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (mut node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { loc, anchor, items }) => {
                        (Node::new(NodeValue::Seq(items), loc), anchor)
                    }
                    Some(Frame::Map {
                        loc,
                        anchor,
                        entries,
                        ..
                    }) => (self.finish_map(loc, entries), anchor),
                    // The parser never ends a collection it did not start.
                    None => return Ok(()),
                };
                node.env = children_env(&node);
                self.add(node, anchor);
                Ok(())
            }
            Event::Alias(id) => {
                let loc = self.loc(&span);
                let Some(target) = self.anchors.get(&id) else {
                    self.diags.error(loc, "alias to an unknown anchor");
                    return Err(Abort);
                };
                let mut node = target.clone();
                self.aliased = true;
                let (size, depth) = measure(&node);
                self.count(size, depth, loc)?;
                // The alias itself is where the value is used.
                node.loc = loc;
                self.add(node, 0);
                Ok(())
            }
        }
    }

    /// Checks the nesting depth before a collection is opened.
    fn open(&mut self, loc: Location) -> Result<(), Abort> {
        self.count(1, 0, loc)?;
        if self.stack.len() >= MAX_DEPTH {
            self.diags.error(
                loc,
                format!("the document is nested deeper than {MAX_DEPTH} levels"),
            );
            return Err(Abort);
        }
        Ok(())
    }

    /// Counts `size` new nodes of nesting `depth` below the current level.
    fn count(&mut self, size: usize, depth: usize, loc: Location) -> Result<(), Abort> {
        self.nodes = self.nodes.saturating_add(size);
        if self.nodes > MAX_NODES {
            let message = if self.aliased {
                format!("the document expands to more than {MAX_NODES} values (through aliases)")
            } else {
                format!("the document has more than {MAX_NODES} values")
            };
            self.diags.error(loc, message);
            return Err(Abort);
        }
        if self.stack.len() + depth > MAX_DEPTH {
            let message = if self.aliased {
                format!("the document is nested deeper than {MAX_DEPTH} levels (through aliases)")
            } else {
                format!("the document is nested deeper than {MAX_DEPTH} levels")
            };
            self.diags.error(loc, message);
            return Err(Abort);
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: Cow<'_, str>,
        style: saphyr_parser::ScalarStyle,
        tag: Option<&Tag>,
        loc: Location,
        env: &EnvValues,
    ) -> Node {
        let style = match style {
            saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
            saphyr_parser::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
            saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
            saphyr_parser::ScalarStyle::Literal => ScalarStyle::Literal,
            saphyr_parser::ScalarStyle::Folded => ScalarStyle::Folded,
        };
        let core_tag = tag
            .filter(|t| t.is_yaml_core_schema())
            .map(|t| t.suffix.as_str());
        let resolved = match core_tag {
            Some("str") => Plain::String,
            Some(kind @ ("null" | "bool" | "int" | "float")) => {
                let plain = resolve_plain(&text);
                let ok = match (kind, &plain) {
                    ("null", Plain::Null) | ("bool", Plain::Bool(_)) | ("int", Plain::Int(_)) => {
                        true
                    }
                    ("float", Plain::Float(_)) => true,
                    ("float", Plain::Int(i)) => {
                        let f = *i as f64;
                        return Node {
                            value: NodeValue::Float(f),
                            loc,
                            style,
                            raw: Some(text.into_owned()),
                            env: EnvValues::none(),
                        };
                    }
                    _ => false,
                };
                if !ok {
                    self.diags
                        .error(
                            loc,
                            format!(
                                "`{}` is not a valid !!{kind} value",
                                crate::node::shorten(&text)
                            ),
                        )
                        .about_env_values(env);
                }
                plain
            }
            _ if style == ScalarStyle::Plain => resolve_plain(&text),
            _ => Plain::String,
        };
        let (value, raw) = match resolved {
            Plain::String => (NodeValue::String(text.into_owned()), None),
            Plain::Null => (NodeValue::Null, Some(text.into_owned())),
            Plain::Bool(b) => (NodeValue::Bool(b), Some(text.into_owned())),
            Plain::Int(i) => (NodeValue::Int(i), Some(text.into_owned())),
            Plain::Float(f) => (NodeValue::Float(f), Some(text.into_owned())),
        };
        Node {
            value,
            loc,
            style,
            raw,
            env: EnvValues::none(),
        }
    }

    /// Attaches a finished node to its parent (or makes it the document root).
    fn add(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let wants_key = matches!(
            self.stack.last(),
            Some(Frame::Map {
                key: PendingKey::None,
                ..
            })
        );
        if wants_key {
            let new_key = self.make_key(node);
            if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                *key = new_key;
            }
            return;
        }
        match self.stack.last_mut() {
            None => self.doc_root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => {
                match std::mem::replace(key, PendingKey::None) {
                    PendingKey::Key(k) => entries.push(Entry::Pair(k, node)),
                    PendingKey::Merge => entries.push(Entry::Merge(node)),
                    PendingKey::Invalid | PendingKey::None => {}
                }
            }
        }
    }

    /// Turns a node in key position into a key; collections are rejected.
    fn make_key(&mut self, node: Node) -> PendingKey {
        match node.scalar_text() {
            Some(text) if node.style == ScalarStyle::Plain && text == "<<" => PendingKey::Merge,
            Some(text) => PendingKey::Key(Key {
                name: text.into_owned(),
                loc: node.loc,
            }),
            None => {
                let line_has_template = self
                    .source
                    .line(node.loc.line)
                    .is_some_and(|l| l.contains("{{"));
                if line_has_template {
                    self.diags
                        .error(
                            node.loc,
                            "unquoted template: `{{ … }}` is read as a YAML mapping",
                        )
                        .with_hint(TEMPLATE_HINT);
                } else {
                    self.diags.error(
                        node.loc,
                        format!("a mapping key must be a scalar, found {}", node.kind()),
                    );
                }
                PendingKey::Invalid
            }
        }
    }

    /// Applies merge keys and resolves duplicate keys (the last one wins, as
    /// in kubernetes-event-exporter, with a warning).
    fn finish_map(&mut self, loc: Location, entries: Vec<Entry>) -> Node {
        let mut out: Vec<(Key, Node)> = Vec::with_capacity(entries.len());
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut merges: Vec<Node> = Vec::new();
        for entry in entries {
            match entry {
                Entry::Pair(key, value) => match index.get(&key.name) {
                    Some(&i) => {
                        self.diags
                            .warning(
                                key.loc,
                                format!(
                                    "duplicate key `{}` (first at line {}); the last value is used",
                                    key.name, out[i].0.loc.line
                                ),
                            )
                            .with_hint("remove one of them");
                        out[i] = (key, value);
                    }
                    None => {
                        index.insert(key.name.clone(), out.len());
                        out.push((key, value));
                    }
                },
                Entry::Merge(value) => merges.push(value),
            }
        }
        for merge in merges {
            let merge_loc = merge.loc;
            let sources = match merge.value {
                NodeValue::Map(_) => vec![merge],
                NodeValue::Seq(items) => items,
                _ => {
                    self.diags
                        .error(
                            merge_loc,
                            format!(
                                "a `<<` merge key needs a mapping or a list of mappings, found {}",
                                merge.kind()
                            ),
                        )
                        .with_hint("merge an anchored mapping: `<<: *defaults`");
                    continue;
                }
            };
            for source in sources {
                let source_kind = source.kind();
                let source_loc = source.loc;
                let NodeValue::Map(merged) = source.value else {
                    self.diags.error(
                        source_loc,
                        format!("a `<<` merge key merges mappings only, found {source_kind}"),
                    );
                    continue;
                };
                for (key, value) in merged {
                    if !index.contains_key(&key.name) {
                        index.insert(key.name.clone(), out.len());
                        out.push((key, value));
                    }
                }
            }
        }
        Node::new(NodeValue::Map(out), loc)
    }

    fn scan_error(&mut self, e: &ScanError) {
        let marker = e.marker();
        let mapped = (self.map.pos)(marker.line(), marker.col());
        let loc = mapped.loc;
        let d = self
            .diags
            .error(loc, format!("cannot parse YAML: {}", e.info()));
        let line = |n: usize| self.source.line(n).unwrap_or("");
        let near = [line(loc.line), line(loc.line.saturating_sub(1))];
        if near.iter().any(|l| l.contains("{{")) {
            d.with_hint(TEMPLATE_HINT);
        } else if let Some(var) = mapped.variable {
            d.with_hint(format!(
                "this position is inside the value of environment variable `{var}`, which is pasted into the file before parsing; quote the reference: \"${{{var}}}\""
            ));
        } else if near
            .iter()
            .any(|l| l.trim_start_matches(' ').starts_with('\t'))
        {
            d.with_hint("indent with spaces; YAML does not allow tabs for indentation");
        }
    }
}

/// The environment values pasted anywhere below a collection.
fn children_env(node: &Node) -> EnvValues {
    let children: Box<dyn Iterator<Item = &Node>> = match &node.value {
        NodeValue::Seq(items) => Box::new(items.iter()),
        NodeValue::Map(entries) => Box::new(entries.iter().map(|(_, v)| v)),
        _ => return node.env.clone(),
    };
    children.fold(EnvValues::none(), |acc, child| acc.union(&child.env))
}

/// Returns the number of nodes in a tree and its nesting depth.
fn measure(node: &Node) -> (usize, usize) {
    match &node.value {
        NodeValue::Seq(items) => items.iter().fold((1, 1), |(n, d), item| {
            let (in_, id) = measure(item);
            (n.saturating_add(in_), d.max(id + 1))
        }),
        NodeValue::Map(entries) => entries.iter().fold((1, 1), |(n, d), (_, v)| {
            let (vn, vd) = measure(v);
            (n.saturating_add(vn).saturating_add(1), d.max(vd + 1))
        }),
        _ => (1, 0),
    }
}
