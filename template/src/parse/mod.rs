//! Lexing and parsing Go template source into trees.

mod ast;
mod lex;
mod parser;

pub(crate) use ast::{
    Action, Arg, Branch, Command, Node, Number, Pipe, TemplateCall, Tree, parse_float, parse_int0,
};
pub(crate) use parser::{floor_boundary, parse};
