//! Parse tree -> AST: one lowering function per grammar rule of `cepheus.pest`.
//!
//! Lowering never stops at the first problem: every function records what is wrong in
//! [`Lowerer::diags`] and returns its best guess, so one rule reports all its mistakes at once.
//! A rule with any diagnostic is left out of the result (see [`file`]).

use std::collections::HashMap;

use pest::iterators::Pair;

use super::parser::Rule as R;
use crate::ast::{
    self, Aggregate, Contiguity, Duration, Element, Emit, Expr, ExprKind, Group, Literal, Name,
    Path, Quantifier, Skip, Stage, Template, TemplatePart, Value, Window, WindowsOutput,
};
use crate::diagnostic::{Diagnostic, codes};
use crate::expr::{Ctx, lower_expr, lower_path, lower_string, parse_template};
use crate::source::Span;

/// Lowers a `file` pair: the rules that lowered cleanly, and every problem found.
pub(crate) fn file(pair: Pair<'_, R>, ctx: Ctx) -> (Vec<ast::Rule>, Vec<Diagnostic>) {
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            R::rule_def => {
                let mut lowerer = Lowerer { ctx, diags: Vec::new() };
                let rule = lowerer.rule_def(p);
                // A rule with a mistake is not handed on: the checker and the engine only ever
                // see rules that say what their author wrote.
                if lowerer.diags.is_empty() {
                    rules.push(rule);
                }
                diags.extend(lowerer.diags);
            }
            R::EOI => {}
            r => unreachable!("file = SOI ~ rule_def* ~ EOI, not {r:?}"),
        }
    }
    (rules, diags)
}

/// Lowering state for one rule: where its text sits, and what went wrong so far.
struct Lowerer {
    ctx: Ctx,
    diags: Vec<Diagnostic>,
}

/// The clauses of a window rule, collected in any order and assembled at the rule's end.
#[derive(Default)]
struct WindowParts {
    window: Option<Window>,
    aggregates: Vec<Aggregate>,
    having: Option<Expr>,
    windows: Option<WindowsOutput>,
}

/// Remembers which once-only parts of a rule or stage were written, to report repeats.
#[derive(Default)]
struct Once(HashMap<&'static str, Span>);

impl Lowerer {
    /// Where a pair's text is, without the whitespace and comments pest skipped after its
    /// last token (a rule ending in an optional part keeps them in its own span).
    fn span(&self, pair: &Pair<'_, R>) -> Span {
        let span = self.ctx.span(pair.as_span());
        Span::new(span.source, span.start, span.start + content_len(pair.as_str()) as u32)
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Records that `what` was written at `span`; reports it when it was already written.
    fn once(&mut self, seen: &mut Once, what: &'static str, span: Span) {
        if let Some(first) = seen.0.get(what) {
            let d = Diagnostic::error(codes::DSL_SYNTAX, format!("{what} is written twice"))
                .at(span, "written again here")
                .with_label(*first, "first written here")
                .with_help(format!("write {what} once"));
            self.error(d);
        } else {
            seen.0.insert(what, span);
        }
    }

    /// `rule_def = { kw_rule ~ name ~ description? ~ clause* }`
    fn rule_def(&mut self, pair: Pair<'_, R>) -> ast::Rule {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next().expect("rule_def starts with kw_rule");
        let name = self.name(inner.next().expect("rule_def = kw_rule ~ name ~ ..."));
        let mut rule = ast::Rule {
            name,
            description: None,
            source: ast::Source::default(),
            pattern: Vec::new(),
            window: None,
            within: None,
            skip: Skip::NoSkip,
            emit: None,
            on_timeout: None,
            span,
        };
        let mut seen = Once::default();
        let mut parts = WindowParts::default();
        for p in inner {
            match p.as_rule() {
                R::description => rule.description = Some(lower_string(only_child(p))),
                R::clause => self.clause(only_child(p), &mut rule, &mut seen, &mut parts),
                r => unreachable!("a rule holds a description and clauses, not {r:?}"),
            }
        }
        self.windowed(&mut rule, parts, &seen);
        rule
    }

    /// Assembles a window rule from its clauses, and reports window clauses on a pattern rule
    /// and a rule with both a pattern and a window.
    fn windowed(&mut self, rule: &mut ast::Rule, parts: WindowParts, seen: &Once) {
        let pattern_at = seen.0.get("`pattern`").copied();
        let window_at = seen.0.get("`window`").copied();
        if let (Some(p), Some(w)) = (pattern_at, window_at) {
            self.error(crate::check::pattern_and_window(w, p));
        }
        if window_at.is_none() {
            let written = ["`aggregate`", "`having`", "`emit windows`"]
                .iter()
                .find_map(|what| seen.0.get(what).map(|at| (*what, *at)));
            if let (None, Some((what, at))) = (pattern_at, written) {
                self.error(
                    Diagnostic::error(codes::MISSING_FIELD, format!("{what} without `window`"))
                        .at(at, "a window rule's clause")
                        .with_help(
                            "a window rule says its windows: `window tumbling 5m`, \
                             `window sliding 1h every 5m` or `window session gap 30m`",
                        ),
                );
            }
            if pattern_at.is_some() {
                for what in ["`aggregate`", "`having`", "`emit windows`"] {
                    if let Some(at) = seen.0.get(what) {
                        self.error(
                            Diagnostic::error(
                                codes::WINDOW_KEY_ON_PATTERN_RULE,
                                format!("{what} belongs to window rules, not to pattern rules"),
                            )
                            .at(*at, "not valid on a pattern rule")
                            .with_help(
                                "a window rule has `window ...` instead of `pattern`; a pattern \
                                 rule aggregates its stages in expressions (`count(drop)`)",
                            ),
                        );
                    }
                }
            }
            return;
        }
        if let Some(window) = parts.window {
            rule.window = Some(ast::Windowed {
                window,
                aggregates: parts.aggregates,
                having: parts.having,
                windows: parts.windows,
            });
        }
    }

    /// `window_clause = { kw_window ~ (tumbling_window | sliding_window | session_window) }`
    fn window_clause(&mut self, pair: Pair<'_, R>, span: Span) -> Option<Window> {
        let kind = last_child(pair);
        let rule = kind.as_rule();
        let mut durations = kind.into_inner().filter(|p| p.as_rule() == R::duration);
        let mut next = || durations.next().expect("each kind of window has its durations");
        match rule {
            R::tumbling_window => Some(Window::Tumbling { size: self.duration(next())?, span }),
            R::sliding_window => {
                let size = self.duration(next());
                let every = self.duration(next());
                Some(Window::Sliding { size: size?, every: every?, span })
            }
            R::session_window => Some(Window::Session { gap: self.duration(next())?, span }),
            r => unreachable!("a window is tumbling, sliding or session, not {r:?}"),
        }
    }

    /// `aggregate_clause = { kw_aggregate ~ aggregate_def+ }`
    fn aggregate_clause(&mut self, pair: Pair<'_, R>) -> Vec<Aggregate> {
        let mut out = Vec::new();
        for def in pair.into_inner().filter(|p| p.as_rule() == R::aggregate_def) {
            let span = self.span(&def);
            let mut inner = def.into_inner();
            let name = self.name(inner.next().expect("aggregate_def = name ~ equals ~ expr ~ ..."));
            let mut of = None;
            let mut filter = None;
            let mut over = None;
            let mut seen = Once::default();
            for p in inner {
                let clause_span = self.span(&p);
                match p.as_rule() {
                    R::equals => {}
                    R::expr => of = self.expr(p),
                    R::where_clause => {
                        self.once(&mut seen, "`where`", clause_span);
                        filter = self.expr_clause(p);
                    }
                    R::over_clause => {
                        self.once(&mut seen, "`over`", clause_span);
                        over = self.duration_clause(p);
                    }
                    r => unreachable!("an aggregate holds a call, `where` and `over`, not {r:?}"),
                }
            }
            if let Some(of) = of {
                out.push(Aggregate { name, of, filter, over, span });
            }
        }
        out
    }

    /// `clause = { from_clause | key_clause | ... | on_timeout_clause }`
    fn clause(
        &mut self,
        pair: Pair<'_, R>,
        rule: &mut ast::Rule,
        seen: &mut Once,
        parts: &mut WindowParts,
    ) {
        let span = self.span(&pair);
        match pair.as_rule() {
            R::window_clause => {
                self.once(seen, "`window`", span);
                parts.window = self.window_clause(pair, span);
            }
            R::aggregate_clause => {
                self.once(seen, "`aggregate`", span);
                parts.aggregates = self.aggregate_clause(pair);
            }
            R::having_clause => {
                self.once(seen, "`having`", span);
                parts.having = self.expr_clause(pair);
            }
            R::emit_windows_clause => {
                self.once(seen, "`emit windows`", span);
                let topic = self.topic(last_child(pair));
                parts.windows = Some(WindowsOutput { topic, span });
            }
            R::from_clause => {
                self.once(seen, "`from`", span);
                rule.source.topics = self.topics(pair);
            }
            R::key_clause => {
                self.once(seen, "`key`", span);
                rule.source.key = self.path_clause(pair);
            }
            R::time_clause => {
                self.once(seen, "`time`", span);
                rule.source.time = self.path_clause(pair);
            }
            R::out_of_order_clause => {
                self.once(seen, "`out of order`", span);
                rule.source.max_out_of_orderness = self.duration_clause(pair);
            }
            R::filter_clause => {
                self.once(seen, "`filter`", span);
                rule.source.filter = self.expr_clause(pair);
            }
            R::pattern_clause => {
                self.once(seen, "`pattern`", span);
                rule.pattern = self.pattern_clause(pair);
            }
            R::within_clause => {
                self.once(seen, "`within`", span);
                rule.within = self.duration_clause(pair);
            }
            R::skip_clause => {
                self.once(seen, "the skip strategy", span);
                rule.skip = self.skip_clause(pair);
            }
            R::emit_clause => {
                self.once(seen, "`emit`", span);
                rule.emit = Some(self.emit_clause(pair, span));
            }
            R::on_timeout_clause => {
                self.once(seen, "`on timeout`", span);
                rule.on_timeout = Some(self.on_timeout_clause(pair));
            }
            r => unreachable!("clause holds one of the clause rules, not {r:?}"),
        }
    }

    /// `from_clause = { kw_from ~ topic ~ ("," ~ topic)* }`
    fn topics(&mut self, pair: Pair<'_, R>) -> Vec<Name> {
        pair.into_inner().filter(|p| p.as_rule() == R::topic).map(|p| self.topic(p)).collect()
    }

    /// `topic = ${ string | bare_topic }`
    fn topic(&mut self, pair: Pair<'_, R>) -> Name {
        let span = self.span(&pair);
        let inner = only_child(pair);
        let text = match inner.as_rule() {
            R::string => lower_string(inner),
            R::bare_topic => inner.as_str().to_string(),
            r => unreachable!("a topic is a string or a bare topic, not {r:?}"),
        };
        Name::new(text, span)
    }

    /// `key_clause = { kw_key ~ path }` and `time_clause = { kw_time ~ path }`
    fn path_clause(&mut self, pair: Pair<'_, R>) -> Option<Path> {
        let path = last_child(pair);
        lower_path(path, self.ctx).map_err(|d| self.error(d)).ok()
    }

    /// Any clause that ends in an `expr`: `filter`, `where`, `until`.
    fn expr_clause(&mut self, pair: Pair<'_, R>) -> Option<Expr> {
        self.expr(last_child(pair))
    }

    fn expr(&mut self, pair: Pair<'_, R>) -> Option<Expr> {
        lower_expr(pair, self.ctx).map_err(|d| self.error(d)).ok()
    }

    /// Any clause that ends in a `duration`: `out of order`, `within`, `max gap`.
    fn duration_clause(&mut self, pair: Pair<'_, R>) -> Option<Duration> {
        self.duration(last_child(pair))
    }

    /// `duration = @{ ASCII_DIGIT ~ ASCII_ALPHANUMERIC* }`, checked by [`crate::duration::parse`].
    fn duration(&mut self, pair: Pair<'_, R>) -> Option<Duration> {
        let span = self.span(&pair);
        match crate::duration::parse(pair.as_str()) {
            Ok(millis) => Some(Duration { millis, span }),
            Err(message) => {
                self.error(
                    Diagnostic::error(
                        codes::INVALID_DURATION,
                        format!("invalid duration: {message}"),
                    )
                    .at(span, "not a duration")
                    .with_help("durations are a number and a unit: 500ms, 10s, 5m, 24h, 7d, 1h30m"),
                );
                None
            }
        }
    }

    /// `name = @{ !reserved ~ identifier characters }`
    fn name(&self, pair: Pair<'_, R>) -> Name {
        Name::new(pair.as_str(), self.span(&pair))
    }

    /// `pattern_clause = { kw_pattern ~ sequence }`
    fn pattern_clause(&mut self, pair: Pair<'_, R>) -> Vec<Element> {
        self.sequence(last_child(pair))
    }

    /// `sequence = { first_step ~ step* }`
    fn sequence(&mut self, pair: Pair<'_, R>) -> Vec<Element> {
        pair.into_inner().map(|p| self.step(p)).collect()
    }

    /// `first_step = { (connector | lone_not)? ~ element }` and `step = { connector ~ element }`.
    /// The element's span starts at its connector, which is part of how it is written.
    fn step(&mut self, pair: Pair<'_, R>) -> Element {
        let span = self.span(&pair);
        let mut contiguity = None;
        let mut contiguity_span = None;
        let mut absent = false;
        let mut absent_span = None;
        let mut element = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                R::connector => {
                    let connector_span = self.span(&p);
                    let (c, negated) = connector(only_child(p));
                    contiguity = Some(c);
                    contiguity_span = Some(connector_span);
                    absent = negated;
                    absent_span = negated.then_some(connector_span);
                }
                R::lone_not => {
                    absent = true;
                    absent_span = Some(self.span(&p));
                }
                R::stage | R::group => element = Some(p),
                r => unreachable!("a step holds a connector and an element, not {r:?}"),
            }
        }
        let element = element.expect("every step ends in a stage or a group");
        match element.as_rule() {
            R::group => {
                if let Some(at) = absent_span {
                    self.error(
                        Diagnostic::error(codes::DSL_SYNTAX, "a group cannot be absent")
                            .at(at, "`not` applies to single stages only")
                            .with_help(
                                "negate one stage (`not followed by s where ...`); a group \
                                 repeats or makes optional a sub-sequence",
                            ),
                    );
                }
                Element::Group(self.group(element, contiguity, contiguity_span, span))
            }
            _ => Element::Stage(self.stage(element, contiguity, contiguity_span, absent, span)),
        }
    }

    /// `stage = { name ~ quantifier? ~ loop_option* ~ stage_clause* }`
    fn stage(
        &mut self,
        pair: Pair<'_, R>,
        contiguity: Option<Contiguity>,
        contiguity_span: Option<Span>,
        absent: bool,
        span: Span,
    ) -> Stage {
        let mut inner = pair.into_inner();
        let name = self.name(inner.next().expect("a stage starts with its name"));
        let mut quantifier = Quantifier::default();
        let mut seen = Once::default();
        let mut condition = None;
        let mut max_gap = None;
        for p in inner {
            let clause_span = self.span(&p);
            match p.as_rule() {
                R::quantifier => self.quantifier(p, &mut quantifier),
                R::loop_option => self.loop_option(p, &mut quantifier, &mut seen),
                R::where_clause => {
                    self.once(&mut seen, "`where`", clause_span);
                    condition = self.expr_clause(p);
                }
                R::until_clause => {
                    self.once(&mut seen, "`until`", clause_span);
                    quantifier.until = self.expr_clause(p);
                }
                R::max_gap_clause => {
                    self.once(&mut seen, "`max gap`", clause_span);
                    max_gap = self.duration_clause(p);
                }
                r => {
                    unreachable!("a stage holds a quantifier, loop options and clauses, not {r:?}")
                }
            }
        }
        Stage { name, contiguity, contiguity_span, quantifier, absent, condition, max_gap, span }
    }

    /// `group = { kw_group ~ name ~ "(" ~ sequence? ~ ")" ~ quantifier? ~ loop_option* ~
    /// until_clause? }`
    fn group(
        &mut self,
        pair: Pair<'_, R>,
        contiguity: Option<Contiguity>,
        contiguity_span: Option<Span>,
        span: Span,
    ) -> Group {
        let mut inner = pair.into_inner();
        inner.next().expect("a group starts with kw_group");
        let name = self.name(inner.next().expect("group = kw_group ~ name ~ ..."));
        let mut quantifier = Quantifier::default();
        let mut pattern = Vec::new();
        let mut seen = Once::default();
        for p in inner {
            match p.as_rule() {
                R::open_paren | R::close_paren => {}
                R::sequence => pattern = self.sequence(p),
                R::quantifier => self.quantifier(p, &mut quantifier),
                R::loop_option => self.loop_option(p, &mut quantifier, &mut seen),
                R::until_clause => quantifier.until = self.expr_clause(p),
                r => unreachable!("a group holds a sequence, quantifier and options, not {r:?}"),
            }
        }
        Group { name, contiguity, contiguity_span, quantifier, pattern, span }
    }

    /// `quantifier = { (times | one_or_more | one_or_more_optional) ~ optional_mark? |
    /// optional_mark }`
    fn quantifier(&mut self, pair: Pair<'_, R>, q: &mut Quantifier) {
        extend_span(&mut q.span, self.span(&pair));
        for p in pair.into_inner() {
            match p.as_rule() {
                R::times => self.times(p, q),
                R::one_or_more => (q.min, q.max) = (1, None),
                R::one_or_more_optional => (q.min, q.max, q.optional) = (1, None, true),
                R::optional_mark => q.optional = true,
                r => unreachable!("a quantifier holds a count and `?`, not {r:?}"),
            }
        }
    }

    /// `times = { "{" ~ integer ~ (times_comma ~ integer?)? ~ "}" }`
    fn times(&mut self, pair: Pair<'_, R>, q: &mut Quantifier) {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let min_pair = inner.next().expect("times starts with an integer");
        let min = self.bound(min_pair);
        let has_comma = inner.peek().is_some_and(|p| p.as_rule() == R::times_comma);
        if has_comma {
            inner.next();
        }
        let upper = inner.next().filter(|p| p.as_rule() == R::integer);
        let max = match (has_comma, upper) {
            (false, _) => min,
            (true, None) => None,
            (true, Some(upper)) => self.bound(upper),
        };
        if min == Some(0) {
            let (written, suggestion) = match (has_comma, max) {
                (false, _) => (
                    "`{0}`",
                    "leave the stage out, or use `not followed by` to forbid an event".to_string(),
                ),
                (true, None) => {
                    ("`{0,}`", "write `*` (one or more, and the whole stage optional)".to_string())
                }
                (true, Some(m)) => (
                    "a lower bound of 0",
                    format!("write `{{1,{m}}}?`: one to {m} events, and the whole stage optional"),
                ),
            };
            self.error(
                Diagnostic::error(
                    codes::INVALID_QUANTIFIER,
                    format!("{written} is not a quantifier"),
                )
                .at(span, "a stage takes at least one event when it matches")
                .with_help(suggestion),
            );
        }
        q.min = min.unwrap_or(1);
        q.max = if has_comma { max } else { Some(q.min) };
    }

    /// One bound of `{n,m}`: an integer that fits in 32 bits.
    fn bound(&mut self, pair: Pair<'_, R>) -> Option<u32> {
        match pair.as_str().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(
                    Diagnostic::error(codes::NUMBER_RANGE, "quantifier bound too large")
                        .at(self.span(&pair), "at most 4294967295"),
                );
                None
            }
        }
    }

    /// `loop_option = { kw_optional | kw_greedy | kw_consecutive | kw_combinations }`
    fn loop_option(&mut self, pair: Pair<'_, R>, q: &mut Quantifier, seen: &mut Once) {
        let span = self.span(&pair);
        extend_span(&mut q.span, span);
        let word = only_child(pair);
        let (what, flag) = match word.as_rule() {
            R::kw_optional => ("`optional`", &mut q.optional),
            R::kw_greedy => ("`greedy`", &mut q.greedy),
            R::kw_consecutive => ("`consecutive`", &mut q.consecutive),
            R::kw_combinations => ("`combinations`", &mut q.allow_combinations),
            r => unreachable!("a loop option is one of four words, not {r:?}"),
        };
        *flag = true;
        self.once(seen, what, span);
    }

    /// `skip_clause = { no_skip | kw_skip ~ (skip_to_next | ... | skip_to_last) }`
    fn skip_clause(&mut self, pair: Pair<'_, R>) -> Skip {
        let choice = last_child(pair);
        match choice.as_rule() {
            R::no_skip => Skip::NoSkip,
            R::skip_to_next => Skip::ToNext,
            R::skip_past_last_event => Skip::PastLastEvent,
            R::skip_to_first => Skip::ToFirst(self.name(last_child(choice))),
            R::skip_to_last => Skip::ToLast(self.name(last_child(choice))),
            r => unreachable!("a skip clause names one strategy, not {r:?}"),
        }
    }

    /// `emit_clause = { kw_emit ~ (kw_to ~ topic)? ~ map }`
    fn emit_clause(&mut self, pair: Pair<'_, R>, span: Span) -> Emit {
        let mut topic = None;
        let mut fields = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                R::kw_emit | R::kw_to => {}
                R::topic => topic = Some(self.topic(p)),
                R::map => fields = self.map(p),
                r => unreachable!("emit holds a topic and a map, not {r:?}"),
            }
        }
        Emit { topic, fields, span }
    }

    /// `on_timeout_clause = { kw_on ~ kw_timeout ~ emit_clause }`; the emit's span covers
    /// `on timeout` too.
    fn on_timeout_clause(&mut self, pair: Pair<'_, R>) -> Emit {
        let span = self.span(&pair);
        self.emit_clause(last_child(pair), span)
    }

    /// `map = { "{" ~ (field ~ ("," ~ field)* ~ ","?)? ~ "}" }`
    fn map(&mut self, pair: Pair<'_, R>) -> Vec<(Name, Value)> {
        let mut fields: Vec<(Name, Value)> = Vec::new();
        for field in pair.into_inner().filter(|p| p.as_rule() == R::field) {
            let mut inner = field.into_inner();
            let key = self.field_key(inner.next().expect("field = field_key ~ colon ~ value"));
            let value = self.value(inner.last().expect("field = field_key ~ colon ~ value"));
            if let Some((first, _)) = fields.iter().find(|(k, _)| k.text == key.text) {
                let d = Diagnostic::error(
                    codes::DSL_SYNTAX,
                    format!("field `{}` is written twice", key.text),
                )
                .at(key.span, "written again here")
                .with_label(first.span, "first written here");
                self.error(d);
            }
            fields.push((key, value));
        }
        fields
    }

    /// `field_key = ${ string | bare_key }`
    fn field_key(&mut self, pair: Pair<'_, R>) -> Name {
        let span = self.span(&pair);
        let inner = only_child(pair);
        let text = match inner.as_rule() {
            R::string => lower_string(inner),
            _ => inner.as_str().to_string(),
        };
        Name::new(text, span)
    }

    /// `value = { string | negative_number | float | integer | kw_true | kw_false | kw_null |
    /// value_list | map }`
    fn value(&mut self, pair: Pair<'_, R>) -> Value {
        let inner = only_child(pair);
        match inner.as_rule() {
            R::string => Value::String(self.template(inner)),
            R::negative_number | R::float | R::integer => match self.expr(inner).map(|e| e.kind) {
                Some(ExprKind::Literal(Literal::Int(i))) => Value::Int(i),
                Some(ExprKind::Literal(Literal::Float(f))) => Value::Float(f),
                // The number did not fit; the diagnostic is recorded.
                _ => Value::Null,
            },
            R::kw_true => Value::Bool(true),
            R::kw_false => Value::Bool(false),
            R::kw_null => Value::Null,
            R::value_list => Value::List(
                inner
                    .into_inner()
                    .filter(|p| p.as_rule() == R::value)
                    .map(|p| self.value(p))
                    .collect(),
            ),
            R::map => Value::Map(self.map(inner)),
            r => unreachable!("a value is a literal, list or map, not {r:?}"),
        }
    }

    /// A string value read as a template. Its holes' spans point into the file even when the
    /// string has escapes before them.
    fn template(&mut self, pair: Pair<'_, R>) -> Template {
        let raw = only_child(pair);
        let raw_start = self.ctx.span(raw.as_span()).start;
        let source = self.ctx.source;
        if !raw.as_str().contains('\\') {
            // No escapes: the string's text is the template's text, byte for byte.
            return parse_template(raw.as_str(), Ctx::new(source, raw_start))
                .map_err(|d| self.error(d))
                .unwrap_or_default();
        }
        let (text, offsets) = unescape_with_offsets(raw.as_str());
        let place = |at: u32| raw_start + offsets.get(at as usize).copied().unwrap_or(0);
        let remap = |s: Span| Span::new(source, place(s.start), place(s.end));
        match parse_template(&text, Ctx::new(source, 0)) {
            Ok(mut template) => {
                for part in &mut template.parts {
                    if let TemplatePart::Expr(e) = part {
                        remap_expr(e, &remap);
                    }
                }
                template
            }
            Err(mut d) => {
                if let Some(primary) = &mut d.primary {
                    primary.span = remap(primary.span);
                }
                self.error(d);
                Template::default()
            }
        }
    }
}

/// `connector = { not_next | not_followed_by | followed_by_any | followed_by | next }`:
/// the contiguity, and whether the element is absent.
fn connector(pair: Pair<'_, R>) -> (Contiguity, bool) {
    match pair.as_rule() {
        R::not_next => (Contiguity::Strict, true),
        R::not_followed_by => (Contiguity::Relaxed, true),
        R::not_followed_by_any => (Contiguity::NonDeterministic, true),
        R::followed_by_any => (Contiguity::NonDeterministic, false),
        R::followed_by => (Contiguity::Relaxed, false),
        R::next => (Contiguity::Strict, false),
        r => unreachable!("a connector is one of six forms, not {r:?}"),
    }
}

/// The length of `text` without trailing whitespace and comments. `text` is what a pair
/// matched, so it starts at a token: scanning forward and skipping string literals tells a
/// comment's `#` from one inside a string.
fn content_len(text: &str) -> usize {
    let mut end = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' => {
                let quote = c;
                end = text.len();
                while let Some((j, c)) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else if c == quote {
                        end = j + 1;
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {}
            c => end = i + c.len_utf8(),
        }
    }
    end
}

/// Grows a quantifier's written span to cover `more`.
fn extend_span(span: &mut Option<Span>, more: Span) {
    *span = Some(span.map_or(more, |s| s.to(more)));
}

/// Unescapes a string literal's inner text like [`lower_string`], and gives for every byte of
/// the result (and one past its end) the offset in `raw` of the character that produced it.
pub(crate) fn unescape_with_offsets(raw: &str) -> (String, Vec<u32>) {
    let mut out = String::with_capacity(raw.len());
    let mut offsets = Vec::with_capacity(raw.len() + 1);
    let mut chars = raw.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let produced = if c != '\\' {
            Some(c)
        } else {
            match chars.next().map(|(_, e)| e) {
                Some('n') => Some('\n'),
                Some('r') => Some('\r'),
                Some('t') => Some('\t'),
                Some('u') => {
                    // `\u{` hex `}`: the grammar admits 1 to 6 hex digits.
                    chars.next();
                    let mut hex = String::new();
                    for (_, h) in chars.by_ref() {
                        if h == '}' {
                            break;
                        }
                        hex.push(h);
                    }
                    let code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                    Some(char::from_u32(code).unwrap_or('\u{FFFD}'))
                }
                other => other,
            }
        };
        if let Some(p) = produced {
            out.push(p);
            offsets.extend(std::iter::repeat_n(at as u32, p.len_utf8()));
        }
    }
    offsets.push(raw.len() as u32);
    (out, offsets)
}

/// Moves every span in an expression with `f`.
fn remap_expr(e: &mut Expr, f: &dyn Fn(Span) -> Span) {
    e.span = f(e.span);
    match &mut e.kind {
        ExprKind::Literal(_) => {}
        ExprKind::Path(p) => p.span = f(p.span),
        ExprKind::List(items) => items.iter_mut().for_each(|i| remap_expr(i, f)),
        ExprKind::Unary { expr, .. } => remap_expr(expr, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            remap_expr(lhs, f);
            remap_expr(rhs, f);
        }
        ExprKind::Call { name, args } => {
            name.span = f(name.span);
            args.iter_mut().for_each(|a| remap_expr(a, f));
        }
    }
}

fn only_child(pair: Pair<'_, R>) -> Pair<'_, R> {
    pair.into_inner().next().expect("the grammar gives this rule exactly one child")
}

fn last_child(pair: Pair<'_, R>) -> Pair<'_, R> {
    pair.into_inner().last().expect("the grammar ends this rule with the part wanted here")
}
