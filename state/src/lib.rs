//! Cepheus keyed state: what the engine remembers per rule, partition and key.
//!
//! Main types: [`codec::Encoder`] and [`codec::Decoder`] (compact values that start with a
//! format version) and [`StateError`].

pub mod codec;
mod error;

pub use error::StateError;
