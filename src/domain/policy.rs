//! The policy file: what to enforce, where, and how hard.
//!
//! A policy is YAML in the Kubernetes style (`apiVersion: sagemaker-guard/v1`, `kind: GuardPolicy`).
//! It is read in two steps: [`document`] reads the YAML into the types (from which the JSON
//! Schema is generated), with the source position of every value a later check may need, and
//! reports every problem of syntax and shape; [`load`] then checks what types cannot express and
//! resolves the document into a [`Policy`], the plain data evaluation and planning read. Both
//! steps run on every file, so all its problems are reported at once; each names the file, line
//! and column. Warnings (an unknown region, an expired exemption) never refuse a policy.

pub mod document;
mod region;
mod shape;
mod spelling;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use jiff::Timestamp;
use serde::Serialize;

use crate::domain::catalogue::{ControlId, Fix, DEFAULT_SUPPORTED_PLATFORMS};
use crate::domain::resource::ResourceKind;
use document::{Located, PolicyDocument};

pub const API_VERSION: &str = "sagemaker-guard/v1";

/// The longest `freshWindow` or `gracePeriod`: ten years.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
pub const KIND: &str = "GuardPolicy";

/// What the policy does about a control's failures. Each level includes the one before it:
/// `tag` and `remediate` also file a finding, with the outcome of the tag or the fix (a plan lists
/// `file finding` steps only for controls that end at a finding).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The control is not evaluated at all.
    Off,
    /// File a Security Hub finding.
    Finding,
    /// Mark the resource with a tag (for SageMaker.6 and .7: add the missing required tags).
    Tag,
    /// Apply the least destructive fix the API allows.
    Remediate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Off => "off",
            Action::Finding => "finding",
            Action::Tag => "tag",
            Action::Remediate => "remediate",
        }
    }
}

/// One control's resolved settings. Controls set to `off` have none: they are not evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlSettings {
    pub action: Action,
    /// Dry-run for this control alone, on top of the policy's.
    pub dry_run: bool,
    /// SageMaker.6 and .7: the keys the resource must have (empty: any one non-system tag).
    pub required_key_tags: Vec<String>,
    /// SageMaker.8: the platform identifiers considered supported, the first being the target of
    /// a fix.
    pub supported_platforms: Vec<String>,
}

/// Where the policy applies. Empty lists mean "the account of the credentials" and "the region
/// of the AWS configuration".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

/// The accounts of an organization written in the policy (`spec.organization`).
#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    pub accounts: Vec<crate::domain::accounts::Account>,
    /// The role template of accounts that name no role, when the policy gives one.
    pub member_role: Option<String>,
}

impl Scope {
    pub fn includes_account(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }

    pub fn includes_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }
}

/// A tag an exemption looks for: a key, and a value or any value.
#[derive(Clone, Debug, PartialEq)]
pub struct TagSelector {
    pub key: String,
    /// `None` matches any value (written `"*"` in the policy).
    pub value: Option<String>,
}

/// A resource the policy deliberately leaves alone, for some or all controls.
#[derive(Clone, Debug)]
pub struct Exemption {
    pub name: String,
    pub reason: Option<String>,
    /// Empty means every control.
    pub controls: Vec<ControlId>,
    /// All of these tags must be present.
    pub tags: Vec<TagSelector>,
    /// Any of these must match the resource's name.
    pub name_patterns: Vec<GlobMatcher>,
    /// The exemption no longer applies from this moment on.
    pub expires: Option<Timestamp>,
    /// Where `expires` is written (line, column), for the warning once it has passed.
    pub expires_position: Option<(u64, u64)>,
}

impl Exemption {
    pub fn covers(&self, control: ControlId) -> bool {
        self.controls.is_empty() || self.controls.contains(&control)
    }

    pub fn needs_tags(&self) -> bool {
        !self.tags.is_empty()
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// The subnet and security groups notebooks are moved into when they are recreated.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// `None`: any account.
    pub account: Option<String>,
    /// `None`: any region.
    pub region: Option<String>,
    pub subnet_id: String,
    pub security_group_ids: Vec<String>,
}

/// A KMS key a fix gives resources of an account and region: a recreated notebook's storage
/// volume (SageMaker.21), an inference experiment's captured data (SageMaker.24).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceKey {
    /// `None`: any account.
    pub account: Option<String>,
    /// `None`: any region.
    pub region: Option<String>,
    /// As `CreateNotebookInstance` takes `KmsKeyId` and `UpdateInferenceExperiment` `KmsKey`: a key
    /// id, a key ARN, an alias or an alias ARN.
    pub key_id: String,
}

/// Settings the fixes need.
#[derive(Clone, Debug, PartialEq)]
pub struct Remediation {
    pub networks: Vec<Network>,
    pub kms_keys: Vec<ResourceKey>,
    /// Values for required tag keys, used when a fix adds a missing key.
    pub tag_values: BTreeMap<String, String>,
    /// A notebook younger than this holds no user data yet and is recreated at once.
    pub fresh_window: Duration,
    /// How long an older notebook is marked before it is recreated.
    pub grace_period: Duration,
    /// Recreate only notebooks that are Stopped (nobody is using them).
    pub only_when_stopped: bool,
    /// For SageMaker.8: instance types to move to where AL2023 does not run on the current one.
    pub instance_type_substitutions: BTreeMap<String, String>,
    /// For SageMaker.4: the instance count a replacement endpoint config gives each variant.
    pub min_instance_count: i32,
    /// Remediations per account per hour; beyond it they become findings.
    pub max_remediations_per_hour: u32,
    /// Mutating SageMaker calls per second per account and region.
    pub mutations_per_second: u32,
    /// Where remediation outcomes are published, if anywhere.
    pub event_bus: Option<String>,
}

impl Remediation {
    /// The most specific network configured for an account and region.
    pub fn network_for(&self, account: &str, region: &str) -> Option<&Network> {
        let matches = |n: &&Network| {
            n.account.as_deref().is_none_or(|a| a == account)
                && n.region.as_deref().is_none_or(|r| r == region)
        };
        self.networks
            .iter()
            .filter(matches)
            .max_by_key(|n| (n.account.is_some() as u8) + (n.region.is_some() as u8))
    }

    /// The most specific KMS key configured for an account and region, matched as networks are.
    pub fn kms_key_for(&self, account: &str, region: &str) -> Option<&ResourceKey> {
        self.kms_keys
            .iter()
            .filter(|k| {
                k.account.as_deref().is_none_or(|a| a == account)
                    && k.region.as_deref().is_none_or(|r| r == region)
            })
            .max_by_key(|k| (k.account.is_some() as u8) + (k.region.is_some() as u8))
    }
}

impl Default for Remediation {
    fn default() -> Self {
        Remediation {
            networks: Vec::new(),
            kms_keys: Vec::new(),
            tag_values: BTreeMap::new(),
            fresh_window: Duration::from_secs(30 * 60),
            grace_period: Duration::from_secs(72 * 3600),
            only_when_stopped: false,
            instance_type_substitutions: BTreeMap::new(),
            min_instance_count: 2,
            max_remediations_per_hour: 10,
            mutations_per_second: 2,
            event_bus: None,
        }
    }
}

/// A loaded, checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    /// The file it came from, for messages.
    pub source: String,
    pub dry_run: bool,
    /// Every control not `off`, with its settings.
    pub controls: BTreeMap<ControlId, ControlSettings>,
    pub scope: Scope,
    /// The accounts to act in, when the policy lists them rather than `--accounts`.
    pub organization: Option<Organization>,
    pub exemptions: Vec<Exemption>,
    pub remediation: Remediation,
    /// What works but is probably not what was meant (an unknown region), found when reading.
    pub warnings: Vec<PolicyWarning>,
}

impl Policy {
    /// The warnings at `now`: those found when reading, and each exemption that has expired (it
    /// exempts nothing any more, which its author may not know).
    pub fn warnings_at(&self, now: Timestamp) -> Vec<PolicyWarning> {
        let mut warnings = self.warnings.clone();
        for e in self.exemptions.iter().filter(|e| e.is_expired(now)) {
            let (line, column) = e.expires_position.unwrap_or((0, 0));
            let expires = e.expires.map(|t| t.to_string()).unwrap_or_default();
            warnings.push(PolicyWarning(PolicyError {
                file: self.source.clone(),
                line,
                column,
                message: format!(
                    "exemption `{}` expired at {expires}: it exempts nothing any more",
                    e.name
                ),
                hint: Some(
                    "remove it, or give it a later `expires` if it should still apply".to_string(),
                ),
            }));
        }
        warnings.sort_by_key(|w| (w.0.line, w.0.column));
        warnings
    }

    /// The settings of an enabled control; `None` when it is `off`.
    pub fn control(&self, id: ControlId) -> Option<&ControlSettings> {
        self.controls.get(&id)
    }

    /// The enabled controls that judge a kind of resource.
    pub fn controls_for(
        &self,
        kind: ResourceKind,
    ) -> impl Iterator<Item = (ControlId, &ControlSettings)> {
        self.controls
            .iter()
            .filter(move |(id, _)| id.control().resource_kind == kind)
            .map(|(id, s)| (*id, s))
    }

    /// Whether any control's fix is a stop-and-recreate.
    pub fn recreates(&self) -> bool {
        self.controls.iter().any(|(id, settings)| {
            settings.action == Action::Remediate
                && id.control().fix == crate::domain::catalogue::Fix::Recreate
        })
    }

    /// Whether any enabled control judges this kind.
    pub fn judges(&self, kind: ResourceKind) -> bool {
        self.controls_for(kind).next().is_some()
    }

    /// Whether evaluating this kind needs its tags: a tag control, a tag-based exemption that
    /// covers one of its enabled controls, or an action that tags or fixes (the guard's own marks
    /// are tags). Tags cost one call per resource, so they are read only when needed.
    pub fn needs_tags(&self, kind: ResourceKind) -> bool {
        self.controls_for(kind).any(|(id, settings)| {
            matches!(id, ControlId::SageMaker6 | ControlId::SageMaker7)
                || settings.action >= Action::Tag
                || self
                    .exemptions
                    .iter()
                    .any(|e| e.needs_tags() && e.covers(id))
        })
    }

    /// Whether evaluating this kind needs a Describe call (no list result carries what the
    /// controls judge). Images and app image configs are judged by tags alone.
    pub fn needs_details(&self, kind: ResourceKind) -> bool {
        self.judges(kind) && !matches!(kind, ResourceKind::Image | ResourceKind::AppImageConfig)
    }
}

/// Why a control with no automatic fix cannot be remediated, for the error at policy load.
fn cannot_remediate(id: ControlId) -> &'static str {
    if id == ControlId::SageMaker5 {
        return "models are immutable, and enabling network isolation cuts a serving container off the network";
    }
    match id.control().resource_kind {
        ResourceKind::DataQualityJobDefinition
        | ResourceKind::ModelQualityJobDefinition
        | ResourceKind::ModelBiasJobDefinition
        | ResourceKind::ModelExplainabilityJobDefinition => {
            "job definitions cannot be changed, and monitoring schedules run them by name"
        }
        ResourceKind::Model => "models are immutable and serve live traffic",
        ResourceKind::FeatureGroup => {
            "a feature group's stores and keys are fixed at creation, and recreating it loses its records"
        }
        ResourceKind::InferenceExperiment => {
            "an inference experiment's KmsKey is set only at creation (UpdateInferenceExperiment does not take it)"
        }
        _ => "the API offers no safe change",
    }
}

/// A problem in a policy file, with where it is and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file (it cannot be read).
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Something in a policy that works but is probably not what was meant. It never refuses the
/// policy: `policy validate` still exits 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWarning(pub PolicyError);

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning: {}", self.0)
    }
}

/// All the problems found in one policy file that refuse it, and its warnings, each list in the
/// order of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyErrors {
    pub errors: Vec<PolicyError>,
    pub warnings: Vec<PolicyWarning>,
}

impl fmt::Display for PolicyErrors {
    /// Errors and warnings together, in the order of the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<(u64, u64, String)> = self
            .errors
            .iter()
            .map(|e| (e.line, e.column, format!("error: {e}")))
            .chain(
                self.warnings
                    .iter()
                    .map(|w| (w.0.line, w.0.column, w.to_string())),
            )
            .collect();
        lines.sort_by_key(|(line, column, _)| (*line, *column));
        for (i, (_, _, text)) in lines.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(text)?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Reads and checks a policy file.
pub fn load_file(path: &Path) -> Result<Policy, PolicyErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        // "No such file or directory", without the "(os error 2)" meant for programmers.
        let cause = e.to_string();
        let cause = match cause.find(" (os error") {
            Some(i) => cause[..i].to_string(),
            None => cause,
        };
        PolicyErrors {
            errors: vec![PolicyError {
                file: file.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read: {cause}"),
                hint: None,
            }],
            warnings: Vec::new(),
        }
    })?;
    load(&file, &text)
}

/// Parses and checks a policy given as text; `file` names it in messages. Every problem is
/// reported: those of YAML syntax (after which nothing more can be read), of shape (unknown keys,
/// wrong types, unknown values) and of meaning (an account id, a duration, a combination that
/// cannot work), sorted by position.
pub fn load(file: &str, text: &str) -> Result<Policy, PolicyErrors> {
    let parsed = document::parse(file, text);
    let mut checker = Checker {
        file,
        errors: parsed.errors,
        warnings: Vec::new(),
        damaged: parsed.damaged,
    };
    let policy = parsed.document.map(|doc| checker.resolve(doc));
    checker.warnings.sort_by_key(|w| (w.0.line, w.0.column));
    match policy {
        Some(mut policy) if checker.errors.is_empty() => {
            policy.warnings = checker.warnings;
            Ok(policy)
        }
        _ => {
            checker.errors.sort_by_key(|e| (e.line, e.column));
            Err(PolicyErrors {
                errors: checker.errors,
                warnings: checker.warnings,
            })
        }
    }
}

/// Resolves a parsed document, collecting every semantic error rather than stopping at the first.
struct Checker<'a> {
    file: &'a str,
    errors: Vec<PolicyError>,
    warnings: Vec<PolicyWarning>,
    /// The paths of values with a problem of shape: cut out, or blank stand-ins, whose checks
    /// would only repeat or invent problems.
    damaged: Vec<Vec<shape::Step>>,
}

impl Checker<'_> {
    fn error<T>(
        &mut self,
        at: &Located<T>,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.errors.push(PolicyError {
            file: self.file.to_string(),
            line: at.line,
            column: at.column,
            message: message.into(),
            hint: hint.into(),
        });
    }

    fn warning<T>(&mut self, at: &Located<T>, message: String, hint: Option<String>) {
        self.warnings.push(PolicyWarning(PolicyError {
            file: self.file.to_string(),
            line: at.line,
            column: at.column,
            message,
            hint,
        }));
    }

    /// Whether the value at `path` (keys from the top) or anything around or under it had a
    /// problem of shape.
    fn damaged(&self, path: &[&str]) -> bool {
        self.damaged.iter().any(|d| {
            d.iter().zip(path).all(|(step, key)| match step {
                shape::Step::Key(k) => k == key,
                shape::Step::Index(_) => false,
            })
        })
    }

    fn resolve(&mut self, doc: PolicyDocument) -> Policy {
        if doc.api_version.value != API_VERSION && !self.damaged(&["apiVersion"]) {
            self.error(
                &doc.api_version,
                format!("unsupported apiVersion `{}`", doc.api_version.value),
                Some(format!("use `apiVersion: {API_VERSION}`")),
            );
        }
        if doc.kind.value != KIND && !self.damaged(&["kind"]) {
            self.error(
                &doc.kind,
                format!("unsupported kind `{}`", doc.kind.value),
                Some(format!("use `kind: {KIND}`")),
            );
        }
        if doc.metadata.name.value.trim().is_empty() && !self.damaged(&["metadata", "name"]) {
            self.error(
                &doc.metadata.name,
                "metadata.name is empty",
                Some("name the policy".to_string()),
            );
        }
        let spec = doc.spec;
        let scope = self.scope(&spec.scope);
        let organization = spec.organization.as_ref().map(|o| self.organization(o));
        let remediation = self.remediation(&spec.remediation);
        let exemptions = spec
            .exemptions
            .iter()
            .enumerate()
            .filter_map(|(i, e)| self.exemption(i, e))
            .collect();

        let default_action = spec
            .default_action
            .as_ref()
            .map(|a| a.value)
            .unwrap_or(Action::Finding);
        let mut controls = BTreeMap::new();
        for id in ControlId::ALL {
            let entry = spec.controls.get(id);
            let (action, action_at) = match entry.as_ref().and_then(|c| c.action) {
                Some(a) => (a.value, Some(a.clone().map(|_| ()))),
                None => (
                    default_action,
                    spec.default_action.as_ref().map(|a| a.clone().map(|_| ())),
                ),
            };
            let params = entry.as_ref().map(|c| &c.parameters);
            let settings = ControlSettings {
                action,
                dry_run: entry.as_ref().and_then(|c| c.dry_run).unwrap_or(false),
                required_key_tags: params
                    .and_then(|p| p.required_key_tags)
                    .map(|k| self.required_key_tags(k))
                    .unwrap_or_default(),
                supported_platforms: params
                    .and_then(|p| p.supported_platform_identifier_versions)
                    .map(|p| self.platforms(p))
                    .unwrap_or_else(|| {
                        DEFAULT_SUPPORTED_PLATFORMS
                            .iter()
                            .map(|s| s.to_string())
                            .collect()
                    }),
            };
            let from_default = entry.as_ref().and_then(|c| c.action).is_none();
            // A combination is judged only from what was read as written.
            let damaged = self.damaged(&["spec", "controls", id.as_str()])
                || self.damaged(&["spec", "remediation"])
                || (from_default && self.damaged(&["spec", "defaultAction"]));
            if let Some(at) = action_at.as_ref().filter(|_| !damaged) {
                self.check_combination(id, &settings, &remediation, at, from_default);
            }
            if action != Action::Off {
                controls.insert(id, settings);
            }
        }

        Policy {
            name: doc.metadata.name.value,
            source: self.file.to_string(),
            dry_run: spec.dry_run.unwrap_or(true),
            controls,
            scope,
            organization,
            exemptions,
            remediation,
            warnings: Vec::new(),
        }
    }

    /// Refuses an action a control cannot carry out with the settings given.
    fn check_combination(
        &mut self,
        id: ControlId,
        settings: &ControlSettings,
        remediation: &Remediation,
        at: &Located<()>,
        from_default: bool,
    ) {
        let via = if from_default {
            format!(" (through spec.defaultAction, as {id} is not listed)")
        } else {
            String::new()
        };
        let fixes_by_tagging = matches!(settings.action, Action::Tag | Action::Remediate)
            && id.control().fix == Fix::AddTags;
        match (id, settings.action) {
            (_, Action::Remediate) if id.control().fix == Fix::None => self.error(
                at,
                format!("{id} cannot be remediated{via}: {}", cannot_remediate(id)),
                Some(format!("use `action: finding` or `action: tag` for {id}")),
            ),
            (ControlId::SageMaker2, Action::Remediate) if remediation.networks.is_empty() => self.error(
                at,
                format!("SageMaker.2 is set to remediate{via} but no subnet is configured to move notebooks into"),
                Some("add spec.remediation.networks with a subnetId and securityGroupIds, or use `action: finding`".to_string()),
            ),
            (ControlId::SageMaker24, Action::Remediate) if remediation.kms_keys.is_empty() => self.error(
                at,
                format!("SageMaker.24 is set to remediate{via} but no KMS key is configured to encrypt inference experiments' captured data with"),
                Some("add spec.remediation.kmsKeys with a keyId (a key id, key ARN or alias) for the accounts and regions, or use `action: finding`".to_string()),
            ),
            (ControlId::SageMaker21, Action::Remediate) if remediation.kms_keys.is_empty() => self.error(
                at,
                format!("SageMaker.21 is set to remediate{via} but no KMS key is configured to recreate notebooks with"),
                Some("add spec.remediation.kmsKeys with a keyId (a key id, key ARN or alias) for the accounts and regions, or use `action: finding`".to_string()),
            ),
            _ if fixes_by_tagging => {
                let missing: Vec<&str> = if settings.required_key_tags.is_empty() {
                    if remediation.tag_values.is_empty() {
                        vec!["<any key>"]
                    } else {
                        vec![]
                    }
                } else {
                    settings
                        .required_key_tags
                        .iter()
                        .filter(|k| !remediation.tag_values.contains_key(k.as_str()))
                        .map(String::as_str)
                        .collect()
                };
                if !missing.is_empty() {
                    self.error(
                        at,
                        format!(
                            "{id} is set to {}{via} but spec.remediation.tagValues has no value for {}",
                            settings.action.as_str(),
                            missing.join(", ")
                        ),
                        Some("add the keys to spec.remediation.tagValues, or use `action: finding`".to_string()),
                    );
                }
            }
            _ => {}
        }
    }

    fn scope(&mut self, scope: &document::Scope) -> Scope {
        for a in &scope.accounts {
            self.account_id(a);
        }
        for r in &scope.regions {
            self.region(r);
        }
        Scope {
            accounts: scope.accounts.iter().map(|a| a.value.clone()).collect(),
            regions: scope.regions.iter().map(|r| r.value.clone()).collect(),
        }
    }

    fn organization(&mut self, o: &document::Organization) -> Organization {
        let mut accounts: Vec<crate::domain::accounts::Account> = Vec::new();
        for entry in &o.accounts {
            match crate::domain::accounts::account(entry.value.clone()) {
                Ok(a) if accounts.iter().any(|b| b.account_id == a.account_id) => self.error(
                    entry,
                    format!("account {} appears twice in spec.organization.accounts", a.account_id),
                    Some("list each account once".to_string()),
                ),
                Ok(a) => {
                    for r in &a.regions {
                        if !region::is_well_formed(r) {
                            self.error(
                                entry,
                                format!("`{r}` is not an AWS region"),
                                Some("e.g. us-east-1".to_string()),
                            );
                        }
                    }
                    accounts.push(a);
                }
                Err(message) => self.error(
                    entry,
                    message,
                    Some("an entry is as in c7n-org's accounts.yml: account_id (quoted), name, regions, role, external_id".to_string()),
                ),
            }
        }
        if let Some(template) = &o.member_role {
            if let Err(message) = crate::domain::accounts::check_role_template(&template.value) {
                self.error(
                    template,
                    message,
                    Some(
                        "e.g. arn:{partition}:iam::{account_id}:role/SageMakerGuardMember"
                            .to_string(),
                    ),
                );
            }
        }
        Organization {
            accounts,
            member_role: o.member_role.as_ref().map(|m| m.value.clone()),
        }
    }

    fn account_id(&mut self, a: &Located<String>) {
        if a.value.len() != 12 || !a.value.bytes().all(|b| b.is_ascii_digit()) {
            self.error(
                a,
                format!("`{}` is not an AWS account id", a.value),
                Some("an account id is 12 digits, quoted so YAML keeps it a string: \"123456789012\"".to_string()),
            );
        }
    }

    fn region(&mut self, r: &Located<String>) {
        if !region::is_well_formed(&r.value) {
            self.error(
                r,
                format!("`{}` is not an AWS region", r.value),
                Some("e.g. us-east-1".to_string()),
            );
        } else if !region::is_known(&r.value) {
            let hint = match region::nearest(&r.value) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "if AWS opened this region after this version of sagemaker-guard, ignore this warning".to_string(),
            };
            self.warning(r, format!("unknown region `{}`", r.value), Some(hint));
        }
    }

    fn duration(&mut self, d: &Option<Located<String>>, default: Duration) -> Duration {
        let Some(d) = d else { return default };
        match humantime::parse_duration(&d.value) {
            // Beyond any date the guard can compute: refused rather than wrapped round to "now".
            Ok(v) if v > MAX_DURATION => {
                self.error(
                    d,
                    format!(
                        "`{}` is longer than the guard can schedule (at most {})",
                        d.value,
                        humantime::format_duration(MAX_DURATION)
                    ),
                    Some("to never recreate, use `action: finding` or an exemption".to_string()),
                );
                default
            }
            Ok(v) => v,
            Err(e) => {
                self.error(
                    d,
                    format!("`{}` is not a duration: {e}", d.value),
                    Some("write durations like 30m, 72h or 1h 30m".to_string()),
                );
                default
            }
        }
    }

    fn remediation(&mut self, r: &document::Remediation) -> Remediation {
        let defaults = Remediation::default();
        let mut seen: Vec<(Option<String>, Option<String>)> = Vec::new();
        let networks = r
            .networks
            .iter()
            .map(|n| {
                if let Some(a) = &n.account {
                    self.account_id(a);
                }
                if let Some(region) = &n.region {
                    self.region(region);
                }
                if !n.subnet_id.value.starts_with("subnet-") {
                    self.error(
                        &n.subnet_id,
                        format!("`{}` is not a subnet id", n.subnet_id.value),
                        Some("a subnet id looks like subnet-0123456789abcdef0".to_string()),
                    );
                }
                if n.security_group_ids.value.is_empty() {
                    self.error(
                        &n.security_group_ids,
                        "securityGroupIds is empty",
                        Some("a notebook without direct internet access needs at least one security group".to_string()),
                    );
                }
                for sg in &n.security_group_ids.value {
                    if !sg.starts_with("sg-") {
                        self.error(
                            &n.security_group_ids,
                            format!("`{sg}` is not a security group id"),
                            Some("a security group id looks like sg-0123456789abcdef0".to_string()),
                        );
                    }
                }
                let key = (n.account.as_ref().map(|a| a.value.clone()), n.region.as_ref().map(|r| r.value.clone()));
                if seen.contains(&key) {
                    self.error(
                        &n.subnet_id,
                        "a second network for the same account and region",
                        Some("give each account and region one network".to_string()),
                    );
                }
                seen.push(key);
                Network {
                    account: n.account.as_ref().map(|a| a.value.clone()),
                    region: n.region.as_ref().map(|r| r.value.clone()),
                    subnet_id: n.subnet_id.value.clone(),
                    security_group_ids: n.security_group_ids.value.clone(),
                }
            })
            .collect();
        let mut seen_keys: Vec<(Option<String>, Option<String>)> = Vec::new();
        let kms_keys = r
            .kms_keys
            .iter()
            .map(|k| {
                if let Some(a) = &k.account {
                    self.account_id(a);
                }
                if let Some(region) = &k.region {
                    self.region(region);
                }
                if let Err(message) = crate::domain::kms_key::KmsKey::parse(&k.key_id.value) {
                    self.error(
                        &k.key_id,
                        message,
                        Some("CreateNotebookInstance takes the key as KmsKeyId, e.g. arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab or alias/notebooks".to_string()),
                    );
                }
                let key = (k.account.as_ref().map(|a| a.value.clone()), k.region.as_ref().map(|r| r.value.clone()));
                if seen_keys.contains(&key) {
                    self.error(
                        &k.key_id,
                        "a second KMS key for the same account and region",
                        Some("give each account and region one key".to_string()),
                    );
                }
                seen_keys.push(key);
                ResourceKey {
                    account: k.account.as_ref().map(|a| a.value.clone()),
                    region: k.region.as_ref().map(|r| r.value.clone()),
                    key_id: k.key_id.value.clone(),
                }
            })
            .collect();
        let notebook = &r.notebook;
        let min_instance_count = match &r.endpoint_config.min_instance_count {
            Some(m) if m.value < 2 => {
                self.error(
                    m,
                    format!("minInstanceCount {} does not satisfy SageMaker.4", m.value),
                    Some("SageMaker.4 needs more than one instance: use 2 or more".to_string()),
                );
                defaults.min_instance_count
            }
            Some(m) => m.value,
            None => defaults.min_instance_count,
        };
        let max_remediations_per_hour = match &r.max_remediations_per_hour {
            Some(m) if m.value == 0 => {
                self.error(
                    m,
                    "maxRemediationsPerHour is 0",
                    Some(
                        "to remediate nothing, set the actions to finding or set dryRun: true"
                            .to_string(),
                    ),
                );
                defaults.max_remediations_per_hour
            }
            Some(m) => m.value,
            None => defaults.max_remediations_per_hour,
        };
        let mutations_per_second = match &r.mutations_per_second {
            Some(m) if m.value == 0 => {
                self.error(
                    m,
                    "mutationsPerSecond is 0",
                    Some(
                        "to change nothing, set the actions to finding or set dryRun: true"
                            .to_string(),
                    ),
                );
                defaults.mutations_per_second
            }
            Some(m) => m.value,
            None => defaults.mutations_per_second,
        };
        Remediation {
            networks,
            kms_keys,
            tag_values: r.tag_values.clone(),
            mutations_per_second,
            fresh_window: self.duration(&notebook.fresh_window, defaults.fresh_window),
            grace_period: self.duration(&notebook.grace_period, defaults.grace_period),
            only_when_stopped: notebook.only_when_stopped.unwrap_or(false),
            instance_type_substitutions: notebook.instance_type_substitutions.clone(),
            min_instance_count,
            max_remediations_per_hour,
            event_bus: r.event_bus.clone(),
        }
    }

    fn exemption(&mut self, index: usize, e: &Located<document::Exemption>) -> Option<Exemption> {
        let v = &e.value;
        let name = v
            .name
            .clone()
            .unwrap_or_else(|| format!("exemptions[{index}]"));
        if v.resource_tags.is_empty() && v.name_patterns.is_empty() {
            self.error(
                e,
                format!("exemption `{name}` selects no resource"),
                Some("give it resourceTags or namePatterns; to turn a control off, use `action: off`".to_string()),
            );
            return None;
        }
        let mut name_patterns = Vec::new();
        for p in &v.name_patterns {
            match Glob::new(&p.value) {
                Ok(g) => name_patterns.push(g.compile_matcher()),
                Err(err) => self.error(
                    p,
                    format!("`{}` is not a valid name pattern: {}", p.value, err.kind()),
                    Some(
                        "patterns are globs: * matches any run of characters, ? one character"
                            .to_string(),
                    ),
                ),
            }
        }
        let expires = v.expires.as_ref().and_then(|x| self.timestamp(x));
        let expires_position = v.expires.as_ref().map(|x| (x.line, x.column));
        Some(Exemption {
            name,
            reason: v.reason.clone(),
            controls: v.controls.clone(),
            tags: v
                .resource_tags
                .iter()
                .map(|(k, val)| TagSelector {
                    key: k.clone(),
                    value: (val != "*").then(|| val.clone()),
                })
                .collect(),
            name_patterns,
            expires,
            expires_position,
        })
    }

    /// A date (`2027-01-31`, meaning its first moment in UTC) or an RFC 3339 timestamp.
    fn timestamp(&mut self, x: &Located<String>) -> Option<Timestamp> {
        if let Ok(t) = x.value.parse::<Timestamp>() {
            return Some(t);
        }
        match x.value.parse::<jiff::civil::Date>() {
            Ok(d) => d
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp()),
            Err(_) => {
                self.error(
                    x,
                    format!("`{}` is not a date", x.value),
                    Some(
                        "write a date as 2027-01-31 or a time as 2027-01-31T12:00:00Z".to_string(),
                    ),
                );
                None
            }
        }
    }

    fn required_key_tags(&mut self, keys: &Located<Vec<String>>) -> Vec<String> {
        let n = keys.value.len();
        if !(1..=6).contains(&n) {
            self.error(
                keys,
                format!("requiredKeyTags has {n} keys; AWS allows 1 to 6"),
                Some("list between 1 and 6 tag keys, or leave requiredKeyTags out to require any tag".to_string()),
            );
        }
        for (i, k) in keys.value.iter().enumerate() {
            if k.is_empty() || k.chars().count() > 128 {
                self.error(
                    keys,
                    format!("tag key `{k}` must have 1 to 128 characters"),
                    None,
                );
            }
            if k.starts_with("aws:") {
                self.error(
                    keys,
                    format!("tag key `{k}` is a system tag; the control ignores keys starting with aws:"),
                    Some("list only your own tag keys".to_string()),
                );
            }
            if keys.value[..i].contains(k) {
                self.error(keys, format!("tag key `{k}` is listed twice"), None);
            }
        }
        keys.value.clone()
    }

    fn platforms(&mut self, p: &Located<Vec<String>>) -> Vec<String> {
        if p.value.is_empty() || p.value.iter().any(|s| s.trim().is_empty()) {
            self.error(
                p,
                "supportedPlatformIdentifierVersions must list at least one platform",
                Some(format!(
                    "AWS's current list is {}",
                    DEFAULT_SUPPORTED_PLATFORMS.join(", ")
                )),
            );
        }
        p.value.clone()
    }
}

#[cfg(test)]
mod tests;
