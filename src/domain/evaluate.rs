//! Verdicts: what each enabled control concludes about one observed resource.
//!
//! Pure functions of the resource, the policy and the current time. Evaluation follows AWS's
//! controls exactly (see `docs/controls.md`): defaults AWS applies to absent fields count as set.

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::catalogue::ControlId;
use crate::domain::policy::{ControlSettings, Exemption, Policy};
use crate::domain::resource::{Details, Observed, Tags};

/// The five outcomes of a control on a resource, as Security Hub names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Passed,
    Failed,
    NotApplicable,
    Exempt,
    Error,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Passed,
        Status::Failed,
        Status::NotApplicable,
        Status::Exempt,
        Status::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::NotApplicable => "NOT_APPLICABLE",
            Status::Exempt => "EXEMPT",
            Status::Error => "ERROR",
        }
    }
}

/// One control's conclusion about one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub control: ControlId,
    pub status: Status,
    /// Why, in words a person can act on.
    pub reason: String,
    /// For EXEMPT: the exemption's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<String>,
}

impl Verdict {
    fn new(control: ControlId, status: Status, reason: impl Into<String>) -> Self {
        Verdict {
            control,
            status,
            reason: reason.into(),
            exemption: None,
        }
    }
}

/// A control's judgement before exemptions are considered.
#[derive(Clone, Debug, PartialEq)]
pub enum Judgement {
    Passed(String),
    Failed(String),
    NotApplicable(String),
    /// What was read is not enough to judge (e.g. the tags could not be read).
    Unknown(String),
}

/// Every enabled control that judges this resource's kind, in control order.
pub fn evaluate(resource: &Observed, policy: &Policy, now: Timestamp) -> Vec<Verdict> {
    policy
        .controls_for(resource.kind)
        .map(|(id, settings)| verdict(id, settings, resource, policy, now))
        .collect()
}

fn verdict(
    id: ControlId,
    settings: &ControlSettings,
    resource: &Observed,
    policy: &Policy,
    now: Timestamp,
) -> Verdict {
    // An exemption is checked first: an exempt resource is never acted on, even when the check
    // itself cannot run. An exemption that cannot be checked is an error, never a pass.
    match exemption_for(id, resource, &policy.exemptions, now) {
        Ok(Some(e)) => {
            let reason = match &e.reason {
                Some(r) => format!("exempt by `{}`: {r}", e.name),
                None => format!("exempt by `{}`", e.name),
            };
            return Verdict {
                exemption: Some(e.name.clone()),
                ..Verdict::new(id, Status::Exempt, reason)
            };
        }
        Ok(None) => {}
        Err(cause) => return Verdict::new(id, Status::Error, cause),
    }
    match judge(id, settings, resource) {
        Judgement::Passed(r) => Verdict::new(id, Status::Passed, r),
        Judgement::Failed(r) => Verdict::new(id, Status::Failed, r),
        Judgement::NotApplicable(r) => Verdict::new(id, Status::NotApplicable, r),
        Judgement::Unknown(r) => Verdict::new(id, Status::Error, r),
    }
}

/// The first unexpired exemption that covers this control and matches the resource. An
/// exemption that cannot be checked (its tags were not read) is an error only when no other
/// exemption matches: the outcome never depends on the order of the list.
fn exemption_for<'p>(
    id: ControlId,
    resource: &Observed,
    exemptions: &'p [Exemption],
    now: Timestamp,
) -> Result<Option<&'p Exemption>, String> {
    let mut unchecked = None;
    for e in exemptions
        .iter()
        .filter(|e| e.covers(id) && !e.is_expired(now))
    {
        if !e.name_patterns.is_empty()
            && !e.name_patterns.iter().any(|p| p.is_match(&resource.name))
        {
            continue;
        }
        if e.needs_tags() {
            let Some(tags) = &resource.tags else {
                unchecked.get_or_insert(e);
                continue;
            };
            let all = e
                .tags
                .iter()
                .all(|sel| match (tags.get(&sel.key), &sel.value) {
                    (Some(_), None) => true,
                    (Some(v), Some(want)) => v == want,
                    (None, _) => false,
                });
            if !all {
                continue;
            }
        }
        return Ok(Some(e));
    }
    match unchecked {
        Some(e) => Err(format!(
            "exemption `{}` selects by tag but the resource's tags were not read",
            e.name
        )),
        None => Ok(None),
    }
}

/// The control's own judgement, exactly as AWS evaluates it.
pub fn judge(id: ControlId, settings: &ControlSettings, resource: &Observed) -> Judgement {
    match id {
        ControlId::SageMaker6 | ControlId::SageMaker7 => {
            return match &resource.tags {
                Some(tags) => judge_tags(tags, &settings.required_key_tags),
                None => Judgement::Unknown("the resource's tags were not read".into()),
            };
        }
        _ => {}
    }
    let Some(details) = &resource.details else {
        return Judgement::Unknown("the resource's configuration was not read".into());
    };
    match (id, details) {
        (ControlId::SageMaker1, Details::NotebookInstance(nb)) => {
            match nb.direct_internet_access.as_deref().unwrap_or("Enabled") {
                "Disabled" => Judgement::Passed("DirectInternetAccess is Disabled".into()),
                v => Judgement::Failed(if nb.direct_internet_access.is_none() {
                    "DirectInternetAccess is not set (Enabled by default)".to_string()
                } else {
                    format!("DirectInternetAccess is {v}")
                }),
            }
        }
        (ControlId::SageMaker2, Details::NotebookInstance(nb)) => match nb.subnet_id.as_deref() {
            Some(subnet) if !subnet.is_empty() => {
                Judgement::Passed(format!("runs in a custom VPC (subnet {subnet})"))
            }
            _ => Judgement::Failed("no SubnetId: runs in the SageMaker service VPC".into()),
        },
        (ControlId::SageMaker3, Details::NotebookInstance(nb)) => {
            match nb.root_access.as_deref().unwrap_or("Enabled") {
                "Disabled" => Judgement::Passed("RootAccess is Disabled".into()),
                v => Judgement::Failed(if nb.root_access.is_none() {
                    "RootAccess is not set (Enabled by default)".to_string()
                } else {
                    format!("RootAccess is {v}")
                }),
            }
        }
        (ControlId::SageMaker8, Details::NotebookInstance(nb)) => {
            match nb.platform_identifier.as_deref() {
                Some(p) if settings.supported_platforms.iter().any(|s| s == p) => {
                    Judgement::Passed(format!("PlatformIdentifier {p} is supported"))
                }
                Some(p) => Judgement::Failed(format!(
                    "PlatformIdentifier {p} is not supported (supported: {})",
                    settings.supported_platforms.join(", ")
                )),
                None => Judgement::Unknown(
                    "SageMaker did not return the notebook's PlatformIdentifier".into(),
                ),
            }
        }
        (ControlId::SageMaker21, Details::NotebookInstance(nb)) => kms::notebook_volume(nb),
        (ControlId::SageMaker4, Details::EndpointConfig(ec)) => {
            let instance_based: Vec<_> = ec
                .production_variants
                .iter()
                .filter(|v| !v.serverless)
                .collect();
            if instance_based.is_empty() {
                return Judgement::NotApplicable(if ec.production_variants.is_empty() {
                    "no production variants".to_string()
                } else {
                    "every production variant is serverless".to_string()
                });
            }
            let low: Vec<String> = instance_based
                .iter()
                .filter(|v| v.initial_instance_count.is_none_or(|n| n <= 1))
                .map(|v| match v.initial_instance_count {
                    Some(n) => format!("{} has InitialInstanceCount {n}", v.name),
                    None => format!("{} has no InitialInstanceCount", v.name),
                })
                .collect();
            if low.is_empty() {
                Judgement::Passed(
                    "every instance-based production variant has more than 1 instance".into(),
                )
            } else {
                Judgement::Failed(low.join("; "))
            }
        }
        (ControlId::SageMaker5, Details::Model(m)) => match m.enable_network_isolation {
            Some(true) => Judgement::Passed("EnableNetworkIsolation is true".into()),
            Some(false) => Judgement::Failed("EnableNetworkIsolation is false".into()),
            None => Judgement::Failed("EnableNetworkIsolation is not set (false)".into()),
        },
        (ControlId::SageMaker16, Details::Model(m)) => registry::primary_container(&m.containers),
        (ControlId::SageMaker19, Details::Model(m)) => registry::pipeline_containers(&m.containers),
        (
            ControlId::SageMaker9
            | ControlId::SageMaker10
            | ControlId::SageMaker13
            | ControlId::SageMaker15,
            Details::MonitoringJobDefinition(def),
        ) if resource.kind == id.control().resource_kind => {
            monitoring::inter_container_encryption(def)
        }
        (
            ControlId::SageMaker11
            | ControlId::SageMaker12
            | ControlId::SageMaker20
            | ControlId::SageMaker25,
            Details::MonitoringJobDefinition(def),
        ) if resource.kind == id.control().resource_kind => monitoring::network_isolation(def),
        (ControlId::SageMaker14, Details::MonitoringSchedule(s)) => {
            monitoring::schedule_network_isolation(s)
        }
        (ControlId::SageMaker22, Details::MonitoringSchedule(s)) => {
            monitoring::schedule_traffic_encryption(s)
        }
        (ControlId::SageMaker17, Details::FeatureGroup(g)) => kms::feature_group_offline_store(g),
        (ControlId::SageMaker18, Details::FeatureGroup(g)) => kms::feature_group_online_store(g),
        (ControlId::SageMaker23, Details::InferenceExperiment(e)) => {
            kms::inference_experiment_instances(e)
        }
        (ControlId::SageMaker24, Details::InferenceExperiment(e)) => {
            kms::inference_experiment_captured_data(e)
        }
        (id, _) => Judgement::Unknown(format!(
            "{id} judges {} resources, not this one",
            id.control().resource_kind
        )),
    }
}

/// SageMaker.6 and .7. Keys are case-sensitive; `aws:` system tags never count.
fn judge_tags(tags: &Tags, required: &[String]) -> Judgement {
    if required.is_empty() {
        return match tags.user_tags().count() {
            0 => Judgement::Failed("the resource has no tags".into()),
            n => Judgement::Passed(format!("the resource has {n} tag(s)")),
        };
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|k| !tags.contains_key(k) || k.starts_with("aws:"))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Judgement::Passed(format!(
            "has every required tag key ({})",
            required.join(", ")
        ))
    } else {
        Judgement::Failed(format!(
            "missing required tag key(s): {}",
            missing.join(", ")
        ))
    }
}

pub mod kms;
pub mod monitoring;
pub mod registry;

#[cfg(test)]
mod tests;
