//! Flink CEP's documented examples, through the engine's library API.

mod support;

use cepheus_grammar::ast::Skip;
use support::*;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn contiguity_of_two_stages() {
    // "a b" on "a c b1 b2": strict none; relaxed {a b1}; any {a b1} {a b2}.
    let input = "a c b1 b2";
    assert!(
        matches(rule(vec![st("a").el(), st("b").strict().el()], None, Skip::NoSkip), input)
            .is_empty()
    );
    assert_eq!(
        matches(rule(vec![st("a").el(), st("b").el()], None, Skip::NoSkip), input),
        vec!["a b1"]
    );
    assert_eq!(
        matches(rule(vec![st("a").el(), st("b").any().el()], None, Skip::NoSkip), input),
        vec!["a b1", "a b2"]
    );
}

#[test]
fn loop_with_and_without_consecutive() {
    let input = "c d a1 a2 a3 d a4 b";
    let pat = |a: cepheus_grammar::ast::Stage| {
        rule(vec![st("c").el(), a.el(), st("b").el()], None, Skip::NoSkip)
    };
    assert_eq!(
        sorted(matches(pat(st("a").plus().consecutive()), input)),
        sorted(vec!["c a1 b".into(), "c a1 a2 b".into(), "c a1 a2 a3 b".into()])
    );
    assert_eq!(
        sorted(matches(pat(st("a").plus()), input)),
        sorted(vec![
            "c a1 b".into(),
            "c a1 a2 b".into(),
            "c a1 a2 a3 b".into(),
            "c a1 a2 a3 a4 b".into()
        ])
    );
}

#[test]
fn loop_with_combinations() {
    let input = "c d a1 a2 a3 d a4 b";
    let r = rule(
        vec![st("c").el(), st("a").plus().combinations().el(), st("b").el()],
        None,
        Skip::NoSkip,
    );
    let want = [
        "c a1 b",
        "c a1 a2 b",
        "c a1 a3 b",
        "c a1 a4 b",
        "c a1 a2 a3 b",
        "c a1 a2 a4 b",
        "c a1 a3 a4 b",
        "c a1 a2 a3 a4 b",
    ];
    assert_eq!(sorted(matches(r, input)), sorted(want.iter().map(|s| s.to_string()).collect()));
}

#[test]
fn within_is_half_open() {
    // a at 0, b at 2: within 2ms excludes it, within 3ms includes it.
    let input = "a x b";
    assert!(
        matches(rule(vec![st("a").el(), st("b").el()], Some(2), Skip::NoSkip), input).is_empty()
    );
    assert_eq!(
        matches(rule(vec![st("a").el(), st("b").el()], Some(3), Skip::NoSkip), input),
        vec!["a b"]
    );
}

#[test]
fn trailing_not_followed_by_completes_when_the_window_ends() {
    let r = || rule(vec![st("a").el(), absent(st("b")).el()], Some(5), Skip::NoSkip);
    assert_eq!(matches(r(), "a x x"), vec!["a"]);
    assert!(matches(r(), "a x b").is_empty());
}

#[test]
fn skip_past_last_event() {
    // a b+ on "a1 b1 b2": no_skip gives 3 matches (a1 b1, a1 b1 b2 ... ), past_last gives 1.
    let input = "a1 a2 b1";
    let no_skip = matches(rule(vec![st("a").plus().el(), st("b").el()], None, Skip::NoSkip), input);
    assert_eq!(sorted(no_skip), sorted(vec!["a1 a2 b1".into(), "a1 b1".into(), "a2 b1".into()]));
    let past =
        matches(rule(vec![st("a").plus().el(), st("b").el()], None, Skip::PastLastEvent), input);
    assert_eq!(past, vec!["a1 a2 b1"]);
}

#[test]
fn partial_matches_per_key_are_bounded_and_counted() {
    use cepheus_engine::runtime::{Limits, Pipeline, StepResult};
    // `a b+ (any combination) c` branches on every b: 2^n partial matches without a limit.
    let r = rule(
        vec![st("a").el(), st("b").plus().combinations().el(), st("c").el()],
        None,
        Skip::NoSkip,
    );
    let set = compiled(&[r]);
    let limits = Limits { max_runs_per_key: 50, ..Limits::default() };
    let mut p = Pipeline::new(set, false, limits);
    let mut step = StepResult::default();
    let words = format!("a {}", (1..=20).map(|i| format!("b{i}")).collect::<Vec<_>>().join(" "));
    for (i, l) in events(&words).iter().enumerate() {
        p.offer(l, i as u64, 0, &mut step);
    }
    let part = &p.partitions()[0];
    assert!(part.counters.dropped_runs > 0, "the limit was reached and counted");
    for (_, nfa) in part.nfas() {
        assert!(nfa.open_runs() <= 50);
        nfa.buffer().check_refcounts(nfa.runs().iter().map(|r| r.node())).unwrap();
    }
}
