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
    Details, EndpointConfig, Model, NotebookInstance, NotebookStatus, Observed, ProductionVariant,
    ResourceKind, ResourceRef, Tags,
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
        match kind {
            ResourceKind::NotebookInstance => {
                let mut pages = self
                    .client
                    .list_notebook_instances()
                    .max_results(100)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("ListNotebookInstances", e))?;
                    for s in page.notebook_instances() {
                        push(s.notebook_instance_name(), s.notebook_instance_arn());
                    }
                }
            }
            ResourceKind::EndpointConfig => {
                let mut pages = self
                    .client
                    .list_endpoint_configs()
                    .max_results(100)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("ListEndpointConfigs", e))?;
                    for s in page.endpoint_configs() {
                        push(s.endpoint_config_name(), s.endpoint_config_arn());
                    }
                }
            }
            ResourceKind::Model => {
                let mut pages = self
                    .client
                    .list_models()
                    .max_results(100)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("ListModels", e))?;
                    for s in page.models() {
                        push(s.model_name(), s.model_arn());
                    }
                }
            }
            ResourceKind::Image => {
                let mut pages = self
                    .client
                    .list_images()
                    .max_results(100)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("ListImages", e))?;
                    for s in page.images() {
                        push(s.image_name(), s.image_arn());
                    }
                }
            }
            ResourceKind::AppImageConfig => {
                let mut pages = self
                    .client
                    .list_app_image_configs()
                    .max_results(100)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("ListAppImageConfigs", e))?;
                    for s in page.app_image_configs() {
                        push(s.app_image_config_name(), s.app_image_config_arn());
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
        let details = if policy.needs_details(listed.kind) {
            match self.describe(listed.kind, &listed.name).await? {
                Some((_, _, d)) => Some(d),
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
        self.complete(listed.clone(), details, None, policy).await
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
