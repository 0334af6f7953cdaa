//! The periodic full sweep: every resource in scope, of every kind an enabled control judges, is
//! queued through the same work queue as the events. It is the safety net for missed events and
//! how the periodic controls (SageMaker.1, .4, .8) are honoured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::domain::event::TriggerSource;
use crate::domain::policy::Policy;
use crate::domain::resource::{ResourceKind, ResourceRef};
use crate::service::metrics::{ResultLabel, SourceLabel};
use crate::service::runtime::{Service, Waiter};
use crate::service::workqueue::WorkQueue;

/// Sweeps every `interval` (and once at start when `initial`) until `stop` fires.
pub async fn resync_loop(
    ctx: Arc<Service>,
    queue: WorkQueue<ResourceRef>,
    interval: Duration,
    initial: bool,
    stop: CancellationToken,
) {
    let mut first = true;
    loop {
        if !first || initial {
            sweep(&ctx, &queue).await;
        }
        first = false;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// How many accounts x regions a sweep lists at once; within one, the list calls go one at a
/// time (SageMaker's rate limits are per account and region).
pub const TARGETS_AT_ONCE: usize = 8;

/// How often a sweep in progress says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Lists everything in scope and queues it. Returns how many resources were queued.
///
/// The accounts x regions are listed [`TARGETS_AT_ONCE`] at a time, each with one list call at
/// a time; the reconciles they queue are bounded per account and region by the work queue.
pub async fn sweep(ctx: &Service, queue: &WorkQueue<ResourceRef>) -> usize {
    let policy = ctx.policy.get();
    let regions = if policy.scope.regions.is_empty() {
        vec![ctx.default_region.clone()]
    } else {
        policy.scope.regions.clone()
    };
    // The guard's own account, or every account of the list in scope, each in its own regions.
    let pairs = ctx.edge.reach().targets(&policy, &regions);
    let total = pairs.len();
    let pending = &ctx.metrics.resync_targets_pending;
    pending.set(total as i64);
    let started = Instant::now();
    let mut listed_targets = 0;
    let mut queued = 0;
    let mut failed = false;
    let mut last_said = Instant::now();
    let policy = &policy;
    let mut lists = futures::stream::iter(pairs.iter().cloned())
        .map(|(account, region)| async move {
            list_target(ctx, queue, policy, account.as_deref(), &region).await
        })
        .buffer_unordered(TARGETS_AT_ONCE);
    while let Some(target) = lists.next().await {
        listed_targets += 1;
        pending.dec();
        queued += target.queued;
        failed |= target.failed;
        ctx.metrics
            .resync_targets
            .get_or_create(&ResultLabel {
                result: if target.failed { "failed" } else { "listed" }.into(),
            })
            .inc();
        if last_said.elapsed() >= PROGRESS_EVERY && listed_targets < total {
            last_said = Instant::now();
            tracing::info!(
                listed = listed_targets,
                targets = total,
                queued,
                elapsed_s = started.elapsed().as_secs(),
                "resync in progress"
            );
        }
    }
    pending.set(0);
    ctx.metrics
        .count_resync(if failed { "incomplete" } else { "done" });
    tracing::info!(queued, targets = total, regions = ?regions, complete = !failed, duration_ms = started.elapsed().as_millis() as u64, "resync queued every resource in scope");
    queued
}

/// What listing one account and region gave.
struct Target {
    queued: usize,
    failed: bool,
}

/// Lists one account and region, kind by kind, and queues what is in scope.
async fn list_target(
    ctx: &Service,
    queue: &WorkQueue<ResourceRef>,
    policy: &Policy,
    account: Option<&str>,
    region: &str,
) -> Target {
    let mut target = Target {
        queued: 0,
        failed: false,
    };
    let Some(observer) = ctx.edge.observer_in(account, region) else {
        return target;
    };
    let triggers = ctx
        .metrics
        .triggers
        .get_or_create(&SourceLabel {
            source: "resync".into(),
        })
        .clone();
    for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
        let listed = match observer.list(kind).await {
            Ok(l) => l,
            Err(e) => {
                target.failed = true;
                tracing::error!(account = account.unwrap_or(""), region, kind = %kind, error = %e, "resync cannot list");
                continue;
            }
        };
        for l in listed {
            let Some(mut key) = ResourceRef::from_arn(&l.arn) else {
                continue;
            };
            if !key
                .account
                .as_deref()
                .is_none_or(|a| policy.scope.includes_account(a))
            {
                continue;
            }
            // The listed name keeps the user's spelling; the ARN lower-cases it.
            key.name = l.name;
            key.region = Some(region.to_string());
            ctx.waiters.add(
                key.clone(),
                Waiter {
                    source: TriggerSource::Resync,
                    done: None,
                    intent: None,
                },
            );
            // Counted before the enqueue, so the count never lags the reconciles it causes.
            triggers.inc();
            queue.enqueue(key);
            target.queued += 1;
        }
    }
    tracing::debug!(
        account = account.unwrap_or(""),
        region,
        queued = target.queued,
        complete = !target.failed,
        "resync listed an account and region"
    );
    target
}
