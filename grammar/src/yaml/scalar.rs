//! Where each character of a YAML string value sits in the file.
//!
//! An expression in `where: metadata.value >> 3` is parsed from the string's *value*, but its
//! diagnostics must point into the YAML line. For the common forms the value is the source text
//! itself and one offset places it:
//!
//! - a plain scalar (`where: a > 1`): the value starts where the token starts;
//! - a quoted scalar without escapes (`where: "a > 1"`): one byte after the opening quote.
//!
//! Otherwise the value differs from its source text: escapes (`"a\tb"`, `'it''s'`), line
//! folding (multi-line plain or quoted scalars, `>` blocks) or block indentation (`|` blocks).
//! Then the value is aligned with the source text character by character: each value character
//! is looked for in the next few bytes of the source, which skips indentation, folded line
//! breaks and the doubled quote of `''`. A character produced by an escape (`\t`, `\u00e9`) is
//! not found in the source and is placed, zero-width, where the escape begins, so a diagnostic
//! on it still points at the right place. The alignment can drift only when a value character
//! also appears inside a nearby escape (`"\x41A"`), which at worst moves a caret by a few
//! columns within the same scalar.
//!
//! Values that come from an alias (`*name`) are located at their anchored definition.

use crate::ast::{Expr, ExprKind, Path, Template, TemplatePart};
use crate::diagnostic::Diagnostic;
use crate::expr::{Ctx, parse_expr, parse_path, parse_template};
use crate::source::{SourceId, Span};

/// How far ahead in the source the next value character is looked for: more than any
/// indentation or escape sequence in a sensible rule file.
const LOOKAHEAD: usize = 256;

/// Where a string value's characters are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The value is a verbatim copy of the file from this byte on.
    Exact(u32),
    /// Per byte of the value: the file range of the character it belongs to; plus where the
    /// value ends in the file.
    Aligned { starts: Vec<u32>, ends: Vec<u32>, end: u32 },
}

impl Placement {
    /// Places `value`, read from the token at `token_start..token_end` of `text`.
    pub fn new(text: &str, token_start: u32, token_end: u32, value: &str) -> Placement {
        let Some(token) = text.get(token_start as usize..token_end as usize) else {
            return Placement::Exact(token_start);
        };
        let quoted = token.starts_with(['"', '\'']);
        let inner = if quoted {
            let body = &token[1..];
            body.strip_suffix(&token[..1]).unwrap_or(body)
        } else {
            token
        };
        let base = token_start + u32::from(quoted);
        if inner == value {
            return Placement::Exact(base);
        }
        let mut starts = Vec::with_capacity(value.len());
        let mut ends = Vec::with_capacity(value.len());
        let mut pos = 0usize; // in `inner`
        for c in value.chars() {
            let window_end = floor_char_boundary(inner, pos.saturating_add(LOOKAHEAD));
            let found = inner.get(pos..window_end).and_then(|w| w.find(c));
            let (s, e) = match found {
                Some(q) => (pos + q, pos + q + c.len_utf8()),
                None => (pos, pos),
            };
            pos = e;
            for _ in 0..c.len_utf8() {
                starts.push(base + s as u32);
                ends.push(base + e as u32);
            }
        }
        Placement::Aligned { starts, ends, end: base + pos as u32 }
    }

    /// The file offset of byte `i` of the value (or of its end).
    fn start_of(&self, i: u32) -> u32 {
        match self {
            Placement::Exact(base) => base + i,
            Placement::Aligned { starts, end, .. } => {
                starts.get(i as usize).copied().unwrap_or(*end)
            }
        }
    }

    /// The file offset just after the value's bytes `..i`.
    fn end_of(&self, i: u32) -> u32 {
        match self {
            Placement::Exact(base) => base + i,
            Placement::Aligned { ends, .. } if i > 0 => {
                ends.get(i as usize - 1).copied().unwrap_or_else(|| self.start_of(i))
            }
            Placement::Aligned { .. } => self.start_of(0),
        }
    }

    /// A span of the value's bytes `start..end`, placed in the file.
    pub fn span(&self, source: SourceId, start: u32, end: u32) -> Span {
        let s = self.start_of(start);
        Span::new(source, s, self.end_of(end).max(s))
    }

    /// The value's own span in the file.
    pub fn whole(&self, source: SourceId, value: &str) -> Span {
        self.span(source, 0, value.len() as u32)
    }

    /// A span computed relative to the value, placed in the file.
    fn place(&self, span: Span) -> Span {
        self.span(span.source, span.start, span.end)
    }

    /// The context to parse the value with: exact placements parse in place; aligned ones
    /// parse relative to the value and are moved afterwards (see [`Placement::fix_expr`]).
    fn ctx(&self, source: SourceId) -> Ctx {
        match self {
            Placement::Exact(base) => Ctx::new(source, *base),
            Placement::Aligned { .. } => Ctx::new(source, 0),
        }
    }

    fn is_exact(&self) -> bool {
        matches!(self, Placement::Exact(_))
    }

    /// Parses the value as an expression, with spans in the file; a problem goes to `problems`.
    pub fn parse_expr(
        &self,
        source: SourceId,
        value: &str,
        problems: &mut Vec<Diagnostic>,
    ) -> Option<Expr> {
        match parse_expr(value, self.ctx(source)) {
            Ok(mut e) => {
                self.fix_expr(&mut e);
                Some(e)
            }
            Err(d) => self.problem(d, value, problems),
        }
    }

    /// Parses the value as a field path, with spans in the file; a problem goes to `problems`.
    pub fn parse_path(
        &self,
        source: SourceId,
        value: &str,
        problems: &mut Vec<Diagnostic>,
    ) -> Option<Path> {
        match parse_path(value, self.ctx(source)) {
            Ok(mut p) => {
                if !self.is_exact() {
                    p.span = self.place(p.span);
                }
                Some(p)
            }
            Err(d) => self.problem(d, value, problems),
        }
    }

    /// Parses the value as a template, with spans in the file; a problem goes to `problems`.
    pub fn parse_template(
        &self,
        source: SourceId,
        value: &str,
        problems: &mut Vec<Diagnostic>,
    ) -> Option<Template> {
        match parse_template(value, self.ctx(source)) {
            Ok(mut t) => {
                for part in &mut t.parts {
                    if let TemplatePart::Expr(e) = part {
                        self.fix_expr(e);
                    }
                }
                Some(t)
            }
            Err(d) => self.problem(d, value, problems),
        }
    }

    fn problem<T>(
        &self,
        mut d: Diagnostic,
        value: &str,
        problems: &mut Vec<Diagnostic>,
    ) -> Option<T> {
        if !self.is_exact() {
            self.fix_diagnostic(&mut d, value);
        }
        problems.push(d);
        None
    }

    /// Moves an expression parsed relative to the value into the file (exact placements parse
    /// in place already).
    fn fix_expr(&self, e: &mut Expr) {
        if self.is_exact() {
            return;
        }
        self.move_expr(e);
    }

    fn move_expr(&self, e: &mut Expr) {
        e.span = self.place(e.span);
        match &mut e.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Path(p) => p.span = self.place(p.span),
            ExprKind::List(items) => items.iter_mut().for_each(|i| self.move_expr(i)),
            ExprKind::Unary { expr, .. } => self.move_expr(expr),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.move_expr(lhs);
                self.move_expr(rhs);
            }
            ExprKind::Call { name, args } => {
                name.span = self.place(name.span);
                args.iter_mut().for_each(|a| self.move_expr(a));
            }
        }
    }

    /// Places a diagnostic's labels. A label at the end of the value ("expected an expression"
    /// after `a <`) goes right after its last visible character, not past the line break that
    /// ends a block scalar.
    fn fix_diagnostic(&self, d: &mut Diagnostic, value: &str) {
        let visible_end = value.trim_end().len() as u32;
        for label in d.primary.iter_mut().chain(d.secondary.iter_mut()) {
            let span = label.span;
            label.span = if span.start >= visible_end {
                let at = self.end_of(visible_end);
                Span::new(span.source, at, at)
            } else {
                self.place(span)
            };
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
