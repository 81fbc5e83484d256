//! `emit` and `on_timeout` templates: the expressions in their `{{ }}` holes follow the
//! reference rules of [`super::references`], seen from a finished (or timed-out) match, where
//! every stage of the rule may be read.

use crate::ast::{Emit, Rule, TemplatePart, Value};
use crate::diagnostic::Diagnostic;

use super::Stages;
use super::references::{Scope, check_expr};

pub(super) fn check(rule: &Rule, stages: &Stages<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for emit in [&rule.emit, &rule.on_timeout].into_iter().flatten() {
        fields(emit, stages, &mut out);
    }
    out
}

fn fields(emit: &Emit, stages: &Stages<'_>, out: &mut Vec<Diagnostic>) {
    for (_, value) in &emit.fields {
        self::value(value, stages, out);
    }
}

fn value(v: &Value, stages: &Stages<'_>, out: &mut Vec<Diagnostic>) {
    match v {
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        Value::String(template) => {
            for part in &template.parts {
                if let TemplatePart::Expr(e) = part {
                    check_expr(e, &Scope::Template, stages, out);
                }
            }
        }
        Value::List(items) => items.iter().for_each(|i| value(i, stages, out)),
        Value::Map(entries) => entries.iter().for_each(|(_, i)| value(i, stages, out)),
    }
}
