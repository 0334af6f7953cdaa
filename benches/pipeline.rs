//! The pure part of the pipeline, per event: decode -> (stand-in for the live read) -> evaluate ->
//! plan, over every event fixture in tests/fixtures/events. Single-threaded.
//!
//! Run with `cargo bench --bench pipeline`; docs/performance.md records the figures.
//!
//! The live read is not measured: for each trigger the bench builds the `Observed` resource a
//! Describe (and ListTags) would return, noncompliant for every kind, so evaluation and planning
//! do their full work (verdicts, exemption checks, a plan with steps).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jiff::Timestamp;

use sagemaker_guard::domain::assess::assess;
use sagemaker_guard::domain::event::{decode, Decoded, Trigger};
use sagemaker_guard::domain::policy::{self, Policy};
use sagemaker_guard::domain::resource::{
    self, Details, EndpointConfig, FeatureGroup, InferenceDataStorage, InferenceExperiment,
    InlineMonitoringJob, Model, MonitoringJobDefinition, MonitoringSchedule, NotebookInstance,
    NotebookStatus, Observed, OfflineStore, ProductionVariant, ResourceKind, Tags,
};

const DEFAULT_ACCOUNT: &str = "123456789012";
const DEFAULT_REGION: &str = "us-east-1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture body, in file-name order.
fn fixtures() -> Vec<(String, String)> {
    let dir = root().join("tests/fixtures/events");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn load_policy(path: &Path) -> Policy {
    policy::load_file(path).unwrap_or_else(|e| panic!("{e}"))
}

/// What the live read of a trigger's resource would return: noncompliant for every kind.
/// Tags are present (the recommended policy's tag exemption needs them for every kind) but lack
/// the `owner` key SageMaker.6 and .7 require.
fn observed(trigger: &Trigger, now: Timestamp) -> Observed {
    let r = &trigger.resource;
    let account = r.account.as_deref().unwrap_or(DEFAULT_ACCOUNT);
    let region = r.region.as_deref().unwrap_or(DEFAULT_REGION);
    let details = match r.kind {
        // A notebook created with the defaults: no VPC, internet access and root access
        // (absent means Enabled), Amazon Linux 2, running, a week old.
        ResourceKind::NotebookInstance => Details::NotebookInstance(NotebookInstance {
            status: Some(NotebookStatus::InService),
            instance_type: Some("ml.t3.medium".into()),
            direct_internet_access: None,
            root_access: None,
            platform_identifier: Some("notebook-al2-v3".into()),
            role_arn: Some(format!("arn:aws:iam::{account}:role/sagemaker")),
            volume_size_in_gb: Some(5),
            creation_time: Some(now.as_second() - 7 * 24 * 3600),
            ..NotebookInstance::default()
        }),
        // One instance-based variant with a single instance.
        ResourceKind::EndpointConfig => Details::EndpointConfig(EndpointConfig {
            production_variants: vec![ProductionVariant {
                name: "AllTraffic".into(),
                instance_type: Some("ml.m5.large".into()),
                initial_instance_count: Some(1),
                serverless: false,
            }],
        }),
        ResourceKind::Model => Details::Model(Model {
            enable_network_isolation: Some(false),
            ..Model::default()
        }),
        ResourceKind::Image => Details::Image,
        ResourceKind::AppImageConfig => Details::AppImageConfig,
        // Monitoring jobs on two instances with neither switch on.
        kind if kind.is_job_definition() => {
            Details::MonitoringJobDefinition(MonitoringJobDefinition {
                network_config: None,
                instance_count: Some(2),
            })
        }
        ResourceKind::MonitoringSchedule => Details::MonitoringSchedule(MonitoringSchedule {
            status: Some("Scheduled".into()),
            inline_job: Some(InlineMonitoringJob::default()),
            ..MonitoringSchedule::default()
        }),
        ResourceKind::FeatureGroup => Details::FeatureGroup(FeatureGroup {
            offline_store: Some(OfflineStore::default()),
            online_store: None,
        }),
        _ => Details::InferenceExperiment(InferenceExperiment {
            status: Some("Running".into()),
            kms_key: None,
            data_storage: Some(InferenceDataStorage::default()),
        }),
    };
    Observed {
        kind: r.kind,
        name: r.name.clone(),
        arn: resource::arn("aws", region, account, r.kind, &r.name),
        account: account.to_string(),
        region: region.to_string(),
        tags: Some(Tags::from_iter([("team", "ml-research")])),
        details: Some(details),
    }
}

/// The whole pure pipeline over every body; returns a count so nothing is optimised away.
fn pipeline(bodies: &[&str], policy: &Policy, now: Timestamp) -> usize {
    let mut steps = 0;
    for body in bodies {
        match decode(black_box(body)) {
            Ok(Decoded::Triggers(triggers)) => {
                for t in &triggers {
                    let a = assess(observed(t, now), policy, now, true);
                    steps += a.verdicts.len() + a.plan.map_or(0, |p| p.steps.len());
                }
            }
            Ok(Decoded::Ignored(reason)) => steps += reason.len() & 1,
            Ok(Decoded::Intent(_)) => steps += 1,
            Err(e) => steps += e.reason_code().len() & 1,
        }
    }
    steps
}

fn benches(c: &mut Criterion) {
    let fixtures = fixtures();
    let bodies: Vec<&str> = fixtures.iter().map(|(_, b)| b.as_str()).collect();
    let n = bodies.len() as u64;
    let policy = load_policy(&root().join("policies/recommended.yaml"));
    let now: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();

    // What the fixtures amount to, once, so the figures can be read against it.
    let (mut triggers, mut ignored, mut errors, mut failed_verdicts) = (0, 0, 0, 0);
    for b in &bodies {
        match decode(b) {
            Ok(Decoded::Triggers(ts)) => {
                for t in &ts {
                    triggers += 1;
                    let a = assess(observed(t, now), &policy, now, true);
                    assert!(a.failed(), "{:?} should fail some control", t.resource);
                    failed_verdicts += a
                        .verdicts
                        .iter()
                        .filter(|v| v.status == sagemaker_guard::domain::evaluate::Status::Failed)
                        .count();
                }
            }
            Ok(Decoded::Ignored(_)) => ignored += 1,
            Ok(Decoded::Intent(_)) => triggers += 1,
            Err(_) => errors += 1,
        }
    }
    eprintln!(
        "pipeline bench: {n} events -> {triggers} triggers ({failed_verdicts} FAILED verdicts), \
         {ignored} ignored, {errors} undecodable"
    );

    let mut g = c.benchmark_group("decode+assess");
    g.throughput(Throughput::Elements(n));
    g.bench_function("all-fixtures", |b| {
        b.iter(|| pipeline(black_box(&bodies), &policy, now))
    });
    g.finish();

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(n));
    g.bench_function("all-fixtures", |b| {
        b.iter(|| {
            let mut k = 0usize;
            for body in &bodies {
                k += match decode(black_box(body)) {
                    Ok(Decoded::Triggers(t)) => t.len(),
                    Ok(Decoded::Ignored(_)) => 0,
                    Ok(Decoded::Intent(_)) => 1,
                    Err(_) => 1,
                };
            }
            k
        })
    });
    g.finish();
}

criterion_group!(pipeline_benches, benches);
criterion_main!(pipeline_benches);
