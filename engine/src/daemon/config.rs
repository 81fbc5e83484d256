//! The daemon's configuration: `cepheus.yaml`, then `CEPHEUS_*` environment variables.
//!
//! Rule files say *what to detect*; this says *how to run*. [`RawConfig`] mirrors the file
//! (unknown keys are refused); [`Config::load`] layers built-in defaults, the file and the
//! environment, and validates the result into a [`Config`] that cannot hold invalid values. Every
//! problem is reported at once, each naming its key (`limits.queue_capacity`, or the variable,
//! `CEPHEUS_IDLE_TIMEOUT`).
//!
//! Environment variables (each overrides the file's key of the same name):
//!
//! | variable | key |
//! | --- | --- |
//! | `CEPHEUS_BROKERS` | `brokers` (empty = embedded mode) |
//! | `CEPHEUS_GROUP_ID` | `group_id` |
//! | `CEPHEUS_APP` | `app` |
//! | `CEPHEUS_RULES` | `rules` (paths separated by `,`) |
//! | `CEPHEUS_INPUT` | `input` |
//! | `CEPHEUS_DELIVERY` | `delivery` |
//! | `CEPHEUS_IDLE_TIMEOUT` | `idle_timeout` |
//! | `CEPHEUS_COMMIT_INTERVAL` | `commit_interval` |
//! | `CEPHEUS_WORKERS` | `workers` |
//! | `CEPHEUS_DEFAULT_ALERTS_TOPIC` | `default_alerts_topic` |
//! | `CEPHEUS_STATE_DIR` | `state_dir` |
//! | `CEPHEUS_METRICS_ADDR` | `metrics_addr` |
//! | `CEPHEUS_RECORD_KEYS` | `record_keys` (`topic=field` pairs separated by `,`) |
//! | `CEPHEUS_CONSUMER_<NAME>` | `consumer.<name>` (`_` becomes `.`, lower case: `CEPHEUS_CONSUMER_SASL_PASSWORD` is `sasl.password`) |
//! | `CEPHEUS_PRODUCER_<NAME>` | `producer.<name>` |
//! | `CEPHEUS_KAFKA_<NAME>` | both `consumer.<name>` and `producer.<name>` (security settings shared by both) |

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The file the daemon reads when `--config` is not given and the file exists.
pub const DEFAULT_CONFIG_FILE: &str = "cepheus.yaml";

/// `cepheus.yaml`, as written. Every field is optional: what is absent takes its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Kafka bootstrap servers, `host:port[,host:port...]`. Absent or empty: embedded mode (no
    /// Kafka; JSON lines from `input`, triggers on stdout).
    pub brokers: Option<String>,
    /// The consumer group of this deployment; instances with the same group share the input
    /// topics' partitions. Default: the value of `app`.
    pub group_id: Option<String>,
    /// The application name: prefix of the topics the engine owns (`<app>.dlq`, `<app>.late`).
    /// Default `cepheus`.
    pub app: Option<String>,
    /// Rule files or folders. Default `rules`.
    pub rules: Option<Vec<PathBuf>>,
    /// Embedded mode only: the JSON-lines file to read, or `-` for stdin (the default).
    pub input: Option<String>,
    /// `at_least_once` (the default). `exactly_once` is refused for now.
    pub delivery: Option<String>,
    /// After this long without a record, a partition's event time follows the wall clock, so
    /// `within` timeouts and absences fire without new events. Default `30s`.
    pub idle_timeout: Option<String>,
    /// How often acknowledged offsets are committed. Default `1s`.
    pub commit_interval: Option<String>,
    /// Threads that run the partition workers. Default: the number of cores.
    pub workers: Option<usize>,
    /// Topic of triggers whose rule names no `emit.topic`. Default `alerts`.
    pub default_alerts_topic: Option<String>,
    /// Directory for durable state (reserved for the state store; accepted and validated).
    pub state_dir: Option<PathBuf>,
    /// Address of the metrics endpoint, `host:port` (reserved; accepted and validated).
    pub metrics_addr: Option<String>,
    /// librdkafka properties for the consumer, passed through (security settings included).
    pub consumer: Option<BTreeMap<String, RawProp>>,
    /// librdkafka properties for the producer, passed through.
    pub producer: Option<BTreeMap<String, RawProp>>,
    /// What each input topic's producers key their records by: topic -> field path. A rule
    /// whose key is that field on all its topics reads them directly; any other rule reads
    /// through a repartition topic keyed by its key.
    pub record_keys: Option<BTreeMap<String, String>>,
    /// Creation of the topics the engine writes (emit topics, DLQ, late) when they are missing.
    pub topics: Option<RawTopics>,
    /// Bounds on memory.
    pub limits: Option<RawLimits>,
}

/// A librdkafka property's value: written as text, a number or a boolean.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawProp {
    Text(String),
    Int(i64),
    Bool(bool),
}

impl RawProp {
    fn into_text(self) -> String {
        match self {
            RawProp::Text(s) => s,
            RawProp::Int(i) => i.to_string(),
            RawProp::Bool(b) => b.to_string(),
        }
    }
}

/// `topics:` in `cepheus.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopics {
    /// Create missing engine-owned and emit topics at start (default true). When false, a
    /// missing emit topic is a start-up error.
    pub auto_create: Option<bool>,
    /// Partitions of created topics (default 1).
    pub partitions: Option<i32>,
    /// Replication factor of created topics (default 1).
    pub replication: Option<i32>,
}

/// `limits:` in `cepheus.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Records larger than this many bytes go to the DLQ undecoded (default 1048576).
    pub max_record_bytes: Option<usize>,
    /// Events waiting for the watermark, per rule and partition (default 1000000).
    pub max_buffered_events: Option<usize>,
    /// Open partial matches per key and rule (default 10000).
    pub max_runs_per_key: Option<usize>,
    /// Records prefetched for one partition (librdkafka's `queued.min.messages`, unless
    /// `consumer` sets it); when its queue holds this many, fetching it waits (default 25000:
    /// a shallower queue runs dry while the broker is slow to answer, and the worker waits).
    pub queue_capacity: Option<usize>,
}

/// How results and offsets are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Offsets are committed after everything their records caused is acknowledged.
    AtLeastOnce,
}

/// Validated limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_record_bytes: usize,
    pub max_buffered_events: usize,
    pub max_runs_per_key: usize,
    pub queue_capacity: usize,
}

/// Validated topic creation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSettings {
    pub auto_create: bool,
    pub partitions: i32,
    pub replication: i32,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `None`: embedded mode.
    pub brokers: Option<String>,
    pub group_id: String,
    pub app: String,
    pub rules: Vec<PathBuf>,
    /// Embedded mode's input; `None` is stdin.
    pub input: Option<PathBuf>,
    pub delivery: Delivery,
    pub idle_timeout: Duration,
    pub commit_interval: Duration,
    /// Threads that run the partition workers (at least 1).
    pub workers: usize,
    pub default_alerts_topic: String,
    pub state_dir: Option<PathBuf>,
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub consumer: BTreeMap<String, String>,
    pub producer: BTreeMap<String, String>,
    /// Input topic -> the field its records are keyed by.
    pub record_keys: BTreeMap<String, String>,
    pub topics: TopicSettings,
    pub limits: Limits,
}

impl Config {
    /// `<app>.dlq`.
    pub fn dlq_topic(&self) -> String {
        format!("{}.dlq", self.app)
    }

    /// `<app>.late`.
    pub fn late_topic(&self) -> String {
        format!("{}.late", self.app)
    }

    /// The runtime's limits.
    pub fn runtime_limits(&self) -> crate::runtime::Limits {
        crate::runtime::Limits {
            max_buffered_events: self.limits.max_buffered_events,
            max_runs_per_key: self.limits.max_runs_per_key,
        }
    }

    /// Loads `path` (or `cepheus.yaml` in the working directory if it exists, when `path` is
    /// `None`), then applies `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (raw, origin) = match path {
            Some(p) => (read_file(p)?, p.display().to_string()),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                (read_file(Path::new(DEFAULT_CONFIG_FILE))?, DEFAULT_CONFIG_FILE.to_string())
            }
            None => (RawConfig::default(), "defaults".to_string()),
        };
        Config::from_raw(raw, env).map_err(|problems| ConfigError::Invalid { origin, problems })
    }

    /// Parses YAML text (for tests and embedding).
    pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
        serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: "configuration".into(),
            message: e.to_string(),
        })
    }

    /// Applies `env` over `raw` and validates; every problem at once.
    pub fn from_raw(
        mut raw: RawConfig,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Vec<Problem>> {
        let mut problems = Vec::new();
        // Where each value came from, for messages: the file's key or the variable.
        let mut origin: BTreeMap<&'static str, String> = BTreeMap::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("CEPHEUS_") else { continue };
            let mut set = |key: &'static str, slot: &mut Option<String>| {
                *slot = Some(value.clone());
                origin.insert(key, name.clone());
            };
            match rest {
                "BROKERS" => set("brokers", &mut raw.brokers),
                "GROUP_ID" => set("group_id", &mut raw.group_id),
                "APP" => set("app", &mut raw.app),
                "INPUT" => set("input", &mut raw.input),
                "DELIVERY" => set("delivery", &mut raw.delivery),
                "IDLE_TIMEOUT" => set("idle_timeout", &mut raw.idle_timeout),
                "COMMIT_INTERVAL" => set("commit_interval", &mut raw.commit_interval),
                "DEFAULT_ALERTS_TOPIC" => {
                    set("default_alerts_topic", &mut raw.default_alerts_topic)
                }
                "METRICS_ADDR" => set("metrics_addr", &mut raw.metrics_addr),
                "STATE_DIR" => raw.state_dir = Some(PathBuf::from(&value)),
                "RECORD_KEYS" => {
                    let mut keys = BTreeMap::new();
                    for pair in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match pair.split_once('=') {
                            Some((t, f)) => {
                                keys.insert(t.trim().to_string(), f.trim().to_string());
                            }
                            None => problems.push(Problem::new(
                                name.clone(),
                                format!("`{pair}` is not `topic=field`"),
                            )),
                        }
                    }
                    raw.record_keys = Some(keys);
                    origin.insert("record_keys", name.clone());
                }
                "WORKERS" => {
                    match value.trim().parse() {
                        Ok(n) => raw.workers = Some(n),
                        Err(_) => problems.push(Problem::new(
                            name.clone(),
                            format!("`{value}` is not a number of threads"),
                        )),
                    }
                    origin.insert("workers", name.clone());
                }
                "RULES" => {
                    raw.rules = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(PathBuf::from)
                            .collect(),
                    );
                    origin.insert("rules", name.clone());
                }
                _ => {
                    let (targets, prop): (&[bool; 2], &str) =
                        if let Some(p) = rest.strip_prefix("CONSUMER_") {
                            (&[true, false], p)
                        } else if let Some(p) = rest.strip_prefix("PRODUCER_") {
                            (&[false, true], p)
                        } else if let Some(p) = rest.strip_prefix("KAFKA_") {
                            (&[true, true], p)
                        } else {
                            // Other CEPHEUS_* variables belong to other tools.
                            continue;
                        };
                    // The development broker's script reads CEPHEUS_KAFKA_HOME and the like:
                    // they are not librdkafka properties.
                    if is_script_variable(rest) {
                        continue;
                    }
                    let prop = prop.to_ascii_lowercase().replace('_', ".");
                    if targets[0] {
                        raw.consumer
                            .get_or_insert_with(BTreeMap::new)
                            .insert(prop.clone(), RawProp::Text(value.clone()));
                    }
                    if targets[1] {
                        raw.producer
                            .get_or_insert_with(BTreeMap::new)
                            .insert(prop, RawProp::Text(value.clone()));
                    }
                }
            }
        }
        let key = |k: &'static str| origin.get(k).cloned().unwrap_or_else(|| k.to_string());

        let brokers = raw.brokers.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
        let app = raw.app.unwrap_or_else(|| "cepheus".into());
        if !valid_topic_name(&app) {
            problems.push(Problem::new(
                key("app"),
                format!("`{app}` cannot prefix topic names: use letters, digits, `.`, `_` and `-` (at most 200)"),
            ));
        }
        let group_id = raw.group_id.unwrap_or_else(|| app.clone());
        if group_id.trim().is_empty() {
            problems.push(Problem::new(key("group_id"), "must not be empty"));
        }
        let rules = raw.rules.unwrap_or_else(|| vec![PathBuf::from("rules")]);
        if rules.is_empty() {
            problems.push(Problem::new(key("rules"), "names no rule file or folder"));
        }
        let input = match raw.input.as_deref() {
            None | Some("-") => None,
            Some(p) => Some(PathBuf::from(p)),
        };
        let delivery = match raw.delivery.as_deref().unwrap_or("at_least_once") {
            "at_least_once" => Some(Delivery::AtLeastOnce),
            "exactly_once" => {
                problems.push(Problem::new(
                    key("delivery"),
                    "`exactly_once` is not supported yet (it needs durable state and a \
                     transactional producer); use `at_least_once`",
                ));
                None
            }
            other => {
                problems.push(Problem::new(
                    key("delivery"),
                    format!("`{other}` is not a delivery mode: use `at_least_once`"),
                ));
                None
            }
        };
        let mut duration = |k: &'static str, v: Option<String>, default: u64| -> Duration {
            let text = v.unwrap_or_else(|| cepheus_grammar::duration::format(default));
            match cepheus_grammar::duration::parse(&text) {
                Ok(0) => {
                    problems.push(Problem::new(key(k), "must be longer than zero"));
                    Duration::from_millis(default)
                }
                Ok(ms) => Duration::from_millis(ms),
                Err(e) => {
                    problems.push(Problem::new(key(k), e));
                    Duration::from_millis(default)
                }
            }
        };
        let idle_timeout = duration("idle_timeout", raw.idle_timeout, 30_000);
        let commit_interval = duration("commit_interval", raw.commit_interval, 1_000);
        let workers = raw.workers.unwrap_or_else(default_workers);
        if workers == 0 {
            problems.push(Problem::new(key("workers"), "must be at least 1"));
        }
        let default_alerts_topic = raw
            .default_alerts_topic
            .unwrap_or_else(|| crate::output::DEFAULT_ALERTS_TOPIC.to_string());
        if !valid_topic_name(&default_alerts_topic) {
            problems.push(Problem::new(
                key("default_alerts_topic"),
                format!("`{default_alerts_topic}` is not a valid topic name"),
            ));
        }
        let metrics_addr = match raw.metrics_addr {
            None => None,
            Some(a) => match a.parse() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    problems.push(Problem::new(
                        key("metrics_addr"),
                        format!(
                            "`{a}` is not an address: write `host:port`, e.g. `127.0.0.1:9464`"
                        ),
                    ));
                    None
                }
            },
        };
        let props = |m: Option<BTreeMap<String, RawProp>>| -> BTreeMap<String, String> {
            m.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_text())).collect()
        };
        let consumer = props(raw.consumer);
        let producer = props(raw.producer);
        for (section, props) in [("consumer", &consumer), ("producer", &producer)] {
            for owned in ["bootstrap.servers", "group.id", "enable.auto.commit"] {
                if props.contains_key(owned) {
                    problems.push(Problem::new(
                        format!("{section}.{owned}"),
                        "is set by Cepheus itself (use `brokers` / `group_id`; commits follow \
                         acknowledged output)",
                    ));
                }
            }
        }
        let record_keys = raw.record_keys.unwrap_or_default();
        for (topic, field) in &record_keys {
            if !valid_topic_name(topic) {
                problems.push(Problem::new(
                    key("record_keys"),
                    format!("`{topic}` is not a valid topic name"),
                ));
            }
            if field.trim().is_empty() {
                problems.push(Problem::new(
                    key("record_keys"),
                    format!("topic `{topic}` names no field"),
                ));
            }
        }
        let t = raw.topics.unwrap_or_default();
        let topics = TopicSettings {
            auto_create: t.auto_create.unwrap_or(true),
            partitions: t.partitions.unwrap_or(1),
            replication: t.replication.unwrap_or(1),
        };
        if topics.partitions < 1 {
            problems.push(Problem::new("topics.partitions", "must be at least 1"));
        }
        if topics.replication < 1 {
            problems.push(Problem::new("topics.replication", "must be at least 1"));
        }
        let l = raw.limits.unwrap_or_default();
        let limits = Limits {
            max_record_bytes: l.max_record_bytes.unwrap_or(1 << 20),
            max_buffered_events: l.max_buffered_events.unwrap_or(1_000_000),
            max_runs_per_key: l.max_runs_per_key.unwrap_or(10_000),
            queue_capacity: l.queue_capacity.unwrap_or(25_000),
        };
        for (k, v) in [
            ("limits.max_record_bytes", limits.max_record_bytes),
            ("limits.max_buffered_events", limits.max_buffered_events),
            ("limits.max_runs_per_key", limits.max_runs_per_key),
            ("limits.queue_capacity", limits.queue_capacity),
        ] {
            if v == 0 {
                problems.push(Problem::new(k, "must be at least 1"));
            }
        }
        match (problems.is_empty(), delivery) {
            (true, Some(delivery)) => Ok(Config {
                brokers,
                group_id,
                app,
                rules,
                input,
                delivery,
                idle_timeout,
                commit_interval,
                workers,
                default_alerts_topic,
                state_dir: raw.state_dir,
                metrics_addr,
                consumer,
                producer,
                record_keys,
                topics,
                limits,
            }),
            _ => Err(problems),
        }
    }
}

/// One worker thread per core; 1 when the number of cores cannot be read.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1)
}

/// Variables of `scripts/kafka` (the development broker) that share the `CEPHEUS_KAFKA_` prefix
/// and are not librdkafka properties.
fn is_script_variable(rest: &str) -> bool {
    matches!(
        rest,
        "KAFKA_HOME"
            | "KAFKA_PORT"
            | "KAFKA_CONTROLLER_PORT"
            | "KAFKA_START_TIMEOUT"
            | "KAFKA_STOP_TIMEOUT"
    )
}

fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read { path: path.to_path_buf(), source: e })?;
    serde_saphyr::from_str(&text).map_err(|e| ConfigError::Syntax {
        origin: path.display().to_string(),
        message: e.to_string(),
    })
}

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key (`limits.queue_capacity`) or variable (`CEPHEUS_IDLE_TIMEOUT`).
    pub key: String,
    pub message: String,
}

impl Problem {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { key: key.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// A configuration that cannot be used. A user error: the daemon does not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("invalid configuration ({origin}):\n{}", problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { origin: String, problems: Vec<Problem> },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, Vec<Problem>> {
        Config::from_raw(Config::parse(yaml).expect("valid YAML"), env(vars))
    }

    #[test]
    fn defaults_are_embedded_at_least_once() {
        let c = load("{}", &[]).unwrap();
        assert_eq!(c.brokers, None);
        assert_eq!(c.app, "cepheus");
        assert_eq!(c.group_id, "cepheus");
        assert_eq!(c.delivery, Delivery::AtLeastOnce);
        assert_eq!(c.idle_timeout, Duration::from_secs(30));
        assert_eq!(c.default_alerts_topic, "alerts");
        assert_eq!(c.dlq_topic(), "cepheus.dlq");
        assert_eq!(c.late_topic(), "cepheus.late");
        assert_eq!(c.input, None);
    }

    #[test]
    fn environment_overrides_the_file() {
        let yaml =
            "brokers: a:1\napp: one\nidle_timeout: 5s\nconsumer: {session.timeout.ms: '6000'}\n";
        let c = load(
            yaml,
            &[
                ("CEPHEUS_BROKERS", "b:2"),
                ("CEPHEUS_APP", "two"),
                ("CEPHEUS_RULES", "rules/health, rules/security"),
                ("CEPHEUS_IDLE_TIMEOUT", "250ms"),
                ("CEPHEUS_KAFKA_SASL_PASSWORD", "secret"),
                ("CEPHEUS_CONSUMER_SESSION_TIMEOUT_MS", "7000"),
                ("CEPHEUS_KAFKA_HOME", "/somewhere"),
                ("HOME", "/root"),
            ],
        )
        .unwrap();
        assert_eq!(c.brokers.as_deref(), Some("b:2"));
        assert_eq!(c.app, "two");
        assert_eq!(c.group_id, "two", "the group defaults to the app name");
        assert_eq!(c.rules, vec![PathBuf::from("rules/health"), PathBuf::from("rules/security")]);
        assert_eq!(c.idle_timeout, Duration::from_millis(250));
        assert_eq!(c.consumer["sasl.password"], "secret");
        assert_eq!(c.producer["sasl.password"], "secret");
        assert_eq!(c.consumer["session.timeout.ms"], "7000");
        assert!(
            !c.consumer.contains_key("home"),
            "the broker script's variables are not properties"
        );
    }

    #[test]
    fn every_problem_is_reported_naming_its_key() {
        let yaml = "delivery: exactly_once\nidle_timeout: 10\nlimits: {queue_capacity: 0}\ntopics: {partitions: 0}\nconsumer: {group.id: x}\n";
        let problems = load(yaml, &[("CEPHEUS_COMMIT_INTERVAL", "soon")]).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "delivery",
                "idle_timeout",
                "CEPHEUS_COMMIT_INTERVAL",
                "consumer.group.id",
                "topics.partitions",
                "limits.queue_capacity"
            ]
        );
        assert!(problems[0].message.contains("not supported yet"), "{}", problems[0]);
        assert!(problems[1].message.contains("no unit"), "{}", problems[1]);
    }

    #[test]
    fn workers_default_to_the_cores_and_are_overridden() {
        assert_eq!(load("{}", &[]).unwrap().workers, default_workers());
        assert!(default_workers() >= 1);
        assert_eq!(load("workers: 3\n", &[]).unwrap().workers, 3);
        let c = load("workers: 3\n", &[("CEPHEUS_WORKERS", " 5 ")]).unwrap();
        assert_eq!(c.workers, 5, "the variable overrides the file");

        let problems = load("workers: 0\n", &[]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].key.as_str(), problems[0].message.as_str()),
            ("workers", "must be at least 1")
        );
        let problems = load("{}", &[("CEPHEUS_WORKERS", "0")]).unwrap_err();
        assert_eq!(problems[0].key, "CEPHEUS_WORKERS");
        let problems = load("{}", &[("CEPHEUS_WORKERS", "many")]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "CEPHEUS_WORKERS");
        assert!(problems[0].message.contains("`many`"), "{}", problems[0]);
        assert!(Config::parse("workers: -1\n").is_err(), "negative counts are refused");
    }

    #[test]
    fn record_keys_come_from_the_file_or_the_environment() {
        let c = load("record_keys: {face.recognition.events: camera_id}\n", &[]).unwrap();
        assert_eq!(c.record_keys["face.recognition.events"], "camera_id");
        assert!(load("{}", &[]).unwrap().record_keys.is_empty(), "none declared by default");
        let c = load(
            "record_keys: {a: x}\n",
            &[("CEPHEUS_RECORD_KEYS", "health-events=user_id, motion.detection.events=camera_id")],
        )
        .unwrap();
        assert_eq!(c.record_keys.len(), 2, "the variable replaces the file's map");
        assert_eq!(c.record_keys["health-events"], "user_id");
        assert_eq!(c.record_keys["motion.detection.events"], "camera_id");

        let problems = load("{}", &[("CEPHEUS_RECORD_KEYS", "alerts")]).unwrap_err();
        assert_eq!(problems[0].key, "CEPHEUS_RECORD_KEYS");
        assert!(problems[0].message.contains("`alerts`"), "{}", problems[0]);
        let problems = load("record_keys: {'bad topic': x, b: ''}\n", &[]).unwrap_err();
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "`record_keys`: topic `b` names no field",
                "`record_keys`: `bad topic` is not a valid topic name"
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::parse("brokerz: a:1\n").unwrap_err().to_string();
        assert!(err.contains("brokerz"), "{err}");
        let err = Config::parse("limits: {max_runs: 1}\n").unwrap_err().to_string();
        assert!(err.contains("max_runs"), "{err}");
    }

    #[test]
    fn example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cepheus.example.yaml");
        let c = Config::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(c.brokers.as_deref(), Some("127.0.0.1:19092"));
    }
}
