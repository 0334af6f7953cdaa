//! The KMS HMAC key that signs recreate intents, and checks them when they come back.
//!
//! A recreate intent on the queue makes the guard create a notebook; anyone allowed
//! `sqs:SendMessage` on the queue could write one. So the guard follows only intents that carry a
//! MAC of its own key ([`IntentKey::verify`]): whoever may call `kms:GenerateMac` with that key is
//! whoever may start a recreate, and the key's policy says who that is (docs/security.md).
//! The MAC is always verified with the key the guard was configured with, never with a key the
//! message names.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;

use crate::aws::error::AwsError;
use crate::domain::intent::{IntentSignature, RecreateIntent, SignedIntent, MAC_ALGORITHM};

/// The key the guard signs and verifies recreate intents with (`--intent-key-id`).
#[derive(Clone, Debug)]
pub struct IntentKey {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

/// What checking an intent's MAC found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    Valid,
    /// Not signed by the guard's key: refused, and why.
    Invalid(String),
}

impl IntentKey {
    /// The key `key_id` (an id, an alias or an ARN) reached through `config`; a key ARN's own
    /// region is used, whatever the configuration's region. `interceptor` is added to the KMS
    /// client (the service counts AWS calls with it).
    pub fn new(
        config: &aws_config::SdkConfig,
        key_id: &str,
        interceptor: Option<SharedInterceptor>,
    ) -> Self {
        let mut kms = aws_sdk_kms::config::Builder::from(config);
        if let Some(i) = interceptor {
            kms.push_interceptor(i);
        }
        if let Some(region) = key_id
            .strip_prefix("arn:")
            .and_then(|rest| rest.split(':').nth(2))
            .filter(|r| !r.is_empty())
        {
            kms = kms.region(aws_config::Region::new(region.to_string()));
        }
        IntentKey {
            kms: aws_sdk_kms::Client::from_conf(kms.build()),
            key_id: key_id.to_string(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `GenerateMac` over the intent's digest.
    pub async fn sign(&self, intent: &RecreateIntent) -> Result<IntentSignature, AwsError> {
        let out = self
            .kms
            .generate_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(intent.digest().to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GenerateMac", e))?;
        let mac = out.mac().ok_or_else(|| {
            AwsError::invalid_answer("KMS", "GenerateMac", "no Mac in the answer".into())
        })?;
        Ok(IntentSignature {
            key_id: out.key_id().unwrap_or(&self.key_id).to_string(),
            algorithm: MAC_ALGORITHM.to_string(),
            mac: aws_smithy_types::base64::encode(mac.as_ref()),
        })
    }

    /// `VerifyMac` of the intent's MAC with the guard's own key. An error of the call (KMS
    /// unreachable, throttled, not allowed) is an `Err`: the message is looked at again later,
    /// not dead-lettered for a fault of the guard's.
    pub async fn verify(&self, signed: &SignedIntent) -> Result<Verification, AwsError> {
        let Some(signature) = &signed.signature else {
            return Ok(Verification::Invalid("it carries no MAC".into()));
        };
        if signature.algorithm != MAC_ALGORITHM {
            return Ok(Verification::Invalid(format!(
                "its MAC algorithm is `{}`, not {MAC_ALGORITHM}",
                signature.algorithm
            )));
        }
        let Ok(mac) = aws_smithy_types::base64::decode(&signature.mac) else {
            return Ok(Verification::Invalid("its MAC is not base64".into()));
        };
        if mac.is_empty() {
            return Ok(Verification::Invalid("its MAC is empty".into()));
        }
        let answer = self
            .kms
            .verify_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(signed.intent.digest().to_vec()))
            .mac(Blob::new(mac))
            .send()
            .await;
        match answer {
            Ok(out) if out.mac_valid() => Ok(Verification::Valid),
            Ok(_) => Ok(Verification::Invalid(
                "its MAC is not one of the guard's key".into(),
            )),
            Err(e) => {
                let e = AwsError::from_sdk("VerifyMac", e);
                // KMS answers an invalid MAC with this error.
                if e.code == "KMSInvalidMacException" {
                    Ok(Verification::Invalid(
                        "its MAC is not one of the guard's key".into(),
                    ))
                } else {
                    Err(e)
                }
            }
        }
    }
}

impl IntentKey {
    /// Checks at start that the key exists, is enabled and is an HMAC key, so that a wrong
    /// `--intent-key-id` is said at once, not at the first recreate.
    pub async fn check(&self) -> Result<(), AwsError> {
        let out = self
            .kms
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeKey", e))?;
        let Some(meta) = out.key_metadata() else {
            return Err(AwsError::invalid_answer(
                "KMS",
                "DescribeKey",
                "no KeyMetadata in the answer".into(),
            ));
        };
        let usage = meta.key_usage().map(|u| u.as_str()).unwrap_or("unknown");
        if usage != "GENERATE_VERIFY_MAC" {
            return Err(AwsError::invalid_answer(
                "KMS",
                "DescribeKey",
                format!(
                    "the intent key {} is for {usage}, not GENERATE_VERIFY_MAC: create an HMAC_256 key (docs/operations.md)",
                    self.key_id
                ),
            ));
        }
        if !meta.enabled() {
            return Err(AwsError::invalid_answer(
                "KMS",
                "DescribeKey",
                format!("the intent key {} is disabled", self.key_id),
            ));
        }
        Ok(())
    }
}
