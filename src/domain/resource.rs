//! The SageMaker resources the controls judge, as plain data read from the live account.
//!
//! These types are deliberately independent of the SDK's: evaluation and planning are pure
//! functions over them, and tests build them by hand. The AWS edge (`aws::observe`) fills them from AWS.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// The twelve kinds of resource the controls judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceKind {
    NotebookInstance,
    EndpointConfig,
    Model,
    Image,
    AppImageConfig,
    DataQualityJobDefinition,
    ModelQualityJobDefinition,
    ModelBiasJobDefinition,
    ModelExplainabilityJobDefinition,
    MonitoringSchedule,
    FeatureGroup,
    InferenceExperiment,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 12] = [
        ResourceKind::NotebookInstance,
        ResourceKind::EndpointConfig,
        ResourceKind::Model,
        ResourceKind::Image,
        ResourceKind::AppImageConfig,
        ResourceKind::DataQualityJobDefinition,
        ResourceKind::ModelQualityJobDefinition,
        ResourceKind::ModelBiasJobDefinition,
        ResourceKind::ModelExplainabilityJobDefinition,
        ResourceKind::MonitoringSchedule,
        ResourceKind::FeatureGroup,
        ResourceKind::InferenceExperiment,
    ];

    /// The four kinds of Model Monitor job definition, which share one shape
    /// ([`MonitoringJobDefinition`]) and are never changed in place.
    pub fn is_job_definition(self) -> bool {
        matches!(
            self,
            ResourceKind::DataQualityJobDefinition
                | ResourceKind::ModelQualityJobDefinition
                | ResourceKind::ModelBiasJobDefinition
                | ResourceKind::ModelExplainabilityJobDefinition
        )
    }

    /// The CloudFormation / AWS Config type name, as the report's `resourceType`.
    pub fn cfn_type(self) -> &'static str {
        match self {
            ResourceKind::NotebookInstance => "AWS::SageMaker::NotebookInstance",
            ResourceKind::EndpointConfig => "AWS::SageMaker::EndpointConfig",
            ResourceKind::Model => "AWS::SageMaker::Model",
            ResourceKind::Image => "AWS::SageMaker::Image",
            ResourceKind::AppImageConfig => "AWS::SageMaker::AppImageConfig",
            ResourceKind::DataQualityJobDefinition => "AWS::SageMaker::DataQualityJobDefinition",
            ResourceKind::ModelQualityJobDefinition => "AWS::SageMaker::ModelQualityJobDefinition",
            ResourceKind::ModelBiasJobDefinition => "AWS::SageMaker::ModelBiasJobDefinition",
            ResourceKind::ModelExplainabilityJobDefinition => {
                "AWS::SageMaker::ModelExplainabilityJobDefinition"
            }
            ResourceKind::MonitoringSchedule => "AWS::SageMaker::MonitoringSchedule",
            ResourceKind::FeatureGroup => "AWS::SageMaker::FeatureGroup",
            ResourceKind::InferenceExperiment => "AWS::SageMaker::InferenceExperiment",
        }
    }

    /// The resource-type segment of the kind's ARN (`arn:aws:sagemaker:R:A:<segment>/<name>`).
    pub fn arn_segment(self) -> &'static str {
        match self {
            ResourceKind::NotebookInstance => "notebook-instance",
            ResourceKind::EndpointConfig => "endpoint-config",
            ResourceKind::Model => "model",
            ResourceKind::Image => "image",
            ResourceKind::AppImageConfig => "app-image-config",
            ResourceKind::DataQualityJobDefinition => "data-quality-job-definition",
            ResourceKind::ModelQualityJobDefinition => "model-quality-job-definition",
            ResourceKind::ModelBiasJobDefinition => "model-bias-job-definition",
            ResourceKind::ModelExplainabilityJobDefinition => "model-explainability-job-definition",
            ResourceKind::MonitoringSchedule => "monitoring-schedule",
            ResourceKind::FeatureGroup => "feature-group",
            ResourceKind::InferenceExperiment => "inference-experiment",
        }
    }

    /// What people call a resource of this kind in a sentence ("waiting while the notebook is
    /// Stopping").
    pub fn noun(self) -> &'static str {
        match self {
            ResourceKind::NotebookInstance => "notebook",
            ResourceKind::MonitoringSchedule => "monitoring schedule",
            ResourceKind::InferenceExperiment => "inference experiment",
            _ => "resource",
        }
    }

    fn from_arn_segment(segment: &str) -> Option<Self> {
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.arn_segment() == segment)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cfn_type().trim_start_matches("AWS::SageMaker::"))
    }
}

/// Which resource to look at: the key of the work queue, and what an event names.
///
/// The account is optional because some event envelopes lack it (moto's, for one); it is then
/// the account of the credentials in use.
///
/// Two refs are equal (and hash and order alike) when they name the same resource, and
/// SageMaker names are unique regardless of case within an account and region: an ARN
/// lower-cases the name (`notebook-instance/ml-research-7`) and every call accepts either
/// spelling. So names compare ASCII-case-insensitively, and an event naming the lower-cased ARN
/// and a sweep naming `ML-Research-7` are one work-queue key, never reconciled twice at once.
/// `name` keeps the spelling it was given: enough to call SageMaker with, but what the guard
/// reports (findings, logs, outcomes) is the name Describe returns ([`Observed::name`]). As
/// kube-runtime's `ObjectRef` does, identity is what names the object, not every field's bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
}

impl PartialEq for ResourceRef {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.name.eq_ignore_ascii_case(&other.name)
            && self.account == other.account
            && self.region == other.region
    }
}

impl Eq for ResourceRef {}

impl Hash for ResourceRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        for b in self.folded_name() {
            state.write_u8(b);
        }
        // As `str` does, so that the name and the fields after it cannot run together.
        state.write_u8(0xff);
        self.account.hash(state);
        self.region.hash(state);
    }
}

impl PartialOrd for ResourceRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ResourceRef {
    fn cmp(&self, other: &Self) -> Ordering {
        self.kind
            .cmp(&other.kind)
            .then_with(|| self.folded_name().cmp(other.folded_name()))
            .then_with(|| self.account.cmp(&other.account))
            .then_with(|| self.region.cmp(&other.region))
    }
}

impl ResourceRef {
    /// Parses a SageMaker ARN of one of the twelve kinds. ARNs of other kinds (training jobs,
    /// endpoints, ...) give `None`.
    pub fn from_arn(arn: &str) -> Option<ResourceRef> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sagemaker" {
            return None;
        }
        let (segment, name) = parts[5].split_once('/')?;
        let kind = ResourceKind::from_arn_segment(segment)?;
        if name.is_empty() || name.contains('/') {
            return None;
        }
        Some(ResourceRef {
            kind,
            name: name.to_string(),
            account: non_empty(parts[4]),
            region: non_empty(parts[3]),
        })
    }

    /// The name case-folded, as equality, hashing and order see it.
    fn folded_name(&self) -> impl Iterator<Item = u8> + '_ {
        self.name.bytes().map(|b| b.to_ascii_lowercase())
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Builds the ARN of a resource. SageMaker lower-cases names in ARNs.
pub fn arn(partition: &str, region: &str, account: &str, kind: ResourceKind, name: &str) -> String {
    format!(
        "arn:{partition}:sagemaker:{region}:{account}:{}/{}",
        kind.arn_segment(),
        name.to_ascii_lowercase()
    )
}

/// A resource's tags, keys case-sensitive as AWS keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags(pub BTreeMap<String, String>);

impl Tags {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Tags a user set: those AWS adds itself carry the `aws:` prefix and never count.
    pub fn user_tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter(|(k, _)| !k.starts_with("aws:"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Tags {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Tags(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// The status of a notebook instance, as SageMaker reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotebookStatus {
    Pending,
    InService,
    Stopping,
    Stopped,
    Failed,
    Deleting,
    Updating,
    Unknown(String),
}

impl NotebookStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "Pending" => NotebookStatus::Pending,
            "InService" => NotebookStatus::InService,
            "Stopping" => NotebookStatus::Stopping,
            "Stopped" => NotebookStatus::Stopped,
            "Failed" => NotebookStatus::Failed,
            "Deleting" => NotebookStatus::Deleting,
            "Updating" => NotebookStatus::Updating,
            other => NotebookStatus::Unknown(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            NotebookStatus::Pending => "Pending",
            NotebookStatus::InService => "InService",
            NotebookStatus::Stopping => "Stopping",
            NotebookStatus::Stopped => "Stopped",
            NotebookStatus::Failed => "Failed",
            NotebookStatus::Deleting => "Deleting",
            NotebookStatus::Updating => "Updating",
            NotebookStatus::Unknown(s) => s,
        }
    }
}

/// A notebook instance's whole configuration: what the controls judge, and everything a
/// stop-and-recreate must carry over.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotebookInstance {
    pub status: Option<NotebookStatus>,
    pub instance_type: Option<String>,
    pub subnet_id: Option<String>,
    pub security_groups: Vec<String>,
    /// `Enabled` or `Disabled`; absent means AWS's default, `Enabled`.
    pub direct_internet_access: Option<String>,
    /// `Enabled` or `Disabled`; absent means AWS's default, `Enabled`.
    pub root_access: Option<String>,
    pub platform_identifier: Option<String>,
    pub role_arn: Option<String>,
    pub kms_key_id: Option<String>,
    pub volume_size_in_gb: Option<i32>,
    pub lifecycle_config_name: Option<String>,
    pub default_code_repository: Option<String>,
    pub additional_code_repositories: Vec<String>,
    pub accelerator_types: Vec<String>,
    pub minimum_imds_version: Option<String>,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: Option<String>,
    /// Seconds since the Unix epoch.
    pub creation_time: Option<i64>,
}

/// One production variant of an endpoint config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductionVariant {
    pub name: String,
    pub instance_type: Option<String>,
    pub initial_instance_count: Option<i32>,
    /// A variant with a ServerlessConfig has no instances: SageMaker.4 does not judge it.
    pub serverless: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfig {
    pub production_variants: Vec<ProductionVariant>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Model {
    pub enable_network_isolation: Option<bool>,
    /// Where its containers pull their images from (SageMaker.16 and .19).
    pub containers: ModelContainers,
}

/// What was read of a resource, by kind. Images and app image configs are judged by their tags
/// alone, so nothing else of them is read. The four kinds of job definition share one shape.
// One value per observed resource, short-lived: boxing the notebook would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Details {
    NotebookInstance(NotebookInstance),
    EndpointConfig(EndpointConfig),
    Model(Model),
    Image,
    AppImageConfig,
    MonitoringJobDefinition(MonitoringJobDefinition),
    MonitoringSchedule(MonitoringSchedule),
    FeatureGroup(FeatureGroup),
    InferenceExperiment(InferenceExperiment),
}

/// A resource as read from the live account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    pub kind: ResourceKind,
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    /// `None` when they were not read because no enabled control or exemption needs them.
    pub tags: Option<Tags>,
    /// `None` when the resource was not described because no enabled control needs it.
    pub details: Option<Details>,
}

impl Observed {
    /// The status of a transition the resource is in, which a fix waits out and a look after
    /// it follows: a notebook Pending, Stopping, Updating or Deleting, a schedule Pending, an
    /// experiment Creating, Updating, Starting or Stopping. `None`: it is in none.
    pub fn transition(&self) -> Option<&str> {
        match &self.details {
            Some(Details::NotebookInstance(nb)) => nb
                .status
                .as_ref()
                .filter(|s| {
                    matches!(
                        s,
                        NotebookStatus::Pending
                            | NotebookStatus::Stopping
                            | NotebookStatus::Updating
                            | NotebookStatus::Deleting
                    )
                })
                .map(NotebookStatus::as_str),
            Some(Details::MonitoringSchedule(s)) => s.status.as_deref().filter(|s| *s == "Pending"),
            Some(Details::InferenceExperiment(x)) => x
                .status
                .as_deref()
                .filter(|s| matches!(*s, "Creating" | "Updating" | "Starting" | "Stopping")),
            _ => None,
        }
    }

    /// The work-queue key of the resource.
    pub fn key(&self) -> ResourceRef {
        ResourceRef {
            kind: self.kind,
            name: self.name.clone(),
            account: Some(self.account.clone()),
            region: Some(self.region.clone()),
        }
    }

    pub fn notebook(&self) -> Option<&NotebookInstance> {
        match &self.details {
            Some(Details::NotebookInstance(nb)) => Some(nb),
            _ => None,
        }
    }

    pub fn notebook_mut(&mut self) -> Option<&mut NotebookInstance> {
        match &mut self.details {
            Some(Details::NotebookInstance(nb)) => Some(nb),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What SageMaker.9 to SageMaker.25 judge, judged by `evaluate::monitoring`, `evaluate::kms` and
// `evaluate::registry`. Each field is the Describe field its doc names; `Option` where AWS may
// omit it.

/// The `NetworkConfig` of a monitoring job: the two switches the monitoring controls judge. AWS's
/// default for each is off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MonitoringNetworkConfig {
    /// `EnableInterContainerTrafficEncryption`.
    pub enable_inter_container_traffic_encryption: Option<bool>,
    /// `EnableNetworkIsolation`.
    pub enable_network_isolation: Option<bool>,
}

/// A data quality, model quality, model bias or model explainability job definition. The four
/// share every field SageMaker.9 to .13, .15, .20 and .25 judge, so they share one shape; which of
/// the four it is will be the resource's kind. None of them can be changed in place: there is no
/// `Update*JobDefinition`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MonitoringJobDefinition {
    /// `NetworkConfig`; `None` when the definition has none (both switches off).
    pub network_config: Option<MonitoringNetworkConfig>,
    /// `JobResources.ClusterConfig.InstanceCount`. The API requires it: `None` means it was not
    /// read.
    pub instance_count: Option<i32>,
}

/// A monitoring schedule (`DescribeMonitoringSchedule`'s `MonitoringScheduleConfig`). A schedule
/// either defines its job inline or names a job definition, which is a resource of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MonitoringSchedule {
    /// `MonitoringScheduleStatus`: `Pending`, `Failed`, `Scheduled` or `Stopped`.
    pub status: Option<String>,
    /// `MonitoringJobDefinition`: the job defined inline, if it is.
    pub inline_job: Option<InlineMonitoringJob>,
    /// `MonitoringJobDefinitionName`: the job definition the schedule runs, if it names one.
    pub job_definition_name: Option<String>,
    /// `MonitoringType`: `DataQuality`, `ModelQuality`, `ModelBias` or `ModelExplainability`,
    /// which of the four kinds of job definition the name is.
    pub monitoring_type: Option<String>,
}

/// A monitoring schedule's inline `MonitoringJobDefinition`, as far as the controls judge it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InlineMonitoringJob {
    /// `NetworkConfig`; `None` when the inline job has none.
    pub network_config: Option<MonitoringNetworkConfig>,
}

/// A feature group's stores and their KMS keys (`DescribeFeatureGroup`). Neither can be changed
/// after creation (`UpdateFeatureGroup` takes only new features, the online TTL and throughput).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FeatureGroup {
    /// `OfflineStoreConfig`; `None` when the group has no offline store.
    pub offline_store: Option<OfflineStore>,
    /// `OnlineStoreConfig`; `None` when the group has no online store configuration.
    pub online_store: Option<OnlineStore>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OfflineStore {
    /// `S3StorageConfig.KmsKeyId`.
    pub kms_key_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OnlineStore {
    /// `EnableOnlineStore`: the online store exists only when true (AWS's default is false).
    pub enabled: Option<bool>,
    /// `StorageType`: `Standard` or `InMemory`; absent means `Standard`.
    pub storage_type: Option<String>,
    /// `SecurityConfig.KmsKeyId`.
    pub kms_key_id: Option<String>,
}

/// An inference experiment's KMS keys (`DescribeInferenceExperiment`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InferenceExperiment {
    /// `Status`: `Creating`, `Created`, `Updating`, `Running`, `Starting`, `Stopping`,
    /// `Completed` or `Cancelled`.
    pub status: Option<String>,
    /// `KmsKey`: encrypts the storage volumes of the instances that host the shadow variants.
    pub kms_key: Option<String>,
    /// `DataStorageConfig`; `None` when the experiment captures no data.
    pub data_storage: Option<InferenceDataStorage>,
}

impl InferenceExperiment {
    /// Whether `UpdateInferenceExperiment` takes an experiment of this status: only a Created or
    /// Running one (AWS's rule).
    pub fn takes_update(status: Option<&str>) -> bool {
        matches!(status, Some("Created" | "Running"))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InferenceDataStorage {
    /// `KmsKey`: encrypts the captured data in S3.
    pub kms_key: Option<String>,
}

/// Where a model's containers pull their images from (`DescribeModel`): what SageMaker.16 and .19
/// judge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ModelContainers {
    /// `PrimaryContainer`; `None` for a model defined by `Containers` (an inference pipeline).
    pub primary: Option<ModelContainer>,
    /// `Containers`, in order; empty for a model defined by `PrimaryContainer`.
    pub containers: Vec<ModelContainer>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ModelContainer {
    /// `ImageConfig.RepositoryAccessMode`: `Platform` (Amazon ECR) or `Vpc` (a private registry
    /// in the model's VPC); `None` when the container has no `ImageConfig` (the mode is required
    /// inside it).
    pub repository_access_mode: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arns_of_the_twelve_kinds() {
        let r = ResourceRef::from_arn(
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb-1",
        )
        .unwrap();
        assert_eq!(r.kind, ResourceKind::NotebookInstance);
        assert_eq!(r.name, "nb-1");
        assert_eq!(r.account.as_deref(), Some("123456789012"));
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        for kind in ResourceKind::ALL {
            let a = arn("aws", "eu-west-1", "111111111111", kind, "X-1");
            let r = ResourceRef::from_arn(&a).unwrap();
            assert_eq!((r.kind, r.name.as_str()), (kind, "x-1"));
        }
    }

    #[test]
    fn other_arns_are_not_resources_we_judge() {
        for a in [
            "arn:aws:sagemaker:us-east-1:123456789012:training-job/tj",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep",
            "arn:aws:s3:::bucket",
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/",
            "arn:aws:sagemaker:us-east-1:123456789012:image-version/img/1",
            "not an arn",
        ] {
            assert_eq!(ResourceRef::from_arn(a), None, "{a}");
        }
    }

    #[test]
    fn two_spellings_of_a_name_are_one_resource() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |r: &ResourceRef| {
            let mut h = DefaultHasher::new();
            r.hash(&mut h);
            h.finish()
        };
        let from_arn = ResourceRef::from_arn(
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ml-research-7",
        )
        .unwrap();
        let listed = ResourceRef {
            name: "ML-Research-7".into(),
            ..from_arn.clone()
        };
        assert_eq!(from_arn, listed);
        assert_eq!(hash(&from_arn), hash(&listed));
        assert_eq!(from_arn.cmp(&listed), Ordering::Equal);
        // The spelling is kept, for the calls; only the comparison folds it.
        assert_eq!(listed.name, "ML-Research-7");

        let other_name = ResourceRef {
            name: "ML-Research-8".into(),
            ..listed.clone()
        };
        let other_account = ResourceRef {
            account: Some("210987654321".into()),
            ..listed.clone()
        };
        let other_kind = ResourceRef {
            kind: ResourceKind::Model,
            ..listed.clone()
        };
        for other in [&other_name, &other_account, &other_kind] {
            assert_ne!(&listed, other);
            assert_ne!(listed.cmp(other), Ordering::Equal);
        }
        // Order agrees with equality: by kind, then the folded name.
        assert!(listed < other_name && from_arn < other_name);
        let prefix = ResourceRef {
            name: "ML-Research".into(),
            ..listed.clone()
        };
        assert!(prefix < listed);
    }

    #[test]
    fn transitions_are_the_statuses_a_fix_waits_out() {
        let with = |details: Details| Observed {
            kind: ResourceKind::NotebookInstance,
            name: "r".into(),
            arn: "arn".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            tags: None,
            details: Some(details),
        };
        let notebook = |s: &str| {
            with(Details::NotebookInstance(NotebookInstance {
                status: Some(NotebookStatus::parse(s)),
                ..NotebookInstance::default()
            }))
        };
        let schedule = |s: &str| {
            with(Details::MonitoringSchedule(MonitoringSchedule {
                status: Some(s.into()),
                ..MonitoringSchedule::default()
            }))
        };
        let experiment = |s: &str| {
            with(Details::InferenceExperiment(InferenceExperiment {
                status: Some(s.into()),
                ..InferenceExperiment::default()
            }))
        };
        for s in ["Pending", "Stopping", "Updating", "Deleting"] {
            assert_eq!(notebook(s).transition(), Some(s));
        }
        for s in ["InService", "Stopped", "Failed"] {
            assert_eq!(notebook(s).transition(), None, "{s}");
        }
        assert_eq!(schedule("Pending").transition(), Some("Pending"));
        for s in ["Scheduled", "Stopped", "Failed"] {
            assert_eq!(schedule(s).transition(), None, "{s}");
        }
        for s in ["Creating", "Updating", "Starting", "Stopping"] {
            assert_eq!(experiment(s).transition(), Some(s));
            assert!(!InferenceExperiment::takes_update(Some(s)));
        }
        for s in ["Created", "Running"] {
            assert_eq!(experiment(s).transition(), None);
            assert!(InferenceExperiment::takes_update(Some(s)));
        }
        for s in ["Completed", "Cancelled"] {
            assert_eq!(experiment(s).transition(), None);
            assert!(!InferenceExperiment::takes_update(Some(s)));
        }
    }

    #[test]
    fn system_tags_are_not_user_tags() {
        let tags: Tags = [("aws:cloudformation:stack-name", "s"), ("owner", "me")]
            .into_iter()
            .collect();
        assert_eq!(tags.user_tags().collect::<Vec<_>>(), vec![("owner", "me")]);
    }
}
