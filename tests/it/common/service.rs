//! The `run` service as a child process, and the queues it reads, for the integration tests.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{DirectInternetAccess, InstanceType, RootAccess};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};

use super::*;

pub const POLICY: &str = r#"
apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata: {name: service}
spec:
  dryRun: true
  defaultAction: finding
  controls:
    SageMaker.3: {action: remediate}
    SageMaker.8: {action: remediate}
"#;

pub async fn sqs(account: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(emulator_url())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            account, "x", None, None, "test",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

pub struct Queues {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
}

/// A queue with a dead-letter queue as its redrive target.
pub async fn queues(account: &str, visibility_timeout: u32) -> Queues {
    let sqs = sqs(account).await;
    let dlq_url = sqs
        .create_queue()
        .queue_name("guard-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = format!("arn:aws:sqs:{REGION}:{account}:guard-dlq");
    let url = sqs
        .create_queue()
        .queue_name("guard")
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    Queues {
        sqs,
        url,
        arn: format!("arn:aws:sqs:{REGION}:{account}:guard"),
        dlq_url,
    }
}

impl Queues {
    /// The bodies of the messages on `url` (up to 10, waiting up to 2 s), as JSON; they stay.
    pub async fn receive_bodies(&self, url: &str) -> Vec<serde_json::Value> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        out.messages()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
            .collect()
    }

    pub async fn send_bodies(&self, bodies: &[String]) {
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(b)
                        .build()
                        .unwrap()
                })
                .collect();
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .unwrap();
            assert!(out.failed.is_empty(), "{:?}", out.failed);
        }
    }

    /// Waits until a queue has no message, visible or in flight (SQS counts are approximate and
    /// a message may be delivered twice).
    pub async fn wait_empty(&self, url: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            let counts = self.counts(url).await;
            if counts == (0, 0) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{url} still holds {counts:?} (visible, in flight)"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// (visible, in flight) messages of a queue.
    pub async fn counts(&self, url: &str) -> (u64, u64) {
        let a = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let n = |k| a.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

/// SageMaker's state-change event for a notebook, as the EventBridge rule delivers it.
pub fn state_change(account: &str, name: &str, status: &str) -> String {
    serde_json::json!({
        "version": "0", "id": "e", "detail-type": "SageMaker Notebook Instance State Change",
        "source": "aws.sagemaker", "account": account, "time": "2026-12-01T00:00:00Z",
        "region": REGION, "resources": [],
        "detail": {"NotebookInstanceName": name, "NotebookInstanceStatus": status}
    })
    .to_string()
}

pub fn cloudtrail(account: &str, event_name: &str, notebook: &str) -> String {
    serde_json::json!({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail", "source": "aws.sagemaker",
        "account": account, "time": "2026-11-29T00:00:00Z", "region": REGION, "resources": [],
        "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": event_name, "awsRegion": REGION,
                   "recipientAccountId": account, "requestParameters": {"notebookInstanceName": notebook},
                   "responseElements": null}
    })
    .to_string()
}

/// Creates `n` notebooks at once, named by `name(i)`, compliant where `compliant(i)`.
pub async fn create_notebooks(
    c: &aws_sdk_sagemaker::Client,
    n: usize,
    name: impl Fn(usize) -> String,
    compliant: impl Fn(usize) -> bool,
) {
    futures::future::join_all((0..n).map(|i| {
        let (c, name, compliant) = (c.clone(), name(i), compliant(i));
        async move { create_notebook(&c, &name, compliant).await }
    }))
    .await;
}

/// Creates one notebook: compliant with every notebook control, or with none of the settings they judge.
pub async fn create_notebook(c: &aws_sdk_sagemaker::Client, name: &str, compliant: bool) {
    let mut req = c
        .create_notebook_instance()
        .notebook_instance_name(name)
        .instance_type(InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/sagemaker");
    if compliant {
        req = req
            .subnet_id("subnet-1")
            .security_group_ids("sg-1")
            .direct_internet_access(DirectInternetAccess::Disabled)
            .root_access(RootAccess::Disabled)
            .platform_identifier("notebook-al2023-v1")
            .kms_key_id("alias/notebooks");
    }
    req.send().await.unwrap();
}

/// The service as a child process, its JSON log lines collected.
pub struct Service {
    pub child: Child,
    pub logs: Arc<Mutex<Vec<serde_json::Value>>>,
    pub base: String,
    _dir: tempfile::TempDir,
    pub policy: PathBuf,
}

impl Service {
    pub fn start(account: &str, queue_url: &str, extra: &[&str]) -> Service {
        Self::start_with(account, queue_url, extra, |_| {})
    }

    pub fn start_with(
        account: &str,
        queue_url: &str,
        extra: &[&str],
        env: impl FnOnce(&mut std::process::Command),
    ) -> Service {
        Self::start_with_policy(account, queue_url, POLICY, extra, env)
    }

    pub fn start_with_policy(
        account: &str,
        queue_url: &str,
        policy_yaml: &str,
        extra: &[&str],
        env: impl FnOnce(&mut std::process::Command),
    ) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_file(dir.path(), policy_yaml);
        let mut cmd = guard(account);
        cmd.args([
            "--log-format",
            "json",
            "run",
            "--queue-url",
            queue_url,
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--policy")
        .arg(&policy)
        .args(extra)
        .env("RUST_LOG", "sagemaker_guard=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        env(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let v: serde_json::Value =
                    serde_json::from_str(&line).unwrap_or(serde_json::json!({"raw": line}));
                if let Some(addr) = v["fields"]["listen"].as_str() {
                    let _ = tx.send(addr.to_string());
                }
                sink.lock().unwrap().push(v);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the service did not start: {:?}", logs.lock().unwrap()));
        assert_signal_handlers(child.id());
        Service {
            child,
            logs,
            base: format!("http://{addr}"),
            _dir: dir,
            policy,
        }
    }

    pub fn metrics(&self) -> String {
        let (code, body) = http_get(&format!("{}/metrics", self.base));
        assert_eq!(code, 200);
        body
    }

    pub fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        metric(&self.metrics(), name, labels)
    }

    /// Waits until `cond` holds on the metrics, or fails with the metrics and the logs.
    /// Waits until the service reaches the failpoint `name` (set with `SAGEMAKER_GUARD_FAILPOINT`).
    pub fn wait_for_failpoint(&self, name: &str) {
        self.wait_for_log(
            &format!(
                "the failpoint {name} (it exists in builds with the `failpoints` feature, which \
                 `cargo test` turns on through the dev-dependency)"
            ),
            Duration::from_secs(60),
            |l| l["fields"]["failpoint"] == name,
        );
    }

    /// Waits until a log line satisfies `cond`.
    pub fn wait_for_log(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&serde_json::Value) -> bool,
    ) {
        let start = Instant::now();
        while !self.logs.lock().unwrap().iter().any(&cond) {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; last logs:\n{:#?}",
                self.tail(20)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let m = self.metrics();
            if cond(&m) {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out waiting for {what}\nmetrics:\n{m}\nlast logs:\n{:#?}",
                    self.tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn tail(&self, n: usize) -> Vec<serde_json::Value> {
        let logs = self.logs.lock().unwrap();
        logs[logs.len().saturating_sub(n)..].to_vec()
    }

    /// The `reconciled` log events.
    pub fn reconciled(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["fields"]["message"] == "reconciled")
            .map(|l| l["fields"].clone())
            .collect()
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let start = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the service did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Checks that the process already catches SIGHUP and SIGTERM when it says it runs, so that a
/// signal sent as soon as it says so reloads or drains instead of killing it. Linux shows caught
/// signals in `/proc`; elsewhere there is nothing to check.
fn assert_signal_handlers(pid: u32) {
    // `SigCgt` has bit n - 1 set for each caught signal n: SIGHUP is 1, SIGTERM 15.
    const HUP_AND_TERM: u64 = 1 | 1 << 14;
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return;
    };
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0);
    assert_eq!(
        caught & HUP_AND_TERM,
        HUP_AND_TERM,
        "the service (pid {pid}) said it runs before it could handle SIGHUP and SIGTERM"
    );
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An EventBridge bus for the guard's outcome events, with a rule routing them to a queue of its
/// own, as a team would watch them: returns that queue's URL.
pub async fn outcomes_queue(q: &Queues, account: &str, bus: &str) -> String {
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .endpoint_url(emulator_url())
            .region(aws_sdk_eventbridge::config::Region::new(REGION))
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
                account, "x", None, None, "test",
            ))
            .build(),
    );
    events.create_event_bus().name(bus).send().await.unwrap();
    let url = q
        .sqs
        .create_queue()
        .queue_name("outcomes")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    events
        .put_rule()
        .name("outcomes")
        .event_bus_name(bus)
        .event_pattern(r#"{"source": ["sagemaker-guard"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("outcomes")
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(format!("arn:aws:sqs:{REGION}:{account}:outcomes"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// A KMS client of the account on the emulator.
pub async fn kms(account: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .endpoint_url(emulator_url())
        .region(aws_sdk_kms::config::Region::new(REGION))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            account, "x", None, None, "test",
        ))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// A new HMAC_256 KMS key of the account (the guard's intent key, or an attacker's): its ARN.
pub async fn hmac_key(account: &str) -> String {
    kms(account)
        .await
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

/// A new symmetric encryption KMS key of the account (a notebook's storage volume key): its ARN.
pub async fn volume_key(account: &str) -> String {
    kms(account)
        .await
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

/// The queue message of `intent`, signed with `key` as the guard signs intents.
pub async fn signed_intent(
    account: &str,
    key: &str,
    intent: &sagemaker_guard::domain::intent::RecreateIntent,
) -> String {
    let out = kms(account)
        .await
        .generate_mac()
        .key_id(key)
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .message(aws_sdk_kms::primitives::Blob::new(intent.digest().to_vec()))
        .send()
        .await
        .unwrap();
    let signature = sagemaker_guard::domain::intent::IntentSignature {
        key_id: key.to_string(),
        algorithm: sagemaker_guard::domain::intent::MAC_ALGORITHM.to_string(),
        mac: aws_smithy_types::base64::encode(out.mac.unwrap().as_ref()),
    };
    intent.to_message(&signature)
}

/// A dead-lettered message: its body, reason and error.
#[derive(Debug)]
pub struct DeadLetter {
    pub body: String,
    pub reason: String,
    pub error: String,
}

impl Queues {
    /// The first `n` messages of the dead-letter queue (waiting up to 30 s); they stay.
    pub async fn dead_letters(&self, n: usize) -> Vec<DeadLetter> {
        let start = Instant::now();
        let mut dead: Vec<DeadLetter> = Vec::new();
        while dead.len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{n} dead letters expected, {} found: {dead:#?}",
                dead.len()
            );
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .visibility_timeout(30)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in out.messages.unwrap_or_default() {
                let attrs = m.message_attributes.clone().unwrap_or_default();
                let attr = |k: &str| {
                    attrs
                        .get(k)
                        .and_then(|v| v.string_value())
                        .unwrap_or_default()
                        .to_string()
                };
                dead.push(DeadLetter {
                    body: m.body().unwrap_or_default().to_string(),
                    reason: attr("sagemaker-guard-reason"),
                    error: attr("sagemaker-guard-error"),
                });
            }
        }
        dead
    }
}
