//! The network settings of Model Monitor jobs: SageMaker.9 to .15, .20, .22 and .25.
//!
//! Two judgements serve the four kinds of job definition, whose shapes are the same:
//!
//! | Judgement | Data quality | Model quality | Model bias | Model explainability |
//! |---|---|---|---|---|
//! | [`inter_container_encryption`] | .9 | .13 | .15 | .10 |
//! | [`network_isolation`] | .11 | .25 | .12 | .20 |
//!
//! and two judge a monitoring schedule's inline job: [`schedule_network_isolation`] (.14) and
//! [`schedule_traffic_encryption`] (.22).
//!
//! A switch that is not set is off, as AWS defaults it, and fails exactly as `false` does: the
//! rule pages say "is false" for some controls and "false or unset" for others, but the job runs
//! the same either way, and SageMaker.5 already judges an unset `EnableNetworkIsolation` so.

use super::Judgement;
use crate::domain::resource::{
    InlineMonitoringJob, MonitoringJobDefinition, MonitoringNetworkConfig, MonitoringSchedule,
};

/// SageMaker.9, .10, .13 and .15: inter-container traffic is encrypted when the job runs on two
/// or more instances.
///
/// A job on one instance is NOT_APPLICABLE, whatever the switch says: the Config rule pages scope
/// the rule to 2 or more instances, and Security Hub reports a resource outside a rule's scope as
/// NOT_APPLICABLE (as SageMaker.4 does for serverless variants). PASSED would claim encryption that
/// is not configured; FAILED would demand a switch that has nothing to encrypt. Without the
/// instance count (the API requires it, so it was not read) the scope is unknown: an error.
pub fn inter_container_encryption(def: &MonitoringJobDefinition) -> Judgement {
    let Some(count) = def.instance_count else {
        return Judgement::Unknown(
            "SageMaker did not return JobResources.ClusterConfig.InstanceCount: cannot tell \
             whether the job runs on 2 or more instances"
                .into(),
        );
    };
    if count < 2 {
        return Judgement::NotApplicable(format!(
            "the job runs on {count} instance(s): no inter-container traffic (the rule judges 2 \
             or more)"
        ));
    }
    let (on, words) = switch(
        def.network_config.as_ref(),
        |n| n.enable_inter_container_traffic_encryption,
        "EnableInterContainerTrafficEncryption",
    );
    if on {
        Judgement::Passed(format!("{words} on {count} instances"))
    } else {
        Judgement::Failed(format!("{words} on {count} instances"))
    }
}

/// SageMaker.11, .12, .20 and .25: the job runs with network isolation. Judged whatever the
/// instance count.
pub fn network_isolation(def: &MonitoringJobDefinition) -> Judgement {
    let (on, words) = switch(
        def.network_config.as_ref(),
        |n| n.enable_network_isolation,
        "EnableNetworkIsolation",
    );
    if on {
        Judgement::Passed(words)
    } else {
        Judgement::Failed(words)
    }
}

/// SageMaker.14: the schedule's inline job runs with network isolation.
///
/// A schedule that names a job definition instead is NOT_APPLICABLE: the Config rule reads only
/// the schedule's own configuration, and the named definition is a resource of its own, judged by
/// .11, .12, .20 or .25. Judging it here too would report one setting twice.
pub fn schedule_network_isolation(schedule: &MonitoringSchedule) -> Judgement {
    let job = match inline_job(schedule, Switch::Isolation) {
        Ok(job) => job,
        Err(judgement) => return judgement,
    };
    let (on, words) = switch(
        job.network_config.as_ref(),
        |n| n.enable_network_isolation,
        "EnableNetworkIsolation",
    );
    if on {
        Judgement::Passed(inline(&words))
    } else {
        Judgement::Failed(inline(&words))
    }
}

/// SageMaker.22: the schedule's inline job encrypts inter-container traffic.
///
/// Unlike .9, the rule is not scoped to 2 or more instances: an inline job without a
/// `NetworkConfig`, or with the switch false or unset, fails whatever its instance count. A schedule
/// naming a job definition is NOT_APPLICABLE, for the reason given at
/// [`schedule_network_isolation`]; its definition is judged by .9, .10, .13 or .15.
pub fn schedule_traffic_encryption(schedule: &MonitoringSchedule) -> Judgement {
    let job = match inline_job(schedule, Switch::Encryption) {
        Ok(job) => job,
        Err(judgement) => return judgement,
    };
    let (on, words) = switch(
        job.network_config.as_ref(),
        |n| n.enable_inter_container_traffic_encryption,
        "EnableInterContainerTrafficEncryption",
    );
    if on {
        Judgement::Passed(inline(&words))
    } else {
        Judgement::Failed(inline(&words))
    }
}

/// What a schedule's inline job has, in words.
fn inline(words: &str) -> String {
    match words.strip_prefix("no ") {
        Some(rest) => format!("the inline job has no {rest}"),
        None => format!("the inline job's {words}"),
    }
}

/// Which switch a schedule control judges: it says which control judges a named definition.
#[derive(Clone, Copy)]
enum Switch {
    Isolation,
    Encryption,
}

/// The schedule's inline job, or the verdict when there is none to judge. An inline job is judged
/// even when a name is present too (the API does not allow both; the rule reads the inline one).
fn inline_job(
    schedule: &MonitoringSchedule,
    switch: Switch,
) -> Result<&InlineMonitoringJob, Judgement> {
    if let Some(job) = &schedule.inline_job {
        return Ok(job);
    }
    let Some(name) = non_empty(schedule.job_definition_name.as_deref()) else {
        return Err(Judgement::Unknown(
            "the schedule has neither MonitoringJobDefinition nor MonitoringJobDefinitionName: \
             its configuration was not fully read"
                .into(),
        ));
    };
    let kind = non_empty(schedule.monitoring_type.as_deref());
    let judged_by = match (kind, switch) {
        (Some("DataQuality"), Switch::Isolation) => "SageMaker.11",
        (Some("ModelQuality"), Switch::Isolation) => "SageMaker.25",
        (Some("ModelBias"), Switch::Isolation) => "SageMaker.12",
        (Some("ModelExplainability"), Switch::Isolation) => "SageMaker.20",
        (Some("DataQuality"), Switch::Encryption) => "SageMaker.9",
        (Some("ModelQuality"), Switch::Encryption) => "SageMaker.13",
        (Some("ModelBias"), Switch::Encryption) => "SageMaker.15",
        (Some("ModelExplainability"), Switch::Encryption) => "SageMaker.10",
        _ => "the job definition controls",
    };
    Err(Judgement::NotApplicable(match kind {
        Some(kind) => {
            format!("the schedule runs the {kind} job definition {name}, which {judged_by} judges")
        }
        None => format!("the schedule runs the job definition {name}, which {judged_by} judge"),
    }))
}

/// Whether a switch of a `NetworkConfig` is on, and how to say what it is.
fn switch(
    config: Option<&MonitoringNetworkConfig>,
    field: fn(&MonitoringNetworkConfig) -> Option<bool>,
    name: &str,
) -> (bool, String) {
    match config.map(field) {
        Some(Some(true)) => (true, format!("{name} is true")),
        Some(Some(false)) => (false, format!("{name} is false")),
        Some(None) => (false, format!("{name} is not set (false)")),
        None => (false, format!("no NetworkConfig ({name} false)")),
    }
}

/// An empty name counts as no name.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests;
