//! `cepheus test PATH...`: run rule test files (`*.test.yaml`) and report like a test runner.
//!
//! One line per test (`ok` or `FAILED`, with the reasons under a failure), then a summary.
//! Exit 0 when every test passes, 1 when a test fails or the rules under test are invalid,
//! 2 when a test file cannot be read or used as written (with its file, line and column).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use cepheus_engine::compile::{RuleSet, compile};
use cepheus_engine::testing::{self, report::failure_text};
use cepheus_grammar::diagnostic::render_all;
use clap::Args;

use super::{EXIT_INVALID, EXIT_TROUBLE, print_stdout};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files, or folders searched recursively for `*.test.yaml` and `*.test.yml` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Totals over every file.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Test files that could not be read or used (exit 2).
    unusable: usize,
    /// Test files whose rules do not load (their tests count as failed).
    invalid_rules: usize,
}

pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let mut tally = Tally::default();
    let mut files = Vec::new();
    for p in &args.paths {
        match testing::test_files(p) {
            Ok(found) if found.is_empty() => {
                eprintln!("error: {}: no rule test files (*.test.yaml) found", p.display());
                tally.unusable += 1;
            }
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                tally.unusable += 1;
            }
        }
    }
    for file in &files {
        run_file(file, &mut tally)?;
    }
    let verdict = if tally.failed == 0 && tally.unusable == 0 { "ok" } else { "FAILED" };
    let mut summary =
        format!("\ntest result: {verdict}. {} passed; {} failed", tally.passed, tally.failed);
    if tally.unusable > 0 {
        let _ = write!(summary, "; {} could not be used", plural(tally.unusable, "test file"));
    }
    if tally.invalid_rules > 0 {
        let _ = write!(
            summary,
            "; the rules of {} do not load",
            plural(tally.invalid_rules, "test file")
        );
    }
    print_stdout(&format!("{summary}\n"))?;
    Ok(if tally.unusable > 0 {
        ExitCode::from(EXIT_TROUBLE)
    } else if tally.failed > 0 {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Runs the tests of one file, printing a line per test as it finishes.
fn run_file(path: &Path, tally: &mut Tally) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let unusable = |tally: &mut Tally, message: String| {
        eprintln!("error: {message}");
        tally.unusable += 1;
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            unusable(tally, format!("{name}: {e}"));
            return Ok(());
        }
    };
    let spec = match testing::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            unusable(tally, format!("{name}:{e}"));
            return Ok(());
        }
    };
    let rule_paths = match testing::rule_paths(path, &spec) {
        Ok(p) => p,
        Err(e) => {
            unusable(tally, format!("{name}:{e}"));
            return Ok(());
        }
    };
    let rules = match load_rules(&name, &rule_paths) {
        Ok(rules) => rules,
        Err(RulesProblem::None) => {
            unusable(tally, format!("{name}: no rules found to test"));
            return Ok(());
        }
        Err(RulesProblem::Invalid) => {
            tally.failed += spec.tests.len();
            tally.invalid_rules += 1;
            for case in &spec.tests {
                print_stdout(&format!(
                    "test {name}: {} ... FAILED (the rules do not load)\n",
                    case.name
                ))?;
            }
            return Ok(());
        }
    };
    for case in &spec.tests {
        match testing::run_case(&rules, case) {
            Ok(report) if report.passed() => {
                tally.passed += 1;
                print_stdout(&format!("test {name}: {} ... ok\n", case.name))?;
            }
            Ok(report) => {
                tally.failed += 1;
                let why = failure_text(&name, &report, "    ");
                print_stdout(&format!("test {name}: {} ... FAILED\n{why}", case.name))?;
            }
            Err(e) => unusable(tally, format!("{name}:{e}")),
        }
    }
    Ok(())
}

/// Why the rules of a test file cannot run.
#[derive(Debug)]
enum RulesProblem {
    /// They are invalid (the diagnostics are printed): the rules' fault, so the tests fail.
    Invalid,
    /// There are none: the test file points at the wrong place.
    None,
}

/// Loads and compiles the rules under test, printing their diagnostics.
fn load_rules(name: &str, paths: &[PathBuf]) -> Result<Arc<RuleSet>, RulesProblem> {
    let loaded = cepheus_grammar::load(paths);
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", render_all(&loaded.diagnostics, &loaded.sources));
    }
    if loaded.has_errors() {
        eprintln!("error: {name}: the rules under test are invalid");
        return Err(RulesProblem::Invalid);
    }
    if loaded.rules.is_empty() {
        return Err(RulesProblem::None);
    }
    match compile(&loaded.rules) {
        Ok(set) => Ok(Arc::new(set)),
        Err(errors) => {
            for e in errors {
                eprintln!("error: {name}: {e}");
            }
            Err(RulesProblem::Invalid)
        }
    }
}
