//! `cepheus test` through the binary, as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cepheus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cepheus"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("cepheus runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FIXTURES: &str = "engine/tests/fixtures/rule-tests";

#[test]
fn the_bundled_rule_packs_pass_their_tests() {
    let o = cepheus(&["test", "rules/"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    // Every rule of every pack has a test file, found recursively.
    for file in [
        "rules/child-safety/repeated_violations.test.yaml",
        "rules/health/hrv_drop.test.yaml",
        "rules/health/missing_heart_rate.test.yaml",
        "rules/learning/wrong_answers_in_a_row.test.yaml",
        "rules/security/motion_then_unauthorized_face.test.yaml",
    ] {
        assert!(out.contains(&format!("test {file}: ")), "{file} not run:\n{out}");
    }
    assert!(!out.contains("FAILED"), "{out}");
    assert!(out.contains("test result: ok."), "{out}");
}

#[test]
fn check_does_not_read_test_files_as_rules() {
    let o = cepheus(&["check", "rules/"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("11 rules checked, 0 errors"), "{}", text(&o.stderr));
}

#[test]
fn a_passing_file_exits_zero_with_one_ok_line_per_test() {
    let o = cepheus(&["test", "rules/security/motion_then_unauthorized_face.test.yaml"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    let ok_lines = out.lines().filter(|l| l.starts_with("test ") && l.ends_with(" ... ok")).count();
    assert_eq!(ok_lines, 6, "{out}");
    assert!(out.contains("test result: ok. 6 passed; 0 failed"), "{out}");
}

#[test]
fn a_failing_file_exits_one_and_shows_expected_against_actual() {
    let file = format!("{FIXTURES}/failing.test.yaml");
    let o = cepheus(&["test", &file]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    assert!(out.contains(&format!("test {file}: passes ... ok")), "{out}");
    assert!(
        out.contains(&format!("test {file}: wrong message and an unexpected trigger ... FAILED")),
        "{out}"
    );
    // The expectation with no match, its place, and the closest trigger field by field.
    assert!(
        out.contains(&format!(
            "expected trigger at {file}:20:9 did not fire; closest (trigger 1 of 2):"
        )),
        "{out}"
    );
    assert!(out.contains("        key: \"cam_01\"\n"), "an equal field is shown plain:\n{out}");
    assert!(
        out.contains(concat!(
            "      - message: \"Unauthorized face face_999 on cam_01 after motion\"\n",
            "      + message: \"Unauthorized face face_123 on cam_01 after motion\"\n"
        )),
        "{out}"
    );
    // `severity: 1` in YAML equals the trigger's 1.0.
    assert!(out.contains("        severity: 1.0\n"), "{out}");
    // With `nothing_else`, the triggers no expectation took, field by field.
    assert!(out.contains("unexpected trigger (2 of 2):\n      + rule: \"motion_then_unauthorized_face\"\n      + key: \"cam_02\"\n"), "{out}");
    assert!(out.contains("no trigger fired at all:\n      - key: \"cam_01\"\n"), "{out}");
    assert!(
        out.contains(
            "was refused: rule motion_then_unauthorized_face: no key: field `camera_id` is missing"
        ),
        "{out}"
    );
    assert!(out.contains("test result: FAILED. 1 passed; 3 failed"), "{out}");
}

#[test]
fn a_malformed_file_exits_two_with_its_position() {
    let file = format!("{FIXTURES}/malformed.test.yaml");
    let o = cepheus(&["test", &file]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains(&format!(
            "{file}:6:5: unknown key `nothing_els`: did you mean `nothing_else`?"
        )),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_relative_time_without_start_exits_two_pointing_at_the_time() {
    let file = format!("{FIXTURES}/bad-time.test.yaml");
    let o = cepheus(&["test", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("{file}:5:13: `+5m` is relative, but neither")),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_folder_without_test_files_and_a_missing_path_are_usage_errors() {
    let o = cepheus(&["test", "examples"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no rule test files"), "{}", text(&o.stderr));
    let o = cepheus(&["test", "no/such/file.test.yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_failure_anywhere_fails_the_run_and_passing_files_still_report() {
    let o = cepheus(&["test", "rules/learning", &format!("{FIXTURES}/failing.test.yaml")]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("test result: FAILED. 19 passed; 3 failed"), "{out}");
}

#[test]
fn invalid_rules_fail_their_tests_with_the_rule_diagnostics() {
    let file = format!("{FIXTURES}/invalid_rule.test.yaml");
    let o = cepheus(&["test", &file]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout)
            .contains(&format!("test {file}: cannot run ... FAILED (the rules do not load)")),
        "{}",
        text(&o.stdout)
    );
    assert!(text(&o.stderr).contains("invalid_rule.yaml:7:9"), "{}", text(&o.stderr));
}
