//! A failed AWS call, classified once, where the SDK's error is read: callers decide on the
//! [`ErrorKind`], never on codes or messages.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call had: what decides retrying, skipping or giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The API's rate limit: retry later.
    Throttled,
    /// The resource does not exist (any more).
    NotFound,
    /// The guard is not allowed to: retrying does not help.
    AccessDenied,
    /// The request was refused as invalid: retrying does not help.
    Validation,
    /// The resource exists already, or is in use or in a state that forbids the call.
    Conflict,
    /// A 5xx, a dropped connection, an unknown error: retry later.
    Transient,
    /// No answer in time: retry later.
    Timeout,
}

impl ErrorKind {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Conflict
        )
    }
}

/// A failed AWS call, named by its operation, with AWS's error code when there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error of any AWS service.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().unwrap_or("Unknown").to_string();
        let message = match err.message() {
            Some(m) => m.to_string(),
            None => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        };
        let kind = match &err {
            SdkError::TimeoutError(_) => ErrorKind::Timeout,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
            _ => classify(&code, &message),
        };
        AwsError {
            operation,
            kind,
            code,
            message,
        }
    }

    /// An error the guard found in what AWS answered (no SDK error).
    pub fn invalid_answer(operation: &'static str, message: String) -> Self {
        AwsError {
            operation,
            kind: ErrorKind::Validation,
            code: "InvalidResponse".into(),
            message,
        }
    }

    /// A call the guard refused to make (the gate's dry-run).
    pub fn refused(operation: &'static str, why: &str) -> Self {
        AwsError {
            operation,
            kind: ErrorKind::Validation,
            code: "Refused".into(),
            message: why.to_string(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

/// The kind of a service error, from its code and, where SageMaker says it only in words, its
/// message.
pub fn classify(code: &str, message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    match code {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "ProvisionedThroughputExceededException" => ErrorKind::Throttled,
        "ResourceNotFound"
        | "ResourceNotFoundException"
        | "AWS.SimpleQueueService.NonExistentQueue"
        | "QueueDoesNotExist" => ErrorKind::NotFound,
        "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "UnauthorizedOperation" => ErrorKind::AccessDenied,
        "ResourceInUse" | "ResourceInUseException" | "ConflictException" => ErrorKind::Conflict,
        // SageMaker says "not found" and "already exists" inside a ValidationException.
        "ValidationException"
            if m.contains("recordnotfound")
                || m.contains("could not find")
                || m.contains("not found")
                || m.contains("does not exist") =>
        {
            ErrorKind::NotFound
        }
        "ValidationException" if m.contains("already exist") => ErrorKind::Conflict,
        "ValidationException"
        | "InvalidParameterValue"
        | "InvalidParameterException"
        | "MissingParameter"
        | "InvalidInputException" => ErrorKind::Validation,
        _ => ErrorKind::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_decided_from_the_code_and_sagemakers_words() {
        for (code, message, kind) in [
            ("ThrottlingException", "Rate exceeded", ErrorKind::Throttled),
            ("ResourceNotFound", "", ErrorKind::NotFound),
            ("ValidationException", "RecordNotFound", ErrorKind::NotFound),
            (
                "ValidationException",
                "Could not find notebook instance",
                ErrorKind::NotFound,
            ),
            ("AccessDeniedException", "no", ErrorKind::AccessDenied),
            ("ResourceInUse", "", ErrorKind::Conflict),
            (
                "ValidationException",
                "Cannot create a duplicate: it already exists",
                ErrorKind::Conflict,
            ),
            (
                "ValidationException",
                "1 validation error",
                ErrorKind::Validation,
            ),
            ("InternalFailure", "", ErrorKind::Transient),
        ] {
            assert_eq!(classify(code, message), kind, "{code}: {message}");
        }
    }

    #[test]
    fn only_failures_a_retry_can_cure_are_retryable() {
        assert!(ErrorKind::Throttled.is_retryable());
        assert!(ErrorKind::Transient.is_retryable());
        assert!(ErrorKind::Timeout.is_retryable());
        assert!(!ErrorKind::AccessDenied.is_retryable());
        assert!(!ErrorKind::Validation.is_retryable());
        assert!(!ErrorKind::NotFound.is_retryable());
    }
}
