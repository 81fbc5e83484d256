//! A key's windows as bytes, for checkpoints (stored where a pattern rule stores its runs).
//!
//! Format version 1: the open windows (start, end, event count, one accumulator per
//! aggregate), then the history. Values are stored as their JSON text, which keeps integers
//! and floats apart; `Missing` has a tag of its own.

use std::collections::{BTreeSet, VecDeque};

use cepheus_state::StateError;
use cepheus_state::codec::{Decoder, Encoder};

use super::{Acc, KeyWindows, Open};
use crate::event::Val;

const VERSION: u8 = 1;
const WHAT: &str = "window state";

/// Writes a value (shared with the NFA state's kept events).
pub(crate) fn write_val(enc: &mut Encoder, v: &Val) {
    match v {
        Val::Missing => {
            enc.write_u8(0);
        }
        v => {
            enc.write_u8(1).write_str(&v.to_json().to_string());
        }
    }
}

/// Reads a value written by [`write_val`].
pub(crate) fn read_val(dec: &mut Decoder<'_>) -> Result<Val, StateError> {
    match dec.read_u8()? {
        0 => Ok(Val::Missing),
        1 => {
            let text = dec.read_str()?;
            let json: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| dec.error(format_args!("stored value: {e}")))?;
            Ok(Val::from_json(&json))
        }
        t => Err(dec.error(format_args!("unknown value tag {t}"))),
    }
}

impl KeyWindows {
    pub fn encode(&self) -> Vec<u8> {
        let mut enc = Encoder::new(VERSION);
        enc.write_len(self.open.len());
        for o in &self.open {
            enc.write_i64(o.start).write_i64(o.end).write_u64(o.events);
            enc.write_len(o.accs.len());
            for acc in &o.accs {
                match acc {
                    None => {
                        enc.write_u8(0);
                    }
                    Some(Acc::Count(n)) => {
                        enc.write_u8(1).write_u64(*n);
                    }
                    Some(Acc::Sum { n, float, int }) => {
                        enc.write_u8(2).write_u64(*n).write_f64(*float);
                        enc.write_option(*int, |e, i| {
                            e.write_i64(i);
                        });
                    }
                    Some(Acc::Extreme(best)) => {
                        enc.write_u8(3);
                        enc.write_option(best.as_ref(), write_val);
                    }
                    Some(Acc::Distinct(set)) => {
                        enc.write_u8(4).write_len(set.len());
                        for s in set {
                            enc.write_str(s);
                        }
                    }
                    Some(Acc::Values(values)) => {
                        enc.write_u8(5).write_len(values.len());
                        for v in values {
                            write_val(&mut enc, v);
                        }
                    }
                }
            }
        }
        enc.write_len(self.history.len());
        for (ts, values) in &self.history {
            enc.write_i64(*ts).write_len(values.len());
            for v in values {
                write_val(&mut enc, v);
            }
        }
        enc.finish()
    }

    /// Reads what [`KeyWindows::encode`] wrote; `aggregates` is the rule's count of them.
    pub fn decode(bytes: &[u8], aggregates: usize) -> Result<KeyWindows, StateError> {
        let mut dec = Decoder::new(bytes, WHAT, VERSION..=VERSION)?;
        let mut open = Vec::new();
        for _ in 0..dec.read_len()? {
            let start = dec.read_i64()?;
            let end = dec.read_i64()?;
            let events = dec.read_u64()?;
            let n = dec.read_len()?;
            if n != aggregates {
                return Err(dec.error(format_args!(
                    "{n} accumulators for a rule of {aggregates} aggregates"
                )));
            }
            let mut accs = Vec::with_capacity(n);
            for _ in 0..n {
                accs.push(match dec.read_u8()? {
                    0 => None,
                    1 => Some(Acc::Count(dec.read_u64()?)),
                    2 => {
                        let n = dec.read_u64()?;
                        let float = dec.read_f64()?;
                        let int = dec.read_option(|d| d.read_i64())?;
                        Some(Acc::Sum { n, float, int })
                    }
                    3 => Some(Acc::Extreme(dec.read_option(read_val)?)),
                    4 => {
                        let mut set = BTreeSet::new();
                        for _ in 0..dec.read_len()? {
                            set.insert(dec.read_str()?.to_string());
                        }
                        Some(Acc::Distinct(set))
                    }
                    5 => {
                        let mut values = Vec::new();
                        for _ in 0..dec.read_len()? {
                            values.push(read_val(&mut dec)?);
                        }
                        Some(Acc::Values(values))
                    }
                    t => return Err(dec.error(format_args!("unknown accumulator tag {t}"))),
                });
            }
            open.push(Open { start, end, events, accs });
        }
        let mut history = VecDeque::new();
        for _ in 0..dec.read_len()? {
            let ts = dec.read_i64()?;
            let mut values = Vec::new();
            for _ in 0..dec.read_len()? {
                values.push(read_val(&mut dec)?);
            }
            history.push_back((ts, values));
        }
        dec.finish()?;
        Ok(KeyWindows { open, history })
    }
}
