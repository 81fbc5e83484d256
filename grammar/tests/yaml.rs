//! The YAML front end through its public API: the example rule, round trips, diagnostics on
//! one-mistake fixtures (snapshots), robustness on arbitrary input, and the JSON Schema.

mod support;

use std::path::Path;

use cepheus_grammar::diagnostic::render_all;
use cepheus_grammar::source::{SourceId, SourceMap};
use cepheus_grammar::yaml::{self, raw};
use cepheus_grammar::{Diagnostic, load_texts};
use proptest::prelude::*;
use serde_json::Value as Json;

const HRV: &str = include_str!("fixtures/ok/hrv_drop.yaml");

fn fixture_dir(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(rel)
}

#[test]
fn the_design_example_loads_without_diagnostics() {
    let loaded = load_texts(&[("hrv_drop.yaml", HRV)]);
    assert!(loaded.diagnostics.is_empty(), "{}", render_all(&loaded.diagnostics, &loaded.sources));
    assert_eq!(loaded.rules.len(), 1);
    assert_eq!(loaded.rules[0].name.text, "hrv_drop");
}

#[test]
fn every_ok_fixture_round_trips_through_the_printer() {
    for entry in std::fs::read_dir(fixture_dir("fixtures/ok")).expect("fixtures/ok") {
        let path = entry.expect("a fixture").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let (rules, diagnostics) = yaml::parse(&text, SourceId(0));
        assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", path.display());
        for rule in &rules {
            let printed = yaml::print(rule);
            let (again, diagnostics) = yaml::parse(&printed, SourceId(0));
            assert!(diagnostics.is_empty(), "{printed}\n{diagnostics:?}");
            assert_eq!(&again, std::slice::from_ref(rule), "{printed}");
            // Printing is canonical: the printed form prints to itself.
            assert_eq!(yaml::print(&again[0]), printed);
        }
    }
}

/// Every file under `fixtures/err/yaml` holds one mistake; its rendered diagnostics are
/// snapshotted (uncoloured), so a change in wording or position shows up in review.
#[test]
fn diagnostics_of_one_mistake_fixtures() {
    let dir = fixture_dir("fixtures/err/yaml");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/err/yaml")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "the fixtures are there");
    for path in paths {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("a file name").to_string();
        let text = std::fs::read_to_string(&path).expect("readable");
        let mut sources = SourceMap::new();
        let id = sources.add(format!("fixtures/err/yaml/{stem}.yaml"), text.clone());
        let (rules, diagnostics) = yaml::parse(&text, id);
        assert!(!diagnostics.is_empty(), "{stem}: a mistake must be reported");
        assert!(rules.is_empty(), "{stem}: a rule with a mistake is not returned");
        insta::assert_snapshot!(format!("err_{stem}"), render_all(&diagnostics, &sources));
    }
}

/// Every span of every diagnostic lies in the text, on character boundaries, and renders.
fn assert_diagnostics_are_well_placed(text: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        for label in d.primary.iter().chain(&d.secondary) {
            let (s, e) = (label.span.start as usize, label.span.end as usize);
            assert!(s <= e && e <= text.len(), "{d:?} outside {} bytes", text.len());
            assert!(
                text.is_char_boundary(s) && text.is_char_boundary(e),
                "{d:?} splits a character"
            );
        }
    }
    let mut sources = SourceMap::new();
    sources.add("t.yaml", text);
    let _ = render_all(diagnostics, &sources);
}

/// Pieces of YAML and of rule files, to make texts that get past the first lines.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "name: ",
        "pattern:",
        "- stage: ",
        "- group: ",
        "where: ",
        "times: ",
        "\"3..\"",
        "contiguity: ",
        "strict",
        "within: ",
        "5m",
        "skip: ",
        "{to_first: a}",
        "emit:",
        "fields:",
        "topic: ",
        "a > 1",
        "{{ x }}",
        "\n",
        "\n  ",
        "\n    ",
        "  ",
        "- ",
        ": ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "'",
        "\"",
        "|",
        ">",
        "#",
        "&a ",
        "*a",
        "---\n",
        "~",
        "x",
        "1",
        "é",
        "\t",
        "\\",
        "<<: ",
        "!!str ",
        "? ",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

/// Small random edits of the example rule.
fn edited_example() -> impl Strategy<Value = String> {
    let edit = (0usize..HRV.len(), 0usize..12, "[ -~\n\t]{0,6}");
    prop::collection::vec(edit, 1..4).prop_map(|edits| {
        let mut text = HRV.to_string();
        for (at, delete, insert) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + delete).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(at..end, &insert);
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printed_rules_parse_back_equal(rule in support::arb::arb_rule()) {
        let printed = yaml::print(&rule);
        let (rules, diagnostics) = yaml::parse(&printed, SourceId(0));
        prop_assert!(diagnostics.is_empty(), "{}\n{:?}", printed, diagnostics);
        prop_assert_eq!(rules.len(), 1, "{}", printed);
        prop_assert_eq!(&rules[0], &rule, "{}", printed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let (rules, diagnostics) = yaml::parse(&text, SourceId(0));
        prop_assert!(!rules.is_empty() || !diagnostics.is_empty());
        assert_diagnostics_are_well_placed(&text, &diagnostics);
    }

    #[test]
    fn yaml_like_text_never_panics(text in yamlish()) {
        parses_places_and_reprints(&text)?;
    }

    #[test]
    fn edited_rules_never_panic_and_reprint(text in edited_example()) {
        parses_places_and_reprints(&text)?;
    }
}

/// Runs `f` on a thread with a 2 MiB stack, the default of spawned threads and test threads.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("no panic");
}

#[test]
fn the_deepest_nesting_allowed_fits_a_small_stack() {
    on_small_stack(|| {
        // 29 lists in an emit field: with the rule, `emit` and `fields`, 32 levels.
        let values = format!(
            "name: r\npattern: []\nemit:\n  fields:\n    x: {}{}\n",
            "[".repeat(29),
            "]".repeat(29)
        );
        let (rules, diagnostics) = yaml::parse(&values, SourceId(0));
        assert!(diagnostics.is_empty() && rules.len() == 1, "{diagnostics:?}");
        // Groups in groups, as deep as they go: the rule and its pattern, then a mapping and a
        // list per group, then the stage.
        let groups = 14;
        let mut text = String::from("name: r\npattern:\n");
        for level in 0..groups {
            let pad = "  ".repeat(2 * level + 1);
            text.push_str(&format!("{pad}- group: g{level}\n{pad}  pattern:\n"));
        }
        text.push_str(&format!("{}- stage: s\n", "  ".repeat(2 * groups + 1)));
        let groups = text;
        let (rules, diagnostics) = yaml::parse(&groups, SourceId(0));
        assert!(diagnostics.is_empty() && rules.len() == 1, "{diagnostics:?}");
    });
}

#[test]
fn deeper_nesting_is_refused_not_overflowed() {
    on_small_stack(|| {
        for depth in [30, 100, 100_000] {
            let flow = format!(
                "name: r\npattern: []\nemit:\n  fields:\n    x: {}{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let (_, diagnostics) = yaml::parse(&flow, SourceId(0));
            assert!(
                matches!(diagnostics.as_slice(), [d] if d.code.0 == "E0006" || d.code.0 == "E0003"),
                "{diagnostics:?}"
            );
            let block: String =
                (0..depth.min(2_000)).map(|i| format!("{}- \n", " ".repeat(2 * i))).collect();
            let (_, diagnostics) = yaml::parse(&block, SourceId(0));
            assert!(!diagnostics.is_empty());
        }
        let expr = format!(
            "name: r\npattern:\n  - stage: s\n    where: \"{}x{}\"\n",
            "(".repeat(100),
            ")".repeat(100)
        );
        let (_, diagnostics) = yaml::parse(&expr, SourceId(0));
        assert!(matches!(diagnostics.as_slice(), [d] if d.code.0 == "E0006"), "{diagnostics:?}");
    });
}

// ---- the JSON Schema ----

fn schema() -> Json {
    // Through text, as an editor would read it.
    let text = serde_json::to_string_pretty(&yaml::json_schema()).expect("serializable");
    serde_json::from_str(&text).expect("valid JSON")
}

fn definition<'a>(schema: &'a Json, name: &str) -> &'a Json {
    &schema["definitions"][name]
}

fn property_names(def: &Json) -> Vec<String> {
    def["properties"].as_object().expect("properties").keys().cloned().collect()
}

#[test]
fn the_schema_lists_exactly_the_keys_the_parser_accepts() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let keys = |k: &[raw::KeyDoc]| k.iter().map(|k| k.key.to_string()).collect::<Vec<_>>();
    assert_eq!(property_names(definition(&schema, "rule")), keys(raw::RawRule::KEYS));
    assert_eq!(property_names(definition(&schema, "source")), keys(raw::RawSource::KEYS));
    assert_eq!(property_names(definition(&schema, "emit")), keys(raw::RawEmit::KEYS));
    let stage: Vec<String> = raw::stage_keys().map(|k| k.key.to_string()).collect();
    let group: Vec<String> = raw::group_keys().map(|k| k.key.to_string()).collect();
    assert_eq!(property_names(definition(&schema, "stage")), stage);
    assert_eq!(property_names(definition(&schema, "group")), group);
    // Together, stages and groups take every key of a pattern element.
    let mut both: Vec<String> = stage.iter().chain(&group).cloned().collect();
    both.sort();
    both.dedup();
    let mut element = keys(raw::RawElement::KEYS);
    element.sort();
    assert_eq!(both, element);
}

#[test]
fn every_schema_key_is_described_and_closed() {
    let schema = schema();
    for def in ["rule", "source", "stage", "group", "emit"] {
        let d = definition(&schema, def);
        assert_eq!(d["additionalProperties"], false, "{def}");
        assert!(d["description"].as_str().is_some_and(|s| !s.is_empty()), "{def}");
        for (key, property) in d["properties"].as_object().expect("properties") {
            let description = property["description"].as_str().unwrap_or("");
            assert!(description.len() > 10, "{def}.{key} has no description");
            assert!(property.as_object().is_some_and(|p| p.len() >= 2), "{def}.{key} has no type");
        }
    }
    assert_eq!(definition(&schema, "stage")["required"], serde_json::json!(["stage"]));
    assert_eq!(definition(&schema, "group")["required"], serde_json::json!(["group", "pattern"]));
    assert_eq!(
        definition(&schema, "stage")["properties"]["contiguity"]["enum"],
        serde_json::json!(["strict", "relaxed", "any"])
    );
    let skip_words = &definition(&schema, "skip")["oneOf"][0]["enum"];
    assert_eq!(skip_words, &serde_json::json!(["no_skip", "to_next", "past_last_event"]));
    assert!(definition(&schema, "duration")["pattern"].as_str().is_some());
    assert!(definition(&schema, "times")["oneOf"][0]["pattern"].as_str().is_some());
}

/// A small validator for the parts of JSON Schema the rule-file schema uses (`$ref`, `allOf`, `oneOf`,
/// `type`, `properties`, `additionalProperties: false`, `required`, `items`, `enum`, `minimum`,
/// `minProperties`, `maxProperties`;
/// `pattern` is not checked). Returns the problems found.
fn validate(schema: &Json, root: &Json, value: &Json, at: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/definitions/");
        return validate(&root["definitions"][name], root, value, at, problems);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        validate(part, root, value, at, problems);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|o| {
                let mut p = Vec::new();
                validate(o, root, value, at, &mut p);
                p.is_empty()
            })
            .count();
        if matching != 1 {
            problems.push(format!("{at}: matches {matching} of oneOf"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} not in {allowed:?}"));
    }
    let type_ok = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some(other) => panic!("type {other} is not used by the schema"),
    };
    if !type_ok {
        problems.push(format!("{at}: not of type {}", schema["type"]));
        return;
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        problems.push(format!("{at}: below {min}"));
    }
    if let Some(object) = value.as_object() {
        let len = object.len() as u64;
        if schema["minProperties"].as_u64().is_some_and(|min| len < min)
            || schema["maxProperties"].as_u64().is_some_and(|max| len > max)
        {
            problems.push(format!("{at}: {len} keys"));
        }
        for key in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(key.as_str().unwrap_or("")) {
                problems.push(format!("{at}: missing {key}"));
            }
        }
        for (key, v) in object {
            match schema["properties"].get(key) {
                Some(p) => validate(p, root, v, &format!("{at}.{key}"), problems),
                None if schema["additionalProperties"] == false => {
                    problems.push(format!("{at}: unknown key {key}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(items, root, v, &format!("{at}[{i}]"), problems);
        }
    }
}

#[test]
fn the_design_example_satisfies_the_schema_and_mistakes_do_not() {
    let schema = schema();
    let check = |yaml_text: &str| {
        let value: Json = serde_saphyr::from_str(yaml_text).expect("YAML");
        let mut problems = Vec::new();
        validate(&schema, &schema, &value, "$", &mut problems);
        problems
    };
    assert_eq!(check(HRV), Vec::<String>::new());
    let group = "name: g\npattern:\n  - group: visit\n    times: \"2\"\n    optional: true\n    pattern:\n      - stage: enter\n        where: kind == \"enter\"\n      - stage: leave\n        contiguity: relaxed\n";
    assert_eq!(check(group), Vec::<String>::new());
    assert!(!check("name: r\npattern:\n  - stage: s\n    wher: x\n").is_empty());
    assert!(!check("name: r\npattern:\n  - stage: s\n    contiguity: strictt\n").is_empty());
    assert!(!check("name: r\npattern:\n  - group: g\n    where: x\n    pattern: []\n").is_empty());
    assert!(!check("pattern: []\n").is_empty());
    assert!(!check("name: r\npattern: []\nskip: {to_first: a, to_last: b}\n").is_empty());
}

/// `text` gives rules or diagnostics (never neither), every diagnostic points into it, and each
/// rule prints back to YAML that parses to the same rule.
fn parses_places_and_reprints(text: &str) -> Result<(), proptest::test_runner::TestCaseError> {
    let (rules, diagnostics) = yaml::parse(text, SourceId(0));
    prop_assert!(!rules.is_empty() || !diagnostics.is_empty());
    assert_diagnostics_are_well_placed(text, &diagnostics);
    for rule in &rules {
        let (again, _) = yaml::parse(&yaml::print(rule), SourceId(0));
        prop_assert_eq!(&again, std::slice::from_ref(rule));
    }
    Ok(())
}
