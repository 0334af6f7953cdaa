use super::*;

use crate::domain::testing::{
    load_policy, now, observed, observed_notebook, tags, ACCOUNT, REGION,
};

use crate::domain::resource::{Details, EndpointConfig, ProductionVariant, Tags};

const S1: ControlId = ControlId::SageMaker1;
const S2: ControlId = ControlId::SageMaker2;
const S3: ControlId = ControlId::SageMaker3;
const S21: ControlId = ControlId::SageMaker21;
const S4: ControlId = ControlId::SageMaker4;
const S5: ControlId = ControlId::SageMaker5;
const S6: ControlId = ControlId::SageMaker6;
const S7: ControlId = ControlId::SageMaker7;
const S8: ControlId = ControlId::SageMaker8;

/// Tags as written in a table.
type TagPairs = &'static [(&'static str, &'static str)];

fn failed(controls: &[ControlId]) -> Vec<Verdict> {
    controls
        .iter()
        .map(|&c| Verdict {
            control: c,
            status: Status::Failed,
            reason: "test".into(),
            exemption: None,
        })
        .collect()
}

/// An InService AL2 notebook in a custom VPC, created long ago, with root access and direct
/// internet access enabled.
fn nb() -> NotebookInstance {
    NotebookInstance {
        status: Some(NotebookStatus::InService),
        instance_type: Some("ml.t3.medium".into()),
        subnet_id: Some("subnet-nb".into()),
        security_groups: vec!["sg-1".into(), "sg-2".into()],
        direct_internet_access: Some("Enabled".into()),
        root_access: Some("Enabled".into()),
        platform_identifier: Some("notebook-al2-v3".into()),
        role_arn: Some("arn:aws:iam::111111111111:role/nb".into()),
        creation_time: Some(now().as_second() - 90 * 24 * 3600),
        ..NotebookInstance::default()
    }
}

fn steps(plan: &Plan) -> Vec<String> {
    plan.steps.iter().map(|s| s.to_string()).collect()
}

fn plan_for(resource: &Observed, failing: &[ControlId], policy: &Policy) -> Plan {
    plan(resource, &failed(failing), policy, now(), false).expect("a failed control gives a plan")
}

fn create_settings(plan: &Plan) -> Vec<Setting> {
    let creates: Vec<&Vec<Setting>> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Create { settings } => Some(settings),
            _ => None,
        })
        .collect();
    assert_eq!(
        creates.len(),
        1,
        "exactly one create step: {:?}",
        steps(plan)
    );
    creates[0].clone()
}

fn setting(settings: &[Setting], name: &str) -> Option<String> {
    settings
        .iter()
        .find(|s| s.name() == name)
        .map(|s| s.value())
}

fn count_steps(plan: &Plan, pred: impl Fn(&Step) -> bool) -> usize {
    plan.steps.iter().filter(|s| pred(s)).count()
}

// ---------------------------------------------------------------------------------------------
// No plan

#[test]
fn nothing_failed_gives_no_plan() {
    let policy = load_policy("controls: {SageMaker.3: {action: remediate}}");
    let r = observed_notebook(nb());
    let other = |status| Verdict {
        control: S3,
        status,
        reason: "test".into(),
        exemption: None,
    };
    let cases: Vec<(&str, Vec<Verdict>)> = vec![
        ("no verdicts", vec![]),
        ("passed", vec![other(Status::Passed)]),
        ("not applicable", vec![other(Status::NotApplicable)]),
        ("exempt", vec![other(Status::Exempt)]),
        ("error", vec![other(Status::Error)]),
        (
            "all but failed",
            vec![
                other(Status::Passed),
                other(Status::NotApplicable),
                other(Status::Exempt),
                other(Status::Error),
            ],
        ),
    ];
    for (what, verdicts) in cases {
        assert_eq!(plan(&r, &verdicts, &policy, now(), false), None, "{what}");
        assert_eq!(
            plan(&r, &verdicts, &policy, now(), true),
            None,
            "{what} (forced dry-run)"
        );
    }
}

#[test]
fn only_failed_verdicts_are_planned() {
    let policy = load_policy("controls: {SageMaker.3: {action: remediate}}");
    let mut verdicts = failed(&[S3]);
    verdicts.push(Verdict {
        control: S1,
        status: Status::Error,
        reason: "x".into(),
        exemption: None,
    });
    verdicts.push(Verdict {
        control: S8,
        status: Status::Exempt,
        reason: "x".into(),
        exemption: Some("e".into()),
    });
    let p = plan(
        &observed_notebook(nb()),
        &verdicts[..1],
        &policy,
        now(),
        false,
    )
    .unwrap();
    assert_eq!(steps(&p), ["stop", "update RootAccess=Disabled", "start"]);
    let mut with_exempt = failed(&[S3]);
    with_exempt.push(verdicts[2].clone());
    let p = plan(
        &observed_notebook(nb()),
        &with_exempt,
        &policy,
        now(),
        false,
    )
    .unwrap();
    assert_eq!(p.controls, vec![S3]);
    assert_eq!(steps(&p), ["stop", "update RootAccess=Disabled", "start"]);

    // Fail closed: a control that could not be judged stops anything destructive.
    let p = plan(&observed_notebook(nb()), &verdicts, &policy, now(), false).unwrap();
    assert_eq!(p.controls, vec![S3]);
    assert_eq!(steps(&p), ["file finding SageMaker.3"]);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("SageMaker.1 could not be judged")),
        "{:?}",
        p.notes
    );
}

// ---------------------------------------------------------------------------------------------
// In-place updates: SageMaker.3 and .8

#[test]
fn sagemaker3_in_place_by_notebook_status() {
    let policy = load_policy("controls: {SageMaker.3: {action: remediate}}");
    let cases: &[(NotebookStatus, &[&str])] = &[
        (
            NotebookStatus::InService,
            &["stop", "update RootAccess=Disabled", "start"],
        ),
        (NotebookStatus::Stopped, &["update RootAccess=Disabled"]),
    ];
    for (status, expected) in cases {
        let r = observed_notebook(NotebookInstance {
            status: Some(status.clone()),
            ..nb()
        });
        let p = plan_for(&r, &[S3], &policy);
        assert_eq!(p.kind, PlanKind::UpdateInPlace, "{status:?}");
        assert_eq!(steps(&p), *expected, "{status:?}");
        assert_eq!(p.controls, vec![S3]);
        assert!(p.notes.is_empty(), "{status:?}: {:?}", p.notes);
        // The storage volume is kept: never a delete or a create.
        assert_eq!(
            count_steps(&p, |s| matches!(s, Step::Delete | Step::Create { .. })),
            0
        );
    }
}

#[test]
fn dry_run_follows_command_policy_and_control() {
    // (what, spec, force_dry_run, expected dry_run)
    let cases = [
        ("policy dryRun true", "dryRun: true\ncontrols: {SageMaker.3: {action: remediate}}", false, true),
        ("policy dryRun absent (defaults to true)", "controls: {SageMaker.3: {action: remediate}}", false, true),
        ("forced by the command", "dryRun: false\ncontrols: {SageMaker.3: {action: remediate}}", true, true),
        (
            "control dryRun true",
            "dryRun: false\ncontrols: {SageMaker.3: {action: remediate, dryRun: true}}",
            false,
            true,
        ),
        ("policy false, no control dry-run", "dryRun: false\ncontrols: {SageMaker.3: {action: remediate}}", false, false),
        (
            "policy false, control dryRun false",
            "dryRun: false\ncontrols: {SageMaker.3: {action: remediate, dryRun: false}}",
            false,
            false,
        ),
        (
            "dry-run of a control that did not fail does not count",
            "dryRun: false\ncontrols: {SageMaker.3: {action: remediate}, SageMaker.1: {dryRun: true}}",
            false,
            false,
        ),
    ];
    let r = observed_notebook(nb());
    for (what, spec, force, expected) in cases {
        let policy = load_policy(spec);
        let p = plan(&r, &failed(&[S3]), &policy, now(), force).unwrap();
        assert_eq!(p.dry_run, expected, "{what}");
        // Dry-run changes whether the plan is carried out, never the plan itself.
        assert_eq!(p.kind, PlanKind::UpdateInPlace, "{what}");
        assert_eq!(
            steps(&p),
            ["stop", "update RootAccess=Disabled", "start"],
            "{what}"
        );
    }
}

#[test]
fn sagemaker3_and_8_merge_into_one_update() {
    let policy = load_policy(
        "controls: {SageMaker.3: {action: remediate}, SageMaker.8: {action: remediate}}",
    );
    let p = plan_for(&observed_notebook(nb()), &[S3, S8], &policy);
    assert_eq!(p.kind, PlanKind::UpdateInPlace);
    assert_eq!(
        steps(&p),
        [
            "stop",
            "update RootAccess=Disabled, PlatformIdentifier=notebook-al2023-v1",
            "start"
        ]
    );
    assert_eq!(count_steps(&p, |s| matches!(s, Step::Update { .. })), 1);
    assert_eq!(p.controls, vec![S3, S8]);
}

#[test]
fn sagemaker8_instance_type_substitution() {
    let with_substitute = load_policy(
        r#"
controls: {SageMaker.8: {action: remediate}}
remediation:
  notebook:
    instanceTypeSubstitutions: {ml.p3.2xlarge: ml.g5.2xlarge}
"#,
    );
    let without = load_policy("controls: {SageMaker.8: {action: remediate}}");
    let on_p3 = observed_notebook(NotebookInstance {
        instance_type: Some("ml.p3.2xlarge".into()),
        ..nb()
    });

    let p = plan_for(&on_p3, &[S8], &with_substitute);
    assert_eq!(p.kind, PlanKind::UpdateInPlace);
    assert_eq!(
        steps(&p),
        [
            "stop",
            "update InstanceType=ml.g5.2xlarge, PlatformIdentifier=notebook-al2023-v1",
            "start"
        ]
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);

    let p = plan_for(&on_p3, &[S8], &without);
    assert_eq!(p.kind, PlanKind::Finding);
    assert_eq!(steps(&p), ["file finding SageMaker.8"]);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(p.notes[0].contains("ml.p3.2xlarge"), "{:?}", p.notes);
    assert!(
        p.notes[0].contains("instanceTypeSubstitutions"),
        "{:?}",
        p.notes
    );

    // A substitute for another type does not help.
    let other = load_policy(
        r#"
controls: {SageMaker.8: {action: remediate}}
remediation: {notebook: {instanceTypeSubstitutions: {ml.p3.8xlarge: ml.g5.12xlarge}}}
"#,
    );
    let p = plan_for(&on_p3, &[S8], &other);
    assert_eq!(steps(&p), ["file finding SageMaker.8"]);
}

#[test]
fn sagemaker8_without_substitute_leaves_the_other_in_place_fix() {
    let policy = load_policy(
        "controls: {SageMaker.3: {action: remediate}, SageMaker.8: {action: remediate}}",
    );
    let r = observed_notebook(NotebookInstance {
        instance_type: Some("ml.p2.xlarge".into()),
        ..nb()
    });
    let p = plan_for(&r, &[S3, S8], &policy);
    assert_eq!(p.kind, PlanKind::UpdateInPlace);
    assert_eq!(
        steps(&p),
        [
            "file finding SageMaker.8",
            "stop",
            "update RootAccess=Disabled",
            "start"
        ]
    );
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
}

#[test]
fn sagemaker8_needs_no_new_type_where_al2023_runs_or_the_target_is_not_al2023() {
    // (instance type, supported list, expected update step)
    let cases = [
        (
            "ml.t3.medium",
            "[notebook-al2023-v1]",
            "update PlatformIdentifier=notebook-al2023-v1",
        ),
        (
            "ml.g4dn.xlarge",
            "[notebook-al2023-v1]",
            "update PlatformIdentifier=notebook-al2023-v1",
        ),
        // The first supported platform is the target.
        (
            "ml.p3.2xlarge",
            "[notebook-al2-v3, notebook-al2023-v1]",
            "update PlatformIdentifier=notebook-al2-v3",
        ),
    ];
    for (instance_type, list, expected) in cases {
        let policy = load_policy(&format!(
            "controls: {{SageMaker.8: {{action: remediate, parameters: {{supportedPlatformIdentifierVersions: {list}}}}}}}"
        ));
        let r = observed_notebook(NotebookInstance {
            instance_type: Some(instance_type.into()),
            platform_identifier: Some("notebook-al1-v1".into()),
            ..nb()
        });
        let p = plan_for(&r, &[S8], &policy);
        assert_eq!(
            steps(&p),
            ["stop", expected, "start"],
            "{instance_type} {list}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Recreate: SageMaker.1 and .2

fn fresh(n: NotebookInstance) -> NotebookInstance {
    NotebookInstance {
        creation_time: Some(now().as_second() - 10 * 60),
        ..n
    }
}

#[test]
fn sagemaker1_fresh_notebook_is_recreated_at_once_in_its_own_subnet() {
    let policy = load_policy("controls: {SageMaker.1: {action: remediate}}");
    let p = plan_for(&observed_notebook(fresh(nb())), &[S1], &policy);
    assert_eq!(p.kind, PlanKind::Recreate);
    let create = create_settings(&p);
    assert_eq!(
        setting(&create, "DirectInternetAccess").as_deref(),
        Some("Disabled")
    );
    // Its own subnet and security groups are carried over: the create lists only what changes.
    assert_eq!(setting(&create, "SubnetId"), None);
    assert_eq!(setting(&create, "SecurityGroupIds"), None);
    assert_eq!(
        steps(&p),
        [
            "stop",
            "capture configuration",
            "delete",
            "create DirectInternetAccess=Disabled",
            "restore tags + sagemaker-guard/recreated-at",
        ]
    );
    // No grace period.
    assert_eq!(
        count_steps(&p, |s| matches!(
            s,
            Step::AddTags { .. } | Step::WaitUntil { .. }
        )),
        0
    );
    // The configuration is captured before anything is deleted.
    let capture = p
        .steps
        .iter()
        .position(|s| *s == Step::CaptureConfiguration)
        .unwrap();
    let delete = p.steps.iter().position(|s| *s == Step::Delete).unwrap();
    assert!(capture < delete);
}

#[test]
fn sagemaker1_freshness_is_judged_against_the_fresh_window() {
    let policy = load_policy(
        r#"
controls: {SageMaker.1: {action: remediate}}
remediation: {notebook: {freshWindow: 1h, gracePeriod: 24h}}
"#,
    );
    // (age in seconds or None, grace period expected)
    let cases = [
        (Some(0), false),
        (Some(59 * 60), false),
        (Some(3600), true),
        (Some(2 * 3600), true),
        (None, true),
    ];
    for (age, graced) in cases {
        let r = observed_notebook(NotebookInstance {
            creation_time: age.map(|a| now().as_second() - a),
            ..nb()
        });
        let p = plan_for(&r, &[S1], &policy);
        assert_eq!(p.kind, PlanKind::Recreate, "age {age:?}");
        assert_eq!(
            matches!(p.steps[0], Step::AddTags { .. }),
            graced,
            "age {age:?}: {:?}",
            steps(&p)
        );
    }
}

#[test]
fn sagemaker1_old_notebook_is_marked_and_waits_for_the_grace_period() {
    let policy = load_policy("controls: {SageMaker.1: {action: remediate}}");
    let p = plan_for(&observed_notebook(nb()), &[S1], &policy);
    assert_eq!(p.kind, PlanKind::Recreate);
    let after: Timestamp = "2026-12-02T00:00:00Z".parse().unwrap(); // now + 72h, the default
    let mut mark = BTreeMap::new();
    mark.insert(RECREATE_AFTER_TAG.to_string(), after.to_string());
    assert_eq!(p.steps[0], Step::AddTags { tags: mark });
    assert_eq!(p.steps[1], Step::WaitUntil { time: after });
    assert!(
        steps(&p)[0].starts_with("add tags sagemaker-guard/recreate-after="),
        "{:?}",
        steps(&p)
    );
    assert_eq!(
        steps(&p)[2..],
        [
            "stop",
            "capture configuration",
            "delete",
            "create DirectInternetAccess=Disabled",
            "restore tags + sagemaker-guard/recreated-at",
        ]
    );
}

#[test]
fn sagemaker1_keeps_an_existing_mark() {
    let policy = load_policy("controls: {SageMaker.1: {action: remediate}}");
    let marked: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
    let mut r = observed_notebook(nb());
    r.tags = Some(tags(&[(RECREATE_AFTER_TAG, &marked.to_string())]));
    let p = plan_for(&r, &[S1], &policy);
    // The mark is there already: not written again.
    assert_eq!(p.steps[0], Step::WaitUntil { time: marked });
}

#[test]
fn a_recreate_no_longer_planned_drops_its_mark() {
    let policy = load_policy("controls: {SageMaker.1: {action: remediate}}");
    let mut r = observed_notebook(nb());
    r.tags = Some(tags(&[(RECREATE_AFTER_TAG, "2026-11-30T12:00:00Z")]));
    // Exempt (or fixed) during the grace period: the schedule is cancelled.
    let exempt = vec![Verdict {
        control: S1,
        status: Status::Exempt,
        reason: "x".into(),
        exemption: Some("e".into()),
    }];
    let p = plan(&r, &exempt, &policy, now(), false).unwrap();
    assert_eq!(steps(&p), [format!("remove tags {RECREATE_AFTER_TAG}")]);
    assert_eq!(p.kind, PlanKind::Tag);
}

#[test]
fn recreate_waits_for_users_when_only_when_stopped() {
    let policy = load_policy(
        r#"
controls: {SageMaker.1: {action: remediate}}
remediation: {notebook: {onlyWhenStopped: true}}
"#,
    );
    let p = plan_for(&observed_notebook(fresh(nb())), &[S1], &policy);
    assert_eq!(
        steps(&p)[0..2],
        ["wait until its users stop it (onlyWhenStopped)", "stop"]
    );

    // A Stopped notebook needs no wait, no stop first, and is stopped again after creation.
    let stopped = observed_notebook(fresh(NotebookInstance {
        status: Some(NotebookStatus::Stopped),
        ..nb()
    }));
    let p = plan_for(&stopped, &[S1], &policy);
    assert_eq!(
        steps(&p),
        [
            "capture configuration",
            "delete",
            "create DirectInternetAccess=Disabled",
            "restore tags + sagemaker-guard/recreated-at",
            "stop",
        ]
    );
}

#[test]
fn sagemaker1_3_8_merge_into_one_recreate() {
    let policy = load_policy(
        "controls: {SageMaker.1: {action: remediate}, SageMaker.3: {action: remediate}, SageMaker.8: {action: remediate}}",
    );
    let p = plan_for(&observed_notebook(fresh(nb())), &[S1, S3, S8], &policy);
    assert_eq!(p.kind, PlanKind::Recreate);
    let create = create_settings(&p);
    assert_eq!(
        setting(&create, "DirectInternetAccess").as_deref(),
        Some("Disabled")
    );
    assert_eq!(setting(&create, "RootAccess").as_deref(), Some("Disabled"));
    assert_eq!(
        setting(&create, "PlatformIdentifier").as_deref(),
        Some("notebook-al2023-v1")
    );
    assert_eq!(setting(&create, "SubnetId"), None, "its own subnet is kept");
    assert_eq!(
        count_steps(&p, |s| matches!(s, Step::Update { .. })),
        0,
        "{:?}",
        steps(&p)
    );
    assert_eq!(
        count_steps(&p, |s| matches!(s, Step::FileFinding { .. })),
        0,
        "{:?}",
        steps(&p)
    );
    assert_eq!(p.controls, vec![S1, S3, S8]);
}

#[test]
fn a_recreate_lists_only_the_settings_that_change() {
    let policy = load_policy(
        "controls: {SageMaker.1: {action: remediate}, SageMaker.2: {action: remediate}}\n\
         remediation:\n  networks: [{subnetId: subnet-new, securityGroupIds: [sg-new]}]",
    );
    // Already without direct internet access, but in no subnet: the subnet and its groups change.
    let outside = NotebookInstance {
        subnet_id: None,
        security_groups: vec![],
        direct_internet_access: Some("Disabled".into()),
        ..fresh(nb())
    };
    let p = plan_for(&observed_notebook(outside.clone()), &[S2], &policy);
    assert_eq!(
        steps(&p)[3],
        "create SubnetId=subnet-new, SecurityGroupIds=sg-new"
    );
    // Each setting listed changes the notebook; each one left out it has already.
    for s in create_settings(&p) {
        assert!(s.changes(&outside), "{s:?}");
    }
    for same in [
        Setting::DirectInternetAccess("Disabled".into()),
        Setting::RootAccess("Enabled".into()),
        Setting::PlatformIdentifier("notebook-al2-v3".into()),
        Setting::InstanceType("ml.t3.medium".into()),
        Setting::SecurityGroupIds(vec![]),
    ] {
        assert!(!same.changes(&outside), "{same:?}");
    }
    // An empty subnet id is no subnet.
    let empty = NotebookInstance {
        subnet_id: Some(String::new()),
        ..outside
    };
    assert!(Setting::SubnetId("subnet-new".into()).changes(&empty));
}

const NETWORKS: &str = r#"
controls: {SageMaker.2: {action: remediate}}
remediation:
  networks:
"#;

#[test]
fn sagemaker2_uses_the_most_specific_policy_network() {
    let wildcard = "  - {subnetId: subnet-any, securityGroupIds: [sg-any]}\n";
    let account =
        "  - {account: \"111111111111\", subnetId: subnet-acct, securityGroupIds: [sg-acct]}\n";
    let other_account =
        "  - {account: \"222222222222\", subnetId: subnet-other, securityGroupIds: [sg-other]}\n";
    let account_region =
        "  - {account: \"111111111111\", region: us-east-1, subnetId: subnet-both, securityGroupIds: [sg-b1, sg-b2]}\n";
    let other_region = "  - {region: eu-west-1, subnetId: subnet-eu, securityGroupIds: [sg-eu]}\n";
    // (what, networks, expected subnet, expected security groups)
    let cases: Vec<(&str, Vec<&str>, &str, &str)> = vec![
        ("wildcard only", vec![wildcard], "subnet-any", "sg-any"),
        (
            "account after wildcard",
            vec![wildcard, account],
            "subnet-acct",
            "sg-acct",
        ),
        (
            "account before wildcard",
            vec![account, wildcard],
            "subnet-acct",
            "sg-acct",
        ),
        (
            "other account: wildcard",
            vec![other_account, wildcard],
            "subnet-any",
            "sg-any",
        ),
        (
            "other region: wildcard",
            vec![wildcard, other_region],
            "subnet-any",
            "sg-any",
        ),
        (
            "account and region",
            vec![account, account_region, wildcard],
            "subnet-both",
            "sg-b1 sg-b2",
        ),
    ];
    let no_subnet = observed_notebook(fresh(NotebookInstance {
        subnet_id: None,
        security_groups: vec![],
        ..nb()
    }));
    for (what, networks, subnet, groups) in cases {
        let policy = load_policy(&format!("{NETWORKS}{}", networks.concat()));
        let p = plan_for(&no_subnet, &[S2], &policy);
        assert_eq!(p.kind, PlanKind::Recreate, "{what}");
        let create = create_settings(&p);
        assert_eq!(
            setting(&create, "SubnetId").as_deref(),
            Some(subnet),
            "{what}"
        );
        assert_eq!(
            setting(&create, "SecurityGroupIds").as_deref(),
            Some(groups),
            "{what}"
        );
        // Only SageMaker.1 turns direct internet access off.
        assert_eq!(
            setting(&create, "DirectInternetAccess").as_deref(),
            None,
            "{what}"
        );
    }
}

#[test]
fn sagemaker2_without_a_matching_network_falls_back_to_a_finding() {
    let policy = load_policy(&format!(
        "{NETWORKS}  - {{account: \"222222222222\", subnetId: subnet-other, securityGroupIds: [sg-other]}}\n"
    ));
    let r = observed_notebook(NotebookInstance {
        subnet_id: None,
        security_groups: vec![],
        ..nb()
    });
    let p = plan_for(&r, &[S2], &policy);
    assert_eq!(p.kind, PlanKind::Finding);
    assert_eq!(steps(&p), ["file finding SageMaker.2"]);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(
        p.notes[0].contains(ACCOUNT) && p.notes[0].contains(REGION),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes[0].contains("spec.remediation.networks"),
        "{:?}",
        p.notes
    );
}

#[test]
fn recreate_without_network_still_makes_the_in_place_fixes() {
    let policy = load_policy(
        r#"
controls: {SageMaker.2: {action: remediate}, SageMaker.3: {action: remediate}}
remediation:
  networks: [{region: eu-west-1, subnetId: subnet-eu, securityGroupIds: [sg-eu]}]
"#,
    );
    let r = observed_notebook(NotebookInstance {
        subnet_id: None,
        security_groups: vec![],
        ..nb()
    });
    let p = plan_for(&r, &[S2, S3], &policy);
    assert_eq!(p.kind, PlanKind::UpdateInPlace);
    assert_eq!(
        steps(&p),
        [
            "file finding SageMaker.2",
            "stop",
            "update RootAccess=Disabled",
            "start"
        ]
    );
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
}

// ---------------------------------------------------------------------------------------------
// Mixed actions and tags

#[test]
fn finding_and_remediate_mix() {
    let policy =
        load_policy("controls: {SageMaker.1: {action: finding}, SageMaker.3: {action: remediate}}");
    let p = plan_for(&observed_notebook(nb()), &[S1, S3], &policy);
    assert_eq!(p.kind, PlanKind::UpdateInPlace);
    assert!(
        steps(&p).contains(&"file finding SageMaker.1".to_string()),
        "{:?}",
        steps(&p)
    );
    // Findings go first.
    assert_eq!(
        steps(&p),
        [
            "file finding SageMaker.1",
            "stop",
            "update RootAccess=Disabled",
            "start"
        ]
    );
    assert_eq!(p.controls, vec![S1, S3]);
}

#[test]
fn tag_action_marks_the_resource() {
    // (what, spec, failing, expected noncompliant value)
    let cases: [(&str, &str, &[ControlId], &str); 3] = [
        ("one control", "controls: {SageMaker.3: {action: tag}}", &[S3], "SageMaker.3"),
        (
            "two controls merge into one value",
            "controls: {SageMaker.1: {action: tag}, SageMaker.3: {action: tag}}",
            &[S1, S3],
            "SageMaker.1,SageMaker.3",
        ),
        (
            "three controls, .8 too",
            "controls: {SageMaker.1: {action: tag}, SageMaker.3: {action: tag}, SageMaker.8: {action: tag}}",
            &[S1, S3, S8],
            "SageMaker.1,SageMaker.3,SageMaker.8",
        ),
    ];
    for (what, spec, failing, value) in cases {
        let p = plan_for(&observed_notebook(nb()), failing, &load_policy(spec));
        assert_eq!(p.kind, PlanKind::Tag, "{what}");
        let mut expected = BTreeMap::new();
        expected.insert(NONCOMPLIANT_TAG.to_string(), value.to_string());
        assert_eq!(p.steps, vec![Step::AddTags { tags: expected }], "{what}");
        assert_eq!(
            steps(&p),
            [format!("add tags sagemaker-guard/noncompliant={value}")],
            "{what}"
        );
    }
}

#[test]
fn tag_and_in_place_fix_combine() {
    let policy =
        load_policy("controls: {SageMaker.1: {action: tag}, SageMaker.3: {action: remediate}}");
    let p = plan_for(&observed_notebook(nb()), &[S1, S3], &policy);
    assert_eq!(p.kind, PlanKind::UpdateInPlace);
    assert_eq!(
        steps(&p),
        [
            "add tags sagemaker-guard/noncompliant=SageMaker.1",
            "stop",
            "update RootAccess=Disabled",
            "start"
        ]
    );
}

fn app_image_config(t: &[(&str, &str)]) -> Observed {
    observed(
        ResourceKind::AppImageConfig,
        "aic-1",
        Some(Details::AppImageConfig),
        Some(tags(t)),
    )
}

#[test]
fn sagemaker6_adds_missing_required_tags() {
    let policy = load_policy(
        r#"
controls: {SageMaker.6: {action: remediate, parameters: {requiredKeyTags: [owner]}}}
remediation: {tagValues: {owner: team-a}}
"#,
    );
    let p = plan_for(&app_image_config(&[]), &[S6], &policy);
    assert_eq!(p.kind, PlanKind::Tag);
    assert_eq!(steps(&p), ["add tags owner=team-a"]);
    assert!(p.notes.is_empty(), "{:?}", p.notes);

    // `tag` does the same for the tag controls.
    let policy = load_policy(
        r#"
controls: {SageMaker.7: {action: tag, parameters: {requiredKeyTags: [owner]}}}
remediation: {tagValues: {owner: team-a}}
"#,
    );
    let image = observed(
        ResourceKind::Image,
        "img-1",
        Some(Details::Image),
        Some(tags(&[("aws:x", "1")])),
    );
    let p = plan_for(&image, &[S7], &policy);
    assert_eq!(p.kind, PlanKind::Tag);
    assert_eq!(steps(&p), ["add tags owner=team-a"]);
}

#[test]
fn sagemaker6_never_overwrites_an_existing_key() {
    let policy = load_policy(
        r#"
controls: {SageMaker.6: {action: remediate, parameters: {requiredKeyTags: [owner, CostCenter]}}}
remediation: {tagValues: {owner: team-a, CostCenter: cc-42}}
"#,
    );
    let cases: &[(&str, TagPairs, &str)] = &[
        (
            "owner present",
            &[("owner", "someone-else")],
            "add tags CostCenter=cc-42",
        ),
        (
            "CostCenter present",
            &[("CostCenter", "cc-1")],
            "add tags owner=team-a",
        ),
        (
            "neither present",
            &[],
            "add tags CostCenter=cc-42, owner=team-a",
        ),
        // Keys are case-sensitive: a lower-case costcenter does not count, and is not touched.
        (
            "lower-case costcenter",
            &[("owner", "x"), ("costcenter", "cc-1")],
            "add tags CostCenter=cc-42",
        ),
    ];
    for (what, existing, expected) in cases {
        let p = plan_for(&app_image_config(existing), &[S6], &policy);
        assert_eq!(steps(&p), [*expected], "{what}");
        let Step::AddTags { tags: added } = &p.steps[0] else {
            panic!("{what}: {:?}", p.steps)
        };
        for (k, _) in existing.iter() {
            assert!(!added.contains_key(*k), "{what}: {k} overwritten");
        }
    }
}

#[test]
fn sagemaker6_without_required_keys_adds_the_configured_values() {
    let policy = load_policy(
        r#"
controls: {SageMaker.6: {action: remediate}}
remediation: {tagValues: {owner: team-a}}
"#,
    );
    let p = plan_for(
        &app_image_config(&[("aws:cloudformation:stack-name", "s")]),
        &[S6],
        &policy,
    );
    assert_eq!(p.kind, PlanKind::Tag);
    assert_eq!(steps(&p), ["add tags owner=team-a"]);
}

#[test]
fn sagemaker6_without_a_value_falls_back_to_a_finding() {
    let mut policy = load_policy(
        r#"
controls: {SageMaker.6: {action: remediate, parameters: {requiredKeyTags: [owner, CostCenter]}}}
remediation: {tagValues: {owner: team-a, CostCenter: cc-42}}
"#,
    );
    // The loader refuses this combination; a policy built otherwise may still have it.
    policy.remediation.tag_values.remove("CostCenter");
    let p = plan_for(&app_image_config(&[]), &[S6], &policy);
    assert_eq!(
        steps(&p),
        ["file finding SageMaker.6", "add tags owner=team-a"]
    );
    assert_eq!(p.kind, PlanKind::Tag);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(p.notes[0].contains("CostCenter"), "{:?}", p.notes);

    // Nothing at all to add: a finding only.
    let p = plan_for(&app_image_config(&[("owner", "x")]), &[S6], &policy);
    assert_eq!(p.kind, PlanKind::Finding);
    assert_eq!(steps(&p), ["file finding SageMaker.6"]);
}

// ---------------------------------------------------------------------------------------------
// SageMaker.4 and .5

#[test]
fn sagemaker4_replaces_the_endpoint_config() {
    let policy = load_policy("controls: {SageMaker.4: {action: remediate}}");
    let variant = |name: &str, count: Option<i32>, serverless: bool| ProductionVariant {
        name: name.into(),
        instance_type: (!serverless).then(|| "ml.m5.large".to_string()),
        initial_instance_count: count,
        serverless,
    };
    let r = observed(
        ResourceKind::EndpointConfig,
        "ec-1",
        Some(Details::EndpointConfig(EndpointConfig {
            production_variants: vec![
                variant("low", Some(1), false),
                variant("ok", Some(3), false),
                variant("srv", None, true),
                variant("unset", None, false),
            ],
        })),
        Some(Tags::default()),
    );
    let p = plan_for(&r, &[S4], &policy);
    assert_eq!(p.kind, PlanKind::ReplaceEndpointConfig);
    assert_eq!(
        p.steps,
        vec![
            Step::CreateEndpointConfig {
                name: "ec-1-guard-ha".into(),
                instance_count: 2,
                variants: vec!["low".into(), "unset".into()],
            },
            Step::UpdateEndpoints {
                from: "ec-1".into(),
                to: "ec-1-guard-ha".into(),
            },
        ]
    );
    assert_eq!(
        steps(&p),
        [
            "create endpoint config ec-1-guard-ha with InitialInstanceCount=2 for low, unset",
            "update every endpoint using ec-1 to ec-1-guard-ha (the old config is kept)",
        ]
    );
}

#[test]
fn replacement_config_names_fit_63_characters() {
    let long70 = "e".repeat(70);
    let long54 = "f".repeat(54);
    let long55 = "g".repeat(55);
    let cases = [
        ("ec-1", "ec-1-guard-ha".to_string()),
        (long54.as_str(), format!("{long54}-guard-ha")),
        (long55.as_str(), format!("{}-guard-ha", "g".repeat(54))),
        (long70.as_str(), format!("{}-guard-ha", "e".repeat(54))),
    ];
    for (name, expected) in cases {
        let got = replacement_config_name(name);
        assert!(
            got.chars().count() <= 63,
            "{name}: {got} has {} chars",
            got.len()
        );
        assert!(got.ends_with("-guard-ha"), "{got}");
        assert_eq!(got, expected, "{name}");
        // Deterministic: the same name always gives the same replacement.
        assert_eq!(replacement_config_name(name), got);
    }
    assert_eq!(replacement_config_name(&long70).len(), 63);
}

#[test]
fn sagemaker4_plan_for_a_long_name() {
    let policy = load_policy("controls: {SageMaker.4: {action: remediate}}");
    let name = "x".repeat(70);
    let r = observed(
        ResourceKind::EndpointConfig,
        &name,
        Some(Details::EndpointConfig(EndpointConfig {
            production_variants: vec![ProductionVariant {
                name: "v".into(),
                instance_type: Some("ml.m5.large".into()),
                initial_instance_count: Some(1),
                serverless: false,
            }],
        })),
        Some(Tags::default()),
    );
    let p = plan_for(&r, &[S4], &policy);
    let Step::CreateEndpointConfig { name: new_name, .. } = &p.steps[0] else {
        panic!("{:?}", p.steps)
    };
    assert!(new_name.len() <= 63, "{new_name}");
    assert_eq!(
        p.steps[1],
        Step::UpdateEndpoints {
            from: name,
            to: new_name.clone()
        }
    );
}

#[test]
fn findings_only() {
    let cases = [
        (
            "SageMaker.5 finding",
            "controls: {SageMaker.5: {action: finding}}",
            S5,
            ResourceKind::Model,
        ),
        (
            "SageMaker.4 finding",
            "controls: {SageMaker.4: {action: finding}}",
            S4,
            ResourceKind::EndpointConfig,
        ),
        (
            "SageMaker.3 finding",
            "controls: {SageMaker.3: {action: finding}}",
            S3,
            ResourceKind::NotebookInstance,
        ),
    ];
    for (what, spec, control, kind) in cases {
        let details = match kind {
            ResourceKind::Model => Details::Model(crate::domain::resource::Model {
                enable_network_isolation: Some(false),
                ..Default::default()
            }),
            ResourceKind::EndpointConfig => Details::EndpointConfig(EndpointConfig::default()),
            _ => Details::NotebookInstance(nb()),
        };
        let r = observed(kind, "r-1", Some(details), Some(Tags::default()));
        let p = plan_for(&r, &[control], &load_policy(spec));
        assert_eq!(p.kind, PlanKind::Finding, "{what}");
        assert_eq!(steps(&p), [format!("file finding {control}")], "{what}");
        assert_eq!(p.controls, vec![control], "{what}");
        assert!(p.notes.is_empty(), "{what}: {:?}", p.notes);
    }
}

#[test]
fn plan_serializes_steps_as_strings_and_as_data() {
    let policy = load_policy("controls: {SageMaker.5: {action: finding}}");
    let r = observed(
        ResourceKind::Model,
        "m",
        Some(Details::Model(crate::domain::resource::Model {
            enable_network_isolation: None,
            ..Default::default()
        })),
        None,
    );
    let json = serde_json::to_value(plan_for(&r, &[S5], &policy)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "kind": "finding",
            "dryRun": true,
            "steps": ["file finding SageMaker.5"],
            "structuredSteps": [{"step": "file-finding", "control": "SageMaker.5"}],
            "controls": ["SageMaker.5"],
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Notebook states

#[test]
fn failed_notebook_gets_a_finding_and_a_note() {
    let policy = load_policy("controls: {SageMaker.3: {action: remediate}}");
    let r = observed_notebook(NotebookInstance {
        status: Some(NotebookStatus::Failed),
        ..nb()
    });
    let p = plan_for(&r, &[S3], &policy);
    assert_eq!(p.kind, PlanKind::Finding);
    assert_eq!(steps(&p), ["file finding SageMaker.3"]);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(p.notes[0].contains("Failed"), "{:?}", p.notes);
}

#[test]
fn deleting_notebook_gets_nothing() {
    let policy = load_policy(
        "controls: {SageMaker.1: {action: finding}, SageMaker.3: {action: remediate}, SageMaker.8: {action: tag}}",
    );
    let r = observed_notebook(NotebookInstance {
        status: Some(NotebookStatus::Deleting),
        ..nb()
    });
    for failing in [&[S3][..], &[S1, S3, S8][..], &[S1][..]] {
        let p = plan_for(&r, failing, &policy);
        assert_eq!(p.kind, PlanKind::None, "{failing:?}");
        assert!(p.steps.is_empty(), "{failing:?}: {:?}", steps(&p));
        assert_eq!(p.controls, failing.to_vec());
    }
}

#[test]
fn notebook_without_details_gets_a_finding_and_a_note() {
    let policy = load_policy(
        "controls: {SageMaker.1: {action: remediate}, SageMaker.3: {action: remediate}}",
    );
    let r = observed(
        ResourceKind::NotebookInstance,
        "nb-1",
        None,
        Some(Tags::default()),
    );
    let p = plan_for(&r, &[S1, S3], &policy);
    assert_eq!(p.kind, PlanKind::Finding);
    assert_eq!(
        steps(&p),
        ["file finding SageMaker.1", "file finding SageMaker.3"]
    );
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
}

// ---------------------------------------------------------------------------------------------
// AL2023 instance families

#[test]
fn al2023_unsupported_instance_types() {
    let cases = [
        ("ml.p3.2xlarge", true),
        ("ml.p3dn.24xlarge", true),
        ("ml.g3.4xlarge", true),
        ("ml.inf1.xlarge", true),
        ("ml.p2.xlarge", true),
        ("ml.t3.medium", false),
        ("ml.g4dn.xlarge", false),
        ("ml.p4d.24xlarge", false),
        ("ml.g5.2xlarge", false),
    ];
    for (instance_type, unsupported) in cases {
        assert_eq!(
            al2023_unsupported(instance_type),
            unsupported,
            "{instance_type}"
        );
    }
}

#[test]
fn plan_kinds_are_ordered_by_what_they_change() {
    let kinds = [
        PlanKind::None,
        PlanKind::Finding,
        PlanKind::Tag,
        PlanKind::ReplaceEndpointConfig,
        PlanKind::UpdateInPlace,
        PlanKind::Recreate,
    ];
    assert!(kinds.windows(2).all(|w| w[0] < w[1]));
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "none",
            "finding",
            "tag",
            "replace-endpoint-config",
            "update-in-place",
            "recreate"
        ]
    );
    for k in kinds {
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::Value::String(k.as_str().into())
        );
    }
}

#[test]
fn a_time_past_the_last_representable_one_is_later_never_sooner() {
    assert_eq!(add(now(), Duration::MAX), Timestamp::MAX);
    assert_eq!(
        add(now(), Duration::from_secs(60)),
        now() + jiff::SignedDuration::from_secs(60)
    );
}

#[test]
fn a_recreate_after_mark_of_1970_does_not_skip_the_grace_period() {
    let policy = load_policy("controls: {SageMaker.1: {action: remediate}}");
    let mut young = nb();
    // Created two days ago: with the default 72 h grace, the earliest the guard could have
    // scheduled it for is a day from now.
    young.creation_time = Some(now().as_second() - 2 * 24 * 3600);
    let mut r = observed_notebook(young);
    r.tags = Some(tags(&[(RECREATE_AFTER_TAG, "1970-01-01T00:00:00Z")]));
    let p = plan_for(&r, &[S1], &policy);
    let earliest: Timestamp = "2026-11-30T00:00:00Z".parse().unwrap();
    let mut mark = BTreeMap::new();
    mark.insert(RECREATE_AFTER_TAG.to_string(), earliest.to_string());
    assert_eq!(
        p.steps[0],
        Step::AddTags { tags: mark },
        "the mark is corrected"
    );
    assert_eq!(p.steps[1], Step::WaitUntil { time: earliest });
}

#[test]
fn a_recreate_after_mark_beyond_the_grace_period_is_brought_back_to_it() {
    let policy = load_policy("controls: {SageMaker.1: {action: remediate}}");
    let mut r = observed_notebook(nb());
    r.tags = Some(tags(&[(RECREATE_AFTER_TAG, "2099-01-01T00:00:00Z")]));
    let p = plan_for(&r, &[S1], &policy);
    let latest: Timestamp = "2026-12-02T00:00:00Z".parse().unwrap(); // now + 72 h
    assert_eq!(p.steps[1], Step::WaitUntil { time: latest });
}

// ---------------------------------------------------------------------------------------------
// SageMaker.21: the storage volume's KMS key, given by the same recreate

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn kms_policy(controls: &str, keys: &str) -> Policy {
    load_policy(&format!(
        "dryRun: false\ncontrols: {controls}\nremediation:\n  networks: [{{subnetId: subnet-new, securityGroupIds: [sg-new]}}]\n  kmsKeys:\n{keys}"
    ))
}

#[test]
fn sagemaker21_recreates_with_the_policys_key_and_nothing_else_changes() {
    let policy = kms_policy(
        "{SageMaker.21: {action: remediate}}",
        &format!("    - {{keyId: \"{KEY_ARN}\"}}\n"),
    );
    let p = plan_for(&observed_notebook(fresh(nb())), &[S21], &policy);
    assert_eq!(p.kind, PlanKind::Recreate, "{:?}", steps(&p));
    assert_eq!(
        create_settings(&p),
        vec![Setting::KmsKeyId(KEY_ARN.into())],
        "the notebook keeps its subnet, groups and everything else"
    );
    assert_eq!(p.controls, vec![S21]);
}

#[test]
fn sagemaker1_and_21_are_one_recreate_with_both_fixes() {
    let policy = kms_policy(
        "{SageMaker.1: {action: remediate}, SageMaker.3: {action: remediate}, SageMaker.21: {action: remediate}}",
        "    - {keyId: alias/notebooks}\n",
    );
    let p = plan_for(&observed_notebook(nb()), &[S1, S3, S21], &policy);
    assert_eq!(p.kind, PlanKind::Recreate);
    let create = create_settings(&p);
    assert_eq!(
        setting(&create, "DirectInternetAccess").as_deref(),
        Some("Disabled")
    );
    assert_eq!(setting(&create, "RootAccess").as_deref(), Some("Disabled"));
    assert_eq!(
        setting(&create, "KmsKeyId").as_deref(),
        Some("alias/notebooks")
    );
    for (what, step) in [
        ("stop", Step::Stop),
        ("delete", Step::Delete),
        ("capture", Step::CaptureConfiguration),
    ] {
        assert_eq!(
            count_steps(&p, |s| *s == step),
            1,
            "one {what}: {:?}",
            steps(&p)
        );
    }
    // The grace period applies: the notebook is old.
    assert!(
        p.steps.iter().any(|s| matches!(s, Step::WaitUntil { .. })),
        "{:?}",
        steps(&p)
    );
}

#[test]
fn sagemaker21_uses_the_most_specific_key_for_the_account_and_region() {
    let keys = concat!(
        "    - {keyId: alias/any}\n",
        "    - {account: \"111111111111\", region: us-east-1, keyId: alias/both}\n",
        "    - {account: \"111111111111\", keyId: alias/account}\n",
        "    - {region: eu-west-1, keyId: alias/eu}\n",
    );
    let policy = kms_policy("{SageMaker.21: {action: remediate}}", keys);
    let p = plan_for(&observed_notebook(fresh(nb())), &[S21], &policy);
    assert_eq!(
        setting(&create_settings(&p), "KmsKeyId").as_deref(),
        Some("alias/both")
    );
}

#[test]
fn sagemaker21_without_a_key_for_the_account_is_a_finding_with_a_note() {
    let policy = kms_policy(
        "{SageMaker.21: {action: remediate}}",
        "    - {account: \"222222222222\", keyId: alias/other}\n",
    );
    let p = plan_for(&observed_notebook(fresh(nb())), &[S21], &policy);
    assert_eq!(p.kind, PlanKind::Finding);
    assert_eq!(steps(&p), ["file finding SageMaker.21"]);
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert!(
        p.notes[0].contains(ACCOUNT)
            && p.notes[0].contains(REGION)
            && p.notes[0].contains("spec.remediation.kmsKeys"),
        "{:?}",
        p.notes
    );
}

#[test]
fn without_a_key_the_other_fixes_of_the_recreate_are_still_made() {
    let policy = kms_policy(
        "{SageMaker.1: {action: remediate}, SageMaker.21: {action: remediate}}",
        "    - {region: eu-west-1, keyId: alias/eu}\n",
    );
    let p = plan_for(&observed_notebook(fresh(nb())), &[S1, S21], &policy);
    assert_eq!(p.kind, PlanKind::Recreate);
    let create = create_settings(&p);
    assert_eq!(
        setting(&create, "DirectInternetAccess").as_deref(),
        Some("Disabled")
    );
    assert_eq!(setting(&create, "KmsKeyId"), None);
    assert_eq!(steps(&p)[0], "file finding SageMaker.21");

    // And without a network, the key is still given: SageMaker.21 needs no subnet.
    let policy = load_policy(
        "dryRun: false\ncontrols: {SageMaker.2: {action: finding}, SageMaker.1: {action: remediate}, SageMaker.21: {action: remediate}}\nremediation:\n  kmsKeys: [{keyId: alias/nb}]",
    );
    let outside = NotebookInstance {
        subnet_id: None,
        security_groups: vec![],
        ..fresh(nb())
    };
    let p = plan_for(&observed_notebook(outside), &[S1, S21], &policy);
    assert_eq!(p.kind, PlanKind::Recreate, "{:?}", steps(&p));
    assert_eq!(
        create_settings(&p),
        vec![Setting::KmsKeyId("alias/nb".into())]
    );
    assert!(steps(&p).contains(&"file finding SageMaker.1".to_string()));
}

#[test]
fn sagemaker21_waits_for_its_users_with_only_when_stopped() {
    let policy = load_policy(
        "dryRun: false\ncontrols: {SageMaker.21: {action: remediate}}\nremediation:\n  kmsKeys: [{keyId: alias/nb}]\n  notebook: {onlyWhenStopped: true}",
    );
    let p = plan_for(&observed_notebook(fresh(nb())), &[S21], &policy);
    assert!(p.steps.contains(&Step::WaitForUserStop), "{:?}", steps(&p));
}

// ---------------------------------------------------------------------------------------------
// SageMaker.14, .22 (monitoring schedules) and .24 (inference experiments): one update call

mod update {
    use super::*;
    use crate::domain::next::{next_step, Capabilities, NextStep};
    use crate::domain::resource::{
        InferenceDataStorage, InferenceExperiment, InlineMonitoringJob, MonitoringSchedule,
    };

    const S14: ControlId = ControlId::SageMaker14;
    const S22: ControlId = ControlId::SageMaker22;
    const S24: ControlId = ControlId::SageMaker24;

    const REMEDIATE_ALL: &str = "dryRun: false\nremediation:\n  kmsKeys:\n    - {account: \"111111111111\", region: us-east-1, keyId: alias/captured}\ncontrols:\n  SageMaker.14: {action: remediate}\n  SageMaker.22: {action: remediate}\n  SageMaker.24: {action: remediate}\n";

    fn schedule(status: &str) -> Observed {
        observed(
            ResourceKind::MonitoringSchedule,
            "ms-1",
            Some(Details::MonitoringSchedule(MonitoringSchedule {
                status: Some(status.into()),
                inline_job: Some(InlineMonitoringJob::default()),
                ..MonitoringSchedule::default()
            })),
            Some(Tags::default()),
        )
    }

    fn experiment(status: &str) -> Observed {
        observed(
            ResourceKind::InferenceExperiment,
            "ie-1",
            Some(Details::InferenceExperiment(InferenceExperiment {
                status: Some(status.into()),
                kms_key: None,
                data_storage: Some(InferenceDataStorage::default()),
            })),
            Some(Tags::default()),
        )
    }

    fn can() -> Capabilities {
        Capabilities {
            intent_store: false,
            intent_key: false,
        }
    }

    #[test]
    fn a_schedule_failing_both_gets_one_update_with_both_switches_on() {
        let p = plan_for(
            &schedule("Scheduled"),
            &[S14, S22],
            &load_policy(REMEDIATE_ALL),
        );
        assert_eq!(p.kind, PlanKind::Update);
        assert_eq!(
            steps(&p),
            ["update EnableNetworkIsolation=true, EnableInterContainerTrafficEncryption=true"]
        );
        assert_eq!(p.controls, vec![S14, S22]);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        // Nothing is stopped or created: the executor makes the one call.
        assert_eq!(
            next_step(Some(&p), &schedule("Scheduled"), now(), can()),
            NextStep::Reconfigure {
                settings: vec![
                    Setting::EnableNetworkIsolation(true),
                    Setting::EnableInterContainerTrafficEncryption(true)
                ]
            }
        );
    }

    #[test]
    fn a_stopped_schedule_is_updated_too() {
        let p = plan_for(&schedule("Stopped"), &[S22], &load_policy(REMEDIATE_ALL));
        assert_eq!(
            steps(&p),
            ["update EnableInterContainerTrafficEncryption=true"]
        );
    }

    #[test]
    fn a_pending_schedule_is_updated_once_it_is_scheduled() {
        let p = plan_for(&schedule("Pending"), &[S14], &load_policy(REMEDIATE_ALL));
        assert_eq!(p.kind, PlanKind::Update);
        assert_eq!(
            next_step(Some(&p), &schedule("Pending"), now(), can()),
            NextStep::WaitForTransition {
                status: "Pending".into(),
                since: None
            }
        );
        assert_eq!(
            next_step(Some(&p), &schedule("Scheduled"), now(), can()),
            NextStep::Reconfigure {
                settings: vec![Setting::EnableNetworkIsolation(true)]
            }
        );
    }

    #[test]
    fn a_schedule_that_names_a_job_definition_is_never_updated() {
        let mut r = schedule("Scheduled");
        if let Some(Details::MonitoringSchedule(s)) = r.details.as_mut() {
            s.inline_job = None;
            s.job_definition_name = Some("dq-def".into());
        }
        let p = plan_for(&r, &[S14], &load_policy(REMEDIATE_ALL));
        assert_eq!(p.kind, PlanKind::Finding);
        assert!(
            p.notes[0].contains("names a job definition"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn a_schedule_fix_is_a_finding_in_dry_run_and_with_action_finding() {
        let dry = plan(
            &schedule("Scheduled"),
            &failed(&[S14]),
            &load_policy(REMEDIATE_ALL),
            now(),
            true,
        )
        .unwrap();
        assert!(dry.dry_run);
        assert_eq!(
            next_step(Some(&dry), &schedule("Scheduled"), now(), can()),
            NextStep::DryRun
        );
        let finding = plan_for(
            &schedule("Scheduled"),
            &[S14],
            &load_policy("controls:\n  SageMaker.14: {action: finding}\n"),
        );
        assert_eq!(finding.kind, PlanKind::Finding);
    }

    #[test]
    fn a_running_experiment_gets_the_policys_key_for_its_captured_data() {
        for status in ["Created", "Running"] {
            let p = plan_for(&experiment(status), &[S24], &load_policy(REMEDIATE_ALL));
            assert_eq!(p.kind, PlanKind::Update, "{status}");
            assert_eq!(
                steps(&p),
                ["update DataStorageConfig.KmsKey=alias/captured"]
            );
        }
    }

    #[test]
    fn an_experiment_in_a_transition_is_updated_once_it_ends() {
        for status in ["Creating", "Updating", "Starting", "Stopping"] {
            let p = plan_for(&experiment(status), &[S24], &load_policy(REMEDIATE_ALL));
            assert_eq!(p.kind, PlanKind::Update, "{status}");
            assert_eq!(
                next_step(Some(&p), &experiment(status), now(), can()),
                NextStep::WaitForTransition {
                    status: status.into(),
                    since: None
                },
                "{status}"
            );
        }
    }

    #[test]
    fn a_finished_experiment_is_a_finding_with_the_reason() {
        for status in ["Completed", "Cancelled"] {
            let p = plan_for(&experiment(status), &[S24], &load_policy(REMEDIATE_ALL));
            assert_eq!(p.kind, PlanKind::Finding, "{status}");
            assert!(
                p.notes[0].contains(status) && p.notes[0].contains("Created or Running"),
                "{status}: {:?}",
                p.notes
            );
        }
    }

    #[test]
    fn an_experiment_in_an_account_without_a_key_is_a_finding_that_says_where_to_add_one() {
        let mut r = experiment("Running");
        r.account = "222222222222".into();
        let p = plan_for(&r, &[S24], &load_policy(REMEDIATE_ALL));
        assert_eq!(p.kind, PlanKind::Finding);
        assert!(
            p.notes[0].contains("222222222222") && p.notes[0].contains("spec.remediation.kmsKeys"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn a_resource_not_described_is_a_finding() {
        let r = observed(ResourceKind::MonitoringSchedule, "ms-1", None, None);
        let p = plan_for(&r, &[S22], &load_policy(REMEDIATE_ALL));
        assert_eq!(p.kind, PlanKind::Finding);
        assert!(p.notes[0].contains("not read"), "{:?}", p.notes);
    }

    #[test]
    fn an_update_plan_reads_back_as_the_plan_the_executor_consumes() {
        let p = plan_for(&schedule("Scheduled"), &[S14], &load_policy(REMEDIATE_ALL));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["kind"], "update");
        assert_eq!(
            json["structuredSteps"][0],
            serde_json::json!({"step": "update", "settings": [{"name": "EnableNetworkIsolation", "value": true}]})
        );
        let back: Plan = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }
}
