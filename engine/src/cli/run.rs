//! `cepheus run`: the long-running engine. With brokers configured, a Kafka consumer group;
//! without, embedded mode (JSON lines in, triggers out).

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cepheus_engine::daemon::config::ConfigError;
use cepheus_engine::daemon::supervisor::{self, RunOptions};
use cepheus_engine::daemon::{Config, DaemonError, ErrorClass, embedded};
use cepheus_engine::io::source::file;
use cepheus_engine::io::source::kafka::StartFrom;
use clap::Args;

use super::{EXIT_INVALID, EXIT_TROUBLE};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (default: `cepheus.yaml` in the working directory, if present).
    /// `CEPHEUS_*` environment variables override it; the flags below override both.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Rule files or folders (repeatable; replaces the configuration's `rules`).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// Kafka bootstrap servers (replaces `brokers`). Without brokers, Cepheus runs embedded:
    /// JSON lines from `--input`, triggers on stdout, DLQ and late records on stderr.
    #[arg(long, value_name = "HOST:PORT")]
    pub brokers: Option<String>,

    /// Embedded mode's input: a JSON-lines file, or `-` for stdin (the default).
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,

    /// Start position, for a backfill: `earliest`, `latest` or an RFC 3339 time (the first
    /// record at or after it, by offsets for times). A run with `--from` does not join the
    /// deployment's consumer group: it reads every partition itself and stores its offsets
    /// under the group `<group_id>-backfill` (or `--group-id`), so the live deployment is
    /// neither rebalanced nor moved. Without `--from`, the group's committed offsets are used.
    #[arg(long, value_name = "earliest|latest|TIME")]
    pub from: Option<StartFrom>,

    /// The consumer group to use instead of the configuration's (or the backfill's) group.
    #[arg(long, value_name = "GROUP")]
    pub group_id: Option<String>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut config = match Config::load(args.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e @ (ConfigError::Invalid { .. } | ConfigError::Syntax { .. })) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        Err(e) => return Err(e.into()),
    };
    if !args.rules.is_empty() {
        config.rules = args.rules.clone();
    }
    if let Some(b) = &args.brokers {
        config.brokers = Some(b.clone()).filter(|b| !b.trim().is_empty());
    }
    if let Some(i) = &args.input {
        config.input = (i.as_os_str() != "-").then(|| i.clone());
    }
    let Some(rules) = super::rules::load(&config.rules)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };

    if config.brokers.is_none() {
        if args.from.is_some() || args.group_id.is_some() {
            eprintln!("error: `--from` and `--group-id` need Kafka: set `brokers` (or --brokers)");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        let input = file::open(config.input.as_deref())
            .with_context(|| format!("opening {}", file::source_name(config.input.as_deref())))?;
        let name = file::source_name(config.input.as_deref());
        let out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
        return match embedded::run(&config, rules, input, &name, out, io::stderr().lock()) {
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(DaemonError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(e.into()),
        };
    }

    // The supervisor loop (signals, rebalances, committing) needs little; the partition workers
    // run on their own runtime sized by `workers`, so `workers` is what sets the parallelism.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let opts =
        RunOptions { from: args.from.unwrap_or(StartFrom::Committed), group_id: args.group_id };
    let result = runtime.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            eprintln!("cepheus info: shutting down (stop fetching, finish, flush, commit)");
            let _ = stop_tx.send(true);
        });
        supervisor::run(&config, rules, opts, stop_rx).await
    });
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(match e.class() {
                ErrorClass::User => EXIT_INVALID,
                ErrorClass::External | ErrorClass::Internal => EXIT_TROUBLE,
            }))
        }
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
