//! The topics the engine writes: created when missing (if `topics.auto_create`), or checked;
//! and its repartition topics, always created when missing (they are its own, as Kafka
//! Streams' internal topics are), with as many partitions as their largest source topic.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::repartition::Internal;
use super::{Config, DaemonError};

/// How long one metadata or admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes sure every topic of `topics` exists. With auto-creation off, a missing topic is a user
/// error. Broker trouble is an external error (the caller retries).
pub async fn ensure(config: &Config, brokers: &str, topics: &[String]) -> Result<(), DaemonError> {
    let admin = admin(config, brokers)?;
    let md = admin
        .inner()
        .fetch_metadata(None, REQUEST_TIMEOUT)
        .map_err(|e| DaemonError::kafka("fetching metadata", e))?;
    let missing: Vec<&String> =
        topics.iter().filter(|t| !md.topics().iter().any(|m| m.name() == t.as_str())).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !config.topics.auto_create {
        return Err(DaemonError::Config(format!(
            "topics missing and `topics.auto_create` is off: {}",
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let new: Vec<(&str, i32)> =
        missing.iter().map(|t| (t.as_str(), config.topics.partitions)).collect();
    create(config, &admin, &new).await
}

/// Creates the repartition topics that are missing. A source topic that does not exist yet is
/// an external error (the caller retries): its partition count is not known.
pub async fn ensure_internal(
    config: &Config,
    brokers: &str,
    internal: &[Internal],
) -> Result<(), DaemonError> {
    if internal.is_empty() {
        return Ok(());
    }
    let admin = admin(config, brokers)?;
    let md = admin
        .inner()
        .fetch_metadata(None, REQUEST_TIMEOUT)
        .map_err(|e| DaemonError::kafka("fetching metadata", e))?;
    let partitions = |name: &str| {
        md.topics()
            .iter()
            .find(|m| m.name() == name && m.error().is_none())
            .map(|m| m.partitions().len() as i32)
    };
    let mut new = Vec::new();
    for i in internal {
        let mut count = 0;
        for s in &i.sources {
            match partitions(s) {
                Some(n) => count = count.max(n),
                None => {
                    return Err(DaemonError::Kafka {
                        context: format!(
                            "waiting for source topic {s}: {} takes its partition count",
                            i.topic
                        ),
                        source: KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopic),
                    });
                }
            }
        }
        match partitions(&i.topic) {
            None => new.push((i.topic.as_str(), count.max(1))),
            Some(n) if n < count => super::log(
                "warn",
                format_args!(
                    "{} has {n} partitions, fewer than its sources' {count}: keys are still \
                     placed consistently, with less parallelism",
                    i.topic
                ),
            ),
            Some(_) => {}
        }
    }
    create(config, &admin, &new).await?;
    // A consumer that subscribes before the new topics' metadata has spread could miss their
    // partitions until its next metadata refresh: wait until the broker lists them.
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let md = admin
            .inner()
            .fetch_metadata(None, REQUEST_TIMEOUT)
            .map_err(|e| DaemonError::kafka("fetching metadata", e))?;
        let ready = new.iter().all(|(t, n)| {
            md.topics().iter().any(|m| {
                m.name() == *t
                    && m.error().is_none()
                    && m.partitions().len() == *n as usize
                    && m.partitions().iter().all(|p| p.leader() >= 0)
            })
        });
        if ready || std::time::Instant::now() > deadline {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn admin(config: &Config, brokers: &str) -> Result<AdminClient<DefaultClientContext>, DaemonError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers);
    // Security settings apply to the admin client as to the producer.
    for (k, v) in &config.producer {
        if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
            cfg.set(k, v);
        }
    }
    cfg.create().map_err(|e| DaemonError::Config(format!("producer properties: {e}")))
}

async fn create(
    config: &Config,
    admin: &AdminClient<DefaultClientContext>,
    topics: &[(&str, i32)],
) -> Result<(), DaemonError> {
    if topics.is_empty() {
        return Ok(());
    }
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(t, partitions)| {
            NewTopic::new(t, *partitions, TopicReplication::Fixed(config.topics.replication))
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
    let results = admin
        .create_topics(&new, &opts)
        .await
        .map_err(|e| DaemonError::kafka("creating topics", e))?;
    for r in results {
        match r {
            Ok(t) => super::log("info", format_args!("created topic {t}")),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                return Err(DaemonError::kafka(
                    format!("creating topic {t}"),
                    KafkaError::AdminOp(code),
                ));
            }
        }
    }
    Ok(())
}
