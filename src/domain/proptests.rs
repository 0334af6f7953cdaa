//! Property tests: the decoders of what others send (queue messages, recreate intents) and the
//! policy loader never panic, whatever the input, and always answer with a clear error.
//!
//! Besides arbitrary text, the inputs are JSON and YAML trees built from the words the decoders
//! look for (EventBridge envelope fields, CloudTrail, ASFF, OCSF, intent and policy keys), so
//! that most cases get past the first check and reach the deeper paths.

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::domain::event::{decode, DecodeError, Decoded};
use crate::domain::intent::check;
use crate::domain::policy;

const KEYS: &[&str] = &[
    "version",
    "id",
    "source",
    "detail-type",
    "account",
    "region",
    "time",
    "resources",
    "detail",
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "errorCode",
    "requestParameters",
    "responseElements",
    "notebookInstanceName",
    "endpointConfigName",
    "resourceArn",
    "notebookInstanceArn",
    "NotebookInstanceName",
    "NotebookInstanceArn",
    "findings",
    "Id",
    "AwsAccountId",
    "Region",
    "Resources",
    "Type",
    "Compliance",
    "SecurityControlId",
    "ProductFields",
    "GeneratorId",
    "cloud",
    "uid",
    "compliance",
    "control",
    "metadata",
    "product",
    "name",
    "arn",
    "captured",
    "spec",
    "fixes",
    "tags",
    "wasRunning",
    "controls",
    "policy",
    "signature",
    "keyId",
    "algorithm",
    "mac",
    "value",
    "InstanceType",
    "RoleArn",
    "instanceType",
    "roleArn",
    "creationTime",
];

const WORDS: &[&str] = &[
    "aws.sagemaker",
    "aws.securityhub",
    "sagemaker-guard",
    "AWS API Call via CloudTrail",
    "SageMaker Notebook Instance State Change",
    "SageMaker Endpoint Config State Change",
    "Security Hub Findings - Imported",
    "Findings Imported V2",
    "Recreate Intent",
    "sagemaker.amazonaws.com",
    "CreateNotebookInstance",
    "UpdateNotebookInstance",
    "AddTags",
    "DeleteNotebookInstance",
    "AwsSageMakerNotebookInstance",
    "SageMaker.1",
    "SageMaker.99",
    "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb",
    "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ML-Research-7",
    "arn:aws:sagemaker::x:notebook-instance/",
    "arn:aws:sagemaker",
    "123456789012",
    "us-east-1",
    "2026-12-01T10:00:00Z",
    "9999-12-31T23:59:59Z",
    "-003000-01-01T00:00:00Z",
    "HMAC_SHA_256",
    "DirectInternetAccess",
    "ml.t3.medium",
    "",
    " ",
    "\u{0}",
    "ü",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

/// JSON trees whose keys are mostly the decoders' own.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        4 => prop::sample::select(KEYS).prop_map(str::to_string),
                        1 => any::<String>(),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An EventBridge envelope of a source and detail-type the decoder knows, around any detail.
fn envelope() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(
            &[
                ("aws.sagemaker", "AWS API Call via CloudTrail"),
                ("aws.sagemaker", "SageMaker Notebook Instance State Change"),
                ("aws.securityhub", "Security Hub Findings - Imported"),
                ("aws.securityhub", "Findings Imported V2"),
                ("sagemaker-guard", "Recreate Intent"),
            ][..],
        ),
        json(),
        json(),
    )
        .prop_map(|((source, detail_type), detail, extra)| {
            let mut e = serde_json::json!({
                "version": "0", "source": source, "detail-type": detail_type,
                "account": "123456789012", "region": "us-east-1",
                "time": "2026-12-01T10:00:00Z", "detail": detail,
            });
            if let Value::Object(extra) = extra {
                for (k, v) in extra {
                    e[k] = v;
                }
            }
            e
        })
}

/// An error a user can act on: it says something, with a reason code for the dead-letter queue.
fn clear(e: &DecodeError) -> bool {
    !e.to_string().trim().is_empty()
        && [
            "malformed-json",
            "not-an-event",
            "no-resource",
            "accounts-disagree",
        ]
        .contains(&e.reason_code())
}

/// What decoding says, checked: an intent is also checked, which must not panic either.
fn decode_and_check(body: &str) -> Result<(), String> {
    match decode(body) {
        Ok(Decoded::Intent(signed)) => {
            let _ = check(&signed.intent, crate::domain::testing::now());
            let _ = signed.intent.digest();
            Ok(())
        }
        Ok(Decoded::Triggers(t)) if t.is_empty() => Err("triggers, but none".into()),
        Ok(_) => Ok(()),
        Err(e) if clear(&e) => Ok(()),
        Err(e) => Err(format!("an unclear error: {e:?}")),
    }
}

/// A real recreate intent's message, to be mutated.
fn real_intent() -> Value {
    use crate::domain::intent::{derive_spec, IntentSignature, RecreateIntent};
    use crate::domain::resource::NotebookInstance;
    let captured = NotebookInstance {
        instance_type: Some("ml.t3.medium".into()),
        role_arn: Some("arn:aws:iam::123456789012:role/nb".into()),
        creation_time: Some(1),
        ..NotebookInstance::default()
    };
    let id = "2026-12-01T10:00:00Z".to_string();
    let intent = RecreateIntent {
        id: id.clone(),
        name: "nb".into(),
        arn: "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        spec: derive_spec(&captured, &[]).unwrap(),
        captured,
        fixes: Vec::new(),
        tags: [("sagemaker-guard/recreated-at".to_string(), id)]
            .into_iter()
            .collect(),
        was_running: true,
        controls: Vec::new(),
        policy: "p".into(),
    };
    let signature = IntentSignature {
        key_id: "k".into(),
        algorithm: "HMAC_SHA_256".into(),
        mac: "bWFj".into(),
    };
    serde_json::from_str(&intent.to_message(&signature)).unwrap()
}

/// Policy files built from the policy's own words, most of them close to valid.
fn policy_yaml() -> impl Strategy<Value = String> {
    let key = prop::sample::select(
        &[
            "dryRun",
            "defaultAction",
            "controls",
            "SageMaker.1",
            "SageMaker.3",
            "SageMaker.12",
            "action",
            "parameters",
            "requiredKeyTags",
            "scope",
            "accounts",
            "regions",
            "exemptions",
            "name",
            "reason",
            "namePatterns",
            "resourceTags",
            "expires",
            "remediation",
            "gracePeriod",
            "freshWindow",
            "networks",
            "notebook",
            "maxRemediationsPerHour",
        ][..],
    );
    let value = prop::sample::select(
        &[
            "true",
            "yes",
            "remediate",
            "finding",
            "tag",
            "off",
            "9000y",
            "72h",
            "-1",
            "0",
            "[\"ML-*\"]",
            "{}",
            "[]",
            "\"2026-12-01\"",
            "~",
            "[[",
            "'",
            "&a",
            "*a",
            "!!binary x",
        ][..],
    );
    prop::collection::vec((0usize..3, key, value), 0..10).prop_map(|lines| {
        let mut out = String::from(
            "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: p}\nspec:\n",
        );
        for (depth, k, v) in lines {
            out.push_str(&"  ".repeat(depth + 1));
            out.push_str(&format!("{k}: {v}\n"));
        }
        out
    })
}

fn policy_answers_clearly(text: &str) -> Result<(), String> {
    match policy::load("p.yaml", text) {
        Ok(_) => Ok(()),
        Err(errors) => {
            if errors.errors.is_empty() {
                return Err("refused without saying why".into());
            }
            for e in &errors.errors {
                if e.file != "p.yaml" || e.line == 0 || e.message.trim().is_empty() {
                    return Err(format!("an error without its place or message: {e:?}"));
                }
            }
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn proptest_the_event_decoder_answers_any_text(body in any::<String>()) {
        prop_assert_eq!(decode_and_check(&body), Ok(()));
    }

    #[test]
    fn proptest_the_event_decoder_answers_any_json(value in json()) {
        prop_assert_eq!(decode_and_check(&value.to_string()), Ok(()));
    }

    #[test]
    fn proptest_the_event_decoder_answers_any_detail_of_a_known_event(value in envelope()) {
        prop_assert_eq!(decode_and_check(&value.to_string()), Ok(()));
    }

    #[test]
    fn proptest_the_intent_decoder_answers_any_change_to_a_real_intent(
        field in prop::sample::select(&[
            "id", "name", "arn", "account", "region", "captured", "spec", "fixes", "tags",
            "wasRunning", "controls", "policy", "signature",
        ][..]),
        value in json(),
        remove in any::<bool>(),
    ) {
        let mut message = real_intent();
        let detail = message["detail"].as_object_mut().unwrap();
        if remove {
            detail.remove(field);
        } else {
            detail.insert(field.to_string(), value);
        }
        prop_assert_eq!(decode_and_check(&message.to_string()), Ok(()));
    }

    #[test]
    fn proptest_the_policy_loader_answers_any_text(text in any::<String>()) {
        prop_assert_eq!(policy_answers_clearly(&text), Ok(()));
    }

    #[test]
    fn proptest_the_policy_loader_answers_any_policy_of_its_own_words(text in policy_yaml()) {
        prop_assert_eq!(policy_answers_clearly(&text), Ok(()));
    }
}
