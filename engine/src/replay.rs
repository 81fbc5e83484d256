//! `cepheus replay`: JSON lines in, triggers (or matches) out, in event time.
//!
//! The whole input is one partition. Records are processed in input order behind each rule's
//! watermark; at the end of input the watermark becomes +infinity (unless `flush` is off), so
//! windows close and trailing absences resolve. Output is deterministic: the same input gives
//! the same bytes.

use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::compile::RuleSet;
use crate::output;
use crate::runtime::{Emitted, Limits, Pipeline, StepResult};

#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Print matches (`{"rule", "key", "match"}`) instead of trigger events.
    pub matches: bool,
    /// Also print timed-out partial matches.
    pub timeouts: bool,
    /// End of input is not the end of time: nothing completes or times out because it ended.
    pub no_flush: bool,
    /// Undecodable or unusable records stop the replay.
    pub strict: bool,
    /// Explain every NFA step of this key on the diagnostics stream.
    pub trace: Option<String>,
    /// After every this many lines, checkpoint all state into a fresh in-memory store, drop the
    /// pipeline and continue from the restored one (proves restore equivalence end to end).
    pub checkpoint_every: Option<u64>,
    /// Also print every fired window of a window rule (`{"rule", "key", "window_start",
    /// "window_end", "events", "aggregates"}`), whether its `having` holds or not.
    pub windows: bool,
}

/// What a replay saw and produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub lines: u64,
    pub undecodable: u64,
    pub rejected: u64,
    pub late: u64,
    pub matches: u64,
    pub timeouts: u64,
    pub printed: u64,
    /// Partial matches dropped at the per-key limit.
    pub dropped_runs: u64,
    /// Events processed before the watermark reached them, at the buffer limit.
    pub forced: u64,
}

impl std::fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "replay: {} lines, {} undecodable, {} rejected, {} late, {} matches, {} timeouts, {} records printed",
            self.lines,
            self.undecodable,
            self.rejected,
            self.late,
            self.matches,
            self.timeouts,
            self.printed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading input: {0}")]
    Read(std::io::Error),
    #[error("writing output: {0}")]
    Write(std::io::Error),
    #[error("checkpoint: {0}")]
    State(cepheus_state::StateError),
    #[error("line {line}: {message} (--strict)")]
    Strict { line: u64, message: String },
}

/// Replays `input` through `rules`, writing records to `out` and problems and traces to `diag`.
pub fn replay(
    rules: Arc<RuleSet>,
    input: impl BufRead,
    out: &mut impl Write,
    diag: &mut impl Write,
    opts: &ReplayOptions,
) -> Result<ReplaySummary, ReplayError> {
    let mut pipeline = Pipeline::new(Arc::clone(&rules), opts.timeouts, Limits::default());
    // Match and timeout records print the events; triggers need only their digests and ids.
    let keep_text = opts.matches || opts.timeouts;
    if keep_text {
        pipeline = pipeline.keeping_text();
    }
    pipeline.trace(opts.trace.as_deref());
    let mut summary = ReplaySummary::default();
    let mut step = StepResult::default();
    let mut input = input;
    // One line buffer for the whole input (`lines()` would allocate a string per line).
    let mut buf = String::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if input.read_line(&mut buf).map_err(ReplayError::Read)? == 0 {
            break;
        }
        // What `lines()` strips: the newline, then a carriage return before it.
        let mut line = buf.as_str();
        if let Some(l) = line.strip_suffix('\n') {
            line = l.strip_suffix('\r').unwrap_or(l);
        }
        line_no += 1;
        summary.lines = line_no;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(every) = opts.checkpoint_every
            && every > 0
            && line_no.is_multiple_of(every)
        {
            let store = cepheus_state::MemoryStore::new();
            pipeline.checkpoint(&store, 0).map_err(ReplayError::State)?;
            drop(pipeline);
            pipeline =
                Pipeline::restore(Arc::clone(&rules), &store, 0, opts.timeouts, Limits::default())
                    .map_err(ReplayError::State)?;
            if keep_text {
                pipeline = pipeline.keeping_text();
            }
            pipeline.trace(opts.trace.as_deref());
        }
        // Records have no record time in a file: rules without `source.time` see time 0.
        pipeline.offer(line, line_no, 0, &mut step);
        for r in step.rejected.drain(..) {
            let message = match r.rule {
                Some(i) => format!("rule {}: {}", rules.rules[i].name, r.error),
                None => r.error.to_string(),
            };
            if r.rule.is_none() {
                summary.undecodable += 1;
            } else {
                summary.rejected += 1;
            }
            if opts.strict {
                return Err(ReplayError::Strict { line: line_no, message });
            }
            writeln!(diag, "line {line_no}: {message}").map_err(ReplayError::Write)?;
        }
        write_emitted(&rules, &mut step, out, diag, opts, &mut summary)?;
    }
    if !opts.no_flush {
        pipeline.flush(&mut step);
        write_emitted(&rules, &mut step, out, diag, opts, &mut summary)?;
    }
    out.flush().map_err(ReplayError::Write)?;
    for p in pipeline.partitions() {
        summary.dropped_runs += p.counters.dropped_runs;
        summary.forced += p.counters.forced;
    }
    Ok(summary)
}

fn write_emitted(
    rules: &RuleSet,
    step: &mut StepResult,
    out: &mut impl Write,
    diag: &mut impl Write,
    opts: &ReplayOptions,
    summary: &mut ReplaySummary,
) -> Result<(), ReplayError> {
    let mut print =
        |v: serde_json::Value, summary: &mut ReplaySummary| -> Result<(), ReplayError> {
            serde_json::to_writer(&mut *out, &v).map_err(|e| ReplayError::Write(e.into()))?;
            out.write_all(b"\n").map_err(ReplayError::Write)?;
            summary.printed += 1;
            Ok(())
        };
    for (i, e) in step.emitted.drain(..) {
        let rule = &rules.rules[i];
        match e {
            Emitted::Match { key, path } => {
                summary.matches += 1;
                if opts.matches {
                    print(output::match_record(rule, &key, &path), summary)?;
                } else {
                    print(output::trigger(rule, rule.emit.as_ref(), &key, &path, None), summary)?;
                }
            }
            Emitted::Timeout { key, path, at } => {
                summary.timeouts += 1;
                if opts.timeouts {
                    print(output::timeout_record(rule, &key, &path, at), summary)?;
                }
                if !opts.matches && rule.on_timeout.is_some() {
                    print(
                        output::trigger(rule, rule.on_timeout.as_ref(), &key, &path, Some(at)),
                        summary,
                    )?;
                }
            }
            Emitted::Late { key, event, watermark } => {
                summary.late += 1;
                writeln!(
                    diag,
                    "line {}: rule {}: late event for key {key:?}: event time {} is behind the watermark {}",
                    event.seq,
                    rule.name,
                    crate::event::format_rfc3339(event.ts),
                    crate::event::format_rfc3339(watermark)
                )
                .map_err(ReplayError::Write)?;
            }
            Emitted::Trace(line) => {
                writeln!(diag, "trace {}: {line}", rule.name).map_err(ReplayError::Write)?
            }
            Emitted::Window { key, window, triggered } => {
                // A window rule has no matches: its triggers print in every mode.
                if triggered {
                    summary.matches += 1;
                    print(output::window_trigger(rule, &key, &window), summary)?;
                }
                if opts.windows {
                    print(output::window_record(rule, &key, &window), summary)?;
                }
            }
        }
    }
    Ok(())
}
