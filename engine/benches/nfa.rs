//! Throughput of the NFA and of decode + match, per workload (see `workload`).
//!
//! ```text
//! cargo bench -p cepheus-engine --bench nfa -- --warm-up-time 1 --measurement-time 3 --sample-size 10
//! ```
//!
//! Benchmark ids are `<workload>/<level>/<keys>`: `w2/nfa/1k` feeds pre-decoded events of
//! workload W2 over 1,000 keys to a partition; `w2/pipeline/1k` feeds the raw JSON lines to a
//! pipeline. Throughput is in events.
//!
//! Environment:
//! - `CEPHEUS_BENCH_EVENTS`: events per iteration (default 200,000).
//! - `CEPHEUS_BENCH_ONCE=<workload>/<level>/<keys>[/setup]`: skip criterion; build the stream,
//!   feed it once (unless `setup`) and print the counters. Run under `valgrind --tool=dhat`
//!   with and without `/setup`, the difference in allocated blocks is what feeding allocates
//!   (BENCHMARKS.md gives the commands).

mod workload;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use workload::{StreamSpec, WORKLOADS, Workload};

const DEFAULT_EVENTS: usize = 200_000;
/// Many users each with a long history, and many users each seen a few times.
const KEY_COUNTS: &[(u64, &str)] = &[(1_000, "1k"), (100_000, "100k")];
const SEED: u64 = 0x00c0_ffee_cafe_f00d;

fn events_per_iteration() -> usize {
    std::env::var("CEPHEUS_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(DEFAULT_EVENTS)
}

fn spec(keys: u64) -> StreamSpec {
    StreamSpec { events: events_per_iteration(), keys, seed: SEED }
}

fn bench_workload(c: &mut Criterion, w: &Workload) {
    let rules = workload::rule_set(w);
    let rule = Arc::new(rules.rules[0].clone());
    let mut group = c.benchmark_group(w.id);
    // One iteration is a whole stream (tenths of a second): flat sampling runs the same small
    // number of iterations per sample instead of criterion's growing linear schedule.
    group.sampling_mode(SamplingMode::Flat);
    for &(keys, keys_label) in KEY_COUNTS {
        let spec = spec(keys);
        group.throughput(Throughput::Elements(spec.events as u64));
        let lines = workload::lines(spec);
        let decoded = workload::decode(&rules, &lines);
        group.bench_function(format!("nfa/{keys_label}"), |b| {
            // Cloning the events (reference counts only) is setup; the partition is returned
            // so that freeing it is not measured either.
            b.iter_batched(
                || decoded.clone(),
                |events| workload::run_nfa(&rule, events, false),
                BatchSize::PerIteration,
            )
        });
        drop(decoded);
        group.bench_function(format!("pipeline/{keys_label}"), |b| {
            b.iter_with_large_drop(|| workload::run_pipeline(&rules, &lines, false))
        });
    }
    group.finish();
}

/// Builds one stream and (unless `setup`) feeds it once, printing what it produced. With
/// timeouts reported, so the counts show how many windows expired.
fn once(spec_text: &str) {
    let parts: Vec<&str> = spec_text.split('/').collect();
    let (w, level, keys, setup_only) = match parts.as_slice() {
        [w, level, keys] => (*w, *level, *keys, false),
        [w, level, keys, "setup"] => (*w, *level, *keys, true),
        _ => panic!("CEPHEUS_BENCH_ONCE: expected <workload>/<level>/<keys>[/setup]"),
    };
    let w = WORKLOADS.iter().find(|x| x.id == w).expect("a workload id (w1..w5)");
    let keys = KEY_COUNTS
        .iter()
        .find(|(_, label)| *label == keys)
        .map(|(n, _)| *n)
        .expect("a key count (1k or 100k)");
    let rules = workload::rule_set(w);
    let spec = spec(keys);
    let lines = workload::lines(spec);
    let bytes: usize = lines.iter().map(String::len).sum();
    let (outputs, counters) = match level {
        "nfa" => {
            let rule = Arc::new(rules.rules[0].clone());
            let decoded = workload::decode(&rules, &lines);
            if setup_only {
                (0, Default::default())
            } else {
                let (partition, outputs) = workload::run_nfa(&rule, decoded, true);
                (outputs, partition.counters)
            }
        }
        "pipeline" => {
            if setup_only {
                (0, Default::default())
            } else {
                let (pipeline, outputs) = workload::run_pipeline(&rules, &lines, true);
                (outputs, workload::counters(&pipeline))
            }
        }
        other => panic!("unknown level `{other}` (nfa or pipeline)"),
    };
    println!("{}: {}", w.id, w.title);
    println!(
        "{} {level} keys={keys} events={} mean_line_bytes={} setup_only={setup_only} \
         outputs={outputs} {counters:?}",
        w.id,
        spec.events,
        bytes / spec.events.max(1),
    );
}

fn main() {
    if let Ok(spec_text) = std::env::var("CEPHEUS_BENCH_ONCE") {
        once(&spec_text);
        return;
    }
    // Short defaults for a shared machine; the command-line flags override them.
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .configure_from_args();
    for w in WORKLOADS {
        bench_workload(&mut c, w);
    }
    c.final_summary();
}
