//! Cepheus engine: checked rules -> NFA programs -> keyed runs over event streams -> triggers.
//!
//! ```text
//! cepheus_grammar::ast::Rule --compile--> nfa::Program (+ field table, emit templates)
//! record --event--> Event (fields the rules read) --runtime::Partition--> per-key nfa::KeyNfa
//!        --> matches / timeouts --output--> trigger events
//! ```
//!
//! Main types, in pipeline order: [`compile::RuleSet`], [`nfa::Program`], [`event::Event`],
//! [`runtime::Pipeline`] and [`runtime::Partition`], [`nfa::KeyNfa`], and [`output::trigger`].
//! [`replay::replay`] drives the whole path over a JSON-lines input; [`daemon`] runs it as a
//! service, over Kafka ([`io::source::kafka`], [`io::sink::kafka`]) or JSON lines.

pub mod compile;
pub mod daemon;
pub mod event;
pub mod io;
pub mod nfa;
pub mod output;
pub mod replay;
pub mod runtime;
pub mod testing;
pub mod window;
