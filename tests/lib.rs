//! Golden replay cases: a rule, its input events, and the exact expected output.
//!
//! A case is a folder under `tests/cases/` (or a rule pack's `tests/` folder) holding
//! `rule.yaml` and/or `rule.cep` (both, when present, must give the same AST) or a `rules` file
//! naming rule files relative to the case (one per line; a `.yaml` and a `.cep` of the same
//! rule must give the same AST), `events.jsonl`,
//! `expected.jsonl`, and optionally `args` (one replay flag per line: `--matches`,
//! `--timeouts`, `--no-flush`, `--windows` (window records), or `--triggers` for trigger
//! events; the default is
//! `--matches --timeouts`). [`run_case`] replays the events straight through and again with a
//! checkpoint/restore after every line and every third line; all three outputs must be equal,
//! and equal to `expected.jsonl`. A case with thousands of events may set the checkpoint
//! intervals in a `checkpoint_every` file (whitespace-separated line counts, replacing `1 3`).
//! `CEPHEUS_BLESS=1` writes the straight output as the new expectation, for review in the diff.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_engine::replay::{ReplayOptions, replay};
pub use cepheus_engine::testing::case_dirs;

fn options(dir: &Path) -> Result<ReplayOptions, String> {
    let mut opts = ReplayOptions { matches: true, timeouts: true, ..ReplayOptions::default() };
    if let Ok(args) = std::fs::read_to_string(dir.join("args")) {
        opts.matches = false;
        opts.timeouts = false;
        for a in args.split_whitespace() {
            match a {
                "--matches" => opts.matches = true,
                "--timeouts" => opts.timeouts = true,
                "--no-flush" => opts.no_flush = true,
                "--windows" => opts.windows = true,
                "--triggers" => {}
                other => return Err(format!("unknown flag {other} in args")),
            }
        }
    }
    Ok(opts)
}

/// The checkpoint intervals of a case: its `checkpoint_every` file, or every line and every
/// third line.
fn checkpoint_intervals(dir: &Path) -> Result<Vec<u64>, String> {
    let Ok(text) = std::fs::read_to_string(dir.join("checkpoint_every")) else {
        return Ok(vec![1, 3]);
    };
    let every: Vec<u64> = text
        .split_whitespace()
        .map(|n| match n.parse() {
            Ok(0) | Err(_) => Err(format!("checkpoint_every: {n:?} is not a positive line count")),
            Ok(n) => Ok(n),
        })
        .collect::<Result<_, _>>()?;
    if every.is_empty() {
        return Err("checkpoint_every is empty".into());
    }
    Ok(every)
}

/// The rules of the case in `dir`, checked and compiled: `rule.yaml`/`rule.cep` and the files
/// its `rules` file names, the forms of one rule (same file stem) proven equal.
pub fn case_rules(dir: &Path) -> Result<Arc<RuleSet>, String> {
    let mut rule_files: Vec<PathBuf> =
        ["rule.yaml", "rule.cep"].iter().map(|f| dir.join(f)).filter(|p| p.exists()).collect();
    if let Ok(list) = std::fs::read_to_string(dir.join("rules")) {
        rule_files
            .extend(list.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| dir.join(l)));
    }
    if rule_files.is_empty() {
        return Err("no rule.yaml or rule.cep".into());
    }
    // Files with the same stem (`x.yaml`, `x.cep`) are one rule in two forms: equal ASTs.
    let mut by_stem: Vec<(String, Vec<cepheus_grammar::ast::Rule>)> = Vec::new();
    for f in &rule_files {
        let loaded = cepheus_grammar::load(std::slice::from_ref(f));
        if loaded.has_errors() {
            return Err(format!(
                "{} does not check:\n{}",
                f.display(),
                cepheus_grammar::diagnostic::render_all(&loaded.diagnostics, &loaded.sources)
            ));
        }
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match by_stem.iter().find(|(s, _)| *s == stem) {
            Some((_, rules)) if *rules != loaded.rules => {
                return Err(format!("the forms of `{stem}` give different ASTs"));
            }
            Some(_) => {}
            None => by_stem.push((stem, loaded.rules)),
        }
    }
    let all: Vec<cepheus_grammar::ast::Rule> = by_stem.into_iter().flat_map(|(_, r)| r).collect();
    Ok(Arc::new(compile(&all).map_err(|e| format!("{e:?}"))?))
}

/// Runs one case; `Err` says what differs.
pub fn run_case(dir: &Path, bless: bool) -> Result<(), String> {
    let rules = case_rules(dir)?;
    let events = std::fs::read(dir.join("events.jsonl")).map_err(|e| e.to_string())?;
    let opts = options(dir)?;
    let run = |checkpoint_every: Option<u64>| -> Result<String, String> {
        let mut out = Vec::new();
        let mut diag = Vec::new();
        let opts = ReplayOptions { checkpoint_every, ..opts.clone() };
        replay(rules.clone(), &events[..], &mut out, &mut diag, &opts)
            .map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|e| e.to_string())
    };
    let straight = run(None)?;
    for every in checkpoint_intervals(dir)? {
        if run(Some(every))? != straight {
            return Err(format!("output differs with a checkpoint/restore every {every} lines"));
        }
    }
    let expected_path = dir.join("expected.jsonl");
    if bless {
        std::fs::write(&expected_path, &straight).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected =
        std::fs::read_to_string(&expected_path).map_err(|e| format!("expected.jsonl: {e}"))?;
    let parse = |text: &str| -> Result<Vec<serde_json::Value>, String> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
            .collect()
    };
    let (want, got) = (parse(&expected)?, parse(&straight)?);
    if want != got {
        return Err(format!(
            "output differs from expected.jsonl\n--- expected\n{}\n--- actual\n{}",
            want.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"),
            got.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(())
}

/// Runs every case under `root`; panics listing all failures.
pub fn run_all(root: &Path) {
    let bless = std::env::var("CEPHEUS_BLESS").is_ok_and(|v| v == "1");
    let cases = case_dirs(root);
    assert!(!cases.is_empty(), "no cases under {}", root.display());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c, bless).err().map(|e| format!("case {}: {e}", c.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
