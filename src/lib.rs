//! sagemaker-guard keeps Amazon SageMaker resources compliant with the AWS Security Hub controls
//! SageMaker.1 to SageMaker.8.
//!
//! Data flows one way: message -> [`event`] (which resource) -> [`observe`] (the live resource)
//! -> [`evaluate`] (verdicts) -> [`plan`] (what to do) -> effects. Decoding, evaluation and
//! planning are pure functions over plain data; AWS is read from [`observe`] and changed only from
//! [`remediate`], [`recreate`], [`endpoint_config`] and [`finding`].

pub mod assess;
pub mod audit;
pub mod catalogue;
pub mod cli;
pub mod controller;
pub mod endpoint_config;
pub mod evaluate;
pub mod event;
pub mod finding;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod recreate;
pub mod remediate;
pub mod report;
pub mod resource;
pub mod resync;
pub mod run;
#[cfg(test)]
mod testing;
pub mod workqueue;
