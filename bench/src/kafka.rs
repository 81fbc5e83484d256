//! The end-to-end part of the suite: `produce` sends a generated stream to a Kafka topic at a
//! fixed rate with the wall clock as event time; `latency` reads the triggers `cepheus run`
//! writes and measures, for each, the time from its last event's timestamp (when that event was
//! produced) to the trigger's arrival at the consumer.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::stream::{Generator, Spec};

/// Milliseconds since the Unix epoch by the wall clock. Latency across processes can only be
/// measured against the clock both sides share, so the benchmark reads it directly.
#[allow(clippy::disallowed_methods)]
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What `produce` sent.
#[derive(Debug)]
pub struct Produced {
    pub events: u64,
    pub seconds: f64,
}

/// Sends `spec`'s stream (its keys, mix and seed; times from the wall clock, in order) to
/// `topic` at `rate` events per second for `seconds`, keyed by `user_id`, each record's
/// timestamp equal to the event's `timestamp`. With `tee`, every event sent is also written
/// there, in the order sent (for replaying the same events and comparing the triggers).
pub fn produce(
    brokers: &str,
    topic: &str,
    spec: Spec,
    rate: u64,
    seconds: u64,
    tee: Option<&PathBuf>,
) -> anyhow::Result<Produced> {
    let mut tee = match tee {
        Some(path) => Some(BufWriter::with_capacity(
            1 << 20,
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .context("creating the Kafka producer")?;
    let mut generator = Generator::new(spec);
    let mut line = Vec::with_capacity(512);
    let start = Instant::now();
    let end = Duration::from_secs(seconds);
    let mut sent: u64 = 0;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= end {
            break;
        }
        // Pacing by the total so far: a late wake-up sends the backlog at once, so the mean
        // rate holds even when the sleeps overshoot.
        let due = (rate as f64 * elapsed.as_secs_f64()) as u64;
        while sent < due {
            let ts = wall_ms();
            let event = generator.event_at(&mut line, ts)?;
            let key = format!("user-{:07}", event.user);
            let payload = &line[..line.len() - 1];
            let record = BaseRecord::to(topic).key(&key).payload(payload).timestamp(ts as i64);
            send_waiting(&producer, record)?;
            if let Some(t) = tee.as_mut() {
                t.write_all(&line)?;
            }
            sent += 1;
        }
        producer.poll(Duration::ZERO);
        thread::sleep(Duration::from_millis(1));
    }
    producer.flush(Duration::from_secs(60)).context("flushing the producer")?;
    if let Some(mut t) = tee {
        t.flush()?;
    }
    Ok(Produced { events: sent, seconds: start.elapsed().as_secs_f64() })
}

/// Queues `record`, waiting while librdkafka's queue is full.
fn send_waiting<K, P>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, P>,
) -> anyhow::Result<()>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(e).context("sending an event"),
        }
    }
}

/// Sends every line of `file` (JSON lines, e.g. a `gen` file) to `topic` as fast as the producer
/// takes them, keyed by the value of the top-level string field `key_field`, each record's
/// timestamp the event's own time (field `timestamp`, epoch milliseconds) when it has one.
/// Returns the number of records sent.
pub fn load(brokers: &str, topic: &str, file: &PathBuf, key_field: &str) -> anyhow::Result<u64> {
    use std::io::BufRead as _;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .context("creating the Kafka producer")?;
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        File::open(file).with_context(|| format!("opening {}", file.display()))?,
    );
    let mut sent = 0;
    for line in reader.lines() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let key = value.get(key_field).and_then(|k| k.as_str()).map(str::to_string);
        let ts = value.get("timestamp").and_then(serde_json::Value::as_i64);
        let mut record: BaseRecord<'_, str, str> = BaseRecord::to(topic).payload(&line);
        if let Some(k) = &key {
            record = record.key(k);
        }
        if let Some(t) = ts {
            record = record.timestamp(t);
        }
        send_waiting(&producer, record)?;
        sent += 1;
        if sent % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).context("flushing the producer")?;
    Ok(sent)
}

/// How fast a consumer group worked through a topic.
#[derive(Debug)]
pub struct Drained {
    /// Records committed between the first progress seen and the end.
    pub events: u64,
    /// From the first poll that saw commits to the poll that saw the topic fully committed.
    pub seconds: f64,
    /// From the start of `drain` (started with the engine) to the end: includes joining.
    pub total_seconds: f64,
}

/// Watches `group`'s committed offsets on `topic` (polling every `every`) until they reach the
/// end of every partition, or `timeout` passes. The group's members commit as they go; the
/// first poll that sees any commit starts the clock, so joining the group is not counted.
pub fn drain(
    brokers: &str,
    group: &str,
    topic: &str,
    every: Duration,
    timeout: Duration,
) -> anyhow::Result<Drained> {
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the Kafka consumer")?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("metadata of {topic}"))?;
    let partitions: Vec<i32> =
        md.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    anyhow::ensure!(!partitions.is_empty(), "{topic} has no partitions");
    let mut end = 0i64;
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let (_, high) = consumer.fetch_watermarks(topic, *p, Duration::from_secs(10))?;
        end += high;
        tpl.add_partition(topic, *p);
    }
    let start = Instant::now();
    let mut first: Option<(Instant, i64)> = None;
    loop {
        anyhow::ensure!(start.elapsed() < timeout, "{group} did not finish {topic} in time");
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .context("reading committed offsets")?;
        let done: i64 = committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum();
        if first.is_none() && done > 0 {
            first = Some((Instant::now(), done));
        }
        if done >= end {
            let (t0, at0) = first.unwrap_or((start, 0));
            return Ok(Drained {
                events: (end - at0) as u64,
                seconds: t0.elapsed().as_secs_f64(),
                total_seconds: start.elapsed().as_secs_f64(),
            });
        }
        thread::sleep(every);
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, PartialEq)]
pub struct Latencies {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// Percentiles of `sorted` (ascending): the smallest value with at least that share of values
/// at or below it.
pub fn percentiles(sorted: &[u64]) -> Option<Latencies> {
    let last = *sorted.last()?;
    let at = |q: f64| {
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    };
    Some(Latencies {
        count: sorted.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: last,
    })
}

/// The trigger's `timestamp` (RFC 3339: the event time of the match's last event) in epoch ms.
fn trigger_time(payload: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let text = value.get("timestamp")?.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(t.timestamp_millis()).ok()
}

/// Reads `topic` from its beginning until `seconds` have passed, or `idle_seconds` without a
/// record once the first has arrived; returns the sorted latencies (ms) of the triggers it read
/// and how many records it could not read as a trigger. Writes the latencies to `out` when given.
/// Errors from the broker (a topic not created yet, a reconnect) are reported on stderr and
/// waited out: librdkafka recovers from them on its own.
pub fn latency(
    brokers: &str,
    topic: &str,
    seconds: u64,
    idle_seconds: u64,
    out: Option<&PathBuf>,
) -> anyhow::Result<(Vec<u64>, u64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("cepheus-bench-latency-{}-{}", std::process::id(), wall_ms()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .context("creating the Kafka consumer")?;
    consumer.subscribe(&[topic]).with_context(|| format!("subscribing to {topic}"))?;
    let start = Instant::now();
    let mut last = None::<Instant>;
    let mut latencies = Vec::new();
    let mut unreadable = 0;
    while start.elapsed() < Duration::from_secs(seconds)
        && last.is_none_or(|t| t.elapsed() < Duration::from_secs(idle_seconds))
    {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let arrived = wall_ms();
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                eprintln!("cepheus-bench latency: {topic}: {e}");
                continue;
            }
        };
        last = Some(Instant::now());
        match message.payload().and_then(trigger_time) {
            Some(ts) => latencies.push(arrived.saturating_sub(ts)),
            None => unreadable += 1,
        }
    }
    latencies.sort_unstable();
    if let Some(path) = out {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(file);
        for l in &latencies {
            writeln!(w, "{l}")?;
        }
        w.flush()?;
    }
    Ok((latencies, unreadable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_smallest_value_covering_the_share() {
        let values: Vec<u64> = (1..=1000).collect();
        let p = percentiles(&values).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.p999, p.max), (500, 900, 990, 999, 1000));
        let one = percentiles(&[7]).unwrap();
        assert_eq!((one.p50, one.p999, one.count), (7, 7, 1));
        assert_eq!(percentiles(&[]), None);
    }

    #[test]
    fn trigger_times_are_read_from_rfc3339() {
        let t = br#"{"rule":"w1","timestamp":"2026-01-01T00:00:00.250Z"}"#;
        assert_eq!(trigger_time(t), Some(1_767_225_600_250));
        assert_eq!(trigger_time(br#"{"timestamp":1}"#), None);
        assert_eq!(trigger_time(b"not json"), None);
    }
}
