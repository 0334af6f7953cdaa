//! SageMaker.21 (a KMS key for the notebook's storage volume) fixed by the recreate: on
//! `audit --apply`, by the service from an event, folded into one recreate with SageMaker.1, and
//! left a finding when the policy has no key for the notebook's account and region.

use std::time::Duration;

use aws_sdk_sagemaker::types::NotebookInstanceStatus;

use crate::common::service::*;
use crate::common::*;
use crate::recreate::{count, expect_recreated, rich_notebook_with_key, snapshot, wait_notebook};

/// A fresh account with 0.2 s transitions: its client, queues, intent key and a volume key.
struct Setup {
    account: String,
    c: aws_sdk_sagemaker::Client,
    q: Queues,
    key: String,
    volume: String,
}

async fn setup(n: u32) -> Setup {
    let account = account(n);
    slow_transitions(&account);
    Setup {
        c: client(&account).await,
        q: queues(&account, 30).await,
        key: hmac_key(&account).await,
        volume: volume_key(&account).await,
        account,
    }
}

/// Remediates `controls` (SageMaker.21 among them) with `kms_keys` as the policy's keys.
fn policy(controls: &[&str], kms_keys: &str) -> String {
    let controls: String = controls
        .iter()
        .map(|c| format!("    {c}: {{action: remediate}}\n"))
        .collect();
    format!(
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {{name: volume-key}}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    notebook: {{onlyWhenStopped: false}}
    kmsKeys:
{kms_keys}
  controls:
{controls}"#
    )
}

/// The `kmsKeys` entry that gives `account`'s notebooks `key`.
fn key_for(account: &str, key: &str) -> String {
    format!("      - {{account: \"{account}\", region: {REGION}, keyId: \"{key}\"}}")
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_gives_a_notebook_without_a_key_the_policys_key_and_keeps_the_rest() {
    let Setup {
        account,
        c,
        q,
        key,
        volume,
    } = setup(211).await;
    // It fails .1, .3 and .8 too, but only .21 is remediated: those settings stay as they are.
    rich_notebook_with_key(&c, "nb-nokey", true, None).await;
    let before = snapshot(&c, "nb-nokey").await;
    assert_eq!(before["kms"], serde_json::Value::Null);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &policy(&["SageMaker.21"], &key_for(&account, &volume)),
    );

    // Dry-run first: a recreate, and nothing changes.
    let (_, report) = audit_json(&account, &policy, &[]);
    let result = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "SageMaker.21")
        .unwrap();
    assert_eq!(result["status"], "FAILED", "{report:#}");
    assert_eq!(result["action"]["kind"], "recreate", "{report:#}");
    assert!(
        result["action"]["steps"]
            .to_string()
            .contains(&format!("create KmsKeyId={}", volume.clone())),
        "{report:#}"
    );
    assert_eq!(snapshot(&c, "nb-nokey").await, before);

    let (code, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let after = snapshot(&c, "nb-nokey").await;
    let mut want = before.clone();
    want["kms"] = volume.clone().into();
    want["created"] = after["created"].clone();
    let recreated_at = after["tags"]["sagemaker-guard/recreated-at"].clone();
    assert!(recreated_at.is_string(), "{after}");
    want["tags"]["sagemaker-guard/recreated-at"] = recreated_at;
    assert_eq!(after, want, "only the key changed");
    assert_eq!(
        after["status"], "InService",
        "it was running: it runs again"
    );
    assert_eq!(count(&account, "StopNotebookInstance"), 1);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1);
    assert_eq!(
        count(&account, "CreateNotebookInstance"),
        2,
        "the test's and the guard's"
    );
    assert_eq!(
        report["applied"][0]["finalStatuses"]["SageMaker.21"], "PASSED",
        "{report:#}"
    );
    // The intent stored before the delete carries the fix and the spec with the key.
    let bodies = q.receive_bodies(&q.url).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let detail = &bodies[0]["detail"];
    assert_eq!(
        detail["fixes"],
        serde_json::json!([{"name": "KmsKeyId", "value": volume.clone()}])
    );
    assert_eq!(detail["spec"]["KmsKeyId"], volume.as_str());
    assert_eq!(detail["captured"]["volumeSizeInGb"], 37);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_for_its_account_a_notebook_is_not_recreated_and_the_report_says_why() {
    let Setup {
        account,
        c,
        q,
        key,
        volume,
    } = setup(212).await;
    rich_notebook_with_key(&c, "nb-elsewhere", true, None).await;
    let before = snapshot(&c, "nb-elsewhere").await;
    let dir = tempfile::tempdir().unwrap();
    // A key for another account only.
    let policy = policy_file(
        dir.path(),
        &policy(
            &["SageMaker.21"],
            &key_for(&crate::common::account(219), &volume),
        ),
    );
    let (_, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    let result = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "SageMaker.21")
        .unwrap();
    assert_eq!(result["action"]["kind"], "finding", "{report:#}");
    let notes = result["action"]["notes"].to_string();
    assert!(
        notes.contains("spec.remediation.kmsKeys") && notes.contains(&account),
        "{report:#}"
    );
    assert_eq!(
        snapshot(&c, "nb-elsewhere").await,
        before,
        "nothing changed"
    );
    assert_eq!(count(&account, "StopNotebookInstance"), 0);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_failing_1_and_21_is_recreated_once_with_both_fixes() {
    let Setup {
        account,
        c,
        q,
        key,
        volume,
    } = setup(213).await;
    rich_notebook_with_key(&c, "nb-both", false, None).await;
    let before = snapshot(&c, "nb-both").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &policy(
            &["SageMaker.1", "SageMaker.3", "SageMaker.8", "SageMaker.21"],
            &key_for(&account, &volume),
        ),
    );
    let (code, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let after = snapshot(&c, "nb-both").await;
    let mut with_key = before.clone();
    with_key["kms"] = volume.clone().into();
    expect_recreated(&with_key, &after);
    assert_eq!(
        after["status"], "Stopped",
        "it was stopped: it is stopped again"
    );
    assert_eq!(
        count(&account, "DeleteNotebookInstance"),
        1,
        "recreated once"
    );
    assert_eq!(
        count(&account, "CreateNotebookInstance"),
        2,
        "the test's and the guard's"
    );
    assert_eq!(
        count(&account, "UpdateNotebookInstance"),
        0,
        "no in-place update besides"
    );
    let finals = &report["applied"][0]["finalStatuses"];
    for control in ["SageMaker.1", "SageMaker.3", "SageMaker.8", "SageMaker.21"] {
        assert_eq!(finals[control], "PASSED", "{report:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_gives_a_notebook_the_policys_key_from_an_event() {
    let Setup {
        account,
        c,
        q,
        key,
        volume,
    } = setup(214).await;
    rich_notebook_with_key(&c, "nb-event", true, None).await;
    let before = snapshot(&c, "nb-event").await;
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &policy(&["SageMaker.21"], &key_for(&account, &volume)),
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--intent-key-id",
            &key,
        ],
        |_| {},
    );
    q.send_bodies(&[cloudtrail(&account, "CreateNotebookInstance", "nb-event")])
        .await;
    let want_key = volume.clone();
    wait_notebook(&c, "nb-event", "given the key", &service, |d| {
        d.kms_key_id() == Some(want_key.as_str())
            && d.notebook_instance_status() == Some(&NotebookInstanceStatus::InService)
    })
    .await;
    let after = snapshot(&c, "nb-event").await;
    let mut want = before.clone();
    want["kms"] = want_key.clone().into();
    want["created"] = after["created"].clone();
    want["tags"]["sagemaker-guard/recreated-at"] =
        after["tags"]["sagemaker-guard/recreated-at"].clone();
    assert!(want["tags"]["sagemaker-guard/recreated-at"].is_string());
    assert_eq!(after, want, "only the key changed");
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert_eq!(q.counts(&q.dlq_url).await, (0, 0));
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1);
    service.wait_for("the recreate counted", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_executed_actions_total",
            &["kind=\"recreate\"", "result=\"recreated\""],
        ) >= 1.0
    });
}

#[test]
fn a_policy_remediating_21_without_a_key_is_refused_where_it_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let yaml =
        policy(&["SageMaker.21"], "      []").replace("    kmsKeys:\n      []", "    kmsKeys: []");
    let path = policy_file(dir.path(), &yaml);
    let out = guard(&account(215))
        .args(["policy", "validate"])
        .arg(&path)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let line = yaml
        .lines()
        .position(|l| l.contains("SageMaker.21"))
        .unwrap()
        + 1;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SageMaker.21 is set to remediate")
            && stderr.contains("spec.remediation.kmsKeys")
            && stderr.contains(&format!(":{line}:")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_does_not_exist_stops_nothing_and_deletes_nothing() {
    let account = account(216);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook_with_key(&c, "nb-badkey", true, None).await;
    let before = snapshot(&c, "nb-badkey").await;
    let dir = tempfile::tempdir().unwrap();
    let missing =
        format!("arn:aws:kms:{REGION}:{account}:key/00000000-12ab-34cd-56ef-1234567890ab");
    let policy = policy_file(
        dir.path(),
        &policy(&["SageMaker.21"], &key_for(&account, &missing)),
    );
    let (_, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert!(
        report["applied"].to_string().contains("does not exist"),
        "{report:#}"
    );
    assert_eq!(snapshot(&c, "nb-badkey").await, before, "nothing changed");
    assert_eq!(count(&account, "StopNotebookInstance"), 0);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);
}
