//! The gate every mutating AWS call passes: it knows the call's IAM action and spaces calls per
//! account and region; the blast radius counts the fixes started per account and hour.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use std::future::Future;

use aws_sdk_sagemaker::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use jiff::Timestamp;

use crate::aws::error::AwsError;
use crate::aws::intent_store::IntentQueue;
pub use crate::domain::mutation::Mutation;

/// Spaces mutating calls per account and region, so that fixing many resources at once never
/// crowds out the account's own use of the API. Shared by every fix of a process.
#[derive(Default)]
struct Pacer(Mutex<HashMap<(String, String), tokio::time::Instant>>);

impl Pacer {
    /// Waits for the next free slot of `account` in `region`, at `per_second` calls a second.
    pub async fn wait(&self, account: &str, region: &str, per_second: u32) {
        let interval = Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)));
        let slot = {
            let mut next = self.0.lock().expect("the pacer lock is never poisoned");
            let now = tokio::time::Instant::now();
            let free = next
                .entry((account.to_string(), region.to_string()))
                .or_insert(now);
            let slot = (*free).max(now);
            *free = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// What every fix of a process (a `run` service, one `--apply` command) shares: the pacing of
/// mutating calls and the blast radius.
#[derive(Default)]
pub struct Gate {
    pacer: Pacer,
    blast_radius: BlastRadius,
    /// Shared with the other replicas (`--state-table`): the blast radius counted there.
    state: Option<crate::aws::state_table::StateTable>,
}

impl Gate {
    /// A gate whose blast radius all replicas with the same table share.
    pub fn shared(state: crate::aws::state_table::StateTable) -> Self {
        Gate {
            state: Some(state),
            ..Gate::default()
        }
    }

    /// The shared state, when replicas share one.
    pub fn state(&self) -> Option<&crate::aws::state_table::StateTable> {
        self.state.as_ref()
    }
}

/// One look's way to change AWS: every mutating call goes through [`Effects::mutate`], which
/// knows the call's IAM action ([`Mutation`]), refuses it in dry-run and paces it; a fix that
/// starts asks [`Effects::admit_fix`] (the blast radius) first.
#[derive(Clone, Copy)]
pub struct Effects<'a> {
    pub gate: &'a Gate,
    /// The SageMaker client of the resource's region.
    pub client: &'a Client,
    /// The KMS client of the resource's account and region: a recreate that gives a notebook a
    /// KMS key (SageMaker.21) checks the key with it before anything is stopped or deleted.
    pub kms: Option<&'a aws_sdk_kms::Client>,
    /// How soon a resource in a transition is looked at again.
    pub settle: Duration,
    /// Where a recreate's captured configuration is stored before the delete; without one, no
    /// recreate is done.
    pub intents: Option<&'a IntentQueue>,
    /// The guard policy's name, recorded in intents.
    pub policy: &'a str,
    /// Mutating calls per second per account and region (`mutationsPerSecond`).
    pub mutations_per_second: u32,
    /// Fixes started per account and hour (`maxRemediationsPerHour`).
    pub max_remediations_per_hour: u32,
    /// Nothing may change: every mutation is refused.
    pub dry_run: bool,
}

impl Effects<'_> {
    /// Whether a new fix of a resource of `account` may start now; counts it if so. With a
    /// state table the count is every replica's; a table that cannot be asked admits nothing.
    pub async fn admit_fix(&self, account: &str) -> Result<bool, AwsError> {
        match &self.gate.state {
            Some(table) => {
                table
                    .take_budget(account, self.max_remediations_per_hour, Timestamp::now())
                    .await
            }
            None => Ok(self.gate.blast_radius.allow(
                account,
                self.max_remediations_per_hour,
                Timestamp::now(),
            )),
        }
    }

    /// Performs one mutating call on a resource of `account` in `region` through the gate.
    pub async fn mutate<T, E>(
        &self,
        m: Mutation,
        account: &str,
        region: &str,
        call: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let pace = Pace {
            account,
            region,
            per_second: self.mutations_per_second,
        };
        self.gate.mutate(m, self.dry_run, Some(pace), call).await
    }

    /// Takes the next pacing slot of `account` in `region` now, for a mutation that must follow
    /// another step without a wait in between ([`Effects::mutate_now`]).
    pub async fn take_slot(&self, account: &str, region: &str) {
        self.gate
            .pacer
            .wait(account, region, self.mutations_per_second)
            .await;
        if let Some(table) = &self.gate.state {
            let pace = Pace {
                account,
                region,
                per_second: self.mutations_per_second,
            };
            shared_pace(table, &pace).await;
        }
    }

    /// A mutating call whose pacing slot was taken already ([`Effects::take_slot`]): refused in
    /// dry-run, not spaced again.
    pub async fn mutate_now<T, E>(
        &self,
        m: Mutation,
        call: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.gate.mutate(m, self.dry_run, None, call).await
    }
}

/// How calls on one account and region are spaced.
#[derive(Clone, Copy, Debug)]
pub struct Pace<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub per_second: u32,
}

impl Gate {
    /// The one way the guard changes AWS: a mutating call is refused in dry-run, spaced per
    /// account and region when it changes a SageMaker resource ([`Mutation::is_paced`]), logged,
    /// and its error named by the mutation's operation. `call` is not polled before the gate lets
    /// it go.
    pub async fn mutate<T, E>(
        &self,
        m: Mutation,
        dry_run: bool,
        pace: Option<Pace<'_>>,
        call: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if dry_run {
            return Err(AwsError::refused(
                m.service_name(),
                m.operation(),
                "dry-run: nothing may change",
            ));
        }
        if let (true, Some(p)) = (m.is_paced(), pace) {
            self.pacer.wait(p.account, p.region, p.per_second).await;
            if let Some(table) = &self.state {
                shared_pace(table, &p).await;
            }
        }
        tracing::debug!(operation = m.operation(), "mutating call");
        call.await
            .map_err(|err| AwsError::from_sdk(m.operation(), err))
    }
}

/// Waits until the replicas sharing `table` have made fewer than `per_second` mutating calls in
/// the account and region this second, and counts this one. Pacing is a courtesy to the
/// account's own use of the API, not a safety limit: if the table cannot be asked, or after a
/// minute of full seconds, the call goes on, paced by this process alone, and a warning says so.
async fn shared_pace(table: &crate::aws::state_table::StateTable, p: &Pace<'_>) {
    for _ in 0..60 {
        let now = Timestamp::now();
        match table
            .take_pace(p.account, p.region, p.per_second, now)
            .await
        {
            Ok(true) => return,
            Ok(false) => {
                // The next second: its window is empty.
                let into = u64::from(now.subsec_nanosecond().max(0) as u32);
                let left = Duration::from_nanos(1_000_000_000u64.saturating_sub(into));
                tokio::time::sleep(left + Duration::from_millis(fastrand::u64(0..50))).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, account = p.account, region = p.region, "cannot pace with the other replicas; pacing this process alone");
                return;
            }
        }
    }
    tracing::warn!(
        account = p.account,
        region = p.region,
        "the other replicas kept every second full for a minute; going on"
    );
}

/// Remediations per account in the last hour: beyond the policy's `maxRemediationsPerHour`, a
/// fix becomes a finding. Per process: with several replicas, each counts its own.
#[derive(Default)]
struct BlastRadius(Mutex<HashMap<String, Vec<Timestamp>>>);

impl BlastRadius {
    /// Records a remediation of `account` at `now` if the limit allows it.
    pub fn allow(&self, account: &str, limit: u32, now: Timestamp) -> bool {
        let mut map = self
            .0
            .lock()
            .expect("the blast radius lock is never poisoned");
        let recent = map.entry(account.to_string()).or_default();
        let hour_ago = now - jiff::SignedDuration::from_hours(1);
        recent.retain(|t| *t > hour_ago);
        if recent.len() >= limit as usize {
            return false;
        }
        recent.push(now);
        true
    }
}

/// A point where a test build can be made to stop, to be killed there (`SAGEMAKER_GUARD_FAILPOINT`
/// names it). Release builds have no failpoints.
pub(crate) fn failpoint(name: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("SAGEMAKER_GUARD_FAILPOINT").as_deref() == Ok(name) {
        tracing::error!(failpoint = name, "failpoint reached: waiting to be killed");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::operation::stop_notebook_instance::StopNotebookInstanceError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

    #[tokio::test]
    async fn in_dry_run_the_gate_refuses_and_never_makes_the_call() {
        let made = std::sync::atomic::AtomicBool::new(false);
        let call = async {
            made.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), SdkError<StopNotebookInstanceError, HttpResponse>>(())
        };
        let refused = Gate::default()
            .mutate(Mutation::StopNotebookInstance, true, None, call)
            .await
            .unwrap_err();
        assert_eq!(refused.operation, "StopNotebookInstance");
        assert!(!made.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn blast_radius_allows_the_limit_per_account_per_hour() {
        let b = BlastRadius::default();
        let t0: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        assert!(b.allow("a", 2, t0));
        assert!(b.allow("a", 2, t0));
        assert!(!b.allow("a", 2, t0), "the third in the hour");
        assert!(b.allow("b", 2, t0), "per account");
        let later = t0 + jiff::SignedDuration::from_mins(61);
        assert!(b.allow("a", 2, later), "an hour later");
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_calls_per_account_and_region() {
        let p = Pacer::default();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            p.wait("a", "us-east-1", 2).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1000),
            "the third at 1 s"
        );
        let t = tokio::time::Instant::now();
        p.wait("b", "us-east-1", 2).await;
        p.wait("a", "eu-west-1", 2).await;
        assert_eq!(
            t.elapsed(),
            Duration::ZERO,
            "other accounts and regions do not wait"
        );
    }
}
