use super::*;

/// A policy with these controls (and a network to move notebooks into, which SageMaker.2 needs).
fn load(controls: &str) -> Policy {
    crate::domain::policy::load(
        "p.yaml",
        &format!("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  remediation:\n    networks: [{{subnetId: subnet-1, securityGroupIds: [sg-1]}}]\n  controls:\n{controls}"),
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

fn statements(policy: &serde_json::Value) -> &Vec<serde_json::Value> {
    policy["Statement"].as_array().unwrap()
}

fn actions(statement: &serde_json::Value) -> Vec<String> {
    strings(&statement["Action"])
}

fn resources(statement: &serde_json::Value) -> Vec<String> {
    strings(&statement["Resource"])
}

/// The policy for a deployment that names nothing: wildcards wherever a flag would narrow.
fn anywhere(policy: &Policy) -> serde_json::Value {
    iam_policy(policy, &Deployment::default())
}

#[test]
fn an_audit_only_policy_lists_reads_and_files_findings() {
    let audit = anywhere(&load("    SageMaker.5: {action: finding}\n"));
    let sids: Vec<&str> = statements(&audit)
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        sids,
        [
            "SageMakerGuardList",
            "SageMakerGuardModels",
            "SageMakerGuardFindings",
            "SageMakerGuardReadFindings",
            "SageMakerGuardQueue",
            "SageMakerGuardDeadLetterQueue"
        ]
    );
    let list = statement(&audit, "SageMakerGuardList");
    assert_eq!(actions(list), ["sagemaker:ListModels"]);
    assert_eq!(list["Resource"], "*");
    let models = statement(&audit, "SageMakerGuardModels");
    assert_eq!(actions(models), ["sagemaker:DescribeModel"]);
    assert_eq!(models["Resource"], "arn:aws:sagemaker:*:*:model/*");
    let findings = statement(&audit, "SageMakerGuardFindings");
    assert_eq!(actions(findings), ["securityhub:BatchImportFindings"]);
    assert_eq!(
        findings["Resource"], "arn:aws:securityhub:*:*:product/*/default",
        "the default product of the resource's account, the only one the guard imports into"
    );
    let read = statement(&audit, "SageMakerGuardReadFindings");
    assert_eq!(actions(read), ["securityhub:GetFindings"]);
    assert_eq!(
        read["Resource"], "arn:aws:securityhub:*:*:hub/default",
        "the account's hub, which IAM checks GetFindings against"
    );
    assert!(
        !actions(statement(&audit, "SageMakerGuardQueue")).contains(&"sqs:SendMessage".into()),
        "no recreate, no intents to store"
    );
}

#[test]
fn an_in_place_fix_may_stop_update_start_and_tag_but_passes_no_role_and_signs_nothing() {
    let fix = anywhere(&load("    SageMaker.3: {action: remediate}\n"));
    let notebooks = actions(statement(&fix, "SageMakerGuardNotebookInstances"));
    for p in [
        "sagemaker:StopNotebookInstance",
        "sagemaker:UpdateNotebookInstance",
        "sagemaker:StartNotebookInstance",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    ] {
        assert!(notebooks.iter().any(|a| a == p), "{p} in {notebooks:?}");
    }
    assert!(!allowed_actions(&fix)
        .iter()
        .any(|a| a == "sagemaker:DeleteNotebookInstance"));
    assert!(statement(&fix, "SageMakerGuardPassRole").is_null());
    assert!(statement(&fix, "SageMakerGuardIntentKey").is_null());
}

#[test]
fn a_recreate_and_a_replacement_config_get_their_calls_on_their_resource_types() {
    let both = anywhere(&load(
        "    SageMaker.1: {action: remediate}\n    SageMaker.4: {action: remediate}\n",
    ));
    let on = |sid: &str| actions(statement(&both, sid));
    let notebooks = on("SageMakerGuardNotebookInstances");
    for p in [
        "sagemaker:DeleteNotebookInstance",
        "sagemaker:CreateNotebookInstance",
        "sagemaker:StopNotebookInstance",
        "sagemaker:StartNotebookInstance",
    ] {
        assert!(notebooks.iter().any(|a| a == p), "{p} in {notebooks:?}");
    }
    assert_eq!(
        on("SageMakerGuardNotebookLifecycleConfigs"),
        ["sagemaker:DescribeNotebookInstanceLifecycleConfig"],
        "the recreate's preflight reads the lifecycle configuration the create will name"
    );
    assert_eq!(
        on("SageMakerGuardEndpointConfigs"),
        [
            "sagemaker:AddTags",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:DescribeEndpointConfig",
            "sagemaker:ListTags",
            "sagemaker:UpdateEndpoint"
        ]
    );
    assert_eq!(
        on("SageMakerGuardEndpoints"),
        ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint"],
        "UpdateEndpoint needs the endpoint and the config it moves to"
    );
    assert!(on("SageMakerGuardList").contains(&"sagemaker:ListEndpoints".into()));
    assert!(on("SageMakerGuardQueue").contains(&"sqs:SendMessage".into()));
}

#[test]
fn a_replacement_endpoint_config_passes_its_execution_role_to_sagemaker() {
    let ha = anywhere(&load("    SageMaker.4: {action: remediate}\n"));
    let pass = statement(&ha, "SageMakerGuardPassRole");
    assert_eq!(actions(pass), ["iam:PassRole"]);
    assert_eq!(
        pass["Condition"],
        serde_json::json!({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
    );
    assert_eq!(pass["Resource"], "arn:aws:iam::*:role/*");
    assert!(
        statement(&ha, "SageMakerGuardIntentKey").is_null(),
        "no recreate"
    );
}

#[test]
fn every_passrole_is_only_towards_sagemaker() {
    for controls in [
        "    SageMaker.1: {action: remediate}\n",
        "    SageMaker.2: {action: remediate}\n",
        "    SageMaker.4: {action: remediate}\n",
    ] {
        let policy = load(controls);
        for deployment in [Deployment::default(), everything_named()] {
            let doc = iam_policy(&policy, &deployment);
            let passing: Vec<&serde_json::Value> = statements(&doc)
                .iter()
                .filter(|s| actions(s).iter().any(|a| a.starts_with("iam:")))
                .collect();
            assert_eq!(passing.len(), 1, "{controls}: {doc:#}");
            for s in passing {
                assert_eq!(actions(s), ["iam:PassRole"], "nothing else of IAM");
                assert_eq!(
                    s["Condition"]["StringEquals"]["iam:PassedToService"], PASSED_TO_SERVICE,
                    "{s:#}"
                );
            }
            let role = "arn:aws:iam::111111111111:role/notebooks";
            let to = |service| [("iam:PassedToService", service)];
            assert!(allows(
                &doc,
                "iam:PassRole",
                role,
                &to("sagemaker.amazonaws.com")
            ));
            assert!(!allows(
                &doc,
                "iam:PassRole",
                role,
                &to("ec2.amazonaws.com")
            ));
            assert!(!allows(&doc, "iam:PassRole", role, &[]));
        }
    }
    let none = anywhere(&load(
        "    SageMaker.3: {action: remediate}\n    SageMaker.5: {action: tag}\n",
    ));
    assert!(!allowed_actions(&none).contains(&"iam:PassRole".into()));
}

#[test]
fn only_the_list_calls_are_on_every_resource() {
    let doc = anywhere(&all_remediate());
    for s in statements(&doc) {
        let wildcard = resources(s).iter().any(|r| r == "*");
        assert_eq!(wildcard, s["Sid"] == "SageMakerGuardList", "{s:#}");
    }
    for a in actions(statement(&doc, "SageMakerGuardList")) {
        let op = a
            .strip_prefix("sagemaker:List")
            .unwrap_or_else(|| panic!("{a}"));
        assert_ne!(op, "Tags", "ListTags can be scoped, so it is");
    }
}

#[test]
fn each_sagemaker_statement_is_on_its_resource_type_and_holds_only_calls_about_it() {
    let doc = anywhere(&all_remediate());
    let mut seen = 0;
    for (resource_type, sid) in SAGEMAKER_TYPES {
        let s = statement(&doc, sid);
        assert!(!s.is_null(), "{sid} for an all-remediate policy");
        seen += 1;
        assert_eq!(
            resources(s),
            [format!("arn:aws:sagemaker:*:*:{resource_type}/*")]
        );
        // `notebook-instance-lifecycle-config` -> `NotebookInstanceLifecycleConfig`
        let noun: String = resource_type
            .split('-')
            .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
            .collect();
        for a in actions(s) {
            let op = a.strip_prefix("sagemaker:").unwrap();
            let about_it = op.ends_with(&noun)
                || op.ends_with(&format!("{noun}s"))
                || ["AddTags", "DeleteTags", "ListTags"].contains(&op)
                || (op == "UpdateEndpoint" && resource_type == "endpoint-config");
            assert!(about_it, "{a} on {resource_type}");
        }
    }
    assert_eq!(seen, SAGEMAKER_TYPES.len());
}

/// Every flag of `iam-policy` given.
fn everything_named() -> Deployment {
    Deployment {
        partition: "aws".into(),
        accounts: vec!["111111111111".into()],
        regions: vec!["us-east-1".into()],
        queue: Some(
            Queue::from_url("https://sqs.us-east-1.amazonaws.com/111111111111/guard").unwrap(),
        ),
        dead_letter_queue: Some(
            Queue::from_arn("arn:aws:sqs:us-east-1:111111111111:guard-dlq").unwrap(),
        ),
        intent_key: Some(
            IntentKeyId::parse(
                "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            )
            .unwrap(),
        ),
        state_table: Some("guard-state".into()),
        ..Deployment::default()
    }
}

#[test]
fn accounts_regions_and_the_partition_narrow_every_statement_but_the_lists() {
    let d = Deployment {
        partition: "aws-us-gov".into(),
        accounts: vec!["111111111111".into()],
        regions: vec!["us-gov-west-1".into(), "us-gov-east-1".into()],
        ..Deployment::default()
    };
    let doc = iam_policy(&all_remediate(), &d);
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardNotebookInstances")),
        [
            "arn:aws-us-gov:sagemaker:us-gov-west-1:111111111111:notebook-instance/*",
            "arn:aws-us-gov:sagemaker:us-gov-east-1:111111111111:notebook-instance/*"
        ]
    );
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardPassRole")),
        ["arn:aws-us-gov:iam::111111111111:role/*"],
        "IAM is global: no region"
    );
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardFindings")),
        [
            "arn:aws-us-gov:securityhub:us-gov-west-1:111111111111:product/111111111111/default",
            "arn:aws-us-gov:securityhub:us-gov-east-1:111111111111:product/111111111111/default"
        ]
    );
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardReadFindings")),
        [
            "arn:aws-us-gov:securityhub:us-gov-west-1:111111111111:hub/default",
            "arn:aws-us-gov:securityhub:us-gov-east-1:111111111111:hub/default"
        ]
    );
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardOutcomes")),
        [
            "arn:aws-us-gov:events:us-gov-west-1:111111111111:event-bus/guard-outcomes",
            "arn:aws-us-gov:events:us-gov-east-1:111111111111:event-bus/guard-outcomes"
        ]
    );
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardQueue")),
        [
            "arn:aws-us-gov:sqs:us-gov-west-1:111111111111:*",
            "arn:aws-us-gov:sqs:us-gov-east-1:111111111111:*"
        ]
    );
    assert_eq!(
        resources(statement(&doc, "SageMakerGuardIntentKey")),
        [
            "arn:aws-us-gov:kms:us-gov-west-1:111111111111:key/*",
            "arn:aws-us-gov:kms:us-gov-east-1:111111111111:key/*"
        ]
    );
    // A notebook key the policy names by its ARN is that key, whatever the deployment says.
    for s in statements(&doc).iter().filter(|s| {
        !s["Sid"]
            .as_str()
            .unwrap()
            .starts_with("SageMakerGuardResourceKey")
    }) {
        for r in resources(s) {
            assert!(
                r == "*" || r.starts_with("arn:aws-us-gov:") && r.contains(":111111111111:"),
                "{r} in {}",
                s["Sid"]
            );
        }
    }
}

#[test]
fn the_queues_are_granted_on_their_arns_each_with_its_own_calls() {
    let doc = iam_policy(&all_remediate(), &everything_named());
    let queue = statement(&doc, "SageMakerGuardQueue");
    assert_eq!(
        queue["Resource"],
        "arn:aws:sqs:us-east-1:111111111111:guard"
    );
    assert_eq!(
        actions(queue),
        [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
            "sqs:SendMessage"
        ]
    );
    let dlq = statement(&doc, "SageMakerGuardDeadLetterQueue");
    assert_eq!(
        dlq["Resource"],
        "arn:aws:sqs:us-east-1:111111111111:guard-dlq"
    );
    assert_eq!(actions(dlq), ["sqs:GetQueueUrl", "sqs:SendMessage"]);
    let (guard, dead, other) = (
        "arn:aws:sqs:us-east-1:111111111111:guard",
        "arn:aws:sqs:us-east-1:111111111111:guard-dlq",
        "arn:aws:sqs:us-east-1:111111111111:payments",
    );
    assert!(allows(&doc, "sqs:ReceiveMessage", guard, &[]));
    assert!(
        !allows(&doc, "sqs:ReceiveMessage", dead, &[]),
        "nothing is received from the DLQ"
    );
    assert!(allows(&doc, "sqs:SendMessage", dead, &[]));
    assert!(
        !allows(&doc, "sqs:GetQueueUrl", guard, &[]),
        "only the DLQ's URL is looked up"
    );
    for action in ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"] {
        assert!(
            !allows(&doc, action, other, &[]),
            "{action} on another queue"
        );
    }
}

#[test]
fn without_its_name_the_dead_letter_queue_is_any_queue_beside_the_queue() {
    let d = Deployment {
        queue: Some(Queue::from_arn("arn:aws:sqs:eu-west-1:111111111111:guard").unwrap()),
        ..Deployment::default()
    };
    let doc = iam_policy(&load("    SageMaker.3: {action: finding}\n"), &d);
    assert_eq!(
        statement(&doc, "SageMakerGuardDeadLetterQueue")["Resource"],
        "arn:aws:sqs:eu-west-1:111111111111:*",
        "a redrive target is in the queue's account and region"
    );
    let notes = notes(&load("    SageMaker.3: {action: finding}\n"), &d);
    assert!(
        notes.iter().any(|n| n.contains("--dead-letter-queue-url")),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.contains("--queue-url")),
        "{notes:?}"
    );
}

#[test]
fn queue_urls_and_arns_are_read_as_aws_writes_them() {
    let q = |url| Queue::from_url(url).map(|q| (q.region, q.account, q.name));
    let at = |r: Option<&str>, name: &str| {
        Ok((
            r.map(str::to_string),
            "111111111111".to_string(),
            name.to_string(),
        ))
    };
    assert_eq!(
        q("https://sqs.eu-west-1.amazonaws.com/111111111111/guard"),
        at(Some("eu-west-1"), "guard")
    );
    assert_eq!(
        q("https://eu-west-1.queue.amazonaws.com/111111111111/guard"),
        at(Some("eu-west-1"), "guard")
    );
    assert_eq!(
        q("https://queue.amazonaws.com/111111111111/guard"),
        at(Some("us-east-1"), "guard")
    );
    assert_eq!(
        q("https://sqs.cn-north-1.amazonaws.com.cn/111111111111/g.fifo"),
        at(Some("cn-north-1"), "g.fifo")
    );
    // Another endpoint names no region: the deployment's regions apply.
    assert_eq!(
        q("http://127.0.0.1:4566/111111111111/guard/"),
        at(None, "guard")
    );
    for bad in [
        "sqs.us-east-1.amazonaws.com/111111111111/guard",
        "https://sqs.us-east-1.amazonaws.com/guard",
        "https://sqs.us-east-1.amazonaws.com/1111/guard",
        "https://sqs.us-east-1.amazonaws.com/111111111111/guard/extra",
        "https://sqs.us-east-1.amazonaws.com/111111111111/a*",
    ] {
        assert!(Queue::from_url(bad).is_err(), "{bad}");
    }
    let china = Queue::from_url("https://sqs.cn-north-1.amazonaws.com.cn/111111111111/g").unwrap();
    assert_eq!(china.partition.as_deref(), Some("aws-cn"));
    let arn = Queue::from_arn("arn:aws-cn:sqs:cn-north-1:111111111111:guard").unwrap();
    assert_eq!(arn.partition.as_deref(), Some("aws-cn"));
    for bad in [
        "arn:aws:sns:us-east-1:111111111111:guard",
        "arn:aws:sqs:us-east-1:111111111111",
        "arn:aws:sqs:*:111111111111:guard",
        "https://sqs.us-east-1.amazonaws.com/111111111111/guard",
    ] {
        assert!(Queue::from_arn(bad).is_err(), "{bad}");
    }
}

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn the_intent_key_statement_is_there_only_when_the_policy_recreates() {
    let d = everything_named();
    for (controls, recreates) in [
        ("    SageMaker.1: {action: remediate}\n", true),
        ("    SageMaker.2: {action: remediate}\n", true),
        ("    SageMaker.1: {action: finding}\n", false),
        ("    SageMaker.1: {action: tag}\n", false),
        ("    SageMaker.3: {action: remediate}\n", false),
        ("    SageMaker.4: {action: remediate}\n", false),
    ] {
        let doc = iam_policy(&load(controls), &d);
        let key = statement(&doc, "SageMakerGuardIntentKey");
        assert_eq!(!key.is_null(), recreates, "{controls}");
        if recreates {
            assert_eq!(
                actions(key),
                ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]
            );
        }
        assert_eq!(
            allowed_actions(&doc).iter().any(|a| a.starts_with("kms:")),
            recreates,
            "{controls}"
        );
    }
}

#[test]
fn the_intent_key_statement_is_scoped_to_the_key() {
    let recreate = load("    SageMaker.1: {action: remediate}\n");
    let other = "arn:aws:kms:us-east-1:111111111111:key/99999999-12ab-34cd-56ef-1234567890ab";
    let with = |key: &str, accounts: &[&str]| {
        let d = Deployment {
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            intent_key: Some(IntentKeyId::parse(key).unwrap()),
            ..Deployment::default()
        };
        iam_policy(&recreate, &d)
    };

    // An ARN: exactly that key.
    let doc = with(KEY_ARN, &[]);
    let key = statement(&doc, "SageMakerGuardIntentKey");
    assert_eq!(key["Resource"], KEY_ARN);
    assert!(key["Condition"].is_null());
    assert!(allows(&doc, "kms:GenerateMac", KEY_ARN, &[]));
    assert!(allows(&doc, "kms:VerifyMac", KEY_ARN, &[]));
    assert!(
        allows(&doc, "kms:DescribeKey", KEY_ARN, &[]),
        "run checks the key at start"
    );
    assert!(!allows(&doc, "kms:GenerateMac", other, &[]));
    assert!(!allows(&doc, "kms:Decrypt", KEY_ARN, &[]), "signing only");

    // An id: that key in the deployment's accounts.
    let doc = with("1234abcd-12ab-34cd-56ef-1234567890ab", &["111111111111"]);
    assert_eq!(
        statement(&doc, "SageMakerGuardIntentKey")["Resource"],
        "arn:aws:kms:*:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert!(allows(&doc, "kms:GenerateMac", KEY_ARN, &[]));
    assert!(!allows(&doc, "kms:GenerateMac", other, &[]));

    // An alias: IAM cannot name a key by it, so any key that carries it.
    let doc = with("alias/guard-intents", &["111111111111"]);
    let key = statement(&doc, "SageMakerGuardIntentKey");
    assert_eq!(key["Resource"], "arn:aws:kms:*:111111111111:key/*");
    assert_eq!(
        key["Condition"],
        serde_json::json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/guard-intents"}})
    );
    let aliases = |a| {
        [
            ("kms:ResourceAliases", "alias/other"),
            ("kms:ResourceAliases", a),
        ]
    };
    assert!(allows(
        &doc,
        "kms:GenerateMac",
        KEY_ARN,
        &aliases("alias/guard-intents")
    ));
    assert!(!allows(
        &doc,
        "kms:GenerateMac",
        KEY_ARN,
        &aliases("alias/payments")
    ));
    assert!(!allows(&doc, "kms:GenerateMac", KEY_ARN, &[]));

    // An alias ARN names its account and region.
    let doc = with(
        "arn:aws:kms:eu-west-1:222222222222:alias/guard-intents",
        &[],
    );
    assert_eq!(
        statement(&doc, "SageMakerGuardIntentKey")["Resource"],
        "arn:aws:kms:eu-west-1:222222222222:key/*"
    );
}

#[test]
fn intent_keys_are_read_in_every_form_kms_takes_and_nothing_else() {
    assert_eq!(
        IntentKeyId::parse(KEY_ARN),
        Ok(IntentKeyId::Arn(KEY_ARN.into()))
    );
    assert_eq!(
        IntentKeyId::parse("mrk-1234abcd12ab34cd56ef1234567890ab"),
        Ok(IntentKeyId::Id(
            "mrk-1234abcd12ab34cd56ef1234567890ab".into()
        ))
    );
    assert!(matches!(
        IntentKeyId::parse("alias/a/b_c-d"),
        Ok(IntentKeyId::Alias { at: None, .. })
    ));
    for bad in [
        "",
        "guard",
        "alias/",
        "alias/a*",
        "1234abcd",
        "arn:aws:kms:us-east-1:111111111111:key/*",
        "arn:aws:kms:us-east-1:111111111111:alias/",
        "arn:aws:sqs:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        assert!(IntentKeyId::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn without_a_key_the_policy_says_so_and_allows_any_key_of_the_deployment() {
    let recreate = load("    SageMaker.1: {action: remediate}\n");
    let d = Deployment {
        accounts: vec!["111111111111".into()],
        ..Deployment::default()
    };
    let doc = iam_policy(&recreate, &d);
    assert_eq!(
        statement(&doc, "SageMakerGuardIntentKey")["Resource"],
        "arn:aws:kms:*:111111111111:key/*"
    );
    let said = notes(&recreate, &d);
    assert!(
        said.iter().any(|n| n.contains("--intent-key-id")),
        "{said:?}"
    );
    assert!(
        !notes(&recreate, &everything_named())
            .iter()
            .any(|n| n.contains("--intent-key-id")),
        "named: nothing to say"
    );
}

#[test]
fn outcomes_go_to_the_bus_named_or_to_the_bus_arn_given() {
    let with_bus = |bus: &str| {
        crate::domain::policy::load(
            "p.yaml",
            &format!("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  remediation: {{eventBus: \"{bus}\"}}\n  controls:\n    SageMaker.3: {{action: finding}}\n"),
        )
        .unwrap()
    };
    let doc = anywhere(&with_bus("guard-outcomes"));
    let out = statement(&doc, "SageMakerGuardOutcomes");
    assert_eq!(actions(out), ["events:PutEvents"]);
    assert_eq!(
        out["Resource"],
        "arn:aws:events:*:*:event-bus/guard-outcomes"
    );
    let arn = "arn:aws:events:eu-west-1:222222222222:event-bus/central";
    let doc = anywhere(&with_bus(arn));
    assert_eq!(statement(&doc, "SageMakerGuardOutcomes")["Resource"], arn);
    assert!(statement(
        &anywhere(&load("    SageMaker.3: {action: finding}\n")),
        "SageMakerGuardOutcomes"
    )
    .is_null());
}

#[test]
fn allows_matches_as_iam_does() {
    let doc = iam_policy(&all_remediate(), &everything_named());
    let epc = "arn:aws:sagemaker:us-east-1:111111111111:endpoint-config/epc-guard-ha";
    let ep = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/ep-1";
    assert!(allows(&doc, "sagemaker:UpdateEndpoint", ep, &[]));
    assert!(allows(&doc, "sagemaker:UpdateEndpoint", epc, &[]));
    assert!(
        allows(&doc, "SageMaker:updateendpoint", ep, &[]),
        "actions ignore case"
    );
    assert!(!allows(&doc, "sagemaker:DeleteEndpoint", ep, &[]));
    assert!(!allows(
        &doc,
        "sagemaker:DescribeNotebookInstance",
        "arn:aws:sagemaker:us-east-1:222222222222:notebook-instance/nb",
        &[]
    ));
    assert!(!allows(
        &doc,
        "sagemaker:StopNotebookInstance",
        "arn:aws:sagemaker:us-east-1:111111111111:endpoint/nb",
        &[]
    ));
    assert!(allows(&doc, "sagemaker:ListModels", "*", &[]));
    assert!(glob("a*c?e", "abbbcde") && !glob("a*c?e", "abce") && glob("*", ""));
    assert!(!arn_matches(
        "arn:aws:sqs:*:*:*",
        "arn:aws:sns:us-east-1:1:q"
    ));
    assert!(arn_matches(
        "arn:aws:sagemaker:*:*:notebook-instance/*",
        "arn:aws:sagemaker:us-east-1:1:notebook-instance/a:b"
    ));
}

#[test]
fn the_policy_that_does_everything_fits_in_a_managed_policy() {
    // A customer managed policy holds at most 6,144 characters, whitespace not counted.
    for d in [Deployment::default(), everything_named()] {
        let text = serde_json::to_string(&iam_policy(&all_remediate(), &d)).unwrap();
        let size = text.chars().filter(|c| !c.is_whitespace()).count();
        assert!(size <= 6144, "{size} characters");
    }
}

#[test]
fn every_sid_is_unique_and_alphanumeric() {
    let doc = iam_policy(&all_remediate(), &everything_named());
    let sids: Vec<&str> = statements(&doc)
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&&str> = sids.iter().collect();
    assert_eq!(unique.len(), sids.len(), "{sids:?}");
    assert!(sids
        .iter()
        .all(|s| s.chars().all(|c| c.is_ascii_alphanumeric())));
    assert_eq!(doc["Version"], "2012-10-17");
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
    kmsKeys:
      - {account: "111111111111", region: us-east-1, keyId: "arn:aws:kms:us-east-1:111111111111:key/2121abcd-12ab-34cd-56ef-1234567890ab"}
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
    SageMaker.21: {action: remediate}
    SageMaker.9: {action: tag}
    SageMaker.10: {action: tag}
    SageMaker.11: {action: tag}
    SageMaker.12: {action: tag}
    SageMaker.13: {action: tag}
    SageMaker.14: {action: remediate}
    SageMaker.15: {action: tag}
    SageMaker.16: {action: tag}
    SageMaker.17: {action: tag}
    SageMaker.18: {action: tag}
    SageMaker.19: {action: tag}
    SageMaker.20: {action: tag}
    SageMaker.22: {action: remediate}
    SageMaker.23: {action: tag}
    SageMaker.24: {action: remediate}
    SageMaker.25: {action: tag}
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
/// breaks ignored, where the receiver is a client (`client`, `sqs`, `kms`).
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
        for receiver in ["client.", "sqs.", "kms."] {
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
                // Not operations: a client's `clone`, a config builder's `build`.
                if name.is_empty()
                    || !rest[name.len()..].starts_with("()")
                    || ["clone", "build"].contains(&name.as_str())
                {
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
    let allowed = allowed_actions(&iam_policy(
        &all_remediate(),
        &Deployment {
            state_table: Some("guard-state".into()),
            ..Deployment::default()
        },
    ));
    let called = sdk_operations_called();
    assert!(
        called.len() >= 25,
        "the scan finds the SDK calls ({} found: {called:?})",
        called.len()
    );
    for op in [
        "ReceiveMessage",
        "BatchImportFindings",
        "GetFindings",
        "GenerateMac",
        "VerifyMac",
    ] {
        assert!(
            called.iter().any(|(o, _)| o == op),
            "the scan finds {op}: {called:?}"
        );
    }
    let missing: Vec<&(String, String)> = called
        .iter()
        .filter(|(op, _)| {
            // SQS authorises its batch calls (`DeleteMessageBatch`, ...) with the single call's
            // action: there is no `sqs:DeleteMessageBatch`.
            let action = op.strip_suffix("Batch").unwrap_or(op);
            !allowed.iter().any(|a| a.split(':').nth(1) == Some(action))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "called but not in `iam-policy`: {missing:?}\nallowed: {allowed:?}"
    );
}

#[test]
fn every_mutation_of_every_fix_is_in_the_policy_that_remediates_everything() {
    let allowed = allowed_actions(&anywhere(&all_remediate()));
    for m in Mutation::ALL {
        assert!(
            allowed.contains(&m.permission()),
            "{m:?} ({}) in {allowed:?}",
            m.permission()
        );
    }
}

#[test]
fn deploy_iam_audit_policy_is_the_derived_read_part_for_every_kind() {
    // A read-only `audit` of every kind, tags included: the SageMaker statements of its policy.
    let audit = crate::domain::policy::load(
        "audit.yaml",
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: audit}\nspec:\n  \
         defaultAction: finding\n  exemptions:\n    - {name: opt-out, resourceTags: {sagemaker-guard/exempt: \"true\"}}\n",
    )
    .unwrap();
    let derived = anywhere(&audit);
    let reads: Vec<&serde_json::Value> = statements(&derived)
        .iter()
        .filter(|s| actions(s).iter().all(|a| a.starts_with("sagemaker:")))
        .collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/iam-audit-policy.json");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        statements(&on_disk).iter().collect::<Vec<_>>(),
        reads,
        "deploy/iam-audit-policy.json is stale: the SageMaker statements of `iam-policy` for an \
         audit of every kind"
    );
}

#[test]
fn every_resource_type_a_call_is_granted_on_has_its_statement() {
    use crate::domain::catalogue::ControlId;
    let mut granted: Vec<(String, &str)> = Vec::new();
    for id in ControlId::ALL {
        let control = id.control();
        let kind = control.resource_kind;
        let calls = observe_actions(kind)
            .into_iter()
            .map(str::to_string)
            .chain(["sagemaker:ListTags".to_string()])
            .chain(control.fix.reads().iter().map(|r| r.to_string()))
            .chain(control.fix.mutations().iter().map(|m| m.permission()))
            .chain([
                Mutation::AddTags.permission(),
                Mutation::DeleteTags.permission(),
            ]);
        for call in calls.filter(|c| c.starts_with("sagemaker:")) {
            for t in resource_types(&call, kind) {
                granted.push((call.clone(), t));
            }
        }
    }
    for (call, t) in granted {
        assert!(
            SAGEMAKER_TYPES.iter().any(|(known, _)| *known == t),
            "{call} is granted on {t}, which has no statement in SAGEMAKER_TYPES"
        );
    }
}

#[test]
fn a_member_role_template_is_assumed_in_any_account_of_the_organization() {
    let d = Deployment {
        member_role: Some(crate::domain::accounts::DEFAULT_ROLE_TEMPLATE.into()),
        organization_id: Some("o-abcdefghij".into()),
        ..everything_named()
    };
    let doc = iam_policy(&load("    SageMaker.3: {action: remediate}\n"), &d);
    let assume: Vec<&serde_json::Value> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Sid"] == "SageMakerGuardMemberRoles")
        .collect();
    assert_eq!(assume.len(), 1, "{doc:#}");
    assert_eq!(assume[0]["Action"], serde_json::json!(["sts:AssumeRole"]));
    assert_eq!(
        assume[0]["Resource"],
        "arn:aws:iam::*:role/SageMakerGuardMember"
    );
    assert_eq!(
        assume[0]["Condition"],
        serde_json::json!({"StringEquals": {"aws:ResourceOrgID": "o-abcdefghij"}})
    );
}

#[test]
fn a_member_accounts_role_reads_fixes_and_files_findings_and_nothing_else() {
    let d = Deployment {
        member_only: true,
        ..Deployment::default()
    };
    let doc = iam_policy(&load("    SageMaker.3: {action: remediate}\n"), &d);
    let sids: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert!(sids.contains(&"SageMakerGuardFindings"), "{sids:?}");
    for central in [
        "SageMakerGuardQueue",
        "SageMakerGuardDeadLetterQueue",
        "SageMakerGuardIntentKey",
        "SageMakerGuardStateTable",
        "SageMakerGuardOutcomes",
        "SageMakerGuardMemberRoles",
    ] {
        assert!(
            !sids.contains(&central),
            "{central} is the central role's: {sids:?}"
        );
    }
    let actions = allowed_actions(&doc);
    assert!(
        actions
            .iter()
            .any(|a| a == "sagemaker:UpdateNotebookInstance"),
        "{actions:?}"
    );
}

/// The key that signs intents, which is not a notebook key.
const SIGNING_KEY: &str =
    "arn:aws:kms:us-east-1:111111111111:key/99999999-12ab-34cd-56ef-1234567890ab";

/// SageMaker.21 with these `kmsKeys` entries.
fn with_keys(keys: &str) -> Policy {
    crate::domain::policy::load(
        "p.yaml",
        &format!("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  remediation:\n    kmsKeys:\n{keys}  controls:\n    SageMaker.21: {{action: remediate}}\n"),
    )
    .unwrap()
}

#[test]
fn sagemaker21_may_describe_and_grant_on_the_policys_keys_only() {
    let arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let policy = with_keys(&format!(
        "      - {{account: \"111111111111\", region: us-east-1, keyId: \"{arn}\"}}\n      - {{region: eu-west-1, keyId: 0000abcd-12ab-34cd-56ef-1234567890ab}}\n"
    ));
    let doc = iam_policy(
        &policy,
        &Deployment {
            accounts: vec!["111111111111".into(), "222222222222".into()],
            intent_key: Some(IntentKeyId::parse(SIGNING_KEY).unwrap()),
            ..Deployment::default()
        },
    );
    let describe = statement(&doc, "SageMakerGuardResourceKeys");
    assert_eq!(actions(describe), vec!["kms:DescribeKey"]);
    let keys = resources(describe);
    assert!(keys.contains(&arn.to_string()), "{keys:?}");
    assert!(keys.contains(
        &"arn:aws:kms:eu-west-1:222222222222:key/0000abcd-12ab-34cd-56ef-1234567890ab".to_string()
    ));
    assert_eq!(keys.len(), 3, "{keys:?}");
    let grant = statement(&doc, "SageMakerGuardResourceKeyGrants");
    assert_eq!(actions(grant), vec!["kms:CreateGrant"]);
    assert_eq!(resources(grant), keys);
    assert_eq!(
        grant["Condition"],
        serde_json::json!({"Bool": {"kms:GrantIsForAWSResource": "true"}})
    );
    let ctx: &[(&str, &str)] = &[("kms:GrantIsForAWSResource", "true")];
    assert!(allows(&doc, "kms:CreateGrant", arn, ctx));
    assert!(
        !allows(&doc, "kms:CreateGrant", arn, &[]),
        "only for SageMaker's grant"
    );
    assert!(allows(&doc, "kms:DescribeKey", arn, &[]));
    let other = "arn:aws:kms:us-east-1:111111111111:key/ffffffff-12ab-34cd-56ef-1234567890ab";
    assert!(!allows(&doc, "kms:CreateGrant", other, ctx));
    assert!(!allows(&doc, "kms:DescribeKey", other, &[]));
    // The member accounts create the notebooks: their role needs the keys too.
    let member = iam_policy(
        &policy,
        &Deployment {
            member_only: true,
            ..Deployment::default()
        },
    );
    assert!(allows(&member, "kms:CreateGrant", arn, ctx));
}

#[test]
fn a_key_named_by_its_alias_is_any_key_with_the_alias() {
    let doc = iam_policy(
        &with_keys("      - {keyId: alias/notebooks}\n"),
        &Deployment {
            intent_key: Some(IntentKeyId::parse(SIGNING_KEY).unwrap()),
            ..Deployment::default()
        },
    );
    assert_eq!(
        statement(&doc, "SageMakerGuardResourceKeys"),
        &serde_json::Value::Null
    );
    let grant = statement(&doc, "SageMakerGuardResourceKeyGrantsByAlias");
    assert_eq!(resources(grant), vec!["arn:aws:kms:*:*:key/*"]);
    let key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let ctx: &[(&str, &str)] = &[
        ("kms:GrantIsForAWSResource", "true"),
        ("kms:ResourceAliases", "alias/notebooks"),
    ];
    assert!(allows(&doc, "kms:CreateGrant", key, ctx));
    assert!(allows(&doc, "kms:DescribeKey", key, &ctx[1..]));
    assert!(!allows(
        &doc,
        "kms:DescribeKey",
        key,
        &[("kms:ResourceAliases", "alias/other")]
    ));
    assert!(notes(
        &with_keys("      - {keyId: alias/notebooks}\n"),
        &Deployment::default()
    )
    .iter()
    .any(|n| n.contains("alias/notebooks")));
}

#[test]
fn a_policy_that_does_not_remediate_sagemaker21_has_no_key_statement() {
    let policy = crate::domain::policy::load(
        "p.yaml",
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: t}\nspec:\n  remediation:\n    kmsKeys: [{keyId: alias/nb}]\n  controls:\n    SageMaker.21: {action: finding}\n",
    )
    .unwrap();
    let doc = anywhere(&policy);
    assert!(!allowed_actions(&doc)
        .iter()
        .any(|a| a.starts_with("kms:CreateGrant")));
}

#[test]
fn sagemaker_24_alone_checks_its_key_but_makes_no_grant() {
    let policy = crate::domain::policy::load(
        "captured.yaml",
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: captured}\nspec:\n  \
         defaultAction: \"off\"\n  remediation:\n    kmsKeys:\n      - {keyId: \"arn:aws:kms:us-east-1:111111111111:key/2424abcd-12ab-34cd-56ef-1234567890ab\"}\n  \
         controls:\n    SageMaker.24: {action: remediate}\n",
    )
    .unwrap();
    let allowed = allowed_actions(&anywhere(&policy));
    assert!(
        allowed.contains(&"kms:DescribeKey".to_string()),
        "{allowed:?}"
    );
    assert!(allowed.contains(&"sagemaker:UpdateInferenceExperiment".to_string()));
    assert!(
        !allowed.contains(&"kms:CreateGrant".to_string()),
        "{allowed:?}"
    );
    // Nothing the update does passes a role.
    assert!(
        !allowed.contains(&"iam:PassRole".to_string()),
        "{allowed:?}"
    );
}

#[test]
fn a_schedules_update_passes_its_role_to_sagemaker_only() {
    let policy = crate::domain::policy::load(
        "schedules.yaml",
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: schedules}\nspec:\n  \
         defaultAction: \"off\"\n  controls:\n    SageMaker.22: {action: remediate}\n",
    )
    .unwrap();
    let doc = anywhere(&policy);
    let pass = statement(&doc, "SageMakerGuardPassRole");
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"],
        "sagemaker.amazonaws.com"
    );
    assert_eq!(
        actions(statement(&doc, "SageMakerGuardSchedules")),
        [
            "sagemaker:AddTags",
            "sagemaker:DeleteTags",
            "sagemaker:DescribeMonitoringSchedule",
            "sagemaker:ListTags",
            "sagemaker:UpdateMonitoringSchedule"
        ]
    );
}
