//! Deserializing the raw mirror while reporting every structural error, not just the first.
//!
//! serde stops at the first error. To find the next one, the offending part of the text is
//! neutralized and the text deserialized again, up to [`MAX_ERRORS`] times:
//!
//! - an unknown or duplicate key: the whole entry (key and value) is blanked out;
//! - any other error: the value it points at becomes `~` (null), which every raw field
//!   accepts, since they are all `Option`s; if that value was already neutralized, its parent
//!   is.
//!
//! Neutralizing replaces characters by spaces (keeping line breaks and byte offsets), so every
//! position serde reports in the edited text is still a position in the original. The
//! [`Touched`] list records what was neutralized, so that lowering does not then report a key
//! as *missing* when the user did write it and it was already reported as *wrong*.

use serde_saphyr::{Error, Location, MessageFormatter, Options, Spanned};

use super::outline::{Node, NodeKind, Outline};
use super::raw::{
    RawAggregateLong, RawDocument, RawElement, RawEmit, RawRule, RawSession, RawSliding, RawSource,
    RawWindow, RawWindows, SKIP_TARGET_KEYS,
};
use crate::diagnostic::{Diagnostic, codes, did_you_mean};
use crate::source::{SourceId, Span};

/// At most this many structural errors are reported per file; the rest would be noise.
pub const MAX_ERRORS: usize = 64;

/// A part of the text that was neutralized after an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched {
    /// Byte range that was blanked or replaced by `~`.
    pub start: u32,
    pub end: u32,
    /// The key of the entry, when the part was a mapping entry's value or the entry itself;
    /// for a misspelt key, also the key it was probably meant to be.
    pub keys: Vec<String>,
    /// Start of the mapping holding that entry (in the outline), when there is one.
    pub map_start: Option<u32>,
}

/// The documents of a file, with the structural errors found and what was neutralized.
#[derive(Debug, Default)]
pub struct Recovered {
    pub documents: Vec<Spanned<RawDocument>>,
    pub diagnostics: Vec<Diagnostic>,
    pub touched: Vec<Touched>,
}

/// How serde-saphyr reads rule files.
pub fn options() -> Options {
    let mut options = Options::default();
    // YAML 1.2 booleans only: `optional: yes` is an error, and a `name: no` stays a string
    // instead of turning into `false` (the "Norway problem").
    options.strict_booleans = true;
    // Diagnostics are rendered by Cepheus, from the structured error.
    options.with_snippet = false;
    // The outline refuses deeper nesting first, with a better message; this is a second guard.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = super::outline::MAX_NESTING + 1;
    options.budget = Some(budget);
    options
}

/// Deserializes `text` into raw documents, neutralizing each structural error to find more.
pub fn deserialize(text: &str, source: SourceId, outline: &Outline) -> Recovered {
    let mut out = Recovered::default();
    let mut edited = text.to_string();
    not_rules(text, source, outline, &mut edited, &mut out);
    loop {
        let err = match serde_saphyr::from_str_multiple_with_options::<Spanned<RawDocument>, Vec<_>>(
            &edited,
            options(),
        ) {
            Ok(documents) => {
                out.documents = documents;
                return out;
            }
            Err(err) => unwrap_error(err),
        };
        let Some(at) =
            err.location().filter(|l| *l != Location::UNKNOWN).map(|l| location_range(text, &l))
        else {
            out.diagnostics.push(translate(&err));
            return out;
        };
        let target = target(text, outline, &out.touched, &err, at);
        let shown = target.as_ref().map_or(at, |t| t.shown);
        let about = target.as_ref().and_then(|t| t.about).map(|i| &outline.nodes[i]);
        let d =
            about.and_then(|node| wrong_type(text, &err, node)).unwrap_or_else(|| translate(&err));
        let d = d.at(Span::new(source, shown.0, shown.1), label_of(&err));
        // A neutralized value can fail the same way again (a `|` block keeps its indicator
        // and reads `~` as text); its parent is neutralized next, and the repeat not reported.
        if !out.diagnostics.contains(&d) {
            out.diagnostics.push(d);
        }
        let Some(target) = target else { return out };
        blank(&mut edited, target.touched.start, target.touched.end, !target.whole_entry);
        out.touched.push(target.touched);
        if out.diagnostics.len() >= MAX_ERRORS || out.touched.len() >= 2 * MAX_ERRORS {
            return out;
        }
    }
}

/// Reports and neutralizes document roots and root-list items that cannot be rules (a string,
/// a list inside the list). serde reports these without a position, so they are found from the
/// outline before deserializing.
fn not_rules(
    text: &str,
    source: SourceId,
    outline: &Outline,
    edited: &mut String,
    out: &mut Recovered,
) {
    let is_null = |n: &Node| {
        n.kind == NodeKind::Scalar
            && matches!(
                text.get(n.start as usize..n.end as usize),
                Some("" | "~" | "null" | "Null" | "NULL")
            )
    };
    let mut wrong = Vec::new();
    for &root in &outline.roots {
        let node = &outline.nodes[root];
        match node.kind {
            NodeKind::Scalar if !is_null(node) => {
                wrong.push((root, "a rule (a mapping) or a list of rules"))
            }
            NodeKind::Seq => wrong.extend(
                outline
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| {
                        n.parent == Some(root)
                            && (n.kind == NodeKind::Seq
                                || n.kind == NodeKind::Scalar && !is_null(n))
                    })
                    .map(|(i, _)| (i, "a rule (a mapping with `name` and `pattern`)")),
            ),
            _ => {}
        }
    }
    for (i, expected) in wrong {
        let node = &outline.nodes[i];
        let found = if node.kind == NodeKind::Seq { "a list" } else { "a string" };
        out.diagnostics.push(
            Diagnostic::error(codes::INVALID_VALUE, format!("expected {expected}, found {found}"))
                .at(Span::new(source, node.start, node.end), "not a rule"),
        );
        blank(edited, node.start, node.end, true);
        out.touched.push(Touched {
            start: node.start,
            end: node.end,
            keys: Vec::new(),
            map_start: None,
        });
    }
}

/// The error itself, without alias or snippet wrappers.
fn unwrap_error(err: Error) -> Error {
    match err {
        Error::AliasError { error, .. } => unwrap_error(*error),
        Error::WithSnippet { error, .. } => unwrap_error(*error),
        other => other,
    }
}

/// What to neutralize after an error, and where to show it.
struct Target {
    touched: Touched,
    /// Blank the whole `key: value` entry (rather than make the value null).
    whole_entry: bool,
    /// The byte range the diagnostic points at.
    shown: (u32, u32),
    /// The value node the error is about, when known.
    about: Option<usize>,
}

/// Finds the part of the text that `err` (at bytes `at`) is about. `None` when nothing more can
/// be neutralized, which ends the retries.
fn target(
    text: &str,
    outline: &Outline,
    touched: &[Touched],
    err: &Error,
    at: (u32, u32),
) -> Option<Target> {
    let entry = outline.entry_with_key_at(at.0);
    let touch = |i: usize, start: u32, keys: Vec<String>| {
        let node = &outline.nodes[i];
        Touched {
            start,
            end: node.end,
            keys,
            map_start: node.parent.map(|p| outline.nodes[p].start),
        }
    };
    let key_text = |i: usize| outline.nodes[i].key.as_ref().map(|k| k.text.clone());
    match (err, entry) {
        // The key itself is wrong: remove the entry. A misspelt key counts as the key it was
        // probably meant to be, so that key is not then reported missing.
        (Error::SerdeUnknownField { .. } | Error::DuplicateMappingKey { .. }, Some(i)) => {
            let key =
                outline.nodes[i].key.as_ref().expect("entry_with_key_at finds nodes with a key");
            let mut keys = vec![key.text.clone()];
            if let Error::SerdeUnknownField { field, expected, .. } = err {
                keys.extend(did_you_mean(field, expected.iter().copied()).map(str::to_string));
            }
            Some(Target {
                touched: touch(i, key.start, keys),
                whole_entry: true,
                shown: at,
                about: None,
            })
        }
        // Some errors are reported at the key of the value they are about: show and
        // neutralize the value.
        (_, Some(i)) => {
            let node = &outline.nodes[i];
            let shown = (node.start, node.end);
            if touched.iter().any(|t| t.start == node.start) || node.end <= node.start {
                return escalate(outline, touched, node.parent?, at).map(|t| Target {
                    about: Some(i),
                    shown,
                    ..t
                });
            }
            let touched = touch(i, node.start, key_text(i).into_iter().collect());
            Some(Target { touched, whole_entry: false, shown, about: Some(i) })
        }
        (_, None) => {
            let i = outline.node_at(at.0)?;
            let node = &outline.nodes[i];
            // An error at the start of a one-line value (`[a]`) underlines all of it.
            let one_line = text_has_no_break(text, node.start, node.end);
            let shown =
                if node.start == at.0 && one_line { (node.start, node.end.max(at.1)) } else { at };
            escalate(outline, touched, i, at).map(|t| Target { about: Some(i), shown, ..t })
        }
    }
}

fn text_has_no_break(text: &str, start: u32, end: u32) -> bool {
    text.get(start as usize..end as usize).is_some_and(|t| !t.contains(['\n', '\r']))
}

/// Neutralizes node `index`, or the nearest enclosing node not neutralized yet.
fn escalate(
    outline: &Outline,
    touched: &[Touched],
    mut index: usize,
    at: (u32, u32),
) -> Option<Target> {
    loop {
        let node = &outline.nodes[index];
        if !touched.iter().any(|t| t.start == node.start) && node.end > node.start {
            let touched = Touched {
                start: node.start,
                end: node.end,
                keys: node.key.iter().map(|k| k.text.clone()).collect(),
                map_start: node.parent.map(|p| outline.nodes[p].start),
            };
            return Some(Target { touched, whole_entry: false, shown: at, about: None });
        }
        index = node.parent?;
    }
}

/// Replaces `start..end` by spaces (a leading `~` when `null`), keeping line breaks so every
/// other byte stays where it was.
fn blank(text: &mut String, start: u32, end: u32, null: bool) {
    let (start, end) = (start as usize, (end as usize).min(text.len()));
    let Some(part) = text.get(start..end) else { return };
    let mut replaced = String::with_capacity(part.len());
    for c in part.chars() {
        if c == '\n' || c == '\r' {
            replaced.push(c);
        } else {
            replaced.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    if null && !replaced.is_empty() && !replaced.starts_with(['\n', '\r']) {
        replaced.replace_range(0..1, "~");
    }
    text.replace_range(start..end, &replaced);
}

/// The byte range a location points at.
pub fn location_range(text: &str, loc: &Location) -> (u32, u32) {
    let span = loc.span();
    let clamp = |v: u64| u32::try_from(v.min(text.len() as u64)).unwrap_or(u32::MAX);
    match (span.byte_offset(), span.byte_len()) {
        (Some(start), Some(len)) => (clamp(start), clamp(start.saturating_add(len))),
        _ => {
            let start = offset_of_line_col(text, loc.line(), loc.column());
            (start, start)
        }
    }
}

/// Byte offset of a 1-based line and character column.
fn offset_of_line_col(text: &str, line: u64, column: u64) -> u32 {
    let mut offset = text.len();
    let line_start = if line <= 1 {
        Some(0)
    } else {
        text.match_indices('\n').nth((line - 2) as usize).map(|(i, _)| i + 1)
    };
    if let Some(start) = line_start {
        offset = text[start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(text.len(), |(i, _)| start + i);
    }
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// What a set of keys is the key set of, for messages.
fn place_of(expected: &[&str]) -> &'static str {
    let same = |keys: &[super::raw::KeyDoc]| {
        keys.len() == expected.len() && keys.iter().all(|k| expected.contains(&k.key))
    };
    if same(RawRule::KEYS) {
        "a rule"
    } else if same(RawSource::KEYS) {
        "`source`"
    } else if same(RawElement::KEYS) {
        "a pattern element"
    } else if same(RawEmit::KEYS) {
        "an emit"
    } else if same(RawWindow::KEYS) {
        "`window`"
    } else if same(RawSliding::KEYS) {
        "a sliding window"
    } else if same(RawSession::KEYS) {
        "a session window"
    } else if same(RawAggregateLong::KEYS) {
        "an aggregate"
    } else if same(RawWindows::KEYS) {
        "`windows`"
    } else if expected == SKIP_TARGET_KEYS {
        "`skip`"
    } else {
        "this mapping"
    }
}

fn list(words: &[&str]) -> String {
    words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}

/// A value of the wrong type under a key Cepheus knows: says what the key takes.
fn wrong_type(text: &str, err: &Error, node: &Node) -> Option<Diagnostic> {
    let type_error = matches!(
        err,
        Error::Unexpected { .. }
            | Error::SerdeInvalidType { .. }
            | Error::InvalidScalar { .. }
            | Error::InvalidBooleanStrict { .. }
            | Error::NullIntoString { .. }
            | Error::TaggedScalarCannotDeserializeIntoString { .. }
            | Error::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
            | Error::ExpectedStringKeyForExternallyTaggedEnum { .. }
            | Error::UnexpectedValueForUnitEnumVariant { .. }
            | Error::ExpectedMappingEndAfterEnumVariantValue { .. }
    );
    let key = &node.key.as_ref()?.text;
    let expected = expected_for(key).filter(|_| type_error)?;
    let found = match node.kind {
        NodeKind::Map => "a mapping".to_string(),
        NodeKind::Seq => "a list".to_string(),
        NodeKind::Alias => "an alias".to_string(),
        NodeKind::Scalar => {
            // The first line, at most 40 characters of it: a message is one short line.
            let token = text.get(node.start as usize..node.end as usize).unwrap_or("");
            let line = token.lines().next().unwrap_or("").trim_end();
            let shown: String = line.chars().take(40).collect();
            if token.trim().is_empty() {
                "nothing".to_string()
            } else if shown.len() < token.trim_end().len() {
                format!("`{shown}...`")
            } else {
                format!("`{shown}`")
            }
        }
    };
    let d =
        Diagnostic::error(codes::INVALID_VALUE, format!("`{key}` takes {expected}, found {found}"));
    Some(match err {
        Error::InvalidBooleanStrict { .. } => d.with_help(YAML_BOOLEANS),
        _ => d,
    })
}

const YAML_BOOLEANS: &str =
    "YAML 1.2 booleans are `true` and `false` (not `yes`, `no`, `on` or `off`)";

/// What the value of a rule-file key looks like, for messages.
fn expected_for(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" | "description" | "stage" | "group" | "topic" => "a string",
        "topics" => "a list of topic names",
        "source" | "emit" | "on_timeout" | "windows" | "sliding" | "session" => "a mapping",
        "window" => {
            "a mapping: `tumbling: 5m`, `sliding: {size: 1h, every: 5m}` or `session: {gap: 30m}`"
        }
        "aggregates" => "a mapping of aggregate names to aggregates such as `count()`",
        "tumbling" | "size" | "every" | "gap" | "over" => "a duration such as `5m` or `1d`",
        "having" | "of" => {
            "an expression as a string (quote it if YAML reads it as a number or a boolean)"
        }
        "fields" => "a mapping of field names to values",
        "pattern" => "a list of pattern elements (`- stage: NAME`)",
        "within" | "max_out_of_orderness" | "max_gap" => "a duration such as `10s` or `24h`",
        "skip" => {
            "`no_skip`, `to_next`, `past_last_event`, `{to_first: STAGE}` or `{to_last: STAGE}`"
        }
        "key" | "time" => "a field path such as `user_id`",
        "filter" | "where" | "until" => {
            "an expression as a string (quote it if YAML reads it as a number or a boolean)"
        }
        "contiguity" => "`strict`, `relaxed` or `any`",
        "times" => r#"a count such as "3", "2..5" or "1..""#,
        "optional" | "greedy" | "consecutive" | "allow_combinations" | "absent" => {
            "`true` or `false`"
        }
        _ => return None,
    })
}

/// Turns a serde-saphyr error into a diagnostic with Cepheus's codes and wording.
fn translate(err: &Error) -> Diagnostic {
    match err {
        Error::SerdeUnknownField { field, expected, .. } => {
            let d = Diagnostic::error(
                codes::UNKNOWN_FIELD,
                format!("unknown key `{field}` in {}", place_of(expected)),
            );
            match did_you_mean(field, expected.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("the keys here are {}", list(expected))),
            }
        }
        Error::SerdeMissingField { field, .. } => {
            Diagnostic::error(codes::MISSING_FIELD, format!("missing key `{field}`"))
        }
        Error::SerdeUnknownVariant { variant, expected, .. } => {
            let what = if expected.as_slice() == super::raw::CONTIGUITY_VALUES {
                "contiguity"
            } else if expected.contains(&"past_last_event")
                || expected.as_slice() == SKIP_TARGET_KEYS
            {
                "skip strategy"
            } else {
                "value"
            };
            let d = Diagnostic::error(codes::INVALID_VALUE, format!("unknown {what} `{variant}`"));
            let accepted = format!("accepted: {}", list(expected));
            match did_you_mean(variant, expected.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`? ({accepted})")),
                None => d.with_help(accepted),
            }
        }
        Error::SerdeInvalidType { unexpected, expected, .. }
        | Error::SerdeInvalidValue { unexpected, expected, .. } => Diagnostic::error(
            codes::INVALID_VALUE,
            format!("expected {expected}, found {unexpected}"),
        ),
        Error::SerdeInvalidLength { expected, .. } => Diagnostic::error(
            codes::INVALID_VALUE,
            format!("wrong number of items: expected {expected}"),
        ),
        Error::InvalidBooleanStrict { .. } => {
            Diagnostic::error(codes::INVALID_VALUE, "expected `true` or `false`")
                .with_help(YAML_BOOLEANS)
        }
        Error::InvalidScalar { ty, .. } => {
            Diagnostic::error(codes::INVALID_VALUE, format!("expected {}", describe_type(ty)))
        }
        Error::NullIntoString { .. } => {
            Diagnostic::error(codes::INVALID_VALUE, "expected a string, found nothing")
        }
        Error::Unexpected { expected, .. } => {
            let expected = match *expected {
                "mapping start" | "map" => "a mapping (`key: value`)",
                "sequence start" | "seq" => "a list",
                "string scalar" | "string" | "scalar" => "a string",
                other => other,
            };
            Diagnostic::error(codes::INVALID_VALUE, format!("expected {expected}"))
        }
        Error::Message { msg, .. } => Diagnostic::error(codes::INVALID_VALUE, msg.clone()),
        Error::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
        | Error::ExpectedStringKeyForExternallyTaggedEnum { .. }
        | Error::UnexpectedValueForUnitEnumVariant { .. } => {
            // `contiguity` is the only serde-derived enum of the mirror.
            Diagnostic::error(codes::INVALID_VALUE, "expected `strict`, `relaxed` or `any`")
        }
        Error::NonFiniteFloat { value, .. } => {
            Diagnostic::error(codes::INVALID_VALUE, format!("`{value}` is not a finite number"))
        }
        Error::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().map(|k| format!(" `{k}`")).unwrap_or_default();
            Diagnostic::error(codes::YAML_SYNTAX, format!("duplicate key{key}"))
                .with_help("a key may appear only once in a mapping")
        }
        Error::Eof { .. } => Diagnostic::error(codes::EMPTY_FILE, "the file holds no rule"),
        other => {
            // The formatter's text may hold line breaks; a diagnostic message is one line.
            let message: String = serde_saphyr::UserMessageFormatter
                .format_message(other)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            Diagnostic::error(codes::YAML_SYNTAX, format!("invalid YAML: {message}"))
        }
    }
}

fn label_of(err: &Error) -> &'static str {
    match err {
        Error::SerdeUnknownField { .. } => "unknown key",
        Error::DuplicateMappingKey { .. } => "written again here",
        Error::SerdeUnknownVariant { .. } => "unknown value",
        _ => "here",
    }
}

fn describe_type(ty: &str) -> String {
    match ty {
        "bool" => "`true` or `false`".into(),
        t if t.starts_with('i') || t.starts_with('u') => "an integer".into(),
        t if t.starts_with('f') => "a number".into(),
        t => t.to_string(),
    }
}
