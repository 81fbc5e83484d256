//! The rule packs' golden event sets (`rules/<pack>/golden/`, written by `scripts/golden-gen`).
//!
//! `expected.jsonl` there is what Cepheus printed when it was blessed; these tests hold Cepheus
//! to the generator's own account instead (`planted.jsonl`): the triggers it planted, worked
//! out without running Cepheus, and the malformed lines it wrote. They also check that the
//! generator still writes the committed bytes, so the sets can be regenerated and reviewed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cepheus_engine::replay::{ReplayOptions, replay};
use serde_json::Value;

const PACKS: [&str; 4] = ["health", "child-safety", "learning", "security"];

/// What identifies a trigger: rule, key, timestamp and the matched events' ids.
type Trigger = (String, String, String, Vec<String>);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden(pack: &str) -> PathBuf {
    repo().join("rules").join(pack).join("golden")
}

fn text(v: &Value, field: &str) -> String {
    match &v[field] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn trigger(v: &Value) -> Trigger {
    let window = match &v["context_window"] {
        Value::Array(ids) => {
            ids.iter().map(|id| id.as_str().unwrap_or_default().to_owned()).collect()
        }
        _ => Vec::new(),
    };
    (text(v, "rule"), text(v, "key"), text(v, "timestamp"), window)
}

fn count(triggers: impl IntoIterator<Item = Trigger>) -> BTreeMap<Trigger, usize> {
    let mut out = BTreeMap::new();
    for t in triggers {
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

/// The entries of `a` that `b` lacks (or has fewer times), one line each.
fn lacking(a: &BTreeMap<Trigger, usize>, b: &BTreeMap<Trigger, usize>) -> Vec<String> {
    a.iter()
        .filter(|(t, n)| b.get(*t).copied().unwrap_or(0) < **n)
        .map(|((rule, key, ts, ids), n)| format!("  {rule} key={key} at {ts} {ids:?} (x{n})"))
        .collect()
}

/// Replays one pack's set and compares it with the plan; `Err` says what differs.
fn check_pack(pack: &str) -> Result<(), String> {
    let dir = golden(pack);
    let planted_text = std::fs::read_to_string(dir.join("planted.jsonl"))
        .map_err(|e| format!("planted.jsonl: {e}"))?;
    let mut planted = Vec::new();
    let mut malformed = BTreeSet::new();
    for line in planted_text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("planted.jsonl: {e}"))?;
        match v["kind"].as_str() {
            Some("trigger") => planted.push(trigger(&v)),
            Some("malformed") => {
                malformed.insert(v["line"].as_u64().ok_or("a malformed entry without a line")?);
            }
            _ => {}
        }
    }
    let rules = cepheus_tests::case_rules(&dir)?;
    let events = std::fs::read(dir.join("events.jsonl")).map_err(|e| e.to_string())?;
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let summary = replay(rules, &events[..], &mut out, &mut diag, &ReplayOptions::default())
        .map_err(|e| e.to_string())?;
    let out = String::from_utf8(out).map_err(|e| e.to_string())?;
    let diag = String::from_utf8(diag).map_err(|e| e.to_string())?;

    let mut problems = Vec::new();
    let got: Vec<Trigger> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).map(|v| trigger(&v)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let (want, got) = (count(planted), count(got));
    let (missing, unplanned) = (lacking(&want, &got), lacking(&got, &want));
    if !missing.is_empty() {
        problems.push(format!("planted but did not fire:\n{}", missing.join("\n")));
    }
    if !unplanned.is_empty() {
        problems.push(format!("fired but not planted:\n{}", unplanned.join("\n")));
    }

    // Every refused line is reported as `line N: ...`; late events are reported too, and a
    // golden set has none.
    let rejected: BTreeSet<u64> = diag
        .lines()
        .filter(|l| !l.contains("late event"))
        .filter_map(|l| l.strip_prefix("line ")?.split(':').next()?.parse().ok())
        .collect();
    if rejected != malformed {
        problems.push(format!(
            "{} lines rejected, {} malformed lines planted; rejected but not planted: {:?}; \
             planted but not rejected: {:?}",
            rejected.len(),
            malformed.len(),
            rejected.difference(&malformed).collect::<Vec<_>>(),
            malformed.difference(&rejected).collect::<Vec<_>>()
        ));
    }
    if summary.late > 0 {
        problems
            .push(format!("{} events late (the set keeps disorder within bounds)", summary.late));
    }
    let good_lines = summary.lines - malformed.len() as u64;
    if good_lines < 10_000 {
        problems.push(format!("only {good_lines} events (a golden set has at least 10,000)"));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

#[test]
fn golden_sets_fire_what_was_planted() {
    let failures: Vec<String> = PACKS
        .iter()
        .filter_map(|p| check_pack(p).err().map(|e| format!("pack {p}:\n{e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn golden_generator_is_reproducible() {
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 is not installed, and CI=true: the golden generator cannot be checked"
        );
        println!("skipped: python3 is not installed, so scripts/golden-gen cannot be run");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("cepheus-golden-gen-{}", std::process::id()));
    let run = Command::new("python3")
        .arg(repo().join("scripts/golden-gen"))
        .arg("--out")
        .arg(&tmp)
        .output()
        .expect("python3 runs");
    assert!(
        run.status.success(),
        "scripts/golden-gen failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut differ = Vec::new();
    for pack in PACKS {
        for file in ["events.jsonl", "planted.jsonl"] {
            let fresh = std::fs::read(tmp.join(pack).join(file));
            let committed = std::fs::read(golden(pack).join(file));
            match (fresh, committed) {
                (Ok(a), Ok(b)) if a == b => {}
                (Ok(_), Ok(_)) => differ.push(format!("rules/{pack}/golden/{file} differs")),
                (Err(e), _) => differ.push(format!("{pack}/{file} was not generated: {e}")),
                (_, Err(e)) => differ.push(format!("rules/{pack}/golden/{file}: {e}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        differ.is_empty(),
        "scripts/golden-gen with its default seed no longer writes the committed sets \
         (regenerate them, then bless expected.jsonl):\n{}",
        differ.join("\n")
    );
}
