//! What carrying a plan out did on one look: the outcome the report, the logs, the metrics, the
//! findings and the outcome events all describe.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::domain::intent::RecreateIntent;

/// How soon a notebook in a transition is looked at again, unless configured otherwise.
pub const SETTLE_DELAY: Duration = Duration::from_secs(15);

/// A fix whose notebook is still in a transition this long after the guard stopped it (or a
/// recreate this long after it began) is reported `stuck` (notebooks have been seen in Stopping
/// for hours). It is still looked at again.
pub const STUCK_AFTER: Duration = Duration::from_secs(30 * 60);

/// The outcome of one look, strongest last where several apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionResult {
    /// Nothing was left to do.
    NothingToDo,
    /// Dry-run: the plan was printed, nothing changed.
    DryRun,
    /// Waiting for a transition (a stop, an update, a delete) to end.
    InProgress,
    /// Something changed.
    Applied,
    /// A recreate finished.
    Recreated,
    /// Marked for a recreate after the grace period.
    Scheduled,
    /// A recreate waits for its users to stop the notebook (`onlyWhenStopped`).
    Deferred,
    /// Over `maxRemediationsPerHour`: a finding instead.
    RateLimited,
    /// A step the guard cannot carry out here: nothing changed.
    Unsupported,
    /// A transition outlasted [`STUCK_AFTER`]: reported, and still looked at again.
    Stuck,
    /// An AWS call failed.
    Error,
}

impl ExecutionResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionResult::NothingToDo => "nothing-to-do",
            ExecutionResult::DryRun => "dry-run",
            ExecutionResult::InProgress => "in-progress",
            ExecutionResult::Applied => "applied",
            ExecutionResult::Recreated => "recreated",
            ExecutionResult::Scheduled => "scheduled",
            ExecutionResult::Deferred => "deferred",
            ExecutionResult::RateLimited => "rate-limited",
            ExecutionResult::Unsupported => "unsupported",
            ExecutionResult::Stuck => "stuck",
            ExecutionResult::Error => "error",
        }
    }

    /// The detail-type of the outcome event published for it, if one is.
    pub fn event_detail_type(self) -> Option<&'static str> {
        Some(match self {
            ExecutionResult::Applied => "Remediation Applied",
            ExecutionResult::RateLimited => "Remediation Rate Limited",
            ExecutionResult::Unsupported => "Remediation Unsupported",
            ExecutionResult::Stuck => "Remediation Stuck",
            ExecutionResult::Scheduled => "Remediation Scheduled",
            ExecutionResult::Deferred => "Remediation Deferred",
            ExecutionResult::Recreated => "Remediation Completed",
            _ => return None,
        })
    }

    /// Whether the guard waits for something other than a transition (a grace period, a user's
    /// stop, an operator): a one-off `--apply` does not wait for that.
    pub fn waits_for_someone(self) -> bool {
        matches!(
            self,
            ExecutionResult::Stuck | ExecutionResult::Scheduled | ExecutionResult::Deferred
        )
    }
}

impl fmt::Display for ExecutionResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What carrying a plan out did this time.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub result: ExecutionResult,
    /// What was done, in the plan's words.
    pub done: Vec<String>,
    /// Look again after this long (a transition is under way).
    #[serde(skip_serializing_if = "Option::is_none", with = "humantime_opt")]
    pub requeue_after: Option<Duration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The recreate intent stored before a delete; whoever holds it finishes the recreate.
    #[serde(skip)]
    pub intent: Option<Box<RecreateIntent>>,
}

mod humantime_opt {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&super::for_people(*d)),
            None => s.serialize_none(),
        }
    }
}

/// A duration as people read it: `15s`, `2m 30s`, `3days`; never `2days 23h 59m 57s 823ms
/// 284us 810ns`. Under a second in milliseconds, under an hour in whole seconds, else in whole
/// minutes.
pub fn for_people(d: Duration) -> String {
    let rounded = if d < Duration::from_secs(1) {
        Duration::from_millis(d.as_millis() as u64)
    } else if d < Duration::from_secs(3600) {
        Duration::from_secs(d.as_secs() + u64::from(d.subsec_millis() >= 500))
    } else {
        Duration::from_secs((d.as_secs() + 30) / 60 * 60)
    };
    humantime::format_duration(rounded).to_string()
}

impl Execution {
    pub fn new(result: ExecutionResult) -> Self {
        Execution {
            result,
            done: Vec::new(),
            requeue_after: None,
            notes: Vec::new(),
            intent: None,
        }
    }

    /// Raises the result to `to` unless something stronger was already said: a look that only
    /// waited becomes `to`, one that also changed something stays `applied` unless `to` is a
    /// schedule, a deferral or a refusal.
    pub fn settle_on(&mut self, to: ExecutionResult) {
        if self.result == ExecutionResult::NothingToDo {
            self.result = to;
        }
    }

    /// The finding's outcome line: the result and what was done.
    pub fn summary(&self) -> String {
        format!("{}: {}", self.result, self.done.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_rounded_for_people() {
        for (d, said) in [
            (Duration::from_millis(200), "200ms"),
            (Duration::from_millis(15_400), "15s"),
            (Duration::from_millis(89_600), "1m 30s"),
            (Duration::from_secs(1800), "30m"),
            (Duration::new(3 * 86_400 - 3, 823_284_810), "3days"),
            (Duration::from_secs(3 * 3600 + 20 * 60 + 10), "3h 20m"),
        ] {
            assert_eq!(for_people(d), said, "{d:?}");
        }
    }

    #[test]
    fn requeue_after_is_written_rounded() {
        let mut e = Execution::new(ExecutionResult::Scheduled);
        e.requeue_after = Some(Duration::new(259_197, 823_284_810));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["requeueAfter"], "3days");
    }
}
