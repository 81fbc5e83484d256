//! Output records and where they go.
//!
//! [`Router::route`] maps one step of the runtime ([`StepResult`]) to [`OutRecord`]s: triggers
//! to each rule's emit topic (keyed by the match key, with the rule's name and version as
//! headers), unusable records to `<app>.dlq` and late events to `<app>.late` (both with the
//! original bytes and where they came from). A sink writes them: [`stdout::StdoutSink`] in
//! embedded mode, [`kafka::KafkaSink`] in the daemon.

pub mod kafka;
pub mod stdout;

use std::sync::Arc;

use crate::compile::RuleSet;
use crate::event::format_rfc3339;
use crate::output;
use crate::runtime::{Emitted, GLOBAL_KEY, StepResult};

/// Header names on records the engine writes.
pub mod headers {
    /// The rule that produced a trigger, or that rejected a record or found it late.
    pub const RULE: &str = "cepheus.rule";
    /// A hash of the rule's canonical text: changes when the rule changes.
    pub const RULE_VERSION: &str = "cepheus.rule.version";
    /// Where a DLQ or late record came from.
    pub const SOURCE_TOPIC: &str = "cepheus.source.topic";
    pub const SOURCE_PARTITION: &str = "cepheus.source.partition";
    pub const SOURCE_OFFSET: &str = "cepheus.source.offset";
    /// The record's own time (its Kafka timestamp), RFC 3339.
    pub const SOURCE_TIME: &str = "cepheus.source.time";
    /// Why a record is in the DLQ.
    pub const ERROR: &str = "cepheus.error";
    /// The watermark a late event was behind, RFC 3339.
    pub const WATERMARK: &str = "cepheus.watermark";
    /// What a record other than a trigger is: [`RECORD_WINDOW`] for a window rule's window
    /// record ([`super::Kind::Window`], on the rule's `windows` topic), so consumers of a topic
    /// that mixes both can tell them apart.
    pub const RECORD: &str = "cepheus.record";
    pub const RECORD_WINDOW: &str = "window";
}

/// What a record is, for sinks that treat kinds differently (stdout vs stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Trigger,
    Dlq,
    Late,
    /// A source record on its way to a rule's repartition topic.
    Forward,
    /// A window rule's aggregates of one window, to its `windows` topic.
    Window,
}

/// One record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    pub kind: Kind,
    pub topic: String,
    pub key: Option<Vec<u8>>,
    /// The partition to write to; `None`: the producer's partitioner chooses by key.
    pub partition: Option<i32>,
    /// The record's timestamp (epoch milliseconds); `None`: the time it is produced.
    pub timestamp: Option<i64>,
    pub payload: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// The input record a step came from.
#[derive(Debug, Clone, Copy)]
pub struct SourceRef<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// The record's time (Kafka timestamp), epoch milliseconds, if it has one.
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// Maps runtime output to records: knows the topics and the rules' versions.
#[derive(Debug, Clone)]
pub struct Router {
    rules: Arc<RuleSet>,
    default_topic: String,
    dlq_topic: String,
    late_topic: String,
    versions: Vec<String>,
    /// Per rule, its repartition topic when it reads through one.
    repartition: Vec<Option<String>>,
}

impl Router {
    pub fn new(
        rules: Arc<RuleSet>,
        default_topic: String,
        dlq_topic: String,
        late_topic: String,
    ) -> Router {
        let versions = rules.rules.iter().map(|r| rule_version(&r.ast)).collect();
        let repartition = vec![None; rules.rules.len()];
        Router { rules, default_topic, dlq_topic, late_topic, versions, repartition }
    }

    /// Sets each rule's repartition topic (in rule order; `None`: the rule reads directly).
    pub fn with_repartition(mut self, topics: Vec<Option<String>>) -> Router {
        assert_eq!(topics.len(), self.rules.rules.len(), "one entry per rule");
        self.repartition = topics;
        self
    }

    /// Every topic the engine may write: emit topics, DLQ and late.
    pub fn output_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .rules
            .rules
            .iter()
            .flat_map(|r| [r.emit.as_ref(), r.on_timeout.as_ref()])
            .flatten()
            .map(|e| e.topic.clone().unwrap_or_else(|| self.default_topic.clone()))
            .collect();
        if self.rules.rules.iter().any(|r| r.emit.is_none()) {
            topics.push(self.default_topic.clone());
        }
        topics.extend(
            self.rules.rules.iter().filter_map(|r| r.window.as_ref()?.windows_topic.clone()),
        );
        topics.push(self.dlq_topic.clone());
        topics.push(self.late_topic.clone());
        topics.sort();
        topics.dedup();
        topics
    }

    /// A DLQ record for a record that could not be used at all (`rule` = `None`) or by one rule.
    pub fn dead_letter(&self, src: &SourceRef<'_>, rule: Option<usize>, error: &str) -> OutRecord {
        let mut headers = source_headers(src);
        headers.push((headers::ERROR, error.to_string()));
        if let Some(i) = rule {
            headers.push((headers::RULE, self.rules.rules[i].name.clone()));
        }
        OutRecord {
            kind: Kind::Dlq,
            topic: self.dlq_topic.clone(),
            key: src.key.map(<[u8]>::to_vec),
            partition: None,
            timestamp: None,
            payload: src.payload.to_vec(),
            headers,
        }
    }

    /// Drains `step` into `out`. `src` is the record the step came from (`None` when time moved
    /// on its own, which can only fire timers).
    pub fn route(
        &self,
        step: &mut StepResult,
        src: Option<&SourceRef<'_>>,
        out: &mut Vec<OutRecord>,
    ) {
        for r in step.rejected.drain(..) {
            if let Some(src) = src {
                out.push(self.dead_letter(src, r.rule, &r.error.to_string()));
            }
        }
        for f in step.forwards.drain(..) {
            let (Some(src), Some(topic)) = (src, &self.repartition[f.rule]) else { continue };
            // Keyed by the rule's key, so each key has one partition of the repartition topic.
            // A rule without a key runs as one stream: all its records go to partition 0.
            let global = *f.key == *GLOBAL_KEY;
            let mut headers = source_headers(src);
            headers.push((headers::RULE, self.rules.rules[f.rule].name.clone()));
            out.push(OutRecord {
                kind: Kind::Forward,
                topic: topic.clone(),
                key: (!global).then(|| f.key.as_bytes().to_vec()),
                partition: global.then_some(0),
                // The record's own time travels with it: rules without `source.time` use it.
                timestamp: src.timestamp,
                payload: src.payload.to_vec(),
                headers,
            });
        }
        for (i, e) in step.emitted.drain(..) {
            let rule = &self.rules.rules[i];
            match e {
                Emitted::Match { key, path } => {
                    let v = output::trigger(rule, rule.emit.as_ref(), &key, &path, None);
                    out.push(self.trigger(i, rule.emit.as_ref(), &key, &v));
                }
                Emitted::Timeout { key, path, at } => {
                    if rule.on_timeout.is_some() {
                        let v =
                            output::trigger(rule, rule.on_timeout.as_ref(), &key, &path, Some(at));
                        out.push(self.trigger(i, rule.on_timeout.as_ref(), &key, &v));
                    }
                }
                Emitted::Late { key, event, watermark } => {
                    let mut headers = match src {
                        Some(src) => source_headers(src),
                        None => Vec::new(),
                    };
                    headers.push((headers::RULE, rule.name.clone()));
                    headers.push((headers::WATERMARK, format_rfc3339(watermark)));
                    out.push(OutRecord {
                        kind: Kind::Late,
                        topic: self.late_topic.clone(),
                        key: src
                            .and_then(|s| s.key.map(<[u8]>::to_vec))
                            .or_else(|| (*key != *GLOBAL_KEY).then(|| key.as_bytes().to_vec())),
                        partition: None,
                        timestamp: None,
                        // A late event was never taken: it has its text.
                        payload: event.raw().unwrap_or_default().as_bytes().to_vec(),
                        headers,
                    });
                }
                Emitted::Trace(_) => {}
                Emitted::Window { key, window, triggered } => {
                    if triggered {
                        let v = output::window_trigger(rule, &key, &window);
                        out.push(self.trigger(i, rule.emit.as_ref(), &key, &v));
                    }
                    if let Some(topic) = rule.window.as_ref().and_then(|w| w.windows_topic.clone())
                    {
                        // A window record goes out keyed and labelled as a trigger is, to the
                        // rule's `windows` topic (embedded mode prints it on stderr).
                        let v = output::window_record(rule, &key, &window);
                        let mut record = self.trigger(i, None, &key, &v);
                        record.kind = Kind::Window;
                        record.topic = topic;
                        record.headers.push((headers::RECORD, headers::RECORD_WINDOW.into()));
                        out.push(record);
                    }
                }
            }
        }
    }

    fn trigger(
        &self,
        rule: usize,
        emit: Option<&crate::compile::CompiledEmit>,
        key: &str,
        value: &serde_json::Value,
    ) -> OutRecord {
        let topic =
            emit.and_then(|e| e.topic.clone()).unwrap_or_else(|| self.default_topic.clone());
        OutRecord {
            kind: Kind::Trigger,
            topic,
            key: (key != GLOBAL_KEY).then(|| key.as_bytes().to_vec()),
            partition: None,
            timestamp: None,
            payload: value.to_string().into_bytes(),
            headers: vec![
                (headers::RULE, self.rules.rules[rule].name.clone()),
                (headers::RULE_VERSION, self.versions[rule].clone()),
            ],
        }
    }
}

fn source_headers(src: &SourceRef<'_>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (headers::SOURCE_TOPIC, src.topic.to_string()),
        (headers::SOURCE_PARTITION, src.partition.to_string()),
        (headers::SOURCE_OFFSET, src.offset.to_string()),
    ];
    if let Some(t) = src.timestamp {
        h.push((headers::SOURCE_TIME, format_rfc3339(t)));
    }
    h
}

/// A rule's version: FNV-1a (64 bits) of its canonical DSL text, so reformatting a file or
/// converting it between YAML and DSL keeps the version, and any change of meaning changes it.
pub fn rule_version(rule: &cepheus_grammar::ast::Rule) -> String {
    let text = cepheus_grammar::dsl::print(rule);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}
