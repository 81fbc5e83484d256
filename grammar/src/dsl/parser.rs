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

/// Names of the DSL's own rules (cepheus.pest), as "expected ..." messages show them.
fn dsl_rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::file => "a rule file",
        Rule::rule_def | Rule::kw_rule => "`rule`",
        Rule::description => "a description in quotes",
        Rule::clause => {
            "a clause (`from`, `key`, `time`, `out of order`, `filter`, `pattern`, `within`, \
             `skip`, `no skip`, `emit`, `on timeout`, `window`, `aggregate`, `having`)"
        }
        Rule::from_clause | Rule::kw_from => "`from`",
        Rule::topic | Rule::bare_topic => "a topic name",
        Rule::key_clause | Rule::kw_key => "`key`",
        Rule::time_clause | Rule::kw_time => "`time`",
        Rule::out_of_order_clause | Rule::kw_out => "`out of order`",
        Rule::kw_of => "`of`",
        Rule::kw_order => "`order`",
        Rule::filter_clause | Rule::kw_filter => "`filter`",
        Rule::pattern_clause | Rule::kw_pattern => "`pattern`",
        Rule::sequence | Rule::first_step => "a stage or `group`",
        Rule::step => "a connector and a stage",
        Rule::lone_not => "`not`",
        Rule::connector => {
            "a connector (`next`, `followed by`, `followed by any`, `not next`, `not followed by`)"
        }
        Rule::not_next => "`not next`",
        Rule::not_followed_by => "`not followed by`",
        Rule::not_followed_by_any => "`not followed by any`",
        Rule::followed_by_any => "`followed by any`",
        Rule::followed_by => "`followed by`",
        Rule::next | Rule::kw_next => "`next`",
        Rule::kw_followed => "`followed`",
        Rule::kw_by => "`by`",
        Rule::kw_any => "`any`",
        Rule::stage => "a stage",
        Rule::where_clause | Rule::kw_where => "`where`",
        Rule::until_clause | Rule::kw_until => "`until`",
        Rule::max_gap_clause | Rule::kw_max => "`max gap`",
        Rule::kw_gap => "`gap`",
        Rule::group | Rule::kw_group => "`group`",
        Rule::quantifier => "a quantifier (`{n}`, `{n,m}`, `{n,}`, `+`, `*`, `?`)",
        Rule::times => "`{n}`, `{n,m}` or `{n,}`",
        Rule::times_comma => "`,`",
        Rule::one_or_more => "`+`",
        Rule::one_or_more_optional => "`*`",
        Rule::optional_mark => "`?`",
        Rule::loop_option => "`optional`, `greedy`, `consecutive` or `combinations`",
        Rule::kw_optional => "`optional`",
        Rule::kw_greedy => "`greedy`",
        Rule::kw_consecutive => "`consecutive`",
        Rule::kw_combinations => "`combinations`",
        Rule::within_clause | Rule::kw_within => "`within`",
        Rule::skip_clause => "`skip` or `no skip`",
        Rule::no_skip | Rule::kw_no => "`no skip`",
        Rule::kw_skip => "`skip`",
        Rule::skip_to_next => "`to next`",
        Rule::skip_past_last_event => "`past last event`",
        Rule::skip_to_first => "`to first <stage>`",
        Rule::skip_to_last => "`to last <stage>`",
        Rule::kw_to => "`to`",
        Rule::kw_past => "`past`",
        Rule::kw_last => "`last`",
        Rule::kw_event => "`event`",
        Rule::kw_first => "`first`",
        Rule::emit_clause | Rule::kw_emit => "`emit`",
        Rule::on_timeout_clause | Rule::kw_on => "`on timeout`",
        Rule::kw_timeout => "`timeout`",
        Rule::window_clause | Rule::kw_window => "`window`",
        Rule::tumbling_window | Rule::kw_tumbling => "`tumbling`",
        Rule::sliding_window | Rule::kw_sliding => "`sliding`",
        Rule::session_window | Rule::kw_session => "`session`",
        Rule::kw_every => "`every`",
        Rule::aggregate_clause | Rule::kw_aggregate => "`aggregate`",
        Rule::aggregate_def => "an aggregate (`name = count()`)",
        Rule::aggregate_option => "`where` or `over`",
        Rule::over_clause | Rule::kw_over => "`over`",
        Rule::equals => "`=`",
        Rule::having_clause | Rule::kw_having => "`having`",
        Rule::emit_windows_clause | Rule::kw_windows => "`emit windows to`",
        Rule::map => "`{ field: value, ... }`",
        Rule::field => "a field (`name: value`)",
        Rule::field_key | Rule::bare_key => "a field name",
        Rule::value => "a value (string, number, `true`, `false`, `null`, `[...]` or `{...}`)",
        Rule::value_list => "a list",
        Rule::name => "a name",
        Rule::duration => "a duration (`500ms`, `10s`, `5m`, `24h`, `7d`)",
        Rule::reserved => "a reserved word",
        Rule::comma => "`,`",
        Rule::colon => "`:`",
        Rule::open_paren => "`(`",
        Rule::close_paren => "`)`",
        Rule::open_brace => "`{`",
        Rule::close_brace => "`}`",
        Rule::close_bracket => "`]`",
        // The expression rules are named by `friendly_rule_name` before this is reached.
        _ => "a rule",
    }
}
