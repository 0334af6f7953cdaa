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
        Err(PolicyErrors(e)) => e,
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
    assert_eq!(p.controls.len(), 8);
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
        ("  controls:\n    SageMaker.9: {action: finding}\n", 7, 5, "unknown field `SageMaker.9`", "SageMaker.1 to SageMaker.8"),
        ("  dryrun: true\n", 6, 3, "unknown field `dryrun`", "policy schema"),
        ("  controls:\n    SageMaker.3: {action: fix}\n", 7, 27, "unknown variant `fix`", "off, finding, tag and remediate"),
        ("  dryRun: no\n", 6, 11, "boolean", "true or false"),
        ("  dryRun: 3\n", 6, 11, "", ""),
        ("  controls:\n    SageMaker.3:\n      parameters: {requiredKeyTags: [a]}\n", 8, 20, "unknown field `requiredKeyTags`", ""),
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
        ("  scope:\n    regions: [useast1]\n", 7, 15, "not an AWS region", "us-east-1"),
        ("  exemptions:\n    - name: all\n", 7, 7, "selects no resource", "action: off"),
        ("  exemptions:\n    - namePatterns: [\"a[\"]\n", 7, 22, "not a valid name pattern", "globs"),
        ("  exemptions:\n    - namePatterns: [a]\n      expires: soon\n", 8, 16, "not a date", "2027-01-31"),
        ("  exemptions:\n    - namePatterns: [a]\n      controls: [SageMaker.10]\n", 8, 18, "SageMaker.10", ""),
        ("  remediation:\n    notebook: {gracePeriod: three days}\n", 7, 29, "not a duration", "72h"),
        ("  remediation:\n    notebook: {gracePeriod: 9000y}\n", 7, 29, "longer than the guard can schedule", "action: finding"),
        ("  remediation:\n    networks:\n      - {subnetId: vpc-1, securityGroupIds: [sg-1]}\n", 8, 20, "not a subnet id", "subnet-"),
        ("  remediation:\n    networks:\n      - {subnetId: subnet-1, securityGroupIds: []}\n", 8, 48, "securityGroupIds is empty", "security group"),
        ("  remediation:\n    networks:\n      - {subnetId: subnet-1, securityGroupIds: [x]}\n", 8, 48, "not a security group id", "sg-"),
        ("  remediation:\n    networks:\n      - {subnetId: subnet-1, securityGroupIds: [sg-1]}\n      - {subnetId: subnet-2, securityGroupIds: [sg-1]}\n", 9, 20, "a second network", ""),
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
    assert!(
        e[0].message.contains("missing field `metadata`"),
        "{}",
        e[0]
    );
    let e = errors("apiVersion: [\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].line >= 1);
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let e = errors(&with_spec(
        "  scope:\n    accounts: [\"1\"]\n    regions: [nowhere]\n  controls:\n    SageMaker.5: {action: remediate}\n",
    ));
    assert_eq!(e.len(), 3, "{}", PolicyErrors(e.clone()));
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
    assert_eq!(audit.controls.len(), 8);
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
