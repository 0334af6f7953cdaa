//! Builders shared by the unit tests of the pure core (evaluation, planning).

use jiff::Timestamp;

use crate::domain::evaluate::{Judgement, Status};
use crate::domain::policy::{self, Policy};
use crate::domain::resource::{Details, NotebookInstance, Observed, ResourceKind, Tags};

pub const ACCOUNT: &str = "111111111111";
pub const REGION: &str = "us-east-1";

/// The fixed "now" of the tests.
pub fn now() -> Timestamp {
    "2026-11-29T00:00:00Z".parse().unwrap()
}

/// A policy from the YAML of its `spec` (written at column 0); an empty spec is `spec: {}`.
pub fn load_policy(spec: &str) -> Policy {
    let mut text = String::from(
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata:\n  name: test\n",
    );
    if spec.trim().is_empty() {
        text.push_str("spec: {}\n");
    } else {
        text.push_str("spec:\n");
        for line in spec.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
    }
    policy::load("test.yaml", &text)
        .unwrap_or_else(|e| panic!("test policy does not load:\n{e}\n---\n{text}"))
}

/// Tags as written in a table.
pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A resource of account [`ACCOUNT`] in [`REGION`].
pub fn observed(
    kind: ResourceKind,
    name: &str,
    details: Option<Details>,
    tags: Option<Tags>,
) -> Observed {
    Observed {
        kind,
        name: name.to_string(),
        arn: crate::domain::resource::arn("aws", REGION, ACCOUNT, kind, name),
        account: ACCOUNT.to_string(),
        region: REGION.to_string(),
        tags,
        details,
    }
}

/// Notebook `nb-1` with these settings and no tags.
pub fn observed_notebook(nb: NotebookInstance) -> Observed {
    observed(
        ResourceKind::NotebookInstance,
        "nb-1",
        Some(Details::NotebookInstance(nb)),
        Some(Tags::default()),
    )
}

/// A judgement as the status it becomes and its reason, for the tables of the judging modules.
pub fn judged(j: &Judgement) -> (Status, &str) {
    match j {
        Judgement::Passed(r) => (Status::Passed, r),
        Judgement::Failed(r) => (Status::Failed, r),
        Judgement::NotApplicable(r) => (Status::NotApplicable, r),
        Judgement::Unknown(r) => (Status::Error, r),
    }
}

/// One named scenario of a judging table: the input, the status it must become and a fragment
/// its reason must contain.
pub struct Case<T> {
    pub what: &'static str,
    pub input: T,
    pub status: Status,
    pub reason: &'static str,
}

/// Runs a judging table; a failure names its scenario.
pub fn assert_cases<T: std::fmt::Debug>(judge: fn(&T) -> Judgement, cases: &[Case<T>]) {
    for c in cases {
        let j = judge(&c.input);
        let (status, reason) = judged(&j);
        assert_eq!(status, c.status, "{}: {j:?} from {:?}", c.what, c.input);
        assert!(
            reason.contains(c.reason),
            "{}: reason {reason:?} should contain {:?}",
            c.what,
            c.reason
        );
    }
}
