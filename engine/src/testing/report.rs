//! Failure text: what a failed test expected and what fired, field by field.
//!
//! ```text
//!   expected trigger at rules/health/hrv_drop.test.yaml:31:11 did not fire; closest (trigger 1 of 1):
//!       rule: "hrv_drop"
//!     - message: "HRV 30 vs baseline 52"
//!     + message: "HRV 31 vs baseline 52"
//!   unexpected trigger (2 of 2):
//!     + rule: "hrv_drop"
//!     + key: "u_2"
//!     …
//! ```
//!
//! Values are JSON, which is also YAML: an unexpected trigger pastes into `expect` as it is.

use std::fmt::Write as _;

use serde_json::Value;

use super::compare::FieldDiff;
use super::run::{CaseReport, Kind, Problem};
use crate::output::fields;

/// The lines explaining why `report` failed, each indented by `indent`; empty if it passed.
pub fn failure_text(file: &str, report: &CaseReport, indent: &str) -> String {
    let mut out = String::new();
    for p in &report.problems {
        match p {
            Problem::Missing { kind, pos, expected, closest } => {
                let total = match kind {
                    Kind::Trigger => report.fired,
                    Kind::Match => report.matched,
                };
                let noun = kind.noun();
                match closest {
                    None => {
                        let _ = writeln!(
                            out,
                            "{indent}expected {noun} at {file}:{pos} did not fire; no {noun} fired at all:"
                        );
                        for (k, v) in expected {
                            let _ = writeln!(out, "{indent}  - {k}: {}", compact(v));
                        }
                    }
                    Some(c) => {
                        let _ = writeln!(
                            out,
                            "{indent}expected {noun} at {file}:{pos} did not fire; closest ({noun} {} of {total}):",
                            c.number
                        );
                        for d in &c.fields {
                            match d {
                                FieldDiff::Same { field, value } => {
                                    let _ =
                                        writeln!(out, "{indent}    {field}: {}", compact(value));
                                }
                                FieldDiff::Differs { field, expected, actual } => {
                                    let _ =
                                        writeln!(out, "{indent}  - {field}: {}", compact(expected));
                                    let _ =
                                        writeln!(out, "{indent}  + {field}: {}", compact(actual));
                                }
                                FieldDiff::Missing { field, expected } => {
                                    let _ =
                                        writeln!(out, "{indent}  - {field}: {}", compact(expected));
                                    let _ = writeln!(out, "{indent}  + {field}: (absent)");
                                }
                            }
                        }
                    }
                }
            }
            Problem::Unexpected { kind, number, actual } => {
                let total = match kind {
                    Kind::Trigger => report.fired,
                    Kind::Match => report.matched,
                };
                let _ = writeln!(out, "{indent}unexpected {} ({number} of {total}):", kind.noun());
                write_fields(&mut out, indent, actual);
            }
            Problem::Input { index, pos, message } => {
                let _ = writeln!(out, "{indent}input {} at {file}:{pos} {message}", index + 1);
            }
        }
    }
    if !report.passed() && !report.other_triggers.is_empty() {
        let _ = writeln!(
            out,
            "{indent}other triggers that fired (not checked without `nothing_else`):"
        );
        for t in &report.other_triggers {
            let _ = writeln!(out, "{indent}    {}", compact(t));
        }
    }
    out
}

/// A record's fields one per line, marked as present only in the output. The trigger id is
/// left out: it is a hash, and nobody writes it into an expectation.
fn write_fields(out: &mut String, indent: &str, record: &Value) {
    match record.as_object() {
        Some(fields) => {
            for (k, v) in fields.iter().filter(|(k, _)| k.as_str() != fields::TRIGGER_ID) {
                let _ = writeln!(out, "{indent}  + {k}: {}", compact(v));
            }
        }
        None => {
            let _ = writeln!(out, "{indent}  + {}", compact(record));
        }
    }
}

fn compact(v: &Value) -> String {
    v.to_string()
}
