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

/// Parses one text by its file name's extension and adds it to `loaded` (not yet checked);
/// returns the range of `loaded.rules` it added.
pub fn add_text(loaded: &mut Loaded, name: &str, text: String) -> std::ops::Range<usize> {
    let before = loaded.rules.len();
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
    before..loaded.rules.len()
}

/// A `.yaml` (or `.yml`) and a `.cep` file with the same name in the same folder are one rule
/// set written in both forms (rule packs ship both): they must give the same AST, and the rules
/// are kept once (from the YAML file).
fn merge_forms(loaded: &mut Loaded, files: &[(PathBuf, std::ops::Range<usize>)]) {
    let mut drop_ranges = Vec::new();
    for (cep, cep_range) in files.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "cep"))
    {
        let twin = files.iter().find(|(p, _)| {
            p.with_extension("") == cep.with_extension("")
                && p.extension().is_some_and(|e| e == "yaml" || e == "yml")
        });
        let Some((yaml, yaml_range)) = twin else { continue };
        let (y, c) = (&loaded.rules[yaml_range.clone()], &loaded.rules[cep_range.clone()]);
        if y == c {
            drop_ranges.push(cep_range.clone());
        } else {
            let mut d = Diagnostic::error(
                codes::FORMS_DIFFER,
                format!("{} and {} are two forms of the same rules but say different things", yaml.display(), cep.display()),
            )
            .with_help("make them agree (`cepheus convert --to dsl` prints the YAML form as DSL), or rename one");
            if let (Some(a), Some(b)) = (y.first(), c.first()) {
                d = d.at(a.name.span, "the YAML form").with_label(b.name.span, "the DSL form");
            }
            loaded.diagnostics.push(d);
            // Keep one form, so the same rule is not also reported as defined twice.
            drop_ranges.push(cep_range.clone());
        }
    }
    drop_ranges.sort_by_key(|r| std::cmp::Reverse(r.start));
    for r in drop_ranges {
        loaded.rules.drain(r);
    }
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
        let mut added = Vec::new();
        for file in files {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => {
                    let range = add_text(&mut loaded, &name, text);
                    added.push((file, range));
                }
                Err(e) => {
                    loaded.diagnostics.push(Diagnostic::error(codes::IO, format!("{name}: {e}")))
                }
            }
        }
        merge_forms(&mut loaded, &added);
    }
    // Rules with syntax problems were left out by the parsers; check the others all the same,
    // so one broken file does not hide the mistakes of the rest.
    let checked = crate::check::check(&loaded.rules);
    loaded.diagnostics.extend(checked);
    loaded
}

/// Loads and checks rules from in-memory texts `(name, text)`; for tests and `--rules -`.
pub fn load_texts(texts: &[(&str, &str)]) -> Loaded {
    let mut loaded = Loaded::default();
    for (name, text) in texts {
        add_text(&mut loaded, name, (*text).to_string());
    }
    let checked = crate::check::check(&loaded.rules);
    loaded.diagnostics.extend(checked);
    loaded
}
