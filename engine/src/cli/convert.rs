//! `cepheus convert --to dsl|yaml FILE`: print a checked rule file in the other form.

use std::path::PathBuf;
use std::process::ExitCode;

use cepheus_grammar::diagnostic::render_all;
use cepheus_grammar::{dsl, yaml};
use clap::{Args, ValueEnum};

use super::{print_stdout, verdict};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The form to print.
    #[arg(long, value_enum)]
    pub to: Target,

    /// The rule file to convert (`.yaml`, `.yml` or `.cep`); it is checked first.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Dsl,
    Yaml,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let loaded = cepheus_grammar::load(std::slice::from_ref(&args.file));
    // Warnings too: converting should not hide what `check` would say.
    eprint!("{}", render_all(&loaded.diagnostics, &loaded.sources));
    if loaded.has_errors() {
        return Ok(verdict(true));
    }
    let printed = loaded.rules.iter().map(|rule| {
        let mut text = match args.to {
            Target::Dsl => dsl::print(rule),
            Target::Yaml => yaml::print(rule),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    });
    // DSL rules are separated by a blank line; YAML rules are documents of one stream.
    let separator = match args.to {
        Target::Dsl => "\n",
        Target::Yaml => "---\n",
    };
    print_stdout(&printed.collect::<Vec<_>>().join(separator))?;
    Ok(verdict(false))
}
