//! Expressions, paths and templates: text -> AST.
//!
//! The YAML front end calls [`parse_expr`], [`parse_path`] and [`parse_template`] on the strings
//! of a rule file, with the byte offset where the string starts in its file, so diagnostics
//! point into the file. The DSL front end parses expressions as part of a whole rule and calls
//! [`lower_expr`] / [`lower_path`] / [`lower_string`] on the pairs.

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use crate::ast::{
    BinaryOp, Expr, ExprKind, Literal, Name, Path, Segment, Template, TemplatePart, UnaryOp,
};
use crate::diagnostic::{Code, Diagnostic, codes};
use crate::dsl::parser::{CepParser, Rule, friendly_rule_name};
use crate::source::{SourceId, Span};

/// Deepest nesting of brackets and prefix operators an expression may have. Parsing and
/// lowering recurse, so this keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// Where parsed text sits: spans are pest offsets plus `base`, in `source`.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub source: SourceId,
    pub base: u32,
}

impl Ctx {
    pub fn new(source: SourceId, base: u32) -> Ctx {
        Ctx { source, base }
    }

    pub fn span(&self, s: pest::Span<'_>) -> Span {
        Span::new(self.source, self.base + s.start() as u32, self.base + s.end() as u32)
    }
}

/// Parses a whole expression (`metadata.value < baseline.metadata.value * 0.75`).
pub fn parse_expr(text: &str, ctx: Ctx) -> Result<Expr, Diagnostic> {
    check_depth(text, ctx, TextKind::Expression)?;
    let mut pairs = CepParser::parse(Rule::expr_only, text)
        .map_err(|e| pest_error(e, codes::EXPR_SYNTAX, "invalid expression", ctx))?;
    let expr_only = pairs.next().expect("expr_only matched");
    check_tree_depth(&expr_only, ctx)?;
    let expr = expr_only.into_inner().next().expect("expr_only = SOI ~ expr ~ EOI");
    lower_expr(expr, ctx)
}

/// Parses a field path (`user_id`, `metadata["source device"]`).
pub fn parse_path(text: &str, ctx: Ctx) -> Result<Path, Diagnostic> {
    let mut pairs = CepParser::parse(Rule::path_only, text)
        .map_err(|e| pest_error(e, codes::EXPR_SYNTAX, "invalid field path", ctx))?;
    let path = pairs.next().expect("path_only matched").into_inner().next().expect("a path");
    lower_path(path, ctx)
}

/// Parses a template: text with `{{ expr }}` holes. A hole holding only a string literal is
/// text (that is how a literal `{{` is written: `{{ "{{" }}`), and adjacent texts merge.
pub fn parse_template(text: &str, ctx: Ctx) -> Result<Template, Diagnostic> {
    check_depth(text, ctx, TextKind::Template)?;
    let mut pairs = CepParser::parse(Rule::template_only, text).map_err(|e| {
        unclosed_hole(text, ctx)
            .unwrap_or_else(|| pest_error(e, codes::TEMPLATE_SYNTAX, "invalid template", ctx))
    })?;
    let template = pairs.next().expect("template_only matched");
    check_tree_depth(&template, ctx)?;
    let mut parts: Vec<TemplatePart> = Vec::new();
    for pair in template.into_inner() {
        let part = match pair.as_rule() {
            Rule::template_text => TemplatePart::Text(pair.as_str().to_string()),
            Rule::template_hole => {
                let expr = lower_expr(pair.into_inner().next().expect("hole = {{ expr }}"), ctx)?;
                match expr.kind {
                    ExprKind::Literal(Literal::String(s)) => TemplatePart::Text(s),
                    _ => TemplatePart::Expr(expr),
                }
            }
            Rule::EOI => continue,
            r => unreachable!("template_only yields text, holes and EOI, not {r:?}"),
        };
        match (parts.last_mut(), part) {
            (Some(TemplatePart::Text(prev)), TemplatePart::Text(t)) => prev.push_str(&t),
            (_, TemplatePart::Text(t)) if t.is_empty() => {}
            (_, part) => parts.push(part),
        }
    }
    Ok(Template { parts })
}

/// What [`check_depth`] reads, so that it counts only what the grammar nests: a run of `-` in a
/// string, a comment or a template's text is not a chain of operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextKind {
    /// An expression or path: string literals are skipped.
    Expression,
    /// A template: only its `{{ }}` holes are read, as expressions.
    Template,
    /// DSL rule text: string literals and `#` comments are skipped.
    Dsl,
}

/// The first `{{` with no `}}` anywhere after it. pest would report such a hole as a missing
/// operator at the end of the text; the mistake is the `{{` left open.
fn unclosed_hole(text: &str, ctx: Ctx) -> Option<Diagnostic> {
    let open = text.match_indices("{{").map(|(i, _)| i).find(|&i| !text[i + 2..].contains("}}"))?;
    let at = ctx.base + open as u32;
    Some(
        Diagnostic::error(codes::TEMPLATE_SYNTAX, "unclosed `{{` in template")
            .at(Span::new(ctx.source, at, at + 2), "this `{{` is never closed")
            .with_help("end the expression with `}}`; a literal `{{` is written `{{ \"{{\" }}`"),
    )
}

/// Refuses text nested deeper than [`MAX_DEPTH`] before the recursive parser sees it.
pub(crate) fn check_depth(text: &str, ctx: Ctx, kind: TextKind) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut in_hole = kind != TextKind::Template;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !in_hole {
            if c == '{' && chars.next_if(|&(_, n)| n == '{').is_some() {
                in_hole = true;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                // A string's content is text. An unclosed one ends the scan: the parser stops
                // there too.
                while let Some((_, s)) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        s if s == c => break,
                        _ => {}
                    }
                }
                prefix_run = 0;
                continue;
            }
            '#' if kind == TextKind::Dsl => {
                chars.by_ref().find(|&(_, n)| n == '\n');
                continue;
            }
            '}' if kind == TextKind::Template && chars.next_if(|&(_, n)| n == '}').is_some() => {
                (in_hole, depth, prefix_run) = (false, 0, 0);
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match c {
            '!' | '-' => prefix_run += 1,
            c if c.is_whitespace() => {}
            _ => prefix_run = 0,
        }
        if depth > MAX_DEPTH || prefix_run > MAX_DEPTH {
            let at = ctx.base + i as u32;
            return Err(Diagnostic::error(codes::TOO_DEEP, "expression nested too deeply")
                .at(Span::new(ctx.source, at, at + c.len_utf8() as u32), "here")
                .with_help(format!("expressions may nest at most {MAX_DEPTH} levels")));
        }
    }
    Ok(())
}

/// Deepest parse tree that lowering may recurse through: a nesting level of an expression is
/// at most ten levels of the tree (`expr`, `or_expr`, ... `unary`, then a list or call), and a
/// DSL rule adds a few levels per group around it.
pub(crate) const MAX_TREE_DEPTH: usize = MAX_DEPTH * 12;

/// Refuses a parse tree deeper than [`MAX_TREE_DEPTH`] before the recursive lowering sees it.
/// [`check_depth`] reads the text before parsing and misses some chains (`not not ...`, escapes
/// that unescape to brackets); this counts the tree pest built, iteratively.
pub(crate) fn check_tree_depth(pair: &Pair<'_, Rule>, ctx: Ctx) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    for token in pair.clone().tokens() {
        match token {
            pest::Token::Start { pos, .. } => {
                depth += 1;
                if depth > MAX_TREE_DEPTH {
                    let at = ctx.base + pos.pos() as u32;
                    return Err(Diagnostic::error(codes::TOO_DEEP, "expression nested too deeply")
                        .at(Span::new(ctx.source, at, at), "here")
                        .with_help(format!("expressions may nest at most {MAX_DEPTH} levels")));
                }
            }
            pest::Token::End { .. } => depth -= 1,
        }
    }
    Ok(())
}

/// Turns a pest error into a diagnostic with friendly rule names.
pub fn pest_error(err: pest::error::Error<Rule>, code: Code, what: &str, ctx: Ctx) -> Diagnostic {
    let (start, end) = match err.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    let expected = match &err.variant {
        ErrorVariant::ParsingError { positives, negatives } => {
            let mut names: Vec<&str> = positives.iter().map(|r| friendly_rule_name(*r)).collect();
            names.sort_unstable();
            names.dedup();
            let mut msg = match names.as_slice() {
                [] => String::new(),
                [one] => format!("expected {one}"),
                [init @ .., last] => format!("expected {} or {last}", init.join(", ")),
            };
            if !negatives.is_empty() {
                let mut un: Vec<&str> = negatives.iter().map(|r| friendly_rule_name(*r)).collect();
                un.sort_unstable();
                un.dedup();
                if !msg.is_empty() {
                    msg.push_str("; ");
                }
                msg.push_str(&format!("unexpected {}", un.join(", ")));
            }
            msg
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let label = if expected.is_empty() { "here".to_string() } else { expected.clone() };
    let span = Span::new(ctx.source, ctx.base + start as u32, ctx.base + end.max(start) as u32);
    let message =
        if expected.is_empty() { what.to_string() } else { format!("{what}: {expected}") };
    Diagnostic::error(code, message).at(span, label)
}

/// Lowers an `expr` pair (or any of its sub-rules) to an [`Expr`].
pub fn lower_expr(pair: Pair<'_, Rule>, ctx: Ctx) -> Result<Expr, Diagnostic> {
    let span = ctx.span(pair.as_span());
    match pair.as_rule() {
        Rule::expr => lower_expr(only_child(pair), ctx),
        Rule::or_expr | Rule::and_expr | Rule::sum_expr | Rule::product | Rule::cmp_expr => {
            let mut inner = pair.into_inner();
            let mut acc = lower_expr(inner.next().expect("a first operand"), ctx)?;
            while let Some(op) = inner.next() {
                let rhs = lower_expr(inner.next().expect("an operand after each operator"), ctx)?;
                let op = binary_op(&op);
                let span = acc.span.to(rhs.span);
                acc = Expr::new(
                    ExprKind::Binary { op, lhs: Box::new(acc), rhs: Box::new(rhs) },
                    span,
                );
            }
            Ok(acc)
        }
        Rule::not_expr => {
            let mut inner = pair.into_inner();
            let first = inner.next().expect("not_expr has a child");
            if first.as_rule() == Rule::not_op {
                let operand = lower_expr(inner.next().expect("not_op ~ not_expr"), ctx)?;
                // From the operator to the operand's end: the pair's own span may end in the
                // whitespace pest skipped after it.
                let span = ctx.span(first.as_span()).to(operand.span);
                Ok(Expr::new(ExprKind::Unary { op: UnaryOp::Not, expr: Box::new(operand) }, span))
            } else {
                lower_expr(first, ctx)
            }
        }
        Rule::unary => {
            let mut inner = pair.into_inner();
            let first = inner.next().expect("unary has a child");
            if first.as_rule() == Rule::neg_op {
                let operand = lower_expr(inner.next().expect("neg_op ~ unary"), ctx)?;
                let span = ctx.span(first.as_span()).to(operand.span);
                Ok(Expr::new(ExprKind::Unary { op: UnaryOp::Neg, expr: Box::new(operand) }, span))
            } else {
                lower_expr(first, ctx)
            }
        }
        Rule::negative_number => {
            let number = only_child(pair);
            let literal = match number.as_rule() {
                Rule::integer => Literal::Int(parse_int(&format!("-{}", number.as_str()), span)?),
                Rule::float => Literal::Float(-parse_float(number.as_str())),
                r => unreachable!("a negative number holds a number, not {r:?}"),
            };
            Ok(Expr::new(ExprKind::Literal(literal), span))
        }
        Rule::integer => {
            Ok(Expr::new(ExprKind::Literal(Literal::Int(parse_int(pair.as_str(), span)?)), span))
        }
        Rule::float => {
            Ok(Expr::new(ExprKind::Literal(Literal::Float(parse_float(pair.as_str()))), span))
        }
        Rule::string => Ok(Expr::new(ExprKind::Literal(Literal::String(lower_string(pair))), span)),
        Rule::kw_true => Ok(Expr::new(ExprKind::Literal(Literal::Bool(true)), span)),
        Rule::kw_false => Ok(Expr::new(ExprKind::Literal(Literal::Bool(false)), span)),
        Rule::kw_null => Ok(Expr::new(ExprKind::Literal(Literal::Null), span)),
        Rule::list => {
            let items = pair.into_inner().map(|p| lower_expr(p, ctx)).collect::<Result<_, _>>()?;
            Ok(Expr::new(ExprKind::List(items), span))
        }
        Rule::call => {
            let mut inner = pair.into_inner();
            let ident = inner.next().expect("call = identifier ( args )");
            let name = Name::new(ident.as_str(), ctx.span(ident.as_span()));
            let args = inner.map(|p| lower_expr(p, ctx)).collect::<Result<_, _>>()?;
            Ok(Expr::new(ExprKind::Call { name, args }, span))
        }
        Rule::path => Ok(Expr::new(ExprKind::Path(lower_path(pair, ctx)?), span)),
        r => unreachable!(
            "lower_expr reached a {r:?} pair, which the grammar never nests in an expr"
        ),
    }
}

/// Lowers a `path` pair.
pub fn lower_path(pair: Pair<'_, Rule>, ctx: Ctx) -> Result<Path, Diagnostic> {
    let span = ctx.span(pair.as_span());
    let mut segments = Vec::new();
    for seg in pair.into_inner() {
        segments.push(match seg.as_rule() {
            Rule::identifier => Segment::Key(seg.as_str().to_string()),
            Rule::string => Segment::Key(lower_string(seg)),
            Rule::index => Segment::Index(seg.as_str().parse().map_err(|_| {
                Diagnostic::error(codes::NUMBER_RANGE, "index too large")
                    .at(ctx.span(seg.as_span()), "at most 4294967295")
            })?),
            r => unreachable!("a path holds identifiers, strings and indexes, not {r:?}"),
        });
    }
    Ok(Path { segments, span })
}

/// The value of a `string` pair, escapes resolved. The grammar admits only valid escapes.
pub fn lower_string(pair: Pair<'_, Rule>) -> String {
    let raw = only_child(pair).as_str();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                // The grammar checked 1-6 hex digits; a surrogate or too-large value is replaced.
                let code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn only_child(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    pair.into_inner().next().expect("the grammar gives this rule exactly one child")
}

fn binary_op(op: &Pair<'_, Rule>) -> BinaryOp {
    match op.as_str() {
        "||" => BinaryOp::Or,
        "&&" => BinaryOp::And,
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Le,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Ge,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Rem,
        // The keyword operators: the rule tells which.
        _ => match op.clone().into_inner().next().map(|p| p.as_rule()) {
            Some(Rule::kw_or) => BinaryOp::Or,
            Some(Rule::kw_and) => BinaryOp::And,
            Some(Rule::kw_in) => BinaryOp::In,
            other => unreachable!("operator {:?} ({other:?}) is not in the grammar", op.as_str()),
        },
    }
}

fn parse_int(text: &str, span: Span) -> Result<i64, Diagnostic> {
    text.parse().map_err(|_| {
        Diagnostic::error(codes::NUMBER_RANGE, format!("integer {text} does not fit in 64 bits"))
            .at(span, "too large")
            .with_help("write it as a float (with a decimal point) if an approximation will do")
    })
}

fn parse_float(text: &str) -> f64 {
    // The grammar admits only digits, one point and an exponent: always a valid f64 (maybe inf).
    text.parse().unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests;
