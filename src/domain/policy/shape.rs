//! Whether a YAML tree has the shape of a policy: the keys, types and values its JSON Schema
//! allows (the schema is generated from the document types, so the two cannot disagree).
//!
//! Every problem is collected, not only the first, and each wrong part is cut out of the tree (a
//! required key that is wrong or missing gets a blank stand-in), so that what remains
//! deserializes and the checks of values (regions, durations, combinations) run in the same pass.
//! Each problem carries the path of keys it is under: later checks leave those parts alone
//! rather than report what was cut out as a second, invented problem.

use serde_json::Value as Json;

use super::spelling::closest;
use super::yaml::{Key, Node, Problem, Value};
use crate::domain::catalogue::{ControlId, CATALOGUE};

/// One step of the path to a value: a key, or an index in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A problem of shape and the path of the value it concerns.
#[derive(Clone, Debug)]
pub struct ShapeProblem {
    pub problem: Problem,
    pub path: Vec<Step>,
}

/// Checks `root` against `schema`, cutting out what is wrong. False when the root itself is not a
/// policy (not a mapping), and nothing further can be checked.
pub fn check(root: &mut Node, schema: &Json) -> (bool, Vec<ShapeProblem>) {
    let mut checker = Checker {
        definitions: schema.get("definitions").unwrap_or(&Json::Null),
        problems: Vec::new(),
        path: Vec::new(),
    };
    let kept = checker.value(root, schema, false);
    (kept, checker.problems)
}

/// A schema with its references and nullable wrappers followed.
struct Resolved<'s> {
    schema: &'s Json,
    nullable: bool,
    /// The definition it came from (`Action`, `Controls`), which decides some messages.
    name: Option<&'s str>,
}

impl Resolved<'_> {
    fn types(&self) -> Vec<&str> {
        match self.schema.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The values of an enumeration (`enum`, or `oneOf` constants).
    fn allowed(&self) -> Option<Vec<&str>> {
        if let Some(values) = self.schema.get("enum").and_then(Json::as_array) {
            return Some(values.iter().filter_map(Json::as_str).collect());
        }
        let one_of = self.schema.get("oneOf").and_then(Json::as_array)?;
        one_of
            .iter()
            .map(|s| s.get("const").and_then(Json::as_str))
            .collect()
    }
}

struct Checker<'s> {
    definitions: &'s Json,
    problems: Vec<ShapeProblem>,
    path: Vec<Step>,
}

impl<'s> Checker<'s> {
    fn resolve(&self, mut schema: &'s Json) -> Resolved<'s> {
        let mut nullable = false;
        let mut name = None;
        loop {
            if let Some(r) = schema.get("$ref").and_then(Json::as_str) {
                let n = r.trim_start_matches("#/definitions/");
                name = Some(n);
                schema = &self.definitions[n];
                continue;
            }
            if let Some([one]) = schema
                .get("allOf")
                .and_then(Json::as_array)
                .map(Vec::as_slice)
            {
                schema = one;
                continue;
            }
            if let Some(any) = schema.get("anyOf").and_then(Json::as_array) {
                let is_null = |s: &Json| s.get("type").and_then(Json::as_str) == Some("null");
                let others: Vec<&Json> = any.iter().filter(|s| !is_null(s)).collect();
                if let [other] = others.as_slice() {
                    nullable |= others.len() < any.len();
                    schema = other;
                    continue;
                }
            }
            break;
        }
        let mut resolved = Resolved {
            schema,
            nullable,
            name,
        };
        resolved.nullable |= resolved.types().contains(&"null");
        resolved
    }

    fn problem(&mut self, line: u64, column: u64, message: String, hint: Option<String>) {
        self.problems.push(ShapeProblem {
            problem: Problem {
                line,
                column,
                message,
                hint,
            },
            path: self.path.clone(),
        });
    }

    /// Checks one value; false when it is cut out.
    fn value(&mut self, node: &mut Node, schema: &'s Json, in_item: bool) -> bool {
        let r = self.resolve(schema);
        if node.is_null() {
            if r.nullable {
                return true;
            }
            let types = r.types();
            let (what, hint) = if types.contains(&"object") {
                (
                    "is empty",
                    "write its keys under it, indented, or {} for none",
                )
            } else if types.contains(&"array") {
                (
                    "is empty",
                    "write its items under it (- item), or [] for none",
                )
            } else {
                ("has no value", "give it a value, or remove the key")
            };
            let message = if self.path.is_empty() {
                "the policy is empty".to_string()
            } else {
                format!("{} {what}", describe(&self.path))
            };
            self.problem(node.line, node.column, message, Some(hint.to_string()));
            return false;
        }
        if let Some(allowed) = r.allowed() {
            return self.enumeration(node, &r, &allowed);
        }
        let types = r.types();
        if types.contains(&"object") {
            self.object(node, &r, in_item)
        } else if types.contains(&"array") {
            self.array(node, &r)
        } else if types.contains(&"boolean") {
            self.boolean(node)
        } else if types.contains(&"integer") {
            self.integer(node, &r)
        } else if types.contains(&"string") {
            self.string(node)
        } else {
            true
        }
    }

    fn wrong_type(&mut self, node: &Node, expected: &str, hint: &str) {
        let message = if self.path.is_empty() {
            format!(
                "a policy is a mapping of apiVersion, kind, metadata and spec, not {}",
                found(node)
            )
        } else {
            format!(
                "{} must be {expected}, not {}",
                describe(&self.path),
                found(node)
            )
        };
        self.problem(node.line, node.column, message, Some(hint.to_string()));
    }

    fn object(&mut self, node: &mut Node, r: &Resolved<'s>, in_item: bool) -> bool {
        let Value::Map(entries) = &mut node.value else {
            self.wrong_type(
                node,
                "a mapping (keys and values)",
                "write its keys under it, indented, or as {key: value}",
            );
            return false;
        };
        let properties = r.schema.get("properties").and_then(Json::as_object);
        let additional = r
            .schema
            .get("additionalProperties")
            .filter(|a| a.is_object());
        let mut kept = Vec::new();
        let mut cut = Vec::new();
        for (key, mut value) in std::mem::take(entries) {
            self.path.push(Step::Key(key.text.clone()));
            let ok = if let Some(p) = properties.and_then(|p| p.get(&key.text)) {
                self.value(&mut value, p, false)
            } else if let Some(a) = additional {
                self.value(&mut value, a, false)
            } else {
                self.unknown_key(&key, r);
                false
            };
            self.path.pop();
            if ok {
                kept.push((key, value));
            } else {
                cut.push(key.text);
            }
        }
        let required: Vec<&str> = r
            .schema
            .get("required")
            .and_then(Json::as_array)
            .map(|rs| rs.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        for name in required {
            if kept.iter().any(|(k, _)| k.text == name) {
                continue;
            }
            self.path.push(Step::Key(name.to_string()));
            if !cut.iter().any(|c| c == name) {
                let within = match describe(&self.path[..self.path.len() - 1]) {
                    w if w.is_empty() => "the policy".to_string(),
                    w => w,
                };
                self.problem(
                    node.line,
                    node.column,
                    format!("{within} has no `{name}`"),
                    Some(format!(
                        "add `{name}:` to {within}; docs/policy.md says what it takes"
                    )),
                );
            }
            self.path.pop();
            // An entry of a list can be left out whole; elsewhere a blank stand-in keeps the
            // rest of the policy checkable.
            let stand_in = properties
                .and_then(|p| p.get(name))
                .and_then(|s| self.stand_in(s, node));
            match stand_in {
                Some(v) if !in_item => kept.push((
                    Key {
                        text: name.to_string(),
                        line: node.line,
                        column: node.column,
                    },
                    v,
                )),
                _ => return false,
            }
        }
        node.value = Value::Map(kept);
        true
    }

    /// A blank value of a schema's type, for a required key that is wrong or missing.
    fn stand_in(&self, schema: &'s Json, at: &Node) -> Option<Node> {
        let r = self.resolve(schema);
        let types = r.types();
        let value = if types.contains(&"string") {
            Value::Scalar {
                text: String::new(),
                plain: false,
            }
        } else if types.contains(&"array") {
            Value::Seq(Vec::new())
        } else if types.contains(&"object") {
            let mut entries = Vec::new();
            let required = r.schema.get("required").and_then(Json::as_array);
            for name in required.into_iter().flatten().filter_map(Json::as_str) {
                let s = r.schema.get("properties").and_then(|p| p.get(name))?;
                let key = Key {
                    text: name.to_string(),
                    line: at.line,
                    column: at.column,
                };
                entries.push((key, self.stand_in(s, at)?));
            }
            Value::Map(entries)
        } else {
            return None;
        };
        Some(Node {
            value,
            line: at.line,
            column: at.column,
        })
    }

    fn array(&mut self, node: &mut Node, r: &Resolved<'s>) -> bool {
        let Value::Seq(items) = &mut node.value else {
            self.wrong_type(
                node,
                "a list",
                "write a list as [a, b], or with one `- item` per line",
            );
            return false;
        };
        let Some(item_schema) = r.schema.get("items") else {
            return true;
        };
        let mut kept = Vec::new();
        for (i, mut item) in std::mem::take(items).into_iter().enumerate() {
            self.path.push(Step::Index(i));
            if self.value(&mut item, item_schema, true) {
                kept.push(item);
            }
            self.path.pop();
        }
        *items = kept;
        true
    }

    fn string(&mut self, node: &Node) -> bool {
        if matches!(node.value, Value::Scalar { .. }) {
            return true;
        }
        self.wrong_type(
            node,
            "a single value",
            "`sagemaker-guard policy schema` shows what each key takes",
        );
        false
    }

    fn boolean(&mut self, node: &Node) -> bool {
        const HINT: &str =
            "write booleans as true or false (YAML 1.2: yes, no, on and off are not booleans)";
        match &node.value {
            Value::Scalar { text, plain: true } if text == "true" || text == "false" => true,
            Value::Scalar { text, plain: false } if text == "true" || text == "false" => {
                self.problem(
                    node.line,
                    node.column,
                    format!("`{text}` is quoted, so it is a string, not a boolean"),
                    Some(format!("write {text} without quotes")),
                );
                false
            }
            Value::Scalar { text, .. } => {
                self.problem(
                    node.line,
                    node.column,
                    format!(
                        "{} must be true or false; `{text}` is not a boolean",
                        describe(&self.path)
                    ),
                    Some(HINT.to_string()),
                );
                false
            }
            _ => {
                self.wrong_type(node, "true or false", HINT);
                false
            }
        }
    }

    fn integer(&mut self, node: &Node, r: &Resolved<'s>) -> bool {
        let (min, max) = match r.schema.get("format").and_then(Json::as_str) {
            Some("uint32") => (0, i64::from(u32::MAX)),
            Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => (i64::MIN, i64::MAX),
        };
        let Value::Scalar { text, plain: true } = &node.value else {
            self.wrong_type(node, "a whole number", "write the number without quotes");
            return false;
        };
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => true,
            Ok(n) => {
                self.problem(
                    node.line,
                    node.column,
                    format!(
                        "{} is {n}, out of range: it takes {min} to {max}",
                        describe(&self.path)
                    ),
                    None,
                );
                false
            }
            Err(_) => {
                self.wrong_type(node, "a whole number", "write a number such as 2");
                false
            }
        }
    }

    fn enumeration(&mut self, node: &Node, r: &Resolved<'s>, allowed: &[&str]) -> bool {
        let text = match &node.value {
            Value::Scalar { text, .. } if allowed.contains(&text.as_str()) => return true,
            Value::Scalar { text, .. } => text.clone(),
            _ => {
                let hint = format!("write one of {}", words(allowed));
                self.wrong_type(node, "a single value", &hint);
                return false;
            }
        };
        let mean = closest(&text, allowed.iter().copied())
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        let (message, hint) = match r.name {
            Some("Action") => (
                format!("`{text}` is not an action"),
                format!("{mean}actions are {}", words(allowed)),
            ),
            Some("ControlId") => (format!("unknown control `{text}`"), control_hint(&text)),
            _ => (
                format!("`{text}` is not one of {}", words(allowed)),
                mean.trim_end().to_string(),
            ),
        };
        self.problem(
            node.line,
            node.column,
            message,
            (!hint.is_empty()).then_some(hint),
        );
        false
    }

    /// A key the schema does not have at this place; `self.path` ends with it.
    fn unknown_key(&mut self, key: &Key, r: &Resolved<'s>) {
        let within = &self.path[..self.path.len() - 1];
        let keys: Vec<&str> = r
            .schema
            .get("properties")
            .and_then(Json::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mean = closest(&key.text, keys.iter().copied());
        let (message, hint) = match (r.name, control_of(within)) {
            (Some("Controls"), _) => (
                format!("unknown control `{}`", key.text),
                control_hint(&key.text),
            ),
            (_, Some(id)) if within.last() == Some(&Step::Key("parameters".into())) => {
                parameter_problem(id, &key.text, mean)
            }
            _ => {
                let place = if within.is_empty() {
                    "the top level".to_string()
                } else {
                    describe(within)
                };
                let takes = format!("{place} takes {}", keys.join(", "));
                (
                    format!("unknown key `{}` in {place}", key.text),
                    match mean {
                        Some(c) => format!("did you mean `{c}`? {takes}"),
                        None => takes,
                    },
                )
            }
        };
        self.problem(key.line, key.column, message, Some(hint));
    }
}

/// The control whose entry a path is in (`spec.controls.SageMaker.3...`).
fn control_of(path: &[Step]) -> Option<ControlId> {
    match path {
        [Step::Key(spec), Step::Key(controls), Step::Key(id), ..]
            if spec == "spec" && controls == "controls" =>
        {
            id.parse().ok()
        }
        _ => None,
    }
}

/// An unknown key under a control's `parameters`, explained from the catalogue.
fn parameter_problem(id: ControlId, key: &str, mean: Option<&str>) -> (String, String) {
    let own: Vec<&str> = id.control().parameters.iter().map(|p| p.name).collect();
    let others = who_takes_parameters();
    if own.is_empty() {
        (
            format!("{id} takes no parameters"),
            format!("remove `parameters` from {id}; {others}; no other control takes parameters"),
        )
    } else {
        let hint = match mean {
            Some(c) => format!("did you mean `{c}`? {others}"),
            None => others,
        };
        (format!("{id} has no parameter `{key}`"), hint)
    }
}

/// "SageMaker.6 and SageMaker.7 take requiredKeyTags; SageMaker.8 takes ...", from the catalogue.
fn who_takes_parameters() -> String {
    let mut by_name: Vec<(&str, Vec<&str>)> = Vec::new();
    for control in &CATALOGUE {
        for p in control.parameters {
            match by_name.iter_mut().find(|(n, _)| *n == p.name) {
                Some((_, ids)) => ids.push(control.id),
                None => by_name.push((p.name, vec![control.id])),
            }
        }
    }
    by_name
        .iter()
        .map(|(name, ids)| {
            let verb = if ids.len() == 1 { "takes" } else { "take" };
            format!("{} {verb} {name}", words(ids))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The known ids, and the one meant if `text` is one spelt differently (`sagemaker.3`,
/// `SageMaker3`). Ids that differ by their number are different controls, never a misspelling.
fn control_hint(text: &str) -> String {
    let normal = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase()
    };
    match ControlId::ALL
        .iter()
        .find(|c| normal(c.as_str()) == normal(text))
    {
        Some(c) => format!("did you mean `{c}`? {}", control_ids()),
        None => control_ids(),
    }
}

fn control_ids() -> String {
    format!(
        "the known controls are {}",
        crate::domain::catalogue::known_ids()
    )
}

/// "a, b and c".
fn words(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `spec.exemptions[0].controls`.
pub fn describe(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// What a node is, in words.
fn found(node: &Node) -> String {
    match &node.value {
        Value::Map(_) => "a mapping".to_string(),
        Value::Seq(_) => "a list".to_string(),
        Value::Scalar { text, .. } => format!("`{text}`"),
    }
}
