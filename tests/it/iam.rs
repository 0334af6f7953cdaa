//! The IAM policy `iam-policy` prints allows every call the guard makes. A policy that
//! remediates everything is carried out against the emulator, once through the convergence
//! `--apply` uses, with an interceptor recording each SDK call and its request, and once by the
//! `run` service, whose own call counter (`sagemaker_guard_aws_api_calls_total`) names every
//! operation it made, its intent key's included. Each call is then checked against the policy: the action, and for the
//! recorded ones the resources IAM authorizes it on (with `iam:PassedToService` for a role).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{
    ContainerDefinition, DirectInternetAccess, InstanceType, NotebookInstanceStatus,
    ProductionVariant, ProductionVariantInstanceType, RootAccess,
};
use aws_sdk_sagemaker::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use sagemaker_guard::aws::iam::{
    allowed_actions, allows, iam_policy, Deployment, IntentKeyId, Queue,
};
use sagemaker_guard::aws::intent_key::IntentKey;
use sagemaker_guard::aws::intent_store::IntentQueue;
use sagemaker_guard::converge::{converge_until_settled, Edge};
use sagemaker_guard::domain::execution::ExecutionResult;
use sagemaker_guard::domain::policy::Policy;
use sagemaker_guard::domain::resource::ResourceKind;

use crate::common::service::*;
use crate::common::*;

/// Every control remediates (SageMaker.5, which has no fix, tags), outcomes go to a bus; the
/// recreated notebook is given the policy's KMS key (SageMaker.21).
fn all_remediate(account: &str, volume_key: &str) -> String {
    format!(
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {{name: all}}
spec:
  dryRun: false
  remediation:
    networks:
      - {{account: "{account}", region: {REGION}, subnetId: subnet-0policy, securityGroupIds: [sg-0policy]}}
    kmsKeys:
      - {{account: "{account}", region: {REGION}, keyId: "{volume_key}"}}
    tagValues: {{owner: platform}}
    eventBus: guard-outcomes
    endpointConfig: {{minInstanceCount: 2}}
  controls:
    SageMaker.1: {{action: remediate}}
    SageMaker.2: {{action: remediate}}
    SageMaker.3: {{action: remediate}}
    SageMaker.4: {{action: remediate}}
    SageMaker.5: {{action: tag}}
    SageMaker.6: {{action: remediate, parameters: {{requiredKeyTags: [owner]}}}}
    SageMaker.7: {{action: remediate, parameters: {{requiredKeyTags: [owner]}}}}
    SageMaker.8: {{action: remediate}}
    SageMaker.21: {{action: remediate}}
"#
    )
}

/// One SDK call: its service and operation as the SDK names them, and its request body.
#[derive(Clone, Debug)]
struct Call {
    service: String,
    operation: String,
    body: serde_json::Value,
}

/// Records every call of the clients it is added to, as it is sent.
#[derive(Clone, Debug, Default)]
struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg
            .load::<Metadata>()
            .expect("every operation has metadata");
        let body = context
            .request()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(serde_json::Value::Null);
        self.0.lock().unwrap().push(Call {
            service: metadata.service().to_string(),
            operation: metadata.name().to_string(),
            body,
        });
        Ok(())
    }
}

/// The IAM action of an SDK operation: the service's prefix in IAM, and the operation.
fn action(service: &str, operation: &str) -> String {
    let prefix = match service {
        "EventBridge" => "events".to_string(),
        other => other.to_ascii_lowercase(),
    };
    // SQS authorises a batch call by its single call's action: there is no `sqs:...Batch`.
    let operation = match (prefix.as_str(), operation) {
        ("sqs", op) => op.strip_suffix("Batch").unwrap_or(op),
        (_, op) => op,
    };
    format!("{prefix}:{operation}")
}

/// A request context: condition keys and their values.
type Context = &'static [(&'static str, &'static str)];

/// The request context of a role passed to SageMaker.
const PASSED_TO_SAGEMAKER: Context = &[("iam:PassedToService", "sagemaker.amazonaws.com")];

/// The request context of the grant SageMaker creates on a notebook's KMS key.
const GRANT_FOR_AWS_RESOURCE: Context = &[("kms:GrantIsForAWSResource", "true")];

/// What IAM checks for one recorded call, made in `account` and `region`: the action on each
/// resource the request names (`*` for the calls that name none), a role it passes, and the KMS
/// key a notebook is created with (`kms:DescribeKey`, and `kms:CreateGrant` for the grant
/// SageMaker makes: the SageMaker Developer Guide's API permissions reference), each with the
/// request context IAM sees.
fn authorizations(call: &Call, account: &str, region: &str) -> Vec<(String, String, Context)> {
    let body = &call.body;
    let text = |key: &str| body[key].as_str().map(str::to_string);
    let key_arn = |k: String| {
        if k.starts_with("arn:") {
            k
        } else {
            format!("arn:aws:kms:{region}:{account}:key/{k}")
        }
    };
    let mut resources: Vec<String> = Vec::new();
    let mut roles: Vec<String> = Vec::new();
    let mut volume_keys: Vec<String> = Vec::new();
    match call.service.as_str() {
        "SageMaker" => {
            let sagemaker = |segment: &str, name: &str| {
                format!(
                    "arn:aws:sagemaker:{region}:{account}:{segment}/{}",
                    name.to_ascii_lowercase()
                )
            };
            resources.extend(text("ResourceArn"));
            for (key, segment) in [
                ("NotebookInstanceName", "notebook-instance"),
                ("EndpointConfigName", "endpoint-config"),
                ("EndpointName", "endpoint"),
                ("ModelName", "model"),
                ("ImageName", "image"),
                ("AppImageConfigName", "app-image-config"),
                (
                    "NotebookInstanceLifecycleConfigName",
                    "notebook-instance-lifecycle-config",
                ),
            ] {
                resources.extend(text(key).map(|name| sagemaker(segment, &name)));
            }
            roles.extend(text("RoleArn"));
            roles.extend(text("ExecutionRoleArn"));
            if call.operation == "CreateNotebookInstance" {
                volume_keys.extend(text("KmsKeyId").map(key_arn));
            }
        }
        "SQS" => {
            // .../<account>/<name>, on any endpoint.
            let queue_arn = |url: &str| {
                let mut parts = url.trim_end_matches('/').rsplit('/');
                let (name, owner) = (parts.next().unwrap(), parts.next().unwrap());
                format!("arn:aws:sqs:{region}:{owner}:{name}")
            };
            resources.extend(text("QueueUrl").map(|u| queue_arn(&u)));
            if let Some(name) = text("QueueName") {
                let owner = text("QueueOwnerAWSAccountId").unwrap_or_else(|| account.into());
                resources.push(format!("arn:aws:sqs:{region}:{owner}:{name}"));
            }
        }
        // GetFindings is checked against the account's hub, BatchImportFindings against the
        // product of each finding.
        "SecurityHub" if call.operation == "GetFindings" => {
            resources.push(format!(
                "arn:aws:securityhub:{region}:{account}:hub/default"
            ));
        }
        "SecurityHub" => resources.extend(
            body["Findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["ProductArn"].as_str().map(str::to_string)),
        ),
        "EventBridge" => resources.extend(
            body["Entries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["EventBusName"].as_str())
                .map(|bus| {
                    if bus.starts_with("arn:") {
                        bus.to_string()
                    } else {
                        format!("arn:aws:events:{region}:{account}:event-bus/{bus}")
                    }
                }),
        ),
        "KMS" => resources.extend(text("KeyId").map(key_arn)),
        other => panic!("a call to {other} ({}): map it to IAM", call.operation),
    }
    resources.sort();
    resources.dedup();
    if resources.is_empty() {
        resources.push("*".into());
    }
    let act = action(&call.service, &call.operation);
    let none: Context = &[];
    let mut out: Vec<(String, String, Context)> = resources
        .into_iter()
        .map(|r| (act.clone(), r, none))
        .collect();
    out.extend(
        roles
            .into_iter()
            .map(|r| ("iam:PassRole".to_string(), r, PASSED_TO_SAGEMAKER)),
    );
    for k in volume_keys {
        out.push(("kms:DescribeKey".to_string(), k.clone(), none));
        out.push(("kms:CreateGrant".to_string(), k, GRANT_FOR_AWS_RESOURCE));
    }
    out
}

/// The calls (operation and resource) `policy` does not allow.
fn refused(doc: &serde_json::Value, calls: &[Call], account: &str) -> Vec<String> {
    let mut out = Vec::new();
    for call in calls {
        for (action, resource, context) in authorizations(call, account, REGION) {
            if !allows(doc, &action, &resource, context) {
                out.push(format!("{action} on {resource} ({})", call.operation));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Resources that fail every control, their roles in `account` (a role is passed only in its own
/// account).
async fn sagemaker_resources_to_fix(c: &Client, account: &str) {
    let role = |name: &str| format!("arn:aws:iam::{account}:role/{name}");
    // SageMaker.1, .2, .3, .8 and .21 fail: recreated in the policy's network with its key.
    c.create_notebook_instance()
        .notebook_instance_name("nb-recreate")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(role("notebooks"))
        .direct_internet_access(DirectInternetAccess::Enabled)
        .root_access(RootAccess::Enabled)
        .platform_identifier("notebook-al2-v3")
        .send()
        .await
        .unwrap();
    // Only SageMaker.3 fails (it has a KMS key, so .21 passes): fixed in place.
    c.create_notebook_instance()
        .notebook_instance_name("nb-in-place")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(role("notebooks"))
        .subnet_id("subnet-0own")
        .security_group_ids("sg-0own")
        .kms_key_id("alias/notebooks")
        .direct_internet_access(DirectInternetAccess::Disabled)
        .root_access(RootAccess::Enabled)
        .platform_identifier("notebook-al2023-v1")
        .send()
        .await
        .unwrap();
    for nb in ["nb-recreate", "nb-in-place"] {
        wait_status(c, nb, NotebookInstanceStatus::InService).await;
    }
    // SageMaker.5 fails (marked); the model serves an endpoint config that fails SageMaker.4.
    c.create_model()
        .model_name("m")
        .execution_role_arn(role("models"))
        .primary_container(
            ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.create_endpoint_config()
        .endpoint_config_name("epc-single")
        .production_variants(
            ProductionVariant::builder()
                .variant_name("a")
                .model_name("m")
                .instance_type(ProductionVariantInstanceType::MlM5Large)
                .initial_instance_count(1)
                .build(),
        )
        .execution_role_arn(role("endpoints"))
        .send()
        .await
        .unwrap();
    c.create_endpoint()
        .endpoint_name("ep-1")
        .endpoint_config_name("epc-single")
        .send()
        .await
        .unwrap();
    // SageMaker.6 and .7 fail: no tags.
    c.create_image()
        .image_name("img")
        .role_arn(role("images"))
        .send()
        .await
        .unwrap();
    c.create_app_image_config()
        .app_image_config_name("aic")
        .send()
        .await
        .unwrap();
}

/// The AWS configuration of `account` on the emulator.
fn sdk_config(account: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator_url())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sagemaker::config::SharedCredentialsProvider::new(
            aws_sdk_sagemaker::config::Credentials::new(account, "x", None, None, "sg-emulator"),
        ))
        .build()
}

/// Runs `body` on a tokio worker with the stack the service gives its workers: a debug build's
/// look needs more than a test thread's 2 MiB.
fn on_a_worker_stack(body: impl std::future::Future<Output = ()> + Send + 'static) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .unwrap();
    if let Err(e) = runtime.block_on(async { tokio::spawn(body).await }) {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[test]
fn every_call_of_a_fix_is_allowed_on_its_resources() {
    let account = account(110);
    on_a_worker_stack(fix_everything_and_check_every_call(account));
}

async fn fix_everything_and_check_every_call(account: String) {
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    outcomes_queue(&q, &account, "guard-outcomes").await;
    sagemaker_resources_to_fix(&c, &account).await;
    let volume = volume_key(&account).await;
    let policy: Policy =
        sagemaker_guard::domain::policy::load("all.yaml", &all_remediate(&account, &volume))
            .unwrap();

    let key_arn = hmac_key(&account).await;

    let recorder = Recorder::default();
    let config = sdk_config(&account);
    // As `--apply --intent-key-id` does: the key is checked before anything is done.
    let key = IntentKey::new(
        &config,
        &key_arn,
        Some(SharedInterceptor::new(recorder.clone())),
    );
    key.check().await.unwrap();
    let intents = IntentQueue {
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&config)
                .interceptor(recorder.clone())
                .build(),
        ),
        url: q.url.clone(),
        key: Some(key),
    };
    let edge = Edge::new(
        config,
        Some(SharedInterceptor::new(recorder.clone())),
        Some(intents),
        Duration::from_millis(100),
    );
    // What `audit --apply` does: list and read every kind, then converge each resource.
    let observer = edge.observer(REGION);
    let mut keys = Vec::new();
    for kind in ResourceKind::ALL {
        for listed in observer.list(kind).await.unwrap() {
            if let Some(observed) = observer.observe_listed(&listed, &policy).await.unwrap() {
                keys.push(observed.key());
            }
        }
    }
    assert_eq!(
        keys.len(),
        6,
        "two notebooks and one of each other kind: {keys:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    for key in &keys {
        let applied = converge_until_settled(
            &edge,
            &policy,
            key,
            REGION,
            deadline,
            Duration::from_millis(100),
        )
        .await;
        assert!(
            !applied
                .executions
                .iter()
                .any(|e| e.result == ExecutionResult::Error),
            "{key:?}: {applied:#?}"
        );
    }

    // A notebook that does not exist: its findings are looked up, to archive any still active.
    let gone = sagemaker_guard::domain::resource::ResourceRef {
        kind: ResourceKind::NotebookInstance,
        name: "nb-never".into(),
        account: Some(account.clone()),
        region: Some(REGION.into()),
    };
    converge_until_settled(
        &edge,
        &policy,
        &gone,
        REGION,
        deadline,
        Duration::from_millis(100),
    )
    .await;

    let calls = recorder.0.lock().unwrap().clone();
    let made: Vec<String> = calls
        .iter()
        .map(|c| action(&c.service, &c.operation))
        .collect();
    for expected in [
        "sagemaker:ListNotebookInstances",
        "sagemaker:ListTags",
        "sagemaker:StopNotebookInstance",
        "sagemaker:DeleteNotebookInstance",
        "sagemaker:CreateNotebookInstance",
        "sagemaker:UpdateNotebookInstance",
        "sagemaker:StartNotebookInstance",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:UpdateEndpoint",
        "sagemaker:AddTags",
        "sqs:SendMessage",
        "securityhub:BatchImportFindings",
        "securityhub:GetFindings",
        "events:PutEvents",
        "kms:DescribeKey",
        "kms:GenerateMac",
    ] {
        assert!(
            made.iter().any(|m| m == expected),
            "the fixes did not call {expected}: {made:?}"
        );
    }

    let checked: Vec<(String, String, Context)> = calls
        .iter()
        .flat_map(|c| authorizations(c, &account, REGION))
        .collect();
    assert!(
        checked.iter().any(|(a, _, _)| a == "iam:PassRole"),
        "the recreate passes the notebook's role: {checked:?}"
    );
    assert!(
        checked
            .iter()
            .any(|(a, r, _)| a == "kms:CreateGrant" && *r == volume),
        "the recreate gives the notebook the policy's key (SageMaker.21): {checked:?}"
    );
    assert!(
        checked
            .iter()
            .any(|(a, r, _)| a == "sqs:SendMessage" && r.ends_with(":guard")),
        "the intent is stored on the queue"
    );
    // Narrowed to the account, the region and the queues, as an operator would print it.
    let narrowed = Deployment {
        accounts: vec![account.clone()],
        regions: vec![REGION.into()],
        queue: Some(Queue::from_arn(&q.arn).unwrap()),
        dead_letter_queue: Some(
            Queue::from_arn(&format!("arn:aws:sqs:{REGION}:{account}:guard-dlq")).unwrap(),
        ),
        intent_key: Some(IntentKeyId::parse(&key_arn).unwrap()),
        ..Deployment::default()
    };
    for deployment in [narrowed, Deployment::default()] {
        let doc = iam_policy(&policy, &deployment);
        let refused = refused(&doc, &calls, &account);
        assert!(
            refused.is_empty(),
            "the policy refuses calls the guard made:\n{}\npolicy: {doc:#}",
            refused.join("\n")
        );
    }
    // And the test can tell: a call on another account's notebook is refused.
    let other = Call {
        service: "SageMaker".into(),
        operation: "StopNotebookInstance".into(),
        body: serde_json::json!({"NotebookInstanceName": "nb-recreate"}),
    };
    let doc = iam_policy(
        &policy,
        &Deployment {
            accounts: vec![account.clone()],
            ..Deployment::default()
        },
    );
    assert_eq!(refused(&doc, &[other], "999999999999").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_of_the_service_is_allowed() {
    let account = account(111);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    outcomes_queue(&q, &account, "guard-outcomes").await;
    sagemaker_resources_to_fix(&c, &account).await;
    let volume = volume_key(&account).await;
    let yaml = all_remediate(&account, &volume);
    let policy: Policy = sagemaker_guard::domain::policy::load("all.yaml", &yaml).unwrap();

    // The initial resync fixes everything, the recreate through its signed intent on the queue.
    let key = hmac_key(&account).await;
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &yaml,
        &["--settle-interval", "200ms", "--intent-key-id", &key],
        |_| {},
    );
    service.wait_for("the recreate", Duration::from_secs(60), |m| {
        metric(
            m,
            "sagemaker_guard_executed_actions_total",
            &["kind=\"recreate\"", "result=\"recreated\""],
        ) >= 1.0
    });
    // An undecodable message is dead-lettered; a reconcile that meets throttling is released
    // for a retry.
    emulator_post(
        "/sg-emulator/faults",
        &serde_json::json!({"account": account, "throttleRate": 1.0, "actions": ["DescribeNotebookInstance"]})
            .to_string(),
    );
    q.send_bodies(&[
        "not json".to_string(),
        cloudtrail(&account, "UpdateNotebookInstance", "nb-in-place"),
    ])
    .await;
    service.wait_for("a dead letter and a retry", Duration::from_secs(30), |m| {
        metric(m, "sagemaker_guard_messages_dead_lettered_total", &[]) >= 1.0
            && metric(
                m,
                "sagemaker_guard_messages_released_total",
                &["reason=\"retry\""],
            ) >= 1.0
    });
    emulator_post(
        "/sg-emulator/faults",
        &serde_json::json!({"account": account, "throttleRate": 0.0}).to_string(),
    );

    let exposition = service.metrics();
    let made: Vec<String> = exposition
        .lines()
        .filter(|l| l.starts_with("sagemaker_guard_aws_api_calls_total{"))
        .map(|l| {
            let label = |name: &str| {
                let start = l.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                l[start..start + l[start..].find('"').unwrap()].to_string()
            };
            action(&label("service"), &label("operation"))
        })
        .collect();
    for expected in [
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "sagemaker:ListNotebookInstances",
        "sagemaker:CreateNotebookInstance",
        "securityhub:BatchImportFindings",
        "events:PutEvents",
        "kms:DescribeKey",
        "kms:GenerateMac",
        "kms:VerifyMac",
    ] {
        assert!(
            made.iter().any(|m| m == expected),
            "the service did not call {expected}: {made:?}"
        );
    }
    let allowed = allowed_actions(&iam_policy(&policy, &Deployment::default()));
    // SageMaker.21: the recreated notebook has the policy's key, which CreateNotebookInstance
    // needs kms:DescribeKey and kms:CreateGrant on (not calls the service counts: SageMaker
    // makes them for it).
    let recreated = describe_notebook(&c, "nb-recreate").await.unwrap();
    assert!(
        recreated.kms_key_id().is_some_and(|k| k == volume),
        "{recreated:?}"
    );
    let mut made = made;
    made.extend(["kms:DescribeKey".to_string(), "kms:CreateGrant".to_string()]);
    let missing: Vec<&String> = made.iter().filter(|m| !allowed.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "the service called what the policy does not allow: {missing:?}\nallowed: {allowed:?}"
    );
}

/// `iam-policy` with `args`, and the variables `vars`, in a clean environment.
fn iam_policy_command(args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &all_remediate(
            "111111111111",
            "arn:aws:kms:us-east-1:111111111111:key/2121abcd-12ab-34cd-56ef-1234567890ab",
        ),
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sagemaker-guard"));
    cmd.env_clear()
        .arg("iam-policy")
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .envs(vars.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn the_command_narrows_the_policy_with_its_flags_and_variables_and_says_what_it_could_not() {
    let key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let out = iam_policy_command(
        &[
            "--account",
            "111111111111",
            "--region",
            "us-east-1",
            "--dead-letter-queue-arn",
            "arn:aws:sqs:us-east-1:111111111111:guard-dlq",
        ],
        &[
            (
                "SAGEMAKER_GUARD_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/111111111111/guard",
            ),
            ("SAGEMAKER_GUARD_INTENT_KEY_ID", key),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let doc = json(&out);
    let on = |sid: &str| {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid} in {doc:#}"))["Resource"]
            .clone()
    };
    assert_eq!(
        on("SageMakerGuardQueue"),
        "arn:aws:sqs:us-east-1:111111111111:guard"
    );
    assert_eq!(
        on("SageMakerGuardDeadLetterQueue"),
        "arn:aws:sqs:us-east-1:111111111111:guard-dlq"
    );
    assert_eq!(on("SageMakerGuardIntentKey"), key);
    assert_eq!(
        on("SageMakerGuardResourceKeyGrants"),
        "arn:aws:kms:us-east-1:111111111111:key/2121abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert_eq!(
        on("SageMakerGuardNotebookInstances"),
        "arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/*"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "everything named: no notes: {out:?}"
    );

    // Nothing named: the same statements on wildcards, and a note for each.
    let out = iam_policy_command(&[], &[]);
    assert!(out.status.success(), "{out:?}");
    // 15, SageMaker.21's two on the policy's notebook key, and one for each of the seven kinds
    // SageMaker.9 to .25 judge (spec.defaultAction is finding).
    assert_eq!(json(&out)["Statement"].as_array().unwrap().len(), 24);
    let notes = String::from_utf8_lossy(&out.stderr);
    for flag in [
        "--account",
        "--queue-url",
        "--dead-letter-queue-url",
        "--intent-key-id",
    ] {
        assert!(notes.contains(flag), "a note names {flag}: {notes}");
    }

    // A value that is none of what the flag takes is a usage error.
    for bad in [
        ["--account", "1111"],
        ["--region", "*"],
        ["--queue-url", "guard"],
        ["--queue-arn", "arn:aws:sns:us-east-1:111111111111:guard"],
        ["--intent-key-id", "guard"],
        ["--partition", "azure"],
    ] {
        let out = iam_policy_command(&bad, &[]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
    }
}
