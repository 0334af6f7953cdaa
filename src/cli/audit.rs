//! The commands that judge: the sweep of everything in scope (`audit`), and the look at what one
//! event names (`evaluate`). Both observe live, assess and report; with `--apply` they then hand
//! each resource with something to do to the convergence the service uses as well
//! ([`crate::converge`]).

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use jiff::Timestamp;
use serde::Serialize;

use crate::aws::accounts::Reach;
use crate::aws::observe::{AwsError, Listed, Observer};
use crate::cli::report::{Report, ResultRow, SweepError};
use crate::converge::{converge_until_settled, Applied, Edge};
use crate::domain::assess::{assess, Assessment};
use crate::domain::evaluate::Status;
use crate::domain::event::{Decoded, Trigger, TriggerSource};
use crate::domain::policy::Policy;
use crate::domain::resource::{ResourceKind, ResourceRef};

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
    reach: &Reach,
) -> Report {
    let now = Timestamp::now();
    let mut assessments: Vec<Assessment> = Vec::new();
    let mut error_results = Vec::new();
    let mut errors = Vec::new();
    let mut applied = Vec::new();
    let edge = match apply {
        Some(options) => match options.edge().await {
            Ok(edge) => Some(edge.with_reach(reach.clone())),
            Err(e) => {
                // Nothing is changed with a key that cannot sign: the sweep only reports.
                errors.push(SweepError::intent_key(e));
                None
            }
        },
        None => None,
    };
    for (account, region) in targets(policy, regions, reach, &mut errors).await {
        let region = &region;
        let first_of_region = assessments.len();
        let Some(config) = reach.config(account.as_deref()) else {
            continue;
        };
        let observer = Observer::in_region(config, region);
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
        if let (Some(options), Some(edge)) = (apply, &edge) {
            let pending: Vec<ResourceRef> = assessments[first_of_region..]
                .iter()
                .filter(|a| a.has_work())
                .map(|a| a.resource.key())
                .collect();
            applied.extend(apply_all(edge, policy, pending, region, options).await);
        }
    }
    let mut report = Report::new(&policy.name, &assessments, error_results, errors);
    if apply.is_some() {
        report.set_applied(applied);
    }
    report
}

/// Where a sweep reads ([`Reach::targets`]), each account checked first: an account whose role
/// cannot be assumed is that account's error, and the others go on.
async fn targets(
    policy: &Policy,
    regions: &[String],
    reach: &Reach,
    errors: &mut Vec<SweepError>,
) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut reachable: HashMap<String, bool> = HashMap::new();
    for (account, region) in reach.targets(policy, regions) {
        if let Some(a) = &account {
            let ok = match reachable.get(a) {
                Some(ok) => *ok,
                None => {
                    let ok = match reach.check(a).await {
                        Ok(()) => true,
                        Err(e) => {
                            errors.push(SweepError::account(a, e));
                            false
                        }
                    };
                    reachable.insert(a.clone(), ok);
                    ok
                }
            };
            if !ok {
                continue;
            }
        }
        out.push((account, region));
    }
    out
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
    /// The KMS HMAC key that signs recreate intents; without one, no notebook is recreated.
    pub intent_key_id: Option<String>,
}

impl ApplyOptions {
    /// What one `--apply` command shares across its regions and resources: one AWS
    /// configuration, one gate (pacing, blast radius), the intent store, the findings filed.
    /// A `--intent-key-id` that is not an enabled HMAC key is an error: nothing is changed then.
    pub async fn edge(&self) -> Result<Edge, AwsError> {
        let config = crate::aws::config::load(None).await;
        let key = match &self.intent_key_id {
            Some(id) => {
                let key = crate::aws::intent_key::IntentKey::new(&config, id, None);
                key.check().await?;
                Some(key)
            }
            None => None,
        };
        let intents =
            self.intent_queue_url
                .as_ref()
                .map(|url| crate::aws::intent_store::IntentQueue {
                    sqs: aws_sdk_sqs::Client::new(&config),
                    url: url.clone(),
                    key,
                });
        Ok(Edge::new(config, None, intents, self.poll))
    }
}

/// Converges each resource, at most `options.concurrency` at once, and reports those the guard
/// did something about.
async fn apply_all(
    edge: &Edge,
    policy: &Policy,
    keys: Vec<ResourceRef>,
    region: &str,
    options: &ApplyOptions,
) -> Vec<Applied> {
    let deadline = std::time::Instant::now() + options.timeout;
    stream::iter(keys)
        .map(|key| async move {
            converge_until_settled(edge, policy, &key, region, deadline, options.poll).await
        })
        .buffered(options.concurrency.max(1))
        .filter(|applied| std::future::ready(applied.did_something()))
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
    reach: &Reach,
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
            resource: i.intent.key(),
            gone: false,
            source: TriggerSource::RecreateIntent,
        }],
    };
    let now = Timestamp::now();
    let mut observers: HashMap<String, Observer> = HashMap::new();
    let mut outcomes = Vec::new();
    let mut keys = Vec::new();
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
        // An account the guard has no role for is not one it may act in.
        let config = reach
            .config(resource.account.as_deref())
            .filter(|_| in_scope);
        if let Some(config) = config.filter(|_| policy.judges(resource.kind)) {
            let at = format!("{}|{region}", resource.account.as_deref().unwrap_or(""));
            let observer = observers
                .entry(at)
                .or_insert_with(|| Observer::in_region(config, &region));
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
        } else if config.is_none() {
            outcome.state = "out-of-scope";
        } else {
            outcome.state = "not-judged";
        }
        outcomes.push(outcome);
        keys.push(ResourceRef {
            region: Some(region),
            ..resource
        });
    }
    let mut report = Report::new(&policy.name, &assessments, Vec::new(), Vec::new());
    if let Some(options) = apply {
        // Every resource the event names that may be acted on: present ones are fixed, gone
        // ones have their findings archived, as the service does.
        let edge = match options.edge().await {
            Ok(edge) => edge.with_reach(reach.clone()),
            Err(e) => {
                report.errors.push(SweepError::intent_key(e));
                report.set_applied(Vec::new());
                return EventReport {
                    outcome: "evaluated",
                    reason: None,
                    triggers: outcomes,
                    report,
                };
            }
        };
        let mut applied = Vec::new();
        for (t, key) in outcomes.iter().zip(keys) {
            if matches!(t.state, "present" | "gone") {
                let region = key
                    .region
                    .clone()
                    .unwrap_or_else(|| default_region.to_string());
                applied.extend(apply_all(&edge, policy, vec![key], &region, options).await);
            }
        }
        report.set_applied(applied);
    }
    EventReport {
        outcome: "evaluated",
        reason: None,
        triggers: outcomes,
        report,
    }
}
