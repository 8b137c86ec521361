//! Layouts: a receiver's `layout:` tree (maps, lists, scalars) whose strings
//! are templates, compiled once and rendered recursively per event.
//!
//! As in kubernetes-event-exporter, every string renders to a string
//! (`"{{ .Count }}"` gives `"5"`). Unlike it, non-string scalars keep their
//! type and value (KEE turned `priority: 3` into `null`).

use std::sync::Arc;

use crate::error::{ExecError, LayoutError};
use crate::json::{JsonSink, write_string};
use crate::value::{ElemType, List, Map, Value};
use crate::{Limits, Template};

#[derive(Clone, Debug)]
enum Node {
    Template(Template),
    Map(Vec<(Arc<str>, Node)>),
    List(Vec<Node>),
    Scalar(Value),
}

/// A compiled layout.
#[derive(Clone, Debug)]
pub struct Layout {
    root: Node,
}

fn compile_node(v: &serde_json::Value, path: &str) -> Result<Node, LayoutError> {
    Ok(match v {
        serde_json::Value::String(s) => {
            Node::Template(Template::parse(path, s).map_err(|source| LayoutError {
                path: path.to_owned(),
                source,
            })?)
        }
        serde_json::Value::Object(o) => {
            let mut entries = Vec::with_capacity(o.len());
            for (k, child) in o {
                let child_path = format!("{path}.{k}");
                entries.push((
                    Arc::<str>::from(k.as_str()),
                    compile_node(child, &child_path)?,
                ));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Node::Map(entries)
        }
        serde_json::Value::Array(a) => Node::List(
            a.iter()
                .enumerate()
                .map(|(i, child)| compile_node(child, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => Node::Scalar(Value::from_json(other)),
    })
}

fn set_limits(node: &mut Node, limits: Limits) {
    match node {
        Node::Template(t) => *t = t.clone().with_limits(limits),
        Node::Map(entries) => entries.iter_mut().for_each(|(_, n)| set_limits(n, limits)),
        Node::List(items) => items.iter_mut().for_each(|n| set_limits(n, limits)),
        Node::Scalar(_) => {}
    }
}

impl Layout {
    /// Compiles every string of `layout` as a template. Templates are named by
    /// their path (`layout.details.owner`, `layout.tags[0]`), rooted at `name`.
    ///
    /// # Errors
    /// Returns the first template that fails to parse, with its path.
    pub fn compile(layout: &serde_json::Value, name: &str) -> Result<Layout, LayoutError> {
        Ok(Layout {
            root: compile_node(layout, name)?,
        })
    }

    /// Returns a copy whose templates render with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Layout {
        set_limits(&mut self.root, limits);
        self
    }

    /// Renders the layout over `data` into a value tree: strings for
    /// templates, maps and lists recursively, other scalars unchanged.
    ///
    /// # Errors
    /// Returns the first template's execution error.
    pub fn render(&self, data: &Value) -> Result<Value, ExecError> {
        render_node(&self.root, data)
    }

    /// Renders the layout straight to Go-compatible JSON (sorted keys, HTML
    /// escaping as requested), appending to `out` without building the value
    /// tree. On error `out` may hold partial output.
    ///
    /// # Errors
    /// Returns the first template's execution error.
    pub fn render_json<S: JsonSink>(
        &self,
        data: &Value,
        out: &mut S,
        escape_html: bool,
    ) -> Result<(), ExecError> {
        let mut scratch = String::new();
        write_node(&self.root, data, out, escape_html, &mut scratch)
    }
}

fn render_node(node: &Node, data: &Value) -> Result<Value, ExecError> {
    Ok(match node {
        Node::Template(t) => Value::from(t.render(data)?),
        Node::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, n) in entries {
                out.push((k.clone(), render_node(n, data)?));
            }
            Value::Map(Map::frozen(ElemType::Interface, out))
        }
        Node::List(items) => Value::List(List::from_values(
            items
                .iter()
                .map(|n| render_node(n, data))
                .collect::<Result<_, _>>()?,
        )),
        Node::Scalar(v) => v.clone(),
    })
}

fn write_node<S: JsonSink>(
    node: &Node,
    data: &Value,
    out: &mut S,
    escape_html: bool,
    scratch: &mut String,
) -> Result<(), ExecError> {
    match node {
        Node::Template(t) => {
            scratch.clear();
            t.render_into(data, scratch)?;
            write_string(out, scratch, escape_html);
        }
        Node::Map(entries) => {
            out.push_byte(b'{');
            for (i, (k, n)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_byte(b',');
                }
                write_string(out, k, escape_html);
                out.push_byte(b':');
                write_node(n, data, out, escape_html, scratch)?;
            }
            out.push_byte(b'}');
        }
        Node::List(items) => {
            out.push_byte(b'[');
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    out.push_byte(b',');
                }
                write_node(n, data, out, escape_html, scratch)?;
            }
            out.push_byte(b']');
        }
        Node::Scalar(v) => {
            let s = crate::json::to_go_json(v, escape_html);
            out.push_str(&s);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Value {
        Value::map([
            ("Reason", Value::from("BackOff")),
            ("Count", Value::Int(5)),
            ("Name", Value::from("<web>")),
        ])
    }

    #[test]
    fn renders_strings_and_keeps_scalars() {
        let spec = serde_json::json!({
            "msg": "{{ .Reason }}",
            "count": "{{ .Count }}",
            "priority": 3,
            "ok": true,
            "none": null,
            "tags": ["{{ .Name }}", 1.5],
            "nested": {"b": "x", "a": "{{ .Reason | lower }}"}
        });
        let l = Layout::compile(&spec, "layout").unwrap();
        let v = l.render(&data()).unwrap();
        let json = crate::json::to_go_json(&v, true);
        assert_eq!(
            json,
            "{\"count\":\"5\",\"msg\":\"BackOff\",\"nested\":{\"a\":\"backoff\",\"b\":\"x\"},\"none\":null,\"ok\":true,\"priority\":3,\"tags\":[\"\\u003cweb\\u003e\",1.5]}"
        );
        let mut direct = String::new();
        l.render_json(&data(), &mut direct, true).unwrap();
        assert_eq!(direct, json);
    }

    #[test]
    fn errors_name_the_path() {
        let spec = serde_json::json!({"details": {"owner": "{{ .Foo "}});
        let e = Layout::compile(&spec, "layout").unwrap_err();
        assert_eq!(e.path, "layout.details.owner");
        assert!(
            e.to_string()
                .starts_with("layout.details.owner: template: layout.details.owner:1:")
        );
        let spec = serde_json::json!({"a": ["{{ fail \"boom\" }}"]});
        let l = Layout::compile(&spec, "layout").unwrap();
        let e = l.render(&data()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "template: layout.a[0]:1:3: executing \"layout.a[0]\" at <fail \"boom\">: error calling fail: boom"
        );
    }
}
