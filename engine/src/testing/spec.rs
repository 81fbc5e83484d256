//! Reading a rule test file: YAML text -> the serde mirror (`raw.rs`) -> a checked [`TestFile`],
//! or the first problem with its line and column.

use std::fmt;

use serde_json::{Map, Value};
use serde_saphyr::{Location, Options, Spanned};

use super::raw::{RawEvent, RawTest, RawTestFile};
use crate::event::{Val, parse_time};

/// A place in a test file: 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    fn of(loc: &Location) -> Pos {
        Pos { line: loc.line().max(1), column: loc.column().max(1) }
    }

    fn of_spanned<T>(s: &Spanned<T>) -> Pos {
        Pos::of(&s.referenced)
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A test file that cannot be used as written: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct SpecError {
    pub pos: Pos,
    pub message: String,
}

impl SpecError {
    pub fn new(pos: Pos, message: impl Into<String>) -> SpecError {
        SpecError { pos, message: message.into() }
    }
}

/// A checked test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// Rule files or folders as written (relative to the test file), with their places; empty
    /// when the file names none (the rule file of the same stem is meant).
    pub rules: Vec<(String, Pos)>,
    pub tests: Vec<TestCase>,
}

/// A dotted field path the test writes event times into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeField {
    pub path: Vec<String>,
    pub pos: Pos,
}

/// One test: events fed in order through fresh state, and what must come out.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub pos: Pos,
    /// Where `at` goes; `None`: the time field of the rules under test.
    pub time_field: Option<TimeField>,
    pub events: Vec<TestEvent>,
    pub expect: Vec<Expected>,
    /// `None`: matches are not checked.
    pub expect_matches: Option<Vec<Expected>>,
    /// Any trigger (or match, when checked) that no expectation accounts for fails the test.
    pub nothing_else: bool,
    /// End of input is not the end of time (as `replay --no-flush`).
    pub no_flush: bool,
}

impl TestCase {
    /// Whether unexpected triggers fail the test: when asked, and when none is expected at
    /// all (an empty `expect` would otherwise check nothing, which is never what is meant).
    pub fn exact_triggers(&self) -> bool {
        self.nothing_else || self.expect.is_empty()
    }

    /// As [`exact_triggers`](Self::exact_triggers), for matches.
    pub fn exact_matches(&self) -> bool {
        self.nothing_else || self.expect_matches.as_ref().is_some_and(Vec::is_empty)
    }
}

/// One input record of a test.
#[derive(Debug, Clone)]
pub struct TestEvent {
    pub pos: Pos,
    /// Event time in epoch milliseconds, when the test gives one with `at`.
    pub at: Option<(i64, Pos)>,
    pub record: Record,
    /// The rules are expected to refuse this record (not JSON, no key, no usable time).
    pub rejected: bool,
    /// The record is expected to arrive behind the watermark.
    pub late: bool,
}

/// What a test feeds: an event (defaults merged in), or a raw line for malformed input.
#[derive(Debug, Clone)]
pub enum Record {
    Event(Map<String, Value>),
    Raw(String),
}

/// An expected trigger or match: the fields that must be there, with these values.
#[derive(Debug, Clone)]
pub struct Expected {
    pub fields: Map<String, Value>,
    pub pos: Pos,
}

/// How serde-saphyr reads test files (the same choices as for rule files).
fn options() -> Options {
    let mut options = Options::default();
    // YAML 1.2 booleans only: `correct: no` is an error rather than a silent `false`.
    options.strict_booleans = true;
    options.with_snippet = false;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 64;
    options.budget = Some(budget);
    options
}

/// Parses and checks a test file.
pub fn parse(text: &str) -> Result<TestFile, SpecError> {
    let raw: RawTestFile =
        serde_saphyr::from_str_with_options(text, options()).map_err(yaml_error)?;
    let file_start = raw.start.as_ref().map(parse_start).transpose()?;
    let file_time = raw.time_field.as_ref().map(time_field).transpose()?;
    let defaults = raw.event_defaults.map(|d| d.value).unwrap_or_default();
    if raw.tests.is_empty() {
        return Err(SpecError::new(Pos { line: 1, column: 1 }, "the file holds no test"));
    }
    let mut tests: Vec<TestCase> = Vec::with_capacity(raw.tests.len());
    for t in raw.tests {
        let pos = Pos::of_spanned(&t);
        let case = test_case(t.value, pos, file_start, file_time.as_ref(), &defaults)?;
        if let Some(first) = tests.iter().find(|c| c.name == case.name) {
            return Err(SpecError::new(
                case.pos,
                format!("a test named {:?} is already at line {}", case.name, first.pos.line),
            ));
        }
        tests.push(case);
    }
    let rules = raw
        .rules
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let pos = Pos::of_spanned(&r);
            (r.value, pos)
        })
        .collect();
    Ok(TestFile { rules, tests })
}

fn yaml_error(err: serde_saphyr::Error) -> SpecError {
    let err = unwrap_error(err);
    let pos = err
        .location()
        .filter(|l| *l != Location::UNKNOWN)
        .map_or(Pos { line: 1, column: 1 }, |l| Pos::of(&l));
    if let serde_saphyr::Error::SerdeUnknownField { field, expected, .. } = &err {
        let hint = match cepheus_grammar::diagnostic::did_you_mean(field, expected.iter().copied())
        {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("expected one of: {}", expected.join(", ")),
        };
        return SpecError::new(pos, format!("unknown key `{field}`: {hint}"));
    }
    match &err {
        serde_saphyr::Error::Eof { .. } => {
            return SpecError::new(pos, "the file holds no test (it needs a `tests:` list)");
        }
        serde_saphyr::Error::SerdeMissingField { field, .. } => {
            return SpecError::new(pos, format!("this mapping needs `{field}`"));
        }
        _ => {}
    }
    // The error's text may span lines and repeat the position; a positioned message reads best
    // as one line without it.
    let mut message: String = err
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let suffix = format!(" at line {}, column {}", pos.line, pos.column);
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    // serde names YAML's kinds of node; a test writer thinks in lists and mappings.
    let message = message
        .replace("expected sequence start", "expected a list (items written `- ...`)")
        .replace("expected mapping start", "expected a mapping (`key: value` lines)");
    SpecError::new(pos, message)
}

fn unwrap_error(err: serde_saphyr::Error) -> serde_saphyr::Error {
    match err {
        serde_saphyr::Error::AliasError { error, .. }
        | serde_saphyr::Error::WithSnippet { error, .. } => unwrap_error(*error),
        other => other,
    }
}

fn test_case(
    t: RawTest,
    pos: Pos,
    file_start: Option<i64>,
    file_time: Option<&TimeField>,
    defaults: &Map<String, Value>,
) -> Result<TestCase, SpecError> {
    let start = match &t.start {
        Some(s) => Some(parse_start(s)?),
        None => file_start,
    };
    let time_field = match &t.time_field {
        Some(f) => Some(time_field(f)?),
        None => file_time.cloned(),
    };
    let events = t
        .events
        .into_iter()
        .map(|e| {
            let pos = Pos::of_spanned(&e);
            test_event(e.value, pos, start, defaults)
        })
        .collect::<Result<_, _>>()?;
    let expected = |items: Vec<Spanned<Map<String, Value>>>| {
        items
            .into_iter()
            .map(|i| Expected { pos: Pos::of_spanned(&i), fields: i.value })
            .collect::<Vec<_>>()
    };
    Ok(TestCase {
        name: t.name.value,
        pos,
        time_field,
        events,
        expect: expected(t.expect.value),
        expect_matches: t.expect_matches.map(expected),
        nothing_else: t.nothing_else.unwrap_or(false),
        no_flush: t.no_flush.unwrap_or(false),
    })
}

fn test_event(
    e: RawEvent,
    pos: Pos,
    start: Option<i64>,
    defaults: &Map<String, Value>,
) -> Result<TestEvent, SpecError> {
    let at =
        e.at.as_ref()
            .map(|at| {
                let p = Pos::of_spanned(at);
                parse_at(&at.value, start).map(|ms| (ms, p)).map_err(|m| SpecError::new(p, m))
            })
            .transpose()?;
    let record = match (e.event, e.raw) {
        (Some(ev), None) => {
            let mut merged = defaults.clone();
            merge(&mut merged, ev.value);
            Record::Event(merged)
        }
        (None, Some(raw)) => {
            if let Some((_, p)) = at {
                return Err(SpecError::new(
                    p,
                    "`at` cannot be written into a `raw` record: put the time in the text",
                ));
            }
            Record::Raw(raw.value)
        }
        (Some(_), Some(raw)) => {
            return Err(SpecError::new(
                Pos::of_spanned(&raw),
                "give either `event` (a mapping) or `raw` (a line of text), not both",
            ));
        }
        (None, None) => {
            return Err(SpecError::new(
                pos,
                "an input needs `event` (a mapping) or `raw` (a line of text)",
            ));
        }
    };
    Ok(TestEvent {
        pos,
        at,
        record,
        rejected: e.rejected.unwrap_or(false),
        late: e.late.unwrap_or(false),
    })
}

/// Deep-merges `over` into `base`: mappings merge key by key, anything else replaces.
fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn parse_start(s: &Spanned<String>) -> Result<i64, SpecError> {
    absolute(&s.value).map_err(|m| SpecError::new(Pos::of_spanned(s), m))
}

fn time_field(s: &Spanned<String>) -> Result<TimeField, SpecError> {
    let path: Vec<String> = s.value.split('.').map(str::to_string).collect();
    if path.iter().any(|seg| seg.is_empty() || seg.contains(['[', ']', ' '])) {
        return Err(SpecError::new(
            Pos::of_spanned(s),
            format!("`{}` is not a dotted field path such as `timestamp` or `meta.time`", s.value),
        ));
    }
    Ok(TimeField { path, pos: Pos::of_spanned(s) })
}

fn absolute(text: &str) -> Result<i64, String> {
    parse_time(&Val::Str(text.into()))
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as 2024-01-01T06:00:00Z"))
}

/// An `at`: an absolute RFC 3339 time, or `+D` / `-D` from `start` (`+0`, `+5m`, `+1h30m`).
pub fn parse_at(text: &str, start: Option<i64>) -> Result<i64, String> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return absolute(text),
    };
    let Some(start) = start else {
        return Err(format!(
            "`{text}` is relative, but neither this test nor the file gives a `start` time"
        ));
    };
    let ms = if rest.trim() == "0" {
        0
    } else {
        cepheus_grammar::duration::parse(rest)
            .map_err(|e| format!("{e} (relative times look like +0, +30s, +5m, +1h30m)"))?
    };
    i64::try_from(ms)
        .ok()
        .and_then(|ms| start.checked_add(sign * ms))
        .ok_or_else(|| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_704_088_800_000; // 2024-01-01T06:00:00Z

    #[test]
    fn relative_and_absolute_times() {
        assert_eq!(parse_at("+0", Some(START)), Ok(START));
        assert_eq!(parse_at("+5m", Some(START)), Ok(START + 300_000));
        assert_eq!(parse_at("+1h30m", Some(START)), Ok(START + 5_400_000));
        assert_eq!(parse_at("-10s", Some(START)), Ok(START - 10_000));
        assert_eq!(parse_at("2024-01-01T06:00:00Z", None), Ok(START));
        assert_eq!(parse_at("2024-01-01T06:00:00", None), Ok(START));
        assert!(parse_at("+5m", None).unwrap_err().contains("start"));
        assert!(parse_at("+5", Some(START)).unwrap_err().contains("no unit"));
        assert!(parse_at("yesterday", None).unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn defaults_merge_deeply_and_the_event_wins() {
        let text = r#"
event_defaults: {event_type: hrv_measurement, metadata: {source_device: Apple Watch, value: 1}}
start: 2024-01-01T06:00:00Z
tests:
  - name: t
    events:
      - at: +1m
        event: {user_id: u_1, metadata: {value: 52}}
    expect: []
"#;
        let file = parse(text).unwrap();
        let Record::Event(e) = &file.tests[0].events[0].record else { panic!("an event") };
        assert_eq!(
            serde_json::to_string(e).unwrap(),
            r#"{"event_type":"hrv_measurement","metadata":{"source_device":"Apple Watch","value":52},"user_id":"u_1"}"#
        );
        assert_eq!(file.tests[0].events[0].at.map(|a| a.0), Some(START + 60_000));
        assert!(file.tests[0].exact_triggers(), "an empty expect means nothing fires");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_position() {
        let text = "tests:\n  - name: t\n    events: []\n    expect: []\n    nothing_els: true\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.pos, Pos { line: 5, column: 5 }, "{err}");
        assert_eq!(err.message, "unknown key `nothing_els`: did you mean `nothing_else`?");
    }

    #[test]
    fn relative_time_without_start_points_at_the_time() {
        let text = "tests:\n  - name: t\n    events:\n      - at: +5m\n        event: {a: 1}\n    expect: []\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.pos.line, 4, "{err}");
        assert!(err.message.contains("start"), "{err}");
    }

    #[test]
    fn duplicate_test_names_are_refused() {
        let text = "tests:\n  - {name: t, events: [], expect: []}\n  - {name: t, events: [], expect: []}\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.pos.line, 3, "{err}");
    }
}
