//! One resource, judged: its verdicts and the plan that answers its failures.
//!
//! The pure heart shared by `audit`, `evaluate` and the reconciler: observed resource in,
//! verdicts and plan out.

use jiff::Timestamp;

use crate::domain::evaluate::{self, Status, Verdict};
use crate::domain::plan::{self, Plan};
use crate::domain::policy::Policy;
use crate::domain::resource::Observed;

#[derive(Clone, Debug)]
pub struct Assessment {
    pub resource: Observed,
    pub verdicts: Vec<Verdict>,
    pub plan: Option<Plan>,
}

impl Assessment {
    pub fn failed(&self) -> bool {
        self.verdicts.iter().any(|v| v.status == Status::Failed)
    }
}

/// Evaluates every enabled control on the resource and plans the response to its failures.
/// `force_dry_run` is the command's dry-run: an audit never changes anything.
pub fn assess(
    resource: Observed,
    policy: &Policy,
    now: Timestamp,
    force_dry_run: bool,
) -> Assessment {
    let verdicts = evaluate::evaluate(&resource, policy, now);
    let plan = plan::plan(&resource, &verdicts, policy, now, force_dry_run);
    Assessment {
        resource,
        verdicts,
        plan,
    }
}
