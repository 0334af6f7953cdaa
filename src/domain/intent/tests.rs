use super::*;
use crate::domain::plan::{PlanKind, Setting};
use crate::domain::resource::Details;
use crate::domain::testing::{now, observed, tags};

fn observed_notebook(status: NotebookStatus) -> NotebookInstance {
    NotebookInstance {
        status: Some(status),
        instance_type: Some("ml.t3.medium".into()),
        subnet_id: Some("subnet-1".into()),
        security_groups: vec!["sg-1".into()],
        direct_internet_access: Some("Enabled".into()),
        root_access: Some("Enabled".into()),
        platform_identifier: Some("notebook-al2-v2".into()),
        role_arn: Some("arn:aws:iam::123456789012:role/nb".into()),
        kms_key_id: Some("key-1".into()),
        volume_size_in_gb: Some(50),
        lifecycle_config_name: Some("lc".into()),
        default_code_repository: Some("https://example.com/repo.git".into()),
        additional_code_repositories: vec!["repo-2".into()],
        accelerator_types: vec!["ml.eia2.medium".into()],
        minimum_imds_version: Some("2".into()),
        ip_address_type: Some("ipv4".into()),
        creation_time: Some(1_000),
    }
}

fn assessment(nb: NotebookInstance, pairs: &[(&str, &str)]) -> (Assessment, Plan) {
    let resource = observed(
        ResourceKind::NotebookInstance,
        "nb",
        Some(Details::NotebookInstance(nb)),
        Some(tags(pairs)),
    );
    let plan = Plan {
        kind: PlanKind::Recreate,
        dry_run: false,
        steps: vec![
            Step::CaptureConfiguration,
            Step::Delete,
            Step::Create {
                settings: vec![
                    Setting::DirectInternetAccess("Disabled".into()),
                    Setting::SubnetId("subnet-1".into()),
                    Setting::SecurityGroupIds(vec!["sg-1".into(), "sg-2".into()]),
                    Setting::RootAccess("Disabled".into()),
                ],
            },
        ],
        controls: vec![ControlId::SageMaker1, ControlId::SageMaker3],
        notes: Vec::new(),
    };
    (
        Assessment {
            resource,
            verdicts: Vec::new(),
            plan: Some(plan.clone()),
        },
        plan,
    )
}

#[test]
fn capture_keeps_everything_but_the_fixes() {
    let (a, plan) = assessment(
        observed_notebook(NotebookStatus::Stopped),
        &[
            ("owner", "ana"),
            ("aws:cloudformation:stack-name", "s"),
            (RESTART_TAG, "2026-11-29T09:00:00Z"),
            (RECREATE_AFTER_TAG, "2026-11-29T09:30:00Z"),
            (NONCOMPLIANT_TAG, "SageMaker.1"),
        ],
    );
    let i = capture(&a, &plan, "p", now()).unwrap();
    let s = &i.spec;
    assert_eq!(s.direct_internet_access.as_deref(), Some("Disabled"));
    assert_eq!(s.root_access.as_deref(), Some("Disabled"));
    assert_eq!(s.security_group_ids, vec!["sg-1", "sg-2"]);
    // Everything else as it was.
    assert_eq!(s.instance_type, "ml.t3.medium");
    assert_eq!(s.role_arn, "arn:aws:iam::123456789012:role/nb");
    assert_eq!(s.kms_key_id.as_deref(), Some("key-1"));
    assert_eq!(s.volume_size_in_gb, Some(50));
    assert_eq!(s.lifecycle_config_name.as_deref(), Some("lc"));
    assert_eq!(s.additional_code_repositories, vec!["repo-2"]);
    assert_eq!(s.accelerator_types, vec!["ml.eia2.medium"]);
    assert_eq!(s.platform_identifier.as_deref(), Some("notebook-al2-v2"));
    assert_eq!(
        s.minimum_instance_metadata_service_version.as_deref(),
        Some("2")
    );
    assert!(i.was_running, "the guard's restart mark says it ran");
    let keys: Vec<&str> = i.tags.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["owner", RECREATED_AT_TAG]);
    assert_eq!(i.tags[RECREATED_AT_TAG], i.id);
}

#[test]
fn capture_refuses_what_was_not_read() {
    let (mut a, plan) = assessment(observed_notebook(NotebookStatus::Stopped), &[]);
    a.resource.tags = None;
    assert!(capture(&a, &plan, "p", now()).is_err());
    let mut nb = observed_notebook(NotebookStatus::Stopped);
    nb.role_arn = None;
    let (a, plan) = assessment(nb, &[]);
    assert!(capture(&a, &plan, "p", now()).is_err());
}

#[test]
fn a_stopped_notebook_is_not_running() {
    let (a, plan) = assessment(observed_notebook(NotebookStatus::Stopped), &[]);
    assert!(!capture(&a, &plan, "p", now()).unwrap().was_running);
}

#[test]
fn the_intent_message_decodes_back() {
    let (a, plan) = assessment(
        observed_notebook(NotebookStatus::Stopped),
        &[("owner", "ana")],
    );
    let i = capture(&a, &plan, "p", now()).unwrap();
    match crate::domain::event::decode(&i.to_message(&signature())).unwrap() {
        crate::domain::event::Decoded::Intent(back) => {
            assert_eq!(back.intent, i);
            assert_eq!(back.signature, Some(signature()));
            // What the MAC covers is the same after the round trip through the queue.
            assert_eq!(back.intent.digest(), i.digest());
        }
        other => panic!("{other:?}"),
    }
}

fn signature() -> IntentSignature {
    IntentSignature {
        key_id: "arn:aws:kms:us-east-1:123456789012:key/k".into(),
        algorithm: MAC_ALGORITHM.into(),
        mac: "bWFj".into(),
    }
}

#[test]
fn a_captured_intent_passes_its_check() {
    assert_eq!(check(&intent(false), now()), Ok(()));
}

#[test]
fn the_digest_covers_the_role_the_spec_and_the_tags() {
    let i = intent(false);
    let mut role = i.clone();
    role.captured.role_arn = Some("arn:aws:iam::123456789012:role/attacker".into());
    let mut spec = i.clone();
    spec.spec.lifecycle_config_name = Some("attacker-lc".into());
    let mut tags = i.clone();
    tags.tags.insert("owner".into(), "mallory".into());
    let mut running = i.clone();
    running.was_running = true;
    for changed in [role, spec, tags, running] {
        assert_ne!(changed.digest(), i.digest(), "{changed:?}");
    }
}

#[test]
fn an_intent_whose_spec_is_not_its_capture_with_its_fixes_is_refused() {
    let mut i = intent(false);
    i.spec.role_arn = "arn:aws:iam::123456789012:role/attacker".into();
    assert!(matches!(
        check(&i, now()),
        Err(IntentRefusal::SpecNotDerived(_))
    ));
    let mut i = intent(false);
    i.spec.direct_internet_access = Some("Enabled".into());
    assert!(matches!(
        check(&i, now()),
        Err(IntentRefusal::SpecNotDerived(_))
    ));
}

#[test]
fn an_intent_from_the_future_is_refused() {
    let mut i = intent(false);
    let ahead = now() + jiff::SignedDuration::from_mins(6);
    i.id = ahead.to_string();
    i.tags.insert(RECREATED_AT_TAG.into(), i.id.clone());
    assert!(matches!(
        check(&i, now()),
        Err(IntentRefusal::FromTheFuture(_))
    ));
    // A replica's clock a little behind the storer's is not a reason.
    let mut i = intent(false);
    let slightly = now() + jiff::SignedDuration::from_mins(4);
    i.id = slightly.to_string();
    i.tags.insert(RECREATED_AT_TAG.into(), i.id.clone());
    assert_eq!(check(&i, now()), Ok(()));
}

#[test]
fn an_intent_whose_arn_names_another_notebook_or_account_is_refused() {
    for arn in [
        "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/other",
        "arn:aws:sagemaker:us-east-1:999999999999:notebook-instance/nb",
        "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/nb",
    ] {
        let mut i = intent(false);
        i.arn = arn.into();
        assert!(
            matches!(check(&i, now()), Err(IntentRefusal::ArnMismatch { .. })),
            "{arn}"
        );
    }
}

#[test]
fn an_intent_whose_tags_carry_the_guards_marks_or_lack_its_id_is_refused() {
    let mut i = intent(false);
    i.tags.insert(NONCOMPLIANT_TAG.into(), "SageMaker.1".into());
    assert!(matches!(check(&i, now()), Err(IntentRefusal::Tags(_))));
    let mut i = intent(false);
    i.tags.remove(RECREATED_AT_TAG);
    assert!(matches!(check(&i, now()), Err(IntentRefusal::Tags(_))));
}

#[test]
fn a_notebook_with_fifty_tags_of_its_own_is_not_captured_so_never_deleted() {
    let (mut a, plan) = assessment(observed_notebook(NotebookStatus::Stopped), &[]);
    let fifty: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    a.resource.tags = Some(
        fifty
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    );
    assert_eq!(
        capture(&a, &plan, "p", now()),
        Err(CaptureError::TooManyTags(51))
    );
    let mut forty_nine = a.clone();
    forty_nine.resource.tags = Some(
        fifty[..49]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    );
    assert_eq!(
        capture(&forty_nine, &plan, "p", now()).unwrap().tags.len(),
        50
    );
}

#[test]
fn an_intent_whose_id_is_not_a_time_is_refused_by_the_decoder() {
    let (a, plan) = assessment(observed_notebook(NotebookStatus::Stopped), &[]);
    let mut i = capture(&a, &plan, "p", now()).unwrap();
    i.id = "forever".into();
    match crate::domain::event::decode(&i.to_message(&signature())) {
        Err(crate::domain::event::DecodeError::NotAnEvent(why)) => {
            assert!(why.contains("`forever`"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

fn intent(was_running: bool) -> RecreateIntent {
    let (a, plan) = assessment(observed_notebook(NotebookStatus::Stopped), &[]);
    let mut i = capture(&a, &plan, "p", now()).unwrap();
    i.was_running = was_running;
    i
}

#[test]
fn next_steps_follow_the_live_notebook() {
    let i = intent(false);
    let later = now() + jiff::SignedDuration::from_secs(30);
    assert_eq!(next_step(&i, None, later), IntentStep::Create);

    // The old notebook: being deleted, or not yet seen deleted.
    let old = observed_notebook(NotebookStatus::Deleting);
    let none = Tags::default();
    assert!(matches!(
        next_step(&i, Some((&old, &none)), later),
        IntentStep::Wait(_)
    ));
    let old = observed_notebook(NotebookStatus::Stopped);
    assert!(matches!(
        next_step(&i, Some((&old, &none)), later),
        IntentStep::Wait(_)
    ));
    let mut changed = observed_notebook(NotebookStatus::Stopped);
    changed.volume_size_in_gb = Some(80);
    assert!(matches!(
        next_step(&i, Some((&changed, &none)), later),
        IntentStep::Obsolete(_)
    ));
    let much_later = now() + jiff::SignedDuration::from_mins(11);
    assert!(matches!(
        next_step(&i, Some((&old, &none)), much_later),
        IntentStep::Obsolete(_)
    ));

    // The new one.
    let ours: Tags = [(RECREATED_AT_TAG, i.id.as_str())].into_iter().collect();
    let mut new = observed_notebook(NotebookStatus::Pending);
    new.creation_time = Some(2_000);
    assert!(matches!(
        next_step(&i, Some((&new, &ours)), later),
        IntentStep::Wait(_)
    ));
    new.status = Some(NotebookStatus::InService);
    assert_eq!(next_step(&i, Some((&new, &ours)), later), IntentStep::Stop);
    assert!(matches!(
        next_step(&intent(true), Some((&new, &ours)), later),
        IntentStep::Obsolete(_) | IntentStep::Fulfilled(_)
    ));
    new.status = Some(NotebookStatus::Stopped);
    assert!(matches!(
        next_step(&i, Some((&new, &ours)), later),
        IntentStep::Fulfilled(_)
    ));

    // Somebody else's notebook of that name.
    assert!(matches!(
        next_step(&i, Some((&new, &none)), later),
        IntentStep::Obsolete(_)
    ));
}

#[test]
fn an_intent_older_than_a_day_is_refused_as_expired() {
    let i = intent(false);
    let day_later = now() + jiff::SignedDuration::from_hours(25);
    let refusal = check(&i, day_later).unwrap_err();
    assert!(matches!(refusal, IntentRefusal::Expired(_)));
    assert_eq!(refusal.reason_code(), "intent-expired");
    assert_eq!(
        check(&i, now() + jiff::SignedDuration::from_hours(23)),
        Ok(())
    );
}

#[test]
fn leaving_unchanged_settings_out_of_the_create_step_creates_the_same_notebook() {
    let nb = observed_notebook(NotebookStatus::Stopped);
    // What a create step listed before it kept only the settings that change: the notebook's
    // own subnet and security groups, and a root access it has already.
    let disabled = NotebookInstance {
        root_access: Some("Disabled".into()),
        ..nb.clone()
    };
    let every = vec![
        Setting::DirectInternetAccess("Disabled".into()),
        Setting::SubnetId("subnet-1".into()),
        Setting::SecurityGroupIds(vec!["sg-1".into()]),
        Setting::RootAccess("Disabled".into()),
        Setting::PlatformIdentifier("notebook-al2-v2".into()),
        Setting::InstanceType("ml.t3.medium".into()),
    ];
    for captured in [&nb, &disabled] {
        let changing: Vec<Setting> = every
            .iter()
            .filter(|s| s.changes(captured))
            .cloned()
            .collect();
        assert!(changing.len() < every.len());
        assert_eq!(
            derive_spec(captured, &changing).unwrap(),
            derive_spec(captured, &every).unwrap(),
            "fixes {changing:?}"
        );
    }

    // End to end: the planner's create step, captured into an intent that passes its check.
    let policy = crate::domain::testing::load_policy(
        "controls: {SageMaker.1: {action: remediate}, SageMaker.3: {action: remediate}}",
    );
    let resource = observed(
        ResourceKind::NotebookInstance,
        "nb",
        Some(Details::NotebookInstance(nb.clone())),
        Some(tags(&[("owner", "ana")])),
    );
    let a = crate::domain::assess::assess(resource, &policy, now(), false);
    let plan = a.plan.clone().expect("SageMaker.1 and .3 fail");
    let i = capture(&a, &plan, "p", now()).unwrap();
    assert_eq!(
        i.fixes,
        vec![
            Setting::DirectInternetAccess("Disabled".into()),
            Setting::RootAccess("Disabled".into()),
        ]
    );
    let before = vec![
        Setting::DirectInternetAccess("Disabled".into()),
        Setting::SubnetId("subnet-1".into()),
        Setting::SecurityGroupIds(vec!["sg-1".into()]),
        Setting::RootAccess("Disabled".into()),
    ];
    assert_eq!(i.spec, derive_spec(&nb, &before).unwrap());
    assert_eq!(check(&i, now()), Ok(()));
}

#[test]
fn a_kms_key_fix_is_derived_into_the_spec_and_its_intent_passes_the_check() {
    let nb = NotebookInstance {
        kms_key_id: None,
        ..observed_notebook(NotebookStatus::Stopped)
    };
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let fixes = vec![
        Setting::DirectInternetAccess("Disabled".into()),
        Setting::KmsKeyId(key.into()),
    ];
    let spec = derive_spec(&nb, &fixes).unwrap();
    assert_eq!(spec.kms_key_id.as_deref(), Some(key));
    assert_eq!(spec.direct_internet_access.as_deref(), Some("Disabled"));
    // Everything else as it was.
    assert_eq!(spec.subnet_id.as_deref(), Some("subnet-1"));
    assert_eq!(spec.volume_size_in_gb, Some(50));
    assert_eq!(spec.lifecycle_config_name.as_deref(), Some("lc"));

    let (a, mut plan) = assessment(nb, &[("owner", "ana")]);
    for s in &mut plan.steps {
        if let Step::Create { settings } = s {
            *settings = fixes.clone();
        }
    }
    let i = capture(&a, &plan, "p", now()).unwrap();
    assert_eq!(i.spec.kms_key_id.as_deref(), Some(key));
    assert_eq!(i.fixes, fixes);
    assert_eq!(check(&i, now()), Ok(()));
    // A key that is not the fix's is refused.
    let mut other = i.clone();
    other.spec.kms_key_id = Some("alias/attacker".into());
    assert!(matches!(
        check(&other, now()),
        Err(IntentRefusal::SpecNotDerived(_))
    ));
    // The fix travels with the intent, by the API's name.
    let json = serde_json::to_value(&i.fixes).unwrap();
    assert_eq!(
        json[1],
        serde_json::json!({"name": "KmsKeyId", "value": key})
    );
}
