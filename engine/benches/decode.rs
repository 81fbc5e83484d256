//! Decoding records: the engine's decoder against serde_json, sonic-rs and simd-json.
//!
//! ```text
//! cargo bench -p cepheus-engine --bench decode -- --warm-up-time 1 --measurement-time 3 --sample-size 10
//! ```
//!
//! Every variant reads the same W1 records (the `nfa` benchmark's stream, 100k keys) and
//! produces the values W1 reads: `event_id`, `user_id`, `event_type`, `timestamp`.
//!
//! - `projector`: the engine's decoder (`Projector::decode_with`), the values as the engine
//!   keeps them (an `Arc<[Val]>` per record, strings shared where they repeat); the id is only
//!   located, as the engine builds it for the events a partial match takes;
//! - `serde_json/dom`: a whole `serde_json::Value` per record;
//! - `serde_json/struct`, `sonic_rs/struct`: a struct of the four fields, strings borrowed
//!   where they have no escape, everything else skipped;
//! - `simd_json/struct`: the same struct, from a copy of the record (simd-json parses in place).
//!
//! The struct variants check less than the engine must: skipping a value, serde_json does not
//! check number ranges or lone surrogates, and the engine rejects exactly what serde_json's
//! DOM rejects, with its message (BENCHMARKS.md, "JSON decoders").

#[allow(dead_code, reason = "the `nfa` benchmark uses the rest of the module")]
mod workload;

use std::borrow::Cow;

use cepheus_engine::event::{StrCache, Val};
use criterion::{Criterion, SamplingMode, Throughput};
use serde::Deserialize;

/// The fields W1 reads, borrowed from the record where possible.
#[derive(Deserialize)]
struct Needed<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    timestamp: i64,
}

fn check(rules: &cepheus_engine::compile::RuleSet, lines: &[String]) {
    // Every variant reads the same values from the first records.
    for line in lines.iter().take(1000) {
        let event = rules.fields.decode_event(0, 0, line).expect("a valid record");
        let fields = &event.fields;
        let s: Needed = serde_json::from_str(line).expect("serde_json");
        let r: Needed = sonic_rs::from_str(line).expect("sonic-rs");
        let mut bytes = line.clone().into_bytes();
        let j: Needed = simd_json::serde::from_slice(&mut bytes).expect("simd-json");
        for n in [&s, &r, &j] {
            let has = |v: &str| fields.iter().any(|f| f.equals(&Val::Str(v.into())));
            assert!(has(&n.user_id) && has(&n.event_type));
            assert_eq!(event.id().as_deref(), Some(&*n.event_id));
            assert!(fields.iter().any(|f| f.equals(&Val::Int(n.timestamp))));
        }
    }
}

fn bench(c: &mut Criterion) {
    let w1 = &workload::WORKLOADS[0];
    let rules = workload::rule_set(w1);
    let lines = workload::lines(workload::StreamSpec {
        events: 100_000,
        keys: 100_000,
        seed: 0x00c0_ffee_cafe_f00d,
    });
    check(&rules, &lines);
    let mut group = c.benchmark_group("decode");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(lines.len() as u64));
    let projector = rules.fields.projector();
    // Every variant decodes every record and returns something of each, so none is optimised
    // away.
    let over =
        |decode: &mut dyn FnMut(&str) -> usize| lines.iter().map(|l| decode(l)).sum::<usize>();
    group.bench_function("projector", |b| {
        let mut cache = StrCache::default();
        b.iter(|| over(&mut |l| projector.decode_with(l, &mut cache).map_or(0, |(f, _)| f.len())))
    });
    group.bench_function("serde_json/dom", |b| {
        b.iter(|| {
            over(&mut |l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("valid");
                v.as_object().map_or(0, |o| o.len())
            })
        })
    });
    group.bench_function("serde_json/struct", |b| {
        b.iter(|| over(&mut |l| serde_json::from_str::<Needed>(l).expect("valid").event_id.len()))
    });
    group.bench_function("sonic_rs/struct", |b| {
        b.iter(|| over(&mut |l| sonic_rs::from_str::<Needed>(l).expect("valid").event_id.len()))
    });
    group.bench_function("simd_json/struct", |b| {
        let mut buf = Vec::new();
        b.iter(|| {
            over(&mut |l| {
                buf.clear();
                buf.extend_from_slice(l.as_bytes());
                let v: Needed = simd_json::serde::from_slice(&mut buf).expect("valid");
                v.event_id.len() + usize::from(v.timestamp > 0)
            })
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
