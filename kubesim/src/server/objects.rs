//! Single-object reads: full objects, `events.k8s.io` events and `PartialObjectMetadata`.

use axum::response::Response;
use http::StatusCode;
use tracing::warn;

use super::respond;
use super::router::{Ctx, ResourceRequest};
use crate::status::Status;
use crate::store::objects;

/// `GET …/{resource}/{name}`.
pub fn get(ctx: &Ctx, req: &ResourceRequest) -> Response {
    let namespace = req.namespace.as_deref().unwrap_or_default();
    let name = req.name.as_deref().unwrap_or_default();
    let key = objects::key(&req.def, namespace, name);
    let stored = ctx.shared.store().get(&key).map(|e| e.bytes.clone());
    let Some(bytes) = stored else {
        return ctx.error(&Status::not_found(
            &req.target.group,
            &req.target.resource,
            name,
        ));
    };
    match req.target.object(&bytes) {
        Ok(obj) => respond::json(StatusCode::OK, respond::finish(obj, ctx.neg.pretty)),
        Err(error) => {
            warn!(error = %error, key = %key, "stored object cannot be rendered");
            ctx.error(&Status::internal_error(&error))
        }
    }
}
