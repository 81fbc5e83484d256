//! Building rules in code and running them, for the engine's own tests.
#![allow(dead_code)]

use std::sync::Arc;

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_engine::output::match_object;
use cepheus_engine::runtime::{Emitted, Limits, Pipeline, StepResult};
use cepheus_grammar::ast::{
    Contiguity, Duration, Element, Group, Name, Path, Quantifier, Rule, Segment, Skip, Source,
    Stage,
};
use cepheus_grammar::expr::{Ctx, parse_expr};
use cepheus_grammar::source::{SourceId, Span};

pub fn name(s: &str) -> Name {
    Name::new(s, Span::default())
}

pub fn expr(text: &str) -> cepheus_grammar::ast::Expr {
    parse_expr(text, Ctx::new(SourceId(0), 0)).unwrap_or_else(|d| panic!("{text}: {}", d.message))
}

/// A stage taking events whose `v` equals `letter` (`"a"` for stage `a`, `a2`, ...).
pub fn st(stage_name: &str) -> Stage {
    let letter: String = stage_name.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    st_where(stage_name, &format!("v == \"{letter}\""))
}

pub fn st_where(stage_name: &str, cond: &str) -> Stage {
    Stage {
        name: name(stage_name),
        contiguity: Some(Contiguity::Relaxed),
        contiguity_span: None,
        quantifier: Quantifier::default(),
        absent: false,
        condition: Some(expr(cond)),
        max_gap: None,
        span: Span::default(),
    }
}

pub trait Build: Sized {
    fn q(&mut self) -> &mut Quantifier;
    fn set_contiguity(&mut self, c: Contiguity);
    fn strict(mut self) -> Self {
        self.set_contiguity(Contiguity::Strict);
        self
    }
    fn any(mut self) -> Self {
        self.set_contiguity(Contiguity::NonDeterministic);
        self
    }
    fn times(mut self, min: u32, max: Option<u32>) -> Self {
        self.q().min = min;
        self.q().max = max;
        self
    }
    fn plus(self) -> Self {
        self.times(1, None)
    }
    fn optional(mut self) -> Self {
        self.q().optional = true;
        self
    }
    fn greedy(mut self) -> Self {
        self.q().greedy = true;
        self
    }
    fn consecutive(mut self) -> Self {
        self.q().consecutive = true;
        self
    }
    fn combinations(mut self) -> Self {
        self.q().allow_combinations = true;
        self
    }
    fn until(mut self, cond: &str) -> Self {
        self.q().until = Some(expr(cond));
        self
    }
    fn el(self) -> Element;
}

impl Build for Stage {
    fn q(&mut self) -> &mut Quantifier {
        &mut self.quantifier
    }
    fn set_contiguity(&mut self, c: Contiguity) {
        self.contiguity = Some(c);
    }
    fn el(self) -> Element {
        Element::Stage(self)
    }
}

impl Build for Group {
    fn q(&mut self) -> &mut Quantifier {
        &mut self.quantifier
    }
    fn set_contiguity(&mut self, c: Contiguity) {
        self.contiguity = Some(c);
    }
    fn el(self) -> Element {
        Element::Group(self)
    }
}

pub fn absent(mut s: Stage) -> Stage {
    s.absent = true;
    s
}

pub fn gap(mut s: Stage, ms: u64) -> Stage {
    s.max_gap = Some(Duration { millis: ms, span: Span::default() });
    s
}

pub fn group(group_name: &str, elements: Vec<Element>) -> Group {
    let mut elements = elements;
    first_has_no_contiguity(&mut elements);
    Group {
        name: name(group_name),
        contiguity: Some(Contiguity::Relaxed),
        contiguity_span: None,
        quantifier: Quantifier::default(),
        pattern: elements,
        span: Span::default(),
    }
}

fn first_has_no_contiguity(elements: &mut [Element]) {
    match elements.first_mut() {
        Some(Element::Stage(s)) => s.contiguity = None,
        Some(Element::Group(g)) => g.contiguity = None,
        None => {}
    }
}

/// A rule over events keyed by `k` (if present) and timed by `ts` (epoch millis).
pub fn rule(elements: Vec<Element>, within: Option<u64>, skip: Skip) -> Rule {
    let mut elements = elements;
    first_has_no_contiguity(&mut elements);
    let path = |s: &str| Path { segments: vec![Segment::Key(s.into())], span: Span::default() };
    Rule {
        name: name("r"),
        description: None,
        source: Source {
            topics: vec![],
            key: Some(path("k")),
            time: Some(path("ts")),
            filter: None,
            max_out_of_orderness: None,
        },
        pattern: elements,
        window: None,
        within: within.map(|ms| Duration { millis: ms, span: Span::default() }),
        skip,
        emit: None,
        on_timeout: None,
        span: Span::default(),
    }
}

pub fn compiled(rules: &[Rule]) -> Arc<RuleSet> {
    let diags = cepheus_grammar::check::check(rules);
    assert!(diags.iter().all(|d| !d.is_error()), "rule refused: {diags:?}");
    Arc::new(compile(rules).expect("compiles"))
}

/// Events `"a1 b1 c"`: each word is an event with `v` = its letters and `id` = the word,
/// one millisecond apart, all on key `k1`.
pub fn events(words: &str) -> Vec<String> {
    words
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            let v: String = w.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            serde_json::json!({"id": w, "v": v, "ts": i as i64, "k": "k1"}).to_string()
        })
        .collect()
}

/// Runs the rule over the events (flushed at the end) and returns each match as the ids of its
/// events in match order (`"a1 b1 c"`), plus timeouts as `"timeout: a1 b1"`.
pub fn run(rule_: Rule, lines: &[String], timeouts: bool) -> Vec<String> {
    let set = compiled(std::slice::from_ref(&rule_));
    let mut p = Pipeline::new(set.clone(), timeouts, Limits::default());
    let mut step = StepResult::default();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        p.offer(l, i as u64, 0, &mut step);
        assert!(step.rejected.is_empty(), "{:?}", step.rejected);
    }
    p.flush(&mut step);
    for (i, e) in step.emitted.drain(..) {
        let rule = &set.rules[i];
        match e {
            Emitted::Match { path, .. } => out.push(ids(&match_object(rule, &path), &path)),
            Emitted::Timeout { path, .. } => {
                out.push(format!("timeout: {}", ids(&match_object(rule, &path), &path)))
            }
            _ => {}
        }
    }
    out
}

fn ids(_m: &serde_json::Value, path: &[(u32, cepheus_engine::event::Event)]) -> String {
    path.iter().map(|(_, e)| e.id().unwrap_or_default()).collect::<Vec<_>>().join(" ")
}

pub fn matches(rule_: Rule, words: &str) -> Vec<String> {
    run(rule_, &events(words), false)
}
