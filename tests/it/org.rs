//! An organization's accounts (`--accounts`, a c7n-org account list): the guard, with the
//! credentials of a central account, reads and fixes each member account through the role it
//! assumes there. The emulator's AssumeRole acts in the role's account, and refuses a role that
//! does not exist or an external id the role's trust policy does not name.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::service::*;
use crate::common::*;

/// Creates the guard's member role in `account` (IAM `CreateRole` on the emulator), trusting any
/// principal with `external_id` when given.
fn create_member_role(account: &str, external_id: Option<&str>) {
    let condition = external_id.map_or(String::new(), |x| {
        format!(r#","Condition":{{"StringEquals":{{"sts:ExternalId":"{x}"}}}}"#)
    });
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"sts:AssumeRole"{condition}}}]}}"#
    );
    // IAM speaks the query protocol; the emulator takes the account from the credential.
    let script = "import sys, urllib.request, urllib.parse\n\
body = urllib.parse.urlencode({'Action': 'CreateRole', 'Version': '2010-05-08', 'RoleName': 'SageMakerGuardMember', 'AssumeRolePolicyDocument': sys.argv[3]}).encode()\n\
auth = 'AWS4-HMAC-SHA256 Credential=' + sys.argv[2] + '/20261201/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x'\n\
req = urllib.request.Request(sys.argv[1], data=body, method='POST', headers={'Content-Type': 'application/x-www-form-urlencoded', 'Authorization': auth})\n\
urllib.request.urlopen(req, timeout=5).read()\n";
    let ok = Command::new("python3")
        .args([
            "-c",
            script,
            &format!("{}/", emulator_url()),
            account,
            &trust,
        ])
        .status()
        .unwrap();
    assert!(ok.success(), "CreateRole in {account}");
}

/// An account list in the c7n-org format.
fn accounts_file(dir: &Path, entries: &[(&str, Option<&str>)]) -> PathBuf {
    let mut text = String::from("accounts:\n");
    for (id, external_id) in entries {
        text.push_str(&format!(
            "- account_id: \"{id}\"\n  name: member-{id}\n  tags: [type:test]\n"
        ));
        if let Some(x) = external_id {
            text.push_str(&format!("  external_id: {x}\n"));
        }
    }
    let path = dir.join("accounts.yml");
    std::fs::write(&path, text).unwrap();
    path
}

const FIX_POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: org}
spec:
  dryRun: false
  defaultAction: off
  controls:
    SageMaker.3: {action: remediate}
"#;

async fn root_access(account: &str, name: &str) -> String {
    client(account)
        .await
        .describe_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap()
        .root_access()
        .map(|r| r.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_reads_each_member_account_through_its_role() {
    let central = account(160);
    let (a, b) = (account(161), account(162));
    create_member_role(&a, None);
    create_member_role(&b, Some("ext-guard-1"));
    create_notebook(&client(&a).await, "nb-a", false).await;
    create_notebook(&client(&b).await, "nb-b", true).await;
    create_notebook(&client(&central).await, "nb-central", false).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &FIX_POLICY.replace("dryRun: false", "dryRun: true"),
    );
    let list = accounts_file(dir.path(), &[(&a, None), (&b, Some("ext-guard-1"))]);
    let (code, report) = audit_json(&central, &policy, &["--accounts", list.to_str().unwrap()]);
    assert_eq!(code, Some(1), "nb-a fails: {report:#}");
    let mut arns: Vec<String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resourceArn"].as_str().unwrap().to_string())
        .collect();
    arns.sort();
    arns.dedup();
    assert_eq!(
        arns,
        [
            format!("arn:aws:sagemaker:{REGION}:{a}:notebook-instance/nb-a"),
            format!("arn:aws:sagemaker:{REGION}:{b}:notebook-instance/nb-b"),
        ],
        "each member's notebook, read in its own account; not the central one's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_whose_role_is_missing_is_its_error_and_the_other_is_fixed() {
    let central = account(163);
    let (good, bad) = (account(164), account(165));
    create_member_role(&good, None);
    create_notebook(&client(&good).await, "nb-good", false).await;
    create_notebook(&client(&bad).await, "nb-bad", false).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let list = accounts_file(dir.path(), &[(&good, None), (&bad, None)]);
    let (code, report) = audit_apply(&central, &policy, &["--accounts", list.to_str().unwrap()]);
    assert_eq!(code, Some(3), "one account could not be read: {report:#}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["resourceType"], "Account");
    // In AWS's own words, in one line: the role could not be assumed.
    assert_eq!(errors[0]["operation"], "AssumeRole", "{report:#}");
    assert_eq!(errors[0]["code"], "AccessDenied", "{report:#}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains(&bad),
        "{report:#}"
    );
    assert_eq!(root_access(&good, "nb-good").await, "Disabled", "fixed");
    assert_eq!(root_access(&bad, "nb-bad").await, "Enabled", "not reached");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_reconciles_an_event_from_each_member_account_in_that_account() {
    let central = account(166);
    let (a, b) = (account(167), account(168));
    create_member_role(&a, None);
    create_member_role(&b, None);
    create_notebook(&client(&a).await, "nb-same-name", false).await;
    create_notebook(&client(&b).await, "nb-same-name", false).await;
    let q = queues(&central, 30).await;
    let dir = tempfile::tempdir().unwrap();
    let list = accounts_file(dir.path(), &[(&a, None), (&b, None)]);
    let service = Service::start_with_policy(
        &central,
        &q.url,
        FIX_POLICY,
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--accounts",
            list.to_str().unwrap(),
        ],
        |_| {},
    );
    // The same name in two accounts: two resources, each fixed in its own account.
    q.send_bodies(&[
        cloudtrail(&a, "UpdateNotebookInstance", "nb-same-name"),
        cloudtrail(&b, "UpdateNotebookInstance", "nb-same-name"),
    ])
    .await;
    let start = std::time::Instant::now();
    while root_access(&a, "nb-same-name").await != "Disabled"
        || root_access(&b, "nb-same-name").await != "Disabled"
    {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "both fixed in their accounts: {:#?}",
            service.tail(10)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let accounts: Vec<String> = service
        .reconciled()
        .iter()
        .filter_map(|l| l["account"].as_str().map(str::to_string))
        .collect();
    assert!(
        accounts.contains(&a) && accounts.contains(&b),
        "{accounts:?}"
    );
    assert!(!accounts.contains(&central), "{accounts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn evaluate_reads_the_member_account_an_event_is_about() {
    let central = account(169);
    let member = account(190);
    create_member_role(&member, None);
    create_notebook(&client(&member).await, "nb-member", false).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &FIX_POLICY.replace("dryRun: false", "dryRun: true"),
    );
    let list = accounts_file(dir.path(), &[(&member, None)]);
    let out = crate::common::run_with_input(
        guard(&central)
            .args(["evaluate", "--event", "-", "--policy"])
            .arg(&policy)
            .args(["--accounts", list.to_str().unwrap()]),
        &cloudtrail(&member, "UpdateNotebookInstance", "nb-member"),
    );
    let report = json(&out);
    assert_eq!(report["triggers"][0]["state"], "present", "{report:#}");
    assert_eq!(
        report["triggers"][0]["resourceArn"],
        format!("arn:aws:sagemaker:{REGION}:{member}:notebook-instance/nb-member"),
        "{report:#}"
    );
}

/// A SageMaker client of `account` in `region`.
fn client_in(account: &str, region: &str) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::from_conf(
        aws_sdk_sagemaker::Config::builder()
            .behavior_version(aws_sdk_sagemaker::config::BehaviorVersion::latest())
            .endpoint_url(emulator_url())
            .region(aws_sdk_sagemaker::config::Region::new(region.to_string()))
            .credentials_provider(aws_sdk_sagemaker::config::Credentials::new(
                account, "x", None, None, "test",
            ))
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resync_lists_every_member_account_in_each_of_its_regions_and_counts_them() {
    let central = account(193);
    let (a, b) = (account(194), account(195));
    for member in [&a, &b] {
        create_member_role(member, None);
        for region in ["us-east-1", "us-west-2"] {
            create_notebook(&client_in(member, region), &format!("nb-{region}"), true).await;
        }
    }
    let q = queues(&central, 30).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("accounts.yml");
    std::fs::write(
        &list,
        format!(
            "accounts:\n\
             - account_id: \"{a}\"\n  name: member-a\n  regions: [us-east-1, us-west-2]\n\
             - account_id: \"{b}\"\n  name: member-b\n  regions: [us-east-1, us-west-2]\n"
        ),
    )
    .unwrap();
    let service = Service::start_with_policy(
        &central,
        &q.url,
        FIX_POLICY,
        &["--accounts", list.to_str().unwrap()],
        |_| {},
    );
    service.wait_for_log(
        "the end of the first resync",
        Duration::from_secs(60),
        |l| l["fields"]["message"] == "resync queued every resource in scope",
    );
    service.wait_for("four notebooks reconciled", Duration::from_secs(60), |m| {
        metric(m, "sagemaker_guard_reconciles_total", &[]) >= 4.0
    });
    assert_eq!(
        service.metric(
            "sagemaker_guard_resync_targets_total",
            &["result=\"listed\""]
        ),
        4.0,
        "two accounts x two regions"
    );
    assert_eq!(
        service.metric("sagemaker_guard_resync_targets_pending", &[]),
        0.0
    );
    let mut seen: Vec<(String, String)> = service
        .reconciled()
        .iter()
        .map(|l| {
            (
                l["account"].as_str().unwrap_or_default().to_string(),
                l["region"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    let mut expected: Vec<(String, String)> = [&a, &b]
        .iter()
        .flat_map(|m| ["us-east-1", "us-west-2"].map(|r| (m.to_string(), r.to_string())))
        .collect();
    expected.sort();
    assert_eq!(
        seen, expected,
        "each notebook looked at in its own account and region"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_reads_the_member_accounts_the_policy_lists_inline() {
    let central = account(197);
    let a = account(198);
    create_member_role(&a, Some("ext-inline"));
    create_notebook(&client(&a).await, "nb-inline", false).await;
    create_notebook(&client(&central).await, "nb-central", false).await;
    let dir = tempfile::tempdir().unwrap();
    // The entries of a c7n-org accounts.yml, as they are, under spec.organization.
    let yaml = FIX_POLICY.replace("dryRun: false", "dryRun: true").replace(
        "  defaultAction: off\n",
        &format!(
            "  defaultAction: off\n  organization:\n    accounts:\n      - account_id: \"{a}\"\n        name: member-a\n        external_id: ext-inline\n        tags: [type:test]\n"
        ),
    );
    let policy = policy_file(dir.path(), &yaml);
    let (code, report) = audit_json(&central, &policy, &[]);
    assert_eq!(code, Some(1), "nb-inline fails: {report:#}");
    let arns: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resourceArn"].as_str().unwrap())
        .collect();
    assert!(
        !arns.is_empty()
            && arns
                .iter()
                .all(|arn| *arn
                    == format!("arn:aws:sagemaker:{REGION}:{a}:notebook-instance/nb-inline")),
        "the listed member's notebook alone: {arns:?}"
    );
    // Given in both places, the list is refused: which one would be meant?
    let list = accounts_file(dir.path(), &[(&a, Some("ext-inline"))]);
    let out = guard(&central)
        .args([
            "audit",
            "--policy",
            policy.to_str().unwrap(),
            "--accounts",
            list.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the accounts are given twice"), "{stderr}");
}

/// A forwarded CloudTrail event whose envelope says one member account and whose
/// `recipientAccountId` says another: which account the notebook is in cannot be known, so the
/// event is dead-lettered with the reason and nothing is read or changed in either account.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_whose_accounts_disagree_is_dead_lettered_and_changes_nothing() {
    let central = account(220);
    let (a, b) = (account(221), account(222));
    for member in [&a, &b] {
        create_member_role(member, None);
        create_notebook(&client(member).await, "nb-which", false).await;
    }
    let q = queues(&central, 30).await;
    let dir = tempfile::tempdir().unwrap();
    let list = accounts_file(dir.path(), &[(&a, None), (&b, None)]);
    let service = Service::start_with_policy(
        &central,
        &q.url,
        FIX_POLICY,
        &["--no-initial-resync", "--accounts", list.to_str().unwrap()],
        |_| {},
    );
    // The envelope (EventBridge's) says a; the CloudTrail record says b.
    let mut forged: serde_json::Value =
        serde_json::from_str(&cloudtrail(&a, "UpdateNotebookInstance", "nb-which")).unwrap();
    forged["detail"]["recipientAccountId"] = serde_json::json!(b);
    q.send_bodies(&[forged.to_string()]).await;
    let dead = q.dead_letters(1).await;
    assert_eq!(dead[0].reason, "accounts-disagree", "{dead:#?}");
    assert!(
        dead[0].error.contains(&a) && dead[0].error.contains(&b),
        "{dead:#?}"
    );
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert!(
        service.reconciled().is_empty(),
        "nothing looked at: {:#?}",
        service.reconciled()
    );
    for member in [&a, &b] {
        assert_eq!(root_access(member, "nb-which").await, "Enabled", "{member}");
    }
}
