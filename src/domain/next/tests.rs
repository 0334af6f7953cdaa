use super::*;
use crate::domain::catalogue::ControlId;
use crate::domain::marks::{NONCOMPLIANT_TAG, RECREATE_AFTER_TAG};
use crate::domain::plan::plan;
use crate::domain::resource::NotebookInstance;
use crate::domain::testing::{load_policy, now, observed_notebook, tags};

const STORE: Capabilities = Capabilities {
    intent_store: true,
    intent_key: true,
};

fn nb(status: NotebookStatus) -> Observed {
    let mut r = observed_notebook(NotebookInstance {
        status: Some(status),
        root_access: Some("Enabled".into()),
        instance_type: Some("ml.t3.medium".into()),
        subnet_id: Some("subnet-1".into()),
        direct_internet_access: Some("Disabled".into()),
        platform_identifier: Some("notebook-al2023-v1".into()),
        kms_key_id: Some("alias/notebooks".into()),
        creation_time: Some(now().as_second()),
        ..NotebookInstance::default()
    });
    r.tags = Some(tags(&[]));
    r
}

fn plan_for(r: &Observed, policy: &str) -> Plan {
    let policy = load_policy(policy);
    let verdicts = crate::domain::evaluate::evaluate(r, &policy, now());
    plan(r, &verdicts, &policy, now(), false).expect("a failed control gives a plan")
}

const ROOT_FIX: &str = "dryRun: false\ncontrols: {SageMaker.3: {action: remediate}}";

#[test]
fn an_in_place_fix_stops_a_running_notebook_first_and_counts_as_a_new_fix() {
    let r = nb(NotebookStatus::InService);
    let p = plan_for(&r, ROOT_FIX);
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::StopForFix { starts_fix: true }
    );
}

#[test]
fn a_stopped_notebook_is_updated_with_every_in_place_fix_at_once() {
    let r = nb(NotebookStatus::Stopped);
    let p = plan_for(&r, ROOT_FIX);
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::Update {
            settings: vec![Setting::RootAccess("Disabled".into())],
            starts_fix: true
        }
    );
}

#[test]
fn a_fix_in_progress_is_not_counted_again_and_waits_out_transitions() {
    let mut r = nb(NotebookStatus::Stopping);
    let stopped_at = now();
    r.tags = Some(tags(&[(RESTART_TAG, &stopped_at.to_string())]));
    let p = plan_for(&r, ROOT_FIX);
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::WaitForTransition {
            status: "Stopping".into(),
            since: Some(stopped_at)
        }
    );
    r.notebook_mut().unwrap().status = Some(NotebookStatus::Stopped);
    assert!(matches!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::Update {
            starts_fix: false,
            ..
        }
    ));
}

#[test]
fn once_it_complies_the_notebook_the_guard_stopped_is_started_then_unmarked() {
    let mut r = nb(NotebookStatus::Stopped);
    r.tags = Some(tags(&[(RESTART_TAG, "2026-11-29T09:00:00Z")]));
    assert_eq!(next_step(None, &r, now(), STORE), NextStep::Start);
    r.notebook_mut().unwrap().status = Some(NotebookStatus::InService);
    assert_eq!(
        next_step(None, &r, now(), STORE),
        NextStep::RemoveTags {
            keys: vec![RESTART_TAG.into()]
        }
    );
    r.tags = Some(tags(&[]));
    assert_eq!(next_step(None, &r, now(), STORE), NextStep::Done);
}

#[test]
fn tags_come_first_and_are_done_once_the_live_tags_have_them() {
    let mut r = nb(NotebookStatus::InService);
    let p = plan_for(&r, "dryRun: false\ncontrols: {SageMaker.3: {action: tag}}");
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::AddTags {
            tags: [(NONCOMPLIANT_TAG.to_string(), "SageMaker.3".to_string())].into()
        }
    );
    r.tags = Some(tags(&[(NONCOMPLIANT_TAG, "SageMaker.3")]));
    assert_eq!(next_step(Some(&p), &r, now(), STORE), NextStep::Done);
}

#[test]
fn a_dry_run_plan_does_nothing() {
    let r = nb(NotebookStatus::InService);
    let p = plan_for(&r, "controls: {SageMaker.3: {action: remediate}}");
    assert!(p.dry_run);
    assert_eq!(next_step(Some(&p), &r, now(), STORE), NextStep::DryRun);
}

#[test]
fn a_recreate_without_an_intent_store_touches_nothing() {
    let mut r = nb(NotebookStatus::InService);
    r.notebook_mut().unwrap().direct_internet_access = Some("Enabled".into());
    let p = plan_for(
        &r,
        "dryRun: false\ncontrols: {SageMaker.1: {action: remediate}}",
    );
    assert_eq!(p.kind, PlanKind::Recreate);
    let none = Capabilities {
        intent_store: false,
        intent_key: true,
    };
    assert!(matches!(
        next_step(Some(&p), &r, now(), none),
        NextStep::Refuse {
            unsupported: true,
            ..
        }
    ));
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::StopForFix { starts_fix: true }
    );
    r.notebook_mut().unwrap().status = Some(NotebookStatus::Stopped);
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::CaptureAndDelete { starts_fix: true }
    );
}

#[test]
fn a_recreate_waits_for_its_grace_period_then_for_its_users() {
    let mut r = nb(NotebookStatus::InService);
    {
        let n = r.notebook_mut().unwrap();
        n.direct_internet_access = Some("Enabled".into());
        n.creation_time = Some(now().as_second() - 86_400);
    }
    let after = now() + jiff::SignedDuration::from_hours(72);
    r.tags = Some(tags(&[(RECREATE_AFTER_TAG, &after.to_string())]));
    let p = plan_for(
        &r,
        "dryRun: false\nremediation: {notebook: {gracePeriod: 72h, onlyWhenStopped: true}}\ncontrols: {SageMaker.1: {action: remediate}}",
    );
    assert_eq!(
        next_step(Some(&p), &r, now(), STORE),
        NextStep::WaitUntil { time: after }
    );
    let later = after + jiff::SignedDuration::from_secs(1);
    assert_eq!(
        next_step(Some(&p), &r, later, STORE),
        NextStep::WaitForUserStop
    );
}

#[test]
fn a_plan_read_back_from_its_json_decides_the_same_steps() {
    let r = nb(NotebookStatus::Stopped);
    let p = plan_for(&r, ROOT_FIX);
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["steps"],
        serde_json::json!(["update RootAccess=Disabled"]),
        "the words stay for people"
    );
    let back: Plan = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
    assert_eq!(
        next_step(Some(&back), &r, now(), STORE),
        next_step(Some(&p), &r, now(), STORE)
    );
    assert_eq!(back.controls, vec![ControlId::SageMaker3]);
}

#[test]
fn a_recreate_without_an_intent_key_touches_nothing_and_says_why() {
    let mut r = nb(NotebookStatus::Stopped);
    r.notebook_mut().unwrap().direct_internet_access = Some("Enabled".into());
    let p = plan_for(
        &r,
        "dryRun: false\ncontrols: {SageMaker.1: {action: remediate}}",
    );
    let unsigned = Capabilities {
        intent_store: true,
        intent_key: false,
    };
    match next_step(Some(&p), &r, now(), unsigned) {
        NextStep::Refuse {
            reason,
            unsupported: true,
        } => assert!(reason.contains("--intent-key-id"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
