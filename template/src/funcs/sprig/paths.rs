//! sprig path functions, Go's `path` package: `base dir clean ext isAbs` and
//! the `filepath` twins `osBase osDir osClean osExt osIsAbs` (identical on
//! Linux, where herald runs).

use crate::funcs::{FuncDef, Param, arg_str, f, s};
use crate::value::Value;

const S: Param = Param::Str;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("base", &[S], |_, a| s(base(arg_str(a, 0)))),
    f("osBase", &[S], |_, a| s(base(arg_str(a, 0)))),
    f("dir", &[S], |_, a| s(dir(arg_str(a, 0)))),
    f("osDir", &[S], |_, a| s(dir(arg_str(a, 0)))),
    f("clean", &[S], |_, a| s(clean(arg_str(a, 0)))),
    f("osClean", &[S], |_, a| s(clean(arg_str(a, 0)))),
    f("ext", &[S], |_, a| s(ext(arg_str(a, 0)))),
    f("osExt", &[S], |_, a| s(ext(arg_str(a, 0)))),
    f("isAbs", &[S], |_, a| {
        Ok(Value::Bool(arg_str(a, 0).starts_with('/')))
    }),
    f("osIsAbs", &[S], |_, a| {
        Ok(Value::Bool(arg_str(a, 0).starts_with('/')))
    }),
];

/// Go's `path.Clean`.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let p = path.as_bytes();
    let rooted = p[0] == b'/';
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            // Empty and "." elements.
            r += 1;
        } else if p[r] == b'.' && p.get(r + 1) == Some(&b'.') && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                out.pop();
                while out.len() > dotdot && out.last() != Some(&b'/') {
                    out.pop();
                }
                if out.len() > dotdot && out.last() == Some(&b'/') {
                    out.pop();
                }
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && p[r] != b'/' {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".into();
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Go's `path.Base`.
pub(crate) fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    let last = match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    if last.is_empty() {
        "/".into()
    } else {
        last.into()
    }
}

/// Go's `path.Dir`.
pub(crate) fn dir(path: &str) -> String {
    let d = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    clean(d)
}

/// Go's `path.Ext`.
pub(crate) fn ext(path: &str) -> String {
    for (i, c) in path.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return path[i..].into();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_functions_match_go() {
        let cases = [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../../a/./b/", "../../a/b"),
            ("a/..", "."),
            ("//a//b/", "/a/b"),
            ("a/../..", ".."),
        ];
        for (i, want) in cases {
            assert_eq!(clean(i), want, "{i}");
        }
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("///"), "/");
        assert_eq!(base(""), ".");
        assert_eq!(dir("/a/b/c"), "/a/b");
        assert_eq!(dir("c"), ".");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.b/c"), "");
    }
}
