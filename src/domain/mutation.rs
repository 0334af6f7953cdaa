//! The changes the guard can make to AWS, each with the IAM action it needs, and the reads beyond
//! the observation of a resource that a fix makes. The catalogue says which ones each fix needs
//! (`Fix::mutations` in the catalogue); the gate performs them; `iam-policy` is derived
//! from them. Nothing else changes AWS.

/// A mutating AWS call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutation {
    AddTags,
    DeleteTags,
    StopNotebookInstance,
    UpdateNotebookInstance,
    StartNotebookInstance,
    DeleteNotebookInstance,
    CreateNotebookInstance,
    CreateEndpointConfig,
    UpdateEndpoint,
    UpdateMonitoringSchedule,
    UpdateInferenceExperiment,
    /// Stores a recreate intent on the service's queue, before the delete.
    StoreRecreateIntent,
    /// Files findings in Security Hub.
    ImportFindings,
    /// Publishes an outcome event on the policy's bus.
    PublishOutcome,
}

impl Mutation {
    pub const ALL: [Mutation; 14] = [
        Mutation::AddTags,
        Mutation::DeleteTags,
        Mutation::StopNotebookInstance,
        Mutation::UpdateNotebookInstance,
        Mutation::StartNotebookInstance,
        Mutation::DeleteNotebookInstance,
        Mutation::CreateNotebookInstance,
        Mutation::CreateEndpointConfig,
        Mutation::UpdateEndpoint,
        Mutation::UpdateMonitoringSchedule,
        Mutation::UpdateInferenceExperiment,
        Mutation::StoreRecreateIntent,
        Mutation::ImportFindings,
        Mutation::PublishOutcome,
    ];

    /// The API operation, as AWS names it.
    pub fn operation(self) -> &'static str {
        match self {
            Mutation::AddTags => "AddTags",
            Mutation::DeleteTags => "DeleteTags",
            Mutation::StopNotebookInstance => "StopNotebookInstance",
            Mutation::UpdateNotebookInstance => "UpdateNotebookInstance",
            Mutation::StartNotebookInstance => "StartNotebookInstance",
            Mutation::DeleteNotebookInstance => "DeleteNotebookInstance",
            Mutation::CreateNotebookInstance => "CreateNotebookInstance",
            Mutation::CreateEndpointConfig => "CreateEndpointConfig",
            Mutation::UpdateEndpoint => "UpdateEndpoint",
            Mutation::UpdateMonitoringSchedule => "UpdateMonitoringSchedule",
            Mutation::UpdateInferenceExperiment => "UpdateInferenceExperiment",
            Mutation::StoreRecreateIntent => "SendMessage",
            Mutation::ImportFindings => "BatchImportFindings",
            Mutation::PublishOutcome => "PutEvents",
        }
    }

    /// The service it calls, as people name it.
    pub fn service_name(self) -> &'static str {
        match self {
            Mutation::StoreRecreateIntent => "SQS",
            Mutation::ImportFindings => "Security Hub",
            Mutation::PublishOutcome => "EventBridge",
            _ => "SageMaker",
        }
    }

    /// The IAM service prefix of the call.
    pub fn service(self) -> &'static str {
        match self {
            Mutation::StoreRecreateIntent => "sqs",
            Mutation::ImportFindings => "securityhub",
            Mutation::PublishOutcome => "events",
            _ => "sagemaker",
        }
    }

    /// The IAM action the call needs.
    pub fn permission(self) -> String {
        format!("{}:{}", self.service(), self.operation())
    }

    /// Whether it changes a SageMaker resource: such calls are spaced per account and region
    /// (`mutationsPerSecond`), so that the guard never crowds out the account's own use of the API.
    pub fn is_paced(self) -> bool {
        !matches!(
            self,
            Mutation::StoreRecreateIntent | Mutation::ImportFindings | Mutation::PublishOutcome
        )
    }
}
