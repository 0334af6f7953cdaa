//! Decoding: from one SQS message body (an EventBridge event) to the resources it names.
//!
//! An event is only a hint of *which* resource to look at: nothing in it is trusted for the
//! resource's settings, which are always read live. The one exception is the guard's own recreate
//! intent ([`crate::aws::recreate`]), the stored configuration of a notebook the guard deleted; the
//! queue's policy must let only EventBridge and the guard send to it. Decoding is a pure function
//! of the bytes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::catalogue::ControlId;
use crate::domain::marks::SOURCE;
use crate::domain::resource::{ResourceKind, ResourceRef};

/// Where a trigger came from, for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TriggerSource {
    /// An API call recorded by CloudTrail.
    #[serde(rename = "cloudtrail", rename_all = "camelCase")]
    CloudTrail { event_name: String },
    /// SageMaker's own state-change event.
    #[serde(rename_all = "camelCase")]
    StateChange { detail_type: String },
    /// A Security Hub finding about a SageMaker control.
    #[serde(rename = "securityhub", rename_all = "camelCase")]
    SecurityHub { control: Option<ControlId> },
    /// The periodic full sweep.
    Resync,
    /// The guard's own recreate intent, to finish a recreate.
    RecreateIntent,
}

impl TriggerSource {
    /// A short label for metrics: `cloudtrail`, `state-change`, `securityhub`, `resync`.
    pub fn label(&self) -> &'static str {
        match self {
            TriggerSource::CloudTrail { .. } => "cloudtrail",
            TriggerSource::StateChange { .. } => "state-change",
            TriggerSource::SecurityHub { .. } => "securityhub",
            TriggerSource::Resync => "resync",
            TriggerSource::RecreateIntent => "recreate-intent",
        }
    }
}

/// A resource to reconcile, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub resource: ResourceRef,
    /// The event says the resource was deleted (its findings can be archived). Still checked
    /// live: a resource of the same name may have been created since.
    pub gone: bool,
    pub source: TriggerSource,
}

/// What an event means to the guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Look at these resources.
    Triggers(Vec<Trigger>),
    /// Nothing to do, and why (another service, a read-only call, a failed call, ...).
    Ignored(String),
    /// A recreate the guard started: finish it ([`crate::aws::recreate`]).
    Intent(Box<crate::domain::intent::SignedIntent>),
}

/// An event the guard cannot use: it belongs in the dead-letter queue, with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON at all.
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON, but not an EventBridge event.
    NotAnEvent(String),
    /// An event the guard understands, but that names no resource.
    NoResource(String),
    /// The event's sources name different accounts (the envelope, CloudTrail's recipient, a
    /// finding's account, a resource ARN): it is not acted on.
    AccountsDisagree(String),
}

impl DecodeError {
    /// A short, stable reason for metrics and the dead-letter message attribute.
    pub fn reason_code(&self) -> &'static str {
        match self {
            DecodeError::Json { .. } => "malformed-json",
            DecodeError::NotAnEvent(_) => "not-an-event",
            DecodeError::NoResource(_) => "no-resource",
            DecodeError::AccountsDisagree(_) => "accounts-disagree",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Json {
                line,
                column,
                message,
            } => {
                write!(
                    f,
                    "malformed JSON at line {line}, column {column}: {message}"
                )
            }
            DecodeError::NotAnEvent(why) => write!(f, "not an EventBridge event: {why}"),
            DecodeError::NoResource(why) => write!(f, "the event names no resource: {why}"),
            DecodeError::AccountsDisagree(why) => {
                write!(f, "the event's accounts disagree: {why}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    source: Option<String>,
    account: Option<String>,
    region: Option<String>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
}

/// Checks that every account an event names is one and the same.
fn agree<'a>(
    claims: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
) -> Result<(), DecodeError> {
    let named: Vec<(&str, &str)> = claims
        .into_iter()
        .filter_map(|(what, a)| a.filter(|a| !a.is_empty()).map(|a| (what, a)))
        .collect();
    match named.iter().find(|(_, a)| *a != named[0].1) {
        Some((what, other)) => Err(DecodeError::AccountsDisagree(format!(
            "{} says {}, {what} says {other}",
            named[0].0, named[0].1
        ))),
        None => Ok(()),
    }
}

/// Decodes one message body.
pub fn decode(body: &str) -> Result<Decoded, DecodeError> {
    let env: Envelope = serde_json::from_str(body).map_err(|e| {
        if e.is_data() {
            DecodeError::NotAnEvent(e.to_string())
        } else {
            DecodeError::Json {
                line: e.line(),
                column: e.column(),
                message: strip_position(&e.to_string()),
            }
        }
    })?;
    let (Some(detail_type), Some(source), Some(detail)) =
        (&env.detail_type, &env.source, env.detail)
    else {
        return Err(DecodeError::NotAnEvent(
            "an EventBridge event has `detail-type`, `source` and `detail`".into(),
        ));
    };
    let ctx = Context {
        account: env.account.as_deref(),
        region: env.region.as_deref(),
    };
    match (source.as_str(), detail_type.as_str()) {
        ("aws.sagemaker", "AWS API Call via CloudTrail") => cloudtrail(detail, &ctx),
        ("aws.sagemaker", dt) if dt.starts_with("SageMaker ") && dt.ends_with(" State Change") => {
            state_change(dt, detail, &ctx)
        }
        ("aws.securityhub", "Security Hub Findings - Imported") => asff(detail),
        ("aws.securityhub", "Findings Imported V2") => ocsf(detail),
        (crate::domain::marks::SOURCE, crate::domain::marks::INTENT_DETAIL_TYPE) => {
            let signed: crate::domain::intent::SignedIntent =
                parse_detail(detail, "a recreate intent")?;
            let intent = &signed.intent;
            // The guard names each intent by the time it stored it; one whose id is not a time
            // was not stored by the guard, and could never be judged stale: it would be looked
            // at, and sent again, forever.
            if intent.id.parse::<jiff::Timestamp>().is_err() {
                return Err(DecodeError::NotAnEvent(format!(
                    "a recreate intent whose id `{}` is not the time it was stored: not one the guard wrote",
                    intent.id
                )));
            }
            Ok(Decoded::Intent(Box::new(signed)))
        }
        (source, detail_type) => Ok(Decoded::Ignored(format!(
            "not about SageMaker: `{detail_type}` from {source}"
        ))),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The envelope's account and region, for details that do not repeat them.
struct Context<'a> {
    account: Option<&'a str>,
    region: Option<&'a str>,
}

fn parse_detail<'a, T: Deserialize<'a>>(
    detail: &'a RawValue,
    what: &str,
) -> Result<T, DecodeError> {
    serde_json::from_str(detail.get()).map_err(|e| {
        DecodeError::NotAnEvent(format!(
            "the detail of {what} does not have the expected shape: {e}"
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CloudTrailDetail {
    event_source: Option<String>,
    event_name: Option<String>,
    aws_region: Option<String>,
    recipient_account_id: Option<String>,
    error_code: Option<String>,
    request_parameters: Option<Names>,
    response_elements: Option<Arns>,
}

/// The request members that name a resource, in CloudTrail's lowerCamelCase.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Names {
    notebook_instance_name: Option<String>,
    endpoint_config_name: Option<String>,
    model_name: Option<String>,
    image_name: Option<String>,
    app_image_config_name: Option<String>,
    /// The four kinds of job definition name theirs so.
    job_definition_name: Option<String>,
    monitoring_schedule_name: Option<String>,
    feature_group_name: Option<String>,
    /// An inference experiment's.
    name: Option<String>,
    resource_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Arns {
    notebook_instance_arn: Option<String>,
    endpoint_config_arn: Option<String>,
    model_arn: Option<String>,
    image_arn: Option<String>,
    app_image_config_arn: Option<String>,
    job_definition_arn: Option<String>,
    monitoring_schedule_arn: Option<String>,
    feature_group_arn: Option<String>,
    inference_experiment_arn: Option<String>,
}

/// The API calls that can change what a control judges, with the kind they name and whether the
/// resource is gone afterwards. AddTags and DeleteTags name theirs by ARN.
fn judged_call(event_name: &str) -> Option<(ResourceKind, bool)> {
    use ResourceKind::*;
    Some(match event_name {
        "CreateNotebookInstance" | "UpdateNotebookInstance" | "StartNotebookInstance" => {
            (NotebookInstance, false)
        }
        "DeleteNotebookInstance" => (NotebookInstance, true),
        "CreateEndpointConfig" => (EndpointConfig, false),
        "DeleteEndpointConfig" => (EndpointConfig, true),
        "CreateModel" => (Model, false),
        "DeleteModel" => (Model, true),
        "CreateImage" | "UpdateImage" => (Image, false),
        "DeleteImage" => (Image, true),
        "CreateAppImageConfig" | "UpdateAppImageConfig" => (AppImageConfig, false),
        "DeleteAppImageConfig" => (AppImageConfig, true),
        "CreateDataQualityJobDefinition" => (DataQualityJobDefinition, false),
        "DeleteDataQualityJobDefinition" => (DataQualityJobDefinition, true),
        "CreateModelQualityJobDefinition" => (ModelQualityJobDefinition, false),
        "DeleteModelQualityJobDefinition" => (ModelQualityJobDefinition, true),
        "CreateModelBiasJobDefinition" => (ModelBiasJobDefinition, false),
        "DeleteModelBiasJobDefinition" => (ModelBiasJobDefinition, true),
        "CreateModelExplainabilityJobDefinition" => (ModelExplainabilityJobDefinition, false),
        "DeleteModelExplainabilityJobDefinition" => (ModelExplainabilityJobDefinition, true),
        "CreateMonitoringSchedule" | "UpdateMonitoringSchedule" => (MonitoringSchedule, false),
        "DeleteMonitoringSchedule" => (MonitoringSchedule, true),
        "CreateFeatureGroup" | "UpdateFeatureGroup" => (FeatureGroup, false),
        "DeleteFeatureGroup" => (FeatureGroup, true),
        // Starting and stopping change the status an update needs (SageMaker.24).
        "CreateInferenceExperiment"
        | "UpdateInferenceExperiment"
        | "StartInferenceExperiment"
        | "StopInferenceExperiment" => (InferenceExperiment, false),
        "DeleteInferenceExperiment" => (InferenceExperiment, true),
        _ => return None,
    })
}

fn cloudtrail(detail: &RawValue, ctx: &Context) -> Result<Decoded, DecodeError> {
    let d: CloudTrailDetail = parse_detail(detail, "a CloudTrail event")?;
    let event_name = d.event_name.clone().unwrap_or_default();
    if d.event_source
        .as_deref()
        .is_some_and(|s| s != "sagemaker.amazonaws.com")
    {
        return Ok(Decoded::Ignored(format!(
            "CloudTrail event from {}, not SageMaker",
            d.event_source.unwrap_or_default()
        )));
    }
    if let Some(code) = &d.error_code {
        return Ok(Decoded::Ignored(format!(
            "{event_name} failed ({code}): nothing changed"
        )));
    }
    let source = TriggerSource::CloudTrail {
        event_name: event_name.clone(),
    };
    agree([
        ("the envelope's account", ctx.account),
        ("recipientAccountId", d.recipient_account_id.as_deref()),
    ])?;
    let account = d.recipient_account_id.as_deref().or(ctx.account);
    let region = d.aws_region.as_deref().or(ctx.region);
    let names = d.request_parameters.unwrap_or_default();

    if event_name == "AddTags" || event_name == "DeleteTags" {
        let Some(arn) = names.resource_arn else {
            return Err(DecodeError::NoResource(format!(
                "{event_name} without requestParameters.resourceArn"
            )));
        };
        let resource = ResourceRef::from_arn(&arn);
        agree([
            ("the event", account),
            (
                "requestParameters.resourceArn",
                resource.as_ref().and_then(|r| r.account.as_deref()),
            ),
        ])?;
        return Ok(match resource {
            Some(resource) => Decoded::Triggers(vec![Trigger {
                resource,
                gone: false,
                source,
            }]),
            None => Decoded::Ignored(format!(
                "{event_name} on {arn}: not a kind the controls judge"
            )),
        });
    }
    let Some((kind, gone)) = judged_call(&event_name) else {
        return Ok(Decoded::Ignored(format!(
            "{event_name} changes nothing the controls judge"
        )));
    };
    let arns = d.response_elements.unwrap_or_default();
    let (name, arn) = match kind {
        ResourceKind::NotebookInstance => {
            (names.notebook_instance_name, arns.notebook_instance_arn)
        }
        ResourceKind::EndpointConfig => (names.endpoint_config_name, arns.endpoint_config_arn),
        ResourceKind::Model => (names.model_name, arns.model_arn),
        ResourceKind::Image => (names.image_name, arns.image_arn),
        ResourceKind::AppImageConfig => (names.app_image_config_name, arns.app_image_config_arn),
        ResourceKind::DataQualityJobDefinition
        | ResourceKind::ModelQualityJobDefinition
        | ResourceKind::ModelBiasJobDefinition
        | ResourceKind::ModelExplainabilityJobDefinition => {
            (names.job_definition_name, arns.job_definition_arn)
        }
        ResourceKind::MonitoringSchedule => {
            (names.monitoring_schedule_name, arns.monitoring_schedule_arn)
        }
        ResourceKind::FeatureGroup => (names.feature_group_name, arns.feature_group_arn),
        ResourceKind::InferenceExperiment => (names.name, arns.inference_experiment_arn),
    };
    let from_arn = arn.as_deref().and_then(ResourceRef::from_arn);
    agree([
        ("the event", account),
        (
            "responseElements' ARN",
            from_arn.as_ref().and_then(|r| r.account.as_deref()),
        ),
    ])?;
    let resource = match (name, from_arn) {
        // The request carries the name as the user spelled it; the ARN lower-cases it.
        (Some(name), from_arn) if !name.is_empty() => ResourceRef {
            kind,
            name,
            account: account
                .map(str::to_string)
                .or(from_arn.as_ref().and_then(|r| r.account.clone())),
            region: region
                .map(str::to_string)
                .or(from_arn.and_then(|r| r.region)),
        },
        (_, Some(from_arn)) if from_arn.kind == kind => from_arn,
        _ => {
            return Err(DecodeError::NoResource(format!(
                "{event_name} names no {kind} in requestParameters or responseElements"
            )))
        }
    };
    Ok(Decoded::Triggers(vec![Trigger {
        resource,
        gone,
        source,
    }]))
}

/// SageMaker's own events: the name is in `<Kind>Name`, or the ARN in `<Kind>Arn`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StateChangeDetail {
    notebook_instance_name: Option<String>,
    notebook_instance_arn: Option<String>,
    endpoint_config_name: Option<String>,
    endpoint_config_arn: Option<String>,
    model_name: Option<String>,
    model_arn: Option<String>,
    image_name: Option<String>,
    image_arn: Option<String>,
    app_image_config_name: Option<String>,
    app_image_config_arn: Option<String>,
    monitoring_schedule_name: Option<String>,
    monitoring_schedule_arn: Option<String>,
    feature_group_name: Option<String>,
    feature_group_arn: Option<String>,
}

fn state_change(
    detail_type: &str,
    detail: &RawValue,
    ctx: &Context,
) -> Result<Decoded, DecodeError> {
    use ResourceKind::*;
    let kind = match detail_type {
        "SageMaker Notebook Instance State Change" => NotebookInstance,
        "SageMaker Endpoint Config State Change" => EndpointConfig,
        "SageMaker Model State Change" => Model,
        "SageMaker Image State Change" => Image,
        "SageMaker App Image Config State Change" => AppImageConfig,
        "SageMaker Monitoring Schedule State Change" => MonitoringSchedule,
        "SageMaker Feature Group State Change" => FeatureGroup,
        other => {
            return Ok(Decoded::Ignored(format!(
                "`{other}` is about a kind the controls do not judge"
            )));
        }
    };
    let d: StateChangeDetail = parse_detail(detail, detail_type)?;
    let (name, arn) = match kind {
        NotebookInstance => (d.notebook_instance_name, d.notebook_instance_arn),
        EndpointConfig => (d.endpoint_config_name, d.endpoint_config_arn),
        Model => (d.model_name, d.model_arn),
        Image => (d.image_name, d.image_arn),
        AppImageConfig => (d.app_image_config_name, d.app_image_config_arn),
        MonitoringSchedule => (d.monitoring_schedule_name, d.monitoring_schedule_arn),
        FeatureGroup => (d.feature_group_name, d.feature_group_arn),
        // SageMaker sends no state change of its own for the others.
        _ => (None, None),
    };
    let from_arn = arn.as_deref().and_then(ResourceRef::from_arn);
    agree([
        ("the envelope's account", ctx.account),
        (
            "the resource ARN",
            from_arn.as_ref().and_then(|r| r.account.as_deref()),
        ),
    ])?;
    let resource = match (name, from_arn) {
        (Some(name), from_arn) if !name.is_empty() => ResourceRef {
            kind,
            name,
            account: ctx
                .account
                .map(str::to_string)
                .or(from_arn.as_ref().and_then(|r| r.account.clone())),
            region: ctx
                .region
                .map(str::to_string)
                .or(from_arn.and_then(|r| r.region)),
        },
        (_, Some(r)) if r.kind == kind => r,
        _ => {
            return Err(DecodeError::NoResource(format!(
                "`{detail_type}` without a {kind} name or ARN"
            )))
        }
    };
    Ok(Decoded::Triggers(vec![Trigger {
        resource,
        gone: false,
        source: TriggerSource::StateChange {
            detail_type: detail_type.to_string(),
        },
    }]))
}

#[derive(Deserialize)]
struct FindingsDetail<F> {
    findings: Vec<F>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AsffFinding {
    aws_account_id: Option<String>,
    generator_id: Option<String>,
    compliance: Option<AsffCompliance>,
    #[serde(default)]
    resources: Vec<AsffResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AsffCompliance {
    security_control_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AsffResource {
    id: Option<String>,
}

/// The control a finding is about, from `Compliance.SecurityControlId`, or else from a
/// `GeneratorId` like `security-control/SageMaker.3`.
fn finding_control(
    security_control_id: Option<&str>,
    generator_id: Option<&str>,
) -> Option<Result<ControlId, String>> {
    let id = security_control_id.or_else(|| generator_id.and_then(|g| g.rsplit('/').next()))?;
    Some(id.parse::<ControlId>().map_err(|_| id.to_string()))
}

fn asff(detail: &RawValue) -> Result<Decoded, DecodeError> {
    let d: FindingsDetail<AsffFinding> = parse_detail(detail, "a Security Hub ASFF event")?;
    let findings = d.findings.into_iter().map(|f| {
        let own = f
            .generator_id
            .as_deref()
            .is_some_and(|g| g.starts_with(SOURCE));
        let control = finding_control(
            f.compliance
                .as_ref()
                .and_then(|c| c.security_control_id.as_deref()),
            f.generator_id.as_deref(),
        );
        let arns = f.resources.into_iter().filter_map(|r| r.id).collect();
        (own, control, arns, f.aws_account_id)
    });
    findings_to_triggers(findings, "ASFF")
}

#[derive(Deserialize)]
struct OcsfFinding {
    cloud: Option<OcsfCloud>,
    compliance: Option<OcsfCompliance>,
    metadata: Option<OcsfMetadata>,
    #[serde(default)]
    resources: Vec<OcsfResource>,
}

#[derive(Deserialize)]
struct OcsfCloud {
    account: Option<OcsfAccount>,
}

#[derive(Deserialize)]
struct OcsfAccount {
    uid: Option<String>,
}

#[derive(Deserialize)]
struct OcsfCompliance {
    control: Option<String>,
}

#[derive(Deserialize)]
struct OcsfMetadata {
    product: Option<OcsfProduct>,
}

#[derive(Deserialize)]
struct OcsfProduct {
    name: Option<String>,
}

#[derive(Deserialize)]
struct OcsfResource {
    uid: Option<String>,
    uid_alt: Option<String>,
}

fn ocsf(detail: &RawValue) -> Result<Decoded, DecodeError> {
    let d: FindingsDetail<OcsfFinding> = parse_detail(detail, "a Security Hub OCSF event")?;
    let findings = d.findings.into_iter().map(|f| {
        let own = f
            .metadata
            .and_then(|m| m.product)
            .and_then(|p| p.name)
            .is_some_and(|n| n.starts_with(SOURCE));
        let control = finding_control(
            f.compliance.as_ref().and_then(|c| c.control.as_deref()),
            None,
        );
        // `uid` is often AWS Config's resource id (the name); the ARN is then in `uid_alt`.
        let arns = f
            .resources
            .into_iter()
            .filter_map(|r| {
                [r.uid, r.uid_alt]
                    .into_iter()
                    .flatten()
                    .find(|u| u.starts_with("arn:"))
            })
            .collect();
        let account = f.cloud.and_then(|c| c.account).and_then(|a| a.uid);
        (own, control, arns, account)
    });
    findings_to_triggers(findings, "OCSF")
}

/// One trigger per SageMaker resource named by a finding about a SageMaker control.
fn findings_to_triggers(
    findings: impl Iterator<
        Item = (
            bool,
            Option<Result<ControlId, String>>,
            Vec<String>,
            Option<String>,
        ),
    >,
    format: &str,
) -> Result<Decoded, DecodeError> {
    let mut triggers: Vec<Trigger> = Vec::new();
    let mut skipped = Vec::new();
    let mut unnamed = 0;
    for (own, control, arns, account) in findings {
        let control = match control {
            _ if own => {
                skipped.push("the guard's own finding".to_string());
                continue;
            }
            Some(Ok(c)) => c,
            Some(Err(other)) => {
                skipped.push(format!("control {other}"));
                continue;
            }
            None => {
                skipped.push("a finding with no control id".to_string());
                continue;
            }
        };
        let resources: Vec<ResourceRef> = arns
            .iter()
            .filter_map(|a| ResourceRef::from_arn(a))
            .collect();
        for r in &resources {
            agree([
                ("the finding's account", account.as_deref()),
                ("its resource's ARN", r.account.as_deref()),
            ])?;
        }
        if resources.is_empty() {
            unnamed += 1;
        }
        for resource in resources {
            if !triggers.iter().any(|t| t.resource == resource) {
                triggers.push(Trigger {
                    resource,
                    gone: false,
                    source: TriggerSource::SecurityHub {
                        control: Some(control),
                    },
                });
            }
        }
    }
    if !triggers.is_empty() {
        return Ok(Decoded::Triggers(triggers));
    }
    if unnamed > 0 {
        return Err(DecodeError::NoResource(format!(
            "a {format} finding about a SageMaker control names no SageMaker resource ARN"
        )));
    }
    Ok(Decoded::Ignored(format!(
        "{format} findings not about a control the guard enforces: {}",
        if skipped.is_empty() {
            "no findings".to_string()
        } else {
            skipped.join(", ")
        }
    )))
}

#[cfg(test)]
mod tests;
