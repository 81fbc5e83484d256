//! The DSL front end: `.cep` text -> pest parse tree -> AST; and the AST printed back as DSL.

pub mod parser;

use crate::ast::Rule;
use crate::diagnostic::Diagnostic;
use crate::source::SourceId;

/// Parses a `.cep` file: every rule in it, and every syntax problem found.
pub fn parse(text: &str, source: SourceId) -> (Vec<Rule>, Vec<Diagnostic>) {
    let _ = (text, source);
    (
        Vec::new(),
        vec![Diagnostic::error(crate::diagnostic::codes::UNSUPPORTED, "the DSL is not built yet")],
    )
}

/// Prints a rule as DSL text that [`parse`] reads back to an equal AST.
pub fn print(rule: &Rule) -> String {
    let _ = rule;
    String::new()
}
