//! Remediation: carrying a plan out, one safe step per look, driven by the resource's live state.
//!
//! The plan is recomputed from a fresh read on every reconcile, so carrying it out is a
//! resumable state machine rather than a script: each call does the next step the live state
//! allows and says when to look again. No task sleeps through a transition, and a crash at any
//! point leaves something the next look continues from:
//!
//! - in-place fix (SageMaker.3, .8): InService -> mark `sagemaker-guard/restart` and stop;
//!   Pending, Stopping, Updating -> look again; Stopped -> one `UpdateNotebookInstance` with every
//!   fix; then, once it complies, a notebook carrying the restart mark is started and unmarked;
//! - tags: add missing required tags (never overwriting a value) and the guard's marks; remove the
//!   `sagemaker-guard/noncompliant` mark once the resource complies.
//!
//! - stop-and-recreate (SageMaker.1, .2): after the grace period (or at once within the fresh
//!   window), and with `onlyWhenStopped` only once its users stopped it: InService -> mark and
//!   stop; Stopped -> capture the whole configuration, store it durably as a recreate intent,
//!   delete; the intent drives the rest ([`crate::aws::recreate`]).
//!
//! - replacement endpoint config (SageMaker.4): [`crate::aws::endpoint_config`].
//!
//! Every mutating call declares its IAM action ([`Mutation::permission`]), from which
//! `sagemaker-guard iam-policy` derives the least-privilege policy.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::types::{RootAccess, Tag};
use jiff::Timestamp;

use crate::aws::gate::{failpoint, Effects};
use crate::aws::observe::AwsError;
use crate::domain::assess::Assessment;
use crate::domain::execution::{Execution, ExecutionResult, STUCK_AFTER};
use crate::domain::marks::RESTART_TAG;
use crate::domain::plan::{Plan, PlanKind, Setting, Step};
use crate::domain::resource::{NotebookStatus, Observed};

/// Carries out the next step of `a`'s plan that the live state allows. `allow_remediation`
/// is asked once before a fix starts (the blast radius); tags never count against it.
pub async fn carry_out(
    fx: &Effects<'_>,
    a: &Assessment,
    allow_remediation: impl FnOnce() -> bool,
) -> Result<Execution, AwsError> {
    let r = &a.resource;
    let restart_pending = r.tags.as_ref().is_some_and(|t| t.contains_key(RESTART_TAG));
    let Some(plan) = &a.plan else {
        return if restart_pending {
            restore_running_state(fx, a).await
        } else {
            Ok(Execution::new(ExecutionResult::NothingToDo))
        };
    };
    if plan.dry_run {
        let mut e = Execution::new(ExecutionResult::DryRun);
        e.notes.push("dry-run: nothing changed".into());
        return Ok(e);
    }
    let mut e = Execution::new(ExecutionResult::NothingToDo);
    // Tags first: cheap, and never destructive.
    for step in &plan.steps {
        match step {
            Step::AddTags(tags) => {
                add_tags(fx, r, tags).await?;
                e.done.push(step.to_string());
                e.result = ExecutionResult::Applied;
            }
            Step::RemoveTags(keys) => {
                delete_tags(fx, r, keys).await?;
                e.done.push(step.to_string());
                e.result = ExecutionResult::Applied;
            }
            _ => {}
        }
    }
    match plan.kind {
        PlanKind::UpdateInPlace => {
            let settings = plan.steps.iter().find_map(|s| match s {
                Step::Update(settings) => Some(settings.clone()),
                _ => None,
            });
            if let Some(settings) = settings {
                fix_in_place(
                    fx,
                    a,
                    plan,
                    &settings,
                    restart_pending,
                    allow_remediation,
                    &mut e,
                )
                .await?;
            }
        }
        PlanKind::Recreate => {
            recreate(fx, a, plan, restart_pending, allow_remediation, &mut e).await?;
        }
        PlanKind::ReplaceEndpointConfig => {
            crate::aws::endpoint_config::replace(fx, a, plan, allow_remediation, &mut e).await?;
        }
        _ if restart_pending => return restore_running_state(fx, a).await,
        _ => {}
    }
    Ok(e)
}

/// The in-place fix, one step per look: stop, update, and (later, once it complies) start.
async fn fix_in_place(
    fx: &Effects<'_>,
    a: &Assessment,
    plan: &Plan,
    settings: &[Setting],
    restart_pending: bool,
    allow_remediation: impl FnOnce() -> bool,
    e: &mut Execution,
) -> Result<(), AwsError> {
    let client = fx.client;
    let r = &a.resource;
    let Some(status) = r.notebook().and_then(|nb| nb.status.clone()) else {
        e.notes
            .push("the notebook's status is unknown: nothing changed".into());
        return Ok(());
    };
    let name = r.name.as_str();
    match status {
        NotebookStatus::InService => {
            // Starting a fix is what the blast radius counts; resuming one is not.
            if !restart_pending && !allowed(allow_remediation, e) {
                return Ok(());
            }
            stop_for_fix(fx, a, e).await?;
        }
        NotebookStatus::Pending | NotebookStatus::Stopping | NotebookStatus::Updating => {
            wait_for_transition(fx, a, &status, e);
        }
        NotebookStatus::Stopped => {
            if !restart_pending && !allowed(allow_remediation, e) {
                return Ok(());
            }
            fx.pace(&r.account, &r.region).await;
            let mut req = client
                .update_notebook_instance()
                .notebook_instance_name(name);
            for s in settings {
                req = match s.name {
                    "RootAccess" => req.root_access(RootAccess::from(s.value.as_str())),
                    "PlatformIdentifier" => req.platform_identifier(&s.value),
                    "InstanceType" => req.instance_type(s.value.as_str().into()),
                    other => {
                        e.notes.push(format!(
                            "{other} cannot be updated in place: nothing changed"
                        ));
                        return Ok(());
                    }
                };
            }
            req.send()
                .await
                .map_err(|err| AwsError::from_sdk("UpdateNotebookInstance", err))?;
            e.done.push(
                plan.steps
                    .iter()
                    .find(|s| matches!(s, Step::Update(_)))
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            );
            e.result = ExecutionResult::Applied;
            e.requeue_after = Some(fx.settle);
        }
        other => {
            e.notes.push(format!(
                "the notebook is {}: nothing changed",
                other.as_str()
            ));
        }
    }
    Ok(())
}

/// Asks the blast radius; a refusal makes the fix a finding.
fn allowed(allow_remediation: impl FnOnce() -> bool, e: &mut Execution) -> bool {
    if allow_remediation() {
        return true;
    }
    e.result = ExecutionResult::RateLimited;
    e.notes
        .push("over maxRemediationsPerHour: a finding instead".into());
    false
}

/// Marks a running notebook (so that it is started again, whatever happens) and stops it.
async fn stop_for_fix(fx: &Effects<'_>, a: &Assessment, e: &mut Execution) -> Result<(), AwsError> {
    let r = &a.resource;
    let mut mark = BTreeMap::new();
    mark.insert(RESTART_TAG.to_string(), Timestamp::now().to_string());
    add_tags(fx, r, &mark).await?;
    fx.pace(&r.account, &r.region).await;
    fx.client
        .stop_notebook_instance()
        .notebook_instance_name(&r.name)
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("StopNotebookInstance", err))?;
    e.done.push("stop".into());
    e.result = ExecutionResult::Applied;
    e.requeue_after = Some(fx.settle);
    Ok(())
}

/// A transition is under way: look again. The restart mark dates the stop: a transition that
/// outlasts [`STUCK_AFTER`] is reported (finding, event) and still looked at again later.
fn wait_for_transition(
    fx: &Effects<'_>,
    a: &Assessment,
    status: &NotebookStatus,
    e: &mut Execution,
) {
    let since = a
        .resource
        .tags
        .as_ref()
        .and_then(|t| t.get(RESTART_TAG))
        .and_then(|v| v.parse::<Timestamp>().ok());
    let stuck = since.is_some_and(|t| {
        Timestamp::now().duration_since(t)
            > jiff::SignedDuration::from_secs(STUCK_AFTER.as_secs() as i64)
    });
    if stuck {
        e.result = ExecutionResult::Stuck;
        e.notes.push(format!(
            "the notebook has been {} since {} (more than {}): the fix waits; look at it",
            status.as_str(),
            since.map(|t| t.to_string()).unwrap_or_default(),
            humantime::format_duration(STUCK_AFTER)
        ));
    } else {
        if e.result == ExecutionResult::NothingToDo {
            e.result = ExecutionResult::InProgress;
        }
        e.notes
            .push(format!("waiting while the notebook is {}", status.as_str()));
    }
    e.requeue_after = Some(fx.settle);
}

/// Stop-and-recreate, up to the delete: the grace period, `onlyWhenStopped`, stop, capture,
/// store the intent, delete. What follows the delete is the intent's ([`crate::aws::recreate`]).
async fn recreate(
    fx: &Effects<'_>,
    a: &Assessment,
    plan: &Plan,
    restart_pending: bool,
    allow_remediation: impl FnOnce() -> bool,
    e: &mut Execution,
) -> Result<(), AwsError> {
    let r = &a.resource;
    let Some(status) = r.notebook().and_then(|nb| nb.status.clone()) else {
        e.notes
            .push("the notebook's status is unknown: nothing changed".into());
        return Ok(());
    };
    let now = Timestamp::now();
    for step in &plan.steps {
        match step {
            Step::WaitUntil(t) if now < *t => {
                if e.result == ExecutionResult::NothingToDo || e.result == ExecutionResult::Applied
                {
                    e.result = ExecutionResult::Scheduled;
                }
                e.notes.push(format!(
                    "recreate scheduled for {t}: the notebook is not fresh; an exemption or a fix before then cancels it"
                ));
                let wait = now.duration_until(*t).unsigned_abs();
                e.requeue_after = Some(wait.max(fx.settle));
                return Ok(());
            }
            Step::WaitForUserStop
                if !matches!(status, NotebookStatus::Stopped | NotebookStatus::Failed)
                    && !restart_pending =>
            {
                if e.result == ExecutionResult::NothingToDo {
                    e.result = ExecutionResult::Deferred;
                }
                e.notes.push(
                    "onlyWhenStopped: recreated once its users stop it (their stop brings the guard back)".into(),
                );
                return Ok(());
            }
            _ => {}
        }
    }
    // Checked before anything is stopped: without a store, the notebook is not touched.
    let Some(store) = fx.intents else {
        e.notes.push(
            "a recreate needs a durable store for the notebook's configuration: run the service, or pass --intent-queue-url; nothing changed".into(),
        );
        if e.result == ExecutionResult::NothingToDo {
            e.result = ExecutionResult::Unsupported;
        }
        return Ok(());
    };
    match status {
        NotebookStatus::InService => {
            if !restart_pending && !allowed(allow_remediation, e) {
                return Ok(());
            }
            stop_for_fix(fx, a, e).await
        }
        NotebookStatus::Pending | NotebookStatus::Stopping | NotebookStatus::Updating => {
            wait_for_transition(fx, a, &status, e);
            Ok(())
        }
        NotebookStatus::Stopped | NotebookStatus::Failed => {
            if !restart_pending && !allowed(allow_remediation, e) {
                return Ok(());
            }
            let intent = match crate::domain::intent::capture(a, plan, fx.policy, now) {
                Ok(intent) => intent,
                Err(why) => {
                    e.notes.push(format!(
                        "cannot capture the notebook ({why}): nothing deleted"
                    ));
                    if e.result == ExecutionResult::NothingToDo {
                        e.result = ExecutionResult::Unsupported;
                    }
                    return Ok(());
                }
            };
            // Durable first: only a stored intent lets the delete happen.
            store.store(&intent, Duration::ZERO).await?;
            e.done.push("capture configuration".into());
            failpoint("before-delete");
            fx.pace(&r.account, &r.region).await;
            fx.client
                .delete_notebook_instance()
                .notebook_instance_name(&r.name)
                .send()
                .await
                .map_err(|err| AwsError::from_sdk("DeleteNotebookInstance", err))?;
            e.done.push("delete".into());
            failpoint("after-delete");
            e.result = ExecutionResult::Applied;
            e.requeue_after = Some(fx.settle);
            e.intent = Some(Box::new(intent));
            Ok(())
        }
        other => {
            e.notes.push(format!(
                "the notebook is {}: nothing changed",
                other.as_str()
            ));
            Ok(())
        }
    }
}

/// After an in-place fix: start a notebook the guard stopped, then drop the mark.
async fn restore_running_state(fx: &Effects<'_>, a: &Assessment) -> Result<Execution, AwsError> {
    let client = fx.client;
    let r = &a.resource;
    let mut e = Execution::new(ExecutionResult::InProgress);
    match r.notebook().and_then(|nb| nb.status.clone()) {
        Some(NotebookStatus::Stopped) => {
            fx.pace(&r.account, &r.region).await;
            client
                .start_notebook_instance()
                .notebook_instance_name(&r.name)
                .send()
                .await
                .map_err(|err| AwsError::from_sdk("StartNotebookInstance", err))?;
            e.done.push("start".into());
            e.result = ExecutionResult::Applied;
            e.requeue_after = Some(fx.settle);
        }
        Some(NotebookStatus::InService) => {
            delete_tags(fx, r, &[RESTART_TAG.to_string()]).await?;
            e.done.push(format!("remove tags {RESTART_TAG}"));
            e.result = ExecutionResult::Applied;
        }
        Some(NotebookStatus::Failed) | Some(NotebookStatus::Deleting) | None => {
            delete_tags(fx, r, &[RESTART_TAG.to_string()]).await.ok();
            e.result = ExecutionResult::NothingToDo;
            e.notes
                .push("the notebook cannot be started again; its owner must look".into());
        }
        Some(_) => e.requeue_after = Some(fx.settle),
    }
    Ok(e)
}

async fn add_tags(
    fx: &Effects<'_>,
    r: &Observed,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    fx.pace(&r.account, &r.region).await;
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    fx.client
        .add_tags()
        .resource_arn(&r.arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("AddTags", err))?;
    Ok(())
}

async fn delete_tags(fx: &Effects<'_>, r: &Observed, keys: &[String]) -> Result<(), AwsError> {
    fx.pace(&r.account, &r.region).await;
    fx.client
        .delete_tags()
        .resource_arn(&r.arn)
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("DeleteTags", err))?;
    Ok(())
}
