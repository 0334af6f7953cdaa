//! `sagemaker-guard run`, the real binary against the emulator: EventBridge -> SQS -> reconcile.

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::RootAccess;

use crate::common::service::*;
use crate::common::*;

#[tokio::test]
async fn an_eventbridge_event_is_reconciled_and_counted() {
    let account = account(21);
    let q = queues(&account, 30).await;
    let events = {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .endpoint_url(emulator_url())
            .region(aws_sdk_eventbridge::config::Region::new(REGION))
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
                &account, "x", None, None, "test",
            ))
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    };
    let pattern = serde_json::json!({
        "source": ["aws.sagemaker"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["sagemaker.amazonaws.com"]}
    });
    events
        .put_rule()
        .name("sagemaker-guard")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("sagemaker-guard")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&q.arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sm = client(&account).await;
    create_notebook(&sm, "nb-bad", false).await;
    create_notebook(&sm, "nb-good", true).await;

    let service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    assert_eq!(http_get(&format!("{}/healthz", service.base)).0, 200);
    for name in ["nb-bad", "nb-good"] {
        let event: serde_json::Value =
            serde_json::from_str(&cloudtrail(&account, "CreateNotebookInstance", name)).unwrap();
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source("aws.sagemaker")
            .detail_type("AWS API Call via CloudTrail")
            .detail(event["detail"].to_string())
            .build();
        let out = events.put_events().entries(entry).send().await.unwrap();
        assert_eq!(out.failed_entry_count, 0);
    }
    service.wait_for("two reconciles", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"done\""],
        ) >= 2.0
    });
    assert_eq!(
        service.metric(
            "sagemaker_guard_reconciles_total",
            &["result=\"noncompliant\""]
        ),
        1.0
    );
    assert_eq!(
        service.metric(
            "sagemaker_guard_reconciles_total",
            &["result=\"compliant\""]
        ),
        1.0
    );
    assert_eq!(
        service.metric("sagemaker_guard_triggers_total", &["source=\"cloudtrail\""]),
        2.0
    );
    assert_eq!(
        service.metric(
            "sagemaker_guard_verdicts_total",
            &["control=\"SageMaker.3\"", "status=\"FAILED\""]
        ),
        1.0
    );
    assert_eq!(
        service.metric(
            "sagemaker_guard_planned_actions_total",
            &["kind=\"update-in-place\"", "dry_run=\"true\""]
        ),
        1.0
    );
    assert!(
        service.metric(
            "sagemaker_guard_aws_api_calls_total",
            &["operation=\"DescribeNotebookInstance\""]
        ) >= 2.0
    );
    assert!(
        service.metric(
            "sagemaker_guard_aws_api_calls_total",
            &["operation=\"ReceiveMessage\""]
        ) >= 1.0
    );
    assert_eq!(http_get(&format!("{}/readyz", service.base)).0, 200);

    let bad = service
        .reconciled()
        .into_iter()
        .find(|r| r["resource"] == "nb-bad")
        .expect("a reconciled event for nb-bad");
    assert_eq!(bad["result"], "noncompliant");
    assert_eq!(bad["trigger"], "cloudtrail");
    assert_eq!(bad["dry_run"], true);
    assert!(bad["resource_arn"]
        .as_str()
        .unwrap()
        .ends_with(":notebook-instance/nb-bad"));
    // JSON logs embed the plan and the verdicts as JSON values.
    assert_eq!(bad["plan"]["kind"], "update-in-place");
    assert!(bad.get("error").is_none(), "no error, no field: {bad:#}");
    let verdicts = &bad["verdicts"];
    assert!(verdicts
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["control"] == "SageMaker.3" && v["status"] == "FAILED"));
    assert!(bad["duration_ms"].as_f64().is_some());
    // Nothing changed: the policy is dry-run.
    let d = sm
        .describe_notebook_instance()
        .notebook_instance_name("nb-bad")
        .send()
        .await
        .unwrap();
    assert_eq!(d.root_access(), Some(&RootAccess::Enabled));
}

#[tokio::test]
async fn a_thousand_events_for_a_hundred_resources_are_all_handled() {
    let account = account(22);
    let q = queues(&account, 30).await;
    let sm = client(&account).await;
    create_notebooks(&sm, 100, |i| format!("nb-{i:03}"), |i| i % 2 == 0).await;
    // Bursts: ten events in a row for each notebook, as a busy notebook produces them.
    let bodies: Vec<String> = (0..1000)
        .map(|i| {
            cloudtrail(
                &account,
                "UpdateNotebookInstance",
                &format!("nb-{:03}", i / 10),
            )
        })
        .collect();
    q.send_bodies(&bodies).await;

    let service = Service::start(
        &account,
        &q.url,
        &["--no-initial-resync", "--concurrency", "8"],
    );
    service.wait_for("1000 messages deleted", Duration::from_secs(300), |m| {
        metric(
            m,
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"done\""],
        ) >= 1000.0
    });
    let reconciles = service.metric("sagemaker_guard_reconciles_total", &[]);
    let deduplicated = service.metric("sagemaker_guard_workqueue_deduplicated_total", &[]);
    assert!(
        reconciles < 1000.0,
        "events for one resource share reconciles: {reconciles}"
    );
    assert!(deduplicated > 0.0, "de-duplication shows in the metrics");
    let mut arns: Vec<String> = service
        .reconciled()
        .iter()
        .filter_map(|r| r["resource_arn"].as_str().map(str::to_string))
        .collect();
    arns.sort();
    arns.dedup();
    assert_eq!(arns.len(), 100, "every resource reconciled");
    assert_eq!(
        service.metric("sagemaker_guard_reconciles_total", &["result=\"retry\""]),
        0.0
    );
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert_eq!(
        q.counts(&q.dlq_url).await,
        (0, 0),
        "the dead-letter queue is empty"
    );
}

#[tokio::test]
async fn poison_messages_go_to_the_dead_letter_queue_with_their_reason() {
    let account = account(23);
    let q = queues(&account, 30).await;
    let sm = client(&account).await;
    create_notebook(&sm, "nb-after", true).await;
    let no_name = serde_json::json!({
        "version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.sagemaker",
        "account": account, "region": REGION, "time": "2026-11-29T00:00:00Z", "resources": [],
        "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateNotebookInstance",
                   "awsRegion": REGION, "requestParameters": {}, "responseElements": null}
    })
    .to_string();
    let poison = vec![
        "this is not JSON".to_string(),
        "{\"hello\": \"world\"}".to_string(),
        no_name,
    ];
    q.send_bodies(&poison).await;

    let service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    service.wait_for("three dead letters", Duration::from_secs(30), |m| {
        metric(m, "sagemaker_guard_messages_dead_lettered_total", &[]) >= 3.0
    });
    for reason in ["malformed-json", "not-an-event", "no-resource"] {
        assert_eq!(
            service.metric(
                "sagemaker_guard_messages_dead_lettered_total",
                &[&format!("reason=\"{reason}\"")]
            ),
            1.0
        );
    }
    // The service keeps serving.
    q.send_bodies(&[cloudtrail(&account, "StartNotebookInstance", "nb-after")])
        .await;
    service.wait_for("the next event", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_reconciles_total",
            &["result=\"compliant\""],
        ) >= 1.0
    });

    let mut dead = Vec::new();
    while dead.len() < 3 {
        let out = q
            .sqs
            .receive_message()
            .queue_url(&q.dlq_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        dead.extend(out.messages.unwrap_or_default());
    }
    let mut got: Vec<(String, String)> = dead
        .iter()
        .map(|m| {
            let attrs = m.message_attributes.as_ref().unwrap();
            (
                attrs["sagemaker-guard-reason"]
                    .string_value()
                    .unwrap()
                    .to_string(),
                m.body().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = ["no-resource", "malformed-json", "not-an-event"]
        .iter()
        .map(|r| r.to_string())
        .zip([poison[2].clone(), poison[0].clone(), poison[1].clone()])
        .collect();
    want.sort();
    assert_eq!(
        got, want,
        "each poison message keeps its body and carries its reason"
    );
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn the_initial_resync_reconciles_what_no_event_named() {
    let account = account(24);
    let q = queues(&account, 30).await;
    let sm = client(&account).await;
    for i in 0..5 {
        create_notebook(&sm, &format!("quiet-{i}"), false).await;
    }
    let service = Service::start(&account, &q.url, &[]);
    service.wait_for("five reconciles", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_reconciles_total",
            &["result=\"noncompliant\""],
        ) >= 5.0
    });
    assert_eq!(
        service.metric("sagemaker_guard_triggers_total", &["source=\"resync\""]),
        5.0
    );
    // The resync lists the other kinds after queueing the notebooks: it may end after them.
    service.wait_for("the resync's end", Duration::from_secs(30), |m| {
        metric(m, "sagemaker_guard_resyncs_total", &["result=\"done\""]) == 1.0
    });
    assert!(service
        .reconciled()
        .iter()
        .all(|r| r["trigger"] == "resync"));
}

#[tokio::test]
async fn sighup_reloads_a_valid_policy_and_keeps_the_old_one_on_error() {
    let account = account(25);
    let q = queues(&account, 30).await;
    let service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    std::fs::write(
        &service.policy,
        POLICY.replace("name: service", "name: reloaded"),
    )
    .unwrap();
    service.signal("HUP");
    let wait_log = |msg: &str| {
        let start = Instant::now();
        while !service
            .logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l["fields"]["message"] == msg)
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no log `{msg}`: {:#?}",
                service.tail(10)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_log("policy reloaded");
    std::fs::write(&service.policy, "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: x}\nspec: {bogus: 1}\n").unwrap();
    service.signal("HUP");
    wait_log("the new policy is refused; the old one stays in force");
    let refused = service
        .logs
        .lock()
        .unwrap()
        .iter()
        .find(|l| l["fields"]["message"] == "the new policy is refused; the old one stays in force")
        .cloned()
        .unwrap();
    assert!(
        refused["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("policy.yaml:4:"),
        "{refused}"
    );
    assert_eq!(http_get(&format!("{}/healthz", service.base)).0, 200);
}

#[tokio::test]
async fn sigterm_mid_work_exits_within_the_timeout_and_releases_unfinished_messages() {
    let account = account(26);
    let visibility = 6;
    let q = queues(&account, visibility).await;
    let sm = client(&account).await;
    create_notebooks(&sm, 20, |i| format!("nb-{i}"), |_| false).await;
    let bodies: Vec<String> = (0..400)
        .map(|i| {
            cloudtrail(
                &account,
                "UpdateNotebookInstance",
                &format!("nb-{}", i % 20),
            )
        })
        .collect();
    q.send_bodies(&bodies).await;
    let mut service = Service::start(
        &account,
        &q.url,
        &[
            "--no-initial-resync",
            "--concurrency",
            "1",
            "--shutdown-timeout",
            "2s",
        ],
    );
    service.wait_for("work under way", Duration::from_secs(30), |m| {
        metric(m, "sagemaker_guard_messages_deleted_total", &[]) >= 1.0
    });
    let deleted_before = service.metric("sagemaker_guard_messages_deleted_total", &[]);
    let (code, took) = service.terminate();
    assert_eq!(code, Some(0), "a graceful exit: {:#?}", service.tail(10));
    assert!(took < Duration::from_secs(2 + 5 + 2), "exited in {took:?}");
    assert!(
        deleted_before < 400.0,
        "SIGTERM came in the middle of the work"
    );
    // Every message is either deleted or back on the queue; none is lost. A receive cut short
    // hides its messages until their visibility timeout ends.
    let start = Instant::now();
    loop {
        let (visible, hidden) = q.counts(&q.url).await;
        if hidden == 0 {
            assert!(visible > 0 && visible < 400, "visible {visible}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(u64::from(visibility) + 5),
            "{hidden} messages stay hidden"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = service.logs.lock().unwrap();
    assert!(logs.iter().any(|l| l["fields"]["message"] == "stopped"));
}

#[tokio::test]
async fn two_replicas_on_one_queue_handle_every_event_without_errors() {
    let account = account(27);
    let q = queues(&account, 30).await;
    let sm = client(&account).await;
    create_notebooks(&sm, 30, |i| format!("nb-{i}"), |i| i % 3 == 0).await;
    let a = Service::start(
        &account,
        &q.url,
        &["--no-initial-resync", "--concurrency", "4"],
    );
    let b = Service::start(
        &account,
        &q.url,
        &["--no-initial-resync", "--concurrency", "4"],
    );
    let bodies: Vec<String> = (0..300)
        .map(|i| {
            cloudtrail(
                &account,
                "UpdateNotebookInstance",
                &format!("nb-{}", i % 30),
            )
        })
        .collect();
    q.send_bodies(&bodies).await;
    let deleted = |s: &Service| {
        s.metric(
            "sagemaker_guard_messages_deleted_total",
            &["reason=\"done\""],
        )
    };
    let start = Instant::now();
    while deleted(&a) + deleted(&b) < 300.0 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "a {} + b {}",
            deleted(&a),
            deleted(&b)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // SQS delivers at least once: a message can reach both replicas; each settles it safely.
    assert!(deleted(&a) + deleted(&b) >= 300.0);
    assert!(
        deleted(&a) > 0.0 && deleted(&b) > 0.0,
        "both replicas worked"
    );
    for s in [&a, &b] {
        assert_eq!(
            s.metric("sagemaker_guard_reconciles_total", &["result=\"retry\""]),
            0.0
        );
        assert_eq!(
            s.metric("sagemaker_guard_reconciles_total", &["result=\"error\""]),
            0.0
        );
        assert_eq!(
            s.metric("sagemaker_guard_messages_dead_lettered_total", &[]),
            0.0
        );
    }
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    assert_eq!(q.counts(&q.dlq_url).await, (0, 0));
}

#[tokio::test]
async fn no_dead_letter_queue_is_refused_at_start() {
    let account = account(28);
    let sqs = sqs(&account).await;
    let url = sqs
        .create_queue()
        .queue_name("bare")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), POLICY);
    let out = guard(&account)
        .args([
            "run",
            "--queue-url",
            &url,
            "--listen",
            "127.0.0.1:0",
            "--policy",
        ])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no dead-letter queue"));
}

/// At the default log level the service says it runs and where it listens, and it is ready as
/// soon as the queue has answered, not after the first long poll (20 s on an empty queue). Each
/// reconcile is one line at info, a compliant one too: a silent service looks dead.
#[tokio::test]
async fn at_the_default_level_it_logs_its_address_and_each_reconcile_and_is_ready_at_once() {
    let account = account(29);
    let q = queues(&account, 30).await;
    let service = Service::start_with(&account, &q.url, &["--no-initial-resync"], |cmd| {
        cmd.env_remove("RUST_LOG");
    });
    // `start_with` found the address in the start line, logged at the default level.
    let started = Instant::now();
    assert_eq!(http_get(&format!("{}/readyz", service.base)).0, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    let logs = service.logs.lock().unwrap().clone();
    assert!(
        logs.iter().all(|l| l["level"] != "DEBUG"),
        "nothing below info by default: {logs:#?}"
    );
    create_notebook(&client(&account).await, "nb-fine", true).await;
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-fine")])
        .await;
    service.wait_for_log(
        "the compliant notebook's reconcile at info",
        Duration::from_secs(30),
        |l| {
            l["fields"]["message"] == "reconciled"
                && l["fields"]["result"] == "compliant"
                && l["level"] == "INFO"
        },
    );
}

/// The policy's warnings (here an exemption that has expired) are logged at start.
#[tokio::test]
async fn the_policys_warnings_are_logged_at_start() {
    let account = account(30);
    let q = queues(&account, 30).await;
    let policy = format!(
        "{POLICY}  exemptions:\n    - name: old-pilot\n      reason: a pilot that ended\n      namePatterns: [\"pilot-*\"]\n      expires: 2020-01-01\n"
    );
    let service =
        Service::start_with_policy(&account, &q.url, &policy, &["--no-initial-resync"], |_| {});
    service.wait_for_log(
        "the expired exemption's warning",
        Duration::from_secs(10),
        |l| {
            l["fields"]["message"] == "the policy loads, with a warning"
                && l["fields"]["warning"].to_string().contains("old-pilot")
        },
    );
}

/// Points `link` at `target` at once, as the kubelet updates a mounted ConfigMap: a new symlink
/// renamed over the old.
#[cfg(unix)]
fn swap_symlink(target: &str, link: &std::path::Path) {
    let tmp = link.with_file_name("..swap");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_mounted_configmap_update_reloads_the_policy_and_an_invalid_one_is_refused() {
    let account = account(196);
    let q = queues(&account, 30).await;
    let service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    // Lay the policy out as a ConfigMap volume: policy.yaml -> ..data/policy.yaml,
    // ..data -> ..v1 (the same contents as at start: not a change).
    let dir = service.policy.parent().unwrap().to_path_buf();
    let version = |name: &str, text: &str| {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("policy.yaml"), text).unwrap();
    };
    version("..v1", &std::fs::read_to_string(&service.policy).unwrap());
    swap_symlink("..v1", &dir.join("..data"));
    swap_symlink("..data/policy.yaml", &service.policy);

    version("..v2", &POLICY.replace("name: service", "name: reloaded"));
    swap_symlink("..v2", &dir.join("..data"));
    service.wait_for_log("the policy reloaded", Duration::from_secs(30), |l| {
        l["fields"]["message"] == "policy reloaded"
    });
    let reloaded = service
        .logs
        .lock()
        .unwrap()
        .iter()
        .find(|l| l["fields"]["message"] == "policy reloaded")
        .cloned()
        .unwrap();
    assert_eq!(reloaded["fields"]["policy"], "reloaded", "{reloaded}");
    assert_eq!(reloaded["fields"]["why"], "the file changed", "{reloaded}");

    version(
        "..v3",
        "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: x}\nspec: {bogus: 1}\n",
    );
    swap_symlink("..v3", &dir.join("..data"));
    service.wait_for("the refusal counted", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_policy_reloads_total",
            &["result=\"refused\""],
        ) == 1.0
    });
    let refused = service
        .logs
        .lock()
        .unwrap()
        .iter()
        .find(|l| l["fields"]["message"] == "the new policy is refused; the old one stays in force")
        .cloned()
        .unwrap();
    assert!(
        refused["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("policy.yaml:4:"),
        "the refusal names the file, line and column: {refused}"
    );
    // Read once, said once: the invalid file is not refused again on every check.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        service.metric(
            "sagemaker_guard_policy_reloads_total",
            &["result=\"refused\""]
        ),
        1.0
    );
    assert_eq!(
        service.metric(
            "sagemaker_guard_policy_reloads_total",
            &["result=\"applied\""]
        ),
        1.0
    );
    assert_eq!(http_get(&format!("{}/readyz", service.base)).0, 200);
}

/// `healthcheck`, for container health checks in an image without an HTTP client: 0 for a
/// running service, 1 with the reason when nothing answers.
#[tokio::test]
async fn healthcheck_exits_0_for_a_running_service_and_1_when_nothing_answers() {
    let account = account(199);
    let q = queues(&account, 30).await;
    let service = Service::start(&account, &q.url, &["--no-initial-resync"]);
    let ok = guard(&account)
        .args(["healthcheck", "--url", &format!("{}/healthz", service.base)])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    // Port 9 (discard) has no listener here.
    let down = guard(&account)
        .args(["healthcheck", "--url", "http://127.0.0.1:9/healthz"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(
        stderr.starts_with("error: http://127.0.0.1:9/healthz: cannot ask"),
        "{stderr}"
    );
}
