//! Expressions (`where`, `until`, `filter`, templates) and their canonical text form.
//!
//! `Display` prints an expression back in the syntax [`crate::expr::parse`] reads, with the
//! fewest parentheses that keep its meaning; the DSL and YAML printers use it, and the
//! round-trip property tests rely on `parse(e.to_string()) == e`.

use std::fmt;

use crate::source::Span;

use super::Name;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// A dotted path: a field of the current event, or (when its first segment names a stage
    /// of the rule) a field of that stage's event; see [`crate::resolve`].
    Path(Path),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// A function or aggregate call: `contains(a, "x")`, `count(drop)`, `last(drop.x)`.
    Call {
        name: Name,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

/// A field path: `metadata.value`, `a["odd key"].b`, `scores[0]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub segments: Vec<Segment>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(u32),
}

impl Path {
    /// The first segment when it is a plain key (a candidate stage name).
    pub fn head(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `!` or `not`
    Not,
    /// `-`
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `x in [..]` (or `x in <expr yielding a list>`)
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Binding strength, loosest first. `not` binds looser than comparisons (as in SQL and Python):
/// `not a == b` is `not (a == b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precedence {
    Or,
    And,
    Not,
    Compare,
    Sum,
    Product,
    Neg,
    Atom,
}

impl BinaryOp {
    pub const fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    pub const fn precedence(self) -> Precedence {
        match self {
            BinaryOp::Or => Precedence::Or,
            BinaryOp::And => Precedence::And,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::In => Precedence::Compare,
            BinaryOp::Add | BinaryOp::Sub => Precedence::Sum,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => Precedence::Product,
        }
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    pub fn precedence(&self) -> Precedence {
        match &self.kind {
            ExprKind::Binary { op, .. } => op.precedence(),
            ExprKind::Unary { op: UnaryOp::Not, .. } => Precedence::Not,
            ExprKind::Unary { op: UnaryOp::Neg, .. } => Precedence::Neg,
            // A negative literal prints with a leading '-', so it needs the same care as `-x`.
            ExprKind::Literal(Literal::Int(i)) if *i < 0 => Precedence::Neg,
            ExprKind::Literal(Literal::Float(f)) if f.is_sign_negative() => Precedence::Neg,
            _ => Precedence::Atom,
        }
    }

    /// Every sub-expression, depth first, this one included.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Path(_) => {}
            ExprKind::List(items) => items.iter().for_each(|e| e.walk(f)),
            ExprKind::Unary { expr, .. } => expr.walk(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|e| e.walk(f)),
        }
    }
}

/// Words the expression grammar reserves; a path segment spelled like one is quoted.
pub const KEYWORDS: &[&str] = &["and", "or", "not", "in", "true", "false", "null"];

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

/// Writes `s` as a double-quoted string literal with escapes.
pub fn write_string_literal(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            // `{:?}` keeps a `.0` on whole floats, so they read back as floats.
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::String(s) => write_string_literal(f, s),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Key(k) if is_plain_identifier(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => {
                    // A quoted first segment reads as a string literal, so it goes behind `$`.
                    if i == 0 {
                        f.write_str("$")?;
                    }
                    f.write_str("[")?;
                    write_string_literal(f, k)?;
                    f.write_str("]")?;
                }
                Segment::Index(n) => {
                    if i == 0 {
                        f.write_str("$")?;
                    }
                    write!(f, "[{n}]")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Path(p) => write!(f, "{p}"),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            ExprKind::Call { name, args } => {
                write!(f, "{}(", name.text)?;
                for (i, e) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            ExprKind::Unary { op, expr } => {
                let (text, own) = match op {
                    UnaryOp::Not => ("!", Precedence::Not),
                    UnaryOp::Neg => ("-", Precedence::Neg),
                };
                f.write_str(text)?;
                // The parser folds `-` written straight before a number into a negative
                // literal, so a negated number literal keeps its parentheses: `-(1)`.
                let number =
                    matches!(expr.kind, ExprKind::Literal(Literal::Int(_) | Literal::Float(_)));
                write_operand(f, expr, expr.precedence() <= own || (*op == UnaryOp::Neg && number))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let own = op.precedence();
                // Comparisons do not chain, so both sides of one need parentheses at the same
                // level; the other operators are left-associative.
                let left_paren = if own == Precedence::Compare {
                    lhs.precedence() <= own
                } else {
                    lhs.precedence() < own
                };
                write_operand(f, lhs, left_paren)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, rhs, rhs.precedence() <= own)
            }
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, paren: bool) -> fmt::Result {
    if paren { write!(f, "({e})") } else { write!(f, "{e}") }
}
