//! What the NFA benchmarks run: five rules, a seeded synthetic keyed stream, and the two levels
//! at which the stream is fed.
//!
//! - `nfa`: events decoded ahead of time (fields projected by the rule set's field table, key
//!   and event time extracted), offered to one rule's [`Partition`]: the per-key runtime and
//!   the NFA, without JSON.
//! - `pipeline`: raw JSON lines offered to a [`Pipeline`]: decoding, projection, key and time
//!   extraction, then the same partition.
//!
//! Both levels end with a flush (end of input), so every window still open resolves inside the
//! measured work, as it would over a long stream.

use std::sync::Arc;

use cepheus_engine::compile::{CompiledRule, RuleSet, compile};
use cepheus_engine::event::{Event, key_text, parse_time};
use cepheus_engine::runtime::{Counters, Emitted, Limits, Partition, Pipeline, StepResult};

/// One benchmarked rule.
#[derive(Debug)]
pub struct Workload {
    /// Short name, used in benchmark ids (`w1`).
    pub id: &'static str,
    /// The pattern in words, for reports.
    pub title: &'static str,
    /// The rule as a user writes it: the benchmark suite's own (`bench/workloads/`), so the
    /// criterion figures and `bench/run` measure the same rules.
    pub yaml: &'static str,
}

/// The benchmarked rules. All read the same stream: `event_type` is the letter, `user_id` the
/// key, `timestamp` the event time (epoch milliseconds).
pub const WORKLOADS: &[Workload] = &[
    Workload {
        id: "w1",
        title: "A -> B within 10m (relaxed)",
        yaml: include_str!("../../../bench/workloads/W1.yaml"),
    },
    Workload {
        id: "w2",
        title: "A -> B+ -> C, C where sum(b.metadata.value) > first(a.metadata.value) * 3, \
                within 10m, skip past_last_event",
        // `within` keeps the loop's partial matches bounded: without it, every A whose sum
        // never grows large enough would stay open for the rest of the stream.
        yaml: include_str!("../../../bench/workloads/W2.yaml"),
    },
    Workload {
        id: "w3",
        title: "A B C strict (next, next)",
        yaml: include_str!("../../../bench/workloads/W3.yaml"),
    },
    Workload {
        id: "w4",
        title: "A -> !B -> C (not followed by, in the middle)",
        yaml: include_str!("../../../bench/workloads/W4.yaml"),
    },
    Workload {
        id: "w5",
        title: "A not followed by B within 5m (trailing absence)",
        yaml: include_str!("../../../bench/workloads/W5.yaml"),
    },
];

/// Loads, checks and compiles one workload's rule.
pub fn rule_set(w: &Workload) -> Arc<RuleSet> {
    let name = format!("{}.yaml", w.id);
    let loaded = cepheus_grammar::load_texts(&[(&name, w.yaml)]);
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{name} is refused: {errors:?}");
    Arc::new(compile(&loaded.rules).unwrap_or_else(|e| panic!("{name} does not compile: {e:?}")))
}

/// SplitMix64: a tiny, well-mixed generator, so a seed gives the same stream on every machine.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is far below anything a benchmark can see).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The shape of a synthetic stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamSpec {
    pub events: usize,
    pub keys: u64,
    pub seed: u64,
}

/// Percentages of the letters; the rest are other event types no stage takes.
const PCT_A: u64 = 10;
const PCT_B: u64 = 25;
const PCT_C: u64 = 10;
/// Event times start at 2026-01-01T00:00:00Z and advance by 0 to this many milliseconds (mean
/// 5 ms, so 200k events span about 17 minutes: `within: 10m` and `5m` windows both complete
/// and expire, per key and across the partition's watermark).
const MAX_GAP_MS: u64 = 10;
const START_MS: u64 = 1_767_225_600_000;

const OTHER_TYPES: &[&str] = &["heartbeat", "sync", "battery_low", "screen_on"];
const TAGS: &[&str] = &["night", "rest", "workout", "commute", "sleep"];

/// The stream as JSON lines of 200 to 260 bytes: keys uniform over `spec.keys` users, letters
/// A/B/C/other at fixed rates, nested `metadata`, increasing timestamps with ties.
pub fn lines(spec: StreamSpec) -> Vec<String> {
    let mut rng = SplitMix64(spec.seed);
    let mut ts = START_MS;
    (0..spec.events)
        .map(|seq| {
            ts += rng.below(MAX_GAP_MS + 1);
            let user = rng.below(spec.keys);
            let roll = rng.below(100);
            let event_type = if roll < PCT_A {
                "A"
            } else if roll < PCT_A + PCT_B {
                "B"
            } else if roll < PCT_A + PCT_B + PCT_C {
                "C"
            } else {
                OTHER_TYPES[rng.below(OTHER_TYPES.len() as u64) as usize]
            };
            let value = rng.below(10_000) as f64 / 100.0;
            let model = rng.below(8);
            let firmware = rng.below(20);
            let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
            format!(
                concat!(
                    r#"{{"event_id":"evt-{seq:012}","user_id":"user-{user:06}","#,
                    r#""event_type":"{event_type}","source":"wearable","#,
                    r#""metadata":{{"value":{value:.2},"unit":"ms","#,
                    r#""device":{{"model":"band-{model}","firmware":"2.{firmware}.1"}},"#,
                    r#""tags":["{tag}","synthetic"]}},"timestamp":{ts}}}"#
                ),
                seq = seq,
                user = user,
                event_type = event_type,
                value = value,
                model = model,
                firmware = firmware,
                tag = tag,
                ts = ts,
            )
        })
        .collect()
}

/// A keyed event as a partition takes it.
pub type Keyed = (Arc<str>, Event);

/// Decodes the lines as [`Pipeline::offer`] would for the set's only rule: fields projected by
/// the set's field table, key and event time extracted.
pub fn decode(rules: &RuleSet, lines: &[String]) -> Vec<Keyed> {
    let rule = &rules.rules[0];
    let key = rule.key.expect("every workload has a key");
    let time = rule.time.expect("every workload has an event time");
    lines
        .iter()
        .enumerate()
        .map(|(seq, line)| {
            let mut event = rules.fields.decode_event(seq as u64, 0, line).expect("generated JSON");
            event.ts = parse_time(event.field(time)).expect("generated timestamps are epoch ms");
            let k = key_text(event.field(key)).expect("generated keys are strings");
            (k, event)
        })
        .collect()
}

/// Feeds decoded events to a fresh partition of `rule` and flushes it. Returns the partition
/// (so the caller decides when its memory is freed) and the number of outputs.
pub fn run_nfa(rule: &Arc<CompiledRule>, events: Vec<Keyed>, timeouts: bool) -> (Partition, usize) {
    let mut partition = Partition::new(Arc::clone(rule), timeouts, Limits::default());
    let mut out: Vec<Emitted> = Vec::new();
    let mut outputs = 0;
    for (key, event) in events {
        partition.offer(key, event, &mut out);
        outputs += out.len();
        out.clear();
    }
    partition.flush(&mut out);
    outputs += out.len();
    (partition, outputs)
}

/// Feeds raw lines to a fresh pipeline of `rules` and flushes it. Returns the pipeline and the
/// number of outputs.
pub fn run_pipeline(rules: &Arc<RuleSet>, lines: &[String], timeouts: bool) -> (Pipeline, usize) {
    let mut pipeline = Pipeline::new(Arc::clone(rules), timeouts, Limits::default());
    let mut step = StepResult::default();
    let mut outputs = 0;
    for (seq, line) in lines.iter().enumerate() {
        pipeline.offer(line, seq as u64, 0, &mut step);
        outputs += step.emitted.len();
        step.emitted.clear();
        // Every generated line is valid; a rejection would mean the benchmark measures errors.
        debug_assert!(step.rejected.is_empty(), "{:?}", step.rejected);
        step.rejected.clear();
    }
    pipeline.flush(&mut step);
    outputs += step.emitted.len();
    (pipeline, outputs)
}

/// The counters of a pipeline's only rule.
pub fn counters(pipeline: &Pipeline) -> Counters {
    pipeline.partitions()[0].counters
}
