//! Recreate intents: the durable record of a stop-and-recreate, and the pure decision of its
//! next step.
//!
//! `DirectInternetAccess`, `SubnetId` and `KmsKeyId` can only be chosen when a notebook is created, so the
//! fix deletes the notebook and creates it again under the same name. Delete destroys the
//! notebook's storage volume and its configuration with it, so the configuration is captured
//! first ([`capture`]) and stored durably as a *recreate intent*: a message on the service's SQS
//! queue, shaped like an EventBridge event. Only once that message is stored is the notebook
//! deleted. From then on the intent, not the process, drives the rest: whichever replica
//! receives it reads the live notebook and takes the next step ([`next_step`]).
//!
//! The recreated notebook is recognised by its `sagemaker-guard/recreated-at` tag, whose value is
//! the intent's id.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::assess::Assessment;
use crate::domain::catalogue::ControlId;
use crate::domain::marks::{
    INTENT_DETAIL_TYPE, NONCOMPLIANT_TAG, RECREATED_AT_TAG, RECREATE_AFTER_TAG, RESTART_TAG, SOURCE,
};
use crate::domain::plan::{Plan, Setting, Step};
use crate::domain::resource::{NotebookInstance, NotebookStatus, ResourceKind, ResourceRef, Tags};

/// The delete must follow the stored intent within this long, or is not made: far less than
/// [`STALE_AFTER`], so that an intent is never judged stale (by another replica, against the time
/// the storer wrote in it) while its delete may still come, unless the two clocks differ by
/// more than the difference.
pub const DELETE_WITHIN: Duration = Duration::from_secs(60);

/// An intent whose notebook was never deleted is dropped after this long: the process that
/// stored it died before its delete, and the next look plans afresh. Its delete could come at
/// most [`DELETE_WITHIN`] after the intent by the storer's clock, and replicas' clocks are
/// trusted to differ by at most [`CLOCK_SKEW`]: 6 minutes. Until then the notebook stays as the
/// stop left it.
pub const STALE_AFTER: Duration =
    Duration::from_secs(DELETE_WITHIN.as_secs() + CLOCK_SKEW.as_secs());

/// Everything `CreateNotebookInstance` is given, in the API's names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotebookSpec {
    pub instance_type: String,
    pub role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_config_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_internet_access: Option<String>,
    #[serde(rename = "VolumeSizeInGB", skip_serializing_if = "Option::is_none")]
    pub volume_size_in_gb: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accelerator_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_code_repository: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_code_repositories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_access: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_instance_metadata_service_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
}

/// The durable record of a recreate: what the notebook was, what it becomes, and its tags.
///
/// Nothing in it is taken on trust when it comes back from the queue: it must carry a valid MAC
/// of the guard's key ([`IntentSignature`]), and pass [`check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecreateIntent {
    /// Unique per recreate; the value of the recreated notebook's `sagemaker-guard/recreated-at`.
    pub id: String,
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    /// The notebook as it was read right before the delete.
    pub captured: NotebookInstance,
    /// The fixes the recreate makes, as the plan's `create` step named them.
    pub fixes: Vec<Setting>,
    /// What is created: the captured configuration with the fixes ([`derive_spec`]); an intent
    /// whose spec is anything else is refused.
    pub spec: NotebookSpec,
    /// The tags the new notebook gets: the old one's, plus `sagemaker-guard/recreated-at`.
    pub tags: BTreeMap<String, String>,
    /// Whether it was running before the guard stopped it; a stopped one is stopped again.
    pub was_running: bool,
    pub controls: Vec<ControlId>,
    pub policy: String,
}

impl RecreateIntent {
    /// The work-queue key of the notebook.
    pub fn key(&self) -> ResourceRef {
        ResourceRef {
            kind: ResourceKind::NotebookInstance,
            name: self.name.clone(),
            account: Some(self.account.clone()),
            region: Some(self.region.clone()),
        }
    }

    /// What the intent's MAC covers: a SHA-256 digest of the whole intent, as the guard writes
    /// it, after a label that says what it is (so no other message of the key can pass for
    /// an intent). KMS MACs at most 4096 bytes; the digest keeps any intent within that.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"sagemaker-guard recreate intent v1\n");
        h.update(serde_json::to_vec(self).expect("an intent serializes"));
        h.finalize().into()
    }

    /// The message body that stores the intent, with its MAC: an EventBridge-shaped event.
    pub fn to_message(&self, signature: &IntentSignature) -> String {
        serde_json::json!({
            "version": "0",
            "source": SOURCE,
            "detail-type": INTENT_DETAIL_TYPE,
            "account": self.account,
            "region": self.region,
            "time": self.id,
            "resources": [self.arn],
            "detail": SignedIntent {
                intent: self.clone(),
                signature: Some(signature.clone()),
            },
        })
        .to_string()
    }
}

/// The MAC algorithm of intent signatures (the KMS key's spec is `HMAC_256`).
pub const MAC_ALGORITHM: &str = "HMAC_SHA_256";

/// An intent's MAC, made by KMS `GenerateMac` over [`RecreateIntent::digest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentSignature {
    /// The key that made it, for the record: a MAC is only ever verified with the guard's own
    /// configured key, never with the key a message names.
    pub key_id: String,
    pub algorithm: String,
    /// Base64.
    pub mac: String,
}

/// An intent as it travels on the queue: the intent's fields, and its MAC beside them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIntent {
    #[serde(flatten)]
    pub intent: RecreateIntent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<IntentSignature>,
}

/// How far ahead of this clock an intent's id may be: clocks of replicas differ a little.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// An intent older than this is not followed: a recreate that has not finished in a day is the
/// operator's (its configuration stays readable in the dead-letter queue), and an old signed
/// intent replayed from a copy cannot bring back a notebook its owner deleted since.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Why an intent from the queue is refused (dead-lettered, nothing done).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntentRefusal {
    #[error(
        "it was stored at {0}, more than 24 hours ago: a recreate that old is left to the operator"
    )]
    Expired(String),
    #[error("its id `{0}` is later than now: not an intent the guard stored")]
    FromTheFuture(String),
    #[error("its spec is not its captured configuration with its fixes ({0}): the guard only creates what it captured")]
    SpecNotDerived(String),
    #[error("its tags {0}")]
    Tags(String),
    #[error(
        "its ARN `{arn}` does not name notebook `{name}` in account {account}, region {region}"
    )]
    ArnMismatch {
        arn: String,
        name: String,
        account: String,
        region: String,
    },
}

impl IntentRefusal {
    /// The dead-letter reason.
    pub fn reason_code(&self) -> &'static str {
        match self {
            IntentRefusal::Expired(_) => "intent-expired",
            _ => "intent-invalid",
        }
    }
}

/// Checks that an intent is self-consistent: what the guard could have stored, whatever the MAC
/// says. The MAC proves who wrote it; this proves it creates nothing but what was captured.
pub fn check(intent: &RecreateIntent, now: Timestamp) -> Result<(), IntentRefusal> {
    let stored: Timestamp = intent
        .id
        .parse()
        .map_err(|_| IntentRefusal::FromTheFuture(intent.id.clone()))?;
    if stored.duration_since(now) > jiff::SignedDuration::from_secs(CLOCK_SKEW.as_secs() as i64) {
        return Err(IntentRefusal::FromTheFuture(intent.id.clone()));
    }
    if now.duration_since(stored) > jiff::SignedDuration::from_secs(MAX_AGE.as_secs() as i64) {
        return Err(IntentRefusal::Expired(intent.id.clone()));
    }
    let expected_arn = format!(
        "arn:{}:sagemaker:{}:{}:notebook-instance/{}",
        intent.arn.split(':').nth(1).unwrap_or("aws"),
        intent.region,
        intent.account,
        intent.name.to_lowercase()
    );
    if !intent.arn.eq_ignore_ascii_case(&expected_arn) {
        return Err(IntentRefusal::ArnMismatch {
            arn: intent.arn.clone(),
            name: intent.name.clone(),
            account: intent.account.clone(),
            region: intent.region.clone(),
        });
    }
    match derive_spec(&intent.captured, &intent.fixes) {
        Ok(spec) if spec == intent.spec => {}
        Ok(_) => {
            return Err(IntentRefusal::SpecNotDerived(
                "a setting differs".to_string(),
            ))
        }
        Err(e) => return Err(IntentRefusal::SpecNotDerived(e.to_string())),
    }
    if intent.tags.get(RECREATED_AT_TAG) != Some(&intent.id) {
        return Err(IntentRefusal::Tags(format!(
            "lack {RECREATED_AT_TAG}={}",
            intent.id
        )));
    }
    if let Some(k) = [RESTART_TAG, RECREATE_AFTER_TAG, NONCOMPLIANT_TAG]
        .into_iter()
        .find(|k| intent.tags.contains_key(*k))
    {
        return Err(IntentRefusal::Tags(format!(
            "carry the guard's mark {k}, which a recreate never copies"
        )));
    }
    if intent.tags.len() > MAX_TAGS {
        return Err(IntentRefusal::Tags(format!(
            "are {}, more than the {MAX_TAGS} AWS allows",
            intent.tags.len()
        )));
    }
    Ok(())
}

/// Why a notebook could not be captured: nothing is deleted then.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("{0} was not read")]
    NotRead(&'static str),
    #[error("the notebook's {0} is unknown")]
    Unknown(&'static str),
    #[error("the plan creates nothing")]
    NothingToCreate,
    #[error("{0} is not a notebook's setting")]
    NotANotebookSetting(&'static str),
    #[error(
        "the new notebook would need {0} tags (its own and sagemaker-guard/recreated-at), more than the 50 AWS allows: remove a tag, or exempt it"
    )]
    TooManyTags(usize),
}

/// The most tags `CreateNotebookInstance` accepts.
pub const MAX_TAGS: usize = 50;

/// Captures a notebook for its recreate. Refuses (nothing is deleted then) when anything needed
/// to create it again was not read.
pub fn capture(
    a: &Assessment,
    plan: &Plan,
    policy: &str,
    now: Timestamp,
) -> Result<RecreateIntent, CaptureError> {
    let r = &a.resource;
    let nb = r
        .notebook()
        .ok_or(CaptureError::NotRead("the notebook's configuration"))?;
    let tags = r
        .tags
        .as_ref()
        .ok_or(CaptureError::NotRead("the notebook's tags"))?;
    let fixes = plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Create { settings } => Some(settings),
            _ => None,
        })
        .ok_or(CaptureError::NothingToCreate)?;
    let spec = derive_spec(nb, fixes)?;
    let id = now.to_string();
    let mut new_tags: BTreeMap<String, String> = tags
        .user_tags()
        .filter(|(k, _)| ![RESTART_TAG, RECREATE_AFTER_TAG, RECREATED_AT_TAG].contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The fix answers the marked controls; the next look marks again what still fails.
    new_tags.remove(NONCOMPLIANT_TAG);
    new_tags.insert(RECREATED_AT_TAG.to_string(), id.clone());
    // Checked before anything is deleted: a create that AWS would refuse must not follow a delete.
    if new_tags.len() > MAX_TAGS {
        return Err(CaptureError::TooManyTags(new_tags.len()));
    }
    let was_running = tags.contains_key(RESTART_TAG)
        || matches!(
            nb.status,
            Some(NotebookStatus::InService | NotebookStatus::Pending)
        );
    Ok(RecreateIntent {
        id,
        name: r.name.clone(),
        arn: r.arn.clone(),
        account: r.account.clone(),
        region: r.region.clone(),
        captured: nb.clone(),
        fixes: fixes.clone(),
        spec,
        tags: new_tags,
        was_running,
        controls: plan.controls.clone(),
        policy: policy.to_string(),
    })
}

/// What `CreateNotebookInstance` is given: the captured configuration, with the fixes. The one
/// way a spec is made, at capture and when an intent comes back from the queue.
pub fn derive_spec(nb: &NotebookInstance, fixes: &[Setting]) -> Result<NotebookSpec, CaptureError> {
    let mut spec = NotebookSpec {
        instance_type: nb
            .instance_type
            .clone()
            .ok_or(CaptureError::Unknown("instance type"))?,
        role_arn: nb.role_arn.clone().ok_or(CaptureError::Unknown("role"))?,
        subnet_id: nb.subnet_id.clone().filter(|s| !s.is_empty()),
        security_group_ids: nb.security_groups.clone(),
        kms_key_id: nb.kms_key_id.clone(),
        lifecycle_config_name: nb.lifecycle_config_name.clone(),
        direct_internet_access: nb.direct_internet_access.clone(),
        volume_size_in_gb: nb.volume_size_in_gb,
        accelerator_types: nb.accelerator_types.clone(),
        default_code_repository: nb.default_code_repository.clone(),
        additional_code_repositories: nb.additional_code_repositories.clone(),
        root_access: nb.root_access.clone(),
        platform_identifier: nb.platform_identifier.clone(),
        minimum_instance_metadata_service_version: nb.minimum_imds_version.clone(),
        ip_address_type: nb.ip_address_type.clone(),
    };
    for s in fixes {
        match s {
            Setting::DirectInternetAccess(v) => spec.direct_internet_access = Some(v.clone()),
            Setting::SubnetId(v) => spec.subnet_id = Some(v.clone()),
            Setting::SecurityGroupIds(groups) => spec.security_group_ids = groups.clone(),
            Setting::RootAccess(v) => spec.root_access = Some(v.clone()),
            Setting::PlatformIdentifier(v) => spec.platform_identifier = Some(v.clone()),
            Setting::InstanceType(v) => spec.instance_type = v.clone(),
            Setting::KmsKeyId(v) => spec.kms_key_id = Some(v.clone()),
            other => return Err(CaptureError::NotANotebookSetting(other.name())),
        }
    }
    Ok(spec)
}

/// What to do next for an intent, given the live notebook of its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntentStep {
    /// The notebook is gone: create it again.
    Create,
    /// A transition is under way (the delete, the create, a stop): look again later.
    Wait(String),
    /// The recreated notebook is running but the old one was stopped: stop it.
    Stop,
    /// Done: the intent can be settled.
    Fulfilled(String),
    /// The intent no longer applies (nothing was deleted, or somebody else created a notebook of
    /// that name): it is settled without doing anything.
    Obsolete(String),
}

/// The next step of an intent: a pure function of the intent, the live notebook (with its tags)
/// and the time.
pub fn next_step(
    intent: &RecreateIntent,
    live: Option<(&NotebookInstance, &Tags)>,
    now: Timestamp,
) -> IntentStep {
    let Some((nb, tags)) = live else {
        return IntentStep::Create;
    };
    let status = nb
        .status
        .clone()
        .unwrap_or(NotebookStatus::Unknown(String::new()));
    let ours = tags.get(RECREATED_AT_TAG) == Some(intent.id.as_str());
    if ours {
        return match status {
            NotebookStatus::Pending | NotebookStatus::Stopping | NotebookStatus::Updating => {
                IntentStep::Wait(format!("the new notebook is {}", status.as_str()))
            }
            NotebookStatus::InService if !intent.was_running => IntentStep::Stop,
            NotebookStatus::InService | NotebookStatus::Stopped => {
                IntentStep::Fulfilled(format!("recreated, now {}", status.as_str()))
            }
            NotebookStatus::Failed => IntentStep::Fulfilled(
                "recreated, but the new notebook Failed to start (its configuration is the old one's; look at its lifecycle configuration)".into(),
            ),
            other => IntentStep::Fulfilled(format!("recreated, now {}", other.as_str())),
        };
    }
    if status == NotebookStatus::Deleting {
        return IntentStep::Wait("the old notebook is being deleted".into());
    }
    let original = nb.creation_time == intent.captured.creation_time;
    if !original {
        return IntentStep::Obsolete(
            "a notebook of this name was created since, not by the guard: it is left alone".into(),
        );
    }
    let unchanged = NotebookInstance {
        status: None,
        ..nb.clone()
    } == NotebookInstance {
        status: None,
        ..intent.captured.clone()
    };
    if !unchanged {
        // Changed since the capture, so never deleted on the strength of this intent; a newer
        // look captures it afresh.
        return IntentStep::Obsolete(
            "the notebook changed since this intent captured it: the next look plans afresh".into(),
        );
    }
    let age = intent
        .id
        .parse::<Timestamp>()
        .map(|t| now.duration_since(t))
        .unwrap_or_default();
    if age > jiff::SignedDuration::from_secs(STALE_AFTER.as_secs() as i64) {
        IntentStep::Obsolete(
            "the notebook was never deleted (the guard stopped before its delete): the next look plans afresh".into(),
        )
    } else {
        IntentStep::Wait("the delete has not been seen yet".into())
    }
}

#[cfg(test)]
mod tests;
