//! Raw mirror -> AST: the meaning of each key, every value's syntax, and every span.
//!
//! One function per raw type. Each reports what is wrong with its part and goes on, so a file
//! yields every problem at once; a rule with any problem is not returned. Semantic checks
//! (names unique, stages referenced exist, options that make sense together) are not made
//! here: they belong to [`crate::check`], which sees rules from both front ends.

use serde_saphyr::{Location, Spanned};

use super::outline::Outline;
use super::raw::{
    RawAggregate, RawAggregates, RawContiguity, RawDocument, RawElement, RawEmit, RawExpr,
    RawFields, RawPattern, RawRule, RawSkip, RawSliding, RawSource, RawTimes, RawValue, RawWindow,
    RawWindows, group_keys, stage_keys,
};
use super::recover::{Touched, location_range};
use super::scalar::Placement;
use crate::ast::{
    Aggregate, Contiguity, Duration, Element, Emit, Expr, Group, Name, Path, Quantifier, Rule,
    Skip, Source, Stage, Template, Value, Window, Windowed, WindowsOutput,
};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::{SourceId, Span};

/// Lowers raw documents to rules. `touched` lists what [`super::recover`] neutralized after a
/// structural error; a key found missing there was written, and has been reported already.
pub fn lower(
    documents: Vec<Spanned<RawDocument>>,
    text: &str,
    source: SourceId,
    outline: &Outline,
    touched: &[Touched],
) -> (Vec<Rule>, Vec<Diagnostic>) {
    let mut lowerer = Lowerer { text, source, outline, touched, diagnostics: Vec::new() };
    let mut rules = Vec::new();
    for document in documents {
        match document.value {
            RawDocument::Empty => {}
            RawDocument::One(rule) => rules.extend(lowerer.rule(*rule, &document.referenced)),
            RawDocument::Many(items) => {
                for item in items {
                    match item.value {
                        Some(rule) => rules.extend(lowerer.rule(rule, &item.referenced)),
                        None => lowerer.empty_item(
                            &item.referenced,
                            "a rule",
                            "a rule is a mapping with at least `name` and `pattern`",
                        ),
                    }
                }
            }
        }
    }
    (rules, lowerer.diagnostics)
}

struct Lowerer<'a> {
    text: &'a str,
    source: SourceId,
    outline: &'a Outline,
    touched: &'a [Touched],
    diagnostics: Vec<Diagnostic>,
}

impl Lowerer<'_> {
    fn rule(&mut self, raw: RawRule, at: &Location) -> Option<Rule> {
        let errors = self.diagnostics.len();
        let span = self.map_span(at);
        let name = match &raw.name {
            Some(n) => Some(self.name(n)),
            None => {
                self.missing(
                    "name",
                    at,
                    "a rule",
                    "every rule needs a name, unique in the rule set: `name: my_rule`",
                );
                None
            }
        };
        let source = raw.source.map(|s| self.source(s)).unwrap_or_default();
        if let (Some(p), Some(w)) = (&raw.pattern, &raw.window) {
            let (p, w) = (self.key_span(p), self.key_span(w));
            self.push(crate::check::pattern_and_window(w, p));
        }
        let window_keys = [
            ("aggregates", raw.aggregates.as_ref().map(|v| v.referenced)),
            ("having", raw.having.as_ref().map(|v| v.referenced)),
            ("windows", raw.windows.as_ref().map(|v| v.referenced)),
        ];
        if raw.window.is_none() && raw.pattern.is_some() {
            for (key, loc) in window_keys {
                if let Some(loc) = loc {
                    let at = self.key_span_at(&loc);
                    self.push(
                        Diagnostic::error(
                            codes::WINDOW_KEY_ON_PATTERN_RULE,
                            format!("`{key}` belongs to window rules, not to pattern rules"),
                        )
                        .at(at, "not valid on a pattern rule")
                        .with_help(
                            "a window rule has `window:` instead of `pattern:`; a pattern rule \
                             aggregates its stages in expressions (`count(drop)`)",
                        ),
                    );
                }
            }
        }
        let window = raw.window.map(|w| {
            let window = self.window(w);
            let aggregates = raw.aggregates.map(|a| self.aggregates(a.value)).unwrap_or_default();
            let having = raw.having.as_ref().and_then(|h| self.expr(h));
            let windows = raw.windows.and_then(|w| self.windows(w));
            window.map(|window| Windowed { window, aggregates, having, windows })
        });
        let window = match window {
            Some(Some(w)) => Some(w),
            // A broken `window:` is reported; the rule is then dropped.
            Some(None) => None,
            None => None,
        };
        let window_keys_written = window_keys.iter().any(|(_, loc)| loc.is_some());
        let pattern = match raw.pattern {
            Some(items) => self.pattern(items),
            None if window.is_some() || self.diagnostics.len() > errors => Vec::new(),
            None if window_keys_written => {
                self.missing(
                    "window",
                    at,
                    "a rule",
                    "`aggregates`, `having` and `windows` make a window rule: add `window:` with \
                     `tumbling: 5m`, `sliding: {size: 1h, every: 5m}` or `session: {gap: 30m}`",
                );
                Vec::new()
            }
            None => {
                self.missing(
                    "pattern",
                    at,
                    "a rule",
                    "a rule needs a `pattern` (a list of `- stage: NAME` elements), or a `window` \
                     to aggregate over time",
                );
                Vec::new()
            }
        };
        let within = raw.within.as_ref().and_then(|d| self.duration(d));
        let skip = raw.skip.map(|s| self.skip(s.value)).unwrap_or_default();
        let emit = raw.emit.map(|e| self.emit(e));
        let on_timeout = raw.on_timeout.map(|e| self.emit(e));
        // A rule with a problem, here or in its structure (neutralized by `recover`), is not
        // what the user meant: it is reported, not returned.
        let neutralized = self
            .touched
            .iter()
            .any(|t| span.start <= t.start && t.start < span.end.max(span.start + 1));
        if self.diagnostics.len() > errors || neutralized {
            return None;
        }
        Some(Rule {
            name: name?,
            description: raw.description,
            source,
            pattern,
            window,
            within,
            skip,
            emit,
            on_timeout,
            span,
        })
    }

    fn window(&mut self, raw: Spanned<RawWindow>) -> Option<Window> {
        // Diagnostics about the whole window point at its first line (`window:`).
        let span = self.first_line(
            self.entry_span(&raw.referenced).unwrap_or_else(|| self.map_span(&raw.referenced)),
        );
        let RawWindow { tumbling, sliding, session } = raw.value;
        let written = usize::from(tumbling.is_some())
            + usize::from(sliding.is_some())
            + usize::from(session.is_some());
        if written != 1 {
            self.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    "a window is exactly one of `tumbling`, `sliding` or `session`",
                )
                .at(self.first_line(span), if written == 0 { "no kind of window" } else { "several kinds of window" })
                .with_help("write `tumbling: 5m`, `sliding: {size: 1h, every: 5m}` or `session: {gap: 30m}`"),
            );
            return None;
        }
        if let Some(size) = tumbling {
            let size = self.duration(&size)?;
            return Some(Window::Tumbling { size, span });
        }
        if let Some(sliding) = sliding {
            let at = sliding.referenced;
            let RawSliding { size, every } = sliding.value;
            let size = match size {
                Some(s) => self.duration(&s),
                None => {
                    self.missing(
                        "size",
                        &at,
                        "a sliding window",
                        "`sliding: {size: 1h, every: 5m}`",
                    );
                    None
                }
            };
            let every = match every {
                Some(e) => self.duration(&e),
                None => {
                    self.missing(
                        "every",
                        &at,
                        "a sliding window",
                        "`sliding: {size: 1h, every: 5m}`",
                    );
                    None
                }
            };
            return Some(Window::Sliding { size: size?, every: every?, span });
        }
        let session = session.expect("exactly one kind of window is written");
        let at = session.referenced;
        match session.value.gap {
            Some(g) => Some(Window::Session { gap: self.duration(&g)?, span }),
            None => {
                self.missing("gap", &at, "a session window", "`session: {gap: 30m}`");
                None
            }
        }
    }

    fn aggregates(&mut self, raw: RawAggregates) -> Vec<Aggregate> {
        let mut out = Vec::new();
        for (name, value) in raw.0 {
            let name_span = self.name(&name).span;
            let span = self.entry_span(&value.referenced).map_or(name_span, |s| name_span.to(s));
            let name = self.name(&name);
            match value.value {
                RawAggregate::Short(text) => {
                    let placement = self.placement(&value.defined, &text);
                    if let Some(of) =
                        placement.parse_expr(self.source, &text, &mut self.diagnostics)
                    {
                        out.push(Aggregate { name, of, filter: None, over: None, span });
                    }
                }
                RawAggregate::Long(long) => {
                    let of = match &long.of {
                        Some(of) => self.expr(of),
                        None => {
                            self.missing(
                                "of",
                                &value.referenced,
                                "an aggregate",
                                "`{of: count(), where: CONDITION}`",
                            );
                            None
                        }
                    };
                    let filter = long.condition.as_ref().and_then(|c| self.expr(c));
                    let over = long.over.as_ref().and_then(|d| self.duration(d));
                    if let Some(of) = of {
                        out.push(Aggregate { name, of, filter, over, span });
                    }
                }
            }
        }
        out
    }

    fn windows(&mut self, raw: Spanned<RawWindows>) -> Option<WindowsOutput> {
        let span =
            self.entry_span(&raw.referenced).unwrap_or_else(|| self.map_span(&raw.referenced));
        match &raw.value.topic {
            Some(t) => Some(WindowsOutput { topic: self.name(t), span }),
            None => {
                self.missing("topic", &raw.referenced, "`windows`", "`windows: {topic: TOPIC}`");
                None
            }
        }
    }

    fn source(&mut self, raw: RawSource) -> Source {
        Source {
            topics: raw.topics.unwrap_or_default().iter().map(|t| self.name(t)).collect(),
            key: raw.key.as_ref().and_then(|k| self.path(k)),
            time: raw.time.as_ref().and_then(|t| self.path(t)),
            filter: raw.filter.as_ref().and_then(|f| self.expr(f)),
            max_out_of_orderness: raw.max_out_of_orderness.as_ref().and_then(|d| self.duration(d)),
        }
    }

    fn pattern(&mut self, items: RawPattern) -> Vec<Element> {
        let mut elements = Vec::new();
        for (i, item) in items.value.into_iter().enumerate() {
            match item.value {
                Some(raw) => elements.extend(self.element(raw, &item.referenced, i == 0)),
                None => self.empty_item(
                    &item.referenced,
                    "a pattern element",
                    "a pattern element is `- stage: NAME` (with its keys) or `- group: NAME` with a `pattern`",
                ),
            }
        }
        elements
    }

    fn element(&mut self, raw: RawElement, at: &Location, first: bool) -> Option<Element> {
        let span = self.map_span(at);
        match (&raw.stage, &raw.group) {
            (Some(stage), Some(group)) => {
                let (stage, group) = (self.key_span(stage), self.key_span(group));
                self.push(
                    Diagnostic::error(codes::STAGE_OR_GROUP, "a pattern element is a stage or a group, not both")
                        .at(group, "a group")
                        .with_label(stage, "and a stage")
                        .with_help("write the stage and the group as two elements, or make the stage part of the group's `pattern`"),
                );
                self.values_only(raw);
                None
            }
            (None, None) => {
                let map_start = self.map_start(at);
                let written = |k: &str| {
                    self.touched
                        .iter()
                        .any(|t| t.keys.iter().any(|t| t == k) && t.map_start == map_start)
                };
                if !written("stage") && !written("group") {
                    let help = if raw.pattern.is_some() {
                        "a sub-pattern is a group: add `group: NAME`"
                    } else {
                        "name the stage: add `stage: NAME`"
                    };
                    let d = Diagnostic::error(
                        codes::STAGE_OR_GROUP,
                        "a pattern element needs `stage: NAME` or `group: NAME`",
                    )
                    .at(self.first_line(span), "neither a stage nor a group")
                    .with_help(help);
                    self.push(d);
                }
                self.values_only(raw);
                None
            }
            (Some(_), None) => Some(Element::Stage(self.stage(raw, span, first))),
            (None, Some(_)) => Some(Element::Group(self.group(raw, at, span, first))),
        }
    }

    /// Reads the values of an element that is neither a stage nor a group, for their problems.
    fn values_only(&mut self, raw: RawElement) {
        self.quantifier(&raw);
        if let Some(c) = &raw.condition {
            self.expr(c);
        }
        if let Some(d) = &raw.max_gap {
            self.duration(d);
        }
        if let Some(p) = raw.pattern {
            self.pattern(p);
        }
    }

    fn stage(&mut self, raw: RawElement, span: Span, first: bool) -> Stage {
        if let Some(pattern) = &raw.pattern {
            let at = self.key_span(pattern);
            self.wrong_kind(
                "pattern",
                at,
                "a stage",
                "a sub-pattern belongs to a group: write `group: NAME` instead of `stage:`",
            );
        }
        let (contiguity, contiguity_span) = self.contiguity(&raw.contiguity, first);
        let quantifier = self.quantifier(&raw);
        Stage {
            name: self.name(
                raw.stage.as_ref().expect("element() calls stage() only when `stage` is written"),
            ),
            contiguity,
            contiguity_span,
            quantifier,
            absent: raw.absent.is_some_and(|a| a.value),
            condition: raw.condition.as_ref().and_then(|c| self.expr(c)),
            max_gap: raw.max_gap.as_ref().and_then(|d| self.duration(d)),
            span,
        }
    }

    fn group(&mut self, raw: RawElement, at: &Location, span: Span, first: bool) -> Group {
        let stage_only: [(&str, Option<Location>); 3] = [
            ("absent", raw.absent.as_ref().map(|v| v.referenced)),
            ("max_gap", raw.max_gap.as_ref().map(|v| v.referenced)),
            ("where", raw.condition.as_ref().map(|v| v.referenced)),
        ];
        for (key, loc) in stage_only {
            if let Some(loc) = loc {
                let help = match key {
                    "where" => "conditions belong on the group's stages",
                    "absent" => "a group cannot be negated; make one of its stages `absent: true`",
                    _ => "put `max_gap` on the group's first stage",
                };
                let key_span = self.key_span_at(&loc);
                self.wrong_kind(key, key_span, "a group", help);
            }
        }
        let (contiguity, contiguity_span) = self.contiguity(&raw.contiguity, first);
        let quantifier = self.quantifier(&raw);
        let name = self.name(
            raw.group.as_ref().expect("element() calls group() only when `group` is written"),
        );
        let pattern = match raw.pattern {
            Some(items) => self.pattern(items),
            None => {
                self.missing(
                    "pattern",
                    at,
                    "a group",
                    "a group holds a sub-pattern: `pattern:` with its `- stage: NAME` elements",
                );
                Vec::new()
            }
        };
        Group { name, contiguity, contiguity_span, quantifier, pattern, span }
    }

    fn contiguity(
        &mut self,
        raw: &Option<Spanned<RawContiguity>>,
        first: bool,
    ) -> (Option<Contiguity>, Option<Span>) {
        match raw {
            Some(c) => {
                let contiguity = match c.value {
                    RawContiguity::Strict => Contiguity::Strict,
                    RawContiguity::Relaxed => Contiguity::Relaxed,
                    RawContiguity::Any => Contiguity::NonDeterministic,
                };
                let value = self.token_span(&c.referenced);
                (Some(contiguity), Some(self.entry_span(&c.referenced).unwrap_or(value)))
            }
            // The first element has nothing before it to follow; the others follow relaxed.
            None if first => (None, None),
            None => (Some(Contiguity::Relaxed), None),
        }
    }

    fn quantifier(&mut self, raw: &RawElement) -> Quantifier {
        let flag = |f: &Option<Spanned<bool>>| f.as_ref().is_some_and(|f| f.value);
        let mut q = Quantifier {
            optional: flag(&raw.optional),
            greedy: flag(&raw.greedy),
            consecutive: flag(&raw.consecutive),
            allow_combinations: flag(&raw.allow_combinations),
            until: raw.until.as_ref().and_then(|u| self.expr(u)),
            ..Quantifier::default()
        };
        if let Some(times) = &raw.times {
            let span = self.token_span(&times.defined);
            q.span = Some(span);
            if let Some((min, max)) = self.times(&times.value, span) {
                q.min = min;
                q.max = max;
            }
        }
        q
    }

    /// `"N"`, `"N..M"` or `"N.."`.
    fn times(&mut self, raw: &RawTimes, span: Span) -> Option<(u32, Option<u32>)> {
        let text = raw.0.trim();
        let bad = |this: &mut Self, message: String| {
            this.push(
                Diagnostic::error(codes::INVALID_TIMES, message)
                    .at(span, "not a count")
                    .with_help(r#"write "N" (exactly N), "N..M" (N to M) or "N.." (at least N), with N at least 1"#),
            );
            None
        };
        let (min_text, max_text) = match text.split_once("..") {
            Some((a, b)) => (a.trim(), Some(b.trim())),
            None => (text, None),
        };
        let min = match self.count(min_text, span) {
            Ok(n) => n?,
            Err(()) => return bad(self, format!("invalid `times`: `{text}`")),
        };
        let max = match max_text {
            None => Some(min),
            Some("") => None,
            Some(m) => match self.count(m, span) {
                Ok(n) => Some(n?),
                Err(()) => return bad(self, format!("invalid `times`: `{text}`")),
            },
        };
        if min == 0 {
            let help = match max {
                Some(0) => "an element that never occurs can be left out; to forbid an event, use `absent: true`".to_string(),
                Some(m) => format!(r#"write `times: "1..{m}"` with `optional: true`"#),
                None => r#"write `times: "1.."` with `optional: true`"#.to_string(),
            };
            self.push(
                Diagnostic::error(
                    codes::INVALID_TIMES,
                    format!("`times` starts at 1, not 0: `{text}`"),
                )
                .at(span, "zero")
                .with_help(help),
            );
            return None;
        }
        if let Some(m) = max.filter(|m| *m < min) {
            self.push(
                Diagnostic::error(
                    codes::INVALID_TIMES,
                    format!("`times` upper bound {m} is below its lower bound {min}"),
                )
                .at(span, "empty range")
                .with_help(format!(r#"write `times: "{m}..{min}"`"#)),
            );
            return None;
        }
        Some((min, max))
    }

    /// A count of `times`: `Err` when not a number, `Ok(None)` when too large (reported).
    fn count(&mut self, text: &str, span: Span) -> Result<Option<u32>, ()> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        match text.parse::<u32>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => {
                self.push(
                    Diagnostic::error(
                        codes::NUMBER_RANGE,
                        format!("`times` bound {text} is too large"),
                    )
                    .at(span, format!("at most {}", u32::MAX)),
                );
                Ok(None)
            }
        }
    }

    fn skip(&mut self, raw: RawSkip) -> Skip {
        match raw {
            RawSkip::NoSkip => Skip::NoSkip,
            RawSkip::ToNext => Skip::ToNext,
            RawSkip::PastLastEvent => Skip::PastLastEvent,
            RawSkip::ToFirst(s) => Skip::ToFirst(self.name(&s)),
            RawSkip::ToLast(s) => Skip::ToLast(self.name(&s)),
        }
    }

    fn emit(&mut self, raw: Spanned<RawEmit>) -> Emit {
        let span = self.map_span(&raw.referenced);
        let RawEmit { topic, fields } = raw.value;
        Emit {
            topic: topic.as_ref().map(|t| self.name(t)),
            fields: self.fields(fields.unwrap_or_default()),
            span,
        }
    }

    fn fields(&mut self, raw: RawFields) -> Vec<(Name, Value)> {
        raw.0.into_iter().map(|(k, v)| (self.name(&k), self.value(v))).collect()
    }

    fn value(&mut self, raw: Spanned<RawValue>) -> Value {
        match raw.value {
            RawValue::Null => Value::Null,
            RawValue::Bool(b) => Value::Bool(b),
            RawValue::Int(i) => Value::Int(i),
            RawValue::Float(f) => Value::Float(f),
            RawValue::String(s) => {
                let placement = self.placement(&raw.defined, &s);
                // A broken template is reported; the rule is then dropped, so the text stands in.
                match placement.parse_template(self.source, &s, &mut self.diagnostics) {
                    Some(t) => Value::String(t),
                    None => Value::String(Template::text(s)),
                }
            }
            RawValue::List(items) => {
                Value::List(items.into_iter().map(|i| self.value(i)).collect())
            }
            RawValue::Map(entries) => Value::Map(
                entries.into_iter().map(|(k, v)| (self.name(&k), self.value(v))).collect(),
            ),
        }
    }

    // ---- scalars ----

    fn placement(&self, at: &Location, value: &str) -> Placement {
        let (start, end) = location_range(self.text, at);
        Placement::new(self.text, start, end, value)
    }

    fn name(&self, raw: &Spanned<String>) -> Name {
        let span = self.placement(&raw.defined, &raw.value).whole(self.source, &raw.value);
        Name::new(raw.value.clone(), span)
    }

    fn path(&mut self, raw: &Spanned<String>) -> Option<Path> {
        let placement = self.placement(&raw.defined, &raw.value);
        placement.parse_path(self.source, &raw.value, &mut self.diagnostics)
    }

    fn expr(&mut self, raw: &Spanned<RawExpr>) -> Option<Expr> {
        let text = &raw.value.0;
        let placement = self.placement(&raw.defined, text);
        placement.parse_expr(self.source, text, &mut self.diagnostics)
    }

    fn duration(&mut self, raw: &Spanned<String>) -> Option<Duration> {
        let span = self.placement(&raw.defined, &raw.value).whole(self.source, &raw.value);
        match crate::duration::parse(&raw.value) {
            Ok(millis) => Some(Duration { millis, span }),
            Err(message) => {
                self.push(
                    Diagnostic::error(codes::INVALID_DURATION, format!("invalid duration: {message}"))
                        .at(span, "not a duration")
                        .with_help("a duration is a number and a unit: 500ms, 10s, 5m, 24h, 7d (or a sum: 1h30m)"),
                );
                None
            }
        }
    }

    // ---- spans and reports ----

    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// The span of the scalar token a location points at.
    fn token_span(&self, at: &Location) -> Span {
        let (start, end) = location_range(self.text, at);
        Span::new(self.source, start, end)
    }

    /// The whole mapping that starts at (or has its first remaining key at) `at`.
    fn map_span(&self, at: &Location) -> Span {
        let (start, _) = location_range(self.text, at);
        match self.outline.range_of_map_at(start) {
            Some((s, e)) => Span::new(self.source, s, e),
            None => Span::new(self.source, start, start),
        }
    }

    fn map_start(&self, at: &Location) -> Option<u32> {
        let (start, _) = location_range(self.text, at);
        self.outline.map_at(start).map(|i| self.outline.nodes[i].start)
    }

    /// The first line of a span (a mapping's first key), for diagnostics about a whole mapping.
    fn first_line(&self, span: Span) -> Span {
        let rest = self.text.get(span.start as usize..span.end as usize).unwrap_or("");
        let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
        Span::new(span.source, span.start, span.start + len as u32)
    }

    /// The key under which a value is written (`key: value`), or the value when it has none.
    fn key_span_at(&self, value: &Location) -> Span {
        let (start, end) = location_range(self.text, value);
        match self.outline.key_of_value_at(start) {
            Some(k) => Span::new(self.source, k.start, k.end),
            None => Span::new(self.source, start, end),
        }
    }

    fn key_span<T>(&self, value: &Spanned<T>) -> Span {
        self.key_span_at(&value.referenced)
    }

    /// `key: value` as one span.
    fn entry_span(&self, value: &Location) -> Option<Span> {
        let (start, end) = location_range(self.text, value);
        let key = self.outline.key_of_value_at(start)?;
        Some(Span::new(self.source, key.start, end.max(key.end)))
    }

    /// Reports a missing required key, unless the key was written and already reported wrong.
    fn missing(&mut self, key: &str, mapping: &Location, what: &str, help: &str) {
        let map_start = self.map_start(mapping);
        if self.touched.iter().any(|t| t.keys.iter().any(|k| k == key) && t.map_start == map_start)
        {
            return;
        }
        let span = self.first_line(self.map_span(mapping));
        self.push(
            Diagnostic::error(codes::MISSING_FIELD, format!("missing key `{key}` in {what}"))
                .at(span, format!("{what} without `{key}`"))
                .with_help(help),
        );
    }

    /// A stage key on a group or a group key on a stage.
    fn wrong_kind(&mut self, key: &str, at: Span, what: &str, help: &str) {
        let valid: Vec<&str> = if what == "a group" {
            group_keys().map(|k| k.key).collect()
        } else {
            stage_keys().map(|k| k.key).collect()
        };
        self.push(
            Diagnostic::error(codes::UNKNOWN_FIELD, format!("`{key}` is not a key of {what}"))
                .at(at, format!("not valid on {what}"))
                .with_help(format!("{help} (the keys of {what} are {})", valid.join(", "))),
        );
    }

    /// A null rule or pattern element (`- ~`, or `-` with nothing after it).
    fn empty_item(&mut self, at: &Location, what: &str, help: &str) {
        let (start, _) = location_range(self.text, at);
        // A null left behind by neutralizing an error was reported as that error.
        if self.touched.iter().any(|t| t.start <= start && start <= t.end) {
            return;
        }
        self.push(
            Diagnostic::error(codes::INVALID_VALUE, format!("expected {what}, found nothing"))
                .at(Span::new(self.source, start, start), "empty")
                .with_help(help),
        );
    }
}
