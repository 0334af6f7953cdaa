//! The runtime around the controller's decision: it ties each reconcile to the messages that
//! asked for it (the waiters), asks [`error_policy`] what a failure means, answers each message
//! with its outcome, and keeps the metrics and the one log line of every reconcile. The work
//! queue ([`crate::service::workqueue`]) owns queueing, back-off and shutdown.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::aws::recreate::IntentState;
use crate::converge::Look;
use crate::domain::event::TriggerSource;
use crate::domain::intent::RecreateIntent;
use crate::domain::resource::ResourceRef;
use crate::service::controller::{
    error_policy, reconcile, Context, ErrorAction, ReconcileError, Reconciled,
};
use crate::service::metrics::ResultLabel;
use crate::service::workqueue::Action;

/// How a reconcile ended, as the messages that asked for it need to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Finished: the message can be deleted.
    Done,
    /// Failed in a way a retry may fix (throttling, a 5xx, a network error).
    Retry(String),
    /// Failed in a way retrying cannot fix (access denied, a malformed name): the message is
    /// deleted, the error logged; the resync looks again. (A recreate intent is never deleted
    /// for this: it is retried like [`Outcome::Retry`].)
    Pointless(String),
    /// A recreate intent is under way: its message is to be received again after this long.
    Later(Duration),
}

/// Someone waiting for the next reconcile of a key: the message that named it (with a channel)
/// or the resync (without).
pub struct Waiter {
    pub source: TriggerSource,
    pub done: Option<oneshot::Sender<Outcome>>,
    /// A recreate intent the message carries: the reconcile takes its next step.
    pub intent: Option<Box<RecreateIntent>>,
}

/// The waiters of each key. A reconcile takes the waiters present when it starts and answers
/// exactly those: a waiter that arrives during a reconcile waits for the next one, which the work
/// queue guarantees, because the reconcile in progress may have read the resource too early.
#[derive(Default)]
pub struct Waiters(Mutex<HashMap<ResourceRef, Vec<Waiter>>>);

impl Waiters {
    pub fn add(&self, key: ResourceRef, waiter: Waiter) {
        self.0
            .lock()
            .expect("the waiters lock is never poisoned")
            .entry(key)
            .or_default()
            .push(waiter);
    }

    fn take(&self, key: &ResourceRef) -> Vec<Waiter> {
        self.0
            .lock()
            .expect("the waiters lock is never poisoned")
            .remove(key)
            .unwrap_or_default()
    }
}

/// The recreate intents this replica is following, by notebook: a reconcile that an event woke
/// (a transition ended) takes the intent's next step at once, instead of waiting for the
/// intent's message to come back after `--settle-interval`. The message stays the record: it
/// still comes back, and finds the step taken (every step is idempotent).
///
/// Only intents this replica stored itself or admitted from the queue (MAC checked) are here,
/// and an intent leaves when it settles. At most [`MAX_FOLLOWED`] are kept.
#[derive(Default)]
pub struct Followed(Mutex<HashMap<ResourceRef, Box<RecreateIntent>>>);

/// More recreates under way at once than any blast radius allows.
pub const MAX_FOLLOWED: usize = 10_000;

impl Followed {
    fn get(&self, key: &ResourceRef) -> Option<Box<RecreateIntent>> {
        self.lock().get(key).cloned()
    }

    fn follow(&self, key: ResourceRef, intent: Box<RecreateIntent>) {
        let mut map = self.lock();
        if map.len() >= MAX_FOLLOWED && !map.contains_key(&key) {
            // The queue's copies still drive each one, at the settle interval.
            map.clear();
        }
        map.insert(key, intent);
    }

    fn forget(&self, key: &ResourceRef, id: &str) {
        let mut map = self.lock();
        if map.get(key).is_some_and(|i| i.id.as_str() <= id) {
            map.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ResourceRef, Box<RecreateIntent>>> {
        self.0
            .lock()
            .expect("the followed intents lock is never poisoned")
    }
}

/// The service's shared state: the controller's context, the waiters of each key and the
/// recreates under way.
pub struct Service {
    pub ctx: Context,
    pub waiters: Waiters,
    pub followed: Followed,
}

impl Deref for Service {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.ctx
    }
}

/// One reconcile of `key`, as the work queue runs it: take the waiters, reconcile, decide on a
/// failure with [`error_policy`], answer the waiters, count and log. `Err` asks the queue to
/// back off and retry.
pub async fn run_reconcile(key: ResourceRef, svc: Arc<Service>) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let waiters = svc.waiters.take(&key);
    let mut sources: Vec<&str> = waiters.iter().map(|w| w.source.label()).collect();
    sources.sort_unstable();
    sources.dedup();
    if sources.is_empty() {
        sources.push("requeue");
    }
    // Several messages may carry intents for one notebook, and this replica may be following
    // one already: the newest one is followed; the others settle with it (each finds the
    // notebook recreated, or obsolete, in its turn).
    let followed = svc.followed.get(&key);
    let intent = waiters
        .iter()
        .filter_map(|w| w.intent.as_deref())
        .chain(followed.as_deref())
        .max_by(|a, b| a.id.cmp(&b.id))
        .cloned();

    svc.metrics.reconciles_in_flight.inc();
    let result = reconcile(&key, intent.as_ref(), &svc.ctx).await;
    svc.metrics.reconciles_in_flight.dec();
    let elapsed = started.elapsed();

    let (label, outcome, intent_outcome, ret) = match result {
        Ok(r) => {
            remember(&svc.followed, &key, intent.as_ref(), &r.look);
            let intent_outcome = r.look.intent.as_ref().map(|i| match i.state {
                IntentState::Pending(d) => Outcome::Later(d),
                IntentState::Settled => Outcome::Done,
            });
            let label = result_label(&r.look);
            log(&key, &svc, label, Ok(&r), &sources, elapsed);
            (label, Outcome::Done, intent_outcome, Ok(r.action))
        }
        Err(e) => {
            let decided = error_policy(&key, &e, &svc.ctx);
            let label = match decided {
                ErrorAction::GiveUp => "error",
                ErrorAction::Retry => "retry",
            };
            log(&key, &svc, label, Err(&e), &sources, elapsed);
            match decided {
                ErrorAction::GiveUp => (
                    label,
                    Outcome::Pointless(e.to_string()),
                    None,
                    Ok(Action::await_change()),
                ),
                ErrorAction::Retry => (label, Outcome::Retry(e.to_string()), None, Err(e)),
            }
        }
    };
    svc.metrics
        .reconcile_duration
        .observe(elapsed.as_secs_f64());
    svc.metrics
        .reconciles
        .get_or_create(&ResultLabel {
            result: label.to_string(),
        })
        .inc();
    for w in waiters {
        if let Some(done) = w.done {
            let answer = match (&w.intent, &intent_outcome) {
                (Some(_), Some(o)) => o.clone(),
                _ => outcome.clone(),
            };
            // The message may have given up waiting (shutdown): nothing to tell then.
            let _ = done.send(answer);
        }
    }
    ret
}

/// Keeps following the intent a look followed or stored, until it settles.
fn remember(followed: &Followed, key: &ResourceRef, intent: Option<&RecreateIntent>, look: &Look) {
    match (intent, look.intent.as_ref().map(|i| &i.state)) {
        (Some(i), Some(IntentState::Pending(_))) => {
            followed.follow(key.clone(), Box::new(i.clone()))
        }
        (Some(i), Some(IntentState::Settled)) => followed.forget(key, &i.id),
        _ => {}
    }
    if let Some(stored) = look.stored_intent() {
        followed.follow(key.clone(), Box::new(stored.clone()));
    }
}

/// The `result` label of a reconcile that succeeded.
fn result_label(look: &Look) -> &'static str {
    match (&look.assessment, look.standing) {
        (Some(a), _) if a.failed() => "noncompliant",
        (Some(_), _) => "compliant",
        (None, standing) => standing.as_str(),
    }
}

/// The one structured log event of a reconcile.
fn log(
    key: &ResourceRef,
    svc: &Service,
    label: &str,
    result: Result<&Reconciled, &ReconcileError>,
    sources: &[&str],
    elapsed: Duration,
) {
    let region = key.region.as_deref().unwrap_or(&svc.default_region);
    let json = |v: serde_json::Result<String>| v.unwrap_or_default();
    let (look, dry_run, error) = match result {
        Ok(r) => (Some(&r.look), r.dry_run, String::new()),
        Err(e) => (None, svc.dry_run, e.to_string()),
    };
    let assessment = look.and_then(|l| l.assessment.as_ref());
    let execution = look.and_then(|l| {
        l.execution
            .as_ref()
            .or(l.intent.as_ref().map(|i| &i.execution))
    });
    macro_rules! reconciled {
        ($level:ident) => {
            tracing::$level!(
                result = label,
                kind = %key.kind,
                // SageMaker's spelling once read: the key may hold the lower-cased one of an ARN.
                resource = look.and_then(|l| l.resource_name.as_deref()).unwrap_or(&key.name),
                account = key.account.as_deref().unwrap_or(""),
                region = %region,
                resource_arn = look.and_then(|l| l.resource_arn.as_deref()).unwrap_or(""),
                verdicts = %assessment.map_or("[]".into(), |a| json(serde_json::to_string(&a.verdicts))),
                plan = %assessment.and_then(|a| a.plan.as_ref()).map_or("null".into(), |p| json(serde_json::to_string(p))),
                execution = %execution.map_or("null".into(), |e| json(serde_json::to_string(e))),
                dry_run,
                trigger = %sources.join(","),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                error = %error,
                "reconciled"
            )
        };
    }
    // Every reconcile is one line at info, the resync's too: a service that says nothing looks
    // dead. `RUST_LOG=sagemaker_guard=warn` keeps only what went wrong.
    reconciled!(info);
}
