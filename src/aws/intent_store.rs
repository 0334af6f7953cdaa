//! Where recreate intents are stored: the service's own SQS queue.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageOutput};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::aws::intent_key::IntentKey;
use crate::aws::observe::AwsError;

/// Where intents are stored: an SQS queue the `run` service reads, and the key that signs them.
#[derive(Clone, Debug)]
pub struct IntentQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    /// Signs each intent stored, and checks each one received; without a key, no recreate
    /// starts and every intent received is dead-lettered.
    pub key: Option<IntentKey>,
}

impl IntentQueue {
    /// The `SendMessage` call that stores a message, to be received after `delay` (at most 15
    /// minutes, SQS's limit). Nothing is sent until it is awaited: the fixes await it through
    /// the gate.
    pub fn send_request(
        &self,
        body: String,
        delay: Duration,
    ) -> impl Future<Output = Result<SendMessageOutput, SdkError<SendMessageError, HttpResponse>>>
    {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
    }

    /// Sends an intent's message again, to look at it later without growing its receive count:
    /// the intake's handling of a message already stored, not a new change.
    pub async fn send(&self, body: String, delay: Duration) -> Result<(), AwsError> {
        self.send_request(body, delay)
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", e))?;
        Ok(())
    }
}
