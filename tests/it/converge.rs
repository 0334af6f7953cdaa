//! One convergence for every path: `audit --apply`, `evaluate --apply` and the `run` service
//! archive the findings of a deleted resource and publish outcome events alike; a plan printed
//! as JSON is read back and carried out step by step.

use std::time::Duration;

use crate::common::service::*;
use crate::common::*;
use aws_sdk_sagemaker::types::{InstanceType, NotebookInstanceStatus, Tag};
use aws_sdk_sagemaker::Client;

/// SageMaker.3 is a finding, with the findings filed and outcomes published on `guard-events`.
const FINDING_POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: converge}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    eventBus: guard-events
  controls:
    SageMaker.3: {action: finding}
"#;

/// A running notebook that fails SageMaker.3 (root access is on by default).
async fn rooted_notebook(c: &Client, name: &str) {
    c.create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .tags(Tag::builder().key("owner").value("alice").build())
        .send()
        .await
        .unwrap();
    wait_status(c, name, NotebookInstanceStatus::InService).await;
}

async fn delete_notebook(c: &Client, name: &str) {
    c.stop_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap();
    wait_status(c, name, NotebookInstanceStatus::Stopped).await;
    c.delete_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        if describe_notebook(c, name).await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was never deleted");
}

/// The SageMaker.3 finding of a notebook: (record state, compliance status), once there is one.
async fn finding_state(account: &str, notebook: &str) -> Option<(String, String)> {
    let found = securityhub(account).get_findings().send().await.unwrap();
    let mine: Vec<_> = found
        .findings()
        .iter()
        .filter(|f| {
            f.id()
                .unwrap_or_default()
                .ends_with(&format!("notebook-instance/{notebook}/SageMaker.3"))
        })
        .collect();
    assert!(mine.len() <= 1, "one finding per resource and control");
    mine.first().map(|f| {
        (
            f.record_state()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            f.compliance()
                .and_then(|c| c.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        )
    })
}

async fn wait_finding(account: &str, notebook: &str, want: (&str, &str)) {
    for _ in 0..120 {
        if let Some((record, compliance)) = finding_state(account, notebook).await {
            if (record.as_str(), compliance.as_str()) == want {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "the finding of {notebook} never became {want:?}: {:?}",
        finding_state(account, notebook).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_files_a_finding_then_archives_it_once_the_notebook_is_deleted() {
    let account = account(80);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, "nb-gone").await;
    outcomes_queue(&q, &account, "guard-events").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FINDING_POLICY);

    let (code, report) = audit_apply(&account, &policy, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    wait_finding(&account, "nb-gone", ("ACTIVE", "FAILED")).await;

    delete_notebook(&c, "nb-gone").await;
    let out = run_with_input(
        guard(&account)
            .args(["evaluate", "--event", "-", "--apply", "--policy"])
            .arg(&policy),
        &cloudtrail(&account, "DeleteNotebookInstance", "nb-gone"),
    );
    let report = json(&out);
    assert_eq!(report["triggers"][0]["state"], "gone", "{report:#}");
    assert_eq!(report["applied"][0]["findings"], "imported 1", "{report:#}");
    wait_finding(&account, "nb-gone", ("ARCHIVED", "PASSED")).await;
}

/// An event naming a notebook that never existed (a forged or stale one) makes the guard look,
/// and write nothing: there is no active finding of it to archive.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_naming_a_notebook_that_never_existed_files_no_finding() {
    let account = account(86);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FINDING_POLICY);
    let out = run_with_input(
        guard(&account)
            .args(["evaluate", "--event", "-", "--apply", "--policy"])
            .arg(&policy),
        &cloudtrail(&account, "DeleteNotebookInstance", "nb-never-was"),
    );
    let report = json(&out);
    assert_eq!(report["triggers"][0]["state"], "gone", "{report:#}");
    let calls = calls(&account).to_string();
    assert!(calls.contains("GetFindings"), "it looked: {calls}");
    assert!(!calls.contains("BatchImportFindings"), "it wrote: {calls}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_files_a_finding_then_archives_it_once_the_notebook_is_deleted() {
    let account = account(81);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, "nb-gone").await;
    outcomes_queue(&q, &account, "guard-events").await;
    let _service = Service::start_with_policy(
        &account,
        &q.url,
        FINDING_POLICY,
        &["--no-initial-resync"],
        |_| {},
    );
    q.send_bodies(&[cloudtrail(&account, "CreateNotebookInstance", "nb-gone")])
        .await;
    wait_finding(&account, "nb-gone", ("ACTIVE", "FAILED")).await;

    delete_notebook(&c, "nb-gone").await;
    q.send_bodies(&[cloudtrail(&account, "DeleteNotebookInstance", "nb-gone")])
        .await;
    wait_finding(&account, "nb-gone", ("ARCHIVED", "PASSED")).await;
}

/// Tags the failing notebook: a change that is published as `Remediation Applied`.
const TAG_POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: converge}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    eventBus: guard-events
  controls:
    SageMaker.3: {action: tag}
"#;

/// The distinct events of a detail-type about a notebook (a message may be received twice).
fn distinct_events(events: &[serde_json::Value], detail_type: &str, notebook: &str) -> usize {
    let mut ids: Vec<&str> = events
        .iter()
        .filter(|e| {
            e["source"] == "sagemaker-guard"
                && e["detail-type"] == detail_type
                && e["detail"]["resourceArn"]
                    .as_str()
                    .is_some_and(|a| a.ends_with(&format!("notebook-instance/{notebook}")))
        })
        .filter_map(|e| e["id"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_publishes_its_outcome_on_the_policys_bus_as_the_service_does() {
    let account = account(82);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, "nb-apply").await;
    let outcomes = outcomes_queue(&q, &account, "guard-events").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), TAG_POLICY);

    let (_, report) = audit_apply(&account, &policy, &[]);
    assert_eq!(
        report["applied"][0]["executions"][0]["result"], "applied",
        "{report:#}"
    );

    rooted_notebook(&c, "nb-service").await;
    let _service = Service::start_with_policy(
        &account,
        &q.url,
        TAG_POLICY,
        &["--no-initial-resync"],
        |_| {},
    );
    q.send_bodies(&[cloudtrail(&account, "CreateNotebookInstance", "nb-service")])
        .await;
    let mut published = Vec::new();
    for _ in 0..80 {
        published.extend(q.receive_bodies(&outcomes).await);
        if distinct_events(&published, "Remediation Applied", "nb-service") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        distinct_events(&published, "Remediation Applied", "nb-apply"),
        1,
        "{published:#?}"
    );
    assert_eq!(
        distinct_events(&published, "Remediation Applied", "nb-service"),
        1,
        "{published:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_printed_as_json_is_read_back_and_carried_out_step_by_step() {
    use sagemaker_guard::aws::gate::{Effects, Gate};
    use sagemaker_guard::aws::observe::Observer;
    use sagemaker_guard::aws::remediate::carry_out;
    use sagemaker_guard::domain::assess::Assessment;
    use sagemaker_guard::domain::execution::ExecutionResult;
    use sagemaker_guard::domain::plan::Plan;
    use sagemaker_guard::domain::resource::{ResourceKind, ResourceRef};

    let account = account(83);
    let c = client(&account).await;
    rooted_notebook(&c, "nb-plan").await;
    let text = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: plan}
spec:
  defaultAction: off
  controls:
    SageMaker.3: {action: remediate}
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = policy_file(dir.path(), text);

    // The dry-run prints the plan; the user approves it as printed.
    let (code, report) = audit_json(&account, &path, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let printed = report["results"][0]["action"].clone();
    assert_eq!(
        printed["steps"],
        serde_json::json!(["stop", "update RootAccess=Disabled", "start"]),
        "{printed:#}"
    );
    let mut plan: Plan = serde_json::from_value(printed).unwrap();
    assert!(plan.dry_run);
    plan.dry_run = false;

    let policy = sagemaker_guard::domain::policy::load("plan.yaml", text).unwrap();
    let observer = Observer::new(c.clone(), REGION);
    let gate = Gate::default();
    let fx = Effects {
        gate: &gate,
        client: &c,
        kms: None,
        settle: Duration::from_millis(100),
        intents: None,
        policy: "plan",
        mutations_per_second: 10,
        max_remediations_per_hour: 10,
        dry_run: false,
    };
    let key = ResourceRef {
        kind: ResourceKind::NotebookInstance,
        name: "nb-plan".into(),
        account: Some(account.clone()),
        region: Some(REGION.into()),
    };
    let mut done = Vec::new();
    for _ in 0..50 {
        let live = observer.observe_ref(&key, &policy).await.unwrap().unwrap();
        // Once the update is in, what is left of the plan is the start it owes the notebook.
        let compliant = live.notebook().unwrap().root_access.as_deref() == Some("Disabled");
        let a = Assessment {
            resource: live,
            verdicts: Vec::new(),
            plan: (!compliant).then(|| plan.clone()),
        };
        let e = carry_out(&fx, &a).await.unwrap();
        done.extend(e.done.clone());
        if compliant && e.result == ExecutionResult::NothingToDo {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        done,
        [
            "stop",
            "update RootAccess=Disabled",
            "start",
            "remove tags sagemaker-guard/restart"
        ]
    );
    let d = describe_notebook(&c, "nb-plan").await.unwrap();
    assert_eq!(d.root_access().map(|r| r.as_str()), Some("Disabled"));
    assert_eq!(
        d.notebook_instance_status(),
        Some(&NotebookInstanceStatus::InService)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_notebook_is_reported_once_however_often_it_is_looked_at() {
    let account = account(84);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, "nb-stuck").await;
    let outcomes = outcomes_queue(&q, &account, "guard-events").await;
    // The guard stopped it two hours ago, and it is still Stopping.
    stuck_in_stopping(&c, &account, "nb-stuck").await;
    let policy = FINDING_POLICY.replace("{action: finding}", "{action: remediate}");
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &policy,
        &["--no-initial-resync", "--settle-interval", "200ms"],
        |_| {},
    );
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-stuck")])
        .await;
    service.wait_for(
        "five looks at the stuck notebook",
        Duration::from_secs(60),
        |m| {
            metric(
                m,
                "sagemaker_guard_executed_actions_total",
                &["result=\"stuck\""],
            ) >= 5.0
        },
    );
    let mut published = Vec::new();
    for _ in 0..8 {
        published.extend(q.receive_bodies(&outcomes).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        distinct_events(&published, "Remediation Stuck", "nb-stuck"),
        1,
        "{published:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lower_cased_arn_does_not_slip_past_a_name_exemption() {
    let account = account(85);
    let c = client(&account).await;
    rooted_notebook(&c, "ML-Research-7").await;
    let policy = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: exempt}
spec:
  dryRun: false
  defaultAction: off
  exemptions:
    - {name: research, reason: owned by research, controls: [SageMaker.3], namePatterns: ["ML-Research-*"]}
  controls:
    SageMaker.3: {action: remediate}
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = policy_file(dir.path(), policy);
    // SageMaker lower-cases names inside ARNs; an AddTags event names the notebook that way.
    let arn = format!("arn:aws:sagemaker:{REGION}:{account}:notebook-instance/ml-research-7");
    let event = serde_json::json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.sagemaker",
        "account": account, "time": "2026-12-01T00:00:00Z", "region": REGION, "resources": [],
        "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": "AddTags", "awsRegion": REGION,
                   "recipientAccountId": account, "requestParameters": {"resourceArn": arn},
                   "responseElements": null}
    });
    let out = run_with_input(
        guard(&account)
            .args(["evaluate", "--event", "-", "--apply", "--policy"])
            .arg(&path),
        &event.to_string(),
    );
    let report = json(&out);
    assert_eq!(
        report["results"][0]["resourceName"], "ML-Research-7",
        "{report:#}"
    );
    assert_eq!(report["results"][0]["status"], "EXEMPT", "{report:#}");
    let d = describe_notebook(&c, "ML-Research-7").await.unwrap();
    assert_eq!(
        d.notebook_instance_status(),
        Some(&NotebookInstanceStatus::InService),
        "the exempt notebook was not stopped"
    );
}
