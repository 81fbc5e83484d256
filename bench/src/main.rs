//! `cepheus-bench`: tools of the benchmark suite in `bench/` (see `bench/run`).
//!
//! - `gen`: writes a seeded stream of JSON-lines events for one workload.

mod stream;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::stream::{DEFAULT_START_MS, Spec, Workload};

#[derive(Debug, Parser)]
#[command(name = "cepheus-bench", about = "Benchmark tools for Cepheus", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a seeded stream of events as JSON lines (stdout, or --out), and a one-line JSON
    /// summary on stderr.
    Gen(GenArgs),
}

#[derive(Debug, clap::Args)]
struct GenArgs {
    /// Which workload the mix of event types is tuned for (`open`: one A per key, for the
    /// memory run).
    #[arg(long, value_enum)]
    workload: Workload,
    /// Distinct keys (`user_id`).
    #[arg(long, value_parser = parse_count)]
    keys: u64,
    /// Events to write (for `open`: equal to --keys, the default there).
    #[arg(long, value_parser = parse_count)]
    events: Option<u64>,
    /// Seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Largest distance, in milliseconds, an event's time may lie behind the largest time
    /// written before it: give the rules the same `max_out_of_orderness`.
    #[arg(long, default_value_t = 0)]
    disorder_ms: u64,
    /// Mean time between two events of one key, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    key_interval_ms: u64,
    /// Output file (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A count, with optional `k`/`m` suffixes and `_` separators: `200k`, `1m`, `50_000_000`.
fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim().replace('_', "").to_ascii_lowercase();
    let (digits, factor) = match t.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => match t.strip_suffix('m') {
            Some(d) => (d, 1_000_000),
            None => (t.as_str(), 1),
        },
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("'{text}' is not a count (e.g. 1000, 200k, 1m)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(args) => run_gen(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cepheus-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_gen(args: GenArgs) -> anyhow::Result<()> {
    let events = match (args.workload, args.events) {
        (Workload::Open, None) => args.keys,
        (_, Some(n)) => n,
        (_, None) => anyhow::bail!("--events is required for {:?}", args.workload),
    };
    let spec = Spec {
        workload: args.workload,
        keys: args.keys,
        events,
        seed: args.seed,
        disorder_ms: args.disorder_ms,
        key_interval_ms: args.key_interval_ms,
        start_ms: DEFAULT_START_MS,
    };
    spec.check()?;
    let summary = match &args.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let summary = stream::generate(&spec, &mut out)?;
            out.flush().with_context(|| format!("writing {}", path.display()))?;
            summary
        }
        None => {
            let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
            match stream::generate(&spec, &mut out).and_then(|s| out.flush().map(|()| s)) {
                Ok(s) => s,
                // A reader that stops early (`| head`) is not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    eprintln!("{}", summary.to_json(&spec));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_take_suffixes_and_separators() {
        assert_eq!(parse_count("200k"), Ok(200_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("50_000_000"), Ok(50_000_000));
        assert!(parse_count("ten").is_err());
        assert!(parse_count("99999999999999999999m").is_err());
    }
}
