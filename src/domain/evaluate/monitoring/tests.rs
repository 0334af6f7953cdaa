use super::*;

use crate::domain::evaluate::Status::{Error, Failed, NotApplicable, Passed};
use crate::domain::testing::{assert_cases, Case};

/// A `NetworkConfig` with these two switches: (inter-container encryption, network isolation).
fn net(encryption: Option<bool>, isolation: Option<bool>) -> Option<MonitoringNetworkConfig> {
    Some(MonitoringNetworkConfig {
        enable_inter_container_traffic_encryption: encryption,
        enable_network_isolation: isolation,
    })
}

fn def(
    instance_count: Option<i32>,
    network_config: Option<MonitoringNetworkConfig>,
) -> MonitoringJobDefinition {
    MonitoringJobDefinition {
        network_config,
        instance_count,
    }
}

/// A schedule whose job is defined inline.
fn inline(network_config: Option<MonitoringNetworkConfig>) -> MonitoringSchedule {
    MonitoringSchedule {
        inline_job: Some(InlineMonitoringJob { network_config }),
        ..MonitoringSchedule::default()
    }
}

/// A schedule that names a job definition of this type.
fn named(name: &str, monitoring_type: Option<&str>) -> MonitoringSchedule {
    MonitoringSchedule {
        status: None,
        inline_job: None,
        job_definition_name: Some(name.into()),
        monitoring_type: monitoring_type.map(str::to_string),
    }
}

// ---------------------------------------------------------------------------------------------
// SageMaker.9, .10, .13, .15: job definitions, inter-container traffic encryption

#[test]
fn job_definition_inter_container_encryption() {
    assert_cases(
        inter_container_encryption,
        &[
            Case {
                what: "2 instances, encryption true",
                input: def(Some(2), net(Some(true), None)),
                status: Passed,
                reason: "EnableInterContainerTrafficEncryption is true on 2 instances",
            },
            Case {
                what: "2 instances, encryption false",
                input: def(Some(2), net(Some(false), Some(true))),
                status: Failed,
                reason: "EnableInterContainerTrafficEncryption is false on 2 instances",
            },
            Case {
                what: "3 instances, encryption unset: AWS's default, false",
                input: def(Some(3), net(None, Some(true))),
                status: Failed,
                reason: "EnableInterContainerTrafficEncryption is not set (false) on 3 instances",
            },
            Case {
                what: "2 instances, no NetworkConfig",
                input: def(Some(2), None),
                status: Failed,
                reason: "no NetworkConfig (EnableInterContainerTrafficEncryption false)",
            },
            Case {
                what: "2 instances, network isolation does not stand in for encryption",
                input: def(Some(2), net(None, Some(true))),
                status: Failed,
                reason: "not set",
            },
            Case {
                what: "1 instance, encryption false: outside the rule's scope",
                input: def(Some(1), net(Some(false), None)),
                status: NotApplicable,
                reason: "runs on 1 instance(s)",
            },
            Case {
                what: "1 instance, encryption true: still outside the scope, not PASSED",
                input: def(Some(1), net(Some(true), None)),
                status: NotApplicable,
                reason: "the rule judges 2 or more",
            },
            Case {
                what: "1 instance, no NetworkConfig",
                input: def(Some(1), None),
                status: NotApplicable,
                reason: "runs on 1 instance(s)",
            },
            Case {
                what: "0 instances (the API refuses it): outside the scope",
                input: def(Some(0), None),
                status: NotApplicable,
                reason: "runs on 0 instance(s)",
            },
            Case {
                what: "instance count not read, encryption false: scope unknown",
                input: def(None, net(Some(false), None)),
                status: Error,
                reason: "InstanceCount",
            },
            Case {
                what: "instance count not read, encryption true: scope still unknown",
                input: def(None, net(Some(true), None)),
                status: Error,
                reason: "cannot tell whether the job runs on 2 or more instances",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.11, .12, .20, .25: job definitions, network isolation

#[test]
fn job_definition_network_isolation() {
    assert_cases(
        network_isolation,
        &[
            Case {
                what: "isolation true",
                input: def(Some(1), net(None, Some(true))),
                status: Passed,
                reason: "EnableNetworkIsolation is true",
            },
            Case {
                what: "isolation false",
                input: def(Some(1), net(Some(true), Some(false))),
                status: Failed,
                reason: "EnableNetworkIsolation is false",
            },
            Case {
                what: "isolation unset: AWS's default, false",
                input: def(Some(1), net(Some(true), None)),
                status: Failed,
                reason: "EnableNetworkIsolation is not set (false)",
            },
            Case {
                what: "no NetworkConfig",
                input: def(Some(1), None),
                status: Failed,
                reason: "no NetworkConfig (EnableNetworkIsolation false)",
            },
            Case {
                what: "2 instances, isolation false: no instance scope for isolation",
                input: def(Some(2), net(None, Some(false))),
                status: Failed,
                reason: "EnableNetworkIsolation is false",
            },
            Case {
                what: "instance count not read: not needed for isolation",
                input: def(None, net(None, Some(true))),
                status: Passed,
                reason: "EnableNetworkIsolation is true",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.14: monitoring schedules, network isolation of the inline job

#[test]
fn schedule_network_isolation_of_the_inline_job() {
    assert_cases(
        schedule_network_isolation,
        &[
            Case {
                what: "inline job, isolation true",
                input: inline(net(None, Some(true))),
                status: Passed,
                reason: "the inline job's EnableNetworkIsolation is true",
            },
            Case {
                what: "inline job, isolation false",
                input: inline(net(Some(true), Some(false))),
                status: Failed,
                reason: "the inline job's EnableNetworkIsolation is false",
            },
            Case {
                what: "inline job, isolation unset",
                input: inline(net(Some(true), None)),
                status: Failed,
                reason: "EnableNetworkIsolation is not set (false)",
            },
            Case {
                what: "inline job without NetworkConfig",
                input: inline(None),
                status: Failed,
                reason: "no NetworkConfig (EnableNetworkIsolation false)",
            },
            Case {
                what: "inline job and a name: the inline job is judged",
                input: MonitoringSchedule {
                    job_definition_name: Some("dq-def".into()),
                    monitoring_type: Some("DataQuality".into()),
                    ..inline(net(None, Some(false)))
                },
                status: Failed,
                reason: "EnableNetworkIsolation is false",
            },
            Case {
                what: "names a DataQuality definition: SageMaker.11 judges it",
                input: named("dq-def", Some("DataQuality")),
                status: NotApplicable,
                reason: "the schedule runs the DataQuality job definition dq-def, which SageMaker.11 judges",
            },
            Case {
                what: "names a ModelQuality definition: SageMaker.25 judges it",
                input: named("mq-def", Some("ModelQuality")),
                status: NotApplicable,
                reason: "which SageMaker.25 judges",
            },
            Case {
                what: "names a ModelBias definition: SageMaker.12 judges it",
                input: named("bias-def", Some("ModelBias")),
                status: NotApplicable,
                reason: "which SageMaker.12 judges",
            },
            Case {
                what: "names a ModelExplainability definition: SageMaker.20 judges it",
                input: named("ex-def", Some("ModelExplainability")),
                status: NotApplicable,
                reason: "which SageMaker.20 judges",
            },
            Case {
                what: "names a definition without MonitoringType",
                input: named("some-def", None),
                status: NotApplicable,
                reason: "the schedule runs the job definition some-def, which the job definition controls judge",
            },
            Case {
                what: "names a definition of a type not known yet",
                input: named("new-def", Some("ModelDrift")),
                status: NotApplicable,
                reason: "ModelDrift job definition new-def, which the job definition controls judge",
            },
            Case {
                what: "neither an inline job nor a name: not fully read",
                input: MonitoringSchedule::default(),
                status: Error,
                reason: "neither MonitoringJobDefinition nor MonitoringJobDefinitionName",
            },
            Case {
                what: "an empty name counts as no name",
                input: named("", Some("DataQuality")),
                status: Error,
                reason: "neither",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.22: monitoring schedules, traffic encryption of the inline job

#[test]
fn schedule_traffic_encryption_of_the_inline_job() {
    assert_cases(
        schedule_traffic_encryption,
        &[
            Case {
                what: "inline job, encryption true",
                input: inline(net(Some(true), None)),
                status: Passed,
                reason: "the inline job's EnableInterContainerTrafficEncryption is true",
            },
            Case {
                what: "inline job, encryption false",
                input: inline(net(Some(false), Some(true))),
                status: Failed,
                reason: "the inline job's EnableInterContainerTrafficEncryption is false",
            },
            Case {
                what: "inline job, encryption unset",
                input: inline(net(None, Some(true))),
                status: Failed,
                reason: "EnableInterContainerTrafficEncryption is not set (false)",
            },
            Case {
                what: "inline job without NetworkConfig",
                input: inline(None),
                status: Failed,
                reason: "no NetworkConfig (EnableInterContainerTrafficEncryption false)",
            },
            Case {
                what: "names a DataQuality definition: SageMaker.9 judges it",
                input: named("dq-def", Some("DataQuality")),
                status: NotApplicable,
                reason: "the schedule runs the DataQuality job definition dq-def, which SageMaker.9 judges",
            },
            Case {
                what: "names a ModelQuality definition: SageMaker.13 judges it",
                input: named("mq-def", Some("ModelQuality")),
                status: NotApplicable,
                reason: "which SageMaker.13 judges",
            },
            Case {
                what: "names a ModelBias definition: SageMaker.15 judges it",
                input: named("bias-def", Some("ModelBias")),
                status: NotApplicable,
                reason: "which SageMaker.15 judges",
            },
            Case {
                what: "names a ModelExplainability definition: SageMaker.10 judges it",
                input: named("ex-def", Some("ModelExplainability")),
                status: NotApplicable,
                reason: "which SageMaker.10 judges",
            },
            Case {
                what: "neither an inline job nor a name: not fully read",
                input: MonitoringSchedule::default(),
                status: Error,
                reason: "was not fully read",
            },
        ],
    );
}
