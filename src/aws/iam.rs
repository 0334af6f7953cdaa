//! The least-privilege IAM policy of a guard policy, derived, never written by hand: the reads of
//! each kind its controls judge, the mutations ([`Mutation`]) and extra reads each fix its
//! actions may make declares in the catalogue ([`Fix::mutations`], [`Fix::reads`]), and the
//! queue operations of the `run` service.

use crate::domain::mutation::Mutation;
use crate::domain::policy::{Action, Policy};
use crate::domain::resource::ResourceKind;

/// The operations of the `run` service on its own queues: receive and settle messages, read the
/// queue's settings and its redrive target, dead-letter a message, re-send a recreate intent.
pub const QUEUE_ACTIONS: [&str; 6] = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
];

/// The calls on the recreate-intent key: check it at start, sign intents, check their MACs.
pub const INTENT_KEY_ACTIONS: [&str; 3] = ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"];

/// The list and describe actions that observe a kind.
fn observe_actions(kind: ResourceKind) -> [&'static str; 2] {
    match kind {
        ResourceKind::NotebookInstance => [
            "sagemaker:ListNotebookInstances",
            "sagemaker:DescribeNotebookInstance",
        ],
        ResourceKind::EndpointConfig => [
            "sagemaker:ListEndpointConfigs",
            "sagemaker:DescribeEndpointConfig",
        ],
        ResourceKind::Model => ["sagemaker:ListModels", "sagemaker:DescribeModel"],
        ResourceKind::Image => ["sagemaker:ListImages", "sagemaker:DescribeImage"],
        ResourceKind::AppImageConfig => [
            "sagemaker:ListAppImageConfigs",
            "sagemaker:DescribeAppImageConfig",
        ],
    }
}

/// The least-privilege IAM policy for a guard policy: reading what its controls judge, the
/// mutations its actions may make, and the service's queue.
pub fn iam_policy(policy: &Policy) -> serde_json::Value {
    let mut read: Vec<String> = Vec::new();
    for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
        read.extend(observe_actions(kind).map(str::to_string));
        if policy.needs_tags(kind) {
            read.push("sagemaker:ListTags".into());
        }
    }
    let mut write: Vec<String> = Vec::new();
    let mut pass_role = false;
    for (id, settings) in &policy.controls {
        let fix = id.control().fix;
        let mutations: &[Mutation] = match settings.action {
            Action::Off | Action::Finding => &[],
            // `tag` adds the required tags (SageMaker.6, .7) or the noncompliant mark, and
            // removes the mark once the resource complies.
            Action::Tag => &[Mutation::AddTags, Mutation::DeleteTags],
            Action::Remediate => fix.mutations(),
        };
        write.extend(mutations.iter().map(|m| m.permission()));
        if settings.action == Action::Remediate {
            read.extend(fix.reads().iter().map(|r| r.to_string()));
            pass_role |= fix.passes_a_role();
        }
    }
    if !policy.controls.is_empty() {
        // Every action files or archives findings; a deleted resource's are looked up first.
        write.push(Mutation::ImportFindings.permission());
        read.push("securityhub:GetFindings".into());
    }
    if policy.remediation.event_bus.is_some() {
        write.push(Mutation::PublishOutcome.permission());
    }
    for list in [&mut read, &mut write] {
        list.sort_unstable();
        list.dedup();
    }
    let mut statements = vec![serde_json::json!({
        "Sid": "SageMakerGuardRead", "Effect": "Allow", "Action": read, "Resource": "*"
    })];
    if !write.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardRemediate", "Effect": "Allow", "Action": write, "Resource": "*"
        }));
    }
    if pass_role {
        // CreateNotebookInstance passes the notebook's own role on to SageMaker.
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardPassNotebookRoles", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        }));
    }
    if policy.recreates() {
        // Recreate intents are signed and checked with the intent key (`--intent-key-id`).
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardIntentKey", "Effect": "Allow",
            "Action": INTENT_KEY_ACTIONS, "Resource": "*"
        }));
    }
    statements.push(serde_json::json!({
        "Sid": "SageMakerGuardQueue", "Effect": "Allow", "Action": QUEUE_ACTIONS,
        "Resource": "*"
    }));
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

/// Every action the policy allows, whatever its statement.
pub fn allowed_actions(policy: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().into_iter().flatten() {
        match &statement["Action"] {
            serde_json::Value::String(a) => out.push(a.clone()),
            serde_json::Value::Array(list) => {
                out.extend(list.iter().filter_map(|a| a.as_str()).map(str::to_string))
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
