use super::*;
use crate::source::SourceId;

fn ctx() -> Ctx {
    Ctx::new(SourceId(0), 0)
}

/// Fully parenthesised form, to see the tree's shape.
fn shape(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", shape(lhs), op.symbol(), shape(rhs))
        }
        ExprKind::Unary { op: UnaryOp::Not, expr } => format!("(!{})", shape(expr)),
        ExprKind::Unary { op: UnaryOp::Neg, expr } => format!("(-{})", shape(expr)),
        ExprKind::List(items) => {
            format!("[{}]", items.iter().map(shape).collect::<Vec<_>>().join(", "))
        }
        ExprKind::Call { name, args } => {
            format!("{}({})", name.text, args.iter().map(shape).collect::<Vec<_>>().join(", "))
        }
        _ => e.to_string(),
    }
}

fn p(text: &str) -> String {
    shape(&parse_expr(text, ctx()).unwrap_or_else(|d| panic!("{text}: {}", d.message)))
}

#[test]
fn arithmetic_precedence_and_left_associativity() {
    assert_eq!(p("1 + 2 * 3"), "(1 + (2 * 3))");
    assert_eq!(p("1 * 2 + 3"), "((1 * 2) + 3)");
    assert_eq!(p("10 - 4 - 3"), "((10 - 4) - 3)");
    assert_eq!(p("8 / 4 / 2"), "((8 / 4) / 2)");
    assert_eq!(p("7 % 4 * 2"), "((7 % 4) * 2)");
    assert_eq!(p("(1 + 2) * 3"), "((1 + 2) * 3)");
}

#[test]
fn logic_precedence() {
    assert_eq!(p("a || b && c"), "(a || (b && c))");
    assert_eq!(p("a or b and c"), "(a || (b && c))");
    assert_eq!(p("a && b || c"), "((a && b) || c)");
    assert_eq!(p("a == 1 && b > 2"), "((a == 1) && (b > 2))");
    assert_eq!(p("a + 1 > b * 2"), "((a + 1) > (b * 2))");
}

#[test]
fn not_binds_looser_than_comparison() {
    assert_eq!(p("not a == b"), "(!(a == b))");
    assert_eq!(p("!a == b"), "(!(a == b))");
    assert_eq!(p("!a && b"), "((!a) && b)");
    assert_eq!(p("not not a"), "(!(!a))");
}

#[test]
fn unary_minus_and_negative_literals() {
    assert_eq!(p("-1"), "-1");
    assert_eq!(p("-x * 2"), "((-x) * 2)");
    assert_eq!(p("2 - -1"), "(2 - -1)");
    assert_eq!(p("a-1"), "(a - 1)");
    assert_eq!(p("-(1)"), "(-1)");
    assert_eq!(p("-9223372036854775808"), "-9223372036854775808");
}

#[test]
fn comparisons_do_not_chain() {
    assert!(parse_expr("a < b < c", ctx()).is_err());
    assert_eq!(p("(a < b) == true"), "((a < b) == true)");
}

#[test]
fn in_lists_calls_and_paths() {
    assert_eq!(p("severity in [\"high\", \"critical\"]"), "(severity in [\"high\", \"critical\"])");
    assert_eq!(p("contains(lower(name), 'x')"), "contains(lower(name), \"x\")");
    assert_eq!(p("a[\"odd key\"].b"), "a[\"odd key\"].b");
    assert_eq!(p("scores[0] > 0.5"), "(scores[0] > 0.5)");
    assert_eq!(p("$[\"odd key\"]"), "$[\"odd key\"]");
    assert_eq!(p("count(drop) >= 3"), "(count(drop) >= 3)");
    assert_eq!(p("index > 1"), "(index > 1)", "keywords only match whole words");
    assert_eq!(p("notes != null"), "(notes != null)");
}

#[test]
fn literals() {
    let e = parse_expr("[1, 2.5, 1e3, \"a\\\"b\\u{e9}\", 'c', true, false, null]", ctx()).unwrap();
    let ExprKind::List(items) = e.kind else { panic!("a list") };
    let lits: Vec<Literal> = items
        .into_iter()
        .map(|e| match e.kind {
            ExprKind::Literal(l) => l,
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(
        lits,
        vec![
            Literal::Int(1),
            Literal::Float(2.5),
            Literal::Float(1000.0),
            Literal::String("a\"bé".into()),
            Literal::String("c".into()),
            Literal::Bool(true),
            Literal::Bool(false),
            Literal::Null
        ]
    );
}

#[test]
fn display_reads_back_to_the_same_tree() {
    for text in [
        "a || b && c",
        "(a || b) && c",
        "not (a || b)",
        "!(a == b) && c",
        "-(a + b) * c",
        "a - (b - c)",
        "a / (b * c)",
        "-(-1)",
        "-(1)",
        "(a < b) == (c > d)",
        "x in [1, 2, -3]",
        "(x in [1]) == false",
        "sum(drop.metadata.value) > first(drop.x) * 3",
        "$[\"in\"] == a[\"and\"][2]",
    ] {
        let e = parse_expr(text, ctx()).unwrap();
        let printed = e.to_string();
        let back = parse_expr(&printed, ctx()).unwrap();
        assert_eq!(back, e, "{text} printed as {printed}");
    }
}

#[test]
fn spans_point_into_the_file_at_the_base_offset() {
    let e = parse_expr("a >  ", Ctx::new(SourceId(1), 100)).unwrap_err();
    let primary = e.primary.unwrap();
    assert_eq!(primary.span.source, SourceId(1));
    assert_eq!(primary.span.start, 105, "the error is at the end of the text");
    let ok = parse_expr("x == 1", Ctx::new(SourceId(0), 10)).unwrap();
    assert_eq!((ok.span.start, ok.span.end), (10, 16));
}

#[test]
fn syntax_errors_say_what_was_expected() {
    let d = parse_expr("a == ", ctx()).unwrap_err();
    assert_eq!(d.code, codes::EXPR_SYNTAX);
    assert!(d.message.contains("expected"), "{}", d.message);
    let d = parse_expr("99999999999999999999", ctx()).unwrap_err();
    assert_eq!(d.code, codes::NUMBER_RANGE);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(parse_expr(&deep, ctx()).unwrap_err().code, codes::TOO_DEEP);
    let nots = format!("{}a", "!".repeat(10_000));
    assert_eq!(parse_expr(&nots, ctx()).unwrap_err().code, codes::TOO_DEEP);
}

#[test]
fn templates_split_text_and_holes() {
    let t =
        parse_template("HRV {{ last(drop.metadata.value) }} vs {{baseline.metadata.value}}", ctx())
            .unwrap();
    assert_eq!(t.parts.len(), 4);
    assert!(matches!(&t.parts[0], TemplatePart::Text(s) if s == "HRV "));
    assert!(matches!(&t.parts[1], TemplatePart::Expr(_)));
    let escaped = parse_template("a {{ \"{{\" }} b", ctx()).unwrap();
    assert_eq!(escaped.as_plain_text().as_deref(), Some("a {{ b"));
    assert_eq!(parse_template(&escaped.to_string(), ctx()).unwrap(), escaped);
    assert_eq!(parse_template("{{ x", ctx()).unwrap_err().code, codes::TEMPLATE_SYNTAX);
    let single = parse_template("{{ x }}", ctx()).unwrap();
    assert!(single.as_single_expr().is_some());
}
