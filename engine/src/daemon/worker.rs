//! A partition worker: owns the [`Pipeline`] of one partition number (partition `p` of every
//! source topic, co-partitioned as Kafka Streams does), reads those partitions' records straight
//! from their librdkafka queues (no copy, no hand-over), and sends what it emits to the
//! [`KafkaSink`]. The supervisor tells it which queues are its own ([`Control`]); a queue whose
//! partition was revoked is dropped between two batches.
//!
//! Commit protocol (at least once): the worker takes its queues in batches; the acknowledgements
//! of everything a batch caused (triggers, DLQ, late, forwards) go, with the batch's latest offset
//! per partition, to the worker's committer, which awaits them (and those of every batch before)
//! and only then stores the next offsets; librdkafka commits stored offsets. A record whose
//! outputs were not all acknowledged is never committed, so after a crash it is read again.
//! Outputs of time passing (an idle partition's timeouts) are awaited in the same order. The
//! committer stores each partition's latest offset once per round, not once per record.
//! Partial matches live in memory: after a restart they start empty (durable state is the next
//! step, with exactly-once).
//!
//! Back-pressure: a worker reads only as fast as it processes; librdkafka stops fetching a
//! partition whose queue is full (see [`crate::io::source::kafka`]).
//!
//! Idleness: when no record arrives for `idle_timeout`, the partition's event time moves to the
//! wall clock (read through [`crate::runtime::clock`]), and again after every further
//! `idle_timeout`, so `within` timeouts and absences fire without new events.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::DeliveryFuture;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{DaemonError, log};
use crate::io::sink::kafka::KafkaSink;
use crate::io::sink::{OutRecord, Router, SourceRef};
use crate::io::source::kafka::{AssignedPartition, KafkaConsumer};
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

/// Acknowledgements still awaited for one batch (or one step of idle time), and the offsets
/// that may be stored once they (and everything queued before them) are acknowledged.
struct Pending {
    /// (topic, partition, offset) of the last record of each partition in the batch; empty for
    /// outputs of time passing.
    offsets: Vec<(String, i32, i64)>,
    acks: Vec<(String, DeliveryFuture)>,
}

/// Records a worker takes from its queues at a time.
const BATCH: usize = 256;

/// Batches whose acknowledgements a worker may have outstanding before it waits (bounds memory
/// when the broker is slow: the worker stops, its queues fill, librdkafka stops fetching).
const PENDING_CAPACITY: usize = 64;

/// How long a worker waits after its queue reported an error (the broker is unreachable, say)
/// before reading again: librdkafka retries on its own, and the log needs no flood.
const ERROR_PAUSE: Duration = Duration::from_millis(200);

/// What the supervisor tells a worker, in the order of the rebalances.
#[derive(Debug)]
pub enum Control {
    /// A partition of this number (in one more topic) is ours: read its queue.
    Assign(AssignedPartition),
    /// This topic's partition was revoked: drop its queue.
    Revoke(String),
}

/// A running worker. Dropping `control` stops it: it finishes the batch in hand, its committer
/// stores what was acknowledged, and it drops its queues.
#[derive(Debug)]
pub struct Worker {
    pub control: mpsc::UnboundedSender<Control>,
    pub join: JoinHandle<Result<(), DaemonError>>,
}

/// Starts the worker of partition number `partition` on the worker threads of `threads`. A
/// `previous` worker of the same number (stopped after a revocation) is awaited first: until it
/// has dropped its queues, two workers could read one partition and split its order.
pub fn spawn(
    partition: i32,
    shared: Arc<Shared>,
    threads: &tokio::runtime::Handle,
    previous: Option<JoinHandle<Result<(), DaemonError>>>,
) -> Worker {
    let (control, rx) = mpsc::unbounded_channel();
    let join = threads.spawn(async move {
        if let Some(previous) = previous {
            previous.await.map_err(|e| {
                DaemonError::Internal(format!("previous worker of partition {partition}: {e}"))
            })??;
        }
        run(partition, shared, rx).await
    });
    Worker { control, join }
}

/// What one round of reading ended with.
enum Round {
    /// A batch was processed.
    Processed,
    /// A control message arrived (`None`: the supervisor dropped the worker).
    Control(Option<Control>),
    /// No record for `idle_timeout`.
    Idle,
}

/// A worker's state between rounds.
struct State {
    shared: Arc<Shared>,
    pipeline: Pipeline,
    step: StepResult,
    records: Vec<OutRecord>,
    seq: u64,
    /// The batch's acknowledgements so far, in input order.
    acks: Vec<(String, DeliveryFuture)>,
    /// The batch's latest offset per (topic, partition).
    offsets: Vec<(String, i32, i64)>,
    pending: mpsc::Sender<Pending>,
}

async fn run(
    partition: i32,
    shared: Arc<Shared>,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> Result<(), DaemonError> {
    let (ptx, prx) = mpsc::channel(PENDING_CAPACITY);
    let committer = tokio::spawn(commit_loop(Arc::clone(&shared.consumer), prx));
    let mut pipeline = Pipeline::new(Arc::clone(&shared.rules), false, shared.limits);
    pipeline.set_routes(shared.routes.clone());
    let mut state = State {
        shared,
        pipeline,
        step: StepResult::default(),
        records: Vec::new(),
        seq: 0,
        acks: Vec::new(),
        offsets: Vec::new(),
        pending: ptx,
    };
    let mut queues: Vec<AssignedPartition> = Vec::new();
    let mut deadline = Instant::now() + state.shared.idle_timeout;
    // Which queue a round reads first, so that one busy topic does not starve the others.
    let mut first: usize = 0;
    let result = async {
        loop {
            first = first.wrapping_add(1);
            match state.round(&queues, first, &mut control, deadline).await? {
                Round::Processed => deadline = Instant::now() + state.shared.idle_timeout,
                Round::Control(Some(Control::Assign(q))) => queues.push(q),
                Round::Control(Some(Control::Revoke(topic))) => {
                    queues.retain(|q| q.topic != topic);
                }
                Round::Control(None) => break,
                // Time moves only once records have: before the first one, the wall clock
                // would make a backlog of older records late.
                Round::Idle if state.seq == 0 => {
                    deadline = Instant::now() + state.shared.idle_timeout;
                }
                Round::Idle => {
                    state.pipeline.advance_to(clock::wall_millis(), &mut state.step);
                    state.shared.router.route(&mut state.step, None, &mut state.records);
                    state.produce().await?;
                    state.hand_over().await?;
                    deadline = Instant::now() + state.shared.idle_timeout;
                }
            }
        }
        Ok::<(), DaemonError>(())
    }
    .await;
    drop(queues);
    // Whatever happened, let the committer finish what was acknowledged.
    drop(state);
    let committed = committer
        .await
        .map_err(|e| DaemonError::Internal(format!("committer of partition {partition}: {e}")))?;
    result.and(committed)
}

impl State {
    /// Takes up to a batch of records from `queues` (waiting for the first one, a control
    /// message or the idle deadline) and processes it.
    async fn round(
        &mut self,
        queues: &[AssignedPartition],
        first: usize,
        control: &mut mpsc::UnboundedReceiver<Control>,
        deadline: Instant,
    ) -> Result<Round, DaemonError> {
        // A control message waiting is taken before any record: a revoked queue is dropped as
        // soon as possible.
        match control.try_recv() {
            Ok(c) => return Ok(Round::Control(Some(c))),
            Err(mpsc::error::TryRecvError::Disconnected) => return Ok(Round::Control(None)),
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let mut batch: Vec<BorrowedMessage<'_>> = Vec::with_capacity(BATCH);
        let mut error = take_ready(queues, first, &mut batch);
        if batch.is_empty() && error.is_none() {
            tokio::select! {
                c = control.recv() => return Ok(Round::Control(c)),
                r = next_record(queues) => match r {
                    Ok(m) => {
                        batch.push(m);
                        error = take_ready(queues, first, &mut batch);
                    }
                    Err(e) => error = Some(e),
                },
                _ = tokio::time::sleep_until(deadline) => return Ok(Round::Idle),
            }
        }
        for msg in batch.drain(..) {
            self.seq += 1;
            process(
                &self.shared,
                &mut self.pipeline,
                &msg,
                self.seq,
                &mut self.step,
                &mut self.records,
            );
            self.produce().await?;
            let (topic, p, offset) = (msg.topic(), msg.partition(), msg.offset());
            match self.offsets.iter_mut().find(|(t, q, _)| t == topic && *q == p) {
                Some(slot) => slot.2 = offset,
                None => self.offsets.push((topic.to_string(), p, offset)),
            }
        }
        self.hand_over().await?;
        if let Some(e) = error {
            log("warn", format_args!("consuming: {e}; next attempt in {ERROR_PAUSE:?}"));
            tokio::time::sleep(ERROR_PAUSE).await;
        }
        Ok(Round::Processed)
    }

    /// Hands `self.records` to the producer; their acknowledgements join the batch's.
    async fn produce(&mut self) -> Result<(), DaemonError> {
        for r in self.records.drain(..) {
            let ack = self
                .shared
                .sink
                .send(&r)
                .await
                .map_err(|e| DaemonError::kafka(format!("producing to {}", r.topic), e))?;
            self.acks.push((r.topic, ack));
        }
        Ok(())
    }

    /// Hands the batch's acknowledgements and offsets to the committer.
    async fn hand_over(&mut self) -> Result<(), DaemonError> {
        if self.acks.is_empty() && self.offsets.is_empty() {
            return Ok(());
        }
        let batch = Pending {
            offsets: std::mem::take(&mut self.offsets),
            acks: std::mem::take(&mut self.acks),
        };
        self.pending
            .send(batch)
            .await
            .map_err(|_| DaemonError::Internal("the committer stopped early".into()))
    }
}

/// Moves the records already waiting in `queues` into `batch`, up to [`BATCH`], without
/// waiting; starts at queue `first` (modulo their number). Stops at the first error.
fn take_ready<'q>(
    queues: &'q [AssignedPartition],
    first: usize,
    batch: &mut Vec<BorrowedMessage<'q>>,
) -> Option<KafkaError> {
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..queues.len() {
        let queue = &queues[(first + i) % queues.len()].queue;
        while batch.len() < BATCH {
            let mut recv = std::pin::pin!(queue.recv());
            match recv.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(m)) => batch.push(m),
                Poll::Ready(Err(e)) => return Some(e),
                Poll::Pending => break,
            }
        }
    }
    None
}

/// The next record of any of `queues` (pending forever when there are none).
async fn next_record(queues: &[AssignedPartition]) -> Result<BorrowedMessage<'_>, KafkaError> {
    let mut waits: Vec<Pin<Box<_>>> = queues.iter().map(|q| Box::pin(q.queue.recv())).collect();
    std::future::poll_fn(|cx| {
        for w in &mut waits {
            if let Poll::Ready(r) = w.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    })
    .await
}

/// Runs one record through the pipeline and routes what it caused into `records`.
fn process(
    shared: &Shared,
    pipeline: &mut Pipeline,
    msg: &BorrowedMessage<'_>,
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
fn origin<'m>(msg: &'m BorrowedMessage<'_>) -> Option<(&'m str, i32, i64)> {
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
