//! sagemaker-guard keeps Amazon SageMaker resources compliant with the AWS Security Hub controls
//! SageMaker.1 to SageMaker.25.
//!
//! The modules are layers; each uses only the ones above it in this list:
//!
//! - [`domain`]: the pure core. Resources, the control catalogue, the policy, event decoding,
//!   evaluation, planning, recreate intents, the guard's marks and execution outcomes: data in,
//!   data out, no AWS SDK and no tokio.
//! - [`aws`]: the edge. Reads, the one gate every mutating call passes, the fixes, findings,
//!   outcome events, the intent store and the IAM policy derived from the gate.
//! - [`converge`]: one look at one resource, judged and moved one safe step on; shared by
//!   `audit --apply` and the `run` service.
//! - [`service`]: the `run` service (intake, work queue, controller, resync, health, metrics).
//! - [`cli`]: the command line, its reports and tables.
//!
//! `docs/architecture.md` follows one message and one `audit --apply` through them.

pub mod aws;
pub mod cli;
pub mod converge;
pub mod domain;
pub mod service;
