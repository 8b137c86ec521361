//! Path routing: discovery documents and the resource URL scheme
//! (`/api/v1[/namespaces/{ns}]/{resource}[/{name}]`, same under `/apis/{group}/{version}`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use http::{Method, StatusCode};

use super::middleware::{authenticate, common_headers, inject_faults, record};
use super::respond::{self, AcceptAs, MetadataAs, Negotiated};
use super::view::{Target, View};
use super::{leases, list, objects, status_patch, watch};
use crate::discovery;
use crate::shared::Shared;
use crate::status::Status;

/// One request, after negotiation.
pub struct Ctx {
    /// Shared simulator state.
    pub shared: Arc<Shared>,
    /// HTTP method.
    pub method: Method,
    /// Request path.
    pub path: String,
    /// Request headers.
    pub headers: http::HeaderMap,
    /// Negotiated options and query.
    pub neg: Negotiated,
}

impl Ctx {
    /// A Status error, pretty-printed when the client asked for pretty output or for
    /// metadata (the API server answers metadata requests' errors pretty-printed).
    pub fn error(&self, st: &Status) -> Response {
        respond::status(st, self.neg.pretty || self.neg.accept == AcceptAs::Metadata)
    }
}

/// The router with all filters.
pub fn build(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(shared.clone())
        .layer(from_fn_with_state(shared.clone(), inject_faults))
        .layer(from_fn_with_state(shared.clone(), authenticate))
        .layer(from_fn_with_state(shared, record))
        .layer(from_fn(common_headers))
}

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let neg = Negotiated::from_request(&parts.uri, &parts.headers);
    let path = parts.uri.path().to_owned();
    let ctx = Ctx {
        shared,
        method: parts.method,
        path: path.clone(),
        headers: parts.headers,
        neg,
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => discovery_doc(&ctx, Some(crate::fixtures::VERSION.to_vec())),
        ["healthz" | "livez" | "readyz"] => health(&ctx),
        ["api"] => {
            let body = discovery::api_versions(&ctx.shared.addr.to_string());
            discovery_doc(&ctx, Some(body))
        }
        ["apis"] => {
            let body = discovery::api_groups(&ctx.shared.registry());
            discovery_doc(&ctx, Some(body))
        }
        ["api", "v1"] => {
            let body = ctx.shared.registry().resource_list("", "v1");
            discovery_doc(&ctx, body)
        }
        ["apis", group] => {
            let body = discovery::api_group(&ctx.shared.registry(), group);
            discovery_doc(&ctx, body)
        }
        ["apis", group, version] => {
            let body = ctx.shared.registry().resource_list(group, version);
            discovery_doc(&ctx, body)
        }
        ["api", "v1", rest @ ..] => {
            let rest = rest.iter().map(|s| (*s).to_owned()).collect();
            resource(ctx, body, "", "v1", rest).await
        }
        ["apis", group, version, rest @ ..] => {
            let (group, version) = ((*group).to_owned(), (*version).to_owned());
            let rest = rest.iter().map(|s| (*s).to_owned()).collect();
            resource(ctx, body, &group, &version, rest).await
        }
        _ => respond::plain_not_found(),
    }
}

fn health(ctx: &Ctx) -> Response {
    if ctx.method != Method::GET {
        return ctx.error(&Status::method_not_allowed());
    }
    let mut resp = Response::new(Body::from("ok"));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut().insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    resp
}

fn discovery_doc(ctx: &Ctx, body: Option<Vec<u8>>) -> Response {
    if ctx.method != Method::GET {
        return ctx.error(&Status::method_not_allowed());
    }
    match body {
        Some(b) => respond::json(StatusCode::OK, b),
        None => ctx.error(&Status::path_not_found()),
    }
}

/// A resolved resource request.
pub struct ResourceRequest {
    /// What is addressed.
    pub target: Target,
    /// The resource definition.
    pub def: crate::resources::ResourceDef,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name from the path.
    pub name: Option<String>,
    /// Legacy `/watch/` path prefix.
    pub watch_path: bool,
}

async fn resource(ctx: Ctx, body: Body, group: &str, version: &str, rest: Vec<String>) -> Response {
    let (watch_path, rest) = match rest.split_first() {
        Some((first, tail)) if first == "watch" => (true, tail.to_vec()),
        _ => (false, rest),
    };
    let parts: Vec<&str> = rest.iter().map(String::as_str).collect();
    let (namespace, plural, name, sub) = match parts.as_slice() {
        ["namespaces", ns, res] => (Some((*ns).to_owned()), *res, None, None),
        ["namespaces", ns, res, name] => {
            (Some((*ns).to_owned()), *res, Some((*name).to_owned()), None)
        }
        ["namespaces", ns, res, name, sub] if !watch_path => (
            Some((*ns).to_owned()),
            *res,
            Some((*name).to_owned()),
            Some(*sub),
        ),
        [res] => (None, *res, None, None),
        [res, name] => (None, *res, Some((*name).to_owned()), None),
        [res, name, sub] if !watch_path && *res != "namespaces" => {
            (None, *res, Some((*name).to_owned()), Some(*sub))
        }
        _ => return ctx.error(&Status::path_not_found()),
    };
    let Some(def) = ctx
        .shared
        .registry()
        .by_resource(group, version, plural)
        .cloned()
    else {
        return ctx.error(&Status::path_not_found());
    };
    if (namespace.is_some() && !def.namespaced)
        || (name.is_some() && def.namespaced && namespace.is_none())
    {
        return ctx.error(&Status::path_not_found());
    }
    // only the `status` subresource of custom resources is served
    let status_sub = match sub {
        None => false,
        Some("status") if def.generation && def.has_status() => true,
        Some(_) => return ctx.error(&Status::path_not_found()),
    };
    let is_events = def.collection() == crate::store::events::EVENTS;
    let view = if ctx.neg.accept == AcceptAs::Metadata {
        View::Metadata
    } else if is_events && group == "events.k8s.io" {
        View::EventsV1
    } else {
        View::Full
    };
    let target = Target {
        group: group.to_owned(),
        resource: def.plural.clone(),
        kind: def.kind.clone(),
        api_version: def.group_version(version),
        view,
        is_events,
    };
    let req = ResourceRequest {
        target,
        def,
        namespace,
        name,
        watch_path,
    };
    let is_lease = req.def.group == "coordination.k8s.io" && req.def.plural == "leases";
    let watching =
        req.watch_path || matches!(ctx.neg.param("watch"), Some("1" | "true" | "True" | "t"));
    if status_sub {
        return match ctx.method {
            Method::GET => objects::get(&ctx, &req),
            Method::PATCH => status_patch::patch(&ctx, &req, body).await,
            _ => ctx.error(&Status::method_not_allowed()),
        };
    }
    match (&ctx.method, req.name.is_some()) {
        (&Method::GET, _) if watching => watch::watch(&ctx, &req),
        (&Method::GET, true) if ctx.neg.metadata_as == Some(MetadataAs::List) => {
            ctx.error(&Status::metadata_kind_not_acceptable(
                "PartialObjectMetadataList",
                &go_type(&req.def, false),
                false,
            ))
        }
        (&Method::GET, false) if ctx.neg.metadata_as == Some(MetadataAs::Object) => {
            ctx.error(&Status::metadata_kind_not_acceptable(
                "PartialObjectMetadata",
                &go_type(&req.def, true),
                true,
            ))
        }
        (&Method::GET, true) => objects::get(&ctx, &req),
        (&Method::GET, false) => list::list(&ctx, &req).await,
        (&Method::POST, false) if is_lease => leases::create(&ctx, &req, body).await,
        (&Method::PUT, true) if is_lease => leases::replace(&ctx, &req, body).await,
        (&Method::PATCH, true) if is_lease => leases::patch(&ctx, &req, body).await,
        (&Method::DELETE, true) if is_lease => leases::delete(&ctx, &req),
        _ => ctx.error(&Status::method_not_allowed()),
    }
}

/// The Go type the API server names in a 406 for a metadata kind mismatch: its internal
/// object (`*core.Pod`, `*apps.ReplicaSetList`), or `Unstructured` for custom resources.
fn go_type(def: &crate::resources::ResourceDef, list: bool) -> String {
    let suffix = if list { "List" } else { "" };
    let package = match def.group.as_str() {
        "" => Some("core"),
        g if !g.contains('.') || g.ends_with(".k8s.io") => g.split('.').next(),
        _ => None,
    };
    match package {
        Some(p) => format!("*{p}.{}{suffix}", def.kind),
        None => format!("*unstructured.Unstructured{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::ResourceDef;

    #[test]
    fn go_types_name_the_internal_package() {
        let pods = ResourceDef::new("", &["v1"], "pods", "Pod", true);
        assert_eq!(go_type(&pods, true), "*core.PodList");
        assert_eq!(go_type(&pods, false), "*core.Pod");
        let rs = ResourceDef::new("apps", &["v1"], "replicasets", "ReplicaSet", true);
        assert_eq!(go_type(&rs, true), "*apps.ReplicaSetList");
        let lease = ResourceDef::new("coordination.k8s.io", &["v1"], "leases", "Lease", true);
        assert_eq!(go_type(&lease, false), "*coordination.Lease");
        let crd = ResourceDef::new("example.com", &["v1"], "widgets", "Widget", true);
        assert_eq!(go_type(&crd, true), "*unstructured.UnstructuredList");
    }
}
