//! How `run` settles its messages: deletes and visibility changes in batch calls, and a notebook
//! whose transition ended looked at again at once, not after `--settle-interval`.

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{NotebookInstanceStatus, RootAccess};

use crate::common::service::*;
use crate::common::*;

/// The emulator's count of one SQS action for `account`.
fn sqs_calls(account: &str, action: &str) -> u64 {
    calls(account)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "sqs" && c["action"] == action)
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

/// An event about another service: deleted as ignored at once.
fn ignored(account: &str) -> String {
    serde_json::json!({
        "version": "0", "id": "e", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": account, "time": "2026-12-01T00:00:00Z", "region": REGION,
        "resources": [], "detail": {"instance-id": "i-1", "state": "running"}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_deleted_and_released_in_batch_calls() {
    let account = account(170);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    create_notebooks(&c, 3, |i| format!("nb-{i}"), |i| i == 0).await;
    // 40 events about three notebooks and 20 about something else.
    let mut bodies: Vec<String> = (0..40)
        .map(|i| cloudtrail(&account, "UpdateNotebookInstance", &format!("nb-{}", i % 3)))
        .collect();
    bodies.extend((0..20).map(|_| ignored(&account)));
    q.send_bodies(&bodies).await;

    let mut service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    service.wait_for("60 messages deleted", Duration::from_secs(120), |m| {
        metric(m, "sagemaker_guard_messages_deleted_total", &[]) >= 60.0
    });
    // Each at least once: the emulator, like SQS, may hand a message to two receives.
    assert!(
        service.metric(
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"done\""]
        ) >= 40.0
    );
    assert!(
        service.metric(
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"ignored\""]
        ) >= 20.0
    );
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    let batches = sqs_calls(&account, "DeleteMessageBatch");
    assert_eq!(
        sqs_calls(&account, "DeleteMessage"),
        0,
        "no single deletes: {:#}\n{:#?}",
        calls(&account),
        service.tail(30)
    );
    // Ten a call at best; how full each is depends on timing, but never one call a message.
    assert!(
        (6..=30).contains(&batches),
        "{batches} DeleteMessageBatch calls for 60 messages"
    );
    assert_eq!(
        service.metric(
            "sagemaker_guard_aws_api_calls_total",
            &["operation=\"DeleteMessageBatch\""]
        ),
        batches as f64,
        "the service counts the calls it makes"
    );

    // Released messages too: every reconcile fails (a 5xx on Describe), so each message is made
    // visible again after its back-off.
    let (code, _) = service.terminate();
    assert_eq!(code, Some(0));
    emulator_post(
        "/sg-emulator/faults",
        &serde_json::json!({"account": account, "errorRate": 1.0, "actions": ["DescribeNotebookInstance"]})
            .to_string(),
    );
    let service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    q.send_bodies(
        &(0..12)
            .map(|i| cloudtrail(&account, "UpdateNotebookInstance", &format!("nb-{}", i % 3)))
            .collect::<Vec<_>>(),
    )
    .await;
    service.wait_for("12 messages released", Duration::from_secs(120), |m| {
        metric(
            m,
            "sagemaker_guard_messages_released_total",
            &["reason=\"retry\""],
        ) >= 12.0
    });
    let released = service.metric(
        "sagemaker_guard_messages_released_total",
        &["reason=\"retry\""],
    );
    let batches = sqs_calls(&account, "ChangeMessageVisibilityBatch");
    assert!(
        batches >= 1 && batches as f64 <= released,
        "{batches} ChangeMessageVisibilityBatch calls for {released} releases"
    );
    assert_eq!(
        sqs_calls(&account, "ChangeMessageVisibility"),
        0,
        "no single visibility changes"
    );
    emulator_post(
        "/sg-emulator/faults",
        &serde_json::json!({"account": account}).to_string(),
    );
}

const REMEDIATE_ROOT: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: wake}
spec:
  dryRun: false
  defaultAction: off
  controls:
    SageMaker.3: {action: remediate}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_state_change_wakes_a_notebook_waiting_on_a_long_settle_interval() {
    let account = account(171);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    // Transitions take a second, as they take minutes on AWS: the guard must wait for each.
    emulator_post(
        "/sg-emulator/config",
        &serde_json::json!({"account": account, "transitionSeconds": 1.0}).to_string(),
    );
    c.create_notebook_instance()
        .notebook_instance_name("nb-root")
        .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .send()
        .await
        .unwrap();
    wait_status(&c, "nb-root", NotebookInstanceStatus::InService).await;

    // The fix is stop, update, start: three transitions. With only the settle interval, each
    // would wait 60 s; the events that say each one ended wake the notebook at once.
    let service = Service::start_with_policy(
        &account,
        &q.url,
        REMEDIATE_ROOT,
        &["--no-initial-resync", "--settle-interval", "60s"],
        |_| {},
    );
    let started = Instant::now();
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-root")])
        .await;
    // Plays EventBridge: each time the notebook ends a transition, its state-change event.
    let mut last = String::new();
    let fixed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(55),
            "not fixed within 55 s (last status {last}): the settle interval (60 s) was waited for\n{:#?}",
            service.tail(20)
        );
        let d = describe_notebook(&c, "nb-root").await.unwrap();
        let status = d.notebook_instance_status().unwrap().as_str().to_string();
        if status == "InService" && d.root_access() == Some(&RootAccess::Disabled) {
            break started.elapsed();
        }
        if status != last && matches!(status.as_str(), "Stopped" | "InService") {
            q.send_bodies(&[state_change(&account, "nb-root", &status)])
                .await;
        }
        last = status;
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let triggers: Vec<String> = service
        .reconciled()
        .iter()
        .map(|r| r["trigger"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        triggers.iter().any(|t| t.contains("state-change")),
        "{triggers:?}"
    );
    assert!(
        !triggers.iter().any(|t| t == "requeue"),
        "nothing waited for the settle interval: {triggers:?}"
    );
    eprintln!("fixed {fixed:?} after the first event; reconciles: {triggers:?}");
}
