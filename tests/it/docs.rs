//! The documentation's policy examples are real policies, and the outputs it shows are what the
//! binary prints.

use std::path::Path;
use std::process::Command;

/// The ```yaml (or ```text, per `kind`) blocks of a Markdown file.
fn blocks(file: &str, kind: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let fence = format!("```{kind}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, open) if open == fence => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(block.clone());
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// The ```yaml blocks of a Markdown file that are policies, but those marked `# invalid`.
fn policy_blocks(file: &str) -> Vec<String> {
    blocks(file, "yaml")
        .into_iter()
        .filter(|b| b.contains("kind: GuardPolicy") && !b.starts_with("# invalid"))
        .collect()
}

/// Each `$ sagemaker-guard policy validate FILE` shown in docs/policy.md prints what it shows: on
/// success its standard output, on failure its standard error. `policy.yaml` is the example
/// marked `# invalid`.
#[test]
fn the_policy_validate_outputs_in_the_docs_are_what_the_binary_prints() {
    let invalid = blocks("docs/policy.md", "yaml")
        .into_iter()
        .find(|b| b.starts_with("# invalid"))
        .expect("docs/policy.md shows an invalid policy");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), invalid).unwrap();
    let mut shown = 0;
    for block in blocks("docs/policy.md", "text") {
        let Some((command, expected)) = block.split_once('\n') else {
            continue;
        };
        let Some(file) = command.strip_prefix("$ sagemaker-guard policy validate ") else {
            continue;
        };
        let cwd = if file == "policy.yaml" {
            dir.path()
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR"))
        };
        let out = Command::new(env!("CARGO_BIN_EXE_sagemaker-guard"))
            .args(["policy", "validate", file])
            .current_dir(cwd)
            .output()
            .unwrap();
        let printed = if out.status.success() {
            out.stdout
        } else {
            out.stderr
        };
        assert_eq!(String::from_utf8_lossy(&printed), expected, "{command}");
        shown += 1;
    }
    assert_eq!(
        shown, 2,
        "docs/policy.md shows a valid and an invalid policy"
    );
}

#[test]
fn every_policy_example_in_the_docs_is_valid() {
    for file in ["README.md", "docs/policy.md"] {
        let blocks = policy_blocks(file);
        assert!(!blocks.is_empty(), "{file} has a policy example");
        for (i, yaml) in blocks.iter().enumerate() {
            if let Err(e) =
                sagemaker_guard::domain::policy::load(&format!("{file} example {}", i + 1), yaml)
            {
                panic!("{e}");
            }
        }
    }
}
