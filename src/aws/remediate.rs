//! Remediation: carrying a plan out, one safe step at a time, through the gate.
//!
//! What to do is decided by the pure [`next_step`] from the plan and the live resource; this
//! module only performs the step it names, applies the step's effect to its copy of the
//! resource, and asks again, until the answer is to wait or nothing is left. What follows the
//! delete of a recreate is the intent's (`recreate`); the replacement of an endpoint config is
//! `endpoint_config`'s.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::types::{RootAccess, Tag};
use jiff::Timestamp;

use crate::aws::checks::{admitted, check_key};
use crate::aws::endpoint_config;
use crate::aws::gate::{failpoint, Effects, Mutation};
use crate::aws::observe::AwsError;
use crate::domain::assess::Assessment;
use crate::domain::execution::{Execution, ExecutionResult, STUCK_AFTER};
use crate::domain::intent::{capture, RecreateIntent, DELETE_WITHIN};
use crate::domain::marks::RESTART_TAG;
use crate::domain::next::{next_step, Capabilities, NextStep};
use crate::domain::plan::{PlanKind, Setting, Step};
use crate::domain::resource::Observed;

/// More steps than any plan has in one look: a bound against a step whose effect the next
/// decision does not see.
const MAX_STEPS_PER_LOOK: usize = 8;

/// Carries out the steps of `a`'s plan that the live state allows now, and says what it did and
/// when to look again.
pub async fn carry_out(fx: &Effects<'_>, a: &Assessment) -> Result<Execution, AwsError> {
    let mut live = a.resource.clone();
    let mut e = Execution::new(ExecutionResult::NothingToDo);
    if fx.dry_run {
        // The command's dry-run: not even a fix the guard began is finished.
        e.result = ExecutionResult::DryRun;
        e.notes.push("dry-run: nothing changed".into());
        return Ok(e);
    }
    let can = Capabilities {
        intent_store: fx.intents.is_some(),
        intent_key: fx.intents.is_some_and(|q| q.key.is_some()),
    };
    for _ in 0..MAX_STEPS_PER_LOOK {
        let step = next_step(a.plan.as_ref(), &live, Timestamp::now(), can);
        if !perform(fx, a, &mut live, step, &mut e).await? {
            return Ok(e);
        }
    }
    e.notes
        .push("more steps than expected in one look: the next look goes on".into());
    e.requeue_after = Some(fx.settle);
    Ok(e)
}

/// Performs one step. `true`: its effect is applied to `live` and the next step may follow in
/// this look; `false`: the look ends here (a transition began, or there is nothing to do now).
async fn perform(
    fx: &Effects<'_>,
    a: &Assessment,
    live: &mut Observed,
    step: NextStep,
    e: &mut Execution,
) -> Result<bool, AwsError> {
    match step {
        NextStep::Done => Ok(false),
        NextStep::DryRun => {
            e.result = ExecutionResult::DryRun;
            e.notes.push("dry-run: nothing changed".into());
            Ok(false)
        }
        NextStep::AddTags { tags } => {
            add_tags(fx, live, &tags).await?;
            e.done
                .push(Step::AddTags { tags: tags.clone() }.to_string());
            e.result = ExecutionResult::Applied;
            live.tags.get_or_insert_default().0.extend(tags);
            Ok(true)
        }
        NextStep::RemoveTags { keys } => {
            delete_tags(fx, live, &keys).await?;
            e.done
                .push(Step::RemoveTags { keys: keys.clone() }.to_string());
            e.result = ExecutionResult::Applied;
            if let Some(tags) = live.tags.as_mut() {
                tags.0.retain(|k, _| !keys.contains(k));
            }
            Ok(true)
        }
        NextStep::StopForFix { starts_fix } => {
            // A recreate that could not go on after the stop does not begin with one.
            if a.plan
                .as_ref()
                .is_some_and(|p| p.kind == PlanKind::Recreate)
            {
                let captured = Assessment {
                    resource: live.clone(),
                    ..a.clone()
                };
                let why = match capture(
                    &captured,
                    a.plan.as_ref().expect("checked"),
                    fx.policy,
                    Timestamp::now(),
                ) {
                    Err(why) => Some(format!("cannot capture the notebook ({why})")),
                    Ok(intent) => preflight(fx, &intent).await?,
                };
                if let Some(why) = why {
                    e.notes.push(format!("{why}: nothing changed"));
                    e.settle_on(ExecutionResult::Unsupported);
                    return Ok(false);
                }
            }
            if starts_fix && !admitted(fx, live, e).await {
                return Ok(false);
            }
            let mut mark = BTreeMap::new();
            mark.insert(RESTART_TAG.to_string(), Timestamp::now().to_string());
            add_tags(fx, live, &mark).await?;
            fx.mutate(
                Mutation::StopNotebookInstance,
                &live.account,
                &live.region,
                fx.client
                    .stop_notebook_instance()
                    .notebook_instance_name(&live.name)
                    .send(),
            )
            .await?;
            transition_began(fx, e, "stop");
            Ok(false)
        }
        NextStep::Update {
            settings,
            starts_fix,
        } => {
            if starts_fix && !admitted(fx, live, e).await {
                return Ok(false);
            }
            let mut req = fx
                .client
                .update_notebook_instance()
                .notebook_instance_name(&live.name);
            for s in &settings {
                req = match s {
                    Setting::RootAccess(v) => req.root_access(RootAccess::from(v.as_str())),
                    Setting::PlatformIdentifier(v) => req.platform_identifier(v),
                    Setting::InstanceType(v) => req.instance_type(v.as_str().into()),
                    // next_step refuses these before an update.
                    other => unreachable!("{} is not updated in place", other.name()),
                };
            }
            fx.mutate(
                Mutation::UpdateNotebookInstance,
                &live.account,
                &live.region,
                req.send(),
            )
            .await?;
            transition_began(fx, e, &Step::Update { settings }.to_string());
            Ok(false)
        }
        NextStep::Start => {
            fx.mutate(
                Mutation::StartNotebookInstance,
                &live.account,
                &live.region,
                fx.client
                    .start_notebook_instance()
                    .notebook_instance_name(&live.name)
                    .send(),
            )
            .await?;
            transition_began(fx, e, "start");
            Ok(false)
        }
        NextStep::CaptureAndDelete { starts_fix } => {
            capture_and_delete(fx, a, live, starts_fix, e).await?;
            Ok(false)
        }
        NextStep::Reconfigure { settings } => {
            crate::aws::reconfigure::reconfigure(fx, live, settings, e).await?;
            Ok(false)
        }
        NextStep::ReplaceEndpointConfig {
            name,
            instance_count,
        } => {
            endpoint_config::replace(fx, a, &name, instance_count, e).await?;
            Ok(false)
        }
        NextStep::WaitForTransition { status, since } => {
            let stuck = since.is_some_and(|t| {
                Timestamp::now().duration_since(t)
                    > jiff::SignedDuration::from_secs(STUCK_AFTER.as_secs() as i64)
            });
            if stuck {
                e.result = ExecutionResult::Stuck;
                e.notes.push(format!(
                    "the notebook has been {status} since {} (more than {}): the fix waits; look at it",
                    since.map(|t| t.to_string()).unwrap_or_default(),
                    crate::domain::execution::for_people(STUCK_AFTER)
                ));
            } else {
                e.settle_on(ExecutionResult::InProgress);
                e.notes.push(format!(
                    "waiting while the {} is {status}",
                    live.kind.noun()
                ));
            }
            e.requeue_after = Some(fx.settle);
            Ok(false)
        }
        NextStep::WaitUntil { time } => {
            if matches!(
                e.result,
                ExecutionResult::NothingToDo | ExecutionResult::Applied
            ) {
                e.result = ExecutionResult::Scheduled;
            }
            e.notes.push(format!(
                "recreate scheduled for {time}: the notebook is not fresh; an exemption or a fix before then cancels it"
            ));
            let wait = Timestamp::now().duration_until(time).unsigned_abs();
            e.requeue_after = Some(wait.max(fx.settle));
            Ok(false)
        }
        NextStep::WaitForUserStop => {
            e.settle_on(ExecutionResult::Deferred);
            e.notes.push(
                "onlyWhenStopped: recreated once its users stop it (their stop brings the guard back)"
                    .into(),
            );
            Ok(false)
        }
        NextStep::Refuse {
            reason,
            unsupported,
        } => {
            if unsupported {
                e.settle_on(ExecutionResult::Unsupported);
            }
            e.notes.push(reason);
            Ok(false)
        }
        NextStep::GiveUpRestart { reason } => {
            // Best effort: the notebook may be going away.
            delete_tags(fx, live, &[RESTART_TAG.to_string()]).await.ok();
            e.notes.push(reason);
            Ok(false)
        }
    }
}

/// A mutation that begins a transition was made: look again once it may have ended.
fn transition_began(fx: &Effects<'_>, e: &mut Execution, what: &str) {
    e.done.push(what.to_string());
    e.result = ExecutionResult::Applied;
    e.requeue_after = Some(fx.settle);
}

/// Stop-and-recreate up to the delete: capture, store the intent durably, then delete. What
/// follows the delete is the intent's.
async fn capture_and_delete(
    fx: &Effects<'_>,
    a: &Assessment,
    live: &Observed,
    starts_fix: bool,
    e: &mut Execution,
) -> Result<(), AwsError> {
    let (Some(plan), Some(store)) = (a.plan.as_ref(), fx.intents) else {
        return Ok(());
    };
    let Some(key) = store.key.as_ref() else {
        return Ok(());
    };
    if starts_fix && !admitted(fx, live, e).await {
        return Ok(());
    }
    // The delete's pacing slot is taken before the intent is stored, so that no pacing queue
    // stands between the two: a replica may judge an intent stale after STALE_AFTER.
    fx.take_slot(&live.account, &live.region).await;
    let captured = Assessment {
        resource: live.clone(),
        ..a.clone()
    };
    let intent = match capture(&captured, plan, fx.policy, Timestamp::now()) {
        Ok(intent) => intent,
        Err(why) => {
            e.notes.push(format!(
                "cannot capture the notebook ({why}): nothing deleted"
            ));
            e.settle_on(ExecutionResult::Unsupported);
            return Ok(());
        }
    };
    if let Some(why) = preflight(fx, &intent).await? {
        e.notes.push(format!("{why}: nothing deleted"));
        e.settle_on(ExecutionResult::Unsupported);
        return Ok(());
    }
    let signature = key.sign(&intent).await?;
    // Durable first: only a stored intent lets the delete happen.
    fx.mutate(
        Mutation::StoreRecreateIntent,
        &live.account,
        &live.region,
        store.send_request(intent.to_message(&signature), Duration::ZERO),
    )
    .await?;
    let stored = std::time::Instant::now();
    e.done.push(Step::CaptureConfiguration.to_string());
    failpoint("before-delete");
    if stored.elapsed() > DELETE_WITHIN {
        // Too late to trust that no replica has dropped the intent as stale: no delete.
        e.notes.push(format!(
            "the delete did not follow the stored intent within {}: nothing deleted; the next look captures afresh",
            crate::domain::execution::for_people(DELETE_WITHIN)
        ));
        e.settle_on(ExecutionResult::InProgress);
        e.requeue_after = Some(fx.settle);
        return Ok(());
    }
    fx.mutate_now(
        Mutation::DeleteNotebookInstance,
        fx.client
            .delete_notebook_instance()
            .notebook_instance_name(&live.name)
            .send(),
    )
    .await?;
    e.done.push(Step::Delete.to_string());
    failpoint("after-delete");
    e.result = ExecutionResult::Applied;
    e.requeue_after = Some(fx.settle);
    e.intent = Some(Box::new(intent));
    Ok(())
}

/// What would make the create after the delete fail, where the API can tell before the delete:
/// `Some(why)` refuses the delete. (The tag count and the fields a create needs are checked by
/// the capture.)
async fn preflight(fx: &Effects<'_>, intent: &RecreateIntent) -> Result<Option<String>, AwsError> {
    if let Some(why) = check_new_key(fx, intent).await? {
        return Ok(Some(why));
    }
    if let Some(lc) = &intent.spec.lifecycle_config_name {
        let found = fx
            .client
            .describe_notebook_instance_lifecycle_config()
            .notebook_instance_lifecycle_config_name(lc)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeNotebookInstanceLifecycleConfig", e));
        match found {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                return Ok(Some(format!(
                    "its lifecycle configuration `{lc}` no longer exists, so the notebook could not be created again: restore it, or detach it from the notebook"
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// A recreate that gives the notebook a KMS key (SageMaker.21) checks first that the key exists
/// and is enabled: a create refused for its key would come after the delete, and leave the
/// notebook missing until the key is fixed.
async fn check_new_key(
    fx: &Effects<'_>,
    intent: &RecreateIntent,
) -> Result<Option<String>, AwsError> {
    match intent.fixes.iter().find_map(|s| match s {
        Setting::KmsKeyId(k) => Some(k),
        _ => None,
    }) {
        Some(key) => check_key(fx, key, &intent.account, &intent.region).await,
        None => Ok(None),
    }
}

async fn add_tags(
    fx: &Effects<'_>,
    r: &Observed,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    fx.mutate(
        Mutation::AddTags,
        &r.account,
        &r.region,
        fx.client
            .add_tags()
            .resource_arn(&r.arn)
            .set_tags(Some(tags))
            .send(),
    )
    .await?;
    Ok(())
}

async fn delete_tags(fx: &Effects<'_>, r: &Observed, keys: &[String]) -> Result<(), AwsError> {
    fx.mutate(
        Mutation::DeleteTags,
        &r.account,
        &r.region,
        fx.client
            .delete_tags()
            .resource_arn(&r.arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send(),
    )
    .await?;
    Ok(())
}
