//! KMS keys as the AWS APIs take a `KeyId`: a key ARN, a key id, an alias or an alias ARN.
//!
//! The key that signs recreate intents (`--intent-key-id`) and the keys a policy gives recreated
//! notebooks (`spec.remediation.kmsKeys`, SageMaker.21) are written the same way, and checked the
//! same way before anything is done with them.

/// A KMS key, as `KeyId` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsKey {
    /// `arn:aws:kms:us-east-1:123456789012:key/1234abcd-...`: exactly that key.
    Arn(String),
    /// `1234abcd-...` (or `mrk-...`): the key of that id in the account and region it is used in.
    Id(String),
    /// `alias/name`, or an alias ARN (which also names the account and region): IAM cannot name a
    /// key by its alias, so any key that carries the alias (`kms:ResourceAliases`).
    Alias {
        name: String,
        /// (partition, region, account), from an alias ARN.
        at: Option<(String, String, String)>,
    },
}

impl KmsKey {
    /// A key ARN, a key id, `alias/<name>` or an alias ARN, as KMS takes a `KeyId`.
    pub fn parse(s: &str) -> Result<KmsKey, String> {
        let bad = || {
            format!(
                "`{s}` is not a KMS key: give its ARN (arn:aws:kms:us-east-1:123456789012:key/<id>), its id, \
                 an alias (alias/<name>) or an alias ARN"
            )
        };
        if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, "kms", region, account, resource] = parts[..] else {
                return Err(bad());
            };
            if !(is_partition(partition) && is_region(region) && is_account(account)) {
                return Err(bad());
            }
            if resource.strip_prefix("key/").is_some_and(is_key_id) {
                return Ok(KmsKey::Arn(s.to_string()));
            }
            return match resource.strip_prefix("alias/").filter(|a| is_alias(a)) {
                Some(alias) => Ok(KmsKey::Alias {
                    name: format!("alias/{alias}"),
                    at: Some((partition.into(), region.into(), account.into())),
                }),
                None => Err(bad()),
            };
        }
        if let Some(alias) = s.strip_prefix("alias/") {
            return if is_alias(alias) {
                Ok(KmsKey::Alias {
                    name: s.to_string(),
                    at: None,
                })
            } else {
                Err(bad())
            };
        }
        if is_key_id(s) {
            Ok(KmsKey::Id(s.to_string()))
        } else {
            Err(bad())
        }
    }
}

/// A 12-digit account id.
pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `us-east-1`, `cn-north-1`, `us-gov-west-1`: lower-case words and a number, with dashes.
pub fn is_region(s: &str) -> bool {
    s.len() <= 32
        && s.contains('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

/// `aws`, `aws-cn`, `aws-us-gov`, ...
pub fn is_partition(s: &str) -> bool {
    s == "aws"
        || s.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A key id: a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`), or `mrk-` and 32 hex digits for
/// a multi-Region key.
fn is_key_id(s: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(id) = s.strip_prefix("mrk-") {
        return id.len() == 32 && hex(id);
    }
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| hex(g))
}

fn is_alias(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 250
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
}
