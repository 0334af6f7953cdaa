//! Where recreate intents are stored: the service's own SQS queue.

use std::time::Duration;

use crate::aws::observe::AwsError;
use crate::domain::intent::RecreateIntent;

/// Where intents are stored: an SQS queue the `run` service reads.
#[derive(Clone, Debug)]
pub struct IntentQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
}

impl IntentQueue {
    /// Stores an intent, to be received after `delay` (at most 15 minutes, SQS's limit).
    pub async fn store(&self, intent: &RecreateIntent, delay: Duration) -> Result<(), AwsError> {
        self.send(intent.to_message(), delay).await
    }

    /// Sends an intent's message again (to look at it later without growing its receive count).
    pub async fn send(&self, body: String, delay: Duration) -> Result<(), AwsError> {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", e))?;
        Ok(())
    }
}
