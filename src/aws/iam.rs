//! The least-privilege IAM policy of a guard policy, derived, never written by hand: the reads of
//! each kind its controls judge, the mutations ([`Mutation`]) and extra reads each fix its
//! actions may make declares in the catalogue ([`Fix::mutations`], [`Fix::reads`]), the findings
//! and outcome events, and the queue operations of the `run` service.
//!
//! Each permission is granted on the resources it is used on, as far as they are known. SageMaker
//! calls are granted per resource type, on the ARN pattern of the type they touch
//! (`arn:aws:sagemaker:*:*:notebook-instance/*`); the list calls, which IAM cannot scope, on
//! `"*"`. The queues, the intent key and the outcome bus are granted on their ARNs when the
//! [`Deployment`] names them, on a pattern otherwise; [`notes`] says where a wildcard stands for
//! something not named. Which resource type IAM checks for each action is from AWS's Service
//! Authorization Reference.
//!
//! [`Fix::mutations`]: crate::domain::catalogue::Fix::mutations
//! [`Fix::reads`]: crate::domain::catalogue::Fix::reads

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::catalogue::ControlId;
use crate::domain::mutation::Mutation;
use crate::domain::policy::{Action, Policy, ResourceKey};
use crate::domain::resource::ResourceKind;

/// The operations of the `run` service on the queue it reads: receive and settle messages, read
/// the queue's settings (and its redrive target). The settling is done with `DeleteMessageBatch` and
/// `ChangeMessageVisibilityBatch`, which SQS authorises with the single calls' actions.
pub const QUEUE_ACTIONS: [&str; 4] = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];

/// The operations on the dead-letter queue: find its URL from the queue's redrive policy, copy an
/// undecodable message to it.
pub const DEAD_LETTER_QUEUE_ACTIONS: [&str; 2] = ["sqs:GetQueueUrl", "sqs:SendMessage"];

/// The call that finds which of a deleted resource's findings are still active.
pub const FINDINGS_READ: &str = "securityhub:GetFindings";

/// The calls on the recreate-intent key: check it at start, sign intents, check their MACs.
pub const INTENT_KEY_ACTIONS: [&str; 3] = ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"];

/// The service every role the guard passes is passed to.
pub const PASSED_TO_SERVICE: &str = "sagemaker.amazonaws.com";

/// The SageMaker resource types the guard's calls touch, each with the Sid of its statement, in
/// the order the policy lists them.
const SAGEMAKER_TYPES: [(&str, &str); 14] = [
    ("notebook-instance", "SageMakerGuardNotebookInstances"),
    (
        "notebook-instance-lifecycle-config",
        "SageMakerGuardNotebookLifecycleConfigs",
    ),
    ("endpoint-config", "SageMakerGuardEndpointConfigs"),
    ("endpoint", "SageMakerGuardEndpoints"),
    ("model", "SageMakerGuardModels"),
    ("image", "SageMakerGuardImages"),
    ("app-image-config", "SageMakerGuardAppImageConfigs"),
    (
        "data-quality-job-definition",
        "SageMakerGuardDataQualityJobs",
    ),
    (
        "model-quality-job-definition",
        "SageMakerGuardModelQualityJobs",
    ),
    ("model-bias-job-definition", "SageMakerGuardModelBiasJobs"),
    (
        "model-explainability-job-definition",
        "SageMakerGuardExplainabilityJobs",
    ),
    ("monitoring-schedule", "SageMakerGuardSchedules"),
    ("feature-group", "SageMakerGuardFeatureGroups"),
    ("inference-experiment", "SageMakerGuardExperiments"),
];

/// Where the guard's role is used, as far as the operator says (the flags of `iam-policy`):
/// everything not given stays a wildcard in the policy.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// The accounts the guard acts in; empty: any.
    pub accounts: Vec<String>,
    /// The regions the guard acts in; empty: any.
    pub regions: Vec<String>,
    /// The queue `run` reads, where recreate intents are stored too.
    pub queue: Option<Queue>,
    /// Where undecodable messages go: `run`'s `--dead-letter-queue-url` or the queue's redrive
    /// target.
    pub dead_letter_queue: Option<Queue>,
    /// The KMS key that signs recreate intents.
    pub intent_key: Option<IntentKeyId>,
    /// The DynamoDB table replicas share (`run --state-table`).
    pub state_table: Option<String>,
    /// The role template the guard assumes in member accounts (`run --member-role`).
    pub member_role: Option<String>,
    /// The organization the member roles belong to.
    pub organization_id: Option<String>,
    /// The policy of a member account's role: SageMaker, PassRole and findings only.
    pub member_only: bool,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            partition: "aws".into(),
            accounts: Vec::new(),
            regions: Vec::new(),
            queue: None,
            dead_letter_queue: None,
            intent_key: None,
            state_table: None,
            member_role: None,
            organization_id: None,
            member_only: false,
        }
    }
}

impl Deployment {
    fn accounts(&self) -> Vec<&str> {
        or_any(&self.accounts)
    }

    fn regions(&self) -> Vec<&str> {
        or_any(&self.regions)
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>` in every region and account of
    /// the deployment; `resource` is given the account, as some resources repeat it.
    fn arns(&self, service: &str, resource: impl Fn(&str) -> String) -> Vec<String> {
        let mut out = Vec::new();
        for region in self.regions() {
            for account in self.accounts() {
                out.push(format!(
                    "arn:{}:{service}:{region}:{account}:{}",
                    self.partition,
                    resource(account)
                ));
            }
        }
        out
    }

    /// The ARNs of the queue's operations.
    fn queue_arns(&self) -> Vec<String> {
        match &self.queue {
            Some(q) => q.arns(self),
            None => self.arns("sqs", |_| "*".into()),
        }
    }

    /// The ARNs of the dead-letter queue's operations: a redrive target is in the queue's
    /// account and region, so without its name any queue there.
    fn dead_letter_queue_arns(&self) -> Vec<String> {
        match (&self.dead_letter_queue, &self.queue) {
            (Some(dlq), _) => dlq.arns(self),
            (None, Some(q)) => Queue {
                name: "*".into(),
                ..q.clone()
            }
            .arns(self),
            (None, None) => self.arns("sqs", |_| "*".into()),
        }
    }
}

/// Every value, or `*` when none is given.
fn or_any(values: &[String]) -> Vec<&str> {
    if values.is_empty() {
        vec!["*"]
    } else {
        values.iter().map(String::as_str).collect()
    }
}

/// An SQS queue, from its URL or its ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    /// From an ARN or a China endpoint's URL; another URL leaves it to the deployment.
    pub partition: Option<String>,
    /// From an ARN or an AWS endpoint's URL; another endpoint (a VPC endpoint, an emulator)
    /// leaves it to the deployment.
    pub region: Option<String>,
    pub account: String,
    pub name: String,
}

impl Queue {
    /// A queue URL: `https://sqs.<region>.amazonaws.com/<account>/<name>` (or the older
    /// `<region>.queue.amazonaws.com`; any host works, but only AWS's name the region).
    pub fn from_url(url: &str) -> Result<Queue, String> {
        let bad = || {
            format!(
                "`{url}` is not a queue URL: write it like https://sqs.us-east-1.amazonaws.com/123456789012/guard"
            )
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let mut parts = rest.trim_end_matches('/').split('/');
        let (host, account, name) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(a), Some(n), None) => (h, a, n),
            _ => return Err(bad()),
        };
        if !is_account(account) || !is_queue_name(name) {
            return Err(bad());
        }
        let host = host.split(':').next().unwrap_or(host);
        let region = if host == "queue.amazonaws.com" {
            Some("us-east-1".to_string())
        } else {
            host.strip_prefix("sqs.")
                .and_then(|h| h.split_once(".amazonaws.com"))
                .or_else(|| host.split_once(".queue.amazonaws.com"))
                .map(|(region, _)| region.to_string())
                .filter(|r| is_region(r))
        };
        Ok(Queue {
            partition: host
                .ends_with(".amazonaws.com.cn")
                .then(|| "aws-cn".to_string()),
            region,
            account: account.into(),
            name: name.into(),
        })
    }

    /// A queue ARN: `arn:aws:sqs:<region>:<account>:<name>`.
    pub fn from_arn(arn: &str) -> Result<Queue, String> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts[..] {
            ["arn", partition, "sqs", region, account, name]
                if is_partition(partition)
                    && is_region(region)
                    && is_account(account)
                    && is_queue_name(name) =>
            {
                Ok(Queue {
                    partition: Some(partition.into()),
                    region: Some(region.into()),
                    account: account.into(),
                    name: name.into(),
                })
            }
            _ => Err(format!(
                "`{arn}` is not a queue ARN: write it like arn:aws:sqs:us-east-1:123456789012:guard"
            )),
        }
    }

    fn arns(&self, d: &Deployment) -> Vec<String> {
        let partition = self.partition.as_deref().unwrap_or(&d.partition);
        let regions = match &self.region {
            Some(r) => vec![r.as_str()],
            None => d.regions(),
        };
        regions
            .into_iter()
            .map(|region| {
                format!(
                    "arn:{partition}:sqs:{region}:{}:{}",
                    self.account, self.name
                )
            })
            .collect()
    }
}

/// The KMS key that signs recreate intents, as `run --intent-key-id` takes it.
pub use crate::domain::kms_key::KmsKey as IntentKeyId;
pub use crate::domain::kms_key::{is_account, is_partition, is_region};

/// The key ARNs the statement is on, and the condition that picks the key when IAM cannot
/// name it.
fn key_grant(key: &IntentKeyId, d: &Deployment) -> (Vec<String>, Option<serde_json::Value>) {
    match key {
        IntentKeyId::Arn(arn) => (vec![arn.clone()], None),
        IntentKeyId::Id(id) => (d.arns("kms", |_| format!("key/{id}")), None),
        IntentKeyId::Alias { name, at } => {
            let keys = match at {
                Some((partition, region, account)) => {
                    vec![format!("arn:{partition}:kms:{region}:{account}:key/*")]
                }
                None => d.arns("kms", |_| "key/*".into()),
            };
            let condition = serde_json::json!({
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": name}
            });
            (keys, Some(condition))
        }
    }
}

/// The statements that let a fix give resources the policy's keys: `kms:DescribeKey` (the check
/// before the fix), and with `grants` (a recreate gives notebooks the keys) `kms:CreateGrant` for
/// an AWS resource only, on the named keys; a key named by its alias is any key that carries the
/// alias, in the entry's account and region.
fn resource_key_statements(keys: &[ResourceKey], grants: bool, d: &Deployment) -> Vec<Statement> {
    let mut named = Vec::new();
    let mut aliased = Vec::new();
    let mut aliases = Vec::new();
    for k in keys {
        let accounts = match &k.account {
            Some(a) => vec![a.as_str()],
            None => d.accounts(),
        };
        let regions = match &k.region {
            Some(r) => vec![r.as_str()],
            None => d.regions(),
        };
        let in_scope = |resource: &str| {
            let mut out = Vec::new();
            for region in &regions {
                for account in &accounts {
                    out.push(format!(
                        "arn:{}:kms:{region}:{account}:{resource}",
                        d.partition
                    ));
                }
            }
            out
        };
        // Refused at load otherwise.
        let Ok(key) = IntentKeyId::parse(&k.key_id) else {
            continue;
        };
        match key {
            IntentKeyId::Arn(arn) => named.push(arn),
            IntentKeyId::Id(id) => named.extend(in_scope(&format!("key/{id}"))),
            IntentKeyId::Alias { name, at } => {
                match at {
                    Some((partition, region, account)) => {
                        aliased.push(format!("arn:{partition}:kms:{region}:{account}:key/*"))
                    }
                    None => aliased.extend(in_scope("key/*")),
                }
                aliases.push(name);
            }
        }
    }
    let grant_for_aws_resource = serde_json::json!({"kms:GrantIsForAWSResource": "true"});
    let mut out = Vec::new();
    for (resources, (describe_sid, grant_sid), alias_condition) in [
        (
            named,
            (
                "SageMakerGuardResourceKeys",
                "SageMakerGuardResourceKeyGrants",
            ),
            None,
        ),
        (
            aliased,
            (
                "SageMakerGuardResourceKeysByAlias",
                "SageMakerGuardResourceKeyGrantsByAlias",
            ),
            Some(serde_json::json!({"kms:ResourceAliases": aliases})),
        ),
    ] {
        let mut resources = resources;
        resources.sort();
        resources.dedup();
        if resources.is_empty() {
            continue;
        }
        let mut describe = Statement::new(describe_sid, ["kms:DescribeKey"], resources.clone());
        let mut grant = Statement::new(grant_sid, ["kms:CreateGrant"], resources);
        let mut grant_condition = serde_json::json!({"Bool": grant_for_aws_resource});
        if let Some(c) = alias_condition {
            describe.condition = Some(serde_json::json!({"ForAnyValue:StringEquals": c}));
            grant_condition["ForAnyValue:StringEquals"] = c;
        }
        grant.condition = Some(grant_condition);
        out.push(describe);
        if grants {
            out.push(grant);
        }
    }
    out
}

fn is_queue_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The list and describe actions that observe a kind.
fn observe_actions(kind: ResourceKind) -> [&'static str; 2] {
    match kind {
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
        ResourceKind::DataQualityJobDefinition => [
            "sagemaker:ListDataQualityJobDefinitions",
            "sagemaker:DescribeDataQualityJobDefinition",
        ],
        ResourceKind::ModelQualityJobDefinition => [
            "sagemaker:ListModelQualityJobDefinitions",
            "sagemaker:DescribeModelQualityJobDefinition",
        ],
        ResourceKind::ModelBiasJobDefinition => [
            "sagemaker:ListModelBiasJobDefinitions",
            "sagemaker:DescribeModelBiasJobDefinition",
        ],
        ResourceKind::ModelExplainabilityJobDefinition => [
            "sagemaker:ListModelExplainabilityJobDefinitions",
            "sagemaker:DescribeModelExplainabilityJobDefinition",
        ],
        ResourceKind::MonitoringSchedule => [
            "sagemaker:ListMonitoringSchedules",
            "sagemaker:DescribeMonitoringSchedule",
        ],
        ResourceKind::FeatureGroup => [
            "sagemaker:ListFeatureGroups",
            "sagemaker:DescribeFeatureGroup",
        ],
        ResourceKind::InferenceExperiment => [
            "sagemaker:ListInferenceExperiments",
            "sagemaker:DescribeInferenceExperiment",
        ],
    }
}

/// The SageMaker resource types IAM checks a SageMaker action against when the guard makes the
/// call about a resource of `kind` (the Service Authorization Reference). Empty: the action
/// supports no resource-level permission (the list calls), so it needs `"*"`.
fn resource_types(action: &str, kind: ResourceKind) -> Vec<&'static str> {
    let operation = action.trim_start_matches("sagemaker:");
    match operation {
        // Tags are read and written on the resource they belong to.
        "AddTags" | "DeleteTags" | "ListTags" => vec![kind.arn_segment()],
        _ if operation.starts_with("List") => vec![],
        // Both are required: the endpoint, and the config it is moved to.
        "UpdateEndpoint" => vec!["endpoint", "endpoint-config"],
        "DescribeEndpoint" => vec!["endpoint"],
        "DescribeNotebookInstanceLifecycleConfig" => vec!["notebook-instance-lifecycle-config"],
        // Every other call is about the resource itself: describe, stop, update, start, delete,
        // create.
        _ => vec![kind.arn_segment()],
    }
}

/// One statement of the policy.
struct Statement {
    sid: &'static str,
    actions: BTreeSet<String>,
    resources: Vec<String>,
    condition: Option<serde_json::Value>,
}

impl Statement {
    fn new<S: ToString>(
        sid: &'static str,
        actions: impl IntoIterator<Item = S>,
        resources: Vec<String>,
    ) -> Self {
        Statement {
            sid,
            actions: actions.into_iter().map(|a| a.to_string()).collect(),
            resources,
            condition: None,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let resource = match &self.resources[..] {
            [one] => serde_json::json!(one),
            many => serde_json::json!(many),
        };
        let mut s = serde_json::json!({
            "Sid": self.sid, "Effect": "Allow", "Action": self.actions, "Resource": resource
        });
        if let Some(c) = &self.condition {
            s["Condition"] = c.clone();
        }
        s
    }
}

/// What a guard policy asks of AWS, before it is laid out as statements.
#[derive(Default)]
struct Needs {
    /// SageMaker actions IAM cannot scope.
    list: BTreeSet<String>,
    /// SageMaker actions by the resource type they are granted on.
    sagemaker: BTreeMap<&'static str, BTreeSet<String>>,
    /// A fix creates a resource that is given a role.
    passes_a_role: bool,
    /// A fix recreates notebooks: it stores signed intents on the queue.
    recreates: bool,
    /// The keys SageMaker.21 and .24 give resources (`spec.remediation.kmsKeys`).
    resource_keys: Vec<ResourceKey>,
    /// SageMaker.21's recreate: SageMaker makes a grant on the key for the new notebook.
    key_grants: bool,
    files_findings: bool,
    publishes_outcomes: bool,
}

impl Needs {
    fn of(policy: &Policy) -> Needs {
        let mut needs = Needs::default();
        let mut grant = |action: &str, kind: ResourceKind| {
            let types = resource_types(action, kind);
            if types.is_empty() {
                needs.list.insert(action.to_string());
            }
            for t in types {
                needs
                    .sagemaker
                    .entry(t)
                    .or_default()
                    .insert(action.to_string());
            }
        };
        for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
            for action in observe_actions(kind) {
                grant(action, kind);
            }
            if policy.needs_tags(kind) {
                grant("sagemaker:ListTags", kind);
            }
        }
        let mut passes_a_role = false;
        for (id, settings) in &policy.controls {
            let control = id.control();
            let (fix, kind) = (control.fix, control.resource_kind);
            let mutations: &[Mutation] = match settings.action {
                Action::Off | Action::Finding => &[],
                // `tag` adds the required tags (SageMaker.6, .7) or the noncompliant mark, and
                // removes the mark once the resource complies.
                Action::Tag => &[Mutation::AddTags, Mutation::DeleteTags],
                Action::Remediate => fix.mutations(),
            };
            // The intent a recreate stores is the queue's and the key's statements' business.
            for m in mutations.iter().filter(|m| m.service() == "sagemaker") {
                grant(&m.permission(), kind);
            }
            if settings.action == Action::Remediate {
                for read in fix.reads() {
                    grant(read, kind);
                }
                passes_a_role |= fix.passes_a_role();
            }
        }
        needs.passes_a_role = passes_a_role;
        needs.recreates = policy.recreates();
        let remediates = |id| {
            policy
                .control(id)
                .is_some_and(|s| s.action == Action::Remediate)
        };
        // SageMaker.24's update checks its key first; SageMaker.21's create makes a grant.
        if remediates(ControlId::SageMaker21) || remediates(ControlId::SageMaker24) {
            needs.resource_keys = policy.remediation.kms_keys.clone();
            needs.key_grants = remediates(ControlId::SageMaker21);
        }
        // Every action files or archives findings (a deleted resource's: those still active).
        needs.files_findings = !policy.controls.is_empty();
        needs.publishes_outcomes = policy.remediation.event_bus.is_some();
        needs
    }
}

/// The least-privilege IAM policy for a guard policy, used where `deployment` says: reading what
/// its controls judge, the changes its actions may make, findings, outcome events, the service's
/// queues and the key that signs recreate intents.
pub fn iam_policy(policy: &Policy, deployment: &Deployment) -> serde_json::Value {
    let needs = Needs::of(policy);
    let d = deployment;
    let mut statements = Vec::new();
    if !needs.list.is_empty() {
        statements.push(Statement::new(
            "SageMakerGuardList",
            &needs.list,
            vec!["*".into()],
        ));
    }
    for (resource_type, sid) in SAGEMAKER_TYPES {
        if let Some(actions) = needs.sagemaker.get(resource_type) {
            statements.push(Statement::new(
                sid,
                actions,
                d.arns("sagemaker", |_| format!("{resource_type}/*")),
            ));
        }
    }
    if needs.passes_a_role {
        // A recreated notebook keeps its role, a replacement endpoint config its execution role:
        // whatever role that is, it may only go to SageMaker.
        let roles = d
            .accounts()
            .into_iter()
            .map(|account| format!("arn:{}:iam::{account}:role/*", d.partition))
            .collect();
        let mut pass = Statement::new("SageMakerGuardPassRole", ["iam:PassRole"], roles);
        pass.condition = Some(serde_json::json!({
            "StringEquals": {"iam:PassedToService": PASSED_TO_SERVICE}
        }));
        statements.push(pass);
    }
    // CreateNotebookInstance with a KmsKeyId needs kms:DescribeKey and kms:CreateGrant on the key
    // (the SageMaker Developer Guide's API permissions reference); SageMaker creates the grant,
    // so the grant is allowed only for an AWS resource.
    // SageMaker.24 gives an inference experiment the key: the guard only checks it.
    statements.extend(resource_key_statements(
        &needs.resource_keys,
        needs.key_grants,
        d,
    ));
    if needs.files_findings {
        // Findings go to the default product of the resource's account.
        statements.push(Statement::new(
            "SageMakerGuardFindings",
            [Mutation::ImportFindings.permission()],
            d.arns("securityhub", |account| {
                format!("product/{account}/default")
            }),
        ));
        // A deleted resource's findings are looked up before they are archived; IAM checks
        // GetFindings against the account's hub.
        statements.push(Statement::new(
            "SageMakerGuardReadFindings",
            [FINDINGS_READ],
            d.arns("securityhub", |_| "hub/default".into()),
        ));
    }
    if d.member_only {
        // The rest is done with the central account's own credentials.
        let statements: Vec<serde_json::Value> =
            statements.iter().map(Statement::to_json).collect();
        return serde_json::json!({"Version": "2012-10-17", "Statement": statements});
    }
    if let (true, Some(bus)) = (needs.publishes_outcomes, &policy.remediation.event_bus) {
        let buses = if bus.starts_with("arn:") {
            vec![bus.clone()]
        } else {
            d.arns("events", |_| format!("event-bus/{bus}"))
        };
        statements.push(Statement::new(
            "SageMakerGuardOutcomes",
            [Mutation::PublishOutcome.permission()],
            buses,
        ));
    }
    let mut queue: Vec<String> = QUEUE_ACTIONS.map(str::to_string).to_vec();
    if needs.recreates {
        // Intents are stored on the queue and sent on while their recreate is under way.
        queue.push(Mutation::StoreRecreateIntent.permission());
    }
    statements.push(Statement::new("SageMakerGuardQueue", queue, d.queue_arns()));
    statements.push(Statement::new(
        "SageMakerGuardDeadLetterQueue",
        DEAD_LETTER_QUEUE_ACTIONS,
        d.dead_letter_queue_arns(),
    ));
    if needs.recreates {
        let (keys, condition) = match &d.intent_key {
            Some(key) => key_grant(key, d),
            None => (d.arns("kms", |_| "key/*".into()), None),
        };
        let mut sign = Statement::new("SageMakerGuardIntentKey", INTENT_KEY_ACTIONS, keys);
        sign.condition = condition;
        statements.push(sign);
    }
    if let Some(table) = &d.state_table {
        // The shared blast radius and the resource leases (`run --state-table`).
        let account = d.accounts.first().map_or("*", |a| a.as_str());
        let region = d.regions.first().map_or("*", |r| r.as_str());
        statements.push(Statement::new(
            "SageMakerGuardStateTable",
            STATE_TABLE_ACTIONS,
            vec![format!(
                "arn:{}:dynamodb:{region}:{account}:table/{table}",
                d.partition
            )],
        ));
    }
    if let Some(template) = &d.member_role {
        // Every member account's role: which accounts is the account list's business, read at
        // run time; the organization, when given, bounds them.
        let role = template
            .replace("{partition}", &d.partition)
            .replace("{account_id}", "*");
        let mut assume =
            Statement::new("SageMakerGuardMemberRoles", ["sts:AssumeRole"], vec![role]);
        assume.condition = d
            .organization_id
            .as_ref()
            .map(|id| serde_json::json!({"StringEquals": {"aws:ResourceOrgID": id}}));
        statements.push(assume);
    }
    let statements: Vec<serde_json::Value> = statements.iter().map(Statement::to_json).collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

/// The calls on the state table replicas share.
pub const STATE_TABLE_ACTIONS: [&str; 4] = [
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];

/// Where the policy for `deployment` has a wildcard that a flag of `iam-policy` would narrow, in
/// words for the operator.
pub fn notes(policy: &Policy, deployment: &Deployment) -> Vec<String> {
    let needs = Needs::of(policy);
    let d = deployment;
    let mut out = Vec::new();
    if d.accounts.is_empty() || d.regions.is_empty() {
        out.push(
            "resources in any account or region: --account and --region narrow every statement"
                .to_string(),
        );
    }
    if d.queue.is_none() {
        out.push(
            "SageMakerGuardQueue is on any queue: pass --queue-url (or --queue-arn), the queue `run` reads"
                .to_string(),
        );
    }
    if d.dead_letter_queue.is_none() {
        out.push(format!(
            "SageMakerGuardDeadLetterQueue is on any queue {}: pass --dead-letter-queue-url (or \
             --dead-letter-queue-arn), the queue's redrive target",
            if d.queue.is_some() {
                "of the queue's account and region"
            } else {
                "at all"
            }
        ));
    }
    let aliases: Vec<&str> = needs
        .resource_keys
        .iter()
        .filter(|k| k.key_id.contains("alias/"))
        .map(|k| k.key_id.as_str())
        .collect();
    if !aliases.is_empty() {
        out.push(format!(
            "SageMakerGuardResourceKeysByAlias is on any key with the alias {} (IAM cannot name a key \
             by its alias): give spec.remediation.kmsKeys the keys' ARNs to name the keys themselves",
            aliases.join(", ")
        ));
    }
    if needs.recreates {
        match &d.intent_key {
            None => out.push(
                "SageMakerGuardIntentKey is on any KMS key: pass --intent-key-id, the key that signs \
                 recreate intents"
                    .to_string(),
            ),
            Some(IntentKeyId::Alias { name, .. }) => out.push(format!(
                "SageMakerGuardIntentKey is on any key with the alias {name} (IAM cannot name a \
                 key by its alias): pass the key's ARN to name the key itself"
            )),
            Some(_) => {}
        }
    }
    out
}

/// Every action the policy allows, whatever its statement.
pub fn allowed_actions(policy: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().into_iter().flatten() {
        out.extend(strings(&statement["Action"]));
    }
    out
}

/// A string or a list of strings, as IAM writes `Action` and `Resource`.
fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `policy` (a document [`iam_policy`] made) allows `action` on `resource`, given the
/// request's condition keys (`context`): some statement whose Action and Resource match (IAM's
/// `*` and `?`, the action's case ignored, a resource pattern matched segment by segment) and
/// whose conditions all hold. Only the condition operators [`iam_policy`] writes are understood;
/// any other fails, as does a condition on a key the context lacks. A call on several
/// resources (`UpdateEndpoint`: the endpoint and the config) must be allowed on each.
pub fn allows(
    policy: &serde_json::Value,
    action: &str,
    resource: &str,
    context: &[(&str, &str)],
) -> bool {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["Effect"] == "Allow")
        .filter(|s| {
            strings(&s["Action"])
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
        })
        .filter(|s| {
            strings(&s["Resource"])
                .iter()
                .any(|r| arn_matches(r, resource))
        })
        .any(|s| conditions_hold(&s["Condition"], context))
}

fn conditions_hold(conditions: &serde_json::Value, context: &[(&str, &str)]) -> bool {
    let Some(conditions) = conditions.as_object() else {
        return conditions.is_null();
    };
    conditions.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        keys.iter().all(|(key, wanted)| {
            let wanted = strings(wanted);
            let mut values = context
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
                .peekable();
            match operator.as_str() {
                // Single-valued: the request's value is one of those listed.
                "StringEquals" | "Bool" => {
                    values.next().is_some_and(|v| wanted.iter().any(|w| w == v))
                }
                // Multi-valued: one of the request's values is one of those listed.
                "ForAnyValue:StringEquals" => values.any(|v| wanted.iter().any(|w| w == v)),
                _ => false,
            }
        })
    })
}

/// An ARN pattern against an ARN: `*` alone matches anything; otherwise the six parts of an
/// ARN (the last may hold colons) match part by part.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
