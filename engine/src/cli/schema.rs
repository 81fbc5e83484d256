//! `cepheus schema`: the JSON Schema of YAML rule files.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::print_stdout;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn run(_: SchemaArgs) -> anyhow::Result<ExitCode> {
    let schema = cepheus_grammar::yaml::json_schema();
    let text = serde_json::to_string_pretty(&schema).context("encoding the schema as JSON")?;
    print_stdout(&format!("{text}\n"))?;
    Ok(ExitCode::SUCCESS)
}
