//! The Kafka source: one consumer for the deployment's consumer group (cooperative-sticky
//! assignment), or, for a backfill, a consumer that assigns itself every partition of the
//! source topics from a start position.
//!
//! Offsets: auto-commit is on but offsets are *stored* only by Cepheus, after the broker
//! acknowledged everything their records caused (`enable.auto.offset.store=false`), so
//! librdkafka commits (periodically, on revoke and on close) exactly what is safe to commit.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    Assigned(Vec<(String, i32)>),
    Revoked(Vec<(String, i32)>),
}

/// The consumer's context: forwards rebalances to the supervisor and client errors to the log.
#[derive(Debug)]
pub struct SourceContext {
    changes: UnboundedSender<Assignment>,
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
        if let Rebalance::Revoke(tpl) = rebalance {
            // The receiver lives as long as the consumer's supervisor; a send fails only
            // during shutdown, when nobody needs to know.
            let _ = self.changes.send(Assignment::Revoked(list(tpl)));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let _ = self.changes.send(Assignment::Assigned(list(tpl)));
            }
            Rebalance::Error(e) => {
                crate::daemon::log("warn", format_args!("rebalance failed: {e}"));
            }
            Rebalance::Revoke(_) => {}
        }
    }
}

/// The consumer type of the daemon.
pub type KafkaConsumer = StreamConsumer<SourceContext>;

/// A consumer in `group` with the user's `props` over Cepheus's settings.
pub fn consumer(
    brokers: &str,
    group: &str,
    props: &BTreeMap<String, String>,
    commit_interval: Duration,
    changes: UnboundedSender<Assignment>,
) -> Result<KafkaConsumer, KafkaError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000");
    for (k, v) in props {
        cfg.set(k, v);
    }
    // Set last: correctness depends on them (see the module comment).
    cfg.set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", commit_interval.as_millis().to_string());
    cfg.create_with_context(SourceContext { changes })
}

/// Assigns every partition of each group of topics from its start position (a backfill: no
/// group membership, so the live deployment's group is not rebalanced).
pub fn assign_from(
    consumer: &KafkaConsumer,
    starts: &[(&[String], StartFrom)],
    timeout: Duration,
) -> Result<Vec<(String, i32)>, KafkaError> {
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
    consumer.assign(&tpl)?;
    Ok(list(&tpl))
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
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let made = consumer("127.0.0.1:1", "g", &props, Duration::from_secs(1), tx);
        assert!(made.is_ok(), "{:?}", made.err());

        let mut bad = props.clone();
        bad.insert("security.protocol".into(), "SASL_TELEPATHY".into());
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let err = consumer("127.0.0.1:1", "g", &bad, Duration::from_secs(1), tx).err();
        assert!(
            err.is_some_and(|e| e.to_string().contains("security.protocol")),
            "an invalid value is refused, naming the property"
        );
    }
}
