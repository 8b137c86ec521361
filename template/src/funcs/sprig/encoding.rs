//! sprig encoding, hashing and random-identifier functions: `b64enc b64dec
//! b32enc b32dec sha1sum sha256sum adler32sum uuidv4 randBytes`. Decoders port
//! Go's `encoding/base64`/`base32` so error offsets match
//! (`illegal base64 data at input byte 4`); sprig returns that text as the
//! result.

use base64::Engine;
use rand::Rng;
use sha1::Digest;

use crate::funcs::{Ctx, FuncDef, Param, arg_int, arg_str, f, s};
use crate::value::Value;

const S: Param = Param::Str;

pub(crate) const FUNCS: &[FuncDef] = &[
    f("b64enc", &[S], |_, a| {
        s(base64::engine::general_purpose::STANDARD.encode(arg_str(a, 0)))
    }),
    f("b64dec", &[S], |_, a| {
        s(decoded(b64_decode(arg_str(a, 0).as_bytes()), "base64"))
    }),
    f("b32enc", &[S], |_, a| {
        s(b32_encode(arg_str(a, 0).as_bytes()))
    }),
    f("b32dec", &[S], |_, a| {
        s(decoded(b32_decode(arg_str(a, 0).as_bytes()), "base32"))
    }),
    f("sha1sum", &[S], |_, a| {
        s(hex(&sha1::Sha1::digest(arg_str(a, 0).as_bytes())))
    }),
    f("sha256sum", &[S], |_, a| {
        s(hex(&sha2::Sha256::digest(arg_str(a, 0).as_bytes())))
    }),
    f("adler32sum", &[S], |_, a| {
        s(adler32(arg_str(a, 0).as_bytes()).to_string())
    }),
    f("uuidv4", &[], |_, _| s(uuid::Uuid::new_v4().to_string())),
    f("randBytes", &[Param::Int], rand_bytes),
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Adler-32 as in `hash/adler32`.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn decoded(r: Result<Vec<u8>, usize>, what: &str) -> String {
    match r {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(at) => format!("illegal {what} data at input byte {at}"),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u8> {
    B64.iter()
        .position(|&x| x == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// Go's `base64.StdEncoding.DecodeString`; `Err(offset)` on corrupt input.
pub(crate) fn b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let mut si = 0;
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut j = 0;
        let mut trailing_err = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                // Std encoding requires padding.
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                trailing_err = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (u32::from(dbuf[0]) << 18)
            | (u32::from(dbuf[1]) << 12)
            | (u32::from(dbuf[2]) << 6)
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(at) = trailing_err {
            return Err(at);
        }
    }
    Ok(out)
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Go's `base32.StdEncoding.EncodeToString`.
pub(crate) fn b32_encode(src: &[u8]) -> String {
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                let idx = ((v >> (35 - 5 * i)) & 31) as usize;
                out.push(char::from(B32[idx]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString`; `Err(offset)` on corrupt input.
pub(crate) fn b32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = input
        .iter()
        .copied()
        .filter(|&c| c != b'\n' && c != b'\r')
        .collect();
    let olen = src.len();
    let mut out = Vec::with_capacity(olen / 8 * 5 + 5);
    let mut rest: &[u8] = &src;
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - rest.len() - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..(7 - j) {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32.iter().position(|&x| x == c) {
                Some(v) => dbuf[j] = v as u8,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let d = dbuf;
        let mut bytes = [0u8; 5];
        bytes[4] = d[6] << 5 | d[7];
        bytes[3] = d[4] << 7 | d[5] << 2 | d[6] >> 3;
        bytes[2] = d[3] << 4 | d[4] >> 1;
        bytes[1] = d[1] << 6 | d[2] << 1 | d[3] >> 4;
        bytes[0] = d[0] << 3 | d[1] >> 2;
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

fn rand_bytes(_: &Ctx<'_>, a: &[Value]) -> Result<Value, String> {
    let n = arg_int(a, 0);
    if n < 0 {
        return Err("runtime error: makeslice: len out of range".into());
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > 1 << 20 {
        return Err(format!("randBytes: {n} bytes exceeds the limit of 1048576"));
    }
    let mut buf = vec![0u8; n];
    rand::rng().fill(&mut buf[..]);
    s(base64::engine::general_purpose::STANDARD.encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_go() {
        assert_eq!(b64_decode(b"aGVsbG8="), Ok(b"hello".to_vec()));
        assert_eq!(b64_decode(b"aGVsbG8"), Err(4));
        assert_eq!(b64_decode(b"a!=="), Err(1));
        assert_eq!(b64_decode(b"aGVs\nbG8="), Ok(b"hello".to_vec()));
        assert_eq!(b64_decode(b"aGVsbG8=x"), Err(8));
        assert_eq!(b64_decode(b""), Ok(vec![]));
    }

    #[test]
    fn base32_matches_go() {
        assert_eq!(b32_encode(b"hello"), "NBSWY3DP");
        assert_eq!(b32_encode(b"hi"), "NBUQ====");
        assert_eq!(b32_decode(b"NBSWY3DP"), Ok(b"hello".to_vec()));
        assert_eq!(b32_decode(b"NBUQ===="), Ok(b"hi".to_vec()));
        assert_eq!(b32_decode(b"NBUQ"), Err(0));
        assert_eq!(b32_decode(b"NB!Q===="), Err(2));
    }

    #[test]
    fn hashes() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(
            hex(&sha256::digest()),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    mod sha256 {
        use sha2::Digest;
        pub(super) fn digest() -> Vec<u8> {
            sha2::Sha256::digest(b"hello").to_vec()
        }
    }
}
