//! Observation: reading the SageMaker resources the controls judge from the live account. (The
//! fixes make a few reads of their own: the endpoints on a config being replaced, and a
//! notebook's state while its recreate intent is followed, through [`Observer::notebook_with_tags`].)
//!
//! It reads only what the enabled controls need: no Describe where the list result answers, no
//! ListTags where no control or exemption looks at tags. Pagination, and the SDK's retry with
//! back-off for throttling, are the SDK's.

use aws_sdk_sagemaker::Client;

pub use crate::aws::error::AwsError;
use crate::domain::policy::Policy;
use crate::domain::resource::{
    Details, EndpointConfig, FeatureGroup, InferenceDataStorage, InferenceExperiment,
    InlineMonitoringJob, Model, ModelContainer, ModelContainers, MonitoringJobDefinition,
    MonitoringNetworkConfig, MonitoringSchedule, NotebookInstance, NotebookStatus, Observed,
    OfflineStore, OnlineStore, ProductionVariant, ResourceKind, ResourceRef, Tags,
};

/// What the list call of a kind returns: enough to know the resource exists and to name it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub kind: ResourceKind,
    pub name: String,
    pub arn: String,
}

impl Listed {
    /// The account and region, from the ARN.
    fn location(&self) -> (String, String) {
        let r = ResourceRef::from_arn(&self.arn);
        (
            r.as_ref()
                .and_then(|r| r.account.clone())
                .unwrap_or_default(),
            r.and_then(|r| r.region).unwrap_or_default(),
        )
    }
}

/// Reads resources of one region.
#[derive(Clone, Debug)]
pub struct Observer {
    client: Client,
    region: String,
}

impl Observer {
    pub fn new(client: Client, region: impl Into<String>) -> Self {
        Observer {
            client,
            region: region.into(),
        }
    }

    /// A reader of `region` with the credentials of `config` (an account's, see
    /// [`crate::aws::accounts::Reach`]).
    pub fn in_region(config: &aws_config::SdkConfig, region: &str) -> Self {
        let client = Client::from_conf(
            aws_sdk_sagemaker::config::Builder::from(config)
                .region(aws_sdk_sagemaker::config::Region::new(region.to_string()))
                .build(),
        );
        Observer::new(client, region)
    }

    /// A client for one region from the standard AWS configuration (`AWS_ENDPOINT_URL`,
    /// profiles, credentials, retries), so the same binary talks to AWS or to an emulator.
    pub async fn from_env(region: &str) -> Self {
        let config = crate::aws::config::load(Some(region)).await;
        Observer::new(Client::new(&config), region)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The SageMaker client, for the remediations that change what was read.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every resource of a kind in this region.
    pub async fn list(&self, kind: ResourceKind) -> Result<Vec<Listed>, AwsError> {
        let mut out = Vec::new();
        let mut push = |name: Option<&str>, arn: Option<&str>| {
            if let (Some(name), Some(arn)) = (name, arn) {
                out.push(Listed {
                    kind,
                    name: name.to_string(),
                    arn: arn.to_string(),
                });
            }
        };
        // Every list call pages the same way: 100 at a time, each summary's name and ARN.
        macro_rules! pages {
            ($call:ident, $op:literal, $items:ident, $name:ident, $arn:ident) => {{
                let mut pages = self.client.$call().max_results(100).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk($op, e))?;
                    for s in page.$items() {
                        push(s.$name(), s.$arn());
                    }
                }
            }};
        }
        match kind {
            ResourceKind::NotebookInstance => pages!(
                list_notebook_instances,
                "ListNotebookInstances",
                notebook_instances,
                notebook_instance_name,
                notebook_instance_arn
            ),
            ResourceKind::EndpointConfig => pages!(
                list_endpoint_configs,
                "ListEndpointConfigs",
                endpoint_configs,
                endpoint_config_name,
                endpoint_config_arn
            ),
            ResourceKind::Model => {
                pages!(list_models, "ListModels", models, model_name, model_arn)
            }
            ResourceKind::Image => {
                pages!(list_images, "ListImages", images, image_name, image_arn)
            }
            ResourceKind::AppImageConfig => pages!(
                list_app_image_configs,
                "ListAppImageConfigs",
                app_image_configs,
                app_image_config_name,
                app_image_config_arn
            ),
            ResourceKind::DataQualityJobDefinition => pages!(
                list_data_quality_job_definitions,
                "ListDataQualityJobDefinitions",
                job_definition_summaries,
                monitoring_job_definition_name,
                monitoring_job_definition_arn
            ),
            ResourceKind::ModelQualityJobDefinition => pages!(
                list_model_quality_job_definitions,
                "ListModelQualityJobDefinitions",
                job_definition_summaries,
                monitoring_job_definition_name,
                monitoring_job_definition_arn
            ),
            ResourceKind::ModelBiasJobDefinition => pages!(
                list_model_bias_job_definitions,
                "ListModelBiasJobDefinitions",
                job_definition_summaries,
                monitoring_job_definition_name,
                monitoring_job_definition_arn
            ),
            ResourceKind::ModelExplainabilityJobDefinition => pages!(
                list_model_explainability_job_definitions,
                "ListModelExplainabilityJobDefinitions",
                job_definition_summaries,
                monitoring_job_definition_name,
                monitoring_job_definition_arn
            ),
            ResourceKind::MonitoringSchedule => pages!(
                list_monitoring_schedules,
                "ListMonitoringSchedules",
                monitoring_schedule_summaries,
                monitoring_schedule_name,
                monitoring_schedule_arn
            ),
            ResourceKind::FeatureGroup => pages!(
                list_feature_groups,
                "ListFeatureGroups",
                feature_group_summaries,
                feature_group_name,
                feature_group_arn
            ),
            ResourceKind::InferenceExperiment => {
                // The summaries carry no ARN. Every experiment listed here is in one account and
                // region, so the first one described gives the ARN's prefix for all of them: one
                // call per list, not one per experiment.
                let mut names = Vec::new();
                let mut pages = self
                    .client
                    .list_inference_experiments()
                    .max_results(100)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page =
                        page.map_err(|e| AwsError::from_sdk("ListInferenceExperiments", e))?;
                    names.extend(
                        page.inference_experiments()
                            .iter()
                            .filter_map(|s| s.name().map(str::to_string)),
                    );
                }
                let mut prefix = None;
                for name in &names {
                    // One deleted since the list tells nothing: the next one is asked.
                    if let Some((arn, _, _)) = self.describe(kind, name).await? {
                        prefix = arn
                            .rfind('/')
                            .map(|i| arn[..=i].to_string())
                            .filter(|p| p.ends_with(":inference-experiment/"));
                        break;
                    }
                }
                if let Some(prefix) = prefix {
                    for name in &names {
                        push(
                            Some(name),
                            Some(&format!("{prefix}{}", name.to_ascii_lowercase())),
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    /// Reads what the policy needs of a listed resource. `Ok(None)`: it was deleted meanwhile.
    pub async fn observe_listed(
        &self,
        listed: &Listed,
        policy: &Policy,
    ) -> Result<Option<Observed>, AwsError> {
        let mut listed = listed.clone();
        let details = if policy.needs_details(listed.kind) {
            match self.describe(listed.kind, &listed.name).await? {
                // The ARN and the name as SageMaker answers them, not as the list (or, for an
                // inference experiment, the prefix the list was given) spelled them.
                Some((arn, name, d)) => {
                    listed.arn = arn;
                    listed.name = name;
                    Some(d)
                }
                None => return Ok(None),
            }
        } else {
            // The list result already says it exists, and images and app image configs are
            // judged by their tags alone.
            match listed.kind {
                ResourceKind::Image => Some(Details::Image),
                ResourceKind::AppImageConfig => Some(Details::AppImageConfig),
                _ => None,
            }
        };
        self.complete(listed, details, None, policy).await
    }

    /// Reads a resource an event named. It is always described: that both confirms it exists
    /// and gives its ARN. `Ok(None)`: it does not exist (any more).
    pub async fn observe_ref(
        &self,
        r: &ResourceRef,
        policy: &Policy,
    ) -> Result<Option<Observed>, AwsError> {
        let Some((arn, name, details)) = self.describe(r.kind, &r.name).await? else {
            return Ok(None);
        };
        let listed = Listed {
            kind: r.kind,
            name,
            arn,
        };
        self.complete(listed, Some(details), r.account.as_deref(), policy)
            .await
    }

    /// Adds the tags, when the policy needs them, and where the resource is. `Ok(None)`: the
    /// resource was deleted meanwhile.
    async fn complete(
        &self,
        listed: Listed,
        details: Option<Details>,
        fallback_account: Option<&str>,
        policy: &Policy,
    ) -> Result<Option<Observed>, AwsError> {
        let tags = if policy.needs_tags(listed.kind) {
            match self.tags(&listed.arn).await {
                Ok(t) => Some(t),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let (mut account, mut region) = listed.location();
        if account.is_empty() {
            account = fallback_account.unwrap_or_default().to_string();
        }
        if region.is_empty() {
            region = self.region.clone();
        }
        Ok(Some(Observed {
            kind: listed.kind,
            name: listed.name,
            arn: listed.arn,
            account,
            region,
            tags,
            details,
        }))
    }

    /// One Describe call: the ARN, the name as SageMaker spells it, and the settings the controls
    /// judge. `Ok(None)`: not found.
    async fn describe(
        &self,
        kind: ResourceKind,
        name: &str,
    ) -> Result<Option<(String, String, Details)>, AwsError> {
        // The four kinds of job definition answer with the same fields.
        macro_rules! job_definition {
            ($call:ident, $op:literal) => {
                self.client
                    .$call()
                    .job_definition_name(name)
                    .send()
                    .await
                    .map(|o| {
                        (
                            o.job_definition_arn().map(str::to_string),
                            o.job_definition_name().map(str::to_string),
                            Details::MonitoringJobDefinition(MonitoringJobDefinition {
                                network_config: o.network_config().map(|n| {
                                    MonitoringNetworkConfig {
                                        enable_inter_container_traffic_encryption: n
                                            .enable_inter_container_traffic_encryption(),
                                        enable_network_isolation: n.enable_network_isolation(),
                                    }
                                }),
                                instance_count: o
                                    .job_resources()
                                    .and_then(|r| r.cluster_config())
                                    .and_then(|c| c.instance_count()),
                            }),
                        )
                    })
                    .map_err(|e| AwsError::from_sdk($op, e))
            };
        }
        let result = match kind {
            ResourceKind::NotebookInstance => self
                .client
                .describe_notebook_instance()
                .notebook_instance_name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.notebook_instance_arn().map(str::to_string),
                        o.notebook_instance_name().map(str::to_string),
                        Details::NotebookInstance(notebook(&o)),
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeNotebookInstance", e)),
            ResourceKind::EndpointConfig => self
                .client
                .describe_endpoint_config()
                .endpoint_config_name(name)
                .send()
                .await
                .map(|o| {
                    let variants = o
                        .production_variants()
                        .iter()
                        .map(|v| ProductionVariant {
                            name: v.variant_name().unwrap_or_default().to_string(),
                            instance_type: v.instance_type().map(|t| t.as_str().to_string()),
                            initial_instance_count: v.initial_instance_count(),
                            serverless: v.serverless_config().is_some(),
                        })
                        .collect();
                    (
                        o.endpoint_config_arn().map(str::to_string),
                        o.endpoint_config_name().map(str::to_string),
                        Details::EndpointConfig(EndpointConfig {
                            production_variants: variants,
                        }),
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeEndpointConfig", e)),
            ResourceKind::Model => self
                .client
                .describe_model()
                .model_name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.model_arn().map(str::to_string),
                        o.model_name().map(str::to_string),
                        Details::Model(Model {
                            enable_network_isolation: o.enable_network_isolation(),
                            containers: ModelContainers {
                                primary: o.primary_container().map(container),
                                containers: o.containers().iter().map(container).collect(),
                            },
                        }),
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeModel", e)),
            ResourceKind::Image => self
                .client
                .describe_image()
                .image_name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.image_arn().map(str::to_string),
                        o.image_name().map(str::to_string),
                        Details::Image,
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeImage", e)),
            ResourceKind::AppImageConfig => self
                .client
                .describe_app_image_config()
                .app_image_config_name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.app_image_config_arn().map(str::to_string),
                        o.app_image_config_name().map(str::to_string),
                        Details::AppImageConfig,
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeAppImageConfig", e)),
            ResourceKind::DataQualityJobDefinition => job_definition!(
                describe_data_quality_job_definition,
                "DescribeDataQualityJobDefinition"
            ),
            ResourceKind::ModelQualityJobDefinition => job_definition!(
                describe_model_quality_job_definition,
                "DescribeModelQualityJobDefinition"
            ),
            ResourceKind::ModelBiasJobDefinition => job_definition!(
                describe_model_bias_job_definition,
                "DescribeModelBiasJobDefinition"
            ),
            ResourceKind::ModelExplainabilityJobDefinition => job_definition!(
                describe_model_explainability_job_definition,
                "DescribeModelExplainabilityJobDefinition"
            ),
            ResourceKind::MonitoringSchedule => self
                .client
                .describe_monitoring_schedule()
                .monitoring_schedule_name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.monitoring_schedule_arn().map(str::to_string),
                        o.monitoring_schedule_name().map(str::to_string),
                        Details::MonitoringSchedule(schedule(&o)),
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeMonitoringSchedule", e)),
            ResourceKind::FeatureGroup => self
                .client
                .describe_feature_group()
                .feature_group_name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.feature_group_arn().map(str::to_string),
                        o.feature_group_name().map(str::to_string),
                        Details::FeatureGroup(feature_group(&o)),
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeFeatureGroup", e)),
            ResourceKind::InferenceExperiment => self
                .client
                .describe_inference_experiment()
                .name(name)
                .send()
                .await
                .map(|o| {
                    (
                        o.arn().map(str::to_string),
                        o.name().map(str::to_string),
                        Details::InferenceExperiment(InferenceExperiment {
                            status: o.status().map(|s| s.as_str().to_string()),
                            kms_key: o.kms_key().map(str::to_string),
                            data_storage: o.data_storage_config().map(|d| InferenceDataStorage {
                                kms_key: d.kms_key().map(str::to_string),
                            }),
                        }),
                    )
                })
                .map_err(|e| AwsError::from_sdk("DescribeInferenceExperiment", e)),
        };
        match result {
            // The name as SageMaker spells it: a name taken from an ARN is lower-cased, and
            // exemptions match the real spelling.
            Ok((Some(arn), spelled, details)) => Ok(Some((
                arn,
                spelled.unwrap_or_else(|| name.to_string()),
                details,
            ))),
            Ok((None, _, _)) => Err(AwsError::invalid_answer(
                "SageMaker",
                "Describe",
                format!("SageMaker returned no ARN for {kind} {name}"),
            )),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A notebook's whole configuration and its tags, read live; `None` once it is gone.
    pub async fn notebook_with_tags(
        &self,
        name: &str,
    ) -> Result<Option<(NotebookInstance, Tags)>, AwsError> {
        let Some((arn, _, Details::NotebookInstance(nb))) =
            self.describe(ResourceKind::NotebookInstance, name).await?
        else {
            return Ok(None);
        };
        match self.tags(&arn).await {
            Ok(tags) => Ok(Some((nb, tags))),
            // Deleted between the two reads.
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every tag of a resource.
    pub async fn tags(&self, arn: &str) -> Result<Tags, AwsError> {
        let mut tags = Tags::default();
        let mut pages = self
            .client
            .list_tags()
            .resource_arn(arn)
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListTags", e))?;
            for t in page.tags() {
                if let (Some(k), Some(v)) = (t.key(), t.value()) {
                    tags.0.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok(tags)
    }
}

fn notebook(
    o: &aws_sdk_sagemaker::operation::describe_notebook_instance::DescribeNotebookInstanceOutput,
) -> NotebookInstance {
    NotebookInstance {
        status: o
            .notebook_instance_status()
            .map(|s| NotebookStatus::parse(s.as_str())),
        instance_type: o.instance_type().map(|t| t.as_str().to_string()),
        subnet_id: o.subnet_id().map(str::to_string),
        security_groups: o.security_groups().to_vec(),
        direct_internet_access: o.direct_internet_access().map(|d| d.as_str().to_string()),
        root_access: o.root_access().map(|r| r.as_str().to_string()),
        platform_identifier: o.platform_identifier().map(str::to_string),
        role_arn: o.role_arn().map(str::to_string),
        kms_key_id: o.kms_key_id().map(str::to_string),
        volume_size_in_gb: o.volume_size_in_gb(),
        lifecycle_config_name: o
            .notebook_instance_lifecycle_config_name()
            .map(str::to_string),
        default_code_repository: o.default_code_repository().map(str::to_string),
        additional_code_repositories: o.additional_code_repositories().to_vec(),
        accelerator_types: o
            .accelerator_types()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        minimum_imds_version: o
            .instance_metadata_service_configuration()
            .and_then(|c| c.minimum_instance_metadata_service_version())
            .map(str::to_string),
        ip_address_type: o.ip_address_type().map(|t| t.as_str().to_string()),
        creation_time: o.creation_time().map(|t| t.secs()),
    }
}

fn container(c: &aws_sdk_sagemaker::types::ContainerDefinition) -> ModelContainer {
    ModelContainer {
        repository_access_mode: c
            .image_config()
            .and_then(|i| i.repository_access_mode())
            .map(|m| m.as_str().to_string()),
    }
}

fn schedule(
    o: &aws_sdk_sagemaker::operation::describe_monitoring_schedule::DescribeMonitoringScheduleOutput,
) -> MonitoringSchedule {
    let config = o.monitoring_schedule_config();
    MonitoringSchedule {
        status: o
            .monitoring_schedule_status()
            .map(|s| s.as_str().to_string()),
        inline_job: config.and_then(|c| c.monitoring_job_definition()).map(|j| {
            InlineMonitoringJob {
                network_config: j.network_config().map(|n| MonitoringNetworkConfig {
                    enable_inter_container_traffic_encryption: n
                        .enable_inter_container_traffic_encryption(),
                    enable_network_isolation: n.enable_network_isolation(),
                }),
            }
        }),
        job_definition_name: config
            .and_then(|c| c.monitoring_job_definition_name())
            .map(str::to_string),
        monitoring_type: config
            .and_then(|c| c.monitoring_type())
            .map(|t| t.as_str().to_string()),
    }
}

fn feature_group(
    o: &aws_sdk_sagemaker::operation::describe_feature_group::DescribeFeatureGroupOutput,
) -> FeatureGroup {
    FeatureGroup {
        offline_store: o.offline_store_config().map(|c| OfflineStore {
            kms_key_id: c
                .s3_storage_config()
                .and_then(|s| s.kms_key_id())
                .map(str::to_string),
        }),
        online_store: o.online_store_config().map(|c| OnlineStore {
            enabled: c.enable_online_store(),
            storage_type: c.storage_type().map(|t| t.as_str().to_string()),
            kms_key_id: c
                .security_config()
                .and_then(|s| s.kms_key_id())
                .map(str::to_string),
        }),
    }
}
