//! `cepheus-bench`: tools of the benchmark suite in `bench/` (see `bench/run`).
//!
//! - `gen`: writes a seeded stream of JSON-lines events for one workload.
//! - `produce`: sends such a stream to a Kafka topic at a fixed rate, timed by the wall clock.
//! - `latency`: reads the triggers on an alerts topic and reports how long after their last
//!   event each arrived (p50, p99, p99.9).

mod kafka;
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
    /// Send a generated stream to a Kafka topic at a fixed rate; each event's `timestamp` (and
    /// its record's) is the wall clock when it is sent. Prints a one-line JSON summary.
    Produce(ProduceArgs),
    /// Read triggers from an alerts topic (from its beginning) and print, as one JSON line, the
    /// percentiles of the time from each trigger's `timestamp` to its arrival.
    Latency(LatencyArgs),
    /// Send a JSON-lines file to a topic as fast as possible, keyed by a field (for the
    /// throughput run: preload, then start the engine). Prints a one-line JSON summary.
    Load(LoadArgs),
    /// Wait until a consumer group has committed a whole topic, and print, as one JSON line,
    /// how many records it worked through in how long (from its first commit).
    Drain(DrainArgs),
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    brokers: String,
    /// The topic (create it first with the partitions wanted).
    #[arg(long)]
    topic: String,
    /// The JSON-lines file.
    #[arg(long)]
    file: PathBuf,
    /// The field whose value is the record key.
    #[arg(long, default_value = "user_id")]
    key_field: String,
}

#[derive(Debug, clap::Args)]
struct DrainArgs {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    brokers: String,
    /// The consumer group to watch.
    #[arg(long)]
    group: String,
    /// The topic it reads.
    #[arg(long)]
    topic: String,
    /// Give up after this long.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

#[derive(Debug, clap::Args)]
struct ProduceArgs {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    brokers: String,
    /// The topic to produce into (create it first with the partitions wanted).
    #[arg(long)]
    topic: String,
    /// Events per second.
    #[arg(long, value_parser = parse_count)]
    rate: u64,
    /// How long to produce.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Which workload the mix of event types is tuned for.
    #[arg(long, value_enum, default_value = "W1")]
    workload: Workload,
    /// Distinct keys (`user_id`, also the record key).
    #[arg(long, value_parser = parse_count, default_value = "10000")]
    keys: u64,
    /// Seed of the keys, types and values (times come from the wall clock).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write every event sent to this file, in the order sent.
    #[arg(long)]
    tee: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct LatencyArgs {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    brokers: String,
    /// The alerts topic.
    #[arg(long)]
    topic: String,
    /// Stop after this long in any case.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// Stop after this long without a record, once the first has arrived.
    #[arg(long, default_value_t = 10)]
    idle_seconds: u64,
    /// Also write every latency (ms, ascending, one per line) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
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
        Command::Produce(args) => run_produce(args),
        Command::Latency(args) => run_latency(args),
        Command::Load(args) => run_load(args),
        Command::Drain(args) => run_drain(args),
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

fn run_produce(args: ProduceArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    anyhow::ensure!(args.workload != Workload::Open, "produce streams W1..W5 only");
    let spec = Spec {
        workload: args.workload,
        keys: args.keys,
        events: u64::MAX,
        seed: args.seed,
        disorder_ms: 0,
        key_interval_ms: 60_000,
        start_ms: DEFAULT_START_MS,
    };
    spec.check()?;
    let done = kafka::produce(
        &args.brokers,
        &args.topic,
        spec,
        args.rate,
        args.seconds,
        args.tee.as_ref(),
    )?;
    println!(
        r#"{{"topic":"{}","rate":{},"events":{},"seconds":{:.2},"achieved_rate":{:.0}}}"#,
        args.topic,
        args.rate,
        done.events,
        done.seconds,
        done.events as f64 / done.seconds.max(1e-9)
    );
    Ok(())
}

fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let sent = kafka::load(&args.brokers, &args.topic, &args.file, &args.key_field)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        r#"{{"topic":"{}","events":{},"seconds":{:.2},"events_per_s":{:.0}}}"#,
        args.topic,
        sent,
        seconds,
        sent as f64 / seconds.max(1e-9)
    );
    Ok(())
}

fn run_drain(args: DrainArgs) -> anyhow::Result<()> {
    let d = kafka::drain(
        &args.brokers,
        &args.group,
        &args.topic,
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(args.seconds),
    )?;
    println!(
        r#"{{"group":"{}","topic":"{}","events":{},"seconds":{:.2},"total_seconds":{:.2},"events_per_s":{:.0}}}"#,
        args.group,
        args.topic,
        d.events,
        d.seconds,
        d.total_seconds,
        d.events as f64 / d.seconds.max(1e-9)
    );
    Ok(())
}

fn run_latency(args: LatencyArgs) -> anyhow::Result<()> {
    let (sorted, unreadable) = kafka::latency(
        &args.brokers,
        &args.topic,
        args.seconds,
        args.idle_seconds,
        args.out.as_ref(),
    )?;
    match kafka::percentiles(&sorted) {
        Some(p) => println!(
            r#"{{"topic":"{}","triggers":{},"unreadable":{},"p50_ms":{},"p90_ms":{},"p99_ms":{},"p999_ms":{},"max_ms":{}}}"#,
            args.topic, p.count, unreadable, p.p50, p.p90, p.p99, p.p999, p.max
        ),
        None => {
            println!(r#"{{"topic":"{}","triggers":0,"unreadable":{}}}"#, args.topic, unreadable)
        }
    }
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
