//! Property tests of window rules against a naive model: for random keyed events in event-time
//! order, every fired window of a tumbling or sliding rule holds exactly the events whose time
//! falls in `[start, end)` of that key, its aggregates are what a direct computation gives, and
//! a checkpoint/restore anywhere changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_engine::output::window_record;
use cepheus_engine::runtime::{Emitted, Limits, Pipeline, StepResult};
use cepheus_grammar::SourceId;
use cepheus_state::MemoryStore;
use proptest::prelude::*;
use serde_json::{Value, json};

/// One input event: key, value, time (non-decreasing across the input).
#[derive(Debug, Clone)]
struct Ev {
    key: u8,
    v: i64,
    ts: i64,
}

fn rules(window: &str) -> Arc<RuleSet> {
    let text = format!(
        "rule r\nkey k time ts\nwindow {window}\naggregate\n  n = count()\n  total = sum(v)\n  \
         top = max(v)\n  distinct = count_distinct(v)\n  p50 = percentile(v, 50)\n  \
         recent = count() over 40s\nemit windows to w\n"
    );
    let (parsed, diagnostics) = cepheus_grammar::dsl::parse(&text, SourceId(0));
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert!(cepheus_grammar::check::check(&parsed).is_empty());
    Arc::new(compile(&parsed).expect("the rule compiles"))
}

/// The records the engine prints, with a checkpoint/restore before line `restore_at`.
fn run(set: &Arc<RuleSet>, events: &[Ev], restore_at: Option<usize>) -> Vec<Value> {
    let mut p = Pipeline::new(set.clone(), false, Limits::default());
    let mut step = StepResult::default();
    for (i, e) in events.iter().enumerate() {
        if restore_at == Some(i) {
            let store = MemoryStore::new();
            p.checkpoint(&store, 0).expect("checkpoint");
            p = Pipeline::restore(set.clone(), &store, 0, false, Limits::default())
                .expect("restore");
        }
        let line = json!({"k": format!("k{}", e.key), "v": e.v, "ts": e.ts}).to_string();
        p.offer(&line, i as u64 + 1, 0, &mut step);
    }
    p.flush(&mut step);
    let rule = &set.rules[0];
    step.emitted
        .into_iter()
        .filter_map(|(_, e)| match e {
            Emitted::Window { key, window, .. } => Some(window_record(rule, &key, &window)),
            _ => None,
        })
        .collect()
}

/// What the records should be: every (key, window) with at least one event, in order of
/// (end, key), each aggregate computed directly from the events it covers.
fn model(events: &[Ev], size: i64, every: i64) -> Vec<Value> {
    let mut windows: BTreeMap<(i64, String, i64), Vec<i64>> = BTreeMap::new();
    for e in events {
        let mut start = e.ts.div_euclid(every) * every;
        while start > e.ts - size {
            windows.entry((start + size, format!("k{}", e.key), start)).or_default().push(e.v);
            start -= every;
        }
    }
    let iso = cepheus_engine::event::format_rfc3339;
    windows
        .into_iter()
        .map(|((end, key, start), mut vs)| {
            let recent = events
                .iter()
                .filter(|e| format!("k{}", e.key) == key && e.ts >= end - 40_000 && e.ts < end)
                .count();
            let n = vs.len();
            let total: i64 = vs.iter().sum();
            let top = *vs.iter().max().expect("a window has an event");
            vs.sort();
            let p50 = vs[(n as f64 * 0.5).ceil() as usize - 1];
            vs.dedup();
            json!({
                "rule": "r", "key": key, "window_start": iso(start), "window_end": iso(end),
                "events": n,
                "aggregates": {
                    "n": n, "total": total, "top": top, "distinct": vs.len(), "p50": p50,
                    "recent": recent,
                },
            })
        })
        .collect()
}

fn arb_events() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0u8..3, -3i64..4, 0i64..4_000), 1..40).prop_map(|raw| {
        let mut ts = 0;
        raw.into_iter()
            .map(|(key, v, step)| {
                ts += step;
                Ev { key, v, ts }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn tumbling_windows_match_the_model(events in arb_events(), restore in any::<prop::sample::Index>()) {
        let set = rules("tumbling 10s");
        let want = model(&events, 10_000, 10_000);
        prop_assert_eq!(&run(&set, &events, None), &want);
        let at = restore.index(events.len());
        prop_assert_eq!(&run(&set, &events, Some(at)), &want, "restored before line {}", at);
    }

    #[test]
    fn sliding_windows_match_the_model(events in arb_events(), restore in any::<prop::sample::Index>()) {
        let set = rules("sliding 20s every 5s");
        let want = model(&events, 20_000, 5_000);
        prop_assert_eq!(&run(&set, &events, None), &want);
        let at = restore.index(events.len());
        prop_assert_eq!(&run(&set, &events, Some(at)), &want, "restored before line {}", at);
    }
}

/// Sessions by hand: a key's events closer than the gap share a session; exactly the gap
/// apart they do not (the session fired when the watermark reached its end).
#[test]
fn sessions_split_at_the_gap() {
    let set = rules("session gap 10s");
    let ev = |key, ts| Ev { key, v: 1, ts };
    let events =
        [ev(0, 0), ev(1, 1_000), ev(0, 9_999), ev(1, 11_000), ev(0, 19_999), ev(0, 40_000)];
    let got: Vec<(String, String, u64)> = run(&set, &events, None)
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["window_start"].as_str().unwrap().to_string(),
                r["events"].as_u64().unwrap(),
            )
        })
        .collect();
    let at = |s: &str| format!("1970-01-01T00:00:{s}Z");
    assert_eq!(
        got,
        [
            // k1's 11 s is exactly the gap after 1 s: a session of its own.
            ("k1".to_string(), at("01"), 1),
            // k0's 9.999 s extends [0, 10 s) to [0, 19.999 s); 19.999 s is then outside.
            ("k0".to_string(), at("00"), 2),
            ("k1".to_string(), at("11"), 1),
            ("k0".to_string(), at("19.999"), 1),
            ("k0".to_string(), at("40"), 1),
        ]
    );
}

/// Values kept for `count_distinct`, `percentile` and `over` are bounded per partition: past
/// the bound, running totals still count every event and the rest is counted as dropped.
#[test]
fn kept_values_are_bounded_and_counted() {
    let set = rules("tumbling 10s");
    let limits = Limits { max_buffered_events: 4, ..Limits::default() };
    let mut p = Pipeline::new(set.clone(), false, limits);
    let mut step = StepResult::default();
    for i in 0..5i64 {
        let line = json!({"k": "k0", "v": i, "ts": i * 100}).to_string();
        p.offer(&line, i as u64 + 1, 0, &mut step);
    }
    p.flush(&mut step);
    let records: Vec<Value> = step
        .emitted
        .into_iter()
        .filter_map(|(_, e)| match e {
            Emitted::Window { key, window, .. } => {
                Some(window_record(&set.rules[0], &key, &window))
            }
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 1);
    let aggregates = &records[0]["aggregates"];
    // Each event keeps a distinct value, a percentile value and an `over` entry: three values
    // for the first event, six after the second, so from the third on nothing more is kept.
    assert_eq!(aggregates["n"], 5);
    assert_eq!(aggregates["total"], 10);
    assert_eq!(aggregates["distinct"], 2);
    assert_eq!(aggregates["recent"], 2);
    assert_eq!(p.partitions()[0].counters.dropped_values, 3);
}
