//! Per-entry answers of AWS batch APIs (`PutRecords`, `PutRecordBatch`,
//! `SendMessageBatch`, `PublishBatch`, `PutEvents`) as the driver's
//! item-by-item outcome.

use std::future::Future;
use std::ops::Range;

use crate::driver::{ItemOutcome, SendError, SendOutcome};

/// The outcome of one entry AWS refused with `code` and `message`;
/// `sender_fault` is SQS's and SNS's own verdict (`true`: the entry itself is
/// bad), `None` for the APIs without one.
pub fn failed_entry(code: &str, message: &str, sender_fault: Option<bool>) -> ItemOutcome {
    let reason = if message.is_empty() {
        code.to_owned()
    } else {
        format!("{code}: {message}")
    };
    let retriable = match sender_fault {
        _ if super::is_retriable_code(code) => true,
        Some(fault) => !fault,
        None => false,
    };
    if retriable {
        ItemOutcome::retry(reason)
    } else {
        ItemOutcome::rejected(reason)
    }
}

/// Builds the outcome of a batch whose entries were sent with ids `"0"`,
/// `"1"`, … (SQS, SNS): entries named in `failed` get their outcome, every
/// other entry of the `count` is delivered.
pub fn outcomes_by_id(
    count: usize,
    failed: impl IntoIterator<Item = (String, ItemOutcome)>,
) -> Vec<ItemOutcome> {
    let mut out = vec![ItemOutcome::Delivered; count];
    for (id, outcome) in failed {
        if let Some(slot) = id.parse::<usize>().ok().and_then(|i| out.get_mut(i)) {
            *slot = outcome;
        }
    }
    out
}

/// Splits items of sizes `sizes` into consecutive runs of at most
/// `max_entries` items and `max_bytes` bytes (an item larger than
/// `max_bytes` is a run of its own: the API refuses it alone).
pub fn chunks(sizes: &[usize], max_entries: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, size) in sizes.iter().enumerate() {
        let full = i - start >= max_entries || bytes.saturating_add(*size) > max_bytes;
        if i > start && full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(*size);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Sends `items` in as many calls as the API's limits need (`max_entries`,
/// `max_bytes`), one after the other, and merges the answers.
///
/// With a single call its answer is the request's; with several, a call
/// that failed as a whole turns into the outcome of each of its items (to
/// retry or rejected), so that the driver retries only what failed.
///
/// # Errors
/// The only call failed as a whole.
pub async fn send_chunked<'a, T, F, Fut>(
    items: &'a [T],
    size: impl Fn(&T) -> usize,
    max_entries: usize,
    max_bytes: usize,
    mut send: F,
) -> Result<SendOutcome, SendError>
where
    F: FnMut(&'a [T]) -> Fut,
    Fut: Future<Output = Result<Vec<ItemOutcome>, SendError>>,
{
    let sizes: Vec<usize> = items.iter().map(size).collect();
    let runs = chunks(&sizes, max_entries, max_bytes);
    let single = runs.len() == 1;
    let mut outcomes = Vec::with_capacity(items.len());
    for run in runs {
        let len = run.len();
        match send(&items[run]).await {
            Ok(mut o) => {
                o.resize(
                    len,
                    ItemOutcome::retry("AWS answered no outcome for this entry"),
                );
                outcomes.extend(o);
            }
            Err(e) if single => return Err(e),
            Err(e) => {
                let outcome = if e.is_retriable() {
                    ItemOutcome::retry(e.to_string())
                } else {
                    ItemOutcome::rejected(e.to_string())
                };
                outcomes.extend(std::iter::repeat_n(outcome, len));
            }
        }
    }
    if outcomes.iter().all(|o| *o == ItemOutcome::Delivered) {
        Ok(SendOutcome::Delivered)
    } else {
        Ok(SendOutcome::partial(outcomes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_count_and_bytes() {
        assert_eq!(chunks(&[1; 25], 10, 1000), vec![0..10, 10..20, 20..25]);
        assert_eq!(chunks(&[400, 400, 400, 10], 10, 1000), vec![0..2, 2..4]);
        // an oversized item goes alone
        assert_eq!(chunks(&[10, 2000, 10], 10, 1000), vec![0..1, 1..2, 2..3]);
        assert!(chunks(&[], 10, 1000).is_empty());
    }

    #[test]
    fn entry_failures_are_sorted_by_code_and_sender_fault() {
        assert!(matches!(
            failed_entry("ProvisionedThroughputExceededException", "slow down", None),
            ItemOutcome::Retry { .. }
        ));
        assert!(matches!(
            failed_entry("InvalidParameterValue", "bad", Some(true)),
            ItemOutcome::Rejected { .. }
        ));
        assert!(matches!(
            failed_entry("SomethingNew", "server side", Some(false)),
            ItemOutcome::Retry { .. }
        ));
        assert!(matches!(
            failed_entry("ValidationException", "too big", None),
            ItemOutcome::Rejected { .. }
        ));
    }

    #[tokio::test]
    async fn a_failed_call_among_several_fails_only_its_items() {
        let items: Vec<u32> = (0..25).collect();
        let mut calls = 0;
        let outcome = send_chunked(
            &items,
            |_| 1,
            10,
            1000,
            |run: &[u32]| {
                calls += 1;
                let first = run[0];
                async move {
                    if first == 10 {
                        Err(SendError::retriable("throttled"))
                    } else {
                        Ok(vec![ItemOutcome::Delivered; run.len()])
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(calls, 3);
        let SendOutcome::Partial(p) = outcome else {
            panic!("expected a partial outcome")
        };
        let retried: Vec<usize> = p
            .items
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, ItemOutcome::Retry { .. }))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(retried, (10..20).collect::<Vec<_>>());
    }
}
