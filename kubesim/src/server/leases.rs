//! `coordination.k8s.io/v1` Leases: create, get (via the object reader), replace, merge
//! and apply patches, and delete, with `resourceVersion` optimistic concurrency and
//! per-manager `managedFields`.

// Helpers return the finished error `Response` (the handlers' own return type) on a cold
// path; boxing it would only add an allocation and unboxing at every call site.
#![allow(clippy::result_large_err)]

use axum::body::{Body, to_bytes};
use axum::response::Response;
use http::{StatusCode, header};

use super::respond;
use super::router::{Ctx, ResourceRequest};
use crate::json::{merge_patch, with_type_meta};
use crate::model::fields::{FieldSet, add_metadata, manager_from_user_agent};
use crate::model::lease::{LeaseInput, LeaseSpec};
use crate::model::meta::{ManagedFieldsEntry, ObjectMeta};
use crate::status::{FieldError, FieldErrorKind, Status, go_quote};
use crate::store::{Store, StoreError, events::valid_name, objects};
use crate::time::Time;

const GROUP: &str = "coordination.k8s.io";
const RESOURCE: &str = "leases";
const API_VERSION: &str = "coordination.k8s.io/v1";
/// The API server's request body limit.
const MAX_BODY: usize = 3 * 1024 * 1024;

fn encode(meta: &ObjectMeta, spec: &LeaseSpec) -> Result<bytes::Bytes, String> {
    let spec = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    objects::encode(meta, &format!("\"spec\":{spec}"))
}

fn field_set(meta: &ObjectMeta, spec: &LeaseSpec) -> FieldSet {
    let mut set = FieldSet::default();
    add_metadata(&mut set, meta);
    let fields = spec.set_fields();
    if !fields.is_empty() {
        let s = set.child("spec");
        for f in fields {
            s.leaf(f);
        }
    }
    set
}

/// Records `manager`'s ownership; the time only moves when its field set changes.
fn managed_fields(
    old: &[ManagedFieldsEntry],
    manager: &str,
    set: &FieldSet,
    now: Time,
) -> Vec<ManagedFieldsEntry> {
    let raw = set.to_raw();
    let mut out = old.to_vec();
    match out
        .iter_mut()
        .find(|m| m.manager == manager && m.operation == "Update" && m.subresource.is_empty())
    {
        Some(entry) => {
            if entry.fields_v1.as_ref().map(|f| f.get()) != Some(raw.get()) {
                entry.fields_v1 = Some(raw);
                entry.time = Some(now);
                API_VERSION.clone_into(&mut entry.api_version);
            }
        }
        None => out.push(ManagedFieldsEntry::update(manager, API_VERSION, now, raw)),
    }
    out
}

fn manager(ctx: &Ctx) -> String {
    let m = manager_from_user_agent(&ctx.neg.user_agent);
    if m.is_empty() {
        "unknown".to_owned()
    } else {
        m
    }
}

async fn read_body(ctx: &Ctx, body: Body) -> Result<bytes::Bytes, Response> {
    to_bytes(body, MAX_BODY).await.map_err(|e| {
        ctx.error(&Status::bad_request(format!(
            "unable to read request body: {e}"
        )))
    })
}

fn decode(ctx: &Ctx, body: &[u8]) -> Result<LeaseInput, Response> {
    serde_json::from_slice::<LeaseInput>(body).map_err(|e| {
        ctx.error(&Status::bad_request(format!(
            "Lease in version \"v1\" cannot be handled as a Lease: {e}"
        )))
    })
}

fn object_response(ctx: &Ctx, code: StatusCode, item: &[u8]) -> Response {
    respond::json(
        code,
        respond::finish(with_type_meta("Lease", API_VERSION, item), ctx.neg.pretty),
    )
}

/// Checks the body's namespace against the URL's and fills it in when missing.
fn check_namespace(ctx: &Ctx, meta: &mut ObjectMeta, namespace: &str) -> Result<(), Response> {
    if meta.namespace.is_empty() {
        namespace.clone_into(&mut meta.namespace);
    } else if meta.namespace != namespace {
        return Err(ctx.error(&Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )));
    }
    Ok(())
}

/// `POST …/namespaces/{ns}/leases`.
pub async fn create(ctx: &Ctx, req: &ResourceRequest, body: Body) -> Response {
    let Some(namespace) = req.namespace.clone() else {
        return ctx.error(&Status::method_not_allowed());
    };
    let body = match read_body(ctx, body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let input = match decode(ctx, &body) {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let manager = manager(ctx);
    match create_lease(ctx, req, &namespace, input, &manager) {
        Ok(item) => object_response(ctx, StatusCode::CREATED, &item),
        Err(resp) => resp,
    }
}

fn create_lease(
    ctx: &Ctx,
    req: &ResourceRequest,
    namespace: &str,
    input: LeaseInput,
    manager: &str,
) -> Result<bytes::Bytes, Response> {
    let LeaseInput { mut metadata, spec } = input;
    check_namespace(ctx, &mut metadata, namespace)?;
    if metadata.name.is_empty() && !metadata.generate_name.is_empty() {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        metadata.name = format!("{}{}", metadata.generate_name, &suffix[..5]);
    }
    if !valid_name(&metadata.name) {
        let error = if metadata.name.is_empty() {
            FieldError {
                field: "metadata.name".into(),
                kind: FieldErrorKind::Required,
                detail: "name or generateName is required".into(),
            }
        } else {
            FieldError {
                field: "metadata.name".into(),
                kind: FieldErrorKind::Invalid(go_quote(&metadata.name)),
                detail: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'".into(),
            }
        };
        return Err(ctx.error(&Status::invalid(GROUP, "Lease", &metadata.name, &[error])));
    }
    let now = Time::now();
    let meta = ObjectMeta {
        name: metadata.name.clone(),
        generate_name: metadata.generate_name,
        namespace: namespace.to_owned(),
        uid: uuid::Uuid::new_v4().to_string(),
        creation_timestamp: Some(now),
        labels: metadata.labels,
        annotations: metadata.annotations,
        owner_references: metadata.owner_references,
        finalizers: metadata.finalizers,
        ..ObjectMeta::default()
    };
    let set = field_set(&meta, &spec);
    let mut meta = meta;
    meta.managed_fields = managed_fields(&[], manager, &set, now);
    let key = objects::key(&req.def, namespace, &meta.name);
    let name = meta.name.clone();
    let result = ctx.shared.write(|store| {
        store.create(&key, |rv| {
            meta.resource_version = rv.to_string();
            encode(&meta, &spec)
        })?;
        store
            .get(&key)
            .map(|e| e.bytes.clone())
            .ok_or(StoreError::NotFound)
    });
    result.map_err(|e| match e {
        StoreError::AlreadyExists => ctx.error(&Status::already_exists(GROUP, RESOURCE, &name)),
        other => ctx.error(&Status::internal_error(&other.to_string())),
    })
}

enum UpdateError {
    NotFound,
    Conflict,
    Store(String),
}

/// Writes `input` over the stored lease; `expected_rv` (when given) must match.
fn update_lease(
    store: &mut Store,
    key: &str,
    input: LeaseInput,
    expected_rv: Option<&str>,
    manager: &str,
) -> Result<bytes::Bytes, UpdateError> {
    let current = store.get(key).ok_or(UpdateError::NotFound)?.bytes.clone();
    let old = objects::metadata(&current).map_err(UpdateError::Store)?;
    if expected_rv.is_some_and(|rv| rv != old.resource_version) {
        return Err(UpdateError::Conflict);
    }
    let LeaseInput { metadata, spec } = input;
    let now = Time::now();
    let mut meta = ObjectMeta {
        name: old.name.clone(),
        generate_name: old.generate_name.clone(),
        namespace: old.namespace.clone(),
        uid: old.uid.clone(),
        creation_timestamp: old.creation_timestamp,
        labels: metadata.labels,
        annotations: metadata.annotations,
        owner_references: metadata.owner_references,
        finalizers: metadata.finalizers,
        ..ObjectMeta::default()
    };
    let set = field_set(&meta, &spec);
    meta.managed_fields = managed_fields(&old.managed_fields, manager, &set, now);
    store
        .update(key, |_, rv| {
            meta.resource_version = rv.to_string();
            encode(&meta, &spec)
        })
        .map_err(|e| UpdateError::Store(e.to_string()))?;
    store
        .get(key)
        .map(|e| e.bytes.clone())
        .ok_or(UpdateError::NotFound)
}

fn update_error(ctx: &Ctx, name: &str, e: UpdateError) -> Response {
    match e {
        UpdateError::NotFound => ctx.error(&Status::not_found(GROUP, RESOURCE, name)),
        UpdateError::Conflict => ctx.error(&Status::conflict(GROUP, RESOURCE, name)),
        UpdateError::Store(msg) => ctx.error(&Status::internal_error(&msg)),
    }
}

/// `PUT …/leases/{name}`.
pub async fn replace(ctx: &Ctx, req: &ResourceRequest, body: Body) -> Response {
    let namespace = req.namespace.clone().unwrap_or_default();
    let name = req.name.clone().unwrap_or_default();
    let body = match read_body(ctx, body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut input = match decode(ctx, &body) {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    if let Err(resp) = check_namespace(ctx, &mut input.metadata, &namespace) {
        return resp;
    }
    if input.metadata.name.is_empty() {
        input.metadata.name.clone_from(&name);
    } else if input.metadata.name != name {
        return ctx.error(&Status::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            input.metadata.name
        )));
    }
    if input.metadata.resource_version.is_empty() {
        return ctx.error(&Status::invalid(
            GROUP,
            "Lease",
            &name,
            &[FieldError {
                field: "metadata.resourceVersion".into(),
                kind: FieldErrorKind::Invalid("0x0".into()),
                detail: "must be specified for an update".into(),
            }],
        ));
    }
    let expected = input.metadata.resource_version.clone();
    let manager = manager(ctx);
    let key = objects::key(&req.def, &namespace, &name);
    match ctx
        .shared
        .write(|store| update_lease(store, &key, input, Some(&expected), &manager))
    {
        Ok(item) => object_response(ctx, StatusCode::OK, &item),
        Err(e) => update_error(ctx, &name, e),
    }
}

/// `PATCH …/leases/{name}` with a merge, strategic-merge or apply patch (JSON body).
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
    let apply = match content_type.as_str() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => false,
        "application/apply-patch+yaml" => true,
        other => return ctx.error(&Status::unsupported_media_type(other)),
    };
    let body = match read_body(ctx, body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let patch: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return ctx.error(&Status::bad_request(format!("error decoding patch: {e}"))),
    };
    let expected = patch
        .pointer("/metadata/resourceVersion")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let manager = manager(ctx);
    let key = objects::key(&req.def, &namespace, &name);
    let current = ctx.shared.store().get(&key).map(|e| e.bytes.clone());
    let Some(current) = current else {
        if !apply {
            return ctx.error(&Status::not_found(GROUP, RESOURCE, &name));
        }
        let mut input = match serde_json::from_value::<LeaseInput>(patch) {
            Ok(i) => i,
            Err(e) => return ctx.error(&Status::bad_request(format!("error decoding patch: {e}"))),
        };
        input.metadata.name.clone_from(&name);
        return match create_lease(ctx, req, &namespace, input, &manager) {
            Ok(item) => object_response(ctx, StatusCode::CREATED, &item),
            Err(resp) => resp,
        };
    };
    let mut doc: serde_json::Value =
        match serde_json::from_slice(&with_type_meta("Lease", API_VERSION, &current)) {
            Ok(d) => d,
            Err(e) => return ctx.error(&Status::internal_error(&e.to_string())),
        };
    merge_patch(&mut doc, &patch);
    let input = match serde_json::from_value::<LeaseInput>(doc) {
        Ok(i) => i,
        Err(e) => {
            return ctx.error(&Status::bad_request(format!(
                "Lease in version \"v1\" cannot be handled as a Lease: {e}"
            )));
        }
    };
    match ctx
        .shared
        .write(|store| update_lease(store, &key, input, expected.as_deref(), &manager))
    {
        Ok(item) => object_response(ctx, StatusCode::OK, &item),
        Err(e) => update_error(ctx, &name, e),
    }
}

/// `DELETE …/leases/{name}`.
pub fn delete(ctx: &Ctx, req: &ResourceRequest) -> Response {
    let namespace = req.namespace.clone().unwrap_or_default();
    let name = req.name.clone().unwrap_or_default();
    let key = objects::key(&req.def, &namespace, &name);
    let result = ctx.shared.write(|store| {
        let uid = store
            .get(&key)
            .and_then(|e| objects::metadata(&e.bytes).ok())
            .map(|m| m.uid)
            .unwrap_or_default();
        store
            .delete(&key, |bytes, rv| {
                objects::replace_metadata(bytes, |m| m.resource_version = rv.to_string())
            })
            .map(|_| uid)
    });
    match result {
        Ok(uid) => respond::status(
            &Status::deleted(GROUP, RESOURCE, &name, &uid),
            ctx.neg.pretty,
        ),
        Err(StoreError::NotFound) => ctx.error(&Status::not_found(GROUP, RESOURCE, &name)),
        Err(e) => ctx.error(&Status::internal_error(&e.to_string())),
    }
}
