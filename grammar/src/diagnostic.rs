//! Diagnostics: what is wrong, where, and what to do about it.
//!
//! Parsing and checking never stop at the first problem: they return every [`Diagnostic`] they
//! find. Each has a stable [`Code`] (docs and snapshots cite it), a primary label pointing at
//! the offending text, optional secondary labels, and an optional help line. Rendering is
//! rustc-like (file:line:column, the source line, a caret underline) and uncoloured, so tests
//! can snapshot it; `--format json` uses [`Diagnostic::to_json`].

use std::fmt;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

use crate::source::{SourceMap, Span};

/// A stable diagnostic code, such as `E0101`. The list below is the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub &'static str);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Every diagnostic code. Codes are never reused for another meaning.
pub mod codes {
    use super::Code;

    // E00xx: reading and syntax.
    /// The file could not be read.
    pub const IO: Code = Code("E0001");
    /// DSL syntax error.
    pub const DSL_SYNTAX: Code = Code("E0002");
    /// YAML syntax error (not valid YAML at all).
    pub const YAML_SYNTAX: Code = Code("E0003");
    /// Expression syntax error (in a `where`, `until`, `filter`, or a template hole).
    pub const EXPR_SYNTAX: Code = Code("E0004");
    /// Template syntax error (an unclosed `{{`).
    pub const TEMPLATE_SYNTAX: Code = Code("E0005");
    /// Nesting too deep to parse safely.
    pub const TOO_DEEP: Code = Code("E0006");
    /// A number that does not fit (integer overflow, quantifier bound too large).
    pub const NUMBER_RANGE: Code = Code("E0007");
    /// A file extension Cepheus does not read.
    pub const UNKNOWN_EXTENSION: Code = Code("E0008");

    // E01xx: rule-file structure (YAML keys and values).
    /// Unknown key.
    pub const UNKNOWN_FIELD: Code = Code("E0101");
    /// Missing required key.
    pub const MISSING_FIELD: Code = Code("E0102");
    /// A value of the wrong type or an unknown variant.
    pub const INVALID_VALUE: Code = Code("E0103");
    /// Invalid duration (`10x`, `5`, `-1s`).
    pub const INVALID_DURATION: Code = Code("E0104");
    /// Invalid `times` (`"3..1"`, `"x"`).
    pub const INVALID_TIMES: Code = Code("E0105");
    /// A pattern element that is both a stage and a group, or neither.
    pub const STAGE_OR_GROUP: Code = Code("E0106");
    /// An empty rule file (no rule in it).
    pub const EMPTY_FILE: Code = Code("E0107");
    /// A `.yaml` and a `.cep` file of the same name that give different rules.
    pub const FORMS_DIFFER: Code = Code("E0108");

    // E02xx: semantic checks on the AST.
    /// Two rules with the same name in the loaded set.
    pub const DUPLICATE_RULE: Code = Code("E0201");
    /// Two stages or groups with the same name in one rule.
    pub const DUPLICATE_STAGE: Code = Code("E0202");
    /// Contiguity written on the first element of a pattern or group.
    pub const CONTIGUITY_ON_FIRST: Code = Code("E0203");
    /// An absent stage first in the pattern.
    pub const ABSENT_FIRST: Code = Code("E0204");
    /// An absent stage that loops or is optional.
    pub const ABSENT_QUANTIFIED: Code = Code("E0205");
    /// A trailing `not followed by` without `within` or `max_gap`.
    pub const TRAILING_ABSENT_UNBOUNDED: Code = Code("E0206");
    /// `until`, `greedy`, `consecutive` or `allow_combinations` on an element that does not loop.
    pub const LOOP_OPTION_ON_SINGLE: Code = Code("E0207");
    /// An invalid quantifier range (`{0}`, `{3,1}`).
    pub const INVALID_QUANTIFIER: Code = Code("E0208");
    /// `skip: {to_first|to_last: S}` names no stage of the rule.
    pub const SKIP_UNKNOWN_STAGE: Code = Code("E0209");
    /// An expression names a stage that does not exist or does not come earlier.
    pub const UNKNOWN_STAGE_REF: Code = Code("E0210");
    /// `stage.path` on a stage that may take several events (or none).
    pub const BARE_REF_TO_LOOP: Code = Code("E0211");
    /// A duration of zero where a positive one is needed.
    pub const ZERO_DURATION: Code = Code("E0212");
    /// Unknown function.
    pub const UNKNOWN_FUNCTION: Code = Code("E0213");
    /// Wrong number or kind of arguments.
    pub const WRONG_ARITY: Code = Code("E0214");
    /// `consecutive` together with `allow_combinations`.
    pub const CONSECUTIVE_AND_COMBINATIONS: Code = Code("E0215");
    /// An empty pattern or group.
    pub const EMPTY_PATTERN: Code = Code("E0216");
    /// `max_gap` on the first element (there is no previous event).
    pub const MAX_GAP_ON_FIRST: Code = Code("E0217");
    /// An aggregate or stage reference where it cannot be evaluated (in `filter`).
    pub const STAGE_REF_OUTSIDE_PATTERN: Code = Code("E0218");
    /// A pattern that can match without taking any event (all elements optional or absent).
    pub const PATTERN_MATCHES_NOTHING: Code = Code("E0219");
    /// An absent stage at the end of a group: nothing inside the group follows it, so it would
    /// constrain nothing (Flink drops it silently; Cepheus refuses it).
    pub const ABSENT_ENDS_GROUP: Code = Code("E0220");
    /// An absent stage with contiguity `any` (there is no "not followed by any").
    pub const ABSENT_ANY_CONTIGUITY: Code = Code("E0221");
    /// An optional element right before a `not next` stage (Flink: "an optional path to NOT
    /// condition is not supported").
    pub const OPTIONAL_BEFORE_ABSENT: Code = Code("E0222");
    /// An optional element right after a greedy loop (Flink: "optional pattern cannot be
    /// preceded by greedy pattern").
    pub const OPTIONAL_AFTER_GREEDY: Code = Code("E0223");
    /// `greedy` on a group (Flink: "option not applicable to group pattern").
    pub const GREEDY_GROUP: Code = Code("E0224");
    /// `greedy` together with `allow_combinations`.
    pub const GREEDY_AND_COMBINATIONS: Code = Code("E0225");
    /// `until` on a loop with an upper bound (Flink: only looping states, `N..`, take `until`).
    pub const UNTIL_ON_BOUNDED_LOOP: Code = Code("E0226");
    /// `max_gap` longer than the rule's `within`.
    pub const MAX_GAP_OVER_WITHIN: Code = Code("E0227");
    /// `skip: {to_first|to_last: S}` where S is a group or an absent stage (holds no events).
    pub const SKIP_TO_EVENTLESS: Code = Code("E0228");
    /// An expression refers to a group or an absent stage, which hold no events.
    pub const REF_TO_EVENTLESS: Code = Code("E0229");
    /// Warning: a field path whose first segment is one typo away from a stage name (it reads
    /// a field of the current event, which is probably not what was meant).
    pub const LIKELY_MISSPELT_STAGE: Code = Code("E0230");
    /// `max_gap` on an absent stage that does not end the pattern.
    pub const MAX_GAP_ON_MIDDLE_ABSENCE: Code = Code("E0231");
    /// Warning: `max_gap` on a stage right after a loop, where it is not enforced.
    pub const MAX_GAP_AFTER_LOOP: Code = Code("E0232");

    // E024x–E025x: window rules (`window:` with `aggregates`, `having`, `windows`).
    /// A rule with both `pattern` and `window` (a rule is one kind or the other).
    pub const PATTERN_AND_WINDOW: Code = Code("E0240");
    /// An aggregate that is not a call of a known aggregate function.
    pub const UNKNOWN_AGGREGATE_FUNCTION: Code = Code("E0241");
    /// An aggregate function with the wrong number or kind of arguments.
    pub const AGGREGATE_ARITY: Code = Code("E0242");
    /// `percentile(x, p)` with `p` not a number in (0, 100].
    pub const PERCENTILE_RANGE: Code = Code("E0243");
    /// `having` or an `emit` template names an aggregate that the rule does not define.
    pub const UNKNOWN_AGGREGATE: Code = Code("E0244");
    /// A sliding window whose `every` is larger than its `size`, or does not divide it.
    pub const SLIDING_EVERY: Code = Code("E0245");
    /// An aggregate's `over` shorter than the window it extends.
    pub const OVER_SHORTER_THAN_WINDOW: Code = Code("E0246");
    /// `emit` on a window rule without `having` (which windows would trigger?).
    pub const EMIT_WITHOUT_HAVING: Code = Code("E0247");
    /// `having` on a window rule without `emit` (a trigger with nowhere to go).
    pub const HAVING_WITHOUT_EMIT: Code = Code("E0248");
    /// A window rule with neither `emit` nor `windows`: it would write nothing.
    pub const WINDOW_WRITES_NOTHING: Code = Code("E0249");
    /// `within`, `skip` or `on_timeout` on a window rule (they belong to patterns).
    pub const PATTERN_KEY_ON_WINDOW_RULE: Code = Code("E0250");
    /// `aggregates`, `having` or `windows` on a pattern rule (they belong to window rules).
    pub const WINDOW_KEY_ON_PATTERN_RULE: Code = Code("E0251");
    /// Two aggregates with the same name in one rule.
    pub const DUPLICATE_AGGREGATE: Code = Code("E0252");
    /// A window rule without aggregates.
    pub const NO_AGGREGATES: Code = Code("E0253");
    /// An aggregate function call inside an aggregate's argument or `where`, or a
    /// window-aggregate-only function (`percentile`, `count_distinct`) in a pattern rule.
    pub const MISPLACED_AGGREGATE: Code = Code("E0254");

    /// Anything else the checker refuses, with its reason in the message.
    pub const UNSUPPORTED: Code = Code("E0299");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

/// A label: a span and what it says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is; `None` for problems without a place (an unreadable file).
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    /// Points the diagnostic at `span` with a short label (may be empty).
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label { span, message: label.into() });
        self
    }

    pub fn with_label(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label { span, message: label.into() });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders like rustc, without colour.
    pub fn render(&self, sources: &SourceMap) -> String {
        render_all(std::slice::from_ref(self), sources)
    }

    /// A JSON object for `--format json`: code, severity, message, file, line, column (1-based),
    /// end line and column, labels and help.
    pub fn to_json(&self, sources: &SourceMap) -> serde_json::Value {
        let place = |span: Span| {
            let file = sources.get(span.source);
            let (line, column) = file.line_col(span.start as usize);
            let (end_line, end_column) = file.line_col(span.end as usize);
            serde_json::json!({
                "file": file.name, "line": line, "column": column,
                "end_line": end_line, "end_column": end_column,
            })
        };
        let mut obj = serde_json::json!({
            "code": self.code.0,
            "severity": match self.severity { Severity::Error => "error", Severity::Warning => "warning" },
            "message": self.message,
        });
        if let Some(primary) = &self.primary {
            let mut p = place(primary.span);
            p["label"] = primary.message.clone().into();
            obj["location"] = p;
        }
        if !self.secondary.is_empty() {
            obj["labels"] = self
                .secondary
                .iter()
                .map(|l| {
                    let mut p = place(l.span);
                    p["label"] = l.message.clone().into();
                    p
                })
                .collect();
        }
        if let Some(help) = &self.help {
            obj["help"] = help.clone().into();
        }
        obj
    }
}

/// Renders diagnostics one after another, rustc-like and uncoloured.
pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut files = SimpleFiles::new();
    let ids: Vec<usize> =
        sources.files().map(|(_, f)| files.add(f.name.clone(), f.text.as_str())).collect();
    let config = term::Config::default();
    let mut out = String::new();
    for d in diagnostics {
        let mut cs_diag = match d.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        }
        .with_code(d.code.0)
        .with_message(&d.message);
        let mut labels = Vec::new();
        if let Some(p) = &d.primary {
            labels.push(
                cs::Label::primary(ids[p.span.source.0 as usize], p.span.range())
                    .with_message(&p.message),
            );
        }
        for l in &d.secondary {
            labels.push(
                cs::Label::secondary(ids[l.span.source.0 as usize], l.span.range())
                    .with_message(&l.message),
            );
        }
        cs_diag = cs_diag.with_labels(labels);
        if let Some(help) = &d.help {
            cs_diag = cs_diag.with_notes(vec![format!("help: {help}")]);
        }
        match term::emit_into_string(&config, &files, &cs_diag) {
            Ok(s) => out.push_str(&s),
            // A span outside its file is a bug in whoever made it; still say what is wrong.
            Err(_) => out.push_str(&format!("error[{}]: {}\n", d.code, d.message)),
        }
    }
    out
}

/// "did you mean" for a misspelt name among `candidates`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_caret() {
        let mut sources = SourceMap::new();
        let id = sources.add("r.cep", "rule x\npattern\n  a where x >\n");
        let d = Diagnostic::error(codes::EXPR_SYNTAX, "expected an operand")
            .at(Span::new(id, 27, 28), "here")
            .with_help("complete the comparison");
        let text = d.render(&sources);
        assert!(text.contains("error[E0004]: expected an operand"), "{text}");
        assert!(text.contains("r.cep:3:13"), "{text}");
        assert!(text.contains("^"), "{text}");
        assert!(text.contains("help: complete the comparison"), "{text}");
        let json = d.to_json(&sources);
        assert_eq!(json["location"]["line"], 3);
        assert_eq!(json["location"]["column"], 13);
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("wher", ["where", "within", "stage"]), Some("where"));
        assert_eq!(did_you_mean("zzz", ["where", "within"]), None);
    }
}
