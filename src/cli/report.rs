//! The audit report: the JSON contract later tools read, and the table people read.
//!
//! JSON shape (a contract: keep it): `results[]` with `control`, `resourceType`, `resourceArn`,
//! `resourceName`, `account`, `region`, `status`, `reason`, `action` (null unless FAILED:
//! `kind`, `dryRun`, `steps` in words, `structuredSteps` as data), and `summary` with a count for
//! each of the five statuses of `results[]`: what the sweep found. With `--apply`, `applied[]`
//! says what was done and `summaryAfterApply` counts the statuses once it was done; the exit
//! status follows the latter.

use serde::Serialize;

use crate::aws::observe::AwsError;
use crate::converge::Applied;
use crate::domain::assess::Assessment;
use crate::domain::catalogue::{ControlId, Severity};
use crate::domain::evaluate::Status;
use crate::domain::execution::ExecutionResult;
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
    /// `8 FAILED, 9 PASSED, 1 NOT_APPLICABLE, 0 EXEMPT, 0 ERROR`
    pub fn counts(&self) -> String {
        format!(
            "{} FAILED, {} PASSED, {} NOT_APPLICABLE, {} EXEMPT, {} ERROR",
            self.failed, self.passed, self.not_applicable, self.exempt, self.error
        )
    }

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
    /// The AWS service called: `SageMaker`, `KMS`, ...
    pub service: &'static str,
    pub operation: &'static str,
    pub code: String,
    pub message: String,
    /// The id AWS gave the request, when it answered: what AWS support asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What to do about it, for the table.
    #[serde(skip)]
    pub hint: Option<String>,
}

impl SweepError {
    /// An account whose role could not be assumed: its resources were not read.
    pub fn account(account: &str, e: AwsError) -> Self {
        let hint = Some(format!(
            "check that the role in account {account} exists and trusts this guard's role (with the external id, when one is set); the other accounts were read"
        ));
        SweepError {
            region: String::new(),
            resource_type: "Account",
            service: e.service,
            operation: e.operation,
            code: e.code,
            message: format!("account {account}: {}", e.message),
            request_id: e.request_id,
            hint,
        }
    }

    /// The `--intent-key-id` could not be used: `--apply` changes nothing.
    pub fn intent_key(e: AwsError) -> Self {
        let hint = e.hint().or_else(|| {
            Some("check --intent-key-id (SAGEMAKER_GUARD_INTENT_KEY_ID): an enabled HMAC_256 key of the account and region".into())
        });
        SweepError {
            region: String::new(),
            resource_type: "IntentKey",
            service: e.service,
            operation: e.operation,
            code: e.code,
            message: format!("{}; --apply changed nothing", e.message),
            request_id: e.request_id,
            hint,
        }
    }

    pub fn new(region: &str, kind: ResourceKind, e: AwsError) -> Self {
        SweepError {
            region: region.to_string(),
            resource_type: kind.cfn_type(),
            service: e.service,
            operation: e.operation,
            hint: e.hint(),
            code: e.code,
            message: e.message,
            request_id: e.request_id,
        }
    }

    /// The table's line: what could not be read, and the AWS error in one line.
    fn line(&self) -> String {
        let what = if self.resource_type == "IntentKey" {
            "error: the intent key cannot be used".to_string()
        } else if self.resource_type == "Account" {
            "error: an account could not be reached".to_string()
        } else {
            format!(
                "error: {} in {} could not be listed",
                self.resource_type.trim_start_matches("AWS::SageMaker::"),
                self.region
            )
        };
        let mut line = format!(
            "{what}: {} {} failed: {}: {}",
            self.service, self.operation, self.code, self.message
        );
        if let Some(id) = &self.request_id {
            line.push_str(&format!(" (request id {id})"));
        }
        line.push('\n');
        if let Some(hint) = &self.hint {
            line.push_str(&format!("  hint: {hint}\n"));
        }
        line
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
    pub applied: Vec<Applied>,
    /// With `--apply`: the count per status once it was done (`summary` is the sweep's, before
    /// anything was done). The exit status follows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_after_apply: Option<Summary>,
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
            summary_after_apply: None,
        }
    }

    /// With `--apply`: records what was done (resources ordered by ARN, as the results), and
    /// counts the statuses once it was done: each (resource, control) `--apply` looked at again
    /// has its final status, every other keeps the sweep's.
    pub fn set_applied(&mut self, mut applied: Vec<Applied>) {
        // In the order of the results, whatever order the resources settled in.
        applied.sort_by(|a, b| a.resource_arn.cmp(&b.resource_arn));
        let mut after = Summary::default();
        for r in &self.results {
            let last = applied
                .iter()
                .find(|a| a.resource_arn == r.resource_arn)
                .and_then(|a| a.final_statuses.get(&r.control));
            after.count(last.copied().unwrap_or(r.status));
        }
        self.applied = applied;
        self.summary_after_apply = Some(after);
    }

    /// The exit status: of the sweep's verdicts, or with `--apply`, of those once it was done;
    /// 3 also when a step of `--apply` failed.
    pub fn exit_code(&self) -> i32 {
        let failed_step = self.applied.iter().any(|a| {
            a.executions
                .iter()
                .any(|e| e.result == ExecutionResult::Error)
        });
        if failed_step {
            return 3;
        }
        exit_code(
            self.summary_after_apply.as_ref().unwrap_or(&self.summary),
            &self.errors,
        )
    }

    /// `9 resources, 18 verdicts`
    fn counted(&self) -> String {
        let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}, {}",
            plural(self.resources, "resource"),
            plural(self.results.len(), "verdict")
        )
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
        if let Some(after) = &self.summary_after_apply {
            out.push_str("applied:\n");
            if self.applied.is_empty() {
                out.push_str(
                    if self.errors.iter().any(|e| e.resource_type == "IntentKey") {
                        "  nothing: the intent key cannot be used (below)\n"
                    } else {
                        "  nothing: no resource had anything to do\n"
                    },
                );
            }
            for a in &self.applied {
                out.push_str(&format!("  {}\n", applied_line(a)));
            }
            out.push('\n');
            for e in &self.errors {
                out.push_str(&e.line());
            }
            out.push_str(&format!(
                "{} before --apply: {} (policy {})\n",
                self.counted(),
                self.summary.counts(),
                self.policy
            ));
            out.push_str(&format!("after --apply: {}\n", after.counts()));
            return out;
        }
        for e in &self.errors {
            out.push_str(&e.line());
        }
        out.push_str(&format!(
            "{}: {} (policy {})\n",
            self.counted(),
            self.summary.counts(),
            self.policy
        ));
        out
    }
}

/// What `--apply` did to one resource, in one line: `name: step; step; ...` (the steps taken,
/// in the plan's words), then how it ended unless its steps say it all: `scheduled`,
/// `deferred`, `dry-run`, `unsupported`, `rate-limited`, `stuck`, out of time, an error, or a
/// recreate finished.
pub fn applied_line(a: &Applied) -> String {
    let mut parts: Vec<String> = a
        .executions
        .iter()
        .flat_map(|e| e.done.iter().cloned())
        .collect();
    match a.executions.last() {
        Some(last)
            if !matches!(
                last.result,
                ExecutionResult::Applied | ExecutionResult::NothingToDo
            ) =>
        {
            let result = last.result.as_str();
            let notes = last.notes.join("; ");
            parts.push(if notes.is_empty() {
                result.to_string()
            } else if notes.starts_with(result) {
                notes
            } else {
                format!("{result}: {notes}")
            });
        }
        _ => {}
    }
    if a.gone {
        parts.push(format!(
            "gone: its findings archived ({})",
            a.findings.as_deref().unwrap_or("none active")
        ));
    }
    format!("{}: {}", a.resource_name, parts.join("; "))
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

#[cfg(test)]
mod tests;
