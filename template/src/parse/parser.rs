//! The recursive-descent parser, a port of Go's `text/template/parse/parse.go`:
//! same grammar, same three-token lookahead, same error messages. Functions
//! are resolved at parse time against the builtin and sprig tables.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{Action, Arg, Branch, Command, Node, Number, Pipe, TemplateCall, Tree};
use super::lex::{Item, ItemType, Lexer};
use crate::error::ParseError;
use crate::fmt::quote::unquote;
use crate::value::Value;

/// Deepest nesting of parentheses and control structures accepted; deeper
/// templates are rejected instead of exhausting the stack.
pub(crate) const MAX_NESTING: usize = 100;

type PResult<T> = Result<T, ParseError>;

/// What `textOrAction` produced: a node, or an `{{end}}`/`{{else}}` marker.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self) -> &'static str {
        match self {
            Parsed::End => "{{end}}",
            Parsed::Else => "{{else}}",
            Parsed::Node(_) => "node",
        }
    }
}

pub(crate) struct Parser<'a> {
    name: &'a str,
    src: &'a str,
    lex: Lexer<'a>,
    token: [Item<'a>; 3],
    peek_count: usize,
    vars: Vec<Arc<str>>,
    range_depth: usize,
    action_line: usize,
    nesting: usize,
    trees: HashMap<Arc<str>, Tree>,
}

fn eof_item<'a>() -> Item<'a> {
    Item {
        typ: ItemType::Eof,
        pos: 0,
        val: std::borrow::Cow::Borrowed(""),
        line: 1,
    }
}

/// Go's `IsEmptyTree`: only whitespace text.
fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

/// Parses `src` into the set of templates it defines; the top-level body is
/// stored under `name`.
pub(crate) fn parse(name: &str, src: &str) -> PResult<HashMap<Arc<str>, Tree>> {
    let mut p = Parser {
        name,
        src,
        lex: Lexer::new(src),
        token: [eof_item(), eof_item(), eof_item()],
        peek_count: 0,
        vars: vec![Arc::from("$")],
        range_depth: 0,
        action_line: 0,
        nesting: 0,
        trees: HashMap::new(),
    };
    let root = p.parse_top()?;
    p.add(Arc::from(name), root)?;
    Ok(p.trees)
}

impl<'a> Parser<'a> {
    // === token stream ===

    fn next(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item<'a>) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item<'a>, t1: Item<'a>) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let t = self.next_non_space();
        self.backup();
        t
    }

    // === errors ===

    fn errorf(&self, message: String) -> ParseError {
        let pos = self.token[0].pos.min(self.src.len());
        let before = &self.src[..floor_boundary(self.src, pos)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            name: self.name.to_owned(),
            line,
            column,
            message,
        }
    }

    fn unexpected(&self, token: &Item<'a>, context: &str) -> ParseError {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item<'a>> {
        let t = self.next_non_space();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.errorf(format!("max expression depth exceeded ({MAX_NESTING})")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn add(&mut self, name: Arc<str>, root: Vec<Node>) -> PResult<()> {
        if let Some(existing) = self.trees.get(&name)
            && !is_empty_tree(&existing.root)
        {
            if !is_empty_tree(&root) {
                return Err(self.errorf(format!(
                    "template: multiple definition of template {}",
                    crate::fmt::quote::quote(&name, false)
                )));
            }
            return Ok(());
        }
        self.trees.insert(name.clone(), Tree { name, root });
        Ok(())
    }

    // === structure ===

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return Err(self.errorf(format!("unexpected {}", other.describe()))),
            }
        }
        Ok(root)
    }

    /// Parses a sub-template body with fresh variable scope.
    fn sub_tree(&mut self, context: &str) -> PResult<Vec<Node>> {
        let saved_vars = std::mem::replace(&mut self.vars, vec![Arc::from("$")]);
        let saved_range = std::mem::take(&mut self.range_depth);
        let (root, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {} in {context}", end.describe())));
        }
        self.vars = saved_vars;
        self.range_depth = saved_range;
        Ok(root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if t.typ != ItemType::String && t.typ != ItemType::RawString {
            return Err(self.unexpected(&t, CONTEXT));
        }
        let name = unquote(&t.val).map_err(|_| self.errorf("invalid syntax".into()))?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let root = self.sub_tree(CONTEXT)?;
        self.add(Arc::from(name), root)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
        Err(self.errorf("unexpected EOF".into()))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text(t.val.as_ref().into()))),
            ItemType::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break => return self.break_control(t.pos, true).map(Parsed::Node),
            ItemType::Continue => return self.break_control(t.pos, false).map(Parsed::Node),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return self.branch("if").map(|b| Parsed::Node(Node::If(b))),
            ItemType::Range => return self.branch("range").map(|b| Parsed::Node(Node::Range(b))),
            ItemType::Template => return self.template_control().map(Parsed::Node),
            ItemType::With => return self.branch("with").map(|b| Parsed::Node(Node::With(b))),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action(Action { pos, pipe })))
    }

    fn break_control(&mut self, pos: usize, is_break: bool) -> PResult<Node> {
        let word = if is_break {
            "{{break}}"
        } else {
            "{{continue}}"
        };
        let t = self.next_non_space();
        if t.typ != ItemType::RightDelim {
            return Err(self.unexpected(&t, word));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{word} outside {{{{range}}}}")));
        }
        Ok(if is_break {
            Node::Break(pos)
        } else {
            Node::Continue(pos)
        })
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn branch(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let mark = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else => {
                let p = self.peek().typ;
                if context == "if" && p == ItemType::If {
                    self.next();
                    else_list = Some(vec![Node::If(self.branch("if")?)]);
                } else if context == "with" && p == ItemType::With {
                    self.next();
                    else_list = Some(vec![Node::With(self.branch("with")?)]);
                } else {
                    let (list, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return Err(self.errorf(format!("expected end; found {}", next.describe())));
                    }
                    else_list = Some(list);
                }
            }
            Parsed::Node(_) => {}
        }
        self.vars.truncate(mark);
        self.leave();
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, t: &Item<'a>, context: &str) -> PResult<Arc<str>> {
        match t.typ {
            ItemType::String | ItemType::RawString => unquote(&t.val)
                .map(Arc::from)
                .map_err(|_| self.errorf("invalid syntax".into())),
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        self.enter()?;
        let root = self.sub_tree(CONTEXT)?;
        self.leave();
        self.add(name.clone(), root)?;
        Ok(Node::Template(TemplateCall {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template(TemplateCall {
            pos: t.pos,
            name,
            pipe,
        }))
    }

    // === pipelines ===

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                let name: Arc<str> = Arc::from(v.val.as_ref());
                pipe.decl.push(name.clone());
                self.vars.push(name);
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                let name: Arc<str> = Arc::from(v.val.as_ref());
                pipe.decl.push(name.clone());
                self.vars.push(name);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue 'decls;
                        }
                        _ => return Err(self.errorf("range can only initialize variables".into())),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else if after.typ == ItemType::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            match t.typ {
                x if x == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number(_)
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if args.is_empty() {
            return Err(self.errorf("empty command".into()));
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields: Vec<Arc<str>> = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(Arc::from(&f.val[1..]));
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Bool { .. } | Arg::String { .. } | Arg::Number(_) | Arg::Nil(_) | Arg::Dot(_) => {
                let s = node.to_string();
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::fmt::quote::quote(&s, false)
                )));
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let arg = match t.typ {
            ItemType::Identifier => {
                let Some(func) = crate::funcs::lookup(&t.val) else {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        crate::fmt::quote::quote(&t.val, false)
                    )));
                };
                Arg::Ident {
                    pos: t.pos,
                    name: Arc::from(t.val.as_ref()),
                    func,
                }
            }
            ItemType::Dot => Arg::Dot(t.pos),
            ItemType::Nil => Arg::Nil(t.pos),
            ItemType::Variable => {
                let idents: Vec<Arc<str>> = t.val.split('.').map(Arc::from).collect();
                if !self.vars.iter().any(|v| **v == *idents[0]) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        crate::fmt::quote::quote(&idents[0], false)
                    )));
                }
                Arg::Variable { pos: t.pos, idents }
            }
            ItemType::Field => Arg::Field {
                pos: t.pos,
                idents: t.val[1..].split('.').map(Arc::from).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos: t.pos,
                value: t.val == "true",
            },
            ItemType::CharConstant => {
                let n = Number::parse_char(t.pos, &t.val).map_err(|m| self.errorf(m))?;
                Arg::Number(Box::new(n))
            }
            ItemType::Complex | ItemType::Number => {
                let n = Number::parse(t.pos, &t.val).map_err(|m| self.errorf(m))?;
                Arg::Number(Box::new(n))
            }
            ItemType::LeftParen => {
                self.enter()?;
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen)?;
                self.leave();
                Arg::Pipe(Box::new(p))
            }
            ItemType::String | ItemType::RawString => {
                let s = unquote(&t.val).map_err(|_| self.errorf("invalid syntax".into()))?;
                Arg::String {
                    pos: t.pos,
                    quoted: t.val.as_ref().into(),
                    value: Value::from(s),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(arg))
    }
}

/// The largest char boundary at or below `i`.
pub(crate) fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        match parse("t", src) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{}:{}", e.line, e.message),
        }
    }

    #[test]
    fn parse_errors_match_go() {
        assert_eq!(err("{{ .X } }}"), "1:unexpected \"}\" in operand");
        assert_eq!(err("{{ foo }}"), "1:function \"foo\" not defined");
        assert_eq!(err("{{ .X"), "1:unclosed action");
        assert_eq!(err("{{if .X}}a"), "1:unexpected EOF");
        assert_eq!(err("{{end}}"), "1:unexpected {{end}}");
        assert_eq!(err("{{else}}"), "1:unexpected {{else}}");
        assert_eq!(err("{{ $x }}"), "1:undefined variable \"$x\"");
        assert_eq!(err("{{ }}"), "1:missing value for command");
        assert_eq!(err("{{ if }}{{end}}"), "1:missing value for if");
        assert_eq!(
            err("{{ .X | 3 }}"),
            "1:non executable command in pipeline stage 2"
        );
        assert_eq!(err("{{break}}"), "1:{{break}} outside {{range}}");
        assert_eq!(err("{{ 3.X }}"), "1:bad number syntax: \"3.X\"");
        assert_eq!(
            err("{{ \"a\".X }}"),
            "1:unexpected . after term \"\\\"a\\\"\""
        );
        assert_eq!(
            err("{{ $a, $b := 1 }}"),
            "1:too many declarations in command"
        );
        assert_eq!(
            err("{{range $a, $b, $c := .}}{{end}}"),
            "1:too many declarations in range"
        );
        assert_eq!(
            err("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}"),
            "1:template: multiple definition of template \"a\""
        );
        assert_eq!(
            err("{{if .X}}{{else}}{{else}}{{end}}"),
            "1:expected end; found {{else}}"
        );
        assert_eq!(err("a\n{{ .X\n\n"), "4:unclosed action started at t:2");
        assert_eq!(err("{{ \"\\z\" }}"), "1:invalid syntax");
    }

    #[test]
    fn parses_structures() {
        let trees = parse("t", "{{define \"x\"}}X{{end}}{{if .A}}a{{else if .B}}b{{else}}c{{end}}{{range $i, $v := .L}}{{$i}}{{end}}{{block \"y\" .}}Y{{end}}").unwrap();
        assert!(trees.contains_key("x"));
        assert!(trees.contains_key("y"));
        let t = &trees["t"];
        assert_eq!(t.root.len(), 3);
        assert_eq!(
            t.root[0].to_string(),
            "{{if .A}}a{{else}}{{if .B}}b{{else}}c{{end}}{{end}}"
        );
        assert_eq!(t.root[1].to_string(), "{{range $i, $v := .L}}{{$i}}{{end}}");
    }

    #[test]
    fn chained_fields_take_the_position_of_the_second_field() {
        let trees = parse("t", "{{.A.B}}").unwrap();
        let Node::Action(a) = &trees["t"].root[0] else {
            panic!()
        };
        assert_eq!(a.pipe.cmds[0].args[0].pos(), 4);
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let deep = "(".repeat(MAX_NESTING + 5) + "1" + &")".repeat(MAX_NESTING + 5);
        let src = format!("{{{{ {deep} }}}}");
        assert!(err(&src).contains("max expression depth exceeded"));
        let ifs = "{{if 1}}".repeat(MAX_NESTING + 1) + &"{{end}}".repeat(MAX_NESTING + 1);
        assert!(err(&ifs).contains("max expression depth exceeded"));
    }
}
