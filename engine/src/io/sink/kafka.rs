//! The Kafka sink: [`OutRecord`]s to their topics through one idempotent producer shared by all
//! partition workers. [`KafkaSink::send`] hands a record to librdkafka and returns the future of
//! its acknowledgement; the caller decides what an acknowledgement allows (storing an offset).

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use super::OutRecord;

/// A shared producer.
#[derive(Clone)]
pub struct KafkaSink {
    producer: FutureProducer,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink").finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A producer for `brokers` with the user's `props` over Cepheus's defaults. Idempotence is
    /// on, so librdkafka's retries never duplicate or reorder a partition's records.
    pub fn new(brokers: &str, props: &BTreeMap<String, String>) -> Result<KafkaSink, KafkaError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("compression.type", "lz4");
        for (k, v) in props {
            cfg.set(k, v);
        }
        Ok(KafkaSink { producer: cfg.create()? })
    }

    /// Queues `rec`; when librdkafka's queue is full, waits for room (backpressure on the
    /// worker that produced it) instead of failing or growing.
    pub async fn send(&self, rec: &OutRecord) -> Result<DeliveryFuture, KafkaError> {
        let mut headers = OwnedHeaders::new_with_capacity(rec.headers.len());
        for (k, v) in &rec.headers {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&rec.topic).payload(&rec.payload[..]).headers(headers);
        if let Some(k) = &rec.key {
            record = record.key(&k[..]);
        }
        if let Some(p) = rec.partition {
            record = record.partition(p);
        }
        if let Some(t) = rec.timestamp {
            record = record.timestamp(t);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(f) => return Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Waits until every queued record is acknowledged (or `timeout` passes).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}
