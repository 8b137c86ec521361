//! Targets that take one message per request (Slack, Teams, Opsgenie): a
//! batch is sent as one HTTP request per event, in order, and answered item
//! by item, so the driver retries only the events that failed.

use std::future::Future;

use super::sender::HttpRequest;
use crate::driver::{ItemOutcome, PartialOutcome, SendError, SendOutcome};

/// Sends `requests` (one per event, in batch order) with `send_one`.
///
/// A single request returns its own result, so the driver sees the target's
/// error (and its `Retry-After`) unchanged. With several, the outcome is
/// item by item: a permanent refusal rejects that event and the next one is
/// sent; a retriable failure (throttled, unreachable) stops the batch, and
/// that event and the ones after it are retried, after the target's
/// `Retry-After` when it gave one.
///
/// # Errors
/// The single request failed.
pub async fn send_each<'a, F, Fut>(
    requests: &'a [HttpRequest],
    mut send_one: F,
) -> Result<SendOutcome, SendError>
where
    F: FnMut(&'a HttpRequest) -> Fut,
    Fut: Future<Output = Result<(), SendError>>,
{
    if let [one] = requests {
        send_one(one).await?;
        return Ok(SendOutcome::Delivered);
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut retry_after = None;
    for request in requests {
        if let Some(reason) = items.iter().find_map(|i| match i {
            ItemOutcome::Retry { reason } => Some(reason.clone()),
            _ => None,
        }) {
            items.push(ItemOutcome::retry(format!(
                "not sent after an earlier failure: {reason}"
            )));
            continue;
        }
        match send_one(request).await {
            Ok(()) => items.push(ItemOutcome::Delivered),
            Err(SendError::Permanent { message }) => items.push(ItemOutcome::rejected(message)),
            Err(SendError::Retriable {
                message,
                retry_after: after,
            }) => {
                retry_after = after;
                items.push(ItemOutcome::retry(message));
            }
        }
    }
    if items.iter().all(|i| *i == ItemOutcome::Delivered) {
        return Ok(SendOutcome::Delivered);
    }
    Ok(SendOutcome::Partial(PartialOutcome { items, retry_after }))
}

/// Shows every request of a batch, separated by a blank line, with
/// `describe_one`.
pub fn describe_each(
    requests: &[HttpRequest],
    describe_one: impl Fn(&HttpRequest) -> String,
) -> String {
    requests
        .iter()
        .map(describe_one)
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use bytes::Bytes;
    use reqwest::{Method, Url};

    use super::*;

    fn requests(n: usize) -> Vec<HttpRequest> {
        (0..n)
            .map(|i| {
                let mut r = HttpRequest::new(Method::POST, Url::parse("http://t/").unwrap());
                r.body = Bytes::from(i.to_string());
                r
            })
            .collect()
    }

    /// Sends with scripted answers (by body), recording what was sent.
    async fn run(
        n: usize,
        answer: impl Fn(usize) -> Result<(), SendError>,
    ) -> (Result<SendOutcome, SendError>, Vec<usize>) {
        let sent = Mutex::new(Vec::new());
        let reqs = requests(n);
        let out = send_each(&reqs, |r| {
            let i: usize = std::str::from_utf8(&r.body).unwrap().parse().unwrap();
            sent.lock().unwrap().push(i);
            let result = answer(i);
            async move { result }
        })
        .await;
        (out, sent.into_inner().unwrap())
    }

    #[tokio::test]
    async fn a_single_request_returns_its_own_error() {
        let (out, _) = run(1, |_| {
            Err(SendError::Retriable {
                message: "429".into(),
                retry_after: Some(Duration::from_secs(3)),
            })
        })
        .await;
        let e = out.unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[tokio::test]
    async fn all_delivered_is_delivered() {
        let (out, sent) = run(3, |_| Ok(())).await;
        assert_eq!(out.unwrap(), SendOutcome::Delivered);
        assert_eq!(sent, [0, 1, 2]);
    }

    #[tokio::test]
    async fn permanent_refusals_reject_one_and_go_on() {
        let (out, sent) = run(3, |i| {
            if i == 1 {
                Err(SendError::permanent("channel_not_found"))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(sent, [0, 1, 2]);
        assert_eq!(
            out.unwrap(),
            SendOutcome::partial(vec![
                ItemOutcome::Delivered,
                ItemOutcome::rejected("channel_not_found"),
                ItemOutcome::Delivered,
            ])
        );
    }

    #[tokio::test]
    async fn a_retriable_failure_stops_the_batch_and_keeps_retry_after() {
        let (out, sent) = run(4, |i| {
            if i == 1 {
                Err(SendError::Retriable {
                    message: "ratelimited".into(),
                    retry_after: Some(Duration::from_secs(30)),
                })
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(sent, [0, 1], "nothing is sent after a throttled request");
        let SendOutcome::Partial(p) = out.unwrap() else {
            panic!("not partial")
        };
        assert_eq!(p.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(p.items[0], ItemOutcome::Delivered);
        assert_eq!(p.items[1], ItemOutcome::retry("ratelimited"));
        assert!(
            matches!(&p.items[3], ItemOutcome::Retry { reason } if reason.contains("ratelimited"))
        );
    }

    #[test]
    fn batches_are_described_one_request_after_the_other() {
        let text = describe_each(&requests(2), |r| {
            String::from_utf8_lossy(&r.body).into_owned()
        });
        assert_eq!(text, "0\n\n1");
    }
}
