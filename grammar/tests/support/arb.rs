//! Random rule ASTs for round-trip property tests (print -> parse -> equal), shared by the DSL
//! and YAML front ends' tests.
//!
//! What is generated is what both forms can write: names are DSL identifiers (no reserved
//! words), unique within a rule; the first element of a pattern or group has no contiguity and
//! every other one has one; quantifiers have `min >= 1`; absent stages are single stages after
//! the first, with strict or relaxed contiguity; floats are finite; templates are normalized
//! (no empty or adjacent texts, no hole that is only a string literal, which would read back
//! as text); map keys are unique; `skip to first/last` names a stage of the rule. Spans are
//! all default, and `Quantifier::span` / `contiguity_span` are `None`: compare parsed rules
//! after [`forget_written_spans`].

use cepheus_grammar::ast::{
    Aggregate, BinaryOp, Contiguity, Duration, Element, Emit, Expr, ExprKind, Group, Literal, Name,
    Path, Quantifier, Rule, Segment, Skip, Source, Stage, Template, TemplatePart, UnaryOp, Value,
    Window, Windowed, WindowsOutput,
};
use cepheus_grammar::dsl::RESERVED_WORDS;
use cepheus_grammar::source::Span;
use proptest::prelude::*;
use proptest::sample::select;

/// A whole rule using every feature of the AST: a pattern rule or a window rule.
pub fn arb_rule() -> impl Strategy<Value = Rule> {
    prop_oneof![3 => arb_pattern_rule(), 1 => arb_window_rule()]
}

/// A window rule: windows, aggregates (short and long forms), `having`, `emit`, `windows`.
pub fn arb_window_rule() -> impl Strategy<Value = Rule> {
    (
        arb_name(),
        proptest::option::of(arb_text()),
        arb_source(),
        arb_window(),
        prop::collection::vec(arb_aggregate(), 0..4),
        proptest::option::of(arb_expr()),
        proptest::option::of(arb_emit()),
        proptest::option::of(arb_topic()),
    )
        .prop_map(
            |(name, description, source, window, mut aggregates, having, emit, windows)| {
                let mut used: Vec<String> = Vec::new();
                for a in &mut aggregates {
                    while used.contains(&a.name.text) {
                        a.name.text.push('_');
                    }
                    used.push(a.name.text.clone());
                }
                Rule {
                    name: name_of(&name),
                    description,
                    source,
                    pattern: Vec::new(),
                    window: Some(Windowed {
                        window,
                        aggregates,
                        having,
                        windows: windows
                            .map(|topic| WindowsOutput { topic, span: Span::default() }),
                    }),
                    within: None,
                    skip: Skip::NoSkip,
                    emit,
                    on_timeout: None,
                    span: Span::default(),
                }
            },
        )
}

fn arb_window() -> impl Strategy<Value = Window> {
    let span = Span::default();
    prop_oneof![
        arb_duration().prop_map(move |size| Window::Tumbling { size, span }),
        (arb_duration(), arb_duration()).prop_map(move |(size, every)| Window::Sliding {
            size,
            every,
            span
        }),
        arb_duration().prop_map(move |gap| Window::Session { gap, span }),
    ]
}

fn arb_aggregate() -> impl Strategy<Value = Aggregate> {
    let call = (
        select(vec!["count", "sum", "avg", "min", "max", "count_distinct", "percentile"]),
        prop::collection::vec(arb_path(), 0..2),
        1i64..=100,
    )
        .prop_map(|(f, paths, p)| {
            let mut args: Vec<Expr> = paths.into_iter().map(|p| expr(ExprKind::Path(p))).collect();
            if f == "percentile" {
                args.push(expr(ExprKind::Literal(Literal::Int(p))));
            }
            expr(ExprKind::Call { name: name_of(f), args })
        });
    (arb_name(), call, proptest::option::of(arb_expr()), proptest::option::of(arb_duration()))
        .prop_map(|(name, of, filter, over)| Aggregate {
            name: name_of(&name),
            of,
            filter,
            over,
            span: Span::default(),
        })
}

/// A pattern rule.
pub fn arb_pattern_rule() -> impl Strategy<Value = Rule> {
    (
        arb_name(),
        proptest::option::of(arb_text()),
        arb_source(),
        arb_pattern(),
        proptest::option::of(arb_duration()),
        0..5usize,
        any::<prop::sample::Index>(),
        proptest::option::of(arb_emit()),
        proptest::option::of(arb_emit()),
    )
        .prop_map(
            |(name, description, source, mut pattern, within, skip, stage, emit, on_timeout)| {
                let mut used = Vec::new();
                unique_names(&mut pattern, &mut used);
                let skip = match skip {
                    0 => Skip::NoSkip,
                    1 => Skip::ToNext,
                    2 => Skip::PastLastEvent,
                    3 => Skip::ToFirst(name_of(stage.get::<String>(&used))),
                    _ => Skip::ToLast(name_of(stage.get::<String>(&used))),
                };
                Rule {
                    name: name_of(&name),
                    description,
                    source,
                    pattern,
                    window: None,
                    within,
                    skip,
                    emit,
                    on_timeout,
                    span: Span::default(),
                }
            },
        )
}

/// Clears the spans that are `Option`s (`Quantifier::span`, `contiguity_span`): whether they
/// are present depends on how a rule was written, so round trips compare without them. (All
/// other spans compare equal whatever they hold.)
pub fn forget_written_spans(rule: &mut Rule) {
    fn walk(elements: &mut [Element]) {
        for element in elements {
            match element {
                Element::Stage(s) => {
                    s.contiguity_span = None;
                    s.quantifier.span = None;
                }
                Element::Group(g) => {
                    g.contiguity_span = None;
                    g.quantifier.span = None;
                    walk(&mut g.pattern);
                }
            }
        }
    }
    walk(&mut rule.pattern);
}

fn name_of(text: &str) -> Name {
    Name::new(text, Span::default())
}

/// Renames elements so that every name in the rule is distinct; collects them in `used`.
fn unique_names(elements: &mut [Element], used: &mut Vec<String>) {
    for element in elements {
        let name = match element {
            Element::Stage(s) => &mut s.name,
            Element::Group(g) => &mut g.name,
        };
        let base = name.text.clone();
        let mut n = 1;
        while used.contains(&name.text) {
            name.text = format!("{base}_{n}");
            n += 1;
        }
        used.push(name.text.clone());
        if let Element::Group(g) = element {
            unique_names(&mut g.pattern, used);
        }
    }
}

/// An identifier that is neither a DSL reserved word nor an expression keyword.
pub fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "baseline",
            "drop",
            "recovered",
            "enter",
            "leave",
            "visit",
            "motion",
            "face",
            "event",
            "first",
            "time",
            "key"
        ])
        .prop_map(str::to_string),
        "[a-z_][a-z0-9_]{0,8}",
    ]
    .prop_filter("not a reserved word", |s| !RESERVED_WORDS.contains(&s.as_str()))
}

/// Any text, weighted towards the characters that need care: quotes, backslashes, braces,
/// newlines, `#`, non-ASCII.
pub fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.:,%-]{0,16}",
        "[ -~\"\\\\{}#\n\t]{0,16}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

fn arb_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        select(vec![0u64, 1, 500, 1_000, 5_000, 60_000, 300_000, 3_600_000, 5_400_000, 86_400_000]),
        0u64..1_000_000_000_000,
    ]
    .prop_map(|millis| Duration { millis, span: Span::default() })
}

fn arb_topic() -> impl Strategy<Value = Name> {
    prop_oneof![
        select(vec![
            "biometric-updates",
            "alerts",
            "child.safety-violation",
            "learning.events.v1",
            "motion.detection.events"
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9._-]{1,12}",
        arb_text(),
    ]
    .prop_map(|t| name_of(&t))
}

fn arb_source() -> impl Strategy<Value = Source> {
    (
        prop::collection::vec(arb_topic(), 0..3),
        proptest::option::of(arb_path()),
        proptest::option::of(arb_path()),
        proptest::option::of(arb_expr()),
        proptest::option::of(arb_duration()),
    )
        .prop_map(|(topics, key, time, filter, max_out_of_orderness)| Source {
            topics,
            key,
            time,
            filter,
            max_out_of_orderness,
        })
}

// ------------------------------------------------------------------------------ expressions

/// A field path; keys may be any text (printed quoted when they must be).
pub fn arb_path() -> impl Strategy<Value = Path> {
    let segment = prop_oneof![
        4 => arb_name().prop_map(Segment::Key),
        1 => select(vec!["and", "not", "within", "odd key", "", "a\"b"]).prop_map(|s| Segment::Key(s.to_string())),
        1 => (0u32..100).prop_map(Segment::Index),
    ];
    prop::collection::vec(segment, 1..4)
        .prop_map(|segments| Path { segments, span: Span::default() })
}

fn expr(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn arb_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        arb_float().prop_map(Literal::Float),
        arb_text().prop_map(Literal::String),
    ]
}

fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        select(vec![0.0, 0.5, 0.75, -1.5, 1e-7, 2.5e300]),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
    ]
}

/// An expression of any shape, a few levels deep.
pub fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        arb_literal().prop_map(|l| expr(ExprKind::Literal(l))),
        arb_path().prop_map(|p| expr(ExprKind::Path(p))),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        let binary_op = select(vec![
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
        let call_name = prop_oneof![
            select(vec!["count", "sum", "avg", "min", "max", "first", "last", "contains", "lower"])
                .prop_map(str::to_string),
            arb_name(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|items| expr(ExprKind::List(items))),
            (select(vec![UnaryOp::Not, UnaryOp::Neg]), inner.clone())
                .prop_map(|(op, e)| expr(ExprKind::Unary { op, expr: Box::new(e) })),
            (binary_op, inner.clone(), inner.clone()).prop_map(|(op, lhs, rhs)| expr(
                ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
            )),
            (call_name, prop::collection::vec(inner, 0..3))
                .prop_map(|(name, args)| expr(ExprKind::Call { name: name_of(&name), args })),
        ]
    })
}

// --------------------------------------------------------------------------------- pattern

fn arb_contiguity() -> impl Strategy<Value = Contiguity> {
    select(vec![Contiguity::Strict, Contiguity::Relaxed, Contiguity::NonDeterministic])
}

/// A quantifier with `min >= 1`, any loop options, maybe an `until`.
pub fn arb_quantifier() -> impl Strategy<Value = Quantifier> {
    let count = prop_oneof![
        3 => Just((1u32, Some(1u32))),
        1 => (1u32..6).prop_map(|n| (n, Some(n))),
        1 => (1u32..6, 0u32..4).prop_map(|(n, extra)| (n, Some(n + extra))),
        1 => (1u32..6).prop_map(|n| (n, None)),
    ];
    (
        count,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.2, arb_expr()),
    )
        .prop_map(|((min, max), optional, greedy, consecutive, allow_combinations, until)| {
            Quantifier {
                min,
                max,
                optional,
                greedy,
                consecutive,
                allow_combinations,
                until,
                span: None,
            }
        })
}

fn arb_stage() -> impl Strategy<Value = Stage> {
    (
        arb_name(),
        arb_quantifier(),
        proptest::option::weighted(0.8, arb_expr()),
        proptest::option::weighted(0.2, arb_duration()),
    )
        .prop_map(|(name, quantifier, condition, max_gap)| Stage {
            name: name_of(&name),
            contiguity: None,
            contiguity_span: None,
            quantifier,
            absent: false,
            condition,
            max_gap,
            span: Span::default(),
        })
}

/// A pattern element before [`place`] sets its contiguity: a stage, maybe to be made absent,
/// or a group.
#[derive(Debug, Clone)]
enum Draft {
    Stage(Stage, bool),
    Group(Name, Quantifier, Vec<Draft>),
}

fn arb_drafts() -> impl Strategy<Value = Vec<Draft>> {
    let stage = (arb_stage(), proptest::bool::weighted(0.2))
        .prop_map(|(s, absent)| Draft::Stage(s, absent));
    // Depth 2: groups inside groups.
    let element = stage.prop_recursive(2, 12, 3, |inner| {
        (arb_name(), arb_quantifier(), prop::collection::vec(inner, 1..4))
            .prop_map(|(name, q, members)| Draft::Group(name_of(&name), q, members))
    });
    prop::collection::vec(element, 1..5)
}

/// Turns drafts into elements: contiguity on all but the first of each sequence, absence only
/// after the first and with strict or relaxed contiguity (Flink's notNext / notFollowedBy).
fn place(drafts: Vec<Draft>, contiguities: &mut impl Iterator<Item = Contiguity>) -> Vec<Element> {
    drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| {
            let contiguity =
                if i == 0 { None } else { contiguities.next().or(Some(Contiguity::Relaxed)) };
            match draft {
                Draft::Stage(mut s, absent) => {
                    s.contiguity = contiguity;
                    if absent && i > 0 {
                        s.absent = true;
                        s.quantifier = Quantifier::default();
                        if s.contiguity == Some(Contiguity::NonDeterministic) {
                            s.contiguity = Some(Contiguity::Relaxed);
                        }
                    }
                    Element::Stage(s)
                }
                Draft::Group(name, quantifier, members) => Element::Group(Group {
                    name,
                    contiguity,
                    contiguity_span: None,
                    quantifier,
                    pattern: place(members, contiguities),
                    span: Span::default(),
                }),
            }
        })
        .collect()
}

/// One to four elements; groups nest two deep.
pub fn arb_pattern() -> impl Strategy<Value = Vec<Element>> {
    (arb_drafts(), prop::collection::vec(arb_contiguity(), 16))
        .prop_map(|(drafts, contiguities)| place(drafts, &mut contiguities.into_iter().cycle()))
}

// ------------------------------------------------------------------------------------ emit

/// A normalized template: texts and holes alternate, no text is empty, no hole is a string
/// literal.
pub fn arb_template() -> impl Strategy<Value = Template> {
    let part = prop_oneof![
        2 => arb_text().prop_map(TemplatePart::Text),
        1 => arb_expr().prop_map(TemplatePart::Expr),
    ];
    prop::collection::vec(part, 0..4).prop_map(|parts| {
        let mut out: Vec<TemplatePart> = Vec::new();
        for part in parts {
            let part = match part {
                TemplatePart::Expr(Expr {
                    kind: ExprKind::Literal(Literal::String(s)), ..
                }) => TemplatePart::Text(s),
                p => p,
            };
            match (out.last_mut(), part) {
                (_, TemplatePart::Text(t)) if t.is_empty() => {}
                (Some(TemplatePart::Text(prev)), TemplatePart::Text(t)) => prev.push_str(&t),
                (_, p) => out.push(p),
            }
        }
        Template { parts: out }
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["trigger_type", "severity", "message", "recommended_agents", "context", "camera_id"])
            .prop_map(str::to_string),
        1 => arb_text(),
    ]
}

/// Fields with unique keys.
fn arb_fields(value: BoxedStrategy<Value>) -> impl Strategy<Value = Vec<(Name, Value)>> {
    prop::collection::vec((arb_key(), value), 0..4).prop_map(|fields| {
        let mut out: Vec<(Name, Value)> = Vec::new();
        for (key, v) in fields {
            if !out.iter().any(|(k, _)| k.text == key) {
                out.push((name_of(&key), v));
            }
        }
        out
    })
}

/// An emitted value: scalars, templates, lists and maps nested two deep.
pub fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        arb_float().prop_map(Value::Float),
        arb_template().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::List),
            arb_fields(inner.boxed()).prop_map(Value::Map),
        ]
    })
}

fn arb_emit() -> impl Strategy<Value = Emit> {
    (proptest::option::of(arb_topic()), arb_fields(arb_value().boxed()))
        .prop_map(|(topic, fields)| Emit { topic, fields, span: Span::default() })
}
