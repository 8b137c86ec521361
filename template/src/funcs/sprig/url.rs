//! sprig `urlParse`/`urlJoin` and the query escaping behind the `urlquery`
//! builtin, following Go's `net/url` (`Parse`, `URL.String`, escaping modes).

use std::sync::Arc;

use crate::funcs::{Ctx, FuncDef, Param, arg_str, f};
use crate::value::{Map, Value};

pub(crate) const FUNCS: &[FuncDef] = &[
    f("urlParse", &[Param::Str], url_parse),
    f("urlJoin", &[Param::Map], url_join),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserPassword,
    QueryComponent,
    Fragment,
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if mode == Mode::Host
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            return match mode {
                Mode::Path => c == b'?',
                Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                Mode::QueryComponent => true,
                Mode::Fragment => false,
                Mode::Host => true,
            };
        }
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn escape(s: &str, mode: Mode) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if should_escape(c, mode) {
            if c == b' ' && mode == Mode::QueryComponent {
                out.push('+');
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 15)]));
            }
        } else {
            out.push(char::from(c));
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    escape(s, Mode::QueryComponent)
}

fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
                let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) else {
                    let end = (i + 3).min(b.len());
                    let bad = String::from_utf8_lossy(&b[i..end]).into_owned();
                    return Err(format!(
                        "invalid URL escape {}",
                        crate::fmt::quote::quote(&bad, false)
                    ));
                };
                if mode == Mode::Host && h < 8 && &b[i..i + 3] != b"%25" {
                    let bad = String::from_utf8_lossy(&b[i..i + 3]).into_owned();
                    return Err(format!(
                        "invalid URL escape {}",
                        crate::fmt::quote::quote(&bad, false)
                    ));
                }
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            c => {
                if mode == Mode::Host && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        crate::fmt::quote::quote(&char::from(c).to_string(), false)
                    ));
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[derive(Default)]
struct Url {
    scheme: String,
    opaque: String,
    user: Option<(String, Option<String>)>,
    host: String,
    path: String,
    raw_query: String,
    force_query: bool,
    fragment: String,
    omit_host: bool,
}

fn valid_optional_port(port: &str) -> bool {
    if port.is_empty() {
        return true;
    }
    let Some(digits) = port.strip_prefix(':') else {
        return false;
    };
    digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(i) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &host[i + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {} after host",
                crate::fmt::quote::quote(colon_port, false)
            ));
        }
    } else if let Some(i) = host.rfind(':') {
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {} after host",
                crate::fmt::quote::quote(colon_port, false)
            ));
        }
    }
    unescape(host, Mode::Host)
}

/// Go's `url.Parse`.
fn parse(raw: &str) -> Result<Url, String> {
    let (u, frag) = raw.split_once('#').unwrap_or((raw, ""));
    let wrap =
        |url: &str, e: String| format!("parse {}: {e}", crate::fmt::quote::quote(url, false));
    let mut url = parse_no_fragment(u).map_err(|e| wrap(u, e))?;
    if !frag.is_empty() {
        url.fragment = unescape(frag, Mode::Fragment).map_err(|e| wrap(raw, e))?;
    }
    Ok(url)
}

fn parse_no_fragment(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == "*" {
        url.path = "*".into();
        return Ok(url);
    }
    // Scheme.
    let mut rest = raw;
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => {
                url.scheme = raw[..i].to_ascii_lowercase();
                rest = &raw[i + 1..];
                break;
            }
            _ => break,
        }
    }
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some((r, q)) = rest.split_once('?') {
        url.raw_query = q.to_owned();
        rest = r;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_owned();
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let auth_and_path = &rest[2..];
        let (authority, path) = match auth_and_path.find('/') {
            Some(i) => (&auth_and_path[..i], &auth_and_path[i..]),
            None => (auth_and_path, ""),
        };
        rest = path;
        let (userinfo, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        url.host = parse_host(host)?;
        if let Some(ui) = userinfo {
            let valid = ui.bytes().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        b'-' | b'.'
                            | b'_'
                            | b':'
                            | b'~'
                            | b'!'
                            | b'$'
                            | b'&'
                            | b'\''
                            | b'('
                            | b')'
                            | b'*'
                            | b'+'
                            | b','
                            | b';'
                            | b'='
                            | b'%'
                            | b'@'
                    )
            });
            if !valid {
                return Err("net/url: invalid userinfo".into());
            }
            url.user = Some(match ui.split_once(':') {
                None => (unescape(ui, Mode::UserPassword)?, None),
                Some((u, p)) => (
                    unescape(u, Mode::UserPassword)?,
                    Some(unescape(p, Mode::UserPassword)?),
                ),
            });
        }
    } else if !url.scheme.is_empty() && rest.starts_with('/') {
        url.omit_host = true;
    }
    url.path = unescape(rest, Mode::Path)?;
    Ok(url)
}

fn user_string(user: &(String, Option<String>)) -> String {
    let mut s = escape(&user.0, Mode::UserPassword);
    if let Some(p) = &user.1 {
        s.push(':');
        s.push_str(&escape(p, Mode::UserPassword));
    }
    s
}

/// Go's `URL.String()` (without a raw path hint).
fn url_string(u: &Url) -> String {
    let mut buf = String::new();
    if !u.scheme.is_empty() {
        buf.push_str(&u.scheme);
        buf.push(':');
    }
    if !u.opaque.is_empty() {
        buf.push_str(&u.opaque);
    } else {
        if (!u.scheme.is_empty() || !u.host.is_empty() || u.user.is_some())
            && (!u.omit_host || !u.host.is_empty() || u.user.is_some())
        {
            if !u.host.is_empty() || !u.path.is_empty() || u.user.is_some() {
                buf.push_str("//");
            }
            if let Some(user) = &u.user {
                buf.push_str(&user_string(user));
                buf.push('@');
            }
            if !u.host.is_empty() {
                buf.push_str(&escape(&u.host, Mode::Host));
            }
        }
        let path = if u.path == "*" {
            "*".to_owned()
        } else {
            escape(&u.path, Mode::Path)
        };
        if !path.is_empty() && !path.starts_with('/') && !u.host.is_empty() {
            buf.push('/');
        }
        if buf.is_empty() {
            let segment = path.split('/').next().unwrap_or("");
            if segment.contains(':') {
                buf.push_str("./");
            }
        }
        buf.push_str(&path);
    }
    if u.force_query || !u.raw_query.is_empty() {
        buf.push('?');
        buf.push_str(&u.raw_query);
    }
    if !u.fragment.is_empty() {
        buf.push('#');
        buf.push_str(&escape(&u.fragment, Mode::Fragment));
    }
    buf
}

fn hostname(host: &str) -> &str {
    let mut h = host;
    if let Some(i) = h.rfind(':')
        && valid_optional_port(&h[i..])
    {
        h = &h[..i];
    }
    if h.starts_with('[') && h.ends_with(']') && h.len() >= 2 {
        h = &h[1..h.len() - 1];
    }
    h
}

fn url_parse(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let u = parse(arg_str(a, 0)).map_err(|e| format!("unable to parse url: {e}"))?;
    let entries: Vec<(Arc<str>, Value)> = vec![
        ("scheme".into(), Value::from(u.scheme.as_str())),
        ("host".into(), Value::from(u.host.as_str())),
        ("hostname".into(), Value::from(hostname(&u.host))),
        ("path".into(), Value::from(u.path.as_str())),
        ("query".into(), Value::from(u.raw_query.as_str())),
        ("opaque".into(), Value::from(u.opaque.as_str())),
        ("fragment".into(), Value::from(u.fragment.as_str())),
        (
            "userinfo".into(),
            Value::from(u.user.as_ref().map(user_string).unwrap_or_default()),
        ),
    ];
    Ok(Value::Map(Map::shared(entries)))
}

fn url_join(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let get = |key: &str| -> Result<String, String> {
        match &a[0] {
            Value::Map(m) => match m.get(key) {
                None => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.to_string()),
                Some(Value::Nil) => Err(crate::funcs::NIL_DEREF.into()),
                Some(other) => Err(format!(
                    "unable to parse {key} key, must be of type string, but {} found",
                    other.kind_name()
                )),
            },
            _ => Ok(String::new()),
        }
    };
    let mut u = Url {
        scheme: get("scheme")?,
        host: get("host")?,
        path: get("path")?,
        raw_query: get("query")?,
        opaque: get("opaque")?,
        fragment: get("fragment")?,
        ..Url::default()
    };
    let userinfo = get("userinfo")?;
    if !userinfo.is_empty() {
        let tmp = parse(&format!("proto://{userinfo}@host"))
            .map_err(|e| format!("unable to parse userinfo in dict: {e}"))?;
        u.user = tmp.user;
    }
    Ok(Value::from(url_string(&u)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        static L: crate::Limits = crate::Limits::DEFAULT;
        Ctx { limits: &L }
    }

    #[test]
    fn parses_and_joins() {
        let v = url_parse(
            &ctx(),
            &[Value::from("https://u:p@example.com:8080/a%20b?x=1#frag")],
        )
        .unwrap();
        assert_eq!(
            crate::fmt::to_string_v(&v),
            "map[fragment:frag host:example.com:8080 hostname:example.com opaque: path:/a b query:x=1 scheme:https userinfo:u:p]"
        );
        let joined = url_join(&ctx(), &[v]).unwrap();
        assert_eq!(
            joined.as_str(),
            Some("https://u:p@example.com:8080/a%20b?x=1#frag")
        );
        let d = Value::Map(Map::shared([
            ("scheme", Value::from("http")),
            ("host", Value::from("x.io")),
            ("path", Value::from("p")),
        ]));
        assert_eq!(
            url_join(&ctx(), &[d]).unwrap().as_str(),
            Some("http://x.io/p")
        );
        assert_eq!(
            url_parse(&ctx(), &[Value::from("http://x%zz")]).unwrap_err(),
            "unable to parse url: parse \"http://x%zz\": invalid URL escape \"%zz\""
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
