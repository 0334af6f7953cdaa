//! The AWS edge: everything that calls AWS. Reads live in [`observe`]; every change (the fixes in
//! [`remediate`], [`recreate`], [`endpoint_config`], findings in [`finding`], events in
//! [`outcome`], intents in [`intent_store`]) passes the one gate, [`gate`]; clients are made from
//! [`config`], with timeouts.

pub mod accounts;
pub mod checks;
pub mod config;
pub mod endpoint_config;
pub mod error;
pub mod finding;
pub mod gate;
pub mod iam;
pub mod intent_key;
pub mod intent_store;
pub mod observe;
pub mod outcome;
pub mod reconfigure;
pub mod recreate;
pub mod remediate;
pub mod state_table;
