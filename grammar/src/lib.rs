//! Cepheus rule language: rule text -> checked AST, with diagnostics.
//!
//! ```text
//! .yaml/.yml --yaml::parse--\
//!                            >-- ast::Rule --check::check--> checked rules | Vec<Diagnostic>
//! .cep ------dsl::parse-----/
//! ```
//!
//! Main types, in pipeline order: [`source::SourceMap`] (loaded files, spans), [`ast::Rule`]
//! (one AST for both forms), [`resolve`] (what names in expressions mean),
//! [`diagnostic::Diagnostic`] (code, place, message, help), and [`load::load`] (files or
//! folders to checked rules, every problem reported at once).

// `Diagnostic` is the grammar's error type: about 140 bytes, returned once per problem while
// rules load, never on a hot path, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod dsl;
pub mod duration;
pub mod expr;
pub mod load;
pub mod resolve;
pub mod source;
mod stack;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use load::{Loaded, load, load_texts};
pub use source::{SourceId, SourceMap, Span};
