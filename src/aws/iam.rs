//! The least-privilege IAM policy of a guard policy: what its controls read and what its
//! actions may change, derived from the gate's mutations.

use crate::aws::gate::Mutation;

/// The least-privilege IAM policy for a guard policy: reading what its controls judge, and the
/// mutations its actions may make.
pub fn iam_policy(policy: &crate::domain::policy::Policy) -> serde_json::Value {
    use crate::domain::policy::Action;
    use crate::domain::resource::ResourceKind;
    let mut read: Vec<&str> = Vec::new();
    for kind in ResourceKind::ALL.into_iter().filter(|k| policy.judges(*k)) {
        read.extend(match kind {
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
        });
        if policy.needs_tags(kind) {
            read.push("sagemaker:ListTags");
        }
    }
    let mut write: Vec<&str> = Vec::new();
    let any = |f: &dyn Fn(crate::domain::catalogue::ControlId, Action) -> bool| {
        policy.controls.iter().any(|(id, s)| f(*id, s.action))
    };
    if any(&|_, a| a >= Action::Tag) {
        write.extend([
            Mutation::AddTags.permission(),
            Mutation::DeleteTags.permission(),
        ]);
    }
    if any(&|id, a| {
        a == Action::Remediate && id.control().fix == crate::domain::catalogue::Fix::UpdateInPlace
    }) {
        write.extend([
            Mutation::StopNotebookInstance.permission(),
            Mutation::UpdateNotebookInstance.permission(),
            Mutation::StartNotebookInstance.permission(),
        ]);
    }
    let mut pass_role = false;
    if any(&|id, a| {
        a == Action::Remediate && id.control().fix == crate::domain::catalogue::Fix::Recreate
    }) {
        write.extend([
            Mutation::AddTags.permission(),
            // The schedule and restart marks go again; a recreate cancelled after the stop
            // starts the notebook again.
            Mutation::DeleteTags.permission(),
            Mutation::StartNotebookInstance.permission(),
            Mutation::StopNotebookInstance.permission(),
            Mutation::DeleteNotebookInstance.permission(),
            Mutation::CreateNotebookInstance.permission(),
            // The recreate intent, stored on the service's queue before the delete.
            "sqs:SendMessage",
        ]);
        // CreateNotebookInstance passes the notebook's own role on to SageMaker.
        pass_role = true;
    }
    if any(&|id, a| {
        a == Action::Remediate
            && id.control().fix == crate::domain::catalogue::Fix::ReplaceEndpointConfig
    }) {
        read.extend([
            "sagemaker:ListEndpoints",
            "sagemaker:DescribeEndpoint",
            "sagemaker:DescribeEndpointConfig",
        ]);
        write.extend([
            Mutation::AddTags.permission(),
            Mutation::CreateEndpointConfig.permission(),
            Mutation::UpdateEndpoint.permission(),
        ]);
    }
    if !policy.controls.is_empty() {
        // Every action files or archives findings (`run`).
        write.extend(crate::aws::finding::PERMISSIONS);
    }
    if policy.remediation.event_bus.is_some() {
        write.push("events:PutEvents");
    }
    read.sort_unstable();
    read.dedup();
    write.sort_unstable();
    write.dedup();
    let mut statements = vec![serde_json::json!({
        "Sid": "SageMakerGuardRead", "Effect": "Allow", "Action": read, "Resource": "*"
    })];
    if !write.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardRemediate", "Effect": "Allow", "Action": write, "Resource": "*"
        }));
    }
    if pass_role {
        statements.push(serde_json::json!({
            "Sid": "SageMakerGuardPassNotebookRoles", "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iam_policy_follows_the_actions() {
        let load = |controls: &str| {
            crate::domain::policy::load(
                "p.yaml",
                &format!("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {{name: t}}\nspec:\n  defaultAction: off\n  controls:\n{controls}"),
            )
            .unwrap()
        };
        let audit = iam_policy(&load("    SageMaker.5: {action: finding}\n"));
        assert_eq!(
            audit["Statement"][1]["Action"],
            serde_json::json!(["securityhub:BatchImportFindings"])
        );
        assert_eq!(
            audit["Statement"][0]["Action"],
            serde_json::json!(["sagemaker:DescribeModel", "sagemaker:ListModels"])
        );
        let fix = iam_policy(&load("    SageMaker.3: {action: remediate}\n"));
        let write = &fix["Statement"][1]["Action"];
        for p in [
            "sagemaker:StopNotebookInstance",
            "sagemaker:UpdateNotebookInstance",
            "sagemaker:StartNotebookInstance",
            "sagemaker:AddTags",
        ] {
            assert!(
                write.as_array().unwrap().iter().any(|a| a == p),
                "{p} in {write}"
            );
        }
        assert!(fix["Statement"][0]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "sagemaker:ListTags"));
        assert_eq!(fix["Statement"].as_array().unwrap().len(), 2, "no PassRole");

        let recreate = iam_policy(&load(
            "    SageMaker.1: {action: remediate}\n    SageMaker.4: {action: remediate}\n",
        ));
        let write = recreate["Statement"][1]["Action"].as_array().unwrap();
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
        let pass = &recreate["Statement"][2];
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "sagemaker.amazonaws.com"
        );
    }
}
