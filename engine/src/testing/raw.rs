//! The serde mirror of a rule test file: what the YAML may say, with positions, and no logic.
//! `spec.rs` validates it into a [`super::TestFile`].

use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

/// A whole test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTestFile {
    /// Rule files or folders, relative to the test file.
    pub rules: Option<Vec<Spanned<String>>>,
    /// Where `at` is written into each event (dotted path).
    pub time_field: Option<Spanned<String>>,
    /// Base time of relative `at`s, for every test that does not give its own.
    pub start: Option<Spanned<String>>,
    /// Fields every event of the file starts from; an event's own fields win.
    pub event_defaults: Option<Spanned<Map<String, Value>>>,
    /// The tests, run in order, each on fresh state.
    pub tests: Vec<Spanned<RawTest>>,
}

/// One test: events in, triggers (and matches) expected out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub name: Spanned<String>,
    pub start: Option<Spanned<String>>,
    pub time_field: Option<Spanned<String>>,
    pub events: Vec<Spanned<RawEvent>>,
    pub expect: Spanned<Vec<Spanned<Map<String, Value>>>>,
    pub expect_matches: Option<Vec<Spanned<Map<String, Value>>>>,
    pub nothing_else: Option<bool>,
    pub no_flush: Option<bool>,
}

/// One input record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub at: Option<Spanned<String>>,
    pub event: Option<Spanned<Map<String, Value>>>,
    pub raw: Option<Spanned<String>>,
    pub rejected: Option<bool>,
    pub late: Option<bool>,
}
