//! Diagnostics snapshots: every file under `tests/fixtures/err/` holds one mistake, is named
//! after it, and says on its first line which code it must produce (`# expect: E0203`).
//!
//! Each fixture is loaded as a user would load it (`cepheus_grammar::load`), every diagnostic
//! is rendered uncoloured, and the text is compared with `tests/snapshots/`. Besides the
//! snapshot, the test asserts that the expected error is there, so a check that goes missing
//! can never pass by accepting a snapshot without errors.
//!
//! Review changed snapshots by eye (the message must point at the mistake); accept them with
//! `INSTA_UPDATE=always cargo test -p cepheus-grammar --test diagnostics`.

use std::path::{Path, PathBuf};

use cepheus_grammar::diagnostic::render_all;

/// Fixture folder, relative to the crate (cargo runs tests there), so the names shown in
/// diagnostics, and therefore the snapshots, hold no absolute path.
const FIXTURES: &str = "tests/fixtures/err";

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("{FIXTURES}: {e}"))
        .map(|entry| entry.expect("a readable fixture folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The code a fixture's first line promises: `# expect: E0203`.
fn expected_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect:")
        .map(|code| code.trim().to_string())
        .unwrap_or_else(|| panic!("{}: the first line must be `# expect: E....`", path.display()))
}

#[test]
fn every_fixture_reports_its_mistake() {
    let files = fixtures();
    assert!(files.len() >= 35, "only {} fixtures under {FIXTURES}", files.len());
    let mut rendered = Vec::new();
    let mut missing = Vec::new();
    for path in files {
        let file_name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
        let expected = expected_code(&path);
        let loaded = cepheus_grammar::load(std::slice::from_ref(&path));
        let text = render_all(&loaded.diagnostics, &loaded.sources);
        if !loaded.diagnostics.iter().any(|d| d.is_error() && d.code.0 == expected) {
            missing.push(format!("{file_name}: expected an error {expected}, got:\n{text}"));
        }
        rendered.push((file_name.to_string(), text));
    }
    // Every fixture's expectation first, all at once, so one run shows every missing check.
    assert!(
        missing.is_empty(),
        "{} fixtures lack their error:\n\n{}",
        missing.len(),
        missing.join("\n")
    );
    for (file_name, text) in rendered {
        insta::assert_snapshot!(file_name, text);
    }
}
