//! SageMaker.9 to .20 and .22 to .25 against the emulator with the real binary: every new kind
//! observed with one list and one describe per resource and judged; a monitoring schedule fixed
//! in place by `UpdateMonitoringSchedule` (SageMaker.14, .22) and an inference experiment's
//! captured data given the policy's key (SageMaker.24), everything else sent back unchanged; the
//! service reaching a schedule from its CloudTrail event; the controls with no fix marked.

use std::time::Duration;

use aws_sdk_sagemaker::types::{
    ContainerDefinition, DataQualityAppSpecification, DataQualityJobInput, EndpointInput,
    FeatureDefinition, FeatureType, ImageConfig, InferenceExperimentDataStorageConfig,
    InferenceExperimentType, ModelBiasAppSpecification, ModelBiasJobInput,
    ModelExplainabilityAppSpecification, ModelExplainabilityJobInput, ModelInfrastructureConfig,
    ModelInfrastructureType, ModelQualityAppSpecification, ModelQualityJobInput,
    ModelVariantConfig, MonitoringAppSpecification, MonitoringClusterConfig,
    MonitoringGroundTruthS3Input, MonitoringInput, MonitoringJobDefinition,
    MonitoringNetworkConfig, MonitoringOutput, MonitoringOutputConfig, MonitoringResources,
    MonitoringS3Output, MonitoringScheduleConfig, MonitoringStoppingCondition, MonitoringType,
    NetworkConfig, OfflineStoreConfig, OnlineStoreConfig, OnlineStoreSecurityConfig,
    ProcessingInstanceType, RealTimeInferenceConfig, RepositoryAccessMode, S3StorageConfig,
    ScheduleConfig, ShadowModeConfig, ShadowModelVariantConfig, VpcConfig,
};
use aws_sdk_sagemaker::Client;

use crate::common::service::*;
use crate::common::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/monitoring";
const IMAGE: &str = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer";

/// A policy with `controls` (YAML lines under `spec.controls`), applied, with `extra` under
/// `spec.remediation`.
fn policy(controls: &str, remediation: &str) -> String {
    format!(
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: monitoring}}\nspec:\n  dryRun: false\n  defaultAction: off\n  remediation:\n    tagValues: {{}}\n{remediation}  controls:\n{controls}"
    )
}

fn resources(instance_count: i32) -> MonitoringResources {
    MonitoringResources::builder()
        .cluster_config(
            MonitoringClusterConfig::builder()
                .instance_count(instance_count)
                .instance_type(ProcessingInstanceType::MlM5Large)
                .volume_size_in_gb(20)
                .build(),
        )
        .build()
}

fn endpoint_input() -> EndpointInput {
    EndpointInput::builder()
        .endpoint_name("ep-monitored")
        .local_path("/opt/ml/processing/input")
        .build()
}

fn outputs() -> MonitoringOutputConfig {
    MonitoringOutputConfig::builder()
        .monitoring_outputs(
            MonitoringOutput::builder()
                .s3_output(
                    MonitoringS3Output::builder()
                        .s3_uri("s3://monitoring/reports")
                        .local_path("/opt/ml/processing/output")
                        .build(),
                )
                .build(),
        )
        .build()
}

fn network(encryption: Option<bool>, isolation: Option<bool>) -> MonitoringNetworkConfig {
    MonitoringNetworkConfig::builder()
        .set_enable_inter_container_traffic_encryption(encryption)
        .set_enable_network_isolation(isolation)
        .build()
}

/// A job definition of one of the four kinds (`DataQuality`, `ModelQuality`, `ModelBias`,
/// `ModelExplainability`).
async fn job_definition(
    c: &Client,
    kind: &str,
    name: &str,
    instance_count: i32,
    net: Option<MonitoringNetworkConfig>,
) {
    let ground_truth = MonitoringGroundTruthS3Input::builder()
        .s3_uri("s3://monitoring/ground-truth")
        .build();
    let result = match kind {
        "DataQuality" => c
            .create_data_quality_job_definition()
            .job_definition_name(name)
            .data_quality_app_specification(
                DataQualityAppSpecification::builder()
                    .image_uri(IMAGE)
                    .build(),
            )
            .data_quality_job_input(
                DataQualityJobInput::builder()
                    .endpoint_input(endpoint_input())
                    .build(),
            )
            .data_quality_job_output_config(outputs())
            .job_resources(resources(instance_count))
            .set_network_config(net)
            .role_arn(ROLE)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        "ModelQuality" => c
            .create_model_quality_job_definition()
            .job_definition_name(name)
            .model_quality_app_specification(
                ModelQualityAppSpecification::builder()
                    .image_uri(IMAGE)
                    .build(),
            )
            .model_quality_job_input(
                ModelQualityJobInput::builder()
                    .endpoint_input(endpoint_input())
                    .ground_truth_s3_input(ground_truth)
                    .build(),
            )
            .model_quality_job_output_config(outputs())
            .job_resources(resources(instance_count))
            .set_network_config(net)
            .role_arn(ROLE)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        "ModelBias" => c
            .create_model_bias_job_definition()
            .job_definition_name(name)
            .model_bias_app_specification(
                ModelBiasAppSpecification::builder()
                    .image_uri(IMAGE)
                    .config_uri("s3://monitoring/analysis.json")
                    .build(),
            )
            .model_bias_job_input(
                ModelBiasJobInput::builder()
                    .endpoint_input(endpoint_input())
                    .ground_truth_s3_input(ground_truth)
                    .build(),
            )
            .model_bias_job_output_config(outputs())
            .job_resources(resources(instance_count))
            .set_network_config(net)
            .role_arn(ROLE)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        _ => c
            .create_model_explainability_job_definition()
            .job_definition_name(name)
            .model_explainability_app_specification(
                ModelExplainabilityAppSpecification::builder()
                    .image_uri(IMAGE)
                    .config_uri("s3://monitoring/analysis.json")
                    .build(),
            )
            .model_explainability_job_input(
                ModelExplainabilityJobInput::builder()
                    .endpoint_input(endpoint_input())
                    .build(),
            )
            .model_explainability_job_output_config(outputs())
            .job_resources(resources(instance_count))
            .set_network_config(net)
            .role_arn(ROLE)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
    };
    result.unwrap_or_else(|e| panic!("create {kind} job definition {name}: {e:?}"));
}

/// A schedule's whole configuration with an inline job: a VPC, an environment, a stopping
/// condition and a cron of its own, all of which a fix must send back as they are.
fn inline_schedule_config(net: Option<NetworkConfig>) -> MonitoringScheduleConfig {
    MonitoringScheduleConfig::builder()
        .schedule_config(
            ScheduleConfig::builder()
                .schedule_expression("cron(0 * ? * * *)")
                .build(),
        )
        .monitoring_type(MonitoringType::DataQuality)
        .monitoring_job_definition(
            MonitoringJobDefinition::builder()
                .monitoring_inputs(
                    MonitoringInput::builder()
                        .endpoint_input(endpoint_input())
                        .build(),
                )
                .monitoring_output_config(outputs())
                .monitoring_resources(resources(2))
                .monitoring_app_specification(
                    MonitoringAppSpecification::builder()
                        .image_uri(IMAGE)
                        .container_arguments("--verbose")
                        .build(),
                )
                .stopping_condition(
                    MonitoringStoppingCondition::builder()
                        .max_runtime_in_seconds(1800)
                        .build(),
                )
                .environment("PUBLISH_CLOUDWATCH_METRICS", "Disabled")
                .set_network_config(net)
                .role_arn(ROLE)
                .build(),
        )
        .build()
}

fn vpc_network() -> NetworkConfig {
    NetworkConfig::builder()
        .vpc_config(
            VpcConfig::builder()
                .security_group_ids("sg-0123456789abcdef0")
                .subnets("subnet-0123456789abcdef0")
                .build(),
        )
        .build()
}

async fn create_schedule(c: &Client, name: &str, config: MonitoringScheduleConfig) {
    c.create_monitoring_schedule()
        .monitoring_schedule_name(name)
        .monitoring_schedule_config(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create schedule {name}: {e:?}"));
}

async fn schedule(
    c: &Client,
    name: &str,
) -> aws_sdk_sagemaker::operation::describe_monitoring_schedule::DescribeMonitoringScheduleOutput {
    c.describe_monitoring_schedule()
        .monitoring_schedule_name(name)
        .send()
        .await
        .unwrap()
}

/// Waits (up to 10 s) until the schedule is Scheduled.
async fn wait_scheduled(c: &Client, name: &str) {
    for _ in 0..100 {
        if schedule(c, name)
            .await
            .monitoring_schedule_status()
            .map(|s| s.as_str())
            == Some("Scheduled")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never became Scheduled");
}

/// A model whose images come from `primary` (a primary container's access mode, `None`: no
/// ImageConfig) or from two containers.
async fn create_model(
    c: &Client,
    name: &str,
    primary: Option<Option<&str>>,
    pipeline: &[Option<&str>],
) {
    let container = |mode: Option<&str>| {
        let mut b = ContainerDefinition::builder()
            .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:1");
        if let Some(mode) = mode {
            b = b.image_config(
                ImageConfig::builder()
                    .repository_access_mode(RepositoryAccessMode::from(mode))
                    .build(),
            );
        }
        b.build()
    };
    let mut req = c.create_model().model_name(name).execution_role_arn(ROLE);
    if let Some(mode) = primary {
        req = req.primary_container(container(mode));
    }
    for mode in pipeline {
        req = req.containers(container(*mode));
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("create model {name}: {e:?}"));
}

async fn create_feature_group(
    c: &Client,
    name: &str,
    offline_key: Option<&str>,
    online_key: Option<&str>,
) {
    let feature = |n: &str, t: FeatureType| {
        FeatureDefinition::builder()
            .feature_name(n)
            .feature_type(t)
            .build()
    };
    c.create_feature_group()
        .feature_group_name(name)
        .record_identifier_feature_name("customer_id")
        .event_time_feature_name("event_time")
        .feature_definitions(feature("customer_id", FeatureType::String))
        .feature_definitions(feature("event_time", FeatureType::Fractional))
        .offline_store_config(
            OfflineStoreConfig::builder()
                .s3_storage_config(
                    S3StorageConfig::builder()
                        .s3_uri("s3://features/offline")
                        .set_kms_key_id(offline_key.map(str::to_string))
                        .build(),
                )
                .build(),
        )
        .online_store_config(
            OnlineStoreConfig::builder()
                .enable_online_store(true)
                .security_config(
                    OnlineStoreSecurityConfig::builder()
                        .set_kms_key_id(online_key.map(str::to_string))
                        .build(),
                )
                .build(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create feature group {name}: {e:?}"));
}

fn variant(model: &str, name: &str) -> ModelVariantConfig {
    ModelVariantConfig::builder()
        .model_name(model)
        .variant_name(name)
        .infrastructure_config(
            ModelInfrastructureConfig::builder()
                .infrastructure_type(ModelInfrastructureType::RealTimeInference)
                .real_time_inference_config(
                    RealTimeInferenceConfig::builder()
                        .instance_type(
                            aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large,
                        )
                        .instance_count(1)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// A shadow test of `ep-shadow` with two variants, capturing data to S3 without a key (unless
/// `data_key`), its instances' volumes encrypted with `kms_key`.
async fn create_experiment(c: &Client, name: &str, kms_key: Option<&str>, data_key: Option<&str>) {
    c.create_inference_experiment()
        .name(name)
        .r#type(InferenceExperimentType::ShadowMode)
        .description("shadow test of the new model")
        .role_arn(ROLE)
        .endpoint_name("ep-shadow")
        .model_variants(variant("model-prod", "prod"))
        .model_variants(variant("model-next", "shadow"))
        .data_storage_config(
            InferenceExperimentDataStorageConfig::builder()
                .destination("s3://captures/shadow")
                .set_kms_key(data_key.map(str::to_string))
                .build(),
        )
        .shadow_mode_config(
            ShadowModeConfig::builder()
                .source_model_variant_name("prod")
                .shadow_model_variants(
                    ShadowModelVariantConfig::builder()
                        .shadow_model_variant_name("shadow")
                        .sampling_percentage(20)
                        .build(),
                )
                .build(),
        )
        .set_kms_key(kms_key.map(str::to_string))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create inference experiment {name}: {e:?}"));
}

async fn experiment(
    c: &Client,
    name: &str,
) -> aws_sdk_sagemaker::operation::describe_inference_experiment::DescribeInferenceExperimentOutput
{
    c.describe_inference_experiment()
        .name(name)
        .send()
        .await
        .unwrap()
}

/// An experiment created with a key for its instances and none for its captured data, then
/// started: Running.
async fn running_experiment(c: &Client, name: &str) {
    create_experiment(c, name, Some("alias/instances"), None).await;
    wait_experiment(c, name, "Created").await;
    c.start_inference_experiment()
        .name(name)
        .send()
        .await
        .unwrap();
    wait_experiment(c, name, "Running").await;
}

/// The key an experiment's captured data is encrypted with.
async fn captured_data_key(c: &Client, name: &str) -> Option<String> {
    experiment(c, name)
        .await
        .data_storage_config()
        .and_then(|d| d.kms_key())
        .map(str::to_string)
}

async fn wait_experiment(c: &Client, name: &str, status: &str) {
    for _ in 0..100 {
        if experiment(c, name).await.status().map(|s| s.as_str()) == Some(status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never became {status}");
}

/// How many times the account called `action`.
fn count(account: &str, action: &str) -> u64 {
    calls(account)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

/// The report's row of one resource and control.
fn row<'a>(report: &'a serde_json::Value, resource: &str, control: &str) -> &'a serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resourceName"] == resource && r["control"] == control)
        .unwrap_or_else(|| panic!("no row for {resource} {control}: {report:#}"))
}

fn every_new_control(action: &str) -> String {
    [
        9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 25,
    ]
    .iter()
    .map(|i| format!("    SageMaker.{i}: {{action: {action}}}\n"))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_judges_every_new_kind_and_describes_each_resource_once() {
    let account = account(230);
    let c = client(&account).await;
    job_definition(&c, "DataQuality", "dq-open", 2, None).await;
    job_definition(
        &c,
        "ModelQuality",
        "mq-closed",
        2,
        Some(network(Some(true), Some(true))),
    )
    .await;
    job_definition(&c, "ModelBias", "mb-single", 1, None).await;
    job_definition(
        &c,
        "ModelExplainability",
        "mx-isolated",
        3,
        Some(network(None, Some(true))),
    )
    .await;
    create_schedule(&c, "ms-inline", inline_schedule_config(None)).await;
    create_schedule(
        &c,
        "ms-named",
        MonitoringScheduleConfig::builder()
            .monitoring_job_definition_name("dq-open")
            .monitoring_type(MonitoringType::DataQuality)
            .build(),
    )
    .await;
    create_model(&c, "model-platform", Some(Some("Platform")), &[]).await;
    create_model(&c, "model-pipeline", None, &[Some("Vpc"), None]).await;
    create_feature_group(&c, "fg-half", None, Some("alias/online")).await;
    create_experiment(&c, "ie-open", None, None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(dir.path(), &policy(&every_new_control("finding"), ""));

    let (code, report) = audit_json(&account, &file, &[]);

    assert_eq!(code, Some(1), "failures were found: {report:#}");
    let s = |r: &str, c: &str, st: &str| (r.to_string(), format!("SageMaker.{c}"), st.to_string());
    assert_eq!(
        statuses(&report),
        vec![
            s("dq-open", "11", "FAILED"),
            s("dq-open", "9", "FAILED"),
            s("fg-half", "17", "FAILED"),
            s("fg-half", "18", "PASSED"),
            s("ie-open", "23", "FAILED"),
            s("ie-open", "24", "FAILED"),
            s("mb-single", "12", "FAILED"),
            s("mb-single", "15", "NOT_APPLICABLE"),
            s("model-pipeline", "16", "NOT_APPLICABLE"),
            s("model-pipeline", "19", "FAILED"),
            s("model-platform", "16", "FAILED"),
            s("model-platform", "19", "NOT_APPLICABLE"),
            s("mq-closed", "13", "PASSED"),
            s("mq-closed", "25", "PASSED"),
            s("ms-inline", "14", "FAILED"),
            s("ms-inline", "22", "FAILED"),
            s("ms-named", "14", "NOT_APPLICABLE"),
            s("ms-named", "22", "NOT_APPLICABLE"),
            s("mx-isolated", "10", "FAILED"),
            s("mx-isolated", "20", "PASSED"),
        ]
    );
    let types: std::collections::BTreeSet<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 8, "{types:?}");
    assert!(types.contains("AWS::SageMaker::InferenceExperiment"));
    // The call floor: one list per kind, one describe per resource, no tags (nothing needs them);
    // the experiments' list has no ARNs, and the first one described gives them all.
    for (action, n) in [
        ("ListDataQualityJobDefinitions", 1),
        ("DescribeDataQualityJobDefinition", 1),
        ("DescribeModelQualityJobDefinition", 1),
        ("DescribeModelBiasJobDefinition", 1),
        ("DescribeModelExplainabilityJobDefinition", 1),
        ("ListMonitoringSchedules", 1),
        ("DescribeMonitoringSchedule", 2),
        ("DescribeModel", 2),
        ("DescribeFeatureGroup", 1),
        ("ListInferenceExperiments", 1),
        ("DescribeInferenceExperiment", 2),
        ("ListTags", 0),
    ] {
        assert_eq!(count(&account, action), n, "{action}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_turns_on_a_schedules_switches_and_sends_everything_else_back_unchanged() {
    let account = account(231);
    let c = client(&account).await;
    create_schedule(&c, "ms-vpc", inline_schedule_config(Some(vpc_network()))).await;
    wait_scheduled(&c, "ms-vpc").await;
    let before = schedule(&c, "ms-vpc").await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy(
            "    SageMaker.14: {action: remediate}\n    SageMaker.22: {action: remediate}\n",
            "",
        ),
    );

    // Dry-run: the plan is one update, and nothing changes.
    let (_, dry) = audit_json(&account, &file, &[]);
    let plan = &row(&dry, "ms-vpc", "SageMaker.14")["action"];
    assert_eq!(plan["kind"], "update", "{dry:#}");
    assert_eq!(
        plan["steps"][0],
        "update EnableNetworkIsolation=true, EnableInterContainerTrafficEncryption=true"
    );
    assert_eq!(count(&account, "UpdateMonitoringSchedule"), 0);

    let (code, report) = audit_apply(&account, &file, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let after = schedule(&c, "ms-vpc").await;
    let mut expected = before.monitoring_schedule_config().unwrap().clone();
    let net = expected
        .monitoring_job_definition
        .as_mut()
        .unwrap()
        .network_config
        .as_mut()
        .unwrap();
    net.enable_network_isolation = Some(true);
    net.enable_inter_container_traffic_encryption = Some(true);
    assert_eq!(after.monitoring_schedule_config(), Some(&expected));
    assert_eq!(
        after.monitoring_schedule_arn(),
        before.monitoring_schedule_arn()
    );
    assert_eq!(after.creation_time(), before.creation_time());
    assert_eq!(count(&account, "UpdateMonitoringSchedule"), 1);
    assert_eq!(report["summaryAfterApply"]["FAILED"], 0, "{report:#}");
    assert_eq!(report["summaryAfterApply"]["PASSED"], 2, "{report:#}");

    // Idempotent: a second pass changes nothing.
    audit_apply(&account, &file, &[]);
    assert_eq!(count(&account, "UpdateMonitoringSchedule"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_schedule_is_updated_once_it_is_scheduled() {
    let account = account(232);
    slow_transitions(&account);
    let c = client(&account).await;
    create_schedule(&c, "ms-new", inline_schedule_config(None)).await;
    assert_eq!(
        schedule(&c, "ms-new")
            .await
            .monitoring_schedule_status()
            .map(|s| s.as_str()),
        Some("Pending")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy("    SageMaker.22: {action: remediate}\n", ""),
    );

    let (code, report) = audit_apply(&account, &file, &[]);

    assert_eq!(code, Some(0), "{report:#}");
    let after = schedule(&c, "ms-new").await;
    let net = after
        .monitoring_schedule_config()
        .and_then(|c| c.monitoring_job_definition())
        .and_then(|j| j.network_config())
        .unwrap();
    assert_eq!(net.enable_inter_container_traffic_encryption(), Some(true));
    // Only the switch the policy fixes: isolation was not asked for.
    assert_eq!(net.enable_network_isolation(), None);
    assert_eq!(count(&account, "UpdateMonitoringSchedule"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_gives_a_running_experiments_captured_data_the_policys_key_and_keeps_the_rest() {
    let account = account(233);
    let c = client(&account).await;
    let key = volume_key(&account).await;
    running_experiment(&c, "ie-shadow").await;
    let before = experiment(&c, "ie-shadow").await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy(
            "    SageMaker.24: {action: remediate}\n",
            &format!("    kmsKeys:\n      - {{account: \"{account}\", region: {REGION}, keyId: \"{key}\"}}\n"),
        ),
    );

    let (code, report) = audit_apply(&account, &file, &[]);

    assert_eq!(code, Some(0), "{report:#}");
    let after = experiment(&c, "ie-shadow").await;
    let storage = after.data_storage_config().unwrap();
    assert_eq!(storage.kms_key(), Some(key.as_str()));
    assert_eq!(storage.destination(), Some("s3://captures/shadow"));
    assert_eq!(
        storage.content_type(),
        before.data_storage_config().unwrap().content_type()
    );
    assert_eq!(after.status().map(|s| s.as_str()), Some("Running"));
    assert_eq!(after.kms_key(), Some("alias/instances"));
    assert_eq!(after.model_variants(), before.model_variants());
    assert_eq!(after.shadow_mode_config(), before.shadow_mode_config());
    assert_eq!(after.schedule(), before.schedule());
    assert_eq!(after.description(), before.description());
    assert_eq!(after.role_arn(), before.role_arn());
    assert_eq!(count(&account, "UpdateInferenceExperiment"), 1);
    assert_eq!(
        count(&account, "DescribeKey"),
        1,
        "the key is checked first"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_experiment_is_left_a_finding_that_says_why() {
    let account = account(234);
    let c = client(&account).await;
    let key = volume_key(&account).await;
    running_experiment(&c, "ie-done").await;
    c.stop_inference_experiment()
        .name("ie-done")
        .model_variant_actions("prod", aws_sdk_sagemaker::types::ModelVariantAction::Retain)
        .send()
        .await
        .unwrap();
    wait_experiment(&c, "ie-done", "Completed").await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy(
            "    SageMaker.24: {action: remediate}\n",
            &format!("    kmsKeys:\n      - {{keyId: \"{key}\"}}\n"),
        ),
    );

    let (code, report) = audit_apply(&account, &file, &[]);

    assert_eq!(code, Some(1), "{report:#}");
    let plan = &row(&report, "ie-done", "SageMaker.24")["action"];
    assert_eq!(plan["kind"], "finding", "{report:#}");
    assert!(
        plan["notes"][0].as_str().unwrap().contains("Completed"),
        "{plan:#}"
    );
    assert_eq!(count(&account, "UpdateInferenceExperiment"), 0);
    assert_eq!(captured_data_key(&c, "ie-done").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_does_not_exist_changes_no_experiment() {
    let account = account(235);
    let c = client(&account).await;
    create_experiment(&c, "ie-badkey", None, None).await;
    wait_experiment(&c, "ie-badkey", "Created").await;
    let missing =
        format!("arn:aws:kms:{REGION}:{account}:key/00000000-0000-0000-0000-000000000000");
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy(
            "    SageMaker.24: {action: remediate}\n",
            &format!("    kmsKeys:\n      - {{keyId: \"{missing}\"}}\n"),
        ),
    );

    let (_, report) = audit_apply(&account, &file, &[]);

    let notes = report["applied"][0]["executions"].to_string();
    assert!(notes.contains("does not exist"), "{report:#}");
    assert_eq!(count(&account, "UpdateInferenceExperiment"), 0);
    assert_eq!(captured_data_key(&c, "ie-badkey").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_marks_a_job_definition_and_a_feature_group_that_cannot_be_fixed() {
    let account = account(236);
    let c = client(&account).await;
    job_definition(&c, "DataQuality", "dq-marked", 1, None).await;
    create_feature_group(&c, "fg-marked", None, None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy(
            "    SageMaker.11: {action: tag}\n    SageMaker.17: {action: tag}\n    SageMaker.18: {action: tag}\n",
            "",
        ),
    );

    let (code, report) = audit_apply(&account, &file, &[]);

    assert_eq!(code, Some(1), "{report:#}");
    let tags_of = |arn: String| {
        let c = c.clone();
        async move {
            c.list_tags()
                .resource_arn(arn)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                .collect::<Vec<_>>()
        }
    };
    let def = c
        .describe_data_quality_job_definition()
        .job_definition_name("dq-marked")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(def.job_definition_arn().unwrap().to_string()).await,
        vec![(
            "sagemaker-guard/noncompliant".to_string(),
            "SageMaker.11".to_string()
        )]
    );
    let fg = c
        .describe_feature_group()
        .feature_group_name("fg-marked")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(fg.feature_group_arn().unwrap().to_string()).await,
        vec![(
            "sagemaker-guard/noncompliant".to_string(),
            "SageMaker.17,SageMaker.18".to_string()
        )]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn remediate_on_a_control_with_no_fix_is_refused_at_load_with_the_reason() {
    let account = account(237);
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy("    SageMaker.25: {action: remediate}\n", ""),
    );

    let out = guard(&account)
        .args(["policy", "validate"])
        .arg(&file)
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SageMaker.25 cannot be remediated: job definitions cannot be changed")
            && stderr.contains("use `action: finding` or `action: tag` for SageMaker.25"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_fixes_a_schedule_its_cloudtrail_event_names() {
    let account = account(238);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let mut svc = Service::start_with_policy(
        &account,
        &q.url,
        &policy("    SageMaker.22: {action: remediate}\n", ""),
        &["--resync-interval", "1h"],
        |_| {},
    );
    // Created once the first resync has listed the account: only the event can bring it.
    svc.wait_for_log("the first resync", Duration::from_secs(30), |l| {
        l["fields"]["message"] == "resync listed an account and region"
    });
    create_schedule(&c, "ms-event", inline_schedule_config(None)).await;
    wait_scheduled(&c, "ms-event").await;
    let event = serde_json::json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.sagemaker",
        "account": account, "time": "2026-12-01T00:00:00Z", "region": REGION, "resources": [],
        "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateMonitoringSchedule",
                   "awsRegion": REGION, "recipientAccountId": account,
                   "requestParameters": {"monitoringScheduleName": "ms-event"},
                   "responseElements": {"monitoringScheduleArn": format!("arn:aws:sagemaker:{REGION}:{account}:monitoring-schedule/ms-event")}}
    });
    q.send_bodies(&[event.to_string()]).await;

    svc.wait_for_log("the schedule's fix", Duration::from_secs(30), |l| {
        l["fields"]["message"] == "reconciled"
            && l["fields"]["resource"] == "ms-event"
            && l["fields"]["trigger"].to_string().contains("cloudtrail")
            && l["fields"]["execution"]
                .to_string()
                .contains("update EnableInterContainerTrafficEncryption=true")
    });
    let net = schedule(&c, "ms-event")
        .await
        .monitoring_schedule_config()
        .and_then(|c| c.monitoring_job_definition())
        .and_then(|j| j.network_config().cloned());
    assert_eq!(
        net.and_then(|n| n.enable_inter_container_traffic_encryption()),
        Some(true)
    );
    assert_eq!(svc.terminate().0, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_blast_radius_limits_schedule_updates_and_the_rest_stay_findings() {
    let account = account(239);
    let c = client(&account).await;
    for i in 0..3 {
        create_schedule(&c, &format!("ms-{i}"), inline_schedule_config(None)).await;
        wait_scheduled(&c, &format!("ms-{i}")).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        dir.path(),
        &policy(
            "    SageMaker.22: {action: remediate}\n",
            "    maxRemediationsPerHour: 2\n",
        ),
    );

    let (code, report) = audit_apply(&account, &file, &["--concurrency", "1"]);

    assert_eq!(code, Some(1), "one schedule still fails: {report:#}");
    let results: Vec<&str> = report["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["executions"][0]["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "rate-limited").count(),
        1,
        "{results:?}"
    );
    assert_eq!(count(&account, "UpdateMonitoringSchedule"), 2);
    assert_eq!(report["summaryAfterApply"]["FAILED"], 1, "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_exempt_by_its_tag_is_never_updated() {
    let account = account(240);
    let c = client(&account).await;
    create_schedule(&c, "ms-exempt", inline_schedule_config(None)).await;
    wait_scheduled(&c, "ms-exempt").await;
    let arn = schedule(&c, "ms-exempt")
        .await
        .monitoring_schedule_arn()
        .unwrap()
        .to_string();
    c.add_tags()
        .resource_arn(&arn)
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key("sagemaker-guard/exempt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = policy(
        "    SageMaker.14: {action: remediate}\n    SageMaker.22: {action: remediate}\n",
        "",
    )
    .replace(
        "  controls:\n",
        "  exemptions:\n    - {name: opt-out, resourceTags: {sagemaker-guard/exempt: \"true\"}}\n  controls:\n",
    );
    let file = policy_file(dir.path(), &yaml);

    let (code, report) = audit_apply(&account, &file, &[]);

    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        statuses(&report),
        vec![
            (
                "ms-exempt".to_string(),
                "SageMaker.14".to_string(),
                "EXEMPT".to_string()
            ),
            (
                "ms-exempt".to_string(),
                "SageMaker.22".to_string(),
                "EXEMPT".to_string()
            ),
        ]
    );
    assert_eq!(count(&account, "UpdateMonitoringSchedule"), 0);
}
