//! What a key's state keeps of the events its partial matches took.
//!
//! By default a taken event keeps its text's digest and its id, plus its fields when a
//! condition or an emitted field reads taken events; `Pipeline::keeping_text` keeps the whole
//! record (for `--matches`). Triggers, `trigger_id` included, must not tell the two apart, also
//! across checkpoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_engine::event::{Event, Keep};
use cepheus_engine::output;
use cepheus_engine::runtime::{Emitted, Limits, Pipeline, StepResult};
use cepheus_grammar::SourceId;
use cepheus_state::MemoryStore;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A rule pack; `plain`: without the rules' own trigger fields, so that only conditions decide
/// what taken events keep.
fn pack(name: &str, plain: bool) -> Arc<RuleSet> {
    let loaded = cepheus_grammar::load::load(&[repo().join("rules").join(name)]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let mut rules = loaded.rules;
    if plain {
        for r in &mut rules {
            r.emit = None;
            r.on_timeout = None;
        }
    }
    Arc::new(compile(&rules).expect("the pack compiles"))
}

fn dsl(text: &str) -> Arc<RuleSet> {
    let (parsed, diagnostics) = cepheus_grammar::dsl::parse(text, SourceId(0));
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert!(cepheus_grammar::check::check(&parsed).is_empty());
    Arc::new(compile(&parsed).expect("the rule compiles"))
}

/// The triggers (and timed-out partial matches) of `lines`, as replay builds them; with
/// `checkpoint_every`, the pipeline is checkpointed and restored that often.
fn triggers(
    set: &Arc<RuleSet>,
    lines: &[&str],
    keep_text: bool,
    checkpoint_every: Option<usize>,
) -> Vec<Value> {
    let fresh = |p: Pipeline| if keep_text { p.keeping_text() } else { p };
    let mut p = fresh(Pipeline::new(set.clone(), true, Limits::default()));
    let mut step = StepResult::default();
    for (i, line) in lines.iter().enumerate() {
        if checkpoint_every.is_some_and(|n| i > 0 && i % n == 0) {
            let store = MemoryStore::new();
            p.checkpoint(&store, 0).expect("checkpoint");
            p = fresh(
                Pipeline::restore(set.clone(), &store, 0, true, Limits::default())
                    .expect("restore"),
            );
        }
        p.offer(line, i as u64 + 1, 0, &mut step);
    }
    p.flush(&mut step);
    step.emitted
        .into_iter()
        .filter_map(|(i, e)| {
            let rule = &set.rules[i];
            match e {
                Emitted::Match { key, path } => {
                    Some(output::trigger(rule, rule.emit.as_ref(), &key, &path, None))
                }
                Emitted::Timeout { key, path, at } => {
                    Some(output::trigger(rule, rule.on_timeout.as_ref(), &key, &path, Some(at)))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn rule_packs_give_the_same_triggers_whether_taken_events_keep_their_text_or_not() {
    let mut kinds = Vec::new();
    let packs = ["health", "child-safety", "learning", "security"];
    for (name, plain) in packs.iter().flat_map(|p| [(*p, false), (*p, true)]) {
        let set = pack(name, plain);
        kinds.extend(set.rules.iter().filter(|r| r.window.is_none()).map(|r| r.program.keep));
        let text =
            std::fs::read_to_string(repo().join("rules").join(name).join("golden/events.jsonl"))
                .expect("the pack's golden events");
        let lines: Vec<&str> = text.lines().collect();
        let whole = triggers(&set, &lines, true, None);
        assert!(whole.len() >= 20, "{name}: only {} triggers", whole.len());
        let kept = triggers(&set, &lines, false, None);
        assert_eq!(kept, whole, "{name}: triggers differ when events keep only digests");
        let restored = triggers(&set, &lines, false, Some(997));
        assert_eq!(restored, whole, "{name}: triggers differ across checkpoints");
    }
    // Both kinds ran: rules whose conditions or triggers read taken events, and rules that read
    // nothing of them.
    assert!(kinds.contains(&Keep::Fields), "{kinds:?}");
    assert!(kinds.contains(&Keep::Id), "{kinds:?}");
}

/// The events the open partial matches of every key hold, oldest first.
fn held(p: &Pipeline, rule: usize) -> Vec<Event> {
    let mut out = Vec::new();
    for (_, nfa) in p.partitions()[rule].nfas() {
        for run in nfa.runs() {
            out.extend(nfa.buffer().path(run.node()).into_iter().map(|(_, e)| e));
        }
    }
    out
}

#[test]
fn a_taken_event_keeps_its_digest_its_id_and_only_the_fields_that_are_read() {
    let set = dsl("rule plain\nkey user time ts\npattern\n  a where kind == \"A\"\n  \
         followed by b where kind == \"B\"\nwithin 10m\n\n\
         rule reads\nkey user time ts\npattern\n  a where kind == \"A\"\n  \
         followed by b where kind == \"B\" and x > a.x\nwithin 10m\n");
    assert_eq!(set.rules[0].program.keep, Keep::Id);
    assert_eq!(set.rules[1].program.keep, Keep::Fields);
    let line = r#"{"event_id": "e1", "user": "u1", "kind": "A", "x": 5, "ts": 1000}"#;

    let mut p = Pipeline::new(set.clone(), false, Limits::default());
    let mut step = StepResult::default();
    p.offer(line, 1, 0, &mut step);
    p.advance_to(1000, &mut step);
    let [plain] = &held(&p, 0)[..] else { panic!("one held event") };
    assert_eq!(plain.raw(), None, "the text is not kept");
    assert_eq!(plain.id().as_deref(), Some("e1"));
    assert_eq!(plain.digest(), cepheus_engine::event::digest(line));
    assert!(plain.fields.is_empty(), "no condition reads a taken event's fields");
    let [reads] = &held(&p, 1)[..] else { panic!("one held event") };
    assert_eq!(reads.raw(), None);
    assert_eq!(reads.id().as_deref(), Some("e1"));
    assert!(!reads.fields.is_empty(), "`x > a.x` reads the taken event's fields");

    // The condition on the taken event still holds after a checkpoint and a restore.
    let store = MemoryStore::new();
    p.checkpoint(&store, 0).expect("checkpoint");
    let mut p =
        Pipeline::restore(set.clone(), &store, 0, false, Limits::default()).expect("restore");
    for (seq, x) in [(2, 4), (3, 6)] {
        let b = format!(
            r#"{{"event_id": "e{seq}", "user": "u1", "kind": "B", "x": {x}, "ts": {}}}"#,
            1000 + seq
        );
        p.offer(&b, seq, 0, &mut step);
    }
    p.flush(&mut step);
    let matched: Vec<(usize, Vec<String>)> = step
        .emitted
        .iter()
        .filter_map(|(i, e)| match e {
            Emitted::Match { path, .. } => {
                Some((*i, path.iter().map(|(_, e)| e.id().unwrap_or_default()).collect()))
            }
            _ => None,
        })
        .collect();
    assert!(matched.contains(&(1, vec!["e1".to_string(), "e3".to_string()])), "{matched:?}");
    assert!(!matched.contains(&(1, vec!["e1".to_string(), "e2".to_string()])), "{matched:?}");

    // Keeping texts keeps the record as it was read.
    let mut p = Pipeline::new(set, false, Limits::default()).keeping_text();
    p.offer(line, 1, 0, &mut step);
    p.advance_to(1000, &mut step);
    assert_eq!(held(&p, 0)[0].raw(), Some(line));
}
