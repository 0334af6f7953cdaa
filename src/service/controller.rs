//! The decision of the `run` service, split as kube-runtime splits it: [`reconcile`] owns what to
//! do about one resource, [`error_policy`] owns whether a failure is worth retrying. Everything
//! else (the waiters, the metrics and log line of each reconcile, queueing, back-off, shutdown)
//! is the runtime's (`runtime`, `workqueue`).
//!
//! Reconcile is level-triggered: the trigger only says which resource to look at; the resource
//! is always read live, and [`crate::converge`] takes the next safe step.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::aws::error::AwsError;
use crate::converge::{converge, Edge, Look};
use crate::domain::intent::RecreateIntent;
use crate::domain::policy::{self, Policy, PolicyErrors};
use crate::domain::resource::ResourceRef;
use crate::service::metrics::{ActionLabels, Metrics, VerdictLabels};
use crate::service::workqueue::Action;

/// The policy in force. A reload replaces it for the next reconcile; one in progress keeps the
/// policy it started with.
pub struct PolicyHolder {
    path: PathBuf,
    current: RwLock<Arc<Policy>>,
    /// The file's contents when last read, valid or not: a change on disk is a new version.
    seen: std::sync::Mutex<Option<Vec<u8>>>,
}

impl PolicyHolder {
    pub fn load(path: PathBuf) -> Result<Self, PolicyErrors> {
        let seen = std::fs::read(&path).ok();
        let policy = policy::load_file(&path)?;
        Ok(PolicyHolder {
            path,
            current: RwLock::new(Arc::new(policy)),
            seen: std::sync::Mutex::new(seen),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the file holds something else than when last read (a Kubernetes ConfigMap
    /// update swaps a symlink: the path is read, so that is seen too). A file that cannot be
    /// read is not a change: the policy in force stays.
    pub fn changed_on_disk(&self) -> bool {
        let Ok(now) = std::fs::read(&self.path) else {
            return false;
        };
        let mut seen = self.seen.lock().expect("the policy lock is never poisoned");
        if seen.as_deref() == Some(now.as_slice()) {
            return false;
        }
        *seen = Some(now);
        true
    }

    pub fn get(&self) -> Arc<Policy> {
        Arc::clone(
            &self
                .current
                .read()
                .expect("the policy lock is never poisoned"),
        )
    }

    /// Reads the file again. An invalid policy is refused and the old one kept.
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyErrors> {
        let policy = Arc::new(policy::load_file(&self.path)?);
        *self
            .current
            .write()
            .expect("the policy lock is never poisoned") = Arc::clone(&policy);
        Ok(policy)
    }
}

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub policy: PolicyHolder,
    pub metrics: Arc<Metrics>,
    /// The AWS clients, the gate, the intent store and the findings filed.
    pub edge: Edge,
    /// The command's `--dry-run`.
    pub dry_run: bool,
    /// The region of keys that name none.
    pub default_region: String,
}

/// A reconcile that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading or changing AWS failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What error_policy decides about a failed reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorAction {
    /// A retry may succeed (throttling, a 5xx, a timeout): back off and try again; the messages
    /// that asked are released to come back.
    Retry,
    /// Retrying cannot help (access denied, an invalid request): the messages are settled, the
    /// error logged; the resync looks again.
    GiveUp,
}

/// What a reconcile found and did.
pub struct Reconciled {
    pub action: Action,
    pub look: Look,
    pub dry_run: bool,
}

/// Reconciles one resource: one look ([`converge`]), following the recreate intent a message
/// brought, if any. Counts what it judged and did.
pub async fn reconcile(
    key: &ResourceRef,
    intent: Option<&RecreateIntent>,
    ctx: &Context,
) -> Result<Reconciled, ReconcileError> {
    let policy = ctx.policy.get();
    let dry_run = ctx.dry_run || policy.dry_run;
    // Boxed: a look's future is large (it holds the SDK calls' futures).
    let look = Box::pin(converge(
        &ctx.edge,
        &policy,
        key,
        &ctx.default_region,
        intent,
        dry_run,
    ))
    .await?;
    count(&ctx.metrics, &look);
    let action = match look.requeue_after {
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    };
    Ok(Reconciled {
        action,
        look,
        dry_run,
    })
}

/// Whether a failed reconcile is retried: decided from the kind of the failure alone.
pub fn error_policy(_key: &ResourceRef, error: &ReconcileError, _ctx: &Context) -> ErrorAction {
    match error {
        ReconcileError::Aws(e) if e.kind.is_retryable() => ErrorAction::Retry,
        ReconcileError::Aws(_) => ErrorAction::GiveUp,
    }
}

/// The verdicts, plans and executions of a look, as metrics.
fn count(metrics: &Metrics, look: &Look) {
    if let Some(i) = &look.intent {
        metrics
            .executed_actions
            .get_or_create(&ActionLabels {
                kind: crate::domain::plan::PlanKind::Recreate.as_str().to_string(),
                result: i.execution.result.to_string(),
                dry_run: "false".to_string(),
            })
            .inc();
    }
    let Some(a) = &look.assessment else {
        return;
    };
    for v in &a.verdicts {
        metrics
            .verdicts
            .get_or_create(&VerdictLabels {
                control: v.control.to_string(),
                status: v.status.as_str().to_string(),
            })
            .inc();
    }
    if let Some(plan) = &a.plan {
        metrics
            .planned_actions
            .get_or_create(&ActionLabels {
                kind: plan.kind.as_str().to_string(),
                result: "planned".to_string(),
                dry_run: plan.dry_run.to_string(),
            })
            .inc();
        if let Some(e) = &look.execution {
            metrics
                .executed_actions
                .get_or_create(&ActionLabels {
                    kind: plan.kind.as_str().to_string(),
                    result: e.result.to_string(),
                    dry_run: plan.dry_run.to_string(),
                })
                .inc();
        }
    }
}
