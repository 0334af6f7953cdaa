//! State the replicas of one guard share (`--state-table`): a DynamoDB table holding the blast
//! radius per account and hour, so that N replicas together never start more than
//! `maxRemediationsPerHour` fixes, the mutating calls per account, region and second, so that
//! together they keep `mutationsPerSecond`, and a lease per resource, so that two replicas never
//! change one resource at the same time. Every write is conditional; nothing is read-modify-written.
//!
//! The table: partition key `pk` (string), TTL attribute `expires` (epoch seconds). Items:
//! `budget#<account>#<hour>` with `used`, `pace#<account>#<region>#<second>` with `used`, and
//! `lease#<resource ARN>` with `owner`.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

use crate::aws::error::AwsError;

/// How long a lease holds without being renewed, unless [`StateTable::with_lease_for`] says
/// otherwise: longer than any one look.
pub const LEASE_FOR: Duration = Duration::from_secs(300);

/// How long a lease of a replica that takes a step every `settle` and gives each AWS call
/// attempt up to `attempt_timeout` holds: four looks, and two attempts' worth more than one
/// look. A replica killed while holding it blocks others for no longer than that.
pub fn lease_for(settle: Duration, attempt_timeout: Duration) -> Duration {
    (settle * 4)
        .max(attempt_timeout * 2)
        .max(Duration::from_secs(5))
}

#[derive(Clone, Debug)]
pub struct StateTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// This process, as the owner of its leases.
    owner: String,
    lease_for: Duration,
}

/// A conditional write's answer: `true` when it was made, `false` when its condition did not
/// hold (another replica's lease, a full counter), an error otherwise.
fn granted<T, E>(
    operation: &'static str,
    answer: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
) -> Result<bool, AwsError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = AwsError::from_sdk(operation, e);
            if e.code == CONDITION_FAILED {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// DynamoDB's answer to a conditional write whose condition did not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl StateTable {
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        StateTable {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_string(),
            owner: format!("{}-{}", std::process::id(), fastrand::u64(..) & 0xffff_ffff),
            lease_for: LEASE_FOR,
        }
    }

    /// Leases taken from now on hold this long unless renewed.
    pub fn with_lease_for(mut self, lease_for: Duration) -> Self {
        self.lease_for = lease_for;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Checks at start that the table exists, so a wrong `--state-table` is said at once.
    pub async fn check(&self) -> Result<(), AwsError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTable", e))?;
        Ok(())
    }

    /// Counts one more fix in `account` this hour if fewer than `limit` were started by all
    /// replicas; `false` when the limit is reached.
    pub async fn take_budget(
        &self,
        account: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<bool, AwsError> {
        let hour = now.as_second() / 3600;
        self.take_one(format!("budget#{account}#{hour}"), limit, (hour + 2) * 3600)
            .await
    }

    /// Counts one more mutating call in `account` and `region` in the second `now` falls in, if
    /// fewer than `per_second` were made there by all replicas; `false` when that second is full.
    pub async fn take_pace(
        &self,
        account: &str,
        region: &str,
        per_second: u32,
        now: Timestamp,
    ) -> Result<bool, AwsError> {
        let second = now.as_second();
        self.take_one(
            format!("pace#{account}#{region}#{second}"),
            per_second,
            second + 3600,
        )
        .await
    }

    /// Adds one to the counter `pk` if it is below `limit` (one conditional `UpdateItem`, so
    /// replicas never count past it together); `false` when it is not. The item expires (TTL)
    /// at `expires`.
    async fn take_one(&self, pk: String, limit: u32, expires: i64) -> Result<bool, AwsError> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("ADD used :one SET expires = :expires")
            .condition_expression("attribute_not_exists(used) OR used < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":expires", n(expires))
            .send()
            .await;
        granted("UpdateItem", answer)
    }

    /// Takes (or renews) the lease on a resource; `false` when another replica holds it.
    pub async fn lease(&self, resource: &str, now: Timestamp) -> Result<bool, AwsError> {
        let answer = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("lease#{resource}")))
            .item("owner", s(&self.owner))
            .item(
                "expires",
                n(now.as_second() + self.lease_for.as_secs() as i64),
            )
            .condition_expression("attribute_not_exists(pk) OR #o = :me OR expires < :now")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(&self.owner))
            .expression_attribute_values(":now", n(now.as_second()))
            .send()
            .await;
        granted("PutItem", answer)
    }

    /// Gives the lease back (if this process still holds it); a failure only leaves it to
    /// expire.
    pub async fn release(&self, resource: &str) {
        let answer = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("lease#{resource}")))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(&self.owner))
            .send()
            .await;
        if let Err(e) = answer {
            let e = AwsError::from_sdk("DeleteItem", e);
            if e.code != CONDITION_FAILED {
                tracing::warn!(resource, error = %e, "cannot give a lease back: it expires on its own");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_four_settle_intervals_and_two_call_attempts() {
        let s = Duration::from_secs;
        assert_eq!(lease_for(s(15), s(30)), s(60));
        assert_eq!(lease_for(s(60), s(30)), s(240));
        assert_eq!(lease_for(Duration::from_millis(200), s(1)), s(5));
    }
}
