//! The API server's request filters, outermost first: audit id and cache headers, the
//! request log, authentication (bearer token or client certificate), then injected
//! faults (which, like the max-in-flight filter, only see authenticated requests).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

use super::ConnInfo;
use super::respond;
use crate::config::TlsMode;
use crate::faults::HttpFault;
use crate::records::RequestRecord;
use crate::shared::Shared;
use crate::status::Status;

/// Adds `audit-id` and `cache-control` first, as the API server's header order shows.
pub async fn common_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let old = std::mem::take(resp.headers_mut());
    let mut headers = HeaderMap::with_capacity(old.len() + 2);
    let audit_id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&audit_id) {
        headers.insert("audit-id", v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    for (name, value) in old.iter() {
        headers.append(name.clone(), value.clone());
    }
    *resp.headers_mut() = headers;
    resp
}

/// Records the request and its status.
pub async fn record(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let mut rec = RequestRecord::new(req.method().as_str(), req.uri(), req.headers());
    let resp = next.run(req).await;
    rec.status = resp.status().as_u16();
    shared.records.push(rec);
    resp
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authenticated(shared: &Shared, req: &Request) -> bool {
    if req
        .extensions()
        .get::<ConnInfo>()
        .is_some_and(|c| c.client_cert)
    {
        return true;
    }
    if let Some(token) = &shared.cfg.token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        return presented.is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
    }
    !matches!(
        shared.cfg.tls,
        Some(TlsMode::ClientCertOptional | TlsMode::ClientCertRequired)
    )
}

/// Rejects unauthenticated requests with the API server's 401 Status.
pub async fn authenticate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if authenticated(&shared, &req) {
        next.run(req).await
    } else {
        respond::status(&Status::unauthorized(), false)
    }
}

/// Applies stalls and HTTP faults registered through [`crate::Faults`].
pub async fn inject_faults(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if let Some(delay) = shared.faults.take_stall(&path) {
        tokio::time::sleep(delay).await;
    }
    match shared.faults.take_http(&path) {
        Some(HttpFault::TooManyRequests { retry_after_secs }) => {
            respond::too_many_requests(retry_after_secs)
        }
        Some(HttpFault::InternalError) => respond::status(
            &Status::internal_error("kubesim: injected internal error"),
            false,
        ),
        Some(HttpFault::Forbidden) => respond::status(&forbidden(&req), false),
        None => next.run(req).await,
    }
}

/// The RBAC authorizer's 403 for `req` (the simulator knows no user names: anonymous).
fn forbidden(req: &Request) -> Status {
    let path = req.uri().path();
    let watch = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=1" || p == "watch=true"));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segs.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => ("", &[][..]),
    };
    let (namespace, resource, name) = match rest {
        ["namespaces", ns, resource, name, ..] => (Some(*ns), *resource, Some(*name)),
        ["namespaces", ns, resource] => (Some(*ns), *resource, None),
        [resource, name, ..] => (None, *resource, Some(*name)),
        [resource] => (None, *resource, None),
        [] => (None, "", None),
    };
    let verb = match (req.method().as_str(), name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        (other, _) => other,
    };
    Status::forbidden("system:anonymous", verb, group, resource, namespace, name)
}
