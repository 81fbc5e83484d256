//! Every rule in `rules/` checks clean, and exists in both forms with the same AST.

use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

#[test]
fn rule_packs_check_clean() {
    let loaded = cepheus_grammar::load(&[rules_dir()]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        cepheus_grammar::diagnostic::render_all(&loaded.diagnostics, &loaded.sources)
    );
    assert!(loaded.rules.len() >= 5, "the packs hold rules");
}

#[test]
fn every_rule_exists_in_both_forms_with_the_same_ast() {
    let files = cepheus_grammar::load::rule_files(&rules_dir()).unwrap();
    let yaml: Vec<&PathBuf> =
        files.iter().filter(|f| f.extension().is_some_and(|e| e == "yaml")).collect();
    assert!(!yaml.is_empty());
    for y in yaml {
        let cep = y.with_extension("cep");
        assert!(cep.exists(), "{} has no DSL form", y.display());
        let a = cepheus_grammar::load(std::slice::from_ref(y));
        let b = cepheus_grammar::load(std::slice::from_ref(&cep));
        assert!(!a.has_errors() && !b.has_errors());
        assert_eq!(a.rules, b.rules, "{} and its DSL form differ", y.display());
    }
}

#[test]
fn differing_forms_are_reported() {
    let dir = std::env::temp_dir().join(format!("cepheus-forms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("r.yaml"), "name: r\npattern:\n  - stage: a\n    where: x > 1\n")
        .unwrap();
    std::fs::write(dir.join("r.cep"), "rule r\npattern\n  a where x > 2\n").unwrap();
    let loaded = cepheus_grammar::load(std::slice::from_ref(&dir));
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == cepheus_grammar::diagnostic::codes::FORMS_DIFFER)
    );
    assert_eq!(
        loaded.rules.len(),
        1,
        "one form is kept, so the rule is not also reported as defined twice"
    );
    std::fs::remove_dir_all(&dir).ok();
}
