//! The CloudFormation templates of `deploy/cloudformation/`, created as stacks on the emulator's
//! CloudFormation: the central stack's outputs feed `run`, an event put on its bus is
//! reconciled, its rules deliver exactly the events the guard decodes, its roles hold exactly
//! what `iam-policy` prints, and its queue and key policies let only the guard (and the stack's
//! rules) in. The emulator's moto does not enforce resource policies, so those are read back as
//! created and judged here, by IAM's rules for the few operators they use.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};

use crate::common::service::*;
use crate::common::*;

/// A client of `$sdk` for `$account` on the emulator.
macro_rules! client {
    ($sdk:ident, $account:expr) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .endpoint_url(emulator_url())
                .region($sdk::config::Region::new(REGION))
                .credentials_provider($sdk::config::Credentials::new(
                    $account, "x", None, None, "test",
                ))
                .build(),
        )
    };
}

fn template(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/cloudformation")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A created stack: its outputs, and its resources' physical ids by logical id.
struct Stack {
    outputs: BTreeMap<String, String>,
    resources: BTreeMap<String, String>,
}

impl Stack {
    fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("the stack has no output {key}: {:?}", self.outputs))
    }
}

/// Creates the stack `name` from `deploy/cloudformation/<file>` in `account`, and waits until
/// it is complete.
async fn create_stack(account: &str, name: &str, file: &str, parameters: &[(&str, &str)]) -> Stack {
    let cf = client!(aws_sdk_cloudformation, account);
    let mut req = cf
        .create_stack()
        .stack_name(name)
        .template_body(template(file))
        .capabilities(Capability::CapabilityNamedIam);
    for (k, v) in parameters {
        req = req.parameters(
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build(),
        );
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("CreateStack {file}: {e:?}"));
    let stack = loop {
        let out = cf.describe_stacks().stack_name(name).send().await.unwrap();
        let stack = out.stacks()[0].clone();
        if !stack
            .stack_status()
            .unwrap()
            .as_str()
            .ends_with("_IN_PROGRESS")
        {
            break stack;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        stack.stack_status(),
        Some(&StackStatus::CreateComplete),
        "{file}: {:?}",
        stack.stack_status_reason()
    );
    let outputs = stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap().to_string(),
                o.output_value().unwrap().to_string(),
            )
        })
        .collect();
    let resources = cf
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .unwrap()
        .stack_resource_summaries()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap().to_string(),
                r.physical_resource_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Stack { outputs, resources }
}

/// A policy document as IAM hands it back: URL-encoded JSON (GetRolePolicy), or plain JSON.
fn document(text: &str) -> serde_json::Value {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    };
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("not a policy ({e}): {decoded}"))
}

/// A policy's statements with only their order taken out: statements sorted, and each
/// statement's `Action` and `Resource` as sorted lists (IAM reads a string as a list of one).
fn normalised(policy: &serde_json::Value) -> Vec<serde_json::Value> {
    let list = |v: &serde_json::Value| -> serde_json::Value {
        let mut items: Vec<String> = match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|i| i.as_str().unwrap().to_string()).collect()
            }
            other => panic!("not a string or a list: {other}"),
        };
        items.sort();
        serde_json::json!(items)
    };
    let mut statements: Vec<serde_json::Value> = policy["Statement"]
        .as_array()
        .expect("a Statement list")
        .iter()
        .map(|s| {
            let mut s = s.clone();
            for key in ["Action", "Resource"] {
                if !s[key].is_null() {
                    s[key] = list(&s[key]);
                }
            }
            s
        })
        .collect();
    statements.sort_by_key(|s| s.to_string());
    statements
}

/// `sagemaker-guard iam-policy` with `args`: the policy it prints.
fn iam_policy<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    account: &str,
    args: &[S],
) -> serde_json::Value {
    let out = guard(account)
        .arg("iam-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iam-policy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

/// `iam-policy`'s flags for the recommended policy in the central stack's account, region,
/// queues, key and table.
fn stack_flags(stack: &Stack, account: &str, more: &[&str]) -> Vec<String> {
    let mut flags = vec![
        "--policy".to_string(),
        recommended(),
        "--account".into(),
        account.into(),
        "--region".into(),
        REGION.into(),
    ];
    for (flag, output) in [
        ("--queue-url", "QueueUrl"),
        ("--dead-letter-queue-url", "DeadLetterQueueUrl"),
        ("--intent-key-id", "IntentKeyArn"),
        ("--state-table", "StateTableName"),
    ] {
        flags.push(flag.into());
        flags.push(stack.output(output).into());
    }
    flags.extend(more.iter().map(|f| f.to_string()));
    flags
}

fn recommended() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies/recommended.yaml")
        .display()
        .to_string()
}

// ------------------------------------------------------------------------------------------
// A resource policy, judged by IAM's rules for what the templates write: principals `*`,
// `{"AWS": ARN}` (an account's root: any principal of that account, through its identity
// policies) and `{"Service": NAME}`; actions with wildcards; the condition operators
// StringEquals, StringNotEquals, ArnEquals, ArnLike, ArnNotEquals and Bool, where a key the
// request lacks makes a positive operator false and a negated one true.
// ------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Decision {
    Allowed,
    ExplicitlyDenied,
    /// Neither: the resource policy alone does not let the caller in.
    NotAllowed,
}

enum Caller<'a> {
    /// An IAM role or an account root, by ARN.
    Aws(&'a str),
    Service(&'a str),
}

fn decide(
    policy: &serde_json::Value,
    caller: &Caller,
    action: &str,
    context: &[(&str, &str)],
) -> Decision {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|i| i.as_str())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    };
    let account_of = |arn: &str| arn.split(':').nth(4).unwrap_or("").to_string();
    let principal_matches = |p: &serde_json::Value| -> bool {
        if p == "*" {
            return true;
        }
        match caller {
            Caller::Aws(arn) => strings(&p["AWS"]).iter().any(|want| {
                want == "*"
                    || want == arn
                    || (want.ends_with(":root") && account_of(want) == account_of(arn))
            }),
            Caller::Service(name) => strings(&p["Service"]).iter().any(|want| want == name),
        }
    };
    let holds = |conditions: &serde_json::Value| -> bool {
        let Some(conditions) = conditions.as_object() else {
            return true;
        };
        conditions.iter().all(|(operator, keys)| {
            keys.as_object().unwrap().iter().all(|(key, wanted)| {
                let wanted = strings(wanted);
                let value = context
                    .iter()
                    .find(|(k, _)| *k == key.as_str())
                    .map(|(_, v)| *v);
                let glob_any = |v: &str| wanted.iter().any(|w| glob(w, v));
                match (operator.as_str(), value) {
                    ("StringEquals" | "ArnEquals" | "ArnLike" | "Bool", None) => false,
                    ("StringNotEquals" | "ArnNotEquals", None) => true,
                    ("StringEquals" | "Bool", Some(v)) => wanted.iter().any(|w| w == v),
                    ("StringNotEquals", Some(v)) => !wanted.iter().any(|w| w == v),
                    ("ArnEquals" | "ArnLike", Some(v)) => glob_any(v),
                    ("ArnNotEquals", Some(v)) => !glob_any(v),
                    (other, _) => panic!("the judge does not know the operator {other}"),
                }
            })
        })
    };
    let applies = |s: &&serde_json::Value| {
        principal_matches(&s["Principal"])
            && strings(&s["Action"]).iter().any(|a| glob(a, action))
            && holds(&s["Condition"])
    };
    let statements = policy["Statement"].as_array().unwrap();
    if statements
        .iter()
        .filter(applies)
        .any(|s| s["Effect"] == "Deny")
    {
        Decision::ExplicitlyDenied
    } else if statements
        .iter()
        .filter(applies)
        .any(|s| s["Effect"] == "Allow")
    {
        Decision::Allowed
    } else {
        Decision::NotAllowed
    }
}

/// IAM's `*` (any run) and `?` (any one character).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => {
            pattern.len() == text.len()
                && pattern
                    .chars()
                    .zip(text.chars())
                    .all(|(p, t)| p == '?' || p == t)
        }
        Some((head, tail)) => {
            text.len() >= head.len()
                && glob(head, &text[..head.len()])
                && (head.len()..=text.len()).any(|i| glob(tail, &text[i..]))
        }
    }
}

// ------------------------------------------------------------------------------------------

/// The central stack's outputs are what `run` needs: it starts with them (the queue, the
/// dead-letter queue, the intent key it checks is an HMAC key, the state table it checks), and
/// an event put on the stack's bus reaches the queue through the stack's rule and is reconciled.
#[tokio::test]
async fn central_stack_outputs_run_the_guard_and_an_event_on_its_bus_is_reconciled() {
    let account = account(200);
    let stack = create_stack(&account, "guard", "central.yaml", &[]).await;
    let sm = client(&account).await;
    create_notebook(&sm, "nb-deployed", false).await;

    let policy = std::fs::read_to_string(recommended()).unwrap();
    let service = Service::start_with_policy(
        &account,
        stack.output("QueueUrl"),
        &policy,
        &[
            "--no-initial-resync",
            "--dead-letter-queue-url",
            stack.output("DeadLetterQueueUrl"),
            "--intent-key-id",
            stack.output("IntentKeyArn"),
            "--state-table",
            stack.output("StateTableName"),
        ],
        |_| {},
    );

    // As a member account's forwarder would: a CloudTrail event on the guard's bus.
    let events = client!(aws_sdk_eventbridge, &account);
    let detail = serde_json::json!({
        "eventSource": "sagemaker.amazonaws.com", "eventName": "CreateNotebookInstance",
        "awsRegion": REGION, "recipientAccountId": account,
        "requestParameters": {"notebookInstanceName": "nb-deployed"}, "responseElements": null
    });
    let put = events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(stack.output("EventBusArn"))
                .source("aws.sagemaker")
                .detail_type("AWS API Call via CloudTrail")
                .detail(detail.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 0, "{put:?}");

    service.wait_for_log(
        "the reconcile of nb-deployed, triggered by the CloudTrail event",
        Duration::from_secs(30),
        |l| {
            l["fields"]["message"] == "reconciled"
                && l["fields"]["resource"] == "nb-deployed"
                && l["fields"]["trigger"]
                    .as_str()
                    .is_some_and(|t| t.contains("cloudtrail"))
        },
    );
    let reconciled = service.reconciled();
    let r = reconciled
        .iter()
        .find(|r| r["resource"] == "nb-deployed")
        .unwrap();
    assert_eq!(r["result"], "noncompliant", "{r}");
    assert_eq!(r["account"], account.as_str());
    let q = Queues {
        sqs: sqs(&account).await,
        url: stack.output("QueueUrl").to_string(),
        arn: stack.output("QueueArn").to_string(),
        dlq_url: stack.output("DeadLetterQueueUrl").to_string(),
    };
    q.wait_empty(&q.url, Duration::from_secs(10)).await;
    assert_eq!(
        q.counts(&q.dlq_url).await,
        (0, 0),
        "nothing was dead-lettered"
    );
}

/// The guard's role holds exactly the statements `iam-policy` prints for
/// policies/recommended.yaml with the stack's own account, region, queues, key and table.
#[tokio::test]
async fn central_role_policy_is_what_iam_policy_prints_for_the_recommended_policy() {
    let account = account(201);
    let stack = create_stack(&account, "guard", "central.yaml", &[]).await;
    let iam = client!(aws_sdk_iam, &account);
    let role = stack.resources["Role"].clone();
    let created = iam
        .get_role_policy()
        .role_name(&role)
        .policy_name("sagemaker-guard")
        .send()
        .await
        .unwrap();
    let created = document(created.policy_document());
    let printed = iam_policy(
        &account,
        &stack_flags(&stack, &account, &["--partition", "aws"]),
    );
    assert_eq!(created["Version"], printed["Version"]);
    assert_eq!(
        normalised(&created),
        normalised(&printed),
        "the role's policy as created (left) is not what iam-policy prints (right)"
    );
    // Only one policy: nothing beside it widens the role (no organization id was given).
    let names = iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["sagemaker-guard"]);
}

/// In an organization the role also holds the member-role statement `iam-policy --member-role
/// --organization-id` prints: together, its two policies are exactly what `iam-policy` prints.
#[tokio::test]
async fn central_role_in_an_organization_is_what_iam_policy_prints_with_the_member_role() {
    let account = account(209);
    let stack = create_stack(
        &account,
        "guard",
        "central.yaml",
        &[("OrganizationId", "o-abcdefghij")],
    )
    .await;
    let iam = client!(aws_sdk_iam, &account);
    let role = stack.resources["Role"].clone();
    let mut created = serde_json::json!({"Version": "2012-10-17", "Statement": []});
    for name in ["sagemaker-guard", "sagemaker-guard-members"] {
        let policy = iam
            .get_role_policy()
            .role_name(&role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        let doc = document(policy.policy_document());
        created["Statement"]
            .as_array_mut()
            .unwrap()
            .extend(doc["Statement"].as_array().unwrap().iter().cloned());
    }
    let printed = iam_policy(
        &account,
        &stack_flags(
            &stack,
            &account,
            &[
                "--member-role",
                "arn:{partition}:iam::{account_id}:role/SageMakerGuardMember",
                "--organization-id",
                "o-abcdefghij",
            ],
        ),
    );
    assert_eq!(
        normalised(&created),
        normalised(&printed),
        "the role's two policies as created (left) are not what iam-policy prints (right)"
    );
}

/// The queue's policy, as SQS holds it: EventBridge may send from the stack's six rules (the
/// ones that target the queue) and the guard's role may send; any other principal, or
/// EventBridge on behalf of another rule, is explicitly denied, and so is every call without TLS.
#[tokio::test]
async fn queue_policy_lets_only_the_stacks_rules_and_the_guard_send() {
    let account = account(202);
    let stack = create_stack(&account, "guard", "central.yaml", &[]).await;
    let sqs = sqs(&account).await;
    let policy_of = |url: String| {
        let sqs = sqs.clone();
        async move {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
                .send()
                .await
                .unwrap();
            document(&attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::Policy])
        }
    };
    let queue = policy_of(stack.output("QueueUrl").to_string()).await;
    let dlq = policy_of(stack.output("DeadLetterQueueUrl").to_string()).await;

    // The rules that target the queue, on both buses, as EventBridge knows them.
    let events = client!(aws_sdk_eventbridge, &account);
    let mut rules = Vec::new();
    for bus in ["default", "sagemaker-guard"] {
        let names = events
            .list_rule_names_by_target()
            .target_arn(stack.output("QueueArn"))
            .event_bus_name(bus)
            .send()
            .await
            .unwrap();
        for name in names.rule_names() {
            let rule = events
                .describe_rule()
                .name(name)
                .event_bus_name(bus)
                .send()
                .await
                .unwrap();
            rules.push(rule.arn().unwrap().to_string());
        }
    }
    assert_eq!(rules.len(), 6, "three rules on each bus: {rules:?}");

    let role = stack.output("RoleArn");
    let admin = format!("arn:aws:iam::{account}:role/Admin");
    let tls = ("aws:SecureTransport", "true");
    for rule in &rules {
        assert_eq!(
            decide(
                &queue,
                &Caller::Service("events.amazonaws.com"),
                "sqs:SendMessage",
                &[("aws:SourceArn", rule), tls]
            ),
            Decision::Allowed,
            "EventBridge for {rule}"
        );
    }
    let foreign_rule = "arn:aws:events:us-east-1:999999999999:rule/forged";
    for (who, caller, context) in [
        (
            "EventBridge for another account's rule",
            Caller::Service("events.amazonaws.com"),
            vec![("aws:SourceArn", foreign_rule), tls],
        ),
        (
            "another role of the account",
            Caller::Aws(&admin),
            vec![("aws:PrincipalArn", admin.as_str()), tls],
        ),
        (
            "the account's root",
            Caller::Aws(&format!("arn:aws:iam::{account}:root")),
            vec![tls],
        ),
        (
            "another service",
            Caller::Service("sns.amazonaws.com"),
            vec![tls],
        ),
        (
            "the guard without TLS",
            Caller::Aws(role),
            vec![("aws:PrincipalArn", role), ("aws:SecureTransport", "false")],
        ),
    ] {
        assert_eq!(
            decide(&queue, &caller, "sqs:SendMessage", &context),
            Decision::ExplicitlyDenied,
            "{who}"
        );
    }
    assert_eq!(
        decide(
            &queue,
            &Caller::Aws(role),
            "sqs:SendMessage",
            &[("aws:PrincipalArn", role), tls]
        ),
        Decision::Allowed,
        "the guard stores recreate intents"
    );
    // The dead-letter queue: only the guard's role sends (its identity policy allows it).
    assert_eq!(
        decide(
            &dlq,
            &Caller::Aws(&admin),
            "sqs:SendMessage",
            &[("aws:PrincipalArn", admin.as_str()), tls]
        ),
        Decision::ExplicitlyDenied
    );
    assert_eq!(
        decide(
            &dlq,
            &Caller::Aws(role),
            "sqs:SendMessage",
            &[("aws:PrincipalArn", role), tls]
        ),
        Decision::NotAllowed,
        "not denied: the role's own policy lets it dead-letter"
    );
    assert_eq!(
        decide(
            &dlq,
            &Caller::Aws(role),
            "sqs:ReceiveMessage",
            &[("aws:PrincipalArn", role), ("aws:SecureTransport", "false")]
        ),
        Decision::ExplicitlyDenied
    );
    // Both are encrypted at rest.
    for url in [stack.output("QueueUrl"), stack.output("DeadLetterQueueUrl")] {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            attrs.attributes().unwrap()
                [&aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled],
            "true",
            "{url}"
        );
    }
}

/// The intent key is an HMAC key whose policy lets only the guard's role sign and verify: the
/// account keeps administering it (as AWS requires, or nobody could), but no identity policy
/// in the account can grant signing to anyone else.
#[tokio::test]
async fn intent_key_signs_and_verifies_only_for_the_guards_role() {
    let account = account(203);
    let stack = create_stack(&account, "guard", "central.yaml", &[]).await;
    let kms = kms(&account).await;
    let key = stack.output("IntentKeyArn");
    let meta = kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_spec(), Some(&aws_sdk_kms::types::KeySpec::Hmac256));
    assert_eq!(
        meta.key_usage(),
        Some(&aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
    );
    let policy = kms
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let policy = document(policy.policy().unwrap());

    let role = stack.output("RoleArn");
    let root = format!("arn:aws:iam::{account}:root");
    let admin = format!("arn:aws:iam::{account}:role/Admin");
    for action in ["kms:GenerateMac", "kms:VerifyMac", "kms:DescribeKey"] {
        assert_eq!(
            decide(
                &policy,
                &Caller::Aws(role),
                action,
                &[("aws:PrincipalArn", role)]
            ),
            Decision::Allowed,
            "the guard: {action}"
        );
    }
    for (who, caller) in [
        ("the account's root", Caller::Aws(&root)),
        ("an administrator", Caller::Aws(&admin)),
    ] {
        let context = match &caller {
            Caller::Aws(arn) => vec![("aws:PrincipalArn", *arn)],
            Caller::Service(_) => vec![],
        };
        for action in ["kms:GenerateMac", "kms:VerifyMac", "kms:CreateGrant"] {
            assert_eq!(
                decide(&policy, &caller, action, &context),
                Decision::ExplicitlyDenied,
                "{who}: {action}"
            );
        }
        for action in [
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
            "kms:DisableKey",
        ] {
            assert_eq!(
                decide(&policy, &caller, action, &context),
                Decision::Allowed,
                "{who} administers: {action}"
            );
        }
    }
}

/// The state table is what the guard expects (partition key `pk`, a string; TTL on
/// `expires`; on demand).
#[tokio::test]
async fn state_table_has_the_key_and_ttl_the_guard_expects() {
    let account = account(204);
    let stack = create_stack(&account, "guard", "central.yaml", &[]).await;
    let ddb = client!(aws_sdk_dynamodb, &account);
    let table = stack.output("StateTableName");
    let t = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, String)> = t
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(keys, [("pk".to_string(), "HASH".to_string())]);
    let attrs: Vec<(String, String)> = t
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_string(),
                a.attribute_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(attrs, [("pk".to_string(), "S".to_string())]);
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires"));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
}

/// The event fixtures the rules must not deliver: calls that change nothing a control judges,
/// another service's events, a kind no control judges, findings of other controls.
const NOT_DELIVERED: [&str; 5] = [
    "cloudtrail-list-notebook-instances.json",
    "cloudtrail-stop-notebook-instance.json",
    "other-service-ec2-state-change.json",
    "sagemaker-training-job-state-change.json",
    "securityhub-findings-imported-asff-other-control.json",
];

/// Every event fixture put on a bus; the names of those that reached `queue`.
async fn delivered(
    account: &str,
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    q: &Queues,
) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let mut fixtures = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") || name == "not-an-event.json" {
            continue;
        }
        let event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let put = events
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(event["source"].as_str().unwrap())
                    .detail_type(event["detail-type"].as_str().unwrap())
                    .detail(event["detail"].to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(put.failed_entry_count(), 0, "{name} on {bus}");
        fixtures.insert(name, event["detail"].clone());
    }
    assert!(fixtures.len() > 20, "the fixtures are in {}", dir.display());
    // Two fixtures may share a detail (they differ in the envelope only): each message takes
    // the first fixture of its detail not taken yet.
    let mut untaken: Vec<(String, serde_json::Value)> = fixtures.clone().into_iter().collect();
    let mut names = Vec::new();
    loop {
        let out = q
            .sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            break;
        }
        for m in out.messages() {
            let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
            let i = untaken
                .iter()
                .position(|(_, detail)| *detail == body["detail"])
                .unwrap_or_else(|| panic!("{account}: a message that is no fixture: {body}"));
            names.push(untaken.remove(i).0);
            q.sqs
                .delete_message()
                .queue_url(&q.url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    names.sort();
    let mut expected: Vec<String> = fixtures
        .keys()
        .filter(|n| !NOT_DELIVERED.contains(&n.as_str()))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(names, expected, "the events delivered from the {bus} bus");
    names
}

/// The rules on the account's default bus and on the guard's bus deliver every event fixture
/// the guard decodes (CloudTrail calls, state changes, ASFF and OCSF findings of SageMaker
/// controls) and none of the others; a member account's forwarder (member-forwarder.yaml)
/// brings its default bus's events to the central bus with the same result.
#[tokio::test]
async fn rules_and_forwarder_deliver_the_events_the_guard_decodes_and_no_others() {
    let central = account(205);
    let member = account(206);
    let stack = create_stack(
        &central,
        "guard",
        "central.yaml",
        &[("OrganizationId", "o-exampleorg1")],
    )
    .await;
    create_stack(
        &member,
        "guard-forwarder",
        "member-forwarder.yaml",
        &[("CentralEventBusArn", stack.output("EventBusArn"))],
    )
    .await;
    let q = Queues {
        sqs: sqs(&central).await,
        url: stack.output("QueueUrl").to_string(),
        arn: stack.output("QueueArn").to_string(),
        dlq_url: stack.output("DeadLetterQueueUrl").to_string(),
    };
    let central_events = client!(aws_sdk_eventbridge, &central);
    delivered(&central, &central_events, "default", &q).await;
    delivered(&central, &central_events, stack.output("EventBusArn"), &q).await;
    let member_events = client!(aws_sdk_eventbridge, &member);
    delivered(&member, &member_events, "default", &q).await;
}

/// member-role.yaml's role holds, per its Permissions parameter, exactly what `iam-policy`
/// prints for policies/audit-only.yaml or policies/recommended.yaml in the member account, less
/// the queue statements (the queues are the central role's), and trusts only the central role
/// (with the external id when one is given).
#[tokio::test]
async fn member_role_is_what_iam_policy_prints_for_audit_only_and_recommended() {
    let central_role = "arn:aws:iam::111111111111:role/SageMakerGuard";
    for (n, permissions, file, external_id) in [
        (207, "audit-only", "policies/audit-only.yaml", ""),
        (208, "remediate", "policies/recommended.yaml", "ext-208"),
    ] {
        let member = account(n);
        create_stack(
            &member,
            "guard-member",
            "member-role.yaml",
            &[
                ("CentralRoleArn", central_role),
                ("Permissions", permissions),
                ("ExternalId", external_id),
            ],
        )
        .await;
        let iam = client!(aws_sdk_iam, &member);
        let created = iam
            .get_role_policy()
            .role_name("SageMakerGuardMember")
            .policy_name("sagemaker-guard")
            .send()
            .await
            .unwrap();
        let created = document(created.policy_document());
        let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let printed = iam_policy(
            &member,
            &[
                "--policy",
                &policy.display().to_string(),
                "--account",
                &member,
                "--member",
            ],
        );
        assert_eq!(normalised(&created), normalised(&printed), "{permissions}");

        let role = iam
            .get_role()
            .role_name("SageMakerGuardMember")
            .send()
            .await
            .unwrap();
        let trust = document(role.role().unwrap().assume_role_policy_document().unwrap());
        let mut context = vec![("aws:PrincipalArn", central_role)];
        if !external_id.is_empty() {
            context.push(("sts:ExternalId", external_id));
            assert_eq!(
                decide(
                    &trust,
                    &Caller::Aws(central_role),
                    "sts:AssumeRole",
                    &[("aws:PrincipalArn", central_role)]
                ),
                Decision::NotAllowed,
                "{permissions}: without the external id"
            );
        }
        assert_eq!(
            decide(
                &trust,
                &Caller::Aws(central_role),
                "sts:AssumeRole",
                &context
            ),
            Decision::Allowed
        );
        let other = format!("arn:aws:iam::{member}:role/Admin");
        assert_eq!(
            decide(
                &trust,
                &Caller::Aws(&other),
                "sts:AssumeRole",
                &[("aws:PrincipalArn", other.as_str())]
            ),
            Decision::NotAllowed
        );
    }
}
