//! One resource, judged: its verdicts and the plan that answers its failures.
//!
//! The pure heart shared by `audit`, `evaluate` and the reconciler: observed resource in,
//! verdicts and plan out.

use jiff::Timestamp;

use crate::domain::evaluate::{self, Status, Verdict};
use crate::domain::marks::RESTART_TAG;
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

    /// Whether there is anything to carry out: a plan, or a fix the guard began that still owes
    /// the notebook its start (the restart mark), even once the resource complies.
    pub fn has_work(&self) -> bool {
        self.plan.is_some()
            || self
                .resource
                .tags
                .as_ref()
                .is_some_and(|t| t.contains_key(RESTART_TAG))
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
