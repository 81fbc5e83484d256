//! Checkpointing a partition into a [`StateStore`] and restoring it.
//!
//! A checkpoint replaces everything the store holds for (rule, partition) in one atomic batch:
//! each key's NFA state under `Runs`, each event still waiting for the watermark under
//! `Pending`, and the partition's clock and counters under `Meta`. A window rule stores each
//! key's windows ([`KeyWindows`]) under `Runs` in place of NFA state. Timers are not stored: they
//! are derived from the restored runs. Restoring and continuing gives the same output as never
//! having stopped (tested by the golden replay cases).

use std::sync::Arc;

use cepheus_state::codec::{Decoder, Encoder};
use cepheus_state::keys::{PartitionId, PendingKey, RuleId, RunKey, partition_range};
use cepheus_state::{Space, StateError, StateStore, StateView, WriteBatch};

use crate::compile::CompiledRule;
use crate::event::FieldTable;
use crate::nfa::KeyNfa;
use crate::window::KeyWindows;

use super::partition::{Counters, Limits, Partition};

/// Version 2 added `dropped_values` to the clock's counters; version 1 is still read.
const VERSION: u8 = 2;

fn meta_key(rule: RuleId, partition: PartitionId) -> Vec<u8> {
    format!("partition/{}/{}", rule.0, partition.0).into_bytes()
}

impl Partition {
    /// Writes this partition's whole state, replacing what the store held for it.
    pub fn checkpoint(
        &self,
        store: &dyn StateStore,
        rule: RuleId,
        partition: PartitionId,
        fields: &FieldTable,
    ) -> Result<(), StateError> {
        let mut batch = WriteBatch::new();
        for space in [Space::Runs, Space::Pending] {
            for entry in store.scan(space, partition_range(rule, partition))? {
                let (key, _) = entry?;
                batch.delete(space, key);
            }
        }
        for (key, nfa) in self.nfas() {
            batch.put(
                Space::Runs,
                RunKey { rule, partition, key: key.as_bytes() }.encode(),
                nfa.encode(fields),
            );
        }
        for (key, windows) in self.window_keys() {
            batch.put(
                Space::Runs,
                RunKey { rule, partition, key: key.as_bytes() }.encode(),
                windows.encode(),
            );
        }
        for (key, event) in self.buffered() {
            let mut enc = Encoder::new(VERSION);
            // Events waiting for the watermark were never taken: they have their text.
            enc.write_str(key).write_str(event.raw().unwrap_or_default());
            batch.put(
                Space::Pending,
                PendingKey { rule, partition, time: event.ts, seq: event.seq }.encode(),
                enc.finish(),
            );
        }
        let (watermark, max_ts, c) = self.clock();
        let mut enc = Encoder::new(VERSION);
        enc.write_i64(watermark).write_i64(max_ts);
        for v in
            [c.events, c.late, c.matches, c.timeouts, c.forced, c.dropped_runs, c.dropped_values]
        {
            enc.write_u64(v);
        }
        batch.put(Space::Meta, meta_key(rule, partition), enc.finish());
        store.write(batch)
    }

    /// Rebuilds a partition from its last checkpoint (an empty partition if there is none).
    pub fn restore(
        compiled: Arc<CompiledRule>,
        fields: &FieldTable,
        store: &dyn StateView,
        rule: RuleId,
        partition: PartitionId,
        timeouts: bool,
        limits: Limits,
    ) -> Result<Partition, StateError> {
        let mut p = Partition::new(Arc::clone(&compiled), timeouts, limits);
        if let Some(bytes) = store.get(Space::Meta, &meta_key(rule, partition))? {
            let mut dec = Decoder::new(&bytes, "partition clock", 1..=VERSION)?;
            let watermark = dec.read_i64()?;
            let max_ts = dec.read_i64()?;
            let mut c = [0u64; 7];
            let stored = if dec.version() == 1 { 6 } else { 7 };
            for v in &mut c[..stored] {
                *v = dec.read_u64()?;
            }
            dec.finish()?;
            let counters = Counters {
                events: c[0],
                late: c[1],
                matches: c[2],
                timeouts: c[3],
                forced: c[4],
                dropped_runs: c[5],
                dropped_values: c[6],
            };
            p.set_clock(watermark, max_ts, counters);
        }
        for entry in store.scan(Space::Runs, partition_range(rule, partition))? {
            let (k, v) = entry?;
            let key = RunKey::decode(&k)?;
            let key = std::str::from_utf8(key.key)
                .map_err(|_| StateError::corrupt("runs key: the record key is not UTF-8"))?;
            if let Some(w) = &compiled.window {
                let windows = KeyWindows::decode(&v, w.aggregates.len())?;
                p.insert_window_key(Arc::from(key), windows);
                continue;
            }
            let nfa = KeyNfa::decode(&v, &compiled.program, fields)?;
            p.insert_key(Arc::from(key), nfa);
        }
        for entry in store.scan(Space::Pending, partition_range(rule, partition))? {
            let (k, v) = entry?;
            let pk = PendingKey::decode(&k)?;
            let mut dec = Decoder::new(&v, "pending event", VERSION..=VERSION)?;
            let key = dec.read_str()?;
            let raw = dec.read_str()?;
            let event = fields
                .decode_event(pk.seq, pk.time, raw)
                .map_err(|e| dec.error(format_args!("stored event: {e}")))?;
            dec.finish()?;
            p.insert_buffered(Arc::from(key), event);
        }
        Ok(p)
    }
}
