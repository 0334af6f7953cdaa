//! Shared set-up of the integration tests: the emulator, an SDK client on it, and the real binary.
//!
//! The tests talk to the extended moto emulator over HTTP (`tests/emulator/`), started by the
//! README's test command (`scripts/test`), which exports its URL as `SG_EMULATOR_URL`. Each test
//! uses an account of its own (moto takes a 12-digit access key id as the account), so tests run
//! in parallel on one emulator without seeing each other's resources; what a test changes in the
//! emulator's behaviour (transition time, faults) it changes for its account only.

pub mod service;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sagemaker::Client;

pub const REGION: &str = "us-east-1";

/// A fresh account for test number `n`: unique within a run (by `n`) and across runs (by process
/// and time), so a test never sees resources an earlier run left on the same emulator. Every test
/// of the binary shares one process: a number taken twice fails the second test, by its name.
pub fn account(n: u32) -> String {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    use std::time::{SystemTime, UNIX_EPOCH};
    static TAKEN: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());
    let fresh = TAKEN.lock().unwrap().insert(n);
    assert!(
        fresh,
        "account({n}) is already another test's: give each test a number of its own"
    );
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let run = (u64::from(std::process::id()) * 1_000_003 + nanos / 1_000) % 100_000_000;
    format!("{:04}{run:08}", 1000 + n)
}

/// The emulator's URL. A test that needs it and cannot find it fails, saying how to start it.
pub fn emulator_url() -> String {
    match std::env::var("SG_EMULATOR_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "SG_EMULATOR_URL is not set: the integration tests need the AWS emulator. \
             Run them with `scripts/test`, which installs and starts it, or start it yourself with \
             `.venv/bin/python tests/emulator/sg_emulator.py --port-file /tmp/sg-emulator.url` and \
             `export SG_EMULATOR_URL=$(cat /tmp/sg-emulator.url)`"
        ),
    }
}

/// A SageMaker client for one account on the emulator.
pub async fn client(account: &str) -> Client {
    let config = aws_sdk_sagemaker::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(emulator_url())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(account, "x", None, None, "sg-emulator"))
        .build();
    Client::from_conf(config)
}

/// The environment the binary gets: the emulator as endpoint, the test's account as credentials,
/// one attempt per call (the emulator answers what it does not implement with HTTP 500).
pub fn guard(account: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sagemaker-guard"));
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ENDPOINT_URL", emulator_url())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", account)
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null());
    cmd
}

/// `audit --output json --policy POLICY` then `extra` flags: its exit status and report.
pub fn audit_json(
    account: &str,
    policy: &Path,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let out = guard(account)
        .args(["audit", "--output", "json", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), json(&out))
}

/// [`audit_json`] with `--apply` and a 200 ms poll.
pub fn audit_apply(
    account: &str,
    policy: &Path,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["--apply", "--poll-interval", "200ms"];
    args.extend_from_slice(extra);
    audit_json(account, policy, &args)
}

/// Runs the binary with stdin from `input`.
pub fn run_with_input(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A temporary policy file.
pub fn policy_file(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The status of every (resource name, control) in a JSON report.
pub fn statuses(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = report["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|r| {
            (
                r["resourceName"].as_str().unwrap().to_string(),
                r["control"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The emulator's count of API calls for one account.
pub fn calls(account: &str) -> serde_json::Value {
    let url = format!("{}/sg-emulator/calls?account={account}", emulator_url());
    // Python 3 is on every machine the README supports; this keeps an HTTP client out of the tests.
    let out = Command::new("python3")
        .args(["-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", &url])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "GET {url} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A GET over HTTP: (status, body). Python 3's standard library keeps an HTTP client out of
/// the tests' dependencies.
pub fn http_get(url: &str) -> (u16, String) {
    let script = "import sys, urllib.request, urllib.error\n\
try:\n    r = urllib.request.urlopen(sys.argv[1], timeout=5); code, body = r.status, r.read()\n\
except urllib.error.HTTPError as e:\n    code, body = e.code, e.read()\n\
sys.stdout.write(str(code) + '\\n' + body.decode())\n";
    let out = Command::new("python3")
        .args(["-c", script, url])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (code, body) = text.split_once('\n').unwrap_or((&text, ""));
    (code.trim().parse().unwrap(), body.to_string())
}

/// The sum of a metric's samples whose labels contain every one of `labels` (`key="value"`).
pub fn metric(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// A POST of JSON to the emulator's control API (`/sg-emulator/...`).
pub fn emulator_post(path: &str, body: &str) {
    let script = "import sys, urllib.request\n\
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST', headers={'Content-Type': 'application/json'})\n\
urllib.request.urlopen(req, timeout=5).read()\n";
    let url = format!("{}{path}", emulator_url());
    let ok = Command::new("python3")
        .args(["-c", script, &url, body])
        .status()
        .unwrap();
    assert!(ok.success(), "POST {url} {body}");
}

/// A Security Hub client on the emulator.
pub fn securityhub(account: &str) -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::Config::builder()
            .behavior_version(aws_sdk_securityhub::config::BehaviorVersion::latest())
            .endpoint_url(emulator_url())
            .region(aws_sdk_securityhub::config::Region::new(REGION))
            .credentials_provider(aws_sdk_securityhub::config::Credentials::new(
                account, "x", None, None, "test",
            ))
            .build(),
    )
}

/// Notebook, endpoint and image transitions in `account` take 0.2 s (AWS: minutes), so the
/// guard has to wait for them as it would on AWS. Only in this account: the tests running beside
/// it keep instant transitions, and no later test reuses the account.
pub fn slow_transitions(account: &str) {
    emulator_post(
        "/sg-emulator/config",
        &serde_json::json!({"account": account, "transitionSeconds": 0.2}).to_string(),
    );
}

/// A notebook's description; `None` once it is gone.
pub async fn describe_notebook(
    c: &Client,
    name: &str,
) -> Option<aws_sdk_sagemaker::operation::describe_notebook_instance::DescribeNotebookInstanceOutput>
{
    match c
        .describe_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
    {
        Ok(d) => Some(d),
        Err(e)
            if format!("{e:?}").contains("RecordNotFound")
                || format!("{e:?}").contains("does not exist") =>
        {
            None
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// Waits (up to 10 s) until the notebook has a status.
pub async fn wait_status(
    c: &Client,
    name: &str,
    want: aws_sdk_sagemaker::types::NotebookInstanceStatus,
) {
    for _ in 0..100 {
        if describe_notebook(c, name)
            .await
            .is_some_and(|d| d.notebook_instance_status() == Some(&want))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} never became {want:?}");
}

/// Makes a notebook look as if the guard stopped it two hours ago to fix it and it never got past
/// Stopping: the restart mark of two hours ago, and the status forced to Stopping.
pub async fn stuck_in_stopping(c: &Client, account: &str, name: &str) {
    let arn = describe_notebook(c, name)
        .await
        .unwrap()
        .notebook_instance_arn()
        .unwrap()
        .to_string();
    let two_hours_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    c.add_tags()
        .resource_arn(&arn)
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key("sagemaker-guard/restart")
                .value(two_hours_ago.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    emulator_post(
        "/sg-emulator/notebook-status",
        &serde_json::json!({"account": account, "region": REGION, "name": name, "status": "Stopping"})
            .to_string(),
    );
}
