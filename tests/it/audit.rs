//! `sagemaker-guard audit` and `evaluate`, the real binary against the emulator.

use aws_sdk_sagemaker::types::{
    DirectInternetAccess, InstanceType, ProductionVariant, ProductionVariantInstanceType,
    ProductionVariantServerlessConfig, RootAccess, Tag,
};
use aws_sdk_sagemaker::Client;

use crate::common::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/sagemaker";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// Creates one notebook, compliant with SageMaker.1, .2, .3, .8 and .21 or with none of them (an old platform).
async fn create_notebook(c: &Client, name: &str, compliant: bool) {
    let mut req = c
        .create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn(ROLE);
    req = if compliant {
        req.subnet_id("subnet-0a1b2c3d")
            .security_group_ids("sg-0a1b2c3d")
            .direct_internet_access(DirectInternetAccess::Disabled)
            .root_access(RootAccess::Disabled)
            .platform_identifier("notebook-al2023-v1")
            .kms_key_id("alias/notebooks")
    } else {
        req.platform_identifier("notebook-al2-v3")
    };
    req.send().await.expect("CreateNotebookInstance");
}

async fn endpoint_config(c: &Client, name: &str, variants: Vec<ProductionVariant>) {
    c.create_endpoint_config()
        .endpoint_config_name(name)
        .set_production_variants(Some(variants))
        .send()
        .await
        .expect("CreateEndpointConfig");
}

fn instance_variant(name: &str, count: i32) -> ProductionVariant {
    ProductionVariant::builder()
        .variant_name(name)
        .model_name("model-good")
        .instance_type(ProductionVariantInstanceType::MlM5Large)
        .initial_instance_count(count)
        .build()
}

fn serverless_variant(name: &str) -> ProductionVariant {
    ProductionVariant::builder()
        .variant_name(name)
        .model_name("model-good")
        .serverless_config(
            ProductionVariantServerlessConfig::builder()
                .memory_size_in_mb(2048)
                .max_concurrency(5)
                .build(),
        )
        .build()
}

/// A model compliant with SageMaker.5 and .16 (isolated, its image from a private registry), or
/// with neither.
async fn model(c: &Client, name: &str, isolated: bool) {
    let mut container = aws_sdk_sagemaker::types::ContainerDefinition::builder()
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:1");
    if isolated {
        container = container.image_config(
            aws_sdk_sagemaker::types::ImageConfig::builder()
                .repository_access_mode(aws_sdk_sagemaker::types::RepositoryAccessMode::Vpc)
                .build(),
        );
    }
    c.create_model()
        .model_name(name)
        .execution_role_arn(ROLE)
        .primary_container(container.build())
        .enable_network_isolation(isolated)
        .send()
        .await
        .expect("CreateModel");
}

async fn image(c: &Client, name: &str, tags: &[(&str, &str)]) {
    c.create_image()
        .image_name(name)
        .role_arn(ROLE)
        .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
        .send()
        .await
        .expect("CreateImage");
}

async fn app_image_config(c: &Client, name: &str, tags: &[(&str, &str)]) {
    c.create_app_image_config()
        .app_image_config_name(name)
        .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
        .send()
        .await
        .expect("CreateAppImageConfig");
}

/// Compliant and noncompliant resources of all five kinds.
async fn seed_all_kinds(account: &str) {
    let c = client(account).await;
    create_notebook(&c, "nb-good", true).await;
    create_notebook(&c, "nb-bad", false).await;
    model(&c, "model-good", true).await;
    model(&c, "model-bad", false).await;
    endpoint_config(
        &c,
        "epc-good",
        vec![instance_variant("a", 2), serverless_variant("s")],
    )
    .await;
    endpoint_config(
        &c,
        "epc-bad",
        vec![instance_variant("a", 1), instance_variant("b", 3)],
    )
    .await;
    endpoint_config(&c, "epc-serverless", vec![serverless_variant("s")]).await;
    image(&c, "image-good", &[("owner", "ml")]).await;
    image(&c, "image-bad", &[("Owner", "ml")]).await;
    app_image_config(&c, "aic-good", &[("owner", "ml")]).await;
    app_image_config(&c, "aic-bad", &[]).await;
}

const AUDIT_POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: integration}
spec:
  dryRun: false
  defaultAction: finding
  remediation:
    tagValues: {owner: platform}
  controls:
    SageMaker.3: {action: remediate}
    SageMaker.6: {action: tag, parameters: {requiredKeyTags: [owner]}}
    SageMaker.7: {action: finding, parameters: {requiredKeyTags: [owner]}}
    SageMaker.8: {action: remediate}
"#;

fn expected_all_kinds() -> Vec<(String, String, String)> {
    let rows = [
        ("aic-bad", "SageMaker.6", "FAILED"),
        ("aic-good", "SageMaker.6", "PASSED"),
        ("epc-bad", "SageMaker.4", "FAILED"),
        ("epc-good", "SageMaker.4", "PASSED"),
        ("epc-serverless", "SageMaker.4", "NOT_APPLICABLE"),
        ("image-bad", "SageMaker.7", "FAILED"),
        ("image-good", "SageMaker.7", "PASSED"),
        ("model-bad", "SageMaker.16", "FAILED"),
        ("model-bad", "SageMaker.19", "NOT_APPLICABLE"),
        ("model-bad", "SageMaker.5", "FAILED"),
        ("model-good", "SageMaker.16", "PASSED"),
        ("model-good", "SageMaker.19", "NOT_APPLICABLE"),
        ("model-good", "SageMaker.5", "PASSED"),
        ("nb-bad", "SageMaker.1", "FAILED"),
        ("nb-bad", "SageMaker.2", "FAILED"),
        ("nb-bad", "SageMaker.21", "FAILED"),
        ("nb-bad", "SageMaker.3", "FAILED"),
        ("nb-bad", "SageMaker.8", "FAILED"),
        ("nb-good", "SageMaker.1", "PASSED"),
        ("nb-good", "SageMaker.2", "PASSED"),
        ("nb-good", "SageMaker.21", "PASSED"),
        ("nb-good", "SageMaker.3", "PASSED"),
        ("nb-good", "SageMaker.8", "PASSED"),
    ];
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn audit_reports_every_kind_and_exits_1_on_failures() {
    let account = &account(1);
    seed_all_kinds(account).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    let (code, report) = audit_json(account, &policy, &[]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(statuses(&report), expected_all_kinds());
    assert_eq!(
        report["summary"],
        serde_json::json!({"PASSED": 10, "FAILED": 10, "NOT_APPLICABLE": 3, "EXEMPT": 0, "ERROR": 0})
    );
    for r in report["results"].as_array().unwrap() {
        assert_eq!(r["account"], account.as_str());
        assert_eq!(r["region"], REGION);
        assert!(r["resourceArn"]
            .as_str()
            .unwrap()
            .starts_with(&format!("arn:aws:sagemaker:{REGION}:{account}:")));
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(r["action"].is_null(), r["status"] != "FAILED", "{r}");
    }
    let find = |name: &str, control: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resourceName"] == name && r["control"] == control)
            .unwrap()
            .clone()
    };
    // .3 and .8 merge into one in-place update; .1, .2 and .21 are findings. The audit never acts.
    let nb = find("nb-bad", "SageMaker.3");
    assert_eq!(nb["resourceType"], "AWS::SageMaker::NotebookInstance");
    assert_eq!(nb["reason"], "RootAccess is Enabled");
    assert_eq!(nb["action"]["kind"], "update-in-place");
    assert_eq!(nb["action"]["dryRun"], true);
    assert_eq!(
        nb["action"]["steps"],
        serde_json::json!([
            "file finding SageMaker.1",
            "file finding SageMaker.2",
            "file finding SageMaker.21",
            "stop",
            "update RootAccess=Disabled, PlatformIdentifier=notebook-al2023-v1",
            "start"
        ])
    );
    assert_eq!(find("nb-bad", "SageMaker.8")["action"], nb["action"]);
    assert_eq!(find("aic-bad", "SageMaker.6")["action"]["kind"], "tag");
    assert_eq!(
        find("aic-bad", "SageMaker.6")["action"]["steps"],
        serde_json::json!(["add tags owner=platform"])
    );
    assert_eq!(
        find("image-bad", "SageMaker.7")["reason"],
        "missing required tag key(s): owner"
    );
    assert_eq!(
        find("epc-bad", "SageMaker.4")["reason"],
        "a has InitialInstanceCount 1"
    );
    assert_eq!(
        find("model-bad", "SageMaker.5")["action"]["steps"],
        serde_json::json!(["file finding SageMaker.5", "file finding SageMaker.16"])
    );

    // Read-only: nothing changed.
    let c = client(account).await;
    let d = c
        .describe_notebook_instance()
        .notebook_instance_name("nb-bad")
        .send()
        .await
        .unwrap();
    assert_eq!(d.root_access(), Some(&RootAccess::Enabled));
    let tags = c
        .list_tags()
        .resource_arn(
            find("aic-bad", "SageMaker.6")["resourceArn"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty());
}

#[tokio::test]
async fn audit_table_groups_failures_first_and_ends_with_a_summary() {
    let account = &account(2);
    seed_all_kinds(account).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    let out = guard(account)
        .args(["audit", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    let first_ok = table.find("NotebookInstance nb-good").unwrap();
    let last_bad = table.find("NotebookInstance nb-bad").unwrap();
    assert!(last_bad < first_ok, "{table}");
    assert!(table.contains("plan: update-in-place (dry-run)"), "{table}");
    assert!(
        table.trim_end().ends_with("11 resources, 23 verdicts: 10 FAILED, 10 PASSED, 3 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR (policy integration)"),
        "{table}"
    );
}

#[tokio::test]
async fn compliant_account_exits_0_and_exemptions_are_named() {
    let account = &account(3);
    let c = client(account).await;
    create_notebook(&c, "nb-good", true).await;
    create_notebook(&c, "sandbox-1", false).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: exempt}
spec:
  defaultAction: off
  exemptions:
    - name: sandboxes
      reason: no data in sandboxes
      namePatterns: ["sandbox-*"]
  controls:
    SageMaker.1: {action: finding}
    SageMaker.3: {action: finding}
"#,
    );
    let (code, report) = audit_json(account, &policy, &[]);
    assert_eq!(code, Some(0), "{report}");
    let exempt: Vec<_> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "EXEMPT")
        .collect();
    assert_eq!(exempt.len(), 2);
    assert!(exempt
        .iter()
        .all(|r| r["resourceName"] == "sandbox-1" && r["exemption"] == "sandboxes"));
    assert_eq!(
        exempt[0]["reason"],
        "exempt by `sandboxes`: no data in sandboxes"
    );
    assert_eq!(report["summary"]["PASSED"], 2);
}

#[tokio::test]
async fn tag_exemptions_read_tags_and_only_then() {
    let account = &account(4);
    let c = client(account).await;
    create_notebook(&c, "nb-exempt", false).await;
    let arn = c
        .describe_notebook_instance()
        .notebook_instance_name("nb-exempt")
        .send()
        .await
        .unwrap();
    c.add_tags()
        .resource_arn(arn.notebook_instance_arn().unwrap())
        .tags(tag("sagemaker-guard/exempt", "true"))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: tag-exempt}
spec:
  defaultAction: off
  exemptions:
    - name: opt-out
      resourceTags: {sagemaker-guard/exempt: "true"}
  controls:
    SageMaker.3: {action: finding}
"#,
    );
    let (code, report) = audit_json(account, &policy, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        statuses(&report),
        vec![("nb-exempt".into(), "SageMaker.3".into(), "EXEMPT".into())]
    );
    let calls = calls(account);
    let actions: Vec<&str> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"ListTags"), "{calls}");
}

#[tokio::test]
async fn aws_errors_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    // Nothing listens on port 9 of loopback: every call fails.
    let out = guard(&account(5))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["audit", "--output", "json", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(
        report["errors"].as_array().unwrap().len(),
        12,
        "one per kind: {report}"
    );
}

#[test]
fn an_endpoint_that_accepts_and_never_answers_is_an_error_not_a_hang() {
    // A listener that takes every connection and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    let mut child = guard(&account(12))
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("SAGEMAKER_GUARD_AWS_ATTEMPT_TIMEOUT", "1s")
        .args(["audit", "--output", "json", "--policy"])
        .arg(&policy)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Five list calls of one second each; a minute means it hangs.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("audit still waits for an endpoint that never answers");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 12, "one per kind: {report}");
}

#[test]
fn text_logs_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    // Nothing listens on port 9; at debug level the SDK logs each attempt.
    let out = guard(&account(14))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .args(["--log-format", "text", "audit", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.is_empty(), "something was logged");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn an_attempt_timeout_of_zero_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    let out = guard(&account(13))
        .args(["audit", "--aws-attempt-timeout", "0s", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--aws-attempt-timeout") && stderr.contains("more than zero"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_bad_policy_exits_2_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: x}\nspec:\n  controls:\n    SageMaker.5: {action: remediate}\n",
    );
    let out = guard(&account(6))
        .args(["audit", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policy.yaml:6:27: SageMaker.5 cannot be remediated"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

fn cloudtrail_event(account: &str, event_name: &str, params: serde_json::Value) -> String {
    serde_json::json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sagemaker",
        "time": "2026-11-29T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventSource": "sagemaker.amazonaws.com",
            "eventName": event_name,
            "awsRegion": REGION,
            "recipientAccountId": account,
            "requestParameters": params,
            "responseElements": null
        }
    })
    .to_string()
}

#[tokio::test]
async fn evaluate_reads_the_named_resource_live() {
    let account = &account(7);
    let c = client(account).await;
    create_notebook(&c, "nb-evt", false).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    // The event claims root access is disabled: only the live read counts.
    let event = cloudtrail_event(
        account,
        "CreateNotebookInstance",
        serde_json::json!({"notebookInstanceName": "nb-evt", "rootAccess": "Disabled"}),
    );
    let out = run_with_input(
        guard(account)
            .args(["evaluate", "--event", "-", "--policy"])
            .arg(&policy),
        &event,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["outcome"], "evaluated");
    assert_eq!(report["triggers"][0]["state"], "present");
    assert_eq!(
        report["triggers"][0]["source"]["eventName"],
        "CreateNotebookInstance"
    );
    let s3 = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "SageMaker.3")
        .unwrap();
    assert_eq!(s3["status"], "FAILED");
    assert_eq!(s3["action"]["kind"], "update-in-place");
    // .1, .2, .3, .8 and .21: the notebook has none of the settings they judge.
    assert_eq!(report["summary"]["FAILED"], 5);
}

#[tokio::test]
async fn evaluate_reports_deleted_resources_as_gone() {
    let account = &account(8);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    let event_path = dir.path().join("event.json");
    std::fs::write(
        &event_path,
        cloudtrail_event(
            account,
            "DeleteModel",
            serde_json::json!({"modelName": "model-deleted"}),
        ),
    )
    .unwrap();
    let out = guard(account)
        .args(["evaluate", "--policy"])
        .arg(&policy)
        .arg("--event")
        .arg(&event_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["triggers"][0]["state"], "gone");
    assert_eq!(report["triggers"][0]["resource"]["name"], "model-deleted");
    assert_eq!(report["results"], serde_json::json!([]));
}

#[tokio::test]
async fn evaluate_ignores_other_events_and_refuses_malformed_json() {
    let account = &account(9);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), AUDIT_POLICY);
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/other-service-ec2-state-change.json"
    ))
    .unwrap();
    let out = run_with_input(
        guard(account)
            .args(["evaluate", "--event", "-", "--policy"])
            .arg(&policy),
        &fixture,
    );
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["outcome"], "ignored");
    assert!(report["reason"]
        .as_str()
        .unwrap()
        .contains("not about SageMaker"));

    let out = run_with_input(
        guard(account)
            .args(["evaluate", "--event", "-", "--policy"])
            .arg(&policy),
        "{\n  \"detail\": [1,\n}",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("malformed JSON at line 3, column 1"),
        "{stderr}"
    );
}
