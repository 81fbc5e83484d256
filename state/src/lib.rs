//! Cepheus keyed state: what the engine remembers per rule, partition and key.
//!
//! Main types: [`codec::Encoder`] and [`codec::Decoder`] (compact values that start with a
//! format version), [`keys`] (the key layout per [`Space`]), [`StateStore`] and [`StateView`]
//! (the storage contract), [`WriteBatch`] (atomic writes), [`MemoryStore`] (the in-memory
//! reference store) and [`StateError`].

pub mod codec;
mod error;
pub mod keys;
mod memory;
pub mod store;

pub use error::StateError;
pub use memory::MemoryStore;
pub use store::{BatchOp, Entry, KeyRange, Scan, Space, StateStore, StateView, WriteBatch};
