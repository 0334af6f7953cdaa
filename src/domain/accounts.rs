//! The accounts of an organization the guard acts in, and the role it assumes in each.
//!
//! The list has the shape Cloud Custodian's `c7n-org` users already keep in `accounts.yml`
//! (`accounts: [{account_id, name, regions, role, external_id, tags}]`), so the same file serves
//! both; keys the guard does not use (`vars`, ...) are accepted and ignored. An account without a
//! `role` gets the role template's (`--member-role`), by default
//! `arn:{partition}:iam::{account_id}:role/SageMakerGuardMember`. The policy's `scope` still
//! decides where the guard may act; this list only says how to reach each account.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The role the guard assumes in an account that names none.
pub const DEFAULT_ROLE_TEMPLATE: &str =
    "arn:{partition}:iam::{account_id}:role/SageMakerGuardMember";

/// One member account.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub account_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The regions to sweep in it; empty: the policy's scope, else the default region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The role to assume; none: the role template's.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

#[derive(Deserialize)]
struct File {
    accounts: Vec<AccountEntry>,
}

/// An entry as c7n-org's `accounts.yml` writes it, in a file (`--accounts`) or in the policy
/// (`spec.organization.accounts`): `account_id` may be a number in YAML; the keys the guard does
/// not use (`tags`, `vars`, ...) are accepted as they are.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[schemars(extend("additionalProperties" = {}))]
pub struct AccountEntry {
    /// The 12-digit account id, quoted.
    pub account_id: serde_json::Value,
    #[serde(default)]
    pub name: Option<String>,
    /// The regions to sweep in it; empty: the policy's scope, else the default region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The role to assume; none: the member role template's.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// Every account the guard may reach, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounts {
    by_id: BTreeMap<String, Account>,
    role_template: String,
}

/// Why an account list is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct AccountsError {
    pub file: String,
    pub message: String,
}

impl Accounts {
    /// Parses an account list (`file` names it in errors). Every account id must be 12 digits,
    /// and appear once.
    pub fn parse(file: &str, text: &str, role_template: &str) -> Result<Accounts, AccountsError> {
        let err = |message: String| AccountsError {
            file: file.to_string(),
            message,
        };
        let parsed: File = serde_saphyr::from_str(text).map_err(|e| {
            err(format!(
                "{e}; an account list is `accounts:` with entries of account_id, name, regions, role, external_id (the c7n-org format)"
            ))
        })?;
        let accounts = parsed
            .accounts
            .into_iter()
            .enumerate()
            .map(|(i, e)| account(e).map_err(|m| err(format!("accounts[{i}]: {m}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Accounts::from_list(accounts, role_template).map_err(err)
    }

    /// The accounts already checked one by one ([`account`]): each must appear once, and the
    /// role template must name the account.
    pub fn from_list(accounts: Vec<Account>, role_template: &str) -> Result<Accounts, String> {
        check_role_template(role_template)?;
        let mut by_id = BTreeMap::new();
        for account in accounts {
            let id = account.account_id.clone();
            if by_id.insert(id.clone(), account).is_some() {
                return Err(format!("account {id} appears twice"));
            }
        }
        Ok(Accounts {
            by_id,
            role_template: role_template.to_string(),
        })
    }

    pub fn get(&self, account_id: &str) -> Option<&Account> {
        self.by_id.get(account_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.by_id.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The role the guard assumes in `account`.
    pub fn role_arn(&self, account: &Account, partition: &str) -> String {
        account.role.clone().unwrap_or_else(|| {
            self.role_template
                .replace("{partition}", partition)
                .replace("{account_id}", &account.account_id)
        })
    }
}

/// Why a role template cannot be used, if it cannot.
pub fn check_role_template(role_template: &str) -> Result<(), String> {
    if role_template.contains("{account_id}") {
        Ok(())
    } else {
        Err(format!(
            "the member role template `{role_template}` has no {{account_id}}: every account would get one role"
        ))
    }
}

/// One account as written, checked: a 12-digit id, a role ARN, an external id of STS's length.
pub fn account(entry: AccountEntry) -> Result<Account, String> {
    let AccountEntry {
        account_id,
        name,
        regions,
        role,
        external_id,
    } = entry;
    let id = match &account_id {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => format!("{n:0>12}"),
        other => {
            return Err(format!(
                "account_id is {other}: write the 12-digit id in quotes"
            ))
        }
    };
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "account_id `{id}` is not a 12-digit AWS account id"
        ));
    }
    if let Some(role) = &role {
        if !role.starts_with("arn:") || !role.contains(":role/") {
            return Err(format!(
                "role `{role}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            ));
        }
    }
    if matches!(&external_id, Some(x) if x.len() < 2 || x.len() > 1224) {
        return Err("external_id must have 2 to 1224 characters (STS's limits)".to_string());
    }
    Ok(Account {
        account_id: id,
        name,
        regions,
        role,
        external_id,
    })
}

/// The partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud, else `aws`.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C7N_ORG: &str = r#"
accounts:
- account_id: "123456789012"
  name: dev
  regions: [us-east-1, eu-west-1]
  role: arn:aws:iam::123456789012:role/CustodianGuard
  external_id: ext-123
  tags: [type:dev, team:ml]
  vars: {owner: ana}
- account_id: 210987654321
  name: prod
"#;

    #[test]
    fn a_c7n_org_accounts_file_is_accepted_as_it_is() {
        let a = Accounts::parse("accounts.yml", C7N_ORG, DEFAULT_ROLE_TEMPLATE).unwrap();
        let dev = a.get("123456789012").unwrap();
        assert_eq!(dev.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(dev.external_id.as_deref(), Some("ext-123"));
        assert_eq!(
            a.role_arn(dev, "aws"),
            "arn:aws:iam::123456789012:role/CustodianGuard"
        );
        let prod = a.get("210987654321").unwrap();
        assert_eq!(
            a.role_arn(prod, "aws-cn"),
            "arn:aws-cn:iam::210987654321:role/SageMakerGuardMember",
            "the template, for an account that names no role"
        );
    }

    #[test]
    fn a_bad_account_id_or_role_is_refused_with_where_and_how() {
        for (text, says) in [
            ("accounts: [{account_id: \"12345\"}]", "not a 12-digit"),
            (
                "accounts: [{account_id: \"123456789012\", role: admin}]",
                "not a role ARN",
            ),
            (
                "accounts: [{account_id: \"123456789012\"}, {account_id: \"123456789012\"}]",
                "appears twice",
            ),
            (
                "accounts: [{account_id: \"123456789012\", external_id: x}]",
                "2 to 1224",
            ),
            ("account: []", "c7n-org format"),
        ] {
            let e = Accounts::parse("a.yml", text, DEFAULT_ROLE_TEMPLATE).unwrap_err();
            assert!(e.to_string().starts_with("a.yml: "), "{e}");
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_role_template_without_the_account_id_is_refused() {
        let e = Accounts::parse("a.yml", C7N_ORG, "arn:aws:iam::1:role/x").unwrap_err();
        assert!(e.message.contains("{account_id}"), "{e}");
    }
}
