//! Reading a `_bulk` answer item by item.

use serde::Deserialize;

use crate::driver::{ItemOutcome, SendError, SendOutcome};

#[derive(Deserialize)]
struct BulkResponse {
    #[serde(default)]
    errors: bool,
    #[serde(default)]
    items: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct ItemResult {
    #[serde(default)]
    status: u16,
    #[serde(default)]
    error: Option<ItemError>,
}

#[derive(Deserialize)]
struct ItemError {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    reason: String,
}

/// Turns a 2xx `_bulk` answer for `count` items into an outcome: without
/// `errors` every item is delivered; otherwise each item by its status
/// (2xx and a 409 conflict on `create` delivered, 429 and 5xx retried, the
/// rest rejected with the target's `error.type` and `error.reason`).
///
/// # Errors
/// The body is not a `_bulk` answer (permanent: the target is not what the
/// receiver expects).
pub(crate) fn parse_response(body: &[u8], count: usize) -> Result<SendOutcome, SendError> {
    let response: BulkResponse = serde_json::from_slice(body).map_err(|e| {
        SendError::permanent(format!("the answer is not a _bulk response: {e}"))
    })?;
    if !response.errors {
        return Ok(SendOutcome::Delivered);
    }
    if response.items.len() != count {
        return Err(SendError::retriable(format!(
            "the _bulk answer has {} items for {count} documents",
            response.items.len()
        )));
    }
    let items = response.items.iter().map(item_outcome).collect();
    Ok(SendOutcome::partial(items))
}

fn item_outcome(item: &serde_json::Map<String, serde_json::Value>) -> ItemOutcome {
    let Some((action, result)) = item.iter().next() else {
        return ItemOutcome::retry("empty item in the _bulk answer");
    };
    let Ok(result) = ItemResult::deserialize(result) else {
        return ItemOutcome::retry("unreadable item in the _bulk answer");
    };
    let status = result.status;
    if (200..300).contains(&status) || (status == 409 && action == "create") {
        return ItemOutcome::Delivered;
    }
    let reason = match &result.error {
        Some(e) => format!("status {status}, error.type {}: {}", e.kind, e.reason),
        None => format!("status {status}"),
    };
    if status == 429 || (500..600).contains(&status) {
        ItemOutcome::retry(reason)
    } else {
        ItemOutcome::rejected(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_classified() {
        let body = json!({"took": 3, "errors": true, "items": [
            {"create": {"_index": "k", "_id": "a", "status": 201}},
            {"create": {"_index": "k", "_id": "b", "status": 409,
                "error": {"type": "version_conflict_engine_exception", "reason": "exists"}}},
            {"index": {"_index": "k", "_id": "c", "status": 400,
                "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [count]"}}},
            {"create": {"_index": "k", "_id": "d", "status": 429,
                "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
            {"index": {"_index": "k", "_id": "e", "status": 409,
                "error": {"type": "version_conflict_engine_exception", "reason": "v"}}},
        ]});
        let out = parse_response(body.to_string().as_bytes(), 5).unwrap();
        assert_eq!(
            out,
            SendOutcome::partial(vec![
                ItemOutcome::Delivered,
                ItemOutcome::Delivered,
                ItemOutcome::rejected(
                    "status 400, error.type mapper_parsing_exception: failed to parse field [count]"
                ),
                ItemOutcome::retry(
                    "status 429, error.type es_rejected_execution_exception: queue full"
                ),
                ItemOutcome::rejected(
                    "status 409, error.type version_conflict_engine_exception: v"
                ),
            ])
        );
        let ok = json!({"errors": false, "items": [{"create": {"status": 201}}]});
        assert_eq!(
            parse_response(ok.to_string().as_bytes(), 1).unwrap(),
            SendOutcome::Delivered
        );
        assert!(!parse_response(b"<html>", 1).unwrap_err().is_retriable());
    }
}
