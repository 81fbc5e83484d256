//! `cepheus replay` and `cepheus explain` through the binary, as a user runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cepheus(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cepheus"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cepheus runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("cepheus finishes")
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect()
}

#[test]
fn bundled_rules_produce_triggers_from_bundled_events() {
    let o = cepheus(&["replay", "--rules", "rules", "--events", "examples/events.jsonl"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let triggers = lines(&o);
    let mut rules: Vec<&str> = triggers.iter().map(|t| t["rule"].as_str().unwrap()).collect();
    rules.sort();
    // The end of the input is the end of time: both learners' 7-day inactivity completes too.
    assert_eq!(
        rules,
        [
            "dropout_risk",
            "dropout_risk",
            "hrv_drop",
            "missing_heart_rate",
            "motion_then_unauthorized_face",
            "repeated_violations",
            "wrong_answers_in_a_row"
        ]
    );
    for t in &triggers {
        for field in
            ["trigger_id", "rule", "key", "trigger_type", "message", "context_window", "timestamp"]
        {
            assert!(t.get(field).is_some(), "{field} missing in {t}");
        }
    }
    // Deterministic: the same input gives the same bytes.
    let again = cepheus(&["replay", "--rules", "rules", "--events", "examples/events.jsonl"], None);
    assert_eq!(o.stdout, again.stdout);
}

const RULE: &str = "engine/tests/fixtures/motion_then_face.yaml";

fn event(id: &str, kind: &str, secs: u32, authorized: bool) -> String {
    serde_json::json!({"event_id": id, "event_type": kind, "camera_id": "cam_9",
        "timestamp": format!("2024-01-01T12:00:{secs:02}"), "is_authorized": authorized, "face_id": "f"})
    .to_string()
}

#[test]
fn matches_timeouts_and_no_flush() {
    let input = [
        event("m1", "motion.detected", 0, true),
        event("f1", "face.recognized", 10, false),
        event("m2", "motion.detected", 20, true),
    ]
    .join("\n");
    let o = cepheus(
        &["replay", "--rules", RULE, "--events", "-", "--matches", "--timeouts"],
        Some(&input),
    );
    assert!(o.status.success());
    let out = lines(&o);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["match"]["motion"][0]["event_id"], "m1");
    assert_eq!(out[0]["match"]["face"][0]["event_id"], "f1");
    assert_eq!(out[1]["timeout"], true);
    assert_eq!(out[1]["match"]["motion"][0]["event_id"], "m2");
    assert_eq!(out[1]["timeout_ts"], 1_704_110_450_000i64, "m2 at 12:00:20 plus 30 s");

    // Without the final flush the open partial match neither matches nor times out.
    let o = cepheus(
        &["replay", "--rules", RULE, "--events", "-", "--matches", "--timeouts", "--no-flush"],
        Some(&input),
    );
    assert_eq!(lines(&o).len(), 1);
}

#[test]
fn bad_lines_are_reported_and_counted_or_fatal_with_strict() {
    let input = format!(
        "{}\nnot json\n[1, 2]\n{}\n",
        event("m1", "motion.detected", 0, true),
        event("f1", "face.recognized", 3, false)
    );
    let o = cepheus(&["replay", "--rules", RULE, "--events", "-"], Some(&input));
    assert!(o.status.success());
    assert_eq!(lines(&o).len(), 1, "the good lines still match");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2: not valid JSON"), "{err}");
    assert!(err.contains("line 3: not a JSON object"), "{err}");
    assert!(err.contains("2 undecodable"), "{err}");

    let o = cepheus(&["replay", "--rules", RULE, "--events", "-", "--strict"], Some(&input));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2"));
}

#[test]
fn events_without_key_or_time_are_reported_with_the_reason() {
    let input = r#"{"event_type": "motion.detected", "timestamp": "2024-01-01T12:00:00"}
{"event_type": "motion.detected", "camera_id": "c", "timestamp": "noon"}"#;
    let o = cepheus(&["replay", "--rules", RULE, "--events", "-"], Some(input));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "line 1: rule motion_then_unauthorized_face: no key: field `camera_id` is missing"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "line 2: rule motion_then_unauthorized_face: unusable event time in field `timestamp`"
        ),
        "{err}"
    );
    assert!(err.contains("2 rejected"), "{err}");
}

#[test]
fn late_events_are_reported_not_matched() {
    // No out-of-orderness allowed: the face at :05 arrives after the motion at :10.
    let input =
        [event("m1", "motion.detected", 10, true), event("f1", "face.recognized", 5, false)]
            .join("\n");
    let o = cepheus(&["replay", "--rules", RULE, "--events", "-"], Some(&input));
    assert!(lines(&o).is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("late event for key \"cam_9\""));
}

#[test]
fn explain_prints_states_and_dot() {
    let o = cepheus(&["explain", RULE], None);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("state motion (start)"), "{text}");
    assert!(text.contains("take    -> face"), "{text}");
    let o = cepheus(&["explain", "--dot", RULE], None);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("digraph"));
}

#[test]
fn trace_explains_each_step_of_one_key() {
    let input =
        [event("m1", "motion.detected", 0, true), event("f1", "face.recognized", 10, false)]
            .join("\n");
    let o =
        cepheus(&["replay", "--rules", RULE, "--events", "-", "--trace", "cam_9"], Some(&input));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("event #1"), "{err}");
    assert!(err.contains("condition holds"), "{err}");
    assert!(err.contains("starts a partial match"), "{err}");
    assert!(err.contains("extends"), "{err}");
}

#[test]
fn invalid_rules_exit_1_with_diagnostics() {
    let dir = std::env::temp_dir().join(format!("cepheus-cli-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rule = dir.join("bad.yaml");
    std::fs::write(&rule, "name: bad\npattern:\n  - stage: a\n    wher: x > 1\n").unwrap();
    let o = cepheus(&["replay", "--rules", rule.to_str().unwrap(), "--events", "-"], Some(""));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0101"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn windows_flag_prints_every_closed_window_and_triggers_print_without_it() {
    let rule = "rules/learning/answer_rate_anomaly.yaml";
    let mut events = String::new();
    // Ten answers in [10:00, 10:05) (a trigger), then one in [10:05, 10:10) (a window only).
    for i in 0..11 {
        let minute = if i < 10 { 0 } else { 6 };
        events.push_str(&format!(
            r#"{{"event_id": "q-{i}", "event_type": "question_answered", "learner_id": "l_1", "concept_id": "c{c}", "correct": true, "duration_ms": 1000, "timestamp": "2024-05-01T10:0{minute}:{s:02}Z"}}"#,
            c = i % 3,
            s = i * 5,
        ));
        events.push('\n');
    }
    let plain = cepheus(&["replay", "--rules", rule, "--events", "-"], Some(&events));
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let triggers = lines(&plain);
    assert_eq!(triggers.len(), 1, "{triggers:?}");
    assert_eq!(triggers[0]["window_start"], "2024-05-01T10:00:00Z");
    assert_eq!(triggers[0]["timestamp"], "2024-05-01T10:05:00Z");

    let o = cepheus(&["replay", "--rules", rule, "--events", "-", "--windows"], Some(&events));
    let out = lines(&o);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0], triggers[0], "the trigger first, then its window's record");
    assert_eq!(out[1]["aggregates"]["answers"], 10);
    assert_eq!(out[1]["aggregates"]["concepts"], 3);
    assert_eq!(out[2]["window_start"], "2024-05-01T10:05:00Z");
    assert_eq!(out[2]["aggregates"]["day_answers"], 11);
}

#[test]
fn explain_describes_a_window_rule() {
    let o = cepheus(&["explain", "rules/learning/answer_rate_anomaly.cep"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("window: tumbling 5m"), "{text}");
    assert!(text.contains("day_answers = count() over [end - 1d, end)"), "{text}");
}
