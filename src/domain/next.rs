//! The next step of a plan, decided from the live resource alone: a pure function, so that
//! carrying a plan out is a resumable state machine rather than a script.
//!
//! The plan is recomputed from a fresh read on every look, and [`next_step`] says which one
//! thing to do now. The executor (the AWS edge) performs it, applies its effect to its copy of
//! the resource ([`Observed`]), and asks again, until the answer is to wait or there is nothing
//! left. No task sleeps through a transition, and a crash at any point leaves something the next
//! look continues from:
//!
//! - tags first: add missing tags, remove the guard's marks that no longer apply; done when the
//!   live tags say so;
//! - in-place fix (SageMaker.3, .8): InService -> mark `sagemaker-guard/restart` and stop;
//!   Pending, Stopping, Updating -> wait; Stopped -> one update with every fix; then, once it
//!   complies (no plan asks for an update any more), a notebook carrying the restart mark is
//!   started and unmarked;
//! - stop-and-recreate (SageMaker.1, .2): after the grace period, and with `onlyWhenStopped`
//!   only once its users stopped it: InService -> mark and stop; Stopped or Failed -> capture,
//!   store the intent, delete; the intent drives the rest ([`crate::domain::intent`]);
//! - replacement endpoint config (SageMaker.4): one idempotent step;
//! - update of a monitoring schedule (SageMaker.14, .22) or an inference experiment (.24): one
//!   call, which the next look finds done.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::marks::RESTART_TAG;
use crate::domain::plan::{Plan, PlanKind, Setting, Step};
use crate::domain::resource::{NotebookStatus, Observed};

/// What the executor can do besides calling SageMaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// A durable store for recreate intents: without one, no notebook is stopped for a recreate,
    /// let alone deleted.
    pub intent_store: bool,
    /// A key to sign recreate intents with: without one, no recreate starts either.
    pub intent_key: bool,
}

/// The one thing to do now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "next", rename_all = "kebab-case")]
pub enum NextStep {
    /// Dry-run: nothing is done.
    DryRun,
    /// Add tags that are missing or differ.
    AddTags { tags: BTreeMap<String, String> },
    /// Remove tags that are present.
    RemoveTags { keys: Vec<String> },
    /// Mark the running notebook to be started again, then stop it. `starts_fix`: this begins a
    /// fix, which the blast radius counts (resuming one does not).
    StopForFix { starts_fix: bool },
    /// One `UpdateNotebookInstance` with every in-place fix (the notebook is stopped).
    Update {
        settings: Vec<Setting>,
        starts_fix: bool,
    },
    /// Start the notebook the guard stopped for a fix that is now done.
    Start,
    /// Capture the notebook, store the intent, then delete it.
    CaptureAndDelete { starts_fix: bool },
    /// One update call of a monitoring schedule or an inference experiment with these settings.
    Reconfigure { settings: Vec<Setting> },
    /// Create the replacement endpoint config and move every endpoint onto it (idempotent).
    ReplaceEndpointConfig { name: String, instance_count: i32 },
    /// A transition is under way: look again. `since` is when the guard stopped the notebook.
    WaitForTransition {
        status: String,
        since: Option<Timestamp>,
    },
    /// A recreate is scheduled for after the grace period.
    WaitUntil { time: Timestamp },
    /// A recreate waits for the notebook's users to stop it (`onlyWhenStopped`).
    WaitForUserStop,
    /// Cannot go on from here; nothing is changed. The reason is for people; `unsupported`: the
    /// guard cannot do this fix as it runs (rather than: not in this state).
    Refuse { reason: String, unsupported: bool },
    /// The restart mark of a notebook that cannot be started again: remove it, and say so.
    GiveUpRestart { reason: String },
    /// Nothing left to do.
    Done,
}

/// The next step of `plan` (none: the resource complies) for the live resource at `now`.
pub fn next_step(
    plan: Option<&Plan>,
    live: &Observed,
    now: Timestamp,
    can: Capabilities,
) -> NextStep {
    let tags = live.tags.as_ref();
    let restart_pending = tags.is_some_and(|t| t.contains_key(RESTART_TAG));
    let status = live.notebook().and_then(|nb| nb.status.clone());
    let Some(plan) = plan else {
        return if restart_pending {
            restore_running_state(status.as_ref())
        } else {
            NextStep::Done
        };
    };
    if plan.dry_run {
        return NextStep::DryRun;
    }
    // Tags first: cheap, and never destructive.
    for step in &plan.steps {
        match step {
            Step::AddTags { tags: wanted } => {
                let missing: BTreeMap<String, String> = wanted
                    .iter()
                    .filter(|(k, v)| tags.and_then(|t| t.get(k)) != Some(v.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !missing.is_empty() {
                    return NextStep::AddTags { tags: missing };
                }
            }
            Step::RemoveTags { keys } => {
                let present: Vec<String> = keys
                    .iter()
                    .filter(|k| tags.is_some_and(|t| t.contains_key(k)))
                    .cloned()
                    .collect();
                if !present.is_empty() {
                    return NextStep::RemoveTags { keys: present };
                }
            }
            _ => {}
        }
    }
    let starts_fix = !restart_pending;
    let since = tags
        .and_then(|t| t.get(RESTART_TAG))
        .and_then(|v| v.parse::<Timestamp>().ok());
    match plan.kind {
        PlanKind::UpdateInPlace => {
            let Some(settings) = plan.steps.iter().find_map(|s| match s {
                Step::Update { settings } => Some(settings.clone()),
                _ => None,
            }) else {
                return NextStep::Done;
            };
            if let Some(s) = settings.iter().find(|s| !s.updatable_in_place()) {
                return NextStep::Refuse {
                    reason: format!("{} cannot be updated in place: nothing changed", s.name()),
                    unsupported: false,
                };
            }
            match status {
                None => unknown_status(),
                Some(NotebookStatus::InService) => NextStep::StopForFix { starts_fix },
                Some(
                    s @ (NotebookStatus::Pending
                    | NotebookStatus::Stopping
                    | NotebookStatus::Updating),
                ) => NextStep::WaitForTransition {
                    status: s.as_str().to_string(),
                    since,
                },
                Some(NotebookStatus::Stopped) => NextStep::Update {
                    settings,
                    starts_fix,
                },
                Some(other) => NextStep::Refuse {
                    reason: format!("the notebook is {}: nothing changed", other.as_str()),
                    unsupported: false,
                },
            }
        }
        PlanKind::Recreate => {
            let Some(status) = status else {
                return unknown_status();
            };
            for step in &plan.steps {
                match step {
                    Step::WaitUntil { time } if now < *time => {
                        return NextStep::WaitUntil { time: *time }
                    }
                    Step::WaitForUserStop
                        if !matches!(status, NotebookStatus::Stopped | NotebookStatus::Failed)
                            && !restart_pending =>
                    {
                        return NextStep::WaitForUserStop
                    }
                    _ => {}
                }
            }
            // Checked before anything is stopped: without a store, the notebook is not touched.
            if !can.intent_store {
                return NextStep::Refuse {
                    reason: "a recreate needs a durable store for the notebook's configuration: run the service, or pass --intent-queue-url; nothing changed".into(),
                    unsupported: true,
                };
            }
            if !can.intent_key {
                return NextStep::Refuse {
                    reason: "a recreate needs a KMS HMAC key to sign its intent: pass --intent-key-id (environment SAGEMAKER_GUARD_INTENT_KEY_ID); nothing changed".into(),
                    unsupported: true,
                };
            }
            match status {
                NotebookStatus::InService => NextStep::StopForFix { starts_fix },
                NotebookStatus::Pending | NotebookStatus::Stopping | NotebookStatus::Updating => {
                    NextStep::WaitForTransition {
                        status: status.as_str().to_string(),
                        since,
                    }
                }
                NotebookStatus::Stopped | NotebookStatus::Failed => {
                    NextStep::CaptureAndDelete { starts_fix }
                }
                other => NextStep::Refuse {
                    reason: format!("the notebook is {}: nothing changed", other.as_str()),
                    unsupported: false,
                },
            }
        }
        // Idempotent, and judged afresh by the next look: a schedule or experiment that
        // complies has no plan any more.
        PlanKind::Update => {
            // AWS refuses the update while the schedule is being created or updated, and the
            // experiment's until it is Created or Running: wait for the transition to end.
            if let Some(status) = live.transition() {
                return NextStep::WaitForTransition {
                    status: status.to_string(),
                    since: None,
                };
            }
            plan.steps
                .iter()
                .find_map(|s| match s {
                    Step::Update { settings } => Some(NextStep::Reconfigure {
                        settings: settings.clone(),
                    }),
                    _ => None,
                })
                .unwrap_or(NextStep::Done)
        }
        PlanKind::ReplaceEndpointConfig => plan
            .steps
            .iter()
            .find_map(|s| match s {
                Step::CreateEndpointConfig {
                    name,
                    instance_count,
                    ..
                } => Some(NextStep::ReplaceEndpointConfig {
                    name: name.clone(),
                    instance_count: *instance_count,
                }),
                _ => None,
            })
            .unwrap_or(NextStep::Done),
        // A fix that is no longer asked for (it complies now) still owes the notebook its start.
        PlanKind::None | PlanKind::Finding | PlanKind::Tag if restart_pending => {
            restore_running_state(status.as_ref())
        }
        PlanKind::None | PlanKind::Finding | PlanKind::Tag => NextStep::Done,
    }
}

fn unknown_status() -> NextStep {
    NextStep::Refuse {
        reason: "the notebook's status is unknown: nothing changed".into(),
        unsupported: false,
    }
}

/// After an in-place fix: start a notebook the guard stopped, then drop the mark.
fn restore_running_state(status: Option<&NotebookStatus>) -> NextStep {
    match status {
        Some(NotebookStatus::Stopped) => NextStep::Start,
        Some(NotebookStatus::InService) => NextStep::RemoveTags {
            keys: vec![RESTART_TAG.to_string()],
        },
        Some(NotebookStatus::Failed) | Some(NotebookStatus::Deleting) | None => {
            NextStep::GiveUpRestart {
                reason: "the notebook cannot be started again; its owner must look".into(),
            }
        }
        Some(other) => NextStep::WaitForTransition {
            status: other.as_str().to_string(),
            since: None,
        },
    }
}

#[cfg(test)]
mod tests;
