use super::*;

use crate::domain::evaluate::Status::{Failed, NotApplicable, Passed};
use crate::domain::resource::{InferenceDataStorage, OfflineStore, OnlineStore};
use crate::domain::testing::{assert_cases, Case};

const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn offline(kms_key_id: Option<&str>) -> FeatureGroup {
    FeatureGroup {
        offline_store: Some(OfflineStore {
            kms_key_id: kms_key_id.map(str::to_string),
        }),
        online_store: None,
    }
}

fn online(
    enabled: Option<bool>,
    storage_type: Option<&str>,
    kms_key_id: Option<&str>,
) -> FeatureGroup {
    FeatureGroup {
        offline_store: None,
        online_store: Some(OnlineStore {
            enabled,
            storage_type: storage_type.map(str::to_string),
            kms_key_id: kms_key_id.map(str::to_string),
        }),
    }
}

fn experiment(kms_key: Option<&str>, captured: Option<Option<&str>>) -> InferenceExperiment {
    InferenceExperiment {
        status: None,
        kms_key: kms_key.map(str::to_string),
        data_storage: captured.map(|k| InferenceDataStorage {
            kms_key: k.map(str::to_string),
        }),
    }
}

fn notebook(kms_key_id: Option<&str>) -> NotebookInstance {
    NotebookInstance {
        kms_key_id: kms_key_id.map(str::to_string),
        ..NotebookInstance::default()
    }
}

// ---------------------------------------------------------------------------------------------
// SageMaker.17: feature group offline store

#[test]
fn sagemaker17_offline_store_key() {
    assert_cases(
        feature_group_offline_store,
        &[
            Case {
                what: "offline store with a key",
                input: offline(Some(KEY)),
                status: Passed,
                reason: KEY,
            },
            Case {
                what: "offline store without a key",
                input: offline(None),
                status: Failed,
                reason: "no OfflineStoreConfig.S3StorageConfig.KmsKeyId",
            },
            Case {
                what: "offline store with an empty key: counts as unset",
                input: offline(Some("")),
                status: Failed,
                reason: "no OfflineStoreConfig.S3StorageConfig.KmsKeyId",
            },
            Case {
                what: "offline store with a blank key: counts as unset",
                input: offline(Some("  ")),
                status: Failed,
                reason: "KmsKeyId",
            },
            Case {
                what: "no offline store",
                input: online(Some(true), None, Some(KEY)),
                status: NotApplicable,
                reason: "no offline store",
            },
            Case {
                what: "no store at all",
                input: FeatureGroup::default(),
                status: NotApplicable,
                reason: "no offline store",
            },
            Case {
                what: "an online key does not stand in for the offline one",
                input: FeatureGroup {
                    offline_store: Some(OfflineStore { kms_key_id: None }),
                    ..online(Some(true), None, Some(KEY))
                },
                status: Failed,
                reason: "offline store",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.18: feature group online store (standard storage)

#[test]
fn sagemaker18_online_store_key() {
    assert_cases(
        feature_group_online_store,
        &[
            Case {
                what: "standard storage with a key",
                input: online(Some(true), Some("Standard"), Some(KEY)),
                status: Passed,
                reason: KEY,
            },
            Case {
                what: "standard storage without a key",
                input: online(Some(true), Some("Standard"), None),
                status: Failed,
                reason: "no OnlineStoreConfig.SecurityConfig.KmsKeyId",
            },
            Case {
                what: "StorageType absent means Standard: without a key",
                input: online(Some(true), None, None),
                status: Failed,
                reason: "(Standard storage)",
            },
            Case {
                what: "StorageType absent means Standard: with a key",
                input: online(Some(true), None, Some(KEY)),
                status: Passed,
                reason: KEY,
            },
            Case {
                what: "standard storage with an empty key: counts as unset",
                input: online(Some(true), Some("Standard"), Some("")),
                status: Failed,
                reason: "KmsKeyId",
            },
            Case {
                what: "in-memory storage without a key: outside the rule's scope",
                input: online(Some(true), Some("InMemory"), None),
                status: NotApplicable,
                reason: "StorageType is InMemory (the rule judges Standard storage)",
            },
            Case {
                what: "online store disabled",
                input: online(Some(false), Some("Standard"), None),
                status: NotApplicable,
                reason: "no online store",
            },
            Case {
                what: "EnableOnlineStore unset: AWS's default, disabled",
                input: online(None, None, None),
                status: NotApplicable,
                reason: "no online store",
            },
            Case {
                what: "no OnlineStoreConfig",
                input: offline(None),
                status: NotApplicable,
                reason: "no online store",
            },
            Case {
                what: "an offline key does not stand in for the online one",
                input: FeatureGroup {
                    offline_store: Some(OfflineStore {
                        kms_key_id: Some(KEY.into()),
                    }),
                    ..online(Some(true), None, None)
                },
                status: Failed,
                reason: "online store",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.21: notebook storage volume

#[test]
fn sagemaker21_notebook_volume_key() {
    assert_cases(
        notebook_volume,
        &[
            Case {
                what: "a key",
                input: notebook(Some(KEY)),
                status: Passed,
                reason: KEY,
            },
            Case {
                what: "no key",
                input: notebook(None),
                status: Failed,
                reason: "no KmsKeyId",
            },
            Case {
                what: "an empty key: counts as unset",
                input: notebook(Some("")),
                status: Failed,
                reason: "no KmsKeyId",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SageMaker.23 and .24: inference experiments

#[test]
fn sagemaker23_experiment_instance_storage_key() {
    assert_cases(
        inference_experiment_instances,
        &[
            Case {
                what: "a key",
                input: experiment(Some(KEY), None),
                status: Passed,
                reason: KEY,
            },
            Case {
                what: "no key",
                input: experiment(None, None),
                status: Failed,
                reason: "no KmsKey",
            },
            Case {
                what: "an empty key: counts as unset",
                input: experiment(Some(""), None),
                status: Failed,
                reason: "no KmsKey",
            },
            Case {
                what: "the captured data's key does not stand in for it",
                input: experiment(None, Some(Some(KEY))),
                status: Failed,
                reason: "storage volumes",
            },
        ],
    );
}

#[test]
fn sagemaker24_experiment_captured_data_key() {
    assert_cases(
        inference_experiment_captured_data,
        &[
            Case {
                what: "captures data with a key",
                input: experiment(None, Some(Some(KEY))),
                status: Passed,
                reason: KEY,
            },
            Case {
                what: "captures data without a key",
                input: experiment(Some(KEY), Some(None)),
                status: Failed,
                reason: "DataStorageConfig has no KmsKey",
            },
            Case {
                what: "captures data with an empty key: counts as unset",
                input: experiment(None, Some(Some(""))),
                status: Failed,
                reason: "DataStorageConfig has no KmsKey",
            },
            Case {
                what: "captures no data",
                input: experiment(None, None),
                status: NotApplicable,
                reason: "captures no data",
            },
        ],
    );
}
