//! A hook's Starlark script: loaded and checked once, run once per event under
//! a deadline.
//!
//! The script is Starlark (Meta's interpreter, the extended dialect: `def`,
//! `lambda`, f-strings; the `json` module and `print`). It must define
//! `transform(config, event)`, which gets two dicts and returns the config
//! dict, changed or not, or `None` to skip the event.
//!
//! Each run gets a fresh heap, so runs share nothing and a script keeps no
//! state between events. The deadline is checked by the interpreter every
//! thousand function calls or loop iterations, so a loop that never ends is
//! stopped within microseconds of its timeout; a single built-in operation on a
//! huge value (`"x" * 10**9`) runs to its end, bounded by a heap limit. Deep
//! recursion stops at a call-stack limit.

use std::fmt;
use std::time::Instant;

use serde_json::{Map, Value};
use starlark::PrintHandler;
use starlark::environment::{FrozenModule, Globals, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::FrozenValue;

/// Most bytes a script may allocate on its heap in one run.
const MAX_HEAP_BYTES: usize = 64 << 20;

/// Deepest call stack a script may build (recursion).
const MAX_CALL_STACK: usize = 200;

/// The function every hook script defines.
pub const TRANSFORM: &str = "transform";

/// A script could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// `file:line:column` in the script, when the error has a place.
    pub place: Option<String>,
    /// What is wrong.
    pub message: String,
    kind: LoadErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadErrorKind {
    Syntax,
    TopLevel,
    NoTransform,
    NotAFunction,
}

impl LoadError {
    /// A hint for the configuration error.
    pub fn hint(&self) -> &'static str {
        match self.kind {
            LoadErrorKind::Syntax => {
                "hook scripts are Starlark (a Python dialect); check the line shown"
            }
            LoadErrorKind::TopLevel => {
                "the script's top level runs once at startup; it failed there"
            }
            LoadErrorKind::NoTransform | LoadErrorKind::NotAFunction => {
                "define `def transform(config, event):` returning the config dict (changed or not), or None to skip the event"
            }
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some(place) => write!(f, "{place}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A run of `transform` gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The run passed its deadline.
    #[error("the hook ran past its timeout")]
    Timeout,
    /// The script raised an error or hit a limit.
    #[error("{0}")]
    Failed(String),
    /// `transform` returned something other than a dict or `None`.
    #[error("transform returned {0}; it must return the config dict or None")]
    BadReturn(String),
}

/// A loaded, checked script.
pub struct Script {
    /// Where it came from (a path), for messages.
    name: String,
    /// `transform`, a value of `module`'s frozen heap.
    transform: FrozenValue,
    /// The module the script's top level built, frozen: it keeps `transform`
    /// alive.
    _module: FrozenModule,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script").field("name", &self.name).finish()
    }
}

fn globals() -> Globals {
    Globals::extended_by(&[
        LibraryExtension::StructType,
        LibraryExtension::Map,
        LibraryExtension::Filter,
        LibraryExtension::Print,
        LibraryExtension::Json,
    ])
}

/// `file:line:column` (1-based) of an error, and its message without the
/// source excerpt.
fn located(e: &starlark::Error) -> (Option<String>, String) {
    let place = e.span().map(|span| {
        let resolved = span.resolve_span();
        format!(
            "{}:{}:{}",
            span.filename(),
            resolved.begin.line + 1,
            resolved.begin.column + 1
        )
    });
    (place, e.without_diagnostic().to_string())
}

impl Script {
    /// Parses `source`, runs its top level and checks that it defines
    /// `transform` as a function. `name` names the script in errors.
    ///
    /// # Errors
    /// A syntax error, a failing top level, or no `transform` function; each
    /// with the script's file:line when it has one.
    pub fn compile(name: &str, source: String) -> Result<Script, LoadError> {
        let ast = AstModule::parse(name, source, &Dialect::Extended).map_err(|e| {
            let (place, message) = located(&e);
            LoadError {
                place,
                message,
                kind: LoadErrorKind::Syntax,
            }
        })?;
        let globals = globals();
        let module = Module::with_temp_heap(|module| {
            {
                let mut eval = Evaluator::new(&module);
                eval.eval_module(ast, &globals).map_err(|e| {
                    let (place, message) = located(&e);
                    LoadError {
                        place,
                        message,
                        kind: LoadErrorKind::TopLevel,
                    }
                })?;
            }
            module.freeze().map_err(|e| LoadError {
                place: None,
                message: format!("cannot freeze the script's module: {e:?}"),
                kind: LoadErrorKind::TopLevel,
            })
        })?;
        let transform = module.get(TRANSFORM).map_err(|_| LoadError {
            place: Some(name.to_owned()),
            message: format!("the script does not define `{TRANSFORM}`"),
            kind: LoadErrorKind::NoTransform,
        })?;
        let kind = transform.value().get_type();
        if kind != "function" {
            return Err(LoadError {
                place: Some(name.to_owned()),
                message: format!("`{TRANSFORM}` is a {kind}, not a function"),
                kind: LoadErrorKind::NotAFunction,
            });
        }
        // `map` hands out the frozen value itself; it lives as long as the
        // module's heap, which the script keeps.
        let mut frozen = None;
        let _ = transform.map(|v| {
            frozen = Some(v);
            v
        });
        let transform = frozen.ok_or_else(|| LoadError {
            place: Some(name.to_owned()),
            message: format!("`{TRANSFORM}` cannot be read from the script's module"),
            kind: LoadErrorKind::NotAFunction,
        })?;
        Ok(Script {
            name: name.to_owned(),
            transform,
            _module: module,
        })
    }

    /// Returns where the script came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `transform(config, event)` until `deadline`. Returns the config
    /// dict it returned, or `None` when it returned `None` (skip the event).
    /// `print` gets each line the script prints.
    ///
    /// # Errors
    /// [`RunError`]: the deadline passed, the script failed, or it returned
    /// neither a dict nor `None`.
    pub fn transform(
        &self,
        config: &Value,
        event: &Value,
        deadline: Instant,
        print: &dyn Fn(&str),
    ) -> Result<Option<Map<String, Value>>, RunError> {
        let printer = Printer(print);
        Module::with_temp_heap(|module| {
            let mut eval = Evaluator::new(&module);
            eval.set_print_handler(&printer);
            eval.set_check_cancelled(Box::new(move || Instant::now() >= deadline));
            // Both fail only when set twice or to zero.
            let _ = eval.set_max_heap_size(MAX_HEAP_BYTES);
            let _ = eval.set_max_callstack_size(MAX_CALL_STACK);
            let heap = module.heap();
            // Frozen values are never collected, and `self.module` keeps
            // their heap alive for as long as the script exists.
            let function = self.transform.to_value();
            let config = heap.alloc(config);
            let event = heap.alloc(event);
            let result = eval
                .eval_function(function, &[config, event], &[])
                .map_err(|e| {
                    if Instant::now() >= deadline {
                        RunError::Timeout
                    } else {
                        let (place, message) = located(&e);
                        RunError::Failed(match place {
                            Some(place) => format!("{place}: {message}"),
                            None => message,
                        })
                    }
                })?;
            if result.is_none() {
                return Ok(None);
            }
            if result.get_type() != "dict" {
                return Err(RunError::BadReturn(format!("a {}", result.get_type())));
            }
            match result.to_json_value() {
                Ok(Value::Object(map)) => Ok(Some(map)),
                Ok(_) => Err(RunError::BadReturn("a dict that is not JSON".into())),
                Err(e) => Err(RunError::BadReturn(format!(
                    "a dict that cannot be read ({e})"
                ))),
            }
        })
    }
}

/// Hands what a script prints to a callback.
struct Printer<'a>(&'a dyn Fn(&str));

impl PrintHandler for Printer<'_> {
    fn println(&self, text: &str) -> starlark::Result<()> {
        (self.0)(text);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
