//! What a fix asks before it changes anything: the blast radius, and whether a KMS key it is
//! about to give a resource can be used.

use crate::aws::gate::Effects;
use crate::aws::observe::AwsError;
use crate::domain::execution::{Execution, ExecutionResult};
use crate::domain::resource::Observed;

/// Asks the blast radius; a refusal makes the fix a finding.
pub async fn admitted(fx: &Effects<'_>, live: &Observed, e: &mut Execution) -> bool {
    match fx.admit_fix(&live.account).await {
        Ok(true) => true,
        Ok(false) => {
            e.result = ExecutionResult::RateLimited;
            e.notes
                .push("over maxRemediationsPerHour: a finding instead".into());
            false
        }
        Err(err) => {
            // Fail closed: a budget that cannot be counted admits no fix.
            e.result = ExecutionResult::RateLimited;
            e.notes.push(format!(
                "the shared blast radius cannot be counted ({err}): no fix starts"
            ));
            false
        }
    }
}

/// Whether a KMS key a fix is about to give a resource exists in `account` and `region` and is
/// enabled: `Some(why)` when it is not, or cannot be told.
pub async fn check_key(
    fx: &Effects<'_>,
    key: &str,
    account: &str,
    region: &str,
) -> Result<Option<String>, AwsError> {
    let Some(kms) = fx.kms else {
        return Ok(Some(format!(
            "its new KMS key `{key}` cannot be checked (no KMS client for account {account})"
        )));
    };
    match kms.describe_key().key_id(key).send().await {
        Ok(out) => {
            let state = out
                .key_metadata()
                .and_then(|m| m.key_state())
                .map(|s| s.as_str().to_string());
            match state.as_deref() {
                Some("Enabled") => Ok(None),
                other => Ok(Some(format!(
                    "its new KMS key `{key}` is {}, not Enabled: SageMaker could not encrypt with it",
                    other.unwrap_or("in an unknown state")
                ))),
            }
        }
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_not_found_exception() || s.is_invalid_arn_exception()
            }) =>
        {
            Ok(Some(format!(
                "its new KMS key `{key}` does not exist in account {account} in {region}: fix spec.remediation.kmsKeys"
            )))
        }
        Err(e) => {
            let e = AwsError::from_sdk("DescribeKey", e);
            if e.kind == crate::aws::error::ErrorKind::AccessDenied {
                Ok(Some(format!(
                    "the guard may not describe its new KMS key `{key}` (kms:DescribeKey): grant it (iam-policy) and allow it in the key's policy"
                )))
            } else {
                Err(e)
            }
        }
    }
}
