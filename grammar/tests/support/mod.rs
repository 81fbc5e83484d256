//! Helpers shared by the integration tests.

// Each test binary uses part of the helpers; the rest is not dead, only unused there.
#![allow(dead_code)]

pub mod arb;
