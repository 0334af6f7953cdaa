//! The AWS configuration every client is made from: the standard chain (`AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL`, credentials, `AWS_MAX_ATTEMPTS`, ...), so the same binary
//! talks to AWS or to an emulator, plus timeouts, so that an endpoint that accepts a connection
//! and never answers cannot hold a command or a reconcile for good.

use std::sync::OnceLock;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// One attempt of a call: longer than SQS's 20 s long poll, far longer than any SageMaker call.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The attempt timeout the command line chose (`--aws-attempt-timeout`), once set.
static ATTEMPT_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Sets the attempt timeout of every configuration loaded afterwards; the first call wins.
pub fn set_attempt_timeout(attempt: Duration) {
    let _ = ATTEMPT_TIMEOUT.set(attempt);
}

/// The attempt timeout in force.
pub fn attempt_timeout() -> Duration {
    ATTEMPT_TIMEOUT
        .get()
        .copied()
        .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT)
}

/// Loads the configuration, in `region` when given.
pub async fn load(region: Option<&str>) -> SdkConfig {
    let attempt = attempt_timeout();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts(attempt));
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}

/// The timeouts for an attempt timeout: connecting within it (at most 5 s), and a call within
/// four attempts' worth (the attempts and the back-off between them).
pub fn timeouts(attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(attempt.min(Duration::from_secs(5)))
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * 4)
        .build()
}

/// The timeouts for a client that long-polls for `wait`: each attempt may take the poll and 10 s
/// more, whatever the attempt timeout of the others.
pub fn long_poll_timeouts(config: &SdkConfig, wait: Duration) -> TimeoutConfig {
    let base = config
        .timeout_config()
        .cloned()
        .unwrap_or_else(|| timeouts(DEFAULT_ATTEMPT_TIMEOUT));
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
        let t = timeouts(DEFAULT_ATTEMPT_TIMEOUT);
        assert_eq!(t.operation_attempt_timeout(), Some(DEFAULT_ATTEMPT_TIMEOUT));
        assert!(DEFAULT_ATTEMPT_TIMEOUT > Duration::from_secs(20));
        assert_eq!(t.operation_timeout(), Some(DEFAULT_ATTEMPT_TIMEOUT * 4));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn a_short_attempt_timeout_bounds_the_connect_too() {
        let t = timeouts(Duration::from_secs(2));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(2)));
    }

    #[tokio::test]
    async fn a_long_poll_may_always_take_its_wait_and_more() {
        let config = SdkConfig::builder()
            .timeout_config(timeouts(Duration::from_secs(1)))
            .build();
        let t = long_poll_timeouts(&config, Duration::from_secs(20));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(1)));
    }
}
