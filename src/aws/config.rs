//! The AWS configuration every client is made from: the standard chain (`AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL`, credentials, `AWS_MAX_ATTEMPTS`, ...), so the same binary
//! talks to AWS or to an emulator, plus timeouts, so that an endpoint that accepts a connection
//! and never answers cannot hold a command or a reconcile for good.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The environment variable that sets how long one attempt of an AWS call may take.
pub const ATTEMPT_TIMEOUT_VAR: &str = "SAGEMAKER_GUARD_AWS_ATTEMPT_TIMEOUT";

/// One attempt of a call: longer than SQS's 20 s long poll, far longer than any SageMaker call.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads the configuration, in `region` when given.
pub async fn load(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts(std::env::var(ATTEMPT_TIMEOUT_VAR).ok().as_deref()));
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}

/// The timeouts for an attempt timeout written as a duration (`30s`), or the default. A value
/// that is not a duration is reported and the default used.
pub fn timeouts(attempt: Option<&str>) -> TimeoutConfig {
    let attempt = match attempt.map(humantime::parse_duration) {
        None => DEFAULT_ATTEMPT_TIMEOUT,
        Some(Ok(d)) if !d.is_zero() => d,
        Some(_) => {
            tracing::warn!(
                variable = ATTEMPT_TIMEOUT_VAR,
                default = %humantime::format_duration(DEFAULT_ATTEMPT_TIMEOUT),
                "not a duration such as 30s: the default applies"
            );
            DEFAULT_ATTEMPT_TIMEOUT
        }
    };
    TimeoutConfig::builder()
        .connect_timeout(attempt.min(Duration::from_secs(5)))
        .operation_attempt_timeout(attempt)
        // Every attempt and the back-off between them.
        .operation_timeout(attempt * 4)
        .build()
}

/// The timeouts for a client that long-polls for `wait`: each attempt may take the poll and 10 s
/// more, whatever the attempt timeout of the others.
pub fn long_poll_timeouts(config: &SdkConfig, wait: Duration) -> TimeoutConfig {
    let base = config
        .timeout_config()
        .cloned()
        .unwrap_or_else(|| timeouts(None));
    let floor = wait + Duration::from_secs(10);
    let attempt = base
        .operation_attempt_timeout()
        .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT)
        .max(floor);
    let mut builder = base.to_builder();
    builder
        .set_operation_attempt_timeout(Some(attempt))
        .set_operation_timeout(Some(attempt * 4));
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_may_take_longer_than_a_long_poll_but_not_forever() {
        let t = timeouts(None);
        assert_eq!(t.operation_attempt_timeout(), Some(DEFAULT_ATTEMPT_TIMEOUT));
        assert!(DEFAULT_ATTEMPT_TIMEOUT > Duration::from_secs(20));
        assert_eq!(t.operation_timeout(), Some(DEFAULT_ATTEMPT_TIMEOUT * 4));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(5)));
    }

    #[tokio::test]
    async fn a_long_poll_may_always_take_its_wait_and_more() {
        let config = SdkConfig::builder()
            .timeout_config(timeouts(Some("1s")))
            .build();
        let t = long_poll_timeouts(&config, Duration::from_secs(20));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn the_attempt_timeout_can_be_set_and_a_bad_value_keeps_the_default() {
        let t = timeouts(Some("2s"));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(2)));
        for bad in ["soon", "0s"] {
            assert_eq!(
                timeouts(Some(bad)).operation_attempt_timeout(),
                Some(DEFAULT_ATTEMPT_TIMEOUT),
                "{bad}"
            );
        }
    }
}
