//! Embedded mode's sink: triggers as JSON lines on one stream (stdout), DLQ and late records and
//! window rules' window records as JSON lines on another (stderr), each
//! `{"topic", "key", "headers", "value"}`.

use std::io::Write;

use serde_json::{Map, Value, json};

use super::{Kind, OutRecord};

/// Writes [`OutRecord`]s as JSON lines.
#[derive(Debug)]
pub struct StdoutSink<O, D> {
    out: O,
    diag: D,
}

impl<O: Write, D: Write> StdoutSink<O, D> {
    pub fn new(out: O, diag: D) -> Self {
        StdoutSink { out, diag }
    }

    /// Triggers are written as the payload itself; other records as an envelope.
    pub fn write(&mut self, rec: &OutRecord) -> std::io::Result<()> {
        match rec.kind {
            Kind::Trigger => {
                self.out.write_all(&rec.payload)?;
                self.out.write_all(b"\n")
            }
            Kind::Window | Kind::Dlq | Kind::Late | Kind::Forward => {
                let headers: Map<String, Value> = rec
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
                    .collect();
                let text = |b: &[u8]| Value::String(String::from_utf8_lossy(b).into_owned());
                let line = json!({
                    "topic": rec.topic,
                    "key": rec.key.as_deref().map(text),
                    "headers": headers,
                    "value": text(&rec.payload),
                });
                writeln!(self.diag, "{line}")
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.diag.flush()
    }
}
