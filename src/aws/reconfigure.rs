//! SageMaker.14, .22 and .24, opt-in: one update call of a monitoring schedule or an inference
//! experiment, which keeps running.
//!
//! Both update calls take a whole configuration block, not a field. So the block is read afresh
//! just before the call and sent back as read, with only the fixed fields changed: a schedule's
//! `MonitoringScheduleConfig` (its cron, its baseline, its inputs and outputs, its VPC, its role)
//! and an experiment's `DataStorageConfig` (its destination and content types) come back
//! unchanged. The call is idempotent, and the next look judges the result afresh: a resource
//! that complies has no plan any more.

use aws_sdk_sagemaker::types::NetworkConfig;

use crate::aws::checks::{admitted, check_key};
use crate::aws::gate::{Effects, Mutation};
use crate::aws::observe::AwsError;
use crate::domain::execution::{Execution, ExecutionResult};
use crate::domain::plan::{Setting, Step};
use crate::domain::resource::{InferenceExperiment, Observed, ResourceKind};

/// Makes the update `settings` ask for, on the live resource.
pub async fn reconfigure(
    fx: &Effects<'_>,
    live: &Observed,
    settings: Vec<Setting>,
    e: &mut Execution,
) -> Result<(), AwsError> {
    match live.kind {
        ResourceKind::MonitoringSchedule => schedule(fx, live, settings, e).await,
        ResourceKind::InferenceExperiment => experiment(fx, live, settings, e).await,
        other => {
            e.notes.push(format!(
                "{other} resources are not updated: nothing changed"
            ));
            e.settle_on(ExecutionResult::Unsupported);
            Ok(())
        }
    }
}

/// `UpdateMonitoringSchedule` with the schedule's configuration as read now, the inline job's
/// switches turned on.
async fn schedule(
    fx: &Effects<'_>,
    live: &Observed,
    settings: Vec<Setting>,
    e: &mut Execution,
) -> Result<(), AwsError> {
    // Counted first, read last: the configuration sent back is as fresh as it can be (the API
    // has no condition on the update, so a change made between the read and the call is lost).
    if !admitted(fx, live, e).await {
        return Ok(());
    }
    let read = fx
        .client
        .describe_monitoring_schedule()
        .monitoring_schedule_name(&live.name)
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("DescribeMonitoringSchedule", err))?;
    let Some(mut config) = read.monitoring_schedule_config().cloned() else {
        e.notes
            .push("the schedule has no configuration to update: nothing changed".into());
        e.settle_on(ExecutionResult::Unsupported);
        return Ok(());
    };
    let Some(job) = config.monitoring_job_definition.as_mut() else {
        // It was changed to name a job definition since the look began.
        e.notes.push(
            "the schedule now names a job definition: nothing changed, the next look judges it"
                .into(),
        );
        return Ok(());
    };
    let network = job
        .network_config
        .get_or_insert_with(|| NetworkConfig::builder().build());
    for s in &settings {
        match s {
            Setting::EnableNetworkIsolation(on) => network.enable_network_isolation = Some(*on),
            Setting::EnableInterContainerTrafficEncryption(on) => {
                network.enable_inter_container_traffic_encryption = Some(*on)
            }
            other => {
                e.notes.push(format!(
                    "{} is not a monitoring schedule's setting: nothing changed",
                    other.name()
                ));
                e.settle_on(ExecutionResult::Unsupported);
                return Ok(());
            }
        }
    }
    fx.mutate(
        Mutation::UpdateMonitoringSchedule,
        &live.account,
        &live.region,
        fx.client
            .update_monitoring_schedule()
            .monitoring_schedule_name(&live.name)
            .monitoring_schedule_config(config)
            .send(),
    )
    .await?;
    updated(fx, e, settings);
    Ok(())
}

/// `UpdateInferenceExperiment` with the experiment's `DataStorageConfig` as read now and the
/// policy's KMS key, once the key is known to be usable.
async fn experiment(
    fx: &Effects<'_>,
    live: &Observed,
    settings: Vec<Setting>,
    e: &mut Execution,
) -> Result<(), AwsError> {
    let Some(key) = settings.iter().find_map(|s| match s {
        Setting::DataStorageKmsKey(k) => Some(k.clone()),
        _ => None,
    }) else {
        e.notes
            .push("no setting an inference experiment takes: nothing changed".into());
        e.settle_on(ExecutionResult::Unsupported);
        return Ok(());
    };
    if let Some(why) = check_key(fx, &key, &live.account, &live.region).await? {
        e.notes.push(format!("{why}: nothing changed"));
        e.settle_on(ExecutionResult::Unsupported);
        return Ok(());
    }
    // Counted first, read last: the data storage sent back is as fresh as it can be.
    if !admitted(fx, live, e).await {
        return Ok(());
    }
    let read = fx
        .client
        .describe_inference_experiment()
        .name(&live.name)
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("DescribeInferenceExperiment", err))?;
    let status = read.status().map(|s| s.as_str().to_string());
    if !InferenceExperiment::takes_update(status.as_deref()) {
        e.notes.push(format!(
            "the inference experiment is {}: UpdateInferenceExperiment takes only a Created or Running one; nothing changed",
            status.as_deref().unwrap_or("in an unknown state")
        ));
        e.settle_on(ExecutionResult::InProgress);
        e.requeue_after = Some(fx.settle);
        return Ok(());
    }
    let Some(mut storage) = read.data_storage_config().cloned() else {
        e.notes.push(
            "the experiment captures no data any more: nothing changed, the next look judges it"
                .into(),
        );
        return Ok(());
    };
    storage.kms_key = Some(key);
    fx.mutate(
        Mutation::UpdateInferenceExperiment,
        &live.account,
        &live.region,
        fx.client
            .update_inference_experiment()
            .name(&live.name)
            .data_storage_config(storage)
            .send(),
    )
    .await?;
    updated(fx, e, settings);
    Ok(())
}

/// The update was made; the next look, once the resource settles, judges it afresh.
fn updated(fx: &Effects<'_>, e: &mut Execution, settings: Vec<Setting>) {
    e.done.push(Step::Update { settings }.to_string());
    e.result = ExecutionResult::Applied;
    e.requeue_after = Some(fx.settle);
}
