//! Loading rule files and folders: read, parse by extension, check; every problem at once.

use std::path::{Path, PathBuf};

use crate::ast::Rule;
use crate::diagnostic::{Diagnostic, codes};
use crate::source::SourceMap;

/// The extensions Cepheus reads as rules.
pub const RULE_EXTENSIONS: &[&str] = &["yaml", "yml", "cep"];

/// What loading a set of paths gave: the files, the rules, and every diagnostic.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub rules: Vec<Rule>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Rule files under `path`: the file itself, or a folder's `.yaml`/`.yml`/`.cep` files,
/// recursively, in sorted order (so loading is deterministic). Files whose name ends in
/// `.test.yaml` or `.test.yml` are rule tests, not rules, and are skipped.
pub fn rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let p = entry.path();
        if p.is_dir() {
            out.extend(rule_files(&p)?);
        } else if is_rule_file(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn is_rule_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
    RULE_EXTENSIONS.contains(&ext) && !name.ends_with(".test.yaml") && !name.ends_with(".test.yml")
}

/// Parses one text by its file name's extension and adds it to `loaded` (not yet checked).
pub fn add_text(loaded: &mut Loaded, name: &str, text: String) {
    let ext = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("");
    let id = loaded.sources.add(name, text);
    let text = loaded.sources.get(id).text.clone();
    let (rules, diagnostics) = match ext {
        "yaml" | "yml" => crate::yaml::parse(&text, id),
        "cep" => crate::dsl::parse(&text, id),
        _ => (
            Vec::new(),
            vec![Diagnostic::error(
                codes::UNKNOWN_EXTENSION,
                format!("{name}: not a rule file (expected .yaml, .yml or .cep)"),
            )],
        ),
    };
    loaded.rules.extend(rules);
    loaded.diagnostics.extend(diagnostics);
}

/// Loads and checks every rule under `paths`. Problems do not stop loading: all are reported.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    for path in paths {
        let files = match rule_files(path) {
            Ok(files) => files,
            Err(e) => {
                loaded
                    .diagnostics
                    .push(Diagnostic::error(codes::IO, format!("{}: {e}", path.display())));
                continue;
            }
        };
        for file in files {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => add_text(&mut loaded, &name, text),
                Err(e) => {
                    loaded.diagnostics.push(Diagnostic::error(codes::IO, format!("{name}: {e}")))
                }
            }
        }
    }
    if !loaded.has_errors() {
        loaded.diagnostics.extend(crate::check::check(&loaded.rules));
    }
    loaded
}

/// Loads and checks rules from in-memory texts `(name, text)`; for tests and `--rules -`.
pub fn load_texts(texts: &[(&str, &str)]) -> Loaded {
    let mut loaded = Loaded::default();
    for (name, text) in texts {
        add_text(&mut loaded, name, (*text).to_string());
    }
    if !loaded.has_errors() {
        loaded.diagnostics.extend(crate::check::check(&loaded.rules));
    }
    loaded
}
