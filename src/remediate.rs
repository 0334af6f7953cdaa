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
//!   delete; the intent drives the rest ([`crate::recreate`]).
//!
//! - replacement endpoint config (SageMaker.4): [`crate::endpoint_config`].
//!
//! Every mutating call declares its IAM action ([`Mutation::permission`]), from which
//! `sagemaker-guard iam-policy` derives the least-privilege policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sagemaker::types::{RootAccess, Tag};
use aws_sdk_sagemaker::Client;
use jiff::Timestamp;
use serde::Serialize;

use crate::assess::Assessment;
use crate::observe::AwsError;
use crate::plan::{Plan, PlanKind, Setting, Step};
use crate::recreate::{failpoint, IntentQueue, RecreateIntent};
use crate::resource::{NotebookStatus, Observed};

/// The tag that remembers a notebook was running before the guard stopped it to fix it.
pub const RESTART_TAG: &str = "sagemaker-guard/restart";

/// How soon a notebook in a transition is looked at again, unless configured otherwise.
pub const SETTLE_DELAY: Duration = Duration::from_secs(15);

/// A fix whose notebook is still in a transition this long after the guard stopped it is
/// reported `stuck` (notebooks have been seen in Stopping for hours).
pub const STUCK_AFTER: Duration = Duration::from_secs(30 * 60);

/// A change the guard makes, with the IAM action it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    AddTags,
    DeleteTags,
    StopNotebookInstance,
    UpdateNotebookInstance,
    StartNotebookInstance,
    DeleteNotebookInstance,
    CreateNotebookInstance,
    CreateEndpointConfig,
    UpdateEndpoint,
}

impl Mutation {
    pub const ALL: [Mutation; 9] = [
        Mutation::AddTags,
        Mutation::DeleteTags,
        Mutation::StopNotebookInstance,
        Mutation::UpdateNotebookInstance,
        Mutation::StartNotebookInstance,
        Mutation::DeleteNotebookInstance,
        Mutation::CreateNotebookInstance,
        Mutation::CreateEndpointConfig,
        Mutation::UpdateEndpoint,
    ];

    pub fn permission(self) -> &'static str {
        match self {
            Mutation::AddTags => "sagemaker:AddTags",
            Mutation::DeleteTags => "sagemaker:DeleteTags",
            Mutation::StopNotebookInstance => "sagemaker:StopNotebookInstance",
            Mutation::UpdateNotebookInstance => "sagemaker:UpdateNotebookInstance",
            Mutation::StartNotebookInstance => "sagemaker:StartNotebookInstance",
            Mutation::DeleteNotebookInstance => "sagemaker:DeleteNotebookInstance",
            Mutation::CreateNotebookInstance => "sagemaker:CreateNotebookInstance",
            Mutation::CreateEndpointConfig => "sagemaker:CreateEndpointConfig",
            Mutation::UpdateEndpoint => "sagemaker:UpdateEndpoint",
        }
    }
}

/// What carrying a plan out did this time.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// `applied` (something changed), `in-progress` (waiting for a transition), `stuck` (a
    /// transition outlasted [`STUCK_AFTER`]; still looked at again), `scheduled` (marked for a
    /// recreate after the grace period), `deferred` (a recreate waits for its users to stop the
    /// notebook), `recreated` (a recreate finished), `dry-run`, `nothing-to-do`, `rate-limited`
    /// (over maxRemediationsPerHour), `unsupported` (a step the guard cannot carry out here:
    /// nothing changed).
    pub result: &'static str,
    /// What was done, in the plan's words.
    pub done: Vec<String>,
    /// Look again after this long (a transition is under way).
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_opt")]
    pub requeue_after: Option<Duration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The recreate intent stored before a delete; whoever holds it finishes the recreate.
    #[serde(skip)]
    pub intent: Option<Box<RecreateIntent>>,
}

mod humantime_opt {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime::format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}

impl Execution {
    pub fn new(result: &'static str) -> Self {
        Execution {
            result,
            done: Vec::new(),
            requeue_after: None,
            notes: Vec::new(),
            intent: None,
        }
    }
}

/// Spaces mutating calls per account and region, so that fixing many resources at once never
/// crowds out the account's own use of the API. Shared by every fix of a process.
#[derive(Default)]
pub struct Pacer(Mutex<HashMap<(String, String), tokio::time::Instant>>);

impl Pacer {
    /// Waits for the next free slot of `account` in `region`, at `per_second` calls a second.
    pub async fn wait(&self, account: &str, region: &str, per_second: u32) {
        let interval = Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)));
        let slot = {
            let mut next = self.0.lock().expect("the pacer lock is never poisoned");
            let now = tokio::time::Instant::now();
            let free = next
                .entry((account.to_string(), region.to_string()))
                .or_insert(now);
            let slot = (*free).max(now);
            *free = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// What carrying a plan out may touch.
#[derive(Clone, Copy)]
pub struct Effects<'a> {
    /// Spaces the mutating calls.
    pub pacer: &'a Pacer,
    /// Mutating calls per second per account and region.
    pub mutations_per_second: u32,
    pub client: &'a Client,
    /// How soon a resource in a transition is looked at again.
    pub settle: Duration,
    /// Where a recreate's captured configuration is stored before the delete; without one, no
    /// recreate is done.
    pub intents: Option<&'a IntentQueue>,
    /// The guard policy's name, recorded in intents.
    pub policy: &'a str,
}

impl Effects<'_> {
    /// Waits until a mutating call on a resource of `account` in `region` may go.
    pub async fn pace(&self, account: &str, region: &str) {
        self.pacer
            .wait(account, region, self.mutations_per_second)
            .await;
    }
}

/// Remediations per account in the last hour: beyond the policy's `maxRemediationsPerHour`, a
/// fix becomes a finding. Per process: with several replicas, each counts its own.
#[derive(Default)]
pub struct BlastRadius(Mutex<HashMap<String, Vec<Timestamp>>>);

impl BlastRadius {
    /// Records a remediation of `account` at `now` if the limit allows it.
    pub fn allow(&self, account: &str, limit: u32, now: Timestamp) -> bool {
        let mut map = self
            .0
            .lock()
            .expect("the blast radius lock is never poisoned");
        let recent = map.entry(account.to_string()).or_default();
        let hour_ago = now - jiff::SignedDuration::from_hours(1);
        recent.retain(|t| *t > hour_ago);
        if recent.len() >= limit as usize {
            return false;
        }
        recent.push(now);
        true
    }
}

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
            Ok(Execution::new("nothing-to-do"))
        };
    };
    if plan.dry_run {
        let mut e = Execution::new("dry-run");
        e.notes.push("dry-run: nothing changed".into());
        return Ok(e);
    }
    let mut e = Execution::new("nothing-to-do");
    // Tags first: cheap, and never destructive.
    for step in &plan.steps {
        match step {
            Step::AddTags(tags) => {
                add_tags(fx, r, tags).await?;
                e.done.push(step.to_string());
                e.result = "applied";
            }
            Step::RemoveTags(keys) => {
                delete_tags(fx, r, keys).await?;
                e.done.push(step.to_string());
                e.result = "applied";
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
            crate::endpoint_config::replace(fx, a, plan, allow_remediation, &mut e).await?;
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
            e.result = "applied";
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
    e.result = "rate-limited";
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
    e.result = "applied";
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
        e.result = "stuck";
        e.notes.push(format!(
            "the notebook has been {} since {} (more than {}): the fix waits; look at it",
            status.as_str(),
            since.map(|t| t.to_string()).unwrap_or_default(),
            humantime::format_duration(STUCK_AFTER)
        ));
    } else {
        if e.result == "nothing-to-do" {
            e.result = "in-progress";
        }
        e.notes
            .push(format!("waiting while the notebook is {}", status.as_str()));
    }
    e.requeue_after = Some(fx.settle);
}

/// Stop-and-recreate, up to the delete: the grace period, `onlyWhenStopped`, stop, capture,
/// store the intent, delete. What follows the delete is the intent's ([`crate::recreate`]).
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
                if e.result == "nothing-to-do" || e.result == "applied" {
                    e.result = "scheduled";
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
                if e.result == "nothing-to-do" {
                    e.result = "deferred";
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
        if e.result == "nothing-to-do" {
            e.result = "unsupported";
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
            let intent = match crate::recreate::capture(a, plan, fx.policy, now) {
                Ok(intent) => intent,
                Err(why) => {
                    e.notes.push(format!(
                        "cannot capture the notebook ({why}): nothing deleted"
                    ));
                    if e.result == "nothing-to-do" {
                        e.result = "unsupported";
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
            e.result = "applied";
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
    let mut e = Execution::new("in-progress");
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
            e.result = "applied";
            e.requeue_after = Some(fx.settle);
        }
        Some(NotebookStatus::InService) => {
            delete_tags(fx, r, &[RESTART_TAG.to_string()]).await?;
            e.done.push(format!("remove tags {RESTART_TAG}"));
            e.result = "applied";
        }
        Some(NotebookStatus::Failed) | Some(NotebookStatus::Deleting) | None => {
            delete_tags(fx, r, &[RESTART_TAG.to_string()]).await.ok();
            e.result = "nothing-to-do";
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

/// The least-privilege IAM policy for a guard policy: reading what its controls judge, and the
/// mutations its actions may make.
pub fn iam_policy(policy: &crate::policy::Policy) -> serde_json::Value {
    use crate::policy::Action;
    use crate::resource::ResourceKind;
    let mut read: Vec<&str> = Vec::new();
    for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
        read.extend(match kind {
            ResourceKind::NotebookInstance => [
                "sagemaker:ListNotebookInstances",
                "sagemaker:DescribeNotebookInstance",
            ],
            ResourceKind::EndpointConfig => [
                "sagemaker:ListEndpointConfigs",
                "sagemaker:DescribeEndpointConfig",
            ],
            ResourceKind::Model => ["sagemaker:ListModels", "sagemaker:DescribeModel"],
            ResourceKind::Image => ["sagemaker:ListImages", "sagemaker:DescribeImage"],
            ResourceKind::AppImageConfig => [
                "sagemaker:ListAppImageConfigs",
                "sagemaker:DescribeAppImageConfig",
            ],
        });
        if policy.needs_tags(kind) {
            read.push("sagemaker:ListTags");
        }
    }
    let mut write: Vec<&str> = Vec::new();
    let any = |f: &dyn Fn(crate::catalogue::ControlId, Action) -> bool| {
        policy.controls.iter().any(|(id, s)| f(*id, s.action))
    };
    if any(&|_, a| a >= Action::Tag) {
        write.extend([
            Mutation::AddTags.permission(),
            Mutation::DeleteTags.permission(),
        ]);
    }
    if any(&|id, a| {
        a == Action::Remediate && id.control().fix == crate::catalogue::Fix::UpdateInPlace
    }) {
        write.extend([
            Mutation::StopNotebookInstance.permission(),
            Mutation::UpdateNotebookInstance.permission(),
            Mutation::StartNotebookInstance.permission(),
        ]);
    }
    let mut pass_role = false;
    if any(&|id, a| a == Action::Remediate && id.control().fix == crate::catalogue::Fix::Recreate) {
        write.extend([
            Mutation::AddTags.permission(),
            // The schedule and restart marks go again; a recreate cancelled after the stop
            // starts the notebook again.
            Mutation::DeleteTags.permission(),
            Mutation::StartNotebookInstance.permission(),
            Mutation::StopNotebookInstance.permission(),
            Mutation::DeleteNotebookInstance.permission(),
            Mutation::CreateNotebookInstance.permission(),
            // The recreate intent, stored on the service's queue before the delete.
            "sqs:SendMessage",
        ]);
        // CreateNotebookInstance passes the notebook's own role on to SageMaker.
        pass_role = true;
    }
    if any(&|id, a| {
        a == Action::Remediate && id.control().fix == crate::catalogue::Fix::ReplaceEndpointConfig
    }) {
        read.extend([
            "sagemaker:ListEndpoints",
            "sagemaker:DescribeEndpoint",
            "sagemaker:DescribeEndpointConfig",
        ]);
        write.extend([
            Mutation::AddTags.permission(),
            Mutation::CreateEndpointConfig.permission(),
            Mutation::UpdateEndpoint.permission(),
        ]);
    }
    if !policy.controls.is_empty() {
        // Every action files or archives findings (`run`).
        write.extend(crate::finding::PERMISSIONS);
    }
    if policy.remediation.event_bus.is_some() {
        write.push("events:PutEvents");
    }
    read.sort_unstable();
    read.dedup();
    write.sort_unstable();
    write.dedup();
    let mut statements = vec![serde_json::json!({
        "Sid": "SageMakerGuardRead", "Effect": "Allow", "Action": read, "Resource": "*"
    })];
    if !write.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardRemediate", "Effect": "Allow", "Action": write, "Resource": "*"
        }));
    }
    if pass_role {
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardPassNotebookRoles", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blast_radius_allows_the_limit_per_account_per_hour() {
        let b = BlastRadius::default();
        let t0: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        assert!(b.allow("a", 2, t0));
        assert!(b.allow("a", 2, t0));
        assert!(!b.allow("a", 2, t0), "the third in the hour");
        assert!(b.allow("b", 2, t0), "per account");
        let later = t0 + jiff::SignedDuration::from_mins(61);
        assert!(b.allow("a", 2, later), "an hour later");
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_calls_per_account_and_region() {
        let p = Pacer::default();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            p.wait("a", "us-east-1", 2).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1000),
            "the third at 1 s"
        );
        let t = tokio::time::Instant::now();
        p.wait("b", "us-east-1", 2).await;
        p.wait("a", "eu-west-1", 2).await;
        assert_eq!(
            t.elapsed(),
            Duration::ZERO,
            "other accounts and regions do not wait"
        );
    }

    #[test]
    fn the_iam_policy_follows_the_actions() {
        let load = |controls: &str| {
            crate::policy::load(
                "p.yaml",
                &format!("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  controls:\n{controls}"),
            )
            .unwrap()
        };
        let audit = iam_policy(&load("    SageMaker.5: {action: finding}\n"));
        assert_eq!(
            audit["Statement"][1]["Action"],
            serde_json::json!(["securityhub:BatchImportFindings"])
        );
        assert_eq!(
            audit["Statement"][0]["Action"],
            serde_json::json!(["sagemaker:DescribeModel", "sagemaker:ListModels"])
        );
        let fix = iam_policy(&load("    SageMaker.3: {action: remediate}\n"));
        let write = &fix["Statement"][1]["Action"];
        for p in [
            "sagemaker:StopNotebookInstance",
            "sagemaker:UpdateNotebookInstance",
            "sagemaker:StartNotebookInstance",
            "sagemaker:AddTags",
        ] {
            assert!(
                write.as_array().unwrap().iter().any(|a| a == p),
                "{p} in {write}"
            );
        }
        assert!(fix["Statement"][0]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "sagemaker:ListTags"));
        assert_eq!(fix["Statement"].as_array().unwrap().len(), 2, "no PassRole");

        let recreate = iam_policy(&load(
            "    SageMaker.1: {action: remediate}\n    SageMaker.4: {action: remediate}\n",
        ));
        let write = recreate["Statement"][1]["Action"].as_array().unwrap();
        for p in [
            "sagemaker:DeleteNotebookInstance",
            "sagemaker:CreateNotebookInstance",
            "sagemaker:StopNotebookInstance",
            "sqs:SendMessage",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:UpdateEndpoint",
        ] {
            assert!(write.iter().any(|a| a == p), "{p} in {write:?}");
        }
        let pass = &recreate["Statement"][2];
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "sagemaker.amazonaws.com"
        );
    }
}
