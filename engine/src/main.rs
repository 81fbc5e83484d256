//! The `cepheus` command line: `check`, `convert`, `schema`, `replay` and `explain` (see
//! [`cli::Command`]).
//!
//! Exit codes: 0 when everything is valid, 1 when rules are invalid, 2 for usage errors (clap's
//! own) and for failures to run at all (an unwritable output, for example). A reader that
//! closes stdout early (`cepheus schema | head -1`) is not a failure.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the daemon allocates on one thread (records from
/// librdkafka, in the supervisor) and frees on another (the partition workers), where glibc's
/// malloc spends its time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Usage errors print clap's message and exit with 2; `--help` and `--version` exit with 0.
    let args = cli::Cli::parse();
    match args.command.run() {
        Ok(code) => code,
        Err(err) if cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(cli::EXIT_TROUBLE)
        }
    }
}
