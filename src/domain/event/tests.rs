use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What a fixture must decode to: the resources it names (kind, name, gone) or "ignored".
enum Want {
    Names(&'static [(ResourceKind, &'static str, bool)]),
    Ignored,
    NoResource,
    NotAnEvent,
}

use ResourceKind::*;
use Want::*;

const TABLE: &[(&str, Want)] = &[
    (
        "cloudtrail-create-notebook-instance",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    (
        "cloudtrail-update-notebook-instance",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    (
        "cloudtrail-start-notebook-instance",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    ("cloudtrail-stop-notebook-instance", Ignored),
    (
        "cloudtrail-delete-notebook-instance",
        Names(&[(NotebookInstance, "nb-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-endpoint-config",
        Names(&[(EndpointConfig, "epc-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-endpoint-config",
        Names(&[(EndpointConfig, "epc-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-model",
        Names(&[(Model, "model-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-model",
        Names(&[(Model, "model-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-image",
        Names(&[(Image, "image-fixture-1", false)]),
    ),
    (
        "cloudtrail-update-image",
        Names(&[(Image, "image-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-image",
        Names(&[(Image, "image-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-app-image-config",
        Names(&[(AppImageConfig, "aic-fixture-1", false)]),
    ),
    (
        "cloudtrail-update-app-image-config",
        Names(&[(AppImageConfig, "aic-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-app-image-config",
        Names(&[(AppImageConfig, "aic-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-data-quality-job-definition",
        Names(&[(DataQualityJobDefinition, "data-quality-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-data-quality-job-definition",
        Names(&[(DataQualityJobDefinition, "data-quality-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-model-quality-job-definition",
        Names(&[(ModelQualityJobDefinition, "model-quality-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-model-quality-job-definition",
        Names(&[(ModelQualityJobDefinition, "model-quality-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-model-bias-job-definition",
        Names(&[(ModelBiasJobDefinition, "model-bias-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-model-bias-job-definition",
        Names(&[(ModelBiasJobDefinition, "model-bias-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-model-explainability-job-definition",
        Names(&[(
            ModelExplainabilityJobDefinition,
            "model-explainability-fixture-1",
            false,
        )]),
    ),
    (
        "cloudtrail-delete-model-explainability-job-definition",
        Names(&[(
            ModelExplainabilityJobDefinition,
            "model-explainability-fixture-1",
            true,
        )]),
    ),
    (
        "cloudtrail-create-monitoring-schedule",
        Names(&[(MonitoringSchedule, "schedule-fixture-1", false)]),
    ),
    (
        "cloudtrail-update-monitoring-schedule",
        Names(&[(MonitoringSchedule, "schedule-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-monitoring-schedule",
        Names(&[(MonitoringSchedule, "schedule-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-feature-group",
        Names(&[(FeatureGroup, "fg-fixture-1", false)]),
    ),
    (
        "cloudtrail-update-feature-group",
        Names(&[(FeatureGroup, "fg-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-feature-group",
        Names(&[(FeatureGroup, "fg-fixture-1", true)]),
    ),
    (
        "cloudtrail-create-inference-experiment",
        Names(&[(InferenceExperiment, "experiment-fixture-1", false)]),
    ),
    (
        "cloudtrail-update-inference-experiment",
        Names(&[(InferenceExperiment, "experiment-fixture-1", false)]),
    ),
    (
        "cloudtrail-start-inference-experiment",
        Names(&[(InferenceExperiment, "experiment-fixture-1", false)]),
    ),
    (
        "cloudtrail-stop-inference-experiment",
        Names(&[(InferenceExperiment, "experiment-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-inference-experiment",
        Names(&[(InferenceExperiment, "experiment-fixture-1", true)]),
    ),
    (
        "cloudtrail-add-tags-notebook",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    (
        "cloudtrail-add-tags-image",
        Names(&[(Image, "image-fixture-1", false)]),
    ),
    (
        "cloudtrail-delete-tags-app-image-config",
        Names(&[(AppImageConfig, "aic-fixture-1", false)]),
    ),
    ("cloudtrail-add-tags-training-job", Ignored),
    ("cloudtrail-list-notebook-instances", Ignored),
    ("cloudtrail-create-notebook-instance-failed", Ignored),
    (
        "cloudtrail-create-notebook-instance-moto",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    ("cloudtrail-create-notebook-instance-no-name", NoResource),
    (
        "sagemaker-notebook-instance-state-change",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    (
        "sagemaker-endpoint-config-state-change",
        Names(&[(EndpointConfig, "epc-fixture-1", false)]),
    ),
    (
        "sagemaker-model-state-change",
        Names(&[(Model, "model-fixture-1", false)]),
    ),
    (
        "sagemaker-image-state-change",
        Names(&[(Image, "image-fixture-1", false)]),
    ),
    (
        "sagemaker-monitoring-schedule-state-change",
        Names(&[(MonitoringSchedule, "schedule-fixture-1", false)]),
    ),
    (
        "sagemaker-feature-group-state-change",
        Names(&[(FeatureGroup, "fg-fixture-1", false)]),
    ),
    ("sagemaker-training-job-state-change", Ignored),
    (
        "securityhub-findings-imported-asff",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    (
        "securityhub-findings-imported-asff-multi",
        Names(&[
            (EndpointConfig, "epc-fixture-1", false),
            (Model, "model-fixture-1", false),
        ]),
    ),
    ("securityhub-findings-imported-asff-other-control", Ignored),
    (
        "securityhub-findings-imported-v2-ocsf",
        Names(&[(NotebookInstance, "nb-fixture-1", false)]),
    ),
    ("other-service-ec2-state-change", Ignored),
    ("not-an-event", NotAnEvent),
];

#[test]
fn every_fixture_decodes_as_expected() {
    for (name, want) in TABLE {
        let got = decode(&fixture(name));
        match (want, &got) {
            (Names(expected), Ok(Decoded::Triggers(triggers))) => {
                let got: Vec<(ResourceKind, &str, bool)> = triggers
                    .iter()
                    .map(|t| (t.resource.kind, t.resource.name.as_str(), t.gone))
                    .collect();
                assert_eq!(&got, expected, "{name}");
                for t in triggers {
                    assert_eq!(
                        t.resource.account.as_deref(),
                        Some("123456789012"),
                        "{name}: account"
                    );
                    assert_eq!(
                        t.resource.region.as_deref(),
                        Some("us-east-1"),
                        "{name}: region"
                    );
                }
            }
            (Ignored, Ok(Decoded::Ignored(reason))) => assert!(!reason.is_empty(), "{name}"),
            (NoResource, Err(DecodeError::NoResource(_))) => {}
            (NotAnEvent, Err(DecodeError::NotAnEvent(_))) => {}
            _ => panic!("{name}: unexpected {got:?}"),
        }
    }
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let dir = format!("{}/tests/fixtures/events", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".json") {
            assert!(
                TABLE.iter().any(|(n, _)| *n == stem),
                "{name} has no expectation"
            );
        }
    }
}

#[test]
fn trigger_sources_say_where_the_event_came_from() {
    let Ok(Decoded::Triggers(t)) = decode(&fixture("cloudtrail-create-notebook-instance")) else {
        panic!()
    };
    assert_eq!(
        t[0].source,
        TriggerSource::CloudTrail {
            event_name: "CreateNotebookInstance".into()
        }
    );
    let Ok(Decoded::Triggers(t)) = decode(&fixture("securityhub-findings-imported-asff")) else {
        panic!()
    };
    assert_eq!(
        t[0].source,
        TriggerSource::SecurityHub {
            control: Some(ControlId::SageMaker3)
        }
    );
    let Ok(Decoded::Triggers(t)) = decode(&fixture("securityhub-findings-imported-v2-ocsf")) else {
        panic!()
    };
    assert_eq!(t[0].source.label(), "securityhub");
    assert_eq!(
        t[0].source,
        TriggerSource::SecurityHub {
            control: Some(ControlId::SageMaker8)
        }
    );
}

#[test]
fn malformed_json_reports_its_position() {
    let err = decode("{\n  \"version\": \"0\",\n  \"detail\": {oops}\n}").unwrap_err();
    match &err {
        DecodeError::Json { line, column, .. } => assert_eq!((*line, *column), (3, 14)),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.reason_code(), "malformed-json");
    assert!(
        err.to_string()
            .starts_with("malformed JSON at line 3, column 14"),
        "{err}"
    );
    assert!(matches!(
        decode("not json"),
        Err(DecodeError::Json { line: 1, .. })
    ));
    assert!(matches!(decode(""), Err(DecodeError::Json { .. })));
}

#[test]
fn json_that_is_no_event_is_refused() {
    for body in [
        "[]",
        "42",
        "\"text\"",
        "{\"detail-type\": \"x\"}",
        "{\"source\": 3, \"detail\": {}}",
    ] {
        assert!(
            matches!(decode(body), Err(DecodeError::NotAnEvent(_))),
            "{body}"
        );
    }
}

#[test]
fn the_guards_own_findings_are_ignored() {
    let body = fixture("securityhub-findings-imported-asff").replace(
        "security-control/SageMaker.3",
        "sagemaker-guard/SageMaker.3",
    );
    assert!(body.contains("sagemaker-guard/SageMaker.3"));
    assert!(matches!(decode(&body), Ok(Decoded::Ignored(_))));
}

#[test]
fn a_moto_envelope_without_account_takes_the_recipient_account() {
    let Ok(Decoded::Triggers(t)) = decode(&fixture("cloudtrail-create-notebook-instance-moto"))
    else {
        panic!()
    };
    assert_eq!(t[0].resource.account.as_deref(), Some("123456789012"));
}

#[test]
fn the_name_falls_back_to_the_response_arn() {
    let body = r#"{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.sagemaker",
        "region":"eu-west-1","detail":{"eventSource":"sagemaker.amazonaws.com","eventName":"CreateModel",
        "awsRegion":"eu-west-1","recipientAccountId":"111111111111","requestParameters":{},
        "responseElements":{"modelArn":"arn:aws:sagemaker:eu-west-1:111111111111:model/m-1"}}}"#;
    let Ok(Decoded::Triggers(t)) = decode(body) else {
        panic!()
    };
    assert_eq!(t[0].resource.name, "m-1");
    assert_eq!(t[0].resource.region.as_deref(), Some("eu-west-1"));
    assert_eq!(t[0].resource.account.as_deref(), Some("111111111111"));
}

/// A fixture with one field changed (a JSON pointer), decoded.
fn decode_changed(name: &str, pointer: &str, value: &str) -> Result<Decoded, DecodeError> {
    let mut v: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{name} has {pointer}")) = value.into();
    decode(&v.to_string())
}

fn disagree(r: Result<Decoded, DecodeError>) -> bool {
    matches!(&r, Err(e @ DecodeError::AccountsDisagree(_)) if e.reason_code() == "accounts-disagree")
}

#[test]
fn a_cloudtrail_event_whose_envelope_and_recipient_accounts_differ_is_refused() {
    let r = decode_changed(
        "cloudtrail-update-notebook-instance",
        "/account",
        "999999999999",
    );
    assert!(disagree(r));
}

#[test]
fn an_add_tags_event_naming_another_accounts_arn_is_refused() {
    let mut v: serde_json::Value =
        serde_json::from_str(&fixture("cloudtrail-add-tags-notebook")).unwrap();
    let arn = v["detail"]["requestParameters"]["resourceArn"]
        .as_str()
        .unwrap()
        .replace("123456789012", "999999999999");
    v["detail"]["requestParameters"]["resourceArn"] = arn.into();
    assert!(disagree(decode(&v.to_string())));
}

#[test]
fn an_asff_finding_whose_account_and_resource_arn_differ_is_refused() {
    let r = decode_changed(
        "securityhub-findings-imported-asff",
        "/detail/findings/0/AwsAccountId",
        "999999999999",
    );
    assert!(disagree(r));
}

#[test]
fn an_ocsf_finding_whose_cloud_account_and_resource_arn_differ_is_refused() {
    let r = decode_changed(
        "securityhub-findings-imported-v2-ocsf",
        "/detail/findings/0/cloud/account/uid",
        "999999999999",
    );
    assert!(disagree(r));
}

#[test]
fn a_state_change_whose_envelope_and_arn_accounts_differ_is_refused() {
    let r = decode_changed(
        "sagemaker-notebook-instance-state-change",
        "/account",
        "999999999999",
    );
    assert!(disagree(r));
}

#[test]
fn a_create_whose_response_arn_names_another_account_is_refused() {
    let r = decode_changed(
        "cloudtrail-create-monitoring-schedule",
        "/detail/responseElements/monitoringScheduleArn",
        "arn:aws:sagemaker:us-east-1:999999999999:monitoring-schedule/schedule-fixture-1",
    );
    assert!(disagree(r));
}

#[test]
fn a_feature_group_state_change_whose_arn_names_another_account_is_refused() {
    let r = decode_changed(
        "sagemaker-feature-group-state-change",
        "/detail/FeatureGroupArn",
        "arn:aws:sagemaker:us-east-1:999999999999:feature-group/fg-fixture-1",
    );
    assert!(disagree(r));
}

/// The ASFF fixture's finding, made one about `control` on the resource `arn` (ASFF has no
/// details type for the new kinds: `Type` is `Other`, as for endpoint configs and models).
fn asff_finding(control: &str, arn: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&fixture("securityhub-findings-imported-asff")).unwrap();
    let f = &mut v["detail"]["findings"][0];
    f["GeneratorId"] = format!("security-control/{control}").into();
    f["Compliance"]["SecurityControlId"] = control.into();
    f["Resources"] = serde_json::json!([
        {"Type": "Other", "Id": arn, "Partition": "aws", "Region": "us-east-1"}
    ]);
    v.to_string()
}

#[test]
fn an_asff_finding_of_sagemaker_14_triggers_the_monitoring_schedule_it_names() {
    let body = asff_finding(
        "SageMaker.14",
        "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/schedule-fixture-1",
    );
    let Ok(Decoded::Triggers(t)) = decode(&body) else {
        panic!("{:?}", decode(&body))
    };
    assert_eq!(
        t,
        [Trigger {
            resource: ResourceRef {
                kind: MonitoringSchedule,
                name: "schedule-fixture-1".into(),
                account: Some("123456789012".into()),
                region: Some("us-east-1".into()),
            },
            gone: false,
            source: TriggerSource::SecurityHub {
                control: Some(ControlId::SageMaker14)
            },
        }]
    );
}

#[test]
fn an_ocsf_finding_of_sagemaker_24_triggers_the_inference_experiment_it_names() {
    let mut v: serde_json::Value =
        serde_json::from_str(&fixture("securityhub-findings-imported-v2-ocsf")).unwrap();
    let f = &mut v["detail"]["findings"][0];
    f["compliance"]["control"] = "SageMaker.24".into();
    let r = &mut f["resources"][0];
    r["type"] = "AWS::SageMaker::InferenceExperiment".into();
    r["uid"] = "experiment-fixture-1".into();
    r["uid_alt"] =
        "arn:aws:sagemaker:us-east-1:123456789012:inference-experiment/experiment-fixture-1".into();
    let Ok(Decoded::Triggers(t)) = decode(&v.to_string()) else {
        panic!("{:?}", decode(&v.to_string()))
    };
    assert_eq!(
        t,
        [Trigger {
            resource: ResourceRef {
                kind: InferenceExperiment,
                name: "experiment-fixture-1".into(),
                account: Some("123456789012".into()),
                region: Some("us-east-1".into()),
            },
            gone: false,
            source: TriggerSource::SecurityHub {
                control: Some(ControlId::SageMaker24)
            },
        }]
    );
}
