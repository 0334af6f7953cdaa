//! The control catalogue: the single source of truth for the controls the guard enforces
//! (SageMaker.1 to SageMaker.25).
//!
//! Ids, titles, severities, resource types, AWS Config rules, parameters, related requirements and
//! the fix each control allows live here and nowhere else. `docs/controls.md`, the policy schema and
//! the findings are derived from this table; the evaluation of each control is in the `evaluate` module.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::mutation::Mutation;
use crate::domain::resource::ResourceKind;

/// One of the Security Hub controls this tool enforces.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum ControlId {
    #[serde(rename = "SageMaker.1")]
    SageMaker1,
    #[serde(rename = "SageMaker.2")]
    SageMaker2,
    #[serde(rename = "SageMaker.3")]
    SageMaker3,
    #[serde(rename = "SageMaker.4")]
    SageMaker4,
    #[serde(rename = "SageMaker.5")]
    SageMaker5,
    #[serde(rename = "SageMaker.6")]
    SageMaker6,
    #[serde(rename = "SageMaker.7")]
    SageMaker7,
    #[serde(rename = "SageMaker.8")]
    SageMaker8,
    #[serde(rename = "SageMaker.9")]
    SageMaker9,
    #[serde(rename = "SageMaker.10")]
    SageMaker10,
    #[serde(rename = "SageMaker.11")]
    SageMaker11,
    #[serde(rename = "SageMaker.12")]
    SageMaker12,
    #[serde(rename = "SageMaker.13")]
    SageMaker13,
    #[serde(rename = "SageMaker.14")]
    SageMaker14,
    #[serde(rename = "SageMaker.15")]
    SageMaker15,
    #[serde(rename = "SageMaker.16")]
    SageMaker16,
    #[serde(rename = "SageMaker.17")]
    SageMaker17,
    #[serde(rename = "SageMaker.18")]
    SageMaker18,
    #[serde(rename = "SageMaker.19")]
    SageMaker19,
    #[serde(rename = "SageMaker.20")]
    SageMaker20,
    #[serde(rename = "SageMaker.21")]
    SageMaker21,
    #[serde(rename = "SageMaker.22")]
    SageMaker22,
    #[serde(rename = "SageMaker.23")]
    SageMaker23,
    #[serde(rename = "SageMaker.24")]
    SageMaker24,
    #[serde(rename = "SageMaker.25")]
    SageMaker25,
}

impl ControlId {
    pub const ALL: [ControlId; 25] = [
        ControlId::SageMaker1,
        ControlId::SageMaker2,
        ControlId::SageMaker3,
        ControlId::SageMaker4,
        ControlId::SageMaker5,
        ControlId::SageMaker6,
        ControlId::SageMaker7,
        ControlId::SageMaker8,
        ControlId::SageMaker9,
        ControlId::SageMaker10,
        ControlId::SageMaker11,
        ControlId::SageMaker12,
        ControlId::SageMaker13,
        ControlId::SageMaker14,
        ControlId::SageMaker15,
        ControlId::SageMaker16,
        ControlId::SageMaker17,
        ControlId::SageMaker18,
        ControlId::SageMaker19,
        ControlId::SageMaker20,
        ControlId::SageMaker21,
        ControlId::SageMaker22,
        ControlId::SageMaker23,
        ControlId::SageMaker24,
        ControlId::SageMaker25,
    ];

    pub fn as_str(self) -> &'static str {
        self.control().id
    }

    /// The catalogue entry of this control.
    pub fn control(self) -> &'static Control {
        &CATALOGUE[self as usize]
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ControlId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ControlId::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown control id `{s}` (known: {})", known_ids()))
    }
}

/// The known control ids, in words: "SageMaker.1 to SageMaker.25" (they run without a gap).
pub fn known_ids() -> String {
    match (ControlId::ALL.first(), ControlId::ALL.last()) {
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => String::new(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        })
    }
}

/// When AWS Config evaluates the control. Periodic controls are only honoured by a periodic sweep:
/// no API call announces that a platform went out of support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    Periodic,
    ChangeTriggered,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schedule::Periodic => "periodic",
            Schedule::ChangeTriggered => "change-triggered",
        })
    }
}

/// The least destructive fix the SageMaker API allows for a control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fix {
    /// The setting can only be chosen at creation: stop, delete and create again.
    /// The notebook's ML storage volume is lost.
    Recreate,
    /// `UpdateNotebookInstance` while Stopped: stop, update, start. The storage volume is kept.
    UpdateInPlace,
    /// Endpoint configs are immutable: create a new one and point every endpoint at it.
    ReplaceEndpointConfig,
    /// `AddTags` is the whole fix, when the policy knows a value for every missing key.
    AddTags,
    /// `UpdateMonitoringSchedule` with the schedule's whole configuration, the inline job's
    /// network switch turned on: the schedule and its history are kept.
    UpdateMonitoringSchedule,
    /// `UpdateInferenceExperiment` with the experiment's data storage and the policy's KMS key,
    /// while the experiment is Created or Running.
    UpdateInferenceExperiment,
    /// No safe automatic fix: the resource is immutable and serves live traffic.
    None,
}

impl Fix {
    /// The changes the fix may make, from which `iam-policy` derives its permissions.
    pub fn mutations(self) -> &'static [Mutation] {
        match self {
            // The schedule and restart marks come and go; a recreate cancelled after the stop
            // starts the notebook again; the intent is stored before the delete.
            Fix::Recreate => &[
                Mutation::AddTags,
                Mutation::DeleteTags,
                Mutation::StopNotebookInstance,
                Mutation::StartNotebookInstance,
                Mutation::StoreRecreateIntent,
                Mutation::DeleteNotebookInstance,
                Mutation::CreateNotebookInstance,
            ],
            Fix::UpdateInPlace => &[
                Mutation::AddTags,
                Mutation::DeleteTags,
                Mutation::StopNotebookInstance,
                Mutation::UpdateNotebookInstance,
                Mutation::StartNotebookInstance,
            ],
            Fix::ReplaceEndpointConfig => &[
                Mutation::AddTags,
                Mutation::CreateEndpointConfig,
                Mutation::UpdateEndpoint,
            ],
            Fix::AddTags => &[Mutation::AddTags, Mutation::DeleteTags],
            Fix::UpdateMonitoringSchedule => &[
                Mutation::AddTags,
                Mutation::DeleteTags,
                Mutation::UpdateMonitoringSchedule,
            ],
            Fix::UpdateInferenceExperiment => &[
                Mutation::AddTags,
                Mutation::DeleteTags,
                Mutation::UpdateInferenceExperiment,
            ],
            Fix::None => &[],
        }
    }

    /// The reads the fix makes beyond observing the resource, as IAM actions.
    pub fn reads(self) -> &'static [&'static str] {
        match self {
            // The replacement is looked up; the endpoints on the old config are found.
            Fix::ReplaceEndpointConfig => &[
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:ListEndpoints",
                "sagemaker:DescribeEndpoint",
            ],
            // The notebook is read with its tags while its intent is followed; its lifecycle
            // configuration is checked before the delete.
            Fix::Recreate => &[
                "sagemaker:DescribeNotebookInstance",
                "sagemaker:ListTags",
                "sagemaker:DescribeNotebookInstanceLifecycleConfig",
            ],
            _ => &[],
        }
    }

    /// Whether carrying it out gives a resource an IAM role (`iam:PassRole`): a recreated
    /// notebook keeps its role, a replacement endpoint config its execution role, and an updated
    /// monitoring schedule's inline job is sent back with its `RoleArn`.
    pub fn passes_a_role(self) -> bool {
        matches!(
            self,
            Fix::Recreate | Fix::ReplaceEndpointConfig | Fix::UpdateMonitoringSchedule
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Fix::Recreate => "recreate",
            Fix::UpdateInPlace => "update-in-place",
            Fix::ReplaceEndpointConfig => "replace-endpoint-config",
            Fix::AddTags => "add-tags",
            Fix::UpdateMonitoringSchedule => "update-monitoring-schedule",
            Fix::UpdateInferenceExperiment => "update-inference-experiment",
            Fix::None => "none",
        }
    }
}

/// A parameter AWS defines for a control, under its AWS name.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: &'static str,
    pub description: &'static str,
    pub default: &'static [&'static str],
}

/// One catalogue entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub category: &'static str,
    pub resource_kind: ResourceKind,
    pub resource_type: &'static str,
    pub config_rule: &'static str,
    pub schedule: Schedule,
    pub parameters: &'static [Parameter],
    pub related_requirements: &'static [&'static str],
    /// When the control fails, in words.
    pub evaluation: &'static str,
    pub fix: Fix,
    /// What the fix does, and what it costs, in words.
    pub remediation: &'static str,
}

/// AWS's current list for SageMaker.8. The original page said `notebook-al2-v3`; Amazon Linux 2
/// notebooks reached end of support on 2026-06-30 and AWS's control moved to AL2023.
pub const DEFAULT_SUPPORTED_PLATFORMS: &[&str] = &["notebook-al2023-v1"];

/// Instance families Amazon Linux 2023 notebooks do not run on: moving such a notebook to AL2023
/// also needs a new instance type.
pub const AL2023_UNSUPPORTED_INSTANCE_FAMILIES: &[&str] =
    &["ml.p2", "ml.p3", "ml.p3dn", "ml.inf1", "ml.g3"];

/// The requirements of the network controls: SageMaker.1 has all of them, SageMaker.2 the NIST
/// ones only (the first 14).
const NETWORK_REQUIREMENTS: [&str; 20] = [
    "NIST.800-53.r5 AC-21",
    "NIST.800-53.r5 AC-3",
    "NIST.800-53.r5 AC-3(7)",
    "NIST.800-53.r5 AC-4",
    "NIST.800-53.r5 AC-4(21)",
    "NIST.800-53.r5 AC-6",
    "NIST.800-53.r5 SC-7",
    "NIST.800-53.r5 SC-7(11)",
    "NIST.800-53.r5 SC-7(16)",
    "NIST.800-53.r5 SC-7(20)",
    "NIST.800-53.r5 SC-7(21)",
    "NIST.800-53.r5 SC-7(3)",
    "NIST.800-53.r5 SC-7(4)",
    "NIST.800-53.r5 SC-7(9)",
    "PCI DSS v3.2.1/1.2.1",
    "PCI DSS v3.2.1/1.3.1",
    "PCI DSS v3.2.1/1.3.2",
    "PCI DSS v3.2.1/1.3.4",
    "PCI DSS v3.2.1/1.3.6",
    "PCI DSS v4.0.1/1.4.4",
];

const REQUIRED_KEY_TAGS: &[Parameter] = &[Parameter {
    name: "requiredKeyTags",
    description: "1 to 6 non-system tag keys the resource must have (case-sensitive). \
                  Without it, the resource only needs at least one non-system tag.",
    default: &[],
}];

/// SageMaker.6 and .7 judge and fix tags the same way, on different kinds.
const TAGGED_EVALUATION: &str = "With requiredKeyTags, FAILED when any listed key is missing (keys are \
    case-sensitive); without it, FAILED when the resource has no tags. System tags (prefix aws:) are ignored.";
const TAGGED_REMEDIATION: &str =
    "AddTags with each missing key and the value the policy gives for it. A key \
    with no configured value cannot be fixed automatically.";

/// The categories of SageMaker.9 to .25.
const IN_TRANSIT: &str = "Protect > Data Protection > Encryption of data-in-transit";
const ISOLATION: &str = "Protect > Secure network configuration";
const AT_REST: &str = "Protect > Data Protection > Encryption of data at rest";
const REGISTRY: &str = "Protect > Secure development";

/// SageMaker.9, .10, .13 and .15 judge a job definition's encryption the same way.
const JOB_ENCRYPTION_EVALUATION: &str = "FAILED when the job runs on 2 or more instances and \
    NetworkConfig.EnableInterContainerTrafficEncryption is false or unset, or there is no NetworkConfig. \
    NOT_APPLICABLE on one instance (the rule's scope: nothing passes between containers); ERROR when the \
    instance count was not read.";
/// SageMaker.11, .12, .20 and .25 judge a job definition's isolation the same way.
const JOB_ISOLATION_EVALUATION: &str =
    "FAILED when NetworkConfig.EnableNetworkIsolation is false or unset, or there is no NetworkConfig.";
/// No job definition can be changed.
const JOB_DEFINITION_REMEDIATION: &str = "Job definitions cannot be changed (there is no Update call), and \
    monitoring schedules run them by name: a recreate would delete a definition a schedule runs, and a copy \
    under a new name would leave every schedule on the old one. No automatic fix: create a definition with \
    the switch on and point the schedules at it.";
const SCHEDULE_REMEDIATION: &str = "UpdateMonitoringSchedule with the schedule's whole configuration as \
    read, only the inline job's switch turned on (EnableNetworkIsolation for SageMaker.14, \
    EnableInterContainerTrafficEncryption for SageMaker.22), once the schedule is no longer Pending. The \
    schedule, its name and its past executions are kept. A job that needs the network fails once isolated: opt in per \
    control.";
const MODEL_REGISTRY_REMEDIATION: &str =
    "Models are immutable (there is no UpdateModel) and serve live \
    traffic: no automatic fix. Create a new model whose images come from a private registry \
    (ImageConfig.RepositoryAccessMode Vpc) and deploy it deliberately.";
const FEATURE_GROUP_REMEDIATION: &str = "A feature group's stores and their keys are fixed at creation \
    (UpdateFeatureGroup takes only new features, the online TTL and throughput), and recreating it loses its \
    records: no automatic fix. Create a new feature group with a KMS key and move the data deliberately.";

/// The catalogue, in control order (`ControlId as usize` indexes it).
pub static CATALOGUE: [Control; 25] = [
    Control {
        id: "SageMaker.1",
        title: "Amazon SageMaker notebook instances should not have direct internet access",
        severity: Severity::High,
        category: "Protect > Secure network configuration",
        resource_kind: ResourceKind::NotebookInstance,
        resource_type: "AWS::SageMaker::NotebookInstance",
        config_rule: "sagemaker-notebook-no-direct-internet-access",
        schedule: Schedule::Periodic,
        parameters: &[],
        related_requirements: &NETWORK_REQUIREMENTS,
        evaluation: "FAILED when DirectInternetAccess is Enabled (the default for a notebook created without a VPC).",
        fix: Fix::Recreate,
        remediation: "DirectInternetAccess can only be set at creation: stop, delete and create again with \
                      DirectInternetAccess=Disabled in the notebook's subnet, or the policy's subnet for its \
                      account and region. Deleting destroys the notebook's storage volume.",
    },
    Control {
        id: "SageMaker.2",
        title: "SageMaker notebook instances should be launched in a custom VPC",
        severity: Severity::High,
        category: "Protect > Secure network configuration > Resources within VPC",
        resource_kind: ResourceKind::NotebookInstance,
        resource_type: "AWS::SageMaker::NotebookInstance",
        config_rule: "sagemaker-notebook-instance-inside-vpc",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: NETWORK_REQUIREMENTS.split_at(14).0,
        evaluation: "FAILED when the notebook has no SubnetId: it runs in the SageMaker service VPC.",
        fix: Fix::Recreate,
        remediation: "SubnetId can only be set at creation: stop, delete and create again in the policy's \
                      subnet and security groups for the notebook's account and region. Deleting destroys \
                      the notebook's storage volume.",
    },
    Control {
        id: "SageMaker.3",
        title: "Users should not have root access to SageMaker notebook instances",
        severity: Severity::High,
        category: "Protect > Secure access management > Root user access restrictions",
        resource_kind: ResourceKind::NotebookInstance,
        resource_type: "AWS::SageMaker::NotebookInstance",
        config_rule: "sagemaker-notebook-instance-root-access-check",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[
            "NIST.800-53.r5 AC-2(1)",
            "NIST.800-53.r5 AC-3(15)",
            "NIST.800-53.r5 AC-3(7)",
            "NIST.800-53.r5 AC-6",
            "NIST.800-53.r5 AC-6(10)",
            "NIST.800-53.r5 AC-6(2)",
        ],
        evaluation: "FAILED when RootAccess is Enabled (the default when it is not set).",
        fix: Fix::UpdateInPlace,
        remediation: "Stop, UpdateNotebookInstance RootAccess=Disabled, start again if it was running. \
                      The storage volume is kept. Lifecycle scripts still run as root.",
    },
    Control {
        id: "SageMaker.4",
        title: "SageMaker endpoint production variants should have an initial instance count greater than 1",
        severity: Severity::Medium,
        category: "Recover > Resilience > High availability",
        resource_kind: ResourceKind::EndpointConfig,
        resource_type: "AWS::SageMaker::EndpointConfig",
        config_rule: "sagemaker-endpoint-config-prod-instance-count",
        schedule: Schedule::Periodic,
        parameters: &[],
        related_requirements: &[
            "NIST.800-53.r5 CP-10",
            "NIST.800-53.r5 SC-5",
            "NIST.800-53.r5 SC-36",
            "NIST.800-53.r5 SA-13",
        ],
        evaluation: "FAILED when an instance-based production variant has InitialInstanceCount <= 1 (or none). \
                     Serverless variants are not judged; an all-serverless config is NOT_APPLICABLE.",
        fix: Fix::ReplaceEndpointConfig,
        remediation: "Endpoint configs are immutable: create a replacement config with the same variants and \
                      instance counts raised, then UpdateEndpoint every endpoint that uses the old one. This \
                      changes what serves live traffic, so it is opt-in; the old config is never deleted.",
    },
    Control {
        id: "SageMaker.5",
        title: "SageMaker models should have network isolation enabled",
        severity: Severity::Medium,
        category: "Protect > Secure network configuration > Resources not publicly accessible",
        resource_kind: ResourceKind::Model,
        resource_type: "AWS::SageMaker::Model",
        config_rule: "sagemaker-model-isolation-enabled",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when EnableNetworkIsolation is false or absent.",
        fix: Fix::None,
        remediation: "Models are immutable and isolation cuts the container off the network, which can break \
                      inference: no automatic fix. Create a new model with EnableNetworkIsolation=true and \
                      deploy it deliberately.",
    },
    Control {
        id: "SageMaker.6",
        title: "SageMaker app image configurations should be tagged",
        severity: Severity::Low,
        category: "Identify > Inventory > Tagging",
        resource_kind: ResourceKind::AppImageConfig,
        resource_type: "AWS::SageMaker::AppImageConfig",
        config_rule: "sagemaker-app-image-config-tagged",
        schedule: Schedule::ChangeTriggered,
        parameters: REQUIRED_KEY_TAGS,
        related_requirements: &[],
        evaluation: TAGGED_EVALUATION,
        fix: Fix::AddTags,
        remediation: TAGGED_REMEDIATION,
    },
    Control {
        id: "SageMaker.7",
        title: "SageMaker images should be tagged",
        severity: Severity::Low,
        category: "Identify > Inventory > Tagging",
        resource_kind: ResourceKind::Image,
        resource_type: "AWS::SageMaker::Image",
        config_rule: "sagemaker-image-tagged",
        schedule: Schedule::ChangeTriggered,
        parameters: REQUIRED_KEY_TAGS,
        related_requirements: &[],
        evaluation: TAGGED_EVALUATION,
        fix: Fix::AddTags,
        remediation: TAGGED_REMEDIATION,
    },
    Control {
        id: "SageMaker.8",
        title: "SageMaker notebook instances should run on supported platforms",
        severity: Severity::Medium,
        category: "Detect > Vulnerability, patch, and version management",
        resource_kind: ResourceKind::NotebookInstance,
        resource_type: "AWS::SageMaker::NotebookInstance",
        config_rule: "sagemaker-notebook-instance-platform-version",
        schedule: Schedule::Periodic,
        parameters: &[Parameter {
            name: "supportedPlatformIdentifierVersions",
            description: "Platform identifiers considered supported. AWS's current list is \
                          notebook-al2023-v1; the original page said notebook-al2-v3.",
            default: DEFAULT_SUPPORTED_PLATFORMS,
        }],
        related_requirements: &[],
        evaluation: "FAILED when PlatformIdentifier is not in supportedPlatformIdentifierVersions.",
        fix: Fix::UpdateInPlace,
        remediation: "Stop, UpdateNotebookInstance PlatformIdentifier=<first supported> (and a new instance \
                      type where AL2023 does not run on the current one: ml.p2, ml.p3, ml.p3dn, ml.inf1, \
                      ml.g3), start again if it was running. The storage volume is kept.",
    },
    Control {
        id: "SageMaker.9",
        title: "SageMaker data quality job definitions should have encryption enabled for inter-container traffic",
        severity: Severity::Medium,
        category: IN_TRANSIT,
        resource_kind: ResourceKind::DataQualityJobDefinition,
        resource_type: "AWS::SageMaker::DataQualityJobDefinition",
        config_rule: "sagemaker-data-quality-job-encrypt-in-transit",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ENCRYPTION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.10",
        title: "SageMaker model explainability job definitions should have encryption enabled for inter-container traffic",
        severity: Severity::Medium,
        category: IN_TRANSIT,
        resource_kind: ResourceKind::ModelExplainabilityJobDefinition,
        resource_type: "AWS::SageMaker::ModelExplainabilityJobDefinition",
        config_rule: "sagemaker-model-explainability-job-encrypt-in-transit",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ENCRYPTION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.11",
        title: "SageMaker data quality job definitions should have network isolation enabled",
        severity: Severity::Medium,
        category: ISOLATION,
        resource_kind: ResourceKind::DataQualityJobDefinition,
        resource_type: "AWS::SageMaker::DataQualityJobDefinition",
        config_rule: "sagemaker-data-quality-job-isolation",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ISOLATION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.12",
        title: "SageMaker model bias job definitions should have network isolation enabled",
        severity: Severity::Medium,
        category: ISOLATION,
        resource_kind: ResourceKind::ModelBiasJobDefinition,
        resource_type: "AWS::SageMaker::ModelBiasJobDefinition",
        config_rule: "sagemaker-model-bias-job-isolation",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ISOLATION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.13",
        title: "SageMaker model quality job definitions should have encryption enabled for inter-container traffic",
        severity: Severity::Medium,
        category: IN_TRANSIT,
        resource_kind: ResourceKind::ModelQualityJobDefinition,
        resource_type: "AWS::SageMaker::ModelQualityJobDefinition",
        config_rule: "sagemaker-model-quality-job-encrypt-in-transit",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ENCRYPTION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.14",
        title: "SageMaker monitoring schedules should have network isolation enabled",
        severity: Severity::Medium,
        category: ISOLATION,
        resource_kind: ResourceKind::MonitoringSchedule,
        resource_type: "AWS::SageMaker::MonitoringSchedule",
        config_rule: "sagemaker-monitoring-schedule-isolation",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the schedule's inline MonitoringJobDefinition has NetworkConfig.EnableNetworkIsolation false or unset, or no NetworkConfig. NOT_APPLICABLE when the schedule names a job definition instead (that definition is judged by SageMaker.11, .12, .20 or .25); ERROR when it has neither.",
        fix: Fix::UpdateMonitoringSchedule,
        remediation: SCHEDULE_REMEDIATION,
    },
    Control {
        id: "SageMaker.15",
        title: "SageMaker model bias job definitions should have encryption enabled for inter-container traffic",
        severity: Severity::Medium,
        category: IN_TRANSIT,
        resource_kind: ResourceKind::ModelBiasJobDefinition,
        resource_type: "AWS::SageMaker::ModelBiasJobDefinition",
        config_rule: "sagemaker-model-bias-job-encrypt-in-transit",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ENCRYPTION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.16",
        title: "SageMaker models should pull their primary container image from a private registry",
        severity: Severity::Medium,
        category: REGISTRY,
        resource_kind: ResourceKind::Model,
        resource_type: "AWS::SageMaker::Model",
        config_rule: "sagemaker-model-private-registry-required",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the PrimaryContainer has no ImageConfig, or its RepositoryAccessMode is Platform. NOT_APPLICABLE for a model defined by Containers (SageMaker.19 judges it); ERROR when the model has neither.",
        fix: Fix::None,
        remediation: MODEL_REGISTRY_REMEDIATION,
    },
    Control {
        id: "SageMaker.17",
        title: "SageMaker feature groups should encrypt their offline store with a KMS key",
        severity: Severity::Medium,
        category: AT_REST,
        resource_kind: ResourceKind::FeatureGroup,
        resource_type: "AWS::SageMaker::FeatureGroup",
        config_rule: "sagemaker-featuregroup-encryption-at-rest",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the offline store has no OfflineStoreConfig.S3StorageConfig.KmsKeyId (or an empty one). NOT_APPLICABLE without an offline store.",
        fix: Fix::None,
        remediation: FEATURE_GROUP_REMEDIATION,
    },
    Control {
        id: "SageMaker.18",
        title: "SageMaker feature groups should encrypt their standard online store with a KMS key",
        severity: Severity::Medium,
        category: AT_REST,
        resource_kind: ResourceKind::FeatureGroup,
        resource_type: "AWS::SageMaker::FeatureGroup",
        config_rule: "sagemaker-featuregroup-online-store-encryption",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the online store is enabled with Standard storage (StorageType Standard or absent) and has no OnlineStoreConfig.SecurityConfig.KmsKeyId. NOT_APPLICABLE without an online store or with InMemory storage.",
        fix: Fix::None,
        remediation: FEATURE_GROUP_REMEDIATION,
    },
    Control {
        id: "SageMaker.19",
        title: "SageMaker models with several containers should pull every image from a private registry",
        severity: Severity::Medium,
        category: REGISTRY,
        resource_kind: ResourceKind::Model,
        resource_type: "AWS::SageMaker::Model",
        config_rule: "sagemaker-model-multicontainer-private-registry",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when any of Containers has no ImageConfig or RepositoryAccessMode Platform (each is named). NOT_APPLICABLE for a model defined by PrimaryContainer (SageMaker.16 judges it); ERROR when the model has neither.",
        fix: Fix::None,
        remediation: MODEL_REGISTRY_REMEDIATION,
    },
    Control {
        id: "SageMaker.20",
        title: "SageMaker model explainability job definitions should have network isolation enabled",
        severity: Severity::High,
        category: ISOLATION,
        resource_kind: ResourceKind::ModelExplainabilityJobDefinition,
        resource_type: "AWS::SageMaker::ModelExplainabilityJobDefinition",
        config_rule: "sagemaker-model-explainability-job-network-isolation",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ISOLATION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
    Control {
        id: "SageMaker.21",
        title: "SageMaker notebook instances should have a KMS key for their storage volume",
        severity: Severity::Medium,
        category: "Protect > Data Protection > Encryption of data at rest",
        resource_kind: ResourceKind::NotebookInstance,
        resource_type: "AWS::SageMaker::NotebookInstance",
        config_rule: "sagemaker-notebook-instance-storage-vol-kms-encrypted",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the notebook's KmsKeyId is unset or empty (a blank one names no key either).",
        fix: Fix::Recreate,
        remediation: "KmsKeyId can only be set at creation: stop, delete and create again with the policy's \
                      KMS key for the notebook's account and region (spec.remediation.kmsKeys), in the same \
                      recreate as SageMaker.1/.2/.3/.8. Deleting destroys the notebook's storage volume: the \
                      data on it is lost.",
    },
    Control {
        id: "SageMaker.22",
        title: "SageMaker monitoring schedules should have encryption enabled for inter-container traffic",
        severity: Severity::Medium,
        category: IN_TRANSIT,
        resource_kind: ResourceKind::MonitoringSchedule,
        resource_type: "AWS::SageMaker::MonitoringSchedule",
        config_rule: "sagemaker-monitoring-schedule-traffic-encryption",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the schedule's inline MonitoringJobDefinition has NetworkConfig.EnableInterContainerTrafficEncryption false or unset, or no NetworkConfig, whatever its instance count. NOT_APPLICABLE when the schedule names a job definition instead (judged by SageMaker.9, .10, .13 or .15); ERROR when it has neither.",
        fix: Fix::UpdateMonitoringSchedule,
        remediation: SCHEDULE_REMEDIATION,
    },
    Control {
        id: "SageMaker.23",
        title: "SageMaker inference experiments should encrypt their instances' storage with a KMS key",
        severity: Severity::Medium,
        category: AT_REST,
        resource_kind: ResourceKind::InferenceExperiment,
        resource_type: "AWS::SageMaker::InferenceExperiment",
        config_rule: "sagemaker-inf-experiment-instance-storage-kms-encrypted",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the experiment's KmsKey is unset or empty.",
        fix: Fix::None,
        remediation: "KmsKey can only be set when the experiment is created (UpdateInferenceExperiment does not take it): no automatic fix. Create a new experiment with a KmsKey.",
    },
    Control {
        id: "SageMaker.24",
        title: "SageMaker inference experiments should encrypt their captured data with a KMS key",
        severity: Severity::Medium,
        category: AT_REST,
        resource_kind: ResourceKind::InferenceExperiment,
        resource_type: "AWS::SageMaker::InferenceExperiment",
        config_rule: "sagemaker-inf-experiment-data-storage-kms-encrypted",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: "FAILED when the experiment captures data (DataStorageConfig) and DataStorageConfig.KmsKey is unset or empty. NOT_APPLICABLE without data capture.",
        fix: Fix::UpdateInferenceExperiment,
        remediation: "UpdateInferenceExperiment with the experiment's DataStorageConfig (destination and content types kept) and the policy's KMS key for its account and region (spec.remediation.kmsKeys), only while the experiment is Created or Running (AWS refuses other states; the guard waits for one). Data captured before the change stays as it was written. The experiment's role must be allowed to use the key.",
    },
    Control {
        id: "SageMaker.25",
        title: "SageMaker model quality job definitions should have network isolation enabled",
        severity: Severity::High,
        category: ISOLATION,
        resource_kind: ResourceKind::ModelQualityJobDefinition,
        resource_type: "AWS::SageMaker::ModelQualityJobDefinition",
        config_rule: "sagemaker-model-quality-job-definition-isolation",
        schedule: Schedule::ChangeTriggered,
        parameters: &[],
        related_requirements: &[],
        evaluation: JOB_ISOLATION_EVALUATION,
        fix: Fix::None,
        remediation: JOB_DEFINITION_REMEDIATION,
    },
];

/// The controls that judge a kind of resource.
pub fn controls_for(kind: ResourceKind) -> impl Iterator<Item = ControlId> {
    ControlId::ALL
        .into_iter()
        .filter(move |c| c.control().resource_kind == kind)
}

/// The catalogue as a Markdown document (`sagemaker-guard controls --output markdown`, and
/// `docs/controls.md`, which a test keeps equal to this output).
pub fn to_markdown() -> String {
    let mut out = String::from(
        "# Controls\n\n\
         Generated by `sagemaker-guard controls --output markdown` from the control catalogue \
         (`src/domain/catalogue.rs`); a test keeps this file equal to that output.\n\n\
         | ID | Title | Severity | Resource type | AWS Config rule | Schedule | Fix |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for c in &CATALOGUE {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            c.id,
            c.title,
            c.severity,
            c.resource_type,
            c.config_rule,
            c.schedule,
            c.fix.as_str()
        ));
    }
    for c in &CATALOGUE {
        out.push_str(&format!("\n## {}: {}\n\n", c.id, c.title));
        out.push_str(&format!("- Severity: {}\n", c.severity));
        out.push_str(&format!("- Category: {}\n", c.category));
        out.push_str(&format!("- Resource type: `{}`\n", c.resource_type));
        out.push_str(&format!("- AWS Config rule: `{}`\n", c.config_rule));
        out.push_str(&format!("- Schedule: {}\n", c.schedule));
        if c.parameters.is_empty() {
            out.push_str("- Parameters: none\n");
        } else {
            for p in c.parameters {
                let default = if p.default.is_empty() {
                    "no default".to_string()
                } else {
                    format!("default `{}`", p.default.join(", "))
                };
                out.push_str(&format!(
                    "- Parameter `{}` ({default}): {}\n",
                    p.name, p.description
                ));
            }
        }
        if c.related_requirements.is_empty() {
            out.push_str("- Related requirements: none listed\n");
        } else {
            out.push_str(&format!(
                "- Related requirements: {}\n",
                c.related_requirements.join(", ")
            ));
        }
        out.push_str(&format!("- Evaluation: {}\n", c.evaluation));
        out.push_str(&format!(
            "- Fix the API allows: `{}`. {}\n",
            c.fix.as_str(),
            c.remediation
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_run_from_1_to_25_without_a_gap() {
        for (i, id) in ControlId::ALL.into_iter().enumerate() {
            assert_eq!(id.as_str(), format!("SageMaker.{}", i + 1));
        }
    }

    #[test]
    fn catalogue_is_indexed_by_control_id() {
        for id in ControlId::ALL {
            assert_eq!(id.control().id, serde_json::to_value(id).unwrap());
            assert_eq!(id.as_str().parse::<ControlId>().unwrap(), id);
        }
    }

    #[test]
    fn sagemaker_21_is_a_medium_notebook_control_fixed_by_the_recreate() {
        let c = ControlId::SageMaker21.control();
        assert_eq!(c.id, "SageMaker.21");
        assert_eq!(c.severity, Severity::Medium);
        assert_eq!(c.resource_kind, ResourceKind::NotebookInstance);
        assert_eq!(
            c.config_rule,
            "sagemaker-notebook-instance-storage-vol-kms-encrypted"
        );
        assert_eq!(c.schedule, Schedule::ChangeTriggered);
        assert!(c.parameters.is_empty());
        assert_eq!(c.fix, Fix::Recreate);
        assert_eq!(
            serde_json::to_value(ControlId::SageMaker21).unwrap(),
            "SageMaker.21"
        );
    }

    #[test]
    fn resource_types_match_kinds() {
        for c in &CATALOGUE {
            assert_eq!(c.resource_type, c.resource_kind.cfn_type());
        }
    }

    #[test]
    fn docs_controls_md_is_the_generated_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/controls.md");
        let on_disk = std::fs::read_to_string(path).unwrap();
        assert!(
            on_disk == to_markdown(),
            "docs/controls.md is stale: run `sagemaker-guard controls --output markdown > docs/controls.md`"
        );
    }

    #[test]
    fn unknown_control_id_is_refused() {
        assert!("SageMaker.26".parse::<ControlId>().is_err());
        let e = "SageMaker.0".parse::<ControlId>().unwrap_err();
        assert!(e.contains("SageMaker.1 to SageMaker.25"), "{e}");
        assert!("sagemaker.1".parse::<ControlId>().is_err());
    }
}
