//! The audit report: the JSON contract later tools read, and the table people read.
//!
//! JSON shape (a contract: keep it): `results[]` with `control`, `resourceType`, `resourceArn`,
//! `resourceName`, `account`, `region`, `status`, `reason`, `action` (null unless FAILED:
//! `kind`, `dryRun`, `steps` in words, `structuredSteps` as data), and `summary` with a count for each of the five statuses.

use serde::Serialize;

use crate::aws::observe::AwsError;
use crate::domain::assess::Assessment;
use crate::domain::catalogue::{ControlId, Severity};
use crate::domain::evaluate::Status;
use crate::domain::plan::Plan;
use crate::domain::resource::ResourceKind;

/// One (resource, control) verdict.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultRow {
    pub control: ControlId,
    pub resource_type: &'static str,
    pub resource_arn: String,
    pub resource_name: String,
    pub account: String,
    pub region: String,
    pub status: Status,
    pub reason: String,
    /// The resource's plan, when this control FAILED; null otherwise.
    pub action: Option<Plan>,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<String>,
}

/// The count of each status; every status is always present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(rename = "PASSED")]
    pub passed: usize,
    #[serde(rename = "FAILED")]
    pub failed: usize,
    #[serde(rename = "NOT_APPLICABLE")]
    pub not_applicable: usize,
    #[serde(rename = "EXEMPT")]
    pub exempt: usize,
    #[serde(rename = "ERROR")]
    pub error: usize,
}

impl Summary {
    fn count(&mut self, s: Status) {
        *match s {
            Status::Passed => &mut self.passed,
            Status::Failed => &mut self.failed,
            Status::NotApplicable => &mut self.not_applicable,
            Status::Exempt => &mut self.exempt,
            Status::Error => &mut self.error,
        } += 1;
    }
}

/// Something the sweep could not read at all (a list call that failed): its resources have no
/// verdicts, so the audit is incomplete.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepError {
    pub region: String,
    pub resource_type: &'static str,
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

impl SweepError {
    /// An account whose role could not be assumed: its resources were not read.
    pub fn account(account: &str, e: AwsError) -> Self {
        SweepError {
            region: String::new(),
            resource_type: "Account",
            operation: e.operation,
            code: e.code,
            message: format!("account {account}: {}", e.message),
        }
    }

    /// The `--intent-key-id` could not be used: `--apply` changes nothing.
    pub fn intent_key(e: AwsError) -> Self {
        SweepError {
            region: String::new(),
            resource_type: "IntentKey",
            operation: e.operation,
            code: e.code,
            message: format!("{}; --apply changed nothing", e.message),
        }
    }

    pub fn new(region: &str, kind: ResourceKind, e: AwsError) -> Self {
        SweepError {
            region: region.to_string(),
            resource_type: kind.cfn_type(),
            operation: e.operation,
            code: e.code,
            message: e.message,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub results: Vec<ResultRow>,
    pub summary: Summary,
    /// The policy's name.
    pub policy: String,
    /// How many resources were judged.
    pub resources: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<SweepError>,
    /// With `--apply`: what was done to each resource, and its verdicts afterwards.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<crate::converge::Applied>,
}

/// The process exit code of an audit: 0 nothing FAILED, 1 something FAILED, 3 something could
/// not be evaluated (an ERROR verdict or a sweep error), which wins over 1: the audit is incomplete.
pub fn exit_code(summary: &Summary, errors: &[SweepError]) -> i32 {
    if summary.error > 0 || !errors.is_empty() {
        3
    } else if summary.failed > 0 {
        1
    } else {
        0
    }
}

/// Rows of one assessment, in control order.
pub fn rows(a: &Assessment) -> impl Iterator<Item = ResultRow> + '_ {
    let r = &a.resource;
    a.verdicts.iter().map(move |v| ResultRow {
        control: v.control,
        resource_type: r.kind.cfn_type(),
        resource_arn: r.arn.clone(),
        resource_name: r.name.clone(),
        account: r.account.clone(),
        region: r.region.clone(),
        status: v.status,
        reason: v.reason.clone(),
        action: if v.status == Status::Failed {
            a.plan.clone()
        } else {
            None
        },
        severity: v.control.control().severity,
        exemption: v.exemption.clone(),
    })
}

impl Report {
    /// Builds the report, resources in a stable order (by ARN), rows in control order.
    pub fn new(
        policy: &str,
        assessments: &[Assessment],
        rows_extra: Vec<ResultRow>,
        errors: Vec<SweepError>,
    ) -> Self {
        let mut sorted: Vec<&Assessment> = assessments.iter().collect();
        sorted.sort_by(|a, b| a.resource.arn.cmp(&b.resource.arn));
        let mut results: Vec<ResultRow> = sorted.into_iter().flat_map(rows).collect();
        let resources = assessments.len() + {
            let mut arns: Vec<&str> = rows_extra.iter().map(|r| r.resource_arn.as_str()).collect();
            arns.dedup();
            arns.len()
        };
        results.extend(rows_extra);
        let mut summary = Summary::default();
        for r in &results {
            summary.count(r.status);
        }
        Report {
            results,
            summary,
            policy: policy.to_string(),
            resources,
            errors,
            applied: Vec::new(),
        }
    }

    /// With `--apply`, the verdicts after the fixes decide.
    pub fn exit_code(&self) -> i32 {
        if self.applied.iter().any(|a| {
            a.executions
                .iter()
                .any(|e| e.result == crate::domain::execution::ExecutionResult::Error)
        }) {
            return 3;
        }
        let mut after = self.summary;
        for a in &self.applied {
            let before = self
                .results
                .iter()
                .filter(|r| r.resource_arn == a.resource_arn && r.status == Status::Failed)
                .count();
            let now = a
                .final_statuses
                .iter()
                .filter(|(_, s)| **s == Status::Failed)
                .count();
            after.failed = after.failed - before + now;
        }
        exit_code(&after, &self.errors)
    }

    /// The table for people: grouped by resource, resources with failures first, then a
    /// summary line.
    pub fn to_table(&self) -> String {
        let mut groups: Vec<(&str, Vec<&ResultRow>)> = Vec::new();
        for r in &self.results {
            match groups.iter_mut().find(|(arn, _)| *arn == r.resource_arn) {
                Some((_, rows)) => rows.push(r),
                None => groups.push((&r.resource_arn, vec![r])),
            }
        }
        let rank = |rows: &Vec<&ResultRow>| {
            rows.iter()
                .map(|r| status_rank(r.status))
                .min()
                .unwrap_or(9)
        };
        groups.sort_by_key(|(_, rows)| rank(rows));

        let mut out = String::new();
        for (arn, mut rows) in groups {
            let first = rows[0];
            out.push_str(&format!(
                "{} {}  ({}, {}, {})\n",
                first.resource_type.trim_start_matches("AWS::SageMaker::"),
                first.resource_name,
                first.account,
                first.region,
                arn
            ));
            rows.sort_by_key(|r| (status_rank(r.status), r.control));
            let table: Vec<[String; 3]> = rows
                .iter()
                .map(|r| {
                    [
                        r.status.as_str().to_string(),
                        r.control.to_string(),
                        r.reason.clone(),
                    ]
                })
                .collect();
            for line in crate::cli::table::render_table_rows(&table) {
                out.push_str("  ");
                out.push_str(&line);
                out.push('\n');
            }
            if let Some(plan) = rows.iter().find_map(|r| r.action.as_ref()) {
                out.push_str(&format!(
                    "  plan: {}{}\n",
                    plan.kind.as_str(),
                    if plan.dry_run { " (dry-run)" } else { "" }
                ));
                for (i, s) in plan.steps.iter().enumerate() {
                    out.push_str(&format!("    {}. {s}\n", i + 1));
                }
                for n in &plan.notes {
                    out.push_str(&format!("    note: {n}\n"));
                }
            }
            out.push('\n');
        }
        for e in &self.errors {
            out.push_str(&format!(
                "error: {} in {} could not be listed: {}: {}: {}\n",
                e.resource_type, e.region, e.operation, e.code, e.message
            ));
        }
        let s = &self.summary;
        out.push_str(&format!(
            "{} resources, {} verdicts: {} FAILED, {} PASSED, {} NOT_APPLICABLE, {} EXEMPT, {} ERROR (policy {})\n",
            self.resources,
            self.results.len(),
            s.failed,
            s.passed,
            s.not_applicable,
            s.exempt,
            s.error,
            self.policy
        ));
        out
    }
}

fn status_rank(s: Status) -> u8 {
    match s {
        Status::Failed => 0,
        Status::Error => 1,
        Status::Exempt => 2,
        Status::Passed => 3,
        Status::NotApplicable => 4,
    }
}
