//! Checked AST -> NFA programs.
//!
//! [`compile`] turns a checked rule set into a [`RuleSet`]: one [`CompiledRule`] per rule
//! (its NFA [`Program`], key/time/filter extraction, emit templates) and one [`FieldTable`]
//! shared by all rules, so a record is decoded once for every rule that reads it.

pub mod explain;
mod expr;
mod nfa;
pub mod window;

use std::collections::HashMap;

use cepheus_grammar::ast::{Rule, Skip};
use cepheus_grammar::resolve;

use crate::event::{FieldId, FieldTable, Keep};
use crate::nfa::program::{CExpr, ExprId, Program, SkipStrategy, StageId, StageMeta};

pub use expr::{CPart, CTemplate, CValue};

/// A rule that cannot be compiled. The checker refuses such rules first, so this means a rule
/// that was not checked, or a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
}

impl CompileError {
    fn new(message: impl Into<String>) -> CompileError {
        CompileError { message: message.into() }
    }
}

/// Compiled rules and the field table they share.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<CompiledRule>,
    pub fields: FieldTable,
}

/// What to emit, compiled.
#[derive(Debug, Clone)]
pub struct CompiledEmit {
    pub topic: Option<String>,
    pub fields: Vec<(String, CValue)>,
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub ast: Rule,
    pub program: Program,
    pub topics: Vec<String>,
    pub key: Option<FieldId>,
    pub time: Option<FieldId>,
    pub filter: Option<CExpr>,
    /// Milliseconds behind the largest event time seen that the watermark stays.
    pub out_of_orderness: i64,
    pub emit: Option<CompiledEmit>,
    pub on_timeout: Option<CompiledEmit>,
    /// A window rule's windows and aggregates (its `program` is then empty, and `emit` reads
    /// the fired window: see [`window`]).
    pub window: Option<Box<window::CompiledWindow>>,
}

impl CompiledRule {
    pub fn key_path(&self, fields: &FieldTable) -> Option<String> {
        self.key.map(|k| crate::event::path_text(fields.path(k)))
    }

    pub fn time_path(&self, fields: &FieldTable) -> Option<String> {
        self.time.map(|t| crate::event::path_text(fields.path(t)))
    }
}

/// Compiles checked rules. Errors name the rule.
pub fn compile(rules: &[Rule]) -> Result<RuleSet, Vec<CompileError>> {
    let mut fields = FieldTable::new();
    let mut compiled = Vec::new();
    let mut errors = Vec::new();
    for rule in rules {
        match compile_rule(rule, &mut fields) {
            Ok(r) => compiled.push(r),
            Err(e) => {
                errors.push(CompileError::new(format!("rule `{}`: {}", rule.name.text, e.message)))
            }
        }
    }
    if errors.is_empty() { Ok(RuleSet { rules: compiled, fields }) } else { Err(errors) }
}

fn compile_rule(rule: &Rule, fields: &mut FieldTable) -> Result<CompiledRule, CompileError> {
    if let Some(w) = &rule.window {
        return compile_window_rule(rule, w, fields);
    }
    if rule.pattern.is_empty() {
        return Err(CompileError::new("empty pattern"));
    }
    let infos = resolve::stages(rule);
    let stage_ids: HashMap<&str, StageId> =
        infos.iter().map(|s| (s.name, s.order as StageId)).collect();
    let stages = stage_metas(rule, &infos);

    let mut exprs: Vec<CExpr> = Vec::new();
    let mut expr_text: Vec<String> = Vec::new();
    let mut first_error: Option<CompileError> = None;
    let (states, conds, start) = {
        let mut ec = expr::ExprCompiler { fields: &mut *fields, stage_ids: &stage_ids };
        let mut compile_expr = |e: &cepheus_grammar::ast::Expr, _stage: StageId| -> ExprId {
            let c = ec.expr(e).unwrap_or_else(|err| {
                first_error.get_or_insert(err);
                CExpr::Const(crate::event::Val::Bool(false))
            });
            exprs.push(c);
            expr_text.push(e.to_string());
            ExprId::try_from(exprs.len() - 1).expect("fewer than 2^32 expressions")
        };
        let within = rule.within.is_some();
        nfa::NfaBuilder::new(&rule.pattern, &stage_ids, within, &mut compile_expr).build()
    };
    if let Some(e) = first_error {
        return Err(e);
    }

    let skip = match &rule.skip {
        Skip::NoSkip => SkipStrategy::NoSkip,
        Skip::ToNext => SkipStrategy::ToNext,
        Skip::PastLastEvent => SkipStrategy::PastLastEvent,
        Skip::ToFirst(n) | Skip::ToLast(n) => {
            let id = *stage_ids.get(n.text.as_str()).ok_or_else(|| {
                CompileError::new(format!("skip names unknown stage `{}`", n.text))
            })?;
            if matches!(rule.skip, Skip::ToFirst(_)) {
                SkipStrategy::ToFirst(id)
            } else {
                SkipStrategy::ToLast(id)
            }
        }
    };
    let expr_local: Vec<bool> = exprs.iter().map(CExpr::is_event_local).collect();
    let mut ec = expr::ExprCompiler { fields, stage_ids: &stage_ids };
    let source = compile_source(rule, &mut ec)?;
    let emit = compile_emit(&mut ec, rule.emit.as_ref())?;
    let on_timeout = compile_emit(&mut ec, rule.on_timeout.as_ref())?;
    // Taken events keep their fields only when something reads them after the step that took
    // them: a condition on earlier stages, or a field of the trigger.
    let emits_fields = [&emit, &on_timeout]
        .into_iter()
        .flatten()
        .any(|e| e.fields.iter().any(|(_, v)| v.reads_fields()));
    let keep =
        if emits_fields || expr_local.iter().any(|local| !local) { Keep::Fields } else { Keep::Id };
    let program = Program {
        states,
        start,
        conds,
        exprs,
        expr_text,
        expr_local,
        stages,
        within: rule.within.map(|d| d.millis as i64),
        skip,
        keep,
    };
    Ok(source.into_rule(rule, program, emit, on_timeout, None))
}

/// An `emit` (or `on_timeout`) block: its topic and its fields' templates.
fn compile_emit(
    ec: &mut expr::ExprCompiler<'_>,
    emit: Option<&cepheus_grammar::ast::Emit>,
) -> Result<Option<CompiledEmit>, CompileError> {
    emit.map(|e| {
        Ok(CompiledEmit {
            topic: e.topic.as_ref().map(|t| t.text.clone()),
            fields: e
                .fields
                .iter()
                .map(|(k, v)| Ok((k.text.clone(), ec.value(v)?)))
                .collect::<Result<_, CompileError>>()?,
        })
    })
    .transpose()
}

/// What every kind of rule compiles from its `source`.
struct CompiledSource {
    key: Option<FieldId>,
    time: Option<FieldId>,
    filter: Option<CExpr>,
}

fn compile_source(
    rule: &Rule,
    ec: &mut expr::ExprCompiler<'_>,
) -> Result<CompiledSource, CompileError> {
    Ok(CompiledSource {
        key: rule.source.key.as_ref().map(|p| ec.field(&p.segments)),
        time: rule.source.time.as_ref().map(|p| ec.field(&p.segments)),
        filter: rule.source.filter.as_ref().map(|f| ec.expr(f)).transpose()?,
    })
}

impl CompiledSource {
    fn into_rule(
        self,
        rule: &Rule,
        program: Program,
        emit: Option<CompiledEmit>,
        on_timeout: Option<CompiledEmit>,
        window: Option<Box<window::CompiledWindow>>,
    ) -> CompiledRule {
        CompiledRule {
            name: rule.name.text.clone(),
            ast: rule.clone(),
            program,
            topics: rule.source.topics.iter().map(|t| t.text.clone()).collect(),
            key: self.key,
            time: self.time,
            filter: self.filter,
            out_of_orderness: rule.source.max_out_of_orderness.map_or(0, |d| d.millis as i64),
            emit,
            on_timeout,
            window,
        }
    }
}

fn compile_window_rule(
    rule: &Rule,
    w: &cepheus_grammar::ast::Windowed,
    fields: &mut FieldTable,
) -> Result<CompiledRule, CompileError> {
    let (window, emit) = window::compile(rule, w, fields)?;
    let no_stages = HashMap::new();
    let mut ec = expr::ExprCompiler { fields, stage_ids: &no_stages };
    let source = compile_source(rule, &mut ec)?;
    Ok(source.into_rule(rule, window::empty_program(), emit, None, Some(Box::new(window))))
}

fn stage_metas(rule: &Rule, infos: &[resolve::StageInfo<'_>]) -> Vec<StageMeta> {
    let mut contiguity = HashMap::new();
    fn walk<'r>(
        els: &'r [cepheus_grammar::ast::Element],
        out: &mut HashMap<&'r str, Option<cepheus_grammar::ast::Contiguity>>,
    ) {
        for el in els {
            out.insert(el.name().text.as_str(), el.contiguity());
            if let cepheus_grammar::ast::Element::Group(g) = el {
                walk(&g.pattern, out);
            }
        }
    }
    walk(&rule.pattern, &mut contiguity);
    infos
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let end = infos[i + 1..]
                .iter()
                .position(|o| o.depth <= s.depth)
                .map_or(infos.len(), |p| i + 1 + p);
            StageMeta {
                name: s.name.to_string(),
                is_group: s.is_group,
                end: end as StageId,
                absent: s.absent,
                contiguity: contiguity.get(s.name).copied().flatten(),
            }
        })
        .collect()
}
