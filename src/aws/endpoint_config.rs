//! SageMaker.4, opt-in: a replacement endpoint config with enough instances, and every endpoint
//! moved onto it.
//!
//! An endpoint config cannot be changed, so the fix creates a new one under a deterministic name
//! (`<name>-guard-ha`, [`crate::domain::plan::replacement_config_name`]): the same variants and every other
//! setting as read, each instance-based variant below `minInstanceCount` raised to it, the tags
//! copied. Then each endpoint that uses the old config is updated to the new one (SageMaker
//! deploys it blue/green, without downtime). The old config is never deleted: it is tagged
//! `sagemaker-guard/replaced-by` and its owner deletes it when nothing needs it any more.
//! Every step is idempotent, so a look after a crash just continues.

use aws_sdk_sagemaker::types::{EndpointStatus, Tag};

use crate::aws::checks::admitted;
use crate::aws::gate::{Effects, Mutation};
use crate::aws::observe::AwsError;
use crate::domain::assess::Assessment;
use crate::domain::execution::{Execution, ExecutionResult};
use crate::domain::marks::REPLACED_BY_TAG;
use crate::domain::plan::Step;

/// The next step of the replacement the live state allows.
pub async fn replace(
    fx: &Effects<'_>,
    a: &Assessment,
    new_name: &str,
    min: i32,
    e: &mut Execution,
) -> Result<(), AwsError> {
    let new_name = new_name.to_string();
    let client = fx.client;
    let old_name = a.resource.name.as_str();

    let exists = match client
        .describe_endpoint_config()
        .endpoint_config_name(&new_name)
        .send()
        .await
    {
        Ok(_) => true,
        Err(err) => {
            let err = AwsError::from_sdk("DescribeEndpointConfig", err);
            if !err.is_not_found() {
                return Err(err);
            }
            false
        }
    };
    if !exists {
        if !admitted(fx, &a.resource, e).await {
            return Ok(());
        }
        let old = client
            .describe_endpoint_config()
            .endpoint_config_name(old_name)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("DescribeEndpointConfig", err))?;
        let variants: Vec<_> = old
            .production_variants()
            .iter()
            .map(|v| {
                let mut v = v.clone();
                if v.serverless_config.is_none() && v.initial_instance_count.is_none_or(|n| n < min)
                {
                    v.initial_instance_count = Some(min);
                }
                v
            })
            .collect();
        let tags: Vec<Tag> = a
            .resource
            .tags
            .iter()
            .flat_map(|t| t.user_tags())
            .filter(|(k, _)| *k != REPLACED_BY_TAG)
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let create = client
            .create_endpoint_config()
            .endpoint_config_name(&new_name)
            .set_production_variants(Some(variants))
            .set_data_capture_config(old.data_capture_config().cloned())
            .set_kms_key_id(old.kms_key_id().map(str::to_string))
            .set_async_inference_config(old.async_inference_config().cloned())
            .set_explainer_config(old.explainer_config().cloned())
            .set_shadow_production_variants(
                (!old.shadow_production_variants().is_empty())
                    .then(|| old.shadow_production_variants().to_vec()),
            )
            .set_execution_role_arn(old.execution_role_arn().map(str::to_string))
            .set_vpc_config(old.vpc_config().cloned())
            .set_enable_network_isolation(old.enable_network_isolation())
            .set_metrics_config(old.metrics_config().cloned())
            .set_tags((!tags.is_empty()).then_some(tags))
            .send();
        fx.mutate(
            Mutation::CreateEndpointConfig,
            &a.resource.account,
            &a.resource.region,
            create,
        )
        .await?;
        let planned = a
            .plan
            .iter()
            .flat_map(|p| &p.steps)
            .find(|s| matches!(s, Step::CreateEndpointConfig { .. }));
        e.done
            .push(planned.map(|s| s.to_string()).unwrap_or_default());
        e.result = ExecutionResult::Applied;
    }

    // Every endpoint on the old config moves to the new one.
    let mut users = Vec::new();
    let mut pages = client
        .list_endpoints()
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| AwsError::from_sdk("ListEndpoints", err))?;
        for summary in page.endpoints() {
            let Some(name) = summary.endpoint_name() else {
                continue;
            };
            let d = match client.describe_endpoint().endpoint_name(name).send().await {
                Ok(d) => d,
                Err(err) => {
                    let err = AwsError::from_sdk("DescribeEndpoint", err);
                    if err.is_not_found() {
                        continue;
                    }
                    return Err(err);
                }
            };
            if d.endpoint_config_name() == Some(old_name) {
                users.push((name.to_string(), d.endpoint_status().cloned()));
            }
        }
    }
    let mut waiting = Vec::new();
    for (endpoint, status) in users {
        if status == Some(EndpointStatus::InService) {
            fx.mutate(
                Mutation::UpdateEndpoint,
                &a.resource.account,
                &a.resource.region,
                client
                    .update_endpoint()
                    .endpoint_name(&endpoint)
                    .endpoint_config_name(&new_name)
                    .send(),
            )
            .await?;
            e.done
                .push(format!("update endpoint {endpoint} to {new_name}"));
            e.result = ExecutionResult::Applied;
        } else {
            waiting.push(format!(
                "{endpoint} ({})",
                status.as_ref().map(|s| s.as_str()).unwrap_or("unknown")
            ));
        }
    }
    if !waiting.is_empty() {
        // An endpoint being created or updated cannot be updated: look again.
        e.notes
            .push(format!("waiting for {} to settle", waiting.join(", ")));
        if e.result == ExecutionResult::NothingToDo {
            e.result = ExecutionResult::InProgress;
        }
        e.requeue_after = Some(fx.settle);
        return Ok(());
    }
    let marked = a
        .resource
        .tags
        .as_ref()
        .is_some_and(|t| t.get(REPLACED_BY_TAG) == Some(new_name.as_str()));
    if !marked {
        fx.mutate(
            Mutation::AddTags,
            &a.resource.account,
            &a.resource.region,
            client
                .add_tags()
                .resource_arn(&a.resource.arn)
                .tags(Tag::builder().key(REPLACED_BY_TAG).value(&new_name).build())
                .send(),
        )
        .await?;
        e.done
            .push(format!("add tags {REPLACED_BY_TAG}={new_name}"));
        if e.result == ExecutionResult::NothingToDo {
            e.result = ExecutionResult::Applied;
        }
    }
    e.notes.push(format!(
        "replaced by {new_name}; no endpoint uses {old_name} any more; the guard never deletes it: delete it when nothing needs it"
    ));
    Ok(())
}
