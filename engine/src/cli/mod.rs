//! The subcommands, one module each. Arguments are clap-derived structs whose doc comments are
//! the `--help` text; each module's `run` does the work and returns the exit code.
//!
//! `anyhow` is used here and in `main.rs` only: the libraries report typed errors and
//! diagnostics, and this layer turns them into messages and exit codes.

mod check;
mod convert;
mod explain;
mod replay;
mod rules;
mod run;
mod schema;
mod test;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rules (or other input) are invalid.
pub const EXIT_INVALID: u8 = 1;
/// Cepheus could not do what was asked (usage errors exit with the same code, from clap).
pub const EXIT_TROUBLE: u8 = 2;

/// Cepheus: complex event processing over Kafka, with Flink CEP's pattern semantics.
#[derive(Debug, Parser)]
#[command(name = "cepheus", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check rule files and folders: print every problem, exit 1 if any rule is invalid.
    Check(check::CheckArgs),
    /// Print a rule file in the other form (YAML to DSL, DSL to YAML, or the same, normalised).
    Convert(convert::ConvertArgs),
    /// Print the JSON Schema of YAML rule files (for editors and CI validation).
    Schema(schema::SchemaArgs),
    /// Run rules over a JSON-lines file in event time; print triggers (or matches) as JSON lines.
    Replay(replay::ReplayArgs),
    /// Print the compiled NFA of rules (states and edges), as text or Graphviz.
    Explain(explain::ExplainArgs),
    /// Run the engine: over Kafka when brokers are configured, else over JSON lines (stdin).
    Run(run::RunArgs),
    /// Run rule test files (`*.test.yaml`): events in, expected triggers out; exit 1 on a failure.
    Test(test::TestArgs),
}

impl Command {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Check(args) => check::run(args),
            Command::Convert(args) => convert::run(args),
            Command::Schema(args) => schema::run(args),
            Command::Replay(args) => replay::run(args),
            Command::Explain(args) => explain::run(args),
            Command::Run(args) => run::run(args),
            Command::Test(args) => test::run(args),
        }
    }
}

/// Writes `text` to stdout. A closed stdout (the reader went away, as with `| head`) ends the
/// output quietly: nobody is left to read the rest, and that is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Whether an error comes from writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The exit code for a set of loaded rules.
fn verdict(has_errors: bool) -> ExitCode {
    if has_errors { ExitCode::from(EXIT_INVALID) } else { ExitCode::SUCCESS }
}
