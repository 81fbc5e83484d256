//! `cepheus explain FILE`: print the compiled NFA of each rule, as text or Graphviz.

use std::path::PathBuf;
use std::process::ExitCode;

use cepheus_engine::compile::explain;
use clap::Args;

use super::{EXIT_INVALID, print_stdout};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule files or folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Print Graphviz `dot` instead of text (`cepheus explain --dot r.yaml | dot -Tpng > r.png`).
    #[arg(long)]
    pub dot: bool,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let Some(rules) = super::rules::load(&args.paths)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let mut text = String::new();
    for (i, rule) in rules.rules.iter().enumerate() {
        if i > 0 && !args.dot {
            text.push('\n');
        }
        text.push_str(&if args.dot { explain::dot(rule) } else { explain::text(rule) });
    }
    print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
