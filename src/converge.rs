//! One look at one resource, shared by every path that acts: `audit --apply`, `evaluate --apply`
//! and the `run` service.
//!
//! [`converge`] follows a recreate intent if one was handed in, then reads the resource live,
//! judges it, plans, takes the next safe steps through the gate ([`crate::aws::remediate`]),
//! files its findings (or archives them once the resource is gone), publishes the outcome on the
//! policy's bus, and says what it did and when to look again ([`Look`]). The service wraps it with
//! metrics and message settlement; `--apply` calls it again until the resource settles
//! ([`converge_until_settled`]). Whatever the path, one resource is treated the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_securityhub::types::AwsSecurityFinding;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use jiff::Timestamp;
use serde::Serialize;

use crate::aws::accounts::Reach;
use crate::aws::error::AwsError;
use crate::aws::finding::{self, FindingContext, FindingsImporter};
use crate::aws::gate::{Effects, Gate};
use crate::aws::intent_store::IntentQueue;
use crate::aws::observe::Observer;
use crate::aws::outcome::OutcomeBus;
use crate::aws::recreate::{continue_intent, IntentState};
use crate::aws::remediate::carry_out;
use crate::domain::assess::{assess, Assessment};
use crate::domain::catalogue::ControlId;
use crate::domain::evaluate::Status;
use crate::domain::execution::{Execution, ExecutionResult};
use crate::domain::intent::RecreateIntent;
use crate::domain::policy::Policy;
use crate::domain::resource::{self, ResourceKind, ResourceRef};

/// Everything a look may reach: the AWS clients of each region (made once), the gate, the intent
/// store and the findings already filed. One per process (`run`) or per command (`--apply`).
pub struct Edge {
    /// The guard's own account, and with an account list each member account's role.
    reach: Reach,
    /// Added to every client made here (the service counts AWS calls with it).
    interceptor: Option<SharedInterceptor>,
    pub gate: Gate,
    /// Where recreate intents are stored; without one, no notebook is recreated.
    pub intents: Option<IntentQueue>,
    /// How soon a resource in a transition is looked at again.
    pub settle: Duration,
    observers: Mutex<HashMap<String, Observer>>,
    importers: Mutex<HashMap<String, FindingsImporter>>,
    buses: Mutex<HashMap<String, OutcomeBus>>,
    /// KMS clients by account and region, for the notebook keys a recreate checks.
    key_readers: Mutex<HashMap<String, aws_sdk_kms::Client>>,
    /// What was last imported for each finding id, so an unchanged finding is not imported
    /// again on every look (per process: a restart imports each once more).
    filed: Mutex<HashMap<String, String>>,
    /// The last outcome published for each resource, so that an outcome that repeats on every
    /// look while nothing changes (stuck, deferred) is told once (per process).
    told: Mutex<HashMap<String, ExecutionResult>>,
}

impl Edge {
    pub fn new(
        sdk_config: aws_config::SdkConfig,
        interceptor: Option<SharedInterceptor>,
        intents: Option<IntentQueue>,
        settle: Duration,
    ) -> Self {
        Edge {
            reach: Reach::single(sdk_config),
            interceptor,
            gate: Gate::default(),
            intents,
            settle,
            observers: Mutex::default(),
            importers: Mutex::default(),
            buses: Mutex::default(),
            key_readers: Mutex::default(),
            filed: Mutex::default(),
            told: Mutex::default(),
        }
    }

    /// Acts in the accounts `reach` reaches (an organization's), not only the guard's own.
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Where the guard can act.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// The guard's own AWS configuration (its queue, key and bus).
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        self.reach.base()
    }

    /// The reader of a region of the guard's own account (or of the account the key names).
    pub fn observer(&self, region: &str) -> Observer {
        self.observer_in(None, region)
            .expect("the guard's own account is always reached")
    }

    /// The reader of a region of `account` (`None`: the guard's own); `None` when the account
    /// is not one the guard can reach.
    pub fn observer_in(&self, account: Option<&str>, region: &str) -> Option<Observer> {
        self.client_in(&self.observers, account, region, |config| {
            let mut config = aws_sdk_sagemaker::config::Builder::from(config)
                .region(aws_sdk_sagemaker::config::Region::new(region.to_string()));
            if let Some(i) = &self.interceptor {
                config.push_interceptor(i.clone());
            }
            Observer::new(aws_sdk_sagemaker::Client::from_conf(config.build()), region)
        })
    }

    /// The client `make` builds for a region of `account` (`None`: the guard's own), kept in
    /// `clients` (at most [`MAX_CLIENTS`]); `None` when the account is not one the guard can
    /// reach.
    fn client_in<T: Clone>(
        &self,
        clients: &Mutex<HashMap<String, T>>,
        account: Option<&str>,
        region: &str,
        make: impl FnOnce(&aws_config::SdkConfig) -> T,
    ) -> Option<T> {
        let config = self.reach.config(account)?;
        let key = format!("{}|{region}", account.unwrap_or(""));
        let mut clients = clients.lock().expect("never poisoned");
        bound(&mut clients, &key, MAX_CLIENTS);
        Some(clients.entry(key).or_insert_with(|| make(config)).clone())
    }

    /// The Security Hub importer of a region of the guard's own account.
    pub fn importer(&self, region: &str) -> FindingsImporter {
        self.importer_in(None, region)
            .expect("the guard's own account is always reached")
    }

    /// The Security Hub importer of a region of `account`: a finding is imported in the account
    /// it is about (BatchImportFindings with the default product takes only the caller's own).
    pub fn importer_in(&self, account: Option<&str>, region: &str) -> Option<FindingsImporter> {
        self.client_in(&self.importers, account, region, |config| {
            let mut config = aws_sdk_securityhub::config::Builder::from(config)
                .region(aws_sdk_securityhub::config::Region::new(region.to_string()));
            if let Some(i) = &self.interceptor {
                config.push_interceptor(i.clone());
            }
            FindingsImporter::new(aws_sdk_securityhub::Client::from_conf(config.build()))
        })
    }

    /// The KMS client of a region of `account` (`None`: the guard's own).
    fn key_reader(&self, account: Option<&str>, region: &str) -> Option<aws_sdk_kms::Client> {
        self.client_in(&self.key_readers, account, region, |config| {
            let mut config = aws_sdk_kms::config::Builder::from(config)
                .region(aws_sdk_kms::config::Region::new(region.to_string()));
            if let Some(i) = &self.interceptor {
                config.push_interceptor(i.clone());
            }
            aws_sdk_kms::Client::from_conf(config.build())
        })
    }

    /// The outcome publisher of a region.
    fn bus(&self, region: &str) -> OutcomeBus {
        let mut buses = self.buses.lock().expect("never poisoned");
        bound(&mut buses, region, MAX_REGIONS);
        buses
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut config = aws_sdk_eventbridge::config::Builder::from(self.reach.base())
                    .region(aws_sdk_eventbridge::config::Region::new(region.to_string()));
                if let Some(i) = &self.interceptor {
                    config.push_interceptor(i.clone());
                }
                OutcomeBus::new(aws_sdk_eventbridge::Client::from_conf(config.build()))
            })
            .clone()
    }

    /// What a look's fixes may touch: the gate with the policy's limits, on one region's client.
    fn effects<'a>(
        &'a self,
        observer: &'a Observer,
        kms: Option<&'a aws_sdk_kms::Client>,
        policy: &'a Policy,
        dry_run: bool,
    ) -> Effects<'a> {
        Effects {
            gate: &self.gate,
            client: observer.client(),
            kms,
            settle: self.settle,
            intents: self.intents.as_ref(),
            policy: &policy.name,
            mutations_per_second: policy.remediation.mutations_per_second,
            max_remediations_per_hour: policy.remediation.max_remediations_per_hour,
            dry_run,
        }
    }

    /// Imports the findings whose content changed since this process last imported them.
    /// `None`: nothing had changed.
    async fn file_findings(
        &self,
        findings: Vec<AwsSecurityFinding>,
        account: Option<&str>,
        region: &str,
    ) -> Result<Option<String>, AwsError> {
        let signature = |f: &AwsSecurityFinding| {
            format!(
                "{:?}|{:?}|{:?}|{:?}",
                f.compliance().and_then(|c| c.status()),
                f.description(),
                f.product_fields(),
                f.record_state()
            )
        };
        let changed: Vec<_> = {
            let filed = self.filed.lock().expect("never poisoned");
            findings
                .into_iter()
                .filter(|f| filed.get(f.id().unwrap_or_default()) != Some(&signature(f)))
                .collect()
        };
        if changed.is_empty() {
            return Ok(None);
        }
        let signatures: Vec<(String, String)> = changed
            .iter()
            .map(|f| (f.id().unwrap_or_default().to_string(), signature(f)))
            .collect();
        let importer = self
            .importer_in(account, region)
            .ok_or_else(|| unreachable_account(account.unwrap_or_default()))?;
        let summary = importer.import(&self.gate, changed).await?;
        let refused: Vec<&str> = summary.failed.iter().map(|f| f.id.as_str()).collect();
        let mut filed = self.filed.lock().expect("never poisoned");
        for (id, sig) in signatures {
            if !refused.contains(&id.as_str()) {
                bound(&mut filed, &id, MAX_REMEMBERED);
                filed.insert(id, sig);
            }
        }
        for f in &summary.failed {
            tracing::warn!(finding = %f.id, code = %f.code, message = %f.message, "Security Hub refused a finding");
        }
        Ok(Some(match summary.failed.first() {
            None => format!("imported {}", summary.imported),
            Some(first) => format!(
                "imported {}, refused {}: {}",
                summary.imported,
                summary.failed.len(),
                first.message
            ),
        }))
    }

    /// Publishes an outcome on the policy's bus, when it has one.
    async fn publish(
        &self,
        policy: &Policy,
        region: &str,
        resource_arn: &str,
        e: &Execution,
        detail: serde_json::Value,
    ) -> Result<(), AwsError> {
        let Some(bus) = &policy.remediation.event_bus else {
            return Ok(());
        };
        let repeats = matches!(e.result, ExecutionResult::Stuck | ExecutionResult::Deferred);
        let last = self
            .told
            .lock()
            .expect("never poisoned")
            .get(resource_arn)
            .copied();
        if repeats && last == Some(e.result) {
            return Ok(());
        }
        self.bus(region)
            .publish(&self.gate, bus, resource_arn, e, detail)
            .await?;
        let mut told = self.told.lock().expect("never poisoned");
        bound(&mut told, resource_arn, MAX_REMEMBERED);
        told.insert(resource_arn.to_string(), e.result);
        Ok(())
    }
}

/// The error of a look in an account the guard has no role for.
fn unreachable_account(account: &str) -> AwsError {
    AwsError::refused(
        "STS",
        "AssumeRole",
        &format!(
            "account {account} is not in the account list (--accounts): the guard cannot act there"
        ),
    )
}

/// Regions whose clients are kept (AWS has about 35): messages naming more regions do not grow
/// the process; beyond this, the clients are made again.
const MAX_REGIONS: usize = 64;

/// Clients of (account, region) kept: accounts come only from the account list, so this bounds
/// an organization of a hundred accounts in every region.
const MAX_CLIENTS: usize = 4096;

/// Findings and outcomes remembered, so an unchanged one is not sent again: beyond this, the
/// memory starts over (costing one more import or event each, never a missed one).
pub const MAX_REMEMBERED: usize = 100_000;

/// Keeps `map` within `max` entries before `key` is added: when it is full and `key` is new, it
/// starts over. What these maps hold can always be made again, so forgetting is only a cost.
fn bound<V>(map: &mut HashMap<String, V>, key: &str, max: usize) {
    if map.len() >= max && !map.contains_key(key) {
        map.clear();
    }
}

/// Where a resource stood when it was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Read and judged.
    Present,
    /// It does not exist (any more): its findings were archived.
    Gone,
    /// Outside the policy's scope: not read further, let alone acted on.
    OutOfScope,
    /// No enabled control judges its kind.
    NotJudged,
    /// A recreate the guard started is under way: its intent is followed, the notebook is not
    /// judged until it settles.
    Recreating,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Present => "present",
            Standing::Gone => "gone",
            Standing::OutOfScope => "out-of-scope",
            Standing::NotJudged => "not-judged",
            Standing::Recreating => "recreating",
        }
    }
}

/// What following a recreate intent did in a look.
#[derive(Clone, Debug)]
pub struct IntentLook {
    pub execution: Execution,
    pub state: IntentState,
}

/// What one look found and did.
#[derive(Clone, Debug)]
pub struct Look {
    pub standing: Standing,
    /// The resource's ARN, once read (or the intent's).
    pub resource_arn: Option<String>,
    /// The resource's name as SageMaker spells it (Describe's), once read: what logs and reports
    /// show, whatever spelling the trigger used (an ARN lower-cases it).
    pub resource_name: Option<String>,
    /// The verdicts and the plan, when the resource was judged.
    pub assessment: Option<Assessment>,
    /// What carrying the plan out did, when there was anything to carry out.
    pub execution: Option<Execution>,
    /// What following the intent did, when one was handed in.
    pub intent: Option<IntentLook>,
    /// What filing the findings did (`imported 3`), when anything was filed.
    pub findings: Option<String>,
    /// Look again after this long; `None`: only a change brings the guard back.
    pub requeue_after: Option<Duration>,
}

impl Look {
    fn new(standing: Standing) -> Self {
        Look {
            standing,
            resource_arn: None,
            resource_name: None,
            assessment: None,
            execution: None,
            intent: None,
            findings: None,
            requeue_after: None,
        }
    }

    /// The recreate intent stored by this look's delete, to be followed from now on.
    pub fn stored_intent(&self) -> Option<&RecreateIntent> {
        self.execution.as_ref().and_then(|e| e.intent.as_deref())
    }
}

/// One look at `key`: follow `intent` (if given), then observe -> evaluate -> plan -> act ->
/// file findings -> publish the outcome. `dry_run` is the command's: the resource is judged and
/// its plan printed, nothing changes and no finding is filed.
///
/// A recreate intent is followed first: once the guard has deleted a notebook, finishing the
/// recreate comes before anything else, whatever the scope, the policy or dry-run say now,
/// because stopping there would lose the notebook.
pub async fn converge(
    edge: &Edge,
    policy: &Policy,
    key: &ResourceRef,
    default_region: &str,
    intent: Option<&RecreateIntent>,
    dry_run: bool,
) -> Result<Look, AwsError> {
    let mut intent_look = None;
    if let Some(intent) = intent {
        // Replicas sharing a state table take a recreate's steps one at a time too.
        if let Some(table) = edge.gate.state() {
            if !table.lease(&intent.arn, Timestamp::now()).await? {
                let mut e = Execution::new(ExecutionResult::InProgress);
                e.notes
                    .push("another replica is taking its next step: looked at again later".into());
                let mut look = Look::new(Standing::Recreating);
                look.resource_arn = Some(intent.arn.clone());
                look.requeue_after = Some(edge.settle);
                look.intent = Some(IntentLook {
                    execution: e,
                    state: IntentState::Pending(edge.settle),
                });
                return Ok(look);
            }
        }
        let observer = edge
            .observer_in(Some(&intent.account), &intent.region)
            .ok_or_else(|| unreachable_account(&intent.account))?;
        let key_reader = edge.key_reader(Some(&intent.account), &intent.region);
        let fx = edge.effects(&observer, key_reader.as_ref(), policy, false);
        let (execution, state) = continue_intent(&observer, &fx, intent).await?;
        let detail = serde_json::json!({
            "resourceArn": intent.arn,
            "resourceType": ResourceKind::NotebookInstance.cfn_type(),
            "resourceName": intent.name,
            "account": intent.account,
            "region": intent.region,
            "controls": intent.controls,
            "intent": intent.id,
            "execution": execution,
            "policy": intent.policy,
        });
        edge.publish(policy, &intent.region, &intent.arn, &execution, detail)
            .await?;
        tracing::info!(
            notebook = %intent.name,
            intent = %intent.id,
            result = %execution.result,
            done = %execution.done.join("; "),
            notes = %execution.notes.join("; "),
            "recreate intent"
        );
        if let IntentState::Pending(d) = state {
            let mut look = Look::new(Standing::Recreating);
            look.resource_arn = Some(intent.arn.clone());
            look.requeue_after = Some(d);
            look.intent = Some(IntentLook { execution, state });
            return Ok(look);
        }
        intent_look = Some(IntentLook { execution, state });
    }
    let mut look = judge_and_act(edge, policy, key, default_region, dry_run).await?;
    look.intent = intent_look;
    Ok(look)
}

/// Observe -> evaluate -> plan -> act -> file findings -> publish, for one key.
async fn judge_and_act(
    edge: &Edge,
    policy: &Policy,
    key: &ResourceRef,
    default_region: &str,
    dry_run: bool,
) -> Result<Look, AwsError> {
    let region = key.region.as_deref().unwrap_or(default_region);
    let in_scope = policy.scope.includes_region(region)
        && key
            .account
            .as_deref()
            .is_none_or(|a| policy.scope.includes_account(a));
    if !in_scope {
        return Ok(Look::new(Standing::OutOfScope));
    }
    if !policy.judges(key.kind) {
        return Ok(Look::new(Standing::NotJudged));
    }
    // An account the guard has no role for is not one it may act in.
    let Some(observer) = edge.observer_in(key.account.as_deref(), region) else {
        return Ok(Look::new(Standing::OutOfScope));
    };
    let account_key = key.account.as_deref();
    let Some(observed) = observer.observe_ref(key, policy).await? else {
        let mut look = Look::new(Standing::Gone);
        if let (false, Some(account)) = (dry_run, key.account.as_deref()) {
            let arn = resource::arn("aws", region, account, key.kind, &key.name);
            let ctx = FindingContext::new(account, region, "aws", &policy.name, Timestamp::now());
            let archived: Vec<_> = policy
                .controls_for(key.kind)
                .map(|(id, _)| finding::archived_for_gone(&arn, key.kind, id, &ctx))
                .collect();
            // Only findings Security Hub holds as active are archived: a message naming a
            // resource that never existed makes the guard write nothing.
            let ids: Vec<String> = archived
                .iter()
                .filter_map(|f| f.id().map(str::to_string))
                .collect();
            // Boxed: the paginated call's future is large, and the look's own is polled deep.
            let importer = edge
                .importer_in(Some(account), region)
                .ok_or_else(|| unreachable_account(account))?;
            let active = Box::pin(importer.active(&ids)).await?;
            let archived: Vec<_> = archived
                .into_iter()
                .filter(|f| f.id().is_some_and(|id| active.iter().any(|a| a == id)))
                .collect();
            look.findings = if archived.is_empty() {
                None
            } else {
                edge.file_findings(archived, Some(account), region).await?
            };
            look.resource_arn = Some(arn);
        }
        return Ok(look);
    };
    if !policy.scope.includes_account(&observed.account) {
        let mut look = Look::new(Standing::OutOfScope);
        look.resource_arn = Some(observed.arn);
        look.resource_name = Some(observed.name);
        return Ok(look);
    }
    // A resource in a transition is looked at again once it has settled.
    let mut requeue = observed.transition().is_some().then_some(edge.settle * 2);
    let a = assess(observed, policy, Timestamp::now(), dry_run);
    let mut look = Look::new(Standing::Present);
    look.resource_arn = Some(a.resource.arn.clone());
    look.resource_name = Some(a.resource.name.clone());
    // Replicas sharing a state table change one resource one at a time: the lease.
    let lease = match edge.gate.state() {
        Some(table) if a.has_work() && !(dry_run || policy.dry_run) => {
            Some((table, table.lease(&a.resource.arn, Timestamp::now()).await?))
        }
        _ => None,
    };
    if let Some((_, false)) = lease {
        let mut e = Execution::new(ExecutionResult::InProgress);
        e.notes
            .push("another replica is changing it: looked at again later".into());
        e.requeue_after = Some(edge.settle);
        requeue = Some(edge.settle);
        look.execution = Some(e);
    } else if a.has_work() {
        let key_reader = edge.key_reader(Some(&a.resource.account), &a.resource.region);
        let fx = edge.effects(&observer, key_reader.as_ref(), policy, dry_run);
        let e = carry_out(&fx, &a).await?;
        if let Some(d) = e.requeue_after {
            requeue = Some(requeue.map_or(d, |r| r.min(d)));
        }
        if let (Some((table, true)), None) = (lease, requeue) {
            // Nothing more to do here: the lease goes back at once. Work that goes on keeps
            // it, renewed by each look, until it expires.
            table.release(&a.resource.arn).await;
        }
        if let Some(plan) = &a.plan {
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
            edge.publish(policy, region, &a.resource.arn, &e, detail)
                .await?;
        }
        look.execution = Some(e);
    }
    if !(dry_run || policy.dry_run) {
        let mut ctx = FindingContext::new(
            &a.resource.account,
            region,
            "aws",
            &policy.name,
            Timestamp::now(),
        );
        ctx.outcome = look.execution.as_ref().map(Execution::summary);
        let findings = finding::to_file(&a, policy, &ctx);
        look.findings = edge.file_findings(findings, account_key, region).await?;
    }
    look.requeue_after = requeue;
    look.assessment = Some(a);
    Ok(look)
}

/// What `--apply` did to one resource.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub resource_arn: String,
    /// As SageMaker spells it once read; until then (a resource gone), as the trigger named it.
    pub resource_name: String,
    /// Each step taken, in order, until the resource settled or the time ran out.
    pub executions: Vec<Execution>,
    /// The verdicts after the last step, by control.
    pub final_statuses: BTreeMap<ControlId, Status>,
    /// The Security Hub findings filed for it last (`imported 3`), or why they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<String>,
    /// It was gone when looked at: only its findings were archived.
    #[serde(skip)]
    pub gone: bool,
}

impl Applied {
    /// Whether the guard did anything about the resource: a step, or archiving its findings.
    pub fn did_something(&self) -> bool {
        !self.executions.is_empty() || (self.gone && self.findings.is_some())
    }
}

/// `--apply` for one resource: [`converge`] again and again, while a transition the guard began
/// is under way, until nothing is left to do or `deadline` passes. A grace period or a user's
/// stop is not waited for here: the service does that. Once a recreate has deleted the notebook,
/// its intent drives the rest; if the time runs out first, the service finishes it from the
/// intent queue.
pub async fn converge_until_settled(
    edge: &Edge,
    policy: &Policy,
    key: &ResourceRef,
    default_region: &str,
    deadline: Instant,
    poll: Duration,
) -> Applied {
    let mut applied = Applied {
        resource_arn: String::new(),
        resource_name: key.name.clone(),
        executions: Vec::new(),
        final_statuses: BTreeMap::new(),
        findings: None,
        gone: false,
    };
    let mut intent: Option<Box<RecreateIntent>> = None;
    loop {
        let look = match converge(edge, policy, key, default_region, intent.as_deref(), false).await
        {
            Ok(look) => look,
            Err(err) => {
                let mut failed = Execution::new(ExecutionResult::Error);
                failed.notes.push(err.to_string());
                applied.executions.push(failed);
                return applied;
            }
        };
        if let Some(arn) = &look.resource_arn {
            applied.resource_arn.clone_from(arn);
        }
        if let Some(name) = &look.resource_name {
            applied.resource_name.clone_from(name);
        }
        let mut again = false;
        if let Some(i) = &look.intent {
            let mut execution = i.execution.clone();
            if i.state == IntentState::Settled {
                intent = None;
                // This command followed the intent it stored to its end, but cannot delete its
                // message: SQS deletes a message only by the receipt of whoever received it.
                execution.notes.push(INTENT_LEFT_ON_QUEUE.into());
            } else {
                again = true;
            }
            applied.executions.push(execution);
        }
        if let Some(stored) = look.stored_intent() {
            intent = Some(Box::new(stored.clone()));
            again = true;
        }
        if let Some(e) = &look.execution {
            again |= (e.requeue_after.is_some() || e.result == ExecutionResult::Applied)
                && !e.result.waits_for_someone();
            if e.result != ExecutionResult::NothingToDo {
                applied.executions.push(e.clone());
            }
        }
        if let Some(a) = &look.assessment {
            applied.final_statuses = statuses(a);
        }
        if look.findings.is_some() {
            applied.findings = look.findings.clone();
        }
        if look.standing == Standing::Gone && intent.is_none() {
            applied.gone = true;
            return applied;
        }
        if !again || Instant::now() >= deadline {
            if let Some(i) = &intent {
                let mut left = Execution::new(ExecutionResult::InProgress);
                left.notes.push(format!(
                    "out of time: the recreate of {} is finished by the service from the intent queue",
                    i.name
                ));
                applied.executions.push(left);
            }
            return applied;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Said when `--apply` has followed the recreate intent it stored to its end. The message it
/// stored stays on the queue: the service, reading it, finds nothing left to do and drops it
/// (docs/remediation.md says what follows if the recreated notebook is deleted before that).
pub const INTENT_LEFT_ON_QUEUE: &str =
    "its intent's message stays on the queue until the service reads it, finds nothing left to do and drops it";

fn statuses(a: &Assessment) -> BTreeMap<ControlId, Status> {
    a.verdicts.iter().map(|v| (v.control, v.status)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_map_starts_over_when_full_and_never_grows_past_its_bound() {
        let mut map: HashMap<String, u32> = HashMap::new();
        for i in 0..10u32 {
            let key = format!("k{i}");
            bound(&mut map, &key, 4);
            map.insert(key, i);
            assert!(map.len() <= 4);
        }
        // A key it holds is not a reason to start over.
        let kept = map.keys().next().unwrap().clone();
        let before = map.len();
        bound(&mut map, &kept, before);
        assert_eq!(map.len(), before);
    }
}
