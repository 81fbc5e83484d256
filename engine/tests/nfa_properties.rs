//! Property tests of the NFA and the runtime: a naive reference matcher for plain sequences,
//! and invariants that hold for every pattern (determinism, windows, skip, contiguity,
//! per-key independence, checkpoint/restore, batching and bounded disorder).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use cepheus_engine::compile::RuleSet;
use cepheus_engine::event::Event;
use cepheus_engine::runtime::{Emitted, Limits, Pipeline, StepResult};
use cepheus_grammar::ast::{Contiguity, Element, Rule, Skip, Stage};
use cepheus_state::MemoryStore;
use proptest::prelude::*;
use support::*;

/// One input event: key, letter, time.
#[derive(Debug, Clone)]
struct Ev {
    key: u8,
    letter: char,
    ts: i64,
}

fn line(e: &Ev, i: usize) -> String {
    serde_json::json!({"id": format!("e{i}"), "v": e.letter.to_string(), "ts": e.ts, "k": format!("k{}", e.key)})
        .to_string()
}

/// A match as (key, [event ids]).
type Found = (String, Vec<String>);

fn collect(set: &RuleSet, emitted: Vec<(usize, Emitted)>, out: &mut Vec<Found>) {
    let _ = set;
    for (_, e) in emitted {
        if let Emitted::Match { key, path } = e {
            out.push((
                key.to_string(),
                path.iter().map(|(_, e)| e.id().unwrap_or_default()).collect(),
            ));
        }
    }
}

/// Runs with optional checkpoint/restore after `restore_at` records and extra watermark
/// advances (`ticks`: after record i, advance the clock to the time of record i).
fn run_lines(
    set: &Arc<RuleSet>,
    lines: &[(String, i64)],
    restore_at: Option<usize>,
    ticks: &[usize],
) -> Vec<Found> {
    let mut p = Pipeline::new(set.clone(), false, Limits::default());
    let mut step = StepResult::default();
    let mut out = Vec::new();
    for (i, (l, _)) in lines.iter().enumerate() {
        if restore_at == Some(i) {
            let store = MemoryStore::new();
            p.checkpoint(&store, 0).unwrap();
            p = Pipeline::restore(set.clone(), &store, 0, false, Limits::default()).unwrap();
        }
        p.offer(l, i as u64, 0, &mut step);
        if ticks.contains(&i) {
            // An idle clock never moves past what the input already allowed.
            let wm = lines[..=i].iter().map(|(_, t)| *t).max().unwrap_or(0);
            p.advance_to(wm, &mut step);
        }
        collect(set, std::mem::take(&mut step.emitted), &mut out);
    }
    p.flush(&mut step);
    collect(set, std::mem::take(&mut step.emitted), &mut out);
    out
}

fn lines_of(events: &[Ev]) -> Vec<(String, i64)> {
    events.iter().enumerate().map(|(i, e)| (line(e, i), e.ts)).collect()
}

/// Events with strictly increasing times (1 to 3 ms apart), on 1 to 3 keys.
fn arb_events(max_len: usize) -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec(
        (0u8..3, prop::sample::select(vec!['a', 'b', 'c', 'd']), 1i64..4),
        0..max_len,
    )
    .prop_map(|raw| {
        let mut ts = 0;
        raw.into_iter()
            .map(|(key, letter, step)| {
                ts += step;
                Ev { key, letter, ts }
            })
            .collect()
    })
}

fn contiguity() -> impl Strategy<Value = Contiguity> {
    prop::sample::select(vec![
        Contiguity::Strict,
        Contiguity::Relaxed,
        Contiguity::NonDeterministic,
    ])
}

fn single(name: String, letter: char, c: Contiguity) -> Stage {
    let mut s = st_where(&name, &format!("v == \"{letter}\""));
    s.contiguity = Some(c);
    s
}

/// A plain sequence: single stages with any contiguity.
fn arb_sequence() -> impl Strategy<Value = Vec<(char, Contiguity)>> {
    prop::collection::vec((prop::sample::select(vec!['a', 'b', 'c']), contiguity()), 1..4)
}

fn sequence_rule(seq: &[(char, Contiguity)], within: Option<u64>, skip: Skip) -> Rule {
    let els = seq
        .iter()
        .enumerate()
        .map(|(i, (l, c))| Element::Stage(single(format!("s{i}"), *l, *c)))
        .collect();
    rule(els, within, skip)
}

/// Every match of a plain sequence, by enumeration: stage 1 takes any matching event; a strict
/// stage the very next event of the key; a relaxed one the first matching event after the
/// previous; a non-deterministic one any matching event after it; all within the window.
fn reference(seq: &[(char, Contiguity)], within: Option<u64>, events: &[Ev]) -> Vec<Found> {
    let mut by_key: BTreeMap<u8, Vec<(usize, &Ev)>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_key.entry(e.key).or_default().push((i, e));
    }
    let mut out = Vec::new();
    for (key, evs) in by_key {
        let mut partial: Vec<Vec<usize>> =
            (0..evs.len()).filter(|&i| evs[i].1.letter == seq[0].0).map(|i| vec![i]).collect();
        for &(letter, c) in &seq[1..] {
            let mut next = Vec::new();
            for p in partial {
                let last = *p.last().expect("non-empty");
                let candidates: Vec<usize> = match c {
                    Contiguity::Strict => (last + 1 < evs.len()
                        && evs[last + 1].1.letter == letter)
                        .then_some(last + 1)
                        .into_iter()
                        .collect(),
                    Contiguity::Relaxed => (last + 1..evs.len())
                        .find(|&i| evs[i].1.letter == letter)
                        .into_iter()
                        .collect(),
                    Contiguity::NonDeterministic => {
                        (last + 1..evs.len()).filter(|&i| evs[i].1.letter == letter).collect()
                    }
                };
                for c in candidates {
                    let mut q = p.clone();
                    q.push(c);
                    next.push(q);
                }
            }
            partial = next;
        }
        for m in partial {
            let first = evs[m[0]].1.ts;
            let last = evs[*m.last().expect("non-empty")].1.ts;
            if within.is_none_or(|w| last - first < w as i64) {
                out.push((
                    format!("k{key}"),
                    m.iter().map(|&i| format!("e{}", evs[i].0)).collect(),
                ));
            }
        }
    }
    out
}

fn sorted(mut v: Vec<Found>) -> Vec<Found> {
    v.sort();
    v
}

/// Richer patterns: loops, optional stages, a middle or trailing absence, a group.
fn arb_rich_rule() -> impl Strategy<Value = Rule> {
    let stage = (prop::sample::select(vec!['a', 'b', 'c']), contiguity(), 0u8..6);
    (
        prop::collection::vec(stage, 1..4),
        prop::option::of(2u64..12),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(stages, within, skip, trailing_absent, grouped)| {
            let mut els: Vec<Element> = stages
                .iter()
                .enumerate()
                .map(|(i, (l, c, shape))| {
                    let s = single(format!("s{i}"), *l, *c);
                    let s = match shape {
                        0 => s.plus(),
                        1 => s.times(2, Some(3)),
                        2 if i > 0 => s.optional(),
                        3 => s.plus().consecutive(),
                        _ => s,
                    };
                    Element::Stage(s)
                })
                .collect();
            if grouped && els.len() >= 2 {
                let inner: Vec<Element> = els.drain(..2).collect();
                els.insert(0, group("g", inner).times(1, Some(2)).el());
            }
            let within = within.or(trailing_absent.then_some(6));
            if trailing_absent {
                // Flink refuses an absence right after an optional element.
                if let Some(Element::Stage(last)) = els.last_mut() {
                    last.quantifier.optional = false;
                }
                let mut a = single("never".into(), 'd', Contiguity::Relaxed);
                a.absent = true;
                els.push(Element::Stage(a));
            }
            let skip = match skip {
                0 => Skip::NoSkip,
                1 => Skip::PastLastEvent,
                _ => Skip::ToNext,
            };
            rule(els, within, skip)
        })
}

fn id_num(id: &str) -> usize {
    id.trim_start_matches('e').parse().expect("ids are e<n>")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plain_sequences_match_the_reference(seq in arb_sequence(), within in prop::option::of(1u64..10), events in arb_events(24)) {
        let set = compiled(&[sequence_rule(&seq, within, Skip::NoSkip)]);
        let got = run_lines(&set, &lines_of(&events), None, &[]);
        prop_assert_eq!(sorted(got), sorted(reference(&seq, within, &events)));
    }

    #[test]
    fn invariants_hold_for_rich_patterns(r in arb_rich_rule(), events in arb_events(20), cut in 0usize..20, ticks in prop::collection::vec(0usize..20, 0..4)) {
        let set = compiled(std::slice::from_ref(&r));
        let lines = lines_of(&events);
        let straight = run_lines(&set, &lines, None, &[]);

        // Deterministic, and independent of checkpoint/restore and of extra clock ticks.
        prop_assert_eq!(&run_lines(&set, &lines, None, &[]), &straight);
        prop_assert_eq!(&run_lines(&set, &lines, Some(cut.min(lines.len())), &[]), &straight);
        prop_assert_eq!(&run_lines(&set, &lines, None, &ticks), &straight);

        for (_, ids) in &straight {
            let ts: Vec<i64> = ids.iter().map(|i| events[id_num(i)].ts).collect();
            // Events of a match are in time order, and inside the window.
            prop_assert!(ts.windows(2).all(|w| w[0] < w[1]));
            if let Some(w) = r.within {
                prop_assert!(ts.last().unwrap() - ts.first().unwrap() < w.millis as i64, "{:?} outside {}", ids, w.millis);
            }
        }
        if r.skip == Skip::PastLastEvent {
            let mut seen = std::collections::HashSet::new();
            for (_, ids) in &straight {
                for id in ids {
                    prop_assert!(seen.insert(id.clone()), "event {} in two matches", id);
                }
            }
        }

        // Keys are independent: each key alone gives the same matches in the same order.
        let mut per_key: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for (k, ids) in &straight {
            per_key.entry(k.clone()).or_default().push(ids.clone());
        }
        for key in 0..3u8 {
            let only: Vec<(String, i64)> = events.iter().enumerate().filter(|(_, e)| e.key == key).map(|(i, e)| (line(e, i), e.ts)).collect();
            let alone: Vec<Vec<String>> = run_lines(&set, &only, None, &[]).into_iter().map(|(_, ids)| ids).collect();
            let together = per_key.get(&format!("k{key}")).cloned().unwrap_or_default();
            prop_assert_eq!(alone, together);
        }
    }

    #[test]
    fn strict_sequences_take_consecutive_events_of_the_key(n in 2usize..4, events in arb_events(24)) {
        let seq: Vec<(char, Contiguity)> = ['a', 'b', 'c'][..n].iter().map(|&l| (l, Contiguity::Strict)).collect();
        let set = compiled(&[sequence_rule(&seq, None, Skip::NoSkip)]);
        for (key, ids) in run_lines(&set, &lines_of(&events), None, &[]) {
            let of_key: Vec<usize> = events.iter().enumerate().filter(|(_, e)| format!("k{}", e.key) == key).map(|(i, _)| i).collect();
            let pos: Vec<usize> = ids.iter().map(|i| of_key.iter().position(|&j| j == id_num(i)).unwrap()).collect();
            prop_assert!(pos.windows(2).all(|w| w[1] == w[0] + 1), "{:?} not consecutive", ids);
        }
    }

    #[test]
    fn disorder_within_the_bound_changes_nothing(r in arb_rich_rule(), events in arb_events(20), jitter in prop::collection::vec(0i64..5, 20)) {
        let bound = 4i64;
        let mut r = r;
        r.source.max_out_of_orderness = Some(cepheus_grammar::ast::Duration { millis: bound as u64, span: Default::default() });
        let set = compiled(std::slice::from_ref(&r));
        let lines = lines_of(&events);
        let ordered = run_lines(&set, &lines, None, &[]);
        // Arrival order sorted by time + jitter (jitter <= bound): nothing arrives late.
        let mut shuffled: Vec<(usize, (String, i64))> = lines.into_iter().enumerate().collect();
        shuffled.sort_by_key(|(i, (_, ts))| (ts + jitter[*i].min(bound), *i));
        let mut p = Pipeline::new(set.clone(), false, Limits::default());
        let mut step = StepResult::default();
        let mut got = Vec::new();
        for (i, (l, _)) in &shuffled {
            p.offer(l, *i as u64, 0, &mut step);
            let late = step.emitted.iter().any(|(_, e)| matches!(e, Emitted::Late { .. }));
            prop_assert!(!late, "an event within the bound arrived late");
            collect(&set, std::mem::take(&mut step.emitted), &mut got);
        }
        p.flush(&mut step);
        collect(&set, std::mem::take(&mut step.emitted), &mut got);
        prop_assert_eq!(sorted(got), sorted(ordered));
    }
}

#[test]
fn checkpointed_buffers_are_consistent() {
    // A loop holding many partial matches: the buffer's reference counts match its holders
    // after a restore.
    let r = rule(
        vec![st("a").el(), st("b").plus().combinations().el(), st("c").el()],
        None,
        Skip::NoSkip,
    );
    let set = compiled(&[r]);
    let mut p = Pipeline::new(set.clone(), false, Limits::default());
    let mut step = StepResult::default();
    for (i, l) in events("a b1 b2 b3 x b4").iter().enumerate() {
        p.offer(l, i as u64, 0, &mut step);
    }
    let store = MemoryStore::new();
    p.checkpoint(&store, 0).unwrap();
    let restored = Pipeline::restore(set, &store, 0, false, Limits::default()).unwrap();
    for part in restored.partitions() {
        for (_, nfa) in part.nfas() {
            nfa.buffer().check_refcounts(nfa.runs().iter().map(|r| r.node())).unwrap();
            let (_, stored_events) = nfa.buffer().sizes();
            assert!(stored_events <= 6, "each event stored once");
        }
    }
    let _ = Event::id;
}
