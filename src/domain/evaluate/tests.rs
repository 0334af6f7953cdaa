use super::*;

use crate::domain::testing::{load_policy, now, observed, observed_notebook, tags};

use crate::domain::resource::{
    EndpointConfig, Model, NotebookInstance, ProductionVariant, ResourceKind,
};

const S1: ControlId = ControlId::SageMaker1;
const S2: ControlId = ControlId::SageMaker2;
const S3: ControlId = ControlId::SageMaker3;
const S4: ControlId = ControlId::SageMaker4;
const S5: ControlId = ControlId::SageMaker5;
const S6: ControlId = ControlId::SageMaker6;
const S7: ControlId = ControlId::SageMaker7;
const S8: ControlId = ControlId::SageMaker8;
const S21: ControlId = ControlId::SageMaker21;

/// A resource of one of the kinds SageMaker.9 to .25 judge, compliant with each of its controls.
fn compliant(kind: ResourceKind) -> Observed {
    use crate::domain::resource::{
        FeatureGroup, InferenceDataStorage, InferenceExperiment, InlineMonitoringJob,
        MonitoringJobDefinition, MonitoringNetworkConfig, MonitoringSchedule, OfflineStore,
    };
    let on = Some(MonitoringNetworkConfig {
        enable_inter_container_traffic_encryption: Some(true),
        enable_network_isolation: Some(true),
    });
    let details = match kind {
        ResourceKind::MonitoringSchedule => Details::MonitoringSchedule(MonitoringSchedule {
            status: Some("Scheduled".into()),
            inline_job: Some(InlineMonitoringJob { network_config: on }),
            ..MonitoringSchedule::default()
        }),
        ResourceKind::FeatureGroup => Details::FeatureGroup(FeatureGroup {
            offline_store: Some(OfflineStore {
                kms_key_id: Some("alias/features".into()),
            }),
            online_store: None,
        }),
        ResourceKind::InferenceExperiment => Details::InferenceExperiment(InferenceExperiment {
            status: Some("Running".into()),
            kms_key: Some("alias/shadow".into()),
            data_storage: Some(InferenceDataStorage {
                kms_key: Some("alias/shadow".into()),
            }),
        }),
        _ => Details::MonitoringJobDefinition(MonitoringJobDefinition {
            network_config: on,
            instance_count: Some(2),
        }),
    };
    observed(kind, "r-1", Some(details), Some(Tags::default()))
}

/// Every control on, with action `finding`.
fn all_on() -> Policy {
    load_policy("")
}

/// Tags as written in a table.
type TagPairs = &'static [(&'static str, &'static str)];
/// Tag keys as written in a table.
type Keys = &'static [&'static str];

/// A notebook that passes every notebook control.
fn compliant_nb() -> NotebookInstance {
    NotebookInstance {
        status: Some(crate::domain::resource::NotebookStatus::InService),
        instance_type: Some("ml.t3.medium".into()),
        subnet_id: Some("subnet-0123".into()),
        security_groups: vec!["sg-0123".into()],
        direct_internet_access: Some("Disabled".into()),
        root_access: Some("Disabled".into()),
        platform_identifier: Some("notebook-al2023-v1".into()),
        kms_key_id: Some("alias/notebooks".into()),
        ..NotebookInstance::default()
    }
}

fn endpoint_config(variants: Vec<ProductionVariant>) -> Observed {
    observed(
        ResourceKind::EndpointConfig,
        "ec-1",
        Some(Details::EndpointConfig(EndpointConfig {
            production_variants: variants,
        })),
        Some(Tags::default()),
    )
}

fn model(isolation: Option<bool>) -> Observed {
    observed(
        ResourceKind::Model,
        "model-1",
        Some(Details::Model(Model {
            enable_network_isolation: isolation,
            // Its image from a private registry (SageMaker.16).
            containers: crate::domain::resource::ModelContainers {
                primary: Some(crate::domain::resource::ModelContainer {
                    repository_access_mode: Some("Vpc".into()),
                }),
                containers: Vec::new(),
            },
        })),
        Some(Tags::default()),
    )
}

fn instance_variant(name: &str, count: Option<i32>) -> ProductionVariant {
    ProductionVariant {
        name: name.to_string(),
        instance_type: Some("ml.m5.large".into()),
        initial_instance_count: count,
        serverless: false,
    }
}

fn serverless_variant(name: &str) -> ProductionVariant {
    ProductionVariant {
        name: name.to_string(),
        instance_type: None,
        initial_instance_count: None,
        serverless: true,
    }
}

/// The verdict of one control; panics when the control was not evaluated.
fn verdict_of(resource: &Observed, policy: &Policy, id: ControlId) -> Verdict {
    let verdicts = evaluate(resource, policy, now());
    verdicts
        .iter()
        .find(|v| v.control == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} was not evaluated; verdicts: {verdicts:?}"))
}

fn controls_of(verdicts: &[Verdict]) -> Vec<ControlId> {
    verdicts.iter().map(|v| v.control).collect()
}

// ---------------------------------------------------------------------------------------------
// SageMaker.1 to .3: notebook settings

#[test]
fn sagemaker1_direct_internet_access() {
    let cases: &[(Option<&str>, Status, &str)] = &[
        (
            Some("Enabled"),
            Status::Failed,
            "DirectInternetAccess is Enabled",
        ),
        (
            Some("Disabled"),
            Status::Passed,
            "DirectInternetAccess is Disabled",
        ),
        (None, Status::Failed, "Enabled by default"),
    ];
    let policy = all_on();
    for (value, status, reason) in cases {
        let nb = NotebookInstance {
            direct_internet_access: value.map(str::to_string),
            ..compliant_nb()
        };
        let v = verdict_of(&observed_notebook(nb), &policy, S1);
        assert_eq!(v.status, *status, "DirectInternetAccess {value:?}: {v:?}");
        assert!(
            v.reason.contains(reason),
            "DirectInternetAccess {value:?}: reason {:?}",
            v.reason
        );
        assert_eq!(v.exemption, None);
    }
}

#[test]
fn sagemaker2_subnet() {
    let cases: &[(Option<&str>, Status, &str)] = &[
        (Some("subnet-0abc"), Status::Passed, "subnet-0abc"),
        (None, Status::Failed, "no SubnetId"),
        (Some(""), Status::Failed, "no SubnetId"),
    ];
    let policy = all_on();
    for (subnet, status, reason) in cases {
        let nb = NotebookInstance {
            subnet_id: subnet.map(str::to_string),
            ..compliant_nb()
        };
        let v = verdict_of(&observed_notebook(nb), &policy, S2);
        assert_eq!(v.status, *status, "SubnetId {subnet:?}: {v:?}");
        assert!(
            v.reason.contains(reason),
            "SubnetId {subnet:?}: reason {:?}",
            v.reason
        );
    }
}

#[test]
fn sagemaker3_root_access() {
    let cases: &[(Option<&str>, Status, &str)] = &[
        (Some("Enabled"), Status::Failed, "RootAccess is Enabled"),
        (Some("Disabled"), Status::Passed, "RootAccess is Disabled"),
        (None, Status::Failed, "Enabled by default"),
    ];
    let policy = all_on();
    for (value, status, reason) in cases {
        let nb = NotebookInstance {
            root_access: value.map(str::to_string),
            ..compliant_nb()
        };
        let v = verdict_of(&observed_notebook(nb), &policy, S3);
        assert_eq!(v.status, *status, "RootAccess {value:?}: {v:?}");
        assert!(
            v.reason.contains(reason),
            "RootAccess {value:?}: reason {:?}",
            v.reason
        );
    }
}

#[test]
fn notebook_settings_are_judged_independently() {
    // .1 reads DirectInternetAccess, .3 RootAccess: never one for the other (Prowler once mixed
    // them up).
    let nb = NotebookInstance {
        direct_internet_access: Some("Enabled".into()),
        root_access: Some("Disabled".into()),
        ..compliant_nb()
    };
    let policy = all_on();
    let r = observed_notebook(nb);
    assert_eq!(verdict_of(&r, &policy, S1).status, Status::Failed);
    assert_eq!(verdict_of(&r, &policy, S3).status, Status::Passed);

    let nb = NotebookInstance {
        direct_internet_access: Some("Disabled".into()),
        root_access: Some("Enabled".into()),
        ..compliant_nb()
    };
    let r = observed_notebook(nb);
    assert_eq!(verdict_of(&r, &policy, S1).status, Status::Passed);
    assert_eq!(verdict_of(&r, &policy, S3).status, Status::Failed);
}

// ---------------------------------------------------------------------------------------------
// SageMaker.4: endpoint config instance counts

#[test]
fn sagemaker4_instance_counts() {
    struct Case {
        what: &'static str,
        variants: Vec<ProductionVariant>,
        status: Status,
        /// Each must appear in the reason.
        named: &'static [&'static str],
        /// None may appear in the reason.
        not_named: &'static [&'static str],
    }
    let cases = vec![
        Case {
            what: "all instance-based counts 2",
            variants: vec![
                instance_variant("a", Some(2)),
                instance_variant("b", Some(2)),
            ],
            status: Status::Passed,
            named: &[],
            not_named: &[],
        },
        Case {
            what: "one variant count 1",
            variants: vec![
                instance_variant("good", Some(2)),
                instance_variant("lonely", Some(1)),
            ],
            status: Status::Failed,
            named: &["lonely has InitialInstanceCount 1"],
            not_named: &["good"],
        },
        Case {
            what: "count 0",
            variants: vec![instance_variant("zero", Some(0))],
            status: Status::Failed,
            named: &["zero has InitialInstanceCount 0"],
            not_named: &[],
        },
        Case {
            what: "count absent",
            variants: vec![instance_variant("unset", None)],
            status: Status::Failed,
            named: &["unset has no InitialInstanceCount"],
            not_named: &[],
        },
        Case {
            what: "all serverless",
            variants: vec![serverless_variant("s1"), serverless_variant("s2")],
            status: Status::NotApplicable,
            named: &["serverless"],
            not_named: &[],
        },
        Case {
            what: "mixed serverless + instance count 1",
            variants: vec![serverless_variant("srv"), instance_variant("inst", Some(1))],
            status: Status::Failed,
            named: &["inst has InitialInstanceCount 1"],
            not_named: &["srv"],
        },
        Case {
            what: "mixed serverless + instance count 3 (serverless not judged)",
            variants: vec![serverless_variant("srv"), instance_variant("inst", Some(3))],
            status: Status::Passed,
            named: &[],
            not_named: &["srv"],
        },
        Case {
            what: "no variants",
            variants: vec![],
            status: Status::NotApplicable,
            named: &["no production variants"],
            not_named: &[],
        },
    ];
    let policy = all_on();
    for c in cases {
        let v = verdict_of(&endpoint_config(c.variants), &policy, S4);
        assert_eq!(v.status, c.status, "{}: {v:?}", c.what);
        for n in c.named {
            assert!(
                v.reason.contains(n),
                "{}: reason {:?} should contain {n:?}",
                c.what,
                v.reason
            );
        }
        for n in c.not_named {
            assert!(
                !v.reason.contains(n),
                "{}: reason {:?} should not name {n:?}",
                c.what,
                v.reason
            );
        }
    }
}

#[test]
fn sagemaker4_names_every_failing_variant() {
    let r = endpoint_config(vec![
        instance_variant("a", Some(1)),
        instance_variant("b", Some(5)),
        instance_variant("c", None),
    ]);
    let v = verdict_of(&r, &all_on(), S4);
    assert_eq!(v.status, Status::Failed);
    assert_eq!(
        v.reason,
        "a has InitialInstanceCount 1; c has no InitialInstanceCount"
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.5: model network isolation

#[test]
fn sagemaker5_network_isolation() {
    let cases = [
        (Some(true), Status::Passed, "EnableNetworkIsolation is true"),
        (
            Some(false),
            Status::Failed,
            "EnableNetworkIsolation is false",
        ),
        (None, Status::Failed, "not set"),
    ];
    let policy = all_on();
    for (isolation, status, reason) in cases {
        let v = verdict_of(&model(isolation), &policy, S5);
        assert_eq!(
            v.status, status,
            "EnableNetworkIsolation {isolation:?}: {v:?}"
        );
        assert!(
            v.reason.contains(reason),
            "EnableNetworkIsolation {isolation:?}: reason {:?}",
            v.reason
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SageMaker.6 and .7: tags

/// The two tag controls with the kind each judges.
const TAG_CONTROLS: [(ControlId, ResourceKind); 2] = [
    (S6, ResourceKind::AppImageConfig),
    (S7, ResourceKind::Image),
];

fn tagged(kind: ResourceKind, t: Option<Tags>) -> Observed {
    let details = match kind {
        ResourceKind::Image => Details::Image,
        _ => Details::AppImageConfig,
    };
    observed(kind, "tagged-1", Some(details), t)
}

#[test]
fn sagemaker6_7_without_required_keys_need_any_user_tag() {
    let cases: &[(&str, TagPairs, Status)] = &[
        ("no tags", &[], Status::Failed),
        (
            "only aws: tags",
            &[
                ("aws:cloudformation:stack-name", "s"),
                ("aws:sagemaker:domain-arn", "d"),
            ],
            Status::Failed,
        ),
        ("one user tag", &[("owner", "me")], Status::Passed),
        (
            "a user tag beside aws: tags",
            &[("aws:x", "1"), ("team", "ml")],
            Status::Passed,
        ),
    ];
    let policy = all_on();
    for (id, kind) in TAG_CONTROLS {
        for (what, t, status) in cases {
            let v = verdict_of(&tagged(kind, Some(tags(t))), &policy, id);
            assert_eq!(v.status, *status, "{id}, {what}: {v:?}");
        }
    }
}

#[test]
fn sagemaker6_7_with_required_keys_are_case_sensitive() {
    let policy = load_policy(
        r#"
controls:
  SageMaker.6: {parameters: {requiredKeyTags: [owner, CostCenter]}}
  SageMaker.7: {parameters: {requiredKeyTags: [owner, CostCenter]}}
"#,
    );
    // (what, tags, status, keys the reason must name as missing, keys it must not name)
    let cases: &[(&str, TagPairs, Status, Keys, Keys)] = &[
        (
            "both present",
            &[("owner", "a"), ("CostCenter", "42")],
            Status::Passed,
            &[],
            &[],
        ),
        (
            "costcenter in lower case instead of CostCenter",
            &[("owner", "a"), ("costcenter", "42")],
            Status::Failed,
            &["CostCenter"],
            &["owner"],
        ),
        (
            "missing owner",
            &[("CostCenter", "42")],
            Status::Failed,
            &["owner"],
            &["CostCenter"],
        ),
        (
            "missing CostCenter",
            &[("owner", "a"), ("team", "x")],
            Status::Failed,
            &["CostCenter"],
            &["owner"],
        ),
        (
            "no tags at all",
            &[],
            Status::Failed,
            &["owner", "CostCenter"],
            &[],
        ),
        (
            "empty value still counts as present",
            &[("owner", ""), ("CostCenter", "")],
            Status::Passed,
            &[],
            &[],
        ),
    ];
    for (id, kind) in TAG_CONTROLS {
        for (what, t, status, missing, present) in cases {
            let v = verdict_of(&tagged(kind, Some(tags(t))), &policy, id);
            assert_eq!(v.status, *status, "{id}, {what}: {v:?}");
            if *status == Status::Failed {
                assert!(
                    v.reason.starts_with("missing required tag key(s):"),
                    "{id}, {what}: {:?}",
                    v.reason
                );
            }
            let listed = v.reason.trim_start_matches("missing required tag key(s):");
            for k in *missing {
                assert!(
                    listed.split(',').any(|s| s.trim() == *k),
                    "{id}, {what}: reason {:?} should name {k}",
                    v.reason
                );
            }
            if *status == Status::Failed {
                for k in *present {
                    assert!(
                        !listed.split(',').any(|s| s.trim() == *k),
                        "{id}, {what}: reason {:?} should not name {k}",
                        v.reason
                    );
                }
            }
        }
    }
}

#[test]
fn sagemaker6_7_tags_not_read_is_an_error() {
    let with_keys = load_policy(
        r#"
controls:
  SageMaker.6: {parameters: {requiredKeyTags: [owner]}}
  SageMaker.7: {parameters: {requiredKeyTags: [owner]}}
"#,
    );
    for policy in [all_on(), with_keys] {
        for (id, kind) in TAG_CONTROLS {
            let v = verdict_of(&tagged(kind, None), &policy, id);
            assert_eq!(v.status, Status::Error, "{id}: {v:?}");
            assert!(
                v.reason.contains("tags were not read"),
                "{id}: {:?}",
                v.reason
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SageMaker.8: platform

#[test]
fn sagemaker8_platform_identifier() {
    let custom = load_policy(
        r#"
controls:
  SageMaker.8: {parameters: {supportedPlatformIdentifierVersions: [notebook-al2-v3]}}
"#,
    );
    let default = all_on();
    let cases: &[(&str, &Policy, Option<&str>, Status)] = &[
        (
            "default list, al2023",
            &default,
            Some("notebook-al2023-v1"),
            Status::Passed,
        ),
        (
            "default list, al2-v3",
            &default,
            Some("notebook-al2-v3"),
            Status::Failed,
        ),
        (
            "default list, al1",
            &default,
            Some("notebook-al1-v1"),
            Status::Failed,
        ),
        (
            "custom list, al2-v3",
            &custom,
            Some("notebook-al2-v3"),
            Status::Passed,
        ),
        (
            "custom list, al2023",
            &custom,
            Some("notebook-al2023-v1"),
            Status::Failed,
        ),
        ("default list, absent", &default, None, Status::Error),
        ("custom list, absent", &custom, None, Status::Error),
    ];
    for (what, policy, platform, status) in cases {
        let nb = NotebookInstance {
            platform_identifier: platform.map(str::to_string),
            ..compliant_nb()
        };
        let v = verdict_of(&observed_notebook(nb), policy, S8);
        assert_eq!(v.status, *status, "{what}: {v:?}");
        if *status == Status::Failed {
            // A failure names the supported list so the reader knows the target.
            let supported = &policy.control(S8).unwrap().supported_platforms;
            assert!(
                v.reason.contains(&supported.join(", ")),
                "{what}: {:?}",
                v.reason
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Which controls are evaluated

#[test]
fn only_controls_of_the_resources_kind_are_evaluated_in_control_order() {
    let policy = all_on();
    let cases = [
        (observed_notebook(compliant_nb()), vec![S1, S2, S3, S8, S21]),
        (
            endpoint_config(vec![instance_variant("a", Some(2))]),
            vec![S4],
        ),
        (
            model(Some(true)),
            vec![S5, ControlId::SageMaker16, ControlId::SageMaker19],
        ),
        (
            tagged(ResourceKind::Image, Some(tags(&[("owner", "a")]))),
            vec![S7],
        ),
        (
            tagged(ResourceKind::AppImageConfig, Some(tags(&[("owner", "a")]))),
            vec![S6],
        ),
        (
            compliant(ResourceKind::DataQualityJobDefinition),
            vec![ControlId::SageMaker9, ControlId::SageMaker11],
        ),
        (
            compliant(ResourceKind::ModelExplainabilityJobDefinition),
            vec![ControlId::SageMaker10, ControlId::SageMaker20],
        ),
        (
            compliant(ResourceKind::ModelBiasJobDefinition),
            vec![ControlId::SageMaker12, ControlId::SageMaker15],
        ),
        (
            compliant(ResourceKind::ModelQualityJobDefinition),
            vec![ControlId::SageMaker13, ControlId::SageMaker25],
        ),
        (
            compliant(ResourceKind::MonitoringSchedule),
            vec![ControlId::SageMaker14, ControlId::SageMaker22],
        ),
        (
            compliant(ResourceKind::FeatureGroup),
            vec![ControlId::SageMaker17, ControlId::SageMaker18],
        ),
        (
            compliant(ResourceKind::InferenceExperiment),
            vec![ControlId::SageMaker23, ControlId::SageMaker24],
        ),
    ];
    for (resource, expected) in cases {
        let verdicts = evaluate(&resource, &policy, now());
        assert_eq!(controls_of(&verdicts), expected, "{}", resource.kind);
        // Every one of these resources is compliant: each control passes, or it is outside its
        // scope (a model's other container control, a feature group without an online store).
        assert!(
            verdicts
                .iter()
                .all(|v| matches!(v.status, Status::Passed | Status::NotApplicable)),
            "{verdicts:?}"
        );
        assert!(verdicts.iter().any(|v| v.status == Status::Passed));
    }
}

#[test]
fn controls_set_to_off_are_not_evaluated() {
    let policy = load_policy(
        r#"
controls:
  SageMaker.1: {action: off}
  SageMaker.8: {action: off}
"#,
    );
    // A notebook failing every control: only .2, .3 and .21 give a verdict.
    let failing = NotebookInstance {
        direct_internet_access: Some("Enabled".into()),
        subnet_id: None,
        root_access: Some("Enabled".into()),
        platform_identifier: Some("notebook-al1-v1".into()),
        kms_key_id: None,
        ..compliant_nb()
    };
    let verdicts = evaluate(&observed_notebook(failing), &policy, now());
    assert_eq!(controls_of(&verdicts), vec![S2, S3, S21]);
    assert!(
        verdicts.iter().all(|v| v.status == Status::Failed),
        "{verdicts:?}"
    );

    // defaultAction off: only what is listed is evaluated.
    let policy = load_policy(
        r#"
defaultAction: off
controls:
  SageMaker.5: {action: finding}
"#,
    );
    assert!(evaluate(&observed_notebook(compliant_nb()), &policy, now()).is_empty());
    assert!(evaluate(
        &endpoint_config(vec![instance_variant("a", Some(1))]),
        &policy,
        now()
    )
    .is_empty());
    assert!(evaluate(&tagged(ResourceKind::Image, None), &policy, now()).is_empty());
    let verdicts = evaluate(&model(Some(false)), &policy, now());
    assert_eq!(controls_of(&verdicts), vec![S5]);
    assert_eq!(verdicts[0].status, Status::Failed);
}

// ---------------------------------------------------------------------------------------------
// Missing or mismatched details

#[test]
fn missing_details_is_an_error_for_every_configuration_control() {
    let policy = all_on();
    let cases = [
        (ResourceKind::NotebookInstance, vec![S1, S2, S3, S8, S21]),
        (ResourceKind::EndpointConfig, vec![S4]),
        (
            ResourceKind::Model,
            vec![S5, ControlId::SageMaker16, ControlId::SageMaker19],
        ),
        (
            ResourceKind::DataQualityJobDefinition,
            vec![ControlId::SageMaker9, ControlId::SageMaker11],
        ),
        (
            ResourceKind::MonitoringSchedule,
            vec![ControlId::SageMaker14, ControlId::SageMaker22],
        ),
        (
            ResourceKind::FeatureGroup,
            vec![ControlId::SageMaker17, ControlId::SageMaker18],
        ),
        (
            ResourceKind::InferenceExperiment,
            vec![ControlId::SageMaker23, ControlId::SageMaker24],
        ),
    ];
    for (kind, controls) in cases {
        let r = observed(kind, "undescribed", None, Some(Tags::default()));
        let verdicts = evaluate(&r, &policy, now());
        assert_eq!(controls_of(&verdicts), controls, "{kind}");
        for v in verdicts {
            assert_eq!(v.status, Status::Error, "{kind}: {v:?}");
            assert!(
                v.reason.contains("configuration was not read"),
                "{kind}: {:?}",
                v.reason
            );
        }
    }
}

#[test]
fn tag_controls_do_not_need_details() {
    // Images and app image configs are judged by tags alone.
    let policy = all_on();
    for (id, kind) in TAG_CONTROLS {
        let r = observed(kind, "x", None, Some(tags(&[("owner", "me")])));
        assert_eq!(verdict_of(&r, &policy, id).status, Status::Passed, "{id}");
    }
}

#[test]
fn details_of_another_kind_are_an_error_never_a_verdict() {
    let settings = all_on().control(S1).unwrap().clone();
    let model_as_notebook = observed(
        ResourceKind::NotebookInstance,
        "odd",
        Some(Details::Model(Model {
            enable_network_isolation: Some(true),
            ..Default::default()
        })),
        None,
    );
    for id in [S1, S2, S3, S8] {
        assert!(
            matches!(
                judge(id, &settings, &model_as_notebook),
                Judgement::Unknown(_)
            ),
            "{id} judged model details"
        );
    }
    let notebook_as_model = observed(
        ResourceKind::Model,
        "odd",
        Some(Details::NotebookInstance(compliant_nb())),
        None,
    );
    assert!(matches!(
        judge(S5, &settings, &notebook_as_model),
        Judgement::Unknown(_)
    ));
    assert!(matches!(
        judge(S4, &settings, &notebook_as_model),
        Judgement::Unknown(_)
    ));
}

#[test]
fn sagemaker_21_is_judged_by_the_notebooks_volume_key() {
    let policy = load_policy("controls: {SageMaker.21: {action: finding}}");
    let cases: [(Option<&str>, Status); 4] = [
        (Some("alias/notebooks"), Status::Passed),
        (None, Status::Failed),
        (Some(""), Status::Failed),
        (Some("  "), Status::Failed),
    ];
    for (key, expected) in cases {
        let r = observed_notebook(NotebookInstance {
            kms_key_id: key.map(str::to_string),
            ..compliant_nb()
        });
        assert_eq!(verdict_of(&r, &policy, S21).status, expected, "{key:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Exemptions

/// A notebook failing .1 and .3 (and passing .2 and .8), named and tagged as given.
fn failing_notebook(name: &str, t: Option<Tags>) -> Observed {
    let nb = NotebookInstance {
        direct_internet_access: Some("Enabled".into()),
        root_access: Some("Enabled".into()),
        ..compliant_nb()
    };
    observed(
        ResourceKind::NotebookInstance,
        name,
        Some(Details::NotebookInstance(nb)),
        t,
    )
}

#[test]
fn exemptions() {
    struct Case {
        what: &'static str,
        exemptions: &'static str,
        name: &'static str,
        tags: Option<&'static [(&'static str, &'static str)]>,
        /// The status of SageMaker.1 and of SageMaker.3.
        expect: [Status; 2],
    }
    use Status::{Error, Exempt, Failed};
    let cases = [
        Case {
            what: "tag with exact value, matching",
            exemptions: r#"[{name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}]"#,
            name: "nb",
            tags: Some(&[("sagemaker-guard/exempt", "true")]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "tag with exact value, other value",
            exemptions: r#"[{name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}]"#,
            name: "nb",
            tags: Some(&[("sagemaker-guard/exempt", "false")]),
            expect: [Failed, Failed],
        },
        Case {
            what: "tag with exact value, absent",
            exemptions: r#"[{name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}]"#,
            name: "nb",
            tags: Some(&[("owner", "me")]),
            expect: [Failed, Failed],
        },
        Case {
            what: "tag key is case-sensitive",
            exemptions: r#"[{name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}]"#,
            name: "nb",
            tags: Some(&[("Sagemaker-Guard/Exempt", "true")]),
            expect: [Failed, Failed],
        },
        Case {
            what: "tag with * value, any value",
            exemptions: r#"[{name: legacy, resourceTags: {legacy: "*"}}]"#,
            name: "nb",
            tags: Some(&[("legacy", "whatever")]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "tag with * value, empty value",
            exemptions: r#"[{name: legacy, resourceTags: {legacy: "*"}}]"#,
            name: "nb",
            tags: Some(&[("legacy", "")]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "tag with * value, key absent",
            exemptions: r#"[{name: legacy, resourceTags: {legacy: "*"}}]"#,
            name: "nb",
            tags: Some(&[]),
            expect: [Failed, Failed],
        },
        Case {
            what: "every tag must match",
            exemptions: r#"[{name: both, resourceTags: {a: "1", b: "*"}}]"#,
            name: "nb",
            tags: Some(&[("a", "1")]),
            expect: [Failed, Failed],
        },
        Case {
            what: "name pattern, matching",
            exemptions: r#"[{name: sandboxes, namePatterns: ["sandbox-*"]}]"#,
            name: "sandbox-alice",
            tags: Some(&[]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "name pattern, not matching",
            exemptions: r#"[{name: sandboxes, namePatterns: ["sandbox-*"]}]"#,
            name: "prod-alice",
            tags: Some(&[]),
            expect: [Failed, Failed],
        },
        Case {
            what: "any of several name patterns",
            exemptions: r#"[{name: scratch, namePatterns: ["sandbox-*", "tmp-?"]}]"#,
            name: "tmp-1",
            tags: Some(&[]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "name pattern and tag: both needed",
            exemptions: r#"[{name: sb, namePatterns: ["sandbox-*"], resourceTags: {team: ml}}]"#,
            name: "sandbox-1",
            tags: Some(&[("team", "web")]),
            expect: [Failed, Failed],
        },
        Case {
            what: "per-control: covers only the listed control",
            exemptions: r#"[{name: net, controls: [SageMaker.1], namePatterns: ["*"]}]"#,
            name: "nb",
            tags: Some(&[]),
            expect: [Exempt, Failed],
        },
        Case {
            what: "expired: ignored, control evaluated",
            exemptions: r#"[{name: old, namePatterns: ["*"], expires: 2026-01-01}]"#,
            name: "nb",
            tags: Some(&[]),
            expect: [Failed, Failed],
        },
        Case {
            what: "expires at this very moment: expired",
            exemptions: r#"[{name: old, namePatterns: ["*"], expires: "2026-11-29T00:00:00Z"}]"#,
            name: "nb",
            tags: Some(&[]),
            expect: [Failed, Failed],
        },
        Case {
            what: "expires in the future: applies",
            exemptions: r#"[{name: soon, namePatterns: ["*"], expires: 2027-01-01}]"#,
            name: "nb",
            tags: Some(&[]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "expires one second from now: applies",
            exemptions: r#"[{name: soon, namePatterns: ["*"], expires: "2026-11-29T00:00:01Z"}]"#,
            name: "nb",
            tags: Some(&[]),
            expect: [Exempt, Exempt],
        },
        Case {
            what: "tag exemption, tags not read: error (fail closed)",
            exemptions: r#"[{name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}]"#,
            name: "nb",
            tags: None,
            expect: [Error, Error],
        },
        Case {
            what: "per-control tag exemption, tags not read: error only where it could apply",
            exemptions: r#"[{name: opt-out, controls: [SageMaker.3], resourceTags: {x: "*"}}]"#,
            name: "nb",
            tags: None,
            expect: [Failed, Error],
        },
        Case {
            what: "tag exemption whose name pattern does not match, tags not read: not needed",
            exemptions: r#"[{name: sb, namePatterns: ["sandbox-*"], resourceTags: {x: "*"}}]"#,
            name: "prod",
            tags: None,
            expect: [Failed, Failed],
        },
        Case {
            what: "expired tag exemption, tags not read: not needed",
            exemptions: r#"[{name: old, resourceTags: {x: "*"}, expires: 2026-01-01}]"#,
            name: "nb",
            tags: None,
            expect: [Failed, Failed],
        },
        Case {
            what: "name exemption, tags not read: exempt",
            exemptions: r#"[{name: all, namePatterns: ["*"]}]"#,
            name: "nb",
            tags: None,
            expect: [Exempt, Exempt],
        },
    ];
    for c in cases {
        let policy = load_policy(&format!("exemptions: {}", c.exemptions));
        let t = c.tags.map(tags);
        let r = failing_notebook(c.name, t);
        let verdicts = evaluate(&r, &policy, now());
        // The exemptions never change which controls are evaluated.
        assert_eq!(
            controls_of(&verdicts),
            vec![S1, S2, S3, S8, S21],
            "{}",
            c.what
        );
        let got = [
            verdict_of(&r, &policy, S1).status,
            verdict_of(&r, &policy, S3).status,
        ];
        assert_eq!(got, c.expect, "{}: {verdicts:#?}", c.what);
        for v in &verdicts {
            assert_eq!(
                v.exemption.is_some(),
                v.status == Status::Exempt,
                "{}: {v:?}",
                c.what
            );
        }
    }
}

#[test]
fn exempt_verdict_names_the_exemption_and_its_reason() {
    let policy = load_policy(
        r#"
exemptions:
  - name: sandboxes
    reason: sandbox notebooks hold no data
    namePatterns: ["sandbox-*"]
"#,
    );
    let v = verdict_of(
        &failing_notebook("sandbox-1", Some(Tags::default())),
        &policy,
        S1,
    );
    assert_eq!(v.status, Status::Exempt);
    assert_eq!(v.exemption.as_deref(), Some("sandboxes"));
    assert!(v.reason.contains("sandboxes"), "{:?}", v.reason);
    assert!(
        v.reason.contains("sandbox notebooks hold no data"),
        "{:?}",
        v.reason
    );

    // Without a reason, and without a name: the exemption is named by its position.
    let policy =
        load_policy(r#"exemptions: [{namePatterns: ["nope"]}, {namePatterns: ["sandbox-*"]}]"#);
    let v = verdict_of(
        &failing_notebook("sandbox-1", Some(Tags::default())),
        &policy,
        S3,
    );
    assert_eq!(v.status, Status::Exempt);
    assert_eq!(v.exemption.as_deref(), Some("exemptions[1]"));
    assert_eq!(v.reason, "exempt by `exemptions[1]`");
}

#[test]
fn exemption_error_names_the_exemption() {
    let policy = load_policy(
        r#"exemptions: [{name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}]"#,
    );
    let v = verdict_of(&failing_notebook("nb", None), &policy, S1);
    assert_eq!(v.status, Status::Error);
    assert_eq!(v.exemption, None);
    assert!(v.reason.contains("opt-out"), "{:?}", v.reason);
    assert!(v.reason.contains("tags were not read"), "{:?}", v.reason);
}

#[test]
fn an_exemption_applies_even_when_the_check_cannot_run() {
    // An exempt resource is never acted on: the exemption wins over missing details.
    let policy = load_policy(r#"exemptions: [{name: all, namePatterns: ["nb-*"]}]"#);
    let r = observed(ResourceKind::NotebookInstance, "nb-9", None, None);
    let verdicts = evaluate(&r, &policy, now());
    assert_eq!(controls_of(&verdicts), vec![S1, S2, S3, S8, S21]);
    assert!(
        verdicts.iter().all(|v| v.status == Status::Exempt),
        "{verdicts:?}"
    );
}

#[test]
fn the_first_matching_exemption_is_named() {
    let policy = load_policy(
        r#"
exemptions:
  - {name: only-s3, controls: [SageMaker.3], namePatterns: ["*"]}
  - {name: everything, namePatterns: ["*"]}
"#,
    );
    let r = failing_notebook("nb", Some(Tags::default()));
    assert_eq!(
        verdict_of(&r, &policy, S1).exemption.as_deref(),
        Some("everything")
    );
    assert_eq!(
        verdict_of(&r, &policy, S3).exemption.as_deref(),
        Some("only-s3")
    );
}

#[test]
fn exemptions_apply_to_tag_controls_too() {
    let policy = load_policy(
        r#"exemptions: [{name: imgs, controls: [SageMaker.7], namePatterns: ["tagged-*"]}]"#,
    );
    let v = verdict_of(
        &tagged(ResourceKind::Image, Some(Tags::default())),
        &policy,
        S7,
    );
    assert_eq!(v.status, Status::Exempt);
    // SageMaker.6 is not covered: it fails on the untagged app image config.
    let v = verdict_of(
        &tagged(ResourceKind::AppImageConfig, Some(Tags::default())),
        &policy,
        S6,
    );
    assert_eq!(v.status, Status::Failed);
}

#[test]
fn status_serializes_as_security_hub_names() {
    for s in Status::ALL {
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::String(s.as_str().to_string())
        );
    }
    let v = Verdict::new(S1, Status::Failed, "why");
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"control": "SageMaker.1", "status": "FAILED", "reason": "why"})
    );
}

#[test]
fn an_unreadable_tag_exemption_does_not_hide_a_matching_name_exemption() {
    let yaml = |first: &str, second: &str| {
        format!(
            "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  controls:\n    SageMaker.3: {{action: finding}}\n  exemptions:\n{first}{second}"
        )
    };
    let by_tag = "    - {name: by-tag, resourceTags: {x: y}}\n";
    let by_name = "    - {name: by-name, namePatterns: [\"nb-*\"]}\n";
    let nb = Observed {
        kind: crate::domain::resource::ResourceKind::NotebookInstance,
        name: "nb-1".into(),
        arn: "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb-1".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        tags: None,
        details: Some(Details::NotebookInstance(Default::default())),
    };
    let now: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
    for (a, b) in [(by_tag, by_name), (by_name, by_tag)] {
        let policy = crate::domain::policy::load("p.yaml", &yaml(a, b)).unwrap();
        let v = evaluate(&nb, &policy, now);
        assert_eq!(v[0].status, Status::Exempt, "{a}{b}");
        assert_eq!(v[0].exemption.as_deref(), Some("by-name"));
    }
    let policy = crate::domain::policy::load("p.yaml", &yaml(by_tag, "")).unwrap();
    assert_eq!(evaluate(&nb, &policy, now)[0].status, Status::Error);
}
