//! Recreate intents tried as an attacker would: whoever can send to the queue must not make the
//! guard create a notebook. Each intent that is not the guard's own, unchanged, in scope and
//! signed with its key is dead-lettered with its reason, nothing is created, and the service
//! keeps serving. Also the recreate's checks before anything is stopped or deleted.

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{InstanceType, Tag};

use crate::common::service::*;
use crate::common::*;
use crate::recreate::{count, lost_notebook_intent, policy, rich_notebook, snapshot};

const RUN: [&str; 3] = ["--no-initial-resync", "--settle-interval", "200ms"];

fn run_args(key: &str) -> Vec<&str> {
    let mut args = RUN.to_vec();
    args.extend(["--intent-key-id", key]);
    args
}

/// Waits until `n` messages were dead-lettered with `reason`.
fn wait_dead_lettered(service: &Service, reason: &str, n: f64) {
    service.wait_for(
        &format!("{n} dead letters `{reason}`"),
        Duration::from_secs(30),
        |m| {
            metric(
                m,
                "sagemaker_guard_messages_dead_lettered_total",
                &[&format!("reason=\"{reason}\"")],
            ) >= n
        },
    );
}

/// The service still reconciles an ordinary event after what it refused.
async fn keeps_serving(account: &str, q: &Queues, service: &Service) {
    let c = client(account).await;
    create_notebook(&c, "nb-after", true).await;
    q.send_bodies(&[cloudtrail(account, "StartNotebookInstance", "nb-after")])
        .await;
    service.wait_for("the next event", Duration::from_secs(30), |m| {
        metric(
            m,
            "sagemaker_guard_reconciles_total",
            &["result=\"compliant\""],
        ) >= 1.0
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_intent_for_a_new_name_is_dead_lettered_and_nothing_is_created() {
    let account = account(120);
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    // The attacker may send to the queue, and even has a MAC key of their own.
    let attackers_key = hmac_key(&account).await;
    let mut forged = lost_notebook_intent(&account, "nb-backdoor", "ml.t3.medium");
    forged.captured.role_arn = Some(format!("arn:aws:iam::{account}:role/attacker"));
    forged.spec.role_arn = format!("arn:aws:iam::{account}:role/attacker");
    let unsigned = serde_json::json!({
        "version": "0", "source": "sagemaker-guard", "detail-type": "Recreate Intent",
        "account": account, "region": REGION, "time": forged.id, "resources": [forged.arn],
        "detail": forged,
    })
    .to_string();
    let signed_by_the_attacker = signed_intent(&account, &attackers_key, &forged).await;
    let service =
        Service::start_with_policy(&account, &q.url, &policy(""), &run_args(&key), |_| {});
    q.send_bodies(&[unsigned.clone(), signed_by_the_attacker.clone()])
        .await;
    wait_dead_lettered(&service, "intent-signature", 2.0);
    let mut dead = q.dead_letters(2).await;
    dead.sort_by(|a, b| a.body.cmp(&b.body));
    let mut sent = vec![unsigned, signed_by_the_attacker];
    sent.sort();
    for (d, body) in dead.iter().zip(&sent) {
        assert_eq!(&d.body, body, "kept as it was sent");
        assert_eq!(d.reason, "intent-signature");
        assert!(d.error.contains("nb-backdoor"), "{}", d.error);
    }
    assert_eq!(count(&account, "CreateNotebookInstance"), 0);
    assert!(describe_notebook(&client(&account).await, "nb-backdoor")
        .await
        .is_none());
    keeps_serving(&account, &q, &service).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_intent_with_its_role_changed_after_a_sigkill_is_dead_lettered_and_not_followed() {
    let account = account(121);
    slow_transitions(&account);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook(&c, "nb-real", false).await;
    let before = snapshot(&c, "nb-real").await;
    let yaml = policy("");
    let mut first = Service::start_with_policy(&account, &q.url, &yaml, &run_args(&key), |cmd| {
        cmd.env("SAGEMAKER_GUARD_FAILPOINT", "after-delete");
    });
    q.send_bodies(&[cloudtrail(&account, "UpdateNotebookInstance", "nb-real")])
        .await;
    first.wait_for_failpoint("after-delete");
    let start = Instant::now();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(count(&account, "DeleteNotebookInstance"), 1);

    // The attacker takes the real intent off the queue and puts it back with only the role
    // changed (in the capture and in the spec, so that it is self-consistent), attributes kept.
    let original = loop {
        let out = q
            .sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(60)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        let found = out
            .messages
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.body().unwrap_or_default().contains("Recreate Intent"));
        if let Some(m) = found {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no intent on the queue"
        );
    };
    q.sqs
        .delete_message()
        .queue_url(&q.url)
        .receipt_handle(original.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let mut body: serde_json::Value = serde_json::from_str(original.body().unwrap()).unwrap();
    let attacker = format!("arn:aws:iam::{account}:role/attacker");
    assert_ne!(body["detail"]["spec"]["RoleArn"], attacker.as_str());
    body["detail"]["captured"]["roleArn"] = attacker.clone().into();
    body["detail"]["spec"]["RoleArn"] = attacker.clone().into();
    q.sqs
        .send_message()
        .queue_url(&q.url)
        .message_body(body.to_string())
        .set_message_attributes(original.message_attributes.clone())
        .send()
        .await
        .unwrap();

    let second = Service::start_with_policy(&account, &q.url, &yaml, &run_args(&key), |_| {});
    wait_dead_lettered(&second, "intent-signature", 1.0);
    let dead = q.dead_letters(1).await;
    assert_eq!(dead[0].reason, "intent-signature");
    // Nothing is lost: the dead letter still holds the notebook's captured configuration.
    let kept: serde_json::Value = serde_json::from_str(&dead[0].body).unwrap();
    assert_eq!(
        kept["detail"]["captured"]["volumeSizeInGb"],
        before["volume"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        count(&account, "CreateNotebookInstance"),
        1,
        "only the test's own create: none with the attacker's role"
    );
    assert!(describe_notebook(&c, "nb-real").await.is_none());
    keeps_serving(&account, &q, &second).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_intent_key_the_service_dead_letters_even_a_real_intent() {
    let account = account(122);
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    let intent = lost_notebook_intent(&account, "nb-unchecked", "ml.t3.medium");
    let message = signed_intent(&account, &key, &intent).await;
    let service = Service::start_with_policy(&account, &q.url, &policy(""), &RUN, |_| {});
    q.send_bodies(&[message]).await;
    wait_dead_lettered(&service, "intent-signature", 1.0);
    let dead = q.dead_letters(1).await;
    assert!(
        dead[0].error.contains("--intent-key-id"),
        "{}",
        dead[0].error
    );
    assert_eq!(count(&account, "CreateNotebookInstance"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_intent_from_the_future_is_dead_lettered() {
    let account = account(123);
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    let mut intent = lost_notebook_intent(&account, "nb-later", "ml.t3.medium");
    // Signed with the real key (say, by someone allowed to use it): still refused.
    let ahead = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    intent.id = ahead.clone();
    intent
        .tags
        .insert("sagemaker-guard/recreated-at".into(), ahead);
    let message = signed_intent(&account, &key, &intent).await;
    let service =
        Service::start_with_policy(&account, &q.url, &policy(""), &run_args(&key), |_| {});
    q.send_bodies(&[message]).await;
    wait_dead_lettered(&service, "intent-invalid", 1.0);
    let dead = q.dead_letters(1).await;
    assert!(
        dead[0].error.contains("later than now"),
        "{}",
        dead[0].error
    );
    assert_eq!(count(&account, "CreateNotebookInstance"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_intent_outside_the_policys_scope_is_dead_lettered() {
    let account = account(124);
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    let intent = lost_notebook_intent(&account, "nb-elsewhere", "ml.t3.medium");
    let message = signed_intent(&account, &key, &intent).await;
    let scoped = policy("").replace(
        "  defaultAction: off\n",
        "  defaultAction: off\n  scope: {accounts: [\"111111111111\"]}\n",
    );
    let service = Service::start_with_policy(&account, &q.url, &scoped, &run_args(&key), |_| {});
    q.send_bodies(&[message]).await;
    wait_dead_lettered(&service, "intent-out-of-scope", 1.0);
    assert_eq!(count(&account, "CreateNotebookInstance"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_with_a_key_that_cannot_sign_changes_nothing_and_exits_3() {
    let account = account(125);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    rich_notebook(&c, "nb-keyless", true).await;
    let before = snapshot(&c, "nb-keyless").await;
    // An encryption key, not an HMAC key.
    let wrong = kms(&account)
        .await
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &policy(""));
    let (code, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &wrong],
    );
    assert_eq!(code, Some(3), "{report:#}");
    let error = report["errors"][0].to_string();
    assert!(error.contains("GENERATE_VERIFY_MAC"), "{report:#}");
    assert_eq!(snapshot(&c, "nb-keyless").await, before);
    for action in [
        "StopNotebookInstance",
        "UpdateNotebookInstance",
        "DeleteNotebookInstance",
        "AddTags",
    ] {
        assert_eq!(count(&account, action), 0, "{action}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_whose_lifecycle_configuration_is_gone_is_neither_stopped_nor_deleted() {
    let account = account(126);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    rich_notebook(&c, "nb-orphan", true).await;
    c.delete_notebook_instance_lifecycle_config()
        .notebook_instance_lifecycle_config_name("install-packages")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &policy(""));
    let (_, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert!(
        report["applied"]
            .to_string()
            .contains("lifecycle configuration `install-packages` no longer exists"),
        "{report:#}"
    );
    assert_eq!(count(&account, "StopNotebookInstance"), 0);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);
    assert!(
        q.receive_bodies(&q.url).await.is_empty(),
        "no intent stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_with_fifty_user_tags_is_neither_stopped_nor_deleted_and_says_why() {
    let account = account(127);
    let c = client(&account).await;
    let q = queues(&account, 30).await;
    let key = hmac_key(&account).await;
    let tags: Vec<Tag> = (0..50)
        .map(|i| Tag::builder().key(format!("k{i}")).value("v").build())
        .collect();
    c.create_notebook_instance()
        .notebook_instance_name("nb-tagged")
        .instance_type(InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker")
        // In a subnet: SageMaker.1 is fixed by a recreate in place.
        .subnet_id("subnet-0a1b2c3d")
        .security_group_ids("sg-0a1b2c3d")
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &policy(""));
    let (_, report) = audit_apply(
        &account,
        &policy,
        &["--intent-queue-url", &q.url, "--intent-key-id", &key],
    );
    assert!(
        report["applied"]
            .to_string()
            .contains("more than the 50 AWS allows"),
        "{report:#}"
    );
    assert_eq!(count(&account, "StopNotebookInstance"), 0);
    assert_eq!(count(&account, "DeleteNotebookInstance"), 0);
    assert!(describe_notebook(&c, "nb-tagged").await.is_some());
}
