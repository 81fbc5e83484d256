//! Emit values and `{{ expression }}` templates.

use std::fmt;

use super::{Expr, Name};

/// A value of an emitted trigger field, as written in the rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string, possibly with `{{ expr }}` parts. A string that is exactly one `{{ expr }}`
    /// emits the expression's value with its JSON type (a number stays a number).
    String(Template),
    List(Vec<Value>),
    Map(Vec<(Name, Value)>),
}

/// A string with literal text and `{{ expr }}` holes, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// A template of plain text only.
    pub fn text(s: impl Into<String>) -> Template {
        let s = s.into();
        Template { parts: if s.is_empty() { vec![] } else { vec![TemplatePart::Text(s)] } }
    }

    /// The single expression when the template is exactly `{{ expr }}`.
    pub fn as_single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [TemplatePart::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// The text when the template has no holes.
    pub fn as_plain_text(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => Some(t.as_str()),
                TemplatePart::Expr(_) => None,
            })
            .collect()
    }
}

/// Prints the template source text: text as is, holes as `{{ expr }}`. Text that contains `{{`
/// is written with the escape `{{ "{{" }}`, which reads back as the same literal text; so is a
/// `{` that ends a text right before a hole (`{{{ x }}` would read as `{{` and `{ x }}`).
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                TemplatePart::Text(t) => {
                    let escaped = t.replace("{{", "{{ \"{{\" }}");
                    let before_hole = matches!(self.parts.get(i + 1), Some(TemplatePart::Expr(_)));
                    match escaped.strip_suffix('{') {
                        Some(head) if before_hole => write!(f, "{head}{{{{ \"{{\" }}}}")?,
                        _ => f.write_str(&escaped)?,
                    }
                }
                TemplatePart::Expr(e) => write!(f, "{{{{ {e} }}}}")?,
            }
        }
        Ok(())
    }
}
