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
use crate::report::{Report, ResultRow, Summary, SweepError};
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
) -> Report {
    let now = Timestamp::now();
    let mut assessments: Vec<Assessment> = Vec::new();
    let mut error_results = Vec::new();
    let mut errors = Vec::new();
    for region in regions {
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
                Ok(Some(observed)) => assessments.push(assess(observed, policy, now, true)),
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
    }
    Report::new(&policy.name, &assessments, error_results, errors)
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

/// The JSON `evaluate` prints.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReport {
    /// `evaluated` or `ignored`.
    pub outcome: &'static str,
    /// Why the event was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub triggers: Vec<TriggerOutcome>,
    pub results: Vec<ResultRow>,
    pub summary: Summary,
    pub policy: String,
}

impl EventReport {
    /// 0 nothing FAILED, 1 something FAILED, 3 something could not be read or evaluated.
    pub fn exit_code(&self) -> i32 {
        let read_error = self.triggers.iter().any(|t| t.state == "error");
        if read_error || self.summary.error > 0 {
            3
        } else if self.summary.failed > 0 {
            1
        } else {
            0
        }
    }
}

/// Reads each resource a decoded event names, live, and judges it. The event's own content is
/// never used for the resource's settings.
pub async fn evaluate_event(
    policy: &Policy,
    decoded: Decoded,
    default_region: &str,
) -> EventReport {
    let triggers = match decoded {
        Decoded::Ignored(reason) => {
            return EventReport {
                outcome: "ignored",
                reason: Some(reason),
                triggers: Vec::new(),
                results: Vec::new(),
                summary: Summary::default(),
                policy: policy.name.clone(),
            }
        }
        Decoded::Triggers(t) => t,
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
                    assessments.push(assess(observed, policy, now, true));
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
    let report = Report::new(&policy.name, &assessments, Vec::new(), Vec::new());
    EventReport {
        outcome: "evaluated",
        reason: None,
        triggers: outcomes,
        results: report.results,
        summary: report.summary,
        policy: policy.name.clone(),
    }
}
