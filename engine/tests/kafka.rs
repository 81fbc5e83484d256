//! The daemon against a real Kafka broker (`scripts/kafka start`; `scripts/test` starts it).
//!
//! The broker is at `CEPHEUS_TEST_BROKERS` (default `127.0.0.1:19092`). Every test uses its own
//! topics, app name and consumer group, so tests share one broker and rerun on the same data.
//! When the broker does not answer, the tests fail under CI (`CI=true`) and are skipped, with a
//! message, elsewhere.

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_engine::daemon::Config;
use cepheus_engine::daemon::config::RawConfig;
use cepheus_engine::daemon::supervisor::{self, RunOptions};
use cepheus_engine::io::source::kafka::StartFrom;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::watch;
use tokio::task::JoinHandle;

fn brokers() -> String {
    std::env::var("CEPHEUS_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// Whether the broker answers; under CI a broker that does not is a failure, not a skip.
fn broker_up() -> bool {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", brokers()).create().expect("client config");
    match consumer.fetch_metadata(None, Duration::from_secs(10)) {
        Ok(_) => true,
        Err(e) => {
            let msg = format!(
                "no Kafka broker at {} ({e}): run `scripts/kafka start` (scripts/test does)",
                brokers()
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}");
            }
            eprintln!("skipped: {msg}");
            false
        }
    }
}

/// A name no earlier run on the same broker used.
fn unique(prefix: &str) -> String {
    let r = RandomState::new().hash_one(std::process::id());
    format!("{prefix}-{:012x}", r & 0xffff_ffff_ffff)
}

async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let r = admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap();
    r[0].as_ref().unwrap_or_else(|e| panic!("creating {name}: {e:?}"));
}

fn producer() -> FutureProducer {
    ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap()
}

async fn produce(p: &FutureProducer, topic: &str, key: Option<&str>, value: &[u8]) {
    let mut rec: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).payload(value);
    if let Some(k) = key {
        rec = rec.key(k);
    }
    p.send(rec, Duration::from_secs(10)).await.unwrap_or_else(|(e, _)| panic!("produce: {e}"));
}

/// One record read back: key, value and headers as text.
#[derive(Debug, Clone)]
struct Read {
    key: Option<String>,
    value: String,
    headers: Vec<(String, String)>,
}

impl Read {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.value).unwrap_or_else(|e| panic!("{}: {e}", self.value))
    }
}

/// Reads `topic` from the beginning until `count` records arrived (or `deadline` passed), then
/// `settle` longer to catch any record too many.
fn read(topic: &str, count: usize, deadline: Duration, settle: Duration) -> Vec<Read> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let start = Instant::now();
    let mut full_at: Option<Instant> = None;
    loop {
        if let Some(t) = full_at {
            if t.elapsed() >= settle {
                break;
            }
        } else if start.elapsed() >= deadline {
            break;
        }
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = match m {
                Ok(m) => m,
                // The daemon creates its topics when it starts: until then, wait.
                Err(rdkafka::error::KafkaError::MessageConsumption(
                    rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
                )) => continue,
                Err(e) => panic!("reading {topic}: {e}"),
            };
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let headers = m
                .headers()
                .map(|h| {
                    h.iter().map(|h| (h.key.to_string(), h.value.map(text).unwrap_or_default()))
                })
                .into_iter()
                .flatten()
                .collect();
            out.push(Read {
                key: m.key().map(text),
                value: m.payload().map(text).unwrap_or_default(),
                headers,
            });
        }
        if full_at.is_none() && out.len() >= count {
            full_at = Some(Instant::now());
        }
    }
    out
}

fn rules(texts: &[String]) -> Arc<RuleSet> {
    let named: Vec<(String, &str)> =
        texts.iter().enumerate().map(|(i, t)| (format!("rule{i}.yaml"), t.as_str())).collect();
    let refs: Vec<(&str, &str)> = named.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let loaded = cepheus_grammar::load_texts(&refs);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    Arc::new(compile(&loaded.rules).expect("rules compile"))
}

/// A rule pack's YAML, reading `input` and emitting to `alerts` (a window rule's window records
/// to `<alerts>-windows`).
fn pack_rule(file: &str, input: &str, alerts: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules").join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let mut section = "";
    text.lines()
        .map(|l| {
            if !l.starts_with(' ') && l.ends_with(':') {
                section = l.trim_end_matches(':');
            }
            if l.trim_start().starts_with("topics:") {
                format!("  topics: [{input}]")
            } else if l.trim_start().starts_with("topic:") && section == "windows" {
                format!("  topic: {alerts}-windows")
            } else if l.trim_start().starts_with("topic:") {
                format!("  topic: {alerts}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn config(app: &str, idle: &str) -> Config {
    let raw: RawConfig = Config::parse(&format!(
        "brokers: {}\napp: {app}\nidle_timeout: {idle}\ncommit_interval: 200ms\n",
        brokers()
    ))
    .unwrap();
    Config::from_raw(raw, Vec::new()).unwrap()
}

/// A daemon running in this process until the returned sender says stop.
struct Daemon {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), cepheus_engine::daemon::DaemonError>>,
    /// The partitions it owns, as of its last rebalance.
    assignment: watch::Receiver<supervisor::Partitions>,
}

impl Daemon {
    fn start(config: Config, rules: Arc<RuleSet>, from: StartFrom) -> Daemon {
        let (stop, rx) = watch::channel(false);
        let (assigned_tx, assignment) = watch::channel(supervisor::Partitions::new());
        let task = tokio::spawn(async move {
            let opts = RunOptions { from, group_id: None };
            supervisor::run_reporting(&config, rules, opts, rx, assigned_tx).await
        });
        Daemon { stop, task, assignment }
    }

    fn assigned(&self) -> supervisor::Partitions {
        self.assignment.borrow().clone()
    }

    async fn shutdown(self) {
        self.stop.send(true).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("shuts down within 20 s")
            .expect("the task did not panic");
        r.expect("graceful shutdown");
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The events of every rule pack's golden case through Kafka (keyed by the rule's key, spread
/// over three partitions by the default partitioner) give exactly replay's triggers; the
/// absence rule's trigger comes from its idle partition's wall clock, not from a flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_pack_cases_give_replays_triggers_over_three_partitions() {
    if !broker_up() {
        return;
    }
    // Not `high_severity_violation`: its case has a violation that is late only behind another
    // child's later event in replay's single partition; spread over three partitions (each with
    // its own watermark) it is on time and fires, by design.
    let cases = [
        (
            "child-safety/repeated_violations.yaml",
            "child-safety/tests/repeated_violations",
            "child_id",
        ),
        ("health/hrv_drop.yaml", "health/tests/hrv_drop", "user_id"),
        ("health/missing_heart_rate.yaml", "health/tests/missing_heart_rate", "user_id"),
        (
            "learning/wrong_answers_in_a_row.yaml",
            "learning/tests/wrong_answers_in_a_row",
            "learner_id",
        ),
        (
            "security/motion_then_unauthorized_face.yaml",
            "security/tests/motion_then_unauthorized_face",
            "camera_id",
        ),
        (
            "child-safety/negative_emotion_run.yaml",
            "child-safety/tests/negative_emotion_run",
            "conversation_id",
        ),
        (
            "health/poor_sleep_then_low_recovery.yaml",
            "health/tests/poor_sleep_then_low_recovery",
            "user_id",
        ),
        ("learning/dropout_risk.yaml", "learning/tests/dropout_risk", "learner_id"),
        ("learning/answer_rate_anomaly.yaml", "learning/tests/answer_rate_anomaly", "learner_id"),
        (
            "security/unauthorized_faces_on_three_cameras.yaml",
            "security/tests/unauthorized_faces_on_three_cameras",
            "face_id",
        ),
    ];
    let app = unique("packs");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let mut texts = Vec::new();
    let mut topics = Vec::new();
    for (i, (file, _, _)) in cases.iter().enumerate() {
        let input = format!("{app}-in{i}");
        let alerts = format!("{app}-alerts{i}");
        create_topic(&input, 3).await;
        texts.push(pack_rule(file, &input, &alerts));
        topics.push((input, alerts));
    }
    // One thread for the three partition workers: they share it, and the results do not change.
    let mut cfg = config(&app, "1s");
    cfg.workers = 1;
    // Produced before the daemon starts: a worker idle for a second mid-stream would move its
    // rules' time to the wall clock, and the rest of the stream would be late.
    let p = producer();
    for ((_, dir, key_field), (input, _)) in cases.iter().zip(&topics) {
        for line in lines(&root.join(dir).join("events.jsonl")) {
            // Some cases hold malformed lines on purpose: they go unkeyed (to the DLQ).
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let key = v[key_field].as_str().map(str::to_string);
            produce(&p, input, key.as_deref(), line.as_bytes()).await;
        }
    }
    let daemon = Daemon::start(cfg, rules(&texts), StartFrom::Committed);
    for ((_, dir, _), (_, alerts)) in cases.iter().zip(&topics) {
        let expected = lines(&root.join(dir).join("expected.jsonl"));
        let got = read(alerts, expected.len(), Duration::from_secs(20), Duration::from_millis(500));
        let mut got_values: Vec<String> = got.iter().map(|r| r.value.clone()).collect();
        let mut expected_sorted = expected.clone();
        got_values.sort();
        expected_sorted.sort();
        assert_eq!(got_values, expected_sorted, "triggers of {dir}");
        for r in &got {
            let t = r.json();
            assert_eq!(r.key.as_deref(), t["key"].as_str(), "keyed by the match key");
            assert_eq!(r.header("cepheus.rule"), t["rule"].as_str());
            assert_eq!(r.header("cepheus.rule.version").map(str::len), Some(16));
        }
    }
    daemon.shutdown().await;
}

const CAMERA_RULE: &str = "name: motion_then_face
source:
  topics: [INPUT]
  key: camera_id
  time: timestamp
pattern:
  - stage: motion
    where: kind == \"motion\"
  - stage: face
    where: kind == \"face\"
within: 30s
emit:
  topic: ALERTS
  fields:
    severity: 1.0
";

fn camera_rule(input: &str, alerts: &str) -> String {
    CAMERA_RULE.replace("INPUT", input).replace("ALERTS", alerts)
}

/// The camera rule running over a fresh one-partition input topic: (app, input, alerts, daemon).
async fn camera_daemon(prefix: &str) -> (String, String, String, Daemon) {
    let app = unique(prefix);
    let (input, alerts) = (format!("{app}-in"), format!("{app}-alerts"));
    create_topic(&input, 1).await;
    let daemon = Daemon::start(
        config(&app, "10s"),
        rules(&[camera_rule(&input, &alerts)]),
        StartFrom::Committed,
    );
    (app, input, alerts, daemon)
}

fn cam(id: &str, camera: &str, kind: &str, ts: &str) -> String {
    format!(
        r#"{{"event_id": "{id}", "camera_id": "{camera}", "kind": "{kind}", "timestamp": "{ts}"}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_go_to_the_dlq_and_the_engine_keeps_going() {
    if !broker_up() {
        return;
    }
    let (app, input, alerts, daemon) = camera_daemon("dlq").await;
    let p = producer();
    let bad: [(&[u8], &str); 4] = [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (
            br#"{"kind": "motion", "timestamp": "2024-01-01T00:00:00Z"}"#,
            "no key: field `camera_id` is missing",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ];
    produce(&p, &input, None, cam("m1", "c1", "motion", "2024-01-01T00:00:00Z").as_bytes()).await;
    for (value, _) in &bad {
        produce(&p, &input, Some("k"), value).await;
    }
    produce(&p, &input, None, cam("f1", "c1", "face", "2024-01-01T00:00:05Z").as_bytes()).await;

    let dlq =
        read(&format!("{app}.dlq"), bad.len(), Duration::from_secs(20), Duration::from_millis(300));
    assert_eq!(dlq.len(), bad.len(), "{dlq:?}");
    for (i, (r, (value, reason))) in dlq.iter().zip(&bad).enumerate() {
        assert_eq!(r.value.as_bytes(), String::from_utf8_lossy(value).as_bytes());
        assert_eq!(r.key.as_deref(), Some("k"), "the original key is kept");
        let error = r.header("cepheus.error").unwrap();
        assert!(error.starts_with(reason), "record {i}: {error:?} should start with {reason:?}");
        assert_eq!(r.header("cepheus.source.topic"), Some(input.as_str()));
        assert_eq!(r.header("cepheus.source.partition"), Some("0"));
        assert_eq!(r.header("cepheus.source.offset"), Some((i + 1).to_string().as_str()));
        assert!(r.header("cepheus.source.time").is_some());
    }
    let got = read(&alerts, 1, Duration::from_secs(20), Duration::from_millis(300));
    assert_eq!(got.len(), 1, "the engine kept going after the bad records: {got:?}");
    assert_eq!(got[0].json()["context_window"], serde_json::json!(["m1", "f1"]));
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_go_to_the_late_topic() {
    if !broker_up() {
        return;
    }
    let (app, input, _alerts, daemon) = camera_daemon("late").await;
    let p = producer();
    produce(&p, &input, Some("c1"), cam("m1", "c1", "motion", "2024-01-01T01:00:00Z").as_bytes())
        .await;
    let late = cam("m0", "c2", "motion", "2024-01-01T00:00:00Z");
    produce(&p, &input, Some("c2"), late.as_bytes()).await;
    let got = read(&format!("{app}.late"), 1, Duration::from_secs(20), Duration::from_millis(300));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].value, late);
    assert_eq!(got[0].key.as_deref(), Some("c2"));
    assert_eq!(got[0].header("cepheus.rule"), Some("motion_then_face"));
    assert_eq!(got[0].header("cepheus.watermark"), Some("2024-01-01T01:00:00Z"));
    assert_eq!(got[0].header("cepheus.source.offset"), Some("1"));
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absence_rule_fires_on_an_idle_partition() {
    if !broker_up() {
        return;
    }
    let app = unique("idle");
    let (input, alerts) = (format!("{app}-in"), format!("{app}-alerts"));
    create_topic(&input, 2).await;
    let rule = pack_rule("health/missing_heart_rate.yaml", &input, &alerts);
    let daemon = Daemon::start(config(&app, "500ms"), rules(&[rule]), StartFrom::Committed);
    let p = producer();
    // Worn an hour ago (event time); no sample follows, and no other event moves time.
    let worn = serde_json::json!({
        "event_id": "w1", "user_id": "u_9", "event_type": "device_worn",
        "timestamp": cepheus_engine::event::format_rfc3339(
            cepheus_engine::runtime::clock::wall_millis() - 3_600_000),
    });
    produce(&p, &input, Some("u_9"), worn.to_string().as_bytes()).await;
    let got = read(&alerts, 1, Duration::from_secs(20), Duration::from_millis(300));
    assert_eq!(got.len(), 1, "{got:?}");
    let t = got[0].json();
    assert_eq!(t["rule"], "missing_heart_rate");
    assert_eq!(t["key"], "u_9");
    assert_eq!(t["context_window"], serde_json::json!(["w1"]));
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_commits_so_a_restart_does_not_reprocess() {
    if !broker_up() {
        return;
    }
    let app = unique("restart");
    let (input, alerts) = (format!("{app}-in"), format!("{app}-alerts"));
    create_topic(&input, 2).await;
    let rules = rules(&[camera_rule(&input, &alerts)]);
    let p = producer();

    let daemon = Daemon::start(config(&app, "10s"), Arc::clone(&rules), StartFrom::Committed);
    // Time moves forward across the two keys: they may share a partition, and its watermark.
    for (c, s) in [("c1", 0), ("c2", 10)] {
        let m = format!("2024-01-01T00:00:{s:02}Z");
        let f = format!("2024-01-01T00:00:{:02}Z", s + 1);
        produce(&p, &input, Some(c), cam("m1", c, "motion", &m).as_bytes()).await;
        produce(&p, &input, Some(c), cam("f1", c, "face", &f).as_bytes()).await;
    }
    let first = read(&alerts, 2, Duration::from_secs(20), Duration::from_millis(0));
    assert_eq!(first.len(), 2, "{first:?}");
    daemon.shutdown().await;

    let daemon = Daemon::start(config(&app, "10s"), Arc::clone(&rules), StartFrom::Committed);
    produce(&p, &input, Some("c3"), cam("m2", "c3", "motion", "2024-01-01T00:01:00Z").as_bytes())
        .await;
    produce(&p, &input, Some("c3"), cam("f2", "c3", "face", "2024-01-01T00:01:01Z").as_bytes())
        .await;
    let all = read(&alerts, 3, Duration::from_secs(20), Duration::from_secs(2));
    daemon.shutdown().await;
    let keys: Vec<&str> = all.iter().map(|r| r.key.as_deref().unwrap()).collect();
    assert_eq!(all.len(), 3, "the restart read only the new records: {keys:?}");
    assert!(keys.contains(&"c3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_from_earliest_uses_its_own_group() {
    if !broker_up() {
        return;
    }
    let app = unique("backfill");
    let (input, alerts) = (format!("{app}-in"), format!("{app}-alerts"));
    create_topic(&input, 2).await;
    let p = producer();
    // Time moves forward across the two keys: they may share a partition, and its watermark.
    for (c, s) in [("c1", 0), ("c2", 10)] {
        let m = format!("2024-01-01T00:00:{s:02}Z");
        let f = format!("2024-01-01T00:00:{:02}Z", s + 1);
        produce(&p, &input, Some(c), cam("m1", c, "motion", &m).as_bytes()).await;
        produce(&p, &input, Some(c), cam("f1", c, "face", &f).as_bytes()).await;
    }
    p.flush(Duration::from_secs(5)).unwrap();
    let rules = rules(&[camera_rule(&input, &alerts)]);
    let daemon = Daemon::start(config(&app, "10s"), rules, StartFrom::Earliest);
    let got = read(&alerts, 2, Duration::from_secs(20), Duration::from_millis(300));
    daemon.shutdown().await;
    assert_eq!(got.len(), 2, "{got:?}");
    // The live group (the app name) has no committed offsets: it was not disturbed.
    let live: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", &app)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition(&input, 0);
    tpl.add_partition(&input, 1);
    let committed = live.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    for e in committed.elements() {
        assert_eq!(e.offset(), rdkafka::Offset::Invalid, "live group moved: {e:?}");
    }
}

/// Two instances in one group split a four-partition topic between them and together produce
/// exactly the triggers one engine produces over the same events (embedded mode, which is
/// replay's), none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_in_one_group_split_the_partitions() {
    if !broker_up() {
        return;
    }
    let app = unique("group");
    let (input, alerts) = (format!("{app}-in"), format!("{app}-alerts"));
    create_topic(&input, 4).await;
    let rules = rules(&[camera_rule(&input, &alerts)]);
    // Frequent heartbeats: when one instance joins first, the cooperative rebalance that hands
    // half of its partitions to the other completes sooner.
    let mut cfg = config(&app, "10s");
    cfg.consumer.insert("heartbeat.interval.ms".into(), "300".into());
    // Records are keyed by camera, as the rule: no repartitioning, the group owns only `input`.
    cfg.record_keys.insert(input.clone(), "camera_id".into());
    let a = Daemon::start(cfg.clone(), Arc::clone(&rules), StartFrom::Committed);
    let b = Daemon::start(cfg, Arc::clone(&rules), StartFrom::Committed);

    // Wait until the group settled: each owns some partitions, and together exactly all four.
    let all: supervisor::Partitions = (0..4).map(|p| (input.clone(), p)).collect();
    let start = Instant::now();
    let split = loop {
        let (pa, pb) = (a.assigned(), b.assigned());
        if !pa.is_empty() && !pb.is_empty() && pa.is_disjoint(&pb) {
            let union: supervisor::Partitions = pa.union(&pb).cloned().collect();
            if union == all {
                break (pa, pb);
            }
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no split: {pa:?} / {pb:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Forty cameras, keyed by camera id; time only moves forward, so nothing is late in any
    // partition. Every third camera sees a face without motion first: no trigger.
    let mut events = Vec::new();
    for i in 0..40 {
        let camera = format!("cam{i:02}");
        let at = |s: i32| format!("2024-01-01T00:{:02}:{:02}Z", i / 6, (i % 6) * 10 + s);
        let first = if i % 3 == 0 { "face" } else { "motion" };
        events.push((camera.clone(), cam(&format!("e{i}a"), &camera, first, &at(0))));
        events.push((camera.clone(), cam(&format!("e{i}b"), &camera, "face", &at(1))));
    }
    let p = producer();
    let mut partition_of = std::collections::HashMap::new();
    for (camera, value) in &events {
        let rec: FutureRecord<'_, str, [u8]> =
            FutureRecord::to(&input).key(camera.as_str()).payload(value.as_bytes());
        let delivered =
            p.send(rec, Duration::from_secs(10)).await.unwrap_or_else(|(e, _)| panic!("{e}"));
        partition_of.insert(camera.clone(), delivered.partition);
    }

    // What one engine produces over the same events.
    let text: String = events.iter().map(|(_, v)| format!("{v}\n")).collect();
    let expected = embedded_triggers(&config(&app, "10s"), &rules, &text);
    assert_eq!(expected.len(), 26, "two in three cameras match");

    let got = read(&alerts, expected.len(), Duration::from_secs(20), Duration::from_secs(1));
    let mut values: Vec<String> = got.iter().map(|r| r.value.clone()).collect();
    values.sort();
    assert_eq!(values, expected, "the same triggers as one engine, none twice");

    // Both instances did part of the work: triggers came from every partition, and the
    // split did not change while the events were processed.
    let from: BTreeSet<i32> = got.iter().map(|r| partition_of[r.key.as_deref().unwrap()]).collect();
    assert_eq!(from, (0..4).collect(), "triggering cameras cover all four partitions");
    assert_eq!((a.assigned(), b.assigned()), split, "no rebalance while processing");
    a.shutdown().await;
    b.shutdown().await;
}

/// The triggers one engine (embedded mode, which is replay's) writes over `lines`, sorted.
fn embedded_triggers(cfg: &Config, rules: &Arc<RuleSet>, lines: &str) -> Vec<String> {
    let mut out = Vec::new();
    cepheus_engine::daemon::embedded::run(
        cfg,
        Arc::clone(rules),
        lines.as_bytes(),
        "-",
        &mut out,
        std::io::sink(),
    )
    .unwrap();
    let mut triggers: Vec<String> =
        String::from_utf8(out).unwrap().lines().map(str::to_string).collect();
    triggers.sort();
    triggers
}

/// The partition count of `topic`, `None` when it does not exist.
fn partitions_of(topic: &str) -> Option<usize> {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", brokers()).create().expect("client config");
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).ok()?;
    md.topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
}

/// A face recognition and its record key (the camera).
fn face(id: &str, camera: &str, face: &str, authorized: bool, ts: &str) -> (String, String) {
    let v = serde_json::json!({
        "event_id": id, "event_type": "face.recognized", "timestamp": ts, "camera_id": camera,
        "face_id": face, "person_name": "unknown", "confidence": 0.93, "is_authorized": authorized,
    });
    (v.to_string(), camera.to_string())
}

/// Face recognitions keyed by camera (as cameras publish them) over three partitions: the
/// camera rule reads them directly, while the rule keyed by face reads them through
/// `<app>-repartition-<rule>`, where one face's sightings from every partition meet. The
/// triggers equal one engine's over the same events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_keyed_by_another_field_matches_across_partitions_through_its_repartition_topic() {
    if !broker_up() {
        return;
    }
    let app = unique("repart");
    let (input, alerts) = (format!("{app}-in"), format!("{app}-alerts"));
    create_topic(&input, 3).await;
    // Sightings from different partitions interleave in the repartition topic: a bound on
    // disorder larger than the test's time span keeps every event on time.
    let bounded = |file: &str| {
        pack_rule(file, &input, &alerts)
            .replace("max_out_of_orderness: 5s", "max_out_of_orderness: 1h")
    };
    let by_face = bounded("security/unauthorized_faces_on_three_cameras.yaml");
    let by_camera = bounded("security/motion_then_unauthorized_face.yaml");
    assert!(by_face.contains("max_out_of_orderness: 1h"));
    let rules = rules(&[by_camera, by_face]);
    let mut cfg = config(&app, "1s");
    cfg.record_keys.insert(input.clone(), "camera_id".into());
    let daemon = Daemon::start(cfg.clone(), Arc::clone(&rules), StartFrom::Committed);

    let at = |m: u32, s: u32| format!("2024-03-01T12:{m:02}:{s:02}Z");
    let events = vec![
        // face_a on three cameras within 10 minutes: a trigger keyed by the face.
        face("f1", "cam_01", "face_a", false, &at(0, 0)),
        face("f2", "cam_02", "face_b", false, &at(0, 30)),
        face("f5", "cam_02", "face_b", false, &at(1, 0)),
        face("f3", "cam_04", "face_a", false, &at(2, 0)),
        face("f4", "cam_05", "face_x", true, &at(2, 30)),
        face("f6", "cam_07", "face_a", false, &at(4, 0)),
        // face_b: two distinct cameras, then a third one more than 10 minutes after the first.
        face("f7", "cam_03", "face_b", false, &at(5, 0)),
        face("f8", "cam_06", "face_c", false, &at(6, 0)),
        face("f9", "cam_05", "face_b", false, &at(12, 0)),
        // Motion then an unauthorized face on the same camera: the camera rule, directly.
        cam_motion("m1", "cam_08", &at(13, 0)),
        face("f10", "cam_08", "face_c", false, &at(13, 10)),
        face("f11", "cam_03", "face_c", false, &at(14, 0)),
    ];
    let p = producer();
    let mut partition_of = std::collections::HashMap::new();
    for (value, camera) in &events {
        let rec: FutureRecord<'_, str, [u8]> =
            FutureRecord::to(&input).key(camera.as_str()).payload(value.as_bytes());
        let delivered =
            p.send(rec, Duration::from_secs(10)).await.unwrap_or_else(|(e, _)| panic!("{e}"));
        partition_of.insert(camera.clone(), delivered.partition);
    }
    let cameras_a: BTreeSet<i32> =
        ["cam_01", "cam_04", "cam_07"].iter().map(|c| partition_of[*c]).collect();
    let cameras_c: BTreeSet<i32> =
        ["cam_03", "cam_06", "cam_08"].iter().map(|c| partition_of[*c]).collect();
    assert!(
        cameras_a.len() > 1 || cameras_c.len() > 1,
        "some face's cameras span partitions, so only repartitioning can match it"
    );

    // What one engine produces over the same events.
    let text: String = events.iter().map(|(v, _)| format!("{v}\n")).collect();
    let expected = embedded_triggers(&cfg, &rules, &text);
    let keys: Vec<String> = expected
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["key"].to_string())
        .collect();
    assert_eq!(
        keys.iter().filter(|k| k.contains("face_")).count(),
        2,
        "face_a and face_c: {keys:?}"
    );
    assert!(keys.contains(&"\"cam_08\"".to_string()), "{keys:?}");

    let got = read(&alerts, expected.len(), Duration::from_secs(20), Duration::from_secs(1));
    let mut values: Vec<String> = got.iter().map(|r| r.value.clone()).collect();
    values.sort();
    assert_eq!(values, expected, "the same triggers as one engine, none twice");
    for r in &got {
        assert_eq!(r.key.as_deref(), r.json()["key"].as_str(), "keyed by the match key");
    }

    // The repartition topic: as many partitions as the source; only the records the face rule
    // uses (its filter runs before forwarding), keyed by face; the camera rule has none.
    let through = format!("{app}-repartition-unauthorized_faces_on_three_cameras");
    assert_eq!(partitions_of(&through), Some(3));
    assert_eq!(partitions_of(&format!("{app}-repartition-motion_then_unauthorized_face")), None);
    let forwarded = read(&through, 10, Duration::from_secs(10), Duration::from_millis(500));
    let mut forwarded_keys: Vec<&str> = forwarded.iter().filter_map(|r| r.key.as_deref()).collect();
    forwarded_keys.sort();
    assert_eq!(
        forwarded_keys,
        [
            "face_a", "face_a", "face_a", "face_b", "face_b", "face_b", "face_b", "face_c",
            "face_c", "face_c"
        ]
    );
    daemon.shutdown().await;
}

fn cam_motion(id: &str, camera: &str, ts: &str) -> (String, String) {
    let v = serde_json::json!({
        "event_id": id, "event_type": "motion.detected", "timestamp": ts, "camera_id": camera,
        "frame_number": 1, "detected_objects": [], "total_objects": 1,
    });
    (v.to_string(), camera.to_string())
}

/// Every conformance case (tests/cases, Flink CEP's semantics) through Kafka gives exactly the
/// triggers one engine gives over the same events. Each case's rules read a one-partition topic
/// of their own and all trigger to one alerts topic; the events are produced before the daemon
/// starts, and the idle partition's wall clock then ends their time as a flush does. Cases run
/// with `--no-flush` are left out: on Kafka, time always moves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases_through_kafka_give_replays_triggers() {
    if !broker_up() {
        return;
    }
    let app = unique("conf");
    let alerts = format!("{app}-alerts");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases");
    let mut cfg = config(&app, "2s");
    cfg.default_alerts_topic = alerts.clone();
    let mut all_rules = Vec::new();
    let mut cases = Vec::new();
    for (i, dir) in cepheus_engine::testing::case_dirs(&root).into_iter().enumerate() {
        let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
        if args.contains("--no-flush") {
            continue;
        }
        let loaded = cepheus_grammar::load(&[dir.join("rule.yaml")]);
        assert!(!loaded.has_errors(), "{}: {:?}", dir.display(), loaded.diagnostics);
        let input = format!("{app}-c{i:03}");
        let mut rules = loaded.rules;
        for r in &mut rules {
            // Unique names (the trigger's `rule` says which case it belongs to), the case's
            // own input topic, and the one alerts topic.
            r.name.text = format!("c{i:03}_{}", r.name.text);
            r.source.topics = vec![cepheus_grammar::ast::Name::new(&input, r.name.span)];
            for e in [&mut r.emit, &mut r.on_timeout].into_iter().flatten() {
                e.topic = None;
            }
        }
        let set = Arc::new(compile(&rules).expect("case rules compile"));
        if let Some(key) = set.rules[0].key_path(&set.fields) {
            cfg.record_keys.insert(input.clone(), key);
        }
        let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let expected = embedded_triggers(&cfg, &set, &events);
        let names: Vec<String> = rules.iter().map(|r| r.name.text.clone()).collect();
        all_rules.extend(rules);
        cases.push((dir, input, events, expected, names));
    }
    assert!(cases.len() > 100, "the cases were found: {}", cases.len());
    let expected_total: usize = cases.iter().map(|c| c.3.len()).sum();
    assert!(expected_total > 50, "the cases trigger: {expected_total}");

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let topics: Vec<NewTopic<'_>> =
        cases.iter().map(|c| NewTopic::new(c.1.as_str(), 1, TopicReplication::Fixed(1))).collect();
    for r in admin.create_topics(&topics, &AdminOptions::new()).await.unwrap() {
        r.unwrap_or_else(|e| panic!("creating a case topic: {e:?}"));
    }
    let p = producer();
    let mut acks = Vec::new();
    for (_, input, events, _, _) in &cases {
        for line in events.lines() {
            let rec: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(input).payload(line.as_bytes()).timestamp(0);
            acks.push(p.send_result(rec).unwrap_or_else(|(e, _)| panic!("{e}")));
        }
    }
    for a in acks {
        a.await.unwrap().unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    let all = Arc::new(compile(&all_rules).expect("all case rules compile together"));
    let daemon = Daemon::start(cfg, all, StartFrom::Committed);
    let got = read(&alerts, expected_total, Duration::from_secs(60), Duration::from_secs(3));
    daemon.shutdown().await;
    let mut by_rule: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in &got {
        let rule = r.json()["rule"].as_str().unwrap_or_default().to_string();
        by_rule.entry(rule).or_default().push(r.value.clone());
    }
    let mut differ = Vec::new();
    for (dir, _, _, expected, names) in &cases {
        let mut want = expected.clone();
        want.sort();
        let mut have: Vec<String> =
            names.iter().flat_map(|n| by_rule.remove(n).unwrap_or_default()).collect();
        have.sort();
        if have != want {
            differ.push(format!("{}:\n  kafka:  {have:?}\n  replay: {want:?}", dir.display()));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(by_rule.is_empty(), "triggers no replay gave: {by_rule:?}");
}

/// Each rule pack's golden event set (10,000+ events, out of order within bounds, malformed
/// records among them) through Kafka gives exactly replay's triggers (the committed
/// `expected.jsonl`). The events go to one three-partition topic per rule key of the pack,
/// keyed by that field (as producers key them, declared in `record_keys`), so every rule reads
/// directly and sees its keys' events in order; their time ends by the idle partitions' wall
/// clock, as replay's by the end of input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_sets_through_kafka_give_replays_triggers() {
    if !broker_up() {
        return;
    }
    let app = unique("golden");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let mut cfg = config(&app, "2s");
    let mut texts = Vec::new();
    // Per pack: its alerts topic, its expected triggers, and its events per input topic with
    // the field that keys them.
    let mut packs = Vec::new();
    for pack in ["health", "child-safety", "learning", "security"] {
        let dir = root.join(pack).join("golden");
        let alerts = format!("{app}-{pack}-alerts");
        let mut inputs: Vec<(String, String)> = Vec::new();
        for file in lines(&dir.join("rules")).iter().filter(|f| f.ends_with(".yaml")) {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            let key = text
                .lines()
                .find_map(|l| l.strip_prefix("  key: "))
                .unwrap_or_else(|| panic!("{} has a key", path.display()))
                .trim()
                .to_string();
            let input = format!("{app}-{pack}-by-{}", key.replace('_', "-"));
            if !inputs.iter().any(|(i, _)| *i == input) {
                create_topic(&input, 3).await;
                cfg.record_keys.insert(input.clone(), key.clone());
                inputs.push((input.clone(), key));
            }
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            texts.push(pack_rule(&rel, &input, &alerts));
        }
        let expected = lines(&dir.join("expected.jsonl"));
        assert!(expected.len() > 20, "{pack} triggers: {}", expected.len());
        packs.push((pack, alerts, expected, inputs, lines(&dir.join("events.jsonl"))));
    }

    let p = producer();
    let mut acks = Vec::new();
    for (_, _, _, inputs, events) in &packs {
        assert!(events.len() >= 10_000);
        for line in events {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            for (input, key) in inputs {
                // Malformed records and events without the field go unkeyed.
                let k = v.get(key.as_str()).and_then(|k| k.as_str()).map(str::to_string);
                let mut rec: FutureRecord<'_, str, [u8]> =
                    FutureRecord::to(input).payload(line.as_bytes());
                if let Some(k) = &k {
                    rec = rec.key(k.as_str());
                }
                loop {
                    match p.send_result(rec) {
                        Ok(ack) => {
                            acks.push(ack);
                            break;
                        }
                        Err((e, r)) => {
                            assert!(e.to_string().contains("Queue full"), "{e}");
                            rec = r;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        }
    }
    for a in acks {
        a.await.unwrap().unwrap_or_else(|(e, _)| panic!("{e}"));
    }

    // The learning pack's window records, as one engine writes them (embedded mode prints
    // them on stderr, in the DLQ's envelope).
    let learning = packs.iter().find(|p| p.0 == "learning").expect("learning pack");
    let windows_topic = format!("{}-windows", learning.1);
    let learning_rules: Vec<String> =
        texts.iter().filter(|t| t.contains(&learning.1)).cloned().collect();
    let mut diag = Vec::new();
    cepheus_engine::daemon::embedded::run(
        &cfg,
        rules(&learning_rules),
        learning.4.join("\n").as_bytes(),
        "-",
        std::io::sink(),
        &mut diag,
    )
    .unwrap();
    let mut want_windows: Vec<String> = String::from_utf8(diag)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["topic"] == windows_topic.as_str())
        .map(|v| v["value"].as_str().unwrap().to_string())
        .collect();
    want_windows.sort();
    assert!(want_windows.len() > 1000, "window records: {}", want_windows.len());

    let daemon = Daemon::start(cfg, rules(&texts), StartFrom::Committed);
    let got =
        read(&windows_topic, want_windows.len(), Duration::from_secs(120), Duration::from_secs(2));
    for r in &got {
        assert_eq!(r.header("cepheus.record"), Some("window"));
        assert_eq!(r.header("cepheus.rule"), Some("answer_rate_anomaly"));
        assert_eq!(r.key.as_deref(), r.json()["key"].as_str());
    }
    let mut got_windows: Vec<String> = got.into_iter().map(|r| r.value).collect();
    got_windows.sort();
    assert_eq!(got_windows.len(), want_windows.len(), "window record count");
    assert_eq!(got_windows, want_windows, "window records");
    for (pack, alerts, expected, _, _) in &packs {
        let got = read(alerts, expected.len(), Duration::from_secs(120), Duration::from_secs(2));
        let mut got_values: Vec<String> = got.iter().map(|r| r.value.clone()).collect();
        let mut want = expected.clone();
        got_values.sort();
        want.sort();
        assert_eq!(got_values.len(), want.len(), "{pack}: trigger count");
        assert_eq!(got_values, want, "{pack}: triggers");
    }
    daemon.shutdown().await;
}
