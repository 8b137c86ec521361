//! `metav1.Status` error bodies, byte-compatible with the API server's.

use serde::Serialize;

/// `metav1.ListMeta` as it appears inside a Status.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// List resource version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Continue token.
    #[serde(rename = "continue", skip_serializing_if = "String::is_empty")]
    pub continue_: String,
    /// Items after this page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<u64>,
}

/// `metav1.StatusDetails`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    /// Object name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// API group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Kind (or resource, for NotFound/Conflict).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Object UID.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Field-level causes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Suggested client retry delay.
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_after_seconds: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

/// `metav1.StatusCause`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StatusCause {
    /// Machine-readable cause (`FieldValueInvalid`, …).
    #[serde(rename = "reason", skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Field path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// A failure `metav1.Status`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    /// List metadata (only `continue` is ever set, for expired continue tokens).
    pub metadata: ListMeta,
    status: &'static str,
    /// Human-readable message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Machine-readable reason.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'static str,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// HTTP status code (omitted when zero, as for delete results).
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub code: u16,
}

/// A field validation error, rendered the way `field.Error` prints.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// Field path (`metadata.name`).
    pub field: String,
    /// What kind of error it is.
    pub kind: FieldErrorKind,
    /// Detail text.
    pub detail: String,
}

/// `field.ErrorType`.
#[derive(Clone, Debug)]
pub enum FieldErrorKind {
    /// `Invalid value: <repr>`.
    Invalid(String),
    /// `Required value`.
    Required,
    /// `Forbidden`.
    Forbidden,
    /// `Unsupported value: <repr>: supported values: …`.
    NotSupported(String, Vec<&'static str>),
}

impl FieldError {
    fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
        }
    }

    /// `field.Error.ErrorBody()`.
    pub fn body(&self) -> String {
        match &self.kind {
            FieldErrorKind::Invalid(v) => format!("Invalid value: {v}: {}", self.detail),
            FieldErrorKind::Required if self.detail.is_empty() => "Required value".to_owned(),
            FieldErrorKind::Required => format!("Required value: {}", self.detail),
            FieldErrorKind::Forbidden if self.detail.is_empty() => "Forbidden".to_owned(),
            FieldErrorKind::Forbidden => format!("Forbidden: {}", self.detail),
            FieldErrorKind::NotSupported(v, supported) => {
                let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
                format!(
                    "Unsupported value: {v}: supported values: {}",
                    list.join(", ")
                )
            }
        }
    }
}

/// Go's `%q` for the simple strings used in messages.
pub fn go_quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// `schema.GroupResource.String()`: `pods`, `leases.coordination.k8s.io`.
fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

impl Status {
    fn failure(
        code: u16,
        reason: &'static str,
        message: String,
        details: Option<StatusDetails>,
    ) -> Self {
        Self {
            kind: "Status",
            api_version: "v1",
            metadata: ListMeta::default(),
            status: "Failure",
            message,
            reason,
            details,
            code,
        }
    }

    /// 404 for a named object: `pods "x" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::failure(
            404,
            "NotFound",
            format!(
                "{} {} not found",
                group_resource(group, resource),
                go_quote(name)
            ),
            Some(StatusDetails {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
                ..StatusDetails::default()
            }),
        )
    }

    /// 403 from the RBAC authorizer: `user` may not `verb` `resource` (of `group`), in
    /// `namespace` or at the cluster scope; `name` for requests on one object.
    pub fn forbidden(
        user: &str,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        let subject = match name {
            Some(n) => format!("{} {}", group_resource(group, resource), go_quote(n)),
            None => group_resource(group, resource),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace {}", go_quote(ns)),
            None => "at the cluster scope".to_owned(),
        };
        Self::failure(
            403,
            "Forbidden",
            format!(
                "{subject} is forbidden: User {} cannot {verb} resource {} in API group {} {scope}",
                go_quote(user),
                go_quote(resource),
                go_quote(group)
            ),
            Some(StatusDetails {
                name: name.unwrap_or_default().to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
                ..StatusDetails::default()
            }),
        )
    }

    /// 404 for a path that is not served.
    pub fn path_not_found() -> Self {
        Self::failure(
            404,
            "NotFound",
            "the server could not find the requested resource".to_owned(),
            Some(StatusDetails::default()),
        )
    }

    /// 405 for a verb the resource does not support here.
    pub fn method_not_allowed() -> Self {
        Self::failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_owned(),
            Some(StatusDetails::default()),
        )
    }

    /// 409 Conflict on a stale `resourceVersion`.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::failure(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {}: the object has been modified; please apply your changes to the latest version and try again",
                group_resource(group, resource),
                go_quote(name)
            ),
            Some(StatusDetails {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
                ..StatusDetails::default()
            }),
        )
    }

    /// 409 AlreadyExists on create.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::failure(
            409,
            "AlreadyExists",
            format!(
                "{} {} already exists",
                group_resource(group, resource),
                go_quote(name)
            ),
            Some(StatusDetails {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
                ..StatusDetails::default()
            }),
        )
    }

    /// 410 Expired with the given message.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::failure(410, "Expired", message.into(), None)
    }

    /// 410 Expired for a list whose resourceVersion was compacted.
    pub fn list_too_old() -> Self {
        Self::expired("The resourceVersion for the provided list is too old.")
    }

    /// 410 Expired for a watch from a compacted resourceVersion (etcd path).
    pub fn watch_too_old() -> Self {
        Self::expired("The resourceVersion for the provided watch is too old.")
    }

    /// 410 Expired for a watch from a resourceVersion older than the watch cache holds.
    pub fn watch_cache_too_old(requested: u64, oldest: u64) -> Self {
        Self::expired(format!("too old resource version: {requested} ({oldest})"))
    }

    /// 410 Expired for a continue token from before compaction, carrying a fresh token.
    pub fn continue_expired(new_token: String) -> Self {
        let mut s = Self::expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
        s.metadata.continue_ = new_token;
        s
    }

    /// 504 for a minimum resourceVersion newer than the store's.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        Self::failure(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {requested}, current: {current}"),
            Some(StatusDetails {
                causes: vec![StatusCause {
                    reason: "ResourceVersionTooLarge".to_owned(),
                    message: "Too large resource version".to_owned(),
                    field: String::new(),
                }],
                retry_after_seconds: 1,
                ..StatusDetails::default()
            }),
        )
    }

    /// `Success` Status returned by a DELETE that removed the object immediately.
    pub fn deleted(group: &str, resource: &str, name: &str, uid: &str) -> Self {
        let mut s = Self::failure(
            0,
            "",
            String::new(),
            Some(StatusDetails {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
                uid: uid.to_owned(),
                ..StatusDetails::default()
            }),
        );
        s.status = "Success";
        s
    }

    /// 415 for a PATCH content type the server does not understand.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::failure(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
            None,
        )
    }

    /// 406 for a metadata kind that does not fit the response (`as=PartialObjectMetadata`
    /// on a list, `as=PartialObjectMetadataList` on a single object). `go_type` is the
    /// `%T` of the API server's internal object, such as `*core.PodList`.
    pub fn metadata_kind_not_acceptable(requested: &str, go_type: &str, list: bool) -> Self {
        let what = if list { "a list" } else { "not a list" };
        Self::failure(
            406,
            "NotAcceptable",
            format!("you requested {requested}, but the requested object is {what} ({go_type})"),
            None,
        )
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::failure(400, "BadRequest", message.into(), None)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::failure(401, "Unauthorized", "Unauthorized".to_owned(), None)
    }

    /// 500 InternalError.
    pub fn internal_error(cause: &str) -> Self {
        Self::failure(
            500,
            "InternalError",
            format!("Internal error occurred: {cause}"),
            Some(StatusDetails {
                causes: vec![StatusCause {
                    message: cause.to_owned(),
                    ..StatusCause::default()
                }],
                ..StatusDetails::default()
            }),
        )
    }

    /// 422 Invalid for `Kind.group "name"` with field errors.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let rendered: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect();
        let message = match rendered.len() {
            0 => format!("{qualified} {} is invalid", go_quote(name)),
            1 => format!("{qualified} {} is invalid: {}", go_quote(name), rendered[0]),
            _ => format!(
                "{qualified} {} is invalid: [{}]",
                go_quote(name),
                rendered.join(", ")
            ),
        };
        Self::failure(
            422,
            "Invalid",
            message,
            Some(StatusDetails {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: kind.to_owned(),
                causes: errors
                    .iter()
                    .map(|e| StatusCause {
                        reason: e.reason().to_owned(),
                        message: e.body(),
                        field: e.field.clone(),
                    })
                    .collect(),
                ..StatusDetails::default()
            }),
        )
    }

    /// Compact JSON without a trailing newline (as embedded in a watch ERROR line).
    pub fn to_compact(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The body the API server sends: compact JSON plus a newline, or pretty without one.
    pub fn to_body(&self, pretty: bool) -> Vec<u8> {
        if pretty {
            crate::json::indent(&self.to_compact())
        } else {
            let mut v = self.to_compact();
            v.push(b'\n');
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_matches_event_create_fixture() {
        let s = Status::invalid(
            "",
            "Event",
            "burst-test.1",
            &[FieldError {
                field: "involvedObject.namespace".into(),
                kind: FieldErrorKind::Invalid("\"\"".into()),
                detail: "does not match event.namespace".into(),
            }],
        );
        let fixture = include_bytes!("../fixtures/event-create-422-invalid.json");
        assert_eq!(s.to_body(false), fixture.to_vec());
    }

    #[test]
    fn conflict_matches_lease_fixture() {
        let s = Status::conflict("coordination.k8s.io", "leases", "event-exporter");
        assert_eq!(
            s.to_body(false),
            include_bytes!("../fixtures/lease-conflict-409.json").to_vec()
        );
    }

    #[test]
    fn not_found_matches_both_pod_fixtures() {
        let s = Status::not_found("", "pods", "nginx-74447cbdd9-r9zqj");
        assert_eq!(
            s.to_body(false),
            include_bytes!("../fixtures/involved-pod-404-plain.json").to_vec()
        );
        assert_eq!(
            s.to_body(true),
            include_bytes!("../fixtures/involved-pod-metadata-404.json").to_vec()
        );
    }

    #[test]
    fn expired_bodies_match_fixtures() {
        assert_eq!(
            Status::list_too_old().to_body(false),
            include_bytes!("../fixtures/list-gone-410-exact.json").to_vec()
        );
    }

    #[test]
    fn not_supported_lists_values() {
        let e = FieldError {
            field: "resourceVersionMatch".into(),
            kind: FieldErrorKind::NotSupported("\"Foo\"".into(), vec!["Exact", "NotOlderThan", ""]),
            detail: String::new(),
        };
        assert_eq!(
            e.body(),
            r#"Unsupported value: "Foo": supported values: "Exact", "NotOlderThan", """#
        );
    }
}
