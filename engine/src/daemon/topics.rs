//! The topics the engine writes: created when missing (if `topics.auto_create`), or checked.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::{Config, DaemonError};

/// How long one metadata or admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes sure every topic of `topics` exists. With auto-creation off, a missing topic is a user
/// error. Broker trouble is an external error (the caller retries).
pub async fn ensure(config: &Config, brokers: &str, topics: &[String]) -> Result<(), DaemonError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers);
    // Security settings apply to the admin client as to the producer.
    for (k, v) in &config.producer {
        if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
            cfg.set(k, v);
        }
    }
    let admin: AdminClient<DefaultClientContext> =
        cfg.create().map_err(|e| DaemonError::Config(format!("producer properties: {e}")))?;
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
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                config.topics.partitions,
                TopicReplication::Fixed(config.topics.replication),
            )
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
