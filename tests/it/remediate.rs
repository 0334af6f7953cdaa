//! Remediation on every path (`audit --apply`, `evaluate --apply`, `run`), against the emulator
//! with realistic notebook transitions (0.2 s, set for each test's own account).

use std::time::Duration;

use aws_sdk_sagemaker::types::{InstanceType, NotebookInstanceStatus, RootAccess, Tag};
use aws_sdk_sagemaker::Client;

use crate::common::service::*;
use crate::common::*;

const FIX_POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: fix}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    tagValues: {owner: platform, team: ml}
  controls:
    SageMaker.3: {action: remediate}
    SageMaker.8: {action: remediate}
"#;

async fn noncompliant_notebook(c: &Client, name: &str) {
    c.create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Large)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .volume_size_in_gb(20)
        .platform_identifier("notebook-al2-v3")
        .tags(Tag::builder().key("owner").value("alice").build())
        .send()
        .await
        .unwrap();
    wait_status(c, name, NotebookInstanceStatus::InService).await;
}

/// Everything a user would miss if it changed: the settings and the tags.
async fn snapshot(c: &Client, name: &str) -> serde_json::Value {
    let d = c
        .describe_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags()
        .resource_arn(d.notebook_instance_arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut tags: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    serde_json::json!({
        "status": d.notebook_instance_status().map(|s| s.as_str().to_string()),
        "rootAccess": d.root_access().map(|s| s.as_str().to_string()),
        "platform": d.platform_identifier(),
        "instanceType": d.instance_type().map(|s| s.as_str().to_string()),
        "volume": d.volume_size_in_gb(),
        "role": d.role_arn(),
        "created": d.creation_time().map(|t| t.secs()),
        "tags": tags,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn in_place_fix_converges_and_preserves_everything_else() {
    let account = account(41);
    slow_transitions(&account);
    let c = client(&account).await;
    noncompliant_notebook(&c, "nb-fix").await;
    let before = snapshot(&c, "nb-fix").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let (code, report) = audit_apply(&account, &policy, &[]);
    assert_eq!(code, Some(0), "fixed, so nothing FAILED any more: {report}");
    let applied = &report["applied"][0];
    let steps: Vec<String> = applied["executions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            e["done"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            "stop".to_string(),
            "update RootAccess=Disabled, PlatformIdentifier=notebook-al2023-v1".to_string(),
            "start".to_string(),
            "remove tags sagemaker-guard/restart".to_string()
        ],
        "{applied}"
    );
    let after = snapshot(&c, "nb-fix").await;
    assert_eq!(after["rootAccess"], "Disabled");
    assert_eq!(after["platform"], "notebook-al2023-v1");
    assert_eq!(after["status"], "InService");
    for unchanged in ["instanceType", "volume", "role", "created", "tags"] {
        assert_eq!(
            after[unchanged], before[unchanged],
            "{unchanged} is preserved"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_notebook_is_fixed_and_stays_stopped() {
    let account = account(42);
    slow_transitions(&account);
    let c = client(&account).await;
    noncompliant_notebook(&c, "nb-stopped").await;
    c.stop_notebook_instance()
        .notebook_instance_name("nb-stopped")
        .send()
        .await
        .unwrap();
    wait_status(&c, "nb-stopped", NotebookInstanceStatus::Stopped).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let (code, report) = audit_apply(&account, &policy, &[]);
    assert_eq!(code, Some(0), "{report}");
    wait_status(&c, "nb-stopped", NotebookInstanceStatus::Stopped).await;
    let after = snapshot(&c, "nb-stopped").await;
    assert_eq!(after["rootAccess"], "Disabled");
    assert_eq!(after["status"], "Stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_at_each_level_changes_nothing() {
    let account = account(43);
    slow_transitions(&account);
    let c = client(&account).await;
    noncompliant_notebook(&c, "nb-dry").await;
    let before = snapshot(&c, "nb-dry").await;
    let dir = tempfile::tempdir().unwrap();
    let policy_level = FIX_POLICY.replace("dryRun: false", "dryRun: true");
    let control_level = FIX_POLICY
        .replace(
            "SageMaker.3: {action: remediate}",
            "SageMaker.3: {action: remediate, dryRun: true}",
        )
        .replace(
            "SageMaker.8: {action: remediate}",
            "SageMaker.8: {action: remediate, dryRun: true}",
        );
    for (level, yaml, apply) in [
        ("policy", policy_level.as_str(), true),
        ("control", control_level.as_str(), true),
        ("command (audit without --apply)", FIX_POLICY, false),
    ] {
        let policy = policy_file(dir.path(), yaml);
        let (code, report) = if apply {
            audit_apply(&account, &policy, &[])
        } else {
            audit_json(&account, &policy, &[])
        };
        assert_eq!(code, Some(1), "{level}: still FAILED");
        let s3 = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["control"] == "SageMaker.3")
            .unwrap()
            .clone();
        assert_eq!(s3["action"]["dryRun"], true, "{level}");
        assert_eq!(
            s3["action"]["steps"][0], "stop",
            "{level}: the plan is printed"
        );
        assert_eq!(
            snapshot(&c, "nb-dry").await,
            before,
            "{level}: nothing changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blast_radius_turns_the_third_fix_into_a_finding() {
    let account = account(44);
    slow_transitions(&account);
    let c = client(&account).await;
    for i in 0..3 {
        noncompliant_notebook(&c, &format!("nb-{i}")).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let yaml = FIX_POLICY.replace(
        "  controls:\n",
        "    maxRemediationsPerHour: 2\n  controls:\n",
    );
    let policy = policy_file(dir.path(), &yaml);
    let (code, report) = audit_apply(&account, &policy, &["--concurrency", "1"]);
    assert_eq!(code, Some(1), "one notebook still fails: {report}");
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
    let mut fixed = 0;
    for i in 0..3 {
        if snapshot(&c, &format!("nb-{i}")).await["rootAccess"] == "Disabled" {
            fixed += 1;
        }
    }
    assert_eq!(fixed, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn evaluate_apply_fixes_the_notebook_an_event_names() {
    let account = account(45);
    slow_transitions(&account);
    let c = client(&account).await;
    noncompliant_notebook(&c, "nb-event").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let out = run_with_input(
        guard(&account)
            .args([
                "evaluate",
                "--event",
                "-",
                "--apply",
                "--poll-interval",
                "200ms",
                "--policy",
            ])
            .arg(&policy),
        &cloudtrail(&account, "CreateNotebookInstance", "nb-event"),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(snapshot(&c, "nb-event").await["rootAccess"], "Disabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_fixes_in_place() {
    let account = account(46);
    slow_transitions(&account);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    noncompliant_notebook(&c, "nb-svc").await;
    // The service looks again 15 s after each step; the test shortens nothing but waits.
    // Outcomes go to a bus of their own, routed to a queue a team would watch.
    let outcomes = outcomes_queue(&q, &account, "guard-events").await;
    let policy = FIX_POLICY.replace(
        "    tagValues:",
        "    eventBus: guard-events\n    tagValues:",
    );
    let service =
        Service::start_with_policy(&account, &q.url, &policy, &["--no-initial-resync"], |_| {});
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-svc")])
        .await;
    let start = std::time::Instant::now();
    loop {
        let s = snapshot(&c, "nb-svc").await;
        let restarted = s["status"] == "InService"
            && !s["tags"].to_string().contains("sagemaker-guard/restart");
        if s["rootAccess"] == "Disabled" && restarted {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not converged: {s}\n{:#?}",
            service.tail(10)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        service.metric(
            "sagemaker_guard_executed_actions_total",
            &["kind=\"update-in-place\"", "result=\"applied\""]
        ) >= 2.0
    );
    // The finding was filed FAILED, then archived in place once the notebook complied.
    let hub = securityhub(&account);
    let start = std::time::Instant::now();
    loop {
        let found = hub.get_findings().send().await.unwrap();
        let s3: Vec<_> = found
            .findings()
            .iter()
            .filter(|f| {
                f.id()
                    .unwrap_or_default()
                    .ends_with("notebook-instance/nb-svc/SageMaker.3")
            })
            .collect();
        assert!(
            s3.len() <= 1,
            "one finding per resource and control: {s3:?}"
        );
        let archived = s3.first().is_some_and(|f| {
            f.record_state().map(|r| r.as_str()) == Some("ARCHIVED")
                && f.compliance().and_then(|c| c.status()).map(|c| c.as_str()) == Some("PASSED")
        });
        if archived {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not archived: {s3:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Each step that changed something was published.
    let published = q.receive_bodies(&outcomes).await;
    assert!(!published.is_empty(), "remediation outcomes are published");
    for event in &published {
        assert_eq!(event["source"], "sagemaker-guard");
        assert_eq!(event["detail-type"], "Remediation Applied");
        assert!(event["detail"]["resourceArn"]
            .as_str()
            .unwrap()
            .ends_with("notebook-instance/nb-svc"));
    }
    let _ = RootAccess::Disabled;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_stuck_in_stopping_is_reported() {
    let account = account(47);
    slow_transitions(&account);
    let c = client(&account).await;
    noncompliant_notebook(&c, "nb-stuck").await;
    // The guard stopped it two hours ago, and it is still Stopping.
    stuck_in_stopping(&c, &account, "nb-stuck").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let (code, report) = audit_apply(&account, &policy, &[]);
    assert_eq!(code, Some(1), "still FAILED");
    let execution = &report["applied"][0]["executions"][0];
    assert_eq!(execution["result"], "stuck", "{report}");
    assert!(
        execution["notes"][0]
            .as_str()
            .unwrap()
            .contains("Stopping since"),
        "{execution}"
    );
    assert_eq!(
        snapshot(&c, "nb-stuck").await["rootAccess"],
        "Enabled",
        "nothing else was tried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_config_is_replaced_and_its_endpoints_moved() {
    use aws_sdk_sagemaker::types::{ProductionVariant, ProductionVariantInstanceType};
    let account = account(49);
    slow_transitions(&account);
    let c = client(&account).await;
    c.create_model()
        .model_name("m")
        .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let variant = |name: &str, count: i32| {
        ProductionVariant::builder()
            .variant_name(name)
            .model_name("m")
            .instance_type(ProductionVariantInstanceType::MlM5Large)
            .initial_instance_count(count)
            .build()
    };
    c.create_endpoint_config()
        .endpoint_config_name("epc-single")
        .production_variants(variant("a", 1))
        .production_variants(variant("b", 3))
        .kms_key_id("alias/endpoints")
        .tags(Tag::builder().key("owner").value("alice").build())
        .send()
        .await
        .unwrap();
    for ep in ["ep-1", "ep-2"] {
        c.create_endpoint()
            .endpoint_name(ep)
            .endpoint_config_name("epc-single")
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: ha}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    endpointConfig: {minInstanceCount: 2}
  controls:
    SageMaker.4: {action: remediate}
"#,
    );
    let (_, report) = audit_apply(&account, &policy, &[]);
    let new = c
        .describe_endpoint_config()
        .endpoint_config_name("epc-single-guard-ha")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{report:#}"));
    let counts: Vec<(Option<&str>, Option<i32>)> = new
        .production_variants()
        .iter()
        .map(|v| (v.variant_name(), v.initial_instance_count()))
        .collect();
    assert_eq!(counts, vec![(Some("a"), Some(2)), (Some("b"), Some(3))]);
    assert_eq!(
        new.kms_key_id(),
        Some("alias/endpoints"),
        "other settings kept"
    );
    let tags = c
        .list_tags()
        .resource_arn(new.endpoint_config_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("owner") && t.value() == Some("alice")),
        "tags copied: {tags:?}"
    );
    for ep in ["ep-1", "ep-2"] {
        // The update deploys; once settled the endpoint runs the new config.
        let mut config = None;
        for _ in 0..50 {
            let d = c
                .describe_endpoint()
                .endpoint_name(ep)
                .send()
                .await
                .unwrap();
            config = d.endpoint_config_name().map(str::to_string);
            if config.as_deref() == Some("epc-single-guard-ha") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            config.as_deref(),
            Some("epc-single-guard-ha"),
            "{ep}: {report:#}"
        );
    }
    // The old config is kept, and says what replaced it.
    let old = c
        .describe_endpoint_config()
        .endpoint_config_name("epc-single")
        .send()
        .await
        .expect("the old config is never deleted");
    let tags = c
        .list_tags()
        .resource_arn(old.endpoint_config_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("sagemaker-guard/replaced-by")
                && t.value() == Some("epc-single-guard-ha")),
        "{tags:?}"
    );
    // A second pass changes nothing more.
    let before = calls(&account);
    audit_apply(&account, &policy, &[]);
    let mutations = |calls: &serde_json::Value| -> u64 {
        calls["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                ["CreateEndpointConfig", "UpdateEndpoint", "AddTags"]
                    .contains(&c["action"].as_str().unwrap())
            })
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        mutations(&calls(&account)),
        mutations(&before),
        "idempotent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn required_tags_are_added_and_other_controls_marked() {
    let account = account(48);
    slow_transitions(&account);
    let c = client(&account).await;
    let tags_of = |arn: String| {
        let c = c.clone();
        async move {
            let out = c.list_tags().resource_arn(arn).send().await.unwrap();
            let mut t: Vec<(String, String)> = out
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            t.sort();
            t
        }
    };
    let image = c
        .create_image()
        .image_name("img")
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .tags(Tag::builder().key("team").value("vision").build())
        .send()
        .await
        .unwrap()
        .image_arn
        .unwrap();
    let aic = c
        .create_app_image_config()
        .app_image_config_name("aic")
        .send()
        .await
        .unwrap()
        .app_image_config_arn
        .unwrap();
    c.create_model()
        .model_name("open-model")
        .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .primary_container(
            aws_sdk_sagemaker::types::ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: tags}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    tagValues: {owner: platform, team: unassigned}
  controls:
    SageMaker.5: {action: tag}
    SageMaker.6: {action: remediate, parameters: {requiredKeyTags: [owner, team]}}
    SageMaker.7: {action: remediate, parameters: {requiredKeyTags: [owner, team]}}
"#,
    );
    let (code, report) = audit_apply(&account, &policy, &[]);
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    // The missing keys get the policy's values; a value that exists is never overwritten.
    assert_eq!(
        tags_of(image).await,
        vec![pair("owner", "platform"), pair("team", "vision")],
        "{report:#}"
    );
    assert_eq!(
        tags_of(aic).await,
        vec![pair("owner", "platform"), pair("team", "unassigned")]
    );
    // A control whose action is `tag` marks the resource with what it fails.
    let model = c
        .describe_model()
        .model_name("open-model")
        .send()
        .await
        .unwrap()
        .model_arn
        .unwrap();
    assert_eq!(
        tags_of(model).await,
        vec![pair("sagemaker-guard/noncompliant", "SageMaker.5")]
    );
    let finals: Vec<String> = report["applied"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            a["finalStatuses"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(c, s)| {
                    format!(
                        "{}:{c}:{}",
                        a["resourceName"].as_str().unwrap(),
                        s.as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        finals.contains(&"img:SageMaker.7:PASSED".to_string()),
        "{finals:?}"
    );
    assert!(
        finals.contains(&"aic:SageMaker.6:PASSED".to_string()),
        "{finals:?}"
    );
    assert_eq!(
        code,
        Some(1),
        "SageMaker.5 still fails: a model cannot be changed"
    );
}
