//! Plans: what the policy would do about one resource's failures, as data.
//!
//! One resource gets one plan, whatever number of controls failed: one recreate carries every safe
//! setting, one in-place update carries every in-place fix. The plan is a pure function of the
//! resource, its verdicts, the policy and the time; dry-run prints it, tests assert on it, and the
//! executor consumes it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::catalogue::{ControlId, Fix, AL2023_UNSUPPORTED_INSTANCE_FAMILIES};
use crate::domain::evaluate::{Status, Verdict};
use crate::domain::marks::{NONCOMPLIANT_TAG, RECREATED_AT_TAG, RECREATE_AFTER_TAG};
use crate::domain::policy::{Action, Policy};
use crate::domain::resource::{NotebookInstance, NotebookStatus, Observed, ResourceKind};

/// The strongest effect of a plan, in increasing order of what it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanKind {
    /// Nothing can be done now (e.g. the resource is being deleted).
    None,
    /// File a Security Hub finding.
    Finding,
    /// Add tags.
    Tag,
    /// One update call on a resource that takes the change as it runs (a monitoring schedule,
    /// an inference experiment): nothing is stopped, deleted or created.
    Update,
    /// A new endpoint config, and every endpoint moved onto it.
    ReplaceEndpointConfig,
    /// Stop, update, start: the notebook and its storage are kept.
    UpdateInPlace,
    /// Stop, delete and create again: the notebook's storage volume is lost.
    Recreate,
}

impl PlanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::None => "none",
            PlanKind::Finding => "finding",
            PlanKind::Tag => "tag",
            PlanKind::Update => "update",
            PlanKind::ReplaceEndpointConfig => "replace-endpoint-config",
            PlanKind::UpdateInPlace => "update-in-place",
            PlanKind::Recreate => "recreate",
        }
    }
}

/// A setting a fix gives a notebook, named as the API names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "name", content = "value")]
pub enum Setting {
    /// `Disabled`: only at creation.
    DirectInternetAccess(String),
    /// Only at creation.
    SubnetId(String),
    /// Only at creation, with the subnet.
    SecurityGroupIds(Vec<String>),
    /// `Disabled`: in place (stopped) or at creation.
    RootAccess(String),
    /// In place (stopped) or at creation.
    PlatformIdentifier(String),
    /// In place (stopped) or at creation: an instance type the new platform runs on.
    InstanceType(String),
    /// Only at creation: the key the storage volume is encrypted with (SageMaker.21).
    KmsKeyId(String),
    /// A monitoring schedule's inline job: `NetworkConfig.EnableNetworkIsolation` (SageMaker.14).
    EnableNetworkIsolation(bool),
    /// A monitoring schedule's inline job: `NetworkConfig.EnableInterContainerTrafficEncryption`
    /// (SageMaker.22).
    EnableInterContainerTrafficEncryption(bool),
    /// An inference experiment's `DataStorageConfig.KmsKey` (SageMaker.24).
    #[serde(rename = "DataStorageConfig.KmsKey")]
    DataStorageKmsKey(String),
}

impl Setting {
    /// The API's name of the setting.
    pub fn name(&self) -> &'static str {
        match self {
            Setting::DirectInternetAccess(_) => "DirectInternetAccess",
            Setting::SubnetId(_) => "SubnetId",
            Setting::SecurityGroupIds(_) => "SecurityGroupIds",
            Setting::RootAccess(_) => "RootAccess",
            Setting::PlatformIdentifier(_) => "PlatformIdentifier",
            Setting::InstanceType(_) => "InstanceType",
            Setting::KmsKeyId(_) => "KmsKeyId",
            Setting::EnableNetworkIsolation(_) => "EnableNetworkIsolation",
            Setting::EnableInterContainerTrafficEncryption(_) => {
                "EnableInterContainerTrafficEncryption"
            }
            Setting::DataStorageKmsKey(_) => "DataStorageConfig.KmsKey",
        }
    }

    /// The value, as people read it (security groups separated by spaces).
    pub fn value(&self) -> String {
        match self {
            Setting::DirectInternetAccess(v)
            | Setting::SubnetId(v)
            | Setting::RootAccess(v)
            | Setting::PlatformIdentifier(v)
            | Setting::InstanceType(v)
            | Setting::KmsKeyId(v)
            | Setting::DataStorageKmsKey(v) => v.clone(),
            Setting::SecurityGroupIds(groups) => groups.join(" "),
            Setting::EnableNetworkIsolation(b)
            | Setting::EnableInterContainerTrafficEncryption(b) => b.to_string(),
        }
    }

    /// Whether giving it to `nb` changes anything: `false` when the notebook has that value
    /// already. Compares with the value a recreate carries over from the notebook
    /// (`intent::derive_spec`), so a setting that changes nothing can be left out of a plan
    /// without changing what is created.
    pub fn changes(&self, nb: &NotebookInstance) -> bool {
        let same = |current: &Option<String>, v: &String| current.as_ref() == Some(v);
        match self {
            Setting::DirectInternetAccess(v) => !same(&nb.direct_internet_access, v),
            Setting::SubnetId(v) => !same(&nb.subnet_id.clone().filter(|s| !s.is_empty()), v),
            Setting::SecurityGroupIds(groups) => nb.security_groups != *groups,
            Setting::RootAccess(v) => !same(&nb.root_access, v),
            Setting::PlatformIdentifier(v) => !same(&nb.platform_identifier, v),
            Setting::InstanceType(v) => !same(&nb.instance_type, v),
            Setting::KmsKeyId(v) => !same(&nb.kms_key_id, v),
            // Not a notebook's settings: never part of a notebook's plan.
            Setting::EnableNetworkIsolation(_)
            | Setting::EnableInterContainerTrafficEncryption(_)
            | Setting::DataStorageKmsKey(_) => true,
        }
    }

    /// Whether `UpdateNotebookInstance` can change it (the notebook stopped).
    pub fn updatable_in_place(&self) -> bool {
        matches!(
            self,
            Setting::RootAccess(_) | Setting::PlatformIdentifier(_) | Setting::InstanceType(_)
        )
    }
}

/// One step of a plan, in the order it is carried out. Serialised as JSON tagged by `step`
/// (`{"step": "update", "settings": [...]}`), which the executor can read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "step",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Step {
    FileFinding {
        control: ControlId,
    },
    AddTags {
        tags: BTreeMap<String, String>,
    },
    RemoveTags {
        keys: Vec<String>,
    },
    /// Wait until a time (a grace period) before going on; an exemption in the meantime cancels.
    WaitUntil {
        time: Timestamp,
    },
    /// Go on only once the notebook's users have stopped it (`onlyWhenStopped`).
    WaitForUserStop,
    Stop,
    Update {
        settings: Vec<Setting>,
    },
    Start,
    /// Store the whole configuration durably before anything is deleted.
    CaptureConfiguration,
    Delete,
    Create {
        settings: Vec<Setting>,
    },
    RestoreTags,
    CreateEndpointConfig {
        name: String,
        instance_count: i32,
        variants: Vec<String>,
    },
    UpdateEndpoints {
        from: String,
        to: String,
    },
}

fn settings_list(settings: &[Setting]) -> String {
    settings
        .iter()
        .map(|s| format!("{}={}", s.name(), s.value()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::FileFinding { control } => write!(f, "file finding {control}"),
            Step::AddTags { tags } => write!(
                f,
                "add tags {}",
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::RemoveTags { keys } => write!(f, "remove tags {}", keys.join(", ")),
            Step::WaitUntil { time } => {
                write!(f, "wait until {time} (grace period; an exemption cancels)")
            }
            Step::WaitForUserStop => f.write_str("wait until its users stop it (onlyWhenStopped)"),
            Step::Stop => f.write_str("stop"),
            Step::Update { settings } => write!(f, "update {}", settings_list(settings)),
            Step::Start => f.write_str("start"),
            Step::CaptureConfiguration => f.write_str("capture configuration"),
            Step::Delete => f.write_str("delete"),
            Step::Create { settings } if settings.is_empty() => f.write_str("create as it was"),
            Step::Create { settings } => write!(f, "create {}", settings_list(settings)),
            Step::RestoreTags => write!(f, "restore tags + {RECREATED_AT_TAG}"),
            Step::CreateEndpointConfig {
                name,
                instance_count,
                variants,
            } => write!(
                f,
                "create endpoint config {name} with InitialInstanceCount={instance_count} for {}",
                variants.join(", ")
            ),
            Step::UpdateEndpoints { from, to } => {
                write!(
                    f,
                    "update every endpoint using {from} to {to} (the old config is kept)"
                )
            }
        }
    }
}

/// What the policy would do about one resource.
///
/// In JSON, `steps` are the steps in words, for people, and `structuredSteps` the same steps as
/// data, which [`Plan`]'s `Deserialize` reads back: a plan printed by dry-run is the plan the
/// executor consumes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub kind: PlanKind,
    /// True when nothing will be changed: dry-run by command, policy or control.
    pub dry_run: bool,
    #[serde(rename = "structuredSteps")]
    pub steps: Vec<Step>,
    /// The failed controls this plan answers.
    pub controls: Vec<ControlId>,
    /// Why a fix the policy asks for is not (yet) possible, and what the operator can do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Written<'a> {
            kind: PlanKind,
            dry_run: bool,
            steps: Vec<String>,
            structured_steps: &'a [Step],
            controls: &'a [ControlId],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            notes: &'a [String],
        }
        Written {
            kind: self.kind,
            dry_run: self.dry_run,
            steps: self.steps.iter().map(Step::to_string).collect(),
            structured_steps: &self.steps,
            controls: &self.controls,
            notes: &self.notes,
        }
        .serialize(s)
    }
}

/// Plans the response to a resource's failed verdicts; `None` when nothing failed.
///
/// `force_dry_run` is the command's dry-run (an audit never changes anything).
pub fn plan(
    resource: &Observed,
    verdicts: &[Verdict],
    policy: &Policy,
    now: Timestamp,
    force_dry_run: bool,
) -> Option<Plan> {
    let failed: Vec<ControlId> = verdicts
        .iter()
        .filter(|v| v.status == Status::Failed)
        .map(|v| v.control)
        .collect();
    let marked = resource
        .tags
        .as_ref()
        .is_some_and(|t| t.contains_key(NONCOMPLIANT_TAG) || t.contains_key(RECREATE_AFTER_TAG));
    if failed.is_empty() && !marked {
        return None;
    }
    let dry_run = force_dry_run
        || policy.dry_run
        || failed
            .iter()
            .any(|c| policy.control(*c).is_some_and(|s| s.dry_run));
    // Fail closed: a control that could not be judged (an exemption or a read in doubt) means
    // nothing destructive happens to the resource until it can be.
    let in_doubt: Vec<ControlId> = verdicts
        .iter()
        .filter(|v| v.status == Status::Error)
        .map(|v| v.control)
        .collect();
    let mut b = Builder::default();
    for &c in &failed {
        let action = policy.control(c).map(|s| s.action).unwrap_or(Action::Off);
        match action {
            Action::Off => {}
            Action::Finding => b.findings.push(c),
            Action::Tag if c.control().fix == Fix::AddTags => {
                b.add_required_tags(c, resource, policy)
            }
            Action::Tag => b.marks.push(c),
            Action::Remediate if !in_doubt.is_empty() && c.control().fix != Fix::AddTags => {
                b.findings.push(c)
            }
            Action::Remediate => match c.control().fix {
                Fix::Recreate => b.recreate.push(c),
                Fix::UpdateInPlace => b.in_place.push(c),
                Fix::ReplaceEndpointConfig => b.replace_config = true,
                Fix::AddTags => b.add_required_tags(c, resource, policy),
                Fix::UpdateMonitoringSchedule | Fix::UpdateInferenceExperiment => b.update.push(c),
                Fix::None => b.findings.push(c),
            },
        }
    }
    if !in_doubt.is_empty()
        && b.findings.iter().any(|c| {
            policy
                .control(*c)
                .is_some_and(|s| s.action == Action::Remediate)
        })
    {
        b.notes.push(format!(
            "{} could not be judged: nothing destructive is done until {} can be",
            in_doubt
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if in_doubt.len() == 1 { "it" } else { "they" }
        ));
    }
    Some(b.build(resource, policy, now, failed, dry_run))
}

/// Collects what each failed control asks for, then merges it into one plan.
#[derive(Default)]
struct Builder {
    findings: Vec<ControlId>,
    marks: Vec<ControlId>,
    add_tags: BTreeMap<String, String>,
    in_place: Vec<ControlId>,
    recreate: Vec<ControlId>,
    /// Fixed by one update call of a schedule or an experiment.
    update: Vec<ControlId>,
    replace_config: bool,
    notes: Vec<String>,
}

impl Builder {
    /// SageMaker.6 and .7: add each missing key with the policy's value; never overwrite.
    fn add_required_tags(&mut self, c: ControlId, resource: &Observed, policy: &Policy) {
        let tags = resource.tags.clone().unwrap_or_default();
        let required = &policy
            .control(c)
            .map(|s| s.required_key_tags.clone())
            .unwrap_or_default();
        let wanted: Vec<&String> = if required.is_empty() {
            policy.remediation.tag_values.keys().collect()
        } else {
            required.iter().filter(|k| !tags.contains_key(k)).collect()
        };
        let mut unknown = Vec::new();
        for key in wanted {
            match policy.remediation.tag_values.get(key) {
                Some(v) => {
                    self.add_tags.insert(key.clone(), v.clone());
                }
                None => unknown.push(key.as_str()),
            }
        }
        if !unknown.is_empty() || self.add_tags.is_empty() {
            self.notes.push(format!(
                "{c}: no value configured for {} in spec.remediation.tagValues",
                if unknown.is_empty() {
                    "any key".to_string()
                } else {
                    unknown.join(", ")
                }
            ));
            self.findings.push(c);
        }
    }

    fn build(
        mut self,
        resource: &Observed,
        policy: &Policy,
        now: Timestamp,
        controls: Vec<ControlId>,
        dry_run: bool,
    ) -> Plan {
        let mut steps = Vec::new();
        let mut kind = PlanKind::Finding;

        if resource.kind == ResourceKind::NotebookInstance
            && !(self.recreate.is_empty() && self.in_place.is_empty())
        {
            match resource.notebook() {
                Some(nb) => {
                    let (k, s) = self.notebook_fix(resource, nb, policy, now);
                    kind = kind.max(k);
                    steps.extend(s);
                }
                None => {
                    self.notes
                        .push("the notebook's configuration was not read".into());
                    self.findings.append(&mut self.in_place);
                    self.findings.append(&mut self.recreate);
                }
            }
        }
        if !self.update.is_empty() {
            if let Some(settings) = self.update_settings(resource, policy) {
                steps.push(Step::Update { settings });
                kind = kind.max(PlanKind::Update);
            }
        }
        if self.replace_config {
            let min = policy.remediation.min_instance_count;
            let variants = match &resource.details {
                Some(crate::domain::resource::Details::EndpointConfig(ec)) => ec
                    .production_variants
                    .iter()
                    .filter(|v| !v.serverless && v.initial_instance_count.is_none_or(|n| n < min))
                    .map(|v| v.name.clone())
                    .collect(),
                _ => Vec::new(),
            };
            let name = replacement_config_name(&resource.name);
            steps.push(Step::CreateEndpointConfig {
                name: name.clone(),
                instance_count: min,
                variants,
            });
            steps.push(Step::UpdateEndpoints {
                from: resource.name.clone(),
                to: name,
            });
            kind = kind.max(PlanKind::ReplaceEndpointConfig);
        }
        let mut remove = Vec::new();
        if kind < PlanKind::Recreate
            && resource
                .tags
                .as_ref()
                .is_some_and(|t| t.contains_key(RECREATE_AFTER_TAG))
        {
            // No recreate is planned any more (it complies, or an exemption came during the
            // grace period): the schedule is cancelled.
            remove.push(RECREATE_AFTER_TAG.to_string());
        }
        let current_mark = resource.tags.as_ref().and_then(|t| t.get(NONCOMPLIANT_TAG));
        if !self.marks.is_empty() {
            let value = self
                .marks
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(",");
            if current_mark != Some(value.as_str()) {
                self.add_tags.insert(NONCOMPLIANT_TAG.to_string(), value);
            }
        } else if current_mark.is_some() {
            // The resource complies with every control the policy marks: the mark goes.
            remove.push(NONCOMPLIANT_TAG.to_string());
        }
        if !remove.is_empty() {
            steps.insert(0, Step::RemoveTags { keys: remove });
            kind = kind.max(PlanKind::Tag);
        }
        if !self.add_tags.is_empty() {
            // Tags go first: they are cheap, and a long fix may wait for a grace period.
            steps.insert(
                0,
                Step::AddTags {
                    tags: self.add_tags,
                },
            );
            kind = kind.max(PlanKind::Tag);
        }
        self.findings.sort();
        self.findings.dedup();
        for (i, c) in self.findings.iter().enumerate() {
            steps.insert(i, Step::FileFinding { control: *c });
        }
        let deleting = resource
            .notebook()
            .is_some_and(|nb| nb.status == Some(NotebookStatus::Deleting));
        if deleting {
            self.notes
                .push("the notebook is being deleted: nothing to do".into());
            steps.clear();
            kind = PlanKind::None;
        }
        Plan {
            kind,
            dry_run,
            steps,
            controls,
            notes: self.notes,
        }
    }

    /// The settings of the one update call that fixes a monitoring schedule (SageMaker.14,
    /// .22) or an inference experiment (SageMaker.24); `None`, with a note, when the resource's
    /// state or the policy does not allow it now (its controls become findings).
    fn update_settings(&mut self, resource: &Observed, policy: &Policy) -> Option<Vec<Setting>> {
        use crate::domain::resource::{Details, InferenceExperiment};
        let settings: Result<Vec<Setting>, String> = match &resource.details {
            Some(Details::MonitoringSchedule(s)) if s.inline_job.is_none() => Err(
                "the monitoring schedule names a job definition: its settings are the definition's"
                    .to_string(),
            ),
            // A Pending schedule is updated once it is Scheduled: the executor waits.
            Some(Details::MonitoringSchedule(_)) => Ok(self
                .update
                .iter()
                .filter_map(|c| match c {
                    ControlId::SageMaker14 => Some(Setting::EnableNetworkIsolation(true)),
                    ControlId::SageMaker22 => {
                        Some(Setting::EnableInterContainerTrafficEncryption(true))
                    }
                    _ => None,
                })
                .collect()),
            // In a transition, the executor waits for Created or Running.
            Some(Details::InferenceExperiment(e))
                if !(InferenceExperiment::takes_update(e.status.as_deref())
                    || resource.transition().is_some()) =>
            {
                Err(format!(
                    "the inference experiment is {}: UpdateInferenceExperiment takes only a Created or Running one, \
                     and it will not be either again",
                    e.status.as_deref().unwrap_or("in an unknown state")
                ))
            }
            Some(Details::InferenceExperiment(_)) => policy
                .remediation
                .kms_key_for(&resource.account, &resource.region)
                .map(|k| vec![Setting::DataStorageKmsKey(k.key_id.clone())])
                .ok_or_else(|| {
                    format!(
                        "no KMS key is configured for account {} in {}: the captured data cannot be given a key; \
                         add one under spec.remediation.kmsKeys",
                        resource.account, resource.region
                    )
                }),
            _ => Err("the resource's configuration was not read".to_string()),
        };
        match settings {
            Ok(settings) => Some(settings),
            Err(why) => {
                let controls: Vec<&str> = self.update.iter().map(|c| c.as_str()).collect();
                self.notes.push(format!("{}: {why}", controls.join(", ")));
                self.findings.append(&mut self.update);
                None
            }
        }
    }

    /// The in-place or recreate fix of a notebook, merged: one recreate carries every fix.
    fn notebook_fix(
        &mut self,
        resource: &Observed,
        nb: &NotebookInstance,
        policy: &Policy,
        now: Timestamp,
    ) -> (PlanKind, Vec<Step>) {
        let in_place = self.in_place_settings(nb, policy);
        let status = nb
            .status
            .clone()
            .unwrap_or(NotebookStatus::Unknown(String::new()));
        if self.recreate.is_empty() {
            if in_place.is_empty() {
                return (PlanKind::Finding, Vec::new());
            }
            if status == NotebookStatus::Failed {
                self.notes.push(
                    "the notebook is Failed: it cannot be stopped or updated; delete it or recreate it by hand"
                        .into(),
                );
                self.findings.append(&mut self.in_place);
                return (PlanKind::Finding, Vec::new());
            }
            let running = matches!(status, NotebookStatus::InService | NotebookStatus::Pending);
            let mut steps = Vec::new();
            if status != NotebookStatus::Stopped {
                steps.push(Step::Stop);
            }
            steps.push(Step::Update { settings: in_place });
            if running {
                steps.push(Step::Start);
            }
            return (PlanKind::UpdateInPlace, steps);
        }

        // Recreate: DirectInternetAccess, SubnetId and KmsKeyId can only be chosen at creation.
        // Each recreate control that cannot be fixed here becomes a finding; the others are
        // still made, in one recreate.
        let mut create = Vec::new();
        let moves_network = self
            .recreate
            .iter()
            .any(|c| matches!(c, ControlId::SageMaker1 | ControlId::SageMaker2));
        if moves_network {
            let network = match nb.subnet_id.as_deref().filter(|s| !s.is_empty()) {
                Some(subnet) => Some((subnet.to_string(), nb.security_groups.clone())),
                None => policy
                    .remediation
                    .network_for(&resource.account, &resource.region)
                    .map(|n| (n.subnet_id.clone(), n.security_group_ids.clone())),
            };
            match network {
                Some((subnet, groups)) => {
                    if self.recreate.contains(&ControlId::SageMaker1) {
                        create.push(Setting::DirectInternetAccess("Disabled".into()));
                    }
                    create.push(Setting::SubnetId(subnet));
                    create.push(Setting::SecurityGroupIds(groups));
                }
                None => {
                    let network_controls: Vec<ControlId> = self
                        .recreate
                        .iter()
                        .copied()
                        .filter(|c| matches!(c, ControlId::SageMaker1 | ControlId::SageMaker2))
                        .collect();
                    self.notes.push(format!(
                        "{}: no subnet is configured for account {} in {}: the notebook cannot be moved out of \
                         direct internet access; add one under spec.remediation.networks",
                        network_controls.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
                        resource.account,
                        resource.region
                    ));
                    self.recreate.retain(|c| !network_controls.contains(c));
                    self.findings.extend(network_controls);
                }
            }
        }
        if self.recreate.contains(&ControlId::SageMaker21) {
            match policy
                .remediation
                .kms_key_for(&resource.account, &resource.region)
            {
                Some(key) => create.push(Setting::KmsKeyId(key.key_id.clone())),
                None => {
                    self.notes.push(format!(
                        "SageMaker.21: no KMS key is configured for account {} in {}: the notebook's storage \
                         volume cannot be given a key; add one under spec.remediation.kmsKeys",
                        resource.account, resource.region
                    ));
                    self.recreate.retain(|c| *c != ControlId::SageMaker21);
                    self.findings.push(ControlId::SageMaker21);
                }
            }
        }
        if self.recreate.is_empty() {
            // The in-place fixes can still be made on their own.
            return self.notebook_fix(resource, nb, policy, now);
        }
        create.extend(in_place);
        // Only what changes: everything else is carried over from the captured notebook anyway
        // (a notebook in a subnet keeps it and its security groups).
        create.retain(|s| s.changes(nb));
        self.recreate.append(&mut self.in_place);

        let mut steps = Vec::new();
        let fresh = nb.creation_time.is_some_and(|t| {
            now.as_second() - t < policy.remediation.fresh_window.as_secs() as i64
        });
        if !fresh {
            let grace = policy.remediation.grace_period;
            let after = marked_time(resource, nb.creation_time, now, grace)
                .unwrap_or_else(|| add(now, grace));
            // The mark joins the plan's other tags, which go first.
            let current = resource
                .tags
                .as_ref()
                .and_then(|t| t.get(RECREATE_AFTER_TAG));
            if current != Some(after.to_string().as_str()) {
                self.add_tags
                    .insert(RECREATE_AFTER_TAG.to_string(), after.to_string());
            }
            steps.push(Step::WaitUntil { time: after });
            self.notes.push(format!(
                "the notebook is older than freshWindow ({}): its storage volume may hold work, so it is \
                 recreated only after {after}, if it still fails then; to opt out, make it comply or \
                 exempt it (e.g. with an exemption tag) before that time",
                humantime::format_duration(policy.remediation.fresh_window)
            ));
        }
        // Nobody uses a Failed notebook either.
        if policy.remediation.only_when_stopped
            && !matches!(status, NotebookStatus::Stopped | NotebookStatus::Failed)
        {
            steps.push(Step::WaitForUserStop);
        }
        let running = matches!(status, NotebookStatus::InService | NotebookStatus::Pending);
        if !matches!(status, NotebookStatus::Stopped | NotebookStatus::Failed) {
            steps.push(Step::Stop);
        }
        steps.push(Step::CaptureConfiguration);
        steps.push(Step::Delete);
        steps.push(Step::Create { settings: create });
        steps.push(Step::RestoreTags);
        if !running {
            // A new notebook starts InService: restore the stopped state it had.
            steps.push(Step::Stop);
        }
        (PlanKind::Recreate, steps)
    }

    /// The settings of the in-place fixes asked for; a fix that cannot be made becomes a finding.
    fn in_place_settings(&mut self, nb: &NotebookInstance, policy: &Policy) -> Vec<Setting> {
        let mut settings = Vec::new();
        let mut unfixable = Vec::new();
        for &c in &self.in_place {
            match c {
                ControlId::SageMaker3 => settings.push(Setting::RootAccess("Disabled".into())),
                ControlId::SageMaker8 => {
                    let Some(target) = policy
                        .control(c)
                        .and_then(|s| s.supported_platforms.first())
                    else {
                        unfixable.push(c);
                        continue;
                    };
                    let needs_new_type = target.starts_with("notebook-al2023")
                        && nb.instance_type.as_deref().is_some_and(al2023_unsupported);
                    if needs_new_type {
                        let current = nb.instance_type.clone().unwrap_or_default();
                        match policy.remediation.instance_type_substitutions.get(&current) {
                            Some(new_type) => {
                                settings.push(Setting::InstanceType(new_type.clone()))
                            }
                            None => {
                                self.notes.push(format!(
                                    "SageMaker.8: {target} does not run on {current}; add a substitute under \
                                     spec.remediation.notebook.instanceTypeSubstitutions"
                                ));
                                unfixable.push(c);
                                continue;
                            }
                        }
                    }
                    settings.push(Setting::PlatformIdentifier(target.clone()));
                }
                _ => unfixable.push(c),
            }
        }
        self.in_place.retain(|c| !unfixable.contains(c));
        self.findings.extend(unfixable);
        settings
    }
}

/// Whether Amazon Linux 2023 notebooks do not run on an instance type (`ml.p3.2xlarge` is of the
/// family `ml.p3`).
pub fn al2023_unsupported(instance_type: &str) -> bool {
    let family: String = instance_type
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    AL2023_UNSUPPORTED_INSTANCE_FAMILIES.contains(&family.as_str())
}

/// The time a notebook was marked to be recreated after, if it carries the mark. Anyone who
/// may tag the notebook may write the mark, so it is clamped to what the guard could have
/// written: no sooner than the notebook's creation plus the grace period (a mark of 1970 does
/// not skip the grace period), no later than now plus the grace period.
fn marked_time(
    resource: &Observed,
    created: Option<i64>,
    now: Timestamp,
    grace: Duration,
) -> Option<Timestamp> {
    let marked: Timestamp = resource
        .tags
        .as_ref()?
        .get(RECREATE_AFTER_TAG)?
        .parse()
        .ok()?;
    let latest = add(now, grace);
    let earliest = created
        .and_then(|secs| Timestamp::from_second(secs).ok())
        .map_or(latest, |c| add(c, grace));
    Some(marked.clamp(earliest.min(latest), latest))
}

/// `t + d`; past the last representable time, that time: later, never sooner.
fn add(t: Timestamp, d: Duration) -> Timestamp {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|secs| t.checked_add(jiff::SignedDuration::from_secs(secs)).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The deterministic name of the endpoint config that replaces one failing SageMaker.4
/// (endpoint config names have at most 63 characters).
pub fn replacement_config_name(name: &str) -> String {
    const SUFFIX: &str = "-guard-ha";
    let keep = 63 - SUFFIX.len();
    let base: String = name.chars().take(keep).collect();
    format!("{base}{SUFFIX}")
}

#[cfg(test)]
mod tests;
