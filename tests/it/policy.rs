//! What `policy validate` and a command given a policy print, the real binary, no emulator: every
//! problem of a file at once, warnings that do not refuse it, one `error:` per problem, the usual
//! boolean spellings in environment variables.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary in `dir`, without AWS settings (none of these commands reaches AWS).
fn guard(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sagemaker-guard"));
    cmd.current_dir(dir)
        .env_remove("SAGEMAKER_GUARD_DRY_RUN")
        .env_remove("SAGEMAKER_GUARD_NO_INITIAL_RESYNC")
        .env_remove("SAGEMAKER_GUARD_POLICY")
        .stdin(Stdio::null());
    cmd
}

fn write(dir: &Path, name: &str, yaml: &str) {
    std::fs::write(dir.join(name), yaml).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn validate(dir: &Path, file: &str) -> Output {
    guard(dir)
        .args(["policy", "validate", file])
        .output()
        .unwrap()
}

const HEAD: &str =
    "apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata:\n  name: p\nspec:\n";

/// Issue 10's file (shared with the unit test): an invalid boolean, an unknown control, a
/// misspelt key and five problems of meaning, which took four runs to find.
const EIGHT_PROBLEMS: &str = include_str!("../fixtures/policies/eight-problems.yaml");

#[test]
fn validate_reports_all_eight_problems_of_a_file_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "eight.yaml", EIGHT_PROBLEMS);
    let out = validate(dir.path(), "eight.yaml");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        vec![
            "error: eight.yaml:6:11: spec.dryRun must be true or false; `yes` is not a boolean",
            "error: eight.yaml:8:16: `12345` is not an AWS account id",
            "error: eight.yaml:9:26: `useast1` is not an AWS region",
            "error: eight.yaml:13:16: `someday` is not a date",
            "error: eight.yaml:15:29: `three days` is not a duration: expected number at 0",
            "error: eight.yaml:17:27: SageMaker.5 cannot be remediated: models are immutable, and enabling network isolation cuts a serving container off the network",
            "error: eight.yaml:18:5: unknown control `SageMaker.26`",
            "error: eight.yaml:19:38: unknown key `dryrun` in spec.controls.SageMaker.3",
        ],
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("  hint: ")).count(),
        8,
        "{stderr}"
    );
}

#[test]
fn validate_prints_each_control_with_its_action_and_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "live.yaml",
        &format!("{HEAD}  dryRun: false\n  defaultAction: finding\n  controls:\n    SageMaker.3: {{action: remediate, dryRun: true}}\n    SageMaker.5: {{action: off}}\n    SageMaker.8: {{action: remediate}}\n"),
    );
    write(
        dir.path(),
        "dry.yaml",
        &format!("{HEAD}  controls:\n    SageMaker.3: {{action: remediate}}\n"),
    );
    let out = guard(dir.path())
        .args(["policy", "validate", "live.yaml", "dry.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
live.yaml: ok: policy `p`
  SageMaker.1  finding
  SageMaker.2  finding
  SageMaker.3  remediate (dry-run)
  SageMaker.4  finding
  SageMaker.5  off
  SageMaker.6  finding
  SageMaker.7  finding
  SageMaker.8  remediate
  SageMaker.9  finding
  SageMaker.10 finding
  SageMaker.11 finding
  SageMaker.12 finding
  SageMaker.13 finding
  SageMaker.14 finding
  SageMaker.15 finding
  SageMaker.16 finding
  SageMaker.17 finding
  SageMaker.18 finding
  SageMaker.19 finding
  SageMaker.20 finding
  SageMaker.21 finding
  SageMaker.22 finding
  SageMaker.23 finding
  SageMaker.24 finding
  SageMaker.25 finding
dry.yaml: ok: policy `p`, dry-run (spec.dryRun): nothing is changed
  SageMaker.1  finding (dry-run)
  SageMaker.2  finding (dry-run)
  SageMaker.3  remediate (dry-run)
  SageMaker.4  finding (dry-run)
  SageMaker.5  finding (dry-run)
  SageMaker.6  finding (dry-run)
  SageMaker.7  finding (dry-run)
  SageMaker.8  finding (dry-run)
  SageMaker.9  finding (dry-run)
  SageMaker.10 finding (dry-run)
  SageMaker.11 finding (dry-run)
  SageMaker.12 finding (dry-run)
  SageMaker.13 finding (dry-run)
  SageMaker.14 finding (dry-run)
  SageMaker.15 finding (dry-run)
  SageMaker.16 finding (dry-run)
  SageMaker.17 finding (dry-run)
  SageMaker.18 finding (dry-run)
  SageMaker.19 finding (dry-run)
  SageMaker.20 finding (dry-run)
  SageMaker.21 finding (dry-run)
  SageMaker.22 finding (dry-run)
  SageMaker.23 finding (dry-run)
  SageMaker.24 finding (dry-run)
  SageMaker.25 finding (dry-run)
"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn validate_warns_of_an_unknown_region_and_an_expired_exemption_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        &format!("{HEAD}  scope:\n    regions: [us-est-1]\n  exemptions:\n    - name: old\n      namePatterns: [a]\n      expires: 2020-01-01\n"),
    );
    let out = validate(dir.path(), "p.yaml");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("p.yaml: ok: policy `p`"));
    assert_eq!(
        text(&out.stderr),
        "\
warning: p.yaml:7:15: unknown region `us-est-1`
  hint: did you mean `us-east-1`?
warning: p.yaml:11:16: exemption `old` expired at 2020-01-01T00:00:00Z: it exempts nothing any more
  hint: remove it, or give it a later `expires` if it should still apply
"
    );
}

#[test]
fn a_policy_file_that_cannot_be_read_is_named_without_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(dir.path(), "nonexistent.yaml");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: nonexistent.yaml: cannot read: No such file or directory\n"
    );
}

#[test]
fn run_with_a_bad_policy_says_error_once_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.yaml",
        &format!("{HEAD}  exemptions:\n    - namePatterns: [a]\n      controls: [SageMaker.42]\n"),
    );
    let out = guard(dir.path())
        .args(["run", "--policy", "bad.yaml", "--queue-url", "unused"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "\
error: bad.yaml:8:18: unknown control `SageMaker.42`
  hint: the known controls are SageMaker.1 to SageMaker.25
"
    );
}

/// `run` reads its flags before the policy: a bad policy shows the environment was accepted.
fn run_with_env(dir: &Path, var: &str, value: &str) -> String {
    write(dir, "bad.yaml", &format!("{HEAD}  dryRun: maybe\n"));
    let out = guard(dir)
        .args(["run", "--policy", "bad.yaml", "--queue-url", "unused"])
        .env(var, value)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    text(&out.stderr)
}

#[test]
fn boolean_environment_variables_take_the_usual_spellings() {
    let dir = tempfile::tempdir().unwrap();
    for var in [
        "SAGEMAKER_GUARD_DRY_RUN",
        "SAGEMAKER_GUARD_NO_INITIAL_RESYNC",
    ] {
        for value in [
            "1", "0", "true", "false", "yes", "no", "on", "off", "TRUE", "Off", "",
        ] {
            let stderr = run_with_env(dir.path(), var, value);
            assert!(
                stderr.starts_with("error: bad.yaml:6:11: spec.dryRun must be true or false"),
                "{var}={value}: {stderr}"
            );
        }
        let stderr = run_with_env(dir.path(), var, "maybe");
        assert!(
            stderr.contains("invalid value 'maybe'")
                && stderr.contains("write 1 or 0, true or false, yes or no, on or off"),
            "{var}=maybe: {stderr}"
        );
    }
}
