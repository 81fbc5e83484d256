//! Running compiled rules over input: records -> events -> per-rule partitions.
//!
//! [`Pipeline`] takes raw records of one input partition (a file in replay, a Kafka partition
//! in the daemon), decodes each once for all rules, and offers it to every rule's
//! [`Partition`], which orders events per key behind its watermark and steps the NFAs.

mod checkpoint;
pub mod clock;
mod partition;
mod timers;
mod waiting;

use std::sync::Arc;

use crate::compile::{CompiledRule, RuleSet};
use crate::event::{Event, RecordError, StrCache, Val, key_text, parse_time, path_text};
use crate::nfa::eval::{PathRef, Scope, holds};

pub use partition::{Counters, Emitted, Limits, Partition};

/// The key of events of a rule without `source.key`.
pub const GLOBAL_KEY: &str = "";

/// A record one rule could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub rule: Option<usize>,
    pub error: RecordError,
}

/// All rules over one input partition.
#[derive(Debug)]
pub struct Pipeline {
    rules: Arc<RuleSet>,
    partitions: Vec<Partition>,
    /// Per rule, where it reads its events (all [`Route::Direct`] unless set).
    routes: Vec<Route>,
    /// The repartition topics of `routes`.
    through: Vec<String>,
    /// Strings of field values that repeat, shared from record to record.
    strings: StrCache,
}

/// Where a rule reads its events from, in the Kafka daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// From its source topics, as they are partitioned (their record key is the rule's key).
    Direct,
    /// Through a repartition topic: records of the source topics are not run but handed back
    /// as [`Forward`]s, to be written to `topic` keyed by the rule's key; the rule runs on the
    /// records read back from `topic`.
    Repartition { topic: String },
}

/// A record to write to a rule's repartition topic, keyed by `key` (the rule's key value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub rule: usize,
    pub key: Arc<str>,
}

/// What one record produced: per rule, what its partition emitted; rejections; and records
/// to forward to repartition topics.
#[derive(Debug, Default)]
pub struct StepResult {
    pub emitted: Vec<(usize, Emitted)>,
    pub rejected: Vec<Rejected>,
    pub forwards: Vec<Forward>,
}

impl Pipeline {
    /// `timeouts`: report timed-out partial matches of every rule (otherwise only of rules with
    /// `on_timeout`).
    pub fn new(rules: Arc<RuleSet>, timeouts: bool, limits: Limits) -> Pipeline {
        let partitions = rules
            .rules
            .iter()
            .map(|r| {
                Partition::new(Arc::new(r.clone()), timeouts || r.on_timeout.is_some(), limits)
            })
            .collect();
        let routes = vec![Route::Direct; rules.rules.len()];
        Pipeline { rules, partitions, routes, through: Vec::new(), strings: StrCache::default() }
    }

    /// Events taken by partial matches keep their whole text, for outputs that print them
    /// (`--matches`, `--timeouts`, rule tests); otherwise they keep only what triggers read (see
    /// [`crate::event::Keep`]). Call before the first event.
    pub fn keeping_text(mut self) -> Pipeline {
        for p in &mut self.partitions {
            p.keep_text();
        }
        self
    }

    /// Sets where each rule reads its events (one [`Route`] per rule, in rule order).
    pub fn set_routes(&mut self, routes: Vec<Route>) {
        assert_eq!(routes.len(), self.partitions.len(), "one route per rule");
        self.through = routes
            .iter()
            .filter_map(|r| match r {
                Route::Repartition { topic } => Some(topic.clone()),
                Route::Direct => None,
            })
            .collect();
        self.routes = routes;
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    pub fn trace(&mut self, key: Option<&str>) {
        for p in &mut self.partitions {
            p.trace(key);
        }
    }

    /// Offers one record (JSON text) at input position `seq` (increasing: a line number or a
    /// Kafka offset); `record_time` is used by rules without `source.time`.
    pub fn offer(&mut self, raw: &str, seq: u64, record_time: i64, result: &mut StepResult) {
        self.offer_from(None, raw, seq, record_time, result);
    }

    /// [`Pipeline::offer`] for a record read from `topic`: only rules whose `source.topics`
    /// name it (or name none) see it. `None` (a file, stdin) offers it to every rule.
    ///
    /// A rule routed through a repartition topic runs only on records of that topic; on its
    /// source topics' records it is checked as far as the filter, key and time (so unusable
    /// records are rejected where they came from) and then forwarded.
    pub fn offer_from(
        &mut self,
        topic: Option<&str>,
        raw: &str,
        seq: u64,
        record_time: i64,
        result: &mut StepResult,
    ) {
        let (fields, ids) = match self.rules.fields.projector().decode_with(raw, &mut self.strings)
        {
            Ok(decoded) => decoded,
            Err(error) => {
                result.rejected.push(Rejected { rule: None, error });
                return;
            }
        };
        let raw: Arc<str> = Arc::from(raw);
        let mut out = Vec::new();
        for (i, (rule, partition)) in self.rules.rules.iter().zip(&mut self.partitions).enumerate()
        {
            let reads = |t: &str| rule.topics.is_empty() || rule.topics.iter().any(|r| r == t);
            let forward = match (&self.routes[i], topic) {
                (_, None) => false,
                (Route::Repartition { topic: through }, Some(t)) if t == through => false,
                (Route::Repartition { .. }, Some(t)) if reads(t) => true,
                // A rule that names no topic reads every source topic, not other rules'
                // repartition topics.
                (Route::Direct, Some(t)) if reads(t) && !self.through.iter().any(|r| r == t) => {
                    false
                }
                _ => continue,
            };
            let mut event = Event::with_ids(seq, record_time, raw.clone(), fields.clone(), ids);
            if let Some(filter) = &rule.filter {
                let scope = Scope {
                    program: &rule.program,
                    event: Some(&event),
                    path: PathRef::Slice(&[]),
                };
                if !holds(filter, scope) {
                    continue;
                }
            }
            let key = match extract_key(rule, &self.rules, &event) {
                Ok(k) => k,
                Err(error) => {
                    result.rejected.push(Rejected { rule: Some(i), error });
                    continue;
                }
            };
            if let Some(t) = rule.time {
                match parse_time(event.field(t)) {
                    Ok(ts) => event.ts = ts,
                    Err(reason) => {
                        let field = path_text(self.rules.fields.path(t));
                        let error = if event.field(t).is_missing() {
                            RecordError::MissingTime(field)
                        } else {
                            RecordError::BadTime { field, reason }
                        };
                        result.rejected.push(Rejected { rule: Some(i), error });
                        continue;
                    }
                }
            }
            if forward {
                result.forwards.push(Forward { rule: i, key });
                continue;
            }
            partition.offer(key, event, &mut out);
            result.emitted.extend(out.drain(..).map(|e| (i, e)));
        }
    }

    /// Checkpoints every rule's partition (rule ids are the rules' positions in the set).
    pub fn checkpoint(
        &self,
        store: &dyn cepheus_state::StateStore,
        partition: u32,
    ) -> Result<(), cepheus_state::StateError> {
        for (i, p) in self.partitions.iter().enumerate() {
            p.checkpoint(
                store,
                cepheus_state::keys::RuleId(i as u32),
                cepheus_state::keys::PartitionId(partition),
                &self.rules.fields,
            )?;
        }
        Ok(())
    }

    /// A pipeline restored from the checkpoint of `partition`.
    pub fn restore(
        rules: Arc<RuleSet>,
        store: &dyn cepheus_state::StateView,
        partition: u32,
        timeouts: bool,
        limits: Limits,
    ) -> Result<Pipeline, cepheus_state::StateError> {
        let partitions = rules
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Partition::restore(
                    Arc::new(r.clone()),
                    &rules.fields,
                    store,
                    cepheus_state::keys::RuleId(i as u32),
                    cepheus_state::keys::PartitionId(partition),
                    timeouts || r.on_timeout.is_some(),
                    limits,
                )
            })
            .collect::<Result<_, _>>()?;
        let routes = vec![Route::Direct; rules.rules.len()];
        Ok(Pipeline {
            rules,
            partitions,
            routes,
            through: Vec::new(),
            strings: StrCache::default(),
        })
    }

    /// End of input: every rule's watermark becomes +infinity.
    pub fn flush(&mut self, result: &mut StepResult) {
        let mut out = Vec::new();
        for (i, p) in self.partitions.iter_mut().enumerate() {
            p.flush(&mut out);
            result.emitted.extend(out.drain(..).map(|e| (i, e)));
        }
    }

    /// Moves every rule's watermark to at least `wm` (an idle input's clock).
    pub fn advance_to(&mut self, wm: i64, result: &mut StepResult) {
        let mut out = Vec::new();
        for (i, p) in self.partitions.iter_mut().enumerate() {
            p.advance_to(wm.saturating_sub(p.rule().out_of_orderness), &mut out);
            result.emitted.extend(out.drain(..).map(|e| (i, e)));
        }
    }
}

fn extract_key(
    rule: &CompiledRule,
    rules: &RuleSet,
    event: &Event,
) -> Result<Arc<str>, RecordError> {
    let Some(k) = rule.key else { return Ok(Arc::from(GLOBAL_KEY)) };
    let v = event.field(k);
    key_text(v).ok_or_else(|| {
        let path = path_text(rules.fields.path(k));
        if v.is_missing() || matches!(v, Val::Null) {
            RecordError::MissingKey(path)
        } else {
            RecordError::BadKey(path)
        }
    })
}
