//! Metrics of the `run` service, in the Prometheus text format at `/metrics`.
//!
//! Names follow Prometheus conventions: a `sagemaker_guard_` prefix, `_total` on counters (the
//! encoder adds it), base units (`_seconds`). The AWS call counters are fed by an SDK
//! interceptor, so every call of every client is counted, retries included.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    pub control: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub kind: String,
    pub result: String,
    pub dry_run: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub service: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub service: String,
    pub operation: String,
    pub code: String,
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    pub messages_received: Counter,
    pub messages_deleted: Family<ReasonLabel, Counter>,
    pub messages_dead_lettered: Family<ReasonLabel, Counter>,
    pub messages_released: Family<ReasonLabel, Counter>,
    pub triggers: Family<SourceLabel, Counter>,
    pub reconciles: Family<ResultLabel, Counter>,
    pub reconcile_duration: Histogram,
    pub message_duration: Histogram,
    pub aws_api_call_duration: Histogram,
    pub verdicts: Family<VerdictLabels, Counter>,
    pub planned_actions: Family<ActionLabels, Counter>,
    pub executed_actions: Family<ActionLabels, Counter>,
    pub workqueue_depth: Gauge,
    pub reconciles_in_flight: Gauge,
    pub workqueue_deduplicated: Counter<u64, AtomicU64>,
    pub resyncs: Family<ResultLabel, Counter>,
    pub policy_reloads: Family<ResultLabel, Counter>,
    pub resync_targets: Family<ResultLabel, Counter>,
    pub resync_targets_pending: Gauge,
    pub aws_api_calls: Family<OperationLabel, Counter>,
    pub aws_api_errors: Family<ErrorLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sagemaker_guard");
        let m = Metrics {
            messages_received: Counter::default(),
            messages_deleted: Family::default(),
            messages_dead_lettered: Family::default(),
            messages_released: Family::default(),
            triggers: Family::default(),
            reconciles: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 18)),
            message_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 22)),
            aws_api_call_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 18)),
            verdicts: Family::default(),
            planned_actions: Family::default(),
            executed_actions: Family::default(),
            workqueue_depth: Gauge::default(),
            reconciles_in_flight: Gauge::default(),
            workqueue_deduplicated: Counter::default(),
            resyncs: Family::default(),
            policy_reloads: Family::default(),
            resync_targets: Family::default(),
            resync_targets_pending: Gauge::default(),
            aws_api_calls: Family::default(),
            aws_api_errors: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "messages_received",
            "SQS messages received",
            m.messages_received.clone(),
        );
        registry.register(
            "messages_deleted",
            "SQS messages deleted, by reason (done, ignored, dead-lettered, pointless-retry, recreate-in-progress)",
            m.messages_deleted.clone(),
        );
        registry.register(
            "messages_dead_lettered",
            "SQS messages sent to the dead-letter queue, by reason",
            m.messages_dead_lettered.clone(),
        );
        registry.register(
            "messages_released",
            "SQS messages made visible again, by reason (retry, shutdown, recreate-in-progress)",
            m.messages_released.clone(),
        );
        registry.register(
            "triggers",
            "Resources named by messages or the resync, by source",
            m.triggers.clone(),
        );
        registry.register("reconciles", "Reconciles, by result", m.reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Time from the start of a reconcile to its outcome",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "message_duration_seconds",
            "Time from receiving a message to settling it (deleted, dead-lettered or released)",
            m.message_duration.clone(),
        );
        registry.register(
            "aws_api_call_duration_seconds",
            "Duration of AWS API call attempts",
            m.aws_api_call_duration.clone(),
        );
        registry.register(
            "verdicts",
            "Verdicts, by control and status",
            m.verdicts.clone(),
        );
        registry.register(
            "planned_actions",
            "Plans made, by kind, result and dry-run",
            m.planned_actions.clone(),
        );
        registry.register(
            "executed_actions",
            "Plans carried out, by kind, result and dry-run",
            m.executed_actions.clone(),
        );
        registry.register(
            "workqueue_depth",
            "Resources waiting in the work queue (ready and scheduled)",
            m.workqueue_depth.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now",
            m.reconciles_in_flight.clone(),
        );
        registry.register(
            "workqueue_deduplicated",
            "Enqueues of a resource that was already waiting",
            m.workqueue_deduplicated.clone(),
        );
        registry.register("resyncs", "Full sweeps, by result", m.resyncs.clone());
        registry.register(
            "policy_reloads",
            "Policy reloads (SIGHUP, or the file changed), by result: applied, refused (invalid: the old policy stays)",
            m.policy_reloads.clone(),
        );
        registry.register(
            "resync_targets",
            "Accounts x regions a sweep listed, by result (listed, failed: a list call failed)",
            m.resync_targets.clone(),
        );
        registry.register(
            "resync_targets_pending",
            "Accounts x regions the sweep in progress has yet to list",
            m.resync_targets_pending.clone(),
        );
        registry.register(
            "aws_api_calls",
            "AWS API call attempts, by service and operation",
            m.aws_api_calls.clone(),
        );
        registry.register(
            "aws_api_errors",
            "AWS API call attempts that failed, by service, operation and error code",
            m.aws_api_errors.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn count_resync(&self, result: &str) {
        self.resyncs
            .get_or_create(&ResultLabel {
                result: result.to_string(),
            })
            .inc();
    }

    pub fn count(family: &Family<ReasonLabel, Counter>, reason: &str) {
        family
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }
}

/// Counts every AWS call attempt, and its error code when it fails, into [`Metrics`].
#[derive(Clone)]
pub struct ApiCallCounter {
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ApiCallCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiCallCounter")
    }
}

impl ApiCallCounter {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        ApiCallCounter { metrics }
    }
}

/// When the current attempt started, kept in the attempt's config bag.
#[derive(Debug, Clone)]
struct AttemptStart(std::time::Instant);

impl Storable for AttemptStart {
    type Storer = StoreReplace<Self>;
}

impl Intercept for ApiCallCounter {
    fn name(&self) -> &'static str {
        "ApiCallCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(AttemptStart(std::time::Instant::now()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(start) = cfg.load::<AttemptStart>() {
            self.metrics
                .aws_api_call_duration
                .observe(start.0.elapsed().as_secs_f64());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        self.metrics
            .aws_api_calls
            .get_or_create(&OperationLabel {
                service: service.clone(),
                operation: operation.clone(),
            })
            .inc();
        let failed = match context.output_or_error() {
            Some(Err(_)) => true,
            Some(Ok(_)) => false,
            None => true,
        };
        if failed {
            // The JSON protocols name the error in a header; otherwise the HTTP status tells.
            let code = context
                .response()
                .map(|r| {
                    r.headers()
                        .get("x-amzn-errortype")
                        .map(|v| v.split(':').next().unwrap_or(v).to_string())
                        .unwrap_or_else(|| format!("HTTP{}", r.status().as_u16()))
                })
                .unwrap_or_else(|| "NoResponse".to_string());
            self.metrics
                .aws_api_errors
                .get_or_create(&ErrorLabels {
                    service,
                    operation,
                    code,
                })
                .inc();
        }
        Ok(())
    }
}
