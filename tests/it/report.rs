//! What a person reads: AWS errors in one line with what to do, the table and JSON of
//! `audit --apply` (what was done, and the verdicts after it), the create step of a recreate,
//! rounded durations, and `--help`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Output;

use aws_sdk_sagemaker::types::{
    DirectInternetAccess, InstanceType, NotebookInstanceStatus, RootAccess,
};

use crate::common::service::*;
use crate::common::*;

const FIX_POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: fix}
spec:
  dryRun: false
  defaultAction: off
  controls:
    SageMaker.1: {action: finding}
    SageMaker.3: {action: remediate}
"#;

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Neither the SDK's debug output nor an HTTP answer's headers or body.
fn assert_no_debug_output(what: &str) {
    for debug in [
        "Response {",
        "headers",
        "SdkBody",
        "DispatchFailure(",
        "ServiceError(",
        "extensions",
        "<html",
        "DOCTYPE",
    ] {
        assert!(!what.contains(debug), "{debug} in: {what}");
    }
}

/// A notebook in a VPC, without direct internet access, running with root access: only
/// SageMaker.3 fails.
async fn root_notebook(c: &aws_sdk_sagemaker::Client, name: &str) {
    c.create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .subnet_id("subnet-1")
        .security_group_ids("sg-1")
        .direct_internet_access(DirectInternetAccess::Disabled)
        .root_access(RootAccess::Enabled)
        .platform_identifier("notebook-al2023-v1")
        .send()
        .await
        .unwrap();
    wait_status(c, name, NotebookInstanceStatus::InService).await;
}

#[tokio::test]
async fn run_says_a_missing_queue_in_one_line_and_what_to_check() {
    let account = account(150);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let url = format!("{}/{account}/no-such-queue", emulator_url());
    let out = guard(&account)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--queue-url",
            &url,
            "--policy",
        ])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "the error, then a hint: {stderr}");
    let first = format!(
        "error: the queue {url} cannot be reached: SQS GetQueueAttributes failed: \
         AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist. (request id "
    );
    assert!(lines[0].starts_with(&first), "{stderr}");
    assert!(lines[0].ends_with(')'), "{stderr}");
    assert!(
        lines[1].starts_with("  hint: check --queue-url: the queue must exist"),
        "{stderr}"
    );
    assert_no_debug_output(&stderr);
}

/// An endpoint that answers every request with a web server's HTML error page.
fn not_aws() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            // The whole request (headers, then as many bytes as Content-Length says), so that
            // the answer is read, not reset.
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let page = "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1><p>Error code: 501</p></body></html>\n";
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 501 Unsupported method\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    endpoint
}

#[test]
fn an_endpoint_that_is_not_aws_is_said_in_one_line_in_the_report_and_the_table() {
    let account = account(151);
    let endpoint = not_aws();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    let audit = |output: &str| -> Output {
        guard(&account)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .args(["audit", "--output", output, "--policy"])
            .arg(&policy)
            .output()
            .unwrap()
    };

    let out = audit("json");
    assert_eq!(out.status.code(), Some(3));
    let report = json(&out);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "notebooks only: {report:#}");
    assert_eq!(
        errors[0],
        serde_json::json!({
            "region": REGION,
            "resourceType": "AWS::SageMaker::NotebookInstance",
            "service": "SageMaker",
            "operation": "ListNotebookInstances",
            "code": "ResponseError",
            "message": "HTTP 501 with a text/html body, not an answer AWS gives",
        })
    );

    let out = audit("table");
    assert_eq!(out.status.code(), Some(3));
    let table = text(&out.stdout);
    assert_eq!(
        table,
        "error: NotebookInstance in us-east-1 could not be listed: SageMaker ListNotebookInstances failed: \
         ResponseError: HTTP 501 with a text/html body, not an answer AWS gives\n  \
         hint: check the endpoint (AWS_ENDPOINT_URL), the region (AWS_REGION) and the network\n\
         0 resources, 0 verdicts: 0 FAILED, 0 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR (policy fix)\n"
    );
    assert_no_debug_output(&table);
}

#[test]
fn no_connection_is_one_line_in_the_report() {
    let account = account(152);
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);
    // Nothing listens on port 9 of loopback.
    let out = guard(&account)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["audit", "--output", "json", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let report = json(&out);
    let e = &report["errors"][0];
    assert_eq!(e["code"], "DispatchFailure", "{report:#}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("Connection refused"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert_no_debug_output(&report.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_in_a_table_says_what_it_did_and_counts_the_verdicts_after_it() {
    let account = account(153);
    slow_transitions(&account);
    let c = client(&account).await;
    root_notebook(&c, "nb-root").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), FIX_POLICY);

    let out = guard(&account)
        .args(["audit", "--apply", "--poll-interval", "200ms", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "fixed: {table}");
    // The sweep's table first (what was found), then what was done, then both counts.
    assert!(
        table.contains("  FAILED  SageMaker.3  RootAccess is Enabled\n"),
        "{table}"
    );
    assert!(
        table.ends_with(
            "applied:\n  \
             nb-root: stop; update RootAccess=Disabled; start; remove tags sagemaker-guard/restart\n\n\
             1 resource, 2 verdicts before --apply: 1 FAILED, 1 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR (policy fix)\n\
             after --apply: 0 FAILED, 2 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR\n"
        ),
        "{table}"
    );

    // Again, in JSON: nothing left to do, and both counts agree.
    let (code, report) = audit_apply(&account, &policy, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(report["summary"]["FAILED"], 0, "{report:#}");
    assert_eq!(report["summaryAfterApply"], report["summary"], "{report:#}");
    assert!(report.get("applied").is_none(), "nothing done: {report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreate_lists_only_what_changes_and_says_its_intent_stays_queued() {
    let account = account(154);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    // In a subnet of its own: the subnet and its security groups are kept, not "changed".
    crate::recreate::rich_notebook(&c, "nb-rec", true).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &crate::recreate::policy(""));

    let (_, report) = audit_json(&account, &policy, &[]);
    let plan = &report["results"][0]["action"];
    assert_eq!(plan["kind"], "recreate", "{report:#}");
    let create = plan["structuredSteps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "create")
        .unwrap();
    let names: Vec<&str> = create["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["DirectInternetAccess", "RootAccess", "PlatformIdentifier"]
    );

    let out = guard(&account)
        .args(["audit", "--apply", "--poll-interval", "200ms"])
        .args(["--intent-queue-url", &q.url, "--intent-key-id", &key])
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with("  nb-rec: "))
        .unwrap_or_else(|| panic!("no line for nb-rec: {table}"));
    assert!(
        line.contains(
            "; capture configuration; delete; create nb-rec as it was, with \
             DirectInternetAccess=Disabled, RootAccess=Disabled, PlatformIdentifier=notebook-al2023-v1; "
        ),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            "; recreated, now InService; {}",
            sagemaker_guard::converge::INTENT_LEFT_ON_QUEUE
        )),
        "{line}"
    );
    // As it says: the message is still there, for the service.
    let bodies = q.receive_bodies(&q.url).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["detail"]["name"], "nb-rec");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_recreate_says_when_in_rounded_time() {
    let account = account(155);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    crate::recreate::rich_notebook(&c, "nb-old", true).await;
    let week_ago = jiff::Timestamp::now().as_second() - 7 * 24 * 3600;
    emulator_post(
        "/sg-emulator/notebook-creation-time",
        &format!(
            r#"{{"account": "{account}", "region": "{REGION}", "name": "nb-old", "creationTime": {week_ago}}}"#
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        &crate::recreate::policy("      gracePeriod: 72h"),
    );
    let (code, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert_eq!(code, Some(1), "still failing until then: {report:#}");
    let executions = report["applied"][0]["executions"].as_array().unwrap();
    let scheduled = executions
        .iter()
        .find(|e| e["result"] == "scheduled")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(scheduled["requeueAfter"], "3days", "{report:#}");
}

#[test]
fn every_commands_help_says_what_it_does() {
    let account = account(156);
    let help = |command: &str| {
        let out = guard(&account).args([command, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        text(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let run = help("run");
    for does in [
        "findings, tags, in-place notebook fixes, stop-and-recreate of notebooks",
        "replacement endpoint configs",
        "Nothing changes while the policy (or --dry-run) says dry-run",
    ] {
        assert!(run.contains(does), "run --help lacks `{does}`: {run}");
    }
    let audit = help("audit");
    for does in [
        "Read-only unless --apply",
        "say what was done to each resource and count the verdicts after it",
        "a grace period or a user's stop is not waited for",
        "The message stays on the queue after the recreate",
    ] {
        assert!(audit.contains(does), "audit --help lacks `{does}`: {audit}");
    }
    let evaluate = help("evaluate");
    assert!(evaluate.contains("as `audit --apply` does"), "{evaluate}");
}
