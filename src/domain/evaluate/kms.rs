//! Data at rest encrypted with a KMS key the customer names: SageMaker.17 and .18 (feature
//! groups), .21 (notebook instances), .23 and .24 (inference experiments).
//!
//! A key that is absent, empty or blank counts as unset: an empty string names no key (the API's
//! length constraints allow it), and the rules for .21, .23 and .24 say "unset or empty".

use super::Judgement;
use crate::domain::resource::{FeatureGroup, InferenceExperiment, NotebookInstance};

/// SageMaker.17: the offline store's S3 storage is encrypted with a KMS key.
///
/// A feature group without an offline store is NOT_APPLICABLE: the rule judges the offline store's
/// S3 storage, and there is none to encrypt.
pub fn feature_group_offline_store(group: &FeatureGroup) -> Judgement {
    let Some(store) = &group.offline_store else {
        return Judgement::NotApplicable("the feature group has no offline store".into());
    };
    match key(store.kms_key_id.as_deref()) {
        Some(k) => Judgement::Passed(format!("the offline store is encrypted with KMS key {k}")),
        None => Judgement::Failed(
            "the offline store has no OfflineStoreConfig.S3StorageConfig.KmsKeyId".into(),
        ),
    }
}

/// SageMaker.18: an online store with standard storage is encrypted with a KMS key.
///
/// NOT_APPLICABLE when the group has no online store (no `OnlineStoreConfig`, or
/// `EnableOnlineStore` false or unset, AWS's default) and when its storage is `InMemory`: the rule
/// is scoped to standard storage ("for OnlineStore with standard storage"), and an absent
/// `StorageType` is `Standard`.
pub fn feature_group_online_store(group: &FeatureGroup) -> Judgement {
    let Some(store) = group
        .online_store
        .as_ref()
        .filter(|s| s.enabled == Some(true))
    else {
        return Judgement::NotApplicable("the feature group has no online store".into());
    };
    match store.storage_type.as_deref() {
        None | Some("Standard") => {}
        Some(other) => {
            return Judgement::NotApplicable(format!(
                "the online store's StorageType is {other} (the rule judges Standard storage)"
            ))
        }
    }
    match key(store.kms_key_id.as_deref()) {
        Some(k) => Judgement::Passed(format!("the online store is encrypted with KMS key {k}")),
        None => Judgement::Failed(
            "the online store (Standard storage) has no OnlineStoreConfig.SecurityConfig.KmsKeyId"
                .into(),
        ),
    }
}

/// SageMaker.21: the notebook's ML storage volume is encrypted with a KMS key.
pub fn notebook_volume(notebook: &NotebookInstance) -> Judgement {
    match key(notebook.kms_key_id.as_deref()) {
        Some(k) => Judgement::Passed(format!("the storage volume is encrypted with KMS key {k}")),
        None => Judgement::Failed("no KmsKeyId for the storage volume".into()),
    }
}

/// SageMaker.23: the storage volumes of the experiment's instances are encrypted with a KMS key.
pub fn inference_experiment_instances(experiment: &InferenceExperiment) -> Judgement {
    match key(experiment.kms_key.as_deref()) {
        Some(k) => Judgement::Passed(format!(
            "the instances' storage volumes are encrypted with KMS key {k}"
        )),
        None => Judgement::Failed("no KmsKey for the instances' storage volumes".into()),
    }
}

/// SageMaker.24: the data the experiment captures is encrypted with a KMS key.
///
/// An experiment that captures no data (no `DataStorageConfig`) is NOT_APPLICABLE: the rule judges
/// the captured data's storage, and there is none.
pub fn inference_experiment_captured_data(experiment: &InferenceExperiment) -> Judgement {
    let Some(storage) = &experiment.data_storage else {
        return Judgement::NotApplicable(
            "the experiment captures no data (no DataStorageConfig)".into(),
        );
    };
    match key(storage.kms_key.as_deref()) {
        Some(k) => Judgement::Passed(format!("captured data is encrypted with KMS key {k}")),
        None => Judgement::Failed("DataStorageConfig has no KmsKey for the captured data".into()),
    }
}

/// The key, unless it is absent, empty or blank.
fn key(k: Option<&str>) -> Option<&str> {
    k.filter(|k| !k.trim().is_empty())
}

#[cfg(test)]
mod tests;
