//! `cepheus check PATH...`: load and check rules, print every diagnostic and a summary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cepheus_grammar::diagnostic::render_all;
use clap::{Args, ValueEnum};

use super::{print_stdout, verdict};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files, or folders searched recursively for `.yaml`, `.yml` and `.cep` files
    /// (`*.test.yaml` files are rule tests and are skipped).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// `text`: diagnostics rendered for people, on stderr. `json`: a JSON array of
    /// diagnostics on stdout, for editors and CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = cepheus_grammar::load(&args.paths);
    match args.format {
        Format::Text => eprint!("{}", render_all(&loaded.diagnostics, &loaded.sources)),
        Format::Json => {
            let json: Vec<_> =
                loaded.diagnostics.iter().map(|d| d.to_json(&loaded.sources)).collect();
            let text =
                serde_json::to_string_pretty(&json).context("encoding diagnostics as JSON")?;
            print_stdout(&format!("{text}\n"))?;
        }
    }
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = loaded.diagnostics.len() - errors;
    eprintln!("{} rules checked, {errors} errors, {warnings} warnings", loaded.rules.len());
    Ok(verdict(loaded.has_errors()))
}
