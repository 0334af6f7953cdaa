//! Reaching the organization's accounts: one AWS configuration per member account, whose
//! credentials come from STS `AssumeRole` into the account's role (with its external id, a
//! session name that says it is the guard, the regional STS endpoint). `aws-config`'s
//! `AssumeRoleProvider` makes the calls; the SDK's identity cache keeps the credentials and
//! refreshes them before they expire.

use std::collections::HashMap;

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::aws::error::AwsError;
use crate::domain::accounts::Accounts;

/// The session name the guard's assumed-role sessions carry (CloudTrail shows it).
pub const SESSION_NAME: &str = "sagemaker-guard";

/// Where the guard can act: its own account (the base configuration), and with an account list,
/// each member account through its role.
#[derive(Clone, Debug)]
pub struct Reach {
    base: SdkConfig,
    accounts: Option<Accounts>,
    configs: HashMap<String, SdkConfig>,
    /// Each account's role and external id.
    roles: HashMap<String, (String, Option<String>)>,
}

impl Reach {
    /// Only the account of the guard's own credentials.
    pub fn single(base: SdkConfig) -> Self {
        Reach {
            base,
            accounts: None,
            configs: HashMap::new(),
            roles: HashMap::new(),
        }
    }

    /// Every account of the list, through its role. Nothing is called yet: a role is assumed
    /// on the first call in its account.
    pub async fn new(base: SdkConfig, accounts: Accounts, partition: &str) -> Self {
        let mut configs = HashMap::new();
        let mut roles = HashMap::new();
        for account in accounts.iter() {
            roles.insert(
                account.account_id.clone(),
                (
                    accounts.role_arn(account, partition),
                    account.external_id.clone(),
                ),
            );
            let mut role = AssumeRoleProvider::builder(accounts.role_arn(account, partition))
                .session_name(SESSION_NAME)
                .configure(&base);
            if let Some(x) = &account.external_id {
                role = role.external_id(x);
            }
            let provider = role.build().await;
            let config = base
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
            configs.insert(account.account_id.clone(), config);
        }
        Reach {
            base,
            accounts: Some(accounts),
            configs,
            roles,
        }
    }

    /// From `--accounts FILE` and `--member-role`, or the policy's `spec.organization` (its
    /// `memberRole` wins over `--member-role`): the guard's own account alone without either. A
    /// file that cannot be read or is malformed, or a list given in both places, is an error
    /// that says which and why.
    pub async fn load(
        base: SdkConfig,
        accounts: Option<&std::path::Path>,
        member_role: &str,
        organization: Option<&crate::domain::policy::Organization>,
    ) -> Result<Reach, String> {
        let accounts = match (accounts, organization) {
            (Some(path), Some(_)) => {
                return Err(format!(
                    "the accounts are given twice: --accounts {} and the policy's spec.organization; keep one",
                    path.display()
                ))
            }
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("{}: cannot read the account list: {e}", path.display())
                })?;
                Accounts::parse(&path.display().to_string(), &text, member_role)
                    .map_err(|e| e.to_string())?
            }
            (None, Some(org)) => Accounts::from_list(
                org.accounts.clone(),
                org.member_role.as_deref().unwrap_or(member_role),
            )
            .map_err(|e| format!("the policy's spec.organization: {e}"))?,
            (None, None) => return Ok(Reach::single(base)),
        };
        let partition = crate::domain::accounts::partition_of(
            base.region().map(|r| r.as_ref()).unwrap_or("us-east-1"),
        );
        Ok(Reach::new(base, accounts, partition).await)
    }

    /// The guard's own configuration (its queue, its key, its event bus).
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    pub fn accounts(&self) -> Option<&Accounts> {
        self.accounts.as_ref()
    }

    /// The configuration that acts in `account`: with no account list, or no account named,
    /// the guard's own; with a list, the account's role, or `None` for an account not in it
    /// (the guard cannot act there).
    pub fn config(&self, account: Option<&str>) -> Option<&SdkConfig> {
        match (&self.accounts, account) {
            (None, _) | (Some(_), None) => Some(&self.base),
            (Some(_), Some(a)) => self.configs.get(a),
        }
    }

    /// Where to look, as (account, region): each region of `regions` in the guard's own account;
    /// with an account list, each account in the policy's scope in its own regions (those in
    /// scope), else in `regions`.
    pub fn targets(
        &self,
        policy: &crate::domain::policy::Policy,
        regions: &[String],
    ) -> Vec<(Option<String>, String)> {
        let Some(accounts) = &self.accounts else {
            return regions.iter().map(|r| (None, r.clone())).collect();
        };
        let mut out = Vec::new();
        for a in accounts
            .iter()
            .filter(|a| policy.scope.includes_account(&a.account_id))
        {
            let own = a.regions.iter().filter(|r| policy.scope.includes_region(r));
            let chosen: Vec<&String> = if a.regions.is_empty() {
                regions.iter().collect()
            } else {
                own.collect()
            };
            out.extend(
                chosen
                    .into_iter()
                    .map(|r| (Some(a.account_id.clone()), r.clone())),
            );
        }
        out
    }

    /// Assumes the account's role once, to say at once (and in AWS's own words) whether the
    /// account can be reached.
    pub async fn check(&self, account: &str) -> Result<(), AwsError> {
        let Some((role, external_id)) = self.roles.get(account) else {
            return Err(AwsError::refused(
                "STS",
                "AssumeRole",
                &format!("account {account} is not in the account list"),
            ));
        };
        aws_sdk_sts::Client::new(&self.base)
            .assume_role()
            .role_arn(role)
            .role_session_name(SESSION_NAME)
            .set_external_id(external_id.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AssumeRole", e))?;
        Ok(())
    }
}
