//! Embedded mode: `cepheus run` with no brokers. Reads JSON lines, runs the rules in event time
//! as one partition, writes triggers to `out` and DLQ / late records to `diag` (JSON lines, see
//! [`crate::io::sink::stdout`]). At end of input time ends, as in `cepheus replay`, so the
//! triggers are exactly replay's.

use std::io::{BufRead, Write};
use std::sync::Arc;

use super::{Config, DaemonError};
use crate::compile::RuleSet;
use crate::io::sink::stdout::StdoutSink;
use crate::io::sink::{Kind, Router, SourceRef};
use crate::runtime::{Pipeline, StepResult};

/// What an embedded run read and wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbeddedSummary {
    pub records: u64,
    pub triggers: u64,
    /// Window rules' window records.
    pub windows: u64,
    pub dead_letters: u64,
    pub late: u64,
}

/// Runs `rules` over `input` (named `source` in DLQ headers) until it ends.
pub fn run(
    config: &Config,
    rules: Arc<RuleSet>,
    mut input: impl BufRead,
    source: &str,
    out: impl Write,
    diag: impl Write,
) -> Result<EmbeddedSummary, DaemonError> {
    let router = Router::new(
        Arc::clone(&rules),
        config.default_alerts_topic.clone(),
        config.dlq_topic(),
        config.late_topic(),
    );
    let mut pipeline = Pipeline::new(rules, false, config.runtime_limits());
    let mut sink = StdoutSink::new(out, diag);
    let mut summary = EmbeddedSummary::default();
    let mut step = StepResult::default();
    let mut records = Vec::new();
    let mut line = Vec::new();
    let mut line_no: i64 = 0;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(DaemonError::Read)? == 0 {
            break;
        }
        line_no += 1;
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        summary.records += 1;
        let src = SourceRef {
            topic: source,
            partition: 0,
            offset: line_no,
            timestamp: None,
            key: None,
            payload: &line,
        };
        if line.len() > config.limits.max_record_bytes {
            let error = format!(
                "record of {} bytes exceeds limits.max_record_bytes ({})",
                line.len(),
                config.limits.max_record_bytes
            );
            records.push(router.dead_letter(&src, None, &error));
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) => {
                    // A file has no record time: rules without `source.time` see 0, as in replay.
                    pipeline.offer(text, line_no as u64, 0, &mut step);
                    router.route(&mut step, Some(&src), &mut records);
                }
                Err(e) => records.push(router.dead_letter(&src, None, &format!("not UTF-8: {e}"))),
            }
        }
        write(&mut sink, &mut records, &mut summary)?;
    }
    pipeline.flush(&mut step);
    router.route(&mut step, None, &mut records);
    write(&mut sink, &mut records, &mut summary)?;
    sink.flush().map_err(DaemonError::Write)?;
    Ok(summary)
}

fn write<O: Write, D: Write>(
    sink: &mut StdoutSink<O, D>,
    records: &mut Vec<crate::io::sink::OutRecord>,
    summary: &mut EmbeddedSummary,
) -> Result<(), DaemonError> {
    for r in records.drain(..) {
        match r.kind {
            Kind::Trigger => summary.triggers += 1,
            Kind::Dlq => summary.dead_letters += 1,
            Kind::Late => summary.late += 1,
            Kind::Window => summary.windows += 1,
            // Embedded mode is one partition: nothing is repartitioned.
            Kind::Forward => {}
        }
        sink.write(&r).map_err(DaemonError::Write)?;
    }
    Ok(())
}
