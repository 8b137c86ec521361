//! Lists with the etcd3 store's semantics: `limit`/`continue` paging over a consistent
//! snapshot, `resourceVersion` + `resourceVersionMatch`, `remainingItemCount`, and the
//! 410/504 answers for compacted or future revisions.

use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use tracing::warn;

use super::respond::{self, Negotiated};
use super::router::{Ctx, ResourceRequest};
use crate::continue_token;
use crate::faults::BadListItem;
use crate::status::{FieldError, FieldErrorKind, ListMeta, Status, go_quote};
use crate::store::{StoreError, objects};

/// How long a cached list waits for a `NotOlderThan` revision to arrive.
pub(super) const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// List query parameters.
#[derive(Debug, Default)]
struct ListParams {
    resource_version: Option<String>,
    resource_version_match: Option<String>,
    limit: Option<usize>,
    continue_: Option<String>,
}

impl ListParams {
    fn parse(neg: &Negotiated) -> Result<Self, Box<Status>> {
        let non_empty = |name: &str| neg.param(name).filter(|v| !v.is_empty()).map(str::to_owned);
        let limit = match non_empty("limit") {
            None => None,
            Some(s) => {
                let n: i64 = s.parse().map_err(|_| {
                    Status::bad_request(format!("limit: invalid value {}", go_quote(&s)))
                })?;
                usize::try_from(n).ok().filter(|n| *n > 0)
            }
        };
        Ok(Self {
            resource_version: non_empty("resourceVersion"),
            resource_version_match: non_empty("resourceVersionMatch"),
            limit,
            continue_: non_empty("continue"),
        })
    }

    /// `ValidateListOptions`.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let Some(m) = &self.resource_version_match else {
            return errors;
        };
        let forbidden = |detail: &str| FieldError {
            field: "resourceVersionMatch".into(),
            kind: FieldErrorKind::Forbidden,
            detail: detail.into(),
        };
        if self.resource_version.is_none() {
            errors.push(forbidden(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if self.continue_.is_some() {
            errors.push(forbidden(
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != "Exact" && m != "NotOlderThan" {
            errors.push(FieldError {
                field: "resourceVersionMatch".into(),
                kind: FieldErrorKind::NotSupported(go_quote(m), vec!["Exact", "NotOlderThan", ""]),
                detail: String::new(),
            });
        }
        if m == "Exact" && self.resource_version.as_deref() == Some("0") {
            errors.push(forbidden(
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
        errors
    }
}

/// Which revision a list reads.
enum Read {
    Latest,
    Exact(u64),
    NotOlderThan(u64),
    Continue(continue_token::Continue),
}

fn parse_rv(s: &str) -> Result<u64, Box<Status>> {
    s.parse().map_err(|_| {
        Box::new(Status::bad_request(format!(
            "invalid resource version: {}",
            go_quote(s)
        )))
    })
}

/// `GET` on a collection.
pub async fn list(ctx: &Ctx, req: &ResourceRequest) -> Response {
    let params = match ListParams::parse(&ctx.neg) {
        Ok(p) => p,
        Err(st) => return ctx.error(&st),
    };
    let errors = params.validate();
    if !errors.is_empty() {
        return ctx.error(&Status::invalid("meta.k8s.io", "ListOptions", "", &errors));
    }
    let cached = !req.target.is_events || ctx.shared.cfg.watch_cache;
    let mut limit = params.limit;
    let read = if let Some(c) = &params.continue_ {
        let token = match continue_token::decode(c) {
            Ok(t) => t,
            Err(e) => {
                return ctx.error(&Status::bad_request(format!("invalid continue token: {e}")));
            }
        };
        if params
            .resource_version
            .as_deref()
            .is_some_and(|rv| rv != "0")
        {
            return ctx.error(&Status::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        Read::Continue(token)
    } else {
        match params.resource_version.as_deref() {
            None => Read::Latest,
            Some("0") => {
                if cached {
                    // The watch cache serves resourceVersion=0 lists whole, ignoring limit.
                    limit = None;
                }
                Read::Latest
            }
            Some(s) => {
                let n = match parse_rv(s) {
                    Ok(n) => n,
                    Err(st) => return ctx.error(&st),
                };
                match params.resource_version_match.as_deref() {
                    Some("Exact") => Read::Exact(n),
                    Some(_) => Read::NotOlderThan(n),
                    None if limit.is_some() => Read::Exact(n),
                    None => Read::NotOlderThan(n),
                }
            }
        }
    };
    if cached && let Read::NotOlderThan(n) = &read {
        wait_for_revision(ctx, *n).await;
    }
    let prefix = objects::prefix(&req.def, req.namespace.as_deref());
    let result = {
        let mut store = ctx.shared.store();
        let current = store.rv();
        let plan = match &read {
            Read::Latest => Ok((current, prefix.clone())),
            Read::Exact(n) if *n > current => Err(Status::too_large_resource_version(*n, current)),
            Read::Exact(n) if *n < store.compacted() => Err(Status::list_too_old()),
            Read::Exact(n) => Ok((*n, prefix.clone())),
            Read::NotOlderThan(n) if *n > current => {
                Err(Status::too_large_resource_version(*n, current))
            }
            Read::NotOlderThan(_) => Ok((current, prefix.clone())),
            Read::Continue(t) => {
                let at = if t.rv > 0 {
                    u64::try_from(t.rv).unwrap_or(current).min(current)
                } else {
                    current
                };
                if t.rv > 0 && at < store.compacted() {
                    Err(Status::continue_expired(continue_token::encode(
                        -1, &t.start,
                    )))
                } else {
                    Ok((at, format!("{prefix}{}", t.start)))
                }
            }
        };
        match plan {
            Err(st) => Err(st),
            Ok((at, start)) => store
                .list(at, &prefix, &start, limit)
                .map(|page| (at, page))
                .map_err(|e| match (e, &read) {
                    (StoreError::TooOld { .. }, Read::Continue(t)) => {
                        Status::continue_expired(continue_token::encode(-1, &t.start))
                    }
                    (StoreError::TooOld { .. }, _) => Status::list_too_old(),
                    (other, _) => Status::internal_error(&other.to_string()),
                }),
        }
    };
    let (at, page) = match result {
        Ok(r) => r,
        Err(st) => return ctx.error(&st),
    };
    let mut meta = ListMeta {
        resource_version: at.to_string(),
        ..ListMeta::default()
    };
    if let Some(last) = &page.last_key {
        let rest = last.get(prefix.len()..).unwrap_or_default();
        meta.continue_ =
            continue_token::encode(i64::try_from(at).unwrap_or(i64::MAX), &format!("{rest}\0"));
        meta.remaining_item_count = Some(page.remaining);
    }
    let mut items = Vec::with_capacity(page.items.len() + 1);
    if let Some(bad) = ctx.shared.faults.take_bad_list_item(&ctx.path) {
        items.push(bad_item(bad, at));
    }
    for stored in &page.items {
        match req.target.item(stored) {
            Ok(item) => items.push(item),
            Err(error) => warn!(error = %error, "skipping stored object that cannot be rendered"),
        }
    }
    let head = req.target.list_head(&meta);
    respond::json_list(StatusCode::OK, head, items, b"]}\n", ctx.neg.pretty)
}

async fn wait_for_revision(ctx: &Ctx, wanted: u64) {
    let mut rx = ctx.shared.subscribe_rv();
    let current = ctx.shared.store().rv();
    if current >= wanted {
        return;
    }
    let _ = tokio::time::timeout(FRESHNESS_WAIT, rx.wait_for(|rv| *rv >= wanted)).await;
}

fn bad_item(kind: BadListItem, rv: u64) -> Bytes {
    match kind {
        BadListItem::InvalidJson => {
            Bytes::from_static(b"{\"metadata\":{\"name\":\"kubesim-malformed\",\"namespace\":")
        }
        BadListItem::WrongTypes => Bytes::from(format!(
            r#"{{"metadata":{{"name":12345,"namespace":"default","uid":"00000000-0000-0000-0000-000000000000","resourceVersion":"{rv}","creationTimestamp":"not-a-time"}},"involvedObject":{{"kind":"Pod","name":["not","a","string"]}},"reason":"Malformed","message":"kubesim injected malformed item","source":{{}},"firstTimestamp":"yesterday","lastTimestamp":null,"count":"many","type":"Warning","eventTime":null,"reportingComponent":"","reportingInstance":""}}"#
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_matches_list_options_rules() {
        let p = ListParams {
            resource_version_match: Some("Exact".into()),
            ..ListParams::default()
        };
        let st = Status::invalid("meta.k8s.io", "ListOptions", "", &p.validate());
        assert_eq!(
            st.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
        );
        let ok = ListParams {
            resource_version: Some("5".into()),
            resource_version_match: Some("NotOlderThan".into()),
            ..ListParams::default()
        };
        assert!(ok.validate().is_empty());
    }
}
