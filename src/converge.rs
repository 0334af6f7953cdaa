//! One convergence step, shared by every path that acts: `audit --apply` and the `run` service.

use jiff::Timestamp;
use serde::Serialize;

use crate::aws::observe::Observer;
use crate::domain::assess::{assess, Assessment};
use crate::domain::evaluate::Status;
use crate::domain::execution::ExecutionResult;
use crate::domain::policy::Policy;
use crate::domain::resource::ResourceRef;

/// What every fix of one `--apply` run shares.
pub struct Shared {
    /// Remediations per account in the last hour.
    pub blast: crate::aws::gate::BlastRadius,
    /// Spaces mutating calls per account and region.
    pub pacer: crate::aws::gate::Pacer,
    /// Where recreate intents are stored.
    pub intents: Option<crate::aws::intent_store::IntentQueue>,
    /// The AWS configuration, loaded once.
    pub config: aws_config::SdkConfig,
}

impl Shared {
    /// What one `--apply` command shares across its regions and resources.
    pub async fn new(intent_queue_url: Option<&str>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let intents = intent_queue_url.map(|url| crate::aws::intent_store::IntentQueue {
            sqs: aws_sdk_sqs::Client::new(&config),
            url: url.to_string(),
        });
        Shared {
            blast: crate::aws::gate::BlastRadius::default(),
            pacer: crate::aws::gate::Pacer::default(),
            intents,
            config,
        }
    }
}

/// What `--apply` did to one resource.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub resource_arn: String,
    pub resource_name: String,
    /// Each step taken, in order, until the resource settled or the time ran out.
    pub executions: Vec<crate::domain::execution::Execution>,
    /// The verdicts after the last step, by control.
    pub final_statuses: std::collections::BTreeMap<crate::domain::catalogue::ControlId, Status>,
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
    findings: Option<&crate::aws::finding::FindingsImporter>,
    deadline: std::time::Instant,
    poll: std::time::Duration,
) -> Applied {
    let (mut applied, last) = drive(observer, first, policy, shared, deadline, poll).await;
    // Its findings say where the resource ended up, and what the guard did (dry-run files none).
    if let (Some(importer), Some(a)) = (findings, last) {
        if a.plan.as_ref().is_none_or(|p| !p.dry_run) {
            let mut ctx = crate::aws::finding::FindingContext::new(
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
            let findings = crate::aws::finding::to_file(&a, policy, &ctx);
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
    let fx = crate::aws::gate::Effects {
        pacer: &shared.pacer,
        mutations_per_second: policy.remediation.mutations_per_second,
        client: observer.client(),
        settle: poll,
        intents: shared.intents.as_ref(),
        policy: &policy.name,
    };
    let mut current = first;
    let mut intent: Option<Box<crate::domain::intent::RecreateIntent>> = None;
    loop {
        let result = match &intent {
            Some(i) => crate::aws::recreate::continue_intent(observer, &fx, i)
                .await
                .map(|(e, state)| {
                    if state == crate::aws::recreate::IntentState::Settled {
                        intent = None;
                    }
                    e
                }),
            None => {
                let account = current.resource.account.clone();
                let limit = policy.remediation.max_remediations_per_hour;
                crate::aws::remediate::carry_out(&fx, &current, || {
                    shared.blast.allow(&account, limit, Timestamp::now())
                })
                .await
            }
        };
        let mut execution = match result {
            Ok(e) => e,
            Err(e) => {
                let mut failed = crate::domain::execution::Execution::new(ExecutionResult::Error);
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
            || ((execution.requeue_after.is_some()
                || execution.result == ExecutionResult::Applied)
                && !execution.result.waits_for_someone());
        let recreated = execution.result == ExecutionResult::Recreated;
        if execution.result != ExecutionResult::NothingToDo {
            applied.executions.push(execution);
        }
        if (!again && !recreated) || std::time::Instant::now() >= deadline {
            if let Some(i) = &intent {
                let mut left =
                    crate::domain::execution::Execution::new(ExecutionResult::InProgress);
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
