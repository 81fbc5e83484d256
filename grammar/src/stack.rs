//! Parsing on a thread with a deep stack.
//!
//! Parsing and lowering recurse once per level of nesting, which the depth checks bound; frames
//! are large in debug builds, so the parsers run on a thread with room for the deepest input
//! they admit, whatever stack the caller runs on (a Tokio worker has 2 MiB). The memory is
//! reserved, not used, until the recursion reaches it.

/// Stack of the parsing thread.
pub const PARSE_STACK_BYTES: usize = 64 << 20;

/// Runs `f` on a scoped thread with [`PARSE_STACK_BYTES`] of stack (or here, if no thread can
/// be had: the depth checks still bound the recursion). A panic in `f` is resumed here.
pub fn with_parse_stack<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, f);
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(e) => panic!("cannot start a parsing thread: {e}"),
        }
    })
}
