//! The AWS edge: everything that calls AWS. Reads live in [`observe`]; changes are made by the
//! fixes ([`remediate`], [`recreate`], [`endpoint_config`]) and by [`finding`].

pub mod config;
pub mod endpoint_config;
pub mod error;
pub mod finding;
pub mod gate;
pub mod iam;
pub mod intent_store;
pub mod observe;
pub mod outcome;
pub mod recreate;
pub mod remediate;
