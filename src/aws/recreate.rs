//! Stop-and-recreate of a notebook after its delete: the intent's steps carried out.
//!
//! What a recreate is and why it is crash-safe is in [`crate::domain::intent`]; up to the delete
//! the fix is `remediate`'s. Here, whichever replica holds the intent reads the
//! live notebook, asks [`next_step`] and performs that one step: create the notebook again from
//! the captured configuration, wait for a transition, stop it again if it was stopped before,
//! and finally say the intent is settled.

use std::time::Duration;

use aws_sdk_sagemaker::types::{
    DirectInternetAccess, InstanceMetadataServiceConfiguration, IpAddressType, RootAccess, Tag,
};
use jiff::Timestamp;

use crate::aws::error::{AwsError, ErrorKind};
use crate::aws::gate::{Effects, Mutation};
use crate::aws::observe::Observer;
use crate::domain::execution::{Execution, ExecutionResult};
use crate::domain::intent::{next_step, IntentStep, RecreateIntent};

/// The result of taking an intent's next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntentState {
    /// Look again after this long.
    Pending(Duration),
    /// Fulfilled or obsolete: settle it.
    Settled,
}

/// Reads the live notebook and takes the intent's next step.
pub async fn continue_intent(
    observer: &Observer,
    fx: &Effects<'_>,
    intent: &RecreateIntent,
) -> Result<(Execution, IntentState), AwsError> {
    let settle = fx.settle;
    let live = observer.notebook_with_tags(&intent.name).await?;
    let step = next_step(
        intent,
        live.as_ref().map(|(nb, tags)| (nb, tags)),
        Timestamp::now(),
    );
    let mut e = Execution::new(ExecutionResult::InProgress);
    let state = match step {
        IntentStep::Create => {
            match create(fx, intent).await {
                Ok(()) => {
                    e.result = ExecutionResult::Applied;
                    e.done.push(created(intent));
                }
                Err(err) if err.kind == ErrorKind::Conflict => {
                    e.notes
                        .push("a notebook of this name exists again: looking at it".into());
                }
                Err(err) => return Err(err),
            }
            IntentState::Pending(settle)
        }
        IntentStep::Wait(why) => {
            // A delete or create that outlasts the deadline is reported, and still followed.
            let started = intent.id.parse::<Timestamp>().ok();
            let deadline = jiff::SignedDuration::from_secs(
                crate::domain::execution::STUCK_AFTER.as_secs() as i64,
            );
            if started.is_some_and(|t| Timestamp::now().duration_since(t) > deadline) {
                e.result = ExecutionResult::Stuck;
                e.notes.push(format!(
                    "{why}, more than {} after the recreate began: the guard keeps waiting; look at it",
                    crate::domain::execution::for_people(crate::domain::execution::STUCK_AFTER)
                ));
            } else {
                e.notes.push(why);
            }
            IntentState::Pending(settle)
        }
        IntentStep::Stop => {
            fx.mutate(
                Mutation::StopNotebookInstance,
                &intent.account,
                &intent.region,
                fx.client
                    .stop_notebook_instance()
                    .notebook_instance_name(&intent.name)
                    .send(),
            )
            .await?;
            e.result = ExecutionResult::Applied;
            e.done
                .push("stop (it was stopped before the recreate)".into());
            IntentState::Pending(settle)
        }
        IntentStep::Fulfilled(note) => {
            e.result = ExecutionResult::Recreated;
            e.notes.push(note);
            IntentState::Settled
        }
        IntentStep::Obsolete(why) => {
            tracing::warn!(notebook = %intent.name, intent = %intent.id, why, "dropping a recreate intent");
            e.result = ExecutionResult::NothingToDo;
            e.notes.push(why);
            IntentState::Settled
        }
    };
    if let IntentState::Pending(d) = state {
        e.requeue_after = Some(d);
    }
    Ok((e, state))
}

/// What the create did, for the record: the settings that change the captured notebook (an
/// intent stored by an older guard may list fixes that change nothing).
fn created(intent: &RecreateIntent) -> String {
    let changed: Vec<String> = intent
        .fixes
        .iter()
        .filter(|s| s.changes(&intent.captured))
        .map(|s| format!("{}={}", s.name(), s.value()))
        .collect();
    if changed.is_empty() {
        format!("create {} as it was", intent.name)
    } else {
        format!(
            "create {} as it was, with {}",
            intent.name,
            changed.join(", ")
        )
    }
}

/// `CreateNotebookInstance` from an intent, with its tags.
async fn create(fx: &Effects<'_>, intent: &RecreateIntent) -> Result<(), AwsError> {
    let s = &intent.spec;
    let tags: Vec<Tag> = intent
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let mut req = fx
        .client
        .create_notebook_instance()
        .notebook_instance_name(&intent.name)
        .instance_type(s.instance_type.as_str().into())
        .role_arn(&s.role_arn)
        .set_subnet_id(s.subnet_id.clone())
        .set_security_group_ids(
            (!s.security_group_ids.is_empty()).then(|| s.security_group_ids.clone()),
        )
        .set_kms_key_id(s.kms_key_id.clone())
        .set_lifecycle_config_name(s.lifecycle_config_name.clone())
        .set_direct_internet_access(
            s.direct_internet_access
                .as_deref()
                .map(DirectInternetAccess::from),
        )
        .set_volume_size_in_gb(s.volume_size_in_gb)
        .set_accelerator_types((!s.accelerator_types.is_empty()).then(|| {
            s.accelerator_types
                .iter()
                .map(|a| a.as_str().into())
                .collect()
        }))
        .set_default_code_repository(s.default_code_repository.clone())
        .set_additional_code_repositories(
            (!s.additional_code_repositories.is_empty())
                .then(|| s.additional_code_repositories.clone()),
        )
        .set_root_access(s.root_access.as_deref().map(RootAccess::from))
        .set_platform_identifier(s.platform_identifier.clone())
        .set_ip_address_type(s.ip_address_type.as_deref().map(IpAddressType::from))
        .set_tags((!tags.is_empty()).then_some(tags));
    if let Some(v) = &s.minimum_instance_metadata_service_version {
        req = req.instance_metadata_service_configuration(
            InstanceMetadataServiceConfiguration::builder()
                .minimum_instance_metadata_service_version(v)
                .build(),
        );
    }
    fx.mutate(
        Mutation::CreateNotebookInstance,
        &intent.account,
        &intent.region,
        req.send(),
    )
    .await?;
    Ok(())
}
