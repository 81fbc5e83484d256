//! The conformance suite: every case under `tests/cases/` (see the crate docs for the layout).

use std::path::Path;

#[test]
fn conformance_cases() {
    cepheus_tests::run_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"));
}

/// The rule packs' own cases (`rules/<pack>/tests/<case>/`).
#[test]
fn rule_pack_cases() {
    cepheus_tests::run_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules"));
}
