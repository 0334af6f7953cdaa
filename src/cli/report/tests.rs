use super::*;

use std::collections::BTreeMap;

use crate::domain::assess::assess;
use crate::domain::catalogue::ControlId;
use crate::domain::execution::Execution;
use crate::domain::resource::NotebookInstance;
use crate::domain::testing::{load_policy, now, observed_notebook};

const POLICY: &str = "dryRun: false\ndefaultAction: off\ncontrols: {SageMaker.1: {action: finding}, SageMaker.3: {action: remediate}}";

/// `nb-1`, stopped, without direct internet access, with root access: SageMaker.3 fails.
fn swept() -> Report {
    let nb = NotebookInstance {
        status: Some(crate::domain::resource::NotebookStatus::Stopped),
        direct_internet_access: Some("Disabled".into()),
        root_access: Some("Enabled".into()),
        ..NotebookInstance::default()
    };
    let a = assess(observed_notebook(nb), &load_policy(POLICY), now(), false);
    Report::new("test", &[a], Vec::new(), Vec::new())
}

/// What `--apply` did to `nb-1`: its executions, and SageMaker.3 then.
fn applied(executions: Vec<Execution>, s3: Status) -> Applied {
    Applied {
        resource_arn: "arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/nb-1".into(),
        resource_name: "nb-1".into(),
        executions,
        final_statuses: BTreeMap::from([
            (ControlId::SageMaker1, Status::Passed),
            (ControlId::SageMaker3, s3),
        ]),
        findings: Some("imported 2".into()),
        gone: false,
    }
}

fn execution(result: ExecutionResult, done: &[&str], notes: &[&str]) -> Execution {
    let mut e = Execution::new(result);
    e.done = done.iter().map(|s| s.to_string()).collect();
    e.notes = notes.iter().map(|s| s.to_string()).collect();
    e
}

#[test]
fn the_table_of_a_sweep() {
    let report = swept();
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.to_table(),
        "NotebookInstance nb-1  (111111111111, us-east-1, arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/nb-1)
  FAILED  SageMaker.3  RootAccess is Enabled
  PASSED  SageMaker.1  DirectInternetAccess is Disabled
  plan: update-in-place
    1. update RootAccess=Disabled

1 resource, 2 verdicts: 1 FAILED, 1 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR (policy test)
"
    );
}

#[test]
fn the_table_of_an_apply_says_what_was_done_and_the_state_after_it() {
    let mut report = swept();
    report.set_applied(vec![applied(
        vec![
            execution(
                ExecutionResult::Applied,
                &["update RootAccess=Disabled"],
                &[],
            ),
            execution(ExecutionResult::NothingToDo, &[], &[]),
        ],
        Status::Passed,
    )]);
    let table = report.to_table();
    assert!(
        table.ends_with(
            "    1. update RootAccess=Disabled

applied:
  nb-1: update RootAccess=Disabled

1 resource, 2 verdicts before --apply: 1 FAILED, 1 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR (policy test)
after --apply: 0 FAILED, 2 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR
"
        ),
        "{table}"
    );
    // The exit status is the state after: the one failure was fixed.
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn the_json_of_an_apply_keeps_the_sweeps_summary_and_adds_the_one_after() {
    let mut report = swept();
    report.set_applied(vec![applied(
        vec![execution(
            ExecutionResult::Applied,
            &["update RootAccess=Disabled"],
            &[],
        )],
        Status::Passed,
    )]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["summary"],
        serde_json::json!({"PASSED": 1, "FAILED": 1, "NOT_APPLICABLE": 0, "EXEMPT": 0, "ERROR": 0})
    );
    assert_eq!(
        json["summaryAfterApply"],
        serde_json::json!({"PASSED": 2, "FAILED": 0, "NOT_APPLICABLE": 0, "EXEMPT": 0, "ERROR": 0})
    );
    assert_eq!(
        json["applied"][0]["finalStatuses"],
        serde_json::json!({"SageMaker.1": "PASSED", "SageMaker.3": "PASSED"})
    );
    // Without --apply, neither `applied` nor `summaryAfterApply`.
    let json = serde_json::to_value(swept()).unwrap();
    assert!(json.get("applied").is_none() && json.get("summaryAfterApply").is_none());
}

#[test]
fn applied_resources_are_in_the_order_of_the_results_whatever_order_they_settled_in() {
    let mut report = swept();
    let mut other = applied(
        vec![execution(ExecutionResult::Applied, &["stop"], &[])],
        Status::Failed,
    );
    other.resource_arn = "arn:aws:sagemaker:us-east-1:111111111111:endpoint-config/ec".into();
    other.resource_name = "ec".into();
    let nb = applied(
        vec![execution(ExecutionResult::Applied, &["start"], &[])],
        Status::Passed,
    );
    report.set_applied(vec![nb, other]);
    let names: Vec<&str> = report
        .applied
        .iter()
        .map(|a| a.resource_name.as_str())
        .collect();
    assert_eq!(names, ["ec", "nb-1"]);
}

#[test]
fn an_apply_that_did_not_fix_exits_1_and_one_that_failed_exits_3() {
    let mut report = swept();
    report.set_applied(vec![applied(
        vec![execution(
            ExecutionResult::RateLimited,
            &[],
            &["over maxRemediationsPerHour (10): a finding instead"],
        )],
        Status::Failed,
    )]);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.summary_after_apply.map(|s| s.failed),
        Some(1),
        "still failing"
    );

    let mut report = swept();
    report.set_applied(vec![applied(
        vec![execution(
            ExecutionResult::Error,
            &[],
            &["SageMaker UpdateNotebookInstance failed: ThrottlingException: Rate exceeded"],
        )],
        Status::Failed,
    )]);
    assert_eq!(report.exit_code(), 3);
}

#[test]
fn each_apply_line_says_the_steps_then_how_it_ended() {
    let line = |executions| applied_line(&applied(executions, Status::Failed));
    use ExecutionResult::*;
    for (executions, expected) in [
        (
            vec![
                execution(Applied, &["stop"], &[]),
                execution(InProgress, &[], &["waiting while the notebook is Stopping"]),
                execution(Applied, &["update RootAccess=Disabled"], &[]),
                execution(Applied, &["start"], &[]),
            ],
            "nb-1: stop; update RootAccess=Disabled; start",
        ),
        (
            vec![execution(DryRun, &[], &["dry-run: nothing changed"])],
            "nb-1: dry-run: nothing changed",
        ),
        (
            vec![execution(
                Deferred,
                &[],
                &["onlyWhenStopped: recreated once its users stop it"],
            )],
            "nb-1: deferred: onlyWhenStopped: recreated once its users stop it",
        ),
        (
            vec![
                execution(Applied, &["capture configuration", "delete"], &[]),
                execution(Applied, &["create nb-1 as it was, with DirectInternetAccess=Disabled"], &[]),
                execution(Recreated, &[], &["recreated, now InService", "its intent's message stays on the queue"]),
            ],
            "nb-1: capture configuration; delete; create nb-1 as it was, with DirectInternetAccess=Disabled; recreated, now InService; its intent's message stays on the queue",
        ),
        (
            vec![
                execution(Applied, &["stop"], &[]),
                execution(Error, &[], &["SageMaker UpdateNotebookInstance failed: ValidationException: no"]),
            ],
            "nb-1: stop; error: SageMaker UpdateNotebookInstance failed: ValidationException: no",
        ),
    ] {
        assert_eq!(line(executions), expected);
    }
}

#[test]
fn a_sweep_error_is_one_line_with_the_request_id_and_a_hint() {
    let e = crate::aws::error::AwsError {
        service: "SageMaker",
        operation: "ListNotebookInstances",
        kind: crate::aws::error::ErrorKind::AccessDenied,
        code: "AccessDeniedException".into(),
        message: "User: arn:aws:iam::111111111111:user/x is not authorized".into(),
        request_id: Some("req-1".into()),
    };
    let report = Report::new(
        "test",
        &[],
        Vec::new(),
        vec![SweepError::new(
            "us-east-1",
            crate::domain::resource::ResourceKind::NotebookInstance,
            e,
        )],
    );
    assert_eq!(
        report.to_table(),
        "error: NotebookInstance in us-east-1 could not be listed: SageMaker ListNotebookInstances failed: AccessDeniedException: User: arn:aws:iam::111111111111:user/x is not authorized (request id req-1)
  hint: the credentials in use may not call sagemaker:ListNotebookInstances: grant it (`sagemaker-guard iam-policy --policy FILE` prints what the guard needs)
0 resources, 0 verdicts: 0 FAILED, 0 PASSED, 0 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR (policy test)
"
    );
    assert_eq!(report.exit_code(), 3);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["errors"][0],
        serde_json::json!({
            "region": "us-east-1",
            "resourceType": "AWS::SageMaker::NotebookInstance",
            "service": "SageMaker",
            "operation": "ListNotebookInstances",
            "code": "AccessDeniedException",
            "message": "User: arn:aws:iam::111111111111:user/x is not authorized",
            "requestId": "req-1"
        })
    );
}
