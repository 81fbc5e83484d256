//! The pest parser of the DSL and of expressions. The grammar lives in `expr.pest` (expressions,
//! shared with YAML) and `cepheus.pest` (rules); this file binds them and names their rules for
//! error messages.

use pest_derive::Parser;

#[derive(Parser, Debug)]
#[grammar = "dsl/expr.pest"]
#[grammar = "dsl/cepheus.pest"]
pub struct CepParser;

/// How a grammar rule is named in "expected ..." messages.
pub fn friendly_rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of input",
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::sum_expr
        | Rule::product
        | Rule::unary => "an expression",
        Rule::or_op => "`||` or `or`",
        Rule::and_op => "`&&` or `and`",
        Rule::not_op => "`!` or `not`",
        Rule::cmp_op => "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`)",
        Rule::sum_op => "`+` or `-`",
        Rule::product_op => "`*`, `/` or `%`",
        Rule::neg_op => "`-`",
        Rule::negative_number | Rule::integer | Rule::float => "a number",
        Rule::exponent => "an exponent",
        Rule::list => "a list",
        Rule::call => "a function call",
        Rule::path | Rule::path_only => "a field path",
        Rule::index => "an index",
        Rule::string | Rule::dq_inner | Rule::sq_inner => "a string",
        Rule::escape => "an escape (\\\" \\' \\\\ \\n \\r \\t \\u{..})",
        Rule::identifier => "a name",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in => "`in`",
        Rule::kw_true => "`true`",
        Rule::kw_false => "`false`",
        Rule::kw_null => "`null`",
        Rule::template_only | Rule::template_text => "text",
        Rule::template_hole => "`{{ expression }}`",
        Rule::expr_only => "an expression",
        #[allow(unreachable_patterns)]
        _ => dsl_rule_name(rule),
    }
}

/// Names of the DSL's own rules (cepheus.pest).
fn dsl_rule_name(rule: Rule) -> &'static str {
    let _ = rule;
    "a rule"
}
