//! The seeded event stream that both Cepheus and Flink CEP read in the benchmark suite.
//!
//! One JSON object per line, shaped like a wearable's event (150 to 400 bytes, nested
//! `metadata.device`, a tag list, sometimes a location):
//!
//! ```json
//! {"event_id":"evt-000000000042","user_id":"user-0000917","event_type":"B","source":"wearable","metadata":{"value":48.25,"unit":"ms","quality":0.7,"device":{"model":"band-3","firmware":"2.11.4","battery":87},"tags":["rest","synthetic"],"session":"s-0c1f22a9"},"timestamp":1767225600213}
//! ```
//!
//! The workloads read `user_id` (the key), `event_type` (`A`, `B`, `C` or another type that no
//! stage takes), `metadata.value` (W2's sums) and `timestamp` (epoch milliseconds).
//!
//! Time: every key sees one event per `key_interval_ms` on average, whatever the number of keys,
//! so the 10-minute and 5-minute windows of the workloads hold about the same number of events
//! per key at 1k keys as at 1M keys, and every workload sees matches, partial matches that stay
//! open for a while, and windows that run out. Out-of-order arrivals: a share of the events
//! carries a timestamp up to `disorder_ms` earlier than its place in the stream, never more, so
//! with `max_out_of_orderness` equal to `disorder_ms` no event is late (each event's time is at
//! least the largest time before it minus `disorder_ms`).
//!
//! Memory: the generator holds one line at a time; a stream of any length costs the same.

use std::io::{self, Write};

/// SplitMix64: a tiny, well-mixed generator, so a seed gives the same stream on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` for `n > 0` (the modulo bias is far below anything a benchmark can see).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Which stream to write: the mix of event types is tuned per workload so that each produces
/// matches, partial matches and timeouts; `Open` is the memory run's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// A -> B within 10m
    #[value(name = "W1", alias = "w1")]
    W1,
    /// A -> B+ -> C with a sum condition, within 10m
    #[value(name = "W2", alias = "w2")]
    W2,
    /// A B C, strict
    #[value(name = "W3", alias = "w3")]
    W3,
    /// A -> !B -> C
    #[value(name = "W4", alias = "w4")]
    W4,
    /// A not followed by B within 5m
    #[value(name = "W5", alias = "w5")]
    W5,
    /// A tumbling 1-minute count per key (every event counts)
    #[value(name = "W6", alias = "w6")]
    W6,
    /// One `A` per key, in key order, all within one minute: run with W1 and `--no-flush`,
    /// every key then holds exactly one open partial match at the end.
    #[value(name = "open")]
    Open,
}

/// Shares of `A`, `B` and `C` among the events, in per mille; the rest are other types.
#[derive(Debug, Clone, Copy)]
struct Mix {
    a: u64,
    b: u64,
    c: u64,
}

impl Workload {
    fn mix(self) -> Mix {
        match self {
            // About one A and two Bs per key per 10-minute window: most As match, some time out.
            Workload::W1 => Mix { a: 100, b: 200, c: 100 },
            // More Bs, so that sums over the loop pass `first(a) * 3` before the window closes.
            Workload::W2 => Mix { a: 100, b: 300, c: 150 },
            // Strict contiguity needs A, B, C back to back for one key: raise all three.
            Workload::W3 => Mix { a: 200, b: 200, c: 200 },
            // Few Bs, so that an A often reaches a C before a B cuts it off.
            Workload::W4 => Mix { a: 100, b: 100, c: 150 },
            // A B within 5 minutes of an A about half of the time.
            Workload::W5 => Mix { a: 100, b: 150, c: 100 },
            // Every event counts: the mix only keeps the events alike to the other files.
            Workload::W6 => Mix { a: 100, b: 200, c: 100 },
            Workload::Open => Mix { a: 1000, b: 0, c: 0 },
        }
    }
}

/// The shape of one generated stream.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub workload: Workload,
    /// Distinct `user_id`s, uniform over `user-0000000` .. `user-(keys - 1)`.
    pub keys: u64,
    /// Lines to write (for `Open`: equal to `keys`).
    pub events: u64,
    pub seed: u64,
    /// The largest distance, in milliseconds, by which an event's time may lie behind the
    /// largest time written before it.
    pub disorder_ms: u64,
    /// Mean time between two events of one key, in milliseconds.
    pub key_interval_ms: u64,
    /// Event time of the first event, epoch milliseconds.
    pub start_ms: u64,
}

/// 2026-01-01T00:00:00Z.
pub const DEFAULT_START_MS: u64 = 1_767_225_600_000;

/// Share of events, in per mille, that are displaced back in time (by up to `disorder_ms`).
const DISPLACED_PER_MILLE: u64 = 200;

const OTHER_TYPES: &[&str] = &["heartbeat", "sync", "battery_low", "screen_on", "sleep_stage"];
const SOURCES: &[&str] = &["wearable", "phone", "ring", "scale"];
const TAGS: &[&str] = &["night", "rest", "workout", "commute", "sleep", "synthetic", "indoor"];

/// What a generated stream holds, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub bytes: u64,
    pub a: u64,
    pub b: u64,
    pub c: u64,
    /// Events written with a time earlier than the largest time before them.
    pub displaced: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    pub min_line: usize,
    pub max_line: usize,
}

impl Summary {
    /// One JSON object, for stderr and the benchmark's logs.
    pub fn to_json(&self, spec: &Spec) -> String {
        format!(
            concat!(
                r#"{{"workload":"{:?}","keys":{},"events":{},"seed":{},"disorder_ms":{},"#,
                r#""bytes":{},"avg_line":{:.1},"min_line":{},"max_line":{},"#,
                r#""a":{},"b":{},"c":{},"displaced":{},"span_ms":{}}}"#
            ),
            spec.workload,
            spec.keys,
            self.events,
            spec.seed,
            spec.disorder_ms,
            self.bytes,
            self.bytes as f64 / self.events.max(1) as f64,
            self.min_line,
            self.max_line,
            self.a,
            self.b,
            self.c,
            self.displaced,
            self.last_ms.saturating_sub(self.first_ms),
        )
    }
}

/// Why a spec cannot be generated.
#[derive(Debug, PartialEq, Eq)]
pub struct SpecError(pub String);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

impl Spec {
    /// Refuses shapes the generator cannot honour.
    pub fn check(&self) -> Result<(), SpecError> {
        if self.keys == 0 || self.keys > 10_000_000 {
            return Err(SpecError(format!("--keys must be 1 to 10,000,000, got {}", self.keys)));
        }
        if self.events == 0 {
            return Err(SpecError("--events must be at least 1".into()));
        }
        if self.workload == Workload::Open && self.events != self.keys {
            return Err(SpecError(format!(
                "the open stream has one event per key: --events must equal --keys ({}), got {}",
                self.keys, self.events
            )));
        }
        if self.key_interval_ms == 0 {
            return Err(SpecError("--key-interval-ms must be at least 1".into()));
        }
        Ok(())
    }
}

/// The stream of a [`Spec`], one event at a time: `gen` writes it to a file, `produce` sends it
/// to Kafka with the wall clock as event time.
#[derive(Debug)]
pub struct Generator {
    spec: Spec,
    mix: Mix,
    rng: SplitMix64,
    gap_us_max: u64,
    clock_us: u64,
    seq: u64,
}

/// One generated event, its text in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// The event's `user_id` number (the record key is `user-` and seven digits of it).
    pub user: u64,
    /// The event's `timestamp`.
    pub ts: u64,
}

impl Generator {
    /// A generator at the start of `spec`'s stream.
    pub fn new(spec: Spec) -> Self {
        // Stream time advances in microseconds, so that a million keys (a 60-microsecond mean
        // gap between events) still spread over time instead of piling onto whole milliseconds.
        let gap_us_max = if spec.workload == Workload::Open {
            // The whole open stream within one minute: no `within` runs out before its end.
            (120_000_000 / spec.keys.max(1)).max(1)
        } else {
            (2 * spec.key_interval_ms * 1000 / spec.keys.max(1)).max(1)
        };
        Self {
            mix: spec.workload.mix(),
            rng: SplitMix64::new(spec.seed),
            gap_us_max,
            clock_us: spec.start_ms * 1000,
            seq: 0,
            spec,
        }
    }

    /// Writes the next event of the stream into `line` (cleared first, newline included), with
    /// its time from the stream's own clock (and displaced within the disorder bound).
    pub fn next_event(&mut self, line: &mut Vec<u8>) -> io::Result<Generated> {
        self.clock_us += self.rng.below(self.gap_us_max + 1);
        let now_ms = self.clock_us / 1000;
        let mut ts = now_ms;
        if self.spec.disorder_ms > 0 && self.rng.below(1000) < DISPLACED_PER_MILLE {
            // `now_ms` is at least every time written so far, so going back at most
            // `disorder_ms` from it keeps the bound.
            ts = now_ms.saturating_sub(self.rng.below(self.spec.disorder_ms + 1));
            ts = ts.max(self.spec.start_ms);
        }
        self.event_at(line, ts)
    }

    /// Writes the next event into `line` with the given time (for live streams, where time is
    /// the wall clock), in the order the caller gives.
    pub fn event_at(&mut self, line: &mut Vec<u8>, ts: u64) -> io::Result<Generated> {
        let seq = self.seq;
        self.seq += 1;
        let user =
            if self.spec.workload == Workload::Open { seq } else { self.rng.below(self.spec.keys) };
        let roll = self.rng.below(1000);
        let mix = self.mix;
        let event_type = if roll < mix.a {
            "A"
        } else if roll < mix.a + mix.b {
            "B"
        } else if roll < mix.a + mix.b + mix.c {
            "C"
        } else {
            OTHER_TYPES[self.rng.below(OTHER_TYPES.len() as u64) as usize]
        };
        line.clear();
        write_event(line, &mut self.rng, seq, user, event_type, ts)?;
        Ok(Generated { user, ts })
    }
}

/// Writes the stream of `spec` to `out`, one line per event.
pub fn generate<W: Write>(spec: &Spec, out: &mut W) -> io::Result<Summary> {
    let mut generator = Generator::new(*spec);
    let mut summary = Summary {
        first_ms: spec.start_ms,
        last_ms: spec.start_ms,
        min_line: usize::MAX,
        ..Summary::default()
    };
    let mut max_ms = spec.start_ms;
    let mut line = Vec::with_capacity(512);
    for _ in 0..spec.events {
        let event = generator.next_event(&mut line)?;
        if event.ts < max_ms {
            summary.displaced += 1;
        }
        max_ms = max_ms.max(event.ts);
        summary.first_ms = summary.first_ms.min(event.ts);
        summary.last_ms = summary.last_ms.max(event.ts);
        // The type is the first value after `"event_type":"`; counting it here keeps the
        // generator free of bookkeeping that `produce` does not need.
        match type_letter(&line) {
            Some(b'A') => summary.a += 1,
            Some(b'B') => summary.b += 1,
            Some(b'C') => summary.c += 1,
            _ => {}
        }
        summary.min_line = summary.min_line.min(line.len() - 1);
        summary.max_line = summary.max_line.max(line.len() - 1);
        summary.bytes += line.len() as u64;
        out.write_all(&line)?;
    }
    summary.events = spec.events;
    if spec.events == 0 {
        summary.min_line = 0;
    }
    Ok(summary)
}

/// `A`, `B` or `C` when the line's `event_type` is that one letter.
fn type_letter(line: &[u8]) -> Option<u8> {
    const FIELD: &[u8] = br#""event_type":""#;
    let at = line.windows(FIELD.len()).position(|w| w == FIELD)? + FIELD.len();
    match line.get(at..at + 2)? {
        [letter @ (b'A' | b'B' | b'C'), b'"'] => Some(*letter),
        _ => None,
    }
}

/// One event as a JSON line (newline included). Every string is plain ASCII from fixed lists or
/// digits, so nothing needs escaping.
fn write_event(
    line: &mut Vec<u8>,
    rng: &mut SplitMix64,
    seq: u64,
    user: u64,
    event_type: &str,
    ts: u64,
) -> io::Result<()> {
    // Two decimals written from an integer: both sides parse the same text into the same double.
    let value = rng.below(10_000);
    let source = SOURCES[rng.below(SOURCES.len() as u64) as usize];
    write!(
        line,
        concat!(
            r#"{{"event_id":"evt-{:012}","user_id":"user-{:07}","event_type":"{}","#,
            r#""source":"{}","metadata":{{"value":{}.{:02},"unit":"ms","quality":0.{},"#,
            r#""device":{{"model":"band-{}","firmware":"2.{}.{}","battery":{}}},"tags":["#
        ),
        seq,
        user,
        event_type,
        source,
        value / 100,
        value % 100,
        rng.below(10),
        rng.below(8),
        rng.below(20),
        rng.below(10),
        rng.below(101),
    )?;
    let tags = 1 + rng.below(3);
    for i in 0..tags {
        if i > 0 {
            line.push(b',');
        }
        write!(line, "\"{}\"", TAGS[rng.below(TAGS.len() as u64) as usize])?;
    }
    line.push(b']');
    if rng.below(2) == 0 {
        write!(
            line,
            r#","location":{{"lat":{}.{:04},"lon":{}.{:04},"accuracy_m":{}}}"#,
            rng.below(60) + 10,
            rng.below(10_000),
            rng.below(30),
            rng.below(10_000),
            rng.below(50) + 1,
        )?;
    }
    writeln!(line, r#","session":"s-{:08x}"}},"timestamp":{}}}"#, rng.next_u64() as u32, ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(workload: Workload, keys: u64, events: u64, disorder_ms: u64) -> Spec {
        Spec {
            workload,
            keys,
            events,
            seed: 7,
            disorder_ms,
            key_interval_ms: 60_000,
            start_ms: DEFAULT_START_MS,
        }
    }

    fn lines(spec: &Spec) -> (Vec<serde_json::Value>, Summary) {
        let mut out = Vec::new();
        let summary = generate(spec, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let values = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (values, summary)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let s = spec(Workload::W1, 1000, 2000, 2000);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(&s, &mut a).unwrap();
        generate(&s, &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        generate(&Spec { seed: 8, ..s }, &mut c).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn every_line_is_a_nested_event_of_150_to_400_bytes() {
        let (events, summary) = lines(&spec(Workload::W2, 1000, 5000, 0));
        assert_eq!(events.len(), 5000);
        assert!(summary.min_line >= 150 && summary.max_line <= 400, "{summary:?}");
        for e in &events {
            assert!(e["user_id"].as_str().unwrap().starts_with("user-"));
            assert!(e["metadata"]["value"].is_f64());
            assert!(e["metadata"]["device"]["battery"].is_u64());
            assert!(e["timestamp"].is_u64());
        }
    }

    #[test]
    fn no_event_is_further_behind_than_the_disorder_bound() {
        let disorder = 3_000;
        let (events, summary) = lines(&spec(Workload::W1, 50, 20_000, disorder));
        let mut max = 0;
        for e in &events {
            let ts = e["timestamp"].as_u64().unwrap();
            assert!(ts + disorder >= max, "{ts} is more than {disorder} ms behind {max}");
            max = max.max(ts);
        }
        // And the disorder is really there, not just allowed.
        assert!(summary.displaced > 1000, "{summary:?}");
    }

    #[test]
    fn without_disorder_times_never_decrease() {
        let (events, summary) = lines(&spec(Workload::W3, 10, 5000, 0));
        let ts: Vec<u64> = events.iter().map(|e| e["timestamp"].as_u64().unwrap()).collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(summary.displaced, 0);
    }

    #[test]
    fn keys_are_spread_over_the_whole_range() {
        let (events, _) = lines(&spec(Workload::W1, 100, 20_000, 0));
        let keys: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e["user_id"].as_str().unwrap()).collect();
        assert_eq!(keys.len(), 100);
        assert!(keys.contains("user-0000000") && keys.contains("user-0000099"));
    }

    #[test]
    fn each_key_sees_about_one_event_per_key_interval() {
        // 1000 keys, one event per key per minute on average: 60,000 events span about an hour.
        let (_, summary) = lines(&spec(Workload::W1, 1000, 60_000, 0));
        let span = summary.last_ms - summary.first_ms;
        assert!((3_300_000..3_900_000).contains(&span), "{span}");
    }

    #[test]
    fn the_mix_follows_the_workload() {
        let (_, w3) = lines(&spec(Workload::W3, 100, 20_000, 0));
        let (_, w4) = lines(&spec(Workload::W4, 100, 20_000, 0));
        assert!((3_600..4_400).contains(&w3.a), "{w3:?}");
        assert!((1_600..2_400).contains(&w4.b), "{w4:?}");
    }

    #[test]
    fn the_open_stream_is_one_a_per_key_within_a_minute() {
        let (events, summary) = lines(&spec(Workload::Open, 5000, 5000, 0));
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["user_id"], format!("user-{i:07}"));
            assert_eq!(e["event_type"], "A");
        }
        assert!(summary.last_ms - summary.first_ms <= 120_000);
    }

    #[test]
    fn shapes_that_cannot_be_generated_are_refused() {
        assert!(spec(Workload::W1, 0, 10, 0).check().is_err());
        assert!(spec(Workload::W1, 10, 0, 0).check().is_err());
        assert!(spec(Workload::Open, 10, 11, 0).check().is_err());
        assert!(spec(Workload::Open, 10, 10, 0).check().is_ok());
    }
}
