//! A partition worker: owns the [`Pipeline`] of one partition number (partition `p` of every
//! source topic, co-partitioned as Kafka Streams does), feeds it the records queued for it, and
//! sends what it emits to the [`KafkaSink`].
//!
//! Commit protocol (at least once): for every record, the acknowledgements of the records it
//! caused (triggers, DLQ, late, forwards) go, in input order, to the worker's committer, which
//! awaits them and only then stores the record's next offset; librdkafka commits stored offsets.
//! A record whose outputs were not all acknowledged is never committed, so after a crash it is
//! read again. Outputs of time passing (an idle partition's timeouts) are awaited in the same
//! order. The worker takes its queue in batches: the offsets of records that caused nothing are
//! handed over once per batch (the latest per partition, behind everything before them), and the
//! committer stores each partition's latest offset once per round, not once per record.
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

/// Acknowledgements still awaited for one record (or one step of idle time), and the offsets
/// that may be stored once they (and everything queued before them) are acknowledged.
struct Pending {
    /// (topic, partition, offset) of the records read; empty for outputs of time passing.
    offsets: Vec<(String, i32, i64)>,
    acks: Vec<(String, DeliveryFuture)>,
}

/// Records a worker takes from its queue at a time.
const BATCH: usize = 256;

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
    let mut batch: Vec<OwnedMessage> = Vec::with_capacity(BATCH);
    // Offsets of records that caused no output, not yet handed to the committer: at most one
    // per (topic, partition), stored after everything queued before them.
    let mut quiet: Vec<(String, i32, i64)> = Vec::new();
    let result = async {
        loop {
            let n = match tokio::time::timeout(shared.idle_timeout, rx.recv_many(&mut batch, BATCH))
                .await
            {
                // The supervisor dropped the queue: revoked, or shutting down.
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => {
                    pipeline.advance_to(clock::wall_millis(), &mut step);
                    shared.router.route(&mut step, None, &mut records);
                    send(&shared, &ptx, Vec::new(), &mut records).await?;
                    continue;
                }
            };
            debug_assert_eq!(n, batch.len());
            for msg in batch.drain(..) {
                seq += 1;
                process(&shared, &mut pipeline, &msg, seq, &mut step, &mut records);
                let (topic, p, offset) = (msg.topic(), msg.partition(), msg.offset());
                let slot = quiet.iter().position(|(t, q, _)| t == topic && *q == p);
                if records.is_empty() {
                    match slot {
                        Some(i) => quiet[i].2 = offset,
                        None => quiet.push((topic.to_string(), p, offset)),
                    }
                } else {
                    // This record's offset covers the quiet ones of its partition before it.
                    if let Some(i) = slot {
                        quiet.swap_remove(i);
                    }
                    send(&shared, &ptx, vec![(topic.to_string(), p, offset)], &mut records).await?;
                }
            }
            if !quiet.is_empty() {
                send(&shared, &ptx, std::mem::take(&mut quiet), &mut records).await?;
            }
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

/// Runs one record through the pipeline and routes what it caused into `records`.
fn process(
    shared: &Shared,
    pipeline: &mut Pipeline,
    msg: &OwnedMessage,
    seq: u64,
    step: &mut StepResult,
    records: &mut Vec<OutRecord>,
) {
    let payload = msg.payload().unwrap_or_default();
    let through = shared
        .routes
        .iter()
        .any(|r| matches!(r, crate::runtime::Route::Repartition { topic } if topic == msg.topic()));
    let origin = if through { origin(msg) } else { None };
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
        return;
    }
    match std::str::from_utf8(payload) {
        Ok(text) => {
            let ts = src.timestamp.unwrap_or(0);
            pipeline.offer_from(Some(msg.topic()), text, seq, ts, step);
            shared.router.route(step, Some(&src), records);
        }
        Err(e) => {
            records.push(shared.router.dead_letter(&src, None, &format!("not UTF-8: {e}")));
        }
    }
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
    offsets: Vec<(String, i32, i64)>,
    records: &mut Vec<OutRecord>,
) -> Result<(), DaemonError> {
    if records.is_empty() && offsets.is_empty() {
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
        .send(Pending { offsets, acks })
        .await
        .map_err(|_| DaemonError::Internal("the committer stopped early".into()))
}

/// Awaits acknowledgements in input order and stores each record's next offset after them:
/// whatever is queued is taken at once, and each partition's latest offset stored once.
async fn commit_loop(
    consumer: Arc<KafkaConsumer>,
    mut rx: mpsc::Receiver<Pending>,
) -> Result<(), DaemonError> {
    let mut taken: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut latest: Vec<(String, i32, i64)> = Vec::new();
    while rx.recv_many(&mut taken, BATCH).await > 0 {
        for p in taken.drain(..) {
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
            for (topic, partition, offset) in p.offsets {
                match latest.iter_mut().find(|(t, q, _)| *t == topic && *q == partition) {
                    Some(slot) => slot.2 = slot.2.max(offset),
                    None => latest.push((topic, partition, offset)),
                }
            }
        }
        if latest.is_empty() {
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, offset) in latest.drain(..) {
            // The next offset to read, stored exactly (`store_offset` would add one itself).
            // Fails only when the partition was revoked meanwhile: its new owner reads the
            // record again, which at-least-once allows.
            let _ = tpl.add_partition_offset(&topic, partition, Offset::Offset(offset + 1));
        }
        // Fails only for partitions revoked meanwhile (see above).
        let _ = consumer.store_offsets(&tpl);
    }
    Ok(())
}
