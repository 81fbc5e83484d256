//! The DSL front end: `.cep` text -> pest parse tree -> AST; and the AST printed back as DSL.
//!
//! ```text
//! text --check_depth--> cepheus.pest (parser.rs) --lower.rs--> Vec<ast::Rule>
//! ast::Rule --print.rs--> canonical text, which parses back to an equal AST
//! ```
//!
//! The grammar, `cepheus.pest`, is the reference for the syntax; `docs/rule-language.md` teaches
//! it next to the YAML form.
//!
//! Error recovery: a file is parsed whole first. When that fails, it is cut before every line
//! that starts with `rule` and each piece is parsed on its own, so every broken rule gets its own
//! diagnostic and the intact rules still load (and are checked, which finds more mistakes).

mod lower;
pub mod parser;
mod print;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};

use crate::ast::Rule;
use crate::diagnostic::{Diagnostic, codes, did_you_mean};
use crate::expr::{Ctx, TextKind, check_depth, check_tree_depth, pest_error};
use crate::source::{SourceId, Span};
use parser::{CepParser, Rule as R, friendly_rule_name};

/// Words that cannot name a rule, stage or group (they start clauses, connectors and loop
/// options, or are expression keywords). In expressions they remain ordinary field names.
pub const RESERVED_WORDS: &[&str] = &[
    "rule",
    "pattern",
    "where",
    "until",
    "max",
    "next",
    "followed",
    "any",
    "not",
    "group",
    "optional",
    "greedy",
    "consecutive",
    "combinations",
    "within",
    "skip",
    "no",
    "emit",
    "on",
    "and",
    "or",
    "in",
    "true",
    "false",
    "null",
];

/// Parses a `.cep` file: every rule in it, and every syntax problem found. Rules with a
/// problem are left out; the others are returned in file order.
pub fn parse(text: &str, source: SourceId) -> (Vec<Rule>, Vec<Diagnostic>) {
    crate::stack::with_parse_stack("cepheus-dsl-parse", || parse_file(text, source))
}

/// Prints a rule as DSL text that [`parse`] reads back to an equal AST.
pub fn print(rule: &Rule) -> String {
    print::rule(rule)
}

fn parse_file(text: &str, source: SourceId) -> (Vec<Rule>, Vec<Diagnostic>) {
    if u32::try_from(text.len()).is_err() {
        let d = Diagnostic::error(codes::UNSUPPORTED, "rule file larger than 4 GiB");
        return (Vec::new(), vec![d]);
    }
    let (rules, diagnostics) = match parse_chunk(text, 0, source) {
        Ok(parsed) => parsed,
        Err(whole_file_error) => {
            let mut rules = Vec::new();
            let mut diagnostics = Vec::new();
            for range in rule_chunks(text) {
                match parse_chunk(&text[range.clone()], range.start as u32, source) {
                    Ok((r, d)) => {
                        rules.extend(r);
                        diagnostics.extend(d);
                    }
                    Err(d) => diagnostics.push(d),
                }
            }
            if diagnostics.is_empty() {
                // Cutting the file hid the problem (a string spanning a `rule` line, say):
                // report what the whole file said.
                diagnostics.push(whole_file_error);
            }
            (rules, diagnostics)
        }
    };
    if rules.is_empty() && diagnostics.is_empty() {
        let d = Diagnostic::error(codes::EMPTY_FILE, "no rule in this file")
            .at(Span::new(source, 0, 0), "expected `rule <name>`")
            .with_help("a rule starts with `rule <name>`, then `pattern` and its stages");
        return (rules, vec![d]);
    }
    (rules, diagnostics)
}

/// Parses and lowers one piece of a file that starts at byte `base`. `Err` is a syntax error
/// (nothing in the piece could be lowered); `Ok` may still carry lowering diagnostics.
fn parse_chunk(
    text: &str,
    base: u32,
    source: SourceId,
) -> Result<(Vec<Rule>, Vec<Diagnostic>), Diagnostic> {
    let ctx = Ctx::new(source, base);
    check_depth(text, ctx, TextKind::Dsl)?;
    let mut pairs = CepParser::parse(R::file, text).map_err(|e| syntax_error(e, text, ctx))?;
    let file = pairs.next().expect("a successful parse of `file` yields the file pair");
    check_tree_depth(&file, ctx)?;
    Ok(lower::file(file, ctx))
}

/// The byte ranges of a file cut before every line that starts with the word `rule`; the first
/// range holds whatever comes before the first rule.
fn rule_chunks(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut starts = vec![0];
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let is_rule_line = line
            .strip_prefix("rule")
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
        if is_rule_line && line_start > 0 {
            starts.push(line_start);
        }
        line_start += line.len();
    }
    starts.push(text.len());
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Rules that continue an expression. At the end of an expression every one of them is a
/// possible next token, so the message names them once, as "an operator".
const OPERATORS: &[R] =
    &[R::or_op, R::and_op, R::cmp_op, R::sum_op, R::product_op, R::kw_and, R::kw_or, R::kw_in];

/// Where an expected thing goes in the list: what continues the current element first, what
/// starts the next rule or ends the file last.
fn rank(rule: R) -> u8 {
    match rule {
        R::connector => 1,
        R::clause => 2,
        R::rule_def | R::kw_rule => 3,
        R::EOI => 4,
        _ => 0,
    }
}

/// A pest error as a [`codes::DSL_SYNTAX`] diagnostic with friendly names: operators folded
/// into one entry, and a hint when a reserved word stands where a name was expected.
fn syntax_error(err: pest::error::Error<R>, text: &str, ctx: Ctx) -> Diagnostic {
    let mut at = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let ErrorVariant::ParsingError { positives, negatives } = &err.variant else {
        // pest's own limits (stack, calls): the text nests too deeply to parse.
        let at = ctx.base + at as u32;
        return Diagnostic::error(codes::TOO_DEEP, "rule nested too deeply to parse")
            .at(Span::new(ctx.source, at, at), "here");
    };
    // Something missing at the end of a piece of the file: point just after the last token,
    // not at the next rule (or the end of the file) after blank lines.
    if text[at..].trim().is_empty() {
        at = at.min(text.trim_end().len());
    }
    let mut positives = positives.clone();
    positives.sort_by_key(|r| rank(*r));
    let mut names: Vec<&str> = Vec::new();
    let mut operator = false;
    for rule in &positives {
        if OPERATORS.contains(rule) {
            operator = true;
        } else {
            let name = friendly_rule_name(*rule);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if operator {
        names.push("an operator");
    }
    let mut message = match names.as_slice() {
        [] => String::new(),
        [one] => format!("expected {one}"),
        [init @ .., last] => format!("expected {} or {last}", init.join(", ")),
    };
    if !negatives.is_empty() {
        let mut unexpected: Vec<&str> = negatives.iter().map(|r| friendly_rule_name(*r)).collect();
        unexpected.dedup();
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&format!("unexpected {}", unexpected.join(", ")));
    }
    let custom = pest::error::Error::new_from_pos(
        ErrorVariant::<R>::CustomError { message },
        pest::Position::new(text, at).expect("pest reports positions inside its input"),
    );
    let mut d = pest_error(custom, codes::DSL_SYNTAX, "syntax error", ctx);
    // The offending token, underlined and quoted in the label: a word, or else one character.
    let rest = &text[at..];
    let word_len =
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    let token_len =
        if word_len > 0 { word_len } else { rest.chars().next().map_or(0, char::len_utf8) };
    let token = &rest[..token_len];
    if let Some(primary) = &mut d.primary {
        primary.span.end = primary.span.start + token.len() as u32;
        primary.message = if token.is_empty() {
            "expected more here".into()
        } else {
            format!("unexpected `{token}`")
        };
    }
    let word = &rest[..word_len];
    if positives.contains(&R::name) && RESERVED_WORDS.contains(&word) {
        d = d.with_help(format!(
            "`{word}` is a reserved word and cannot name a rule, stage or group; choose another name"
        ));
    } else if positives.contains(&R::value)
        && !word.is_empty()
        && !word.starts_with(|c: char| c.is_ascii_digit())
    {
        d = d.with_help(format!("text values are quoted: \"{word}\""));
    } else if let Some(keyword) =
        did_you_mean(word, KEYWORDS.iter().copied().filter(|k| *k != word))
    {
        d = d.with_help(format!("did you mean `{keyword}`?"));
    }
    d
}

/// The words a misspelling is most likely meant to be, for "did you mean".
const KEYWORDS: &[&str] = &[
    "rule",
    "from",
    "key",
    "time",
    "filter",
    "pattern",
    "where",
    "until",
    "next",
    "followed",
    "group",
    "optional",
    "greedy",
    "consecutive",
    "combinations",
    "within",
    "skip",
    "emit",
    "timeout",
];

#[cfg(test)]
mod tests;
