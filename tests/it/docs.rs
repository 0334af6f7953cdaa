//! The documentation's policy examples are real policies.

use std::path::Path;

/// The ```yaml blocks of a Markdown file that are policies.
fn policy_blocks(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                if block.contains("kind: GuardPolicy") {
                    blocks.push(block.clone());
                }
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
