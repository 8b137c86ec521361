//! List continue tokens in the etcd3 store's format: unpadded URL-safe base64 of
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"<key relative to the list prefix>\u0000"}`.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

const VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

/// A decoded continue token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continue {
    /// Snapshot revision; `-1` means "continue at the latest revision".
    pub rv: i64,
    /// Start key relative to the list prefix (inclusive, usually ending in `\0`).
    pub start: String,
}

/// Encodes a token for the snapshot `rv` that resumes at `start`.
pub fn encode(rv: i64, start: &str) -> String {
    let token = Token {
        v: VERSION.to_owned(),
        rv,
        start: start.to_owned(),
    };
    // A struct of strings and an integer always serialises.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a token; the error text follows the API server's
/// `continue key is not valid: …` messages.
pub fn decode(value: &str) -> Result<Continue, String> {
    let data = URL_SAFE_NO_PAD
        .decode(value)
        .or_else(|_| URL_SAFE.decode(value))
        .map_err(|e| format!("continue key is not valid: {e}"))?;
    let token: Token =
        serde_json::from_slice(&data).map_err(|e| format!("continue key is not valid: {e}"))?;
    if token.v != VERSION {
        return Err(format!(
            "continue key is not valid: server does not recognize this encoded version {:?}",
            token.v
        ));
    }
    if token.rv == 0 {
        return Err(format!(
            "continue key is not valid: incorrect encoded start resourceVersion (version {VERSION})"
        ));
    }
    if token.start.is_empty() {
        return Err(format!(
            "continue key is not valid: encoded start key empty (version {VERSION})"
        ));
    }
    if token.start.starts_with('/') || token.start.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(format!("continue key is not valid: {}", token.start));
    }
    Ok(Continue {
        rv: token.rv,
        start: token.start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE1: &str = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6Mjc5LCJzdGFydCI6ImRlZmF1bHQvd29ya2VyLTEuMTdhMWIyYzNkNGU1ZjYwM1x1MDAwMCJ9";
    const EXPIRED: &str = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiZGVmYXVsdC93b3JrZXItMS4xN2ExYjJjM2Q0ZTVmNjA2XHUwMDAwIn0";

    #[test]
    fn encodes_like_the_fixture() {
        assert_eq!(encode(279, "default/worker-1.17a1b2c3d4e5f603\0"), PAGE1);
        assert_eq!(encode(-1, "default/worker-1.17a1b2c3d4e5f606\0"), EXPIRED);
    }

    #[test]
    fn decodes_the_fixture() {
        let c = decode(PAGE1).unwrap();
        assert_eq!(c.rv, 279);
        assert_eq!(c.start, "default/worker-1.17a1b2c3d4e5f603\0");
    }

    #[test]
    fn rejects_garbage_and_traversal() {
        assert!(
            decode("!!!")
                .unwrap_err()
                .starts_with("continue key is not valid")
        );
        assert!(decode(&encode(5, "../secrets/x")).is_err());
        assert!(
            decode(&encode(0, "a"))
                .unwrap_err()
                .contains("incorrect encoded start resourceVersion")
        );
    }
}
