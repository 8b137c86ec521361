//! sprig `semver` and `semverCompare`, following `Masterminds/semver` v3.2:
//! lenient version parsing, `=, !=, >, <, >=, <=, ~, ~>, ^` operators, `x`/`*`
//! wildcards, hyphen ranges, `,`/space as AND and `||` as OR, and the rule that
//! prerelease versions only satisfy constraints that mention a prerelease.

use std::cmp::Ordering;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::funcs::{Ctx, FuncDef, Param, arg_str, f};
use crate::value::{StructType, StructValue, Value};

const S: Param = Param::Str;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("semver", &[S], semver),
    f("semverCompare", &[S, S], semver_compare),
];

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"!=|>=|=>|<=|=<|~>|>|<|=|~|\^|";

struct Patterns {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

static RE: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    let semver = r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
    Some(Patterns {
        version: Regex::new(&format!("^{semver}$")).ok()?,
        constraint: Regex::new(&format!(r"^\s*({OPS})\s*({CV})\s*$")).ok()?,
        range: Regex::new(&format!(r"\s*({CV})\s+-\s+({CV})\s*")).ok()?,
        find: Regex::new(&format!(r"({OPS})\s*({CV})")).ok()?,
        valid: Regex::new(&format!(
            r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
        ))
        .ok()?,
    })
});

fn patterns() -> Result<&'static Patterns, String> {
    RE.as_ref()
        .ok_or_else(|| "semver: internal pattern error".to_owned())
}

/// A parsed semantic version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

const INVALID: &str = "Invalid Semantic Version";

fn only(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    s.chars().all(allowed)
}

impl Version {
    pub(crate) fn parse(v: &str) -> Result<Version, String> {
        let caps = patterns()?.version.captures(v).ok_or(INVALID)?;
        let seg = |i: usize| -> Result<u64, String> {
            match caps.get(i) {
                None => Ok(0),
                Some(m) => m
                    .as_str()
                    .trim_start_matches('.')
                    .parse()
                    .map_err(|e| format!("Error parsing version segment: {e}")),
            }
        };
        let ver = Version {
            major: seg(1)?,
            minor: seg(2)?,
            patch: seg(3)?,
            pre: caps.get(5).map_or("", |m| m.as_str()).to_owned(),
            meta: caps.get(8).map_or("", |m| m.as_str()).to_owned(),
            original: v.to_owned(),
        };
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '-';
        for p in ver.pre.split('.').filter(|_| !ver.pre.is_empty()) {
            if only(p, |c| c.is_ascii_digit()) && p.len() > 1 && p.starts_with('0') {
                return Err("Version segment starts with 0".into());
            }
            if !only(p, ident) {
                return Err("Invalid Prerelease string".into());
            }
        }
        for p in ver.meta.split('.').filter(|_| !ver.meta.is_empty()) {
            if !only(p, ident) {
                return Err("Invalid Metadata string".into());
            }
        }
        Ok(ver)
    }

    fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (ap, bp): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..ap.len().max(bp.len()) {
        let (s, o) = (
            ap.get(i).copied().unwrap_or(""),
            bp.get(i).copied().unwrap_or(""),
        );
        let d = compare_pre_part(s, o);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(_), Err(_)) => Ordering::Less,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

struct Constraint {
    op: String,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraint {
    fn parse(c: &str) -> Result<Constraint, String> {
        let caps = patterns()?
            .constraint
            .captures(c)
            .ok_or_else(|| format!("improper constraint: {c}"))?;
        let get = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let (m3, m4, m5, m6) = (get(3), get(4), get(5), get(6));
        let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
        let ver = if is_x(m3) || m3.is_empty() {
            dirty = true;
            format!("0.0.0{m6}")
        } else if is_x(m4.trim_start_matches('.')) {
            minor_dirty = true;
            dirty = true;
            format!("{m3}.0.0{m6}")
        } else if is_x(m5.trim_start_matches('.')) {
            dirty = true;
            patch_dirty = true;
            format!("{m3}{m4}.0{m6}")
        } else {
            get(2).to_owned()
        };
        let con = Version::parse(&ver).map_err(|_| "constraint Parser Error".to_owned())?;
        Ok(Constraint {
            op: get(1).to_owned(),
            con,
            minor_dirty,
            patch_dirty,
            dirty,
        })
    }

    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let pre_blocked = !v.pre.is_empty() && c.pre.is_empty();
        match self.op.as_str() {
            "" | "=" => !pre_blocked && self.tilde_or_equal(v),
            "!=" => self.not_equal(v),
            ">" => !pre_blocked && self.greater(v),
            "<" => !pre_blocked && v.compare(c) == Ordering::Less,
            ">=" | "=>" => !pre_blocked && v.compare(c) != Ordering::Less,
            "<=" | "=<" => !pre_blocked && self.less_equal(v),
            "~" | "~>" => !pre_blocked && self.tilde(v),
            "^" => !pre_blocked && self.caret(v),
            _ => false,
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if !v.pre.is_empty() && c.pre.is_empty() {
                return false;
            }
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) == Ordering::Greater;
        }
        if v.major > c.major {
            true
        } else if v.major < c.major || self.minor_dirty {
            false
        } else if self.patch_dirty {
            v.minor > c.minor
        } else {
            v.compare(c) == Ordering::Greater
        }
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) != Ordering::Greater;
        }
        if v.major > c.major {
            return false;
        }
        v.major != c.major || v.minor <= c.minor || self.minor_dirty
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn tilde_or_equal(&self, v: &Version) -> bool {
        if self.dirty {
            return self.tilde(v);
        }
        v.compare(&self.con) == Ordering::Equal
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if c.major == 0 && v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if c.minor == 0 && v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// `semver.NewConstraint(c).Check(v)`.
pub(crate) fn constraint_check(constraint: &str, v: &Version) -> Result<bool, String> {
    let p = patterns()?;
    // Rewrite hyphen ranges "1.2 - 1.4" to ">= 1.2, <= 1.4".
    let mut c = constraint.to_owned();
    let ranges: Vec<(String, String, String)> = p
        .range
        .captures_iter(constraint)
        .map(|m| {
            let g = |i: usize| m.get(i).map_or("", |x| x.as_str()).to_owned();
            (g(0), g(1), g(11))
        })
        .collect();
    for (whole, lo, hi) in ranges {
        c = c.replacen(&whole, &format!(">= {lo}, <= {hi} "), 1);
    }
    let mut groups: Vec<Vec<Constraint>> = Vec::new();
    for part in c.split("||") {
        if !p.valid.is_match(part) {
            return Err(format!("improper constraint: {part}"));
        }
        let found: Vec<&str> = p.find.find_iter(part).map(|m| m.as_str()).collect();
        let items = if found.is_empty() { vec![part] } else { found };
        groups.push(
            items
                .into_iter()
                .map(Constraint::parse)
                .collect::<Result<_, _>>()?,
        );
    }
    Ok(groups.iter().any(|g| g.iter().all(|c| c.check(v))))
}

static VERSION_TYPE: LazyLock<Arc<StructType>> = LazyLock::new(|| {
    StructType::builder("semver.Version")
        .method("Major")
        .method("Minor")
        .method("Patch")
        .method("Prerelease")
        .method("Metadata")
        .method("Original")
        .method("String")
        .build()
});

fn semver(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let v = Version::parse(arg_str(a, 0))?;
    let text = v.to_string();
    let sv = StructValue::new(
        VERSION_TYPE.clone(),
        vec![
            Value::Uint(v.major),
            Value::Uint(v.minor),
            Value::Uint(v.patch),
            Value::from(v.pre.as_str()),
            Value::from(v.meta.as_str()),
            Value::from(v.original.as_str()),
            Value::from(text.as_str()),
        ],
    )
    .map_err(|e| e.to_string())?
    .into_pointer()
    .with_text(text);
    Ok(Value::from(sv))
}

fn semver_compare(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let constraint = arg_str(a, 0);
    // Go parses the constraint first, so its error wins.
    let probe = Version::parse("0.0.0")?;
    constraint_check(constraint, &probe)?;
    let v = Version::parse(arg_str(a, 1))?;
    constraint_check(constraint, &v).map(Value::Bool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &str, v: &str) -> bool {
        constraint_check(c, &Version::parse(v).unwrap()).unwrap()
    }

    #[test]
    fn constraints() {
        assert!(check(">=1.2.3", "1.2.3"));
        assert!(!check(">1.2.3", "1.2.3"));
        assert!(check("~1.2.3", "1.2.9"));
        assert!(!check("~1.2.3", "1.3.0"));
        assert!(check("^1.2.3", "1.9.0"));
        assert!(!check("^1.2.3", "2.0.0"));
        assert!(check("^0.2.3", "0.2.9"));
        assert!(!check("^0.2.3", "0.3.0"));
        assert!(check("1.2.x", "1.2.7"));
        assert!(check("*", "3.0.0"));
        assert!(check(">= 1.2, < 2", "1.9.9"));
        assert!(!check(">= 1.2, < 2", "2.0.0"));
        assert!(check("<1.0 || >=3", "3.1.0"));
        assert!(check("1.2 - 1.4.5", "1.4.5"));
        assert!(!check("1.2 - 1.4.5", "1.4.6"));
        assert!(!check(">=1.0.0", "1.2.0-beta.1"));
        assert!(check(">=1.0.0-0", "1.2.0-beta.1"));
        assert!(check("!=1.2.3", "1.2.4"));
        // Missing parts are not wildcards: "<=1.2" means "<=1.2.0".
        assert!(!check("<=1.2", "1.2.9"));
        assert!(check("<=1.2.x", "1.2.9"));
        assert!(check("<=2.x", "2.9.0"));
        assert!(!check("<=2.x", "3.0.0"));
        assert!(check(">1.2", "1.3.0"));
        assert!(check(">1.2", "1.2.5"));
        assert!(!check(">1.2.x", "1.2.5"));
        assert!(check(">1.2.x", "1.3.0"));
        assert!(check("v1.2.3", "1.2.3"));
    }

    #[test]
    fn versions() {
        let v = Version::parse("v1.2.3-beta.1+build.5").unwrap();
        assert_eq!(v.to_string(), "1.2.3-beta.1+build.5");
        assert_eq!(Version::parse("1.2").unwrap().to_string(), "1.2.0");
        assert_eq!(Version::parse("x").unwrap_err(), INVALID);
        assert_eq!(
            Version::parse("1.2.3-01").unwrap_err(),
            "Version segment starts with 0"
        );
        let a = Version::parse("1.0.0-alpha").unwrap();
        let b = Version::parse("1.0.0-alpha.1").unwrap();
        let c = Version::parse("1.0.0-beta").unwrap();
        let d = Version::parse("1.0.0").unwrap();
        assert_eq!(a.compare(&b), Ordering::Less);
        assert_eq!(b.compare(&c), Ordering::Less);
        assert_eq!(c.compare(&d), Ordering::Less);
        assert_eq!(
            constraint_check("bogus", &d).unwrap_err(),
            "improper constraint: bogus"
        );
    }
}
