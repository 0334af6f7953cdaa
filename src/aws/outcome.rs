//! Remediation outcomes as EventBridge events on the policy's bus: source `sagemaker-guard`, one
//! detail-type per outcome ([`ExecutionResult::event_detail_type`]), so teams route notifications
//! their own way.

use crate::aws::error::AwsError;
use crate::aws::gate::{Gate, Mutation};
use crate::domain::execution::{Execution, ExecutionResult};
use crate::domain::marks::SOURCE;

/// Publishes outcome events in one region.
#[derive(Clone, Debug)]
pub struct OutcomeBus {
    client: aws_sdk_eventbridge::Client,
}

impl OutcomeBus {
    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        OutcomeBus { client }
    }

    /// Publishes what one look did about a resource, if it is an outcome teams hear about. A
    /// schedule is said once, when the mark goes on; the looks until its time say nothing.
    pub async fn publish(
        &self,
        gate: &Gate,
        bus: &str,
        resource_arn: &str,
        e: &Execution,
        detail: serde_json::Value,
    ) -> Result<(), AwsError> {
        if e.result == ExecutionResult::Scheduled && e.done.is_empty() {
            return Ok(());
        }
        let Some(detail_type) = e.result.event_detail_type() else {
            return Ok(());
        };
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .resources(resource_arn)
            .detail(detail.to_string())
            .build();
        let call = self.client.put_events().entries(entry).send();
        let out = gate
            .mutate(Mutation::PublishOutcome, false, None, call)
            .await?;
        if out.failed_entry_count() > 0 {
            tracing::warn!(bus, detail_type, "EventBridge refused a remediation event");
        }
        Ok(())
    }
}
