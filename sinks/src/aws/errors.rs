//! Sorting AWS errors for the delivery driver.
//!
//! Retriable (the driver backs off and sends again, the receiver turns
//! unhealthy while it lasts): no answer at all (connection refused, timeout),
//! HTTP 429 and 5xx, throttling codes, expired, missing or refused
//! credentials (they are refreshed from the credential chain, or fixed by an
//! operator), a stream, queue, topic or bus that does not exist (yet). The
//! events are not at fault in any of those. Anything else AWS refuses (a
//! 4xx such as `ValidationException` or `InvalidParameterValue`) is a
//! problem of the request itself and permanent.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::driver::SendError;

/// Error codes that say "not now" rather than "not this request".
const RETRIABLE_CODES: &[&str] = &[
    // throttling
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "KMSThrottlingException",
    // transient failures on AWS's side
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "InternalErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSInternalException",
    // credentials: refreshed by the chain, or fixed by an operator
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "KMSOptInRequired",
    // the target does not exist (yet) or is being changed
    "ResourceNotFoundException",
    "ResourceInUseException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFound",
    "NotFoundException",
];

/// Whether an AWS error code (of a whole request or of one batch entry) is
/// worth retrying.
pub fn is_retriable_code(code: &str) -> bool {
    RETRIABLE_CODES.contains(&code)
}

/// Turns the error of AWS operation `operation` (`SQS SendMessageBatch`)
/// into the driver's [`SendError`].
pub fn classify<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let code = err.code().unwrap_or("");
            let message = match (err.code(), err.message()) {
                (Some(code), Some(m)) => format!("{code}: {m}"),
                (Some(code), None) => code.to_owned(),
                (None, Some(m)) => m.to_owned(),
                (None, None) => DisplayErrorContext(err).to_string(),
            };
            let message = match status {
                Some(s) => format!("{operation}: {message} (HTTP {s})"),
                None => format!("{operation}: {message}"),
            };
            let retriable = is_retriable_code(code)
                || status.is_none_or(|s| s == 429 || s >= 500)
                || matches!(err, SdkError::ResponseError(_));
            if retriable {
                SendError::retriable(message)
            } else {
                SendError::permanent(message)
            }
        }
        // No answer (connection refused or reset, DNS, TLS, timeout), or the
        // request could not be made (no credentials from the chain yet, the
        // endpoint could not be resolved): nothing about the events.
        _ => SendError::retriable(format!("{operation}: {}", DisplayErrorContext(err))),
    }
}
