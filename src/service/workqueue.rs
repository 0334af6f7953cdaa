//! The work queue of the `run` service: which resource to reconcile next, and when.
//!
//! Modelled on kube-runtime's controller. The reconcile function decides what the resource
//! needs and answers with an [`Action`] that says only *when to look again*; the queue owns the
//! rest: de-duplication, the concurrency limit, per-key exclusion, delayed requeues, back-off on
//! error and graceful shutdown.
//!
//! Reconcile is level-triggered, so an enqueue is a hint ("look at this resource") rather than a
//! message to deliver. That is why many enqueues of one key collapse into one reconcile: the
//! reconcile reads the resource's current state, which covers every event that woke it.
//!
//! A key is, at any moment, in at most one of three places:
//! - *ready*: waiting for a worker, in FIFO order within its group, the groups taking turns;
//! - *scheduled*: waiting for an instant (a requeue, a back-off, an [`WorkQueue::enqueue_after`]);
//! - *in flight*: held by a worker. Enqueues meanwhile are remembered as *dirty* and turn into
//!   one follow-up when the reconcile finishes, so a key is never reconciled twice at once.
//!
//! Keys are one key when they are equal: the service's [`crate::domain::resource::ResourceRef`]
//! compares names case-insensitively, as SageMaker does, so two spellings of one notebook's name
//! are one key.
//!
//! Keys may fall into groups (the service's are an account and region, whose SageMaker rate
//! limits they share): at most [`WorkQueue::grouped`]'s `per_group` keys of one group are in
//! flight at once, and the groups with ready keys take turns, so one large account never starves
//! the others.
//!
//! Everything is in-process tokio: a mutex-guarded state, one [`Notify`] to wake the dispatcher
//! and one timer for the earliest scheduled key. No worker sleeps while holding a slot.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What the reconcile function asks for once it is done: only *when to look again*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Look at the resource again after `duration`, even if nothing enqueues it.
    ///
    /// Use it when the resource is converging (a notebook still `Stopping`) or when an event
    /// might be missed. The key waits in the queue's schedule, not in a worker, and an enqueue
    /// before then makes it run sooner.
    pub fn requeue(duration: Duration) -> Action {
        Action {
            requeue_after: Some(duration),
        }
    }

    /// Do nothing until the next enqueue of this key.
    ///
    /// Beware: if the events that would enqueue the key can be lost (a dropped message, a
    /// change made while the service was down), the resource is not looked at again until
    /// something else names it. Prefer a long [`Action::requeue`] when that matters.
    pub fn await_change() -> Action {
        Action {
            requeue_after: None,
        }
    }

    /// The delay before the next look, or `None` for [`Action::await_change`].
    pub fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }
}

/// How long a key waits after a failed reconcile: exponential, capped, jittered, per key.
///
/// The `n`-th consecutive failure waits `base * 2^(n-1)`, capped at `max`, then scaled by a
/// random factor in `1 ± jitter` and capped at `max` again, so `max` is a hard ceiling. The
/// jitter spreads retries of keys that failed together (an AWS throttling burst, say) so they do
/// not fail together again. A successful reconcile resets the count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffPolicy {
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait, however many failures.
    pub max: Duration,
    /// The relative spread of each wait, in `0.0..=1.0` (0.2 is ±20%).
    pub jitter: f64,
}

impl Default for BackoffPolicy {
    /// 1 s, doubling, capped at 5 min, ±20%.
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(5 * 60),
            jitter: 0.2,
        }
    }
}

impl BackoffPolicy {
    /// The wait after the `attempt`-th consecutive failure (1 for the first), given a uniform
    /// random number `unit` in `0.0..=1.0` (0.5 means no jitter). Pure, so tests can pin it.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let exponential = self
            .base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        exponential.mul_f64(factor).min(self.max)
    }
}

/// A de-duplicating, delaying, concurrency-bounded queue of keys to reconcile.
///
/// Cloning gives another handle to the same queue, so event sources can enqueue while
/// [`WorkQueue::run`] works.
///
/// The queue is driven by [`WorkQueue::run`] with a reconcile closure rather than by handing
/// out leases: keeping the worker loop inside the queue means the caller cannot forget to
/// report a result, hold a key forever, or exceed the concurrency bound, and a reconcile that
/// panics is retried with back-off instead of wedging its key. That is the split kube-runtime
/// makes: the reconcile function owns the decision, the runtime owns the scheduling.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// The group a key falls into.
type GroupOf<K> = Arc<dyn Fn(&K) -> String + Send + Sync>;

struct Inner<K> {
    state: Mutex<State<K>>,
    /// Wakes the dispatcher when a key becomes ready or the earliest deadline moves.
    changed: Notify,
    concurrency: usize,
    backoff: BackoffPolicy,
    deduplicated: AtomicU64,
}

struct State<K> {
    ready: Ready<K>,
    queued: HashSet<K>,
    /// Scheduled keys, with their deadline and the tie-breaker that indexes `timeline`.
    scheduled: HashMap<K, (Instant, u64)>,
    timeline: BTreeMap<(Instant, u64), K>,
    next_seq: u64,
    in_flight: HashSet<K>,
    /// In-flight keys enqueued meanwhile, with the earliest instant asked for.
    dirty: HashMap<K, Instant>,
    /// Consecutive failures per key, for back-off.
    failures: HashMap<K, u32>,
}

/// How one reconcile ended, as the queue needs to know it.
enum Outcome {
    Done(Action),
    Failed,
}

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + 'static,
{
    /// A queue that reconciles at most `concurrency` keys at once (at least 1), with the
    /// default [`BackoffPolicy`].
    pub fn new(concurrency: usize) -> Self {
        Self::with_backoff(concurrency, BackoffPolicy::default())
    }

    /// A queue with an explicit back-off policy.
    pub fn with_backoff(concurrency: usize, backoff: BackoffPolicy) -> Self {
        Self::build(
            concurrency,
            backoff,
            usize::MAX,
            Arc::new(|_: &K| String::new()),
        )
    }

    /// A queue that also reconciles at most `per_group` keys of one group at once (at least 1);
    /// the groups with keys ready take turns.
    pub fn grouped(
        concurrency: usize,
        per_group: usize,
        group_of: impl Fn(&K) -> String + Send + Sync + 'static,
    ) -> Self {
        Self::build(
            concurrency,
            BackoffPolicy::default(),
            per_group,
            Arc::new(group_of),
        )
    }

    fn build(
        concurrency: usize,
        backoff: BackoffPolicy,
        per_group: usize,
        group_of: GroupOf<K>,
    ) -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    ready: Ready {
                        groups: HashMap::new(),
                        turns: VecDeque::new(),
                        busy: HashMap::new(),
                        len: 0,
                        per_group: per_group.max(1),
                        group_of,
                    },
                    queued: HashSet::new(),
                    scheduled: HashMap::new(),
                    timeline: BTreeMap::new(),
                    next_seq: 0,
                    in_flight: HashSet::new(),
                    dirty: HashMap::new(),
                    failures: HashMap::new(),
                }),
                changed: Notify::new(),
                concurrency: concurrency.max(1),
                backoff,
                deduplicated: AtomicU64::new(0),
            }),
        }
    }

    /// Asks for `key` to be reconciled as soon as a worker is free.
    ///
    /// If the key is already waiting this changes nothing; if it is scheduled for later it
    /// moves forward to now; if it is being reconciled it runs once more afterwards.
    pub fn enqueue(&self, key: K) {
        self.enqueue_at(key, Instant::now());
    }

    /// Asks for `key` to be reconciled after `delay`. If it is already due sooner, the sooner
    /// time wins: a key is never delayed by asking for it again.
    pub fn enqueue_after(&self, key: K, delay: Duration) {
        self.enqueue_at(key, Instant::now() + delay);
    }

    /// Keys waiting for a worker, now or later. In-flight keys are not counted.
    pub fn depth(&self) -> usize {
        let state = self.state();
        state.ready.len() + state.scheduled.len()
    }

    /// Keys being reconciled right now.
    pub fn in_flight(&self) -> usize {
        self.state().in_flight.len()
    }

    /// Enqueues, since the queue was made, that added no reconcile because one was already due
    /// as soon or sooner (or that merely moved a scheduled key forward).
    pub fn deduplicated(&self) -> u64 {
        self.inner.deduplicated.load(Ordering::Relaxed)
    }

    /// Reconciles keys until `shutdown` completes, then waits for in-flight reconciles to finish
    /// and returns. Keys still waiting stay in the queue.
    ///
    /// `reconcile` answers with an [`Action`] on success; on error the key is retried after the
    /// queue's [`BackoffPolicy`] delay and the error is logged. Either way, an enqueue during
    /// the reconcile makes the key due at once (the earliest time wins): it carries news the
    /// failed attempt did not see.
    ///
    /// Run one `run` per queue; a second concurrent one would share keys but not the
    /// concurrency bound.
    pub async fn run<F, Fut, E>(&self, reconcile: F, shutdown: impl Future<Output = ()>)
    where
        K: fmt::Debug,
        F: Fn(K) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: fmt::Display,
    {
        let reconcile = Arc::new(reconcile);
        let slots = Arc::new(Semaphore::new(self.inner.concurrency));
        let mut workers = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let lease = tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = workers.join_next(), if !workers.is_empty() => {
                    report_panic(joined);
                    continue;
                }
                lease = self.next(&slots) => lease,
            };
            let reconcile = Arc::clone(&reconcile);
            workers.spawn(async move {
                let result = reconcile(lease.key().clone()).await;
                lease.finish(result);
            });
        }
        while let Some(joined) = workers.join_next().await {
            report_panic(joined);
        }
    }

    /// Waits for a free slot, then for a due key, and takes both.
    ///
    /// Cancel-safe: a key leaves the queue only in the same poll that returns it.
    async fn next(&self, slots: &Arc<Semaphore>) -> Lease<K> {
        let permit = Arc::clone(slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            // Register before looking, so a change between the look and the wait is not lost.
            changed.as_mut().enable();
            let deadline = {
                let mut state = self.state();
                state.promote_due(Instant::now());
                if let Some(key) = state.ready.pop() {
                    state.queued.remove(&key);
                    state.in_flight.insert(key.clone());
                    return Lease {
                        queue: self.clone(),
                        key: Some(key),
                        _slot: permit,
                    };
                }
                state.timeline.keys().next().map(|&(at, _)| at)
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        () = &mut changed => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    fn enqueue_at(&self, key: K, at: Instant) {
        let merged = {
            let mut state = self.state();
            state.want(key, at)
        };
        if merged {
            self.inner.deduplicated.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.changed.notify_waiters();
    }

    /// Returns an in-flight key to the queue, due when `outcome` and any enqueue made meanwhile
    /// ask, whichever is sooner. Returns the back-off delay applied, if any.
    fn finish(&self, key: K, outcome: Outcome) -> Option<Duration> {
        let now = Instant::now();
        let mut backoff = None;
        {
            let mut state = self.state();
            state.in_flight.remove(&key);
            state.ready.finished(&key);
            let mut due = match outcome {
                Outcome::Done(action) => {
                    state.failures.remove(&key);
                    action.requeue_after().map(|d| now + d)
                }
                Outcome::Failed => {
                    let failures = state.failures.entry(key.clone()).or_insert(0);
                    *failures = failures.saturating_add(1);
                    let delay = self.inner.backoff.delay(*failures, fastrand::f64());
                    backoff = Some(delay);
                    Some(now + delay)
                }
            };
            if let Some(asked) = state.dirty.remove(&key) {
                due = Some(due.map_or(asked, |d| d.min(asked)));
            }
            if let Some(at) = due {
                state.want(key, at);
            }
        }
        self.inner.changed.notify_waiters();
        backoff
    }

    fn state(&self) -> MutexGuard<'_, State<K>> {
        // The lock is never held across user code or an await, so a poisoned lock can only
        // come from a panic inside this module's own bookkeeping; its state is still usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K> State<K>
where
    K: Clone + Eq + Hash,
{
    /// Makes `key` due at `at` at the latest. Returns whether it was already due (as soon or
    /// later) and was merged rather than added.
    fn want(&mut self, key: K, at: Instant) -> bool {
        if self.in_flight.contains(&key) {
            return match self.dirty.get_mut(&key) {
                Some(asked) => {
                    *asked = (*asked).min(at);
                    true
                }
                None => {
                    self.dirty.insert(key, at);
                    false
                }
            };
        }
        if self.queued.contains(&key) {
            return true;
        }
        let merged = match self.scheduled.remove(&key) {
            Some((old, seq)) => {
                self.timeline.remove(&(old, seq));
                if old <= at {
                    self.insert_scheduled(key, old);
                    return true;
                }
                true
            }
            None => false,
        };
        if at <= Instant::now() {
            self.queued.insert(key.clone());
            self.ready.push(key);
        } else {
            self.insert_scheduled(key, at);
        }
        merged
    }

    fn insert_scheduled(&mut self, key: K, at: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.timeline.insert((at, seq), key.clone());
        self.scheduled.insert(key, (at, seq));
    }

    /// Moves scheduled keys whose time has come to the back of the ready queue, earliest first.
    fn promote_due(&mut self, now: Instant) {
        while let Some(entry) = self.timeline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.scheduled.remove(&key);
            self.queued.insert(key.clone());
            self.ready.push(key);
        }
    }
}

/// The ready keys: a FIFO per group, and the groups that may start one now taking turns.
///
/// A group is in `turns` exactly when it has a ready key and fewer than `per_group` in flight.
struct Ready<K> {
    groups: HashMap<String, VecDeque<K>>,
    turns: VecDeque<String>,
    busy: HashMap<String, usize>,
    len: usize,
    per_group: usize,
    group_of: GroupOf<K>,
}

impl<K> Ready<K> {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, key: K) {
        let group = (self.group_of)(&key);
        let keys = self.groups.entry(group.clone()).or_default();
        keys.push_back(key);
        self.len += 1;
        if keys.len() == 1 && self.busy.get(&group).copied().unwrap_or(0) < self.per_group {
            self.turns.push_back(group);
        }
    }

    /// The next key of the group whose turn it is; it counts as in flight in its group.
    fn pop(&mut self) -> Option<K> {
        let group = self.turns.pop_front()?;
        let keys = self.groups.get_mut(&group)?;
        let key = keys.pop_front()?;
        let left = keys.len();
        if left == 0 {
            self.groups.remove(&group);
        }
        self.len -= 1;
        let busy = self.busy.entry(group.clone()).or_insert(0);
        *busy += 1;
        if left > 0 && *busy < self.per_group {
            self.turns.push_back(group);
        }
        Some(key)
    }

    /// An in-flight key is done: its group may start another.
    fn finished(&mut self, key: &K) {
        let group = (self.group_of)(key);
        let Some(busy) = self.busy.get_mut(&group) else {
            return;
        };
        let was_full = *busy >= self.per_group;
        *busy -= 1;
        if *busy == 0 {
            self.busy.remove(&group);
        }
        if was_full && self.groups.contains_key(&group) {
            self.turns.push_back(group);
        }
    }
}

/// A key handed to a worker, with the worker's slot. Dropping it unfinished (the reconcile
/// panicked) counts as a failure, so the key is retried with back-off instead of being stuck
/// in flight; the slot is freed after the key is back in the queue.
struct Lease<K>
where
    K: Clone + Eq + Hash + Send + 'static,
{
    queue: WorkQueue<K>,
    key: Option<K>,
    _slot: OwnedSemaphorePermit,
}

impl<K> Lease<K>
where
    K: Clone + Eq + Hash + Send + 'static,
{
    fn key(&self) -> &K {
        self.key
            .as_ref()
            .expect("a lease holds its key until finished")
    }

    fn finish<E: fmt::Display>(mut self, result: Result<Action, E>)
    where
        K: fmt::Debug,
    {
        let key = self.key.take().expect("a lease is finished once");
        match result {
            Ok(action) => {
                self.queue.finish(key, Outcome::Done(action));
            }
            Err(error) => {
                let retry_in = self.queue.finish(key.clone(), Outcome::Failed);
                tracing::warn!(key = ?key, %error, ?retry_in, "reconcile failed");
            }
        }
    }
}

impl<K> Drop for Lease<K>
where
    K: Clone + Eq + Hash + Send + 'static,
{
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queue.finish(key, Outcome::Failed);
        }
    }
}

fn report_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(%error, "reconcile panicked; its key is retried with back-off");
    }
}

#[cfg(test)]
mod tests;
