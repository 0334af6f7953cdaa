use super::*;

const HEAD: &str =
    "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata:\n  name: t\nspec:\n";

/// A policy whose spec is `spec` (indented by the caller); line 6 is the spec's first line.
fn with_spec(spec: &str) -> String {
    format!("{HEAD}{spec}")
}

fn errors(yaml: &str) -> Vec<PolicyError> {
    match load("p.yaml", yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(PolicyErrors { errors, .. }) => errors,
    }
}

#[test]
fn the_example_of_the_issue_loads() {
    let p = load(
        "p.yaml",
        &with_spec(
            "  dryRun: true\n  controls:\n    SageMaker.3: {action: remediate}\n    SageMaker.6:\n      action: tag\n      parameters: {requiredKeyTags: [owner, CostCenter]}\n  remediation:\n    tagValues: {owner: a, CostCenter: b}\n",
        ),
    )
    .unwrap();
    assert!(p.dry_run);
    assert_eq!(p.name, "t");
    assert_eq!(
        p.control(ControlId::SageMaker3).unwrap().action,
        Action::Remediate
    );
    let s6 = p.control(ControlId::SageMaker6).unwrap();
    assert_eq!(s6.action, Action::Tag);
    assert_eq!(s6.required_key_tags, vec!["owner", "CostCenter"]);
    // Unlisted controls take the default action, finding.
    assert_eq!(
        p.control(ControlId::SageMaker1).unwrap().action,
        Action::Finding
    );
    assert_eq!(
        p.control(ControlId::SageMaker8)
            .unwrap()
            .supported_platforms,
        vec!["notebook-al2023-v1"]
    );
}

#[test]
fn defaults_are_safe() {
    let p = load("p.yaml", &with_spec("  controls: {}\n")).unwrap();
    assert!(p.dry_run, "a policy is dry-run unless it says otherwise");
    assert_eq!(p.controls.len(), ControlId::ALL.len());
    assert_eq!(p.remediation.fresh_window, Duration::from_secs(1800));
    assert_eq!(p.remediation.grace_period, Duration::from_secs(72 * 3600));
    assert_eq!(p.remediation.min_instance_count, 2);
}

#[test]
fn off_controls_are_left_out() {
    let p = load(
        "p.yaml",
        &with_spec("  defaultAction: off\n  controls:\n    SageMaker.5: {action: finding}\n"),
    )
    .unwrap();
    assert_eq!(
        p.controls.keys().copied().collect::<Vec<_>>(),
        vec![ControlId::SageMaker5]
    );
    assert!(p.judges(ResourceKind::Model));
    assert!(!p.judges(ResourceKind::NotebookInstance));
}

#[test]
fn sagemaker_8_platforms_can_be_set() {
    let p = load(
        "p.yaml",
        &with_spec("  controls:\n    SageMaker.8:\n      parameters: {supportedPlatformIdentifierVersions: [notebook-al2-v3]}\n"),
    )
    .unwrap();
    assert_eq!(
        p.control(ControlId::SageMaker8)
            .unwrap()
            .supported_platforms,
        vec!["notebook-al2-v3"]
    );
}

/// Every error the loader gives: (spec, line, column, message part, hint part).
#[test]
fn every_policy_error_names_file_line_column_and_hint() {
    let cases: &[(&str, u64, u64, &str, &str)] = &[
        ("  controls:\n    SageMaker.26: {action: finding}\n", 7, 5, "unknown control `SageMaker.26`", "SageMaker.1 to SageMaker.25"),
        ("  dryrun: true\n", 6, 3, "unknown key `dryrun` in spec", "did you mean `dryRun`?"),
        ("  controls:\n    SageMaker.3: {action: fix}\n", 7, 27, "`fix` is not an action", "off, finding, tag and remediate"),
        ("  dryRun: no\n", 6, 11, "boolean", "true or false"),
        ("  dryRun: 3\n", 6, 11, "", ""),
        ("  controls:\n    SageMaker.3:\n      parameters: {requiredKeyTags: [a]}\n", 8, 20, "SageMaker.3 takes no parameters", "SageMaker.6 and SageMaker.7 take requiredKeyTags"),
        ("  controls:\n    SageMaker.5: {action: remediate}\n", 7, 27, "SageMaker.5 cannot be remediated", "action: finding"),
        ("  defaultAction: remediate\n  controls:\n    SageMaker.2: {action: finding}\n", 6, 18, "SageMaker.5 cannot be remediated (through spec.defaultAction", "SageMaker.5"),
        ("  controls:\n    SageMaker.2: {action: remediate}\n", 7, 27, "no subnet is configured", "spec.remediation.networks"),
        ("  controls:\n    SageMaker.7:\n      action: remediate\n      parameters: {requiredKeyTags: [owner]}\n", 8, 15, "no value for owner", "tagValues"),
        ("  controls:\n    SageMaker.6: {action: tag}\n", 7, 27, "no value for <any key>", "tagValues"),
        ("  controls:\n    SageMaker.6:\n      parameters: {requiredKeyTags: [a, b, c, d, e, f, g]}\n", 8, 37, "7 keys; AWS allows 1 to 6", "between 1 and 6"),
        ("  controls:\n    SageMaker.6:\n      parameters: {requiredKeyTags: []}\n", 8, 37, "0 keys", ""),
        ("  controls:\n    SageMaker.6:\n      parameters: {requiredKeyTags: [\"aws:x\"]}\n", 8, 37, "system tag", "your own"),
        ("  controls:\n    SageMaker.6:\n      parameters: {requiredKeyTags: [a, a]}\n", 8, 37, "listed twice", ""),
        ("  controls:\n    SageMaker.8:\n      parameters: {supportedPlatformIdentifierVersions: []}\n", 8, 57, "at least one platform", "notebook-al2023-v1"),
        ("  scope:\n    accounts: [12345]\n", 7, 16, "not an AWS account id", "12 digits"),
        ("  organization:\n    accounts:\n      - {account_id: \"1234\"}\n", 8, 9, "not a 12-digit AWS account id", "c7n-org"),
        ("  organization:\n    accounts:\n      - {account_id: \"123456789012\", role: admin}\n", 8, 9, "not a role ARN", "c7n-org"),
        ("  organization:\n    accounts:\n      - {account_id: \"123456789012\"}\n      - {account_id: \"123456789012\"}\n", 9, 9, "appears twice", "once"),
        ("  organization:\n    memberRole: arn:aws:iam::1:role/x\n", 7, 17, "has no {account_id}", "{account_id}"),
        ("  scope:\n    regions: [useast1]\n", 7, 15, "not an AWS region", "us-east-1"),
        ("  exemptions:\n    - name: all\n", 7, 7, "selects no resource", "action: off"),
        ("  exemptions:\n    - namePatterns: [\"a[\"]\n", 7, 22, "not a valid name pattern", "globs"),
        ("  exemptions:\n    - namePatterns: [a]\n      expires: soon\n", 8, 16, "not a date", "2027-01-31"),
        ("  exemptions:\n    - namePatterns: [a]\n      controls: [SageMaker.30]\n", 8, 18, "unknown control `SageMaker.30`", "SageMaker.1 to SageMaker.25"),
        ("  remediation:\n    notebook: {gracePeriod: three days}\n", 7, 29, "not a duration", "72h"),
        ("  remediation:\n    notebook: {gracePeriod: 9000y}\n", 7, 29, "longer than the guard can schedule", "action: finding"),
        ("  remediation:\n    networks:\n      - {subnetId: vpc-1, securityGroupIds: [sg-1]}\n", 8, 20, "not a subnet id", "subnet-"),
        ("  remediation:\n    networks:\n      - {subnetId: subnet-1, securityGroupIds: []}\n", 8, 48, "securityGroupIds is empty", "security group"),
        ("  remediation:\n    networks:\n      - {subnetId: subnet-1, securityGroupIds: [x]}\n", 8, 48, "not a security group id", "sg-"),
        ("  remediation:\n    networks:\n      - {subnetId: subnet-1, securityGroupIds: [sg-1]}\n      - {subnetId: subnet-2, securityGroupIds: [sg-1]}\n", 9, 20, "a second network", ""),
        ("  controls:\n    SageMaker.21: {action: remediate}\n", 7, 28, "no KMS key is configured", "spec.remediation.kmsKeys"),
        ("  controls:\n    SageMaker.24: {action: remediate}\n", 7, 28, "SageMaker.24 is set to remediate but no KMS key", "spec.remediation.kmsKeys"),
        ("  controls:\n    SageMaker.11: {action: remediate}\n", 7, 28, "SageMaker.11 cannot be remediated: job definitions cannot be changed", "action: tag"),
        ("  controls:\n    SageMaker.16: {action: remediate}\n", 7, 28, "SageMaker.16 cannot be remediated: models are immutable", "action: finding"),
        ("  controls:\n    SageMaker.18: {action: remediate}\n", 7, 28, "SageMaker.18 cannot be remediated: a feature group's stores", "action: finding"),
        ("  controls:\n    SageMaker.23: {action: remediate}\n", 7, 28, "SageMaker.23 cannot be remediated: an inference experiment's KmsKey", "action: finding"),
        ("  remediation:\n    kmsKeys:\n      - {keyId: my-key}\n", 8, 17, "`my-key` is not a KMS key", "KmsKeyId"),
        ("  remediation:\n    kmsKeys:\n      - {keyId: \"arn:aws:s3:::bucket\"}\n", 8, 17, "is not a KMS key", "alias/"),
        ("  remediation:\n    kmsKeys:\n      - {account: \"12\", keyId: alias/nb}\n", 8, 19, "not an AWS account id", "12 digits"),
        ("  remediation:\n    kmsKeys:\n      - {keyId: alias/a}\n      - {keyId: alias/b}\n", 9, 17, "a second KMS key", "one key"),
        ("  remediation:\n    endpointConfig: {minInstanceCount: 1}\n", 7, 40, "does not satisfy SageMaker.4", "2 or more"),
        ("  remediation:\n    maxRemediationsPerHour: 0\n", 7, 29, "maxRemediationsPerHour is 0", "dryRun"),
        ("  remediation:\n    mutationsPerSecond: 0\n", 7, 25, "mutationsPerSecond is 0", "dryRun"),
    ];
    let mut wrong = Vec::new();
    for (spec, line, column, message, hint) in cases {
        let errs = errors(&with_spec(spec));
        let e = &errs[0];
        assert_eq!(e.file, "p.yaml", "{spec}");
        if (e.line, e.column) != (*line, *column) {
            wrong.push(format!(
                "{spec:?}: got {}:{} {}",
                e.line, e.column, e.message
            ));
            continue;
        }
        assert!(e.message.contains(message), "{spec}: {e}");
        if !hint.is_empty() {
            assert!(
                e.hint.as_deref().unwrap_or("").contains(hint),
                "{spec}: {e}"
            );
        }
        assert!(
            e.to_string()
                .starts_with(&format!("p.yaml:{line}:{column}: ")),
            "{e}"
        );
    }
    assert!(wrong.is_empty(), "wrong positions:\n{}", wrong.join("\n"));
}

#[test]
fn header_errors() {
    let e = errors("apiVersion: v2\nkind: Policy\nmetadata:\n  name: ''\nspec: {}\n");
    let msgs: Vec<String> = e
        .iter()
        .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
        .collect();
    assert_eq!(
        msgs,
        vec![
            "1:13 unsupported apiVersion `v2`",
            "2:7 unsupported kind `Policy`",
            "4:9 metadata.name is empty"
        ]
    );
    let e = errors("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nspec: {}\n");
    assert_eq!(e[0].message, "the policy has no `metadata`", "{}", e[0]);
    let e = errors("apiVersion: [\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].line >= 1);
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let e = errors(&with_spec(
        "  scope:\n    accounts: [\"1\"]\n    regions: [nowhere]\n  controls:\n    SageMaker.5: {action: remediate}\n",
    ));
    assert_eq!(
        e.len(),
        3,
        "{}",
        PolicyErrors {
            errors: e.clone(),
            warnings: Vec::new()
        }
    );
}

#[test]
fn sagemaker_1_remediate_without_a_subnet_is_valid() {
    load(
        "p.yaml",
        &with_spec("  controls:\n    SageMaker.1: {action: remediate}\n"),
    )
    .unwrap();
}

#[test]
fn exemptions_and_networks_resolve() {
    let p = load(
        "p.yaml",
        &with_spec(concat!(
            "  exemptions:\n",
            "    - name: sandbox\n",
            "      controls: [SageMaker.2]\n",
            "      resourceTags: {team: \"*\", env: dev}\n",
            "      namePatterns: [\"sandbox-*\"]\n",
            "      expires: 2027-01-31\n",
            "  remediation:\n",
            "    networks:\n",
            "      - {subnetId: subnet-any, securityGroupIds: [sg-1]}\n",
            "      - {account: \"111111111111\", region: us-east-1, subnetId: subnet-a, securityGroupIds: [sg-2]}\n",
        )),
    )
    .unwrap();
    let e = &p.exemptions[0];
    assert_eq!(e.name, "sandbox");
    assert!(e.covers(ControlId::SageMaker2) && !e.covers(ControlId::SageMaker1));
    assert!(e.tags.contains(&TagSelector {
        key: "team".into(),
        value: None
    }));
    assert!(e.tags.contains(&TagSelector {
        key: "env".into(),
        value: Some("dev".into())
    }));
    assert!(e.name_patterns[0].is_match("sandbox-1") && !e.name_patterns[0].is_match("prod-1"));
    let expiry: Timestamp = "2027-01-31T00:00:00Z".parse().unwrap();
    assert_eq!(e.expires, Some(expiry));
    assert!(!e.is_expired("2027-01-30T23:59:59Z".parse().unwrap()));
    assert!(e.is_expired(expiry));
    assert_eq!(
        p.remediation
            .network_for("111111111111", "us-east-1")
            .unwrap()
            .subnet_id,
        "subnet-a"
    );
    assert_eq!(
        p.remediation
            .network_for("222222222222", "us-east-1")
            .unwrap()
            .subnet_id,
        "subnet-any"
    );
    // A tag exemption covering SageMaker.2 makes notebooks need their tags read.
    assert!(p.needs_tags(ResourceKind::NotebookInstance));
    assert!(!p.needs_tags(ResourceKind::Model));
}

#[test]
fn tags_are_read_only_when_something_needs_them() {
    let p = load("p.yaml", &with_spec("  controls: {}\n")).unwrap();
    assert!(!p.needs_tags(ResourceKind::NotebookInstance));
    assert!(p.needs_tags(ResourceKind::Image));
    assert!(p.needs_tags(ResourceKind::AppImageConfig));
    assert!(p.needs_details(ResourceKind::NotebookInstance));
    assert!(!p.needs_details(ResourceKind::Image));
}

#[test]
fn every_shipped_policy_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2, "policies/ has audit-only.yaml and recommended.yaml");
    let audit = load_file(&dir.join("audit-only.yaml")).unwrap();
    assert!(audit.controls.values().all(|c| c.action == Action::Finding));
    assert_eq!(audit.controls.len(), ControlId::ALL.len());
}

#[test]
fn the_schema_closes_every_object_and_lists_every_control() {
    let schema = document::schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
    let controls = &schema["definitions"]["Controls"]["properties"];
    for id in ControlId::ALL {
        assert!(controls.get(id.as_str()).is_some(), "{id} in schema");
    }
    let text = schema.to_string();
    assert!(
        text.contains("requiredKeyTags") && text.contains("supportedPlatformIdentifierVersions")
    );
}

/// Each problem as `line:column message`, in the order of the file.
fn lines(errors: &[PolicyError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
        .collect()
}

/// The file of issue 10: an invalid boolean, an unknown control, a misspelt key and five
/// problems of meaning took four runs to find; one run reports all eight.
const EIGHT_PROBLEMS: &str = include_str!("../../../tests/fixtures/policies/eight-problems.yaml");

#[test]
fn a_file_with_eight_problems_reports_all_eight_in_one_run() {
    let e = errors(EIGHT_PROBLEMS);
    assert_eq!(
        lines(&e),
        vec![
            "6:11 spec.dryRun must be true or false; `yes` is not a boolean",
            "8:16 `12345` is not an AWS account id",
            "9:26 `useast1` is not an AWS region",
            "13:16 `someday` is not a date",
            "15:29 `three days` is not a duration: expected number at 0",
            "17:27 SageMaker.5 cannot be remediated: models are immutable, and enabling network isolation cuts a serving container off the network",
            "18:5 unknown control `SageMaker.26`",
            "19:38 unknown key `dryrun` in spec.controls.SageMaker.3",
        ]
    );
    assert!(e.iter().all(|e| e.hint.is_some()), "{e:?}");
}

#[test]
fn a_parameter_on_a_control_without_parameters_says_which_controls_take_which() {
    let e = errors(&with_spec(
        "  controls:\n    SageMaker.3: {parameters: {requiredKeyTags: [owner]}}\n",
    ));
    assert_eq!(lines(&e), vec!["7:32 SageMaker.3 takes no parameters"]);
    assert_eq!(
        e[0].hint.as_deref(),
        Some(
            "remove `parameters` from SageMaker.3; SageMaker.6 and SageMaker.7 take requiredKeyTags; \
             SageMaker.8 takes supportedPlatformIdentifierVersions; no other control takes parameters"
        )
    );
}

#[test]
fn a_parameter_of_another_control_says_whose_it_is() {
    let e = errors(&with_spec(
        "  controls:\n    SageMaker.8: {parameters: {requiredKeyTags: [owner]}}\n",
    ));
    assert_eq!(
        lines(&e),
        vec!["7:32 SageMaker.8 has no parameter `requiredKeyTags`"]
    );
    assert!(e[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("SageMaker.6 and SageMaker.7 take requiredKeyTags"));
}

#[test]
fn a_misspelt_parameter_suggests_the_right_one() {
    let e = errors(&with_spec(
        "  controls:\n    SageMaker.6: {parameters: {requiredKeyTag: [owner]}}\n",
    ));
    assert_eq!(
        lines(&e),
        vec!["7:32 SageMaker.6 has no parameter `requiredKeyTag`"]
    );
    assert!(e[0]
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `requiredKeyTags`?"));
}

#[test]
fn an_unknown_control_in_an_exemption_lists_the_control_ids_not_the_actions() {
    let e = errors(&with_spec(
        "  exemptions:\n    - namePatterns: [a]\n      controls: [SageMaker.42]\n",
    ));
    assert_eq!(lines(&e), vec!["8:18 unknown control `SageMaker.42`"]);
    assert_eq!(
        e[0].hint.as_deref(),
        Some("the known controls are SageMaker.1 to SageMaker.25")
    );
}

#[test]
fn a_control_id_spelt_differently_is_recognised() {
    let e = errors(&with_spec(
        "  controls:\n    sagemaker.3: {action: finding}\n",
    ));
    assert_eq!(
        e[0].hint.as_deref(),
        Some("did you mean `SageMaker.3`? the known controls are SageMaker.1 to SageMaker.25")
    );
}

#[test]
fn an_unknown_action_suggests_the_nearest_and_lists_them() {
    let e = errors(&with_spec("  defaultAction: findings\n"));
    assert_eq!(lines(&e), vec!["6:18 `findings` is not an action"]);
    assert_eq!(
        e[0].hint.as_deref(),
        Some("did you mean `finding`? actions are off, finding, tag and remediate")
    );
}

#[test]
fn a_misspelt_key_suggests_the_right_one_and_lists_the_keys_of_its_place() {
    let e = errors(&with_spec(
        "  remediation:\n    notebok: {gracePeriod: 1h}\n",
    ));
    assert_eq!(
        lines(&e),
        vec!["7:5 unknown key `notebok` in spec.remediation"]
    );
    let hint = e[0].hint.as_deref().unwrap();
    assert!(
        hint.starts_with("did you mean `notebook`? spec.remediation takes ")
            && hint.contains("networks"),
        "{hint}"
    );
}

#[test]
fn an_unknown_key_at_the_top_says_so() {
    let e = errors("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: x}\nspec: {}\nspecs: {}\n");
    assert_eq!(lines(&e), vec!["5:1 unknown key `specs` in the top level"]);
}

#[test]
fn a_duplicate_key_names_the_line_of_the_first() {
    let e = errors(&with_spec("  dryRun: true\n  dryRun: false\n"));
    assert_eq!(
        lines(&e),
        vec!["7:3 key `dryRun` appears twice (first at line 6)"]
    );
    assert!(!e[0].to_string().contains("DuplicateKeyPolicy"));
}

#[test]
fn a_file_that_cannot_be_read_has_no_made_up_position() {
    let e = load_file(Path::new("nonexistent.yaml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error: nonexistent.yaml: cannot read: No such file or directory"
    );
}

#[test]
fn a_quoted_boolean_is_explained() {
    let e = errors(&with_spec("  dryRun: \"false\"\n"));
    assert_eq!(
        lines(&e),
        vec!["6:11 `false` is quoted, so it is a string, not a boolean"]
    );
    assert_eq!(e[0].hint.as_deref(), Some("write false without quotes"));
}

#[test]
fn a_wrong_type_says_what_the_key_takes() {
    let e = errors(&with_spec(
        "  scope:\n    regions: us-east-1\n  remediation:\n    mutationsPerSecond: fast\n    notebook: [a]\n",
    ));
    assert_eq!(
        lines(&e),
        vec![
            "7:14 spec.scope.regions must be a list, not `us-east-1`",
            "9:25 spec.remediation.mutationsPerSecond must be a whole number, not `fast`",
            "10:15 spec.remediation.notebook must be a mapping (keys and values), not a list",
        ]
    );
}

#[test]
fn a_number_out_of_range_gives_the_range() {
    let e = errors(&with_spec("  remediation:\n    mutationsPerSecond: -1\n"));
    assert_eq!(
        lines(&e),
        vec!["7:25 spec.remediation.mutationsPerSecond is -1, out of range: it takes 0 to 4294967295"]
    );
}

#[test]
fn an_empty_section_says_how_to_write_an_empty_one() {
    let e = errors(&with_spec(
        "  exemptions:\n  remediation:\n  dryRun: true\n  defaultAction:\n",
    ));
    assert_eq!(
        lines(&e),
        vec![
            "6:13 spec.exemptions is empty",
            "7:14 spec.remediation is empty",
        ]
    );
    assert_eq!(
        e[0].hint.as_deref(),
        Some("write its items under it (- item), or [] for none")
    );
    assert_eq!(
        e[1].hint.as_deref(),
        Some("write its keys under it, indented, or {} for none")
    );
}

#[test]
fn a_key_that_is_a_list_is_one_problem() {
    let e = errors(&with_spec("  ? [a]\n  : b\n  dryRun: true\n"));
    assert_eq!(
        lines(&e),
        vec!["6:5 a key must be a single word, not a list or a mapping"]
    );
}

#[test]
fn a_missing_key_is_reported_with_the_problems_of_meaning() {
    let e = errors("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {}\nspec:\n  scope: {accounts: [\"1\"]}\n  remediation:\n    networks:\n      - {subnetId: subnet-1}\n");
    assert_eq!(
        lines(&e),
        vec![
            "3:11 metadata has no `name`",
            "5:22 `1` is not an AWS account id",
            "8:9 spec.remediation.networks[0] has no `securityGroupIds`",
        ]
    );
}

#[test]
fn what_is_cut_out_does_not_invent_a_second_problem() {
    // SageMaker.5's own action is wrong; the default (remediate) must not be judged in its place.
    let e = errors(&with_spec(
        "  defaultAction: finding\n  controls:\n    SageMaker.5: {action: remediat}\n",
    ));
    assert_eq!(lines(&e), vec!["8:27 `remediat` is not an action"]);
    // A wrong apiVersion type is one problem, not also an "unsupported apiVersion ``".
    let e = errors("apiVersion: [1]\nkind: GuardPolicy\nmetadata: {name: x}\nspec: {}\n");
    assert_eq!(
        lines(&e),
        vec!["1:13 apiVersion must be a single value, not a list"]
    );
}

#[test]
fn a_yaml_syntax_error_stops_with_its_position() {
    let e = errors(&with_spec("  scope: {regions: [us-east-1}\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, 6);
    assert!(e[0].message.starts_with("not valid YAML: "), "{}", e[0]);
}

#[test]
fn an_empty_file_or_a_second_document_is_refused() {
    assert_eq!(lines(&errors("")), vec!["1:1 the file is empty"]);
    assert_eq!(lines(&errors("# nothing\n")), vec!["1:1 the file is empty"]);
    let e = errors(&format!(
        "{}---\n{}",
        with_spec("  dryRun: true\n"),
        with_spec("")
    ));
    assert_eq!(
        lines(&e),
        vec!["7:1 a second YAML document: a policy file holds one"]
    );
    assert_eq!(
        lines(&errors("- a\n- b\n")),
        vec!["1:1 a policy is a mapping of apiVersion, kind, metadata and spec, not a list"]
    );
}

#[test]
fn anchors_aliases_and_merge_keys_are_read() {
    let p = load(
        "p.yaml",
        &with_spec(concat!(
            "  remediation:\n",
            "    tagValues: {owner: a}\n",
            "  controls:\n",
            "    SageMaker.6: &tagged {action: remediate, parameters: {requiredKeyTags: [owner]}}\n",
            "    SageMaker.7:\n",
            "      <<: *tagged\n",
            "      action: tag\n",
        )),
    )
    .unwrap();
    let s6 = p.control(ControlId::SageMaker6).unwrap();
    let s7 = p.control(ControlId::SageMaker7).unwrap();
    assert_eq!(s6.action, Action::Remediate);
    assert_eq!(s7.action, Action::Tag, "a key given wins over a merged one");
    assert_eq!(s7.required_key_tags, vec!["owner"]);
}

#[test]
fn aliases_cannot_expand_without_bound() {
    let mut text = with_spec(
        "  remediation:\n    tagValues: {a: b}\n  x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n",
    );
    for i in 1..8 {
        text.push_str(&format!(
            "  x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    let e = errors(&text);
    assert!(
        e.iter()
            .any(|e| e.message.contains("once its aliases are expanded")),
        "{e:?}"
    );
}

#[test]
fn scalars_are_read_as_written() {
    let p = load(
        "p.yaml",
        &with_spec("  scope: {accounts: [012345678901]}\n  remediation:\n    tagValues: {CostCenter: 0042, flag: true, empty: \"\"}\n"),
    )
    .unwrap();
    assert_eq!(p.scope.accounts, vec!["012345678901"]);
    assert_eq!(p.remediation.tag_values["CostCenter"], "0042");
    assert_eq!(p.remediation.tag_values["flag"], "true");
    assert_eq!(p.remediation.tag_values["empty"], "");
}

#[test]
fn an_unknown_region_is_a_warning_with_the_nearest_known_one() {
    let p = load(
        "p.yaml",
        &with_spec("  scope:\n    regions: [us-est-1, xx-nowhere-9]\n  remediation:\n    networks:\n      - {region: eu-wets-1, subnetId: subnet-1, securityGroupIds: [sg-1]}\n"),
    )
    .expect("a warning does not refuse the policy");
    let w: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "warning: p.yaml:7:15: unknown region `us-est-1`\n  hint: did you mean `us-east-1`?",
            "warning: p.yaml:7:25: unknown region `xx-nowhere-9`\n  hint: if AWS opened this region after this version of sagemaker-guard, ignore this warning",
            "warning: p.yaml:10:18: unknown region `eu-wets-1`\n  hint: did you mean `eu-west-1`?",
        ]
    );
}

#[test]
fn every_known_region_is_well_formed_and_gives_no_warning() {
    for r in region::KNOWN {
        assert!(region::is_well_formed(r), "{r}");
    }
    let p = load(
        "p.yaml",
        &with_spec("  scope:\n    regions: [us-gov-west-1, cn-northwest-1, ap-southeast-7, mx-central-1]\n"),
    )
    .unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn an_expired_exemption_is_a_warning_from_its_expiry_on() {
    let p = load(
        "p.yaml",
        &with_spec(
            "  exemptions:\n    - name: old\n      namePatterns: [a]\n      expires: 2026-01-01\n",
        ),
    )
    .unwrap();
    assert!(p
        .warnings_at("2025-12-31T23:59:59Z".parse().unwrap())
        .is_empty());
    let w = p.warnings_at("2026-01-01T00:00:00Z".parse().unwrap());
    assert_eq!(
        w.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["warning: p.yaml:9:16: exemption `old` expired at 2026-01-01T00:00:00Z: it exempts nothing any more\n  hint: remove it, or give it a later `expires` if it should still apply"]
    );
}

#[test]
fn a_refused_policy_reports_its_warnings_too_in_file_order() {
    let e = load(
        "p.yaml",
        &with_spec("  scope:\n    regions: [us-est-1]\n  dryRun: maybe\n"),
    )
    .unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.warnings.len(), 1);
    let text = e.to_string();
    assert!(
        text.starts_with("warning: p.yaml:7:15: unknown region")
            && text.contains("\nerror: p.yaml:8:11: spec.dryRun must be true or false"),
        "{text}"
    );
}

#[test]
fn the_parameters_of_the_schema_are_those_of_the_catalogue() {
    let schema = document::schema();
    let definitions = &schema["definitions"];
    for id in ControlId::ALL {
        let entry =
            &schema["definitions"]["Controls"]["properties"][id.as_str()]["anyOf"][0]["$ref"];
        let entry = entry.as_str().unwrap().trim_start_matches("#/definitions/");
        let params = definitions[entry]["properties"]["parameters"]["allOf"][0]["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/definitions/");
        let mut in_schema: Vec<&str> = definitions[params]["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut in_catalogue: Vec<&str> = id.control().parameters.iter().map(|p| p.name).collect();
        in_schema.sort();
        in_catalogue.sort();
        assert_eq!(in_schema, in_catalogue, "{id}");
    }
}

#[test]
fn kms_keys_resolve_per_account_and_region() {
    let p = load(
        "p.yaml",
        &with_spec(concat!(
            "  controls:\n    SageMaker.21: {action: remediate}\n",
            "  remediation:\n    kmsKeys:\n",
            "      - {keyId: alias/notebooks}\n",
            "      - {account: \"111111111111\", region: us-east-1, keyId: \"arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab\"}\n",
            "      - {region: eu-west-1, keyId: mrk-0123456789abcdef0123456789abcdef}\n",
        )),
    )
    .unwrap();
    let key = |a: &str, r: &str| {
        p.remediation
            .kms_key_for(a, r)
            .map(|k| k.key_id.as_str())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(
        key("111111111111", "us-east-1"),
        "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert_eq!(key("222222222222", "us-east-1"), "alias/notebooks");
    assert_eq!(
        key("222222222222", "eu-west-1"),
        "mrk-0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        p.control(ControlId::SageMaker21).unwrap().action,
        Action::Remediate
    );
}
