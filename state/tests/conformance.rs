//! The shared store conformance suite, run against every store this crate has.

use std::sync::Arc;

use cepheus_state::{MemoryStore, StateStore};

mod memory {
    cepheus_state::conformance_suite!(cepheus_state::MemoryStore::new);
}

/// The engine holds stores as trait objects; the suite must pass through them unchanged.
mod boxed_trait_object {
    use super::*;

    cepheus_state::conformance_suite!(|| -> Box<dyn StateStore> { Box::new(MemoryStore::new()) });
}

mod shared_trait_object {
    use super::*;

    cepheus_state::conformance_suite!(|| -> Arc<dyn StateStore> { Arc::new(MemoryStore::new()) });
}
