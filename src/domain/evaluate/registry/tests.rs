use super::*;

use crate::domain::evaluate::Status::{Error, Failed, NotApplicable, Passed};
use crate::domain::testing::{assert_cases, Case};

fn container(mode: Option<&str>) -> ModelContainer {
    ModelContainer {
        repository_access_mode: mode.map(str::to_string),
    }
}

/// A model defined by `PrimaryContainer`.
fn single(mode: Option<&str>) -> ModelContainers {
    ModelContainers {
        primary: Some(container(mode)),
        containers: vec![],
    }
}

/// A model defined by `Containers` (an inference pipeline).
fn pipeline(modes: &[Option<&str>]) -> ModelContainers {
    ModelContainers {
        primary: None,
        containers: modes.iter().map(|m| container(*m)).collect(),
    }
}

#[test]
fn sagemaker16_primary_container_registry() {
    assert_cases(
        primary_container,
        &[
            Case {
                what: "Vpc",
                input: single(Some("Vpc")),
                status: Passed,
                reason: "RepositoryAccessMode Vpc",
            },
            Case {
                what: "Platform",
                input: single(Some("Platform")),
                status: Failed,
                reason:
                    "the PrimaryContainer pulls from Amazon ECR (RepositoryAccessMode Platform)",
            },
            Case {
                what: "no ImageConfig",
                input: single(None),
                status: Failed,
                reason: "the PrimaryContainer has no ImageConfig",
            },
            Case {
                what: "no PrimaryContainer: a pipeline is SageMaker.19's",
                input: pipeline(&[Some("Platform")]),
                status: NotApplicable,
                reason: "SageMaker.19 judges its Containers",
            },
            Case {
                what: "neither PrimaryContainer nor Containers: not fully read",
                input: ModelContainers::default(),
                status: Error,
                reason: "neither PrimaryContainer nor Containers",
            },
        ],
    );
}

#[test]
fn sagemaker19_pipeline_containers_registry() {
    assert_cases(
        pipeline_containers,
        &[
            Case {
                what: "every container Vpc",
                input: pipeline(&[Some("Vpc"), Some("Vpc")]),
                status: Passed,
                reason: "every container pulls from a private registry (2 of 2)",
            },
            Case {
                what: "one container Platform",
                input: pipeline(&[Some("Vpc"), Some("Platform")]),
                status: Failed,
                reason: "Containers[1] pulls from Amazon ECR (RepositoryAccessMode Platform)",
            },
            Case {
                what: "one container without ImageConfig",
                input: pipeline(&[None, Some("Vpc")]),
                status: Failed,
                reason: "Containers[0] has no ImageConfig",
            },
            Case {
                what: "every failing container is named",
                input: pipeline(&[None, Some("Vpc"), Some("Platform")]),
                status: Failed,
                reason: "Containers[0] has no ImageConfig (its image comes from Amazon ECR); \
                         Containers[2] pulls from Amazon ECR",
            },
            Case {
                what: "a one-container pipeline is still judged",
                input: pipeline(&[Some("Platform")]),
                status: Failed,
                reason: "Containers[0]",
            },
            Case {
                what: "no Containers: a single-container model is SageMaker.16's",
                input: single(Some("Platform")),
                status: NotApplicable,
                reason: "SageMaker.16 judges its PrimaryContainer",
            },
            Case {
                what: "neither PrimaryContainer nor Containers: not fully read",
                input: ModelContainers::default(),
                status: Error,
                reason: "was not fully read",
            },
        ],
    );
}
