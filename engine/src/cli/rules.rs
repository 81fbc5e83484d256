//! Loading, checking and compiling the rules a subcommand runs.

use std::path::PathBuf;
use std::sync::Arc;

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_grammar::diagnostic::render_all;

/// Loads and compiles rules; on any error prints the diagnostics and returns `None`.
/// Warnings are printed and do not stop the run.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Option<Arc<RuleSet>>> {
    let loaded = cepheus_grammar::load(paths);
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", render_all(&loaded.diagnostics, &loaded.sources));
    }
    if loaded.has_errors() {
        return Ok(None);
    }
    if loaded.rules.is_empty() {
        anyhow::bail!(
            "no rules found under {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    match compile(&loaded.rules) {
        Ok(set) => Ok(Some(Arc::new(set))),
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            Ok(None)
        }
    }
}
