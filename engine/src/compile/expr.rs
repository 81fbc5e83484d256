//! AST expressions -> [`CExpr`]: paths interned as field ids, stage references resolved.

use std::collections::HashMap;

use cepheus_grammar::ast::{Expr, ExprKind, Literal, Path, Segment, Template, TemplatePart, Value};
use cepheus_grammar::resolve::{Aggregate, Function};

use crate::event::{FieldTable, Val};
use crate::nfa::program::{CExpr, StageId};

use super::CompileError;

/// Resolves names against one rule's stages and interns paths in the shared field table.
pub(super) struct ExprCompiler<'a> {
    pub fields: &'a mut FieldTable,
    pub stage_ids: &'a HashMap<&'a str, StageId>,
}

impl ExprCompiler<'_> {
    pub fn field(&mut self, path: &[Segment]) -> crate::event::FieldId {
        self.fields.intern(path)
    }

    pub fn expr(&mut self, e: &Expr) -> Result<CExpr, CompileError> {
        Ok(match &e.kind {
            ExprKind::Literal(l) => CExpr::Const(literal(l)),
            ExprKind::List(items) => {
                let items = items.iter().map(|i| self.expr(i)).collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|i| matches!(i, CExpr::Const(_))) {
                    CExpr::Const(Val::List(
                        items
                            .into_iter()
                            .map(|i| match i {
                                CExpr::Const(v) => v,
                                _ => unreachable!("all items are constants"),
                            })
                            .collect(),
                    ))
                } else {
                    CExpr::List(items.into())
                }
            }
            ExprKind::Path(p) => self.path(p),
            ExprKind::Unary { op, expr } => {
                let inner = Box::new(self.expr(expr)?);
                match op {
                    cepheus_grammar::ast::UnaryOp::Not => CExpr::Not(inner),
                    cepheus_grammar::ast::UnaryOp::Neg => CExpr::Neg(inner),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                CExpr::Binary(*op, Box::new(self.expr(lhs)?), Box::new(self.expr(rhs)?))
            }
            ExprKind::Call { name, args } => {
                if let Some(agg) = Aggregate::from_name(&name.text) {
                    self.aggregate(agg, args, &name.text)?
                } else if let Some(f) = Function::from_name(&name.text) {
                    let args = args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
                    CExpr::Call(f, args.into())
                } else {
                    return Err(CompileError::new(format!("unknown function `{}`", name.text)));
                }
            }
        })
    }

    fn path(&mut self, p: &Path) -> CExpr {
        match p.head().and_then(|h| self.stage_ids.get(h)) {
            Some(&stage) => {
                let field = self.fields.intern(&p.segments[1..]);
                CExpr::StageField { stage, field }
            }
            None => CExpr::Field(self.fields.intern(&p.segments)),
        }
    }

    fn aggregate(
        &mut self,
        agg: Aggregate,
        args: &[Expr],
        name: &str,
    ) -> Result<CExpr, CompileError> {
        let bad = || CompileError::new(format!("`{name}` takes a stage reference"));
        let [arg] = args else { return Err(bad()) };
        let ExprKind::Path(p) = &arg.kind else { return Err(bad()) };
        let stage = *p.head().and_then(|h| self.stage_ids.get(h)).ok_or_else(bad)?;
        let field = (p.segments.len() > 1).then(|| self.fields.intern(&p.segments[1..]));
        if agg != Aggregate::Count && field.is_none() {
            return Err(CompileError::new(format!(
                "`{name}` needs a field: `{name}(stage.field)`"
            )));
        }
        Ok(CExpr::Agg { agg, stage, field })
    }

    pub fn template(&mut self, t: &Template) -> Result<CTemplate, CompileError> {
        if let Some(e) = t.as_single_expr() {
            return Ok(CTemplate::Single(self.expr(e)?));
        }
        let parts = t
            .parts
            .iter()
            .map(|p| {
                Ok(match p {
                    TemplatePart::Text(s) => CPart::Text(s.clone()),
                    TemplatePart::Expr(e) => CPart::Expr(self.expr(e)?),
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;
        Ok(CTemplate::Parts(parts))
    }

    pub fn value(&mut self, v: &Value) -> Result<CValue, CompileError> {
        Ok(match v {
            Value::Null => CValue::Const(serde_json::Value::Null),
            Value::Bool(b) => CValue::Const((*b).into()),
            Value::Int(i) => CValue::Const((*i).into()),
            Value::Float(f) => CValue::Const(
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            ),
            Value::String(t) => match t.as_plain_text() {
                Some(s) => CValue::Const(s.into()),
                None => CValue::Template(self.template(t)?),
            },
            Value::List(items) => {
                CValue::List(items.iter().map(|i| self.value(i)).collect::<Result<_, _>>()?)
            }
            Value::Map(entries) => CValue::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.text.clone(), self.value(v)?)))
                    .collect::<Result<_, CompileError>>()?,
            ),
        })
    }
}

fn literal(l: &Literal) -> Val {
    match l {
        Literal::Null => Val::Null,
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Int(i) => Val::Int(*i),
        Literal::Float(f) => Val::Float(*f),
        Literal::String(s) => Val::Str(s.as_str().into()),
    }
}

/// A compiled template: exactly one hole keeps its value's type; otherwise text.
#[derive(Debug, Clone)]
pub enum CTemplate {
    Single(CExpr),
    Parts(Vec<CPart>),
}

#[derive(Debug, Clone)]
pub enum CPart {
    Text(String),
    Expr(CExpr),
}

/// A compiled emit value.
#[derive(Debug, Clone)]
pub enum CValue {
    Const(serde_json::Value),
    Template(CTemplate),
    List(Vec<CValue>),
    Map(Vec<(String, CValue)>),
}

impl CValue {
    /// Reads a field of an event of the match.
    pub fn reads_fields(&self) -> bool {
        match self {
            CValue::Const(_) => false,
            CValue::Template(CTemplate::Single(e)) => e.reads_fields(),
            CValue::Template(CTemplate::Parts(parts)) => parts.iter().any(|p| match p {
                CPart::Text(_) => false,
                CPart::Expr(e) => e.reads_fields(),
            }),
            CValue::List(items) => items.iter().any(CValue::reads_fields),
            CValue::Map(entries) => entries.iter().any(|(_, v)| v.reads_fields()),
        }
    }
}
