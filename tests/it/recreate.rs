//! Stop-and-recreate (SageMaker.1, with .3 and .8 riding along) on `audit --apply` and `run`,
//! crash safety (SIGKILL between delete and create), and the grace period. Against the emulator
//! with realistic notebook transitions (0.2 s, set for each test's own account).

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::operation::describe_notebook_instance::DescribeNotebookInstanceOutput;
use aws_sdk_sagemaker::types::{
    DirectInternetAccess, InstanceMetadataServiceConfiguration, InstanceType,
    NotebookInstanceStatus, RootAccess, Tag,
};
use aws_sdk_sagemaker::Client;

use crate::common::service::*;
use crate::common::*;

pub(crate) fn policy(extra_remediation: &str) -> String {
    format!(
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {{name: recreate}}
spec:
  dryRun: false
  defaultAction: off
  exemptions:
    - name: opt-out
      reason: the owner opted out
      resourceTags: {{sagemaker-guard/exempt: "true"}}
  remediation:
    notebook:
      onlyWhenStopped: false
{extra_remediation}
  controls:
    SageMaker.1: {{action: remediate}}
    SageMaker.3: {{action: remediate}}
    SageMaker.8: {{action: remediate}}
"#
    )
}

/// Waits up to a minute until the notebook exists and `cond` holds, or fails with the service's
/// last logs.
pub(crate) async fn wait_notebook(
    c: &Client,
    name: &str,
    what: &str,
    service: &Service,
    cond: impl Fn(&DescribeNotebookInstanceOutput) -> bool,
) {
    let start = Instant::now();
    while !describe_notebook(c, name).await.is_some_and(|d| cond(&d)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{name} not {what}: {:#?}",
            service.tail(20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A notebook with every setting a recreate must carry over, failing .1, .3 and .8, in a subnet
/// of its own (so SageMaker.2 passes and the subnet is kept).
pub(crate) async fn rich_notebook(c: &Client, name: &str, running: bool) {
    rich_notebook_with_key(
        c,
        name,
        running,
        Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    )
    .await
}

/// [`rich_notebook`] with this KMS key for its storage volume, or none (failing SageMaker.21).
pub(crate) async fn rich_notebook_with_key(
    c: &Client,
    name: &str,
    running: bool,
    kms_key_id: Option<&str>,
) {
    // Its lifecycle configuration exists (the recreate checks that before the delete).
    let _ = c
        .create_notebook_instance_lifecycle_config()
        .notebook_instance_lifecycle_config_name("install-packages")
        .send()
        .await;
    c.create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Large)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .subnet_id("subnet-0a1b2c3d")
        .security_group_ids("sg-0a1b2c3d")
        .security_group_ids("sg-4e5f6a7b")
        .set_kms_key_id(kms_key_id.map(str::to_string))
        .lifecycle_config_name("install-packages")
        .volume_size_in_gb(37)
        .default_code_repository("https://github.com/example/analysis.git")
        .additional_code_repositories("https://github.com/example/shared.git")
        .direct_internet_access(DirectInternetAccess::Enabled)
        .root_access(RootAccess::Enabled)
        .platform_identifier("notebook-al2-v3")
        .instance_metadata_service_configuration(
            InstanceMetadataServiceConfiguration::builder()
                .minimum_instance_metadata_service_version("2")
                .build(),
        )
        .tags(Tag::builder().key("owner").value("alice").build())
        .tags(Tag::builder().key("cost-center").value("4711").build())
        .send()
        .await
        .unwrap();
    wait_status(c, name, NotebookInstanceStatus::InService).await;
    if !running {
        c.stop_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .unwrap();
        wait_status(c, name, NotebookInstanceStatus::Stopped).await;
    }
}

/// The configuration and tags of a notebook, as a user would compare them.
pub(crate) async fn snapshot(c: &Client, name: &str) -> serde_json::Value {
    let d = describe_notebook(c, name)
        .await
        .expect("the notebook exists");
    let tags = c
        .list_tags()
        .resource_arn(d.notebook_instance_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tags: std::collections::BTreeMap<String, String> = tags
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut groups = d.security_groups().to_vec();
    groups.sort();
    serde_json::json!({
        "status": d.notebook_instance_status().map(|s| s.as_str().to_string()),
        "directInternetAccess": d.direct_internet_access().map(|s| s.as_str().to_string()),
        "rootAccess": d.root_access().map(|s| s.as_str().to_string()),
        "platform": d.platform_identifier(),
        "instanceType": d.instance_type().map(|s| s.as_str().to_string()),
        "subnet": d.subnet_id(),
        "securityGroups": groups,
        "kms": d.kms_key_id(),
        "lifecycle": d.notebook_instance_lifecycle_config_name(),
        "volume": d.volume_size_in_gb(),
        "defaultRepo": d.default_code_repository(),
        "additionalRepos": d.additional_code_repositories(),
        "imds": d.instance_metadata_service_configuration().and_then(|c| c.minimum_instance_metadata_service_version()),
        "role": d.role_arn(),
        "created": d.creation_time().map(|t| t.secs()),
        "tags": tags,
    })
}

/// What a recreate with .1, .3 and .8 fixed must look like, given the snapshot before.
pub(crate) fn expect_recreated(before: &serde_json::Value, after: &serde_json::Value) {
    let mut want = before.clone();
    want["directInternetAccess"] = "Disabled".into();
    want["rootAccess"] = "Disabled".into();
    want["platform"] = "notebook-al2023-v1".into();
    want["created"] = after["created"].clone();
    want["status"] = after["status"].clone();
    let recreated_at = after["tags"]["sagemaker-guard/recreated-at"].clone();
    assert!(recreated_at.is_string(), "no recreated-at tag: {after}");
    want["tags"]["sagemaker-guard/recreated-at"] = recreated_at;
    assert_eq!(after, &want, "everything but the fixes is kept");
}

pub(crate) fn count(account: &str, action: &str) -> u64 {
    calls(account)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_recreates_once_with_every_fix() {
    let account = account(60);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook(&c, "nb-all", true).await;
    let before = snapshot(&c, "nb-all").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &policy(""));

    // Dry-run first: the plan is one recreate carrying every fix, and nothing changes.
    let (_, report) = audit_json(&account, &policy, &[]);
    let plan = &report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "SageMaker.1")
        .unwrap()["action"];
    assert_eq!(plan["kind"], "recreate", "{report}");
    assert_eq!(snapshot(&c, "nb-all").await, before);

    // Without a durable store for the configuration, nothing is deleted.
    let (_, report) = audit_apply(&account, &policy, &[]);
    assert!(
        report["applied"].to_string().contains("durable store"),
        "{report}"
    );
    assert_eq!(snapshot(&c, "nb-all").await, before);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);

    // Nor without a key to sign the intent: the report says what to pass.
    let (_, report) = audit_apply(&account, &policy, &["--intent-queue-url", &q.url]);
    assert!(
        report["applied"].to_string().contains("--intent-key-id"),
        "{report}"
    );
    assert_eq!(snapshot(&c, "nb-all").await, before);
    assert_eq!(count(&account, "StopNotebookInstance"), 0);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);

    let (code, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let after = snapshot(&c, "nb-all").await;
    expect_recreated(&before, &after);
    assert_eq!(
        after["status"], "InService",
        "it was running: it runs again"
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
    // The one-off fix files its findings too: PASSED and archived now.
    assert_eq!(report["applied"][0]["findings"], "imported 3", "{report:#}");
    let finals = &report["applied"][0]["finalStatuses"];
    for control in ["SageMaker.1", "SageMaker.3", "SageMaker.8"] {
        assert_eq!(finals[control], "PASSED", "{report:#}");
    }
    // The intent the command stored is on the queue for the service (which finds it done).
    let bodies = q.receive_bodies(&q.url).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["detail-type"], "Recreate Intent");
    assert_eq!(bodies[0]["detail"]["captured"]["volumeSizeInGb"], 37);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_delete_and_create_then_restart() {
    let account = account(61);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    // A stopped notebook: it must come back stopped.
    rich_notebook(&c, "nb-crash", false).await;
    let before = snapshot(&c, "nb-crash").await;
    let yaml = policy("");
    let mut first = Service::start_with_policy(
        &account,
        &q.url,
        &yaml,
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--intent-key-id",
            &key,
        ],
        |cmd| {
            cmd.env("SAGEMAKER_GUARD_FAILPOINT", "after-delete");
        },
    );
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-crash")])
        .await;
    first.wait_for_failpoint("after-delete");
    // SIGKILL: no shutdown, no cleanup.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        describe_notebook(&c, "nb-crash").await.is_none(),
        "the notebook is deleted and nobody created it again"
    );

    // A restart finishes the recreate from the intent on the queue.
    let second = Service::start_with_policy(
        &account,
        &q.url,
        &yaml,
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--intent-key-id",
            &key,
        ],
        |_| {},
    );
    wait_notebook(&c, "nb-crash", "recreated and stopped", &second, |d| {
        d.notebook_instance_status() == Some(&NotebookInstanceStatus::Stopped)
    })
    .await;
    let after = snapshot(&c, "nb-crash").await;
    expect_recreated(&before, &after);
    assert_eq!(
        after["status"], "Stopped",
        "it was stopped: it is stopped again"
    );
    // The intent settles once the notebook is back: the queues empty, nothing dead-lettered.
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert_eq!(q.counts(&q.dlq_url).await, (0, 0));
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1, "deleted once");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_changes_wake_each_step_of_a_recreate_without_waiting_for_the_settle_interval() {
    let account = account(67);
    // Transitions take a second, as they take minutes on AWS: the guard must wait for each.
    emulator_post(
        "/sg-emulator/config",
        &serde_json::json!({"account": account, "transitionSeconds": 1.0}).to_string(),
    );
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook(&c, "nb-wake", true).await;
    wait_status(&c, "nb-wake", NotebookInstanceStatus::InService).await;
    let before = snapshot(&c, "nb-wake").await;
    // Stop, delete, create: three transitions, each of which would wait 60 s for the settle
    // interval; the events that say each one ended wake the next step at once.
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &policy(""),
        &[
            "--no-initial-resync",
            "--settle-interval",
            "60s",
            "--intent-key-id",
            &key,
        ],
        |_| {},
    );
    let started = Instant::now();
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-wake")])
        .await;
    // Plays EventBridge: each time the notebook ends a transition, its state-change event.
    let mut last = String::from("InService");
    let mut deleted = false;
    let fixed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "not recreated within 50 s (last status {last}): the settle interval (60 s) was waited for\n{:#?}",
            service.tail(20)
        );
        let status = match describe_notebook(&c, "nb-wake").await {
            Some(d) => d.notebook_instance_status().unwrap().as_str().to_string(),
            None => "Deleted".to_string(),
        };
        deleted |= status == "Deleted";
        if deleted && status == "InService" {
            break started.elapsed();
        }
        if status != last && matches!(status.as_str(), "Stopped" | "InService" | "Deleted") {
            q.send_bodies(&[state_change(&account, "nb-wake", &status)])
                .await;
        }
        last = status;
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    expect_recreated(&before, &snapshot(&c, "nb-wake").await);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1);
    let triggers: Vec<String> = service
        .reconciled()
        .iter()
        .map(|r| r["trigger"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !triggers.iter().any(|t| t == "requeue"),
        "nothing waited for the settle interval: {triggers:?}"
    );
    eprintln!("recreated {fixed:?} after the first event; reconciles: {triggers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn grace_period() {
    let account = account(62);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook(&c, "nb-old", true).await;
    rich_notebook(&c, "nb-optout", true).await;
    let week_ago = jiff::Timestamp::now().as_second() - 7 * 24 * 3600;
    for name in ["nb-old", "nb-optout"] {
        emulator_post(
            "/sg-emulator/notebook-creation-time",
            &format!(
                r#"{{"account": "{account}", "region": "{REGION}", "name": "{name}", "creationTime": {week_ago}}}"#
            ),
        );
    }
    let before = snapshot(&c, "nb-old").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &policy("      freshWindow: 30m\n      gracePeriod: 4s"),
    );
    let apply = || {
        audit_apply(
            &account,
            &policy,
            &["--intent-queue-url", &q.url, "--intent-key-id", &key],
        )
        .1
    };

    // An old notebook is marked with the time of its recreate, not recreated.
    let report = apply();
    assert!(
        report["applied"].to_string().contains("scheduled"),
        "{report:#}"
    );
    for name in ["nb-old", "nb-optout"] {
        let s = snapshot(&c, name).await;
        assert!(
            s["tags"]["sagemaker-guard/recreate-after"].is_string(),
            "{name} is marked: {s}"
        );
        assert_eq!(s["created"], week_ago, "{name} is not recreated");
        assert_eq!(s["status"], "InService", "{name} is not even stopped");
    }
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);

    // Its owner opts one out during the grace period.
    let optout = describe_notebook(&c, "nb-optout").await.unwrap();
    c.add_tags()
        .resource_arn(optout.notebook_instance_arn().unwrap())
        .tags(
            Tag::builder()
                .key("sagemaker-guard/exempt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let report = apply();
    // The other one is recreated once the grace period is over.
    let after = snapshot(&c, "nb-old").await;
    let mut want = before.clone();
    want["tags"]
        .as_object_mut()
        .unwrap()
        .remove("sagemaker-guard/recreate-after");
    expect_recreated(&want, &after);
    // The opted-out one is left alone, and its mark is gone.
    let s = snapshot(&c, "nb-optout").await;
    assert_eq!(s["created"], week_ago, "{report:#}");
    assert!(
        s["tags"].get("sagemaker-guard/recreate-after").is_none(),
        "{s}"
    );
    assert_eq!(s["rootAccess"], "Enabled", "exempt from every control");
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_moves_a_notebook_into_the_policy_network() {
    let account = account(63);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    // Only SageMaker.2 fails: no VPC (and so direct internet access, which .1 would judge).
    c.create_notebook_instance()
        .notebook_instance_name("nb-novpc")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .volume_size_in_gb(12)
        .root_access(RootAccess::Disabled)
        .platform_identifier("notebook-al2023-v1")
        .tags(Tag::builder().key("owner").value("bob").build())
        .send()
        .await
        .unwrap();
    wait_status(&c, "nb-novpc", NotebookInstanceStatus::InService).await;
    let before = snapshot(&c, "nb-novpc").await;
    let yaml = format!(
        r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {{name: vpc}}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    networks:
      - {{account: "{account}", region: {REGION}, subnetId: subnet-0policy, securityGroupIds: [sg-0policy]}}
  controls:
    SageMaker.2: {{action: remediate}}
"#
    );
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &yaml,
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--intent-key-id",
            &key,
        ],
        |_| {},
    );
    q.send_bodies(&[cloudtrail(&account, "CreateNotebookInstance", "nb-novpc")])
        .await;
    wait_notebook(&c, "nb-novpc", "moved", &service, |d| {
        d.subnet_id() == Some("subnet-0policy")
            && d.notebook_instance_status() == Some(&NotebookInstanceStatus::InService)
    })
    .await;
    let after = snapshot(&c, "nb-novpc").await;
    let mut want = before.clone();
    want["subnet"] = "subnet-0policy".into();
    want["securityGroups"] = serde_json::json!(["sg-0policy"]);
    want["created"] = after["created"].clone();
    want["tags"]["sagemaker-guard/recreated-at"] =
        after["tags"]["sagemaker-guard/recreated-at"].clone();
    assert!(want["tags"]["sagemaker-guard/recreated-at"].is_string());
    assert_eq!(after, want, "only the network changed");
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert_eq!(q.counts(&q.dlq_url).await, (0, 0));
    // The recreate was counted, and the notebook now complies.
    service.wait_for("a compliant reconcile", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_executed_actions_total",
            &["kind=\"recreate\"", "result=\"recreated\""],
        ) >= 1.0
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn only_when_its_users_stopped_it() {
    let account = account(64);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook(&c, "nb-busy", true).await;
    let before = snapshot(&c, "nb-busy").await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = policy("").replace("onlyWhenStopped: false", "onlyWhenStopped: true");
    let policy = policy_file(dir.path(), &yaml);
    let (_, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert_eq!(
        report["applied"][0]["executions"][0]["result"], "deferred",
        "{report:#}"
    );
    assert_eq!(snapshot(&c, "nb-busy").await, before, "not even stopped");

    // Its user stops it: now it is recreated, and stays stopped.
    c.stop_notebook_instance()
        .notebook_instance_name("nb-busy")
        .send()
        .await
        .unwrap();
    wait_status(&c, "nb-busy", NotebookInstanceStatus::Stopped).await;
    let before = snapshot(&c, "nb-busy").await;
    let (code, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert_eq!(code, Some(0), "{report:#}");
    let after = snapshot(&c, "nb-busy").await;
    expect_recreated(&before, &after);
    assert_eq!(after["status"], "Stopped");
}

/// The intent the guard would have stored for a notebook `name` it deleted a moment ago.
pub(crate) fn lost_notebook_intent(
    account: &str,
    name: &str,
    instance_type: &str,
) -> sagemaker_guard::domain::intent::RecreateIntent {
    use sagemaker_guard::domain::intent::{derive_spec, RecreateIntent};
    use sagemaker_guard::domain::resource::NotebookInstance;
    let now = jiff::Timestamp::now().to_string();
    let captured = NotebookInstance {
        instance_type: Some(instance_type.into()),
        role_arn: Some(format!("arn:aws:iam::{account}:role/sagemaker")),
        creation_time: Some(1),
        ..NotebookInstance::default()
    };
    let fixes = Vec::new();
    RecreateIntent {
        id: now.clone(),
        name: name.into(),
        arn: format!("arn:aws:sagemaker:{REGION}:{account}:notebook-instance/{name}"),
        account: account.into(),
        region: REGION.into(),
        spec: derive_spec(&captured, &fixes).unwrap(),
        captured,
        fixes,
        tags: [("sagemaker-guard/recreated-at".to_string(), now)]
            .into_iter()
            .collect(),
        was_running: true,
        controls: vec![sagemaker_guard::domain::catalogue::ControlId::SageMaker1],
        policy: "recreate".into(),
    }
}

/// An intent whose create fails (here: an instance type SageMaker refuses) is retried with
/// back-off and never deleted: it is the only record of the notebook's configuration.
#[tokio::test(flavor = "multi_thread")]
async fn an_intent_that_fails_is_kept() {
    let account = account(65);
    slow_transitions(&account);
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    let intent = lost_notebook_intent(&account, "nb-lost", "ml.bogus.large");
    let message = signed_intent(&account, &key, &intent).await;
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &policy(""),
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--intent-key-id",
            &key,
        ],
        |_| {},
    );
    q.send_bodies(&[message]).await;
    service.wait_for("a failed create, retried", Duration::from_secs(60), |m| {
        metric(
            m,
            "sagemaker_guard_messages_released_total",
            &["reason=\"retry\""],
        ) >= 1.0
    });
    assert_eq!(
        service.metric(
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"pointless-retry\""]
        ),
        0.0
    );
    let (visible, in_flight) = q.counts(&q.url).await;
    assert_eq!(visible + in_flight, 1, "the intent is still on the queue");
    assert!(count(&account, "CreateNotebookInstance") >= 1);
}

/// An old notebook under the service: marked, a finding and an event say when it will be
/// recreated and how to opt out; nothing else happens.
#[tokio::test(flavor = "multi_thread")]
async fn the_service_schedules_an_old_notebook_and_tells() {
    let account = account(66);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    let outcomes = outcomes_queue(&q, &account, "guard-events").await;
    rich_notebook(&c, "nb-old-svc", true).await;
    let week_ago = jiff::Timestamp::now().as_second() - 7 * 24 * 3600;
    emulator_post(
        "/sg-emulator/notebook-creation-time",
        &format!(
            r#"{{"account": "{account}", "region": "{REGION}", "name": "nb-old-svc", "creationTime": {week_ago}}}"#
        ),
    );
    let yaml = policy("    eventBus: guard-events");
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &yaml,
        &[
            "--no-initial-resync",
            "--settle-interval",
            "200ms",
            "--intent-key-id",
            &key,
        ],
        |_| {},
    );
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-old-svc")])
        .await;
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    let s = snapshot(&c, "nb-old-svc").await;
    let when = s["tags"]["sagemaker-guard/recreate-after"]
        .as_str()
        .unwrap_or_else(|| panic!("not marked: {s}\n{:#?}", service.tail(10)))
        .to_string();
    assert_eq!(s["status"], "InService", "not stopped");
    assert_eq!(s["created"], week_ago, "not recreated");

    let events = q.receive_bodies(&outcomes).await;
    let scheduled: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "Remediation Scheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{events:#?}");
    let notes = scheduled[0]["detail"]["execution"]["notes"].to_string();
    assert!(notes.contains(&when), "{notes}");

    let findings = securityhub(&account).get_findings().send().await.unwrap();
    let f = findings
        .findings()
        .iter()
        .find(|f| {
            f.id()
                .unwrap_or_default()
                .ends_with("nb-old-svc/SageMaker.1")
        })
        .expect("a SageMaker.1 finding");
    assert_eq!(
        f.product_fields().unwrap()["sagemaker-guard/recreate-after"],
        when
    );
    let d = f.description().unwrap();
    assert!(d.contains("opt out") && d.contains(&when), "{d}");
}
