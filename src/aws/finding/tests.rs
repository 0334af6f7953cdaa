use super::*;

use crate::domain::assess::assess;
use crate::domain::resource::{arn, Details, NotebookInstance, NotebookStatus, Observed};
use crate::domain::testing::{load_policy, now, ACCOUNT, REGION};

const S3: ControlId = ControlId::SageMaker3;

fn ctx() -> FindingContext {
    FindingContext::new(ACCOUNT, REGION, "aws", "test", now())
}

/// A stopped notebook with root access as given.
fn stopped_notebook_with_root_access(root_access: &str) -> Observed {
    crate::domain::testing::observed_notebook(NotebookInstance {
        status: Some(NotebookStatus::Stopped),
        root_access: Some(root_access.into()),
        platform_identifier: Some("notebook-al2023-v1".into()),
        instance_type: Some("ml.t3.medium".into()),
        ..NotebookInstance::default()
    })
}

fn verdict(status: Status) -> Verdict {
    Verdict {
        control: S3,
        status,
        reason: "test".into(),
        exemption: None,
    }
}

/// The SageMaker.3 finding of a notebook, with the policy's plan.
fn s3_finding(root_access: &str) -> (AwsSecurityFinding, Assessment) {
    let policy = load_policy("controls: {SageMaker.3: {action: remediate}}");
    let a = assess(
        stopped_notebook_with_root_access(root_access),
        &policy,
        now(),
        true,
    );
    let v = a.verdicts.iter().find(|v| v.control == S3).unwrap().clone();
    let id = finding_id(&a.resource.arn, S3);
    let found: Vec<_> = findings(&a, &policy, &ctx())
        .into_iter()
        .filter(|f| f.id() == Some(id.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "one finding for SageMaker.3");
    let f = found.into_iter().next().unwrap();
    assert_eq!(f, build(&a, &v, &ctx()));
    (f, a)
}

#[test]
fn finding_id_is_deterministic() {
    let a = "arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/nb-1";
    assert_eq!(finding_id(a, S3), finding_id(a, S3));
    assert_eq!(
        finding_id(a, S3),
        "sagemaker-guard/arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/nb-1/SageMaker.3"
    );
    assert_ne!(finding_id(a, S3), finding_id(a, ControlId::SageMaker1));
}

#[test]
fn failed_notebook_finding() {
    let (f, a) = s3_finding("Enabled");
    let c = f.compliance().unwrap();
    assert_eq!(f.schema_version(), Some(SCHEMA_VERSION));
    assert_eq!(f.id(), Some(finding_id(&a.resource.arn, S3).as_str()));
    assert_eq!(
        f.product_arn(),
        Some("arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default")
    );
    assert!(f
        .generator_id()
        .unwrap()
        .starts_with(crate::domain::marks::SOURCE));
    assert_eq!(f.aws_account_id(), Some(ACCOUNT));
    assert_eq!(f.types(), [FINDING_TYPE]);
    assert_eq!(f.created_at(), Some("2026-11-29T00:00:00.000Z"));
    assert_eq!(f.updated_at(), f.created_at());
    assert_eq!(f.severity().unwrap().label(), Some(&SeverityLabel::High));
    assert_eq!(f.title(), Some(S3.control().title));
    assert!(f.description().unwrap().contains("RootAccess is Enabled"));
    assert_eq!(c.status(), Some(&ComplianceStatus::Failed));
    assert_eq!(c.security_control_id(), Some("SageMaker.3"));
    assert!(!c.related_requirements().is_empty());
    assert_eq!(f.record_state(), Some(&RecordState::Active));
    let r = &f.resources()[0];
    assert_eq!(r.r#type(), Some("AwsSageMakerNotebookInstance"));
    assert_eq!(r.id(), Some(a.resource.arn.as_str()));
    assert_eq!(r.partition(), Some(&Partition::Aws));
    let rec = f.remediation().unwrap().recommendation().unwrap();
    assert_eq!(rec.url(), Some(CONTROLS_URL));
    let text = rec.text().unwrap();
    assert!(text.starts_with(S3.control().remediation), "{text}");
    assert!(text.contains("update RootAccess=Disabled"), "{text}");
    let fields = f.product_fields().unwrap();
    assert_eq!(fields[POLICY_FIELD], "test");
    assert_eq!(fields[PLAN_FIELD], "update-in-place");
    assert!(!fields.contains_key(ACTION_FIELD));
}

#[test]
fn passed_is_archived() {
    let (f, _) = s3_finding("Disabled");
    assert_eq!(f.record_state(), Some(&RecordState::Archived));
    assert_eq!(
        f.compliance().unwrap().status(),
        Some(&ComplianceStatus::Passed)
    );
    assert!(!f.product_fields().unwrap().contains_key(PLAN_FIELD));
}

#[test]
fn exempt_is_archived_and_names_the_exemption() {
    let (_, a) = s3_finding("Enabled");
    let v = Verdict {
        exemption: Some("lab".into()),
        ..verdict(Status::Exempt)
    };
    let f = build(&a, &v, &ctx());
    assert_eq!(f.record_state(), Some(&RecordState::Archived));
    assert_eq!(
        f.compliance().unwrap().status(),
        Some(&ComplianceStatus::Passed)
    );
    assert_eq!(f.product_fields().unwrap()[EXEMPTION_FIELD], "lab");
}

#[test]
fn which_verdicts_become_findings() {
    use Action::*;
    let cases = [
        (Status::Failed, Finding, Some(FindingStatus::Failed)),
        (Status::Failed, Tag, Some(FindingStatus::Failed)),
        (Status::Failed, Remediate, Some(FindingStatus::Failed)),
        (Status::Failed, Off, None),
        (Status::Passed, Finding, Some(FindingStatus::Resolved)),
        (Status::Exempt, Remediate, Some(FindingStatus::Resolved)),
        (Status::NotApplicable, Finding, None),
        (Status::Error, Finding, None),
        (Status::Error, Remediate, None),
    ];
    for (status, action, want) in cases {
        assert_eq!(
            finding_status(&verdict(status), action),
            want,
            "{status:?} {action:?}"
        );
    }
}

#[test]
fn error_verdict_gives_no_finding() {
    let policy = load_policy("controls: {SageMaker.3: {action: remediate}}");
    let mut r = stopped_notebook_with_root_access("Enabled");
    r.details = None;
    let a = assess(r, &policy, now(), true);
    assert!(a.verdicts.iter().all(|v| v.status == Status::Error));
    assert!(findings(&a, &policy, &ctx()).is_empty());
}

#[test]
fn outcome_is_a_product_field() {
    let (_, a) = s3_finding("Enabled");
    let ctx = FindingContext {
        outcome: Some("planned (dry run)".into()),
        ..ctx()
    };
    let f = build(&a, &verdict(Status::Failed), &ctx);
    assert_eq!(
        f.product_fields().unwrap()[ACTION_FIELD],
        "planned (dry run)"
    );
}

#[test]
fn gone_is_archived() {
    let a = arn("aws", "eu-west-1", ACCOUNT, ResourceKind::Model, "m");
    let f = archived_for_gone(&a, ResourceKind::Model, ControlId::SageMaker5, &ctx());
    assert_eq!(f.id(), Some(finding_id(&a, ControlId::SageMaker5).as_str()));
    assert_eq!(f.record_state(), Some(&RecordState::Archived));
    assert_eq!(
        f.compliance().unwrap().status(),
        Some(&ComplianceStatus::Passed)
    );
    let r = &f.resources()[0];
    assert_eq!(r.r#type(), Some("Other"));
    assert_eq!(r.region(), Some("eu-west-1"));
}

#[test]
fn text_fits_asff_limits() {
    for c in ControlId::ALL {
        let a = arn("aws", REGION, ACCOUNT, c.control().resource_kind, "x");
        let f = archived_for_gone(&a, c.control().resource_kind, c, &ctx());
        assert!(f.title().unwrap().chars().count() <= MAX_TITLE);
        assert!(f.description().unwrap().chars().count() <= MAX_DESCRIPTION);
    }
    let long = "x".repeat(600);
    let t = truncate(&long, MAX_RECOMMENDATION);
    assert_eq!(t.chars().count(), MAX_RECOMMENDATION);
    assert!(t.ends_with('…'));
    assert_eq!(truncate("short", 10), "short");
}

#[test]
fn batches_of_at_most_100() {
    let sizes: Vec<usize> = batches((0..250).collect::<Vec<_>>())
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(batches(Vec::<u8>::new()).is_empty());
    assert_eq!(batches(vec![0; 100]).len(), 1);
}

#[test]
fn a_scheduled_recreate_says_when_and_how_to_opt_out() {
    let policy = load_policy(
        "controls: {SageMaker.1: {action: remediate}}\nremediation:\n  networks:\n    - {subnetId: subnet-1, securityGroupIds: [sg-1]}",
    );
    let mut r = stopped_notebook_with_root_access("Disabled");
    if let Some(Details::NotebookInstance(nb)) = &mut r.details {
        nb.direct_internet_access = Some("Enabled".into());
        nb.creation_time = Some(now().as_second() - 7 * 24 * 3600);
    }
    let a = assess(r, &policy, now(), false);
    let f = findings(&a, &policy, &ctx())
        .into_iter()
        .find(|f| f.id() == Some(finding_id(&a.resource.arn, ControlId::SageMaker1).as_str()))
        .unwrap();
    let when = "2026-12-02T00:00:00Z";
    assert_eq!(f.product_fields().unwrap()[RECREATE_AFTER_FIELD], when);
    let d = f.description().unwrap();
    assert!(d.contains(when) && d.contains("opt out"), "{d}");
}
