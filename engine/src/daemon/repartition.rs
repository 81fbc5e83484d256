//! Which rules read through a repartition topic, and which topics those are.
//!
//! A rule's partial matches live with the partition that holds its key's events, so every event
//! of a key must arrive in one partition. Kafka places records by their record key: a rule
//! keyed by the field its topics' records are keyed by (declared in `record_keys`) reads them
//! directly. Any other rule reads through `<prefix>-repartition-<rule>`, as Kafka Streams does
//! after a key change: the worker that consumes a source record checks it (filter, key, time)
//! and writes it, unchanged and with its timestamp, to the repartition topic keyed by the
//! rule's key; the rule runs on what it reads back. A rule without a key is one stream: its
//! records all go to partition 0.

use crate::compile::RuleSet;
use crate::runtime::Route;

use super::Config;

/// An engine-owned repartition topic and the source topics that feed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Internal {
    pub topic: String,
    pub sources: Vec<String>,
}

/// Where every rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per rule, in rule order.
    pub routes: Vec<Route>,
    pub internal: Vec<Internal>,
}

impl Plan {
    /// Each rule's repartition topic, in rule order (for the router).
    pub fn topics_per_rule(&self) -> Vec<Option<String>> {
        self.routes
            .iter()
            .map(|r| match r {
                Route::Repartition { topic } => Some(topic.clone()),
                Route::Direct => None,
            })
            .collect()
    }

    /// The topics the consumer reads: the sources and the repartition topics.
    pub fn inputs(&self, sources: &[String]) -> Vec<String> {
        let mut all: Vec<String> = sources.to_vec();
        all.extend(self.internal.iter().map(|i| i.topic.clone()));
        all.sort();
        all.dedup();
        all
    }
}

/// The repartition topic of `rule` under `prefix` (the app, or a backfill's group).
pub fn topic_name(prefix: &str, rule: &str) -> String {
    format!("{prefix}-repartition-{rule}")
}

/// Plans the routes of `rules` over the source topics `sources` (the topics rules read when
/// they name none). Internal topics are named under `prefix`.
pub fn plan(config: &Config, rules: &RuleSet, sources: &[String], prefix: &str) -> Plan {
    let mut routes = Vec::with_capacity(rules.rules.len());
    let mut internal = Vec::new();
    for rule in &rules.rules {
        let reads: Vec<String> =
            if rule.topics.is_empty() { sources.to_vec() } else { rule.topics.clone() };
        let direct = match rule.key_path(&rules.fields) {
            Some(key) => reads.iter().all(|t| config.record_keys.get(t) == Some(&key)),
            None => false,
        };
        if direct {
            routes.push(Route::Direct);
        } else {
            let topic = topic_name(prefix, &rule.name);
            internal.push(Internal { topic: topic.clone(), sources: reads });
            routes.push(Route::Repartition { topic });
        }
    }
    Plan { routes, internal }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(texts: &[&str]) -> RuleSet {
        let names: Vec<String> = (0..texts.len()).map(|i| format!("r{i}.yaml")).collect();
        let pairs: Vec<(&str, &str)> =
            names.iter().map(String::as_str).zip(texts.iter().copied()).collect();
        let loaded = cepheus_grammar::load_texts(&pairs);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        crate::compile::compile(&loaded.rules).expect("compiles")
    }

    const BY_CAMERA: &str = "name: by_camera\nsource: {topics: [motion, faces], key: camera_id}\npattern:\n  - {stage: a, where: kind == \"motion\"}\n  - {stage: b, where: kind == \"face\"}\n";
    const BY_FACE: &str = "name: by_face\nsource: {topics: [faces], key: face.id}\npattern:\n  - {stage: a, where: kind == \"face\"}\n";
    const GLOBAL: &str = "name: everything\npattern:\n  - {stage: a, where: kind == \"face\"}\n";

    fn config(record_keys: &[(&str, &str)]) -> Config {
        let mut c = Config::from_raw(Default::default(), Vec::new()).expect("defaults are valid");
        c.record_keys = record_keys.iter().map(|(t, f)| (t.to_string(), f.to_string())).collect();
        c
    }

    #[test]
    fn a_rule_keyed_like_all_its_topics_reads_directly() {
        let set = rules(&[BY_CAMERA, BY_FACE, GLOBAL]);
        let sources = vec!["faces".to_string(), "motion".to_string()];
        let plan = plan(
            &config(&[("motion", "camera_id"), ("faces", "camera_id")]),
            &set,
            &sources,
            "app",
        );
        assert_eq!(plan.routes[0], Route::Direct);
        assert_eq!(
            plan.routes[1],
            Route::Repartition { topic: "app-repartition-by_face".into() },
            "faces are keyed by camera, the rule by face"
        );
        assert_eq!(
            plan.routes[2],
            Route::Repartition { topic: "app-repartition-everything".into() },
            "a rule without a key is one stream"
        );
        assert_eq!(plan.internal[0].sources, ["faces"]);
        assert_eq!(plan.internal[1].sources, sources, "a rule naming no topic reads them all");
        assert_eq!(
            plan.inputs(&sources),
            ["app-repartition-by_face", "app-repartition-everything", "faces", "motion"]
        );
        assert_eq!(
            plan.topics_per_rule(),
            [
                None,
                Some("app-repartition-by_face".into()),
                Some("app-repartition-everything".into())
            ]
        );
    }

    #[test]
    fn one_undeclared_topic_is_enough_to_repartition() {
        let set = rules(&[BY_CAMERA]);
        let sources = vec!["faces".to_string(), "motion".to_string()];
        let plan = plan(&config(&[("motion", "camera_id")]), &set, &sources, "app");
        assert_eq!(
            plan.routes[0],
            Route::Repartition { topic: "app-repartition-by_camera".into() }
        );
        let plan = plan_none(&set, &sources);
        assert_eq!(plan.internal.len(), 1, "nothing declared: every rule repartitions");
    }

    fn plan_none(set: &RuleSet, sources: &[String]) -> Plan {
        plan(&config(&[]), set, sources, "app")
    }
}
