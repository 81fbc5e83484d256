//! Rule tests (`cepheus test`): YAML files next to the rules that give input events and the
//! triggers expected, run through the same engine path as `cepheus replay`.
//!
//! ```text
//! *.test.yaml --spec::parse--> TestFile (tests, events with times, expectations)
//!             --run::run_case (per test, fresh state)--> triggers + matches
//!             --compare (subset match, one-to-one pairing)--> CaseReport --report--> text
//! ```
//!
//! The format and the reasons behind it are in `docs/rule-tests.md`.

pub mod compare;
mod raw;
pub mod report;
pub mod run;
pub mod spec;

use std::path::{Path, PathBuf};

pub use run::{CaseReport, Kind, Problem, run_case};
pub use spec::{Pos, SpecError, TestCase, TestFile, parse};

/// File name endings of rule test files.
pub const TEST_SUFFIXES: &[&str] = &[".test.yaml", ".test.yml"];

/// Whether `path` names a rule test file.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| TEST_SUFFIXES.iter().any(|s| n.ends_with(s)))
}

/// Golden replay case folders under `root` (those holding an `events.jsonl`, at any depth),
/// sorted; none if `root` cannot be read.
pub fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else { return out };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if p.join("events.jsonl").exists() {
                out.push(p);
            } else {
                out.extend(case_dirs(&p));
            }
        }
    }
    out.sort();
    out
}

/// Test files under `path`: the file itself, or a folder's `*.test.yaml` / `*.test.yml` files,
/// recursively, in sorted order.
pub fn test_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        // Reading it reports a missing file with the operating system's words.
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let mut out = Vec::new();
    for entry in entries {
        let p = entry.path();
        if p.is_dir() {
            out.extend(test_files(&p)?);
        } else if is_test_file(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// The rule files or folders a test file runs: those it names (relative to its folder), or
/// else the rule file of the same stem (`hrv_drop.test.yaml` tests `hrv_drop.yaml`, else
/// `hrv_drop.yml`, else `hrv_drop.cep`).
pub fn rule_paths(test_path: &Path, file: &TestFile) -> Result<Vec<PathBuf>, SpecError> {
    let dir = test_path.parent().unwrap_or(Path::new(""));
    if !file.rules.is_empty() {
        return file
            .rules
            .iter()
            .map(|(r, pos)| {
                let p = dir.join(r);
                if p.exists() {
                    Ok(p)
                } else {
                    Err(SpecError::new(*pos, format!("no rule file or folder {}", p.display())))
                }
            })
            .collect();
    }
    let name = test_path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = TEST_SUFFIXES.iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
    let candidates: Vec<PathBuf> =
        ["yaml", "yml", "cep"].iter().map(|ext| dir.join(format!("{stem}.{ext}"))).collect();
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => Ok(vec![p.clone()]),
        None => Err(SpecError::new(
            Pos { line: 1, column: 1 },
            format!(
                "the file names no `rules:`, and there is no {stem}.yaml, {stem}.yml or {stem}.cep next to it"
            ),
        )),
    }
}
