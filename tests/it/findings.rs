//! Security Hub findings against the emulator: import, update in place, archive.
//!
//! moto 5.2.5 implements `BatchImportFindings` (an import with a known `Id` updates that finding)
//! and `GetFindings`, but `GetFindings` ignores `Filters` and `SortCriteria`, and neither call
//! checks `UpdatedAt` ordering or that Security Hub is enabled. Each test uses an account of its
//! own, so the unfiltered result is this test's findings alone.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, ComplianceStatus, RecordState, StringFilter,
    StringFilterComparison,
};
use jiff::{SignedDuration, Timestamp};
use sagemaker_guard::aws::finding::{self, FindingContext, FindingsImporter};
use sagemaker_guard::domain::assess::assess;
use sagemaker_guard::domain::catalogue::ControlId;
use sagemaker_guard::domain::resource::{self, Details, NotebookInstance, Observed, ResourceKind};

use crate::common::{account, securityhub, REGION};

/// A Security Hub client for one account on the emulator.
fn notebook(account: &str, name: &str, root_access: &str) -> Observed {
    Observed {
        kind: ResourceKind::NotebookInstance,
        name: name.into(),
        arn: resource::arn("aws", REGION, account, ResourceKind::NotebookInstance, name),
        account: account.into(),
        region: REGION.into(),
        tags: None,
        details: Some(Details::NotebookInstance(NotebookInstance {
            root_access: Some(root_access.into()),
            ..NotebookInstance::default()
        })),
    }
}

/// The SageMaker.3 finding of a notebook, as the guard builds it at `now`.
fn s3_finding(account: &str, root_access: &str, now: Timestamp) -> AwsSecurityFinding {
    let text = "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata:\n  name: findings\n\
                spec:\n  controls: {SageMaker.3: {action: finding}}\n";
    let policy = sagemaker_guard::domain::policy::load("findings.yaml", text).unwrap();
    let a = assess(notebook(account, "nb-1", root_access), &policy, now, true);
    let ctx = FindingContext::new(account, REGION, "aws", &policy.name, now);
    let id = finding::finding_id(&a.resource.arn, ControlId::SageMaker3);
    finding::findings(&a, &policy, &ctx)
        .into_iter()
        .find(|f| f.id() == Some(id.as_str()))
        .expect("SageMaker.3 gives a finding")
}

async fn findings_with_id(
    client: &aws_sdk_securityhub::Client,
    id: &str,
) -> Vec<AwsSecurityFinding> {
    let filters = AwsSecurityFindingFilters::builder()
        .id(StringFilter::builder()
            .value(id)
            .comparison(StringFilterComparison::Equals)
            .build())
        .build();
    let out = client
        .get_findings()
        .filters(filters)
        .send()
        .await
        .expect("GetFindings");
    out.findings().to_vec()
}

#[tokio::test]
async fn a_failed_finding_is_updated_in_place_then_archived() {
    let account = account(10);
    let client = securityhub(&account);
    client
        .enable_security_hub()
        .send()
        .await
        .expect("EnableSecurityHub");
    let importer = FindingsImporter::new(client.clone());
    let gate = sagemaker_guard::aws::gate::Gate::default();
    let t0: Timestamp = Timestamp::now();
    let later = |secs| t0.checked_add(SignedDuration::from_secs(secs)).unwrap();

    let failed = s3_finding(&account, "Enabled", t0);
    let id = failed.id().unwrap().to_string();
    let summary = importer.import(&gate, vec![failed]).await.unwrap();
    assert_eq!((summary.calls, summary.imported), (1, 1));
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    // The same Id again, later: still one finding, updated.
    let again = s3_finding(&account, "Enabled", later(60));
    let updated_at = again.updated_at().unwrap().to_string();
    importer.import(&gate, vec![again]).await.unwrap();
    let found = findings_with_id(&client, &id).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].updated_at(), Some(updated_at.as_str()));
    assert_eq!(found[0].record_state(), Some(&RecordState::Active));
    assert_eq!(
        found[0].compliance().unwrap().status(),
        Some(&ComplianceStatus::Failed)
    );

    // The notebook passes: the same finding is archived, PASSED.
    let passed = s3_finding(&account, "Disabled", later(120));
    assert_eq!(passed.id(), Some(id.as_str()));
    importer.import(&gate, vec![passed]).await.unwrap();
    let found = findings_with_id(&client, &id).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].record_state(), Some(&RecordState::Archived));
    assert_eq!(
        found[0].compliance().unwrap().status(),
        Some(&ComplianceStatus::Passed)
    );
}

#[tokio::test]
async fn imports_in_batches_and_collects_refused_findings() {
    let account = account(11);
    let client = securityhub(&account);
    client
        .enable_security_hub()
        .send()
        .await
        .expect("EnableSecurityHub");
    let ctx = FindingContext::new(&account, REGION, "aws", "findings", Timestamp::now());
    let mut batch: Vec<AwsSecurityFinding> = (0..150)
        .map(|i| {
            let arn = resource::arn(
                "aws",
                REGION,
                &account,
                ResourceKind::Model,
                &format!("m-{i}"),
            );
            finding::archived_for_gone(&arn, ResourceKind::Model, ControlId::SageMaker5, &ctx)
        })
        .collect();
    // A finding without resources is refused, and the call still succeeds.
    batch[149].resources = Some(Vec::new());
    let refused = batch[149].id().unwrap().to_string();

    let gate = sagemaker_guard::aws::gate::Gate::default();
    let summary = FindingsImporter::new(client)
        .import(&gate, batch)
        .await
        .unwrap();
    assert_eq!(summary.calls, 2);
    assert_eq!(summary.imported, 149);
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    assert_eq!(summary.failed[0].id, refused);
    assert!(!summary.failed[0].message.is_empty());
}
