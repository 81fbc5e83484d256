//! Cepheus keyed state: what the engine remembers per rule, partition and key.
//!
//! ```text
//! engine (NFA runs, shared buffer, pending events, timers, offsets)
//!   -> codec::Encoder (versioned values) + keys::* (key layout per Space)
//!   -> StateStore (get / put / delete / scan / atomic WriteBatch / snapshot)
//!   -> MemoryStore now; a RocksDB store behind the same trait
//! ```
//!
//! Main types, in that order: [`codec::Encoder`] and [`codec::Decoder`] (compact values that
//! start with a format version), [`keys`] (the key layout: [`keys::RunKey`],
//! [`keys::TimerKey`], ... and the ranges "of a rule", "of a partition", "of a key", "due by a
//! watermark"), [`Space`] (keyspaces, column families on disk), [`StateStore`] and
//! [`StateView`] (the storage contract), [`WriteBatch`] (atomic writes), [`MemoryStore`] (the
//! in-memory reference store), and [`StateError`] (corruption and version mismatch kept apart
//! from retryable I/O).
//!
//! Store calls may block; see [`store`] for when to call them. Every backend passes the same
//! conformance suite (`conformance`, for tests and behind the `testing` feature).

pub mod codec;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod error;
pub mod keys;
mod memory;
pub mod store;

pub use error::StateError;
pub use memory::MemoryStore;
pub use store::{BatchOp, Entry, KeyRange, Scan, Space, StateStore, StateView, WriteBatch};
