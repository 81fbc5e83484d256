//! The YAML front end: rule files -> serde mirror ([`raw`]) -> AST; the AST printed back as
//! YAML; and a JSON Schema of the format for editors.
//!
//! ```text
//! text --outline::Outline::read--> node ranges, or a YAML syntax error
//!      --recover::deserialize----> raw::RawDocument per document, every structural error
//!      --lower::lower------------> ast::Rule per rule, every value error
//! ```
//!
//! The format is DESIGN.md's "Rule file contract (YAML)": a file holds one rule (a mapping), a
//! list of rules, or several `---` documents, each a rule or a list of rules.
//!
//! # Why serde-saphyr
//!
//! `serde_yaml` is archived upstream. [serde-saphyr](https://crates.io/crates/serde-saphyr) is
//! a maintained serde deserializer built on the saphyr YAML 1.2 parser (as `granit_parser`),
//! and it is the one that knows where things are: `Spanned<T>` gives each value's line,
//! column and byte range, and its errors are structured (unknown field with the expected
//! keys, unknown variant, invalid type) with a location. Cepheus translates those into its own
//! diagnostic codes, and parses expressions at the right column of the YAML line. It also
//! refuses duplicate keys, reads only YAML 1.2 booleans when asked (so `no` stays a string),
//! and bounds nesting depth and alias expansion, so hostile input cannot exhaust the stack.

mod lower;
mod outline;
mod print;
pub mod raw;
mod recover;
mod scalar;
pub mod schema;

use crate::ast::Rule;
use crate::diagnostic::{Diagnostic, codes};
use crate::source::{SourceId, Span};

/// Parses a YAML rule file (one rule, a sequence of rules, or several documents): the rules
/// that are free of problems, and every problem found.
pub fn parse(text: &str, source: SourceId) -> (Vec<Rule>, Vec<Diagnostic>) {
    crate::stack::with_parse_stack("cepheus-yaml-parse", || parse_file(text, source))
}

fn parse_file(text: &str, source: SourceId) -> (Vec<Rule>, Vec<Diagnostic>) {
    let outline = match outline::Outline::read(text, source) {
        Ok(outline) => outline,
        Err(d) => return (Vec::new(), vec![*d]),
    };
    // Rules as written, right or wrong: a root mapping, each item of a root list, and any other
    // root value that is not null (which deserializing reports as not a rule).
    let written_rules: usize = outline
        .roots
        .iter()
        .map(|&r| {
            let node = &outline.nodes[r];
            match node.kind {
                outline::NodeKind::Seq => {
                    outline.nodes.iter().filter(|n| n.parent == Some(r)).count()
                }
                outline::NodeKind::Scalar => {
                    let token = text.get(node.start as usize..node.end as usize).unwrap_or("");
                    usize::from(!matches!(token, "" | "~" | "null" | "Null" | "NULL"))
                }
                _ => 1,
            }
        })
        .sum();
    if written_rules == 0 {
        let end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        let d = Diagnostic::error(codes::EMPTY_FILE, "the file holds no rule")
            .at(Span::new(source, 0, end.min(1)), "empty")
            .with_help(
                "a rule file holds a rule (a mapping with `name` and `pattern`) or a list of rules",
            );
        return (Vec::new(), vec![d]);
    }
    let recovered = recover::deserialize(text, source, &outline);
    let (rules, lowered) =
        lower::lower(recovered.documents, text, source, &outline, &recovered.touched);
    let mut diagnostics = recovered.diagnostics;
    diagnostics.extend(lowered);
    diagnostics.sort_by_key(|d| d.primary.as_ref().map(|p| (p.span.start, p.span.end)));
    (rules, diagnostics)
}

/// Prints a rule as YAML that [`parse`] reads back to an equal AST, in the canonical key order
/// and style of DESIGN.md.
pub fn print(rule: &Rule) -> String {
    print::rule(rule)
}

/// A JSON Schema (draft 2020-12) of the rule-file format, for editors and yaml-language-server.
pub fn json_schema() -> serde_json::Value {
    schema::schema()
}

#[cfg(test)]
mod tests;
