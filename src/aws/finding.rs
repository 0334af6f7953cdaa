//! Findings: the guard's verdicts as Security Hub findings (ASFF), and their import.
//!
//! Building a finding is a pure function of an assessment, one verdict and a [`FindingContext`];
//! only [`FindingsImporter`] calls AWS. Each (resource, control) has one finding whose `Id` is
//! [`finding_id`], so importing again updates it in place: a FAILED finding is later archived,
//! with Compliance PASSED, by importing the same `Id` once the resource passes or is exempt.
//!
//! Which verdicts become findings ([`finding_status`]):
//! - FAILED, when the control's action is `finding`, `tag` or `remediate`: an ACTIVE finding.
//! - PASSED and EXEMPT: an ARCHIVED finding with Compliance PASSED. The guard does not remember
//!   what it reported before, so it archives on every pass; importing an archived finding for a
//!   resource that was never reported creates a finding nobody sees by default (Security Hub
//!   shows ACTIVE findings), which is harmless and keeps the guard stateless.
//! - NOT_APPLICABLE: none. ERROR: none, because doubt is never reported as compliance either way.
//!
//! Security Hub keeps an update only when its `UpdatedAt` is later than the stored one: the
//! context's `now` must be the time of this verdict, never a fixed time.

use std::collections::HashMap;

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, FindingProviderFields,
    FindingProviderSeverity, Partition, Recommendation, RecordState, Remediation, Resource,
    Severity as AsffSeverity, SeverityLabel,
};
use jiff::Timestamp;

use crate::aws::gate::{Gate, Mutation};
use crate::aws::observe::AwsError;
use crate::domain::assess::Assessment;
use crate::domain::catalogue::{ControlId, Severity};
use crate::domain::evaluate::{Status, Verdict};
use crate::domain::marks::SOURCE;
use crate::domain::policy::{Action, Policy};
use crate::domain::resource::{ResourceKind, ResourceRef};

/// The IAM permissions the importer needs.
pub const PERMISSIONS: &[&str] = &["securityhub:BatchImportFindings"];

/// The ASFF version every finding is written in.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// The finding type of a failed configuration check against a compliance standard.
pub const FINDING_TYPE: &str =
    "Software and Configuration Checks/Industry and Regulatory Standards";

/// AWS's page of the SageMaker controls, as every finding's remediation link.
pub const CONTROLS_URL: &str =
    "https://docs.aws.amazon.com/securityhub/latest/userguide/sagemaker-controls.html";

/// At most this many findings go in one `BatchImportFindings` call (AWS's limit).
pub const MAX_BATCH: usize = 100;

// ASFF's length limits, in characters: longer text is refused with the whole finding.
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1024;
const MAX_RECOMMENDATION: usize = 512;

/// The `ProductFields` keys of the guard's findings.
pub const POLICY_FIELD: &str = "sagemaker-guard/policy";
pub const PLAN_FIELD: &str = "sagemaker-guard/plan";
/// The time a notebook is scheduled to be recreated at, once its grace period is over.
pub const RECREATE_AFTER_FIELD: &str = "sagemaker-guard/recreate-after";
pub const ACTION_FIELD: &str = "sagemaker-guard/action";
pub const EXEMPTION_FIELD: &str = "sagemaker-guard/exemption";

/// Where and when findings are written: the same for every finding of one import.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingContext {
    /// The account that imports, which must be the finding's `AwsAccountId` with the default
    /// product.
    pub account: String,
    /// The region whose Security Hub receives the findings.
    pub region: String,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    pub product_arn: String,
    /// The time of the verdicts: `CreatedAt` and `UpdatedAt`.
    pub now: Timestamp,
    /// The name of the policy in force.
    pub policy: String,
    /// What the guard did or will do about the resource, in words.
    pub outcome: Option<String>,
}

impl FindingContext {
    /// A context for the account's default product, the one every account may import into.
    pub fn new(
        account: impl Into<String>,
        region: impl Into<String>,
        partition: impl Into<String>,
        policy: impl Into<String>,
        now: Timestamp,
    ) -> Self {
        let (account, region, partition) = (account.into(), region.into(), partition.into());
        FindingContext {
            product_arn: default_product_arn(&partition, &region, &account),
            account,
            region,
            partition,
            now,
            policy: policy.into(),
            outcome: None,
        }
    }
}

/// The ARN of an account's default product in Security Hub.
pub fn default_product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

/// The one finding of a (resource, control): the same on every import, so an import updates it.
pub fn finding_id(resource_arn: &str, control: ControlId) -> String {
    format!("{SOURCE}/{resource_arn}/{control}")
}

/// The generator of a control's findings. It starts with [`SOURCE`], by which the
/// guard recognises, and ignores, the import events of its own findings.
pub fn generator_id(control: ControlId) -> String {
    format!("{SOURCE}/{control}")
}

/// What a verdict tells Security Hub, when it tells anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingStatus {
    /// Compliance FAILED, record ACTIVE.
    Failed,
    /// Compliance PASSED, record ARCHIVED: closes an earlier FAILED finding in place.
    Resolved,
}

/// Whether a verdict becomes a finding, under the action the policy gives its control.
pub fn finding_status(verdict: &Verdict, action: Action) -> Option<FindingStatus> {
    if action == Action::Off {
        return None;
    }
    match verdict.status {
        Status::Failed => Some(FindingStatus::Failed),
        Status::Passed | Status::Exempt => Some(FindingStatus::Resolved),
        Status::NotApplicable | Status::Error => None,
    }
}

/// The findings of an assessment: one per verdict that [`finding_status`] reports.
/// The findings to file for a resource: those of [`findings`] whose control is not in dry-run
/// (a control in dry-run changes nothing, Security Hub included).
pub fn to_file(a: &Assessment, policy: &Policy, ctx: &FindingContext) -> Vec<AwsSecurityFinding> {
    findings(a, policy, ctx)
        .into_iter()
        .filter(|f| {
            let control = f
                .compliance()
                .and_then(|c| c.security_control_id())
                .unwrap_or_default();
            policy
                .controls
                .iter()
                .any(|(id, s)| id.as_str() == control && !s.dry_run)
        })
        .collect()
}

pub fn findings(a: &Assessment, policy: &Policy, ctx: &FindingContext) -> Vec<AwsSecurityFinding> {
    a.verdicts
        .iter()
        .filter(|v| {
            let action = policy.control(v.control).map_or(Action::Off, |s| s.action);
            finding_status(v, action).is_some()
        })
        .map(|v| build(a, v, ctx))
        .collect()
}

/// The finding of one verdict. Total: NOT_APPLICABLE and ERROR map to Compliance NOT_AVAILABLE,
/// but [`finding_status`] decides whether they are sent at all.
pub fn build(a: &Assessment, verdict: &Verdict, ctx: &FindingContext) -> AwsSecurityFinding {
    let control = verdict.control.control();
    let (compliance, record) = match verdict.status {
        Status::Failed => (ComplianceStatus::Failed, RecordState::Active),
        Status::Passed | Status::Exempt => (ComplianceStatus::Passed, RecordState::Archived),
        // Security Hub archives its own NOT_APPLICABLE control findings.
        Status::NotApplicable => (ComplianceStatus::NotAvailable, RecordState::Archived),
        Status::Error => (ComplianceStatus::NotAvailable, RecordState::Active),
    };
    let mut recommendation = control.remediation.to_string();
    let mut fields = HashMap::from([(POLICY_FIELD.to_string(), ctx.policy.clone())]);
    let mut description = format!("{} This resource: {}.", control.evaluation, verdict.reason);
    if let Some(plan) = a.plan.as_ref().filter(|_| verdict.status == Status::Failed) {
        fields.insert(PLAN_FIELD.to_string(), plan.kind.as_str().to_string());
        for step in &plan.steps {
            if let crate::domain::plan::Step::WaitUntil { time: t } = step {
                fields.insert(RECREATE_AFTER_FIELD.to_string(), t.to_string());
            }
        }
        // What will happen, when, and how to opt out (a grace period), or why it cannot.
        for note in &plan.notes {
            description.push(' ');
            description.push_str(note);
            if !note.ends_with('.') {
                description.push('.');
            }
        }
        if !plan.steps.is_empty() {
            let steps: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
            recommendation.push_str(&format!(
                " The guard's plan{}: {}.",
                if plan.dry_run { " (dry run)" } else { "" },
                steps.join("; ")
            ));
        }
    }
    if let Some(outcome) = &ctx.outcome {
        fields.insert(ACTION_FIELD.to_string(), outcome.clone());
    }
    if let Some(exemption) = &verdict.exemption {
        fields.insert(EXEMPTION_FIELD.to_string(), exemption.clone());
    }
    finding(
        Parts {
            resource_arn: &a.resource.arn,
            kind: a.resource.kind,
            resource_region: &a.resource.region,
            control: verdict.control,
            description,
            recommendation,
            compliance,
            record,
            fields,
        },
        ctx,
    )
}

/// The finding that closes a control's finding on a resource that no longer exists.
pub fn archived_for_gone(
    resource_arn: &str,
    kind: ResourceKind,
    control: ControlId,
    ctx: &FindingContext,
) -> AwsSecurityFinding {
    let region = ResourceRef::from_arn(resource_arn)
        .and_then(|r| r.region)
        .unwrap_or_else(|| ctx.region.clone());
    let mut fields = HashMap::from([(POLICY_FIELD.to_string(), ctx.policy.clone())]);
    if let Some(outcome) = &ctx.outcome {
        fields.insert(ACTION_FIELD.to_string(), outcome.clone());
    }
    finding(
        Parts {
            resource_arn,
            kind,
            resource_region: &region,
            control,
            description: format!(
                "{} This resource no longer exists.",
                control.control().evaluation
            ),
            recommendation: control.control().remediation.to_string(),
            compliance: ComplianceStatus::Passed,
            record: RecordState::Archived,
            fields,
        },
        ctx,
    )
}

/// What differs between the findings of [`build`] and [`archived_for_gone`].
struct Parts<'a> {
    resource_arn: &'a str,
    kind: ResourceKind,
    resource_region: &'a str,
    control: ControlId,
    description: String,
    recommendation: String,
    compliance: ComplianceStatus,
    record: RecordState,
    fields: HashMap<String, String>,
}

fn finding(p: Parts<'_>, ctx: &FindingContext) -> AwsSecurityFinding {
    let control = p.control.control();
    // Security Hub's own control findings are INFORMATIONAL once they pass; the control's
    // severity stays in `Original`.
    let label = if p.compliance == ComplianceStatus::Passed {
        SeverityLabel::Informational
    } else {
        severity_label(control.severity)
    };
    let time = rfc3339(ctx.now);
    let resource_type = match p.kind {
        ResourceKind::NotebookInstance => "AwsSageMakerNotebookInstance",
        _ => "Other",
    };
    AwsSecurityFinding::builder()
        .schema_version(SCHEMA_VERSION)
        .id(finding_id(p.resource_arn, p.control))
        .product_arn(&ctx.product_arn)
        .generator_id(generator_id(p.control))
        .aws_account_id(&ctx.account)
        .types(FINDING_TYPE)
        .created_at(&time)
        .updated_at(&time)
        .severity(
            AsffSeverity::builder()
                .label(label.clone())
                .original(control.severity.to_string())
                .build(),
        )
        // Security Hub takes later changes of Severity and Types from here only.
        .finding_provider_fields(
            FindingProviderFields::builder()
                .severity(
                    FindingProviderSeverity::builder()
                        .label(label)
                        .original(control.severity.to_string())
                        .build(),
                )
                .types(FINDING_TYPE)
                .build(),
        )
        .title(truncate(control.title, MAX_TITLE))
        .description(truncate(&p.description, MAX_DESCRIPTION))
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(truncate(&p.recommendation, MAX_RECOMMENDATION))
                        .url(CONTROLS_URL)
                        .build(),
                )
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(p.compliance)
                .security_control_id(control.id)
                .set_related_requirements((!control.related_requirements.is_empty()).then(|| {
                    control
                        .related_requirements
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                }))
                .build(),
        )
        .resources(
            Resource::builder()
                .r#type(resource_type)
                .id(p.resource_arn)
                .region(p.resource_region)
                .partition(Partition::from(ctx.partition.as_str()))
                .build(),
        )
        .set_product_fields(Some(p.fields))
        .record_state(p.record)
        .build()
}

fn severity_label(s: Severity) -> SeverityLabel {
    match s {
        Severity::Low => SeverityLabel::Low,
        Severity::Medium => SeverityLabel::Medium,
        Severity::High => SeverityLabel::High,
    }
}

/// RFC 3339 in UTC with milliseconds, a form ASFF accepts.
fn rfc3339(t: Timestamp) -> String {
    format!("{t:.3}")
}

/// At most `max` characters; cut text ends with an ellipsis.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Splits items into the batches of successive `BatchImportFindings` calls.
pub fn batches<T>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(items.len().div_ceil(MAX_BATCH));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        out.push(items.by_ref().take(MAX_BATCH).collect());
    }
    out
}

/// A finding Security Hub refused, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedFinding {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// `BatchImportFindings` calls made.
    pub calls: usize,
    /// Findings Security Hub accepted.
    pub imported: usize,
    /// Findings Security Hub refused: the call itself succeeded.
    pub failed: Vec<FailedFinding>,
}

/// Imports findings into Security Hub, through the gate: the one place this module calls AWS.
#[derive(Clone, Debug)]
pub struct FindingsImporter {
    client: aws_sdk_securityhub::Client,
}

impl FindingsImporter {
    pub fn new(client: aws_sdk_securityhub::Client) -> Self {
        FindingsImporter { client }
    }

    /// Imports findings, [`MAX_BATCH`] per call. Findings Security Hub refuses are collected in
    /// the summary. A call that fails stops the import with its error; the batches before it
    /// were imported, and importing them again (with a later `UpdatedAt`) is harmless.
    pub async fn import(
        &self,
        gate: &Gate,
        findings: Vec<AwsSecurityFinding>,
    ) -> Result<ImportSummary, AwsError> {
        let mut summary = ImportSummary::default();
        for batch in batches(findings) {
            let call = self
                .client
                .batch_import_findings()
                .set_findings(Some(batch))
                .send();
            let out = gate
                .mutate(Mutation::ImportFindings, false, None, call)
                .await?;
            summary.calls += 1;
            summary.imported += usize::try_from(out.success_count().unwrap_or(0)).unwrap_or(0);
            summary
                .failed
                .extend(out.failed_findings().iter().map(|f| FailedFinding {
                    id: f.id().unwrap_or_default().to_string(),
                    code: f.error_code().unwrap_or_default().to_string(),
                    message: f.error_message().unwrap_or_default().to_string(),
                }));
        }
        Ok(summary)
    }

    /// Which of these finding ids Security Hub holds as ACTIVE (`GetFindings`). A deleted
    /// resource's findings are archived only if they are there: an event naming a resource
    /// that never existed must not make the guard write findings about it.
    pub async fn active(&self, ids: &[String]) -> Result<Vec<String>, AwsError> {
        use aws_sdk_securityhub::types::{
            AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
        };
        let equals = |v: &str| {
            StringFilter::builder()
                .value(v)
                .comparison(StringFilterComparison::Equals)
                .build()
        };
        let mut found = Vec::new();
        // GetFindings takes at most 20 values per filter field.
        for chunk in ids.chunks(20) {
            let filters = AwsSecurityFindingFilters::builder()
                .set_id(Some(chunk.iter().map(|id| equals(id)).collect()))
                .record_state(equals("ACTIVE"))
                .build();
            let mut pages = self
                .client
                .get_findings()
                .filters(filters)
                .max_results(100)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("GetFindings", e))?;
                found.extend(
                    page.findings()
                        .iter()
                        .filter_map(|f| f.id())
                        .filter(|id| chunk.iter().any(|c| c == id))
                        .map(str::to_string),
                );
            }
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
