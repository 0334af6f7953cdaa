//! `run` under injected emulator faults: throttling and HTTP 5xx on a share of SageMaker calls.
//! The faults are set for the test's own account, so the tests running beside it see a healthy
//! emulator.

use std::time::Duration;

use crate::common::service::*;
use crate::common::*;

/// Faults for the SageMaker calls of `account` alone (`faults` is the emulator's fault plan).
fn set_faults(account: &str, mut faults: serde_json::Value) {
    faults["account"] = account.into();
    emulator_post("/sg-emulator/faults", &faults.to_string());
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_nothing_is_lost() {
    let account = account(31);
    let q = queues(&account, 30).await;
    let sm = client(&account).await;
    create_notebooks(&sm, 20, |i| format!("nb-{i}"), |i| i % 2 == 0).await;
    set_faults(
        &account,
        serde_json::json!({"throttleRate": 0.15, "errorRate": 0.05, "actions": ["DescribeNotebookInstance"], "seed": 7}),
    );
    let bodies: Vec<String> = (0..100)
        .map(|i| {
            cloudtrail(
                &account,
                "UpdateNotebookInstance",
                &format!("nb-{}", i % 20),
            )
        })
        .collect();
    q.send_bodies(&bodies).await;
    // One attempt per call: every fault reaches the service's own retry.
    let service = Service::start(
        &account,
        &q.url,
        &["--no-initial-resync", "--concurrency", "4"],
    );
    // The faults last until every message has met them and both kinds have been retried, then
    // stop. They are random: under them a message now and then fails again and again, and its
    // back-off (5 s, doubling) would outgrow any deadline.
    service.wait_for(
        "both kinds of fault, retried, and every message received",
        Duration::from_secs(120),
        |m| {
            let errors = |code: &str| {
                metric(
                    m,
                    "sagemaker_guard_aws_api_errors_total",
                    &[&format!("code=\"{code}\"")],
                )
            };
            metric(m, "sagemaker_guard_messages_received_total", &[]) >= 100.0
                && errors("ThrottlingException") > 0.0
                && errors("InternalFailure") > 0.0
                && metric(
                    m,
                    "sagemaker_guard_messages_released_total",
                    &["reason=\"retry\""],
                ) > 0.0
        },
    );
    set_faults(&account, serde_json::json!({}));
    service.wait_for("every message handled", Duration::from_secs(300), |m| {
        metric(
            m,
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"done\""],
        ) >= 100.0
    });
    let m = service.metrics();
    assert!(
        metric(
            &m,
            "sagemaker_guard_aws_api_errors_total",
            &["code=\"ThrottlingException\""]
        ) > 0.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "sagemaker_guard_aws_api_errors_total",
            &["code=\"InternalFailure\""]
        ) > 0.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "sagemaker_guard_reconciles_total",
            &["result=\"retry\""]
        ) > 0.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "sagemaker_guard_messages_released_total",
            &["reason=\"retry\""]
        ) > 0.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "sagemaker_guard_messages_dead_lettered_total", &[]),
        0.0
    );
    // Every notebook was judged in the end.
    let mut judged: Vec<String> = service
        .reconciled()
        .iter()
        .filter(|r| r["result"] == "compliant" || r["result"] == "noncompliant")
        .map(|r| r["resource"].as_str().unwrap().to_string())
        .collect();
    judged.sort();
    judged.dedup();
    assert_eq!(judged.len(), 20);
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert_eq!(q.counts(&q.dlq_url).await, (0, 0));
}

/// A listener that takes every connection and never says a word: its URL.
fn hung_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    endpoint
}

#[tokio::test]
async fn a_reconcile_against_an_endpoint_that_never_answers_releases_its_message_and_retries() {
    let account = account(32);
    let q = queues(&account, 30).await;
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-hung")])
        .await;
    // SageMaker never answers; the queue does.
    let hung = hung_endpoint();
    let service = Service::start_with(&account, &q.url, &["--no-initial-resync"], |cmd| {
        cmd.env("AWS_ENDPOINT_URL_SAGEMAKER", &hung)
            .env("SAGEMAKER_GUARD_AWS_ATTEMPT_TIMEOUT", "1s");
    });
    // Released after the timeout, and tried again after its back-off (5 s): not held, not lost.
    service.wait_for("the message released twice", Duration::from_secs(90), |m| {
        metric(
            m,
            "sagemaker_guard_messages_released_total",
            &["reason=\"retry\""],
        ) >= 2.0
    });
    let m = service.metrics();
    assert!(
        metric(&m, "sagemaker_guard_messages_received_total", &[]) >= 2.0,
        "received again after its back-off"
    );
    assert_eq!(
        metric(&m, "sagemaker_guard_messages_deleted_total", &[]),
        0.0,
        "never deleted"
    );
    assert_eq!(
        metric(&m, "sagemaker_guard_messages_dead_lettered_total", &[]),
        0.0
    );
    let timeouts: Vec<_> = service
        .tail(200)
        .into_iter()
        .filter(|l| l.to_string().contains("timeout") || l.to_string().contains("Timeout"))
        .collect();
    assert!(
        !timeouts.is_empty(),
        "the log says it timed out: {:#?}",
        service.tail(10)
    );
}
