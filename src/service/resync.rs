//! The periodic full sweep: every resource in scope, of every kind an enabled control judges, is
//! queued through the same work queue as the events. It is the safety net for missed events and
//! how the periodic controls (SageMaker.1, .4, .8) are honoured.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::event::TriggerSource;
use crate::domain::resource::{ResourceKind, ResourceRef};
use crate::service::metrics::SourceLabel;
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

/// Lists everything in scope and queues it. Returns how many resources were queued.
pub async fn sweep(ctx: &Service, queue: &WorkQueue<ResourceRef>) -> usize {
    let policy = ctx.policy.get();
    let regions = if policy.scope.regions.is_empty() {
        vec![ctx.default_region.clone()]
    } else {
        policy.scope.regions.clone()
    };
    let mut queued = 0;
    let triggers = ctx
        .metrics
        .triggers
        .get_or_create(&SourceLabel {
            source: "resync".into(),
        })
        .clone();
    let mut failed = false;
    // The guard's own account, or every account of the list in scope, each in its own regions.
    let pairs = ctx.edge.reach().targets(&policy, &regions);
    for (account, region) in &pairs {
        let Some(observer) = ctx.edge.observer_in(account.as_deref(), region) else {
            continue;
        };
        for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
            let listed = match observer.list(kind).await {
                Ok(l) => l,
                Err(e) => {
                    failed = true;
                    tracing::error!(account = account.as_deref().unwrap_or(""), region, kind = %kind, error = %e, "resync cannot list");
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
                key.region = Some(region.clone());
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
                queued += 1;
            }
        }
    }
    ctx.metrics
        .count_resync(if failed { "incomplete" } else { "done" });
    tracing::info!(queued, targets = pairs.len(), regions = ?regions, complete = !failed, "resync queued every resource in scope");
    queued
}
