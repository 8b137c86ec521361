//! The evaluator, a port of Go's `text/template/exec.go`: walks the parse tree,
//! evaluates pipelines with Go's argument rules, and writes output.

mod args;
mod methods;

use args::ArgBuf;

use std::sync::Arc;

use crate::error::{ErrorLocation, ExecError};
use crate::funcs::{self, Ctx, Ev, FuncDef, Imp, Param};
use crate::parse::{Action, Arg, Branch, Command, Node, Number, Pipe, TemplateCall};
use crate::value::{Lookup, Value};
use crate::{Limits, TemplateSet};

/// The node Go's `state.at` would point at, for error messages.
#[derive(Clone, Copy)]
pub(crate) enum At<'t> {
    None,
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> Option<usize> {
        match self {
            At::None => None,
            At::Node(n) => Some(match n {
                Node::Text(_) => 0,
                Node::Action(Action { pos, .. }) => *pos,
                Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
                Node::Template(t) => t.pos,
                Node::Break(p) | Node::Continue(p) => *p,
            }),
            At::Pipe(p) => Some(p.pos),
            At::Cmd(c) => Some(c.pos),
            At::Arg(a) => Some(a.pos()),
        }
    }

    fn context(&self) -> String {
        match self {
            At::None => String::new(),
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// The value a field is selected from, and whether Go would see it through
/// an `interface {}` (which changes the type named in errors).
struct Receiver {
    value: Ev,
    iface: bool,
}

/// Non-local exits of `walk`.
pub(crate) enum Flow {
    Break,
    Continue,
    Err(ExecError),
}

impl From<ExecError> for Flow {
    fn from(e: ExecError) -> Flow {
        Flow::Err(e)
    }
}

type EResult<T> = Result<T, ExecError>;

/// Deepest nesting of lists, maps and structs a function may produce; keeps
/// every recursive walk over values (printing, JSON, comparison) shallow.
const MAX_VALUE_DEPTH: u32 = 200;

pub(crate) struct Exec<'t, 'o> {
    set: &'t TemplateSet,
    name: &'t str,
    out: &'o mut String,
    out_base: usize,
    /// `$`, the data the current template was called with.
    root: Ev,
    /// Declared variables, innermost last.
    vars: Vec<(&'t str, Ev)>,
    depth: usize,
    iterations: u64,
    limits: Limits,
    node: At<'t>,
}

/// Executes the template `name` of `set` over `data`, appending to `out`.
pub(crate) fn execute(
    set: &TemplateSet,
    name: &str,
    data: &Value,
    out: &mut String,
    limits: Limits,
) -> Result<(), ExecError> {
    let Some(tree) = set.trees.get(name) else {
        return Err(ExecError {
            template: name.to_owned(),
            location: None,
            message: format!("{} is an incomplete or empty template", go_quote(name)),
            limit_exceeded: false,
        });
    };
    let dot: Ev = if data.is_nil() {
        None
    } else {
        Some(data.clone())
    };
    let base = out.len();
    let mut ex = Exec {
        set,
        name: &tree.name,
        out,
        out_base: base,
        root: dot.clone(),
        vars: Vec::new(),
        depth: 0,
        iterations: 0,
        limits,
        node: At::None,
    };
    match ex.walk_list(&dot, &tree.root) {
        Ok(()) => Ok(()),
        Err(Flow::Err(e)) => {
            out.truncate(base);
            Err(e)
        }
        // The parser rejects break/continue outside range.
        Err(Flow::Break | Flow::Continue) => Ok(()),
    }
}

fn go_quote(s: &str) -> String {
    crate::fmt::quote::quote(s, false)
}

fn truth(v: &Ev) -> bool {
    v.as_ref().is_some_and(Value::is_true)
}

/// Turns a nil coming out of an interface context into a missing value.
fn iface(v: Value) -> Ev {
    if v.is_nil() { None } else { Some(v) }
}

impl<'t> Exec<'t, '_> {
    // === errors ===

    fn at(&mut self, node: At<'t>) {
        self.node = node;
    }

    fn error(&self, message: impl Into<String>) -> ExecError {
        let location = self.node.pos().map(|pos| {
            let src = &*self.set.source;
            let pos = crate::parse::floor_boundary(src, pos);
            let before = &src[..pos];
            let line = before.matches('\n').count() + 1;
            let column = before.rfind('\n').map_or(pos, |i| pos - (i + 1));
            ErrorLocation {
                parse_name: self.set.name.to_string(),
                line,
                column,
                context: self.node.context(),
            }
        });
        ExecError {
            template: self.name.to_owned(),
            location,
            message: message.into(),
            limit_exceeded: false,
        }
    }

    fn limit_error(&self, message: String) -> ExecError {
        let mut e = self.error(message);
        e.limit_exceeded = true;
        e
    }

    fn check_output(&self) -> EResult<()> {
        if self.out.len() - self.out_base > self.limits.max_output_bytes {
            return Err(self.limit_error(format!(
                "output exceeds the limit of {} bytes",
                self.limits.max_output_bytes
            )));
        }
        Ok(())
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            limits: &self.limits,
        }
    }

    // === variables ===

    fn var_value(&self, name: &str) -> EResult<Ev> {
        for (n, v) in self.vars.iter().rev() {
            if *n == name {
                return Ok(v.clone());
            }
        }
        if name == "$" {
            return Ok(self.root.clone());
        }
        Err(self.error(format!("undefined variable: {name}")))
    }

    fn set_var(&mut self, name: &str, value: Ev) -> EResult<()> {
        for (n, v) in self.vars.iter_mut().rev() {
            if *n == name {
                *v = value;
                return Ok(());
            }
        }
        if name == "$" {
            self.root = value;
            return Ok(());
        }
        Err(self.error(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, value: Ev) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    // === walking ===

    fn walk_list(&mut self, dot: &Ev, list: &'t [Node]) -> Result<(), Flow> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Ev, node: &'t Node) -> Result<(), Flow> {
        self.at(At::Node(node));
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                self.check_output()?;
            }
            Node::Action(a) => {
                let val = self.eval_pipeline(dot, &a.pipe)?;
                if a.pipe.decl.is_empty() {
                    self.at(At::Node(node));
                    match &val {
                        None => self.out.push_str("<no value>"),
                        Some(v) => crate::fmt::print_action(self.out, v),
                    }
                    self.check_output()?;
                }
            }
            Node::If(b) => self.walk_if_or_with(dot, b, false)?,
            Node::With(b) => self.walk_if_or_with(dot, b, true)?,
            Node::Range(b) => self.walk_range(dot, node, b)?,
            Node::Template(t) => self.walk_template(dot, node, t)?,
            Node::Break(_) => return Err(Flow::Break),
            Node::Continue(_) => return Err(Flow::Continue),
        }
        Ok(())
    }

    fn enter(&mut self) -> EResult<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.limit_error(format!(
                "exceeded maximum template depth ({})",
                self.limits.max_depth
            )));
        }
        Ok(())
    }

    fn walk_if_or_with(&mut self, dot: &Ev, b: &'t Branch, with: bool) -> Result<(), Flow> {
        self.enter()?;
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let r = if truth(&val) {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        r
    }

    fn one_iteration(
        &mut self,
        b: &'t Branch,
        mark: usize,
        index: Ev,
        elem: Ev,
    ) -> Result<bool, Flow> {
        self.iterations += 1;
        if self.iterations > self.limits.max_range_iterations {
            return Err(Flow::Err(self.limit_error(format!(
                "range exceeded the limit of {} iterations",
                self.limits.max_range_iterations
            ))));
        }
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let r = self.walk_list(&elem, &b.list);
        self.vars.truncate(mark);
        match r {
            Ok(()) | Err(Flow::Continue) => Ok(true),
            Err(Flow::Break) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn walk_range(&mut self, dot: &Ev, node: &'t Node, b: &'t Branch) -> Result<(), Flow> {
        self.at(At::Node(node));
        self.enter()?;
        let mark0 = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let mut ran = false;
        match &val {
            Some(Value::Int(_) | Value::Uint(_)) => {
                if b.pipe.decl.len() > 1 {
                    let shown = val
                        .as_ref()
                        .map(crate::fmt::to_string_v)
                        .unwrap_or_default();
                    return Err(Flow::Err(self.error(format!(
                        "can't use {shown} to iterate over more than one variable"
                    ))));
                }
                let n = match &val {
                    Some(Value::Int(i)) => *i,
                    Some(Value::Uint(u)) => i64::try_from(*u).unwrap_or(i64::MAX),
                    _ => 0,
                };
                for i in 0..n.max(0) {
                    ran = true;
                    if !self.one_iteration(b, mark, Some(Value::Int(i)), Some(Value::Int(i)))? {
                        break;
                    }
                }
            }
            Some(Value::List(l)) => {
                for (i, item) in l.items().iter().enumerate() {
                    ran = true;
                    let index = Some(Value::Int(i64::try_from(i).unwrap_or(i64::MAX)));
                    if !self.one_iteration(b, mark, index, iface(item.clone()))? {
                        break;
                    }
                }
            }
            Some(Value::Bytes(bytes)) => {
                for (i, item) in bytes.iter().enumerate() {
                    ran = true;
                    let index = Some(Value::Int(i64::try_from(i).unwrap_or(i64::MAX)));
                    if !self.one_iteration(b, mark, index, Some(Value::Uint(u64::from(*item))))? {
                        break;
                    }
                }
            }
            Some(Value::Map(m)) => {
                let entries = m.entries();
                for (k, item) in entries.iter() {
                    ran = true;
                    let key = Some(Value::String(k.clone()));
                    if !self.one_iteration(b, mark, key, iface(item.clone()))? {
                        break;
                    }
                }
            }
            None | Some(Value::Nil) => {}
            Some(other) => {
                let shown = crate::fmt::to_string_v(other);
                return Err(Flow::Err(
                    self.error(format!("range can't iterate over {shown}")),
                ));
            }
        }
        let r = if !ran && let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        };
        self.vars.truncate(mark0);
        self.depth -= 1;
        r
    }

    fn walk_template(&mut self, dot: &Ev, node: &'t Node, t: &'t TemplateCall) -> Result<(), Flow> {
        self.at(At::Node(node));
        let Some(tree) = self.set.trees.get(&t.name) else {
            return Err(Flow::Err(
                self.error(format!("template {} not defined", go_quote(&t.name))),
            ));
        };
        self.enter()?;
        let new_dot = match &t.pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => None,
        };
        let saved_vars = std::mem::take(&mut self.vars);
        let saved_root = std::mem::replace(&mut self.root, new_dot.clone());
        let saved_name = std::mem::replace(&mut self.name, &tree.name);
        let r = self.walk_list(&new_dot, &tree.root);
        self.vars = saved_vars;
        self.root = saved_root;
        self.name = saved_name;
        self.depth -= 1;
        r
    }

    // === evaluation ===

    pub(crate) fn eval_pipeline(&mut self, dot: &Ev, pipe: &'t Pipe) -> EResult<Ev> {
        self.at(At::Pipe(pipe));
        let mut value: Option<Ev> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(None);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&mut self, args: &'t [Arg], fin: &Option<Ev>) -> EResult<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.error(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Ev, cmd: &'t Command, fin: Option<Ev>) -> EResult<Ev> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at(At::Arg(first));
                return self.eval_field_chain(dot, dot.clone(), idents, &cmd.args, fin);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Ident { .. } => {
                return self.eval_function(dot, first, At::Cmd(cmd), &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { value, .. } => Ok(Some(Value::Bool(*value))),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Err(self.error("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { value, .. } => Ok(Some(value.clone())),
            _ => Err(self.error(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            ))),
        }
    }

    fn ideal_constant(&mut self, node: &'t Arg, n: &Number) -> EResult<Ev> {
        self.at(At::Arg(node));
        let t = &*n.text;
        let is_hex_int = t.len() > 2
            && t.starts_with('0')
            && matches!(t.as_bytes()[1], b'x' | b'X')
            && !t.contains(['p', 'P']);
        let is_rune = t.starts_with('\'');
        if n.is_float && !is_hex_int && !is_rune && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Some(Value::Float(n.float)));
        }
        if n.is_int {
            return Ok(Some(Value::Int(n.int)));
        }
        if n.is_uint {
            return Err(self.error(format!("{t} overflows int")));
        }
        Ok(None)
    }

    fn eval_variable(
        &mut self,
        dot: &Ev,
        node: &'t Arg,
        args: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<Ev> {
        self.at(At::Arg(node));
        let Arg::Variable { idents, .. } = node else {
            return Ok(None);
        };
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, &idents[1..], args, fin)
    }

    fn eval_chain(
        &mut self,
        dot: &Ev,
        node: &'t Arg,
        args: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<Ev> {
        self.at(At::Arg(node));
        let Arg::Chain {
            node: inner,
            fields,
            ..
        } = node
        else {
            return Ok(None);
        };
        if matches!(**inner, Arg::Nil(_)) {
            return Err(self.error(format!("indirection through explicit nil in {node}")));
        }
        let recv = self.eval_arg(dot, None, inner)?;
        self.eval_field_chain(dot, recv, fields, args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Ev,
        mut recv: Ev,
        idents: &'t [Arc<str>],
        args: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<Ev> {
        let n = idents.len();
        // Go names the static type in errors: values read out of a
        // `map[string]interface{}` are `interface {}`.
        let mut iface_recv = false;
        for id in &idents[..n - 1] {
            let from_iface_map = matches!(&recv, Some(Value::Map(m)) if *m.elem() == crate::value::ElemType::Interface);
            recv = self.eval_field(
                dot,
                id,
                (&[], None),
                Receiver {
                    value: recv,
                    iface: iface_recv,
                },
            )?;
            iface_recv = from_iface_map;
        }
        let last = Receiver {
            value: recv,
            iface: iface_recv,
        };
        self.eval_field(dot, &idents[n - 1], (args, fin), last)
    }

    fn eval_field(
        &mut self,
        dot: &Ev,
        name: &str,
        (args, fin): (&'t [Arg], Option<Ev>),
        recv: Receiver,
    ) -> EResult<Ev> {
        let iface_recv = recv.iface;
        let Some(recv) = recv.value else {
            return Ok(None);
        };
        let type_name = |v: &Value| -> String {
            if iface_recv {
                "interface {}".to_owned()
            } else {
                v.type_name().into_owned()
            }
        };
        let has_args = args.len() > 1 || fin.is_some();
        match &recv {
            Value::Nil => Err(self.error(format!("nil pointer evaluating interface {{}}.{name}"))),
            Value::Map(m) => {
                if has_args {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                Ok(m.get(name).and_then(iface))
            }
            Value::Struct(s) => match s.struct_type().resolve(name) {
                Some(Lookup::Path(path)) => {
                    let (def, val) = match s.follow(path) {
                        Ok(x) => x,
                        Err(member) => {
                            return Err(self.error(format!(
                                "reflect: indirection through nil pointer to embedded struct field {member}"
                            )));
                        }
                    };
                    if matches!(def.kind(), crate::value::FieldKind::Method) {
                        if has_args {
                            let got = args.len().saturating_sub(1) + usize::from(fin.is_some());
                            return Err(self.error(format!(
                                "wrong number of args for {name}: want 0 got {got}"
                            )));
                        }
                    } else if has_args {
                        return Err(self.error(format!(
                            "{name} has arguments but cannot be invoked as function"
                        )));
                    }
                    Ok(Some(val.clone()))
                }
                _ => Err(self.error(format!(
                    "can't evaluate field {name} in type {}",
                    type_name(&recv)
                ))),
            },
            Value::Time(_) | Value::Duration(_) | Value::Named(_) => {
                self.eval_method(dot, &recv, name, args, fin)
            }
            other => Err(self.error(format!(
                "can't evaluate field {name} in type {}",
                type_name(other)
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Ev,
        ident: &'t Arg,
        call_node: At<'t>,
        args: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<Ev> {
        self.at(At::Arg(ident));
        let Arg::Ident { func, name, .. } = ident else {
            return Ok(None);
        };
        let def = funcs::get(*func);
        self.eval_call(dot, def, name, call_node, args, fin)
    }

    /// Go's `evalCall` for a table function.
    fn eval_call(
        &mut self,
        dot: &Ev,
        def: &'static FuncDef,
        name: &str,
        call_node: At<'t>,
        args: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<Ev> {
        let rest = args.get(1..).unwrap_or(&[]);
        self.check_arity(name, def.params, def.variadic, rest.len(), fin.is_some())?;
        match def.imp {
            Imp::And | Imp::Or => {
                let want = matches!(def.imp, Imp::Or);
                let mut v: Ev = None;
                for a in rest {
                    v = self.eval_arg(dot, Some(Param::Reflect), a)?;
                    if truth(&v) == want {
                        return Ok(v);
                    }
                }
                if let Some(f) = fin {
                    v = self.validate(f, Param::Reflect)?;
                }
                Ok(v)
            }
            Imp::Call => {
                let argv = self.build_args(dot, def.params, def.variadic, rest, fin)?;
                let argv = argv.as_slice();
                let callee = rest.first().map_or_else(
                    || {
                        argv.first()
                            .cloned()
                            .flatten()
                            .map(|v| crate::fmt::to_string_v(&v))
                            .unwrap_or_default()
                    },
                    ToString::to_string,
                );
                let msg = match argv.first().cloned().flatten() {
                    None | Some(Value::Nil) => "call of nil".to_owned(),
                    Some(v) => format!("non-function {callee} of type {}", v.type_name()),
                };
                self.at(call_node);
                Err(self.error(format!("error calling call: {msg}")))
            }
            Imp::Raw(imp) => {
                let argv = self.build_args(dot, def.params, def.variadic, rest, fin)?;
                let ctx = self.ctx();
                match imp(&ctx, argv.as_slice()) {
                    Ok(v) => self.check_depth(v.and_then(iface)),
                    Err(msg) => {
                        self.at(call_node);
                        Err(self.error(format!("error calling {name}: {msg}")))
                    }
                }
            }
            Imp::Plain(imp) => {
                let mut evs = self.build_args(dot, def.params, def.variadic, rest, fin)?;
                let mut argv: ArgBuf<Value> = ArgBuf::with_capacity(evs.as_slice().len());
                for a in evs.as_mut_slice() {
                    argv.push(a.take().unwrap_or(Value::Nil));
                }
                let ctx = self.ctx();
                match imp(&ctx, argv.as_slice()) {
                    Ok(v) => self.check_depth(iface(v)),
                    Err(msg) => {
                        self.at(call_node);
                        Err(self.error(format!("error calling {name}: {msg}")))
                    }
                }
            }
        }
    }

    fn check_depth(&self, v: Ev) -> EResult<Ev> {
        let depth = v.as_ref().map_or(0, Value::depth);
        if depth > MAX_VALUE_DEPTH {
            return Err(self.limit_error(format!("value nesting exceeds {MAX_VALUE_DEPTH} levels")));
        }
        Ok(v)
    }

    fn check_arity(
        &self,
        name: &str,
        params: &[Param],
        variadic: Option<Param>,
        nargs: usize,
        has_final: bool,
    ) -> EResult<()> {
        let num_in = nargs + usize::from(has_final);
        if variadic.is_some() {
            if num_in < params.len() {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {} got {nargs}",
                    params.len()
                )));
            }
        } else if num_in != params.len() {
            return Err(self.error(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                params.len()
            )));
        }
        Ok(())
    }

    /// Evaluates call arguments against the parameter types, the piped value
    /// last.
    pub(crate) fn build_args(
        &mut self,
        dot: &Ev,
        params: &[Param],
        variadic: Option<Param>,
        rest: &'t [Arg],
        fin: Option<Ev>,
    ) -> EResult<ArgBuf<Ev>> {
        let num_in = rest.len() + usize::from(fin.is_some());
        let mut argv: ArgBuf<Ev> = ArgBuf::with_capacity(num_in);
        for (i, a) in rest.iter().enumerate() {
            let p = params.get(i).copied().or(variadic).unwrap_or(Param::Any);
            argv.push(self.eval_arg(dot, Some(p), a)?);
        }
        if let Some(f) = fin {
            let p = match variadic {
                Some(vp) if num_in > params.len() => vp,
                _ => params.get(num_in - 1).copied().unwrap_or(Param::Any),
            };
            argv.push(self.validate(f, p)?);
        }
        Ok(argv)
    }

    /// Go's `validateType`.
    fn validate(&mut self, v: Ev, p: Param) -> EResult<Ev> {
        let Some(val) = v else {
            return match p {
                Param::Reflect => Ok(None),
                _ if p.can_be_nil() => Ok(Some(Value::Nil)),
                _ => Err(self.error(format!("invalid value; expected {}", p.go_name()))),
            };
        };
        let ok = match (p, &val) {
            (Param::Any | Param::Reflect, _) => true,
            (Param::Str, Value::String(_)) => true,
            (Param::Int, Value::Int(_) | Value::Uint(_)) => true,
            (Param::Float, Value::Float(_)) => true,
            (Param::Bool, Value::Bool(_)) => true,
            (Param::Time, Value::Time(t)) => t.kind() == crate::value::TimeKind::Go,
            (Param::Map, Value::Map(_) | Value::Nil) => true,
            _ => false,
        };
        if !ok {
            return Err(self.error(format!(
                "wrong type for value; expected {}; got {}",
                p.go_name(),
                val.type_name()
            )));
        }
        Ok(Some(val))
    }

    /// Go's `evalArg`; `p == None` is an untyped context (chain receivers).
    pub(crate) fn eval_arg(&mut self, dot: &Ev, p: Option<Param>, a: &'t Arg) -> EResult<Ev> {
        self.at(At::Arg(a));
        let computed = match a {
            Arg::Dot(_) => Some(dot.clone()),
            Arg::Nil(_) => {
                return match p {
                    None | Some(Param::Reflect) => Ok(None),
                    Some(Param::Any | Param::Map) => Ok(Some(Value::Nil)),
                    Some(p) => Err(self.error(format!("cannot assign nil to {}", p.go_name()))),
                };
            }
            Arg::Field { idents, .. } => Some(self.eval_field_chain(
                dot,
                dot.clone(),
                idents,
                std::slice::from_ref(a),
                None,
            )?),
            Arg::Variable { .. } => Some(self.eval_variable(dot, a, &[], None)?),
            Arg::Pipe(pipe) => Some(self.eval_pipeline(dot, pipe)?),
            Arg::Ident { .. } => Some(self.eval_function(dot, a, At::Arg(a), &[], None)?),
            Arg::Chain { .. } => Some(self.eval_chain(dot, a, &[], None)?),
            _ => None,
        };
        if let Some(v) = computed {
            return match p {
                None => Ok(v),
                Some(p) => self.validate(v, p),
            };
        }
        // Literals.
        match (p.unwrap_or(Param::Reflect), a) {
            (Param::Bool, Arg::Bool { value, .. }) => Ok(Some(Value::Bool(*value))),
            (Param::Bool, _) => Err(self.error(format!("expected bool; found {a}"))),
            (Param::Float, Arg::Number(n)) if n.is_float => Ok(Some(Value::Float(n.float))),
            (Param::Float, _) => Err(self.error(format!("expected float; found {a}"))),
            (Param::Int, Arg::Number(n)) if n.is_int => Ok(Some(Value::Int(n.int))),
            (Param::Int, _) => Err(self.error(format!("expected integer; found {a}"))),
            (Param::Str, Arg::String { value, .. }) => Ok(Some(value.clone())),
            (Param::Str, _) => Err(self.error(format!("expected string; found {a}"))),
            (Param::Any | Param::Reflect, Arg::Bool { value, .. }) => Ok(Some(Value::Bool(*value))),
            (Param::Any | Param::Reflect, Arg::Number(n)) => self.ideal_constant(a, n),
            (Param::Any | Param::Reflect, Arg::String { value, .. }) => Ok(Some(value.clone())),
            (p, _) => Err(self.error(format!("can't handle {a} for arg of type {}", p.go_name()))),
        }
    }
}
