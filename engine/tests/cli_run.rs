//! `cepheus run` without brokers (embedded mode), through the binary: triggers on stdout equal
//! `cepheus replay`'s, unusable and late records as JSON lines on stderr, configuration errors
//! naming their key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cepheus(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cepheus"));
    cmd.args(args).current_dir(repo()).stdin(Stdio::piped()).stdout(Stdio::piped());
    cmd.stderr(Stdio::piped());
    // The test's own environment must not configure the run.
    for (k, _) in std::env::vars() {
        if k.starts_with("CEPHEUS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("the cepheus binary runs");
    let mut input = child.stdin.take().expect("piped");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("stdin takes the input");
    drop(input);
    child.wait_with_output().expect("cepheus finishes")
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Every rule pack's golden case: `run` over the file gives the expected triggers, byte for
/// byte, as replay does.
#[test]
fn rule_pack_cases_give_the_expected_triggers() {
    let mut checked = 0;
    for pack in std::fs::read_dir(repo().join("rules")).unwrap().flatten() {
        let Ok(cases) = std::fs::read_dir(pack.path().join("tests")) else { continue };
        for case in cases.flatten() {
            let dir = case.path();
            let rules = std::fs::read_to_string(dir.join("rules")).unwrap();
            let rule = dir.join(rules.lines().next().unwrap());
            let events = dir.join("events.jsonl");
            let out = cepheus(
                &["run", "--rules", rule.to_str().unwrap(), "--input", events.to_str().unwrap()],
                &[],
                None,
            );
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let expected = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{}", dir.display());
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} cases found");
}

#[test]
fn unusable_and_late_records_go_to_stderr_as_dlq_and_late_records() {
    let input = [
        r#"{"user_id": "u1", "event_type": "device_worn", "timestamp": "2024-01-01T08:00:00Z"}"#,
        "not json",
        r#"{"user_id": "u1", "event_type": "device_worn"}"#,
        r#"{"user_id": "u2", "event_type": "device_worn", "timestamp": "2024-01-01T07:00:00Z"}"#,
    ]
    .join("\n");
    let out = cepheus(
        &["run", "--rules", "rules/health/missing_heart_rate.yaml"],
        &[("CEPHEUS_APP", "wearables")],
        Some(&input),
    );
    assert!(out.status.success());
    let diag = json_lines(&out.stderr);
    assert_eq!(diag.len(), 3, "{diag:?}");
    assert_eq!(diag[0]["topic"], "wearables.dlq");
    assert_eq!(diag[0]["value"], "not json");
    assert_eq!(diag[0]["headers"]["cepheus.source.offset"], "2");
    assert!(diag[0]["headers"]["cepheus.error"].as_str().unwrap().starts_with("not valid JSON"));
    assert_eq!(diag[1]["topic"], "wearables.dlq");
    assert_eq!(diag[1]["headers"]["cepheus.error"], "no event time: field `timestamp` is missing");
    assert_eq!(diag[1]["headers"]["cepheus.rule"], "missing_heart_rate");
    assert_eq!(diag[2]["topic"], "wearables.late");
    assert_eq!(diag[2]["headers"]["cepheus.watermark"], "2024-01-01T07:59:55Z");
    // At end of input time ends: u1's device was worn and no sample came.
    let triggers = json_lines(&out.stdout);
    assert_eq!(triggers.len(), 1, "{triggers:?}");
    assert_eq!(triggers[0]["key"], "u1");
}

#[test]
fn invalid_configuration_names_every_bad_key() {
    let dir = std::env::temp_dir().join(format!("cepheus-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cepheus.yaml");
    std::fs::write(&file, "idle_timeout: 30\nlimits:\n  queue_capacity: 0\n").unwrap();
    let out = cepheus(
        &["run", "--config", file.to_str().unwrap(), "--rules", "rules"],
        &[("CEPHEUS_DELIVERY", "exactly_once")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["`idle_timeout`", "`limits.queue_capacity`", "`CEPHEUS_DELIVERY`"] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    std::fs::write(&file, "brokers: [oops]\nunknown_key: 1\n").unwrap();
    let out = cepheus(&["run", "--config", file.to_str().unwrap()], &[], None);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}
