//! The function table templates can call: Go's builtins plus sprig v3.2.3.
//!
//! Each function declares its Go parameter types, so the evaluator checks and
//! converts arguments exactly where Go's reflection-based `evalCall` would
//! (`wrong number of args for ...`, `expected string; found 3`, ...).

mod builtins;
pub(crate) mod sprig;

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::Limits;
use crate::value::{Time, TimeKind, Value};

/// A value as the evaluator sees it: `None` is Go's invalid `reflect.Value`
/// (a missing map key), printed as `<no value>`.
pub(crate) type Ev = Option<Value>;

/// Index of a function in the table.
pub(crate) type FuncId = u16;

/// The Go type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface {}`: anything; missing values become nil.
    Any,
    /// `reflect.Value` (builtins): anything; missing values stay missing.
    Reflect,
    /// `string`
    Str,
    /// `int` (any integer is accepted; Go's integer widths are not modelled).
    Int,
    /// `float64`
    Float,
    /// `bool`
    Bool,
    /// `time.Time` (not `metav1.Time`, as in Go).
    Time,
    /// `map[string]interface {}`
    Map,
}

impl Param {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Reflect => "reflect.Value",
            Param::Str => "string",
            Param::Int => "int",
            Param::Float => "float64",
            Param::Bool => "bool",
            Param::Time => "time.Time",
            Param::Map => "map[string]interface {}",
        }
    }

    /// Go's `canBeNil` for the parameter type.
    pub(crate) fn can_be_nil(self) -> bool {
        matches!(self, Param::Any | Param::Reflect | Param::Map)
    }
}

/// What runs when the function is called.
#[derive(Clone, Copy)]
pub(crate) enum Imp {
    /// A function over converted arguments; a `Nil` result reads as missing.
    Plain(fn(&Ctx<'_>, &[Value]) -> Result<Value, String>),
    /// A builtin taking `reflect.Value`s.
    Raw(fn(&Ctx<'_>, &[Ev]) -> Result<Ev, String>),
    /// Short-circuit `and`.
    And,
    /// Short-circuit `or`.
    Or,
    /// `call`, which needs the callee's source text.
    Call,
}

/// One callable function.
pub(crate) struct FuncDef {
    pub(crate) name: &'static str,
    pub(crate) params: &'static [Param],
    pub(crate) variadic: Option<Param>,
    pub(crate) imp: Imp,
}

/// A fixed-arity function.
pub(crate) const fn f(
    name: &'static str,
    params: &'static [Param],
    imp: fn(&Ctx<'_>, &[Value]) -> Result<Value, String>,
) -> FuncDef {
    FuncDef {
        name,
        params,
        variadic: None,
        imp: Imp::Plain(imp),
    }
}

/// A variadic function.
pub(crate) const fn v(
    name: &'static str,
    params: &'static [Param],
    variadic: Param,
    imp: fn(&Ctx<'_>, &[Value]) -> Result<Value, String>,
) -> FuncDef {
    FuncDef {
        name,
        params,
        variadic: Some(variadic),
        imp: Imp::Plain(imp),
    }
}

/// What a function may use while running.
pub(crate) struct Ctx<'a> {
    pub(crate) limits: &'a Limits,
}

impl Ctx<'_> {
    /// Refuses results that could not be written anyway, before building them.
    pub(crate) fn check_size(&self, bytes: usize) -> Result<(), String> {
        if bytes > self.limits.max_output_bytes {
            return Err(format!(
                "result of {bytes} bytes exceeds the output limit of {} bytes",
                self.limits.max_output_bytes
            ));
        }
        Ok(())
    }

    /// Refuses generated sequences longer than the iteration budget.
    pub(crate) fn check_len(&self, len: u64) -> Result<(), String> {
        if len > self.limits.max_range_iterations {
            return Err(format!(
                "sequence of {len} elements exceeds the iteration limit of {}",
                self.limits.max_range_iterations
            ));
        }
        Ok(())
    }
}

struct Registry {
    funcs: Vec<&'static FuncDef>,
    by_name: HashMap<&'static str, FuncId>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut funcs: Vec<&'static FuncDef> = Vec::new();
    let mut by_name: HashMap<&'static str, FuncId> = HashMap::new();
    // Later tables win: sprig's `slice` replaces the builtin, as a FuncMap
    // entry does in Go.
    for table in std::iter::once(builtins::FUNCS).chain(sprig::TABLES.iter().copied()) {
        for def in table {
            let id = FuncId::try_from(funcs.len()).unwrap_or(FuncId::MAX);
            funcs.push(def);
            by_name.insert(def.name, id);
        }
    }
    Registry { funcs, by_name }
});

/// Finds a function by name.
pub(crate) fn lookup(name: &str) -> Option<FuncId> {
    REGISTRY.by_name.get(name).copied()
}

/// Returns a function by id.
pub(crate) fn get(id: FuncId) -> &'static FuncDef {
    REGISTRY.funcs[usize::from(id)]
}

/// Lists every function name (sorted), for documentation and tests.
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = REGISTRY.by_name.keys().copied().collect();
    names.sort_unstable();
    names
}

// === argument helpers (types were checked by the evaluator) ===

pub(crate) fn arg_str(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn arg_int(args: &[Value], i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Int(n)) => *n,
        Some(Value::Uint(u)) => *u as i64,
        _ => 0,
    }
}

pub(crate) fn arg_time(args: &[Value], i: usize) -> Time {
    match args.get(i) {
        Some(Value::Time(t)) => t.clone(),
        _ => Time::zero(TimeKind::Go),
    }
}

/// Builds a string result.
pub(crate) fn s(v: impl Into<std::sync::Arc<str>>) -> Result<Value, String> {
    Ok(Value::String(v.into()))
}

/// Go's runtime panic for a nil `reflect.TypeOf(x).Kind()`.
pub(crate) const NIL_DEREF: &str =
    "runtime error: invalid memory address or nil pointer dereference";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprig_overrides_the_slice_builtin() {
        let id = lookup("slice").unwrap();
        assert_eq!(get(id).params, &[Param::Any]);
        assert!(lookup("nosuch").is_none());
    }

    #[test]
    fn excluded_functions_are_absent() {
        for name in [
            "getHostByName",
            "bcrypt",
            "genPrivateKey",
            "encryptAES",
            "derivePassword",
        ] {
            assert!(lookup(name).is_none(), "{name}");
        }
        let names = function_names();
        assert!(names.len() > 180, "{}", names.len());
    }
}
