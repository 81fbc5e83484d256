//! The Kafka daemon's main loop: joins the group (or assigns a backfill's partitions), gives
//! each assigned partition's queue to the worker of its partition number, takes revoked queues
//! back, polls the consumer's main queue (rebalances, errors), and shuts down gracefully.
//!
//! Shutdown (the `stop` signal): stop every worker, so each finishes the batch in hand and its
//! committer stores the offsets whose outputs were acknowledged; flush the producer; commit the
//! stored offsets synchronously; leave the group. Records fetched but not yet processed are not
//! committed and are read again by the next run.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::Message;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::worker::{self, Control, Shared, Worker};
use super::{Config, DaemonError, log, repartition};
use crate::compile::RuleSet;
use crate::io::sink::Router;
use crate::io::sink::kafka::KafkaSink;
use crate::io::source::kafka::{self as source, AssignedPartition, Assignment, StartFrom};

/// How a run starts and what group it commits to.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub from: StartFrom,
    /// The group whose offsets are used and committed (default: `config.group_id`, or
    /// `<group_id>-backfill` with a start position).
    pub group_id: Option<String>,
}

/// Back-off between attempts when the broker does not answer: doubles up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The partitions a daemon owns: (topic, partition) pairs.
pub type Partitions = BTreeSet<(String, i32)>;

/// Runs until `stop` turns true (or a worker fails). `Ok` after a graceful shutdown.
pub async fn run(
    config: &Config,
    rules: Arc<RuleSet>,
    opts: RunOptions,
    stop: watch::Receiver<bool>,
) -> Result<(), DaemonError> {
    run_reporting(config, rules, opts, stop, watch::channel(Partitions::new()).0).await
}

/// [`run`], publishing the group's assignment to `assignment` after every rebalance, so an
/// observer (a test, a health check) can see which partitions this instance owns.
pub async fn run_reporting(
    config: &Config,
    rules: Arc<RuleSet>,
    opts: RunOptions,
    mut stop: watch::Receiver<bool>,
    assignment: watch::Sender<Partitions>,
) -> Result<(), DaemonError> {
    let Some(brokers) = config.brokers.clone() else {
        return Err(DaemonError::Config("no `brokers` configured".into()));
    };
    let mut inputs: Vec<String> = rules.rules.iter().flat_map(|r| r.topics.clone()).collect();
    inputs.sort();
    inputs.dedup();
    if inputs.is_empty() {
        return Err(DaemonError::Config("no rule names a source topic".into()));
    }
    let group = opts.group_id.clone().unwrap_or_else(|| match opts.from {
        StartFrom::Committed => config.group_id.clone(),
        _ => format!("{}-backfill", config.group_id),
    });
    // A backfill repartitions through topics of its own, so it never reads the live
    // deployment's forwarded records (nor the live deployment its own).
    let prefix = match opts.from {
        StartFrom::Committed => config.app.clone(),
        _ => group.clone(),
    };
    let plan = repartition::plan(config, &rules, &inputs, &prefix);
    let router = Router::new(
        Arc::clone(&rules),
        config.default_alerts_topic.clone(),
        config.dlq_topic(),
        config.late_topic(),
    )
    .with_repartition(plan.topics_per_rule());
    for i in &plan.internal {
        log(
            "info",
            format_args!(
                "{} reads {} through {}",
                rule_of(&i.topic, &prefix),
                i.sources.join(", "),
                i.topic
            ),
        );
    }

    // The output topics, retried while the broker does not answer.
    let outputs = router.output_topics();
    let mut backoff = BACKOFF_START;
    loop {
        let ensured = match super::topics::ensure(config, &brokers, &outputs).await {
            Ok(()) => super::topics::ensure_internal(config, &brokers, &plan.internal).await,
            Err(e) => Err(e),
        };
        match ensured {
            Ok(()) => break,
            Err(e @ DaemonError::Config(_)) => return Err(e),
            Err(e) => {
                log("warn", format_args!("{e}; retrying in {backoff:?}"));
                if sleep_or_stop(backoff, &mut stop).await {
                    return Ok(());
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    let (changes_tx, mut changes) = mpsc::unbounded_channel();
    let settings = source::ConsumerSettings {
        brokers: &brokers,
        group: &group,
        props: &config.consumer,
        commit_interval: config.commit_interval,
        queue_capacity: config.limits.queue_capacity,
    };
    let consumer = source::consumer(&settings, changes_tx)
        .map_err(|e| DaemonError::Config(format!("consumer properties: {e}")))?;
    // A backfill's partitions, assigned before the workers exist.
    let mut backfill: Vec<AssignedPartition> = Vec::new();
    match opts.from {
        StartFrom::Committed => {
            let all = plan.inputs(&inputs);
            let topics: Vec<&str> = all.iter().map(String::as_str).collect();
            consumer.subscribe(&topics).map_err(|e| DaemonError::kafka("subscribing", e))?;
            log("info", format_args!("joined group {group} for {}", abridge(&all)));
        }
        from => {
            let mut backoff = BACKOFF_START;
            loop {
                // The repartition topics from their end: what this run forwards comes after.
                let internal: Vec<String> = plan.internal.iter().map(|i| i.topic.clone()).collect();
                let starts = [(&inputs[..], from), (&internal[..], StartFrom::Latest)];
                match source::assign_from(&consumer, &starts, Duration::from_secs(10)) {
                    Ok(parts) => {
                        log(
                            "info",
                            format_args!("backfill of {} partitions ({group})", parts.len()),
                        );
                        backfill = parts;
                        break;
                    }
                    Err(e) => {
                        log(
                            "warn",
                            format_args!("assigning partitions: {e}; retrying in {backoff:?}"),
                        );
                        if sleep_or_stop(backoff, &mut stop).await {
                            return Ok(());
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        }
    }

    let sink = KafkaSink::new(&brokers, &config.producer)
        .map_err(|e| DaemonError::Config(format!("producer properties: {e}")))?;
    let shared = Arc::new(Shared {
        routes: plan.routes.clone(),
        router,
        rules,
        sink: sink.clone(),
        consumer: Arc::clone(&consumer),
        limits: config.runtime_limits(),
        max_record_bytes: config.limits.max_record_bytes,
        idle_timeout: config.idle_timeout,
    });
    let threads = WorkerThreads::start(config.workers)?;
    log("info", format_args!("{} worker threads", config.workers));
    let mut state = Loop {
        threads: threads.handle(),
        shared,
        workers: HashMap::new(),
        retired: HashMap::new(),
        assigned: BTreeSet::new(),
        assignment,
    };
    if !backfill.is_empty() {
        state.rebalanced(Assignment::Assigned(backfill));
    }

    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff = BACKOFF_START;
    let mut last_error = tokio::time::Instant::now();
    let outcome: Result<(), DaemonError> = loop {
        tokio::select! {
            _ = stop.changed() => break Ok(()),
            Some(change) = changes.recv() => state.rebalanced(change),
            // Rebalances are served here (their callback runs inside this poll); records never
            // arrive here, since every assigned partition has its own queue.
            msg = consumer.recv() => match msg {
                Ok(m) => {
                    break Err(DaemonError::Internal(format!(
                        "a record of {}[{}] arrived on the consumer's main queue instead of \
                         its partition's queue",
                        m.topic(),
                        m.partition()
                    )));
                }
                Err(e) => {
                    // Never spin on a broker that is down: wait, longer each time (and from
                    // the start again once errors have stopped for a while).
                    if last_error.elapsed() > BACKOFF_MAX * 2 {
                        backoff = BACKOFF_START;
                    }
                    last_error = tokio::time::Instant::now();
                    log("warn", format_args!("consuming: {e}; next attempt in {backoff:?}"));
                    if sleep_or_stop(backoff, &mut stop).await {
                        break Ok(());
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            },
            _ = tick.tick() => {
                if let Some(e) = state.failed().await {
                    break Err(e);
                }
            }
        }
    };

    // Graceful shutdown: stop fetching, finish in-flight records, flush, commit.
    let joins = state.close();
    let mut first_error = outcome.err();
    for j in joins {
        let r = j.await.map_err(|e| DaemonError::Internal(format!("worker: {e}"))).and_then(|r| r);
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    }
    if let Err(e) = sink.flush(Duration::from_secs(30)) {
        first_error.get_or_insert(DaemonError::kafka("flushing the producer", e));
    }
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit.
        Ok(())
        | Err(rdkafka::error::KafkaError::ConsumerCommit(
            rdkafka::types::RDKafkaErrorCode::NoOffset,
        )) => {}
        Err(e) => log("warn", format_args!("final commit: {e}")),
    }
    consumer.unsubscribe();
    log("info", format_args!("stopped"));
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The rule whose repartition topic `topic` is, for the log.
fn rule_of<'a>(topic: &'a str, prefix: &str) -> &'a str {
    topic.strip_prefix(prefix).and_then(|t| t.strip_prefix("-repartition-")).unwrap_or(topic)
}

/// Sleeps for `d`; `true` if `stop` was signalled meanwhile.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// The threads that run the partition workers, `workers` of them: a runtime of their own, so
/// their number follows the configuration whatever runtime runs the supervisor.
struct WorkerThreads(Option<tokio::runtime::Runtime>);

impl WorkerThreads {
    fn start(count: usize) -> Result<WorkerThreads, DaemonError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(count)
            .thread_name("cepheus-worker")
            .enable_all()
            .build()
            .map(|rt| WorkerThreads(Some(rt)))
            .map_err(|e| DaemonError::Internal(format!("starting {count} worker threads: {e}")))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle().clone()
    }
}

impl Drop for WorkerThreads {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which the async supervisor must not do; by now every
        // worker was joined (or the run failed), so nothing is left to wait for.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The supervisor's state between events.
struct Loop {
    /// Where workers run.
    threads: tokio::runtime::Handle,
    shared: Arc<Shared>,
    /// Partition number -> its worker.
    workers: HashMap<i32, Worker>,
    /// Workers of revoked partition numbers, finishing their last batch; a new worker of the
    /// same number waits for its predecessor.
    retired: HashMap<i32, JoinHandle<Result<(), DaemonError>>>,
    assigned: Partitions,
    /// Where `assigned` is published after each rebalance.
    assignment: watch::Sender<Partitions>,
}

impl Loop {
    fn rebalanced(&mut self, change: Assignment) {
        match change {
            Assignment::Assigned(parts) => {
                let names: Vec<(String, i32)> =
                    parts.iter().map(|p| (p.topic.clone(), p.partition)).collect();
                log("info", format_args!("assigned {}", describe(&names)));
                self.assigned.extend(names);
                for part in parts {
                    let p = part.partition;
                    let worker = self.workers.entry(p).or_insert_with(|| {
                        let previous = self.retired.remove(&p);
                        worker::spawn(p, Arc::clone(&self.shared), &self.threads, previous)
                    });
                    // A worker that failed dropped its receiver; `failed` reports why on the
                    // next tick.
                    let _ = worker.control.send(Control::Assign(part));
                }
            }
            Assignment::Revoked(parts) => {
                log("info", format_args!("revoked {}", describe(&parts)));
                for p in &parts {
                    self.assigned.remove(p);
                }
                for (topic, p) in &parts {
                    if let Some(w) = self.workers.get(p) {
                        let _ = w.control.send(Control::Revoke(topic.clone()));
                    }
                }
                // A partition number's worker stops when none of its topics' partitions is
                // ours any more; it finishes the batch in hand (its stores for revoked
                // partitions fail, and the new owner reads those records again).
                let numbers: BTreeSet<i32> = parts.iter().map(|(_, p)| *p).collect();
                for p in numbers {
                    if !self.assigned.iter().any(|(_, q)| *q == p)
                        && let Some(w) = self.workers.remove(&p)
                    {
                        // None is retired under this number yet: a worker spawned after a
                        // retirement takes its predecessor along.
                        self.retired.insert(p, w.join);
                    }
                }
            }
        }
        // Nobody may be watching: that is fine.
        self.assignment.send_replace(self.assigned.clone());
    }

    /// The error of a worker that stopped on its own, if any.
    async fn failed(&mut self) -> Option<DaemonError> {
        let done: Vec<i32> =
            self.workers.iter().filter(|(_, w)| w.join.is_finished()).map(|(p, _)| *p).collect();
        for p in done {
            let w = self.workers.remove(&p).expect("listed above");
            match w.join.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Some(e),
                Err(e) => return Some(DaemonError::Internal(format!("worker {p}: {e}"))),
            }
        }
        None
    }

    /// Stops every worker; the returned tasks finish and commit.
    fn close(self) -> Vec<JoinHandle<Result<(), DaemonError>>> {
        let mut joins: Vec<_> = self.retired.into_values().collect();
        joins.extend(self.workers.into_values().map(|w| w.join));
        joins
    }
}

fn describe(parts: &[(String, i32)]) -> String {
    if parts.is_empty() {
        return "no partitions".into();
    }
    abridge(&parts.iter().map(|(t, p)| format!("{t}[{p}]")).collect::<Vec<_>>())
}

/// A list for the log: the first few items and how many more.
fn abridge(items: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}
