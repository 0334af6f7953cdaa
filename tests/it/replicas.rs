//! Replicas that share a state table (`--state-table`, DynamoDB): one blast radius for all of
//! them, and one replica at a time changing a resource.

use std::time::{Duration, Instant};

use crate::common::service::*;
use crate::common::*;

fn dynamodb(account: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(emulator_url())
            .region(aws_sdk_dynamodb::config::Region::new(REGION))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                account, "x", None, None, "test",
            ))
            .build(),
    )
}

async fn state_table(account: &str) -> String {
    let ddb = dynamodb(account);
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    ddb.create_table()
        .table_name("guard-state")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    "guard-state".to_string()
}

fn stops(account: &str) -> u64 {
    calls(account)["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "StopNotebookInstance")
        .map(|c| c["count"].as_u64().unwrap())
        .sum()
}

const LIMITED: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: replicas}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    maxRemediationsPerHour: 2
  controls:
    SageMaker.3: {action: remediate}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_sharing_a_table_start_no_more_fixes_than_the_limit() {
    let account = account(191);
    slow_transitions(&account);
    let table = state_table(&account).await;
    let q = queues(&account, 30).await;
    create_notebooks(&client(&account).await, 6, |i| format!("nb-{i}"), |_| false).await;
    let args = [
        "--no-initial-resync",
        "--settle-interval",
        "200ms",
        "--state-table",
        table.as_str(),
    ];
    let replicas: Vec<Service> = (0..3)
        .map(|_| Service::start_with_policy(&account, &q.url, LIMITED, &args, |_| {}))
        .collect();
    let events: Vec<String> = (0..6)
        .map(|i| cloudtrail(&account, "UpdateNotebookInstance", &format!("nb-{i}")))
        .collect();
    q.send_bodies(&events).await;
    q.wait_empty(&q.url, Duration::from_secs(120)).await;
    // The limit is on fixes, one per notebook: count the notebooks the guard changed (a stop
    // made again while a fix resumes is the same fix).
    let c = client(&account).await;
    let fixed = || async {
        let mut n = 0;
        for i in 0..6 {
            let d = describe_notebook(&c, &format!("nb-{i}")).await.unwrap();
            if d.root_access().map(|r| r.as_str()) == Some("Disabled")
                || d.notebook_instance_status().map(|s| s.as_str()) != Some("InService")
            {
                n += 1;
            }
        }
        n
    };
    let start = Instant::now();
    while fixed().await < 2 {
        assert!(start.elapsed() < Duration::from_secs(60), "two fixes start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        fixed().await,
        2,
        "maxRemediationsPerHour holds across replicas"
    );
    assert!(stops(&account) >= 2);
    let limited: f64 = replicas
        .iter()
        .map(|r| {
            r.metric(
                "sagemaker_guard_executed_actions_total",
                &["result=\"rate-limited\""],
            )
        })
        .sum();
    assert!(limited >= 4.0, "the rest became findings: {limited}");
}

const FIX_ROOT: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: replicas}
spec:
  dryRun: false
  defaultAction: off
  controls:
    SageMaker.3: {action: remediate}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_told_of_one_notebook_at_once_change_it_once() {
    let account = account(192);
    slow_transitions(&account);
    let table = state_table(&account).await;
    let c = client(&account).await;
    create_notebooks(&c, 1, |_| "nb-both".to_string(), |_| false).await;
    // Each replica reads its own queue, so both are told at the same moment.
    let first = queues(&account, 30).await;
    let second_url = first
        .sqs
        .create_queue()
        .queue_name("guard-second")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let args = [
        "--no-initial-resync",
        "--settle-interval",
        "200ms",
        "--state-table",
        table.as_str(),
    ];
    let replicas = [
        Service::start_with_policy(&account, &first.url, FIX_ROOT, &args, |_| {}),
        Service::start_with_policy(&account, &second_url, FIX_ROOT, &args, |cmd| {
            cmd.env("SAGEMAKER_GUARD_DEAD_LETTER_QUEUE_URL", &first.dlq_url);
        }),
    ];
    let event = cloudtrail(&account, "UpdateNotebookInstance", "nb-both");
    let send = |url: String| {
        let sqs = first.sqs.clone();
        let body = event.clone();
        async move {
            sqs.send_message()
                .queue_url(url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    };
    tokio::join!(send(first.url.clone()), send(second_url.clone()));

    let start = Instant::now();
    loop {
        let d = describe_notebook(&c, "nb-both").await.unwrap();
        if d.root_access().map(|r| r.as_str()) == Some("Disabled")
            && d.notebook_instance_status().map(|s| s.as_str()) == Some("InService")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not fixed: {:#?}\n{:#?}",
            replicas[0].tail(10),
            replicas[1].tail(10)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first.wait_empty(&first.url, Duration::from_secs(30)).await;
    first.wait_empty(&second_url, Duration::from_secs(30)).await;
    // One replica stopped, updated and started it; the other found the lease and waited.
    assert_eq!(stops(&account), 1, "stopped once");
    assert_eq!(
        crate::recreate::count(&account, "UpdateNotebookInstance"),
        1,
        "updated once"
    );
    assert_eq!(
        crate::recreate::count(&account, "StartNotebookInstance"),
        1,
        "started once"
    );
    let waited: Vec<usize> = replicas
        .iter()
        .map(|r| {
            r.reconciled()
                .iter()
                .filter(|l| {
                    l["execution"]
                        .to_string()
                        .contains("another replica is changing it")
                })
                .count()
        })
        .collect();
    assert!(
        waited.iter().filter(|n| **n > 0).count() == 1,
        "exactly one replica waited for the other's lease: {waited:?}\n{:#?}\n{:#?}",
        replicas[0].reconciled(),
        replicas[1].reconciled()
    );
}

const PACED: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: replicas}
spec:
  dryRun: false
  defaultAction: off
  remediation:
    mutationsPerSecond: 1
  controls:
    SageMaker.3: {action: remediate}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_sharing_a_table_keep_mutations_per_second_together() {
    let account = account(210);
    let table = state_table(&account).await;
    let q = queues(&account, 30).await;
    let c = client(&account).await;
    create_notebooks(&c, 3, |i| format!("nb-{i}"), |_| false).await;
    let args = [
        "--no-initial-resync",
        "--settle-interval",
        "200ms",
        "--state-table",
        table.as_str(),
    ];
    let replicas: Vec<Service> = (0..3)
        .map(|_| Service::start_with_policy(&account, &q.url, PACED, &args, |_| {}))
        .collect();
    let events: Vec<String> = (0..3)
        .map(|i| cloudtrail(&account, "UpdateNotebookInstance", &format!("nb-{i}")))
        .collect();
    q.send_bodies(&events).await;
    let start = Instant::now();
    for i in 0..3 {
        loop {
            let d = describe_notebook(&c, &format!("nb-{i}")).await.unwrap();
            if d.root_access().map(|r| r.as_str()) == Some("Disabled")
                && d.notebook_instance_status().map(|s| s.as_str()) == Some("InService")
            {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(90), "nb-{i} fixed");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    q.wait_empty(&q.url, Duration::from_secs(30)).await;
    // Every paced call took a place in one second's window of the shared table, and no window
    // holds more than mutationsPerSecond, whichever replica made the call. (The fix's last step,
    // removing its restart tag, may still be on its way: look until the two counts meet.)
    let ddb = dynamodb(&account);
    let mutating = [
        "StopNotebookInstance",
        "UpdateNotebookInstance",
        "StartNotebookInstance",
        "AddTags",
        "DeleteTags",
    ];
    let start = Instant::now();
    loop {
        let items = ddb.scan().table_name(&table).send().await.unwrap();
        let used: Vec<u64> = items
            .items()
            .iter()
            .filter(|i| {
                i.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|pk| pk.starts_with("pace#"))
            })
            .map(|i| i["used"].as_n().unwrap().parse().unwrap())
            .collect();
        assert!(used.iter().all(|u| *u <= 1), "a second held more: {used:?}");
        let mutations: u64 = mutating
            .iter()
            .map(|a| crate::recreate::count(&account, a))
            .sum();
        assert!(mutations >= 9, "stop, update and start each: {mutations}");
        if used.iter().sum::<u64>() == mutations {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "every mutating call is paced through the table: {used:?} for {mutations} calls\n{:#?}",
            replicas[0].tail(10)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
