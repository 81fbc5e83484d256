//! The `cepheus` binary as users run it: `check`, `convert` and `schema`, their exit codes
//! (0 valid, 1 invalid, 2 usage), their output, and a closed stdout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_cepheus");

/// The grammar's one-mistake fixtures.
fn err_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grammar/tests/fixtures/err").join(name)
}

fn cepheus(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the cepheus binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

const HRV_DROP_YAML: &str = r#"name: hrv_drop
description: HRV falls 25% below baseline on three readings within a day
source:
  topics: [biometric-updates]
  key: user_id
  time: timestamp
  filter: event_type == "hrv_measurement"
  max_out_of_orderness: 5s
pattern:
  - stage: baseline
    where: metadata.statistical_summary.mean >= 40
  - stage: drop
    times: "3.."
    where: metadata.statistical_summary.mean < baseline.metadata.statistical_summary.mean * 0.75
  - stage: recovered
    absent: true
    where: metadata.statistical_summary.mean >= baseline.metadata.statistical_summary.mean
within: 24h
skip: past_last_event
emit:
  topic: alerts
  fields:
    trigger_type: hrv_drop
    severity: 0.8
    message: "HRV {{ last(drop.metadata.statistical_summary.mean) }} vs baseline {{ baseline.metadata.statistical_summary.mean }}"
    recommended_agents: [neuroscientist, coach]
"#;

const ESCALATION_YAML: &str = r#"name: repeated_safety_violations
description: three safety violations by one child within an hour
source:
  topics: [child.safety-violation]
  key: child_id
  time: occurred_at
pattern:
  - stage: violations
    times: "3"
    where: severity in ["medium", "high", "critical"]
within: 1h
emit:
  topic: alerts
  fields:
    trigger_type: escalate
    message: "{{ count(violations) }} violations"
"#;

const UNKNOWN_FACE_DSL: &str = r#"rule motion_then_unknown_face "motion followed by an unauthorized face on the same camera"
from motion.detection.events, face.recognition.events key camera_id time timestamp
pattern
  motion where event_type == "motion.detected"
  followed by face where event_type == "face.recognized" && !is_authorized
within 30s
emit to alert.events {
  trigger_type: "unauthorized_face",
  severity: 1.0,
  message: "Unauthorized face on {{ motion.camera_id }}",
}
"#;

/// A fresh, empty folder under the system's temporary folder.
fn temp_dir(label: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cepheus-cli-{label}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// A folder of valid rules in both forms, one nested, plus files `check` must skip.
fn valid_rules() -> PathBuf {
    let dir = temp_dir("valid");
    std::fs::write(dir.join("hrv_drop.yaml"), HRV_DROP_YAML).expect("write");
    std::fs::create_dir_all(dir.join("safety")).expect("mkdir");
    std::fs::write(dir.join("safety/escalation.yml"), ESCALATION_YAML).expect("write");
    std::fs::write(dir.join("unknown_face.cep"), UNKNOWN_FACE_DSL).expect("write");
    // Rule tests and other files are not rules.
    std::fs::write(dir.join("hrv_drop.test.yaml"), "not: [a rule").expect("write");
    std::fs::write(dir.join("README.md"), "# rules\n").expect("write");
    dir
}

#[test]
fn a_folder_of_valid_rules_exits_0() {
    let dir = valid_rules();
    let out = cepheus(&["check", dir.to_str().expect("UTF-8 path")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).ends_with("3 rules checked, 0 errors, 0 warnings\n"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn an_invalid_rule_exits_1_with_its_diagnostic_on_stderr() {
    let path = err_fixture("contiguity_on_first_stage.yaml");
    let out = cepheus(&["check", path.to_str().expect("UTF-8 path")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error[E0203]"), "{err}");
    assert!(err.contains("contiguity_on_first_stage.yaml:9:"), "{err}");
    assert!(err.ends_with("1 rules checked, 1 errors, 0 warnings\n"), "{err}");
}

#[test]
fn one_invalid_file_among_valid_ones_exits_1() {
    let dir = valid_rules();
    let bad = err_fixture("unknown_function.yaml");
    let out = cepheus(&["check", dir.to_str().expect("UTF-8"), bad.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("4 rules checked, 1 errors"), "{}", stderr(&out));
}

#[test]
fn a_missing_path_is_an_invalid_input_not_a_crash() {
    let out = cepheus(&["check", "no/such/rules.yaml"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("E0001"), "{}", stderr(&out));
}

#[test]
fn json_format_prints_an_array_of_diagnostics_on_stdout() {
    let path = err_fixture("unknown_function.yaml");
    let out = cepheus(&["check", "--format", "json", path.to_str().expect("UTF-8 path")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let items = json.as_array().expect("an array");
    assert_eq!(items.len(), 1, "{json:#}");
    let d = &items[0];
    assert_eq!(d["code"], "E0213");
    assert_eq!(d["severity"], "error");
    assert!(d["message"].as_str().is_some_and(|m| m.contains("startswith")), "{d:#}");
    assert!(d["location"]["file"].as_str().is_some_and(|f| f.ends_with("unknown_function.yaml")));
    assert_eq!(d["location"]["line"], 9);
    assert!(d["location"]["column"].as_u64().is_some_and(|c| c > 1));
    assert_eq!(d["help"], "did you mean `starts_with`?");
    // Rendered text stays off stdout; the summary is on stderr.
    assert!(stderr(&out).contains("1 rules checked, 1 errors, 0 warnings"), "{}", stderr(&out));
}

#[test]
fn json_format_of_valid_rules_is_an_empty_array() {
    let dir = valid_rules();
    let out = cepheus(&["check", "--format", "json", dir.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json, serde_json::json!([]));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check"][..],
        &["check", "--format", "xml", "rules"],
        &["frobnicate"],
        &[],
        &["convert", "--to", "toml", "x.yaml"],
        &["convert", "x.yaml"],
    ] {
        let out = cepheus(args);
        assert_eq!(code(&out), 2, "cepheus {args:?}: {}", stderr(&out));
    }
}

#[test]
fn help_exits_0() {
    let out = cepheus(&["check", "--help"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("--format"), "{}", stdout(&out));
}

#[test]
fn convert_refuses_an_invalid_file_with_exit_1() {
    let path = err_fixture("greedy_on_single_stage.yaml");
    let out = cepheus(&["convert", "--to", "dsl", path.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("E0207"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn convert_round_trips_between_the_forms() {
    let dir = temp_dir("convert");
    let yaml = dir.join("hrv_drop.yaml");
    std::fs::write(&yaml, HRV_DROP_YAML).expect("write");
    let out = cepheus(&["convert", "--to", "dsl", yaml.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let dsl = dir.join("hrv_drop.cep");
    std::fs::write(&dsl, &out.stdout).expect("write");
    // The printed DSL is itself a valid rule file, and converts back to YAML.
    let back = cepheus(&["convert", "--to", "yaml", dsl.to_str().expect("UTF-8")]);
    assert_eq!(code(&back), 0, "{}\n{}", stdout(&out), stderr(&back));
    let again = dir.join("again.yaml");
    std::fs::write(&again, &back.stdout).expect("write");
    let check = cepheus(&["check", again.to_str().expect("UTF-8")]);
    assert_eq!(code(&check), 0, "{}\n{}", stdout(&back), stderr(&check));
}

#[test]
fn convert_separates_yaml_documents() {
    let dir = temp_dir("multi");
    let file = dir.join("two.yaml");
    std::fs::write(&file, format!("{HRV_DROP_YAML}---\n{ESCALATION_YAML}")).expect("write");
    let out = cepheus(&["convert", "--to", "yaml", file.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("\n---\n").count(), 1, "{text}");
    let back = dir.join("back.yaml");
    std::fs::write(&back, &out.stdout).expect("write");
    let check = cepheus(&["check", back.to_str().expect("UTF-8")]);
    assert!(stderr(&check).contains("2 rules checked, 0 errors"), "{}", stderr(&check));
}

#[test]
fn schema_prints_json() {
    let out = cepheus(&["schema"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let schema: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the schema is JSON");
    assert!(
        schema["$schema"].as_str().is_some_and(|s| s.contains("json-schema.org")),
        "{schema:#}"
    );
    // It describes rules: the design's top-level keys are in it.
    let text = schema.to_string();
    for key in ["\"pattern\"", "\"within\"", "\"emit\""] {
        assert!(text.contains(key), "no {key} in the schema");
    }
}

/// Runs `cepheus args` with a stdout whose reader is already gone.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(BIN)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the cepheus binary runs")
}

#[test]
fn a_closed_stdout_is_not_a_failure() {
    let out = with_closed_stdout(&["schema"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // `check` still says whether the rules are valid.
    let path = err_fixture("unknown_function.yaml");
    let out = with_closed_stdout(&["check", "--format", "json", path.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn warnings_are_printed_and_counted_but_do_not_fail() {
    let dir = temp_dir("warning");
    let file = dir.join("typo.yaml");
    let text = HRV_DROP_YAML.replace(
        "mean < baseline.metadata.statistical_summary.mean",
        "mean < baselin.metadata.statistical_summary.mean",
    );
    std::fs::write(&file, text).expect("write");
    let out = cepheus(&["check", file.to_str().expect("UTF-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning[E0230]"), "{err}");
    assert!(err.ends_with("1 rules checked, 0 errors, 1 warnings\n"), "{err}");
}
