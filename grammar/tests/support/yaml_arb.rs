//! Random rules for the YAML round-trip property: `parse(print(rule)) == rule`.
//!
//! Rules are canonical in what the AST records beyond meaning: `contiguity_span` is set exactly
//! when a contiguity is (the printer writes every contiguity), and `Quantifier::span` exactly
//! when the quantifier is not "once" (the printer writes `times` then). Spans are otherwise
//! default: they never take part in equality. Strings mix plain identifiers with text that
//! YAML must quote (indicators, keywords, numbers, line breaks, non-ASCII).

use cepheus_grammar::ast::{
    BinaryOp, Contiguity, Duration, Element, Emit, Expr, ExprKind, Group, Literal, Name, Path,
    Quantifier, Rule, Segment, Skip, Source, Stage, Template, TemplatePart, UnaryOp, Value,
};
use cepheus_grammar::source::Span;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Words the expression grammar reserves (a path segment spelled like one is quoted).
const KEYWORDS: &[&str] = &["and", "or", "not", "in", "true", "false", "null"];

fn span() -> Span {
    Span::default()
}

/// A name as expressions write it: `baseline`, `drop_2`.
pub fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,7}".prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

/// Any string, biased towards the ones YAML reads as something else.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ident(),
        2 => "[ -~]{0,12}",
        1 => "\\PC{0,8}",
        1 => prop::sample::select(vec![
            "", " ", "true", "no", "null", "~", "12", "-1", "1.5", "a: b", "# c", "- x", "[x]", "{x}", "*x", "&x",
            "!x", "|", ">", "'q'", "\"q\"", "%x", "@x", "x:", "line\nbreak", "tab\tin", "\u{85}", "\u{2028}", "é",
            "\u{feff}", "---", "...", "<<",
        ])
        .prop_map(str::to_string),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    text().prop_map(|t| Name::new(t, span()))
}

fn ident_name() -> impl Strategy<Value = Name> {
    ident().prop_map(|t| Name::new(t, span()))
}

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        finite().prop_map(Literal::Float),
        "[ -~\n\té]{0,8}".prop_map(Literal::String),
    ]
}

pub fn path() -> impl Strategy<Value = Path> {
    let segment = prop_oneof![
        4 => ident().prop_map(Segment::Key),
        1 => text().prop_map(Segment::Key),
        1 => (0u32..100).prop_map(Segment::Index),
    ];
    vec(segment, 1..4).prop_map(|segments| Path { segments, span: span() })
}

pub fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        literal().prop_map(|l| Expr::new(ExprKind::Literal(l), span())),
        path().prop_map(|p| Expr::new(ExprKind::Path(p), span())),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        let op = prop::sample::select(vec![
            BinaryOp::Or,
            BinaryOp::And,
            BinaryOp::Eq,
            BinaryOp::Ne,
            BinaryOp::Lt,
            BinaryOp::Le,
            BinaryOp::Gt,
            BinaryOp::Ge,
            BinaryOp::In,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Rem,
        ]);
        prop_oneof![
            (op, inner.clone(), inner.clone()).prop_map(|(op, lhs, rhs)| {
                Expr::new(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span())
            }),
            (prop::sample::select(vec![UnaryOp::Not, UnaryOp::Neg]), inner.clone())
                .prop_map(|(op, e)| Expr::new(ExprKind::Unary { op, expr: Box::new(e) }, span())),
            vec(inner.clone(), 0..3).prop_map(|items| Expr::new(ExprKind::List(items), span())),
            (ident_name(), vec(inner, 0..3))
                .prop_map(|(name, args)| Expr::new(ExprKind::Call { name, args }, span())),
        ]
    })
}

/// A template as `parse_template` gives it back: no two texts in a row, no empty text, and no
/// hole holding only a string literal (that reads back as text). Texts leave out `{` and `}`,
/// which the template syntax would take for part of a hole next to them.
pub fn template() -> impl Strategy<Value = Template> {
    let text = "[ -z|~é\n]{1,8}".prop_map(TemplatePart::Text);
    let hole = expr()
        .prop_filter("not a string literal", |e| {
            !matches!(e.kind, ExprKind::Literal(Literal::String(_)))
        })
        .prop_map(TemplatePart::Expr);
    vec(prop_oneof![text, hole], 0..4).prop_map(|parts| {
        let mut merged: Vec<TemplatePart> = Vec::new();
        for part in parts {
            match (merged.last_mut(), part) {
                (Some(TemplatePart::Text(a)), TemplatePart::Text(b)) => a.push_str(&b),
                (_, part) => merged.push(part),
            }
        }
        Template { parts: merged }
    })
}

fn unique_names<T: std::fmt::Debug>(entries: Vec<(Name, T)>) -> Vec<(Name, T)> {
    let mut seen = std::collections::HashSet::new();
    entries.into_iter().filter(|(n, _)| seen.insert(n.text.clone())).collect()
}

pub fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        finite().prop_map(Value::Float),
        template().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::List),
            vec((name(), inner), 0..3).prop_map(|e| Value::Map(unique_names(e))),
        ]
    })
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![0u64..100_000, 0u64..1_000_000_000_000]
        .prop_map(|millis| Duration { millis, span: span() })
}

fn contiguity() -> impl Strategy<Value = Contiguity> {
    prop::sample::select(vec![
        Contiguity::Strict,
        Contiguity::Relaxed,
        Contiguity::NonDeterministic,
    ])
}

/// First elements may or may not have a contiguity; the others always do.
fn element_contiguity(first: bool) -> BoxedStrategy<Option<Contiguity>> {
    if first { option::of(contiguity()).boxed() } else { contiguity().prop_map(Some).boxed() }
}

fn quantifier() -> impl Strategy<Value = Quantifier> {
    let bounds = prop_oneof![
        2 => Just((1u32, Some(1u32))),
        1 => (1u32..5, option::of(0u32..3)).prop_map(|(min, extra)| (min, extra.map(|e| min + e))),
    ];
    (bounds, any::<[bool; 4]>(), option::of(expr())).prop_map(|((min, max), flags, until)| {
        Quantifier {
            min,
            max,
            optional: flags[0],
            greedy: flags[1],
            consecutive: flags[2],
            allow_combinations: flags[3],
            until,
            span: ((min, max) != (1, Some(1))).then(span),
        }
    })
}

fn stage(first: bool) -> impl Strategy<Value = Stage> {
    (
        name(),
        element_contiguity(first),
        quantifier(),
        any::<bool>(),
        option::of(expr()),
        option::of(duration()),
    )
        .prop_map(|(name, contiguity, quantifier, absent, condition, max_gap)| Stage {
            name,
            contiguity,
            contiguity_span: contiguity.map(|_| span()),
            quantifier,
            absent,
            condition,
            max_gap,
            span: span(),
        })
}

/// A pattern: stages, and groups nested at most `depth` deep.
pub fn pattern(depth: u32) -> BoxedStrategy<Vec<Element>> {
    vec(any::<bool>(), 0..4)
        .prop_flat_map(move |kinds| {
            kinds
                .into_iter()
                .enumerate()
                .map(|(i, group)| element(i == 0, group && depth > 0, depth))
                .collect::<Vec<_>>()
        })
        .boxed()
}

fn element(first: bool, group: bool, depth: u32) -> BoxedStrategy<Element> {
    if !group {
        return stage(first).prop_map(Element::Stage).boxed();
    }
    (name(), element_contiguity(first), quantifier(), pattern(depth - 1))
        .prop_map(|(name, contiguity, quantifier, pattern)| {
            Element::Group(Group {
                name,
                contiguity,
                contiguity_span: contiguity.map(|_| span()),
                quantifier,
                pattern,
                span: span(),
            })
        })
        .boxed()
}

fn source() -> impl Strategy<Value = Source> {
    (
        vec(name(), 0..3),
        option::of(path()),
        option::of(path()),
        option::of(expr()),
        option::of(duration()),
    )
        .prop_map(|(topics, key, time, filter, max_out_of_orderness)| Source {
            topics,
            key,
            time,
            filter,
            max_out_of_orderness,
        })
}

fn skip() -> impl Strategy<Value = Skip> {
    prop_oneof![
        Just(Skip::NoSkip),
        Just(Skip::ToNext),
        Just(Skip::PastLastEvent),
        name().prop_map(Skip::ToFirst),
        name().prop_map(Skip::ToLast),
    ]
}

fn emit() -> impl Strategy<Value = Emit> {
    (option::of(name()), vec((name(), value()), 0..4)).prop_map(|(topic, fields)| Emit {
        topic,
        fields: unique_names(fields),
        span: span(),
    })
}

/// A whole rule.
pub fn rule() -> impl Strategy<Value = Rule> {
    (
        name(),
        option::of(text()),
        source(),
        pattern(2),
        option::of(duration()),
        skip(),
        option::of(emit()),
        option::of(emit()),
    )
        .prop_map(|(name, description, source, pattern, within, skip, emit, on_timeout)| {
            Rule {
                name,
                description,
                source,
                pattern,
                within,
                skip,
                emit,
                on_timeout,
                span: span(),
            }
        })
}
