//! Names as SageMaker spells them. SageMaker lower-cases a name inside its ARN and accepts either
//! spelling in its calls, so an event may name `notebook-instance/ml-research-7` for the notebook
//! `ML-Research-7`. Whatever way the guard is reached, an exemption by name holds, a notebook
//! that is not exempt is fixed, and what the guard reports (logs, outcome events, reports,
//! findings) uses Describe's spelling and ARN.

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{InstanceType, NotebookInstanceStatus};
use aws_sdk_sagemaker::Client;

use crate::common::service::*;
use crate::common::*;

/// SageMaker.3 (root access) fixed, except on the research team's notebooks.
const POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: names}
spec:
  dryRun: false
  defaultAction: off
  exemptions:
    - {name: research, reason: owned by research, controls: [SageMaker.3], namePatterns: ["ML-Research-*"]}
  controls:
    SageMaker.3: {action: remediate}
"#;

const EXEMPT: &str = "ML-Research-7";
const NOT_EXEMPT: &str = "ML-Ops-7";

/// A notebook's ARN as SageMaker writes it: the name in lower case.
fn lower_cased_arn(account: &str, name: &str) -> String {
    format!(
        "arn:aws:sagemaker:{REGION}:{account}:notebook-instance/{}",
        name.to_lowercase()
    )
}

/// A running notebook that fails SageMaker.3 (root access is on by default).
async fn rooted_notebook(c: &Client, name: &str) {
    c.create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .send()
        .await
        .unwrap();
    wait_status(c, name, NotebookInstanceStatus::InService).await;
}

/// Everything a stop, update or start would change: status, settings, the time of the last
/// change (which every transition moves) and the tags.
async fn state(c: &Client, name: &str) -> serde_json::Value {
    let d = describe_notebook(c, name).await.unwrap();
    let tags = c
        .list_tags()
        .resource_arn(d.notebook_instance_arn().unwrap())
        .send()
        .await
        .unwrap();
    serde_json::json!({
        "name": d.notebook_instance_name(),
        "arn": d.notebook_instance_arn(),
        "status": d.notebook_instance_status().map(|s| s.as_str()),
        "rootAccess": d.root_access().map(|r| r.as_str()),
        "lastModified": d.last_modified_time().map(|t| format!("{t:?}")),
        "tags": tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(),
    })
}

/// The SageMaker calls that change something, with their counts, made in the account.
fn sagemaker_changes(account: &str) -> Vec<(String, u64)> {
    const READS: [&str; 3] = ["Describe", "List", "Get"];
    calls(account)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "sagemaker")
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .filter(|(action, _)| !READS.iter().any(|r| action.starts_with(r)))
        .collect()
}

/// The first `reconciled` log line of the service, once there is one.
fn first_reconcile(service: &Service) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some(line) = service.reconciled().into_iter().next() {
            return line;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no reconcile: {:#?}",
            service.tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn envelope(
    account: &str,
    source: &str,
    detail_type: &str,
    detail: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "e", "detail-type": detail_type, "source": source,
        "account": account, "time": "2026-12-01T00:00:00Z", "region": REGION, "resources": [],
        "detail": detail
    })
}

/// Security Hub's own SageMaker.3 finding (ASFF) about the resource with this ARN.
fn asff_finding(account: &str, arn: &str) -> String {
    envelope(
        account,
        "aws.securityhub",
        "Security Hub Findings - Imported",
        serde_json::json!({"findings": [{
            "SchemaVersion": "2018-10-08",
            "Id": format!("arn:aws:securityhub:{REGION}:{account}:security-control/SageMaker.3/finding/1"),
            "GeneratorId": "security-control/SageMaker.3",
            "AwsAccountId": account,
            "Compliance": {"Status": "FAILED", "SecurityControlId": "SageMaker.3"},
            "Resources": [{"Type": "AwsSageMakerNotebookInstance", "Id": arn, "Region": REGION}]
        }]}),
    )
    .to_string()
}

/// Security Hub's own SageMaker.3 finding (OCSF): the ARN in `uid_alt`, AWS Config's resource id
/// in `uid`.
fn ocsf_finding(account: &str, arn: &str) -> String {
    let id = arn.rsplit('/').next().unwrap();
    envelope(
        account,
        "aws.securityhub",
        "Findings Imported V2",
        serde_json::json!({"findings": [{
            "class_name": "Compliance Finding",
            "compliance": {"control": "SageMaker.3", "status": "Fail"},
            "metadata": {"product": {"name": "Security Hub", "vendor_name": "AWS"}},
            "resources": [{"type": "AWS::SageMaker::NotebookInstance", "uid": id, "uid_alt": arn,
                           "region": REGION}]
        }]}),
    )
    .to_string()
}

/// A tag call recorded by CloudTrail, which names its resource by ARN.
fn tag_call(account: &str, event_name: &str, arn: &str) -> String {
    let request = match event_name {
        "AddTags" => {
            serde_json::json!({"resourceArn": arn, "tags": [{"key": "team", "value": "research"}]})
        }
        _ => serde_json::json!({"resourceArn": arn, "tagKeys": ["team"]}),
    };
    envelope(
        account,
        "aws.sagemaker",
        "AWS API Call via CloudTrail",
        serde_json::json!({"eventSource": "sagemaker.amazonaws.com", "eventName": event_name,
                           "awsRegion": REGION, "recipientAccountId": account,
                           "requestParameters": request, "responseElements": null}),
    )
    .to_string()
}

/// SageMaker's state-change event, naming the notebook by its ARN alone.
fn state_change(account: &str, arn: &str) -> String {
    envelope(
        account,
        "aws.sagemaker",
        "SageMaker Notebook Instance State Change",
        serde_json::json!({"NotebookInstanceArn": arn, "NotebookInstanceStatus": "InService"}),
    )
    .to_string()
}

/// Sends the event `event(account, lower-cased ARN)` about the exempt `ML-Research-7` to the
/// service and checks that it was judged, exempt, under its own name, and that nothing changed.
async fn the_exempt_notebook_is_left_alone(n: u32, trigger: &str, event: fn(&str, &str) -> String) {
    let account = account(n);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, EXEMPT).await;
    let before = state(&c, EXEMPT).await;
    let arn = lower_cased_arn(&account, EXEMPT);
    assert_eq!(
        before["arn"],
        arn.as_str(),
        "the emulator spells ARNs as SageMaker does"
    );
    let service = Service::start_with_policy(
        &account,
        &q.url,
        POLICY,
        &["--no-initial-resync", "--settle-interval", "200ms"],
        |_| {},
    );

    q.send_bodies(&[event(&account, &arn)]).await;
    let line = first_reconcile(&service);
    q.wait_empty(&q.url, Duration::from_secs(30)).await;

    // Judged, under SageMaker's spelling, and exempt.
    assert_eq!(line["trigger"], trigger, "{line:#}");
    assert_eq!(line["resource"], EXEMPT, "{line:#}");
    assert_eq!(line["resource_arn"], arn.as_str(), "{line:#}");
    assert_eq!(line["result"], "compliant", "{line:#}");
    // JSON logs carry the verdicts as JSON.
    let verdicts = &line["verdicts"];
    assert!(
        verdicts
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["control"] == "SageMaker.3" && v["status"] == "EXEMPT"),
        "{verdicts:#}"
    );
    assert!(line.get("plan").is_none(), "no plan, no field: {line:#}");
    // Nothing changed, and nothing but the test's own create was asked to change anything.
    assert_eq!(state(&c, EXEMPT).await, before);
    assert_eq!(
        sagemaker_changes(&account),
        vec![("CreateNotebookInstance".to_string(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_asff_finding_naming_the_lower_cased_arn_of_an_exempt_notebook_changes_nothing() {
    the_exempt_notebook_is_left_alone(90, "securityhub", asff_finding).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ocsf_finding_naming_the_lower_cased_arn_of_an_exempt_notebook_changes_nothing() {
    the_exempt_notebook_is_left_alone(91, "securityhub", ocsf_finding).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_add_tags_call_on_the_lower_cased_arn_of_an_exempt_notebook_changes_nothing() {
    the_exempt_notebook_is_left_alone(92, "cloudtrail", |account, arn| {
        tag_call(account, "AddTags", arn)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_tags_call_on_the_lower_cased_arn_of_an_exempt_notebook_changes_nothing() {
    the_exempt_notebook_is_left_alone(93, "cloudtrail", |account, arn| {
        tag_call(account, "DeleteTags", arn)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_change_naming_the_lower_cased_arn_of_an_exempt_notebook_changes_nothing() {
    the_exempt_notebook_is_left_alone(94, "state-change", state_change).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_fixes_a_notebook_an_event_names_by_its_lower_cased_arn_and_reports_its_own_spelling(
) {
    let account = account(95);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, NOT_EXEMPT).await;
    let outcomes = outcomes_queue(&q, &account, "guard-events").await;
    let arn = lower_cased_arn(&account, NOT_EXEMPT);
    let policy = POLICY.replace(
        "  exemptions:",
        "  remediation: {eventBus: guard-events}\n  exemptions:",
    );
    let service = Service::start_with_policy(
        &account,
        &q.url,
        &policy,
        &["--no-initial-resync", "--settle-interval", "200ms"],
        |_| {},
    );

    q.send_bodies(&[asff_finding(&account, &arn)]).await;
    let start = Instant::now();
    loop {
        let s = state(&c, NOT_EXEMPT).await;
        let restarted = s["status"] == "InService" && !s["tags"].to_string().contains("restart");
        if s["rootAccess"] == "Disabled" && restarted {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not fixed: {s}\n{:#?}",
            service.tail(10)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every look was logged under SageMaker's spelling and ARN, not the event's.
    let lines = service.reconciled();
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["resource"], NOT_EXEMPT, "{line:#}");
        assert_eq!(line["resource_arn"], arn.as_str(), "{line:#}");
    }
    // So was every outcome published.
    let mut published = Vec::new();
    for _ in 0..20 {
        published.extend(q.receive_bodies(&outcomes).await);
        if !published.is_empty() {
            break;
        }
    }
    assert!(!published.is_empty(), "the fix is published");
    for event in &published {
        assert_eq!(event["detail"]["resourceName"], NOT_EXEMPT, "{event:#}");
        assert_eq!(event["detail"]["resourceArn"], arn.as_str(), "{event:#}");
        assert_eq!(event["resources"][0], arn.as_str(), "{event:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn evaluate_apply_fixes_a_notebook_named_by_its_lower_cased_arn_and_reports_its_own_spelling()
{
    let account = account(96);
    let c = client(&account).await;
    rooted_notebook(&c, NOT_EXEMPT).await;
    let arn = lower_cased_arn(&account, NOT_EXEMPT);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), POLICY);
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
        &tag_call(&account, "DeleteTags", &arn),
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(
        report["results"][0]["resourceName"], NOT_EXEMPT,
        "{report:#}"
    );
    assert_eq!(
        report["results"][0]["resourceArn"],
        arn.as_str(),
        "{report:#}"
    );
    let applied = &report["applied"][0];
    assert_eq!(applied["resourceName"], NOT_EXEMPT, "{report:#}");
    assert_eq!(applied["resourceArn"], arn.as_str(), "{report:#}");
    assert_eq!(
        applied["finalStatuses"]["SageMaker.3"], "PASSED",
        "{report:#}"
    );
    assert_eq!(state(&c, NOT_EXEMPT).await["rootAccess"], "Disabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finding_filed_through_a_lower_cased_arn_is_the_one_the_sweep_filed() {
    let account = account(97);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, NOT_EXEMPT).await;
    let arn = lower_cased_arn(&account, NOT_EXEMPT);
    let policy = POLICY.replace("{action: remediate}", "{action: finding}");
    let dir = tempfile::tempdir().unwrap();
    let path = policy_file(dir.path(), &policy);
    let hub = securityhub(&account);
    let findings = || async {
        let out = hub.get_findings().send().await.unwrap();
        out.findings()
            .iter()
            .map(|f| {
                (
                    f.id().unwrap_or_default().to_string(),
                    f.updated_at().unwrap_or_default().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };

    // The sweep files it, from the listed notebook.
    let (code, report) = audit_apply(&account, &path, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let swept = findings().await;
    let id = format!("sagemaker-guard/{arn}/SageMaker.3");
    assert_eq!(
        swept.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );

    // Security Hub's own finding names the notebook by its lower-cased ARN: the service files
    // the same finding again, updated in place, not a second one.
    let service =
        Service::start_with_policy(&account, &q.url, &policy, &["--no-initial-resync"], |_| {});
    q.send_bodies(&[asff_finding(&account, &arn)]).await;
    first_reconcile(&service);
    let start = Instant::now();
    loop {
        let now = findings().await;
        assert_eq!(
            now.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
            vec![id.as_str()],
            "one finding for one notebook and control"
        );
        if now[0].1 != swept[0].1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the service never filed its finding: {:#?}",
            service.tail(10)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_spelling_of_a_notebook_is_one_key_and_every_message_naming_it_settles() {
    let account = account(98);
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    rooted_notebook(&c, EXEMPT).await;
    let arn = lower_cased_arn(&account, EXEMPT);
    // The initial resync names `ML-Research-7`, as listed; the events, each in its own spelling,
    // arrive with it.
    let service = Service::start_with_policy(&account, &q.url, POLICY, &[], |_| {});
    q.send_bodies(&[
        asff_finding(&account, &arn),
        cloudtrail(&account, "UpdateNotebookInstance", EXEMPT),
        cloudtrail(&account, "StartNotebookInstance", "ml-research-7"),
        state_change(&account, &arn),
    ])
    .await;
    // Each message is answered by a reconcile of the one key, whichever spelling queued it.
    q.wait_empty(&q.url, Duration::from_secs(30)).await;

    let lines: Vec<serde_json::Value> = service
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l["fields"]["message"] == "reconciled")
        .cloned()
        .collect();
    assert!(!lines.is_empty());
    // (start, end) of each reconcile, in microseconds.
    let mut spans: Vec<(i64, i64)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["fields"]["resource"], EXEMPT, "{l:#}");
            let end: jiff::Timestamp = l["timestamp"].as_str().unwrap().parse().unwrap();
            let end = end.as_microsecond();
            let took = (l["fields"]["duration_ms"].as_f64().unwrap() * 1000.0) as i64;
            (end - took, end)
        })
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        // A 1 ms allowance for the wall clock the log stamps and the monotonic one that times.
        assert!(
            pair[1].0 + 1_000 >= pair[0].1,
            "one notebook reconciled twice at once: {spans:?}"
        );
    }
    assert_eq!(
        sagemaker_changes(&account),
        vec![("CreateNotebookInstance".to_string(), 1)]
    );
}
