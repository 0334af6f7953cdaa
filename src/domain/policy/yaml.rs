//! YAML text as a tree of positioned nodes, and a serde deserializer over that tree.
//!
//! A policy is read as data before it meets the Rust types (see [`super::shape`]): that is what
//! lets every problem of a file be reported at once, where a deserializer stops at the first.
//! This module is the only one that knows the YAML parser (granit-parser, the parser of
//! serde-saphyr). It keeps each scalar as written (a plain `012345678901` stays those twelve
//! characters), resolves anchors, aliases and merge keys (`<<`), refuses duplicate keys with both
//! positions, and bounds what aliases may expand to.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// The most nodes a document may have once its aliases are expanded (a policy has a few
/// hundred): a file of nested aliases cannot make the guard build an exponential tree.
const MAX_NODES: usize = 100_000;
/// The deepest nesting accepted (a policy is six levels deep).
const MAX_DEPTH: usize = 64;
/// Stands for a key that is a list or a mapping (refused): its value is dropped with it. No
/// policy key is this text.
const UNREADABLE_KEY: &str = "\u{0}unreadable key";

/// A YAML node and where it starts (1-based line and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: u64,
    pub column: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar as written. Only a plain (unquoted, untagged) scalar can be null, a boolean or a
    /// number; a quoted one is always a string.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in the order written (merged entries after them).
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub text: String,
    pub line: u64,
    pub column: u64,
}

impl Node {
    /// A plain `~`, `null` or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null(text))
    }

    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Scalar { .. } => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|(_, v)| 1 + v.size()).sum(),
        }
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A problem found while reading the YAML.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
}

/// The document of a YAML text, and the problems found reading it. `None` when the text is not
/// YAML (the parser cannot go on after a syntax error) or holds no document; problems that leave
/// the structure readable (a duplicate key, a second document) come with the tree.
pub fn parse(text: &str) -> (Option<Node>, Vec<Problem>) {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(e) => e,
            Err(e) => {
                let m = e.marker();
                builder.problem(
                    m.line() as u64,
                    m.col() as u64 + 1,
                    format!("not valid YAML: {}", e.info()),
                    Some(
                        "check the brackets, quotes and indentation around this place".to_string(),
                    ),
                );
                return (None, builder.problems);
            }
        };
        if !builder.event(event, span) {
            break;
        }
    }
    (builder.root, builder.problems)
}

enum Frame {
    Seq {
        at: (u64, u64),
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        at: (u64, u64),
        anchor: usize,
        entries: Vec<(Key, Node)>,
        /// Entries from merge keys: they fill in keys the mapping does not give itself.
        merged: Vec<(Key, Node)>,
        key: Option<Key>,
        /// The key was `<<`.
        merging: bool,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
    problems: Vec<Problem>,
}

fn position(span: &Span) -> (u64, u64) {
    (span.start.line() as u64, span.start.col() as u64 + 1)
}

impl Builder {
    fn problem(&mut self, line: u64, column: u64, message: String, hint: Option<String>) {
        self.problems.push(Problem {
            line,
            column,
            message,
            hint,
        });
    }

    /// Takes one event; false when reading must stop.
    fn event(&mut self, event: Event<'_>, span: Span) -> bool {
        let at = position(&span);
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.problem(
                        at.0,
                        at.1,
                        "a second YAML document: a policy file holds one".to_string(),
                        Some("put each policy in a file of its own".to_string()),
                    );
                    return false;
                }
                true
            }
            Event::Scalar(text, style, anchor, tag) => {
                // A core tag says how to read the scalar: `!!str` as a string, the others as if
                // plain; a quoted scalar without one is a string.
                let plain = match tag.as_deref() {
                    None => style == ScalarStyle::Plain,
                    Some(t) if t.is_yaml_core_schema_tag("str") => false,
                    Some(t) if t.is_yaml_core_schema() => true,
                    Some(t) => {
                        self.unknown_tag(t, at);
                        style == ScalarStyle::Plain
                    }
                };
                let text = if tag
                    .as_deref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("null"))
                {
                    String::new()
                } else {
                    text.into_owned()
                };
                self.node(
                    Node {
                        value: Value::Scalar { text, plain },
                        line: at.0,
                        column: at.1,
                    },
                    anchor,
                )
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.collection_tag(tag.as_deref(), at);
                self.stack.push(Frame::Seq {
                    at,
                    anchor,
                    items: Vec::new(),
                });
                self.depth_ok(at)
            }
            Event::MappingStart(_, anchor, tag) => {
                self.collection_tag(tag.as_deref(), at);
                self.stack.push(Frame::Map {
                    at,
                    anchor,
                    entries: Vec::new(),
                    merged: Vec::new(),
                    key: None,
                    merging: false,
                });
                self.depth_ok(at)
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { at, anchor, items }) => self.node(
                    Node {
                        value: Value::Seq(items),
                        line: at.0,
                        column: at.1,
                    },
                    anchor,
                ),
                _ => true,
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    at,
                    anchor,
                    mut entries,
                    merged,
                    ..
                }) => {
                    for (k, v) in merged {
                        if !entries.iter().any(|(e, _)| e.text == k.text) {
                            entries.push((k, v));
                        }
                    }
                    self.node(
                        Node {
                            value: Value::Map(entries),
                            line: at.0,
                            column: at.1,
                        },
                        anchor,
                    )
                }
                _ => true,
            },
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(target) => {
                    let mut node = target.clone();
                    (node.line, node.column) = at;
                    self.nodes += node.size();
                    self.node(node, 0)
                }
                // The parser refuses an unknown anchor itself.
                None => true,
            },
            _ => true,
        }
    }

    fn unknown_tag(&mut self, tag: &Tag, at: (u64, u64)) {
        self.problem(
            at.0,
            at.1,
            format!(
                "the YAML tag `{}{}` means nothing in a policy",
                tag.handle(),
                tag.suffix()
            ),
            Some("remove the tag".to_string()),
        );
    }

    fn collection_tag(&mut self, tag: Option<&Tag>, at: (u64, u64)) {
        if let Some(tag) = tag {
            if !tag.is_yaml_core_schema() {
                self.unknown_tag(tag, at);
            }
        }
    }

    fn depth_ok(&mut self, at: (u64, u64)) -> bool {
        if self.stack.len() > MAX_DEPTH {
            self.problem(
                at.0,
                at.1,
                format!("nested more than {MAX_DEPTH} levels deep"),
                None,
            );
            return false;
        }
        true
    }

    /// A complete node: the document, an item, a key or a value.
    fn node(&mut self, node: Node, anchor: usize) -> bool {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.problem(
                node.line,
                node.column,
                format!(
                    "the document has more than {MAX_NODES} values once its aliases are expanded"
                ),
                Some("a policy needs far fewer: check the aliases (*name)".to_string()),
            );
            return false;
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let mut problem = None;
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merged,
                key,
                merging,
                ..
            }) => match key.take() {
                None => match node.value {
                    Value::Scalar { text, plain } => {
                        *merging = plain && text == "<<";
                        *key = Some(Key {
                            text,
                            line: node.line,
                            column: node.column,
                        });
                    }
                    _ => {
                        problem = Some((
                            node.line,
                            node.column,
                            "a key must be a single word, not a list or a mapping".to_string(),
                            None,
                        ));
                        // Read on; the value that follows is dropped with its key.
                        *key = Some(Key {
                            text: UNREADABLE_KEY.to_string(),
                            line: node.line,
                            column: node.column,
                        });
                    }
                },
                Some(k) if *merging => {
                    *merging = false;
                    let sources = match node.value {
                        Value::Map(_) => vec![node],
                        Value::Seq(items) => items,
                        Value::Scalar { .. } => vec![node],
                    };
                    for source in sources {
                        match source.value {
                            Value::Map(m) => {
                                for (mk, mv) in m {
                                    if !merged.iter().any(|(e, _)| e.text == mk.text) {
                                        merged.push((mk, mv));
                                    }
                                }
                            }
                            _ => {
                                problem = Some((
                                    k.line,
                                    k.column,
                                    "a merge key (<<) takes a mapping or a list of mappings"
                                        .to_string(),
                                    None,
                                ));
                            }
                        }
                    }
                }
                Some(k) if k.text == UNREADABLE_KEY => {}
                Some(k) => {
                    if let Some((first, _)) = entries.iter().find(|(e, _)| e.text == k.text) {
                        problem = Some((
                            k.line,
                            k.column,
                            format!(
                                "key `{}` appears twice (first at line {})",
                                k.text, first.line
                            ),
                            Some("remove one of them".to_string()),
                        ));
                    } else {
                        entries.push((k, node));
                    }
                }
            },
        }
        if let Some((line, column, message, hint)) = problem {
            self.problem(line, column, message, hint);
        }
        true
    }
}

/// The name [`Located`](super::document::Located) asks the deserializer for: it is given the
/// line, the column and then the value.
pub const LOCATED: &str = "$sagemaker_guard::Located";

/// Why a tree could not be deserialized, and where.
#[derive(Debug)]
pub struct DeError {
    pub message: String,
    /// 0 until the node it happened at is known.
    pub line: u64,
    pub column: u64,
}

impl DeError {
    fn at(mut self, line: u64, column: u64) -> Self {
        if self.line == 0 {
            (self.line, self.column) = (line, column);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            line: 0,
            column: 0,
        }
    }
}

/// Deserializes a tree into `T`.
pub fn deserialize<T: de::DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer(node))
}

struct NodeDeserializer<'a>(&'a Node);

impl NodeDeserializer<'_> {
    fn place<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(self.0.line, self.0.column))
    }
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.0.value {
            Value::Scalar { text, plain: true } if is_null(text) => visitor.visit_unit(),
            Value::Scalar { text, plain: true } if text == "true" => visitor.visit_bool(true),
            Value::Scalar { text, plain: true } if text == "false" => visitor.visit_bool(false),
            Value::Scalar { text, plain: true } if text.parse::<i64>().is_ok() => {
                visitor.visit_i64(text.parse().expect("checked"))
            }
            Value::Scalar { text, plain: true } if text.parse::<u64>().is_ok() => {
                visitor.visit_u64(text.parse().expect("checked"))
            }
            Value::Scalar { text, .. } => visitor.visit_str(text),
            Value::Seq(items) => visitor.visit_seq(SeqAccess(items.iter())),
            Value::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
            }),
        };
        self.place(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    /// Any scalar is a string, as written: `12345` is "12345", not a number turned back.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Scalar { text, .. } if !self.0.is_null() => {
                let r = visitor.visit_str(text);
                self.place(r)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Scalar { text, .. } => {
                let r = visitor.visit_enum(text.as_str().into_deserializer());
                self.place(r)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == LOCATED {
            let r = visitor.visit_seq(LocatedAccess {
                node: self.0,
                step: 0,
            });
            self.place(r)
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct SeqAccess<'a>(std::slice::Iter<'a, Node>);

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.0
            .next()
            .map(|n| seed.deserialize(NodeDeserializer(n)))
            .transpose()
    }
}

struct MapAccess<'a> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    value: Option<&'a Node>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        let d: de::value::StrDeserializer<'_, DeError> = key.text.as_str().into_deserializer();
        seed.deserialize(d)
            .map(Some)
            .map_err(|e| e.at(key.line, key.column))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let value = self.value.take().expect("a key before its value");
        seed.deserialize(NodeDeserializer(value))
    }
}

/// A located value: its line, its column, the value.
struct LocatedAccess<'a> {
    node: &'a Node,
    step: u8,
}

impl<'de> de::SeqAccess<'de> for LocatedAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.step += 1;
        match self.step {
            1 => seed
                .deserialize(self.node.line.into_deserializer())
                .map(Some),
            2 => seed
                .deserialize(self.node.column.into_deserializer())
                .map(Some),
            3 => seed.deserialize(NodeDeserializer(self.node)).map(Some),
            _ => Ok(None),
        }
    }
}
