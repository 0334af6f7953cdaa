//! Settling messages in batches: the intake's deletes and visibility changes go to SQS ten at a
//! time (`DeleteMessageBatch`, `ChangeMessageVisibilityBatch`) instead of one call each.
//!
//! Why: one `DeleteMessage` per message was more than half of the service's AWS calls (10,000 of
//! 18,964 in the run benchmark); SQS bills and throttles per call, not per message.
//!
//! How: every settlement asked for waits in a pending batch of its call. A batch is sent as soon
//! as it holds ten entries (SQS's limit), or [`LINGER`] after its first entry, whichever comes
//! first, so a quiet queue adds at most the linger to a message's settling and a busy one fills
//! batches without waiting. Each caller gets its own entry's result: an entry SQS failed on its
//! side (`SenderFault` false) is tried once more with the single call; any other failure is the
//! caller's to log, as a failed single call was. Closing sends whatever is pending at once.
//!
//! The grouping and the flush rules ([`Batches`]) are plain data, tested without SQS or a clock;
//! [`Settler`] is the thin task around them that makes the calls.

use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::aws::error::AwsError;

/// SQS's limit of entries per batch call.
pub const MAX_ENTRIES: usize = 10;

/// How long the first entry of a batch waits for others before the batch is sent anyway.
pub const LINGER: Duration = Duration::from_millis(50);

/// What settles one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Delete it: done with.
    Delete,
    /// Hide it for this long (zero: visible again now; the heartbeat: another timeout).
    Visibility(Duration),
}

impl Settlement {
    /// The batch call it goes in. Visibility changes of different timeouts share a batch: each
    /// entry carries its own.
    pub fn call(self) -> Call {
        match self {
            Settlement::Delete => Call::Delete,
            Settlement::Visibility(_) => Call::ChangeVisibility,
        }
    }
}

/// The two batch calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    Delete,
    ChangeVisibility,
}

impl Call {
    const ALL: [Call; 2] = [Call::Delete, Call::ChangeVisibility];

    fn index(self) -> usize {
        match self {
            Call::Delete => 0,
            Call::ChangeVisibility => 1,
        }
    }
}

/// When a batch is sent: once it holds `max` entries, or `linger` after its first entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushRule {
    pub max: usize,
    pub linger: Duration,
}

impl Default for FlushRule {
    fn default() -> Self {
        FlushRule {
            max: MAX_ENTRIES,
            linger: LINGER,
        }
    }
}

/// The pending entries of each call, and when each pending batch is due. Pure: the caller says
/// what time it is.
pub struct Batches<T> {
    rule: FlushRule,
    /// Per call: its entries, and when its first one arrived.
    pending: [(Vec<T>, Option<Instant>); 2],
}

impl<T> Batches<T> {
    pub fn new(rule: FlushRule) -> Self {
        Batches {
            rule: FlushRule {
                max: rule.max.clamp(1, MAX_ENTRIES),
                linger: rule.linger,
            },
            pending: [(Vec::new(), None), (Vec::new(), None)],
        }
    }

    /// Adds an entry; returns the batch to send now if that filled it.
    pub fn push(&mut self, call: Call, entry: T, now: Instant) -> Option<Vec<T>> {
        let (entries, first) = &mut self.pending[call.index()];
        entries.push(entry);
        first.get_or_insert(now);
        if entries.len() >= self.rule.max {
            *first = None;
            return Some(std::mem::take(entries));
        }
        None
    }

    /// The batches whose linger has passed at `now`.
    pub fn take_due(&mut self, now: Instant) -> Vec<(Call, Vec<T>)> {
        let linger = self.rule.linger;
        let mut due = Vec::new();
        for call in Call::ALL {
            let (entries, first) = &mut self.pending[call.index()];
            if first.is_some_and(|f| f + linger <= now) {
                *first = None;
                due.push((call, std::mem::take(entries)));
            }
        }
        due
    }

    /// When the next pending batch is due, if any is pending.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|(_, first)| first.map(|f| f + self.rule.linger))
            .min()
    }

    /// Everything pending, at once (closing).
    pub fn drain(&mut self) -> Vec<(Call, Vec<T>)> {
        let mut all = Vec::new();
        for call in Call::ALL {
            let (entries, first) = &mut self.pending[call.index()];
            *first = None;
            if !entries.is_empty() {
                all.push((call, std::mem::take(entries)));
            }
        }
        all
    }

    /// Entries pending, all calls.
    pub fn len(&self) -> usize {
        self.pending.iter().map(|(e, _)| e.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why one message's settlement failed: the SDK's error or SQS's entry error, as text for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettleError(pub String);

/// One settlement asked for, with the channel its result goes back on.
struct Entry {
    receipt: String,
    settlement: Settlement,
    done: oneshot::Sender<Result<(), SettleError>>,
}

enum Request {
    Settle(Entry),
    /// Send everything pending, wait for the calls, then stop.
    Close(oneshot::Sender<()>),
}

/// Settles messages of one queue in batches. Cheap to share: callers only send requests to its
/// task.
pub struct Settler {
    requests: mpsc::UnboundedSender<Request>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Settler {
    /// Starts the task that batches and sends. Call [`Settler::close`] once nothing more will
    /// be settled, so what is pending is sent before the process ends.
    pub fn start(sqs: aws_sdk_sqs::Client, queue_url: String, rule: FlushRule) -> Settler {
        let (tx, rx) = mpsc::unbounded_channel();
        let sender = BatchSender { sqs, queue_url };
        let task = tokio::spawn(batch_loop(rx, Batches::new(rule), sender));
        Settler {
            requests: tx,
            task: Mutex::new(Some(task)),
        }
    }

    /// Settles one message and waits for its (batched) call's answer for it.
    pub async fn settle(&self, receipt: &str, settlement: Settlement) -> Result<(), SettleError> {
        let (done, answer) = oneshot::channel();
        let entry = Entry {
            receipt: receipt.to_string(),
            settlement,
            done,
        };
        if self.requests.send(Request::Settle(entry)).is_err() {
            return Err(SettleError("the settler is closed".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(SettleError("the settler stopped before sending".into())))
    }

    /// Sends whatever is pending now and waits for those calls. Later settlements fail.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(Request::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

async fn batch_loop(
    mut requests: mpsc::UnboundedReceiver<Request>,
    mut batches: Batches<Entry>,
    sender: BatchSender,
) {
    // Calls run concurrently: a slow one must not hold back the next full batch.
    let mut calls = JoinSet::new();
    let send = |calls: &mut JoinSet<()>, call: Call, entries: Vec<Entry>| {
        let sender = sender.clone();
        calls.spawn(async move { sender.send(call, entries).await });
    };
    let closed = loop {
        let next = batches.next_due();
        let request = tokio::select! {
            r = requests.recv() => r,
            () = async { tokio::time::sleep_until(next.expect("guarded")).await }, if next.is_some() => {
                for (call, entries) in batches.take_due(Instant::now()) {
                    send(&mut calls, call, entries);
                }
                continue;
            }
            Some(_) = calls.join_next(), if !calls.is_empty() => continue,
        };
        match request {
            Some(Request::Settle(entry)) => {
                let call = entry.settlement.call();
                if let Some(full) = batches.push(call, entry, Instant::now()) {
                    send(&mut calls, call, full);
                }
            }
            Some(Request::Close(tx)) => break Some(tx),
            None => break None,
        }
    };
    for (call, entries) in batches.drain() {
        for chunk in chunks(entries, MAX_ENTRIES) {
            send(&mut calls, call, chunk);
        }
    }
    while calls.join_next().await.is_some() {}
    if let Some(tx) = closed {
        let _ = tx.send(());
    }
}

/// Splits `entries` into batches of at most `max`, in order.
fn chunks<T>(entries: Vec<T>, max: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut it = entries.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(max.max(1)).collect());
    }
    out
}

/// Makes the batch calls and answers each entry.
#[derive(Clone)]
struct BatchSender {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

/// An entry SQS failed: its error, and whether it was the sender's fault (no point retrying).
struct EntryFailure {
    error: String,
    sender_fault: bool,
}

impl BatchSender {
    async fn send(&self, call: Call, entries: Vec<Entry>) {
        // Entry ids are the positions in the batch: unique within it, as SQS requires.
        let failures = match call {
            Call::Delete => self.delete_batch(&entries).await,
            Call::ChangeVisibility => self.visibility_batch(&entries).await,
        };
        let failures = match failures {
            Ok(f) => f,
            Err(error) => {
                // The whole call failed (network, throttling): each message stays as it was and
                // is settled again later, as after a failed single call.
                for e in entries {
                    let _ = e.done.send(Err(SettleError(error.clone())));
                }
                return;
            }
        };
        for (i, entry) in entries.into_iter().enumerate() {
            let result = match failures.iter().find(|(id, _)| *id == i) {
                None => Ok(()),
                Some((_, f)) if f.sender_fault => Err(SettleError(f.error.clone())),
                // SQS's side failed this entry alone: one more try, on its own.
                Some((_, _)) => self.single(&entry.receipt, entry.settlement).await,
            };
            let _ = entry.done.send(result);
        }
    }

    async fn delete_batch(&self, entries: &[Entry]) -> Result<Vec<(usize, EntryFailure)>, String> {
        let mut req = self.sqs.delete_message_batch().queue_url(&self.queue_url);
        for (i, e) in entries.iter().enumerate() {
            req = req.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&e.receipt)
                    .build()
                    .expect("id and receipt handle are set"),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteMessageBatch", e).to_string())?;
        Ok(failures(out.failed()))
    }

    async fn visibility_batch(
        &self,
        entries: &[Entry],
    ) -> Result<Vec<(usize, EntryFailure)>, String> {
        let mut req = self
            .sqs
            .change_message_visibility_batch()
            .queue_url(&self.queue_url);
        for (i, e) in entries.iter().enumerate() {
            let Settlement::Visibility(timeout) = e.settlement else {
                unreachable!("only visibility changes are batched with visibility changes")
            };
            req = req.entries(
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&e.receipt)
                    .visibility_timeout(visibility_seconds(timeout))
                    .build()
                    .expect("id and receipt handle are set"),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ChangeMessageVisibilityBatch", e).to_string())?;
        Ok(failures(out.failed()))
    }

    async fn single(&self, receipt: &str, settlement: Settlement) -> Result<(), SettleError> {
        let result = match settlement {
            Settlement::Delete => self
                .sqs
                .delete_message()
                .queue_url(&self.queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("DeleteMessage", e).to_string()),
            Settlement::Visibility(timeout) => self
                .sqs
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(visibility_seconds(timeout))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("ChangeMessageVisibility", e).to_string()),
        };
        result.map_err(SettleError)
    }
}

/// The failed entries of a batch answer, by position.
fn failures(failed: &[aws_sdk_sqs::types::BatchResultErrorEntry]) -> Vec<(usize, EntryFailure)> {
    failed
        .iter()
        .filter_map(|f| {
            let i = f.id().parse().ok()?;
            Some((
                i,
                EntryFailure {
                    error: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                    sender_fault: f.sender_fault(),
                },
            ))
        })
        .collect()
}

/// SQS's visibility timeout in whole seconds, at most 12 hours.
pub fn visibility_seconds(timeout: Duration) -> i32 {
    timeout.as_secs().min(43_200) as i32
}

#[cfg(test)]
mod tests;
