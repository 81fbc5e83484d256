//! Running one test through the engine and judging what came out.
//!
//! A test runs exactly as `cepheus replay` runs a file: one input partition, the records in
//! the order written (`seq` = position), fresh state, a flush at the end unless `no_flush`;
//! triggers are built by [`output::trigger`] from `emit` (and `on_timeout`), matches by
//! [`output::match_record`].

use std::sync::Arc;

use cepheus_grammar::ast::Segment;
use serde_json::{Map, Value};

use super::compare::{self, FieldDiff};
use super::spec::{Pos, Record, SpecError, TestCase, TimeField};
use crate::compile::RuleSet;
use crate::event::format_rfc3339;
use crate::output;
use crate::runtime::{Emitted, Limits, Pipeline, StepResult};

/// What the rules did with a test's input.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    pub triggers: Vec<Value>,
    pub matches: Vec<Value>,
    /// `(input index, why)` for every rule that refused an input.
    pub rejected: Vec<(usize, String)>,
    /// `(input index, rule)` for every rule that found an input behind its watermark.
    pub late: Vec<(usize, String)>,
}

/// Which kind of record an expectation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Trigger,
    Match,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Trigger => "trigger",
            Kind::Match => "match",
        }
    }
}

/// Why a test failed; a test passes when it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// An expectation no record fits; `closest` compares it with the most similar record.
    Missing { kind: Kind, pos: Pos, expected: Map<String, Value>, closest: Option<Closest> },
    /// A record no expectation accounts for, when the test asks for nothing else.
    Unexpected {
        kind: Kind,
        /// 1-based position among the records of its kind, in output order.
        number: usize,
        actual: Value,
    },
    /// An input was refused or late though not marked so, or marked so and was not.
    Input { index: usize, pos: Pos, message: String },
}

/// The record most like a missing expectation, field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct Closest {
    /// 1-based position among the records of its kind, in output order.
    pub number: usize,
    pub fields: Vec<FieldDiff>,
}

/// The verdict on one test.
#[derive(Debug, Clone)]
pub struct CaseReport {
    pub name: String,
    pub pos: Pos,
    pub problems: Vec<Problem>,
    /// Triggers that fired and no expectation named, when the test does not forbid them;
    /// shown with failures, for context.
    pub other_triggers: Vec<Value>,
    /// How many triggers fired, and how many matches completed.
    pub fired: usize,
    pub matched: usize,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Where a test writes `at`: the test's (or file's) `time_field`, else the one field the rules
/// read event time from. `Ok(None)`: nowhere (the rules read no event time; `at` is then the
/// record time only).
pub fn time_path(case: &TestCase, rules: &RuleSet) -> Result<Option<Vec<String>>, SpecError> {
    if let Some(TimeField { path, .. }) = &case.time_field {
        return Ok(Some(path.clone()));
    }
    let mut paths: Vec<&[Segment]> = Vec::new();
    for r in &rules.rules {
        if let Some(t) = r.time {
            let p = rules.fields.path(t);
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    match paths.as_slice() {
        [] => Ok(None),
        [one] => one
            .iter()
            .map(|s| match s {
                Segment::Key(k) => Ok(k.clone()),
                Segment::Index(_) => Err(SpecError::new(
                    case.pos,
                    "the rules read event time from a list element; say where `at` goes with `time_field`",
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        many if case.events.iter().any(|e| e.at.is_some()) => {
            let names: Vec<String> = many.iter().map(|p| crate::event::path_text(p)).collect();
            Err(SpecError::new(
                case.pos,
                format!(
                    "the rules read event time from different fields ({}): say where `at` goes with `time_field`",
                    names.join(", ")
                ),
            ))
        }
        _ => Ok(None),
    }
}

/// The input lines of a test, with the record time of each.
pub fn input_lines(
    case: &TestCase,
    time_path: Option<&[String]>,
) -> Result<Vec<(String, i64)>, SpecError> {
    case.events
        .iter()
        .map(|e| {
            let at = e.at.map(|(ms, _)| ms);
            let line = match &e.record {
                Record::Raw(text) => text.clone(),
                Record::Event(fields) => {
                    let mut event = Value::Object(fields.clone());
                    if let (Some((ms, pos)), Some(path)) = (e.at, time_path) {
                        write_time(&mut event, path, ms).map_err(|m| SpecError::new(pos, m))?;
                    }
                    event.to_string()
                }
            };
            Ok((line, at.unwrap_or(0)))
        })
        .collect()
}

fn write_time(event: &mut Value, path: &[String], ms: i64) -> Result<(), String> {
    let text = path.join(".");
    let mut at = event;
    for (i, seg) in path.iter().enumerate() {
        let Value::Object(map) = at else {
            return Err(format!(
                "cannot write the time into `{text}`: `{}` is not a mapping",
                path[..i].join(".")
            ));
        };
        if i + 1 == path.len() {
            if map.contains_key(seg) {
                return Err(format!(
                    "the event already has `{text}`: give its time either with `at` or in the event"
                ));
            }
            map.insert(seg.clone(), Value::String(format_rfc3339(ms)));
            return Ok(());
        }
        at = map.entry(seg.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Runs `lines` through `rules` as `replay` would, collecting triggers and matches.
pub fn execute(rules: &Arc<RuleSet>, lines: &[(String, i64)], no_flush: bool) -> Actual {
    // Tests compare matches event by event.
    let mut pipeline = Pipeline::new(Arc::clone(rules), false, Limits::default()).keeping_text();
    let mut step = StepResult::default();
    let mut actual = Actual::default();
    for (i, (line, record_time)) in lines.iter().enumerate() {
        pipeline.offer(line, i as u64 + 1, *record_time, &mut step);
        for r in step.rejected.drain(..) {
            let why = match r.rule {
                Some(k) => format!("rule {}: {}", rules.rules[k].name, r.error),
                None => r.error.to_string(),
            };
            actual.rejected.push((i, why));
        }
        collect(rules, &mut step, &mut actual);
    }
    if !no_flush {
        pipeline.flush(&mut step);
        collect(rules, &mut step, &mut actual);
    }
    actual
}

fn collect(rules: &RuleSet, step: &mut StepResult, actual: &mut Actual) {
    for (i, e) in step.emitted.drain(..) {
        let rule = &rules.rules[i];
        match e {
            Emitted::Match { key, path } => {
                actual.matches.push(output::match_record(rule, &key, &path));
                actual.triggers.push(output::trigger(rule, rule.emit.as_ref(), &key, &path, None));
            }
            Emitted::Timeout { key, path, at } => {
                if rule.on_timeout.is_some() {
                    actual.triggers.push(output::trigger(
                        rule,
                        rule.on_timeout.as_ref(),
                        &key,
                        &path,
                        Some(at),
                    ));
                }
            }
            Emitted::Late { event, .. } => {
                // `seq` is the 1-based input position given to `offer`.
                let index = usize::try_from(event.seq.saturating_sub(1)).unwrap_or(usize::MAX);
                actual.late.push((index, rule.name.clone()));
            }
            Emitted::Trace(_) => {}
            Emitted::Window { key, window, triggered } => {
                if triggered {
                    actual.triggers.push(output::window_trigger(rule, &key, &window));
                }
            }
        }
    }
}

/// Runs one test and judges it.
pub fn run_case(rules: &Arc<RuleSet>, case: &TestCase) -> Result<CaseReport, SpecError> {
    let path = time_path(case, rules)?;
    let lines = input_lines(case, path.as_deref())?;
    let actual = execute(rules, &lines, case.no_flush);
    Ok(judge(case, &actual))
}

/// Compares what came out with what the test expects.
pub fn judge(case: &TestCase, actual: &Actual) -> CaseReport {
    let mut problems = Vec::new();
    for (index, e) in case.events.iter().enumerate() {
        let refused: Vec<&str> =
            actual.rejected.iter().filter(|(i, _)| *i == index).map(|(_, w)| w.as_str()).collect();
        let late: Vec<&str> =
            actual.late.iter().filter(|(i, _)| *i == index).map(|(_, r)| r.as_str()).collect();
        let mut input = |message: String| {
            problems.push(Problem::Input { index, pos: e.pos, message });
        };
        match (e.rejected, refused.is_empty()) {
            (false, false) => input(format!("was refused: {}", refused.join("; "))),
            (true, true) => input("is marked `rejected: true`, but no rule refused it".into()),
            _ => {}
        }
        match (e.late, late.is_empty()) {
            (false, false) => input(format!(
                "arrived behind the watermark of rule {} (mark it `late: true` if that is the point)",
                late.join(", ")
            )),
            (true, true) => input("is marked `late: true`, but no rule found it late".into()),
            _ => {}
        }
    }
    let other_triggers =
        check(Kind::Trigger, &case.expect, &actual.triggers, case.exact_triggers(), &mut problems);
    if let Some(expect_matches) = &case.expect_matches {
        check(Kind::Match, expect_matches, &actual.matches, case.exact_matches(), &mut problems);
    }
    CaseReport {
        name: case.name.clone(),
        pos: case.pos,
        problems,
        other_triggers,
        fired: actual.triggers.len(),
        matched: actual.matches.len(),
    }
}

/// Checks one kind of record; returns the records no expectation took, when they are allowed.
fn check(
    kind: Kind,
    expected: &[super::spec::Expected],
    actual: &[Value],
    exact: bool,
    problems: &mut Vec<Problem>,
) -> Vec<Value> {
    let wanted: Vec<&Map<String, Value>> = expected.iter().map(|e| &e.fields).collect();
    let pairs = compare::assign(&wanted, actual);
    let mut taken = vec![false; actual.len()];
    for j in pairs.iter().flatten() {
        taken[*j] = true;
    }
    for (e, pair) in expected.iter().zip(&pairs) {
        if pair.is_none() {
            let closest = compare::closest(&e.fields, actual, &taken)
                .map(|j| Closest { number: j + 1, fields: compare::diff(&e.fields, &actual[j]) });
            problems.push(Problem::Missing {
                kind,
                pos: e.pos,
                expected: e.fields.clone(),
                closest,
            });
        }
    }
    let rest = actual.iter().enumerate().filter(|(j, _)| !taken[*j]);
    if exact {
        problems.extend(rest.map(|(j, a)| Problem::Unexpected {
            kind,
            number: j + 1,
            actual: a.clone(),
        }));
        Vec::new()
    } else {
        rest.map(|(_, a)| a.clone()).collect()
    }
}
