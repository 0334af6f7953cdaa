//! The integration tests: one binary, so the test helpers and the AWS SDK are compiled once and
//! every test runs in parallel with the others on one emulator. A test fails by its name
//! (`cargo test --test it recreate::grace_period`), and `cargo test --test it remediate::` runs one
//! area.
//!
//! Tests stay apart by account: each takes its own from [`common::account`], and whatever it
//! changes in the emulator (transition time, faults) it changes for that account only.

mod common;

mod audit;
mod converge;
mod deploy;
mod docs;
mod findings;
mod iam;
mod intents;
mod monitoring;
mod names;
mod notebook_key;
mod org;
mod policy;
mod recreate;
mod remediate;
mod replicas;
mod report;
mod run;
mod run_faults;
mod settlement;
