//! The Kafka source: one consumer for the deployment's consumer group (cooperative-sticky
//! assignment), or, for a backfill, a consumer that assigns itself every partition of the
//! source topics from a start position.
//!
//! Offsets: auto-commit is on but offsets are *stored* only by Cepheus, after the broker
//! acknowledged everything their records caused (`enable.auto.offset.store=false`), so
//! librdkafka commits (periodically, on revoke and on close) exactly what is safe to commit.
//!
//! Partition queues: every assigned partition's records arrive on a queue of its own
//! ([`PartitionQueue`]), which the partition's worker reads directly, so a record is never copied
//! or handed between threads. A queue is split off before its partition's fetching starts (in the
//! rebalance callback, before librdkafka applies the assignment; for a backfill, before
//! `assign`), so no record of it ever reaches the consumer's main queue; the main queue still
//! carries rebalances and errors and must keep being polled. librdkafka stops fetching a
//! partition whose queue holds `queued.min.messages` records (set from
//! `limits.queue_capacity`): a worker that falls behind bounds its own prefetch, without pausing.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc::UnboundedSender;

/// Where a run starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// The group's committed offsets (new partitions: `auto.offset.reset`, default earliest).
    Committed,
    /// The beginning of every partition.
    Earliest,
    /// The end of every partition: only records produced from now on.
    Latest,
    /// The first record at or after this time (epoch milliseconds) in every partition.
    Time(i64),
}

impl std::str::FromStr for StartFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<StartFrom, String> {
        match s {
            "earliest" => Ok(StartFrom::Earliest),
            "latest" => Ok(StartFrom::Latest),
            _ => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| StartFrom::Time(t.timestamp_millis()))
                .map_err(|e| {
                    format!("`{s}` is not `earliest`, `latest` or an RFC 3339 time ({e})")
                }),
        }
    }
}

/// A change of this consumer's partitions, reported from librdkafka's rebalance callback.
#[derive(Debug)]
pub enum Assignment {
    /// Partitions now ours, each with the queue its records arrive on.
    Assigned(Vec<AssignedPartition>),
    /// Partitions no longer ours: their queues must be dropped.
    Revoked(Vec<(String, i32)>),
}

/// The records of one partition of one topic, read by its worker.
pub type PartitionQueue = StreamPartitionQueue<SourceContext>;

/// An assigned partition and its own queue.
pub struct AssignedPartition {
    pub topic: String,
    pub partition: i32,
    pub queue: PartitionQueue,
}

impl std::fmt::Debug for AssignedPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// The consumer's context: splits assigned partitions' queues off, forwards rebalances to the
/// supervisor and client errors to the log.
#[derive(Debug)]
pub struct SourceContext {
    changes: UnboundedSender<Assignment>,
    /// The consumer itself, set once it exists: queues are split through it. Weak, because the
    /// consumer owns its context.
    consumer: OnceLock<Weak<KafkaConsumer>>,
}

impl SourceContext {
    /// Splits off the queue of every partition of `tpl`. A partition whose queue cannot be
    /// split (only while the consumer is being dropped) is left out and logged: its records
    /// would reach the main queue, which the supervisor treats as a bug.
    fn split(&self, tpl: &TopicPartitionList) -> Vec<AssignedPartition> {
        let consumer = self.consumer.get().and_then(Weak::upgrade);
        let mut parts = Vec::with_capacity(tpl.count());
        for e in tpl.elements() {
            let queue =
                consumer.as_ref().and_then(|c| c.split_partition_queue(e.topic(), e.partition()));
            match queue {
                Some(queue) => parts.push(AssignedPartition {
                    topic: e.topic().to_string(),
                    partition: e.partition(),
                    queue,
                }),
                None => crate::daemon::log(
                    "warn",
                    format_args!("no queue for {}[{}]", e.topic(), e.partition()),
                ),
            }
        }
        parts
    }
}

fn list(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

impl ClientContext for SourceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka reconnects on its own with back-off; this only reports.
        crate::daemon::log("warn", format_args!("kafka consumer: {error}: {reason}"));
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // The receiver lives as long as the consumer's supervisor; a send fails only during
        // shutdown, when nobody needs to know.
        match rebalance {
            // Before librdkafka applies the assignment: fetching has not started, so every
            // record of these partitions arrives on their own queues.
            Rebalance::Assign(tpl) => {
                let _ = self.changes.send(Assignment::Assigned(self.split(tpl)));
            }
            Rebalance::Revoke(tpl) => {
                let _ = self.changes.send(Assignment::Revoked(list(tpl)));
            }
            Rebalance::Error(_) => {}
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(e) = rebalance {
            crate::daemon::log("warn", format_args!("rebalance failed: {e}"));
        }
    }
}

/// The consumer type of the daemon.
pub type KafkaConsumer = StreamConsumer<SourceContext>;

/// How a consumer is set up, besides the user's properties.
#[derive(Debug, Clone)]
pub struct ConsumerSettings<'a> {
    pub brokers: &'a str,
    pub group: &'a str,
    /// The user's librdkafka properties, over Cepheus's defaults.
    pub props: &'a BTreeMap<String, String>,
    pub commit_interval: Duration,
    /// Records prefetched per partition before its fetching stops (`queued.min.messages`).
    pub queue_capacity: usize,
}

/// A consumer in `group` with the user's `props` over Cepheus's settings.
pub fn consumer(
    settings: &ConsumerSettings<'_>,
    changes: UnboundedSender<Assignment>,
) -> Result<Arc<KafkaConsumer>, KafkaError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", settings.brokers)
        .set("group.id", settings.group)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        // Per partition, since every partition has its own queue.
        .set("queued.min.messages", settings.queue_capacity.clamp(1, 10_000_000).to_string())
        // A full queue postpones its partition's next fetch by this much (librdkafka's default,
        // a second, leaves a worker that drains its queue faster than that without records).
        .set("fetch.queue.backoff.ms", "10");
    for (k, v) in settings.props {
        cfg.set(k, v);
    }
    // Set last: correctness depends on them (see the module comment).
    cfg.set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", settings.commit_interval.as_millis().to_string());
    let consumer: Arc<KafkaConsumer> =
        Arc::new(cfg.create_with_context(SourceContext { changes, consumer: OnceLock::new() })?);
    // Before any poll, so before any rebalance callback.
    let _ = consumer.context().consumer.set(Arc::downgrade(&consumer));
    Ok(consumer)
}

/// Assigns every partition of each group of topics from its start position (a backfill: no
/// group membership, so the live deployment's group is not rebalanced), and returns the
/// partitions with their queues.
pub fn assign_from(
    consumer: &Arc<KafkaConsumer>,
    starts: &[(&[String], StartFrom)],
    timeout: Duration,
) -> Result<Vec<AssignedPartition>, KafkaError> {
    let mut tpl = TopicPartitionList::new();
    let mut times = TopicPartitionList::new();
    for (topics, from) in starts {
        for topic in *topics {
            let md = consumer.fetch_metadata(Some(topic), timeout)?;
            for t in md.topics() {
                if let Some(err) = t.error() {
                    return Err(KafkaError::MetadataFetch(err.into()));
                }
                for p in t.partitions() {
                    match *from {
                        StartFrom::Earliest | StartFrom::Committed => {
                            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?
                        }
                        StartFrom::Latest => {
                            // Resolved now, not when fetching starts: a repartition topic gets
                            // records from this very run before its first fetch.
                            let (_, high) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
                            tpl.add_partition_offset(topic, p.id(), Offset::Offset(high))?
                        }
                        StartFrom::Time(ms) => {
                            times.add_partition_offset(topic, p.id(), Offset::Offset(ms))?
                        }
                    }
                }
            }
        }
    }
    if times.count() > 0 {
        // Offsets for times: the broker answers, per partition, the first offset whose
        // timestamp is at or after the time (or the end, when there is none).
        let found = consumer.offsets_for_times(times, timeout)?;
        for e in found.elements() {
            let offset = match e.offset() {
                Offset::Invalid => Offset::End,
                o => o,
            };
            tpl.add_partition_offset(e.topic(), e.partition(), offset)?;
        }
    }
    // Split before assigning, so fetching starts into the partitions' own queues.
    let parts = consumer.context().split(&tpl);
    consumer.assign(&tpl)?;
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Security settings pass through and librdkafka accepts them: it was built with TLS and
    /// SASL SCRAM (a build without them refuses `SASL_SSL` when the client is created).
    #[tokio::test]
    async fn tls_and_scram_settings_are_accepted() {
        let props: BTreeMap<String, String> = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "SCRAM-SHA-256"),
            ("sasl.username", "cepheus"),
            ("sasl.password", "secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let settings = |props| ConsumerSettings {
            brokers: "127.0.0.1:1",
            group: "g",
            props,
            commit_interval: Duration::from_secs(1),
            queue_capacity: 10_000,
        };
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let made = consumer(&settings(&props), tx);
        assert!(made.is_ok(), "{:?}", made.err());

        let mut bad = props.clone();
        bad.insert("security.protocol".into(), "SASL_TELEPATHY".into());
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let err = consumer(&settings(&bad), tx).err();
        assert!(
            err.is_some_and(|e| e.to_string().contains("security.protocol")),
            "an invalid value is refused, naming the property"
        );
    }
}
