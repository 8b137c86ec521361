//! `PATCH …/{resource}/{name}/status` of custom resources with a `status`
//! subresource (JSON merge patch): as the API server does, the patch is applied to
//! the whole object and only the resulting `status` is kept; metadata (but
//! `resourceVersion`) and the generation do not move, and a patch that changes
//! nothing writes nothing (the resourceVersion stays).

use axum::body::{Body, to_bytes};
use axum::response::Response;
use http::{StatusCode, header};
use serde_json::Value;

use super::respond;
use super::router::{Ctx, ResourceRequest};
use crate::json::{merge_patch, with_type_meta};
use crate::status::Status;
use crate::store::{StoreError, objects};

/// The API server's request body limit.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// `PATCH …/{name}/status`.
pub async fn patch(ctx: &Ctx, req: &ResourceRequest, body: Body) -> Response {
    let namespace = req.namespace.clone().unwrap_or_default();
    let name = req.name.clone().unwrap_or_default();
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if content_type != "application/merge-patch+json" {
        // strategic merge patch is not supported for custom resources
        return ctx.error(&Status::unsupported_media_type(&content_type));
    }
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return ctx.error(&Status::bad_request(format!(
                "unable to read request body: {e}"
            )));
        }
    };
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return ctx.error(&Status::bad_request(format!("error decoding patch: {e}"))),
    };
    let key = objects::key(&req.def, &namespace, &name);
    let target = &req.target;
    let result = ctx.shared.write(|store| {
        let Some(current) = store.get(&key).map(|e| e.bytes.clone()) else {
            return Err(StoreError::NotFound);
        };
        let rest = objects::rest(&current).map_err(StoreError::Rejected)?;
        let mut members = objects::rest_map(rest).map_err(StoreError::Rejected)?;
        let mut doc = Value::Object(members.clone());
        merge_patch(&mut doc, &patch);
        let new_status = doc.get("status").cloned();
        if members.get("status") == new_status.as_ref() {
            return Ok(current);
        }
        match new_status {
            Some(st) => members.insert("status".to_owned(), st),
            None => members.remove("status"),
        };
        let new_rest = objects::rest_from_value(&members).map_err(StoreError::Rejected)?;
        store
            .update(&key, |cur, rv| {
                let mut meta = objects::metadata(cur)?;
                meta.resource_version = rv.to_string();
                objects::encode(&meta, &new_rest)
            })
            .and_then(|_| {
                store
                    .get(&key)
                    .map(|e| e.bytes.clone())
                    .ok_or(StoreError::NotFound)
            })
    });
    match result {
        Ok(item) => respond::json(
            StatusCode::OK,
            respond::finish(
                with_type_meta(&target.kind, &target.api_version, &item),
                ctx.neg.pretty,
            ),
        ),
        Err(StoreError::NotFound) => {
            ctx.error(&Status::not_found(&target.group, &target.resource, &name))
        }
        Err(e) => ctx.error(&Status::internal_error(&e.to_string())),
    }
}
