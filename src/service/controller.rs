//! The reconcile function of the `run` service, and what it shares: the policy in force, the
//! per-region readers, the metrics, and the waiters that tie a reconcile back to the messages
//! that asked for it.
//!
//! Reconcile is level-triggered: observe -> evaluate -> plan -> act -> outcome. The trigger only
//! says which resource to look at; the resource is always read live. Acting carries out the next
//! step of the plan the live state allows ([`crate::aws::remediate`]); a transition under way asks for
//! a look again later.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::config::Region;
use jiff::Timestamp;
use tokio::sync::oneshot;

use crate::aws::intent_store::IntentQueue;
use crate::aws::observe::{AwsError, Observer};
use crate::aws::recreate::IntentState;
use crate::domain::assess::assess;
use crate::domain::event::TriggerSource;
use crate::domain::execution::ExecutionResult;
use crate::domain::intent::RecreateIntent;
use crate::domain::policy::{self, Policy, PolicyErrors};
use crate::domain::resource::{NotebookStatus, ResourceRef};
use crate::service::metrics::{ActionLabels, ApiCallCounter, Metrics, ResultLabel, VerdictLabels};
use crate::service::workqueue::Action;

/// The policy in force. A reload replaces it for the next reconcile; one in progress keeps the
/// policy it started with.
pub struct PolicyHolder {
    path: PathBuf,
    current: RwLock<Arc<Policy>>,
}

impl PolicyHolder {
    pub fn load(path: PathBuf) -> Result<Self, PolicyErrors> {
        let policy = policy::load_file(&path)?;
        Ok(PolicyHolder {
            path,
            current: RwLock::new(Arc::new(policy)),
        })
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

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub policy: PolicyHolder,
    pub metrics: Arc<Metrics>,
    pub waiters: Waiters,
    /// Remediations per account in the last hour.
    pub blast_radius: crate::aws::gate::BlastRadius,
    /// Spaces mutating calls per account and region.
    pub pacer: crate::aws::gate::Pacer,
    /// The command's `--dry-run`.
    pub dry_run: bool,
    /// The region of keys that name none.
    pub default_region: String,
    /// How soon a resource in a transition is looked at again.
    pub settle: Duration,
    /// Where recreate intents are stored (the service's queue); without one, no recreate.
    pub intents: Option<IntentQueue>,
    sdk_config: aws_config::SdkConfig,
    observers: Mutex<HashMap<String, Observer>>,
    importers: Mutex<HashMap<String, crate::aws::finding::FindingsImporter>>,
    buses: Mutex<HashMap<String, aws_sdk_eventbridge::Client>>,
    /// What was last imported for each finding id, so an unchanged finding is not imported
    /// again on every look (per process: a restart imports each once more).
    imported: Mutex<HashMap<String, String>>,
}

impl Context {
    pub fn new(
        policy: PolicyHolder,
        metrics: Arc<Metrics>,
        sdk_config: aws_config::SdkConfig,
        default_region: String,
        dry_run: bool,
    ) -> Self {
        Context {
            policy,
            metrics,
            waiters: Waiters::default(),
            blast_radius: crate::aws::gate::BlastRadius::default(),
            pacer: crate::aws::gate::Pacer::default(),
            dry_run,
            default_region,
            settle: crate::domain::execution::SETTLE_DELAY,
            intents: None,
            sdk_config,
            observers: Mutex::new(HashMap::new()),
            importers: Mutex::new(HashMap::new()),
            buses: Mutex::new(HashMap::new()),
            imported: Mutex::new(HashMap::new()),
        }
    }

    /// The Security Hub importer of a region, made once and counted by the metrics.
    pub fn importer(&self, region: &str) -> crate::aws::finding::FindingsImporter {
        let mut importers = self
            .importers
            .lock()
            .expect("the importers lock is never poisoned");
        importers
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_securityhub::config::Builder::from(&self.sdk_config)
                    .region(aws_sdk_securityhub::config::Region::new(region.to_string()))
                    .interceptor(ApiCallCounter::new(Arc::clone(&self.metrics)))
                    .build();
                crate::aws::finding::FindingsImporter::new(aws_sdk_securityhub::Client::from_conf(
                    config,
                ))
            })
            .clone()
    }

    /// Publishes a remediation outcome on the policy's bus: source `sagemaker-guard`, one
    /// detail-type per outcome (`Remediation Applied`, `Remediation Rate Limited`,
    /// `Remediation Unsupported`, `Remediation Stuck`), so teams route notifications their own way.
    async fn publish(
        &self,
        bus: &str,
        region: &str,
        resource_arn: &str,
        e: &crate::domain::execution::Execution,
        detail: serde_json::Value,
    ) -> Result<(), AwsError> {
        // Said once, when the mark goes on; the looks until the time comes say nothing.
        if e.result == ExecutionResult::Scheduled && e.done.is_empty() {
            return Ok(());
        }
        let Some(detail_type) = e.result.event_detail_type() else {
            return Ok(());
        };
        let client = {
            let mut buses = self.buses.lock().expect("the buses lock is never poisoned");
            buses
                .entry(region.to_string())
                .or_insert_with(|| {
                    let config = aws_sdk_eventbridge::config::Builder::from(&self.sdk_config)
                        .region(aws_sdk_eventbridge::config::Region::new(region.to_string()))
                        .interceptor(ApiCallCounter::new(Arc::clone(&self.metrics)))
                        .build();
                    aws_sdk_eventbridge::Client::from_conf(config)
                })
                .clone()
        };
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source("sagemaker-guard")
            .detail_type(detail_type)
            .resources(resource_arn)
            .detail(detail.to_string())
            .build();
        let out = client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("PutEvents", err))?;
        if out.failed_entry_count() > 0 {
            tracing::warn!(bus, detail_type, "EventBridge refused a remediation event");
        }
        Ok(())
    }

    /// Imports the findings whose content changed since this process last imported them.
    async fn report_findings(
        &self,
        findings: Vec<aws_sdk_securityhub::types::AwsSecurityFinding>,
        region: &str,
    ) -> Result<(), AwsError> {
        let signature = |f: &aws_sdk_securityhub::types::AwsSecurityFinding| {
            format!(
                "{:?}|{:?}|{:?}|{:?}",
                f.compliance().and_then(|c| c.status()),
                f.description(),
                f.product_fields(),
                f.record_state()
            )
        };
        let changed: Vec<_> = {
            let seen = self
                .imported
                .lock()
                .expect("the findings lock is never poisoned");
            findings
                .into_iter()
                .filter(|f| seen.get(f.id().unwrap_or_default()) != Some(&signature(f)))
                .collect()
        };
        if changed.is_empty() {
            return Ok(());
        }
        let signatures: Vec<(String, String)> = changed
            .iter()
            .map(|f| (f.id().unwrap_or_default().to_string(), signature(f)))
            .collect();
        let summary = self.importer(region).import(changed).await?;
        let failed: Vec<&str> = summary.failed.iter().map(|f| f.id.as_str()).collect();
        let mut seen = self
            .imported
            .lock()
            .expect("the findings lock is never poisoned");
        for (id, sig) in signatures {
            if !failed.contains(&id.as_str()) {
                seen.insert(id, sig);
            }
        }
        for f in &summary.failed {
            tracing::warn!(finding = %f.id, code = %f.code, message = %f.message, "Security Hub refused a finding");
        }
        Ok(())
    }

    /// What a reconcile's fixes may touch, with the reader of their region.
    fn effects<'a>(
        &'a self,
        observer: &'a Observer,
        policy: &'a Policy,
    ) -> crate::aws::gate::Effects<'a> {
        crate::aws::gate::Effects {
            pacer: &self.pacer,
            mutations_per_second: policy.remediation.mutations_per_second,
            client: observer.client(),
            settle: self.settle,
            intents: self.intents.as_ref(),
            policy: &policy.name,
        }
    }

    /// The reader of a region, made once and counted by the metrics.
    pub fn observer(&self, region: &str) -> Observer {
        let mut observers = self
            .observers
            .lock()
            .expect("the observers lock is never poisoned");
        observers
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_sagemaker::config::Builder::from(&self.sdk_config)
                    .region(Region::new(region.to_string()))
                    .interceptor(ApiCallCounter::new(Arc::clone(&self.metrics)))
                    .build();
                Observer::new(aws_sdk_sagemaker::Client::from_conf(config), region)
            })
            .clone()
    }
}

/// A reconcile that failed; the work queue retries it with back-off.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(AwsError);

/// Error codes that a retry does not fix.
fn is_pointless(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ValidationException"
            | "MissingArn"
    )
}

/// What a reconcile found and did: its one structured log event.
#[derive(Default)]
struct Record {
    result: &'static str,
    resource_arn: Option<String>,
    verdicts: Option<String>,
    plan: Option<String>,
    execution: Option<String>,
    error: Option<String>,
}

/// Reconciles one resource: reads it, judges it, plans, acts (for now: logs and counts the plan)
/// and answers the waiters that were present when it started.
pub async fn reconcile(key: ResourceRef, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let waiters = ctx.waiters.take(&key);
    let mut sources: Vec<&str> = waiters.iter().map(|w| w.source.label()).collect();
    sources.sort_unstable();
    sources.dedup();
    if sources.is_empty() {
        sources.push("requeue");
    }
    let policy = ctx.policy.get();
    let region = key
        .region
        .clone()
        .unwrap_or_else(|| ctx.default_region.clone());
    let dry_run = ctx.dry_run || policy.dry_run;
    // Several messages may carry intents for one notebook: the newest one is followed; the
    // others settle with it (each finds the notebook recreated, or obsolete, in its turn).
    let intent = waiters
        .iter()
        .filter_map(|w| w.intent.as_deref())
        .max_by(|a, b| a.id.cmp(&b.id))
        .cloned();

    ctx.metrics.reconciles_in_flight.inc();
    let (record, outcome, intent_outcome, ret) =
        match observe_and_judge(&ctx, &policy, &key, &region, dry_run, intent.as_ref()).await {
            Ok((record, action, intent_outcome)) => {
                (record, Outcome::Done, intent_outcome, Ok(action))
            }
            Err(e) if is_pointless(&e) => (
                Record {
                    result: "error",
                    error: Some(e.to_string()),
                    ..Record::default()
                },
                Outcome::Pointless(e.to_string()),
                None,
                Ok(Action::await_change()),
            ),
            Err(e) => (
                Record {
                    result: "retry",
                    error: Some(e.to_string()),
                    ..Record::default()
                },
                Outcome::Retry(e.to_string()),
                None,
                Err(ReconcileError(e)),
            ),
        };
    ctx.metrics.reconciles_in_flight.dec();
    let elapsed = started.elapsed();
    ctx.metrics
        .reconcile_duration
        .observe(elapsed.as_secs_f64());
    ctx.metrics
        .reconciles
        .get_or_create(&ResultLabel {
            result: record.result.to_string(),
        })
        .inc();
    tracing::info!(
        result = record.result,
        kind = %key.kind,
        resource = %key.name,
        account = key.account.as_deref().unwrap_or(""),
        region = %region,
        resource_arn = record.resource_arn.as_deref().unwrap_or(""),
        verdicts = record.verdicts.as_deref().unwrap_or("[]"),
        plan = record.plan.as_deref().unwrap_or("null"),
        execution = record.execution.as_deref().unwrap_or("null"),
        dry_run,
        trigger = %sources.join(","),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        error = record.error.as_deref().unwrap_or(""),
        "reconciled"
    );
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

/// Follows a recreate intent if a message brought one, then observe -> evaluate -> plan -> act.
///
/// A recreate intent is followed first: once the guard has deleted a notebook, finishing the
/// recreate comes before anything else, whatever the scope, the policy or dry-run say now,
/// because stopping there would lose the notebook. The answer for the intent's message is the
/// third value: done once it settled, later while it is under way.
async fn observe_and_judge(
    ctx: &Context,
    policy: &Policy,
    key: &ResourceRef,
    region: &str,
    dry_run: bool,
    intent: Option<&RecreateIntent>,
) -> Result<(Record, Action, Option<Outcome>), AwsError> {
    let mut intent_outcome = None;
    if let Some(intent) = intent {
        let observer = ctx.observer(&intent.region);
        let fx = ctx.effects(&observer, policy);
        let (e, state) = crate::aws::recreate::continue_intent(&observer, &fx, intent).await?;
        ctx.metrics
            .executed_actions
            .get_or_create(&ActionLabels {
                kind: crate::domain::plan::PlanKind::Recreate.as_str().to_string(),
                result: e.result.to_string(),
                dry_run: "false".to_string(),
            })
            .inc();
        if let Some(bus) = &policy.remediation.event_bus {
            let detail = serde_json::json!({
                "resourceArn": intent.arn,
                "resourceType": crate::domain::resource::ResourceKind::NotebookInstance.cfn_type(),
                "resourceName": intent.name,
                "account": intent.account,
                "region": intent.region,
                "controls": intent.controls,
                "intent": intent.id,
                "execution": e,
                "policy": intent.policy,
            });
            ctx.publish(bus, &intent.region, &intent.arn, &e, detail)
                .await?;
        }
        tracing::info!(
            notebook = %intent.name,
            intent = %intent.id,
            result = %e.result,
            done = %e.done.join("; "),
            notes = %e.notes.join("; "),
            "recreate intent"
        );
        match state {
            IntentState::Pending(d) => {
                let record = Record {
                    result: "recreating",
                    resource_arn: Some(intent.arn.clone()),
                    execution: serde_json::to_string(&e).ok(),
                    ..Record::default()
                };
                return Ok((record, Action::await_change(), Some(Outcome::Later(d))));
            }
            IntentState::Settled => intent_outcome = Some(Outcome::Done),
        }
    }
    let (record, action) = judge_and_act(ctx, policy, key, region, dry_run).await?;
    Ok((record, action, intent_outcome))
}

/// Observe -> evaluate -> plan -> act, for one key.
async fn judge_and_act(
    ctx: &Context,
    policy: &Policy,
    key: &ResourceRef,
    region: &str,
    dry_run: bool,
) -> Result<(Record, Action), AwsError> {
    let done = |result| {
        Ok((
            Record {
                result,
                ..Record::default()
            },
            Action::await_change(),
        ))
    };
    let in_scope = policy.scope.includes_region(region)
        && key
            .account
            .as_deref()
            .is_none_or(|a| policy.scope.includes_account(a));
    if !in_scope {
        return done("out-of-scope");
    }
    if !policy.judges(key.kind) {
        return done("not-judged");
    }
    let observer = ctx.observer(region);
    let Some(observed) = observer.observe_ref(key, policy).await? else {
        if !dry_run {
            if let Some(account) = key.account.as_deref() {
                let arn = crate::domain::resource::arn("aws", region, account, key.kind, &key.name);
                let fctx = crate::aws::finding::FindingContext::new(
                    account,
                    region,
                    "aws",
                    &policy.name,
                    Timestamp::now(),
                );
                let archived = policy
                    .controls_for(key.kind)
                    .map(|(id, _)| {
                        crate::aws::finding::archived_for_gone(&arn, key.kind, id, &fctx)
                    })
                    .collect();
                ctx.report_findings(archived, region).await?;
            }
        }
        return done("gone");
    };
    if !policy.scope.includes_account(&observed.account) {
        return done("out-of-scope");
    }
    // A notebook in a transition is looked at again once it has settled, without holding a
    // worker or a message.
    let settling = observed
        .notebook()
        .and_then(|nb| nb.status.as_ref())
        .is_some_and(|s| {
            matches!(
                s,
                NotebookStatus::Pending
                    | NotebookStatus::Stopping
                    | NotebookStatus::Updating
                    | NotebookStatus::Deleting
            )
        });
    let a = assess(observed, policy, Timestamp::now(), dry_run);
    for v in &a.verdicts {
        ctx.metrics
            .verdicts
            .get_or_create(&VerdictLabels {
                control: v.control.to_string(),
                status: v.status.as_str().to_string(),
            })
            .inc();
    }
    if let Some(plan) = &a.plan {
        // Acting on a plan is the remediation's job; until then every plan is only counted.
        ctx.metrics
            .planned_actions
            .get_or_create(&ActionLabels {
                kind: plan.kind.as_str().to_string(),
                result: "planned".to_string(),
                dry_run: plan.dry_run.to_string(),
            })
            .inc();
    }
    let restart_pending = a
        .resource
        .tags
        .as_ref()
        .is_some_and(|t| t.contains_key(crate::domain::marks::RESTART_TAG));
    let mut execution = None;
    let mut outcome = None;
    let mut requeue = settling.then_some(ctx.settle * 2);
    if a.plan.is_some() || restart_pending {
        let limit = policy.remediation.max_remediations_per_hour;
        let account = a.resource.account.clone();
        let fx = ctx.effects(&observer, policy);
        let e = crate::aws::remediate::carry_out(&fx, &a, || {
            ctx.blast_radius.allow(&account, limit, Timestamp::now())
        })
        .await?;
        if let Some(plan) = &a.plan {
            ctx.metrics
                .executed_actions
                .get_or_create(&ActionLabels {
                    kind: plan.kind.as_str().to_string(),
                    result: e.result.to_string(),
                    dry_run: plan.dry_run.to_string(),
                })
                .inc();
        }
        if let Some(d) = e.requeue_after {
            requeue = Some(requeue.map_or(d, |r| r.min(d)));
        }
        if let (Some(bus), Some(plan)) = (&policy.remediation.event_bus, &a.plan) {
            let detail = serde_json::json!({
                "resourceArn": a.resource.arn,
                "resourceType": a.resource.kind.cfn_type(),
                "resourceName": a.resource.name,
                "account": a.resource.account,
                "region": a.resource.region,
                "controls": plan.controls,
                "plan": plan,
                "execution": e,
                "policy": policy.name,
            });
            ctx.publish(bus, region, &a.resource.arn, &e, detail)
                .await?;
        }
        execution = serde_json::to_string(&e).ok();
        outcome = Some(format!("{}: {}", e.result, e.done.join("; ")));
    }
    if !dry_run {
        let mut fctx = crate::aws::finding::FindingContext::new(
            &a.resource.account,
            region,
            "aws",
            &policy.name,
            Timestamp::now(),
        );
        fctx.outcome = outcome;
        let findings = crate::aws::finding::to_file(&a, policy, &fctx);
        ctx.report_findings(findings, region).await?;
    }
    let record = Record {
        result: if a.failed() {
            "noncompliant"
        } else {
            "compliant"
        },
        resource_arn: Some(a.resource.arn.clone()),
        verdicts: serde_json::to_string(&a.verdicts).ok(),
        plan: a.plan.as_ref().and_then(|p| serde_json::to_string(p).ok()),
        execution,
        error: None,
    };
    let action = match requeue {
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    };
    Ok((record, action))
}
