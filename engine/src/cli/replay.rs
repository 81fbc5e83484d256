//! `cepheus replay`: run rules over a JSON-lines file (or stdin) in event time and print
//! triggers, matches or timeouts as JSON lines.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cepheus_engine::replay::{ReplayError, ReplayOptions, replay};
use clap::Args;

use super::EXIT_INVALID;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Rule files or folders (repeatable).
    #[arg(long = "rules", required = true, value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// JSON lines to replay; `-` reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub events: PathBuf,

    /// Print each match (`{"rule", "key", "match": {stage: [events]}}`) instead of triggers.
    #[arg(long)]
    pub matches: bool,

    /// Also print timed-out partial matches (`{"rule", "key", "timeout": true, "timeout_ts", "match"}`).
    #[arg(long)]
    pub timeouts: bool,

    /// End of input is not the end of time: windows stay open, and nothing completes or times
    /// out because the file ended (for replaying a slice of a live stream).
    #[arg(long)]
    pub no_flush: bool,

    /// Stop at the first undecodable or unusable line instead of reporting it and going on.
    #[arg(long)]
    pub strict: bool,

    /// Explain every NFA step for this key on stderr: the event, each edge tried and whether
    /// its condition held, and which partial matches started, grew, stopped or timed out.
    #[arg(long, value_name = "KEY")]
    pub trace: Option<String>,

    /// Also print every closed window of a window rule (`{"rule", "key", "window_start",
    /// "window_end", "events", "aggregates"}`), whether its `having` holds or not.
    #[arg(long)]
    pub windows: bool,

    /// Checkpoint all state every N lines into a fresh store and continue from the restored
    /// state (for testing that a restore changes nothing).
    #[arg(long, value_name = "N", hide = true)]
    pub checkpoint_every: Option<u64>,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let Some(rules) = super::rules::load(&args.rules)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let input: Box<dyn BufRead> = if args.events.as_os_str() == "-" {
        Box::new(BufReader::new(io::stdin().lock()))
    } else {
        let file = File::open(&args.events)
            .with_context(|| format!("opening {}", args.events.display()))?;
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let opts = ReplayOptions {
        matches: args.matches,
        timeouts: args.timeouts,
        no_flush: args.no_flush,
        strict: args.strict,
        trace: args.trace,
        checkpoint_every: args.checkpoint_every,
        windows: args.windows,
    };
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut diag = io::stderr().lock();
    match replay(rules, input, &mut out, &mut diag, &opts) {
        Ok(summary) => {
            eprintln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(ReplayError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ReplayError::Strict { .. }) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_INVALID))
        }
        Err(e) => Err(e.into()),
    }
}
