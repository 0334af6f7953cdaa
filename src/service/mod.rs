//! The `run` service: SQS intake, the work queue, the controller's reconcile, the periodic
//! resync, health and metrics.

pub mod controller;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod resync;
pub mod run;
pub mod runtime;
pub mod settlement;
pub mod workqueue;
