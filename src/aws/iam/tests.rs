use super::*;

fn load(controls: &str) -> Policy {
    crate::domain::policy::load(
        "p.yaml",
        &format!("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  controls:\n{controls}"),
    )
    .unwrap()
}

fn statement<'a>(policy: &'a serde_json::Value, sid: &str) -> &'a serde_json::Value {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn an_audit_only_policy_reads_and_files_findings() {
    let audit = iam_policy(&load("    SageMaker.5: {action: finding}\n"));
    assert_eq!(
        statement(&audit, "SageMakerGuardRemediate")["Action"],
        serde_json::json!(["securityhub:BatchImportFindings"])
    );
    assert_eq!(
        statement(&audit, "SageMakerGuardRead")["Action"],
        serde_json::json!([
            "sagemaker:DescribeModel",
            "sagemaker:ListModels",
            "securityhub:GetFindings"
        ])
    );
    assert!(statement(&audit, "SageMakerGuardPassNotebookRoles").is_null());
}

#[test]
fn an_in_place_fix_may_stop_update_start_and_tag_but_passes_no_role() {
    let fix = iam_policy(&load("    SageMaker.3: {action: remediate}\n"));
    let write = allowed_actions(&fix);
    for p in [
        "sagemaker:StopNotebookInstance",
        "sagemaker:UpdateNotebookInstance",
        "sagemaker:StartNotebookInstance",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    ] {
        assert!(write.iter().any(|a| a == p), "{p} in {write:?}");
    }
    assert!(!write
        .iter()
        .any(|a| a == "sagemaker:DeleteNotebookInstance"));
    assert!(statement(&fix, "SageMakerGuardPassNotebookRoles").is_null());
}

#[test]
fn a_recreate_and_a_replacement_config_get_their_calls_and_passrole_to_sagemaker_only() {
    let recreate = iam_policy(&load(
        "    SageMaker.1: {action: remediate}\n    SageMaker.4: {action: remediate}\n",
    ));
    let write = statement(&recreate, "SageMakerGuardRemediate")["Action"]
        .as_array()
        .unwrap()
        .clone();
    for p in [
        "sagemaker:DeleteNotebookInstance",
        "sagemaker:CreateNotebookInstance",
        "sagemaker:StopNotebookInstance",
        "sqs:SendMessage",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:UpdateEndpoint",
    ] {
        assert!(write.iter().any(|a| a == p), "{p} in {write:?}");
    }
    let pass = statement(&recreate, "SageMakerGuardPassNotebookRoles");
    assert_eq!(pass["Action"], "iam:PassRole");
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "sagemaker.amazonaws.com"
    );
}

/// Every remediating action and an outcome bus: the most a policy can ask of the guard.
fn all_remediate() -> Policy {
    crate::domain::policy::load(
        "all.yaml",
        r#"apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: all}
spec:
  dryRun: false
  remediation:
    networks:
      - {account: "111111111111", region: us-east-1, subnetId: subnet-1, securityGroupIds: [sg-1]}
    tagValues: {owner: platform}
    eventBus: guard-outcomes
  exemptions:
    - {name: opt-out, resourceTags: {sagemaker-guard/exempt: "true"}}
  controls:
    SageMaker.1: {action: remediate}
    SageMaker.2: {action: remediate}
    SageMaker.3: {action: remediate}
    SageMaker.4: {action: remediate}
    SageMaker.5: {action: tag}
    SageMaker.6: {action: remediate, parameters: {requiredKeyTags: [owner]}}
    SageMaker.7: {action: remediate, parameters: {requiredKeyTags: [owner]}}
    SageMaker.8: {action: remediate}
"#,
    )
    .unwrap()
}

/// `snake_case` to the API's `PascalCase`.
fn operation_name(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The SDK operations called anywhere in `src/`: `<client>.<operation>()`, whitespace and line
/// breaks ignored, where the receiver is a client (`client`, `sqs`).
fn sdk_operations_called() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut ops = Vec::new();
    for file in files {
        let text: String = std::fs::read_to_string(&file)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for receiver in ["client.", "sqs."] {
            for (at, _) in text.match_indices(receiver) {
                let before = text[..at].chars().last();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[at + receiver.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if name.is_empty() || !rest[name.len()..].starts_with("()") || name == "clone" {
                    continue;
                }
                ops.push((operation_name(&name), file.display().to_string()));
            }
        }
    }
    ops
}

#[test]
fn every_sdk_operation_the_code_calls_is_allowed_by_the_policy_of_an_all_remediate_policy() {
    let allowed = allowed_actions(&iam_policy(&all_remediate()));
    let called = sdk_operations_called();
    assert!(
        called.len() >= 25,
        "the scan finds the SDK calls ({} found: {called:?})",
        called.len()
    );
    let missing: Vec<&(String, String)> = called
        .iter()
        .filter(|(op, _)| {
            !allowed
                .iter()
                .any(|a| a.split(':').nth(1) == Some(op.as_str()))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "called but not in `iam-policy`: {missing:?}\nallowed: {allowed:?}"
    );
}

#[test]
fn every_mutation_of_every_fix_is_in_the_policy_that_remediates_everything() {
    let allowed = allowed_actions(&iam_policy(&all_remediate()));
    for m in Mutation::ALL {
        assert!(
            allowed.contains(&m.permission()),
            "{m:?} ({}) in {allowed:?}",
            m.permission()
        );
    }
}
