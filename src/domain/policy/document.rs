//! The policy file as written: the types YAML is deserialized into and the JSON Schema is
//! generated from, and [`parse`], which reads a file into them.
//!
//! Unknown keys are refused everywhere (`deny_unknown_fields`), and each control has its own
//! parameter type, so a parameter given to the wrong control is an unknown key too. The YAML is
//! first read as a tree ([`super::yaml`]) and checked against the schema ([`super::shape`]),
//! which reports every problem of shape at once; what is left deserializes into these types.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::OnceLock;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::shape::{self, Step};
use super::yaml;
use super::{Action, PolicyError};
use crate::domain::catalogue::ControlId;

/// A value with the position it was written at (1-based line and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: u64,
    pub column: u64,
}

impl<T> Located<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Located<U> {
        Located {
            value: f(self.value),
            line: self.line,
            column: self.column,
        }
    }
}

/// Asks the tree's deserializer for the value's line and column, then the value.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LocatedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
            type Value = Located<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value with its position")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Located<T>, A::Error> {
                let missing = || serde::de::Error::custom("a located value without its position");
                let line = seq.next_element()?.ok_or_else(missing)?;
                let column = seq.next_element()?.ok_or_else(missing)?;
                let value = seq.next_element()?.ok_or_else(missing)?;
                Ok(Located {
                    value,
                    line,
                    column,
                })
            }
        }

        deserializer.deserialize_newtype_struct(yaml::LOCATED, LocatedVisitor(PhantomData))
    }
}

/// A located value has the schema of its value.
impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A sagemaker-guard policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "GuardPolicy")]
pub struct PolicyDocument {
    /// Always `sagemaker-guard/v1`.
    pub api_version: Located<String>,
    /// Always `GuardPolicy`.
    pub kind: Located<String>,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// The policy's name, shown in logs, reports and findings.
    pub name: Located<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// When true (the default), nothing is changed anywhere: plans are printed and logged only.
    pub dry_run: Option<bool>,
    /// The action of every control not listed under `controls` (default: finding).
    pub default_action: Option<Located<Action>>,
    #[serde(default)]
    pub scope: Scope,
    /// The accounts of an organization and how to reach each, instead of `--accounts FILE`.
    pub organization: Option<Organization>,
    /// Resources the policy deliberately leaves alone.
    #[serde(default)]
    pub exemptions: Vec<Located<Exemption>>,
    /// Settings the fixes need.
    #[serde(default)]
    pub remediation: Remediation,
    #[serde(default)]
    pub controls: Controls,
}

/// Where the policy applies.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scope {
    /// Account ids (12 digits, quoted). Empty: the account of the credentials.
    #[serde(default)]
    pub accounts: Vec<Located<String>>,
    /// Regions. Empty: the region of the AWS configuration. `--region` overrides this.
    #[serde(default)]
    pub regions: Vec<Located<String>>,
}

/// The accounts of an organization the guard acts in, each through a role it assumes there.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Organization {
    /// The entries of a c7n-org `accounts.yml`, as they are (`account_id`, `name`, `regions`,
    /// `role`, `external_id`; `tags`, `vars` and other keys are ignored).
    #[serde(default)]
    pub accounts: Vec<Located<crate::domain::accounts::AccountEntry>>,
    /// The role assumed in an account that names none; {partition} and {account_id} are filled
    /// in. Default: `--member-role`.
    pub member_role: Option<Located<String>>,
}

/// Resources left alone. A resource is exempt when every given selector matches: all of
/// `resourceTags`, and any of `namePatterns`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exemption {
    /// Named in verdicts: `EXEMPT (by <name>)`.
    pub name: Option<String>,
    /// Why, for the people reading the report.
    pub reason: Option<String>,
    /// The controls it exempts from; empty or absent: all.
    #[serde(default)]
    pub controls: Vec<ControlId>,
    /// Tags the resource must carry; the value `"*"` matches any value.
    #[serde(default)]
    pub resource_tags: BTreeMap<String, String>,
    /// Globs on the resource name (`*`, `?`, `[a-z]`).
    #[serde(default)]
    pub name_patterns: Vec<Located<String>>,
    /// From this date (`2027-01-31`, UTC) or time (RFC 3339) on, the exemption no longer applies.
    pub expires: Option<Located<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Remediation {
    /// Subnets and security groups to recreate notebooks in, per account and region.
    #[serde(default)]
    pub networks: Vec<Network>,
    /// KMS keys to recreate notebooks with (SageMaker.21), per account and region.
    #[serde(default)]
    pub kms_keys: Vec<KmsKey>,
    /// Values for tag keys a fix adds (SageMaker.6, .7).
    #[serde(default)]
    pub tag_values: BTreeMap<String, String>,
    #[serde(default)]
    pub notebook: NotebookRemediation,
    #[serde(default)]
    pub endpoint_config: EndpointConfigRemediation,
    /// At most this many remediations per account per hour (default 10); beyond it, findings.
    pub max_remediations_per_hour: Option<Located<u32>>,
    /// Mutating SageMaker calls per second per account and region (default 2): fixes of many
    /// resources are spaced out, leaving the API's rate limits to the account's own users.
    pub mutations_per_second: Option<Located<u32>>,
    /// The EventBridge bus every remediation outcome is published on (source `sagemaker-guard`).
    /// Absent: none are published.
    pub event_bus: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Network {
    /// Absent: any account.
    pub account: Option<Located<String>>,
    /// Absent: any region.
    pub region: Option<Located<String>>,
    pub subnet_id: Located<String>,
    pub security_group_ids: Located<Vec<String>>,
}

/// The KMS key a recreated notebook's storage volume is encrypted with (SageMaker.21).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KmsKey {
    /// Absent: any account.
    pub account: Option<Located<String>>,
    /// Absent: any region.
    pub region: Option<Located<String>>,
    /// A key id, a key ARN, `alias/<name>` or an alias ARN, as CreateNotebookInstance takes KmsKeyId.
    pub key_id: Located<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotebookRemediation {
    /// A notebook younger than this is recreated at once (default 30m).
    pub fresh_window: Option<Located<String>>,
    /// An older notebook is marked and recreated only after this (default 72h).
    pub grace_period: Option<Located<String>>,
    /// Recreate only notebooks that are Stopped (default false).
    pub only_when_stopped: Option<bool>,
    /// Instance types to move to when moving to AL2023 (SageMaker.8), e.g. ml.p3.2xlarge: ml.g5.2xlarge.
    #[serde(default)]
    pub instance_type_substitutions: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointConfigRemediation {
    /// Instance count of each variant of a replacement config (SageMaker.4; default 2).
    pub min_instance_count: Option<Located<i32>>,
}

/// Per-control settings, keyed by control id.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    #[serde(rename = "SageMaker.1")]
    pub sagemaker_1: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.2")]
    pub sagemaker_2: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.3")]
    pub sagemaker_3: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.4")]
    pub sagemaker_4: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.5")]
    pub sagemaker_5: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.6")]
    pub sagemaker_6: Option<ControlPolicy<TagParameters>>,
    #[serde(rename = "SageMaker.7")]
    pub sagemaker_7: Option<ControlPolicy<TagParameters>>,
    #[serde(rename = "SageMaker.8")]
    pub sagemaker_8: Option<ControlPolicy<PlatformParameters>>,
    #[serde(rename = "SageMaker.9")]
    pub sagemaker_9: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.10")]
    pub sagemaker_10: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.11")]
    pub sagemaker_11: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.12")]
    pub sagemaker_12: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.13")]
    pub sagemaker_13: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.14")]
    pub sagemaker_14: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.15")]
    pub sagemaker_15: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.16")]
    pub sagemaker_16: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.17")]
    pub sagemaker_17: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.18")]
    pub sagemaker_18: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.19")]
    pub sagemaker_19: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.20")]
    pub sagemaker_20: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.21")]
    pub sagemaker_21: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.22")]
    pub sagemaker_22: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.23")]
    pub sagemaker_23: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.24")]
    pub sagemaker_24: Option<ControlPolicy<NoParameters>>,
    #[serde(rename = "SageMaker.25")]
    pub sagemaker_25: Option<ControlPolicy<NoParameters>>,
}

/// One control's entry, with its parameters in a common shape.
pub struct ControlEntry<'a> {
    pub action: Option<&'a Located<Action>>,
    pub dry_run: Option<bool>,
    pub parameters: Parameters<'a>,
}

#[derive(Default)]
pub struct Parameters<'a> {
    pub required_key_tags: Option<&'a Located<Vec<String>>>,
    pub supported_platform_identifier_versions: Option<&'a Located<Vec<String>>>,
}

impl Controls {
    pub fn get(&self, id: ControlId) -> Option<ControlEntry<'_>> {
        fn plain<P: Default>(c: &Option<ControlPolicy<P>>) -> Option<ControlEntry<'_>> {
            c.as_ref().map(|c| ControlEntry {
                action: c.action.as_ref(),
                dry_run: c.dry_run,
                parameters: Parameters::default(),
            })
        }
        fn tagged(c: &Option<ControlPolicy<TagParameters>>) -> Option<ControlEntry<'_>> {
            c.as_ref().map(|c| ControlEntry {
                action: c.action.as_ref(),
                dry_run: c.dry_run,
                parameters: Parameters {
                    required_key_tags: c.parameters.required_key_tags.as_ref(),
                    ..Parameters::default()
                },
            })
        }
        match id {
            ControlId::SageMaker1 => plain(&self.sagemaker_1),
            ControlId::SageMaker2 => plain(&self.sagemaker_2),
            ControlId::SageMaker3 => plain(&self.sagemaker_3),
            ControlId::SageMaker4 => plain(&self.sagemaker_4),
            ControlId::SageMaker5 => plain(&self.sagemaker_5),
            ControlId::SageMaker9 => plain(&self.sagemaker_9),
            ControlId::SageMaker10 => plain(&self.sagemaker_10),
            ControlId::SageMaker11 => plain(&self.sagemaker_11),
            ControlId::SageMaker12 => plain(&self.sagemaker_12),
            ControlId::SageMaker13 => plain(&self.sagemaker_13),
            ControlId::SageMaker14 => plain(&self.sagemaker_14),
            ControlId::SageMaker15 => plain(&self.sagemaker_15),
            ControlId::SageMaker16 => plain(&self.sagemaker_16),
            ControlId::SageMaker17 => plain(&self.sagemaker_17),
            ControlId::SageMaker18 => plain(&self.sagemaker_18),
            ControlId::SageMaker19 => plain(&self.sagemaker_19),
            ControlId::SageMaker20 => plain(&self.sagemaker_20),
            ControlId::SageMaker21 => plain(&self.sagemaker_21),
            ControlId::SageMaker22 => plain(&self.sagemaker_22),
            ControlId::SageMaker23 => plain(&self.sagemaker_23),
            ControlId::SageMaker24 => plain(&self.sagemaker_24),
            ControlId::SageMaker25 => plain(&self.sagemaker_25),
            ControlId::SageMaker6 => tagged(&self.sagemaker_6),
            ControlId::SageMaker7 => tagged(&self.sagemaker_7),
            ControlId::SageMaker8 => self.sagemaker_8.as_ref().map(|c| ControlEntry {
                action: c.action.as_ref(),
                dry_run: c.dry_run,
                parameters: Parameters {
                    supported_platform_identifier_versions: c
                        .parameters
                        .supported_platform_identifier_versions
                        .as_ref(),
                    ..Parameters::default()
                },
            }),
        }
    }
}

/// What to do about one control.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPolicy<P: Default> {
    /// off, finding, tag or remediate. Absent: spec.defaultAction.
    pub action: Option<Located<Action>>,
    /// Dry-run for this control alone, whatever spec.dryRun says.
    pub dry_run: Option<bool>,
    /// The control's AWS parameters, under their AWS names.
    #[serde(default)]
    pub parameters: P,
}

/// This control takes no parameters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParameters {}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TagParameters {
    /// 1 to 6 tag keys the resource must have (case-sensitive). Absent: any one non-system tag.
    pub required_key_tags: Option<Located<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlatformParameters {
    /// Supported platform identifiers (default: notebook-al2023-v1, AWS's current list).
    pub supported_platform_identifier_versions: Option<Located<Vec<String>>>,
}

/// A policy file as read: the document (unless it is not a policy at all), the problems found,
/// and the paths of the values that had them (cut out, or blank where a key is required).
pub(super) struct Parsed {
    pub document: Option<PolicyDocument>,
    pub errors: Vec<PolicyError>,
    pub damaged: Vec<Vec<Step>>,
}

/// Reads the YAML of a policy, collecting every problem of syntax and shape. YAML 1.2 booleans
/// only: `no` is a string, not false. A syntax error (an unclosed bracket) stops the reading:
/// what follows it cannot be known.
pub(super) fn parse(file: &str, text: &str) -> Parsed {
    let error = |p: yaml::Problem| PolicyError {
        file: file.to_string(),
        line: p.line,
        column: p.column,
        message: p.message,
        hint: p.hint,
    };
    let (root, problems) = yaml::parse(text);
    let mut errors: Vec<PolicyError> = problems.into_iter().map(error).collect();
    let not_a_policy = |errors| Parsed {
        document: None,
        errors,
        damaged: Vec::new(),
    };
    let Some(mut root) = root else {
        if errors.is_empty() {
            errors.push(error(yaml::Problem {
                line: 1,
                column: 1,
                message: "the file is empty".to_string(),
                hint: Some(format!(
                    "a policy starts with `apiVersion: {}`; docs/policy.md has an example",
                    super::API_VERSION
                )),
            }));
        }
        return not_a_policy(errors);
    };
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    let (is_policy, shape_problems) = shape::check(&mut root, SCHEMA.get_or_init(schema));
    let mut damaged = Vec::new();
    for p in shape_problems {
        errors.push(error(p.problem));
        damaged.push(p.path);
    }
    if !is_policy {
        return not_a_policy(errors);
    }
    let document = match yaml::deserialize::<PolicyDocument>(&root) {
        Ok(d) => Some(d),
        // The schema admits what the types do; this is a fault of the guard, but said plainly.
        Err(e) => {
            errors.push(error(yaml::Problem {
                line: e.line.max(1),
                column: e.column.max(1),
                message: e.message,
                hint: None,
            }));
            None
        }
    };
    Parsed {
        document,
        errors,
        damaged,
    }
}

/// The JSON Schema (draft-07, which editors' YAML language servers read best) of a policy.
pub fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<PolicyDocument>();
    serde_json::to_value(schema).expect("a schema is JSON")
}
