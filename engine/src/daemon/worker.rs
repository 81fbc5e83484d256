//! A partition worker: owns the [`Pipeline`] of one partition number (partition `p` of every
//! source topic, co-partitioned as Kafka Streams does), feeds it the records queued for it, and
//! sends what it emits to the [`KafkaSink`].
//!
//! Commit protocol (at least once): for every record, the acknowledgements of the records it
//! caused (triggers, DLQ, late) go, in input order, to the worker's committer, which awaits them
//! and only then stores the record's next offset; librdkafka commits stored offsets. A record
//! whose outputs were not all acknowledged is never committed, so after a crash it is read
//! again. Outputs of time passing (an idle partition's timeouts) are awaited in the same order.
//! Partial matches live in memory: after a restart they start empty (durable state is the next
//! step, with exactly-once).
//!
//! Idleness: when no record arrives for `idle_timeout`, the partition's event time moves to the
//! wall clock (read through [`crate::runtime::clock`]), and again after every further
//! `idle_timeout`, so `within` timeouts and absences fire without new events.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::DeliveryFuture;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::DaemonError;
use crate::io::sink::kafka::KafkaSink;
use crate::io::sink::{OutRecord, Router, SourceRef};
use crate::io::source::kafka::KafkaConsumer;
use crate::runtime::{Pipeline, StepResult, clock};

/// What every worker shares.
pub struct Shared {
    /// Per rule, where it reads (see [`super::repartition`]).
    pub routes: Vec<crate::runtime::Route>,
    pub router: Router,
    pub rules: Arc<crate::compile::RuleSet>,
    pub sink: KafkaSink,
    pub consumer: Arc<KafkaConsumer>,
    pub limits: crate::runtime::Limits,
    pub max_record_bytes: usize,
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("router", &self.router).finish_non_exhaustive()
    }
}

/// Acknowledgements still awaited for one record (or one step of idle time).
struct Pending {
    /// The record's (topic, partition, offset); `None` for outputs of time passing.
    offset: Option<(String, i32, i64)>,
    acks: Vec<(String, DeliveryFuture)>,
}

/// Acknowledgements a worker may have outstanding before it waits (bounds memory when the
/// broker is slow: the worker stops, its queue fills, the partition is paused).
const PENDING_CAPACITY: usize = 4096;

/// A running worker.
#[derive(Debug)]
pub struct Worker {
    pub tx: mpsc::Sender<OwnedMessage>,
    pub join: JoinHandle<Result<(), DaemonError>>,
}

/// Starts the worker of partition number `partition`, with a queue of `capacity` records, on
/// the worker threads of `threads`.
pub fn spawn(
    partition: i32,
    shared: Arc<Shared>,
    capacity: usize,
    threads: &tokio::runtime::Handle,
) -> Worker {
    let (tx, rx) = mpsc::channel(capacity);
    let join = threads.spawn(run(partition, shared, rx));
    Worker { tx, join }
}

async fn run(
    partition: i32,
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<OwnedMessage>,
) -> Result<(), DaemonError> {
    let (ptx, prx) = mpsc::channel(PENDING_CAPACITY);
    let committer = tokio::spawn(commit_loop(Arc::clone(&shared.consumer), prx));
    let mut pipeline = Pipeline::new(Arc::clone(&shared.rules), false, shared.limits);
    pipeline.set_routes(shared.routes.clone());
    let mut step = StepResult::default();
    let mut records: Vec<OutRecord> = Vec::new();
    let mut seq: u64 = 0;
    let result = async {
        loop {
            let msg = match tokio::time::timeout(shared.idle_timeout, rx.recv()).await {
                Ok(Some(msg)) => msg,
                // The supervisor dropped the queue: revoked, or shutting down.
                Ok(None) => break,
                Err(_) => {
                    pipeline.advance_to(clock::wall_millis(), &mut step);
                    shared.router.route(&mut step, None, &mut records);
                    send(&shared, &ptx, None, &mut records).await?;
                    continue;
                }
            };
            seq += 1;
            let payload = msg.payload().unwrap_or_default();
            let through = shared.routes.iter().any(|r| {
                matches!(r, crate::runtime::Route::Repartition { topic } if topic == msg.topic())
            });
            let origin = if through { origin(&msg) } else { None };
            let src = SourceRef {
                topic: origin.map_or(msg.topic(), |o| o.0),
                partition: origin.map_or(msg.partition(), |o| o.1),
                offset: origin.map_or(msg.offset(), |o| o.2),
                timestamp: msg.timestamp().to_millis(),
                key: msg.key(),
                payload,
            };
            if payload.len() > shared.max_record_bytes {
                let error = format!(
                    "record of {} bytes exceeds limits.max_record_bytes ({})",
                    payload.len(),
                    shared.max_record_bytes
                );
                records.push(shared.router.dead_letter(&src, None, &error));
            } else {
                match std::str::from_utf8(payload) {
                    Ok(text) => {
                        let ts = src.timestamp.unwrap_or(0);
                        pipeline.offer_from(Some(msg.topic()), text, seq, ts, &mut step);
                        shared.router.route(&mut step, Some(&src), &mut records);
                    }
                    Err(e) => {
                        records.push(shared.router.dead_letter(
                            &src,
                            None,
                            &format!("not UTF-8: {e}"),
                        ));
                    }
                }
            }
            let at = Some((msg.topic().to_string(), msg.partition(), msg.offset()));
            send(&shared, &ptx, at, &mut records).await?;
        }
        Ok::<(), DaemonError>(())
    }
    .await;
    // Whatever happened, let the committer finish what was acknowledged.
    drop(ptx);
    let committed = committer
        .await
        .map_err(|e| DaemonError::Internal(format!("committer of partition {partition}: {e}")))?;
    result.and(committed)
}

/// Where a record read from a repartition topic was first read (from the headers its forward
/// carries), so DLQ and late records name the user's topic, not the engine's.
fn origin(msg: &OwnedMessage) -> Option<(&str, i32, i64)> {
    use crate::io::sink::headers as h;
    use rdkafka::message::Headers;
    let headers = msg.headers()?;
    let get = |name: &str| {
        headers
            .iter()
            .find(|x| x.key == name)
            .and_then(|x| x.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    };
    Some((
        get(h::SOURCE_TOPIC)?,
        get(h::SOURCE_PARTITION)?.parse().ok()?,
        get(h::SOURCE_OFFSET)?.parse().ok()?,
    ))
}

async fn send(
    shared: &Shared,
    pending: &mpsc::Sender<Pending>,
    offset: Option<(String, i32, i64)>,
    records: &mut Vec<OutRecord>,
) -> Result<(), DaemonError> {
    if records.is_empty() && offset.is_none() {
        return Ok(());
    }
    let mut acks = Vec::with_capacity(records.len());
    for r in records.drain(..) {
        let ack = shared
            .sink
            .send(&r)
            .await
            .map_err(|e| DaemonError::kafka(format!("producing to {}", r.topic), e))?;
        acks.push((r.topic, ack));
    }
    pending
        .send(Pending { offset, acks })
        .await
        .map_err(|_| DaemonError::Internal("the committer stopped early".into()))
}

/// Awaits acknowledgements in input order and stores each record's next offset after them.
async fn commit_loop(
    consumer: Arc<KafkaConsumer>,
    mut rx: mpsc::Receiver<Pending>,
) -> Result<(), DaemonError> {
    while let Some(p) = rx.recv().await {
        for (topic, ack) in p.acks {
            match ack.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    return Err(DaemonError::Delivery { topic, message: e.to_string() });
                }
                Err(_) => {
                    return Err(DaemonError::Delivery {
                        topic,
                        message: "the producer was dropped before the record was acknowledged"
                            .into(),
                    });
                }
            }
        }
        if let Some((topic, partition, offset)) = p.offset {
            // The next offset to read, stored exactly (`store_offset` would add one itself).
            let mut tpl = TopicPartitionList::new();
            let next = Offset::Offset(offset + 1);
            // Fails only when the partition was revoked meanwhile: its new owner reads the
            // record again, which at-least-once allows.
            if tpl.add_partition_offset(&topic, partition, next).is_ok() {
                let _ = consumer.store_offsets(&tpl);
            }
        }
    }
    Ok(())
}
