//! `sagemaker-guard run`: the long-running reconciler. Wires the policy, the SQS intake, the work
//! queue, the resync, the HTTP endpoints and the signals together, and shuts them down in order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::aws::error::AwsError;
use crate::converge::Edge;
use crate::domain::policy::PolicyErrors;
use crate::service::controller::{Context, PolicyHolder};
use crate::service::http::{self, Probe};
use crate::service::intake::Intake;
use crate::service::metrics::{ApiCallCounter, Metrics};
use crate::service::resync;
use crate::service::runtime::{run_reconcile, Followed, Service, Waiters};
use crate::service::workqueue::WorkQueue;

/// What `run` is told on its command line.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub policy: PathBuf,
    pub queue_url: String,
    pub dry_run: bool,
    pub resync_interval: Duration,
    pub initial_resync: bool,
    pub concurrency: usize,
    /// Reconciles at once in one account and region.
    pub concurrency_per_target: usize,
    pub listen: SocketAddr,
    pub shutdown_timeout: Duration,
    pub dead_letter_queue_url: Option<String>,
    /// How soon a resource in a transition is looked at again.
    pub settle_interval: Duration,
    /// The KMS HMAC key that signs and checks recreate intents.
    pub intent_key_id: Option<String>,
    /// The organization's account list (`--accounts`), and the role template.
    pub accounts: Option<PathBuf>,
    pub member_role: String,
    /// The DynamoDB table replicas share the blast radius and resource leases in.
    pub state_table: Option<String>,
}

/// Why `run` could not start or stopped early. An AWS error says the service, the operation,
/// AWS's code and message and the request id in one line, then what to do (`hint:`).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Policy(PolicyErrors),
    #[error("no AWS region is configured: set AWS_REGION")]
    NoRegion,
    #[error("the queue {url} cannot be reached: {source}{}", hint(source, "check --queue-url: the queue must exist in the account and region of the credentials (AWS_REGION)"))]
    Queue {
        url: String,
        #[source]
        source: AwsError,
    },
    #[error("the dead-letter queue {arn} of the queue {url} cannot be reached: {source}{}", hint(source, "the queue's redrive policy must name a queue of the account and region that exists: fix it, or pass --dead-letter-queue-url"))]
    DeadLetterQueue {
        url: String,
        arn: String,
        #[source]
        source: AwsError,
    },
    #[error(
        "no dead-letter queue: pass --dead-letter-queue-url or give the queue a redrive policy"
    )]
    NoDeadLetterQueue,
    #[error("the intent key {key} cannot be used: {source}{}", hint(source, "check --intent-key-id (SAGEMAKER_GUARD_INTENT_KEY_ID): an enabled HMAC_256 key of the account and region, by id, alias or ARN"))]
    IntentKey {
        key: String,
        #[source]
        source: AwsError,
    },
    #[error("{0}")]
    Accounts(String),
    #[error("the state table {table} cannot be used: {source}")]
    StateTable {
        table: String,
        #[source]
        source: AwsError,
    },
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        addr: SocketAddr,
        #[source]
        cause: std::io::Error,
    },
}

/// The `hint:` line after an AWS error at start: what the error itself suggests (a permission,
/// the endpoint), else what to check about the thing named (`otherwise`).
fn hint(e: &AwsError, otherwise: &str) -> String {
    let hint = e.hint().unwrap_or_else(|| otherwise.to_string());
    format!("\n  hint: {hint}")
}

impl RunError {
    /// 2 for what the operator must fix in the configuration, 3 for what could not be reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Queue { .. }
            | RunError::DeadLetterQueue { .. }
            | RunError::IntentKey { .. } => 3,
            _ => 2,
        }
    }
}

/// The queue's visibility timeout, and its redrive target when it has one.
async fn queue_settings(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<(Duration, Option<String>), RunError> {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| RunError::Queue {
            url: url.to_string(),
            source: AwsError::from_sdk("GetQueueAttributes", e),
        })?;
    let attrs = attrs.attributes.unwrap_or_default();
    let visibility = attrs
        .get(&QueueAttributeName::VisibilityTimeout)
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let redrive_target = attrs
        .get(&QueueAttributeName::RedrivePolicy)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_string));
    let dlq_url = match redrive_target {
        // arn:aws:sqs:<region>:<account>:<name>
        Some(arn) => {
            let parts: Vec<&str> = arn.split(':').collect();
            let (account, name) = (parts.get(4).copied(), parts.get(5).copied());
            match name {
                Some(name) => {
                    let out = sqs
                        .get_queue_url()
                        .queue_name(name)
                        .set_queue_owner_aws_account_id(account.map(str::to_string))
                        .send()
                        .await
                        .map_err(|e| RunError::DeadLetterQueue {
                            url: url.to_string(),
                            arn: arn.clone(),
                            source: AwsError::from_sdk("GetQueueUrl", e),
                        })?;
                    out.queue_url
                }
                None => None,
            }
        }
        None => None,
    };
    Ok((Duration::from_secs(visibility), dlq_url))
}

/// Logs what `policy validate` would warn about (an unknown region, an expired exemption).
fn warn_about(policy: &crate::domain::policy::Policy) {
    for w in policy.warnings_at(jiff::Timestamp::now()) {
        tracing::warn!(warning = %w.0, "the policy loads, with a warning");
    }
}

/// Runs the service until SIGTERM or SIGINT; a second signal exits at once.
pub async fn run(cfg: RunConfig) -> Result<(), RunError> {
    let policy = PolicyHolder::load(cfg.policy.clone()).map_err(RunError::Policy)?;
    warn_about(&policy.get());
    let sdk_config = crate::aws::config::load(None).await;
    let default_region = sdk_config
        .region()
        .map(|r| r.to_string())
        .ok_or(RunError::NoRegion)?;
    let metrics = Arc::new(Metrics::new());
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk_config)
            .timeout_config(crate::aws::config::long_poll_timeouts(
                &sdk_config,
                crate::service::intake::LONG_POLL,
            ))
            .interceptor(ApiCallCounter::new(Arc::clone(&metrics)))
            .build(),
    );
    let (visibility_timeout, redrive_dlq) = queue_settings(&sqs, &cfg.queue_url).await?;
    let dlq_url = cfg
        .dead_letter_queue_url
        .clone()
        .or(redrive_dlq)
        .ok_or(RunError::NoDeadLetterQueue)?;

    let dry_run = cfg.dry_run;
    // Recreate intents go on the queue the service reads: whichever replica receives one
    // finishes the recreate.
    let key = match &cfg.intent_key_id {
        Some(id) => {
            let key = crate::aws::intent_key::IntentKey::new(
                &sdk_config,
                id,
                Some(SharedInterceptor::new(ApiCallCounter::new(Arc::clone(
                    &metrics,
                )))),
            );
            key.check().await.map_err(|source| RunError::IntentKey {
                key: id.clone(),
                source,
            })?;
            Some(key)
        }
        None if policy.get().recreates() => {
            tracing::warn!("no --intent-key-id: no notebook is recreated (SageMaker.1, .2 remediate), and recreate intents received are dead-lettered");
            None
        }
        None => None,
    };
    let intents = crate::aws::intent_store::IntentQueue {
        sqs: sqs.clone(),
        url: cfg.queue_url.clone(),
        key,
    };
    let sdk_config_for_state = sdk_config.clone();
    let reach = crate::aws::accounts::Reach::load(
        sdk_config.clone(),
        cfg.accounts.as_deref(),
        &cfg.member_role,
        policy.get().organization.as_ref(),
    )
    .await
    .map_err(RunError::Accounts)?;
    let edge = Edge::new(
        sdk_config,
        Some(SharedInterceptor::new(ApiCallCounter::new(Arc::clone(
            &metrics,
        )))),
        Some(intents),
        cfg.settle_interval.max(Duration::from_millis(10)),
    )
    .with_reach(reach);
    let mut edge = edge;
    match &cfg.state_table {
        Some(name) => {
            let table = crate::aws::state_table::StateTable::new(&sdk_config_for_state, name)
                .with_lease_for(crate::aws::state_table::lease_for(
                    cfg.settle_interval,
                    crate::aws::config::attempt_timeout(),
                ));
            table.check().await.map_err(|source| RunError::StateTable {
                table: name.clone(),
                source,
            })?;
            edge.gate = crate::aws::gate::Gate::shared(table);
        }
        None => tracing::info!("no --state-table: the blast radius and pacing hold for this process alone; replicas each allow maxRemediationsPerHour"),
    }
    let ctx = Arc::new(Service {
        ctx: Context {
            policy,
            metrics: Arc::clone(&metrics),
            edge,
            dry_run,
            default_region,
        },
        waiters: Waiters::default(),
        followed: Followed::default(),
    });
    let queue = {
        let default_region = ctx.default_region.clone();
        WorkQueue::grouped(
            cfg.concurrency,
            cfg.concurrency_per_target,
            move |key: &crate::domain::resource::ResourceRef| {
                format!(
                    "{}/{}",
                    key.account.as_deref().unwrap_or(""),
                    key.region.as_deref().unwrap_or(&default_region)
                )
            },
        )
    };
    let stop = CancellationToken::new();
    let abandon = CancellationToken::new();

    let intake = Intake::new(
        sqs,
        cfg.queue_url.clone(),
        dlq_url.clone(),
        visibility_timeout,
        Arc::clone(&ctx),
        queue.clone(),
        stop.clone(),
        abandon.clone(),
        (cfg.concurrency / 4).clamp(1, 8),
        (cfg.concurrency * 20).max(100),
    );
    // The queue answered GetQueueAttributes above: ready now, not after the first long poll.
    intake
        .queue_reachable
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let probe = Probe {
        metrics: Arc::clone(&metrics),
        queue: queue.clone(),
        queue_reachable: Arc::clone(&intake.queue_reachable),
    };
    // The HTTP server outlives `stop`: probes keep answering while in-flight work drains.
    let http_stop = CancellationToken::new();
    let (bound, http_task) = http::serve(cfg.listen, probe, http_stop.clone())
        .await
        .map_err(|cause| RunError::Listen {
            addr: cfg.listen,
            cause,
        })?;
    let policy_name = ctx.policy.get().name.clone();
    spawn_signal_handlers(Arc::clone(&ctx), stop.clone());
    spawn_policy_watch(Arc::clone(&ctx), stop.clone());
    tracing::info!(
        listen = %bound, queue_url = %cfg.queue_url, dead_letter_queue_url = %dlq_url,
        visibility_timeout_s = visibility_timeout.as_secs(), policy = %policy_name, dry_run,
        concurrency = cfg.concurrency, resync_interval_s = cfg.resync_interval.as_secs(),
        "sagemaker-guard is running"
    );

    intake.start();
    let resync = tokio::spawn(resync::resync_loop(
        Arc::clone(&ctx),
        queue.clone(),
        cfg.resync_interval,
        cfg.initial_resync,
        stop.clone(),
    ));

    let worker_ctx = Arc::clone(&ctx);
    let workers = {
        let queue = queue.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            queue
                .run(
                    move |key| run_reconcile(key, Arc::clone(&worker_ctx)),
                    stop.cancelled_owned(),
                )
                .await
        })
    };

    stop.cancelled().await;
    tracing::info!(
        timeout_s = cfg.shutdown_timeout.as_secs(),
        "shutting down: no new work; waiting for reconciles in progress"
    );
    let deadline = tokio::time::Instant::now() + cfg.shutdown_timeout;
    if tokio::time::timeout_at(deadline, workers).await.is_err() {
        tracing::warn!("reconciles still running at the shutdown timeout are abandoned");
    }
    // Nothing else will finish: messages still waiting go back to the queue for another replica.
    abandon.cancel();
    let release_deadline = deadline.max(tokio::time::Instant::now() + Duration::from_secs(5));
    intake.finish(release_deadline).await;
    let _ = resync.await;
    http_stop.cancel();
    let _ = http_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// How often the policy file is read to see whether it changed.
pub const POLICY_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Reloads the policy when its file changes, as SIGHUP does: a mounted ConfigMap or a file a
/// deployment tool rewrites takes effect without a signal.
fn spawn_policy_watch(ctx: Arc<Service>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(POLICY_CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            if ctx.policy.changed_on_disk() {
                reload_policy(&ctx, "the file changed");
            }
        }
    });
}

/// Reloads the policy; an invalid one is refused and the old one kept. Either way a log line
/// and `policy_reloads_total{result}` say so.
fn reload_policy(ctx: &Service, why: &str) {
    let before = ctx.policy.get();
    let result = match ctx.policy.reload() {
        Ok(p) => {
            tracing::info!(policy = %p.name, dry_run = p.dry_run, why, "policy reloaded");
            warn_about(&p);
            if p.organization != before.organization {
                tracing::warn!("spec.organization changed: the accounts are read at start, so the old list stays in use until the guard restarts");
            }
            "applied"
        }
        Err(e) => {
            tracing::error!(file = %ctx.policy.path().display(), why, error = %e, "the new policy is refused; the old one stays in force");
            "refused"
        }
    };
    ctx.metrics
        .policy_reloads
        .get_or_create(&crate::service::metrics::ResultLabel {
            result: result.to_string(),
        })
        .inc();
}

/// SIGTERM or SIGINT: stop gracefully; a second one: exit at once. SIGHUP: reload the policy.
/// Installs the handlers at once (before the service says it runs, so that a signal sent as soon
/// as it says so is handled), then handles signals in a task.
fn spawn_signal_handlers(ctx: Arc<Service>, stop: CancellationToken) {
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM can be handled");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT can be handled");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP can be handled");
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {
                    ctx.policy.changed_on_disk();
                    reload_policy(&ctx, "SIGHUP");
                    continue;
                }
            }
            if stop.is_cancelled() {
                tracing::warn!("second signal: exiting at once");
                std::process::exit(130);
            }
            stop.cancel();
        }
    });
}
