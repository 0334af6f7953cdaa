//! Read-only runs: the sweep of everything in scope (`audit`), and the look at what one event
//! names (`evaluate`). Both observe live, assess, and report; neither changes anything.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use jiff::Timestamp;
use serde::Serialize;

use crate::assess::{assess, Assessment};
use crate::evaluate::Status;
use crate::event::{Decoded, Trigger, TriggerSource};
use crate::observe::{AwsError, Listed, Observer};
use crate::policy::Policy;
use crate::report::{Report, ResultRow, SweepError};
use crate::resource::{ResourceKind, ResourceRef};

/// Progress of a sweep, for the progress bar. Implemented by the CLI; tests pass `()`.
pub trait Progress: Sync {
    fn add_total(&self, _n: u64) {}
    fn advance(&self) {}
}

impl Progress for () {}

/// ERROR rows for every enabled control of a resource that could not be read.
fn error_rows(
    policy: &Policy,
    listed: &Listed,
    account: &str,
    region: &str,
    e: &AwsError,
) -> Vec<ResultRow> {
    policy
        .controls_for(listed.kind)
        .map(|(id, _)| ResultRow {
            control: id,
            resource_type: listed.kind.cfn_type(),
            resource_arn: listed.arn.clone(),
            resource_name: listed.name.clone(),
            account: account.to_string(),
            region: region.to_string(),
            status: Status::Error,
            reason: e.to_string(),
            action: None,
            severity: id.control().severity,
            exemption: None,
        })
        .collect()
}

/// Sweeps every resource of every kind an enabled control judges, in each region, and reports.
/// At most `concurrency` resources are read at once per region.
pub async fn sweep(
    policy: &Policy,
    regions: &[String],
    concurrency: usize,
    progress: &dyn Progress,
    apply: Option<&ApplyOptions>,
) -> Report {
    let now = Timestamp::now();
    let mut assessments: Vec<Assessment> = Vec::new();
    let mut error_results = Vec::new();
    let mut errors = Vec::new();
    let mut applied = Vec::new();
    let shared = match apply {
        Some(options) => Some(Shared::new(options).await),
        None => None,
    };
    for region in regions {
        let first_of_region = assessments.len();
        let observer = Observer::from_env(region).await;
        let mut listed = Vec::new();
        for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
            match observer.list(kind).await {
                Ok(found) => listed.extend(found),
                Err(e) => errors.push(SweepError::new(region, kind, e)),
            }
        }
        // Out of scope is never read further, let alone acted on.
        listed.retain(|l| {
            let account = ResourceRef::from_arn(&l.arn)
                .and_then(|r| r.account)
                .unwrap_or_default();
            policy.scope.includes_account(&account)
        });
        progress.add_total(listed.len() as u64);
        let observer = &observer;
        let mut reads = stream::iter(listed)
            .map(|l| async move {
                let result = observer.observe_listed(&l, policy).await;
                (l, result)
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((listed, result)) = reads.next().await {
            progress.advance();
            match result {
                Ok(Some(observed)) => {
                    assessments.push(assess(observed, policy, now, apply.is_none()))
                }
                // Deleted between the list and the read: nothing to judge.
                Ok(None) => {}
                Err(e) => {
                    let account = ResourceRef::from_arn(&listed.arn)
                        .and_then(|r| r.account)
                        .unwrap_or_default();
                    error_results.extend(error_rows(policy, &listed, &account, region, &e));
                }
            }
        }
        drop(reads);
        if let (Some(options), Some(shared)) = (apply, &shared) {
            applied.extend(
                apply_all(
                    observer,
                    &assessments[first_of_region..],
                    policy,
                    options,
                    shared,
                )
                .await,
            );
        }
    }
    let mut report = Report::new(&policy.name, &assessments, error_results, errors);
    report.applied = applied;
    report
}

/// How `--apply` runs.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Give up waiting for transitions after this long.
    pub timeout: std::time::Duration,
    /// How often a resource in transition is read again.
    pub poll: std::time::Duration,
    /// Resources fixed at once.
    pub concurrency: usize,
    /// Where recreate intents are stored; without one, no notebook is recreated.
    pub intent_queue_url: Option<String>,
}

impl Shared {
    /// What one `--apply` command shares across its regions and resources.
    pub async fn new(options: &ApplyOptions) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let intents = options
            .intent_queue_url
            .as_ref()
            .map(|url| crate::recreate::IntentQueue {
                sqs: aws_sdk_sqs::Client::new(&config),
                url: url.clone(),
            });
        Shared {
            blast: crate::remediate::BlastRadius::default(),
            pacer: crate::remediate::Pacer::default(),
            intents,
            config,
        }
    }
}

/// Converges every assessed resource that has something to do.
async fn apply_all(
    observer: &Observer,
    assessments: &[Assessment],
    policy: &Policy,
    options: &ApplyOptions,
    shared: &Shared,
) -> Vec<Applied> {
    let deadline = std::time::Instant::now() + options.timeout;
    let importer = crate::finding::FindingsImporter::new(aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::config::Builder::from(&shared.config)
            .region(aws_sdk_securityhub::config::Region::new(
                observer.region().to_string(),
            ))
            .build(),
    ));
    let importer = &importer;
    let pending = assessments.iter().filter(|a| {
        a.plan.is_some()
            || a.resource
                .tags
                .as_ref()
                .is_some_and(|t| t.contains_key(crate::remediate::RESTART_TAG))
    });
    stream::iter(pending)
        .map(|a| {
            converge(
                observer,
                a.clone(),
                policy,
                shared,
                Some(importer),
                deadline,
                options.poll,
            )
        })
        .buffered(options.concurrency.max(1))
        .filter(|applied| std::future::ready(!applied.executions.is_empty()))
        .collect()
        .await
}

/// What `evaluate` found for one resource an event named.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerOutcome {
    pub resource: ResourceRef,
    pub source: TriggerSource,
    /// `present` (judged below), `gone` (deleted: its findings can be archived),
    /// `out-of-scope` (not judged), `not-judged` (no enabled control judges its kind) or `error`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The JSON `evaluate` prints: the audit report's fields, plus what the event named.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReport {
    /// `evaluated` or `ignored`.
    pub outcome: &'static str,
    /// Why the event was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub triggers: Vec<TriggerOutcome>,
    #[serde(flatten)]
    pub report: Report,
}

impl EventReport {
    /// As the audit's, and 3 when a resource the event names could not be read.
    pub fn exit_code(&self) -> i32 {
        if self.triggers.iter().any(|t| t.state == "error") {
            3
        } else {
            self.report.exit_code()
        }
    }
}

/// Reads each resource a decoded event names, live, and judges it. The event's own content is
/// never used for the resource's settings.
pub async fn evaluate_event(
    policy: &Policy,
    decoded: Decoded,
    default_region: &str,
    apply: Option<&ApplyOptions>,
) -> EventReport {
    let triggers = match decoded {
        Decoded::Ignored(reason) => {
            return EventReport {
                outcome: "ignored",
                reason: Some(reason),
                triggers: Vec::new(),
                report: Report::new(&policy.name, &[], Vec::new(), Vec::new()),
            }
        }
        Decoded::Triggers(t) => t,
        // The guard's own recreate intent names its notebook.
        Decoded::Intent(i) => vec![Trigger {
            resource: i.key(),
            gone: false,
            source: TriggerSource::RecreateIntent,
        }],
    };
    let now = Timestamp::now();
    let mut observers: HashMap<String, Observer> = HashMap::new();
    let mut outcomes = Vec::new();
    let mut assessments = Vec::new();
    for Trigger {
        resource, source, ..
    } in triggers
    {
        let region = resource
            .region
            .clone()
            .unwrap_or_else(|| default_region.to_string());
        let mut outcome = TriggerOutcome {
            resource: resource.clone(),
            source,
            state: "present",
            resource_arn: None,
            error: None,
        };
        let in_scope = policy.scope.includes_region(&region)
            && resource
                .account
                .as_deref()
                .is_none_or(|a| policy.scope.includes_account(a));
        if !in_scope {
            outcome.state = "out-of-scope";
        } else if !policy.judges(resource.kind) {
            outcome.state = "not-judged";
        } else {
            if !observers.contains_key(&region) {
                observers.insert(region.clone(), Observer::from_env(&region).await);
            }
            let observer = &observers[&region];
            match observer.observe_ref(&resource, policy).await {
                Ok(Some(observed)) if !policy.scope.includes_account(&observed.account) => {
                    outcome.state = "out-of-scope";
                    outcome.resource_arn = Some(observed.arn);
                }
                Ok(Some(observed)) => {
                    outcome.resource_arn = Some(observed.arn.clone());
                    assessments.push(assess(observed, policy, now, apply.is_none()));
                }
                // Gone whether or not the event said so: only the live read counts.
                Ok(None) => outcome.state = "gone",
                Err(e) => {
                    outcome.state = "error";
                    outcome.error = Some(e.to_string());
                }
            }
        }
        outcomes.push(outcome);
    }
    let mut report = Report::new(&policy.name, &assessments, Vec::new(), Vec::new());
    if let Some(options) = apply {
        let shared = Shared::new(options).await;
        for a in &assessments {
            if let Some(observer) = observers.get(&a.resource.region) {
                let applied =
                    apply_all(observer, std::slice::from_ref(a), policy, options, &shared).await;
                report.applied.extend(applied);
            }
        }
    }
    EventReport {
        outcome: "evaluated",
        reason: None,
        triggers: outcomes,
        report,
    }
}

/// What every fix of one `--apply` run shares.
pub struct Shared {
    /// Remediations per account in the last hour.
    pub blast: crate::remediate::BlastRadius,
    /// Spaces mutating calls per account and region.
    pub pacer: crate::remediate::Pacer,
    /// Where recreate intents are stored.
    pub intents: Option<crate::recreate::IntentQueue>,
    /// The AWS configuration, loaded once.
    pub config: aws_config::SdkConfig,
}

/// What `--apply` did to one resource.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub resource_arn: String,
    pub resource_name: String,
    /// Each step taken, in order, until the resource settled or the time ran out.
    pub executions: Vec<crate::remediate::Execution>,
    /// The verdicts after the last step, by control.
    pub final_statuses: std::collections::BTreeMap<crate::catalogue::ControlId, Status>,
    /// The Security Hub findings filed for it afterwards (`imported`), or why they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<String>,
}

/// Drives one resource's plan to its end (`--apply`): read, judge, do the next step, and again
/// while a transition is under way, until nothing is left to do or `deadline` passes. Each pass
/// reads the resource afresh, so scope and exemptions are checked again before every step.
///
/// Once a recreate has deleted the notebook, its intent drives the rest, as in the service; if
/// the time runs out first, the service finishes it from the intent queue.
pub async fn converge(
    observer: &Observer,
    first: Assessment,
    policy: &Policy,
    shared: &Shared,
    findings: Option<&crate::finding::FindingsImporter>,
    deadline: std::time::Instant,
    poll: std::time::Duration,
) -> Applied {
    let (mut applied, last) = drive(observer, first, policy, shared, deadline, poll).await;
    // Its findings say where the resource ended up, and what the guard did (dry-run files none).
    if let (Some(importer), Some(a)) = (findings, last) {
        if a.plan.as_ref().is_none_or(|p| !p.dry_run) {
            let mut ctx = crate::finding::FindingContext::new(
                &a.resource.account,
                observer.region(),
                "aws",
                &policy.name,
                Timestamp::now(),
            );
            ctx.outcome = applied
                .executions
                .last()
                .map(|e| format!("{}: {}", e.result, e.done.join("; ")));
            let findings = crate::finding::to_file(&a, policy, &ctx);
            applied.findings = Some(match importer.import(findings).await {
                Ok(summary) if summary.failed.is_empty() => {
                    format!("imported {}", summary.imported)
                }
                Ok(summary) => format!(
                    "imported {}, refused {}: {}",
                    summary.imported,
                    summary.failed.len(),
                    summary.failed[0].message
                ),
                Err(e) => format!("not imported: {e}"),
            });
        }
    }
    applied
}

/// The loop of [`converge`]; also returns the last assessment of the resource, if it exists.
async fn drive(
    observer: &Observer,
    first: Assessment,
    policy: &Policy,
    shared: &Shared,
    deadline: std::time::Instant,
    poll: std::time::Duration,
) -> (Applied, Option<Assessment>) {
    let key = ResourceRef {
        kind: first.resource.kind,
        name: first.resource.name.clone(),
        account: Some(first.resource.account.clone()),
        region: Some(first.resource.region.clone()),
    };
    let mut applied = Applied {
        resource_arn: first.resource.arn.clone(),
        resource_name: first.resource.name.clone(),
        executions: Vec::new(),
        final_statuses: first
            .verdicts
            .iter()
            .map(|v| (v.control, v.status))
            .collect(),
        findings: None,
    };
    let fx = crate::remediate::Effects {
        pacer: &shared.pacer,
        mutations_per_second: policy.remediation.mutations_per_second,
        client: observer.client(),
        settle: poll,
        intents: shared.intents.as_ref(),
        policy: &policy.name,
    };
    let mut current = first;
    let mut intent: Option<Box<crate::recreate::RecreateIntent>> = None;
    loop {
        let result = match &intent {
            Some(i) => crate::recreate::continue_intent(observer, &fx, i)
                .await
                .map(|(e, state)| {
                    if state == crate::recreate::IntentState::Settled {
                        intent = None;
                    }
                    e
                }),
            None => {
                let account = current.resource.account.clone();
                let limit = policy.remediation.max_remediations_per_hour;
                crate::remediate::carry_out(&fx, &current, || {
                    shared.blast.allow(&account, limit, Timestamp::now())
                })
                .await
            }
        };
        let mut execution = match result {
            Ok(e) => e,
            Err(e) => {
                let mut failed = crate::remediate::Execution::new("error");
                failed.notes.push(e.to_string());
                applied.executions.push(failed);
                return (applied, Some(current));
            }
        };
        if let Some(i) = execution.intent.take() {
            intent = Some(i);
        }
        // A grace period or a user's stop is not waited for here: the service does that.
        let again = intent.is_some()
            || ((execution.requeue_after.is_some() || execution.result == "applied")
                && !matches!(execution.result, "stuck" | "scheduled" | "deferred"));
        let recreated = execution.result == "recreated";
        if execution.result != "nothing-to-do" {
            applied.executions.push(execution);
        }
        if (!again && !recreated) || std::time::Instant::now() >= deadline {
            if let Some(i) = &intent {
                let mut left = crate::remediate::Execution::new("in-progress");
                left.notes.push(format!(
                    "out of time: the recreate of {} is finished by the service from the intent queue",
                    i.name
                ));
                applied.executions.push(left);
            }
            return (applied, Some(current).filter(|_| intent.is_none()));
        }
        tokio::time::sleep(poll).await;
        if intent.is_some() {
            // The intent reads the notebook itself: it may well be gone for now.
            continue;
        }
        match observer.observe_ref(&key, policy).await {
            Ok(Some(observed)) => {
                current = assess(observed, policy, Timestamp::now(), false);
                applied.final_statuses = current
                    .verdicts
                    .iter()
                    .map(|v| (v.control, v.status))
                    .collect();
            }
            Ok(None) | Err(_) => return (applied, None),
        }
    }
}
