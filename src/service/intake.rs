//! SQS intake: receive EventBridge events, turn them into work, and settle each message.
//!
//! A message is settled exactly one way:
//! - it names nothing the controls judge: deleted (`ignored`);
//! - it cannot be decoded: copied to the dead-letter queue with the reason as a message attribute,
//!   then deleted, never dropped silently and never retried forever;
//! - it names resources: each is queued for reconcile, and the message is deleted once every
//!   reconcile it asked for has finished; on a transient failure it is made visible again after a
//!   back-off; while the work runs longer than the visibility timeout, its visibility is extended;
//!   on shutdown, unfinished messages are made visible at once for another replica;
//! - it is a recreate intent ([`crate::aws::recreate`]): its next step is taken; while the recreate is
//!   under way a fresh copy goes back on the queue with a delay and this one is deleted; once the
//!   notebook is back it is deleted; on any error it is kept (retried), never deleted.
//!
//! Deletes and visibility changes (the heartbeat's too) go to SQS in batches of up to ten
//! ([`crate::service::settlement`]); each message still learns its own entry's result, and the
//! metrics count it only once SQS has answered for it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::aws::error::AwsError;
use crate::domain::event::{self, Decoded};
use crate::domain::resource::ResourceRef;
use crate::service::metrics::{Metrics, SourceLabel};
use crate::service::runtime::{Outcome, Service, Waiter};
use crate::service::settlement::{FlushRule, Settlement, Settler};
use crate::service::workqueue::WorkQueue;

/// The message attributes a dead-lettered message carries.
pub const REASON_ATTRIBUTE: &str = "sagemaker-guard-reason";
pub const ERROR_ATTRIBUTE: &str = "sagemaker-guard-error";

/// SQS's limits: 10 messages a receive, 20 s of long polling.
const BATCH: usize = 10;
const WAIT_SECONDS: i32 = 20;

/// How long a receive waits for messages (SQS's longest long poll).
pub const LONG_POLL: Duration = Duration::from_secs(WAIT_SECONDS as u64);

pub struct Intake {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    /// The queue's visibility timeout: how long a received message stays hidden.
    pub visibility_timeout: Duration,
    pub ctx: Arc<Service>,
    pub queue: WorkQueue<ResourceRef>,
    /// Fires to stop receiving.
    pub stop: CancellationToken,
    /// Fires to give up waiting: unfinished messages are made visible again.
    pub abandon: CancellationToken,
    pub tasks: TaskTracker,
    /// Whether the last receive reached the queue (for `/readyz`).
    pub queue_reachable: Arc<AtomicBool>,
    /// At most this many receivers poll at once, more while the queue is deep.
    pub max_receivers: usize,
    /// Messages held at once: received and not yet settled. Receiving waits below it.
    pub in_flight: Arc<Semaphore>,
    receivers: AtomicUsize,
    /// Sends the deletes and visibility changes in batches.
    settler: Settler,
}

impl Intake {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: String,
        dead_letter_queue_url: String,
        visibility_timeout: Duration,
        ctx: Arc<Service>,
        queue: WorkQueue<ResourceRef>,
        stop: CancellationToken,
        abandon: CancellationToken,
        max_receivers: usize,
        max_in_flight_messages: usize,
    ) -> Arc<Self> {
        let settler = Settler::start(sqs.clone(), queue_url.clone(), FlushRule::default());
        Arc::new(Intake {
            sqs,
            queue_url,
            dead_letter_queue_url,
            visibility_timeout,
            ctx,
            queue,
            stop,
            abandon,
            tasks: TaskTracker::new(),
            queue_reachable: Arc::new(AtomicBool::new(false)),
            max_receivers: max_receivers.max(1),
            in_flight: Arc::new(Semaphore::new(max_in_flight_messages.max(BATCH))),
            receivers: AtomicUsize::new(0),
            settler,
        })
    }

    /// After `abandon`: waits (until `deadline`) for every message to be settled or released,
    /// then sends the settlements still pending in a batch.
    pub async fn finish(&self, deadline: tokio::time::Instant) {
        self.tasks.close();
        let _ = tokio::time::timeout_at(deadline, self.tasks.wait()).await;
        self.settler.close().await;
    }

    fn metrics(&self) -> &Metrics {
        &self.ctx.metrics
    }

    /// Starts the first receiver; it starts more while batches come back full.
    pub fn start(self: &Arc<Self>) {
        self.spawn_receiver();
    }

    fn spawn_receiver(self: &Arc<Self>) {
        let n = self.receivers.fetch_add(1, Ordering::SeqCst);
        let this = Arc::clone(self);
        self.tasks.spawn(async move {
            Arc::clone(&this).receive_loop(n == 0).await;
            this.receivers.fetch_sub(1, Ordering::SeqCst);
        });
    }

    async fn receive_loop(self: Arc<Self>, first: bool) {
        let mut failures = 0u32;
        loop {
            // Back-pressure: receive only when a whole batch can be held.
            let permits = tokio::select! {
                () = self.stop.cancelled() => return,
                p = Arc::clone(&self.in_flight).acquire_many_owned(BATCH as u32) => p.expect("the semaphore is never closed"),
            };
            let received = tokio::select! {
                // A receive cut short may hide its messages until their visibility timeout ends;
                // they are not lost.
                () = self.stop.cancelled() => return,
                r = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.queue_url)
                    .max_number_of_messages(BATCH as i32)
                    .wait_time_seconds(WAIT_SECONDS)
                    .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                    .send() => r,
            };
            let messages = match received {
                Ok(out) => {
                    failures = 0;
                    self.queue_reachable.store(true, Ordering::SeqCst);
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    self.queue_reachable.store(false, Ordering::SeqCst);
                    failures += 1;
                    let wait = Duration::from_secs(1 << failures.min(5));
                    tracing::error!(error = %AwsError::from_sdk("ReceiveMessage", e), retry_in_s = wait.as_secs(), "cannot receive from the queue");
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            let full = messages.len() == BATCH;
            let empty = messages.is_empty();
            let mut permits = permits;
            for m in messages {
                let permit = permits
                    .split(1)
                    .expect("one permit per message of the batch");
                let this = Arc::clone(&self);
                self.tasks
                    .spawn(async move { this.settle(m, permit).await });
            }
            drop(permits);
            if full && self.receivers.load(Ordering::SeqCst) < self.max_receivers {
                self.spawn_receiver();
            }
            if empty && !first {
                // The queue is shallow again: the extra receiver stops.
                return;
            }
        }
    }

    /// Settles one message: decode, queue its work, wait for it, delete or release.
    async fn settle(
        self: Arc<Self>,
        message: aws_sdk_sqs::types::Message,
        _permit: OwnedSemaphorePermit,
    ) {
        let received = std::time::Instant::now();
        self.metrics().messages_received.inc();
        let Some(receipt) = message.receipt_handle().map(str::to_string) else {
            tracing::error!(message_id = ?message.message_id(), "a message without a receipt handle");
            return;
        };
        let body = message.body().unwrap_or_default();
        let receive_count: u32 = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let message_id = message.message_id().unwrap_or_default().to_string();
        match event::decode(body) {
            Err(e) => {
                tracing::warn!(message_id, reason = e.reason_code(), error = %e, "dead-lettering a message that cannot be decoded");
                if self
                    .dead_letter(body, e.reason_code(), &e.to_string())
                    .await
                {
                    Metrics::count(&self.metrics().messages_dead_lettered, e.reason_code());
                    self.delete(&receipt, "dead-lettered").await;
                }
            }
            Ok(Decoded::Ignored(reason)) => {
                tracing::debug!(message_id, reason, "ignored");
                self.delete(&receipt, "ignored").await;
            }
            Ok(Decoded::Triggers(triggers)) => {
                let mut waiting = Vec::new();
                for t in triggers {
                    self.metrics()
                        .triggers
                        .get_or_create(&SourceLabel {
                            source: t.source.label().to_string(),
                        })
                        .inc();
                    let mut key = t.resource;
                    // One key per resource, whether an event names its region or not.
                    key.region
                        .get_or_insert_with(|| self.ctx.default_region.clone());
                    let (tx, rx) = oneshot::channel();
                    self.ctx.waiters.add(
                        key.clone(),
                        Waiter {
                            source: t.source,
                            done: Some(tx),
                            intent: None,
                        },
                    );
                    self.queue.enqueue(key);
                    waiting.push(rx);
                }
                self.wait_and_settle(&message_id, &receipt, receive_count, waiting, None)
                    .await;
            }
            Ok(Decoded::Intent(signed)) => match self.admit_intent(&signed).await {
                Admission::Follow => {
                    let intent = Box::new(signed.intent);
                    let source = crate::domain::event::TriggerSource::RecreateIntent;
                    self.metrics()
                        .triggers
                        .get_or_create(&SourceLabel {
                            source: source.label().to_string(),
                        })
                        .inc();
                    let key = intent.key();
                    let (tx, rx) = oneshot::channel();
                    self.ctx.waiters.add(
                        key.clone(),
                        Waiter {
                            source,
                            done: Some(tx),
                            intent: Some(intent),
                        },
                    );
                    self.queue.enqueue(key);
                    self.wait_and_settle(
                        &message_id,
                        &receipt,
                        receive_count,
                        vec![rx],
                        Some(body),
                    )
                    .await;
                }
                Admission::Refuse { reason, why } => {
                    tracing::warn!(
                        message_id,
                        notebook = %signed.intent.name,
                        intent = %signed.intent.id,
                        reason,
                        why,
                        "dead-lettering a recreate intent the guard will not follow; nothing was done"
                    );
                    if self.dead_letter(body, reason, &why).await {
                        Metrics::count(&self.metrics().messages_dead_lettered, reason);
                        self.delete(&receipt, "dead-lettered").await;
                    }
                }
                Admission::Later(e) => {
                    let wait = message_backoff(receive_count);
                    tracing::warn!(
                        message_id,
                        error = %e,
                        retry_in_s = wait.as_secs(),
                        "cannot check a recreate intent's MAC now: looking again after a back-off"
                    );
                    self.change_visibility(&receipt, wait).await;
                    Metrics::count(&self.metrics().messages_released, "retry");
                }
            },
        }
        self.metrics()
            .message_duration
            .observe(received.elapsed().as_secs_f64());
    }

    async fn wait_and_settle(
        &self,
        message_id: &str,
        receipt: &str,
        receive_count: u32,
        waiting: Vec<oneshot::Receiver<Outcome>>,
        intent_body: Option<&str>,
    ) {
        let all = futures::future::join_all(waiting);
        tokio::pin!(all);
        // Extend the visibility well before it runs out.
        let heartbeat = (self.visibility_timeout / 2).max(Duration::from_millis(200));
        let outcomes = loop {
            tokio::select! {
                outcomes = &mut all => break outcomes,
                () = tokio::time::sleep(heartbeat) => {
                    self.change_visibility(receipt, self.visibility_timeout).await;
                }
                () = self.abandon.cancelled() => {
                    tracing::info!(message_id, "shutting down: making the message visible again");
                    self.change_visibility(receipt, Duration::ZERO).await;
                    Metrics::count(&self.metrics().messages_released, "shutdown");
                    return;
                }
            }
        };
        let mut retry = None;
        let mut pointless = false;
        let mut later = None;
        for o in outcomes {
            match o {
                Ok(Outcome::Done) => {}
                // A recreate intent is the only record of a deleted notebook: never dropped.
                Ok(Outcome::Pointless(e)) if intent_body.is_some() => retry = Some(e),
                Ok(Outcome::Pointless(_)) => pointless = true,
                Ok(Outcome::Retry(e)) => retry = Some(e),
                Ok(Outcome::Later(d)) => later = Some(d),
                Err(_) => retry = Some("the reconcile was abandoned".to_string()),
            }
        }
        if let (Some(delay), Some(body), None) = (later, intent_body, &retry) {
            // The intent goes on: a fresh copy comes back after the delay, so its receive
            // count never reaches the queue's redrive limit; then this one goes.
            let queue = crate::aws::intent_store::IntentQueue {
                sqs: self.sqs.clone(),
                url: self.queue_url.clone(),
                key: None,
            };
            match queue.send(body.to_string(), delay).await {
                Ok(()) => self.delete(receipt, "recreate-in-progress").await,
                Err(e) => {
                    tracing::warn!(message_id, error = %e, "cannot send the recreate intent on: keeping this copy");
                    self.change_visibility(receipt, delay).await;
                    Metrics::count(&self.metrics().messages_released, "recreate-in-progress");
                }
            }
            return;
        }
        match retry {
            Some(error) => {
                let wait = message_backoff(receive_count);
                tracing::info!(
                    message_id,
                    error,
                    retry_in_s = wait.as_secs(),
                    "making the message visible again after a back-off"
                );
                self.change_visibility(receipt, wait).await;
                Metrics::count(&self.metrics().messages_released, "retry");
            }
            None => {
                self.delete(receipt, if pointless { "pointless-retry" } else { "done" })
                    .await
            }
        }
    }

    /// Copies a message to the dead-letter queue with the reason. `false` when that failed:
    /// the message is then left on the queue, whose redrive policy has the last word.
    async fn dead_letter(&self, body: &str, reason: &str, error: &str) -> bool {
        let attribute = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .expect("data type and value are set")
        };
        let result = self
            .sqs
            .send_message()
            .queue_url(&self.dead_letter_queue_url)
            .message_body(if body.is_empty() { "(empty)" } else { body })
            .message_attributes(REASON_ATTRIBUTE, attribute(reason))
            .message_attributes(ERROR_ATTRIBUTE, attribute(&truncate(error, 1000)))
            .send()
            .await;
        match result {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %AwsError::from_sdk("SendMessage", e), "cannot send to the dead-letter queue; leaving the message on the queue");
                false
            }
        }
    }

    async fn delete(&self, receipt: &str, reason: &str) {
        match self.settler.settle(receipt, Settlement::Delete).await {
            Ok(()) => Metrics::count(&self.metrics().messages_deleted, reason),
            Err(e) => {
                // It becomes visible again and is settled again: every step is idempotent.
                tracing::warn!(error = %e, "cannot delete a settled message");
            }
        }
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) {
        if let Err(e) = self
            .settler
            .settle(receipt, Settlement::Visibility(timeout))
            .await
        {
            tracing::warn!(error = %e, "cannot change a message's visibility");
        }
    }
}

/// Whether an intent from the queue is followed.
enum Admission {
    Follow,
    /// Dead-lettered with this reason code, and why.
    Refuse {
        reason: &'static str,
        why: String,
    },
    /// Its MAC could not be checked now (KMS unreachable, throttled): look again later.
    Later(crate::aws::error::AwsError),
}

impl Intake {
    /// An intent is followed only if it is what the guard could have stored (self-consistent,
    /// not from the future), in the policy's scope, and signed with the guard's own key. Any
    /// doubt: nothing is done and the message goes to the dead-letter queue, where its captured
    /// configuration stays readable.
    async fn admit_intent(&self, signed: &crate::domain::intent::SignedIntent) -> Admission {
        let intent = &signed.intent;
        if let Err(e) = crate::domain::intent::check(intent, jiff::Timestamp::now()) {
            return Admission::Refuse {
                reason: e.reason_code(),
                why: format!("a recreate intent for {}: {e}", intent.name),
            };
        }
        let policy = self.ctx.policy.get();
        if !policy.scope.includes_account(&intent.account)
            || !policy.scope.includes_region(&intent.region)
        {
            return Admission::Refuse {
                reason: "intent-out-of-scope",
                why: format!(
                    "a recreate intent for {} in account {}, region {}: outside the policy's scope",
                    intent.name, intent.account, intent.region
                ),
            };
        }
        let Some(key) = self.ctx.edge.intents.as_ref().and_then(|q| q.key.as_ref()) else {
            return Admission::Refuse {
                reason: "intent-signature",
                why: "this guard has no --intent-key-id, so it cannot check a recreate intent's MAC: give it the key the intent was signed with, and redrive".into(),
            };
        };
        match key.verify(signed).await {
            Ok(crate::aws::intent_key::Verification::Valid) => Admission::Follow,
            Ok(crate::aws::intent_key::Verification::Invalid(why)) => Admission::Refuse {
                reason: "intent-signature",
                why: format!(
                    "a recreate intent for {} is not signed by the guard's key {}: {why}",
                    intent.name,
                    key.key_id()
                ),
            },
            Err(e) => Admission::Later(e),
        }
    }
}

/// How long a message waits before its next try: doubling with each receive, from 5 s, at most
/// 15 minutes.
pub fn message_backoff(receive_count: u32) -> Duration {
    let exp = receive_count.saturating_sub(1).min(8);
    Duration::from_secs((5u64 << exp).min(900))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_backoff_doubles_and_is_capped() {
        assert_eq!(message_backoff(1), Duration::from_secs(5));
        assert_eq!(message_backoff(2), Duration::from_secs(10));
        assert_eq!(message_backoff(4), Duration::from_secs(40));
        assert_eq!(message_backoff(100), Duration::from_secs(900));
        assert_eq!(message_backoff(0), Duration::from_secs(5));
    }
}
