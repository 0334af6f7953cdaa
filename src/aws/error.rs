//! A failed AWS call, classified once, where the SDK's error is read: callers decide on the
//! [`ErrorKind`], never on codes or messages.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

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

/// A failed AWS call in one line: the service, the operation, AWS's error code and message, and
/// the request id AWS support asks for. Never the SDK's debug output (headers, bodies): what an
/// operator reads in a report or a log is what AWS said, and where.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// The service as people name it: `SageMaker`, `SQS`, `KMS`, `Security Hub`, `EventBridge`.
    pub service: &'static str,
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// AWS's error code; for a call that got no AWS answer, the SDK's name of what failed
    /// (`DispatchFailure`, `TimeoutError`, `ResponseError`).
    pub code: String,
    pub message: String,
    /// The id AWS gave the request, when it answered.
    pub request_id: Option<String>,
}

impl AwsError {
    /// Classifies an SDK error of any AWS service.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = match (&err, err.code()) {
            (_, Some(code)) => code.to_string(),
            (SdkError::TimeoutError(_), None) => "TimeoutError".into(),
            (SdkError::DispatchFailure(_), None) => "DispatchFailure".into(),
            (SdkError::ResponseError(_), None) => "ResponseError".into(),
            (SdkError::ConstructionFailure(_), None) => "ConstructionFailure".into(),
            _ => "Unknown".into(),
        };
        let message = match err.message() {
            Some(m) => m.to_string(),
            None => without_aws_message(&err, err.code().is_some()),
        };
        let kind = match &err {
            SdkError::TimeoutError(_) => ErrorKind::Timeout,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
            _ => classify(&code, &message),
        };
        let request_id = err
            .request_id()
            .or_else(|| err.meta().request_id())
            .map(str::to_string);
        AwsError {
            service: service_of::<E>(),
            operation,
            kind,
            code,
            message,
            request_id,
        }
    }

    /// An error the guard found in what AWS answered (no SDK error).
    pub fn invalid_answer(service: &'static str, operation: &'static str, message: String) -> Self {
        AwsError {
            service,
            operation,
            kind: ErrorKind::Validation,
            code: "InvalidResponse".into(),
            message,
            request_id: None,
        }
    }

    /// A call the guard refused to make (the gate's dry-run).
    pub fn refused(service: &'static str, operation: &'static str, why: &str) -> Self {
        AwsError {
            service,
            operation,
            kind: ErrorKind::Validation,
            code: "Refused".into(),
            message: why.to_string(),
            request_id: None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Whether AWS never answered: no connection, no answer in time, or an answer no AWS
    /// service gives (the endpoint is probably not AWS's).
    fn got_no_aws_answer(&self) -> bool {
        matches!(
            self.code.as_str(),
            "DispatchFailure" | "TimeoutError" | "ResponseError" | "Unknown"
        )
    }

    /// What the operator can do about it, where the error says enough to tell.
    pub fn hint(&self) -> Option<String> {
        let expired = matches!(self.code.as_str(), "ExpiredToken" | "ExpiredTokenException");
        if expired {
            return Some("the credentials have expired: renew them".into());
        }
        if self.kind == ErrorKind::AccessDenied {
            return Some(format!(
                "the credentials in use may not call {}: grant it \
                 (`sagemaker-guard iam-policy --policy FILE` prints what the guard needs)",
                self.permission()
            ));
        }
        self.got_no_aws_answer().then(|| {
            "check the endpoint (AWS_ENDPOINT_URL), the region (AWS_REGION) and the network".into()
        })
    }

    /// The IAM action of the call (`sqs:GetQueueAttributes`).
    pub fn permission(&self) -> String {
        let prefix = match self.service {
            "SageMaker" => "sagemaker",
            "SQS" => "sqs",
            "KMS" => "kms",
            "Security Hub" => "securityhub",
            "EventBridge" => "events",
            other => other,
        };
        format!("{prefix}:{}", self.operation)
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} failed: {}: {}",
            self.service, self.operation, self.code, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

/// The service an SDK error type belongs to: every operation's error is a type of its service's
/// SDK crate (`aws_sdk_sqs::operation::send_message::SendMessageError` is SQS's).
fn service_of<E>() -> &'static str {
    service_named(std::any::type_name::<E>())
}

fn service_named(type_name: &str) -> &'static str {
    match type_name.split("::").next().unwrap_or_default() {
        "aws_sdk_sagemaker" => "SageMaker",
        "aws_sdk_sqs" => "SQS",
        "aws_sdk_kms" => "KMS",
        "aws_sdk_securityhub" => "Security Hub",
        "aws_sdk_eventbridge" => "EventBridge",
        "aws_sdk_sts" => "STS",
        "aws_sdk_dynamodb" => "DynamoDB",
        _ => "AWS",
    }
}

/// An error AWS said nothing about (no connection, no answer in time, an answer that is not
/// AWS's), in one line: each cause in words, or what the answer was; never the SDK's debug
/// output.
fn without_aws_message<E>(err: &SdkError<E, HttpResponse>, has_code: bool) -> String
where
    E: std::error::Error + 'static,
{
    // The outermost words ("dispatch failure") are the code already; its causes say what failed.
    let mut causes: Vec<String> = Vec::new();
    let mut next = std::error::Error::source(err);
    while let Some(cause) = next {
        let words = cause.to_string();
        if !words.is_empty() && !causes.iter().any(|c| c.contains(&words)) {
            causes.push(words);
        }
        next = cause.source();
    }
    let causes = if causes.is_empty() {
        err.to_string()
    } else {
        causes.join(": ")
    };
    match (err.raw_response(), has_code) {
        (Some(raw), true) => format!("HTTP {}: {causes}", raw.status().as_u16()),
        // Not an AWS answer: what it is says more than why it could not be parsed.
        (Some(raw), false) => match raw.headers().get("content-type") {
            Some(kind) => format!(
                "HTTP {} with a {kind} body, not an answer AWS gives",
                raw.status().as_u16()
            ),
            None => format!("HTTP {}, not an answer AWS gives", raw.status().as_u16()),
        },
        (None, _) => causes,
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
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    type QueueError = SdkError<GetQueueAttributesError, HttpResponse>;

    fn answer(status: u16, body: &str, request_id: Option<&str>) -> HttpResponse {
        let mut raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        raw.headers_mut()
            .insert("content-type", "text/html;charset=utf-8");
        if let Some(id) = request_id {
            raw.headers_mut().insert("x-amzn-requestid", id.to_string());
        }
        raw
    }

    fn one_line_without_debug(e: &AwsError) {
        let text = e.to_string();
        assert!(!text.contains('\n'), "one line: {text}");
        for debug in [
            "Response {",
            "headers",
            "SdkBody",
            "DispatchFailure(",
            "extensions",
            "<html",
        ] {
            assert!(
                !text.contains(debug),
                "no SDK debug output ({debug}): {text}"
            );
        }
    }

    #[test]
    fn an_aws_error_says_service_operation_code_message_and_request_id_in_one_line() {
        let meta = ErrorMetadata::builder()
            .code("AWS.SimpleQueueService.NonExistentQueue")
            .message("The specified queue does not exist.")
            .build();
        let err: QueueError = SdkError::service_error(
            GetQueueAttributesError::generic(meta),
            answer(400, "{}", Some("7b1c9e2a-0000-4000-8000-000000000001")),
        );
        let e = AwsError::from_sdk("GetQueueAttributes", err);
        assert_eq!(e.service, "SQS");
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(
            e.request_id.as_deref(),
            Some("7b1c9e2a-0000-4000-8000-000000000001")
        );
        assert_eq!(
            e.to_string(),
            "SQS GetQueueAttributes failed: AWS.SimpleQueueService.NonExistentQueue: The specified \
             queue does not exist. (request id 7b1c9e2a-0000-4000-8000-000000000001)"
        );
        one_line_without_debug(&e);
    }

    #[test]
    fn no_connection_is_said_by_its_causes_with_a_hint_about_the_endpoint() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err: QueueError = SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let e = AwsError::from_sdk("GetQueueAttributes", err);
        assert_eq!(e.code, "DispatchFailure");
        assert_eq!(e.kind, ErrorKind::Transient);
        assert_eq!(e.request_id, None);
        assert!(e.message.contains("Connection refused"), "{e}");
        one_line_without_debug(&e);
        assert!(e.hint().unwrap().contains("AWS_ENDPOINT_URL"));
    }

    #[test]
    fn an_answer_that_is_not_awss_says_its_http_status_not_its_body() {
        let page = "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1></body></html>\n";
        let err: QueueError = SdkError::service_error(
            GetQueueAttributesError::generic(ErrorMetadata::builder().build()),
            answer(501, page, None),
        );
        let e = AwsError::from_sdk("GetQueueAttributes", err);
        assert_eq!(e.code, "Unknown");
        assert_eq!(
            e.message,
            "HTTP 501 with a text/html;charset=utf-8 body, not an answer AWS gives"
        );
        one_line_without_debug(&e);

        let err: QueueError =
            SdkError::response_error("malformed JSON error body", answer(502, page, None));
        let e = AwsError::from_sdk("GetQueueAttributes", err);
        assert_eq!(e.code, "ResponseError");
        assert!(e.message.starts_with("HTTP 502"), "{e}");
        one_line_without_debug(&e);
    }

    #[test]
    fn a_timeout_is_its_own_code() {
        let err: QueueError = SdkError::timeout_error("operation timeout after 30s");
        let e = AwsError::from_sdk("GetQueueAttributes", err);
        assert_eq!(
            (e.code.as_str(), e.kind),
            ("TimeoutError", ErrorKind::Timeout)
        );
        assert_eq!(e.message, "operation timeout after 30s");
        one_line_without_debug(&e);
    }

    #[test]
    fn the_service_is_named_by_the_sdk_crate_of_its_error() {
        assert_eq!(service_of::<GetQueueAttributesError>(), "SQS");
        assert_eq!(
            service_of::<
                aws_sdk_sagemaker::operation::list_notebook_instances::ListNotebookInstancesError,
            >(),
            "SageMaker"
        );
        assert_eq!(
            service_of::<aws_sdk_kms::operation::describe_key::DescribeKeyError>(),
            "KMS"
        );
        assert_eq!(
            service_of::<aws_sdk_securityhub::operation::get_findings::GetFindingsError>(),
            "Security Hub"
        );
        assert_eq!(
            service_of::<aws_sdk_eventbridge::operation::put_events::PutEventsError>(),
            "EventBridge"
        );
        assert_eq!(service_named("std::io::Error"), "AWS");
    }

    #[test]
    fn access_denied_names_the_permission_to_grant() {
        let meta = ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message("User is not authorized")
            .build();
        let err: QueueError = SdkError::service_error(
            GetQueueAttributesError::generic(meta),
            answer(403, "{}", None),
        );
        let e = AwsError::from_sdk("GetQueueAttributes", err);
        assert!(
            e.hint().unwrap().contains("sqs:GetQueueAttributes"),
            "{:?}",
            e.hint()
        );
    }

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
